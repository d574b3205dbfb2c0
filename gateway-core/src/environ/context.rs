//! [`GatewayContext`]: what an environ carries that an `http::Request`
//! has no place for, and the conversions that use it.
//!
//! ```
//! use gateway_core::environ::GatewayContext;
//! use gateway_core::{Body, Environ};
//!
//! let mut env = Environ::from_request(http::Request::get("/api/users").body(Body::empty()).unwrap());
//! env.mount("/api");
//! let req = env.into_request();
//! let context = req.extensions().get::<GatewayContext>().unwrap();
//! assert_eq!((context.script_name(), req.uri().path()), ("/api".into(), "/users"));
//! let env = Environ::from_request(req);
//! assert_eq!((env.script_name(), env.path_info()), ("/api", "/users"));
//! ```
//!
//! Used by the tower bridge (feature `tower`) to host services outside the
//! gateway interface; adapters never convert.

use std::borrow::Cow;

use http::{Request, Uri};

use super::{ConnInfo, Environ, Locals, RootPath};
use crate::body_impl::Body;

impl Environ {
    /// Builds an environ from an `http::Request`. If the request carries a
    /// [`GatewayContext`] extension (it was made by [`Environ::into_request`],
    /// perhaps changed by tower layers since), the extension is removed and
    /// the gateway context is restored from it as
    /// [`Environ::from_parts_and_context`] describes; otherwise it is empty.
    pub fn from_request(req: Request<Body>) -> Environ {
        let (mut parts, body) = req.into_parts();
        match parts.extensions.remove::<GatewayContext>() {
            Some(context) => Environ::from_parts_and_context(parts, body, context),
            None => Environ::from_parts(parts, body, ConnInfo::default()),
        }
    }

    /// The inverse of [`Environ::into_parts`]: restores the connection
    /// info, the root path and the `script_name` / `path_info` split.
    ///
    /// The head's URI is read relative to the mount point, as
    /// [`into_parts`](Environ::into_parts) left it (`path_info?query`):
    ///
    /// - unchanged, the request-target the client sent comes back exactly
    ///   ([`GatewayContext::original_uri`]), so `script_name`, `path_info`,
    ///   `%2F` and the query are as they were;
    /// - changed by a layer in between, a path starting with `/` is put
    ///   back under the mounted part of `script_name` (a layer that
    ///   rewrites `/x` to `/y` in an application mounted at `/app` makes
    ///   the path `/app/y`), with the layer's query, scheme and authority;
    /// - changed to anything else (`*`, an empty path), the mounted part
    ///   is dropped and `script_name` is just the root path.
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    ///
    /// let mut env = Environ::from_request(http::Request::get("/app/x?q").body(Body::empty()).unwrap());
    /// env.mount("/app");
    /// let (mut parts, body, context) = env.into_parts();
    /// assert_eq!(parts.uri, "/x?q");
    /// parts.uri = "/y?r".parse().unwrap(); // a rewriting layer
    /// let env = Environ::from_parts_and_context(parts, body, context);
    /// assert_eq!((env.script_name(), env.path_info(), env.query()), ("/app", "/y", "r"));
    /// ```
    pub fn from_parts_and_context(
        mut parts: http::request::Parts,
        body: Body,
        context: GatewayContext,
    ) -> Environ {
        let GatewayContext {
            conn,
            root,
            original_uri,
            mount,
            locals,
        } = context;
        let mut env_mount = 0;
        if mount > 0 {
            if let Some(uri) = restore_uri(&parts.uri, original_uri, mount) {
                parts.uri = uri;
                env_mount = mount;
            }
        }
        let mut env = Environ::from_parts(parts, body, conn);
        env.script.mount = env_mount;
        env.script.root = root;
        env.locals = locals;
        env
    }

    /// Converts into an `http::Request` for a service outside the gateway
    /// interface (a tower service or layer, an axum `Router`): the head as
    /// [`Environ::into_parts`] gives it, with the gateway context in one
    /// [`GatewayContext`] extension, so that [`Environ::from_request`]
    /// restores them losslessly.
    ///
    /// The URI is `path_info?query`, as axum's `nest_service` gives a
    /// nested service: a service mounted at `/app` sees `/x` for `/app/x`
    /// (and `/` for `/app`). Read the prefix with
    /// [`GatewayContext::script_name`] and the request-target as the client
    /// sent it with [`GatewayContext::original_uri`].
    ///
    /// Costs one extension insert (the extension map's allocations when it
    /// was empty) and, when `script_name` has a mounted part, one
    /// allocation for the rewritten URI. Adapters never call it.
    ///
    /// ```
    /// use gateway_core::environ::GatewayContext;
    /// use gateway_core::{Body, Environ, RootPath};
    ///
    /// let req = http::Request::get("/app/a%2Fb?x=1").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_root_path(Some(RootPath::from_static("/outer")));
    /// env.mount("/app");
    ///
    /// let req = env.into_request();
    /// assert_eq!(req.uri(), "/a%2Fb?x=1");
    /// let context = req.extensions().get::<GatewayContext>().unwrap();
    /// assert_eq!(context.script_name(), "/outer/app");
    /// assert_eq!(context.original_uri(), "/app/a%2Fb?x=1");
    ///
    /// let env = Environ::from_request(req);
    /// assert_eq!((env.script_name(), env.path_info()), ("/outer/app", "/a%2Fb"));
    /// assert!(env.extensions().get::<GatewayContext>().is_none());
    /// ```
    pub fn into_request(self) -> Request<Body> {
        let (mut parts, body, context) = self.into_parts();
        parts.extensions.insert(context);
        Request::from_parts(parts, body)
    }

    /// Splits into the request head as a hosted service sees it (the URI
    /// rewritten to `path_info?query` when `script_name` has a mounted
    /// part, see [`Environ::into_request`]), the body, and the gateway
    /// context. [`Environ::from_parts_and_context`] is the inverse.
    pub fn into_parts(self) -> (http::request::Parts, Body, GatewayContext) {
        let Environ {
            mut parts,
            body,
            conn,
            script,
            locals,
        } = self;
        let original_uri = parts.uri.clone();
        let mut mount = script.mount;
        if mount > 0 {
            match hosted_uri(&parts.uri, mount) {
                Some(uri) => parts.uri = uri,
                // Not reached for a URI with a path; keeping the target
                // whole and dropping the split loses no byte of it.
                None => mount = 0,
            }
        }
        let context = GatewayContext {
            conn,
            root: script.root,
            original_uri,
            mount,
            locals,
        };
        (parts, body.into_inner(), context)
    }
}

/// `uri` with its path replaced by the part after the first `mount`
/// bytes (`/` when nothing is left): what a service mounted there sees.
fn hosted_uri(uri: &Uri, mount: usize) -> Option<Uri> {
    let info = uri.path().get(mount..)?;
    let path = if info.is_empty() { "/" } else { info };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query(path, uri.query())?);
    Uri::from_parts(parts).ok()
}

/// The request-target [`hosted_uri`] was given, from `current` (the
/// hosted URI, perhaps rewritten by a layer). `None` when `current` has no
/// path a mount point can precede.
fn restore_uri(current: &Uri, original: Uri, mount: usize) -> Option<Uri> {
    let (mounted, info) = original.path().split_at_checked(mount)?;
    let handed = if info.is_empty() { "/" } else { info };
    let path = current.path();
    let full: Cow<'_, str> = if path == handed {
        Cow::Borrowed(original.path())
    } else if path.starts_with('/') {
        Cow::Owned([mounted, path].concat())
    } else {
        return None;
    };
    if *full == *original.path()
        && current.query() == original.query()
        && current.scheme() == original.scheme()
        && current.authority() == original.authority()
    {
        return Some(original);
    }
    let mut parts = current.clone().into_parts();
    parts.path_and_query = Some(path_and_query(&full, current.query())?);
    Uri::from_parts(parts).ok()
}

fn path_and_query(path: &str, query: Option<&str>) -> Option<http::uri::PathAndQuery> {
    let mut joined = String::with_capacity(path.len() + query.map_or(0, |q| q.len() + 1));
    joined.push_str(path);
    if let Some(query) = query {
        joined.push('?');
        joined.push_str(query);
    }
    http::uri::PathAndQuery::try_from(joined).ok()
}

/// The gateway context an `http::Request` carries after
/// [`Environ::into_request`]: one extension, inserted only on that
/// conversion (never by an adapter) and removed by
/// [`Environ::from_request`].
///
/// It holds what the `http` types have no place for: the connection
/// info, the root path, and the `script_name` / `path_info` split, kept as
/// the request-target the client sent plus the length of its mounted part.
/// A service hosted in the gateway (an axum `Router`) reads its mount
/// prefix here, since its URI is only `path_info?query`:
///
/// ```
/// use gateway_core::environ::GatewayContext;
/// use gateway_core::{Body, Environ};
///
/// let mut env = Environ::from_request(http::Request::get("/api/users").body(Body::empty()).unwrap());
/// env.mount("/api");
/// let req = env.into_request();
/// let context = req.extensions().get::<GatewayContext>().unwrap();
/// assert_eq!((context.script_name(), req.uri().path()), ("/api".into(), "/users"));
/// ```
#[derive(Clone, Debug)]
pub struct GatewayContext {
    conn: ConnInfo,
    root: Option<RootPath>,
    /// The request-target as received.
    original_uri: Uri,
    /// How many bytes of `original_uri`'s path are the mounted part of
    /// `script_name`.
    mount: usize,
    locals: Locals,
}

impl GatewayContext {
    /// The connection info.
    pub fn conn(&self) -> &ConnInfo {
        &self.conn
    }

    /// The external prefix.
    pub fn root_path(&self) -> Option<&RootPath> {
        self.root.as_ref()
    }

    /// The part of the request path that belongs to `script_name` (after
    /// the external prefix), raw.
    pub fn mounted(&self) -> &str {
        &self.original_uri.path()[..self.mount]
    }

    /// `SCRIPT_NAME`: the external prefix followed by the mounted part,
    /// raw; empty, or starts with `/` and does not end with `/`. Borrows
    /// unless both parts are non-empty.
    pub fn script_name(&self) -> Cow<'_, str> {
        match &self.root {
            None => Cow::Borrowed(self.mounted()),
            Some(root) if self.mount == 0 => Cow::Borrowed(root.as_str()),
            Some(root) => Cow::Owned([root.as_str(), self.mounted()].concat()),
        }
    }

    /// The environ's [`Locals`] (a session handle put there by a
    /// middleware in front of the bridge).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gateway_core::environ::GatewayContext;
    /// use gateway_core::{Body, Environ};
    ///
    /// let mut env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// env.locals_mut().insert(Arc::new("shared"));
    /// let req = env.into_request();
    /// let context = req.extensions().get::<GatewayContext>().unwrap();
    /// assert_eq!(context.locals().get::<&str>(), Some(&"shared"));
    /// assert_eq!(Environ::from_request(req).locals().get::<&str>(), Some(&"shared"));
    /// ```
    pub fn locals(&self) -> &Locals {
        &self.locals
    }

    /// The request-target as the client sent it (axum's `OriginalUri`):
    /// `script_name`'s mounted part, `path_info` and the query.
    pub fn original_uri(&self) -> &Uri {
        &self.original_uri
    }
}
