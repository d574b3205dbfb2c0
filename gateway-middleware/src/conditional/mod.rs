//! Conditional requests (RFC 9110 §13): [`evaluate`] the preconditions
//! of a request against what a representation is currently known by, and
//! [`ConditionalGet`], which does it for dynamic `GET`/`HEAD` responses.
//!
//! ```
//! use gateway_middleware::conditional::{Precondition, Validators, evaluate};
//! use http::{HeaderMap, HeaderValue, Method};
//!
//! let etag = HeaderValue::from_static("\"v2\"");
//! let current = Validators { etag: Some(&etag), last_modified: None };
//! let mut request = HeaderMap::new();
//! request.insert("if-none-match", HeaderValue::from_static("\"v1\", \"v2\""));
//! assert_eq!(evaluate(&Method::GET, &request, current), Precondition::NotModified);
//! ```
//!
//! A precondition is a request header that asks the server to act only if
//! the representation is (or is not) still the one the client knows:
//!
//! | Header | Holds when | Otherwise |
//! |---|---|---|
//! | `If-Match` | a listed entity tag matches (strong comparison), or `*` and the resource exists | 412 |
//! | `If-Unmodified-Since` | not modified after the date | 412 |
//! | `If-None-Match` | no listed tag matches (weak comparison), or `*` and the resource does not exist | 304 for `GET`/`HEAD`, else 412 |
//! | `If-Modified-Since` | modified after the date (`GET`/`HEAD` only) | 304 |
//!
//! [`evaluate`] checks them in the order of RFC 9110 §13.2.2, where a
//! stronger header hides a weaker one: `If-Unmodified-Since` is ignored
//! when `If-Match` is present, and `If-Modified-Since` when
//! `If-None-Match` is — present, even if its value is malformed. A
//! `Range` request is then honoured only if [`if_range`] agrees.
//!
//! # Choices where the RFC leaves room
//!
//! - **Malformed entity tags never match.** A list is read element by
//!   element; an element that is not an entity tag (`abc`, `"a"b`, an
//!   unterminated quote) is skipped and the rest of the list still counts,
//!   as nginx does. So an `If-Match` with no valid tag fails (412) and an
//!   `If-None-Match` with none passes: both the direction that changes
//!   nothing. An `ETag` validator that is itself malformed matches no tag
//!   (but the resource still exists for `*`).
//! - **`*` is recognised as a list element**, so `*` sent on a field line
//!   of its own next to other lines still means "any".
//! - `W/` is case-sensitive (RFC 9110 §8.8.3); `w/"a"` is malformed.
//! - **Several field lines** of `If-Match` / `If-None-Match` are one list
//!   (RFC 9110 §5.3). A date header sent on several lines is treated as a
//!   list of dates and ignored (RFC 9110 §13.1.3, §13.1.4), as is one that
//!   is not a valid HTTP-date (all three formats are accepted).
//! - **Dates compare at one-second precision**: the modification time is
//!   truncated to whole seconds, as it is when sent in `Last-Modified`.
//!   `If-Modified-Since` answers 304 when the representation was modified
//!   at or before the date (the RFC's rule; nginx's default
//!   `if_modified_since exact` wants equality). A date in the future is
//!   compared like any other (RFC 9110 dropped RFC 2616's "invalid if in
//!   the future").
//! - **A resource exists** (for `*`) when it has a validator:
//!   [`Validators::default`] means "no current representation". A resource
//!   that exists without either validator cannot be told apart; give it an
//!   entity tag.
//! - A failed `If-Match` / `If-Unmodified-Since` is always 412; the
//!   optional "the change was already made, answer 2xx" of §13.1.1 is left
//!   to the application.
//!
//! # State-changing methods
//!
//! A precondition on `PUT`, `POST`, `DELETE` … must be checked *before*
//! the change is made — that is its whole point (the "lost update"
//! problem). A middleware only sees the response after the application
//! acted, so [`ConditionalGet`] handles `GET` and `HEAD` only; a handler
//! that changes state calls [`evaluate`] itself, under the same lock as
//! the change:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use std::sync::{Arc, Mutex};
//!
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{Environ, fn_app, start};
//! use gateway_middleware::conditional::{Validators, evaluate};
//! use http::HeaderValue;
//!
//! /// A document and the entity tag of its current version.
//! struct Doc {
//!     text: String,
//!     etag: HeaderValue,
//! }
//!
//! let doc = Arc::new(Mutex::new(Doc { text: "v1".into(), etag: HeaderValue::from_static("\"1\"") }));
//! let app = fn_app(move |mut env: Environ| {
//!     let doc = doc.clone();
//!     async move {
//!         let body = env.take_body().to_bytes(1 << 20).await?;
//!         let mut doc = doc.lock().unwrap();
//!         let current = Validators { etag: Some(&doc.etag), last_modified: None };
//!         // Before acting: a stale If-Match refuses the write.
//!         if let Some(status) = evaluate(env.method(), env.headers(), current).status() {
//!             return start(status, gateway_core::response::NO_HEADERS).empty();
//!         }
//!         let version: u32 = doc.etag.to_str()?.trim_matches('"').parse()?;
//!         doc.text = String::from_utf8(body.to_vec())?;
//!         doc.etag = HeaderValue::from_str(&format!("\"{}\"", version + 1))?;
//!         start(204, [("etag", doc.etag.clone())]).empty()
//!     }
//! });
//!
//! let client = TestClient::new(app);
//! let res = client.put("/doc").header("if-match", "\"1\"").body("v2").send().await;
//! assert_eq!(res.status(), 204);
//! assert_eq!(res.header("etag"), Some("\"2\""));
//! // A second writer still holding version 1 loses instead of overwriting.
//! let res = client.put("/doc").header("if-match", "\"1\"").body("v2'").send().await;
//! assert_eq!(res.status(), 412);
//! # Ok::<(), gateway_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! [`ConditionalGet`]: crate::ConditionalGet

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{
    GetAll, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use etag::{Element, EntityTag, tag_list};

mod etag;
pub(crate) mod middleware;

/// What the selected representation is currently known by: the validators
/// a `200` response for it would carry.
///
/// [`Validators::default`] (neither) means there is no current
/// representation, so `If-Match: *` fails and `If-None-Match: *` holds.
///
/// ```
/// use std::time::SystemTime;
/// use gateway_middleware::conditional::Validators;
/// use http::HeaderValue;
///
/// let etag = HeaderValue::from_static("W/\"5-1700000000\"");
/// let validators = Validators { etag: Some(&etag), last_modified: Some(SystemTime::UNIX_EPOCH) };
/// # let _ = validators;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Validators<'a> {
    /// Its entity tag exactly as sent in `ETag` (`"abc"` or `W/"abc"`).
    pub etag: Option<&'a HeaderValue>,
    /// Its last modification time (compared at one-second precision, as
    /// HTTP dates are).
    pub last_modified: Option<SystemTime>,
}

impl Validators<'_> {
    /// Whether there is a current representation (for `*`).
    fn exists(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }

    fn entity_tag(&self) -> Option<EntityTag<'_>> {
        self.etag.and_then(|v| EntityTag::parse(v.as_bytes()))
    }
}

/// The outcome of [`evaluate`].
///
/// ```
/// use gateway_middleware::conditional::Precondition;
/// use http::StatusCode;
///
/// assert_eq!(Precondition::Proceed.status(), None);
/// assert_eq!(Precondition::NotModified.status(), Some(StatusCode::NOT_MODIFIED));
/// assert_eq!(Precondition::Failed.status(), Some(StatusCode::PRECONDITION_FAILED));
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No precondition failed: perform the method (and then consider
    /// `Range`, see [`if_range`]).
    Proceed,
    /// `304 Not Modified`: the client's cached copy is current (`GET` and
    /// `HEAD` only).
    NotModified,
    /// `412 Precondition Failed`: do not perform the method.
    Failed,
}

impl Precondition {
    /// The status to answer with instead of performing the method, or
    /// `None` to proceed.
    pub fn status(self) -> Option<StatusCode> {
        match self {
            Precondition::Proceed => None,
            Precondition::NotModified => Some(StatusCode::NOT_MODIFIED),
            Precondition::Failed => Some(StatusCode::PRECONDITION_FAILED),
        }
    }
}

/// Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and
/// `If-Modified-Since` in the order of RFC 9110 §13.2.2. See the
/// [module docs](self) for the rules and the choices made.
///
/// Call it after deciding the request is otherwise valid (authorised,
/// resource found) and, for a state-changing method, before acting. It
/// does not allocate; with no conditional header it costs four header
/// lookups.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::conditional::{Precondition, Validators, evaluate};
/// use http::{HeaderMap, HeaderValue, Method};
///
/// let etag = HeaderValue::from_static("\"v2\"");
/// let modified = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
/// let current = Validators { etag: Some(&etag), last_modified: Some(modified) };
///
/// let mut headers = HeaderMap::new();
/// headers.insert("if-none-match", HeaderValue::from_static("\"v1\", W/\"v2\""));
/// assert_eq!(evaluate(&Method::GET, &headers, current), Precondition::NotModified);
/// assert_eq!(evaluate(&Method::DELETE, &headers, current), Precondition::Failed);
///
/// let mut headers = HeaderMap::new();
/// headers.insert("if-modified-since", HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"));
/// assert_eq!(evaluate(&Method::GET, &headers, current), Precondition::NotModified);
/// assert_eq!(evaluate(&Method::GET, &HeaderMap::new(), current), Precondition::Proceed);
/// ```
pub fn evaluate(method: &Method, headers: &HeaderMap, validators: Validators<'_>) -> Precondition {
    // Step 1 and 2: If-Match, else If-Unmodified-Since.
    if headers.contains_key(IF_MATCH) {
        if !if_match(headers.get_all(IF_MATCH), &validators) {
            return Precondition::Failed;
        }
    } else if let Some(modified) = validators.last_modified {
        let since = single_date(headers.get_all(IF_UNMODIFIED_SINCE));
        if since.is_some_and(|since| unix_seconds(modified) > since) {
            return Precondition::Failed;
        }
    }

    let safe = *method == Method::GET || *method == Method::HEAD;
    // Step 3 and 4: If-None-Match, else If-Modified-Since.
    if headers.contains_key(IF_NONE_MATCH) {
        if !if_none_match(headers.get_all(IF_NONE_MATCH), &validators) {
            return if safe {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if let (true, Some(modified)) = (safe, validators.last_modified) {
        let since = single_date(headers.get_all(IF_MODIFIED_SINCE));
        if since.is_some_and(|since| unix_seconds(modified) <= since) {
            return Precondition::NotModified;
        }
    }
    Precondition::Proceed
}

/// RFC 9110 §13.1.5: whether a `Range` request may be honoured — true
/// when there is no `If-Range`, or when it matches the representation.
/// When false, ignore `Range` and send the whole representation (200).
///
/// An entity tag matches by strong comparison (a weak tag never does); an
/// HTTP-date only when `last_modified_strong` (see
/// [`is_strong_last_modified`]) and it equals the modification time to the
/// second. A malformed value, or one sent on several field lines, does
/// not match. Only meaningful when the request has a `Range` header and
/// [`evaluate`] said [`Proceed`](Precondition::Proceed).
///
/// ```
/// use gateway_middleware::conditional::{Validators, if_range};
/// use http::{HeaderMap, HeaderValue};
///
/// let etag = HeaderValue::from_static("\"v2\"");
/// let current = Validators { etag: Some(&etag), last_modified: None };
/// let mut headers = HeaderMap::new();
/// assert!(if_range(&headers, current, false));
/// headers.insert("if-range", HeaderValue::from_static("\"v2\""));
/// assert!(if_range(&headers, current, false));
/// headers.insert("if-range", HeaderValue::from_static("W/\"v2\""));
/// assert!(!if_range(&headers, current, false));
/// ```
pub fn if_range(
    headers: &HeaderMap,
    validators: Validators<'_>,
    last_modified_strong: bool,
) -> bool {
    let mut values = headers.get_all(IF_RANGE).iter();
    let Some(value) = values.next() else {
        return true;
    };
    if values.next().is_some() {
        return false;
    }
    // A header value holds no CR, LF or form feed: `trim_ascii` strips
    // exactly OWS (spaces and tabs).
    let bytes = value.as_bytes().trim_ascii();
    if bytes.starts_with(b"\"") || bytes.starts_with(b"W/") {
        return match (EntityTag::parse(bytes), validators.entity_tag()) {
            (Some(sent), Some(current)) => sent.strong_eq(current),
            _ => false,
        };
    }
    match (parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => last_modified_strong && unix_seconds(modified) == date,
        _ => false,
    }
}

/// RFC 9110 §8.8.2.2: a `Last-Modified` time is a strong validator when
/// it is at least one second before `now`, the time the response is
/// generated: a second change within the same second can then no longer
/// go unnoticed. A time in the future is weak.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::conditional::is_strong_last_modified;
///
/// let now = SystemTime::now();
/// assert!(is_strong_last_modified(now - Duration::from_secs(1), now));
/// assert!(!is_strong_last_modified(now - Duration::from_millis(999), now));
/// ```
pub fn is_strong_last_modified(last_modified: SystemTime, now: SystemTime) -> bool {
    now.duration_since(last_modified)
        .is_ok_and(|age| age >= Duration::from_secs(1))
}

fn if_match(values: GetAll<'_, HeaderValue>, validators: &Validators<'_>) -> bool {
    let current = validators.entity_tag();
    any_element(values, |element| match element {
        Element::Star => validators.exists(),
        Element::Tag(tag) => current.is_some_and(|c| tag.strong_eq(c)),
        Element::Invalid => false,
    })
}

/// True when the condition holds, i.e. when nothing matches.
fn if_none_match(values: GetAll<'_, HeaderValue>, validators: &Validators<'_>) -> bool {
    let current = validators.entity_tag();
    !any_element(values, |element| match element {
        Element::Star => validators.exists(),
        Element::Tag(tag) => current.is_some_and(|c| tag.weak_eq(c)),
        Element::Invalid => false,
    })
}

fn any_element(
    values: GetAll<'_, HeaderValue>,
    mut matches: impl FnMut(Element<'_>) -> bool,
) -> bool {
    values
        .iter()
        .any(|value| tag_list(value.as_bytes()).any(&mut matches))
}

/// The date of a date header sent on exactly one field line, in whole
/// seconds since the epoch; `None` (ignore the header) otherwise.
fn single_date(values: GetAll<'_, HeaderValue>) -> Option<i64> {
    let mut values = values.iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    parse_date(value)
}

fn parse_date(value: &HeaderValue) -> Option<i64> {
    let text = value.to_str().ok()?;
    httpdate::parse_http_date(text).ok().map(unix_seconds)
}

/// Whole seconds since the epoch, rounded down: what an HTTP-date of this
/// time would say.
fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            let before = before.duration();
            let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            if before.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

#[cfg(test)]
mod tests;
