//! Fixtures: a user table whose password hashes a test can change, and a
//! site with `Sessions` + `SessionAuth` driven by its path.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gateway_core::test_client::TestResponse;
use gateway_core::{Application, ApplicationExt, Environ, Error, fn_app, start};
use gateway_middleware::auth::{
    AuthKey, Identity, SessionAuth, User, Via, login, logout, next_from_query, redirect_after_login,
};
use gateway_middleware::sessions::{MemoryStore, Session, Sessions};
use http::StatusCode;
use serde_json::Value;

/// A user whose auth hash is its password hash.
#[derive(Clone, Debug)]
pub struct Account {
    pub name: String,
    pub password_hash: String,
}

impl User for Account {
    fn id(&self) -> &str {
        &self.name
    }
    fn auth_hash(&self) -> Option<&[u8]> {
        Some(self.password_hash.as_bytes())
    }
}

/// The user table: name → password hash. A missing name is no user.
#[derive(Clone, Default)]
pub struct Users(Arc<Mutex<HashMap<String, String>>>);

impl Users {
    pub fn with(names: &[&str]) -> Users {
        let users = Users::default();
        for name in names {
            users.set_password(name, &format!("$argon2id$v=19$hash-of-{name}-v1"));
        }
        users
    }

    pub fn set_password(&self, name: &str, hash: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(name.to_owned(), hash.to_owned());
    }

    pub fn delete(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }

    pub fn get(&self, name: &str) -> Option<Account> {
        let hash = self.0.lock().unwrap().get(name).cloned()?;
        Some(Account {
            name: name.to_owned(),
            password_hash: hash,
        })
    }
}

/// The pieces of one site, for the test to inspect.
pub struct Site<A> {
    pub app: Arc<A>,
    pub sessions: Sessions<MemoryStore>,
    pub store: MemoryStore,
    pub users: Users,
}

/// A site whose application is driven by its path:
///
/// - `/login/U` logs user U in (no password: the tests are about what
///   happens after the check) and answers `ok`; `404` for no such user;
/// - `/login-next/U` logs U in and redirects to the query's `next` (or `/`);
/// - `/passwd/U/H` sets U's password hash to H and logs U in again on this
///   session (what a password-change form does);
/// - `/logout` logs out; `/set/K/V` and `/get/K` touch the session;
/// - anything else answers who the request is from: the id, or
///   `anonymous`; with `via` checked to be `Session`.
pub fn site(
    sessions: Sessions<MemoryStore>,
    store: MemoryStore,
    users: Users,
) -> Site<impl Application> {
    let key = AuthKey::from_secret(b"the test site's auth key, 32 bytes or more").unwrap();
    let app_users = users.clone();
    let login_key = key.clone();
    let app = fn_app(move |env: Environ| {
        let users = app_users.clone();
        let key = login_key.clone();
        async move {
            let parts: Vec<String> = env
                .path_info()
                .split('/')
                .skip(1)
                .map(str::to_owned)
                .collect();
            let part = |i: usize| parts.get(i).map(String::as_str).unwrap_or("");
            let session = Session::of(&env).expect("inside Sessions");
            let body = match part(0) {
                "login" | "login-next" => {
                    let Some(user) = users.get(part(1)) else {
                        return Err(Error::with_status(StatusCode::NOT_FOUND, "no such user"));
                    };
                    login(&session, &user, &key).await?;
                    if part(0) == "login-next" {
                        return redirect_after_login(next_from_query(&env).as_deref(), "/");
                    }
                    "ok".to_owned()
                }
                "passwd" => {
                    users.set_password(part(1), part(2));
                    let user = users.get(part(1)).expect("the user exists");
                    login(&session, &user, &key).await?;
                    "changed".to_owned()
                }
                "logout" => {
                    logout(&session).await?;
                    "bye".to_owned()
                }
                "set" => {
                    session.insert(part(1), part(2)).await?;
                    "set".to_owned()
                }
                "get" => session
                    .get::<Value>(part(1))
                    .await?
                    .unwrap_or(Value::Null)
                    .to_string(),
                _ => match Identity::of(&env) {
                    Some(identity) => {
                        assert_eq!(identity.via(), Via::Session);
                        identity.id().to_owned()
                    }
                    None => "anonymous".to_owned(),
                },
            };
            start(200, [("content-type", "text/plain")]).body(body)
        }
    });
    let loader_users = users.clone();
    let loader = move |id: String| {
        let users = loader_users.clone();
        async move { Ok::<_, Error>(users.get(&id)) }
    };
    let app = app
        .with(SessionAuth::new(loader, key))
        .with(sessions.clone());
    Site {
        app: Arc::new(app),
        sessions,
        store,
        users,
    }
}

/// A site with a fresh memory store and the users `ada` and `bob`.
pub fn default_site() -> Site<impl Application> {
    let store = MemoryStore::new();
    site(
        Sessions::new(store.clone()),
        store,
        Users::with(&["ada", "bob"]),
    )
}

/// The session cookie's value in the client's jar.
pub fn session_cookie(cookies: &[(String, String)]) -> Option<String> {
    cookies
        .iter()
        .find(|(name, _)| name == "session")
        .map(|(_, value)| value.clone())
}

/// The single `Set-Cookie` line of `res`, if any.
pub fn set_cookie(res: &TestResponse) -> Option<String> {
    let lines: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
    assert!(lines.len() <= 1, "more than one Set-Cookie: {lines:?}");
    lines.first().map(|v| v.to_str().unwrap().to_owned())
}

/// The attributes of a `Set-Cookie` line other than the value and the
/// lifetime (`Max-Age`, `Expires`), in order.
pub fn scope_attributes(line: &str) -> Vec<String> {
    line.split(';')
        .skip(1)
        .map(|a| a.trim().to_owned())
        .filter(|a| {
            let lower = a.to_ascii_lowercase();
            !lower.starts_with("max-age=") && !lower.starts_with("expires=")
        })
        .collect()
}

/// Percent-encodes every byte but the unreserved ones: how a test puts an
/// arbitrary value into a query.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
