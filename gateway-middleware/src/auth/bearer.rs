//! [`BearerAuth`]: bearer tokens in `Authorization` (RFC 6750), checked by
//! an async [`BearerVerifier`], refused with the §3 challenges.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, Environ, fn_app, start};
//! use gateway_middleware::auth::{BearerAuth, BearerError, Identity};
//!
//! let verifier = |token: &str| {
//!     // Look the token up (a database, a JWT check) and return its user.
//!     let user = match token {
//!         "t0k3n" => Ok(String::from("ada")),
//!         "read-only" => Err(BearerError::insufficient_scope("write")),
//!         _ => Err(BearerError::invalid_token()),
//!     };
//!     async move { user }
//! };
//! let app = fn_app(|env: Environ| async move {
//!     start(200, [("content-type", "text/plain")]).body(Identity::of(&env).unwrap().id().to_owned())
//! })
//! .with(BearerAuth::new("api", verifier));
//!
//! let client = TestClient::new(app);
//! let res = client.get("/").send().await;
//! assert_eq!((res.status().as_u16(), res.header("www-authenticate")), (401, Some(r#"Bearer realm="api""#)));
//! let res = client.get("/").header("authorization", "Bearer t0k3n").send().await;
//! assert_eq!(res.text(), "ada");
//! let res = client.get("/").header("authorization", "Bearer nope").send().await;
//! assert_eq!(
//!     (res.status().as_u16(), res.header("www-authenticate")),
//!     (401, Some(r#"Bearer realm="api", error="invalid_token""#)),
//! );
//! let res = client.get("/").header("authorization", "Bearer read-only").send().await;
//! assert_eq!(
//!     (res.status().as_u16(), res.header("www-authenticate")),
//!     (403, Some(r#"Bearer realm="api", error="insufficient_scope", scope="write""#)),
//! );
//! # });
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use gateway_core::{Application, Environ, Error, Middleware, Response};
use http::header::WWW_AUTHENTICATE;
use http::{HeaderValue, StatusCode};

use super::header::{self, Credentials};
use super::{Identity, User, Via};

/// The longest bearer token read (bytes); a longer one is refused as
/// `invalid_token` without reaching the verifier.
pub const MAX_BEARER_TOKEN: usize = 16 * 1024;

/// Checks a bearer token: looks it up, or verifies a signed token, and
/// returns its user or why it is refused.
///
/// Closures implement it: `Fn(&str) -> impl Future<Output = Result<U,
/// BearerError>>` for any [`User`] type `U`. The future cannot borrow the
/// token (copy it, or check it before the future starts); implement the
/// trait on a type of your own for a future that borrows it.
///
/// ```
/// use std::sync::Arc;
/// use gateway_middleware::auth::{BearerAuth, BearerError, BearerVerifier};
///
/// /// Tokens issued to services, compared in constant time.
/// struct ServiceTokens(Vec<(String, Arc<String>)>);
///
/// impl BearerVerifier for ServiceTokens {
///     type User = String;
///     async fn verify(&self, token: &str) -> Result<Arc<String>, BearerError> {
///         use subtle::ConstantTimeEq;
///         let mut found = None;
///         for (known, service) in &self.0 {
///             if bool::from(known.as_bytes().ct_eq(token.as_bytes())) {
///                 found = Some(Arc::clone(service));
///             }
///         }
///         found.ok_or_else(BearerError::invalid_token)
///     }
/// }
///
/// let auth = BearerAuth::new("internal", ServiceTokens(vec![
///     ("a-long-random-token".into(), Arc::new("billing".into())),
/// ]));
/// # let _ = auth;
/// ```
pub trait BearerVerifier: Send + Sync + 'static {
    /// The verified user, which becomes the request's [`Identity`].
    type User: User;

    /// The user of `token`, or why it is refused. `token` is as sent: it
    /// matches RFC 6750's `b64token` (`1*( ALPHA / DIGIT / "-" / "." /
    /// "_" / "~" / "+" / "/" ) *"="`) and is at most
    /// [`MAX_BEARER_TOKEN`] bytes.
    fn verify(
        &self,
        token: &str,
    ) -> impl Future<Output = Result<Arc<Self::User>, BearerError>> + Send;
}

impl<F, Fut, U> BearerVerifier for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<U, BearerError>> + Send,
    U: User,
{
    type User = U;

    fn verify(&self, token: &str) -> impl Future<Output = Result<Arc<U>, BearerError>> + Send {
        let verified = self(token);
        async move { verified.await.map(Arc::new) }
    }
}

/// A scope that is not RFC 6750's `scope` value (one or more tokens of
/// printable ASCII other than `"` and `\`, separated by single spaces):
/// [`BearerError::try_insufficient_scope`]'s error. Holds the value.
///
/// ```
/// use gateway_middleware::auth::BearerError;
///
/// let err = BearerError::try_insufficient_scope("a  b").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid Bearer scope "a  b""#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid Bearer scope {0:?}")]
pub struct InvalidScope(String);

/// Why a [`BearerVerifier`] refused a token: what the client is told in
/// the `WWW-Authenticate: Bearer` challenge (RFC 6750 §3.1).
///
/// ```
/// use gateway_middleware::auth::BearerError;
///
/// let e = BearerError::insufficient_scope("orders:write").with_description("read-only token");
/// assert_eq!((e.status().as_u16(), e.code(), e.scope()), (403, "insufficient_scope", Some("orders:write")));
/// assert_eq!(BearerError::invalid_token().status(), 401);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BearerError {
    kind: Kind,
    scope: Option<Cow<'static, str>>,
    description: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    InvalidRequest,
    InvalidToken,
    InsufficientScope,
}

impl BearerError {
    /// `invalid_token`, `401 Unauthorized`: the token is expired, revoked,
    /// malformed or unknown.
    pub fn invalid_token() -> BearerError {
        BearerError {
            kind: Kind::InvalidToken,
            scope: None,
            description: None,
        }
    }

    /// `insufficient_scope`, `403 Forbidden`: the token is valid but does
    /// not grant `scope`, which the challenge names (space-separated scope
    /// values). For a scope known when the program is written; a scope
    /// built at run time (from a token's claims, a database) goes through
    /// [`try_insufficient_scope`](Self::try_insufficient_scope), so that
    /// a bad value is an error to handle rather than a panic.
    ///
    /// # Panics
    ///
    /// If `scope` is not RFC 6750's `scope` value: one or more scope
    /// tokens of printable ASCII other than `"` and `\`, separated by
    /// single spaces.
    pub fn insufficient_scope(scope: impl Into<Cow<'static, str>>) -> BearerError {
        match BearerError::try_insufficient_scope(scope) {
            Ok(error) => error,
            Err(InvalidScope(scope)) => panic!("invalid Bearer scope {scope:?}"),
        }
    }

    /// [`insufficient_scope`](Self::insufficient_scope), with an error
    /// instead of a panic for a `scope` that is not RFC 6750's `scope`
    /// value.
    ///
    /// ```
    /// use gateway_middleware::auth::BearerError;
    ///
    /// let claims = "orders:read \"admin\"";
    /// assert!(BearerError::try_insufficient_scope(claims.to_owned()).is_err());
    /// let e = BearerError::try_insufficient_scope("orders:read orders:write").unwrap();
    /// assert_eq!(e.scope(), Some("orders:read orders:write"));
    /// ```
    pub fn try_insufficient_scope(
        scope: impl Into<Cow<'static, str>>,
    ) -> Result<BearerError, InvalidScope> {
        let scope = scope.into();
        let valid = !scope.is_empty()
            && scope.split(' ').all(|token| {
                !token.is_empty()
                    && token
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            });
        if !valid {
            return Err(InvalidScope(scope.into_owned()));
        }
        Ok(BearerError {
            kind: Kind::InsufficientScope,
            scope: Some(scope),
            description: None,
        })
    }

    /// Adds an `error_description`: a fixed, human-readable text for the
    /// client's developer. Never put the token or other input in it.
    ///
    /// # Panics
    ///
    /// If `description` has characters other than printable ASCII and
    /// space, or has `"` or `\` (RFC 6750 §3).
    pub fn with_description(mut self, description: &'static str) -> BearerError {
        assert!(
            description
                .bytes()
                .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\'),
            "invalid Bearer error_description {description:?}"
        );
        self.description = Some(description);
        self
    }

    /// The status the refusal is answered with: 400 (`invalid_request`,
    /// which only the middleware gives), 401 or 403.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::InvalidRequest => StatusCode::BAD_REQUEST,
            Kind::InvalidToken => StatusCode::UNAUTHORIZED,
            Kind::InsufficientScope => StatusCode::FORBIDDEN,
        }
    }

    /// The `error` code: `invalid_request`, `invalid_token` or
    /// `insufficient_scope`.
    pub fn code(&self) -> &'static str {
        match self.kind {
            Kind::InvalidRequest => "invalid_request",
            Kind::InvalidToken => "invalid_token",
            Kind::InsufficientScope => "insufficient_scope",
        }
    }

    /// The scope an `insufficient_scope` names.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The `error_description`, if any.
    pub fn description(&self) -> Option<&'static str> {
        self.description
    }

    const INVALID_REQUEST: BearerError = BearerError {
        kind: Kind::InvalidRequest,
        scope: None,
        description: None,
    };

    /// The challenge's parameters after the realm: `, error="…"` and the
    /// others.
    fn params(&self) -> String {
        let mut out = format!(", error=\"{}\"", self.code());
        if let Some(description) = self.description {
            out.push_str(", error_description=\"");
            out.push_str(description);
            out.push('"');
        }
        if let Some(scope) = &self.scope {
            out.push_str(", scope=\"");
            out.push_str(scope);
            out.push('"');
        }
        out
    }
}

impl fmt::Display for BearerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for BearerError {}

/// Bearer token authentication (RFC 6750): a request passes only with an
/// `Authorization: Bearer` token that the [`BearerVerifier`] accepts; the
/// verified user goes into the environ as an [`Identity`] (via
/// [`Via::Bearer`]).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{BearerAuth, BearerError};
///
/// let verify = |token: &str| {
///     let ok = token == "abc";
///     async move { if ok { Ok(String::from("svc")) } else { Err(BearerError::invalid_token()) } }
/// };
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("in") })
///     .with(BearerAuth::new("api", verify));
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/").header("authorization", "bearer abc").send().await.status(), 200);
/// let res = client.get("/").header("authorization", "Bearer a b").send().await;
/// assert_eq!(res.status(), 400);
/// assert_eq!(res.header("www-authenticate"), Some(r#"Bearer realm="api", error="invalid_request""#));
/// # });
/// ```
///
/// # Answers
///
/// | request | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no `Authorization`, or another scheme | 401 | `Bearer realm="…"` (no error: RFC 6750 §3.1) |
/// | several `Authorization` field lines; `Bearer` alone, with a tab, or a token that is not a `b64token` (spaces, `=` inside, other characters, non-ASCII) | 400 | `…, error="invalid_request"` |
/// | a token longer than [`MAX_BEARER_TOKEN`] | 401 | `…, error="invalid_token"` |
/// | the verifier's [`BearerError::invalid_token`] | 401 | `…, error="invalid_token"` |
/// | the verifier's [`BearerError::insufficient_scope`] | 403 | `…, error="insufficient_scope", scope="…"` |
///
/// The scheme is matched case-insensitively and may be followed by one or
/// more spaces; whitespace around the field value is ignored. An
/// `error_description` is sent only when the verifier set one (a fixed
/// string). The refusals are [`Error`]s (rendered by the driver, or by a
/// [`HandleErrors`](gateway_core::HandleErrors) of the application's),
/// whose text never includes the token; nothing is logged.
///
/// Tokens are read from the `Authorization` header only: never from the
/// query string (which ends up in logs and `Referer`s) nor from a form
/// body (RFC 6750 §2.2, §2.3).
///
/// A handler that checks a scope itself refuses with the same challenge
/// through [`BearerAuth::refuse`].
pub struct BearerAuth<V> {
    inner: Arc<BearerInner<V>>,
}

struct BearerInner<V> {
    realm: String,
    /// `Bearer realm="…"`.
    challenge: String,
    /// The three challenges that carry no input, made once.
    bare: HeaderValue,
    invalid_request: HeaderValue,
    invalid_token: HeaderValue,
    verifier: V,
}

impl<V: BearerVerifier> BearerAuth<V> {
    /// Bearer authentication for `realm`, the tokens checked by
    /// `verifier`.
    ///
    /// # Panics
    ///
    /// If `realm` contains a control character (`%x00-1F`, `%x7F`).
    /// Quotes and backslashes are escaped in the challenge.
    pub fn new(realm: &str, verifier: V) -> BearerAuth<V> {
        let challenge = match header::quoted(realm) {
            Some(quoted) => format!("Bearer realm={quoted}"),
            None => panic!("invalid Bearer realm {realm:?}: control characters are not allowed"),
        };
        let value = |params: &str| match HeaderValue::from_str(&format!("{challenge}{params}")) {
            Ok(value) => value,
            Err(_) => panic!("invalid Bearer realm {realm:?}"),
        };
        BearerAuth {
            inner: Arc::new(BearerInner {
                realm: realm.to_owned(),
                bare: value(""),
                invalid_request: value(&BearerError::INVALID_REQUEST.params()),
                invalid_token: value(&BearerError::invalid_token().params()),
                challenge,
                verifier,
            }),
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.inner.realm
    }

    /// The verifier.
    pub fn verifier(&self) -> &V {
        &self.inner.verifier
    }
}

impl<V> BearerAuth<V> {
    /// The refusal for `error`, with this realm's challenge: for a handler
    /// behind this `BearerAuth` that checks a scope itself.
    ///
    /// ```
    /// use gateway_middleware::auth::{BearerAuth, BearerError};
    ///
    /// let auth = BearerAuth::new("api", |_: &str| async { Ok(String::from("svc")) });
    /// let e = auth.refuse(BearerError::insufficient_scope("admin"));
    /// assert_eq!(e.status(), 403);
    /// assert_eq!(
    ///     e.headers()["www-authenticate"],
    ///     r#"Bearer realm="api", error="insufficient_scope", scope="admin""#,
    /// );
    /// ```
    pub fn refuse(&self, error: BearerError) -> Error {
        self.inner.refuse(&error)
    }
}

impl<V> BearerInner<V> {
    fn refuse(&self, error: &BearerError) -> Error {
        let challenge = match error {
            BearerError {
                kind: Kind::InvalidToken,
                scope: None,
                description: None,
            } => self.invalid_token.clone(),
            BearerError {
                kind: Kind::InvalidRequest,
                scope: None,
                description: None,
            } => self.invalid_request.clone(),
            _ => {
                let value = format!("{}{}", self.challenge, error.params());
                // The realm and every parameter were checked when made.
                HeaderValue::from_str(&value).unwrap_or_else(|_| self.invalid_token.clone())
            }
        };
        let text = match error.kind {
            Kind::InvalidRequest => "malformed bearer credentials",
            Kind::InvalidToken => "invalid bearer token",
            Kind::InsufficientScope => "insufficient scope",
        };
        Error::with_status(error.status(), text).with_header(WWW_AUTHENTICATE, challenge)
    }
}

impl<V> Clone for BearerAuth<V> {
    fn clone(&self) -> Self {
        BearerAuth {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V> fmt::Debug for BearerAuth<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl<A: Application, V: BearerVerifier> Middleware<A> for BearerAuth<V> {
    type Output = BearerAuthApp<A, V>;

    fn wrap(&self, app: A) -> BearerAuthApp<A, V> {
        BearerAuthApp {
            app,
            inner: Arc::clone(&self.inner),
        }
    }
}

/// An application behind [`BearerAuth`].
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{BearerAuth, BearerAuthApp, BearerError};
///
/// let hello = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app = hello.with(BearerAuth::new("api", |_: &str| async {
///     Err::<String, _>(BearerError::invalid_token())
/// }));
/// # let _ = app;
/// ```
pub struct BearerAuthApp<A, V> {
    app: A,
    inner: Arc<BearerInner<V>>,
}

impl<A: fmt::Debug, V> fmt::Debug for BearerAuthApp<A, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuthApp")
            .field("app", &self.app)
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl<A: Application, V: BearerVerifier> Application for BearerAuthApp<A, V> {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        let inner = &*self.inner;
        let token = match header::credentials(env.headers(), "Bearer") {
            Credentials::Token(token) => token,
            Credentials::Absent => {
                return Err(
                    Error::with_status(StatusCode::UNAUTHORIZED, "bearer token required")
                        .with_header(WWW_AUTHENTICATE, inner.bare.clone()),
                );
            }
            Credentials::Several | Credentials::Malformed => {
                return Err(inner.refuse(&BearerError::INVALID_REQUEST));
            }
        };
        let Some(token) = b64token(token) else {
            return Err(inner.refuse(&BearerError::INVALID_REQUEST));
        };
        if token.len() > MAX_BEARER_TOKEN {
            return Err(inner.refuse(&BearerError::invalid_token()));
        }
        // The token borrows the environ's headers, until the verifier is done.
        let verified = inner.verifier.verify(token).await;
        match verified {
            Ok(user) => {
                Identity::from_arc(user, Via::Bearer).insert(&mut env);
                self.app.call(env).await
            }
            Err(error) => Err(inner.refuse(&error)),
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

/// `token` if it is RFC 6750 §2.1's `b64token`: `1*( ALPHA / DIGIT / "-"
/// / "." / "_" / "~" / "+" / "/" ) *"="`.
fn b64token(token: &[u8]) -> Option<&str> {
    let body = token.iter().take_while(|&&b| b != b'=').count();
    let valid = body > 0
        && token[..body]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        && token[body..].iter().all(|&b| b == b'=');
    if !valid {
        return None;
    }
    std::str::from_utf8(token).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        for ok in [
            "a",
            "abc",
            "A-Z.0_9~+/",
            "abc=",
            "abc==",
            "x=====",
            "/",
            "+=",
            "~",
        ] {
            assert_eq!(b64token(ok.as_bytes()), Some(ok), "{ok}");
        }
        for bad in [
            "", "=", "==", "a=b", "a b", "a\tb", "a,b", "a\"b", "a:b", "a;b", "é", "a%20", "a\\b",
            "a@b",
        ] {
            assert_eq!(b64token(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(b64token(b"ab\xff"), None);
    }

    #[test]
    fn challenges() {
        let params = |e: BearerError| e.params();
        assert_eq!(
            params(BearerError::invalid_token()),
            r#", error="invalid_token""#
        );
        assert_eq!(
            params(BearerError::invalid_token().with_description("The access token expired")),
            r#", error="invalid_token", error_description="The access token expired""#
        );
        assert_eq!(
            params(BearerError::insufficient_scope("read write")),
            r#", error="insufficient_scope", scope="read write""#
        );
        assert_eq!(
            params(BearerError::INVALID_REQUEST),
            r#", error="invalid_request""#
        );
        assert_eq!(BearerError::INVALID_REQUEST.status(), 400);
    }

    #[test]
    fn scopes() {
        for bad in ["", " ", "a  b", " a", "a ", "a\"b", "a\\b", "a\tb", "é"] {
            let result = std::panic::catch_unwind(|| BearerError::insufficient_scope(bad));
            assert!(result.is_err(), "{bad:?}");
            let err = BearerError::try_insufficient_scope(bad.to_owned()).unwrap_err();
            assert_eq!(err, InvalidScope(bad.to_owned()));
        }
        assert_eq!(
            BearerError::insufficient_scope("a:b c!").scope(),
            Some("a:b c!")
        );
    }

    #[test]
    #[should_panic(expected = "error_description")]
    fn description_with_quote() {
        let _ = BearerError::invalid_token().with_description("say \"hi\"");
    }

    #[test]
    #[should_panic(expected = "invalid Bearer realm")]
    fn realm_with_control() {
        let _ = BearerAuth::new("a\x01", |_: &str| async {
            Err::<String, _>(BearerError::invalid_token())
        });
    }
}
