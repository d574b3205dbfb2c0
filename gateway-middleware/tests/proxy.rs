//! `ProxyHeaders` through `TestClient`: who is trusted, hop counts,
//! `Forwarded` versus `X-Forwarded-*`, malformed and hostile values.

mod common;

use common::{echo, field, tcp_peer, unix_peer};
use gateway_core::test_client::TestClient;
use gateway_core::{Addr, ApplicationExt, Body, ConnInfo, Environ, RootPath, from_fn};
use gateway_middleware::{Mount, ProxyHeaders};
use http::HeaderValue;

const PROXY: &str = "10.0.0.2:40000";

/// Trusts 10.0.0.0/8 and ::1, default hop counts.
fn trusting() -> ProxyHeaders {
    ProxyHeaders::new().trusted_proxies(["10.0.0.0/8", "::1"])
}

struct Case {
    name: &'static str,
    proxy: ProxyHeaders,
    conn: ConnInfo,
    target: &'static str,
    headers: &'static [(&'static str, &'static [u8])],
    /// Expected peer, scheme and URL as the application sees them.
    peer: &'static str,
    scheme: &'static str,
    url: &'static str,
    /// Whether a `ProxyOriginal` is expected.
    rewritten: bool,
}

impl Case {
    /// A request from the trusted proxy at [`PROXY`] with `headers`,
    /// expecting nothing to change.
    fn new(name: &'static str, headers: &'static [(&'static str, &'static [u8])]) -> Case {
        Case {
            name,
            proxy: trusting(),
            conn: tcp_peer(PROXY),
            target: "/p?q=1",
            headers,
            peer: PROXY,
            scheme: "http",
            url: "http://localhost/p?q=1",
            rewritten: false,
        }
    }

    fn proxy(mut self, proxy: ProxyHeaders) -> Case {
        self.proxy = proxy;
        self
    }

    fn conn(mut self, conn: ConnInfo) -> Case {
        self.peer = match conn.peer() {
            Addr::Tcp(a) => Box::leak(a.to_string().into_boxed_str()),
            Addr::Unix(_) => "unix",
            _ => "-",
        };
        self.conn = conn;
        self
    }

    /// Expects the application to see `peer`, `scheme` and `url`, and a
    /// `ProxyOriginal`.
    fn sees(mut self, peer: &'static str, scheme: &'static str, url: &'static str) -> Case {
        self.peer = peer;
        self.scheme = scheme;
        self.url = url;
        self.rewritten = true;
        self
    }

    async fn check(self) {
        let original_peer = self.conn.peer().to_string();
        let client = TestClient::new(echo("a").with(self.proxy)).with_conn(self.conn);
        let mut req = client.get(self.target);
        for (name, value) in self.headers {
            req = req.header(*name, HeaderValue::from_bytes(value).expect("test header"));
        }
        let res = req.send().await;
        let name = self.name;
        assert_eq!(res.status(), 200, "{name}: {}", res.text());
        assert_eq!(field(&res, "peer"), self.peer, "{name}: peer");
        assert_eq!(field(&res, "scheme"), self.scheme, "{name}: scheme");
        assert_eq!(field(&res, "url"), self.url, "{name}: url");
        if self.rewritten {
            assert_eq!(field(&res, "orig_peer"), original_peer, "{name}: original");
            assert_eq!(field(&res, "orig_scheme"), "http", "{name}: original");
        } else {
            assert_eq!(field(&res, "orig_peer"), "-", "{name}: no ProxyOriginal");
        }
    }
}

const ALL_FORGED: &[(&str, &[u8])] = &[
    ("x-forwarded-for", b"6.6.6.6"),
    ("x-forwarded-proto", b"https"),
    ("x-forwarded-host", b"evil.test"),
    ("x-forwarded-port", b"666"),
    ("x-forwarded-prefix", b"/evil"),
    ("forwarded", b"for=6.6.6.6;proto=https;host=evil.test"),
];

fn everything() -> ProxyHeaders {
    trusting().x_host(1).x_port(1).x_prefix(1)
}

#[tokio::test]
async fn trusted_and_untrusted_peers() {
    let cases = [
        Case::new("untrusted TCP peer", ALL_FORGED)
            .proxy(everything())
            .conn(tcp_peer("192.0.2.9:5000")),
        Case::new("untrusted, Forwarded mode", ALL_FORGED)
            .proxy(everything().forwarded(1))
            .conn(tcp_peer("192.0.2.9:5000")),
        Case::new("nothing trusted by default", ALL_FORGED)
            .proxy(ProxyHeaders::new().x_host(1).x_prefix(1))
            .conn(tcp_peer("127.0.0.1:5000")),
        Case::new("Unix peer, not enabled", ALL_FORGED)
            .proxy(everything())
            .conn(unix_peer()),
        Case::new("no peer address", ALL_FORGED)
            .proxy(everything())
            .conn(ConnInfo::default()),
        Case::new("just outside the network", ALL_FORGED)
            .proxy(ProxyHeaders::new().trusted_proxies(["10.0.0.0/30"]))
            .conn(tcp_peer("10.0.0.4:1")),
        Case::new("trusted TCP peer", ALL_FORGED)
            .proxy(everything())
            .sees("6.6.6.6:0", "https", "https://evil.test:666/evil/p?q=1"),
        Case::new("trusted Unix peer", ALL_FORGED)
            .proxy(everything().trust_unix_peers(true))
            .conn(unix_peer())
            .sees("6.6.6.6:0", "https", "https://evil.test:666/evil/p?q=1"),
        Case::new("IPv4-mapped peer matches an IPv4 network", ALL_FORGED)
            .conn(tcp_peer("[::ffff:10.9.8.7]:1234"))
            .sees("6.6.6.6:0", "https", "https://localhost/p?q=1"),
        Case::new("IPv6 peer", ALL_FORGED)
            .conn(tcp_peer("[::1]:1234"))
            .sees("6.6.6.6:0", "https", "https://localhost/p?q=1"),
        Case::new("only the headers given hops are read", ALL_FORGED)
            .proxy(trusting().x_for(0))
            .sees(PROXY, "https", "https://localhost/p?q=1"),
        Case::new("no proxy headers", &[]).proxy(everything()),
    ];
    for case in cases {
        case.check().await;
    }
}

#[tokio::test]
async fn hop_counts_and_field_lines() {
    let cases = [
        Case::new(
            "one hop: the rightmost value",
            &[("x-forwarded-for", b"6.6.6.6, 203.0.113.7")],
        )
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "two hops",
            &[("x-forwarded-for", b"6.6.6.6,203.0.113.7 ,\t10.0.0.9")],
        )
        .proxy(trusting().x_for(2))
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "fewer values than hops: ignored",
            &[("x-forwarded-for", b"203.0.113.7")],
        )
        .proxy(trusting().x_for(2)),
        Case::new(
            "every field line counts, in order",
            &[
                ("x-forwarded-for", b"6.6.6.6"),
                ("x-forwarded-for", b"203.0.113.7"),
            ],
        )
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "lines are one list for hop counting",
            &[
                ("x-forwarded-for", b"6.6.6.6, 203.0.113.7"),
                ("x-forwarded-for", b"10.0.0.9"),
            ],
        )
        .proxy(trusting().x_for(2))
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "empty elements are skipped",
            &[
                ("x-forwarded-for", b"203.0.113.7, ,"),
                ("x-forwarded-for", b""),
            ],
        )
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "proto hops",
            &[
                ("x-forwarded-proto", b"http"),
                ("x-forwarded-proto", b"https"),
            ],
        )
        .proxy(trusting().x_proto(2)),
        Case::new(
            "host and port hops",
            &[
                ("x-forwarded-host", b"example.com, internal.test"),
                ("x-forwarded-port", b"8443, 80"),
                ("x-forwarded-proto", b"https"),
            ],
        )
        .proxy(trusting().x_host(2).x_port(2))
        .sees(PROXY, "https", "https://example.com:8443/p?q=1"),
        Case::new(
            "prefix from the second line",
            &[
                ("x-forwarded-prefix", b"/evil"),
                ("x-forwarded-prefix", b"/outer"),
            ],
        )
        .proxy(trusting().x_prefix(1))
        .sees(PROXY, "http", "http://localhost/outer/p?q=1"),
    ];
    for case in cases {
        case.check().await;
    }
}

#[tokio::test]
async fn forwarded_header() {
    let fwd = || trusting().forwarded(1);
    let cases = [
        Case::new(
            "RFC 7239 example",
            &[(
                "forwarded",
                b"for=192.0.2.60;proto=https;by=203.0.113.43;host=example.com",
            )],
        )
        .proxy(fwd())
        .sees("192.0.2.60:0", "https", "https://example.com/p?q=1"),
        Case::new(
            "quoted IPv6 with port, mixed case names",
            &[(
                "forwarded",
                b"For=\"[2001:db8:cafe::17]:4711\"; PROTO=HTTPS",
            )],
        )
        .proxy(fwd())
        .sees(
            "[2001:db8:cafe::17]:4711",
            "https",
            "https://localhost/p?q=1",
        ),
        Case::new(
            "quoted IPv4 with port",
            &[("forwarded", b"for=\"192.0.2.43:47011\"")],
        )
        .proxy(fwd())
        .sees("192.0.2.43:47011", "http", "http://localhost/p?q=1"),
        Case::new(
            "quoted host with port",
            &[("forwarded", b"host=\"example.com:8080\"")],
        )
        .proxy(fwd())
        .sees(PROXY, "http", "http://example.com:8080/p?q=1"),
        Case::new(
            "obfuscated identifier: address unknown",
            &[("forwarded", b"for=_gazonk")],
        )
        .proxy(fwd())
        .sees("-", "http", "http://localhost/p?q=1"),
        Case::new("unknown", &[("forwarded", b"for=unknown;proto=https")])
            .proxy(fwd())
            .sees("-", "https", "https://localhost/p?q=1"),
        Case::new(
            "obfuscated port",
            &[("forwarded", b"for=\"[2001:db8::1]:_p\"")],
        )
        .proxy(fwd())
        .sees("[2001:db8::1]:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "the rightmost element",
            &[("forwarded", b"for=6.6.6.6;proto=https, for=192.0.2.43")],
        )
        .proxy(fwd())
        .sees("192.0.2.43:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "two hops over two lines",
            &[
                ("forwarded", b"for=6.6.6.6"),
                ("forwarded", b"for=192.0.2.43;proto=https"),
                ("forwarded", b"for=10.0.0.7"),
            ],
        )
        .proxy(trusting().forwarded(2))
        .sees("192.0.2.43:0", "https", "https://localhost/p?q=1"),
        Case::new(
            "fewer elements than hops",
            &[("forwarded", b"for=192.0.2.43")],
        )
        .proxy(trusting().forwarded(2)),
        Case::new(
            "a quoted comma is not a separator",
            &[("forwarded", b"for=192.0.2.43;ext=\"a, for=6.6.6.6\"")],
        )
        .proxy(fwd())
        .sees("192.0.2.43:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "Forwarded wins over X-Forwarded-*",
            &[
                ("x-forwarded-for", b"6.6.6.6"),
                ("x-forwarded-host", b"evil.test"),
                ("forwarded", b"for=192.0.2.43"),
            ],
        )
        .proxy(fwd().x_host(1))
        .sees("192.0.2.43:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "X-Forwarded-* not read even when the element lacks the parameter",
            &[
                ("x-forwarded-for", b"6.6.6.6"),
                ("forwarded", b"proto=https"),
            ],
        )
        .proxy(fwd())
        .sees(PROXY, "https", "https://localhost/p?q=1"),
        Case::new(
            "a malformed Forwarded disables X-Forwarded-* too",
            &[
                ("x-forwarded-for", b"6.6.6.6"),
                ("x-forwarded-proto", b"https"),
                ("forwarded", b"for=\"6.6.6.6, for=192.0.2.43"),
            ],
        )
        .proxy(fwd()),
        Case::new(
            "duplicate parameter: ignored whole",
            &[("forwarded", b"for=192.0.2.43;for=6.6.6.6")],
        )
        .proxy(fwd()),
        Case::new(
            "one bad line spoils the header",
            &[("forwarded", b"for=192.0.2.43"), ("forwarded", b"for")],
        )
        .proxy(fwd()),
        Case::new(
            "without Forwarded, X-Forwarded-* are read",
            &[
                ("x-forwarded-for", b"203.0.113.7"),
                ("x-forwarded-proto", b"https"),
            ],
        )
        .proxy(fwd())
        .sees("203.0.113.7:0", "https", "https://localhost/p?q=1"),
        Case::new(
            "Forwarded not enabled: not read",
            &[
                ("forwarded", b"for=6.6.6.6;proto=https"),
                ("x-forwarded-for", b"203.0.113.7"),
            ],
        )
        .sees("203.0.113.7:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "conflicting scheme headers: neither",
            &[
                ("forwarded", b"for=192.0.2.43;proto=https"),
                ("x-forwarded-proto", b"http"),
            ],
        )
        .proxy(fwd())
        .sees("192.0.2.43:0", "http", "http://localhost/p?q=1"),
        Case::new(
            "agreeing scheme headers",
            &[
                ("forwarded", b"proto=https"),
                ("x-forwarded-proto", b"HTTPS"),
            ],
        )
        .proxy(fwd())
        .sees(PROXY, "https", "https://localhost/p?q=1"),
        Case::new(
            "no cross-check when X-Forwarded-Proto has no hops",
            &[
                ("forwarded", b"proto=https"),
                ("x-forwarded-proto", b"http"),
            ],
        )
        .proxy(fwd().x_proto(0))
        .sees(PROXY, "https", "https://localhost/p?q=1"),
        Case::new(
            "escaped value unusable",
            &[("forwarded", b"for=\"192.0.2.\\43\";proto=https")],
        )
        .proxy(fwd())
        .sees(PROXY, "https", "https://localhost/p?q=1"),
        Case::new(
            "bad values in a good element",
            &[("forwarded", b"for=not-an-ip;proto=ftp;host=\"a b\"")],
        )
        .proxy(fwd()),
    ];
    for case in cases {
        case.check().await;
    }
}

#[tokio::test]
async fn malformed_values_are_ignored() {
    let cases = [
        Case::new("not an address", &[("x-forwarded-for", b"not-an-ip")]),
        Case::new(
            "an address with a zone",
            &[("x-forwarded-for", b"fe80::1%eth0")],
        ),
        Case::new(
            "non-ASCII line spoils the list",
            &[
                ("x-forwarded-for", b"203.0.113.7"),
                ("x-forwarded-for", b"\xe9"),
            ],
        ),
        Case::new("obs-text in proto", &[("x-forwarded-proto", b"https\xa0")]),
        Case::new("unknown scheme", &[("x-forwarded-proto", b"ftp")]),
        Case::new(
            "scheme list picks one",
            &[("x-forwarded-proto", b"https http")],
        ),
        Case::new("host with a path", &[("x-forwarded-host", b"evil.test/x")]).proxy(everything()),
        Case::new(
            "host with userinfo",
            &[("x-forwarded-host", b"u@evil.test")],
        )
        .proxy(everything()),
        Case::new("host with space", &[("x-forwarded-host", b"a b")]).proxy(everything()),
        Case::new("port zero", &[("x-forwarded-port", b"0")]).proxy(everything()),
        Case::new("port too big", &[("x-forwarded-port", b"65536")]).proxy(everything()),
        Case::new("port not digits", &[("x-forwarded-port", b"8o")]).proxy(everything()),
        Case::new(
            "valid beside invalid",
            &[
                ("x-forwarded-for", b"bogus"),
                ("x-forwarded-proto", b"https"),
            ],
        )
        .sees(PROXY, "https", "https://localhost/p?q=1"),
    ];
    for case in cases {
        case.check().await;
    }
}

#[tokio::test]
async fn host_and_port() {
    let cases = [
        Case::new("forwarded host", &[("x-forwarded-host", b"example.com")])
            .proxy(everything())
            .sees(PROXY, "http", "http://example.com/p?q=1"),
        Case::new(
            "forwarded IPv6 host",
            &[("x-forwarded-host", b"[2001:db8::1]:8080")],
        )
        .proxy(everything())
        .sees(PROXY, "http", "http://[2001:db8::1]:8080/p?q=1"),
        Case::new(
            "port replaces the host's port",
            &[
                ("x-forwarded-host", b"example.com:80"),
                ("x-forwarded-port", b"8443"),
            ],
        )
        .proxy(everything())
        .sees(PROXY, "http", "http://example.com:8443/p?q=1"),
        Case::new(
            "port on the received host",
            &[("x-forwarded-port", b"8080")],
        )
        .proxy(everything())
        .sees(PROXY, "http", "http://localhost:8080/p?q=1"),
        Case::new(
            "default port of the final scheme is left out",
            &[
                ("x-forwarded-host", b"example.com:8443"),
                ("x-forwarded-port", b"443"),
                ("x-forwarded-proto", b"https"),
            ],
        )
        .proxy(everything())
        .sees(PROXY, "https", "https://example.com/p?q=1"),
        Case::new(
            "port on an IPv6 host",
            &[("x-forwarded-host", b"[::1]:1"), ("x-forwarded-port", b"2")],
        )
        .proxy(everything())
        .sees(PROXY, "http", "http://[::1]:2/p?q=1"),
        Case::new(
            "same host: nothing to rewrite",
            &[
                ("x-forwarded-host", b"localhost"),
                ("x-forwarded-port", b"80"),
            ],
        )
        .proxy(everything()),
    ];
    for case in cases {
        case.check().await;
    }
}

#[tokio::test]
async fn prefix_injection_attempts_are_ignored() {
    for bad in [
        &b"outer"[..],
        b"//evil.test",
        b"/a//b",
        b"/a/../b",
        b"/a/./b",
        b"/..",
        b"/%2e%2E/x",
        b"/a%2Fb",
        b"/a%5Cb",
        b"/a%00",
        b"/a\\b",
        b"/a b",
        b"/a?b=c",
        b"/a#b",
        b"/a\tb",
        b"/caf\xc3\xa9",
        b"/a%zz",
        b"http://evil.test/",
        b"/a\"b",
        b"/<script>",
        b"",
        b"/",
    ] {
        let name = format!("prefix {:?}", String::from_utf8_lossy(bad));
        let client = TestClient::new(echo("a").with(everything())).with_conn(tcp_peer(PROXY));
        let res = client
            .get("/p")
            .header("x-forwarded-prefix", HeaderValue::from_bytes(bad).unwrap())
            .send()
            .await;
        assert_eq!(field(&res, "script"), "", "{name}");
        assert_eq!(field(&res, "url"), "http://localhost/p", "{name}");
        assert_eq!(field(&res, "orig_peer"), "-", "{name}: nothing rewritten");
    }
    // CR and LF cannot even reach the environ: `HeaderValue` refuses them.
    assert!(HeaderValue::from_bytes(b"/a\r\nSet-Cookie: x=1").is_err());

    // Valid prefixes, including encoded bytes that are not separators.
    for (good, script) in [
        ("/outer", "/outer"),
        ("/outer/", "/outer"),
        ("/a/b%20c", "/a/b%20c"),
        ("/~user/v1.2", "/~user/v1.2"),
    ] {
        let client = TestClient::new(echo("a").with(everything())).with_conn(tcp_peer(PROXY));
        let res = client
            .get("/p")
            .header("x-forwarded-prefix", good)
            .send()
            .await;
        assert_eq!(field(&res, "script"), script, "{good}");
        assert_eq!(field(&res, "url"), format!("http://localhost{script}/p"));
    }
}

/// The forwarded prefix goes in front of the adapter's configured root
/// path; the original root path is kept.
#[tokio::test]
async fn prefix_joins_in_front_of_the_root_path() {
    let app = echo("a")
        .with(everything())
        // Outermost here, playing the adapter's `root_path` setting.
        .with(from_fn(|mut env: Environ, next| async move {
            env.set_root_path(Some(RootPath::from_static("/root")));
            next.run(env).await
        }));
    let client = TestClient::new(app).with_conn(tcp_peer(PROXY));
    let res = client
        .get("/p")
        .header("x-forwarded-prefix", "/outer")
        .send()
        .await;
    assert_eq!(field(&res, "script"), "/outer/root");
    assert_eq!(field(&res, "url"), "http://localhost/outer/root/p");
    assert_eq!(field(&res, "orig_root"), "/root");
}

/// An absolute-form target (as HTTP/2 gives) carries the host in the URI,
/// which `Environ::host` prefers: it is rewritten too.
#[tokio::test]
async fn absolute_form_target_gets_the_forwarded_host() {
    let client = TestClient::new(echo("a").with(everything())).with_conn(tcp_peer(PROXY));
    let res = client
        .get("http://backend:8000/p?q=1")
        .header("host", "backend:8000")
        .header("x-forwarded-host", "example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    assert_eq!(field(&res, "host"), "example.com");
    assert_eq!(field(&res, "url"), "https://example.com/p?q=1");
    assert_eq!(field(&res, "orig_host"), "backend:8000");
}

/// A second `ProxyHeaders` further in keeps the first one's originals.
#[tokio::test]
async fn nested_proxy_headers_keep_the_first_original() {
    let inner = ProxyHeaders::new()
        .trusted_proxies(["203.0.113.0/24"])
        .x_proto(0);
    let app = echo("a").with(inner).with(trusting());
    let client = TestClient::new(app).with_conn(tcp_peer(PROXY));
    let res = client
        .get("/p")
        .header("x-forwarded-for", "192.0.2.1, 203.0.113.7")
        .header("x-forwarded-proto", "https")
        .send()
        .await;
    // The outer one moved to 203.0.113.7, which the inner one trusts.
    assert_eq!(field(&res, "peer"), "203.0.113.7:0");
    assert_eq!(field(&res, "orig_peer"), PROXY);
}

/// Issue 5, deliverable 3: an application mounted at `/app` behind
/// `ProxyHeaders` with `X-Forwarded-Prefix: /outer` and
/// `X-Forwarded-Proto: https` rebuilds `https://host/outer/app/...`, and
/// its redirects point there too.
#[tokio::test]
async fn urls_and_redirects_under_proxy_and_mount() {
    let app = Mount::new()
        .mount("/app", echo("app"))
        .fallback(echo("site"))
        .with(trusting().x_host(1).x_prefix(1));
    let client = TestClient::new(app).with_conn(tcp_peer(PROXY));
    let res = client
        .get("/app/users/go?x=%2F")
        .header("host", "backend")
        .header("x-forwarded-for", "203.0.113.7")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "example.com")
        .header("x-forwarded-prefix", "/outer")
        .send()
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(field(&res, "app"), "app");
    assert_eq!(field(&res, "script"), "/outer/app");
    assert_eq!(field(&res, "info"), "/users/go");
    assert_eq!(
        field(&res, "url"),
        "https://example.com/outer/app/users/go?x=%2F"
    );
    assert_eq!(
        res.header("location"),
        Some("https://example.com/outer/app/done")
    );
    assert_eq!(field(&res, "peer"), "203.0.113.7:0");
    assert_eq!(field(&res, "orig_host"), "backend");

    // The same request from an untrusted peer: nothing forwarded is used.
    let client = TestClient::new(
        Mount::new()
            .mount("/app", echo("app"))
            .with(trusting().x_host(1).x_prefix(1)),
    )
    .with_conn(tcp_peer("192.0.2.1:1"));
    let res = client
        .get("/app/users/go")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "example.com")
        .header("x-forwarded-prefix", "/outer")
        .send()
        .await;
    assert_eq!(res.header("location"), Some("http://localhost/app/done"));
}

#[test]
fn invalid_trusted_proxy_is_an_error() {
    for bad in [
        "",
        "10.0.0.0/33",
        "localhost",
        "10.0.0",
        "::1/129",
        "10.0.0.0/8/8",
    ] {
        let err = ProxyHeaders::new().try_trusted_proxies([bad]).unwrap_err();
        assert!(err.to_string().contains("invalid trusted proxy"), "{err}");
    }
    let proxy = ProxyHeaders::new().trusted_proxies([" 10.1.2.3 ", "fd00::/8", "192.168.0.0/16"]);
    for (peer, trusted) in [
        ("10.1.2.3:1", true),
        ("10.1.2.4:1", false),
        ("[fd12::1]:1", true),
        ("[fe80::1]:1", false),
        ("192.168.200.1:1", true),
        ("[::ffff:192.168.0.1]:1", true),
    ] {
        let addr = Addr::Tcp(peer.parse().unwrap());
        assert_eq!(proxy.is_trusted(&addr), trusted, "{peer}");
    }
    assert!(!proxy.is_trusted(&Addr::Unix(None)));
    assert!(
        proxy
            .clone()
            .trust_unix_peers(true)
            .is_trusted(&Addr::Unix(None))
    );
    assert!(!proxy.is_trusted(&Addr::None));
}

/// No input makes `apply` panic, and the path invariant holds whatever it
/// does: a deterministic stream of hostile header values.
#[test]
fn never_panics_on_hostile_values() {
    const PIECES: &[&str] = &[
        "for=",
        "proto=",
        "host=",
        "by=",
        "\"",
        "\\",
        ",",
        ";",
        " ",
        "=",
        "[",
        "]",
        ":",
        "_x",
        "unknown",
        "1.2.3.4",
        "::1",
        "[::1]:80",
        "https",
        "http",
        "example.com",
        "/",
        "/a",
        "..",
        "%2F",
        "%2e",
        "//",
        "?",
        "#",
        "@",
        "65535",
        "0",
        "\t",
        "%",
        "é",
        "\u{7f}",
    ];
    const NAMES: &[&str] = &[
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "x-forwarded-port",
        "x-forwarded-prefix",
        "host",
    ];
    let proxies = [
        everything(),
        everything().forwarded(1),
        everything().forwarded(2).x_for(3).x_proto(2).x_prefix(2),
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: usize| {
        // xorshift64: deterministic, so a failure reproduces.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for round in 0..3000 {
        let mut req = http::Request::get("/app/x");
        for _ in 0..next(6) {
            let name = NAMES[next(NAMES.len())];
            let value: String = (0..next(8)).map(|_| PIECES[next(PIECES.len())]).collect();
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                req = req.header(name, value);
            }
        }
        let Ok(req) = req.body(Body::empty()) else {
            continue;
        };
        let mut env = Environ::from_request(req);
        env.conn_mut().set_peer(Addr::Tcp(PROXY.parse().unwrap()));
        env.mount("/app");
        proxies[round % proxies.len()].apply(&mut env);
        let script = env.script_name();
        assert!(
            script.is_empty() || (script.starts_with('/') && !script.ends_with('/')),
            "{script:?}"
        );
        assert!(
            !script.contains("//") && !script.contains("/../"),
            "{script:?}"
        );
        let url = env.url();
        assert!(
            url.starts_with("http://") || url.starts_with("https://"),
            "{url}"
        );
        assert!(url.ends_with("/app/x"), "{url}");
    }
}

#[test]
#[should_panic(expected = "invalid trusted proxy address \"localhost\"")]
fn trusted_proxies_panics_on_an_invalid_address() {
    let _ = ProxyHeaders::new().trusted_proxies(["10.0.0.0/8", "localhost"]);
}
