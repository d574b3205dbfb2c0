//! [`RequireLogin`]: only requests with an [`Identity`] reach the
//! application; browsers are sent to the login page, other clients get
//! 401.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, fn_app, start};
//! use gateway_middleware::auth::RequireLogin;
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("secret") })
//!     .with(RequireLogin::new("/login")?);
//! let client = TestClient::new(app);
//!
//! let res = client.get("/orders?page=2").header("accept", "text/html").send().await;
//! assert_eq!(res.status(), 303);
//! assert_eq!(res.header("location"), Some("/login?next=/orders%3Fpage%3D2"));
//!
//! let res = client.get("/orders").header("accept", "application/json").send().await;
//! assert_eq!(res.status(), 401);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;

use gateway_core::{Application, Environ, Error, Middleware, Response, start};
use http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION, VARY, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue};

use super::identity::Identity;
use super::next::{encode_query_value, safe_next_path};
use crate::header_list::{self, Quoting};

/// The middleware that lets only requests with an [`Identity`] (put there
/// by [`SessionAuth`](super::SessionAuth) or another auth middleware)
/// reach the application.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::RequireLogin;
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("secret") })
///     .with(RequireLogin::new("/login")?);
/// let client = TestClient::new(app);
///
/// let res = client.get("/orders?page=2").header("accept", "text/html").send().await;
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.header("location"), Some("/login?next=/orders%3Fpage%3D2"));
///
/// let res = client.get("/orders").header("accept", "application/json").send().await;
/// assert_eq!(res.status(), 401);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// Any other request is answered here:
///
/// - a browser — its `Accept` lists `text/html` with a non-zero `q` — gets
///   `303 See Other` to the login URL with `next=` the
///   percent-encoded path and query it asked for (script name included,
///   so it works under [`Mount`](crate::Mount)). A target that is not a
///   [safe path](super::safe_next_path) (a request for `//evil`, say) is
///   left out rather than passed on;
/// - any other client (an API call, `fetch`, `curl`) gets
///   `401 Unauthorized` with a [challenge](Self::challenge).
///
/// Both carry `Cache-Control: no-store` and `Vary: Accept`: a cache must
/// never serve them to someone logged in.
///
/// Wrap only what needs a login: the login page itself must stay outside
/// (or every visit to it is sent back to it), and so must anything that
/// answers requests browsers send without cookies, such as CORS
/// preflights.
///
/// The login URL is validated when it is configured:
///
/// ```
/// use gateway_middleware::auth::RequireLogin;
///
/// let require = RequireLogin::new("/account/login?lang=en")?;
/// assert!(RequireLogin::new("https://evil.example/login").is_err());
/// # let _ = require;
/// # Ok::<(), gateway_middleware::auth::InvalidLoginUrl>(())
/// ```
#[derive(Clone)]
pub struct RequireLogin {
    shared: Arc<Config>,
}

#[derive(Debug)]
struct Config {
    /// The login URL with `?` or `&` appended, ready for `next=`.
    prefix: String,
    challenge: HeaderValue,
}

impl RequireLogin {
    /// Sends browsers to `login_url`, a same-site path (with a query if
    /// needed, no fragment).
    ///
    /// The 401's challenge defaults to
    /// `WWW-Authenticate: Cookie realm="login", form-action="<path>"` (the
    /// scheme of the cookie-based authentication draft,
    /// draft-broyer-http-cookie-auth; RFC 9110 requires a 401 to carry a
    /// challenge).
    ///
    /// # Errors
    ///
    /// [`InvalidLoginUrl`] if `login_url` is not a
    /// [safe path](super::safe_next_path) or has a fragment.
    pub fn new(login_url: &str) -> Result<RequireLogin, InvalidLoginUrl> {
        if safe_next_path(login_url).is_none() || login_url.contains('#') {
            return Err(InvalidLoginUrl(login_url.to_owned()));
        }
        let path = login_url.split('?').next().unwrap_or(login_url);
        // A safe path has no `"` or `\`, so it quotes as it is.
        let challenge =
            HeaderValue::try_from(format!("Cookie realm=\"login\", form-action=\"{path}\""))
                .map_err(|_| InvalidLoginUrl(login_url.to_owned()))?;
        let mut prefix = login_url.to_owned();
        if !login_url.contains('?') {
            prefix.push('?');
        } else if !login_url.ends_with(['?', '&']) {
            prefix.push('&');
        }
        Ok(RequireLogin {
            shared: Arc::new(Config { prefix, challenge }),
        })
    }

    /// The `WWW-Authenticate` value of the 401 sent to non-browser
    /// clients, e.g. `Bearer realm="api"` when the API takes tokens.
    ///
    /// ```
    /// use http::HeaderValue;
    /// use gateway_middleware::auth::RequireLogin;
    ///
    /// let require = RequireLogin::new("/login")?
    ///     .challenge(HeaderValue::from_static(r#"Bearer realm="api""#));
    /// # let _ = require;
    /// # Ok::<(), gateway_middleware::auth::InvalidLoginUrl>(())
    /// ```
    pub fn challenge(self, value: HeaderValue) -> Self {
        RequireLogin {
            shared: Arc::new(Config {
                prefix: self.shared.prefix.clone(),
                challenge: value,
            }),
        }
    }

    /// The answer to a request without an identity.
    fn refuse(&self, env: &Environ) -> Result<Response, Error> {
        let common = [
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (VARY, HeaderValue::from_static("Accept")),
        ];
        if !accepts_html(env.headers()) {
            return start(
                401,
                common.into_iter().chain([
                    (WWW_AUTHENTICATE, self.shared.challenge.clone()),
                    (
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/plain; charset=utf-8"),
                    ),
                ]),
            )
            .body("Unauthorized: log in first.\n");
        }
        let mut target = String::with_capacity(
            env.script_name().len() + env.path_info().len() + env.query().len() + 1,
        );
        target.push_str(env.script_name());
        target.push_str(env.path_info());
        if !env.query().is_empty() {
            target.push('?');
            target.push_str(env.query());
        }
        let mut location = self.shared.prefix.clone();
        if safe_next_path(&target).is_some() {
            location.push_str("next=");
            encode_query_value(&target, &mut location);
        } else if location.ends_with(['?', '&']) {
            location.pop();
        }
        let location = HeaderValue::try_from(location).map_err(Error::new)?;
        start(303, common.into_iter().chain([(LOCATION, location)])).empty()
    }
}

/// Whether an `Accept` field lists `text/html` with a `q` above zero (an
/// invalid `q` makes the element count for nothing, RFC 9110 §12.4.2).
fn accepts_html(headers: &HeaderMap) -> bool {
    header_list::all_elements(headers.get_all(ACCEPT), Quoting::QuotedString)
        .filter_map(header_list::weighted)
        .any(|(media, q)| q > 0 && media.eq_ignore_ascii_case(b"text/html"))
}

impl fmt::Debug for RequireLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLogin")
            .field("login", &self.shared.prefix)
            .field("challenge", &self.shared.challenge)
            .finish()
    }
}

impl<A: Application> Middleware<A> for RequireLogin {
    type Output = RequireLoginApp<A>;

    fn wrap(&self, app: A) -> RequireLoginApp<A> {
        RequireLoginApp {
            app,
            require: self.clone(),
        }
    }
}

/// The application [`RequireLogin`] produces: the wrapped application,
/// reached only by requests with an [`Identity`].
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::auth::{RequireLogin, RequireLoginApp};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
/// let app: RequireLoginApp<_> = app.with(RequireLogin::new("/login")?);
/// # let _ = app;
/// # Ok::<(), gateway_middleware::auth::InvalidLoginUrl>(())
/// ```
pub struct RequireLoginApp<A> {
    app: A,
    require: RequireLogin,
}

impl<A: Application> Application for RequireLoginApp<A> {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        if Identity::of(&env).is_some() {
            return self.app.call(env).await;
        }
        self.require.refuse(&env)
    }

    async fn startup(&self) -> Result<(), Error> {
        self.app.startup().await
    }

    async fn shutdown(&self) {
        self.app.shutdown().await
    }
}

impl<A: fmt::Debug> fmt::Debug for RequireLoginApp<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireLoginApp")
            .field("app", &self.app)
            .field("require", &self.require)
            .finish()
    }
}

/// The login URL given to [`RequireLogin::new`] is not a same-site path
/// (see [`safe_next_path`](super::safe_next_path)) or has a fragment.
///
/// ```
/// use gateway_middleware::auth::RequireLogin;
///
/// let e = RequireLogin::new("//login").unwrap_err();
/// assert_eq!(e.to_string(), "invalid login URL \"//login\": it must be a same-site path without a fragment, such as /login");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLoginUrl(String);

impl fmt::Display for InvalidLoginUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid login URL {:?}: it must be a same-site path without a fragment, such as /login",
            self.0
        )
    }
}

impl std::error::Error for InvalidLoginUrl {}
