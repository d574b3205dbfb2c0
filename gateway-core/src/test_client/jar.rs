//! The [`TestClient`](super::TestClient)'s cookie jar: RFC 6265's storage
//! model, enough for tests (domain, path, `Secure`, expiry).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{fn_app, start};
//!
//! let app = fn_app(|_| async { start(200, [("set-cookie", "a=1; Path=/docs")]).empty() });
//! let client = TestClient::new(app);
//! client.get("/docs/x").send().await;
//! assert_eq!(client.cookies(), [("a".to_owned(), "1".to_owned())]);
//! # });
//! ```

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

/// The cookies a client holds.
#[derive(Debug, Default)]
pub(super) struct CookieJar {
    cookies: Mutex<Vec<StoredCookie>>,
}

impl CookieJar {
    fn lock(&self) -> MutexGuard<'_, Vec<StoredCookie>> {
        // Nothing panics while holding the lock; recover regardless.
        self.cookies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cookies the jar holds now, as `(name, value)`.
    pub(super) fn cookies(&self) -> Vec<(String, String)> {
        let now = SystemTime::now();
        let mut jar = self.lock();
        jar.retain(|c| c.expires.is_none_or(|t| t > now));
        jar.iter()
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect()
    }

    /// Adds a host-only cookie for `host` at `Path=/`, replacing one of the
    /// same name, as if `host` had set it.
    pub(super) fn add(&self, host: &str, name: &str, value: &str) {
        let mut jar = self.lock();
        jar.retain(|c| !(c.name == name && c.path == "/" && c.domain.is_none()));
        jar.push(StoredCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            path: "/".to_owned(),
            domain: None,
            host: host.to_ascii_lowercase(),
            secure: false,
            expires: None,
        });
    }

    /// Empties the jar.
    pub(super) fn clear(&self) {
        self.lock().clear();
    }

    /// The `Cookie` header for a request to `target`, if any cookie matches.
    pub(super) fn header_for(&self, target: &Target<'_>) -> Option<HeaderValue> {
        let now = SystemTime::now();
        let mut jar = self.lock();
        jar.retain(|c| c.expires.is_none_or(|t| t > now));
        let mut matching: Vec<&StoredCookie> = jar.iter().filter(|c| c.matches(target)).collect();
        if matching.is_empty() {
            return None;
        }
        // RFC 6265 §5.4: longer paths first.
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        let joined = matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ");
        HeaderValue::from_str(&joined).ok()
    }

    /// Keeps the cookies a response from `target` sets.
    pub(super) fn store(&self, target: &Target<'_>, headers: &HeaderMap) {
        let now = SystemTime::now();
        let mut jar = self.lock();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = cookie::Cookie::parse(text) else {
                continue;
            };
            let secure = cookie.secure().unwrap_or(false);
            if secure && !target.https {
                continue; // only a secure origin may set a Secure cookie
            }
            let domain = match cookie.domain() {
                None => None,
                Some(d) => {
                    let d = d.trim_start_matches('.').to_ascii_lowercase();
                    if d.is_empty() || !domain_matches(target.host, &d) {
                        continue; // a cookie for another site
                    }
                    Some(d)
                }
            };
            let path = match cookie.path() {
                Some(p) if p.starts_with('/') => p.to_owned(),
                _ => default_path(target.path),
            };
            // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
            let expires = match cookie.max_age() {
                Some(max_age) => expiry(now, max_age.whole_seconds()),
                None => cookie
                    .expires_datetime()
                    .and_then(|t| expiry(SystemTime::UNIX_EPOCH, t.unix_timestamp())),
            };
            let name = cookie.name().to_owned();
            jar.retain(|c| !(c.name == name && c.path == path && c.domain == domain));
            if expires.is_some_and(|t| t <= now) {
                continue; // a deletion
            }
            jar.push(StoredCookie {
                name,
                value: cookie.value().to_owned(),
                path,
                domain,
                host: target.host.to_ascii_lowercase(),
                secure,
                expires,
            });
        }
    }
}

#[derive(Clone, Debug)]
struct StoredCookie {
    name: String,
    value: String,
    path: String,
    /// `Some(domain)` for a `Domain` cookie (sent to subdomains too),
    /// `None` for a host-only cookie.
    domain: Option<String>,
    /// The host that set it.
    host: String,
    secure: bool,
    expires: Option<SystemTime>,
}

/// Where one request goes, as far as cookies care (RFC 6265 §5.4).
pub(super) struct Target<'a> {
    pub(super) host: &'a str,
    pub(super) path: &'a str,
    pub(super) https: bool,
}

impl StoredCookie {
    fn matches(&self, target: &Target<'_>) -> bool {
        let host_ok = match &self.domain {
            Some(domain) => domain_matches(target.host, domain),
            None => target.host.eq_ignore_ascii_case(&self.host),
        };
        host_ok && (!self.secure || target.https) && path_matches(target.path, &self.path)
    }
}

/// `secs` after `base`: the epoch (expired) when not positive, `None`
/// (never expires) when too far in the future for a `SystemTime`.
fn expiry(base: SystemTime, secs: i64) -> Option<SystemTime> {
    match u64::try_from(secs) {
        Ok(secs) if secs > 0 => base.checked_add(Duration::from_secs(secs)),
        _ => Some(SystemTime::UNIX_EPOCH),
    }
}

/// RFC 6265 §5.1.3 domain-match.
fn domain_matches(host: &str, domain: &str) -> bool {
    let host = host.to_ascii_lowercase();
    host == domain || (host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.'))
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// RFC 6265 §5.1.4 default-path.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => request_path[..i].to_owned(),
    }
}
