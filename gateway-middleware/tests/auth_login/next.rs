//! The open-redirect corpus: hostile `next` values, all refused, and
//! positive controls, all followed — by `safe_next_path`, by
//! `redirect_after_login`, and through a login handler over HTTP.

use std::sync::Arc;

use gateway_core::test_client::TestClient;
use gateway_middleware::auth::{MAX_NEXT_LEN, redirect_after_login, safe_next_path};
use http::StatusCode;

use crate::support::{default_site, encode};

/// Rows 1 and 12–50 of the research memo's table (section 6; browser
/// behaviour checked there against the WHATWG URL parser), in order.
const MEMO_HOSTILE: &[&str] = &[
    "",
    "dashboard",
    "evil.com",
    "//evil.com",
    "///evil.com",
    "/\\evil.com",
    "\\/evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "/\t/evil.com",
    "/\n/evil.com",
    " //evil.com",
    "\u{0}//evil.com",
    "\u{8}//evil.com",
    "/%2F/evil.com",
    "/%5C/evil.com",
    "/%252F%252Fevil.com",
    "/.//evil.com",
    "/../evil.com",
    "/%2e%2e//evil.com",
    "https://evil.com",
    "HTTPS://evil.com",
    "https:evil.com",
    "https:/evil.com",
    "http:\\\\evil.com",
    "https:///evil.com",
    "javascript:alert(1)",
    "java\tscript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,x",
    "/foo\r\nLocation: //evil.com",
    "/%0d%0aSet-Cookie:x=1",
    "/\u{ff0f}/evil.com",
    "//evil\u{3002}com",
    "/\u{e9}t\u{e9}",
    "//example.com/ok",
    "https://example.com/ok",
    "http://example.com\\@evil.com/",
    "https://example.com@evil.com/",
    "/dashboard ",
];

/// More: Django's own vectors, encodings in other cases and depths,
/// malformed escapes, characters a URI may not hold.
const MORE_HOSTILE: &[&str] = &[
    "http://example.com",
    "ftp://example.com",
    "http:///example.com",
    "http:/\\//example.com",
    "http:\\/example.com",
    "\\//example.com",
    "\u{8}//example.com",
    "\njavascript:alert(x)",
    "\n",
    "http:999999999",
    "/%2f/evil.com",
    "/a%2fb",
    "/a%2Fb",
    "/a%5cb",
    "/%5c%5cevil.com",
    "/%255c/evil.com",
    "/%25252F/evil.com",
    "/%25%32%66/evil.com",
    "/%%32%66evil.com",
    "/%",
    "/%2",
    "/%zz",
    "/a\\b?x=1",
    "/ok?x=\\",
    "/ok#\\evil",
    "/\u{7f}",
    "/a\u{0}",
    "/a\r",
    "/%09/evil.com",
    "/%00",
    "/%7F",
    "/%0A",
    "/a//b",
    "/a/.",
    "/a/..",
    "/./",
    "/..",
    "/%2E/x",
    "/a/%2E%2E/b",
    "/a/%252e%252e/b",
    "/<script>",
    "/\"onmouseover",
    "/a b",
    "/a\u{a0}b",
    "\u{feff}/x",
    "/\u{2028}",
    "/?\u{7f}",
    "/a{b}",
    "/[::1]",
    "//",
    "/\\",
];

/// Same-site paths that are followed as they are (rows 2–11 of the memo,
/// and more).
const FOLLOWED: &[&str] = &[
    "/",
    "/dashboard",
    "/dashboard?tab=1#x",
    "/search?q=//evil.com",
    "/?//evil.com",
    "/#//evil.com",
    "/evil.com",
    "/@evil.com",
    "/a%20b",
    "/x:y",
    "/a/b?x=1",
    "/path?next=//x",
    "/path?next=https://evil.com",
    "/?next=%2F%2Fevil",
    "/view/?param=http://example.com",
    "/confirm/me@example.com",
    "/a/b/",
    "/caf%C3%A9",
    "/a.b/c..d/.e",
    "/search?tags[]=a&tags[]=b",
    "/!$&'()*+,;=:@-._~",
];

fn hostile() -> impl Iterator<Item = String> {
    MEMO_HOSTILE
        .iter()
        .chain(MORE_HOSTILE)
        .map(|s| (*s).to_owned())
        .chain([
            // Over-long by one byte.
            format!("/{}", "a".repeat(MAX_NEXT_LEN)),
            format!("/{}?x", "a".repeat(MAX_NEXT_LEN - 2)),
        ])
}

fn followed() -> impl Iterator<Item = String> {
    FOLLOWED
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("/{}", "a".repeat(MAX_NEXT_LEN - 1))])
}

#[test]
fn the_corpus_is_large_enough() {
    assert_eq!(MEMO_HOSTILE.len(), 40);
    assert!(hostile().count() >= 90);
    assert!(followed().count() >= 20);
}

#[test]
fn every_hostile_value_is_refused() {
    for value in hostile() {
        assert_eq!(safe_next_path(&value), None, "{value:?}");
    }
}

#[test]
fn every_positive_control_is_accepted_unchanged() {
    for value in followed() {
        assert_eq!(safe_next_path(&value), Some(value.as_str()));
    }
}

#[test]
fn redirect_after_login_re_validates() {
    for value in hostile() {
        let res = redirect_after_login(Some(&value), "/home").unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()["location"], "/home", "{value:?}");
    }
    for value in followed() {
        let res = redirect_after_login(Some(&value), "/home").unwrap();
        assert_eq!(res.headers()["location"], value.as_str());
    }
    let res = redirect_after_login(None, "/home").unwrap();
    assert_eq!(res.headers()["location"], "/home");
    // An unsafe default is a programming error, not a redirect.
    assert!(redirect_after_login(None, "//evil.example").is_err());
    assert!(redirect_after_login(Some("/ok"), "https://evil.example").is_err());
}

#[tokio::test]
async fn a_login_handler_follows_only_safe_values() {
    let site = default_site();
    let client = TestClient::new(Arc::clone(&site.app));
    for value in hostile() {
        let res = client
            .get(&format!("/login-next/ada?next={}", encode(&value)))
            .send()
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{value:?}");
        assert_eq!(res.header("location"), Some("/"), "{value:?}");
    }
    for value in followed() {
        let res = client
            .get(&format!("/login-next/ada?next={}", encode(&value)))
            .send()
            .await;
        assert_eq!(res.header("location"), Some(value.as_str()));
    }
}
