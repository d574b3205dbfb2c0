//! Login through the session end to end: a gateway-hyper server on
//! 127.0.0.1 with `Sessions` (memory store), `SessionAuth`, a login form
//! handler and pages behind `RequireLogin`, driven over real sockets on
//! HTTP/1.1 and HTTP/2 by a client that keeps its cookie by hand.

use std::sync::Arc;

use gateway_core::{Application, ApplicationExt, Environ, Error, fn_app, start};
use gateway_middleware::auth::{
    AuthKey, Identity, RequireLogin, SessionAuth, login, logout, redirect_after_login,
};
use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
use gateway_tests::{Client, Proto, TestServer, full, read_body};
use http::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, StatusCode};

/// Whether `given` is the fixture password of `user` (a real site verifies
/// a password hash; the tests are about what happens after the check).
fn same_password(user: &str, given: &str) -> bool {
    matches!(
        (user, given),
        ("ada", "correct horse") | ("bob", "battery staple")
    )
}

/// The value of `name` in an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    body.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == name).then(|| decode(v)).flatten()
    })
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The site:
///
/// - `POST /login` (form: `user`, `password`, `next`) logs in and
///   redirects to `next` if it is safe, else `/`; a wrong password is 403;
/// - `GET …/logout`, from any path, logs out;
/// - `GET /cart/add` counts an item in the (anonymous) session;
/// - everything else is behind `RequireLogin` and answers who asked.
fn site() -> (impl Application, Sessions<MemoryStore>) {
    let key = AuthKey::from_secret(b"end-to-end test auth key, 32 bytes+").unwrap();
    let login_key = key.clone();
    let pages = Arc::new(
        fn_app(|env: Environ| async move {
            let who = Identity::of(&env)
                .expect("RequireLogin let it through")
                .id();
            start(200, [("content-type", "text/plain")])
                .body(format!("{} for {who}", env.path_info()))
        })
        .with(RequireLogin::new("/login").unwrap()),
    );
    let sessions = Sessions::new(MemoryStore::new());
    let app =
        fn_app(move |mut env: Environ| {
            let key = login_key.clone();
            let pages = Arc::clone(&pages);
            async move {
                let session = Session::of(&env).expect("inside Sessions");
                match (env.method().as_str(), env.path_info()) {
                    ("POST", "/login") => {
                        let body = env.take_body().to_bytes(16 * 1024).await?;
                        let user = form_value(&body, "user").unwrap_or_default();
                        let password = form_value(&body, "password").unwrap_or_default();
                        if !same_password(&user, &password) {
                            return Err(Error::with_status(
                                StatusCode::FORBIDDEN,
                                "wrong password",
                            ));
                        }
                        login(&session, &user, &key).await?;
                        redirect_after_login(form_value(&body, "next").as_deref(), "/")
                    }
                    ("GET", path) if path.ends_with("/logout") => {
                        logout(&session).await?;
                        start(200, [("content-type", "text/plain")]).body("bye")
                    }
                    ("GET", "/cart/add") => {
                        let n = session.get::<u32>("cart").await?.unwrap_or(0) + 1;
                        session.insert("cart", n).await?;
                        start(200, [("content-type", "text/plain")]).body(n.to_string())
                    }
                    _ => pages.call(env).await,
                }
            }
        })
        .with(SessionAuth::new(
            |id: String| async move {
                Ok::<_, Error>(matches!(id.as_str(), "ada" | "bob").then_some(id))
            },
            key,
        ))
        .with(sessions.clone());
    (app, sessions)
}

/// A response, read whole.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    /// The single `Set-Cookie` line, if any.
    fn set_cookie(&self) -> Option<String> {
        let lines: Vec<_> = self.headers.get_all(SET_COOKIE).iter().collect();
        assert!(lines.len() <= 1, "more than one Set-Cookie: {lines:?}");
        lines.first().map(|v| v.to_str().expect("ascii").to_owned())
    }

    fn header(&self, name: http::header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().expect("ascii"))
    }
}

/// A browser-like client: one connection, one cookie kept by hand.
struct Browser {
    client: Client,
    cookie: Option<String>,
}

impl Browser {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        accept: &str,
        form: Option<String>,
    ) -> Answer {
        let body = full(form.clone().unwrap_or_default());
        let mut req = self.client.request(method, path, body);
        req.headers_mut().insert(ACCEPT, accept.parse().unwrap());
        if form.is_some() {
            req.headers_mut().insert(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded".parse().unwrap(),
            );
        }
        if let Some(value) = &self.cookie {
            req.headers_mut()
                .insert(COOKIE, format!("session={value}").parse().unwrap());
        }
        let (parts, body) = self.client.send(req).await.into_parts();
        let body = String::from_utf8_lossy(&read_body(body).await).into_owned();
        let answer = Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        // The jar: a removal clears it, a new value replaces it.
        if let Some(line) = answer.set_cookie() {
            let value = line
                .split(';')
                .next()
                .and_then(|pair| pair.strip_prefix("session="))
                .expect("the session cookie");
            self.cookie = (!line.contains("Max-Age=0")).then(|| value.to_owned());
        }
        answer
    }

    async fn page(&mut self, path: &str) -> Answer {
        self.send(Method::GET, path, "text/html,*/*;q=0.8", None)
            .await
    }
}

/// The attributes of a `Set-Cookie` line but the value and the lifetime.
fn scope(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.starts_with("Max-Age=") && !a.starts_with("Expires="))
        .collect()
}

async fn login_flow(proto: Proto) {
    let (app, sessions) = site();
    let server = TestServer::start(app).await;
    let mut browser = Browser {
        client: server.client(proto).await,
        cookie: None,
    };

    // Anonymous: a browser is sent to the login page with `next`; an API
    // client gets 401; neither gets a cookie.
    let res = browser.page("/orders?page=2").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(LOCATION), Some("/login?next=/orders%3Fpage%3D2"));
    assert!(res.set_cookie().is_none());
    let res = browser
        .send(Method::GET, "/orders", "application/json", None)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.header(WWW_AUTHENTICATE).is_some());

    // An anonymous session (planted, or a cart).
    assert_eq!(browser.page("/cart/add").await.body, "1");
    let anonymous = browser.cookie.clone().expect("the cart's session cookie");

    // A wrong password changes nothing.
    let wrong = "user=ada&password=guess&next=%2Forders%3Fpage%3D2".to_owned();
    let res = browser
        .send(Method::POST, "/login", "text/html", Some(wrong))
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.cookie.as_deref(), Some(anonymous.as_str()));

    // The login: a new id, back to `next`.
    let form = "user=ada&password=correct+horse&next=%2Forders%3Fpage%3D2".to_owned();
    let res = browser
        .send(Method::POST, "/login", "text/html", Some(form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.header(LOCATION), Some("/orders?page=2"));
    let set = res.set_cookie().expect("the login sets the new cookie");
    let logged_in = browser.cookie.clone().unwrap();
    assert_ne!(logged_in, anonymous);
    assert!(sessions.peek(&anonymous).await.unwrap().is_none());
    assert_eq!(browser.page("/orders?page=2").await.body, "/orders for ada");
    // The cart came along (an anonymous session's data is kept).
    assert_eq!(browser.page("/cart/add").await.body, "2");

    // The pre-login id is worth nothing now.
    let mut attacker = Browser {
        client: server.client(proto).await,
        cookie: Some(anonymous),
    };
    assert_eq!(attacker.page("/orders").await.status, StatusCode::SEE_OTHER);

    // A hostile `next` is not followed.
    let form = "user=bob&password=battery+staple&next=%2F%2Fevil.example%2F".to_owned();
    let res = browser
        .send(Method::POST, "/login", "text/html", Some(form))
        .await;
    assert_eq!(res.header(LOCATION), Some("/"));
    assert_eq!(browser.page("/me").await.body, "/me for bob");
    // Bob's login over Ada's kept nothing of hers.
    assert_eq!(browser.page("/cart/add").await.body, "1");

    // Logout from a deep path: the removal cookie is scoped as the cookie
    // was set.
    let bob = browser.cookie.clone().unwrap();
    let res = browser.page("/account/settings/logout").await;
    assert_eq!(res.body, "bye");
    let removal = res.set_cookie().expect("a removal cookie");
    assert!(
        removal.starts_with("session=;") && removal.contains("Max-Age=0"),
        "{removal}"
    );
    assert_eq!(scope(&removal), scope(&set));
    assert!(browser.cookie.is_none());
    assert!(sessions.peek(&bob).await.unwrap().is_none());
    assert_eq!(browser.page("/orders").await.status, StatusCode::SEE_OTHER);

    server.stop().await;
}

#[tokio::test]
async fn login_flow_http1() {
    login_flow(Proto::Http1).await;
}

#[tokio::test]
async fn login_flow_http2() {
    login_flow(Proto::Http2).await;
}
