//! Sessions: per-visitor state kept across requests, safe by default and
//! without lost updates across requests and instances.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{ApplicationExt, Environ, fn_app, start};
//! use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
//!
//! let app = fn_app(|env: Environ| async move {
//!     let session = Session::of(&env).expect("inside Sessions");
//!     match env.path_info() {
//!         "/login" => {
//!             // (check the password first)
//!             session.cycle_id().await?; // a new id at every privilege change
//!             session.insert("user", "ada").await?;
//!         }
//!         "/logout" => session.destroy().await?,
//!         _ => {}
//!     }
//!     let user: Option<String> = session.get("user").await?;
//!     start(200, [("content-type", "text/plain")]).body(user.unwrap_or("anonymous".into()))
//! })
//! .with(Sessions::new(MemoryStore::new()));
//!
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/").send().await.text(), "anonymous");
//! assert!(client.cookies().is_empty()); // anonymous traffic: no cookie, no record
//! assert_eq!(client.get("/login").send().await.text(), "ada");
//! assert_eq!(client.get("/").send().await.text(), "ada");
//! assert_eq!(client.get("/logout").send().await.text(), "anonymous");
//! assert!(client.cookies().is_empty());
//! # });
//! ```
//!
//! [`Sessions`] is the middleware; it puts a [`Session`] handle in every
//! request's locals ([`Session::of`]; [`Session::of_request`] in a tower
//! service behind the tower bridge). Values are anything serde can
//! turn into JSON, by string key.
//!
//! # Where sessions are kept
//!
//! | backend | the cookie holds | for |
//! |---|---|---|
//! | [`MemoryStore`] | the id | one instance, development, tests; bounded and expiring |
//! | [`CookieStore`] | the whole session, encrypted (or signed) | no server state; small sessions (4096-byte cookies); no revocation — see its docs |
//! | `RedisStore` (feature `redis`) | the id | several instances; Redis keeps the expiry |
//! | your own [`SessionStore`] | the id | implement the trait; check it with the `session-conformance` kit |
//!
//! # Lazy, and silent for anonymous traffic
//!
//! Nothing is read until the application calls a method of its `Session`;
//! a request that never does costs no store round trip and its response is
//! left exactly as it was. A request that has no session cookie and
//! never inserts anything creates no record and gets no `Set-Cookie`.
//! Whenever the session was used, the response gets `Vary: Cookie`.
//!
//! # Saved once, before the commit
//!
//! The middleware decides the cookie after the application returns and
//! before the driver commits the response: it saves the keys the request
//! changed (nothing if nothing changed), once, and sets the cookie. A
//! response with a 5xx status saves nothing, and neither does an `Err`
//! the driver answers with a 5xx; an `Err` with a 4xx status (a refused
//! login that counts the attempt) saves like a response, its cookie in
//! the error's headers, which the driver's error page carries. When it sets a cookie it adds `Cache-Control: private` unless
//! the application chose a `Cache-Control`. A change after that decision —
//! from a streaming body still holding a `Session` — is refused with
//! [`SessionError::is_after_commit`], logged as an error, and reported as
//! the `changed-after-commit` violation under
//! [`Lint`](gateway_core::lint::Lint): never silently dropped.
//!
//! # Overlapping requests
//!
//! A save carries only the keys the request changed, merged into the
//! stored record by [the store's rule](SessionStore#the-contract): two
//! requests changing different keys both keep their change; when both
//! change the same key, the first to save wins (the later one is counted
//! in [`SessionStats::conflicts`] and logged at `warn`, by key name);
//! a session destroyed by one request is not brought back by a slower one,
//! which sets no cookie. ([`CookieStore`] has no server state to merge
//! into: the last response's cookie wins.)
//!
//! # Expiry
//!
//! A session expires at `min(last use + idle timeout, creation + absolute
//! timeout)` ([`Sessions::idle_timeout`], 14 days by default;
//! [`Sessions::absolute_timeout`], none by default). The cookie's
//! `Max-Age`/`Expires` and the store's expiry are the same instant (the
//! cookie's rounded down, never negative), whether or not the request
//! changed anything. A request moves the deadline (and re-sends the
//! cookie) only once it would move by more than
//! [`Sessions::refresh_threshold`]: a request that only reads writes
//! nothing until then, and one that changes a value saves it under the
//! record's current expiry — so with a server-side store its response
//! carries no `Set-Cookie` (the client's cookie still agrees), and with
//! [`CookieStore`] the re-sealed cookie keeps the same lifetime.
//! [`Sessions::browser_session`] sends the cookie without a lifetime; the
//! server still expires it. An expired record never loads, even when its
//! cookie is replayed.
//!
//! # Cookies
//!
//! `HttpOnly`, `SameSite=Lax`, `Path=/`; `Secure` when the request's
//! verified scheme is https ([`Environ::scheme`](gateway_core::Environ::scheme),
//! which [`ProxyHeaders`](crate::ProxyHeaders) corrects; see [`Secure`]);
//! optional `Domain`, or the `__Host-` prefix ([`Sessions::host_prefix`]).
//! Every `Cookie` field line is read (HTTP/2 sends one per cookie); of
//! several cookies of the session's name, the first four of the right
//! form (an id for server-side stores, a sealed value's alphabet and
//! length for the cookie store) are candidates, and the first that names
//! a live record or that opens is used — so junk, or an unknown id,
//! planted ahead of the real cookie does not hide it. A bad
//! cookie — tampered, truncated, unknown, expired — gives a fresh empty
//! session: never an error page, never old data, and its value is never
//! logged. Logout's removal cookie repeats `Path`, `Domain`, `Secure` and
//! `SameSite` with `Max-Age=0`. Ids are 128 bits from the operating
//! system's CSPRNG ([`SessionId`]).
//!
//! # Store outage
//!
//! Requests without a session cookie that only read are served without
//! touching the store. A request that needs its session while the store
//! fails gets `503 Service Unavailable` with `Retry-After`, replacing the
//! application's response ([`OnStoreError::FailClosed`], the default) —
//! never a silent new session, never a 500. [`OnStoreError::FailOpen`]
//! serves it as anonymous instead.
//!
//! # Testing
//!
//! [`Sessions::seed`] stores a session and returns its cookie, to start a
//! request logged in (`TestClient::add_cookie`); [`Sessions::peek`] reads
//! back what was saved; [`MemoryStore::stats`] counts store calls;
//! [`Hold`] stops one request between its load and its save while another
//! runs, to play out a race deterministically.

mod backend;
#[cfg(feature = "session-conformance")]
pub mod conformance;
mod cookie;
mod cookie_store;
mod handle;
mod hold;
pub(crate) mod id;
mod memory;
mod middleware;
#[cfg(feature = "redis")]
mod redis;
mod store;

#[cfg(feature = "redis")]
pub use self::redis::{RedisStore, RedisStoreBuilder};
pub use backend::Backend;
pub use cookie::{SameSite, Secure};
pub use cookie_store::{CookieStore, CookieTooLarge, Key, KeyError};
pub use handle::{Session, SessionError};
pub use hold::Hold;
pub use id::SessionId;
pub use memory::{MemoryStats, MemoryStore};
pub use middleware::{OnStoreError, SessionStats, Sessions, SessionsApp};
pub use store::{Created, Record, Save, Saved, SessionStore, StoreError};
