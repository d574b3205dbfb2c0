//! What an adapter author implements: [`Adapter`], with the
//! [`Capabilities`] it declares and the [`Running`] endpoint it returns.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;

use gateway_core::BoxError;

use crate::battery::Battery;

/// An adapter under test: how to start it with the kit's application, and
/// what it can do.
///
/// ```
/// use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
///
/// struct Hyper;
///
/// impl Adapter for Hyper {
///     fn name(&self) -> &str {
///         "gateway-hyper"
///     }
///
///     fn capabilities(&self) -> Capabilities {
///         Capabilities::new().http2(true).trailers(true).max_body_size(64 * 1024)
///     }
///
///     async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
///         let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.max_body_size(64 * 1024);
///         let addr = server.local_addr()?;
///         let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
///         let task = tokio::spawn(server.serve_with_shutdown(battery, async move {
///             let _ = stopped.await;
///         }));
///         Ok(Running::tcp(addr).on_stop(async move {
///             let _ = stop.send(());
///             let _ = task.await;
///         }))
///     }
/// }
/// ```
pub trait Adapter {
    /// The adapter's name, for the report ("gateway-hyper over TLS").
    fn name(&self) -> &str;

    /// What the kit may check; a rule that needs something the adapter
    /// does not declare is reported as skipped, naming what it needs.
    fn capabilities(&self) -> Capabilities;

    /// Starts the adapter serving `battery` and returns where to reach it
    /// once it accepts connections (the kit connects at once). The kit
    /// calls it once per [`run`](crate::run) and stops it at the end.
    fn start(&self, battery: Battery) -> impl Future<Output = Result<Running, BoxError>>;
}

/// What an adapter can do, as far as the kit checks it. Start from
/// [`Capabilities::new`] (a plain HTTP/1.1 adapter reached directly) and
/// change what differs.
///
/// ```
/// use gateway_conformance::Capabilities;
///
/// // A FastCGI adapter behind nginx: nginx re-frames every response.
/// let behind_nginx = Capabilities::new().exact_framing(false).max_body_size(1 << 20);
/// # let _ = behind_nginx;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    pub(crate) http1: bool,
    pub(crate) http2: bool,
    pub(crate) keep_alive: bool,
    pub(crate) exact_framing: bool,
    pub(crate) trailers: bool,
    pub(crate) upgrades: bool,
    pub(crate) extended_connect: bool,
    pub(crate) abort: bool,
    pub(crate) disconnect: bool,
    pub(crate) request_streaming: bool,
    pub(crate) raw_path: bool,
    pub(crate) max_body_size: Option<u64>,
    pub(crate) out_of_process: bool,
    pub(crate) status_field: bool,
    pub(crate) body_after_continue: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities::new()
    }
}

impl Capabilities {
    /// An HTTP/1.1 adapter reached directly: keep-alive, its own framing
    /// visible, aborts visible, disconnects noticed, request bodies
    /// streamed, raw paths kept. No HTTP/2, no trailers, no upgrades, no
    /// body limit declared; the application runs in the kit's process.
    pub fn new() -> Capabilities {
        Capabilities {
            http1: true,
            http2: false,
            keep_alive: true,
            exact_framing: true,
            trailers: false,
            upgrades: false,
            extended_connect: false,
            abort: true,
            disconnect: true,
            request_streaming: true,
            raw_path: true,
            max_body_size: None,
            out_of_process: false,
            status_field: false,
            body_after_continue: false,
        }
    }

    /// Serves HTTP/1.1 (raw requests over the socket). Defaults to `true`.
    pub fn http1(mut self, yes: bool) -> Capabilities {
        self.http1 = yes;
        self
    }

    /// Serves HTTP/2: with prior knowledge in clear text, by ALPN under
    /// TLS. Every rule that applies to HTTP/2 then runs over it too.
    /// Defaults to `false`.
    pub fn http2(mut self, yes: bool) -> Capabilities {
        self.http2 = yes;
        self
    }

    /// An HTTP/1.1 connection serves more than one request. Without it the
    /// kit sends `Connection: close` and reads every response to the end
    /// of the connection. Defaults to `true`.
    pub fn keep_alive(mut self, yes: bool) -> Capabilities {
        self.keep_alive = yes;
        self
    }

    /// The kit sees the adapter's own framing (`Content-Length` or
    /// chunked): `false` behind a proxy that re-frames responses (nginx in
    /// front of FastCGI). Defaults to `true`.
    pub fn exact_framing(mut self, yes: bool) -> Capabilities {
        self.exact_framing = yes;
        self
    }

    /// Response trailers reach the client (chunked HTTP/1.1 with
    /// `TE: trailers`, HTTP/2). Defaults to `false`.
    pub fn trailers(mut self, yes: bool) -> Capabilities {
        self.trailers = yes;
        self
    }

    /// HTTP/1.1 `Upgrade` answered with 101, through
    /// `gateway_core::upgrade`: the application's handler gets the raw
    /// stream after the commit. Defaults to `false`.
    pub fn upgrades(mut self, yes: bool) -> Capabilities {
        self.upgrades = yes;
        self
    }

    /// HTTP/2 extended CONNECT (RFC 8441) answered with 200, through
    /// `gateway_core::upgrade`: the adapter announces
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL`. Checked only with
    /// [`Capabilities::http2`]. Defaults to `false`.
    pub fn extended_connect(mut self, yes: bool) -> Capabilities {
        self.extended_connect = yes;
        self
    }

    /// A body error after the commit is visible to the client: the
    /// connection closes without the terminating chunk or short of the
    /// `Content-Length`, or the HTTP/2 stream is reset. `false` for a
    /// transport that cannot abort (CGI). Defaults to `true`.
    pub fn abort(mut self, yes: bool) -> Capabilities {
        self.abort = yes;
        self
    }

    /// A client that goes away while the application is still working (or
    /// streaming) gets its application future (or body) dropped. Defaults
    /// to `true`.
    pub fn disconnect(mut self, yes: bool) -> Capabilities {
        self.disconnect = yes;
        self
    }

    /// The application reads the request body as it arrives, not after
    /// the adapter (or its host) buffered all of it. Defaults to `true`.
    pub fn request_streaming(mut self, yes: bool) -> Capabilities {
        self.request_streaming = yes;
        self
    }

    /// The application sees the request-target as the client sent it, so
    /// `%2F` survives in `path_info`. `false` for CGI, whose host decodes
    /// paths. Defaults to `true`.
    pub fn raw_path(mut self, yes: bool) -> Capabilities {
        self.raw_path = yes;
        self
    }

    /// The adapter's request body limit, in bytes: a longer body must get
    /// 413. `None` (the default) skips the limit rules.
    pub fn max_body_size(mut self, limit: impl Into<Option<u64>>) -> Capabilities {
        self.max_body_size = limit.into();
        self
    }

    /// The application runs in another process (a CGI program): the
    /// adapter passes that process [`Battery::env`] and builds the battery
    /// there with [`Battery::from_env`]; the kit observes it through a
    /// file. Defaults to `false`.
    pub fn out_of_process(mut self, yes: bool) -> Capabilities {
        self.out_of_process = yes;
        self
    }

    /// The host in front passes the adapter's CGI `Status` field through
    /// under a status line of its own (Python's `http.server` CGI host
    /// sends `200 Script output follows` first): the kit then reads the
    /// status from the `Status` field when there is one. Defaults to
    /// `false`.
    pub fn status_field(mut self, yes: bool) -> Capabilities {
        self.status_field = yes;
        self
    }

    /// A request body must follow the adapter's (or host's) `100 Continue`
    /// instead of arriving with the head (Python's CGI host loses body
    /// bytes that come with the head): the kit then sends
    /// `Expect: 100-continue` and waits for it. Defaults to `false`.
    pub fn body_after_continue(mut self, yes: bool) -> Capabilities {
        self.body_after_continue = yes;
        self
    }
}

/// Where a started adapter is reached, and how to stop it.
///
/// ```
/// use gateway_conformance::Running;
///
/// let running = Running::unix("/run/app.sock")
///     .path_prefix("/cgi-bin/app")
///     .on_stop(async { /* stop the server */ });
/// # let _ = running;
/// ```
pub struct Running {
    pub(crate) endpoint: Endpoint,
    pub(crate) prefix: String,
    pub(crate) stop: Option<Pin<Box<dyn Future<Output = ()>>>>,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<crate::wire::TlsClient>,
}

/// A transport address the kit connects to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Running {
    /// Reached over TCP at `addr` (the adapter itself, or the web server in
    /// front of it).
    pub fn tcp(addr: SocketAddr) -> Running {
        Running::at(Endpoint::Tcp(addr))
    }

    /// Reached over the Unix socket at `path`.
    pub fn unix(path: impl Into<PathBuf>) -> Running {
        Running::at(Endpoint::Unix(path.into()))
    }

    fn at(endpoint: Endpoint) -> Running {
        Running {
            endpoint,
            prefix: String::new(),
            stop: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Where the battery is mounted on the endpoint, such as
    /// `/cgi-bin/battery` for a CGI program: every request's path starts
    /// with it, and the application's `script_name` is expected to be it.
    /// Defaults to none (the battery answers at `/`).
    ///
    /// # Panics
    ///
    /// When the prefix is not empty and does not start with `/`, or ends
    /// with `/`; [`Running::try_path_prefix`] returns the error instead.
    pub fn path_prefix(self, prefix: &str) -> Running {
        match self.try_path_prefix(prefix) {
            Ok(running) => running,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`Running::path_prefix`], with an error for a prefix that is not
    /// empty or `/segment…` without a trailing `/`.
    pub fn try_path_prefix(mut self, prefix: &str) -> Result<Running, InvalidPrefix> {
        let valid = prefix.is_empty()
            || (prefix.starts_with('/') && !prefix.ends_with('/') && !prefix.contains(['?', '#']));
        if !valid {
            return Err(InvalidPrefix(prefix.to_owned()));
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// Runs `stop` when the kit is done with the adapter (awaited for up
    /// to 10 seconds). Defaults to nothing: the adapter keeps running.
    pub fn on_stop(mut self, stop: impl Future<Output = ()> + 'static) -> Running {
        self.stop = Some(Box::pin(stop));
        self
    }

    /// Connects through TLS with `config` (it must trust the adapter's
    /// certificate), asking for `server_name`; the kit sets the ALPN
    /// protocols itself. Feature `tls`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(
        mut self,
        config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
        server_name: &str,
    ) -> Running {
        self.tls = Some(crate::wire::TlsClient {
            config,
            server_name: server_name.to_owned(),
        });
        self
    }

    pub(crate) fn is_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }
}

impl fmt::Debug for Running {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Running")
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("tls", &self.is_tls())
            .finish_non_exhaustive()
    }
}

/// A path prefix that is not empty or `/segment…` without a trailing `/`
/// (from [`Running::try_path_prefix`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPrefix(String);

impl fmt::Display for InvalidPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid path prefix {:?}: must be empty or start with `/`, not end with `/`, \
             and hold no `?` or `#`",
            self.0
        )
    }
}

impl std::error::Error for InvalidPrefix {}
