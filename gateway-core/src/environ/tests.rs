use std::path::Path;

use http::Request;

use super::*;

fn env(method: Method, target: &str) -> Environ {
    Environ::from_request(
        Request::builder()
            .method(method)
            .uri(target)
            .header("host", "example.com")
            .body(Body::empty())
            .unwrap(),
    )
}

fn check_invariant(e: &Environ) {
    let s = e.script_name();
    let p = e.path_info();
    assert!(
        s.is_empty() || (s.starts_with('/') && !s.ends_with('/')),
        "{s:?}"
    );
    if e.method() == Method::CONNECT {
        assert_eq!(p, "");
    } else if e.method() == Method::OPTIONS && e.path() == "*" {
        assert_eq!(p, "*");
    } else {
        assert!(p.is_empty() || p.starts_with('/'), "{p:?}");
    }
    assert!(e.path().ends_with(p));
}

#[test]
fn encoded_slash_survives() {
    let mut e = env(Method::GET, "/a%2Fb/c");
    assert_eq!(e.path_info(), "/a%2Fb/c");
    assert!(!e.mount("/a"), "%2F is not a segment boundary");
    assert!(e.mount("/a%2Fb"));
    assert_eq!((e.script_name(), e.path_info()), ("/a%2Fb", "/c"));
    assert_eq!(e.url(), "http://example.com/a%2Fb/c");
    check_invariant(&e);
}

#[test]
fn options_star() {
    let e = env(Method::OPTIONS, "*");
    assert_eq!(e.path_info(), "*");
    assert_eq!(e.script_name(), "");
    check_invariant(&e);
}

#[test]
fn connect_has_empty_path_info() {
    let e = env(Method::CONNECT, "example.com:443");
    assert_eq!(e.path_info(), "");
    check_invariant(&e);
}

#[test]
fn absolute_form_target_uses_its_path_and_authority() {
    let e = Environ::from_request(
        Request::get("http://other.test:81/p?q")
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(e.path_info(), "/p");
    assert_eq!(e.host(), Some("other.test:81"));
    assert_eq!(e.server_port(), 81);
    assert_eq!(e.url(), "http://other.test:81/p?q");
}

#[test]
fn external_prefix_joins_script_name() {
    let mut e = env(Method::GET, "/app/x");
    e.set_root_path(Some(RootPath::new("/outer").unwrap()));
    assert_eq!(e.script_name(), "/outer");
    assert!(e.mount("/app"));
    assert_eq!(e.script_name(), "/outer/app");
    assert_eq!(e.path_info(), "/x");
    assert_eq!(e.url(), "http://example.com/outer/app/x");
    check_invariant(&e);
}

#[test]
fn mount_boundaries() {
    for (target, prefix, ok, script, info) in [
        ("/app", "/app", true, "/app", ""),
        ("/app/", "/app", true, "/app", "/"),
        ("/app/x", "/app/", true, "/app", "/x"),
        ("/apple", "/app", false, "", "/apple"),
        ("/", "/app", false, "", "/"),
        ("/x", "", true, "", "/x"),
        ("/x", "app", false, "", "/x"),
    ] {
        let mut e = env(Method::GET, target);
        assert_eq!(e.mount(prefix), ok, "{target} {prefix}");
        assert_eq!(
            (e.script_name(), e.path_info()),
            (script, info),
            "{target} {prefix}"
        );
        check_invariant(&e);
    }
}

#[test]
fn nested_mounts_and_shift() {
    let mut e = env(Method::GET, "/a/b/c");
    assert!(e.mount("/a"));
    assert_eq!(e.shift_path_info(), Some("b"));
    assert_eq!((e.script_name(), e.path_info()), ("/a/b", "/c"));
    assert_eq!(e.shift_path_info(), Some("c"));
    assert_eq!(e.shift_path_info(), None);
    assert_eq!((e.script_name(), e.path_info()), ("/a/b/c", ""));
    let mut e = env(Method::GET, "//x");
    assert_eq!(e.shift_path_info(), None);
    check_invariant(&e);
}

#[test]
fn request_round_trip_keeps_the_context() {
    let mut e = env(Method::GET, "/app/x");
    e.set_root_path(Some(RootPath::from_static("/outer")));
    e.mount("/app");
    e.conn_mut()
        .set_peer(Addr::Tcp("10.0.0.1:1234".parse().unwrap()));
    let back = Environ::from_request(e.into_request());
    assert_eq!(back.script_name(), "/outer/app");
    assert_eq!(back.path_info(), "/x");
    assert_eq!(back.conn().peer().ip().unwrap().to_string(), "10.0.0.1");
    assert!(back.extensions().get::<GatewayContext>().is_none());
}

/// Everything survives `into_request` / `from_request`, through a
/// hosted URI of `path_info?query`.
#[test]
fn request_round_trip_is_lossless() {
    let peer = Addr::Tcp("10.0.0.1:1234".parse().unwrap());
    let local = Addr::Unix(Some(Path::new("/run/app.sock")));
    for (target, root, mounts, hosted) in [
        (
            "/app/files/a%2Fb?x=1&y",
            Some("/outer"),
            &["/app"][..],
            "/files/a%2Fb?x=1&y",
        ),
        ("/a%2Fb/c?", None, &["/a%2Fb"][..], "/c?"),
        ("/app", Some("/outer"), &["/app"][..], "/"),
        ("/app/", None, &["/app"][..], "/"),
        ("/v1/api/x", None, &["/v1", "/api"][..], "/x"),
        ("/plain?q", Some("/outer"), &[][..], "/plain?q"),
        (
            "http://example.com:81/app/x?q",
            None,
            &["/app"][..],
            "http://example.com:81/x?q",
        ),
        ("*", Some("/outer"), &[][..], "*"),
    ] {
        let method = if target == "*" {
            Method::OPTIONS
        } else {
            Method::GET
        };
        let mut e = env(method, target);
        e.set_root_path(root.map(|r| RootPath::new(r).unwrap()));
        for m in mounts {
            assert!(e.mount(m), "{target} {m}");
        }
        *e.conn_mut() = ConnInfo::new(peer, local).with_scheme(Scheme::Https, true);
        e.extensions_mut().insert(7u8);
        let (script, info, query, url) = (
            e.script_name().to_owned(),
            e.path_info().to_owned(),
            e.query().to_owned(),
            e.url(),
        );

        let req = e.into_request();
        assert_eq!(req.uri().to_string(), hosted, "{target}");
        let context = req.extensions().get::<GatewayContext>().unwrap();
        assert_eq!(context.script_name(), script, "{target}");
        assert_eq!(context.original_uri(), target, "{target}");
        assert_eq!(context.conn().peer(), &peer);

        let back = Environ::from_request(req);
        assert_eq!(back.uri(), target, "{target}");
        assert_eq!(back.script_name(), script, "{target}");
        assert_eq!(back.path_info(), info, "{target}");
        assert_eq!(back.query(), query, "{target}");
        assert_eq!(back.url(), url, "{target}");
        assert_eq!(back.root_path().map(RootPath::as_str), root);
        assert_eq!(back.conn().peer(), &peer);
        assert_eq!(back.conn().local(), &local);
        assert_eq!(back.scheme(), Scheme::Https);
        assert!(back.conn().is_tls());
        assert_eq!(back.extensions().get::<u8>(), Some(&7));
        assert!(back.extensions().get::<GatewayContext>().is_none());
        check_invariant(&back);
    }
}

#[test]
fn no_context_means_an_empty_context() {
    let e = Environ::from_request(Request::get("/a/b").body(Body::empty()).unwrap());
    assert_eq!((e.script_name(), e.path_info()), ("", "/a/b"));
    assert_eq!(e.conn(), &ConnInfo::default());
    assert!(e.root_path().is_none());
}

#[test]
fn root_path_validation() {
    for bad in [
        "",
        "/",
        "x",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "/..",
        "/%2e%2E",
        "/.%2e",
        "/a b",
        "/a\r\n",
        "/a?b",
        "/a#b",
        "/a\\b",
        "/a%zz",
        "/é",
        "/a/..%2F..%2Fetc",
        "/a%5cb",
        "/a%00",
    ] {
        assert!(RootPath::new(bad).is_err(), "{bad:?}");
    }
    for good in ["/a", "/a/b", "/a%20b", "/a:b@c", "/v1.2", "/~user"] {
        assert_eq!(RootPath::new(good).unwrap().as_str(), good);
    }
}

#[test]
fn server_name_and_port() {
    let e = Environ::from_request(
        Request::get("/")
            .header("host", "[::1]:8443")
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(e.server_name(), "[::1]");
    assert_eq!(e.server_port(), 8443);
    let mut e = Environ::from_request(Request::get("/").body(Body::empty()).unwrap());
    e.conn_mut()
        .set_local(Addr::Tcp("127.0.0.1:9000".parse().unwrap()));
    assert_eq!(e.server_name(), "127.0.0.1");
    assert_eq!(e.server_port(), 9000);
    assert_eq!(e.url(), "http://127.0.0.1:9000/");
}

#[test]
fn query_is_raw_and_pairs_are_decoded() {
    let e = env(Method::GET, "/?a=%26&b");
    assert_eq!(e.query(), "a=%26&b");
    let pairs: Vec<_> = e.query_pairs().collect();
    assert_eq!(
        pairs,
        vec![("a".into(), "&".into()), ("b".into(), "".into())]
    );
}

#[test]
fn query_pairs_are_a_type_of_this_crate() {
    let e = env(Method::GET, "/?a=1&a=2");
    // Nameable without depending on `form_urlencoded`.
    let pairs: crate::environ::QueryPairs<'_> = e.query_pairs();
    assert!(format!("{pairs:?}").contains("a=1&a=2"));
    let again = pairs.clone();
    assert_eq!(pairs.count(), 2);
    assert_eq!(again.map(|(_, v)| v).collect::<Vec<_>>(), ["1", "2"]);
}

#[test]
fn environ_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Environ>();
}

#[test]
fn mount_never_leaves_a_trailing_slash() {
    for (target, prefix) in [("/app//x", "/app//"), ("//x", "//"), ("/a//b/c", "/a//b")] {
        let mut e = env(Method::GET, target);
        e.mount(prefix);
        check_invariant(&e);
    }
    let mut e = env(Method::GET, "/app/x");
    assert!(e.mount("/app///"));
    assert_eq!(e.script_name(), "/app");
}

#[test]
fn rewritten_uri_is_relative_to_the_mount() {
    let mut e = env(Method::GET, "/app/x");
    assert!(e.mount("/app"));
    let mut req = e.into_request();
    assert_eq!(req.uri(), "/x");
    *req.uri_mut() = "/ab/x?q".parse().unwrap();
    let back = Environ::from_request(req);
    assert_eq!((back.script_name(), back.path_info()), ("/app", "/ab/x"));
    assert_eq!(back.uri(), "/app/ab/x?q");
    check_invariant(&back);

    // A target no mount point can precede drops the mounted part.
    let mut e = env(Method::GET, "/app/x");
    e.mount("/app");
    let mut req = e.into_request();
    *req.uri_mut() = "*".parse().unwrap();
    let back = Environ::from_request(req);
    assert_eq!((back.script_name(), back.path_info()), ("", "*"));

    // `/app` exactly is handed out as `/`; a new query keeps the path.
    let mut e = env(Method::GET, "/app");
    e.mount("/app");
    let mut req = e.into_request();
    assert_eq!(req.uri(), "/");
    *req.uri_mut() = "/?added".parse().unwrap();
    let back = Environ::from_request(req);
    assert_eq!(back.uri(), "/app?added");
    assert_eq!((back.script_name(), back.path_info()), ("/app", ""));

    let mut e = env(Method::GET, "/app/x");
    e.mount("/app");
    e.set_uri("/app/y?z".parse().unwrap());
    assert_eq!((e.script_name(), e.path_info()), ("/app", "/y"));
    e.set_uri("/other".parse().unwrap());
    assert_eq!((e.script_name(), e.path_info()), ("", "/other"));
    check_invariant(&e);
}

#[test]
fn invalid_hosts_are_not_trusted() {
    for bad in [
        "evil.test/x?",
        "user:pw@good.test",
        "a b",
        "",
        "[::1",
        "[zz]",
        "h:8x",
        "h:123456",
    ] {
        let e = Environ::from_request(
            Request::get("/p")
                .header("host", bad)
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(e.host(), None, "{bad:?}");
    }
    for good in [
        "example.com",
        "example.com:8080",
        "[::1]:80",
        "[::1]",
        "10.0.0.1:1",
        "xn--bcher-kva.example",
    ] {
        let e = Environ::from_request(
            Request::get("/p")
                .header("host", good)
                .body(Body::empty())
                .unwrap(),
        );
        assert_eq!(e.host(), Some(good));
    }
    // Userinfo in an absolute-form target is not part of the host.
    let e = Environ::from_request(
        Request::get("http://user:pw@good.test/p")
            .body(Body::empty())
            .unwrap(),
    );
    assert_eq!(e.host(), Some("good.test"));
    assert_eq!(e.server_name(), "good.test");
    assert_eq!(e.url(), "http://good.test/p");
}

#[test]
fn options_star_url_has_no_path() {
    let e = env(Method::OPTIONS, "*");
    assert_eq!(e.url(), "http://example.com");
}

#[test]
fn set_method_changes_the_method() {
    let mut e = env(Method::POST, "/");
    e.set_method(Method::DELETE);
    assert_eq!(e.method(), Method::DELETE);
}
