//! The checks a request head must pass before it reaches the application:
//! the RFC 9112 and RFC 9113 rules hyper leaves to the server.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use gateway_core::{fn_app, start};
//! // A request without `Host`, with two of them, or with `Transfer-Encoding:
//! // chunked, chunked` gets 400 from this server; the application never
//! // sees it.
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
//! server.serve_with_shutdown(app, async {}).await
//! # }
//! ```

use http::header::{HOST, TRANSFER_ENCODING, UPGRADE};
use http::{Method, StatusCode, Version};

/// A request refused by the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    /// Logged, never sent.
    pub(crate) reason: &'static str,
    /// Whether the connection must close after the answer: the request's
    /// framing is in doubt, so nothing after it on the connection can be
    /// trusted to be a request of its own.
    pub(crate) close: bool,
}

const fn bad(reason: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        reason,
        close: false,
    }
}

/// A refused `Transfer-Encoding`: the body's end is unknown, so the
/// connection closes.
const fn bad_framing(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal {
        status,
        reason,
        close: true,
    }
}

/// RFC 9112 §3.2, §6.1 and RFC 9113 §8.3.1 checks hyper leaves to the
/// server. Returns whether the request asks for an upgrade (HTTP/1.1 with
/// `Upgrade`), found in the same pass over the headers.
pub(crate) fn check_head(parts: &http::request::Parts) -> Result<bool, Refusal> {
    let uri = &parts.uri;
    let method = &parts.method;
    let version = parts.version;
    let headers = &parts.headers;
    // Request-target forms (RFC 9112 §3.2.3, §3.2.4); origin-form first.
    if uri.authority().is_none() {
        if *method == Method::CONNECT {
            return Err(bad("CONNECT without an authority-form target"));
        }
        if uri.path() == "*" && *method != Method::OPTIONS {
            return Err(bad("asterisk-form target outside OPTIONS"));
        }
    } else if uri.scheme().is_none() && *method != Method::CONNECT {
        return Err(bad("authority-form target outside CONNECT"));
    }

    // One pass instead of several hash lookups: requests have few headers.
    let mut host = None;
    let mut hosts = 0u32;
    let mut upgrade = false;
    let mut codings = false;
    for (name, value) in headers {
        if name == HOST {
            hosts += 1;
            host = Some(value);
        } else if name == UPGRADE {
            upgrade = true;
        } else if name == TRANSFER_ENCODING {
            codings = true;
        }
    }
    if hosts > 1 {
        return Err(bad("more than one Host"));
    }
    if codings {
        check_transfer_codings(headers)?;
    }
    let upgrade = upgrade && version == Version::HTTP_11;
    let Some(host) = host else {
        // HTTP/2 and HTTP/3 carry :authority instead; HTTP/1.0 may omit it.
        return if version == Version::HTTP_11 {
            Err(bad("HTTP/1.1 request without Host"))
        } else {
            Ok(upgrade)
        };
    };
    // HTTP/2 and HTTP/3 carry :authority, which hyper puts in the URI; a
    // Host beside it must agree (RFC 9113 §8.3.1).
    if matches!(version, Version::HTTP_2 | Version::HTTP_3)
        && uri.authority().is_some_and(|authority| {
            !host
                .as_bytes()
                .eq_ignore_ascii_case(authority.as_str().as_bytes())
        })
    {
        return Err(bad("Host differs from :authority"));
    }
    valid_host(host)?;
    Ok(upgrade)
}

/// The only transfer coding this server understands is `chunked`, which
/// hyper removes. hyper refuses lists that do not end in `chunked`, but lets
/// `gzip, chunked` through with the body still gzip-coded (RFC 9112 §6.1
/// asks for 501 for a coding the server does not understand), and
/// `chunked` applied twice, in one field or in two, which §6.1 forbids
/// (400). Either way the connection closes: where the body ends is not
/// known, and hyper would otherwise read a request pipelined behind it.
#[cold]
fn check_transfer_codings(headers: &http::HeaderMap) -> Result<(), Refusal> {
    let mut chunked = 0u32;
    for value in headers.get_all(TRANSFER_ENCODING) {
        let Ok(value) = value.to_str() else {
            return Err(bad_framing(
                StatusCode::BAD_REQUEST,
                "invalid Transfer-Encoding",
            ));
        };
        for coding in value.split(',') {
            let coding = coding.trim();
            if coding.eq_ignore_ascii_case("chunked") {
                chunked += 1;
            } else if !coding.is_empty() {
                return Err(bad_framing(
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported transfer coding",
                ));
            }
        }
    }
    if chunked > 1 {
        return Err(bad_framing(
            StatusCode::BAD_REQUEST,
            "chunked applied more than once",
        ));
    }
    Ok(())
}

fn valid_host(host: &http::HeaderValue) -> Result<(), Refusal> {
    // Straight on the bytes: the check admits only visible ASCII.
    if gateway_core::host::is_valid_host(host.as_bytes()) {
        Ok(())
    } else {
        Err(bad("invalid Host"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Request;

    fn head(
        method: Method,
        target: &str,
        version: Version,
        hosts: &[&str],
    ) -> http::request::Parts {
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .version(version);
        for h in hosts {
            req = req.header(HOST, *h);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn host_rules() {
        use Version as V;
        let ok = |m, t, v, h: &[&str]| check_head(&head(m, t, v, h));
        assert!(ok(Method::GET, "/", V::HTTP_11, &["a.test"]).is_ok());
        assert!(ok(Method::GET, "/", V::HTTP_11, &[]).is_err(), "missing");
        assert!(
            ok(Method::GET, "/", V::HTTP_11, &["a", "b"]).is_err(),
            "duplicated"
        );
        assert!(ok(Method::GET, "/", V::HTTP_11, &["a b"]).is_err(), "space");
        assert!(
            ok(Method::GET, "/", V::HTTP_11, &["u@a"]).is_err(),
            "userinfo"
        );
        assert!(
            ok(Method::GET, "/", V::HTTP_10, &[]).is_ok(),
            "optional in 1.0"
        );
        assert!(ok(Method::GET, "http://a.test/x", V::HTTP_11, &["a.test"]).is_ok());
        assert!(
            ok(Method::GET, "http://a.test/x", V::HTTP_2, &["b.test"]).is_err(),
            "h2 mismatch"
        );
        assert!(ok(Method::GET, "http://a.test/x", V::HTTP_2, &["A.test"]).is_ok());
        assert!(
            ok(Method::GET, "http://a.test/x", V::HTTP_2, &[]).is_ok(),
            "h2 without Host"
        );
    }

    #[test]
    fn transfer_codings_other_than_chunked_get_501() {
        let mut parts = head(Method::POST, "/", Version::HTTP_11, &["a"]);
        parts
            .headers
            .insert(TRANSFER_ENCODING, "gzip, chunked".parse().unwrap());
        assert_eq!(
            check_head(&parts).unwrap_err().status,
            StatusCode::NOT_IMPLEMENTED
        );
        parts
            .headers
            .insert(TRANSFER_ENCODING, "Chunked".parse().unwrap());
        assert!(check_head(&parts).is_ok());
        // Not text at all: 400, not 501.
        parts.headers.insert(
            TRANSFER_ENCODING,
            http::HeaderValue::from_bytes(b"chunked\xff").unwrap(),
        );
        assert_eq!(
            check_head(&parts).unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn chunked_twice_gets_400_and_a_close() {
        let mut parts = head(Method::POST, "/", Version::HTTP_11, &["a"]);
        parts
            .headers
            .insert(TRANSFER_ENCODING, "chunked, chunked".parse().unwrap());
        let refusal = check_head(&parts).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.close),
            (StatusCode::BAD_REQUEST, true)
        );
        parts
            .headers
            .insert(TRANSFER_ENCODING, "chunked".parse().unwrap());
        parts
            .headers
            .append(TRANSFER_ENCODING, "Chunked".parse().unwrap());
        let refusal = check_head(&parts).unwrap_err();
        assert_eq!(
            (refusal.status, refusal.close),
            (StatusCode::BAD_REQUEST, true)
        );
        // Empty list members do not count (RFC 9110 §5.6.1).
        parts
            .headers
            .insert(TRANSFER_ENCODING, ", chunked ,".parse().unwrap());
        assert!(check_head(&parts).is_ok());
    }

    #[test]
    fn target_forms() {
        let v = Version::HTTP_11;
        assert!(check_head(&head(Method::OPTIONS, "*", v, &["a"])).is_ok());
        assert!(check_head(&head(Method::GET, "*", v, &["a"])).is_err());
        assert!(check_head(&head(Method::CONNECT, "a.test:443", v, &["a.test:443"])).is_ok());
        assert!(check_head(&head(Method::GET, "a.test:443", v, &["a"])).is_err());
        assert!(check_head(&head(Method::CONNECT, "/x", v, &["a"])).is_err());
    }
}
