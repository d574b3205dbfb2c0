//! [`TestClient`]: calls an application in-process, through the same
//! [`driver`] a server uses, with a cookie jar.
//!
//! Enabled by the `test-client` feature (typically in `[dev-dependencies]`).
//! No sockets and no runtime are involved: `send` is a plain future, so any
//! executor runs it.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_core::{fn_app, start};
//!
//! let app = fn_app(|env| async move {
//!     if env.headers().contains_key("cookie") {
//!         start(200, [("content-type", "text/plain")]).body("welcome back")
//!     } else {
//!         start(200, [("set-cookie", "seen=1; Path=/")]).body("hello")
//!     }
//! });
//! let client = TestClient::new(app);
//! assert_eq!(client.get("/").send().await.text(), "hello");
//! assert_eq!(client.get("/").send().await.text(), "welcome back");
//! # });
//! ```
//!
//! A request can carry a form or JSON ([`TestRequest::form`],
//! [`TestRequest::json`]); a response parses as JSON
//! ([`TestResponse::json`]) and shows, with `{:?}`, its status, headers,
//! body and the [error](TestResponse::error) behind a failure. Redirects
//! are followed only when asked ([`TestClient::follow_redirects`]).
//!
//! Protocol upgrades run in-process too: [`TestRequest::upgrade`] offers
//! the application an upgrade over an in-memory pipe, as a server would,
//! and gives the test the client's end, a [`TestConnection`].

use std::fmt;

use bytes::BytesMut;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST};
use http::uri::Authority;
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;

use crate::app_impl::Application;
use crate::body_impl::Body;
use crate::driver::{self, CommitHints};
use crate::environ_impl::{ConnInfo, Environ, Scheme};
use crate::upgrade::{OnUpgrade, Switch, take_switch};

mod redirect;
mod response;
mod upgrade;

use redirect::{Base, Hop};
pub use response::{InvalidJson, TestResponse};
pub use upgrade::TestConnection;

mod jar;

use jar::{CookieJar, Target};

/// An in-process client for an [`Application`]. See the
/// [module docs](self).
pub struct TestClient<A> {
    app: A,
    scheme: Scheme,
    authority: Authority,
    conn: ConnInfo,
    jar: CookieJar,
    max_redirects: usize,
}

impl<A> fmt::Debug for TestClient<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("conn", &self.conn)
            .field("jar", &self.jar)
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl<A: Application> TestClient<A> {
    /// A client for `app`, talking to `http://localhost`.
    pub fn new(app: A) -> TestClient<A> {
        TestClient {
            app,
            scheme: Scheme::Http,
            authority: Authority::from_static("localhost"),
            conn: ConnInfo::default(),
            jar: CookieJar::default(),
            max_redirects: 0,
        }
    }

    /// Follows up to `max` redirects (301, 302, 303, 307, 308 with a
    /// `Location`) for every request, as a browser would: 307 and 308
    /// repeat the request with its body, 303 (and 301 or 302 after a POST)
    /// turn it into a GET without one. Cookies are stored and sent at each
    /// step; `Authorization`, `Proxy-Authorization`, `Cookie` and `Host`
    /// headers set on the request are dropped when the redirect leads to
    /// another origin (scheme, host or port), and the headers that
    /// described a dropped body (`Content-Type`, `Content-Encoding`, …)
    /// with it. The response after `max` redirects is returned as it is,
    /// even if it is a redirect, and so is a redirect whose `Location` is
    /// not an `http` or `https` URL.
    ///
    /// Off (0) by default: a test usually wants to see the redirect itself.
    /// [`TestRequest::follow_redirects`] sets it for one request.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::response::NO_HEADERS;
    /// use gateway_core::{fn_app, start};
    ///
    /// let app = fn_app(|env| async move {
    ///     match env.path_info() {
    ///         "/login" => start(303, [("location", "/home"), ("set-cookie", "sid=1")]).empty(),
    ///         "/loop" => start(302, [("location", "/loop")]).empty(),
    ///         _ => start(200, NO_HEADERS).body(format!("{} {}", env.method(), env.path_info())),
    ///     }
    /// });
    /// let client = TestClient::new(app).follow_redirects(3);
    /// assert_eq!(client.post("/login").send().await.text(), "GET /home");
    /// assert_eq!(client.cookies(), [("sid".to_owned(), "1".to_owned())]);
    /// assert_eq!(client.get("/loop").send().await.status(), 302);
    /// # });
    /// ```
    pub fn follow_redirects(mut self, max: usize) -> TestClient<A> {
        self.max_redirects = max;
        self
    }

    /// Sets the scheme and host requests are sent to, e.g.
    /// `https://example.com` (the scheme decides whether `Secure` cookies
    /// are sent).
    ///
    /// # Panics
    ///
    /// If `base` is not `scheme://authority`.
    pub fn with_base_url(mut self, base: &str) -> TestClient<A> {
        let uri: http::Uri = base
            .parse()
            .expect("a base URL such as https://example.com");
        self.scheme = uri
            .scheme_str()
            .and_then(Scheme::parse)
            .expect("a base URL with scheme http or https");
        self.authority = uri.authority().cloned().expect("a base URL with a host");
        self.conn.set_scheme(self.scheme);
        self.conn.set_tls(self.scheme == Scheme::Https);
        self
    }

    /// Sets the connection info every request carries (peer address,
    /// local address). The scheme stays the base URL's.
    pub fn with_conn(mut self, conn: ConnInfo) -> TestClient<A> {
        let tls = self.conn.is_tls();
        self.conn = conn;
        self.conn.set_scheme(self.scheme);
        self.conn.set_tls(tls);
        self
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    /// Starts a request. `target` is a path with an optional query
    /// (`/a?b=c`), `*`, or an absolute URL.
    pub fn request(&self, method: Method, target: &str) -> TestRequest<'_, A> {
        TestRequest {
            client: self,
            method,
            target: target.to_owned(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: Body::empty(),
            cookies: true,
            max_redirects: self.max_redirects,
            extensions: Extensions::new(),
        }
    }

    /// Starts a GET request.
    pub fn get(&self, target: &str) -> TestRequest<'_, A> {
        self.request(Method::GET, target)
    }

    /// Starts a HEAD request.
    pub fn head(&self, target: &str) -> TestRequest<'_, A> {
        self.request(Method::HEAD, target)
    }

    /// Starts a POST request.
    pub fn post(&self, target: &str) -> TestRequest<'_, A> {
        self.request(Method::POST, target)
    }

    /// Starts a PUT request.
    pub fn put(&self, target: &str) -> TestRequest<'_, A> {
        self.request(Method::PUT, target)
    }

    /// Starts a DELETE request.
    pub fn delete(&self, target: &str) -> TestRequest<'_, A> {
        self.request(Method::DELETE, target)
    }

    /// The cookies the jar holds now, as `(name, value)`.
    pub fn cookies(&self) -> Vec<(String, String)> {
        self.jar.cookies()
    }

    /// Empties the cookie jar.
    pub fn clear_cookies(&self) {
        self.jar.clear();
    }

    /// Puts a cookie into the jar, as if the client's host had set it with
    /// `Path=/` and no expiry: how a test starts from a state a browser
    /// would have (a session cookie made by a session store's test helper,
    /// say). Replaces a cookie of the same name.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::{Environ, fn_app, start};
    ///
    /// let app = fn_app(|env: Environ| async move {
    ///     let cookie = env.headers().get("cookie").map(|v| v.to_str().unwrap_or("").to_owned());
    ///     start(200, [("content-type", "text/plain")]).body(cookie.unwrap_or_default())
    /// });
    /// let client = TestClient::new(app);
    /// client.add_cookie("theme", "dark");
    /// assert_eq!(client.get("/").send().await.text(), "theme=dark");
    /// # });
    /// ```
    pub fn add_cookie(&self, name: &str, value: &str) {
        self.jar.add(self.authority.host(), name, value);
    }
}

/// A request being built by a [`TestClient`]; finish with
/// [`send`](TestRequest::send).
#[must_use = "a TestRequest does nothing until sent"]
pub struct TestRequest<'a, A> {
    client: &'a TestClient<A>,
    method: Method,
    target: String,
    version: Version,
    headers: HeaderMap,
    body: Body,
    cookies: bool,
    max_redirects: usize,
    extensions: Extensions,
}

impl<A> fmt::Debug for TestRequest<'_, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("version", &self.version)
            .field("headers", &self.headers)
            .field("body", &self.body)
            .field("cookies", &self.cookies)
            .field("max_redirects", &self.max_redirects)
            .finish_non_exhaustive()
    }
}

impl<A: Application> TestRequest<'_, A> {
    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If the name or value is invalid (test code wants to know at once);
    /// the message names the header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: std::fmt::Debug,
        V: TryInto<HeaderValue>,
        V::Error: std::fmt::Debug,
    {
        let name = match name.try_into() {
            Ok(name) => name,
            Err(e) => panic!(
                "TestRequest::header: invalid header name (header {} of the request): {e:?}",
                self.headers.len() + 1
            ),
        };
        let value = match value.try_into() {
            Ok(value) => value,
            Err(e) => panic!("TestRequest::header: invalid value for header `{name}`: {e:?}"),
        };
        self.headers.append(name, value);
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON, and `Content-Type:
    /// application/json` unless the request has a `Content-Type` already.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize to JSON (a map with non-string keys,
    /// a failing `Serialize` impl).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::response::NO_HEADERS;
    /// use gateway_core::{fn_app, start};
    /// use http_body_util::BodyExt;
    ///
    /// let echo = fn_app(|mut env| async move {
    ///     let ty = env.headers()["content-type"].clone();
    ///     let body = env.take_body().collect().await?.to_bytes();
    ///     start(200, [("content-type", ty)]).body(body)
    /// });
    /// let res = TestClient::new(echo)
    ///     .post("/items")
    ///     .json(&serde_json::json!({"name": "tea"}))
    ///     .send()
    ///     .await;
    /// assert_eq!(res.header("content-type"), Some("application/json"));
    /// assert_eq!(res.text(), r#"{"name":"tea"}"#);
    /// # let _ = NO_HEADERS;
    /// # });
    /// ```
    pub fn json<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => self.typed_body("application/json", body),
            Err(e) => panic!("TestRequest::json: the value does not serialize to JSON: {e}"),
        }
    }

    /// Sets the body to `value` as an HTML form
    /// (`application/x-www-form-urlencoded`), and that `Content-Type`
    /// unless the request has one already.
    ///
    /// # Panics
    ///
    /// If `value` does not serialize to a form (only structs, maps and
    /// sequences of pairs of plain values do).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::response::NO_HEADERS;
    /// use gateway_core::{fn_app, start};
    /// use http_body_util::BodyExt;
    ///
    /// #[derive(serde::Serialize)]
    /// struct Login<'a> { user: &'a str, password: &'a str }
    ///
    /// let echo = fn_app(|mut env| async move {
    ///     let ty = env.headers()["content-type"].clone();
    ///     let body = env.take_body().collect().await?.to_bytes();
    ///     start(200, [("content-type", ty)]).body(body)
    /// });
    /// let res = TestClient::new(echo)
    ///     .post("/login")
    ///     .form(&Login { user: "ann", password: "a&b c" })
    ///     .send()
    ///     .await;
    /// assert_eq!(res.header("content-type"), Some("application/x-www-form-urlencoded"));
    /// assert_eq!(res.text(), "user=ann&password=a%26b+c");
    /// # let _ = NO_HEADERS;
    /// # });
    /// ```
    pub fn form<T: serde::Serialize + ?Sized>(self, value: &T) -> Self {
        match serde_urlencoded::to_string(value) {
            Ok(body) => self.typed_body("application/x-www-form-urlencoded", body.into_bytes()),
            Err(e) => panic!("TestRequest::form: the value does not serialize to a form: {e}"),
        }
    }

    fn typed_body(mut self, content_type: &'static str, body: Vec<u8>) -> Self {
        if !self.headers.contains_key(CONTENT_TYPE) {
            self.headers
                .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        self.body = Body::from(body);
        self
    }

    /// Follows up to `max` redirects for this request, whatever the
    /// client's [`follow_redirects`](TestClient::follow_redirects) says; 0
    /// follows none.
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Sets the HTTP version the request claims.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Puts `value` into the request's extensions, where the application
    /// finds it with [`Environ::extensions`](crate::Environ::extensions) —
    /// what a server or an outer middleware would have inserted, or a test
    /// hook a middleware looks for. Every hop of a followed redirect gets a
    /// clone.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::{Environ, fn_app, start};
    ///
    /// #[derive(Clone)]
    /// struct User(&'static str);
    ///
    /// let app = fn_app(|env: Environ| async move {
    ///     let user = env.extensions().get::<User>().map_or("anonymous", |u| u.0);
    ///     start(200, [("content-type", "text/plain")]).body(user)
    /// });
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/").extension(User("ada")).send().await.text(), "ada");
    /// assert_eq!(client.get("/").send().await.text(), "anonymous");
    /// # });
    /// ```
    pub fn extension<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.extensions.insert(value);
        self
    }

    /// Sends no cookies from the jar with this request, and stores none it
    /// receives.
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    /// Sends the request as a protocol upgrade to `protocol` and, if the
    /// application switches, returns the response and the client's end of
    /// the connection, on which the application's handler runs (see
    /// [`TestConnection`]). If it does not switch, the response it sent
    /// instead is the `Err`.
    ///
    /// As a server would: an `HTTP/2` `CONNECT` request becomes an
    /// extended CONNECT (RFC 8441) with `:protocol` = `protocol`, answered
    /// with 200; any other request gets `Upgrade: protocol` and
    /// `Connection: upgrade` (unless it has them already) and, if it is
    /// HTTP/1.1 (the default), the upgrade is offered — an HTTP/1.0
    /// request is not offered one ([`Environ::upgrade`] is `None`), as
    /// `gateway-hyper` does. Redirects are not followed.
    ///
    /// [`TestRequest::send`] also offers an HTTP/1.1 upgrade request its
    /// upgrade, so the application sees what a server gives it, but keeps
    /// no connection: after a 101, the handler is dropped.
    ///
    /// # Panics
    ///
    /// As [`send`](TestRequest::send).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use gateway_core::test_client::TestClient;
    /// use gateway_core::upgrade::Upgraded;
    /// use gateway_core::{fn_app, start, Environ};
    /// use http::{HeaderMap, Method, Version};
    /// use tokio::io::AsyncWriteExt as _;
    ///
    /// let app = fn_app(|mut env: Environ| async move {
    ///     match env.upgrade() {
    ///         Some(up) if up.protocol() == "hello" => {
    ///             Ok(up.switch(HeaderMap::new(), |mut io: Upgraded| async move {
    ///                 let _ = io.write_all(b"hello").await;
    ///             }))
    ///         }
    ///         _ => start(400, [("content-type", "text/plain")]).body("no"),
    ///     }
    /// });
    /// let client = TestClient::new(app);
    ///
    /// let (res, mut conn) = client
    ///     .request(Method::CONNECT, "https://localhost/chat")
    ///     .version(Version::HTTP_2)
    ///     .upgrade("hello")
    ///     .await
    ///     .unwrap();
    /// assert_eq!(res.status(), 200);
    /// conn.join().await; // the handler wrote its greeting and returned
    ///
    /// let refused = client.get("/").upgrade("other").await.unwrap_err();
    /// assert_eq!(refused.status(), 400);
    /// # });
    /// ```
    pub async fn upgrade(
        mut self,
        protocol: &str,
    ) -> Result<(TestResponse, TestConnection), TestResponse> {
        let extended = self.method == Method::CONNECT && self.version == Version::HTTP_2;
        if !extended {
            for (name, value) in [
                (http::header::UPGRADE, protocol),
                (http::header::CONNECTION, "upgrade"),
            ] {
                if !self.headers.contains_key(&name) {
                    match HeaderValue::from_str(value) {
                        Ok(value) => {
                            self.headers.insert(name, value);
                        }
                        Err(e) => panic!("TestRequest::upgrade: invalid protocol {value:?}: {e}"),
                    }
                }
            }
        }
        let (mut conn, server, shutdown) = TestConnection::pair();
        let upgraded = async move { Ok(upgrade::upgraded(server, shutdown)) };
        let offer = if extended {
            Offer::Upgrade(OnUpgrade::extended_connect(protocol, upgraded))
        } else if self.version == Version::HTTP_11 {
            Offer::Upgrade(OnUpgrade::http1(upgraded))
        } else {
            Offer::None
        };
        let TestRequest {
            client,
            method,
            target,
            version,
            headers,
            body,
            cookies,
            extensions,
            ..
        } = self;
        let hop = Hop {
            method,
            target,
            version,
            headers,
        };
        let (res, switch) = client.exchange(hop, body, cookies, extensions, offer).await;
        match switch {
            Some(switch) => {
                conn.set_switch(switch);
                Ok((res, conn))
            }
            None => Err(res),
        }
    }

    /// Sends the request through the driver and reads the whole response,
    /// following redirects if asked to.
    ///
    /// # Panics
    ///
    /// If the target given to [`TestClient::request`] is not a valid
    /// request-target (test code wants to know at once), or — only when
    /// redirects are followed, which reads the body whole first so that a
    /// 307 or 308 can send it again — if the request body fails.
    pub async fn send(self) -> TestResponse {
        let TestRequest {
            client,
            method,
            target,
            version,
            headers,
            body,
            cookies,
            max_redirects,
            extensions,
        } = self;
        let mut hop = Hop {
            method,
            target,
            version,
            headers,
        };
        if max_redirects == 0 {
            return client.send_once(hop, body, cookies, extensions).await;
        }
        let mut bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => panic!("the request body failed while read for replay: {e}"),
        };
        let base = Base {
            scheme: client.scheme,
            authority: &client.authority,
        };
        let mut followed = 0;
        loop {
            let res = client
                .send_once(
                    hop.clone(),
                    Body::from(bytes.clone()),
                    cookies,
                    extensions.clone(),
                )
                .await;
            if followed == max_redirects {
                return res;
            }
            let Some((next, keeps_body)) = redirect::next(&hop, &res, &base) else {
                return res;
            };
            if !keeps_body {
                bytes = bytes::Bytes::new();
            }
            hop = next;
            followed += 1;
        }
    }
}

/// What [`TestClient::exchange`] offers the application.
enum Offer {
    /// Nothing.
    None,
    /// An HTTP/1.1 upgrade request sent with `send`: the application may
    /// take it, but the connection is not kept.
    Send,
    /// This upgrade.
    Upgrade(OnUpgrade),
}

impl<A: Application> TestClient<A> {
    /// Sends one request through the driver and reads the whole response.
    async fn send_once(
        &self,
        hop: Hop,
        body: Body,
        cookies: bool,
        extensions: Extensions,
    ) -> TestResponse {
        self.exchange(hop, body, cookies, extensions, Offer::Send)
            .await
            .0
    }

    /// Sends one request through the driver, offering the application an
    /// upgrade as `offer` says, and reads the whole response; the switch
    /// too, if the response has one.
    async fn exchange(
        &self,
        hop: Hop,
        body: Body,
        cookies: bool,
        extensions: Extensions,
        offer: Offer,
    ) -> (TestResponse, Option<Switch>) {
        let client = self;
        let mut builder = Request::builder()
            .method(hop.method)
            .uri(hop.target.as_str())
            .version(hop.version);
        if let Some(headers) = builder.headers_mut() {
            *headers = hop.headers;
        }
        let req = match builder.body(body) {
            Ok(req) => req,
            Err(e) => panic!("invalid test request target {:?}: {e}", hop.target),
        };
        let (mut parts, body) = req.into_parts();
        parts.extensions = extensions;
        if !parts.headers.contains_key(HOST) {
            // RFC 9112 §3.2: an absolute-form request names its host in
            // `Host` too (without userinfo), as a real client sends it.
            let authority = parts.uri.authority().unwrap_or(&client.authority).as_str();
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            if let Ok(host) = HeaderValue::from_str(host) {
                parts.headers.insert(HOST, host);
            }
        }
        let path = parts.uri.path().to_owned();
        let host = parts
            .uri
            .host()
            .unwrap_or_else(|| client.authority.host())
            .to_owned();
        let https = match parts.uri.scheme_str() {
            Some(scheme) => scheme.eq_ignore_ascii_case("https"),
            None => client.scheme == Scheme::Https,
        };
        let target = Target {
            host: &host,
            path: &path,
            https,
        };
        if cookies && !parts.headers.contains_key(COOKIE) {
            if let Some(cookie) = client.jar.header_for(&target) {
                parts.headers.insert(COOKIE, cookie);
            }
        }
        let hints = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
        let route = driver::fast_path::route(&parts.method, &parts.uri);
        let mut env = Environ::from_parts(parts, body, client.conn);
        match offer {
            Offer::None => {}
            Offer::Send if hints.is_upgrade() => {
                env.set_upgrade(OnUpgrade::http1(async {
                    Err("TestRequest::send keeps no connection: use TestRequest::upgrade".into())
                }));
            }
            Offer::Send => {}
            Offer::Upgrade(on) => env.set_upgrade(on),
        }
        let Ok(mut res) =
            driver::fast_path::commit_with_route(&client.app, env, hints, route).await;
        let switch = take_switch(&mut res);
        let (mut parts, body) = res.into_parts();

        // What hyper adds on the wire: Content-Length from the exact size
        // (HEAD keeps the one the driver set; a CONNECT tunnel has none).
        let status = parts.status;
        let can_have_length = !(hints.is_head()
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
            || (hints.is_connect() && status.is_success()));
        if can_have_length && !parts.headers.contains_key(CONTENT_LENGTH) {
            if let Some(n) = body.size_hint().exact() {
                parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(n));
            }
        }
        if cookies {
            client.jar.store(&target, &parts.headers);
        }

        let mut data = BytesMut::new();
        let mut trailers = None;
        let mut error = None;
        let mut body = body;
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(d) => data.extend_from_slice(&d),
                    Err(frame) => trailers = frame.into_trailers().ok(),
                },
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let res = TestResponse {
            parts,
            body: data.freeze(),
            trailers,
            error,
        };
        (res, switch)
    }
}

#[cfg(test)]
mod tests;
