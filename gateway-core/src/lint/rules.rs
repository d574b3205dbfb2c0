//! The [`Rule`]s and the checks of the environ and the response head.
//!
//! ```
//! use gateway_core::lint::{Rule, Severity};
//!
//! assert_eq!(Rule::ContentLength.name(), "content-length");
//! assert_eq!(Rule::MissingContentType.severity(), Severity::Warning);
//! ```

use std::fmt;

use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, SET_COOKIE, UPGRADE};
use http::{HeaderMap, Method, StatusCode};
use http_body::Body as _;

use super::{Lint, Severity, Violation};
use crate::body_impl::Body;
use crate::driver::CommitHints;
use crate::driver::fields::{is_connection_specific, parse_content_length};
use crate::driver::status_refusal;
use crate::environ_impl::Environ;
use crate::response_impl::Response;
use crate::upgrade::{UpgradeSlot, switch_state};

/// The rules [`Lint`] checks; the [`lint` module docs](super#the-rules)
/// describe each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `path-invariant`: the environ breaks the path invariant.
    PathInvariant,
    /// `final-status`: a final status outside 200–599 (101 only for an
    /// upgrade request).
    FinalStatus,
    /// `connection-specific-field`: a field the server owns (RFC 9110
    /// §7.6.1).
    ConnectionSpecificField,
    /// `content-length`: `Content-Length` is invalid, or disagrees with the
    /// body.
    ContentLength,
    /// `head-without-content-length`: an empty HEAD answer without
    /// `Content-Length`.
    HeadWithoutContentLength,
    /// `body-not-allowed`: a body on 1xx, 204, 304 or a 2xx CONNECT answer.
    BodyNotAllowed,
    /// `content-length-not-allowed`: `Content-Length` on 1xx, 204 or a 2xx
    /// CONNECT answer.
    ContentLengthNotAllowed,
    /// `size-hint`: a body's frames contradict its `size_hint`.
    SizeHint,
    /// `end-stream`: a frame after `is_end_stream()` returned true.
    EndStream,
    /// `held-back-frame`: a middleware kept a frame of the body it wraps.
    HeldBackFrame,
    /// `missing-content-type` (warning): a 2xx with content and no
    /// `Content-Type`.
    MissingContentType,
    /// `cookie-without-secure` (warning): `Set-Cookie` without `Secure` on
    /// https.
    CookieWithoutSecure,
    /// `samesite-none-without-secure` (warning): `SameSite=None` without
    /// `Secure`.
    SameSiteNoneWithoutSecure,
    /// `duplicate-content-type` (warning): more than one `Content-Type`.
    DuplicateContentType,
    /// `set-cookie-on-not-modified` (warning): `Set-Cookie` on a 304 Not Modified,
    /// which a shared cache merges into the response it stored.
    SetCookieOnNotModified,
    /// `switch-without-handler`: the application took the upgrade
    /// ([`Environ::upgrade`]) and answered with a switching status (101, or
    /// 2xx to an extended CONNECT) that carries no handler.
    SwitchWithoutHandler,
    /// `handler-without-switch`: a response carries an upgrade handler
    /// ([`Upgrade::switch`](crate::upgrade::Upgrade::switch)) but its
    /// status does not switch protocols, so the handler would never run.
    HandlerWithoutSwitch,
    /// `changed-after-commit`: a middleware's per-request state (a
    /// session, say) changed after the middleware had made its decision
    /// for the response head, so the change cannot reach the client or the
    /// store. Reported by that middleware through a [`Reporter`](super::Reporter).
    ChangedAfterCommit,
}

impl Rule {
    /// The rule's name, in kebab case: `"content-length"`.
    pub fn name(self) -> &'static str {
        match self {
            Rule::PathInvariant => "path-invariant",
            Rule::FinalStatus => "final-status",
            Rule::ConnectionSpecificField => "connection-specific-field",
            Rule::ContentLength => "content-length",
            Rule::HeadWithoutContentLength => "head-without-content-length",
            Rule::BodyNotAllowed => "body-not-allowed",
            Rule::ContentLengthNotAllowed => "content-length-not-allowed",
            Rule::SizeHint => "size-hint",
            Rule::EndStream => "end-stream",
            Rule::HeldBackFrame => "held-back-frame",
            Rule::MissingContentType => "missing-content-type",
            Rule::CookieWithoutSecure => "cookie-without-secure",
            Rule::SameSiteNoneWithoutSecure => "samesite-none-without-secure",
            Rule::DuplicateContentType => "duplicate-content-type",
            Rule::SetCookieOnNotModified => "set-cookie-on-not-modified",
            Rule::SwitchWithoutHandler => "switch-without-handler",
            Rule::HandlerWithoutSwitch => "handler-without-switch",
            Rule::ChangedAfterCommit => "changed-after-commit",
        }
    }

    /// Whether breaking the rule fails the request or is only reported.
    pub fn severity(self) -> Severity {
        match self {
            Rule::MissingContentType
            | Rule::CookieWithoutSecure
            | Rule::SameSiteNoneWithoutSecure
            | Rule::DuplicateContentType
            | Rule::SetCookieOnNotModified => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub(super) fn check_environ(env: &Environ) -> Option<Violation> {
    let script = env.script_name();
    // Kept by Environ's API today; checked because it is the contract.
    if !script.is_empty() && (!script.starts_with('/') || script.ends_with('/')) {
        return Some(Violation::new(
            Rule::PathInvariant,
            format!("script_name {script:?} must be empty, or start with '/' and not end with '/'"),
        ));
    }
    let info = env.path_info();
    if env.path() == "*" {
        if env.method() != Method::OPTIONS {
            return Some(Violation::new(
                Rule::PathInvariant,
                format!(
                    "the request-target `*` is only for OPTIONS (RFC 9112 §3.2.4), \
                     but the method is {}",
                    env.method()
                ),
            ));
        }
    } else if !info.is_empty() && !info.starts_with('/') {
        return Some(Violation::new(
            Rule::PathInvariant,
            format!("path_info {info:?} must be empty or start with '/'"),
        ));
    }
    None
}

/// What the checks need to know of the request once it has been moved
/// into the application.
pub(super) struct RequestInfo {
    pub(super) hints: CommitHints,
    pub(super) https: bool,
    /// The adapter's upgrade offer, to see afterwards whether the
    /// application took it.
    pub(super) upgrade: Option<UpgradeSlot>,
}

/// Statuses whose response has no content: the driver drops the body
/// (rule 4).
pub(super) fn body_forbidden(status: StatusCode, hints: &CommitHints) -> bool {
    status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || (hints.is_connect() && status.is_success())
}

/// Whether a body is known to have nothing in it.
fn is_empty(body: &Body) -> bool {
    body.is_end_stream() || body.size_hint().exact() == Some(0)
}

pub(super) enum Announced {
    Absent,
    Valid(u64),
    Invalid,
}

pub(super) fn announced_length(headers: &HeaderMap) -> Announced {
    let mut values = headers.get_all(CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return Announced::Absent;
    };
    match parse_content_length(first) {
        Some(n) if values.next().is_none() => Announced::Valid(n),
        _ => Announced::Invalid,
    }
}

/// The first error in the response head, in the order of the rules table.
pub(super) fn check_head(res: &Response, request: &RequestInfo) -> Option<Violation> {
    let status = res.status();
    let hints = &request.hints;
    let headers = res.headers();

    let code = status.as_u16();
    let upgrade = status == StatusCode::SWITCHING_PROTOCOLS && hints.is_upgrade();
    if !(200..=599).contains(&code) && !upgrade {
        return Some(Violation::new(
            Rule::FinalStatus,
            format!("status {code}: {}", status_refusal(status)),
        ));
    }

    if let Some(violation) = check_switch(res, request) {
        return Some(violation);
    }

    if let Some(violation) = check_connection_fields(headers, status) {
        return Some(violation);
    }

    let forbidden = body_forbidden(status, hints);
    let to_connect = if hints.is_connect() {
        " to CONNECT"
    } else {
        ""
    };
    if forbidden && !is_empty(res.body()) {
        return Some(Violation::new(
            Rule::BodyNotAllowed,
            format!(
                "a {code} response{to_connect} has no content, but the body is not empty \
                 (the driver would drop it)"
            ),
        ));
    }
    let announced = announced_length(headers);
    let length_forbidden = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || (hints.is_connect() && status.is_success());
    if length_forbidden && !matches!(announced, Announced::Absent) {
        return Some(Violation::new(
            Rule::ContentLengthNotAllowed,
            format!("a {code} response{to_connect} must not carry Content-Length (RFC 9110 §8.6)"),
        ));
    }

    match announced {
        Announced::Invalid => {
            let values: Vec<_> = headers.get_all(CONTENT_LENGTH).iter().collect();
            return Some(Violation::new(
                Rule::ContentLength,
                format!("Content-Length must be one decimal number, not {values:?}"),
            ));
        }
        Announced::Valid(n) if status != StatusCode::NOT_MODIFIED => {
            // HEAD may send an empty body with GET's length.
            let exact = res.body().size_hint().exact();
            if let Some(exact) = exact.filter(|&e| e != n && !(hints.is_head() && e == 0)) {
                return Some(Violation::new(
                    Rule::ContentLength,
                    format!("Content-Length is {n} but the body is exactly {exact} bytes"),
                ));
            }
        }
        _ => {}
    }

    if hints.is_head()
        && !forbidden
        && status != StatusCode::NOT_MODIFIED
        && matches!(announced, Announced::Absent)
        && is_empty(res.body())
    {
        return Some(Violation::new(
            Rule::HeadWithoutContentLength,
            format!(
                "a {code} answer to HEAD has an empty body and no Content-Length: the \
                 driver would announce 0; set GET's Content-Length, or return GET's body \
                 (it is not sent)"
            ),
        ));
    }
    None
}

/// An upgrade taken and answered without a handler, or a handler on a
/// status that does not switch.
fn check_switch(res: &Response, request: &RequestInfo) -> Option<Violation> {
    let status = res.status();
    match switch_state(res) {
        Some(true) => None,
        Some(false) => Some(Violation::new(
            Rule::HandlerWithoutSwitch,
            format!(
                "the response carries an upgrade handler but its status {status} does not \
                 switch protocols (101 for an HTTP/1.1 upgrade, 2xx for an extended \
                 CONNECT): the handler would never run"
            ),
        )),
        None => {
            let taken = request.upgrade.as_ref().is_some_and(UpgradeSlot::is_taken);
            let switching = status == StatusCode::SWITCHING_PROTOCOLS
                || (request.hints.is_connect() && status.is_success());
            (taken && switching).then(|| {
                Violation::new(
                    Rule::SwitchWithoutHandler,
                    format!(
                        "the application took the upgrade and answered {status} without a \
                         handler: answer with Upgrade::switch, or refuse with a 4xx"
                    ),
                )
            })
        }
    }
}

fn check_connection_fields(headers: &HeaderMap, status: StatusCode) -> Option<Violation> {
    let upgrade_allowed =
        status == StatusCode::SWITCHING_PROTOCOLS || status == StatusCode::UPGRADE_REQUIRED;
    let found = |name: &HeaderName, extra: &str| {
        Some(Violation::new(
            Rule::ConnectionSpecificField,
            format!(
                "`{name}` is connection-specific (RFC 9110 §7.6.1): the server owns the \
                 connection and would remove it{extra}"
            ),
        ))
    };
    for name in headers.keys() {
        if name == CONNECTION {
            // Only the upgrade option, and only where Upgrade is allowed.
            let others: Vec<&str> = headers
                .get_all(CONNECTION)
                .iter()
                .flat_map(|v| v.to_str().unwrap_or("?").split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .filter(|t| !(upgrade_allowed && t.eq_ignore_ascii_case("upgrade")))
                .collect();
            if !others.is_empty() {
                return found(
                    name,
                    &format!(" with the fields it names ({})", others.join(", ")),
                );
            }
        } else if is_connection_specific(name) && !(name == UPGRADE && upgrade_allowed) {
            let extra = if name == UPGRADE {
                " (it is kept on 101 and 426 only)"
            } else {
                ""
            };
            return found(name, extra);
        }
    }
    None
}

pub(super) fn check_warnings(res: &Response, request: &RequestInfo, lint: &Lint) {
    let status = res.status();
    let headers = res.headers();
    let content_types = headers.get_all(CONTENT_TYPE).iter().count();
    if content_types > 1 {
        lint.report(&Violation::new(
            Rule::DuplicateContentType,
            format!(
                "Content-Type appears {content_types} times; recipients disagree on which applies"
            ),
        ));
    }
    let has_content =
        !is_empty(res.body()) || matches!(announced_length(headers), Announced::Valid(n) if n > 0);
    if status.is_success()
        && !body_forbidden(status, &request.hints)
        && has_content
        && content_types == 0
    {
        lint.report(&Violation::new(
            Rule::MissingContentType,
            format!(
                "a {} response with content has no Content-Type; clients will guess it",
                status.as_u16()
            ),
        ));
    }
    for value in headers.get_all(SET_COOKIE) {
        let cookie = CookieAttributes::parse(value.as_bytes());
        if status == StatusCode::NOT_MODIFIED {
            lint.report(&Violation::new(
                Rule::SetCookieOnNotModified,
                format!(
                    "Set-Cookie `{}` on a 304: a shared cache merges a 304's fields into the \
                     response it stored (RFC 9111 §4.3.4) and hands the cookie to every later \
                     client; set cookies on the 200",
                    cookie.name()
                ),
            ));
        }
        if !cookie.secure && request.https {
            lint.report(&Violation::new(
                Rule::CookieWithoutSecure,
                format!(
                    "Set-Cookie `{}` has no Secure attribute in answer to an https request; \
                     the browser would also send it over plain http",
                    cookie.name()
                ),
            ));
        }
        if !cookie.secure && cookie.same_site_none {
            lint.report(&Violation::new(
                Rule::SameSiteNoneWithoutSecure,
                format!(
                    "Set-Cookie `{}` has SameSite=None without Secure; browsers reject it",
                    cookie.name()
                ),
            ));
        }
    }
}

/// What the cookie rules need of a `Set-Cookie` value (RFC 6265 §5.2):
/// parsed in place, without allocating.
struct CookieAttributes<'a> {
    name: &'a [u8],
    secure: bool,
    same_site_none: bool,
}

impl<'a> CookieAttributes<'a> {
    fn parse(value: &'a [u8]) -> CookieAttributes<'a> {
        let mut parts = value.split(|&b| b == b';');
        let pair = parts.next().unwrap_or_default();
        let name = pair.split(|&b| b == b'=').next().unwrap_or_default();
        let mut cookie = CookieAttributes {
            name: name.trim_ascii(),
            secure: false,
            same_site_none: false,
        };
        for attribute in parts {
            let (key, val) = match attribute.iter().position(|&b| b == b'=') {
                Some(i) => (&attribute[..i], &attribute[i + 1..]),
                None => (attribute, &b""[..]),
            };
            let key = key.trim_ascii();
            if key.eq_ignore_ascii_case(b"secure") {
                cookie.secure = true;
            } else if key.eq_ignore_ascii_case(b"samesite") {
                cookie.same_site_none = val.trim_ascii().eq_ignore_ascii_case(b"none");
            }
        }
        cookie
    }

    fn name(&self) -> std::borrow::Cow<'a, str> {
        String::from_utf8_lossy(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes_are_read_without_regard_to_case_or_spaces() {
        let c = CookieAttributes::parse(b"sid=abc; Path=/;  SECURE ; samesite = None");
        assert_eq!(c.name(), "sid");
        assert!(c.secure);
        assert!(c.same_site_none);
        let c = CookieAttributes::parse(b"a=secure; Path=/secure; SameSite=Lax");
        assert!(
            !c.secure,
            "a value or path named secure is not the attribute"
        );
        assert!(!c.same_site_none);
    }

    #[test]
    fn content_length_must_be_one_number() {
        let mut h = HeaderMap::new();
        assert!(matches!(announced_length(&h), Announced::Absent));
        h.insert(CONTENT_LENGTH, "12".parse().unwrap());
        assert!(matches!(announced_length(&h), Announced::Valid(12)));
        for bad in ["+1", "1 ", "", "0x1", "99999999999999999999999"] {
            h.insert(CONTENT_LENGTH, bad.parse().unwrap());
            assert!(
                matches!(announced_length(&h), Announced::Invalid),
                "{bad:?}"
            );
        }
        h.insert(CONTENT_LENGTH, "1".parse().unwrap());
        h.append(CONTENT_LENGTH, "1".parse().unwrap());
        assert!(matches!(announced_length(&h), Announced::Invalid));
    }

    #[test]
    fn rule_names_are_distinct_kebab_case() {
        let all = [
            Rule::PathInvariant,
            Rule::FinalStatus,
            Rule::ConnectionSpecificField,
            Rule::ContentLength,
            Rule::HeadWithoutContentLength,
            Rule::BodyNotAllowed,
            Rule::ContentLengthNotAllowed,
            Rule::SizeHint,
            Rule::EndStream,
            Rule::HeldBackFrame,
            Rule::MissingContentType,
            Rule::CookieWithoutSecure,
            Rule::SameSiteNoneWithoutSecure,
            Rule::DuplicateContentType,
            Rule::SetCookieOnNotModified,
            Rule::SwitchWithoutHandler,
            Rule::HandlerWithoutSwitch,
            Rule::ChangedAfterCommit,
        ];
        let mut names: Vec<_> = all.iter().map(|r| r.name()).collect();
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
