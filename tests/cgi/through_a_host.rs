//! The programs under Python's CGI host, over HTTP/1.1.

use super::*;

#[test]
fn hello_through_a_cgi_host() {
    if !python_cgi_available() {
        return;
    }
    let host = Host::start(&[HELLO]);

    // The host splits the path: SCRIPT_NAME=/cgi-bin/cgi_hello, PATH_INFO=/.
    let r = host.request("GET", "/cgi-bin/cgi_hello/", &[], b"");
    r.assert(200, "GET /");
    assert_eq!(r.text(), GREETING);
    assert_eq!(r.header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(r.header("content-length"), GREETING.len().to_string());

    // PATH_INFO is empty: the app's "/" is not matched.
    host.request("GET", "/cgi-bin/cgi_hello", &[], b"")
        .assert(404, "GET without PATH_INFO");
    let r = host.request("GET", "/cgi-bin/cgi_hello/missing", &[], b"");
    r.assert(404, "unknown path");
    assert_eq!(r.text(), "Not Found");
    host.request("GET", "/cgi-bin/cgi_hello/echo", &[], b"")
        .assert(405, "GET /echo");

    let r = host.request("HEAD", "/cgi-bin/cgi_hello/", &[], b"");
    assert_eq!(r.status(), 200, "HEAD: {r:?}");
    assert_eq!(
        r.header("content-length"),
        GREETING.len().to_string(),
        "GET's length"
    );
    assert!(r.body.is_empty(), "HEAD has no body: {r:?}");

    let payload = pattern(100_000);
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_hello/echo",
        &[("content-type", "application/x-test")],
        &payload,
    );
    r.assert(200, "POST /echo");
    assert_eq!(r.header("content-type"), "application/x-test");
    assert!(
        r.body == payload,
        "the echo differs ({} bytes back)",
        r.body.len()
    );
}

#[test]
fn mini_framework_through_a_cgi_host() {
    if !python_cgi_available() {
        return;
    }
    let host = Host::start(&[MINI]);

    let r = host.request("GET", "/cgi-bin/cgi_mini/", &[], b"");
    r.assert(200, "index");
    assert_eq!(r.text(), gateway_examples::mini_framework::notes::INDEX);

    // JSON in, JSON out, and a Location built from SCRIPT_NAME.
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "application/json")],
        br#"{"title":"cgi","body":"via python"}"#,
    );
    r.assert(201, "POST /notes");
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("location"), "/cgi-bin/cgi_mini/notes/1");
    assert_eq!(r.text(), r#"{"id":1,"title":"cgi","body":"via python"}"#);

    // Every request is a new process: the note is gone.
    host.request("GET", "/cgi-bin/cgi_mini/notes/1", &[], b"")
        .assert(404, "a note of another process");
    let r = host.request("GET", "/cgi-bin/cgi_mini/notes", &[], b"");
    r.assert(200, "GET /notes");
    assert_eq!(r.text(), "[]");

    // The query reaches the app as sent; a bad one is the app's 400.
    let r = host.request("GET", "/cgi-bin/cgi_mini/search?q=a%20b&limit=3", &[], b"");
    r.assert(200, "search");
    assert_eq!(r.text(), "[]");
    host.request("GET", "/cgi-bin/cgi_mini/search?limit=x", &[], b"")
        .assert(400, "search without q");

    // The host decodes PATH_INFO; the adapter encodes it again, and the
    // router decodes the parameter.
    let r = host.request("GET", "/cgi-bin/cgi_mini/hello/J%C3%BCrgen%20%25", &[], b"");
    r.assert(200, "hello with an encoded name");
    assert_eq!(r.text(), "Hello, Jürgen %!\n");

    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "application/json")],
        br#"{"title":"#,
    );
    r.assert(400, "malformed JSON");
    let r = host.request(
        "POST",
        "/cgi-bin/cgi_mini/notes",
        &[("content-type", "text/plain")],
        b"title",
    );
    r.assert(415, "not JSON");
    let r = host.request("HEAD", "/cgi-bin/cgi_mini/notes", &[], b"");
    assert_eq!(r.status(), 200, "HEAD /notes: {r:?}");
    assert_eq!(r.header("content-length"), "2", "GET's length");
    assert!(r.body.is_empty(), "HEAD has no body: {r:?}");
    host.request("POST", "/cgi-bin/cgi_mini/search", &[], b"x")
        .assert(405, "POST /search");
}
