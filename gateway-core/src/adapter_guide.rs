//! Writing an adapter: what a server must do to run any [`Application`],
//! written from the [`driver`]'s contract. (This module holds only this
//! guide.)
//!
//! ```
//! use gateway_core::{driver, fn_app, start, Body, ConnInfo, Environ};
//!
//! let app = fn_app(|_| async { start(200, [("content-type", "text/plain")]).body("hi") });
//! // Per request: the head as parsed, a body, the connection's info.
//! let (head, ()) = http::Request::get("/").body(()).unwrap().into_parts();
//! let env = Environ::from_parts(head, Body::empty(), ConnInfo::default());
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let Ok(response) = driver::commit(&app, env).await; // then write it out
//! assert_eq!(response.status(), 200);
//! # });
//! ```
//!
//! An adapter owns the transport — sockets, HTTP parsing, TLS, a CGI
//! process's pipes — and knows nothing of applications. Per request it
//! does four things, and only these:
//!
//! 1. check what is the server's to check (the head, `Host`, limits);
//! 2. fill an [`Environ`];
//! 3. call the application through [`driver::commit`];
//! 4. write the response it gets back, framing it for its transport.
//!
//! Everything that must be the same on every server — catching errors and
//! panics, checking the status, removing connection-specific fields, HEAD,
//! 204 and 304, the commit point — is the driver's, so that an application
//! behaves the same on `gateway-hyper`, under `TestClient`, behind the
//! tower bridge and on an adapter you write. Two adapters ship as models:
//! `gateway-hyper` (HTTP/1 and HTTP/2 over TCP, Unix sockets and TLS) and
//! the CGI adapter in the repository's `examples/cgi.rs` (RFC 3875: the
//! environment and stdin in, stdout out, tested under a real CGI host),
//! which follows this guide step by step. A complete toy adapter is [at the end](#a-complete-toy-adapter).
//!
//! | | the adapter | the driver |
//! |---|---|---|
//! | request head | parses it; checks `Host`, target forms, transfer codings | — |
//! | request body | wraps it; enforces the size limit; maps client failures to [`BodyError`] | — |
//! | environ | [`Environ::from_parts`], [`ConnInfo`], [`RootPath`] | — |
//! | application's `Err`, panics | — | error response ([rule 1](crate::driver#the-commit-rules)) |
//! | status, connection-specific fields | — | [rules 2 and 3](crate::driver#the-commit-rules) |
//! | HEAD, 204, 304, CONNECT | sends no body | empties it, announces GET's `Content-Length` to HEAD ([rule 4](crate::driver#the-commit-rules)) |
//! | `Content-Length` | frames by it; adds it when absent and the size is exact | corrects a wrong one ([rule 5](crate::driver#the-commit-rules)); holds a stream to it ([rule 8](crate::driver#the-commit-rules)) |
//! | first-chunk errors | — | error response ([rule 6](crate::driver#the-commit-rules)) |
//! | errors after the commit | aborts the response | yields the error from the body ([rule 7](crate::driver#the-commit-rules)) |
//! | `Date`, `Server`, `Connection`, framing | its own | — |
//! | cancellation | drops the commit future or the body | — |
//! | upgrades | offers them ([`Environ::set_upgrade`]), runs and drains the handler after the commit | allows 101 only for an upgrade request; the handler runs only under the switching status ([`upgrade`](crate::upgrade)) |
//!
//! # Startup and shutdown
//!
//! Call [`Application::startup`] once before accepting the first request;
//! if it fails, do not serve (`gateway-hyper` returns the error from
//! `serve`). Call [`Application::shutdown`] once after the last request
//! has finished or been dropped (after the drain). An adapter whose
//! process lives for one request, like CGI, calls both around that
//! request. Every wrapper forwards both, so the adapter calls them on the
//! outermost application only.
//!
//! # Filling the environ
//!
//! [`Environ::from_parts`]`(parts, body, conn)` moves the request head in;
//! nothing is copied and nothing allocated.
//!
//! - **`parts.method`, `parts.uri`, `parts.version`, `parts.headers`**:
//!   as received. The URI is the request-target *raw*: never decode or
//!   normalise it (no `.`/`..` resolution, no merging of `//`), because
//!   [`Environ::path_info`] must be a suffix of what the client sent and
//!   `%2F` must survive. Origin-form (`/path?query`) is the common case;
//!   keep absolute-form targets whole, `*` for `OPTIONS *`, the authority
//!   for `CONNECT`. HTTP/2's `:authority` goes in the URI, as hyper puts
//!   it. A transport that only gives decoded paths (CGI's `PATH_INFO`)
//!   must percent-encode them again and document what is lost (an encoded
//!   `/` becomes a real one).
//! - **`parts.extensions`**: leave them empty. An adapter never inserts an
//!   extension: they are for middleware, and an insert allocates on every
//!   request. [`GatewayContext`](crate::environ::GatewayContext) is inserted only when
//!   an environ is converted for a tower service.
//! - **`conn`**: a [`ConnInfo`], built once per connection and copied into
//!   each request (it is `Copy`):
//!   `ConnInfo::new(peer, local).with_scheme(scheme, tls)`, with
//!   [`Addr::Tcp`](crate::Addr::Tcp), [`Addr::Unix`](crate::Addr::Unix) or
//!   [`Addr::None`](crate::Addr::None) when the transport has no address.
//!   The scheme is `https` for TLS; a trusted-proxy middleware may change
//!   it later, the adapter reports what it saw.
//! - **root path**: when the server is configured to run under an external
//!   prefix, call [`Environ::set_root_path`] with a clone of one
//!   [`RootPath`] (a reference count, no allocation). A prefix the
//!   transport already split off and that is part of the request path
//!   (CGI's `SCRIPT_NAME`) is moved with [`Environ::mount`] instead, so
//!   that `script_name + path_info` is still the path the client used.
//!
//! Before building the environ, refuse what the server must refuse, with
//! the driver's own error response and without calling the application:
//! [`driver::error_response`]`(&err, hints)`, with the
//! [`CommitHints`](crate::driver::CommitHints) read from the request head.
//! A `Host` that is missing on HTTP/1.1, repeated, or not
//! `host[:port]` ([`host::is_valid_host`](crate::host::is_valid_host))
//! is a 400: applications build URLs from it ([`Environ::url`]).
//!
//! # The request body and its limits
//!
//! A bodiless request gets [`Body::empty`] (no allocation). Otherwise wrap
//! the transport's body with [`Body::new`], reporting `size_hint` exactly
//! (`Content-Length` when announced) and `is_end_stream` truthfully. The
//! body's errors tell the client's failures from the application's:
//!
//! - over the server's size limit: [`BodyError::LengthLimitExceeded`]
//!   (413). Refuse a request whose announced length is over the limit
//!   before calling the application; count the bytes of one without a
//!   length as they stream and fail the body at the limit
//!   ([`Body::with_limit`] does this for any body);
//! - the peer closed or reset before the end: [`BodyError::Incomplete`]
//!   (400, nobody will read it);
//! - a malformed body (bad chunking): `Error::with_status(400, …)`.
//!
//! An application that does not read the body leaves it to the adapter:
//! HTTP/1 servers drain or close, CGI hosts discard it.
//!
//! # Calling the application
//!
//! Always through [`driver::commit`]. It reads the
//! [`CommitHints`](crate::driver::CommitHints) from the environ: whether the
//! request is HEAD, CONNECT, or an upgrade (HTTP/1.1 with an `Upgrade`
//! header), the only request a 101 may answer ([rule 2](crate::driver#the-commit-rules)). An adapter that
//! cannot switch protocols removes `Upgrade` from the head it passes on,
//! and the driver turns a 101 into a 500; one that can offers the upgrade
//! first ([Upgrades](#upgrades)).
//!
//! Never call [`Application::call`] and poll its future yourself: the
//! panic boundary, the status and header checks, HEAD and the commit point
//! all live in the driver, and an adapter that skips it breaks every rule
//! for every application on it. The commit future never fails: its output
//! is `Result<Response, Infallible>`.
//!
//! # Writing the response
//!
//! When the commit future resolves, the response is committed: its status
//! and headers are final, and the adapter sends them as they are, adding
//! only its own fields (`Date`, `Server`, `Connection`) and framing:
//!
//! - **Length.** A `Content-Length` in the committed head is exact: the
//!   driver holds the body to it ([rule 8](crate::driver#the-commit-rules)), so the body's
//!   `size_hint().exact()` says the same, and the body yields exactly that
//!   many bytes or fails. Frame by it, and treat the failure as an abort
//!   (below): never write a byte the head did not announce. When the
//!   response has no `Content-Length` and the body's size is exact,
//!   announce it (the driver leaves this to the server, so the fast path
//!   inserts no header). Otherwise use the transport's streaming framing:
//!   chunked for HTTP/1.1, DATA frames for HTTP/2, closing the connection
//!   for HTTP/1.0.
//! - **HEAD, 204, 304** ([rule 4](crate::driver#the-commit-rules)). The driver has emptied the body and
//!   never polled it; for HEAD it kept (or set) GET's `Content-Length`.
//!   The adapter sends no body bytes — not even a chunked terminator —
//!   and must not replace that `Content-Length` with the empty body's 0.
//!   The same holds for 1xx and for a 2xx answer to `CONNECT`.
//! - **Backpressure.** Poll the next frame only when the previous one was
//!   written; a [`Body::writer`] application then produces exactly as fast
//!   as the client reads.
//! - **Trailers** come as a last frame: send them where the transport can
//!   (HTTP/2, chunked HTTP/1.1 when the client sent `TE: trailers`), drop
//!   them otherwise.
//! - **Files.** A body built with [`Body::file`] carries a
//!   [`FileHint`](crate::body::FileHint); an adapter able to send a file range
//!   more cheaply may use it instead of polling the body.
//!
//! # Errors after the commit
//!
//! A body error after the commit ([rule 7](crate::driver#the-commit-rules)) cannot become an error response
//! any more: the status is gone. A body that would end short of its
//! `Content-Length` or run past it fails the same way ([rule 8](crate::driver#the-commit-rules)). The adapter must **abort**: close the
//! HTTP/1 connection without the terminating chunk, or reset the HTTP/2
//! stream, so the client sees a truncated response and never a
//! complete-looking short one. (An HTTP/1.0 close-delimited body cannot
//! show it: its end is the connection's end.) A transport with no way to
//! abort — a CGI program can only stop writing and exit with a failure —
//! must document what its clients see.
//!
//! # Cancellation
//!
//! Dropping the commit future, or the response body after the commit, is
//! the only signal an application gets that its client is gone. Drop them
//! when the connection closes, an HTTP/2 stream is reset, a request
//! timeout fires (before the commit, answer with
//! `error_response(503)`; after it, abort), or the drain deadline passes at
//! shutdown. Do not keep polling a body nobody will read, and do not spawn
//! the commit future where it would outlive its connection.
//!
//! # Upgrades
//!
//! An application switches protocols (WebSocket, a raw tunnel) through
//! [`upgrade`](crate::upgrade): it takes the offer with
//! [`Environ::upgrade`] and answers with
//! [`Upgrade::switch`](crate::upgrade::Upgrade::switch), a 101 (or a 200
//! to an HTTP/2 extended CONNECT) carrying its handler. An adapter that
//! can hand over the connection does three things:
//!
//! 1. **Offer.** For a request that really is an upgrade — HTTP/1.1 with
//!    `Upgrade` and no body (a body's unread bytes would reach the handler
//!    as the new protocol's), or an HTTP/2 CONNECT with `:protocol` —
//!    call [`Environ::set_upgrade`] with an
//!    [`OnUpgrade`](crate::upgrade::OnUpgrade): a future that resolves to
//!    the connection, as an [`Upgraded`](crate::upgrade::Upgraded), once
//!    the switching response has been written, with any bytes the client
//!    already sent behind its request replayed first. Give it a
//!    [`Shutdown`](crate::upgrade::Shutdown) signal if the adapter drains
//!    gracefully. Only upgrade requests carry the offer: the rest pay
//!    nothing.
//! 2. **Write, then switch.** Commit as usual; a 101 has no body. After
//!    the commit call [`take_switch`](crate::upgrade::take_switch): it
//!    returns the [`Switch`](crate::upgrade::Switch) when the status is the
//!    switching one, and drops the handler otherwise (a middleware changed
//!    the response). Write the head, then run the switch — the offer's
//!    future, then the handler — as a task the adapter owns.
//! 3. **Drain.** At a graceful shutdown resolve the `Shutdown` signal,
//!    wait for the switch tasks up to the drain deadline as for requests,
//!    then drop them (which closes their connections). Do not hold them
//!    to the idle or slow-client timeouts of HTTP: an upgraded connection
//!    is the application's to pace.
//!
//! `gateway-hyper` does all three over TCP, Unix sockets and TLS (its
//! `upgrade` module is the model); `TestClient` does them in-process over
//! a pipe. An adapter that **cannot** switch protocols — CGI and FastCGI
//! hand a response to a web server that will not give the connection
//! back — never calls `set_upgrade`: applications then see `None` from
//! [`Environ::upgrade`] and answer without switching (426, say). It still
//! removes `Upgrade` from the head it passes on, as above, so that a 101
//! never reaches its clients.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::upgrade::{self, OnUpgrade, Shutdown, Upgraded};
//! use gateway_core::{driver, fn_app, start, Body, Environ};
//! use gateway_core::http::HeaderMap;
//! use tokio::io::AsyncWriteExt as _;
//!
//! let app = fn_app(|mut env: Environ| async move {
//!     match env.upgrade() {
//!         Some(up) => Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
//!             let _ = io.write_all(b"hello from the new protocol").await;
//!         })),
//!         None => start(426, [("upgrade", "hello")]).empty(),
//!     }
//! });
//! // The adapter's side, with a pipe for a connection.
//! let (client, server) = tokio::io::duplex(1024);
//! let req = http::Request::get("/").header("upgrade", "hello").body(Body::empty()).unwrap();
//! let mut env = Environ::from_request(req);
//! env.set_upgrade(OnUpgrade::http1(async move {
//!     // A real adapter waits here until the 101 is on the wire.
//!     Ok(Upgraded::new(server).with_shutdown(Shutdown::never()))
//! }));
//! let Ok(mut response) = driver::commit(&app, env).await;
//! assert_eq!(response.status(), 101);
//! // ... write the head ...
//! if let Some(switch) = upgrade::take_switch(&mut response) {
//!     switch.await; // an adapter spawns it into a task it tracks
//! }
//! # drop(client);
//! # });
//! ```
//!
//! # A complete toy adapter
//!
//! One HTTP/1.1 request in a byte buffer, one response out: a parser far
//! too trusting for a network, and every step above.
//!
//! ```
//! use gateway_core::driver::{self, CommitHints};
//! use gateway_core::host::is_valid_host;
//! use gateway_core::http::header::{CONTENT_LENGTH, HOST, UPGRADE};
//! use gateway_core::http::{Method, Request, StatusCode, Version};
//! use gateway_core::response::NO_HEADERS;
//! use gateway_core::{Addr, Application, Body, BodyError, ConnInfo, Environ, Error, fn_app, start};
//! use http_body::Body as _;
//! use http_body_util::BodyExt as _;
//!
//! /// The server's request body limit, in bytes.
//! const MAX_BODY: u64 = 8;
//!
//! /// Serves the request in `raw`. `Ok` holds a complete response, `Err`
//! /// one that was aborted after its head: the connection must close.
//! async fn serve_one<A: Application>(
//!     app: &A,
//!     raw: &str,
//!     conn: ConnInfo,
//! ) -> Result<Vec<u8>, Vec<u8>> {
//!     // The transport's part: parse the head (a real adapter uses hyper).
//!     let (head, body) = raw.split_once("\r\n\r\n").expect("a complete head");
//!     let mut lines = head.split("\r\n");
//!     let mut start_line = lines.next().unwrap().split(' ');
//!     let mut req = Request::builder()
//!         .method(start_line.next().unwrap())
//!         .uri(start_line.next().unwrap()) // raw: never decoded
//!         .version(Version::HTTP_11);
//!     for line in lines {
//!         let (name, value) = line.split_once(':').unwrap();
//!         req = req.header(name.trim(), value.trim());
//!     }
//!     let (mut parts, ()) = req.body(()).unwrap().into_parts();
//!     // This adapter cannot switch protocols: no request is an upgrade.
//!     parts.headers.remove(UPGRADE);
//!     let hints = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
//!
//!     // The server's checks: one valid Host, the body limit.
//!     let hosts: Vec<_> = parts.headers.get_all(HOST).iter().collect();
//!     let refusal = if !matches!(hosts[..], [host] if is_valid_host(host.as_bytes())) {
//!         Some(Error::with_status(StatusCode::BAD_REQUEST, "invalid Host"))
//!     } else if body.len() as u64 > MAX_BODY {
//!         Some(BodyError::LengthLimitExceeded { limit: MAX_BODY }.into())
//!     } else {
//!         None
//!     };
//!
//!     let response = match refusal {
//!         // Answered without the application, by the driver's rules.
//!         Some(err) => driver::error_response(&err, hints),
//!         None => {
//!             let body = if body.is_empty() {
//!                 Body::empty() // does not allocate
//!             } else {
//!                 Body::from(body.to_owned())
//!             };
//!             // No extensions; the connection info is copied in.
//!             let env = Environ::from_parts(parts, body, conn);
//!             // Dropping this future (client gone, timeout) would cancel
//!             // the application; a real adapter races it against those
//!             // events.
//!             let Ok(response) = driver::commit(app, env).await;
//!             response
//!         }
//!     };
//!
//!     // Committed: send the head as it is, plus framing.
//!     let (res, mut body) = response.into_parts();
//!     let mut out = format!("HTTP/1.1 {}\r\n", res.status).into_bytes();
//!     for (name, value) in &res.headers {
//!         out.extend([name.as_str().as_bytes(), b": ", value.as_bytes(), b"\r\n"].concat());
//!     }
//!     let bodiless = hints.is_head()
//!         || res.status.is_informational()
//!         || res.status == StatusCode::NO_CONTENT
//!         || res.status == StatusCode::NOT_MODIFIED
//!         || (hints.is_connect() && res.status.is_success());
//!     if bodiless {
//!         // The driver set HEAD's Content-Length and removed the others;
//!         // send no body and no framing at all (a CONNECT tunnel starts
//!         // right after the head).
//!         out.extend(b"\r\n");
//!         return Ok(out);
//!     }
//!     // A Content-Length is exact (rule 8): the body's size hint agrees,
//!     // and the body fails rather than yield a byte past it.
//!     let exact = body.size_hint().exact();
//!     let chunked = exact.is_none();
//!     match exact {
//!         Some(n) if !res.headers.contains_key(CONTENT_LENGTH) => {
//!             out.extend(format!("content-length: {n}\r\n").as_bytes());
//!         }
//!         None => out.extend(b"transfer-encoding: chunked\r\n"),
//!         Some(_) => {}
//!     }
//!     out.extend(b"\r\n");
//!     while let Some(frame) = body.frame().await {
//!         let Ok(frame) = frame else {
//!             // Rule 7: after the commit an error aborts. No terminating
//!             // chunk: the client must not take this as complete.
//!             return Err(out);
//!         };
//!         // Trailers, the last frame, are dropped by this adapter.
//!         if let Ok(data) = frame.into_data() {
//!             if chunked {
//!                 out.extend(format!("{:x}\r\n", data.len()).as_bytes());
//!                 out.extend(&data);
//!                 out.extend(b"\r\n");
//!             } else {
//!                 out.extend(&data);
//!             }
//!         }
//!     }
//!     if chunked {
//!         out.extend(b"0\r\n\r\n");
//!     }
//!     Ok(out)
//! }
//!
//! let app = fn_app(|mut env: Environ| async move {
//!     if env.method() == Method::CONNECT {
//!         return start(200, NO_HEADERS).empty(); // the tunnel is the adapter's
//!     }
//!     match env.path_info() {
//!         "/" => start(200, [("content-type", "text/plain")]).body("hi"),
//!         "/echo" => start(200, NO_HEADERS).body(env.take_body()),
//!         "/stream" => start(200, NO_HEADERS).writer(|mut w| async move {
//!             w.write("a").await?;
//!             w.write("b").await
//!         }),
//!         "/broken" => start(200, NO_HEADERS).writer(|mut w| async move {
//!             w.write("partial").await?;
//!             Err(Error::new("the disk went away"))
//!         }),
//!         // Wrong lengths on streams: 3 bytes of 10, and 6 of 2.
//!         "/short" => start(200, [("content-length", "10")]).writer(|mut w| async move {
//!             w.write("abc").await
//!         }),
//!         "/long" => start(200, [("content-length", "2")]).writer(|mut w| async move {
//!             w.write("ab").await?;
//!             w.write("cdef").await
//!         }),
//!         _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
//!     }
//! });
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let conn = ConnInfo::new(Addr::Tcp("192.0.2.1:5000".parse().unwrap()), Addr::None);
//! let send = |raw: &'static str| serve_one(&app, raw, conn);
//! let text = |out: Vec<u8>| String::from_utf8(out).unwrap();
//!
//! app.startup().await.expect("startup");
//! let ok = send("GET / HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap();
//! assert_eq!(text(ok), "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi");
//!
//! let head = send("HEAD / HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap();
//! assert_eq!(text(head), "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n");
//!
//! let echo = send("POST /echo HTTP/1.1\r\nhost: a.test\r\n\r\n12345").await.unwrap();
//! assert!(text(echo).ends_with("content-length: 5\r\n\r\n12345"));
//!
//! let stream = send("GET /stream HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap();
//! assert!(text(stream).ends_with("chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n"));
//!
//! let aborted = send("GET /broken HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap_err();
//! assert!(text(aborted).ends_with("\r\n\r\n7\r\npartial\r\n")); // no "0\r\n\r\n"
//!
//! // Rule 8: a stream under a wrong Content-Length aborts; nothing past
//! // the announced length is ever written into the connection.
//! let short = send("GET /short HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap_err();
//! assert!(text(short).ends_with("content-length: 10\r\n\r\nabc"));
//! let long = send("GET /long HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap_err();
//! assert!(text(long).ends_with("content-length: 2\r\n\r\n"));
//!
//! // Rule 4: a 2xx answer to CONNECT has no Content-Length and no body.
//! let tunnel = send("CONNECT a.test:443 HTTP/1.1\r\nhost: a.test:443\r\n\r\n").await.unwrap();
//! assert_eq!(text(tunnel), "HTTP/1.1 200 OK\r\n\r\n");
//!
//! let missing = send("GET /x HTTP/1.1\r\nhost: a.test\r\n\r\n").await.unwrap();
//! assert!(text(missing).starts_with("HTTP/1.1 404 Not Found\r\n"));
//! let bad_host = send("GET / HTTP/1.1\r\nhost: a b\r\n\r\n").await.unwrap();
//! assert!(text(bad_host).starts_with("HTTP/1.1 400 Bad Request\r\n"));
//! let too_big = send("POST /echo HTTP/1.1\r\nhost: a.test\r\n\r\n123456789").await.unwrap();
//! assert!(text(too_big).starts_with("HTTP/1.1 413 Payload Too Large\r\n"));
//! app.shutdown().await;
//! # });
//! ```
//!
//! [`Application`]: crate::Application
//! [`Application::startup`]: crate::Application::startup
//! [`Application::shutdown`]: crate::Application::shutdown
//! [`Application::call`]: crate::Application::call
//! [`Environ`]: crate::Environ
//! [`Environ::from_parts`]: crate::Environ::from_parts
//! [`Environ::path_info`]: crate::Environ::path_info
//! [`Environ::set_root_path`]: crate::Environ::set_root_path
//! [`Environ::mount`]: crate::Environ::mount
//! [`Environ::url`]: crate::Environ::url
//! [`Environ::upgrade`]: crate::Environ::upgrade
//! [`Environ::set_upgrade`]: crate::Environ::set_upgrade
//! [`ConnInfo`]: crate::ConnInfo
//! [`RootPath`]: crate::RootPath
//! [`Body::empty`]: crate::Body::empty
//! [`Body::new`]: crate::Body::new
//! [`Body::with_limit`]: crate::Body::with_limit
//! [`Body::writer`]: crate::Body::writer
//! [`Body::file`]: crate::Body::file
//! [`BodyError`]: crate::BodyError
//! [`BodyError::LengthLimitExceeded`]: crate::BodyError::LengthLimitExceeded
//! [`BodyError::Incomplete`]: crate::BodyError::Incomplete
//! [`driver`]: crate::driver
//! [`driver::commit`]: crate::driver::commit
//! [`driver::error_response`]: crate::driver::error_response
