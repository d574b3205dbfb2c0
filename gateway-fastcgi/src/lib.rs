//! Runs any gateway [`Application`](gateway_core::Application) as a
//! FastCGI responder: the place PHP-FPM or flup take behind nginx's
//! `fastcgi_pass`, over TCP or a Unix socket.
//!
//! **Mental model:** the web server owns HTTP and the client's
//! connection; it passes each request as FastCGI records (params, then
//! the body as `STDIN`) and reads the response back as `STDOUT`. This
//! crate turns the params into an [`Environ`](gateway_core::Environ),
//! calls the application through [`gateway_core::driver`] (the one commit
//! driver: errors, panics, HEAD/204/304, the commit point) and writes the
//! response as a CGI response in `STDOUT` records.
//!
//! ```no_run
//! use gateway_core::{fn_app, start};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = fn_app(|env: gateway_core::Environ| async move {
//!         let hello = format!("Hello from {}\n", env.path_info());
//!         start(200, [("content-type", "text/plain")]).body(hello)
//!     });
//!     gateway_fastcgi::Server::bind_unix("/run/app/fcgi.sock", 0o660)?
//!         .serve_with_shutdown(app, gateway_fastcgi::shutdown_signal())
//!         .await
//! }
//! ```
//!
//! The matching nginx site is the repository's `deploy/nginx/fastcgi.conf`
//! (tested as shipped); the part that matters:
//!
//! ```text
//! upstream app_fcgi { server unix:/run/app/fcgi.sock; keepalive 16; }
//! server {
//!     # REQUEST_URI (raw), REQUEST_METHOD, CONTENT_*, SCRIPT_NAME and
//!     # PATH_INFO (from the split below), REMOTE_*, SERVER_*, HTTPS…
//!     fastcgi_param REQUEST_URI $request_uri;
//!     fastcgi_param SCRIPT_NAME $fastcgi_script_name;
//!     fastcgi_param PATH_INFO   $fastcgi_path_info;
//!     # … the others as in the file …
//!     fastcgi_keep_conn on;            # keep-alive (`keepalive` above)
//!     location /app/ {
//!         fastcgi_split_path_info ^(/app)(/.*)$;   # mounted at /app
//!         fastcgi_pass app_fcgi;
//!     }
//! }
//! ```
//!
//! With the stock `fastcgi_params` included instead, add `PATH_INFO`
//! (it has none). A param sent twice: one of the table below that is not
//! an `HTTP_*` header (`SCRIPT_NAME` there and here) counts once, with
//! its last value; an `HTTP_*` param sent twice is a header field with
//! two values, both kept in order (`HTTP_X_A: 1` and `HTTP_X_A: 2` give
//! `x-a: 1` and `x-a: 2`), except `HTTP_HOST`, which is then a 400.
//!
//! # Trust
//!
//! The web server is trusted, and so is anything that can connect to
//! the listener: the params are believed as sent. `REMOTE_ADDR` becomes
//! the peer, `HTTPS`/`REQUEST_SCHEME` the scheme (and whether the
//! request came over TLS), `HTTP_*` the headers — a process that can
//! connect can claim any client address and `https`. **The socket must be
//! reachable only by the web server**: a loopback address
//! ([`Server::bind`]`("127.0.0.1:9000")`), or better a Unix socket with
//! mode `0o660` and a group only the web server's user is in
//! ([`Server::bind_unix`]`(path, 0o660)`). FastCGI has no authentication
//! of its own (PHP-FPM's `listen.allowed_clients` is an address list;
//! this crate has none: use the socket's reach).
//!
//! # Why its own record layer
//!
//! The record layer ([`record`]) is a few hundred lines, written here:
//! the one async responder-side crate, `tokio-fastcgi`, hands a request
//! over only once its whole `STDIN` has arrived and answers through a
//! callback that returns a status, so a streamed request body, a
//! streamed response with backpressure and dropping the application's
//! future on `ABORT_REQUEST` would all have to be rebuilt around it; the
//! other crates are clients (`fastcgi-client`, `async-fcgi`) or
//! synchronous (`fastcgi`, `gfcgi`). Every length read from the peer is
//! checked before it is used; see [`record`].
//!
//! # From params to the environ
//!
//! | param | becomes |
//! |---|---|
//! | `REQUEST_METHOD` | the method (required: 400 without it) |
//! | `REQUEST_URI` | the request-target, **raw**: [`Environ::path_info`](gateway_core::Environ::path_info) is a suffix of it, `%2F` survives; origin-form without dot segments, or 400 (see **Paths**) |
//! | `SCRIPT_NAME` | the mount point, by [`Environ::mount`](gateway_core::Environ::mount) — only when `PATH_INFO` is sent too and `SCRIPT_NAME` is a raw prefix of `REQUEST_URI`'s path on a segment boundary |
//! | `SERVER_PROTOCOL` | the version (`HTTP/1.0`, `HTTP/2.0`…; others count as 1.1) |
//! | `CONTENT_LENGTH`, `CONTENT_TYPE` | those headers; the length is the body's exact size |
//! | `HTTP_*` | the other request headers: `HTTP_X_REQUEST_ID` → `x-request-id` |
//! | `HTTP_HOST` | `Host` (400 when invalid or repeated); without it, `SERVER_NAME[:SERVER_PORT]` |
//! | `REMOTE_ADDR`, `REMOTE_PORT` | [`ConnInfo::peer`](gateway_core::ConnInfo::peer) (none for nginx's `unix:`) |
//! | `SERVER_ADDR`, `SERVER_PORT` | [`ConnInfo::local`](gateway_core::ConnInfo::local) |
//! | `HTTPS` (`on`), `REQUEST_SCHEME` | the scheme; `https` counts as TLS |
//!
//! **Paths.** nginx's `$fastcgi_script_name` and `$fastcgi_path_info`
//! (like CGI's `SCRIPT_NAME` and `PATH_INFO`) are *decoded and
//! normalised* (`%2F` is `/`, `/a/../b` is `/b`), so they cannot rebuild
//! the path the client sent. The environ is built from `REQUEST_URI`
//! (`$request_uri`, the request-target as received), and `SCRIPT_NAME` is
//! used only to say where the mount point is in it: when it is a raw
//! prefix of the path. When it is not (the prefix itself has an encoded
//! byte, `/a%70p/x` for `/app`), nothing is mounted and the whole path is
//! `path_info`, a safe fallback that an application under a `Mount` or
//! router still serves. Stock `fastcgi_params` send `SCRIPT_NAME` = the
//! whole decoded path and no `PATH_INFO`: that is no mount point, so
//! without `PATH_INFO` `SCRIPT_NAME` is ignored. An external prefix that
//! is not in `REQUEST_URI` (nginx rewrote it) is configured with
//! [`Server::root_path`]. Without `REQUEST_URI` the target is rebuilt
//! from `SCRIPT_NAME`, `PATH_INFO` and `QUERY_STRING`, percent-encoded
//! again, and — as in CGI — an encoded `/` is then a real one.
//!
//! **Dot segments are refused (400).** nginx matches its `location`s
//! against the *normalised* path, while the application sees the raw
//! one: `/app/admin/../public` passes `location /app/admin/ { return
//! 403; }` as `/app/public` and would reach the application with
//! `path_info` `/admin/../public`. So a path with a `.` or `..` segment,
//! raw or percent-encoded (`%2e`, `.%2E`…, the rule of
//! [`RootPath`](gateway_core::RootPath)), is answered 400 without the
//! application; dots inside a segment (`/a/..b`) and in the query are
//! fine. `REQUEST_URI` must be origin-form (starting with `/`) or `*`
//! with `OPTIONS`: `*` with another method, an absolute-form or an
//! authority-form target is a 400 too.
//!
//! **Header names.** `HTTP_X_FOO` becomes `x-foo`: FastCGI cannot tell a
//! `_` from a `-` in a header name. nginx drops header fields with an
//! underscore by default (`underscores_in_headers off`), so a client's
//! `X_Foo` never arrives; with it on, `X_Foo` arrives as `x-foo`, and a
//! client could send `X_Forwarded_For` to pass for `X-Forwarded-For` —
//! leave it off. An `Upgrade` field is removed (a FastCGI response cannot
//! switch protocols; the driver turns a 101 into a 500).
//!
//! # The response
//!
//! `Status: 200 OK`, the header fields the driver left (but a `status`
//! field, which a web server would take for the status line), a
//! `content-length` when the body's size is exact and the application set
//! none, a blank line, then the body as `STDOUT` records of at most
//! 64 KiB — never for HEAD, 204 or 304 — then an empty `STDOUT` and
//! `END_REQUEST`. **Nothing is written before the request's whole body
//! has arrived** (its empty `STDIN` record): nginx stops sending a request
//! body once the response has begun, so an application that answers
//! while it still reads — an echo streaming its body back — would wait
//! for the rest forever. The body is queued meanwhile; PHP-FPM reads the
//! whole body before it runs a script for the same reason. The queue is
//! bounded: `STDIN` bytes are counted per request as they arrive, and
//! nothing past `CONTENT_LENGTH` (or, without it, past
//! [`Server::max_body_size`]) is ever queued — see **Limits** below.
//! Answers the server gives itself (413 and 400 for the body, 431, 400
//! for the params) go out at once,
//! and the connection closes after them unless the request's `STDIN` has
//! ended by then, since the rest of that body may never come. Frames are
//! gathered while the body has them ready and written before the next
//! wait, so a [`Body::writer`](gateway_core::Body::writer)
//! application produces exactly as fast as nginx reads (nginx buffers per
//! `fastcgi_buffers`, then `fastcgi_max_temp_file_size`; with
//! `fastcgi_buffering off` as fast as the client reads). Trailers cannot
//! be sent through FastCGI and are dropped.
//!
//! **An error after the commit** (the driver's rule 7, or a body that
//! ends short of its `Content-Length`) cannot become an error page: the
//! head is gone. FastCGI has no "truncated" flag — an `END_REQUEST` ends
//! the response as complete whatever its app status, and nginx ignores
//! the app status. So the connection is **closed without `END_REQUEST`**:
//! nginx logs `upstream prematurely closed FastCGI stdout` and cuts the
//! client's response short — closing an HTTP/1.1 connection without the
//! last chunk, resetting an HTTP/2 stream — so the client sees a
//! truncated response, never a complete-looking short one, and nginx
//! does not cache it. Other requests multiplexed on the same connection
//! are dropped with it (nginx does not multiplex).
//!
//! # Connections and requests
//!
//! - **Keep-alive**: a connection is kept after a request whose
//!   `BEGIN_REQUEST` had `FCGI_KEEP_CONN` (`fastcgi_keep_conn on`, with
//!   `keepalive` in the `upstream` block), closed after it otherwise.
//! - **Multiplexing**: requests on one connection run concurrently, each
//!   in its own task, up to [`Server::max_requests_per_connection`];
//!   `GET_VALUES` is answered `FCGI_MPXS_CONNS=1` (it is true),
//!   `FCGI_MAX_CONNS` = [`Server::max_connections`] and `FCGI_MAX_REQS` =
//!   their product. nginx never asks and never multiplexes. Until a
//!   request's response is committed, more than 256 KiB of its body
//!   waiting to be read pauses the connection's reading for all of them:
//!   that is the body's backpressure.
//! - **Start**: a request starts at its first `STDIN` record (which the
//!   specification makes the web server send right after the params,
//!   empty when there is no body): a request without a body then gets
//!   an empty body with no queue behind it. One that never sends
//!   `STDIN`, or stops sending it half-way, is dropped at the
//!   [idle timeout](Server::idle_timeout), which also bounds a peer that
//!   stops reading what the connection writes.
//! - **Roles**: only the responder; `BEGIN_REQUEST` for another role is
//!   answered `END_REQUEST` with `FCGI_UNKNOWN_ROLE`.
//! - **`ABORT_REQUEST`** drops the request's task — the application's
//!   future or its response body — at once and answers `END_REQUEST`.
//!   A record the task had half written is finished first (the record
//!   stream of the connection stays whole; other requests on it go on).
//!   nginx does not send it (checked with nginx 1.22.1, `fastcgi_keep_conn
//!   on`): when its client goes away it closes the upstream connection,
//!   and a closed connection drops every request on it the same way.
//! - **Limits**: params not complete within
//!   [`Server::header_read_timeout`] of their `BEGIN_REQUEST` (30 s by
//!   default) are 408, and the connection closes after it; the params
//!   stream over [`Server::max_head_size`] is 431;
//!   a `CONTENT_LENGTH` over [`Server::max_body_size`] is 413 before the
//!   application runs. `STDIN` is counted as it arrives: the record that
//!   takes a request past `CONTENT_LENGTH` (`0` included: then any
//!   `STDIN` data) is answered 400, past [`Server::max_body_size`]
//!   without `CONTENT_LENGTH` 413 — at once, whatever the application
//!   is doing: its task is dropped (nothing of its response has been
//!   written yet, see above), the record is not queued, and the rest of
//!   that `STDIN` is read and discarded. So a request never holds more
//!   than its limit in memory, and until the commit no more than 256 KiB
//!   (and one record) beyond what the application has read. A body
//!   shorter than `CONTENT_LENGTH` fails with `BodyError::Incomplete`.
//!   All of these answers come from
//!   [`driver::error_response`](gateway_core::driver::error_response).
//! - **Protocol errors** — a version other than 1, a malformed
//!   `BEGIN_REQUEST` or `GET_VALUES`, `BEGIN_REQUEST` with id 0 or for an
//!   id still in flight — close the connection (logged): the stream is no
//!   longer trustworthy. Records for an id that is not in flight are
//!   ignored, as the specification says; an unknown record type is
//!   answered `UNKNOWN_TYPE`.
//! - **Shutdown**: [`Server::serve_with_shutdown`] stops accepting,
//!   closes idle connections, finishes the requests in flight (closing
//!   each connection after its last), and drops what is left at the
//!   [drain timeout](Server::drain_timeout).

mod conn;
mod params;
pub mod record;
mod respond;
mod server;
mod stdin;

pub use server::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_BODY_SIZE, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEAD_SIZE,
    DEFAULT_MAX_REQUESTS_PER_CONNECTION, Server, ServerStats, shutdown_signal,
};
