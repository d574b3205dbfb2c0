//! The RFC 9110 field rules the driver applies to a response head:
//! connection-specific fields (§7.6.1, rule 3) and `Content-Length`
//! (§8.6, rule 5).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::{driver, fn_app, start, Body, Environ};
//!
//! let app = fn_app(|_| async {
//!     start(200, [("connection", "close"), ("content-length", "99")]).body("hello")
//! });
//! let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
//! let Ok(res) = driver::commit(&app, env).await;
//! assert!(!res.headers().contains_key("connection"));
//! assert_eq!(res.headers()["content-length"], "5");
//! # });
//! ```

use http::header::{
    CONNECTION, CONTENT_LENGTH, HeaderName, HeaderValue, TE, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, StatusCode};

const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Whether `name` is one of the connection-specific fields of RFC 9110
/// §7.6.1 (the fields a `Connection` header names aside).
#[inline]
pub(crate) fn is_connection_specific(name: &HeaderName) -> bool {
    name == CONNECTION
        || name == TRANSFER_ENCODING
        || name == UPGRADE
        || name == TE
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
}

pub(super) fn strip_connection_headers(headers: &mut HeaderMap, status: StatusCode) {
    if !headers.keys().any(is_connection_specific) {
        return;
    }
    let keep_upgrade =
        status == StatusCode::SWITCHING_PROTOCOLS || status == StatusCode::UPGRADE_REQUIRED;

    // Fields named by Connection go first, then Connection itself.
    let mut named: Vec<HeaderName> = Vec::new();
    let mut names_upgrade = false;
    for value in headers.get_all(CONNECTION) {
        for token in value.to_str().unwrap_or("").split(',') {
            let token = token.trim();
            if token.is_empty() {
                continue;
            }
            if token.eq_ignore_ascii_case("upgrade") {
                names_upgrade = true;
                if keep_upgrade {
                    continue;
                }
            }
            if let Ok(name) = HeaderName::from_bytes(token.as_bytes()) {
                named.push(name);
            }
        }
    }
    for name in named {
        if headers.remove(&name).is_some() {
            tracing::debug!(header = %name, "removed a field named by Connection from a response");
        }
    }
    for name in [
        CONNECTION,
        KEEP_ALIVE,
        PROXY_CONNECTION,
        TE,
        TRANSFER_ENCODING,
    ] {
        if headers.remove(&name).is_some() {
            tracing::debug!(header = %name, "removed a connection-specific field from a response");
        }
    }
    if keep_upgrade {
        // The upgrade option must stay (RFC 9110 §7.8), alone.
        if names_upgrade {
            headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        }
    } else if headers.remove(UPGRADE).is_some() {
        tracing::debug!(header = %UPGRADE, "removed a connection-specific field from a response");
    }
}

pub(super) fn reconcile_content_length(headers: &mut HeaderMap, exact: u64) {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return;
    };
    let agrees = values.next().is_none() && parse_content_length(first) == Some(exact);
    if !agrees {
        tracing::debug!(
            announced = ?first,
            actual = exact,
            "Content-Length disagreed with the body's exact size; corrected"
        );
        headers.insert(CONTENT_LENGTH, HeaderValue::from(exact));
    }
}

/// The length `Content-Length` announces: one valid value, or several
/// equal ones (RFC 9110 §8.6 lets a recipient take a list of identical
/// values as one). `None` when absent or invalid.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<u64> {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let first = parse_content_length(values.next()?)?;
    values
        .all(|value| parse_content_length(value) == Some(first))
        .then_some(first)
}

/// A `Content-Length` value as RFC 9110 §8.6 has it: decimal digits and
/// nothing else (no sign, no spaces, no list), fitting a `u64`. Stricter
/// than `str::parse`, which takes a leading `+` that hyper would not.
pub(crate) fn parse_content_length(value: &HeaderValue) -> Option<u64> {
    let digits = value.as_bytes();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}
