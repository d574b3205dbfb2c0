//! [`Mount`]: applications under path prefixes.

use gateway_core::environ::InvalidPrefix;
use gateway_core::{Application, BoxApplication, Environ, Error, Response, RootPath, start};
use http::Method;

use crate::redirect;

/// Several applications under path prefixes, with a fallback — werkzeug's
/// `DispatcherMiddleware`, Rack's `URLMap`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{Environ, fn_app, start};
/// use gateway_middleware::Mount;
///
/// fn echo(name: &'static str) -> impl gateway_core::Application {
///     fn_app(move |env: Environ| async move {
///         let body = format!("{name} {} {}", env.script_name(), env.path_info());
///         start(200, [("content-type", "text/plain")]).body(body)
///     })
/// }
///
/// let app = Mount::new()
///     .mount("/app", echo("app"))
///     .mount("/api/v1", echo("v1"))
///     .mount("/docs/", echo("docs"))
///     .fallback(echo("site"));
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/app/x").send().await.text(), "app /app /x");
/// assert_eq!(client.get("/api/v1").send().await.text(), "v1 /api/v1 ");
/// assert_eq!(client.get("/apple").send().await.text(), "site  /apple");
/// // Mounted as `/docs/`: that is its root, and `/docs` leads there.
/// let res = client.get("/docs?page=2").send().await;
/// assert_eq!((res.status().as_u16(), res.header("location")), (301, Some("/docs/?page=2")));
/// # });
/// ```
///
/// Each request goes to the application mounted at the longest prefix that
/// matches its `path_info`, and the prefix moves from `path_info` to the
/// end of `script_name` ([`Environ::mount`]). The application then sees
/// paths relative to where it is mounted, and [`Environ::url`] (which joins
/// `script_name` and `path_info`) still rebuilds the URL the client used,
/// so links and redirects built from `script_name` point back under the
/// prefix. A request no prefix matches goes to the fallback, unchanged.
///
/// # Matching
///
/// - **On segment boundaries only.** `/app` matches `/app` and `/app/x`,
///   not `/apple`. `/app/` leaves `path_info` `/`.
/// - **Exactly the prefix.** Mounted as `/app`, a request for `/app`
///   reaches the application with an empty `path_info`; the application
///   decides what that means. Mounted as **`/app/`**, the application's
///   root is `/app/`: a `GET` or `HEAD` for exactly `/app` is redirected
///   there (`301`, the query kept, `Location` built from `script_name` so
///   it is right under an outer mount or a proxy's prefix), as
///   [`StaticFiles`](crate::StaticFiles) does for a directory, and
///   relative links in the application's pages resolve under it. Other
///   methods are not redirected — browsers turn a `POST` followed through
///   a `301` into a `GET` — and reach the application with an empty
///   `path_info`, as when mounted as `/app`.
/// - **Longest prefix first.** With `/api` and `/api/v1` both mounted,
///   `/api/v1/users` goes to `/api/v1`, `/api/v2` to `/api`.
/// - **Raw bytes.** The prefix is compared with the path as the client
///   sent it, still percent-encoded, byte for byte: no decoding, no case
///   folding of `%xx` escapes, no `.`/`..` normalisation. So `/app%2Fx`
///   (an encoded slash is not a segment boundary) and `/%61pp` (an encoded
///   `a`) do not match `/app`, and `/app/../admin` is `/app`'s to handle.
///   Mount a prefix in the form clients send it: unreserved characters
///   unencoded and other bytes as `%` with uppercase hex (RFC 3986 §2.1,
///   what browsers send). Nothing is decoded here, so nothing is decoded
///   twice; an application that decodes `path_info` sees `%2F` as part of
///   a segment.
/// - **Valid prefixes only**, checked when mounted: an absolute path of
///   `pchar` segments with no empty, `.` or `..` segment and no encoded
///   `/`, `\` or NUL — the rules of a [`RootPath`] (one trailing `/` is
///   dropped: `/app` and `/app/` are the same prefix). `/` is not a
///   prefix: use [`Mount::fallback`].
///
/// Mounts nest: a `Mount` mounted in a `Mount` moves its own prefixes
/// after the outer one's.
///
/// # Lifecycle
///
/// [`startup`](Application::startup) runs every application's `startup` in
/// matching order (longest prefix first), then the fallback's; if one
/// fails, those already started are shut down (in reverse) and its error
/// is returned. [`shutdown`](Application::shutdown) shuts them all down in
/// reverse order.
///
/// # Cost
///
/// Applications are boxed ([`BoxApplication`]) so they may be of different
/// types: one boxed future per request, plus one prefix comparison per
/// mount until one matches. No runtime of its own: it runs wherever the
/// applications it holds run.
#[derive(Clone)]
pub struct Mount {
    /// Longest prefix first.
    routes: Vec<Route>,
    fallback: BoxApplication,
}

#[derive(Clone)]
struct Route {
    prefix: RootPath,
    /// Mounted as `/app/`: a `GET` or `HEAD` of `/app` is redirected there.
    slash: bool,
    app: BoxApplication,
}

/// Why [`Mount::try_mount`] refuses a prefix.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MountError {
    /// Not a valid path prefix.
    #[error("invalid mount prefix {prefix:?}: {source}")]
    InvalidPrefix {
        /// The prefix as given.
        prefix: String,
        /// Why it is not valid.
        source: InvalidPrefix,
    },
    /// `/` (or empty): everything not mounted elsewhere goes to the
    /// fallback.
    #[error("cannot mount at {0:?}: use Mount::fallback for the root")]
    Root(String),
    /// Another application is already mounted there (with or without a
    /// trailing `/`).
    #[error("{0:?} is already mounted")]
    Duplicate(String),
}

impl Default for Mount {
    /// The same as [`Mount::new`].
    fn default() -> Self {
        Mount::new()
    }
}

impl Mount {
    /// Nothing mounted; the fallback answers `404 Not Found`.
    pub fn new() -> Mount {
        Mount {
            routes: Vec::new(),
            fallback: BoxApplication::new(NotFound),
        }
    }

    /// Mounts `app` at `prefix`; `/app/` makes `/app/` its root (see
    /// [Matching](Mount#matching)).
    ///
    /// # Panics
    ///
    /// If [`try_mount`](Mount::try_mount) would fail: a prefix is part of
    /// the program, and a wrong one is a bug to hear about at startup
    /// (like axum's routes and `HeaderValue::from_static`).
    pub fn mount<A: Application>(self, prefix: &str, app: A) -> Mount {
        match self.try_mount(prefix, app) {
            Ok(mount) => mount,
            Err(e) => panic!("{e}"),
        }
    }

    /// Mounts `app` at `prefix`, for prefixes that come from
    /// configuration.
    ///
    /// # Errors
    ///
    /// If `prefix` is `/` or empty, is not a valid prefix (see
    /// [Matching](Mount#matching)), or is already mounted (after dropping a
    /// trailing `/`).
    ///
    /// ```
    /// use gateway_core::fn_app;
    /// use gateway_middleware::{Mount, MountError};
    ///
    /// let app = || fn_app(|_| async { gateway_core::start(204, gateway_core::response::NO_HEADERS).empty() });
    /// assert!(matches!(
    ///     Mount::new().try_mount("/a/../b", app()),
    ///     Err(MountError::InvalidPrefix { .. })
    /// ));
    /// assert!(matches!(Mount::new().try_mount("/", app()), Err(MountError::Root(_))));
    /// let mount = Mount::new().try_mount("/a", app()).unwrap();
    /// assert!(matches!(mount.try_mount("/a/", app()), Err(MountError::Duplicate(_))));
    /// ```
    pub fn try_mount<A: Application>(mut self, prefix: &str, app: A) -> Result<Mount, MountError> {
        if prefix.trim_end_matches('/').is_empty() {
            return Err(MountError::Root(prefix.to_owned()));
        }
        let root = RootPath::new(prefix).map_err(|source| MountError::InvalidPrefix {
            prefix: prefix.to_owned(),
            source,
        })?;
        if self.routes.iter().any(|route| route.prefix == root) {
            return Err(MountError::Duplicate(root.as_str().to_owned()));
        }
        // Kept sorted, longest first, so the first match is the longest.
        // Equal lengths cannot both match one path on a segment boundary.
        let at = self
            .routes
            .partition_point(|route| route.prefix.as_str().len() >= root.as_str().len());
        let route = Route {
            prefix: root,
            slash: prefix.ends_with('/'),
            app: BoxApplication::new(app),
        };
        self.routes.insert(at, route);
        Ok(self)
    }

    /// Sets the application for requests no prefix matches; it sees them
    /// unchanged. Defaults to a `404 Not Found` with a plain-text body.
    pub fn fallback<A: Application>(mut self, app: A) -> Mount {
        self.fallback = BoxApplication::new(app);
        self
    }

    /// The mounted prefixes, longest first, without a trailing `/`.
    ///
    /// ```
    /// use gateway_core::response::NO_HEADERS;
    /// use gateway_core::{fn_app, start};
    /// use gateway_middleware::Mount;
    ///
    /// let app = || fn_app(|_| async { start(204, NO_HEADERS).empty() });
    /// let mount = Mount::new().mount("/api", app()).mount("/api/v1/", app());
    /// assert_eq!(mount.prefixes().collect::<Vec<_>>(), ["/api/v1", "/api"]);
    /// ```
    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.routes.iter().map(|route| route.prefix.as_str())
    }

    fn apps(&self) -> impl DoubleEndedIterator<Item = &BoxApplication> {
        self.routes
            .iter()
            .map(|route| &route.app)
            .chain(std::iter::once(&self.fallback))
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mount")
            .field("prefixes", &self.prefixes().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Application for Mount {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        for route in &self.routes {
            if env.mount(route.prefix.as_str()) {
                if route.slash
                    && env.path_info().is_empty()
                    && (env.method() == Method::GET || env.method() == Method::HEAD)
                {
                    return Ok(redirect::add_slash(&env));
                }
                return route.app.call(env).await;
            }
        }
        self.fallback.call(env).await
    }

    async fn startup(&self) -> Result<(), Error> {
        for (started, app) in self.apps().enumerate() {
            if let Err(e) = app.startup().await {
                // The server will not call `shutdown` after a failed
                // `startup`, so undo what did start.
                for route in self.routes[..started].iter().rev() {
                    route.app.shutdown().await;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    async fn shutdown(&self) {
        for app in self.apps().rev() {
            app.shutdown().await;
        }
    }
}

/// The default fallback.
struct NotFound;

impl Application for NotFound {
    async fn call(&self, _env: Environ) -> Result<Response, Error> {
        start(404, [("content-type", "text/plain; charset=utf-8")]).body("Not Found")
    }
}
