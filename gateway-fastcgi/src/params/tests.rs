use gateway_core::http::{Method, StatusCode, Version};
use gateway_core::{Addr, Body, Environ, Scheme};

use super::*;
use crate::record::put_pair;

fn stream(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in pairs {
        put_pair(&mut out, name.as_bytes(), value.as_bytes());
    }
    out
}

fn environ(pairs: &[(&str, &str)]) -> Environ {
    let head = head(&stream(pairs), 100).expect("a valid head");
    let mut env = Environ::from_parts(head.parts, Body::empty(), head.conn);
    if let Some(script) = head.script_name.as_deref() {
        assert!(env.mount(script));
    }
    env
}

fn refused(pairs: &[(&str, &str)]) -> StatusCode {
    let (err, _) = head(&stream(pairs), 100).expect_err("refused");
    gateway_core::driver::error_status(&err)
}

const NGINX: &[(&str, &str)] = &[
    ("REQUEST_METHOD", "POST"),
    ("REQUEST_URI", "/app/files/a%2Fb?x=1"),
    ("SCRIPT_NAME", "/app"),
    ("PATH_INFO", "/files/a/b"),
    ("QUERY_STRING", "x=1"),
    ("SERVER_PROTOCOL", "HTTP/1.1"),
    ("CONTENT_TYPE", "text/plain"),
    ("CONTENT_LENGTH", "5"),
    ("REMOTE_ADDR", "192.0.2.7"),
    ("REMOTE_PORT", "50000"),
    ("SERVER_ADDR", "127.0.0.1"),
    ("SERVER_PORT", "8443"),
    ("SERVER_NAME", "example.test"),
    ("HTTPS", "on"),
    ("HTTP_HOST", "example.test:8443"),
    ("HTTP_X_REQUEST_ID", "abc"),
    ("HTTP_CONTENT_LENGTH", "999"),
    ("HTTP_UPGRADE", "websocket"),
    ("DOCUMENT_ROOT", "/srv"),
];

#[test]
fn nginx_params_make_the_environ() {
    let env = environ(NGINX);
    assert_eq!(env.method(), Method::POST);
    assert_eq!(env.version(), Version::HTTP_11);
    // Raw, from REQUEST_URI: %2F kept; SCRIPT_NAME is the mount point.
    assert_eq!(
        (env.script_name(), env.path_info(), env.query()),
        ("/app", "/files/a%2Fb", "x=1")
    );
    assert_eq!(env.headers()["x-request-id"], "abc");
    assert_eq!(
        env.headers()["content-length"],
        "5",
        "CONTENT_LENGTH wins over HTTP_"
    );
    assert_eq!(env.headers()["content-type"], "text/plain");
    assert!(!env.headers().contains_key("upgrade"));
    assert_eq!(
        env.conn().peer(),
        &Addr::Tcp("192.0.2.7:50000".parse().unwrap())
    );
    assert_eq!(
        env.conn().local(),
        &Addr::Tcp("127.0.0.1:8443".parse().unwrap())
    );
    assert_eq!(env.scheme(), Scheme::Https);
    assert!(env.conn().is_tls());
    assert_eq!(env.url(), "https://example.test:8443/app/files/a%2Fb?x=1");
}

#[test]
fn stock_fastcgi_params_mount_nothing() {
    // fastcgi_params: SCRIPT_NAME = $fastcgi_script_name = the whole
    // (decoded) path, and no PATH_INFO.
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/a/b"),
        ("SCRIPT_NAME", "/a/b"),
        ("HTTP_HOST", "h"),
    ]);
    assert_eq!((env.script_name(), env.path_info()), ("", "/a/b"));
}

#[test]
fn script_name_not_a_raw_prefix_is_not_mounted() {
    for (uri, script) in [
        ("/a%70p/x", "/app"),
        ("/apple/x", "/app"),
        ("/other", "/app"),
    ] {
        let env = environ(&[
            ("REQUEST_METHOD", "GET"),
            ("REQUEST_URI", uri),
            ("SCRIPT_NAME", script),
            ("PATH_INFO", "/x"),
        ]);
        assert_eq!((env.script_name(), env.path_info()), ("", uri));
    }
}

#[test]
fn without_request_uri_the_target_is_encoded_again() {
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/app"),
        ("PATH_INFO", "/a b/ü"),
        ("QUERY_STRING", "q=1"),
    ]);
    assert_eq!(env.uri(), "/app/a%20b/%C3%BC?q=1");
    assert_eq!(
        (env.script_name(), env.path_info()),
        ("/app", "/a%20b/%C3%BC")
    );
}

#[test]
fn host_from_server_name_when_no_http_host() {
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/"),
        ("SERVER_NAME", "example.test"),
        ("SERVER_PORT", "8080"),
        ("SERVER_PROTOCOL", "HTTP/1.0"),
    ]);
    assert_eq!(env.headers()["host"], "example.test:8080");
    assert_eq!(env.version(), Version::HTTP_10);
}

#[test]
fn unix_remote_addr_is_no_address() {
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/"),
        ("REMOTE_ADDR", "unix:"),
    ]);
    assert_eq!(env.conn().peer(), &Addr::None);
}

#[test]
fn bad_params_are_client_errors() {
    let get = ("REQUEST_METHOD", "GET");
    let uri = ("REQUEST_URI", "/");
    assert_eq!(refused(&[uri]), StatusCode::BAD_REQUEST, "no method");
    assert_eq!(
        refused(&[("REQUEST_METHOD", "G T"), uri]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, ("REQUEST_URI", "/a b")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("HTTP_HOST", "a b")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("HTTP_HOST", "a"), ("HTTP_HOST", "b")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("HTTP_X", "a\nb")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("HTTP_X(Y", "1")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("CONTENT_LENGTH", "-1")]),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        refused(&[get, uri, ("CONTENT_LENGTH", "101")]),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (err, _) = head(&[4, 0, b'a'], 100).expect_err("a truncated pair");
    assert_eq!(
        gateway_core::driver::error_status(&err),
        StatusCode::BAD_REQUEST
    );
}

#[test]
fn head_request_hints() {
    let head = head(
        &stream(&[("REQUEST_METHOD", "HEAD"), ("REQUEST_URI", "/")]),
        0,
    )
    .unwrap();
    assert!(head.hints.is_head());
    assert_eq!(head.content_length, None);
}

#[test]
fn a_repeated_param_counts_with_its_last_value() {
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/app/x"),
        ("SCRIPT_NAME", "/app/x"),
        ("SCRIPT_NAME", "/app"),
        ("PATH_INFO", "/x"),
    ]);
    assert_eq!((env.script_name(), env.path_info()), ("/app", "/x"));
}

#[test]
fn dot_segments_raw_or_encoded() {
    for path in [
        "/a/../b",
        "/a/./b",
        "/..",
        "/.",
        "/a/..",
        "/a/%2e%2E/b",
        "/a/.%2e",
        "/%2E",
        "/a/%2e./",
    ] {
        assert!(has_dot_segment(path), "{path}");
    }
    for path in [
        "/",
        "/a/..b/c",
        "/a/.b",
        "/a/b.",
        "/a/%2e%2e%2e",
        "/2e",
        "/a/...",
        "/a/e.",
    ] {
        assert!(!has_dot_segment(path), "{path}");
    }
}

/// As the crate docs say: a repeated `HTTP_*` param is a header with
/// both values, a repeated other param counts once with its last value,
/// a repeated `HTTP_HOST` is a 400.
#[test]
fn repeated_params() {
    let env = environ(&[
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/first"),
        ("REQUEST_URI", "/last"),
        ("HTTP_HOST", "x"),
        ("HTTP_X_A", "1"),
        ("HTTP_X_A", "2"),
    ]);
    assert_eq!(env.uri().path(), "/last");
    let values: Vec<_> = env.headers().get_all("x-a").iter().collect();
    assert_eq!(values, ["1", "2"]);
    let twice = [
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/"),
        ("HTTP_HOST", "x"),
        ("HTTP_HOST", "y"),
    ];
    assert_eq!(refused(&twice), StatusCode::BAD_REQUEST);
}
