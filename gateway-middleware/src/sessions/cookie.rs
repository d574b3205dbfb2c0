//! The session cookie on the wire: finding it in `Cookie` fields and
//! writing `Set-Cookie`.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// Every value of the cookie called `name`, in the order the client sent
/// them, across every `Cookie` field line (HTTP/2 sends one per cookie).
/// Malformed and non-UTF-8 pairs are skipped — pairs, not lines: browsers
/// send other cookies' non-ASCII values on the same line as ours, and they
/// must not hide it. Only values `plausible` accepts are given (junk
/// planted ahead of the real cookie does not use up the caller's limit).
pub(crate) fn values<'h>(
    headers: &'h HeaderMap,
    name: &'h str,
    plausible: impl Fn(&str) -> bool,
) -> impl Iterator<Item = &'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|line| line.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            // The name is compared as bytes first: only our cookie's value
            // is checked for UTF-8 (other cookies' values are not read).
            let eq = pair.iter().position(|&b| b == b'=')?;
            if pair[..eq].trim_ascii() != name.as_bytes() {
                return None;
            }
            let value = std::str::from_utf8(&pair[eq + 1..]).ok()?;
            Some(value.trim().trim_matches('"'))
        })
        .filter(move |value| plausible(value))
}

/// The bytes past the name, `=` and value that [`Attributes::set`] needs
/// at most without a `Domain` (Max-Age up to 20 digits, Expires, Path,
/// Secure, HttpOnly and SameSite take 112), with room to spare for a
/// `Domain` of up to 70 bytes. A value with this much spare capacity
/// becomes its `Set-Cookie` field without a new allocation.
pub(crate) const FIELD_ROOM: usize = 192;

/// SameSite, for the session cookie. Defaults to `Lax`.
///
/// ```
/// use gateway_middleware::sessions::{MemoryStore, SameSite, Sessions};
/// let sessions = Sessions::new(MemoryStore::new()).same_site(SameSite::Strict);
/// # let _ = sessions;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SameSite {
    /// Sent on top-level navigations from other sites, not on their
    /// subrequests or form posts: the default, and the browsers' own.
    #[default]
    Lax,
    /// Never sent with a request another site started.
    Strict,
    /// Sent with every request; browsers require `Secure` with it.
    None,
}

impl SameSite {
    fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// When the session cookie carries `Secure`. Defaults to
/// [`FromScheme`](Secure::FromScheme).
///
/// ```
/// use gateway_middleware::sessions::{MemoryStore, Secure, Sessions};
/// // Behind a TLS-terminating proxy that ProxyHeaders does not trust:
/// let sessions = Sessions::new(MemoryStore::new()).secure(Secure::Always);
/// # let _ = sessions;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Secure {
    /// `Secure` when the request's verified scheme
    /// ([`Environ::scheme`](gateway_core::Environ::scheme), which
    /// [`ProxyHeaders`](crate::ProxyHeaders) corrects) is `https`.
    #[default]
    FromScheme,
    /// Always `Secure`.
    Always,
    /// Never `Secure` (local development over plain http only).
    Never,
}

/// The attributes every session cookie of one `Sessions` carries.
#[derive(Clone, Debug)]
pub(crate) struct Attributes {
    /// The full name, `__Host-` prefix included.
    pub(crate) name: String,
    pub(crate) domain: Option<String>,
    pub(crate) same_site: SameSite,
    pub(crate) secure: Secure,
    pub(crate) host_prefix: bool,
}

impl Attributes {
    fn is_secure(&self, https: bool) -> bool {
        self.host_prefix
            || match self.secure {
                Secure::FromScheme => https,
                Secure::Always => true,
                Secure::Never => false,
            }
    }

    /// `Set-Cookie` for `value`; `expires` is `None` for a
    /// browser-session cookie. Max-Age rounds down, so the cookie never
    /// outlives the record, and is never negative.
    pub(crate) fn set(
        &self,
        value: String,
        expires: Option<SystemTime>,
        now: SystemTime,
        https: bool,
    ) -> Option<HeaderValue> {
        // The field is built in the value's own buffer, no `format!`: this
        // is on every request that sets the cookie, and the cookie store
        // leaves `FIELD_ROOM` for it.
        let mut s = value;
        let domain = self
            .domain
            .as_ref()
            .map_or(0, |d| "; Domain=".len() + d.len());
        s.reserve(self.name.len() + 1 + FIELD_ROOM + domain);
        s.insert_str(0, &self.name);
        s.insert(self.name.len(), '=');
        if let Some(expires) = expires {
            let secs = expires
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
                .as_secs();
            s.push_str("; Max-Age=");
            push_u64(&mut s, secs);
            s.push_str("; Expires=");
            push_http_date(&mut s, now + Duration::from_secs(secs));
        }
        self.finish(s, https)
    }

    /// The removal cookie: the same name, Path, Domain, Secure and
    /// SameSite, `Max-Age=0` and an `Expires` in the past.
    pub(crate) fn remove(&self, https: bool) -> Option<HeaderValue> {
        let mut s = String::with_capacity(self.name.len() + 120);
        s.push_str(&self.name);
        s.push_str("=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        self.finish(s, https)
    }

    fn finish(&self, mut s: String, https: bool) -> Option<HeaderValue> {
        s.push_str("; Path=/");
        if let (Some(domain), false) = (&self.domain, self.host_prefix) {
            s.push_str("; Domain=");
            s.push_str(domain);
        }
        if self.is_secure(https) {
            s.push_str("; Secure");
        }
        s.push_str("; HttpOnly; SameSite=");
        s.push_str(self.same_site.as_str());
        HeaderValue::try_from(s).ok()
    }
}

/// Appends `n` in decimal.
fn push_u64(s: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        s.push(char::from(d));
    }
}

/// 9999-12-31T23:59:59Z, the last second an IMF-fixdate can write.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// Appends the IMF-fixdate (RFC 9110 §5.6.7) of `t`, in whole seconds
/// (clamped to 1970..=9999).
/// Each thread keeps the last date it formatted (as hyper keeps its
/// `Date`): the responses of one second share one formatting.
fn push_http_date(s: &mut String, t: SystemTime) {
    thread_local! {
        static LAST: RefCell<Option<(u64, String)>> = const { RefCell::new(None) };
    }
    LAST.with(|last| match last.try_borrow_mut() {
        Ok(mut last) => s.push_str(cached_http_date(&mut last, t)),
        // Not reentrant, but never fail for a cache.
        Err(_) => s.push_str(cached_http_date(&mut None, t)),
    });
}

/// The IMF-fixdate of `t`, from `cache` when it holds `t`'s second, else
/// formatted and kept in `cache`.
fn cached_http_date(cache: &mut Option<(u64, String)>, t: SystemTime) -> &str {
    // IMF-fixdate has a four-digit year and `httpdate` panics outside
    // 1970..=9999: an idle timeout meaning "never" must not.
    let t = t.clamp(UNIX_EPOCH, UNIX_EPOCH + Duration::from_secs(LAST_HTTP_DATE));
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    match cache {
        Some((cached, _)) if *cached == secs => {}
        _ => *cache = Some((secs, httpdate::fmt_http_date(t))),
    }
    cache.as_ref().map_or("", |(_, text)| text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers() {
        let date = |t| {
            let mut s = String::new();
            push_http_date(&mut s, t);
            s
        };
        assert_eq!(date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day
        assert_eq!(date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
        // Past what IMF-fixdate can write (an idle timeout meaning
        // "never"), and before 1970: clamped, no panic.
        let t = UNIX_EPOCH + Duration::from_secs(1 << 40);
        assert_eq!(date(t), "Fri, 31 Dec 9999 23:59:59 GMT");
        let t = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(date(t), "Thu, 01 Jan 1970 00:00:00 GMT");
        for n in [0, 7, 10, 1_209_600, u64::MAX] {
            let mut s = String::new();
            push_u64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn dates_are_cached_per_second() {
        let mut cache = None;
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(
            cached_http_date(&mut cache, t),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        // Another second formats anew.
        let next = t + Duration::from_millis(1200);
        assert_eq!(
            cached_http_date(&mut cache, next),
            "Sun, 06 Nov 1994 08:49:38 GMT"
        );
        // The same second is served from the cache: a marker planted in it
        // comes back, for any instant within that second.
        if let Some((_, text)) = &mut cache {
            *text = "cached".to_owned();
        }
        assert_eq!(cached_http_date(&mut cache, next), "cached");
        let same = t + Duration::from_millis(1999);
        assert_eq!(cached_http_date(&mut cache, same), "cached");
        // And the thread's own cache gives the right dates either way.
        let date = |t| {
            let mut s = String::new();
            push_http_date(&mut s, t);
            s
        };
        assert_eq!(date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(date(next), "Sun, 06 Nov 1994 08:49:38 GMT");
        assert_eq!(date(next), "Sun, 06 Nov 1994 08:49:38 GMT");
    }

    #[test]
    fn finds_every_line_and_skips_junk() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; session=one; junk"));
        h.append(COOKIE, HeaderValue::from_static("session=\"two\""));
        h.append(COOKIE, HeaderValue::from_bytes(b"session=\xff").unwrap());
        // Another cookie's non-ASCII value does not hide ours on its line.
        h.append(
            COOKIE,
            HeaderValue::from_bytes(b"pref=caf\xc3\xa9; session=three; x=\xff").unwrap(),
        );
        let any = |_: &str| true;
        let found =
            |name, plausible: fn(&str) -> bool| values(&h, name, plausible).collect::<Vec<_>>();
        assert_eq!(found("session", any), ["one", "two", "three"]);
        assert!(found("other", any).is_empty());
        // Implausible values are skipped.
        assert_eq!(found("session", |v| v.starts_with('t')), ["two", "three"]);
    }

    #[test]
    fn attributes() {
        let mut a = Attributes {
            name: "session".into(),
            domain: Some("example.com".into()),
            same_site: SameSite::Lax,
            secure: Secure::FromScheme,
            host_prefix: false,
        };
        let now = UNIX_EPOCH;
        let v = a.set(
            "v".into(),
            Some(now + Duration::from_millis(1500)),
            now,
            false,
        );
        assert_eq!(
            v.unwrap(),
            "session=v; Max-Age=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Path=/; \
             Domain=example.com; HttpOnly; SameSite=Lax"
        );
        // Never negative.
        let v = a.set("v".into(), Some(now), now + Duration::from_secs(5), true);
        assert!(v.unwrap().to_str().unwrap().contains("Max-Age=0;"));
        a.host_prefix = true;
        a.name = "__Host-session".into();
        assert_eq!(
            a.remove(false).unwrap(),
            "__Host-session=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; \
             Secure; HttpOnly; SameSite=Lax"
        );
    }
}
