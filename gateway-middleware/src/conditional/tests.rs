use super::*;

const EPOCH_784111777: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
const DATE_784111777: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const DATE_BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
const DATE_AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

fn at(secs: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
}

fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn eval(
    method: Method,
    fields: &[(&'static str, &'static str)],
    etag: Option<&str>,
    lm: Option<SystemTime>,
) -> Precondition {
    let etag = etag.map(|e| HeaderValue::from_str(e).unwrap());
    let validators = Validators {
        etag: etag.as_ref(),
        last_modified: lm,
    };
    evaluate(&method, &headers(fields), validators)
}

fn get(fields: &[(&'static str, &'static str)], etag: Option<&str>) -> Precondition {
    eval(Method::GET, fields, etag, None)
}

use Precondition::{Failed, NotModified, Proceed};

#[test]
fn no_conditions_proceed() {
    assert_eq!(get(&[], Some("\"a\"")), Proceed);
    assert_eq!(eval(Method::PUT, &[], None, None), Proceed);
    assert_eq!(get(&[("range", "bytes=0-1")], Some("\"a\"")), Proceed);
}

#[test]
fn status_codes() {
    assert_eq!(Proceed.status(), None);
    assert_eq!(NotModified.status(), Some(StatusCode::NOT_MODIFIED));
    assert_eq!(Failed.status(), Some(StatusCode::PRECONDITION_FAILED));
}

#[test]
fn if_match_is_strong() {
    let im = |v| [("if-match", v)];
    assert_eq!(get(&im("\"a\""), Some("\"a\"")), Proceed);
    assert_eq!(get(&im("\"b\""), Some("\"a\"")), Failed);
    // Weak tags never match strongly, on either side.
    assert_eq!(get(&im("W/\"a\""), Some("\"a\"")), Failed);
    assert_eq!(get(&im("\"a\""), Some("W/\"a\"")), Failed);
    assert_eq!(get(&im("W/\"a\""), Some("W/\"a\"")), Failed);
    // No entity tag known: a list cannot match.
    assert_eq!(
        eval(Method::GET, &im("\"a\""), None, Some(at(1, 0))),
        Failed
    );
    // Comparison is octet by octet: case matters.
    assert_eq!(get(&im("\"A\""), Some("\"a\"")), Failed);
}

#[test]
fn if_match_star_needs_a_representation() {
    let im = [("if-match", "*")];
    assert_eq!(get(&im, Some("W/\"a\"")), Proceed);
    assert_eq!(eval(Method::PUT, &im, None, Some(at(1, 0))), Proceed);
    assert_eq!(eval(Method::PUT, &im, None, None), Failed);
}

#[test]
fn lists_spaces_and_field_lines() {
    assert_eq!(get(&[("if-match", "\"x\", \"a\"")], Some("\"a\"")), Proceed);
    assert_eq!(
        get(&[("if-match", "\"x\",\t\"a\" ")], Some("\"a\"")),
        Proceed
    );
    assert_eq!(get(&[("if-match", " , ,\"a\",,")], Some("\"a\"")), Proceed);
    assert_eq!(get(&[("if-match", "\"x\",\"y\"")], Some("\"a\"")), Failed);
    // Several field lines are one list.
    assert_eq!(
        get(
            &[("if-match", "\"x\""), ("if-match", "\"a\"")],
            Some("\"a\"")
        ),
        Proceed
    );
    assert_eq!(
        get(
            &[("if-none-match", "\"x\""), ("if-none-match", "W/\"a\"")],
            Some("\"a\"")
        ),
        NotModified
    );
    // `*` on its own line next to others.
    assert_eq!(
        get(
            &[("if-none-match", "\"x\""), ("if-none-match", "*")],
            Some("\"a\"")
        ),
        NotModified
    );
    // A comma inside an opaque tag is not a separator.
    assert_eq!(get(&[("if-match", "\"a,b\"")], Some("\"a,b\"")), Proceed);
    assert_eq!(get(&[("if-match", "\"a,b\"")], Some("\"b\"")), Failed);
}

#[test]
fn malformed_tags_never_match() {
    for bad in [
        "a",
        "'a'",
        "\"a",
        "\"a\"x",
        "w/\"a\"",
        "W/ \"a\"",
        "\"a b\"",
        "\"a\" \"a\"",
    ] {
        let fields = [("if-match", bad)];
        assert_eq!(get(&fields, Some("\"a\"")), Failed, "if-match {bad:?}");
        let fields = [("if-none-match", bad)];
        assert_eq!(
            get(&fields, Some("\"a\"")),
            Proceed,
            "if-none-match {bad:?}"
        );
    }
    // A malformed element does not spoil the rest of the list.
    assert_eq!(get(&[("if-match", "junk, \"a\"")], Some("\"a\"")), Proceed);
    assert_eq!(
        get(&[("if-match", "\"x\"y, \"a\"")], Some("\"a\"")),
        Proceed
    );
    assert_eq!(
        get(&[("if-none-match", "\"x y\", \"a\"")], Some("\"a\"")),
        NotModified
    );
    // A malformed current ETag matches nothing, but exists for `*`.
    assert_eq!(get(&[("if-match", "a")], Some("a")), Failed);
    assert_eq!(get(&[("if-match", "*")], Some("a")), Proceed);
}

#[test]
fn obs_text_in_tags() {
    let mut map = HeaderMap::new();
    let tag = HeaderValue::from_bytes(b"\"caf\xc3\xa9\"").unwrap();
    map.insert(IF_NONE_MATCH, tag.clone());
    let v = Validators {
        etag: Some(&tag),
        last_modified: None,
    };
    assert_eq!(evaluate(&Method::GET, &map, v), NotModified);
}

#[test]
fn if_none_match_is_weak_and_depends_on_method() {
    let inm = |v| [("if-none-match", v)];
    assert_eq!(get(&inm("\"a\""), Some("\"a\"")), NotModified);
    assert_eq!(get(&inm("W/\"a\""), Some("\"a\"")), NotModified);
    assert_eq!(get(&inm("\"a\""), Some("W/\"a\"")), NotModified);
    assert_eq!(get(&inm("\"b\""), Some("\"a\"")), Proceed);
    assert_eq!(
        eval(Method::HEAD, &inm("\"a\""), Some("\"a\""), None),
        NotModified
    );
    assert_eq!(
        eval(Method::POST, &inm("\"a\""), Some("\"a\""), None),
        Failed
    );
    assert_eq!(
        eval(Method::PUT, &inm("\"b\""), Some("\"a\""), None),
        Proceed
    );
}

#[test]
fn if_none_match_star() {
    let inm = [("if-none-match", "*")];
    assert_eq!(get(&inm, Some("\"a\"")), NotModified);
    assert_eq!(eval(Method::PUT, &inm, Some("\"a\""), None), Failed);
    // Create-only PUT: nothing there yet.
    assert_eq!(eval(Method::PUT, &inm, None, None), Proceed);
}

#[test]
fn if_unmodified_since() {
    let ius = |v| [("if-unmodified-since", v)];
    let lm = Some(at(EPOCH_784111777, 0));
    assert_eq!(eval(Method::PUT, &ius(DATE_784111777), None, lm), Proceed);
    assert_eq!(eval(Method::PUT, &ius(DATE_AFTER), None, lm), Proceed);
    assert_eq!(eval(Method::PUT, &ius(DATE_BEFORE), None, lm), Failed);
    assert_eq!(eval(Method::GET, &ius(DATE_BEFORE), None, lm), Failed);
    // Other HTTP-date formats.
    assert_eq!(
        eval(
            Method::PUT,
            &ius("Sunday, 06-Nov-94 08:49:36 GMT"),
            None,
            lm
        ),
        Failed
    );
    assert_eq!(
        eval(Method::PUT, &ius("Sun Nov  6 08:49:36 1994"), None, lm),
        Failed
    );
    // Ignored: invalid, a list, or no modification time known.
    assert_eq!(eval(Method::PUT, &ius("yesterday"), None, lm), Proceed);
    assert_eq!(eval(Method::PUT, &ius("784111776"), None, lm), Proceed);
    assert_eq!(
        eval(
            Method::PUT,
            &[
                ("if-unmodified-since", DATE_BEFORE),
                ("if-unmodified-since", DATE_BEFORE)
            ],
            None,
            lm
        ),
        Proceed
    );
    assert_eq!(
        eval(Method::PUT, &ius(DATE_BEFORE), Some("\"a\""), None),
        Proceed
    );
}

#[test]
fn if_unmodified_since_is_ignored_after_if_match() {
    let lm = Some(at(EPOCH_784111777, 0));
    let fields = [("if-match", "\"a\""), ("if-unmodified-since", DATE_BEFORE)];
    assert_eq!(eval(Method::PUT, &fields, Some("\"a\""), lm), Proceed);
    // Even a malformed If-Match hides it (and fails by itself).
    let fields = [
        ("if-match", "nonsense"),
        ("if-unmodified-since", DATE_AFTER),
    ];
    assert_eq!(eval(Method::PUT, &fields, Some("\"a\""), lm), Failed);
}

#[test]
fn if_modified_since() {
    let ims = |v| [("if-modified-since", v)];
    let lm = Some(at(EPOCH_784111777, 0));
    assert_eq!(
        eval(Method::GET, &ims(DATE_784111777), None, lm),
        NotModified
    );
    assert_eq!(eval(Method::GET, &ims(DATE_AFTER), None, lm), NotModified);
    assert_eq!(eval(Method::HEAD, &ims(DATE_AFTER), None, lm), NotModified);
    assert_eq!(eval(Method::GET, &ims(DATE_BEFORE), None, lm), Proceed);
    // Only GET and HEAD.
    assert_eq!(eval(Method::POST, &ims(DATE_AFTER), None, lm), Proceed);
    assert_eq!(eval(Method::DELETE, &ims(DATE_AFTER), None, lm), Proceed);
    // Ignored: invalid, a list, or no modification time known.
    assert_eq!(eval(Method::GET, &ims("not a date"), None, lm), Proceed);
    assert_eq!(eval(Method::GET, &ims(""), None, lm), Proceed);
    assert_eq!(
        eval(
            Method::GET,
            &[
                ("if-modified-since", DATE_AFTER),
                ("if-modified-since", DATE_AFTER)
            ],
            None,
            lm
        ),
        Proceed
    );
    assert_eq!(
        eval(Method::GET, &ims(DATE_AFTER), Some("\"a\""), None),
        Proceed
    );
}

#[test]
fn one_second_precision() {
    // 08:49:37.999 was last modified "at" 08:49:37.
    let lm = Some(at(EPOCH_784111777, 999));
    assert_eq!(
        eval(
            Method::GET,
            &[("if-modified-since", DATE_784111777)],
            None,
            lm
        ),
        NotModified
    );
    assert_eq!(
        eval(
            Method::PUT,
            &[("if-unmodified-since", DATE_784111777)],
            None,
            lm
        ),
        Proceed
    );
    let lm = Some(at(EPOCH_784111777 + 1, 0));
    assert_eq!(
        eval(
            Method::GET,
            &[("if-modified-since", DATE_784111777)],
            None,
            lm
        ),
        Proceed
    );
    assert_eq!(
        eval(
            Method::PUT,
            &[("if-unmodified-since", DATE_784111777)],
            None,
            lm
        ),
        Failed
    );
}

#[test]
fn if_none_match_hides_if_modified_since() {
    let lm = Some(at(EPOCH_784111777, 0));
    // Not matching the tag: 200 even though the date says not modified.
    let fields = [
        ("if-none-match", "\"b\""),
        ("if-modified-since", DATE_AFTER),
    ];
    assert_eq!(eval(Method::GET, &fields, Some("\"a\""), lm), Proceed);
    // Matching the tag: 304 even though the date says modified.
    let fields = [
        ("if-none-match", "\"a\""),
        ("if-modified-since", DATE_BEFORE),
    ];
    assert_eq!(eval(Method::GET, &fields, Some("\"a\""), lm), NotModified);
}

#[test]
fn failed_if_match_wins_over_if_none_match() {
    let fields = [("if-match", "\"b\""), ("if-none-match", "\"a\"")];
    assert_eq!(get(&fields, Some("\"a\"")), Failed);
    let lm = Some(at(EPOCH_784111777, 0));
    let fields = [
        ("if-unmodified-since", DATE_BEFORE),
        ("if-modified-since", DATE_AFTER),
    ];
    assert_eq!(eval(Method::GET, &fields, None, lm), Failed);
    // Passing If-Match goes on to If-None-Match.
    let fields = [("if-match", "\"a\""), ("if-none-match", "\"a\"")];
    assert_eq!(get(&fields, Some("\"a\"")), NotModified);
}

fn range_ok(
    fields: &[(&'static str, &'static str)],
    etag: Option<&str>,
    lm: Option<SystemTime>,
    strong: bool,
) -> bool {
    let etag = etag.map(|e| HeaderValue::from_str(e).unwrap());
    let v = Validators {
        etag: etag.as_ref(),
        last_modified: lm,
    };
    if_range(&headers(fields), v, strong)
}

#[test]
fn if_range_entity_tags() {
    let ir = |v| [("if-range", v)];
    assert!(range_ok(&[], Some("\"a\""), None, false));
    assert!(range_ok(&ir("\"a\""), Some("\"a\""), None, false));
    assert!(range_ok(&ir(" \"a\" "), Some("\"a\""), None, false));
    assert!(!range_ok(&ir("\"b\""), Some("\"a\""), None, false));
    assert!(!range_ok(&ir("W/\"a\""), Some("W/\"a\""), None, true));
    assert!(!range_ok(&ir("\"a\""), Some("W/\"a\""), None, true));
    assert!(!range_ok(&ir("\"a\""), None, Some(at(1, 0)), true));
    // Not a list, not malformed, not on two lines.
    assert!(!range_ok(&ir("\"b\", \"a\""), Some("\"a\""), None, true));
    assert!(!range_ok(&ir("\"a"), Some("\"a\""), None, true));
    assert!(!range_ok(&ir("*"), Some("\"a\""), None, true));
    assert!(!range_ok(
        &[("if-range", "\"a\""), ("if-range", "\"a\"")],
        Some("\"a\""),
        None,
        true
    ));
}

#[test]
fn if_range_dates() {
    let ir = [("if-range", DATE_784111777)];
    let lm = Some(at(EPOCH_784111777, 500));
    assert!(range_ok(&ir, None, lm, true));
    assert!(range_ok(&ir, Some("\"a\""), lm, true));
    // Only a strong date, and only an exact one.
    assert!(!range_ok(&ir, None, lm, false));
    assert!(!range_ok(&ir, None, Some(at(EPOCH_784111777 + 1, 0)), true));
    assert!(!range_ok(&ir, None, Some(at(EPOCH_784111777 - 1, 0)), true));
    assert!(!range_ok(&ir, Some("\"a\""), None, true));
    assert!(!range_ok(&[("if-range", "garbage")], None, lm, true));
}

#[test]
fn strong_last_modified() {
    let lm = at(1000, 0);
    assert!(is_strong_last_modified(lm, at(1001, 0)));
    assert!(is_strong_last_modified(lm, at(5000, 0)));
    assert!(!is_strong_last_modified(lm, at(1000, 999)));
    assert!(!is_strong_last_modified(lm, lm));
    assert!(!is_strong_last_modified(lm, at(999, 0)));
}

#[test]
fn seconds_round_down() {
    assert_eq!(unix_seconds(at(5, 999)), 5);
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(1)), -1);
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(2)), -2);
}

#[test]
fn tag_list_scanning() {
    let tags: Vec<_> = tag_list(b" \"a\" ,W/\"b\",, *, x ,\"c").collect();
    assert_eq!(
        tags,
        [
            Element::Tag(EntityTag {
                weak: false,
                opaque: b"\"a\""
            }),
            Element::Tag(EntityTag {
                weak: true,
                opaque: b"\"b\""
            }),
            Element::Star,
            Element::Invalid,
            Element::Invalid,
        ]
    );
    assert_eq!(tag_list(b"").count(), 0);
    assert_eq!(tag_list(b" , ,").count(), 0);
    assert_eq!(
        EntityTag::parse(b"\"\""),
        Some(EntityTag {
            weak: false,
            opaque: b"\"\""
        })
    );
    assert_eq!(EntityTag::parse(b"\"a\", \"b\""), None);
    assert_eq!(EntityTag::parse(b"\"a\x7f\""), None);
}
