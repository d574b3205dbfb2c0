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

use std::fmt;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, COOKIE, HOST};
use http::uri::Authority;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Version};
use http_body::Body as _;
use http_body_util::BodyExt;

use crate::app::Application;
use crate::body::Body;
use crate::driver::{self, CommitHints};
use crate::environ::{ConnInfo, Environ, Scheme};
use crate::error::Error;

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
}

impl<A> fmt::Debug for TestClient<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClient")
            .field("scheme", &self.scheme)
            .field("authority", &self.authority)
            .field("conn", &self.conn)
            .field("jar", &self.jar)
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
        }
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
            .finish_non_exhaustive()
    }
}

impl<A: Application> TestRequest<'_, A> {
    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If the name or value is invalid (test code wants to know at once).
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: std::fmt::Debug,
        V: TryInto<HeaderValue>,
        V::Error: std::fmt::Debug,
    {
        self.headers.append(
            name.try_into().expect("valid header name"),
            value.try_into().expect("valid header value"),
        );
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the HTTP version the request claims.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Sends no cookies from the jar with this request, and stores none it
    /// receives.
    pub fn without_cookies(mut self) -> Self {
        self.cookies = false;
        self
    }

    /// Sends the request through the driver and reads the whole response.
    ///
    /// # Panics
    ///
    /// If the target given to [`TestClient::request`] is not a valid
    /// request-target (test code wants to know at once).
    pub async fn send(self) -> TestResponse {
        let client = self.client;
        let mut builder = Request::builder()
            .method(self.method)
            .uri(self.target.as_str())
            .version(self.version);
        if let Some(headers) = builder.headers_mut() {
            *headers = self.headers;
            if !headers.contains_key(HOST) {
                if let Ok(host) = HeaderValue::from_str(client.authority.as_str()) {
                    headers.insert(HOST, host);
                }
            }
        }
        let req = match builder.body(self.body) {
            Ok(req) => req,
            Err(e) => panic!("invalid test request target {:?}: {e}", self.target),
        };
        let (mut parts, body) = req.into_parts();
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
        if self.cookies && !parts.headers.contains_key(COOKIE) {
            if let Some(cookie) = client.jar.header_for(&target) {
                parts.headers.insert(COOKIE, cookie);
            }
        }
        let hints = CommitHints::from_head(&parts.method, parts.version, &parts.headers);
        let env = Environ::from_parts(parts, body, client.conn);
        let Ok(res) = driver::commit_with_hints(&client.app, env, hints).await;
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
        if self.cookies {
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
        TestResponse {
            parts,
            body: data.freeze(),
            trailers,
            error,
        }
    }
}

/// A response read whole by [`TestClient`].
#[derive(Debug)]
pub struct TestResponse {
    parts: http::response::Parts,
    body: Bytes,
    trailers: Option<HeaderMap>,
    error: Option<Error>,
}

impl TestResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.parts.status
    }

    /// The headers, as a server would send them (with `Content-Length` when
    /// the size is known).
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// One header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.parts.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The response extensions.
    pub fn extensions(&self) -> &http::Extensions {
        &self.parts.extensions
    }

    /// The body bytes (what was received before any abort).
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The trailers, if the body ended with some.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// The error that aborted the body after the commit, if any (a server
    /// would have cut the connection or reset the stream).
    pub fn abort_error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// Whether the body was aborted after the commit.
    pub fn is_aborted(&self) -> bool {
        self.error.is_some()
    }
}

#[cfg(test)]
mod tests;
