//! Protocol upgrades through the contract: HTTP/1.1 `Upgrade` answered with
//! 101, and HTTP/2 extended CONNECT (RFC 8441) answered with 200. The
//! application answers the switching response *with its handler inside*;
//! whoever commits the response runs the handler with the upgraded byte
//! stream.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::upgrade::{self, OnUpgrade, Upgraded};
//! use gateway_core::{driver, fn_app, start, Body, Environ, Error};
//! use http::HeaderMap;
//! use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
//!
//! // An echo protocol: whatever the client sends comes back.
//! let app = fn_app(|mut env: Environ| async move {
//!     let Some(upgrade) = env.upgrade() else {
//!         return start(426, [("upgrade", "echo"), ("connection", "upgrade")]).empty();
//!     };
//!     if upgrade.protocol() != "echo" {
//!         return start(400, [("content-type", "text/plain")]).body("unknown protocol");
//!     }
//!     Ok(upgrade.switch(HeaderMap::new(), |mut io: Upgraded| async move {
//!         let (mut r, mut w) = tokio::io::split(&mut io);
//!         let _ = tokio::io::copy(&mut r, &mut w).await;
//!     }))
//! });
//!
//! // What an adapter does (here over an in-memory pipe).
//! let (mut client, server) = tokio::io::duplex(1024);
//! let req = http::Request::get("/")
//!     .header("connection", "upgrade")
//!     .header("upgrade", "echo")
//!     .body(Body::empty())
//!     .unwrap();
//! let mut env = Environ::from_request(req);
//! env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
//! let Ok(mut res) = driver::commit(&app, env).await;
//! assert_eq!(res.status(), 101);
//! assert_eq!(res.headers()["upgrade"], "echo");
//! // ... write the 101, then run the handler:
//! let switch = upgrade::take_switch(&mut res).expect("a switching response");
//! let talk = async {
//!     client.write_all(b"hello").await.unwrap();
//!     let mut buf = [0; 5];
//!     client.read_exact(&mut buf).await.unwrap();
//!     assert_eq!(&buf, b"hello");
//!     drop(client); // the handler sees EOF and returns
//! };
//! tokio::join!(switch, talk);
//! # });
//! ```
//!
//! # Why the handler rides in the response
//!
//! The common Rust shape (axum's) is: the application takes the server's
//! upgrade future, spawns a task that awaits it, and answers 101. That
//! needs a runtime in the application, which this core does not have, and
//! the spawned task escapes the server: it cannot be told that the server
//! is shutting down, waited for during the drain, or cancelled after it.
//!
//! Here the application returns [`Upgrade::switch`]'s response, which
//! carries the handler in its extensions. The adapter commits the response
//! (writes the 101), calls [`take_switch`] and runs the [`Switch`] — the
//! upgrade future followed by the handler — as a task of its own. So the
//! adapter owns the upgraded connection: it hands the handler a
//! [`Shutdown`] signal ([`Upgraded::shutdown`]), waits for it up to its
//! drain deadline and then drops it. This is ASGI's shape, where the server
//! runs the WebSocket coroutine, and it keeps the application free of any
//! runtime: a handler is a plain future.
//!
//! Because the handler travels in the response's extensions, middleware
//! that does not know about upgrades passes it through untouched, as it
//! passes any extension: a middleware that edits headers keeps it, one
//! that replaces the response drops it (and the handler never runs). The
//! [tower bridge](crate::tower) carries it both ways, as it carries every
//! request and response extension.
//!
//! # The rules
//!
//! - An adapter calls [`Environ::set_upgrade`] only for a request that
//!   really is an upgrade: HTTP/1.1 with an `Upgrade` field, or an HTTP/2
//!   CONNECT with the `:protocol` pseudo-header. Adapters that cannot
//!   switch protocols (CGI, FastCGI) never call it; the application's
//!   [`Environ::upgrade`] is then `None` and it answers without switching
//!   (426 Upgrade Required, or whatever suits it).
//! - The driver allows a 101 only in answer to an HTTP/1.1 request with
//!   `Upgrade`, and keeps `Upgrade` and `Connection: upgrade` on it
//!   ([rules 2 and 3](crate::driver#the-commit-rules)); a 2xx answer to
//!   CONNECT loses its body and `Content-Length` (rule 4).
//! - [`take_switch`] returns the handler only when the committed status is
//!   the switching one (101 for HTTP/1.1, 2xx for extended CONNECT). If a
//!   middleware or the driver replaced the status, the switch is dropped
//!   and the handler never runs.
//! - [`Lint`](crate::lint) reports a switching status without a handler
//!   when the application took the upgrade (`switch-without-handler`), and
//!   a handler on a response that does not switch
//!   (`handler-without-switch`).
//!
//! # Cost
//!
//! Nothing for requests that are not upgrades: the upgrade rides in the
//! environ's extensions, which the adapter fills only for upgrade requests.
//! An upgrade costs a few allocations (the boxed futures and handler).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use http::header::{CONNECTION, HeaderValue, UPGRADE};
use http::{HeaderMap, StatusCode};

use crate::body_impl::Body;
use crate::environ_impl::Environ;
use crate::error::BoxError;
use crate::response_impl::Response;

mod io;

pub use io::{Shutdown, Upgraded};

type UpgradeFuture = Pin<Box<dyn Future<Output = Result<Upgraded, BoxError>> + Send + 'static>>;
type HandlerFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
type Handler = Box<dyn FnOnce(Upgraded) -> HandlerFuture + Send + 'static>;

/// Which kind of upgrade a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// HTTP/1.1 `Upgrade`, answered with 101.
    Http1,
    /// HTTP/2 extended CONNECT (RFC 8441), answered with a 2xx.
    ExtendedConnect,
}

impl Kind {
    fn switches(self, status: StatusCode) -> bool {
        match self {
            Kind::Http1 => status == StatusCode::SWITCHING_PROTOCOLS,
            Kind::ExtendedConnect => status.is_success(),
        }
    }
}

/// The adapter's promise of an upgraded connection, put into an upgrade
/// request's environ with [`Environ::set_upgrade`]: a future that resolves
/// to the [`Upgraded`] stream once the switching response has been
/// written, and the kind of upgrade.
///
/// ```
/// use gateway_core::upgrade::{OnUpgrade, Upgraded};
///
/// let (_client, server) = tokio::io::duplex(64);
/// let on = OnUpgrade::http1(async move { Ok(Upgraded::new(server)) });
/// assert!(!on.is_extended_connect());
/// ```
pub struct OnUpgrade {
    future: UpgradeFuture,
    kind: Kind,
    /// The `:protocol` of an extended CONNECT; an HTTP/1.1 upgrade's is
    /// read from the `Upgrade` field when the application takes it.
    protocol: Option<Box<str>>,
}

impl OnUpgrade {
    /// The upgrade of an HTTP/1.1 request with an `Upgrade` field; the
    /// protocol the application sees is that field's value. `future`
    /// resolves to the connection once the 101 has been written (an error
    /// if the connection ended first).
    ///
    /// ```
    /// use gateway_core::upgrade::OnUpgrade;
    ///
    /// // An adapter whose connection is already gone.
    /// let on = OnUpgrade::http1(async { Err("connection closed".into()) });
    /// # let _ = on;
    /// ```
    pub fn http1<F>(future: F) -> OnUpgrade
    where
        F: Future<Output = Result<Upgraded, BoxError>> + Send + 'static,
    {
        OnUpgrade {
            future: Box::pin(future),
            kind: Kind::Http1,
            protocol: None,
        }
    }

    /// The upgrade of an HTTP/2 extended CONNECT request (RFC 8441):
    /// `protocol` is its `:protocol` pseudo-header (`websocket`). `future`
    /// resolves to the stream once the 2xx has been sent.
    ///
    /// ```
    /// use gateway_core::upgrade::{OnUpgrade, Upgraded};
    ///
    /// let (_client, server) = tokio::io::duplex(64);
    /// let on = OnUpgrade::extended_connect("websocket", async move { Ok(Upgraded::new(server)) });
    /// assert!(on.is_extended_connect());
    /// ```
    pub fn extended_connect<F>(protocol: &str, future: F) -> OnUpgrade
    where
        F: Future<Output = Result<Upgraded, BoxError>> + Send + 'static,
    {
        OnUpgrade {
            future: Box::pin(future),
            kind: Kind::ExtendedConnect,
            protocol: Some(protocol.into()),
        }
    }

    /// Adapter side: what [`Environ::set_upgrade`] does, done on the
    /// request head's extensions before the environ is built from it — for
    /// an adapter that would otherwise have to touch the environ between
    /// building it and handing it to the driver (gateway-hyper does this:
    /// the environ then moves once, and requests that are not upgrades pay
    /// nothing).
    ///
    /// ```
    /// use gateway_core::upgrade::{OnUpgrade, Upgraded};
    /// use gateway_core::{Body, ConnInfo, Environ};
    ///
    /// let req = http::Request::get("/").header("upgrade", "echo").body(()).unwrap();
    /// let (mut parts, ()) = req.into_parts();
    /// let (_client, server) = tokio::io::duplex(64);
    /// OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }).insert_into(&mut parts.extensions);
    /// let mut env = Environ::from_parts(parts, Body::empty(), ConnInfo::default());
    /// assert_eq!(env.upgrade().unwrap().protocol(), "echo");
    /// ```
    pub fn insert_into(self, extensions: &mut http::Extensions) {
        extensions.insert(UpgradeSlot(Arc::new(Mutex::new(Some(self)))));
    }

    /// Whether this is an extended CONNECT (else an HTTP/1.1 upgrade).
    ///
    /// ```
    /// use gateway_core::upgrade::OnUpgrade;
    ///
    /// let on = OnUpgrade::extended_connect("websocket", async { Err("gone".into()) });
    /// assert!(on.is_extended_connect());
    /// ```
    pub fn is_extended_connect(&self) -> bool {
        self.kind == Kind::ExtendedConnect
    }
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade")
            .field("kind", &self.kind)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// The environ extension holding the adapter's [`OnUpgrade`] until the
/// application takes it. Shared (not moved) so that extensions stay
/// `Clone`, and so that [`Lint`](crate::lint) can see whether it was taken.
#[derive(Clone)]
pub(crate) struct UpgradeSlot(Arc<Mutex<Option<OnUpgrade>>>);

impl UpgradeSlot {
    /// Whether the application took the upgrade.
    pub(crate) fn is_taken(&self) -> bool {
        lock(&self.0).is_none()
    }

    fn take(&self) -> Option<OnUpgrade> {
        lock(&self.0).take()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Environ {
    /// Adapter side: marks this request as an upgrade the adapter can
    /// carry out. Call it only for a request that really is one — HTTP/1.1
    /// with an `Upgrade` field, or an HTTP/2 CONNECT with `:protocol` — and
    /// only if the adapter runs the handler of the response afterwards
    /// ([`take_switch`]).
    ///
    /// Stored in the extensions (one allocation): requests that are not
    /// upgrades pay nothing. [`OnUpgrade::insert_into`] does the same on a
    /// request head before the environ is built.
    ///
    /// ```
    /// use gateway_core::upgrade::{OnUpgrade, Upgraded};
    /// use gateway_core::{Body, Environ};
    ///
    /// let req = http::Request::get("/chat").header("upgrade", "websocket").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// let (_client, server) = tokio::io::duplex(64);
    /// env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    /// assert_eq!(env.upgrade().unwrap().protocol(), "websocket");
    /// ```
    pub fn set_upgrade(&mut self, on: OnUpgrade) {
        on.insert_into(self.extensions_mut());
    }

    /// Application side: takes the upgrade, to answer with
    /// [`Upgrade::switch`]. `None` when the request is not an upgrade, when
    /// the adapter cannot switch protocols (CGI, FastCGI), or when it was
    /// taken already; the application then answers without switching (426
    /// Upgrade Required, 400).
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    ///
    /// // No adapter offered an upgrade.
    /// let req = http::Request::get("/chat").header("upgrade", "websocket").body(Body::empty()).unwrap();
    /// assert!(Environ::from_request(req).upgrade().is_none());
    /// ```
    pub fn upgrade(&mut self) -> Option<Upgrade> {
        let on = self.extensions().get::<UpgradeSlot>()?.take()?;
        let protocol = match on.protocol {
            Some(protocol) => protocol,
            None => self
                .headers()
                .get(UPGRADE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .into(),
        };
        Some(Upgrade {
            future: on.future,
            kind: on.kind,
            protocol,
        })
    }
}

/// The application's handle on an upgrade, from [`Environ::upgrade`]:
/// the protocol asked for, and [`switch`](Upgrade::switch) to answer.
/// Dropping it refuses the upgrade (answer with any other response).
///
/// ```
/// use gateway_core::upgrade::{OnUpgrade, Upgraded};
/// use gateway_core::{Body, Environ};
///
/// let req = http::Request::get("/").header("upgrade", "echo").body(Body::empty()).unwrap();
/// let mut env = Environ::from_request(req);
/// let (_client, server) = tokio::io::duplex(64);
/// env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
/// let upgrade = env.upgrade().unwrap();
/// assert_eq!((upgrade.protocol(), upgrade.is_extended_connect()), ("echo", false));
/// ```
pub struct Upgrade {
    future: UpgradeFuture,
    kind: Kind,
    protocol: Box<str>,
}

impl Upgrade {
    /// The protocol the client asked for: the `Upgrade` field's value for
    /// HTTP/1.1 (as sent; it may list several, `"websocket"`, `"h2c,
    /// foo/2"`), the `:protocol` pseudo-header for extended CONNECT.
    ///
    /// ```
    /// use gateway_core::upgrade::OnUpgrade;
    /// use gateway_core::{Body, Environ};
    ///
    /// let req = http::Request::get("/").header("upgrade", "h2c, echo").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_upgrade(OnUpgrade::http1(async { Err("not in this example".into()) }));
    /// let up = env.upgrade().unwrap();
    /// assert!(up.protocol().split(',').any(|p| p.trim() == "echo"));
    /// ```
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// Whether the request is an HTTP/2 extended CONNECT (answered with
    /// 200) rather than an HTTP/1.1 upgrade (answered with 101).
    ///
    /// ```
    /// use gateway_core::upgrade::OnUpgrade;
    /// use gateway_core::{Body, Environ};
    ///
    /// let req = http::Request::connect("https://example.com/chat")
    ///     .version(http::Version::HTTP_2)
    ///     .body(Body::empty())
    ///     .unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_upgrade(OnUpgrade::extended_connect("websocket", async { Err("gone".into()) }));
    /// let up = env.upgrade().unwrap();
    /// assert!(up.is_extended_connect());
    /// assert_eq!(up.protocol(), "websocket");
    /// ```
    pub fn is_extended_connect(&self) -> bool {
        self.kind == Kind::ExtendedConnect
    }

    /// The switching response, with `handler` inside: after the adapter
    /// has written the response, it calls `handler` with the upgraded
    /// stream and runs the future it returns to its end.
    ///
    /// For HTTP/1.1 the response is `101 Switching Protocols` with
    /// `Connection: upgrade` and `Upgrade` — `headers`' own `Upgrade` if it
    /// has one (choose one protocol of a list), else the requested
    /// protocol. For extended CONNECT it is `200 OK` (HTTP/2 has no
    /// connection-specific fields: any in `headers` are removed by the
    /// driver). `headers` are added to it (`Sec-WebSocket-Accept`). The
    /// body is empty.
    ///
    /// The handler runs in the adapter's task, after the commit; it should
    /// watch [`Upgraded::shutdown`] to finish when the server drains. It is
    /// dropped (cancelled) when the drain deadline passes, and never runs
    /// if the response does not go out with the switching status (a
    /// middleware replaced it, or the driver refused it).
    ///
    /// ```
    /// use gateway_core::upgrade::{OnUpgrade, Upgraded};
    /// use gateway_core::{Body, Environ};
    /// use http::HeaderMap;
    ///
    /// let req = http::Request::get("/").header("upgrade", "echo").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// let (_client, server) = tokio::io::duplex(64);
    /// env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-echo-version", "1".parse().unwrap());
    /// let res = env.upgrade().unwrap().switch(headers, |_io: Upgraded| async {});
    /// assert_eq!(res.status(), 101);
    /// assert_eq!(res.headers()["connection"], "upgrade");
    /// assert_eq!(res.headers()["upgrade"], "echo");
    /// assert_eq!(res.headers()["x-echo-version"], "1");
    /// ```
    pub fn switch<F, Fut>(self, headers: HeaderMap, handler: F) -> Response
    where
        F: FnOnce(Upgraded) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Upgrade {
            future,
            kind,
            protocol,
        } = self;
        let mut res = Response::new(Body::empty());
        *res.headers_mut() = headers;
        match kind {
            Kind::Http1 => {
                *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                if !res.headers().contains_key(UPGRADE) {
                    // It came from a header value, so it is one.
                    if let Ok(value) = HeaderValue::from_str(&protocol) {
                        res.headers_mut().insert(UPGRADE, value);
                    }
                }
                res.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("upgrade"));
            }
            Kind::ExtendedConnect => *res.status_mut() = StatusCode::OK,
        }
        let handler: Handler = Box::new(move |io| Box::pin(handler(io)));
        let pending = PendingSwitch {
            future,
            handler,
            kind,
            protocol,
        };
        res.extensions_mut()
            .insert(SwitchSlot(Arc::new(Mutex::new(Some(pending)))));
        res
    }
}

impl fmt::Debug for Upgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgrade")
            .field("kind", &self.kind)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

struct PendingSwitch {
    future: UpgradeFuture,
    handler: Handler,
    kind: Kind,
    protocol: Box<str>,
}

/// The response extension carrying a switch to the adapter. Shared so
/// that extensions stay `Clone`; the first [`take_switch`] takes it.
#[derive(Clone)]
pub(crate) struct SwitchSlot(Arc<Mutex<Option<PendingSwitch>>>);

/// Whether `res` carries a handler, and if so whether its status is the
/// switching one ([`Lint`](crate::lint) checks both).
pub(crate) fn switch_state(res: &Response) -> Option<bool> {
    let slot = res.extensions().get::<SwitchSlot>()?;
    let pending = lock(&slot.0);
    Some(pending.as_ref()?.kind.switches(res.status()))
}

/// Adapter side, after the response is committed and written: the switch
/// it carries, if the application answered with [`Upgrade::switch`] and
/// the status is still the switching one (101 for HTTP/1.1, 2xx for
/// extended CONNECT). `None` for every other response — a switch under a
/// status a middleware or the driver changed is dropped here, and its
/// handler never runs.
///
/// The adapter runs the [`Switch`] as a task it tracks: on a graceful
/// shutdown it resolves the [`Shutdown`] it gave the [`Upgraded`] stream,
/// waits for the task up to its drain deadline, then drops it.
///
/// ```
/// use gateway_core::{upgrade, Response};
///
/// let mut res = Response::new(gateway_core::Body::from("not an upgrade"));
/// assert!(upgrade::take_switch(&mut res).is_none());
/// ```
pub fn take_switch(response: &mut Response) -> Option<Switch> {
    let slot = response.extensions_mut().remove::<SwitchSlot>()?;
    let pending = lock(&slot.0).take()?;
    if !pending.kind.switches(response.status()) {
        tracing::debug!(
            status = %response.status(),
            protocol = %pending.protocol,
            "an upgrade handler on a response that does not switch protocols; dropped"
        );
        return None;
    }
    Some(Switch {
        state: SwitchState::Upgrading {
            future: pending.future,
            handler: Some(pending.handler),
        },
        protocol: pending.protocol,
    })
}

/// The task of a committed switching response ([`take_switch`]): awaits
/// the adapter's upgrade future, then runs the application's handler with
/// the stream. Resolves when the handler returns, or at once if the
/// upgrade failed (the client left before it completed; logged at
/// `debug`, the handler is dropped without being called).
///
/// Dropping it cancels the handler, which drops the stream and closes the
/// connection.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::upgrade::{self, OnUpgrade, Upgraded};
/// use gateway_core::{Body, Environ};
/// use http::HeaderMap;
///
/// let req = http::Request::get("/").header("upgrade", "echo").body(Body::empty()).unwrap();
/// let mut env = Environ::from_request(req);
/// env.set_upgrade(OnUpgrade::http1(async { Err("the client left".into()) }));
/// let mut res = env.upgrade().unwrap().switch(HeaderMap::new(), |_io| async {
///     unreachable!("never called: the upgrade failed");
/// });
/// let switch = upgrade::take_switch(&mut res).unwrap();
/// assert_eq!(switch.protocol(), "echo");
/// switch.await;
/// # });
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Switch {
    state: SwitchState,
    protocol: Box<str>,
}

enum SwitchState {
    Upgrading {
        future: UpgradeFuture,
        handler: Option<Handler>,
    },
    Running(HandlerFuture),
    Done,
}

impl Switch {
    /// The protocol switched to, as [`Upgrade::protocol`] gave it (for
    /// logs).
    ///
    /// ```
    /// use gateway_core::upgrade::{self, OnUpgrade};
    /// use gateway_core::{Body, Environ};
    ///
    /// let req = http::Request::get("/").header("upgrade", "echo").body(Body::empty()).unwrap();
    /// let mut env = Environ::from_request(req);
    /// env.set_upgrade(OnUpgrade::http1(async { Err("gone".into()) }));
    /// let mut res = env.upgrade().unwrap().switch(Default::default(), |_io| async {});
    /// assert_eq!(upgrade::take_switch(&mut res).unwrap().protocol(), "echo");
    /// ```
    pub fn protocol(&self) -> &str {
        &self.protocol
    }
}

impl Future for Switch {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            match &mut self.state {
                SwitchState::Upgrading { future, handler } => {
                    let upgraded = match future.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(upgraded)) => upgraded,
                        Poll::Ready(Err(err)) => {
                            tracing::debug!(
                                protocol = %self.protocol,
                                error = %err,
                                "the connection ended before the upgrade completed"
                            );
                            self.state = SwitchState::Done;
                            return Poll::Ready(());
                        }
                    };
                    let Some(handler) = handler.take() else {
                        self.state = SwitchState::Done;
                        return Poll::Ready(());
                    };
                    self.state = SwitchState::Running(handler(upgraded));
                }
                SwitchState::Running(running) => {
                    if running.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.state = SwitchState::Done;
                    return Poll::Ready(());
                }
                SwitchState::Done => return Poll::Ready(()),
            }
        }
    }
}

impl fmt::Debug for Switch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            SwitchState::Upgrading { .. } => "upgrading",
            SwitchState::Running(_) => "running",
            SwitchState::Done => "done",
        };
        f.debug_struct("Switch")
            .field("protocol", &self.protocol)
            .field("state", &state)
            .finish()
    }
}

#[cfg(test)]
mod tests;
