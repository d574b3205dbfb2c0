//! Conditional requests (RFC 9110 §13): [`evaluate`] the preconditions
//! of a request against what a representation is currently known by, and
//! [`ConditionalGet`], which does it for dynamic `GET`/`HEAD` responses.
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
//!             return start(status, gateway_core::NO_HEADERS).empty();
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

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::{Application, Body, Environ, Error, Middleware, Response};
use http::header::{
    CACHE_CONTROL, CONTENT_LOCATION, DATE, ETAG, EXPIRES, IF_MATCH, IF_MODIFIED_SINCE,
    IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, LAST_MODIFIED, SET_COOKIE, VARY,
};
use http::header::{GetAll, HeaderName};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

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
        .any(|value| TagList(value.as_bytes()).any(&mut matches))
}

/// An entity tag (RFC 9110 §8.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EntityTag<'a> {
    weak: bool,
    /// The opaque tag, quotes included.
    opaque: &'a [u8],
}

impl<'a> EntityTag<'a> {
    /// Parses a whole value (surrounding whitespace allowed).
    fn parse(value: &'a [u8]) -> Option<EntityTag<'a>> {
        let mut list = TagList(value);
        match (list.next(), list.0.is_empty()) {
            (Some(Element::Tag(tag)), true) => Some(tag),
            _ => None,
        }
    }

    /// §8.8.3.2: both strong and the same opaque tag.
    fn strong_eq(self, other: EntityTag<'_>) -> bool {
        !self.weak && !other.weak && self.opaque == other.opaque
    }

    /// §8.8.3.2: the same opaque tag, weak or not.
    fn weak_eq(self, other: EntityTag<'_>) -> bool {
        self.opaque == other.opaque
    }
}

/// One element of an `If-Match` / `If-None-Match` list.
#[derive(Debug, PartialEq, Eq)]
enum Element<'a> {
    Star,
    Tag(EntityTag<'a>),
    /// Not an entity tag; skipped up to the next comma outside quotes.
    Invalid,
}

/// The elements of one field line: `#entity-tag` with OWS and empty
/// elements tolerated. Commas may appear inside an opaque tag, so the line
/// is scanned, not split.
struct TagList<'a>(&'a [u8]);

impl<'a> TagList<'a> {
    /// After an element: OWS, then a comma or the end; anything else makes
    /// the element invalid.
    fn finish(&mut self, element: Element<'a>) -> Element<'a> {
        let rest = self.0.trim_ascii_start();
        if rest.is_empty() || rest[0] == b',' {
            self.0 = rest;
            element
        } else {
            self.skip_to_comma(rest)
        }
    }

    fn skip_to_comma(&mut self, rest: &'a [u8]) -> Element<'a> {
        let at = rest.iter().position(|&b| b == b',').unwrap_or(rest.len());
        self.0 = &rest[at..];
        Element::Invalid
    }
}

impl<'a> Iterator for TagList<'a> {
    type Item = Element<'a>;

    fn next(&mut self) -> Option<Element<'a>> {
        let start = self
            .0
            .iter()
            .position(|&b| !matches!(b, b' ' | b'\t' | b','))?;
        let rest = &self.0[start..];
        if rest[0] == b'*' {
            self.0 = &rest[1..];
            return Some(self.finish(Element::Star));
        }
        let (weak, quoted) = match rest.strip_prefix(b"W/") {
            Some(quoted) => (true, quoted),
            None => (false, rest),
        };
        if quoted.first() != Some(&b'"') {
            return Some(self.skip_to_comma(rest));
        }
        // etagc = %x21 / %x23-7E / obs-text
        let close = quoted[1..]
            .iter()
            .position(|&b| !(b == 0x21 || b >= 0x23) || b == 0x7F)
            .map(|i| i + 1);
        match close {
            Some(close) if quoted[close] == b'"' => {
                let tag = EntityTag {
                    weak,
                    opaque: &quoted[..=close],
                };
                self.0 = &quoted[close + 1..];
                Some(self.finish(Element::Tag(tag)))
            }
            Some(bad) => Some(self.skip_to_comma(&quoted[bad..])),
            None => {
                self.0 = &[];
                Some(Element::Invalid)
            }
        }
    }
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

/// Answers conditional `GET` and `HEAD` requests for dynamic responses
/// with `304 Not Modified` or `412 Precondition Failed`, from the `ETag`
/// and `Last-Modified` the application sent.
///
/// For a `GET` or `HEAD` request with `If-Match`, `If-None-Match`,
/// `If-Modified-Since` or `If-Unmodified-Since`, the application runs as
/// usual; if it answers `200` with an `ETag` and/or a `Last-Modified` (an
/// HTTP-date), [`evaluate`] decides:
///
/// - **304:** the response keeps only the fields RFC 9110 §15.4.5 lists —
///   `Cache-Control`, `Content-Location`, `Date`, `ETag`, `Expires`,
///   `Vary` — plus `Last-Modified` and `Set-Cookie` (as Django does: a
///   cookie set with the response must not be lost because the client's
///   copy was fresh), and an empty body.
/// - **412:** an empty response with no header fields.
///
/// Any other request or response passes through untouched; a request with
/// none of the four headers costs four header lookups. The application's
/// work is not saved (that needs the validators before the response is
/// built: call [`evaluate`] in the handler), only the transfer.
///
/// Other methods are never touched: a precondition on a state-changing
/// request must be checked before acting, which only the handler can do —
/// see [State-changing methods](self#state-changing-methods).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::ConditionalGet;
///
/// let app = fn_app(|_| async {
///     start(200, [("content-type", "text/plain"), ("etag", "\"42\"")]).body("the report")
/// })
/// .with(ConditionalGet);
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/report").send().await.text(), "the report");
/// let res = client.get("/report").header("if-none-match", "\"42\"").send().await;
/// assert_eq!(res.status(), 304);
/// assert_eq!(res.header("etag"), Some("\"42\""));
/// assert_eq!(res.header("content-type"), None);
/// assert!(res.bytes().is_empty());
/// # });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ConditionalGet;

impl<A: Application> Middleware<A> for ConditionalGet {
    type Output = ConditionalGetApp<A>;

    fn wrap(&self, app: A) -> ConditionalGetApp<A> {
        ConditionalGetApp { app }
    }
}

/// The application [`ConditionalGet`] produces.
#[derive(Clone, Debug)]
pub struct ConditionalGetApp<A> {
    app: A,
}

impl<A> ConditionalGetApp<A> {
    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }
}

const CONDITIONAL: [HeaderName; 4] = [
    IF_MATCH,
    IF_NONE_MATCH,
    IF_MODIFIED_SINCE,
    IF_UNMODIFIED_SINCE,
];

/// The fields a 304 keeps.
const NOT_MODIFIED_KEEPS: [HeaderName; 8] = [
    CACHE_CONTROL,
    CONTENT_LOCATION,
    DATE,
    ETAG,
    EXPIRES,
    VARY,
    LAST_MODIFIED,
    SET_COOKIE,
];

impl<A: Application> Application for ConditionalGetApp<A> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        let method = env.method();
        if !(*method == Method::GET || *method == Method::HEAD)
            || !CONDITIONAL
                .iter()
                .any(|name| env.headers().contains_key(name))
        {
            return self.app.call(env).await;
        }
        // The environ moves into the application; keep the preconditions.
        let method = method.clone();
        let mut conditions = HeaderMap::new();
        for name in CONDITIONAL {
            for value in env.headers().get_all(&name) {
                conditions.append(name.clone(), value.clone());
            }
        }
        let res = self.app.call(env).await?;
        if res.status() != StatusCode::OK {
            return Ok(res);
        }
        let last_modified = res
            .headers()
            .get(LAST_MODIFIED)
            .and_then(|v| httpdate::parse_http_date(v.to_str().ok()?).ok());
        let validators = Validators {
            etag: res.headers().get(ETAG),
            last_modified,
        };
        if !validators.exists() {
            return Ok(res);
        }
        match evaluate(&method, &conditions, validators) {
            Precondition::NotModified => Ok(not_modified(res)),
            Precondition::Failed => {
                let (mut parts, _body) = res.into_parts();
                parts.status = StatusCode::PRECONDITION_FAILED;
                parts.headers.clear();
                Ok(Response::from_parts(parts, Body::empty()))
            }
            _ => Ok(res),
        }
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

/// `res` as a 304: the kept fields (every line of each), extensions, no
/// body.
fn not_modified(res: Response) -> Response {
    let (mut parts, _body) = res.into_parts();
    let mut kept = HeaderMap::new();
    let mut keep: Option<HeaderName> = None;
    for (name, value) in std::mem::take(&mut parts.headers) {
        // `None` is another line of the previous name.
        if let Some(name) = name {
            keep = NOT_MODIFIED_KEEPS.contains(&name).then_some(name);
        }
        if let Some(name) = &keep {
            kept.append(name.clone(), value);
        }
    }
    parts.status = StatusCode::NOT_MODIFIED;
    parts.headers = kept;
    Response::from_parts(parts, Body::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH_784111777: u64 = 784_111_777; // Sun, 06 Nov 1994 08:49:37 GMT
    const DATE_784111777: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
    const DATE_BEFORE: &str = "Sun, 06 Nov 1994 08:49:36 GMT";
    const DATE_AFTER: &str = "Sun, 06 Nov 1994 08:49:38 GMT";

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    fn headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn eval(
        method: Method,
        fields: &[(&'static str, &'static str)],
        etag: Option<&str>,
        lm: Option<SystemTime>,
    ) -> Precondition {
        let etag = etag.map(|e| HeaderValue::from_str(e).unwrap());
        let validators = Validators {
            etag: etag.as_ref(),
            last_modified: lm,
        };
        evaluate(&method, &headers(fields), validators)
    }

    fn get(fields: &[(&'static str, &'static str)], etag: Option<&str>) -> Precondition {
        eval(Method::GET, fields, etag, None)
    }

    use Precondition::{Failed, NotModified, Proceed};

    #[test]
    fn no_conditions_proceed() {
        assert_eq!(get(&[], Some("\"a\"")), Proceed);
        assert_eq!(eval(Method::PUT, &[], None, None), Proceed);
        assert_eq!(get(&[("range", "bytes=0-1")], Some("\"a\"")), Proceed);
    }

    #[test]
    fn status_codes() {
        assert_eq!(Proceed.status(), None);
        assert_eq!(NotModified.status(), Some(StatusCode::NOT_MODIFIED));
        assert_eq!(Failed.status(), Some(StatusCode::PRECONDITION_FAILED));
    }

    #[test]
    fn if_match_is_strong() {
        let im = |v| [("if-match", v)];
        assert_eq!(get(&im("\"a\""), Some("\"a\"")), Proceed);
        assert_eq!(get(&im("\"b\""), Some("\"a\"")), Failed);
        // Weak tags never match strongly, on either side.
        assert_eq!(get(&im("W/\"a\""), Some("\"a\"")), Failed);
        assert_eq!(get(&im("\"a\""), Some("W/\"a\"")), Failed);
        assert_eq!(get(&im("W/\"a\""), Some("W/\"a\"")), Failed);
        // No entity tag known: a list cannot match.
        assert_eq!(
            eval(Method::GET, &im("\"a\""), None, Some(at(1, 0))),
            Failed
        );
        // Comparison is octet by octet: case matters.
        assert_eq!(get(&im("\"A\""), Some("\"a\"")), Failed);
    }

    #[test]
    fn if_match_star_needs_a_representation() {
        let im = [("if-match", "*")];
        assert_eq!(get(&im, Some("W/\"a\"")), Proceed);
        assert_eq!(eval(Method::PUT, &im, None, Some(at(1, 0))), Proceed);
        assert_eq!(eval(Method::PUT, &im, None, None), Failed);
    }

    #[test]
    fn lists_spaces_and_field_lines() {
        assert_eq!(get(&[("if-match", "\"x\", \"a\"")], Some("\"a\"")), Proceed);
        assert_eq!(
            get(&[("if-match", "\"x\",\t\"a\" ")], Some("\"a\"")),
            Proceed
        );
        assert_eq!(get(&[("if-match", " , ,\"a\",,")], Some("\"a\"")), Proceed);
        assert_eq!(get(&[("if-match", "\"x\",\"y\"")], Some("\"a\"")), Failed);
        // Several field lines are one list.
        assert_eq!(
            get(
                &[("if-match", "\"x\""), ("if-match", "\"a\"")],
                Some("\"a\"")
            ),
            Proceed
        );
        assert_eq!(
            get(
                &[("if-none-match", "\"x\""), ("if-none-match", "W/\"a\"")],
                Some("\"a\"")
            ),
            NotModified
        );
        // `*` on its own line next to others.
        assert_eq!(
            get(
                &[("if-none-match", "\"x\""), ("if-none-match", "*")],
                Some("\"a\"")
            ),
            NotModified
        );
        // A comma inside an opaque tag is not a separator.
        assert_eq!(get(&[("if-match", "\"a,b\"")], Some("\"a,b\"")), Proceed);
        assert_eq!(get(&[("if-match", "\"a,b\"")], Some("\"b\"")), Failed);
    }

    #[test]
    fn malformed_tags_never_match() {
        for bad in [
            "a",
            "'a'",
            "\"a",
            "\"a\"x",
            "w/\"a\"",
            "W/ \"a\"",
            "\"a b\"",
            "\"a\" \"a\"",
        ] {
            let fields = [("if-match", bad)];
            assert_eq!(get(&fields, Some("\"a\"")), Failed, "if-match {bad:?}");
            let fields = [("if-none-match", bad)];
            assert_eq!(
                get(&fields, Some("\"a\"")),
                Proceed,
                "if-none-match {bad:?}"
            );
        }
        // A malformed element does not spoil the rest of the list.
        assert_eq!(get(&[("if-match", "junk, \"a\"")], Some("\"a\"")), Proceed);
        assert_eq!(
            get(&[("if-match", "\"x\"y, \"a\"")], Some("\"a\"")),
            Proceed
        );
        assert_eq!(
            get(&[("if-none-match", "\"x y\", \"a\"")], Some("\"a\"")),
            NotModified
        );
        // A malformed current ETag matches nothing, but exists for `*`.
        assert_eq!(get(&[("if-match", "a")], Some("a")), Failed);
        assert_eq!(get(&[("if-match", "*")], Some("a")), Proceed);
    }

    #[test]
    fn obs_text_in_tags() {
        let mut map = HeaderMap::new();
        let tag = HeaderValue::from_bytes(b"\"caf\xc3\xa9\"").unwrap();
        map.insert(IF_NONE_MATCH, tag.clone());
        let v = Validators {
            etag: Some(&tag),
            last_modified: None,
        };
        assert_eq!(evaluate(&Method::GET, &map, v), NotModified);
    }

    #[test]
    fn if_none_match_is_weak_and_depends_on_method() {
        let inm = |v| [("if-none-match", v)];
        assert_eq!(get(&inm("\"a\""), Some("\"a\"")), NotModified);
        assert_eq!(get(&inm("W/\"a\""), Some("\"a\"")), NotModified);
        assert_eq!(get(&inm("\"a\""), Some("W/\"a\"")), NotModified);
        assert_eq!(get(&inm("\"b\""), Some("\"a\"")), Proceed);
        assert_eq!(
            eval(Method::HEAD, &inm("\"a\""), Some("\"a\""), None),
            NotModified
        );
        assert_eq!(
            eval(Method::POST, &inm("\"a\""), Some("\"a\""), None),
            Failed
        );
        assert_eq!(
            eval(Method::PUT, &inm("\"b\""), Some("\"a\""), None),
            Proceed
        );
    }

    #[test]
    fn if_none_match_star() {
        let inm = [("if-none-match", "*")];
        assert_eq!(get(&inm, Some("\"a\"")), NotModified);
        assert_eq!(eval(Method::PUT, &inm, Some("\"a\""), None), Failed);
        // Create-only PUT: nothing there yet.
        assert_eq!(eval(Method::PUT, &inm, None, None), Proceed);
    }

    #[test]
    fn if_unmodified_since() {
        let ius = |v| [("if-unmodified-since", v)];
        let lm = Some(at(EPOCH_784111777, 0));
        assert_eq!(eval(Method::PUT, &ius(DATE_784111777), None, lm), Proceed);
        assert_eq!(eval(Method::PUT, &ius(DATE_AFTER), None, lm), Proceed);
        assert_eq!(eval(Method::PUT, &ius(DATE_BEFORE), None, lm), Failed);
        assert_eq!(eval(Method::GET, &ius(DATE_BEFORE), None, lm), Failed);
        // Other HTTP-date formats.
        assert_eq!(
            eval(
                Method::PUT,
                &ius("Sunday, 06-Nov-94 08:49:36 GMT"),
                None,
                lm
            ),
            Failed
        );
        assert_eq!(
            eval(Method::PUT, &ius("Sun Nov  6 08:49:36 1994"), None, lm),
            Failed
        );
        // Ignored: invalid, a list, or no modification time known.
        assert_eq!(eval(Method::PUT, &ius("yesterday"), None, lm), Proceed);
        assert_eq!(eval(Method::PUT, &ius("784111776"), None, lm), Proceed);
        assert_eq!(
            eval(
                Method::PUT,
                &[
                    ("if-unmodified-since", DATE_BEFORE),
                    ("if-unmodified-since", DATE_BEFORE)
                ],
                None,
                lm
            ),
            Proceed
        );
        assert_eq!(
            eval(Method::PUT, &ius(DATE_BEFORE), Some("\"a\""), None),
            Proceed
        );
    }

    #[test]
    fn if_unmodified_since_is_ignored_after_if_match() {
        let lm = Some(at(EPOCH_784111777, 0));
        let fields = [("if-match", "\"a\""), ("if-unmodified-since", DATE_BEFORE)];
        assert_eq!(eval(Method::PUT, &fields, Some("\"a\""), lm), Proceed);
        // Even a malformed If-Match hides it (and fails by itself).
        let fields = [
            ("if-match", "nonsense"),
            ("if-unmodified-since", DATE_AFTER),
        ];
        assert_eq!(eval(Method::PUT, &fields, Some("\"a\""), lm), Failed);
    }

    #[test]
    fn if_modified_since() {
        let ims = |v| [("if-modified-since", v)];
        let lm = Some(at(EPOCH_784111777, 0));
        assert_eq!(
            eval(Method::GET, &ims(DATE_784111777), None, lm),
            NotModified
        );
        assert_eq!(eval(Method::GET, &ims(DATE_AFTER), None, lm), NotModified);
        assert_eq!(eval(Method::HEAD, &ims(DATE_AFTER), None, lm), NotModified);
        assert_eq!(eval(Method::GET, &ims(DATE_BEFORE), None, lm), Proceed);
        // Only GET and HEAD.
        assert_eq!(eval(Method::POST, &ims(DATE_AFTER), None, lm), Proceed);
        assert_eq!(eval(Method::DELETE, &ims(DATE_AFTER), None, lm), Proceed);
        // Ignored: invalid, a list, or no modification time known.
        assert_eq!(eval(Method::GET, &ims("not a date"), None, lm), Proceed);
        assert_eq!(eval(Method::GET, &ims(""), None, lm), Proceed);
        assert_eq!(
            eval(
                Method::GET,
                &[
                    ("if-modified-since", DATE_AFTER),
                    ("if-modified-since", DATE_AFTER)
                ],
                None,
                lm
            ),
            Proceed
        );
        assert_eq!(
            eval(Method::GET, &ims(DATE_AFTER), Some("\"a\""), None),
            Proceed
        );
    }

    #[test]
    fn one_second_precision() {
        // 08:49:37.999 was last modified "at" 08:49:37.
        let lm = Some(at(EPOCH_784111777, 999));
        assert_eq!(
            eval(
                Method::GET,
                &[("if-modified-since", DATE_784111777)],
                None,
                lm
            ),
            NotModified
        );
        assert_eq!(
            eval(
                Method::PUT,
                &[("if-unmodified-since", DATE_784111777)],
                None,
                lm
            ),
            Proceed
        );
        let lm = Some(at(EPOCH_784111777 + 1, 0));
        assert_eq!(
            eval(
                Method::GET,
                &[("if-modified-since", DATE_784111777)],
                None,
                lm
            ),
            Proceed
        );
        assert_eq!(
            eval(
                Method::PUT,
                &[("if-unmodified-since", DATE_784111777)],
                None,
                lm
            ),
            Failed
        );
    }

    #[test]
    fn if_none_match_hides_if_modified_since() {
        let lm = Some(at(EPOCH_784111777, 0));
        // Not matching the tag: 200 even though the date says not modified.
        let fields = [
            ("if-none-match", "\"b\""),
            ("if-modified-since", DATE_AFTER),
        ];
        assert_eq!(eval(Method::GET, &fields, Some("\"a\""), lm), Proceed);
        // Matching the tag: 304 even though the date says modified.
        let fields = [
            ("if-none-match", "\"a\""),
            ("if-modified-since", DATE_BEFORE),
        ];
        assert_eq!(eval(Method::GET, &fields, Some("\"a\""), lm), NotModified);
    }

    #[test]
    fn failed_if_match_wins_over_if_none_match() {
        let fields = [("if-match", "\"b\""), ("if-none-match", "\"a\"")];
        assert_eq!(get(&fields, Some("\"a\"")), Failed);
        let lm = Some(at(EPOCH_784111777, 0));
        let fields = [
            ("if-unmodified-since", DATE_BEFORE),
            ("if-modified-since", DATE_AFTER),
        ];
        assert_eq!(eval(Method::GET, &fields, None, lm), Failed);
        // Passing If-Match goes on to If-None-Match.
        let fields = [("if-match", "\"a\""), ("if-none-match", "\"a\"")];
        assert_eq!(get(&fields, Some("\"a\"")), NotModified);
    }

    fn range_ok(
        fields: &[(&'static str, &'static str)],
        etag: Option<&str>,
        lm: Option<SystemTime>,
        strong: bool,
    ) -> bool {
        let etag = etag.map(|e| HeaderValue::from_str(e).unwrap());
        let v = Validators {
            etag: etag.as_ref(),
            last_modified: lm,
        };
        if_range(&headers(fields), v, strong)
    }

    #[test]
    fn if_range_entity_tags() {
        let ir = |v| [("if-range", v)];
        assert!(range_ok(&[], Some("\"a\""), None, false));
        assert!(range_ok(&ir("\"a\""), Some("\"a\""), None, false));
        assert!(range_ok(&ir(" \"a\" "), Some("\"a\""), None, false));
        assert!(!range_ok(&ir("\"b\""), Some("\"a\""), None, false));
        assert!(!range_ok(&ir("W/\"a\""), Some("W/\"a\""), None, true));
        assert!(!range_ok(&ir("\"a\""), Some("W/\"a\""), None, true));
        assert!(!range_ok(&ir("\"a\""), None, Some(at(1, 0)), true));
        // Not a list, not malformed, not on two lines.
        assert!(!range_ok(&ir("\"b\", \"a\""), Some("\"a\""), None, true));
        assert!(!range_ok(&ir("\"a"), Some("\"a\""), None, true));
        assert!(!range_ok(&ir("*"), Some("\"a\""), None, true));
        assert!(!range_ok(
            &[("if-range", "\"a\""), ("if-range", "\"a\"")],
            Some("\"a\""),
            None,
            true
        ));
    }

    #[test]
    fn if_range_dates() {
        let ir = [("if-range", DATE_784111777)];
        let lm = Some(at(EPOCH_784111777, 500));
        assert!(range_ok(&ir, None, lm, true));
        assert!(range_ok(&ir, Some("\"a\""), lm, true));
        // Only a strong date, and only an exact one.
        assert!(!range_ok(&ir, None, lm, false));
        assert!(!range_ok(&ir, None, Some(at(EPOCH_784111777 + 1, 0)), true));
        assert!(!range_ok(&ir, None, Some(at(EPOCH_784111777 - 1, 0)), true));
        assert!(!range_ok(&ir, Some("\"a\""), None, true));
        assert!(!range_ok(&[("if-range", "garbage")], None, lm, true));
    }

    #[test]
    fn strong_last_modified() {
        let lm = at(1000, 0);
        assert!(is_strong_last_modified(lm, at(1001, 0)));
        assert!(is_strong_last_modified(lm, at(5000, 0)));
        assert!(!is_strong_last_modified(lm, at(1000, 999)));
        assert!(!is_strong_last_modified(lm, lm));
        assert!(!is_strong_last_modified(lm, at(999, 0)));
    }

    #[test]
    fn seconds_round_down() {
        assert_eq!(unix_seconds(at(5, 999)), 5);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_millis(1)), -1);
        assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(2)), -2);
    }

    #[test]
    fn tag_list_scanning() {
        let tags: Vec<_> = TagList(b" \"a\" ,W/\"b\",, *, x ,\"c").collect();
        assert_eq!(
            tags,
            [
                Element::Tag(EntityTag {
                    weak: false,
                    opaque: b"\"a\""
                }),
                Element::Tag(EntityTag {
                    weak: true,
                    opaque: b"\"b\""
                }),
                Element::Star,
                Element::Invalid,
                Element::Invalid,
            ]
        );
        assert_eq!(TagList(b"").count(), 0);
        assert_eq!(TagList(b" , ,").count(), 0);
        assert_eq!(
            EntityTag::parse(b"\"\""),
            Some(EntityTag {
                weak: false,
                opaque: b"\"\""
            })
        );
        assert_eq!(EntityTag::parse(b"\"a\", \"b\""), None);
        assert_eq!(EntityTag::parse(b"\"a\x7f\""), None);
    }
}
