use super::*;

fn list(line: &str, quoting: Quoting) -> Vec<&str> {
    Elements::new(line.as_bytes(), quoting)
        .map(|e| std::str::from_utf8(e).unwrap())
        .collect()
}

const ALL: [Quoting; 3] = [Quoting::None, Quoting::EntityTag, Quoting::QuotedString];

#[test]
fn empty_elements_and_ows_are_dropped() {
    for quoting in ALL {
        assert!(list("", quoting).is_empty());
        assert!(list(" ,\t, ,", quoting).is_empty());
        assert_eq!(list("a,b", quoting), ["a", "b"]);
        assert_eq!(list(" a ,\tb\t, , c ,", quoting), ["a", "b", "c"]);
        assert_eq!(list(",,a,,", quoting), ["a"]);
        // Whitespace inside an element is the element's.
        assert_eq!(list("a b , c\td", quoting), ["a b", "c\td"]);
    }
}

#[test]
fn quoted_commas_do_not_separate() {
    for quoting in [Quoting::EntityTag, Quoting::QuotedString] {
        assert_eq!(list(r#""a,b", "c""#, quoting), [r#""a,b""#, r#""c""#]);
        assert_eq!(list(r#"W/"x,y",z"#, quoting), [r#"W/"x,y""#, "z"]);
        assert_eq!(
            list(r#"for="a,b";proto=x, for=c"#, quoting),
            [r#"for="a,b";proto=x"#, "for=c"]
        );
    }
    // Unquoted lists split at every comma.
    assert_eq!(list(r#""a,b""#, Quoting::None), [r#""a"#, r#"b""#]);
}

#[test]
fn escapes_belong_to_quoted_strings_only() {
    // `\"` ends an entity tag (its `\` is an ordinary character) ...
    assert_eq!(
        list(r#""a\", "b""#, Quoting::EntityTag),
        [r#""a\""#, r#""b""#]
    );
    // ... and escapes the quote in a quoted-string.
    assert_eq!(
        list(r#"x="a\", y", z"#, Quoting::QuotedString),
        [r#"x="a\", y""#, "z"]
    );
    assert_eq!(
        list(r#"x="\\", y"#, Quoting::QuotedString),
        [r#"x="\\""#, "y"]
    );
}

#[test]
fn bad_quoting_runs_to_the_end_of_the_line() {
    for quoting in [Quoting::EntityTag, Quoting::QuotedString] {
        assert_eq!(list(r#"a, "b, c"#, quoting), ["a", r#""b, c"#]);
        assert_eq!(list(r#""a"b, c"#, quoting), [r#""a"b"#, "c"]);
    }
    assert_eq!(
        list(r#"x="a\"#, Quoting::QuotedString),
        [r#"x="a\"#],
        "a backslash at the end escapes nothing"
    );
}

#[test]
fn lines_are_one_list() {
    let mut headers = http::HeaderMap::new();
    for line in ["a, b", " ", "c"] {
        headers.append("x", HeaderValue::from_static(line));
    }
    let all: Vec<_> = all_elements(headers.get_all("x"), Quoting::None).collect();
    assert_eq!(all, [&b"a"[..], b"b", b"c"]);
}

#[test]
fn parts_split_at_unquoted_semicolons() {
    let parts = |e: &'static str| parts(e.as_bytes()).collect::<Vec<_>>();
    assert_eq!(parts("gzip"), [&b"gzip"[..]]);
    assert_eq!(parts("gzip ; q=0.5;\tx"), [&b"gzip"[..], b"q=0.5", b"x"]);
    assert_eq!(parts("a;;b;"), [&b"a"[..], b"", b"b", b""]);
    assert_eq!(parts(r#"a;x="1;2";y"#), [&b"a"[..], br#"x="1;2""#, b"y"]);
    assert_eq!(name_value(b"q=1"), Some((&b"q"[..], &b"1"[..])));
    assert_eq!(name_value(b"a=b=c"), Some((&b"a"[..], &b"b=c"[..])));
    assert_eq!(name_value(b"q"), None);
}

#[test]
fn quoted_strings() {
    assert_eq!(quoted_string(br#""abc""#), Some((&b"abc"[..], false)));
    assert_eq!(quoted_string(br#""""#), Some((&b""[..], false)));
    assert_eq!(quoted_string(br#""a\"b""#), Some((&br#"a\"b"#[..], true)));
    assert_eq!(
        quoted_string(b"\"a\tb \xe9\""),
        Some((&b"a\tb \xe9"[..], false))
    );
    for bad in [
        &br#"abc"#[..],
        br#"""#,
        br#""abc"#,
        br#""a"b""#,
        br#""a"x"#,
        br#""a\"#,
        b"\"a\x7f\"",
        b"\"a\x01\"",
        b"\"a\\\x7f\"",
    ] {
        assert_eq!(
            quoted_string(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn weights() {
    assert_eq!(weighted(b"gzip"), Some((&b"gzip"[..], 1000)));
    assert_eq!(weighted(b"br;q=0.5"), Some((&b"br"[..], 500)));
    assert_eq!(weighted(b"br ; Q = 0.25 ;level=1"), Some((&b"br"[..], 250)));
    assert_eq!(weighted(b"gzip;foo"), Some((&b"gzip"[..], 1000)));
    assert_eq!(weighted(b"gzip;q=0.5;q=1"), Some((&b"gzip"[..], 1000)));
    assert_eq!(weighted(b"gzip;q=2"), None, "an invalid weight");
    assert_eq!(weighted(b"gzip;q=0.5;q=x"), None);
    assert_eq!(weighted(b"gzip;q=\"0.5\""), None);
    assert_eq!(weighted(b";q=1"), None, "no value");
}

#[test]
fn qvalue_syntax() {
    for (text, q) in [
        ("0", 0),
        ("0.", 0),
        ("0.5", 500),
        ("0.05", 50),
        ("0.123", 123),
        ("1", 1000),
        ("1.", 1000),
        ("1.000", 1000),
    ] {
        assert_eq!(qvalue(text.as_bytes()), Some(q), "{text:?}");
    }
    for text in [
        "", ".5", "0.1234", "1.001", "1.5", "2", "-1", "0,5", "0.5x", "q", "01",
    ] {
        assert_eq!(qvalue(text.as_bytes()), None, "{text:?}");
    }
}
