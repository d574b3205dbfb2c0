//! Following redirects in [`TestClient`](super::TestClient): the request a
//! redirect leads to, with the `Location` resolved as RFC 3986 §5.2 says.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::response::NO_HEADERS;
//! use gateway_core::{fn_app, start};
//!
//! let app = fn_app(|env| async move {
//!     match env.path_info() {
//!         "/old" => start(301, [("location", "new")]).empty(),
//!         _ => start(200, NO_HEADERS).body(env.path_info().to_owned()),
//!     }
//! });
//! let res = TestClient::new(app).follow_redirects(5).get("/old").send().await;
//! assert_eq!(res.text(), "/new");
//! # });
//! ```

use http::header::{
    AUTHORIZATION, CONTENT_ENCODING, CONTENT_LANGUAGE, CONTENT_LENGTH, CONTENT_LOCATION,
    CONTENT_TYPE, COOKIE, HOST, LOCATION, PROXY_AUTHORIZATION, TRANSFER_ENCODING,
};
use http::uri::Authority;
use http::{HeaderMap, Method, StatusCode, Uri, Version};

use super::TestResponse;
use crate::environ_impl::Scheme;

/// One request of a redirect chain: all of a request but its body.
#[derive(Clone, Debug)]
pub(super) struct Hop {
    pub(super) method: Method,
    pub(super) target: String,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
}

/// Where requests go when their target is a path: the client's base URL.
pub(super) struct Base<'a> {
    pub(super) scheme: Scheme,
    pub(super) authority: &'a Authority,
}

/// The next request, when `res` redirects `hop`, and whether it keeps the
/// body (307 and 308 do; the others become a GET without one, as browsers
/// do). None when there is nothing a client would follow: not a redirect
/// status, no `Location`, or one that does not lead to an `http` or
/// `https` URL a request can be made to — the redirect is then the answer.
pub(super) fn next(hop: &Hop, res: &TestResponse, base: &Base<'_>) -> Option<(Hop, bool)> {
    let status = res.status();
    let keeps_method = match status {
        StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT => true,
        StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND => hop.method != Method::POST,
        StatusCode::SEE_OTHER => hop.method == Method::HEAD,
        _ => return None,
    };
    let location = res.header(LOCATION.as_str())?;
    let current = Absolute::of(&hop.target, base)?;
    let next = current.resolve(location)?;
    if !(next.scheme.eq_ignore_ascii_case("http") || next.scheme.eq_ignore_ascii_case("https")) {
        return None;
    }

    let mut headers = hop.headers.clone();
    if !keeps_method {
        // The body is gone, and so is what described it (the Fetch
        // standard's request-body headers, and its framing).
        for name in [
            CONTENT_TYPE,
            CONTENT_LENGTH,
            CONTENT_ENCODING,
            CONTENT_LANGUAGE,
            CONTENT_LOCATION,
            TRANSFER_ENCODING,
        ] {
            headers.remove(name);
        }
    }
    let same_origin = next.authority.eq_ignore_ascii_case(&current.authority)
        && next.scheme.eq_ignore_ascii_case(&current.scheme);
    if !same_origin {
        // Credentials and the Host chosen for one origin are not for
        // another — nor for the same host over plain HTTP after HTTPS.
        for name in [HOST, AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE] {
            headers.remove(name);
        }
    }
    let at_base = next.scheme.eq_ignore_ascii_case(base.scheme.as_str())
        && next.authority.eq_ignore_ascii_case(base.authority.as_str());
    let target = if at_base {
        next.path_and_query
    } else {
        format!(
            "{}://{}{}",
            next.scheme, next.authority, next.path_and_query
        )
    };
    // A `Location` with bytes no request-target may hold (a space, say)
    // ends the chain rather than panicking in `send`.
    target.parse::<Uri>().ok()?;
    let method = if keeps_method {
        hop.method.clone()
    } else {
        Method::GET
    };
    let next = Hop {
        method,
        target,
        version: hop.version,
        headers,
    };
    Some((next, keeps_method))
}

/// A URL in parts: scheme, authority, and path with query (no fragment).
#[derive(Debug, PartialEq, Eq)]
struct Absolute {
    scheme: String,
    authority: String,
    path_and_query: String,
}

impl Absolute {
    /// The URL a request target stands for.
    fn of(target: &str, base: &Base<'_>) -> Option<Absolute> {
        let uri: Uri = target.parse().ok()?;
        let path_and_query = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
        Some(match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => Absolute {
                scheme: scheme.to_owned(),
                authority: authority.as_str().to_owned(),
                path_and_query,
            },
            _ => Absolute {
                scheme: base.scheme.as_str().to_owned(),
                authority: base.authority.as_str().to_owned(),
                path_and_query,
            },
        })
    }

    /// RFC 3986 §5.2.2: `reference` resolved against `self`.
    fn resolve(&self, reference: &str) -> Option<Absolute> {
        let reference = reference.split('#').next().unwrap_or_default();
        if let Some((scheme, rest)) = split_scheme(reference) {
            let (authority, path_and_query) = split_authority(rest.strip_prefix("//")?);
            return Some(Absolute {
                scheme: scheme.to_owned(),
                authority: authority.to_owned(),
                path_and_query: normalize(path_and_query),
            });
        }
        if let Some(rest) = reference.strip_prefix("//") {
            let (authority, path_and_query) = split_authority(rest);
            return Some(Absolute {
                scheme: self.scheme.clone(),
                authority: authority.to_owned(),
                path_and_query: normalize(path_and_query),
            });
        }
        let (base_path, _) = split_query(&self.path_and_query);
        let path_and_query = if reference.is_empty() {
            self.path_and_query.clone()
        } else if reference.starts_with('?') {
            format!("{base_path}{reference}")
        } else if reference.starts_with('/') {
            normalize(reference)
        } else {
            // Merge (§5.2.3): the base path up to its last segment.
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            normalize(&format!("/{}{reference}", dir.trim_start_matches('/')))
        };
        Some(Absolute {
            scheme: self.scheme.clone(),
            authority: self.authority.clone(),
            path_and_query,
        })
    }
}

/// `scheme:rest`, when `reference` starts with a scheme (§3.1).
fn split_scheme(reference: &str) -> Option<(&str, &str)> {
    let colon = reference.find(':')?;
    let scheme = &reference[..colon];
    let mut bytes = scheme.bytes();
    let first = bytes.next()?;
    let valid = first.is_ascii_alphabetic()
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    valid.then(|| (scheme, &reference[colon + 1..]))
}

/// `authority` and the path with query after it.
fn split_authority(rest: &str) -> (&str, &str) {
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    (&rest[..end], &rest[end..])
}

fn split_query(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    }
}

/// The path with its dot segments removed (§5.2.4), never empty, with
/// the query kept as it is.
fn normalize(path_and_query: &str) -> String {
    let (path, query) = split_query(path_and_query);
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    let mut result = String::with_capacity(path_and_query.len() + 1);
    for segment in &out {
        result.push('/');
        result.push_str(segment);
    }
    if result.is_empty() {
        result.push('/');
    }
    if let Some(query) = query {
        result.push('?');
        result.push_str(query);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Absolute {
        Absolute {
            scheme: "http".into(),
            authority: "a".into(),
            path_and_query: "/b/c/d;p?q".into(),
        }
    }

    fn resolved(reference: &str) -> String {
        let r = base().resolve(reference).unwrap();
        format!("{}://{}{}", r.scheme, r.authority, r.path_and_query)
    }

    /// RFC 3986 §5.4's examples (those without a fragment or an empty
    /// path after the authority).
    #[test]
    fn references_resolve_as_rfc_3986_says() {
        for (reference, expected) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("https://other:8443/x/../y?z", "https://other:8443/y?z"),
        ] {
            assert_eq!(resolved(reference), expected, "{reference:?}");
        }
    }
}
