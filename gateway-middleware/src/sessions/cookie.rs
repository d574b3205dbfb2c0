//! The session cookie on the wire: finding it in `Cookie` fields and
//! writing `Set-Cookie`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

/// Every value of the cookie called `name`, in the order the client sent
/// them, across every `Cookie` field line (HTTP/2 sends one per cookie).
/// Malformed and non-UTF-8 pairs are skipped — pairs, not lines: browsers
/// send other cookies' non-ASCII values on the same line as ours, and they
/// must not hide it. At most `limit` values.
pub(crate) fn values<'h>(headers: &'h HeaderMap, name: &str, limit: usize) -> Vec<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|line| line.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let (n, v) = std::str::from_utf8(pair).ok()?.trim().split_once('=')?;
            (n.trim() == name).then(|| v.trim().trim_matches('"'))
        })
        .take(limit)
        .collect()
}

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
        value: &str,
        expires: Option<SystemTime>,
        now: SystemTime,
        https: bool,
    ) -> Option<HeaderValue> {
        let mut s = format!("{}={value}", self.name);
        if let Some(expires) = expires {
            let max_age = expires.duration_since(now).unwrap_or(Duration::ZERO);
            let secs = max_age.as_secs();
            let _ = write!(
                s,
                "; Max-Age={secs}; Expires={}",
                http_date(now + Duration::from_secs(secs))
            );
        }
        self.finish(s, https)
    }

    /// The removal cookie: the same name, Path, Domain, Secure and
    /// SameSite, `Max-Age=0` and an `Expires` in the past.
    pub(crate) fn remove(&self, https: bool) -> Option<HeaderValue> {
        let s = format!(
            "{}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            self.name
        );
        self.finish(s, https)
    }

    fn finish(&self, mut s: String, https: bool) -> Option<HeaderValue> {
        s.push_str("; Path=/");
        if let (Some(domain), false) = (&self.domain, self.host_prefix) {
            let _ = write!(s, "; Domain={domain}");
        }
        if self.is_secure(https) {
            s.push_str("; Secure");
        }
        let _ = write!(s, "; HttpOnly; SameSite={}", self.same_site.as_str());
        HeaderValue::try_from(s).ok()
    }
}

/// IMF-fixdate (RFC 9110 §5.6.7) of `t`, whole seconds.
pub(crate) fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
    )
}

/// Howard Hinnant's days-to-civil, for days since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(http_date(UNIX_EPOCH), "Thu, 01 Jan 1970 00:00:00 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400); // leap day
        assert_eq!(http_date(t), "Tue, 29 Feb 2000 00:00:00 GMT");
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
        assert_eq!(values(&h, "session", 8), ["one", "two", "three"]);
        assert_eq!(values(&h, "session", 1), ["one"]);
        assert!(values(&h, "other", 8).is_empty());
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
        let v = a.set("v", Some(now + Duration::from_millis(1500)), now, false);
        assert_eq!(
            v.unwrap(),
            "session=v; Max-Age=1; Expires=Thu, 01 Jan 1970 00:00:01 GMT; Path=/; \
             Domain=example.com; HttpOnly; SameSite=Lax"
        );
        // Never negative.
        let v = a.set("v", Some(now), now + Duration::from_secs(5), true);
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
