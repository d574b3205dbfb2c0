//! [`Csrf`]: refuses cross-site requests with unsafe methods, by the
//! browser's Fetch metadata and `Origin` (Go 1.25's
//! `CrossOriginProtection`), and by a per-session masked token
//! ([`CsrfToken`]) for clients that send neither header.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, fn_app, start};
//! use gateway_middleware::auth::Csrf;
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("done") })
//!     .with(Csrf::new());
//! let client = TestClient::new(app);
//! let res = client.post("/").header("sec-fetch-site", "cross-site").send().await;
//! assert_eq!(res.status(), 403);
//! let res = client.post("/").header("sec-fetch-site", "same-origin").send().await;
//! assert_eq!(res.text(), "done");
//! # });
//! ```
//!
//! The header checks are in [`Csrf`]'s `check`, the token in `token`,
//! the form field in `form`, `Origin` values in `origin`.

mod form;
mod origin;
mod token;

use std::future::Future;
use std::sync::Arc;

use gateway_core::{Application, Body, Environ, Error, Middleware, Response, start};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ORIGIN};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::future::{AuthFuture, Slow};
use crate::sessions::Session;

pub use origin::InvalidOrigin;
pub use token::{CsrfError, CsrfToken};

/// `Sec-Fetch-Site` (Fetch Metadata Request Headers).
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
/// The header a script sends the token in.
const TOKEN_HEADER_NAME: HeaderName = HeaderName::from_static(Csrf::TOKEN_HEADER);

/// The CSRF middleware: refuses cross-site requests with unsafe methods.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Body, Environ, fn_app, start};
/// use gateway_middleware::auth::{Csrf, CsrfToken};
/// use gateway_middleware::sessions::{MemoryStore, Sessions};
///
/// let app = fn_app(|mut env: Environ| async move {
///     if env.method() == "GET" {
///         // The form, with a token for browsers that send no `Origin`.
///         let token = CsrfToken::of(&env).await?;
///         let form = format!(
///             r#"<form method="post"><input type="hidden" name="csrf_token" value="{token}">
///                <input name="amount"><button>Pay</button></form>"#
///         );
///         return start(200, [("content-type", "text/html"), ("cache-control", "private")]).body(form);
///     }
///     // Reached only by requests that passed the check; the body is intact.
///     let form = env.take_body().to_bytes(64 * 1024).await?;
///     start(200, [("content-type", "text/plain")]).body(form)
/// })
/// .with(Csrf::new().trusted_origins(["https://checkout.example.net"]))
/// // Outside Csrf: the token lives in the session.
/// .with(Sessions::new(MemoryStore::new()));
/// let client = TestClient::new(app);
///
/// // A form posted from another site: refused.
/// let res = client.post("/").header("sec-fetch-site", "cross-site").send().await;
/// assert_eq!(res.status(), 403);
/// // From the site itself (client's host is `localhost`): passes.
/// let res = client.post("/").header("origin", "http://localhost").send().await;
/// assert_eq!(res.status(), 200);
/// // From a trusted origin: passes.
/// let res = client
///     .post("/")
///     .header("sec-fetch-site", "cross-site")
///     .header("origin", "https://checkout.example.net")
///     .send()
///     .await;
/// assert_eq!(res.status(), 200);
///
/// // Neither header (an old browser, or not a browser): the token decides.
/// assert_eq!(client.post("/").form(&[("amount", "10")]).send().await.status(), 403);
/// let page = client.get("/").send().await.text();
/// let token = page.split(r#"value=""#).nth(1).and_then(|s| s.split('"').next()).unwrap();
/// let res = client.post("/").form(&[("csrf_token", token), ("amount", "10")]).send().await;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.text(), format!("csrf_token={token}&amount=10"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Configured:
///
/// ```
/// use gateway_middleware::auth::Csrf;
///
/// let csrf = Csrf::new()
///     .trusted_origins(["https://admin.example.com", "http://localhost:3000"])
///     .form_limit(16 * 1024);
/// # let _ = csrf;
/// // Go's behaviour: requests with neither `Sec-Fetch-Site` nor `Origin` pass.
/// let api_only = Csrf::new().token_fallback(false);
/// # let _ = api_only;
/// ```
///
/// The defaults: no trusted origin, the token mode on, forms read up to
/// 64 KiB.
///
/// # The check
///
/// `GET`, `HEAD` and `OPTIONS` are never checked (they must not change
/// anything; `TRACE` is checked, as in Go). For every other method:
///
/// 1. `Sec-Fetch-Site: same-origin` or `none` (the user typed the URL or
///    used a bookmark): allowed. Any other value — `cross-site`,
///    `same-site` (a sibling subdomain is another origin), an unknown or
///    unreadable one, or the field repeated — is refused unless the
///    `Origin` is [trusted](Csrf::trusted_origins).
/// 2. No `Sec-Fetch-Site` (older browsers, and plain http to a host other
///    than `localhost`, where browsers do not send it), but an `Origin`: allowed if its `host[:port]` is byte for byte the
///    request's [host](gateway_core::Environ::host), or if the whole
///    `Origin` is trusted. `Origin: null`, an `Origin` with userinfo or a
///    path, or a repeated one is refused. The scheme is not compared (an
///    http page posting to the https site passes, as in Go): serve HSTS.
/// 3. Neither header: the **token mode**. The request must carry a
///    [`CsrfToken`] of its session, in the `X-CSRF-Token` header or in the
///    `csrf_token` field of an `application/x-www-form-urlencoded` body
///    (read up to [`form_limit`](Csrf::form_limit) bytes, then handed to
///    the application byte for byte; a larger body is answered `413`, never
///    passed unchecked). Without a session, a secret or a matching token:
///    refused. [`token_fallback(false)`](Csrf::token_fallback) lets such
///    requests through instead, as Go does.
///
/// A refusal is `403 Forbidden` (`413` for an oversized form) with a fixed
/// plain-text body that echoes nothing from the request,
/// `Cache-Control: no-store`, the [`CsrfRejection`] in the response's
/// extensions, and a `tracing` debug event naming the reason (never a
/// header value or token).
///
/// # Tokens
///
/// The session keeps one secret, 32 random bytes, under
/// [`Csrf::SESSION_KEY`], made by the first [`CsrfToken::of`]. Every token
/// is the secret masked with 32 fresh random bytes (`pad ‖ pad ⊕ secret`,
/// 86 characters of base64url), so no two pages carry the same bytes (the
/// BREACH compression attack needs them repeated); any of them verifies,
/// in constant time, until the secret changes. The login helper removes
/// the secret when a user logs in, so tokens issued before the login stop
/// working (a token planted by an attacker before the login is useless),
/// and logging out ends the session with its secret. A form posted as
/// `multipart/form-data` is not parsed: such a client sends the token in
/// the header (current browsers send `Origin` with every such post
/// anyway, so the header check decides).
///
/// The first token of a session inserts the secret; two concurrent first
/// requests of one session each make one, and the session's
/// first-writer-wins merge keeps only one of them: the other page's token
/// does not verify. Fetch a token once before firing parallel requests.
///
/// # Order
///
/// `Sessions` must be outside `Csrf` (added after it) when tokens are
/// used. Put `Csrf` outside anything that acts on unsafe requests, and
/// inside `ProxyHeaders` when behind a proxy that rewrites the `Host`.
#[derive(Clone, Debug)]
pub struct Csrf {
    config: Arc<Config>,
}

#[derive(Clone, Debug)]
struct Config {
    trusted: Vec<Box<str>>,
    token_fallback: bool,
    form_limit: u64,
}

impl Default for Csrf {
    fn default() -> Csrf {
        Csrf::new()
    }
}

impl Csrf {
    /// The session key holding the CSRF secret. Removing it (as the login
    /// helper does at every login) invalidates every token issued so far;
    /// the next [`CsrfToken::of`] makes a new secret.
    pub const SESSION_KEY: &'static str = token::SESSION_KEY;

    /// The header a token is read from: `X-CSRF-Token`.
    pub const TOKEN_HEADER: &'static str = "x-csrf-token";

    /// The urlencoded form field a token is read from: `csrf_token`.
    pub const TOKEN_FIELD: &'static str = "csrf_token";

    /// The middleware with its defaults: no trusted origin, the token mode
    /// on, forms read up to 64 KiB.
    pub fn new() -> Csrf {
        Csrf {
            config: Arc::new(Config {
                trusted: Vec::new(),
                token_fallback: true,
                form_limit: 64 * 1024,
            }),
        }
    }

    /// Adds origins whose cross-site requests are allowed, each exactly as
    /// browsers send it in `Origin`: `scheme://host[:port]`, lower case,
    /// no path (not even `/`), no default port. The `Origin` field is
    /// compared with them byte for byte.
    ///
    /// # Panics
    ///
    /// If an origin could never match (see [`InvalidOrigin`]); the message
    /// says why. [`try_trusted_origins`](Self::try_trusted_origins)
    /// returns the error instead.
    pub fn trusted_origins<I>(self, origins: I) -> Csrf
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        match self.try_trusted_origins(origins) {
            Ok(csrf) => csrf,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`trusted_origins`](Self::trusted_origins), returning the first
    /// invalid origin as an error (for origins read from configuration).
    ///
    /// # Errors
    ///
    /// An origin no browser would send.
    pub fn try_trusted_origins<I>(mut self, origins: I) -> Result<Csrf, InvalidOrigin>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let config = Arc::make_mut(&mut self.config);
        for origin in origins {
            let origin = origin.as_ref();
            origin::check_trusted(origin)?;
            if !config.trusted.iter().any(|t| &**t == origin) {
                config.trusted.push(origin.into());
            }
        }
        Ok(self)
    }

    /// Whether a request with an unsafe method and neither
    /// `Sec-Fetch-Site` nor `Origin` must carry a valid token (`true`, the
    /// default) or passes (`false`, Go's behaviour: such a request comes
    /// from a browser too old to send either header, or from a program,
    /// which CSRF does not concern).
    pub fn token_fallback(mut self, on: bool) -> Csrf {
        Arc::make_mut(&mut self.config).token_fallback = on;
        self
    }

    /// How much of an `application/x-www-form-urlencoded` body the token
    /// mode reads looking for the `csrf_token` field. A larger body is
    /// answered `413 Content Too Large`. Defaults to 64 KiB.
    pub fn form_limit(mut self, bytes: u64) -> Csrf {
        Arc::make_mut(&mut self.config).form_limit = bytes;
        self
    }
}

impl<A: Application> Middleware<A> for Csrf {
    type Output = CsrfApp<A>;

    fn wrap(&self, app: A) -> CsrfApp<A> {
        CsrfApp {
            app,
            config: Arc::clone(&self.config),
        }
    }
}

/// The application [`Csrf`] produces: the wrapped application, reached
/// only by requests that pass the check.
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{Csrf, CsrfApp};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app: CsrfApp<_> = app.with(Csrf::new());
/// # let _ = app;
/// ```
#[derive(Debug)]
pub struct CsrfApp<A> {
    app: A,
    config: Arc<Config>,
}

impl<A: Application> Application for CsrfApp<A> {
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        match self.config.check(&env) {
            Verdict::Allow => AuthFuture::App {
                future: self.app.call(env),
            },
            Verdict::Refuse(rejection) => AuthFuture::Done {
                result: Some(refuse(rejection)),
            },
            // Boxed: the session load and the form read stay out of the
            // future of every request the headers decide.
            Verdict::Token => AuthFuture::Slow {
                future: Box::pin(async move {
                    match self.config.check_token(&mut env).await {
                        Ok(()) => self.app.call(env).await,
                        Err(Stop::Refuse(rejection)) => refuse(rejection),
                        Err(Stop::Fail(e)) => Err(e),
                    }
                }) as Slow<'_>,
            },
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

/// Why [`Csrf`] refused a request: in the refusal's response extensions,
/// and the `reason` of its `tracing` event.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{Csrf, CsrfRejection};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("done") })
///     .with(Csrf::new());
/// let res = TestClient::new(app)
///     .post("/")
///     .header("origin", "https://evil.example")
///     .send()
///     .await;
/// assert_eq!(res.status(), 403);
/// assert_eq!(res.extensions().get(), Some(&CsrfRejection::OriginMismatch));
/// assert_eq!(res.header("cache-control"), Some("no-store"));
/// # });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CsrfRejection {
    /// `Sec-Fetch-Site` was neither `same-origin` nor `none` (or was
    /// repeated or unreadable), and the `Origin` is not trusted.
    CrossSite,
    /// No `Sec-Fetch-Site`, and the `Origin` is neither the request's host
    /// nor trusted (or is `null`, malformed or repeated).
    OriginMismatch,
    /// Token mode: the session has no CSRF secret (no session at all, or
    /// no token was ever issued to it, or it was rotated at login).
    NoSecret,
    /// Token mode: no token in the header or the form.
    MissingToken,
    /// Token mode: a token that does not verify (malformed, another
    /// session's, issued before the secret rotated, or given twice).
    InvalidToken,
    /// Token mode: the urlencoded body is larger than
    /// [`Csrf::form_limit`]. Answered `413`.
    FormTooLarge,
}

impl CsrfRejection {
    /// The response status: `413` for [`FormTooLarge`](Self::FormTooLarge),
    /// else `403`.
    pub fn status(self) -> StatusCode {
        match self {
            CsrfRejection::FormTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// A short fixed description, for logs.
    pub fn reason(self) -> &'static str {
        match self {
            CsrfRejection::CrossSite => "Sec-Fetch-Site is not same-origin",
            CsrfRejection::OriginMismatch => "Origin does not match the host",
            CsrfRejection::NoSecret => "the session has no CSRF secret",
            CsrfRejection::MissingToken => "no CSRF token",
            CsrfRejection::InvalidToken => "invalid CSRF token",
            CsrfRejection::FormTooLarge => "the form is larger than the CSRF form limit",
        }
    }

    fn body(self) -> &'static str {
        match self {
            CsrfRejection::FormTooLarge => "Content Too Large: the form is too large.\n",
            _ => "Forbidden: the request failed the cross-site request check.\n",
        }
    }
}

/// What the header check decided.
enum Verdict {
    Allow,
    Refuse(CsrfRejection),
    /// Neither header: the token decides.
    Token,
}

/// Why the token check stopped the request.
enum Stop {
    Refuse(CsrfRejection),
    /// The session store failed, or the body did.
    Fail(Error),
}

/// A header field that must appear at most once.
enum Field<'a> {
    /// Absent, or empty (Go's `Header.Get` returns `""` for both).
    Absent,
    One(&'a [u8]),
    Many,
}

fn field<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Field<'a> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (None, _) => Field::Absent,
        (Some(v), None) if v.is_empty() => Field::Absent,
        (Some(v), None) => Field::One(v.as_bytes()),
        (Some(_), Some(_)) => Field::Many,
    }
}

impl Config {
    /// Go's `CrossOriginProtection.Check`, with the token mode where Go
    /// allows a request with neither header.
    fn check(&self, env: &Environ) -> Verdict {
        if matches!(*env.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return Verdict::Allow;
        }
        let headers = env.headers();
        let origin = field(headers, &ORIGIN);
        match field(headers, &SEC_FETCH_SITE) {
            Field::Absent => {}
            Field::One(b"same-origin" | b"none") => return Verdict::Allow,
            Field::One(_) | Field::Many => {
                return if self.is_trusted(&origin) {
                    Verdict::Allow
                } else {
                    Verdict::Refuse(CsrfRejection::CrossSite)
                };
            }
        }
        match origin {
            Field::Absent if self.token_fallback => Verdict::Token,
            Field::Absent => Verdict::Allow,
            Field::One(value) => {
                let same = origin::authority(value)
                    .is_some_and(|authority| env.host().map(str::as_bytes) == Some(authority));
                if same || self.is_trusted(&origin) {
                    Verdict::Allow
                } else {
                    Verdict::Refuse(CsrfRejection::OriginMismatch)
                }
            }
            Field::Many => Verdict::Refuse(CsrfRejection::OriginMismatch),
        }
    }

    /// Whether the request's `Origin` field is one `Origin`, and it is
    /// trusted.
    fn is_trusted(&self, origin: &Field<'_>) -> bool {
        match *origin {
            Field::One(origin) => self.trusted.iter().any(|t| t.as_bytes() == origin),
            Field::Absent | Field::Many => false,
        }
    }

    /// The token mode: the session's secret, then the token from the
    /// header or the form.
    async fn check_token(&self, env: &mut Environ) -> Result<(), Stop> {
        let Some(session) = Session::of(env) else {
            tracing::warn!("Csrf's token mode needs the Sessions middleware in front of it");
            return Err(Stop::Refuse(CsrfRejection::NoSecret));
        };
        let secret = match token::load_secret(&session).await {
            Ok(Some(secret)) => secret,
            Ok(None) => return Err(Stop::Refuse(CsrfRejection::NoSecret)),
            Err(e) => return Err(Stop::Fail(Error::new(e))),
        };
        let valid = match field(env.headers(), &TOKEN_HEADER_NAME) {
            Field::One(token) => token::verify(&secret, token),
            Field::Many => false,
            Field::Absent if form::is_urlencoded(env.headers()) => {
                let body = match env.take_body().to_bytes(self.form_limit).await {
                    Ok(body) => body,
                    Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                        return Err(Stop::Refuse(CsrfRejection::FormTooLarge));
                    }
                    Err(e) => return Err(Stop::Fail(e)),
                };
                env.set_body(Body::full(body.clone()));
                match form::field(&body, Csrf::TOKEN_FIELD.as_bytes()) {
                    form::Field::One(token) => token::verify(&secret, &token),
                    form::Field::Many => false,
                    form::Field::Absent => {
                        return Err(Stop::Refuse(CsrfRejection::MissingToken));
                    }
                }
            }
            Field::Absent => return Err(Stop::Refuse(CsrfRejection::MissingToken)),
        };
        if valid {
            Ok(())
        } else {
            Err(Stop::Refuse(CsrfRejection::InvalidToken))
        }
    }
}

/// The refusal: a fixed body, `no-store`, the reason in the extensions
/// and in a debug event.
fn refuse(rejection: CsrfRejection) -> Result<Response, Error> {
    tracing::debug!(reason = rejection.reason(), "Csrf refused a request");
    let mut res = start(
        rejection.status(),
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
    .body(rejection.body())?;
    res.extensions_mut().insert(rejection);
    Ok(res)
}
