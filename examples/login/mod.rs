//! The `login` example's site: a login form checked against Argon2
//! hashes, a page only logged-in users see, logout, a visit counter kept
//! in the session, and CSRF-protected forms — in any session store.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::test_client::TestClient;
//! use gateway_examples::login;
//! use gateway_middleware::sessions::{MemoryStore, Sessions};
//!
//! use gateway_middleware::auth::AuthKey;
//!
//! let client = TestClient::new(login::app(Sessions::new(MemoryStore::new()), AuthKey::generate()));
//! let res = client.get("/private").header("accept", "text/html").send().await;
//! assert_eq!(res.status(), 303); // to /login?next=%2Fprivate
//! # });
//! ```
//!
//! The routes:
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | the visit counter (in the session), who is logged in |
//! | `GET /login` | the login form (with the CSRF token and `next`) |
//! | `POST /login` | checks the password; logs in; `303` to `next` (re-validated) or `/private` |
//! | `GET /private` | behind [`RequireLogin`]: the user's page, with a logout form |
//! | `POST /logout` | logs out (the session and its cookie are removed); `303` to `/` |
//!
//! The demo account is `ada` with the password `lovelace`; only its
//! Argon2id hash ([`ADA_HASH`]) is in the program.

use std::collections::HashMap;
use std::sync::Arc;

use argon2::{Argon2, PasswordHash, PasswordVerifier};
use gateway_core::{Application, ApplicationExt, Environ, Error, Response, fn_app, start};
use gateway_middleware::Mount;
use gateway_middleware::auth::{
    AuthKey, Csrf, CsrfToken, Identity, RequireLogin, SessionAuth, User, login, logout,
    next_from_query, redirect_after_login,
};
use gateway_middleware::sessions::{Backend, Session, Sessions};
use http::{Method, StatusCode};
use serde::Deserialize;

/// The Argon2id hash (PHC string, default parameters) of `lovelace`, the
/// demo password of the account `ada`.
pub const ADA_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$Z2F0ZXdheS1kZW1vLXNhbHQ$IdlYjXm8krQ2ZvYsH+JN/cSXYQFhKXCoZ7BlsdD5J8M";

/// The largest login form accepted.
const FORM_LIMIT: u64 = 8 * 1024;

/// An account: its name and its password's Argon2 hash.
#[derive(Clone, Debug)]
pub struct Account {
    name: String,
    password_hash: String,
}

impl User for Account {
    fn id(&self) -> &str {
        &self.name
    }

    // Changing the password changes the hash, which logs out every other
    // session of the account.
    fn auth_hash(&self) -> Option<&[u8]> {
        Some(self.password_hash.as_bytes())
    }
}

/// The accounts, by name (a database table in a real site).
#[derive(Debug)]
pub struct Accounts {
    by_name: HashMap<String, Account>,
}

impl Accounts {
    /// The demo accounts: `ada` / `lovelace`.
    pub fn demo() -> Accounts {
        let ada = Account {
            name: "ada".to_owned(),
            password_hash: ADA_HASH.to_owned(),
        };
        Accounts {
            by_name: HashMap::from([(ada.name.clone(), ada)]),
        }
    }

    /// The account named `name`, if there is one (what a
    /// [`SessionAuth`] loader looks up).
    pub fn get(&self, name: &str) -> Option<&Account> {
        self.by_name.get(name)
    }

    /// The account named `name`, if `password` is its password. An
    /// unknown name costs an Argon2 verification too, so the time taken
    /// does not tell which names exist.
    pub fn check(&self, name: &str, password: &str) -> Option<&Account> {
        let account = self.by_name.get(name);
        let hash = account.map_or(ADA_HASH, |a| a.password_hash.as_str());
        let verified = PasswordHash::new(hash).is_ok_and(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        });
        account.filter(|_| verified)
    }
}

/// The whole site, with its sessions kept by `sessions` (the example's
/// `main` passes a `MemoryStore` or a `RedisStore`) and logins keyed by
/// `key` — one key for the whole deployment, so that every instance
/// sharing the sessions accepts the others' logins.
pub fn app<B: Backend>(sessions: Sessions<B>, key: AuthKey) -> impl Application {
    let accounts = Arc::new(Accounts::demo());

    let private = fn_app(private_page).with(match RequireLogin::new("/login") {
        Ok(require) => require,
        Err(e) => unreachable!("/login is a valid login URL: {e}"),
    });
    let public = {
        let accounts = Arc::clone(&accounts);
        let key = key.clone();
        fn_app(move |env: Environ| {
            let accounts = Arc::clone(&accounts);
            let key = key.clone();
            async move { public_pages(env, &accounts, &key).await }
        })
    };
    let loader = move |id: String| {
        let accounts = Arc::clone(&accounts);
        async move { Ok::<_, Error>(accounts.get(&id).cloned()) }
    };
    Mount::new()
        .mount("/private", private)
        .fallback(public)
        // Unsafe methods from other sites are refused; the forms carry a
        // token for clients that send no Fetch metadata and no Origin.
        .with(Csrf::new())
        // The session's login becomes the request's `Identity`.
        .with(SessionAuth::new(loader, key))
        .with(sessions)
}

async fn public_pages(
    mut env: Environ,
    accounts: &Accounts,
    key: &AuthKey,
) -> Result<Response, Error> {
    match (env.method().clone(), env.path_info()) {
        (Method::GET | Method::HEAD, "/") => {
            let visits = count_visit(&env).await?;
            let who = match Identity::of(&env) {
                Some(user) => format!(
                    "Logged in as <b>{}</b>. <a href=\"/private\">Your page</a>.",
                    escape(user.id())
                ),
                None => "Not logged in. <a href=\"/login\">Log in</a>.".to_owned(),
            };
            page(
                StatusCode::OK,
                &format!("<p>Visit {visits}.</p><p>{who}</p>"),
            )
        }
        (Method::GET | Method::HEAD, "/login") => {
            let next = next_from_query(&env);
            login_form(&env, next.as_deref(), None, StatusCode::OK).await
        }
        (Method::POST, "/login") => {
            let body = env.take_body().to_bytes(FORM_LIMIT).await?;
            let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
                return Err(Error::with_status(
                    StatusCode::BAD_REQUEST,
                    "malformed login form",
                ));
            };
            let Some(account) = accounts.check(&form.user, &form.password) else {
                let status = StatusCode::UNAUTHORIZED;
                return login_form(
                    &env,
                    form.next.as_deref(),
                    Some("Wrong name or password."),
                    status,
                )
                .await;
            };
            let session =
                Session::of(&env).ok_or_else(|| Error::new("the site runs inside Sessions"))?;
            login(&session, account, key).await?;
            redirect_after_login(form.next.as_deref(), "/private")
        }
        (Method::POST, "/logout") => {
            if let Some(session) = Session::of(&env) {
                logout(&session).await?;
            }
            start(303, [("location", "/"), ("cache-control", "no-store")]).empty()
        }
        (_, "/" | "/login" | "/logout") => Err(Error::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
        )),
        _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
    }
}

/// `/private`, reached only with a login ([`RequireLogin`] in front).
async fn private_page(env: Environ) -> Result<Response, Error> {
    if !matches!(*env.method(), Method::GET | Method::HEAD) {
        return Err(Error::with_status(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed",
        ));
    }
    let name = Identity::of(&env)
        .map(|user| escape(user.id()))
        .unwrap_or_default();
    let visits = count_visit(&env).await?;
    let token = CsrfToken::of(&env).await?;
    page(
        StatusCode::OK,
        &format!(
            "<p>Hello, {name}. Visit {visits}.</p>\
             <form method=\"post\" action=\"/logout\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
             <button>Log out</button></form>"
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

async fn login_form(
    env: &Environ,
    next: Option<&str>,
    message: Option<&str>,
    status: StatusCode,
) -> Result<Response, Error> {
    let token = CsrfToken::of(env).await?;
    let next = next.map(escape).unwrap_or_default();
    let message = message
        .map(|m| format!("<p>{}</p>", escape(m)))
        .unwrap_or_default();
    page(
        status,
        &format!(
            "{message}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <label>Name <input name=\"user\"></label> \
             <label>Password <input name=\"password\" type=\"password\"></label> \
             <button>Log in</button></form>"
        ),
    )
}

/// Increments the session's visit counter.
async fn count_visit(env: &Environ) -> Result<u64, Error> {
    let session = Session::of(env).ok_or_else(|| Error::new("the site runs inside Sessions"))?;
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(visits)
}

fn page(status: StatusCode, body: &str) -> Result<Response, Error> {
    let html = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>gateway login example</title>{body}\n"
    );
    start(
        status,
        [
            ("content-type", "text/html; charset=utf-8"),
            // Per user: never stored by a shared cache.
            ("cache-control", "private, no-store"),
        ],
    )
    .body(html)
}

/// `s` with HTML's special characters escaped (the demo's pages use it
/// too).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
