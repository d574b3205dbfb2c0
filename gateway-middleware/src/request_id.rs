//! [`RequestId`]: one id per request, taken from a trusted proxy or made
//! here, on the response, in the access log line and in a `tracing` span.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{Addr, ApplicationExt, ConnInfo, Environ, fn_app, start};
//! use gateway_middleware::RequestId;
//!
//! let app = fn_app(|env: Environ| async move {
//!     let id = RequestId::of(&env).unwrap_or("-").to_owned();
//!     start(200, [("content-type", "text/plain")]).body(id)
//! })
//! .with(RequestId::new().trusted_proxies(["127.0.0.1"]));
//!
//! // From nginx on the same host: its id is kept and echoed.
//! let nginx = ConnInfo::new(Addr::Tcp("127.0.0.1:50000".parse()?), Addr::None);
//! let client = TestClient::new(app).with_conn(nginx);
//! let res = client.get("/").header("x-request-id", "f00d-42").send().await;
//! assert_eq!((res.text().as_str(), res.header("x-request-id")), ("f00d-42", Some("f00d-42")));
//!
//! // Anything that does not match `[A-Za-z0-9._:-]{1,128}` is replaced.
//! let res = client.get("/").header("x-request-id", "a b").send().await;
//! assert_eq!(res.text().len(), 32);
//! assert_eq!(res.header("x-request-id"), Some(res.text().as_str()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use gateway_core::{Addr, Application, Environ, Error, Middleware, Response};
use http::{HeaderName, HeaderValue};
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

use crate::notes::{Notes, PlainId};
use crate::proxy::{InvalidProxyAddr, ProxyHeaders, ProxyOriginal};

/// Gives every request an id: the one a trusted proxy sent in
/// `X-Request-Id`, or a new one.
///
/// # Where the id comes from
///
/// The incoming header is taken only when **both** hold:
///
/// - the *socket* peer is a trusted proxy: a TCP peer in one of the
///   [`trusted_proxies`](RequestId::trusted_proxies) networks, or a Unix
///   socket peer when [`trust_unix_peers`](RequestId::trust_unix_peers) is
///   on. With a [`ProxyHeaders`] outside (the recommended order), the
///   environ's peer is already the *client*; the socket's peer is then the
///   one in its [`ProxyOriginal`] extension, and that is what is checked;
/// - the header is exactly one field line whose value matches
///   `[A-Za-z0-9._:-]{1,128}`: no spaces, quotes, control bytes or
///   anything else that could confuse a log, a header or a shell.
///
/// Otherwise (no header, an untrusted peer, two field lines, a value out
/// of the allowlist) a new id is made (with no trusted proxy configured,
/// the default, the header is not even looked up): 32 lowercase hex digits, the
/// 128-bit SipHash-1-3 of a per-process counter under a random key drawn
/// once from the operating system. Ids are unique within the process and
/// unpredictable to clients; making one costs no system call.
///
/// # What is done with it
///
/// - [`RequestId::of`] returns it to the application and other middleware
///   (it is kept in the request's shared notes as the header value the
///   response gets: a made id costs one allocation, shared by both; a
///   proxy's id shares the request's bytes);
/// - an [`AccessLog`](crate::AccessLog) outside or inside writes it in
///   every line;
/// - the inner application runs inside a `tracing` span
///   `request{request_id=…}` (nearly free without a subscriber), so every
///   event it logs carries the id;
/// - the response carries it in the same header (replacing one the
///   application set). On an `Err` from the application the header is added
///   to the error's headers, so the driver's error page carries it too. A
///   panic's page carries it only when an [`AccessLog`](crate::AccessLog)
///   or a [`HandleErrors`](gateway_core::HandleErrors) sits inside: a panic
///   unwinds through this layer.
///
/// # Order
///
/// `ProxyHeaders` (outermost) → `RequestId` → `AccessLog` → … → the
/// application. With `.with()`, the last added is outermost:
///
/// ```
/// use gateway_core::{ApplicationExt, fn_app, start};
/// use gateway_middleware::access_log::{Format, MemoryLog};
/// use gateway_middleware::{AccessLog, ProxyHeaders, RequestId};
///
/// let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") })
///     .with(AccessLog::new().format(Format::Json).to_writer(MemoryLog::new()))
///     .with(RequestId::new().trusted_proxies(["127.0.0.1"]))
///     .with(ProxyHeaders::new().trusted_proxies(["127.0.0.1"]));
/// # let _ = app;
/// ```
///
/// # Configuration
///
/// Defaults: header `X-Request-Id`, no trusted proxy (every id is made
/// here), Unix socket peers not trusted.
#[derive(Clone, Debug)]
pub struct RequestId {
    header: HeaderName,
    // The trust check is ProxyHeaders' own, so the two agree.
    trust: ProxyHeaders,
}

impl Default for RequestId {
    /// The same as [`RequestId::new`].
    fn default() -> Self {
        RequestId::new()
    }
}

impl RequestId {
    /// Header `X-Request-Id`, no trusted proxy.
    pub fn new() -> RequestId {
        RequestId {
            header: HeaderName::from_static("x-request-id"),
            trust: ProxyHeaders::new(),
        }
    }

    /// The header read from trusted proxies and set on responses.
    /// Defaults to `X-Request-Id`.
    pub fn header(mut self, name: HeaderName) -> RequestId {
        self.header = name;
        self
    }

    /// Adds networks whose peers are trusted to send an id: IP addresses
    /// or CIDR networks, as
    /// [`ProxyHeaders::trusted_proxies`]. Defaults to none.
    ///
    /// # Panics
    ///
    /// If [`try_trusted_proxies`](RequestId::try_trusted_proxies) would
    /// fail.
    pub fn trusted_proxies<I, S>(self, proxies: I) -> RequestId
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        match self.try_trusted_proxies(proxies) {
            Ok(id) => id,
            Err(e) => panic!("{e}"),
        }
    }

    /// [`trusted_proxies`](RequestId::trusted_proxies), for addresses from
    /// configuration.
    ///
    /// # Errors
    ///
    /// The first entry that is neither an address nor a network.
    pub fn try_trusted_proxies<I, S>(mut self, proxies: I) -> Result<RequestId, InvalidProxyAddr>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.trust = self.trust.try_trusted_proxies(proxies)?;
        Ok(self)
    }

    /// Whether a peer on a Unix socket is trusted to send an id. Defaults
    /// to `false`.
    pub fn trust_unix_peers(mut self, trust: bool) -> RequestId {
        self.trust = self.trust.trust_unix_peers(trust);
        self
    }

    /// The request's id, when a `RequestId` layer is outside.
    ///
    /// ```
    /// use gateway_core::{Body, Environ};
    /// use gateway_middleware::RequestId;
    ///
    /// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
    /// assert_eq!(RequestId::of(&env), None);
    /// ```
    pub fn of(env: &Environ) -> Option<&str> {
        Notes::of(env)?.request_id()
    }

    /// The id a trusted proxy sent, if it may be taken.
    fn incoming(&self, env: &Environ) -> Option<PlainId> {
        if self.trust.trusts_nobody() {
            // The default: no header is read (nor its name hashed).
            return None;
        }
        let mut values = env.headers().get_all(&self.header).iter();
        let value = values.next()?;
        if values.next().is_some() {
            return None;
        }
        let socket_peer: &Addr = match env.extensions().get::<ProxyOriginal>() {
            Some(original) => original.peer(),
            None => env.conn().peer(),
        };
        if !self.trust.is_trusted(socket_peer) {
            return None;
        }
        PlainId::checked(value)
    }
}

/// A new id: 32 lowercase hex digits, in one allocation shared by every
/// clone (the response's header and the request's notes).
///
/// SipHash is a keyed pseudo-random function: under a key no client
/// knows, the hashes of distinct inputs look independent and random, so a
/// counter (distinct for the life of the process) gives unique,
/// unpredictable ids. The key is read from the OS once; after that an id
/// costs an atomic increment and one short hash — no system call per
/// request, unlike reading 16 random bytes each time. SipHash-1-3 (the
/// variant Rust's `HashMap` uses against hash flooding) rather than 2-4:
/// the input is a counter the client neither chooses nor sees, and the
/// ids need to be unpredictable, not a MAC; it runs fewer rounds.
fn generate() -> PlainId {
    use siphasher::sip128::{Hasher128, SipHasher13};
    use std::hash::Hasher;
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let &(k0, k1) = KEY.get_or_init(|| {
        let mut bytes = [0u8; 16];
        if let Err(e) = getrandom::fill(&mut bytes) {
            panic!("the operating system's random number generator failed: {e}");
        }
        let (a, b) = bytes.split_at(8);
        (
            u64::from_le_bytes(a.try_into().unwrap_or_default()),
            u64::from_le_bytes(b.try_into().unwrap_or_default()),
        )
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut mac = SipHasher13::new_with_keys(k0, k1);
    mac.write_u64(n);
    PlainId::hex(mac.finish128().as_u128())
}

impl<A: Application> Middleware<A> for RequestId {
    type Output = RequestIdApp<A>;

    fn wrap(&self, app: A) -> RequestIdApp<A> {
        RequestIdApp {
            app,
            header: self.header.clone(),
            config: self.clone(),
        }
    }
}

/// The application a [`RequestId`] middleware produces. Forwards
/// `startup` and `shutdown`.
#[derive(Debug)]
pub struct RequestIdApp<A> {
    app: A,
    header: HeaderName,
    config: RequestId,
}

impl<A> RequestIdApp<A> {
    /// The wrapped application.
    pub fn inner(&self) -> &A {
        &self.app
    }
}

impl<A: Application> Application for RequestIdApp<A> {
    fn call(&self, mut env: Environ) -> impl Future<Output = Result<Response, Error>> + Send {
        // Both shapes are visible ASCII from the allowlist.
        let id = self.config.incoming(&env).unwrap_or_else(generate);
        let notes = Notes::attach_with_request_id(&mut env, &id);
        let span = tracing::info_span!("request", request_id = notes.request_id().unwrap_or("-"));
        RequestIdFuture {
            inner: self.app.call(env).instrument(span),
            header: &self.header,
            value: Some(id.header_value().clone()),
        }
    }

    fn startup(&self) -> impl Future<Output = Result<(), Error>> + Send {
        self.app.startup()
    }

    fn shutdown(&self) -> impl Future<Output = ()> + Send {
        self.app.shutdown()
    }
}

pin_project_lite::pin_project! {
    /// The application's future, then the id put on what it answers:
    /// made in `call` and moved once (no state machine of its own).
    struct RequestIdFuture<'a, F> {
        #[pin]
        inner: Instrumented<F>,
        header: &'a HeaderName,
        value: Option<HeaderValue>,
    }
}

impl<F: Future<Output = Result<Response, Error>>> Future for RequestIdFuture<'_, F> {
    type Output = Result<Response, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let Some(value) = this.value.take() else {
            return Poll::Ready(result);
        };
        Poll::Ready(match result {
            Ok(mut res) => {
                res.headers_mut().insert(this.header.clone(), value);
                Ok(res)
            }
            Err(mut err) => {
                err.headers_mut().insert(this.header.clone(), value);
                Err(err)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_hex_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a.as_str(), b.as_str());
        for id in [a, b] {
            assert_eq!(id.as_bytes().len(), 32);
            assert!(
                id.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
        }
    }
}
