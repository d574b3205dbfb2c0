//! The demo's own pages: the index, the login form, a page only
//! logged-in users see, logout, and `/whoami`. Every link and redirect is
//! built from `script_name`, so the pages work at `/` and under a prefix
//! that a proxy strips and reports (`X-Forwarded-Prefix`).

use std::sync::Arc;

use gateway_core::http::header::{ALLOW, HeaderValue};
use gateway_core::{Application, Environ, Error, Response, start};
use gateway_middleware::auth::{
    AuthKey, CsrfToken, Identity, login, logout, redirect_after_login, safe_next_path,
};
use gateway_middleware::metrics;
use gateway_middleware::sessions::Session;
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use crate::login::{Accounts, escape};

/// The largest form a page reads.
const FORM_LIMIT: u64 = 8 * 1024;

/// The longest note `POST /private` keeps, in characters.
const NOTE_LIMIT: usize = 200;

/// What is kept of `next=`'s value unencoded: RFC 3986's unreserved
/// characters and `/`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// The demo's pages (see the route table in [`super`]). They expect to
/// run inside `Sessions`, `SessionAuth` and `Csrf`, as [`super::app`]
/// puts them.
#[derive(Debug)]
pub(super) struct Pages {
    name: Arc<str>,
    accounts: Arc<Accounts>,
    key: AuthKey,
}

impl Pages {
    pub(super) fn new(name: &str, accounts: Arc<Accounts>, key: AuthKey) -> Pages {
        Pages {
            name: name.into(),
            accounts,
            key,
        }
    }
}

impl Application for Pages {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        let get = matches!(*env.method(), Method::GET | Method::HEAD);
        let post = *env.method() == Method::POST;
        // The page's name for the metrics (never the raw path: a scanner's
        // made-up paths must not make new label values).
        let route = match env.path_info() {
            "/" => Some("/"),
            "/whoami" => Some("/whoami"),
            "/login" => Some("/login"),
            "/logout" => Some("/logout"),
            "/private" => Some("/private"),
            _ => None,
        };
        if let Some(route) = route {
            metrics::set_route(&env, route);
        }
        match env.path_info() {
            "/" if get => self.index(&env).await,
            "/whoami" if get => self.whoami(&env),
            "/login" if get => {
                let next = gateway_middleware::auth::next_from_query(&env);
                self.login_form(&env, next.as_deref(), None, StatusCode::OK)
                    .await
            }
            "/login" if post => self.login(env).await,
            "/logout" if post => {
                if let Some(session) = Session::of(&env) {
                    logout(&session).await?;
                }
                let home = format!("{}/", env.script_name());
                redirect(&home)
            }
            "/private" if get || post => match Identity::of(&env) {
                None => refuse(&env),
                Some(_) if post => self.save_note(env).await,
                Some(_) => self.private(&env).await,
            },
            path @ ("/" | "/whoami" | "/login" | "/logout" | "/private") => {
                let allow = match path {
                    "/logout" => "POST",
                    "/login" | "/private" => "GET, HEAD, POST",
                    _ => "GET, HEAD",
                };
                Err(
                    Error::with_status(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
                        .with_header(ALLOW, HeaderValue::from_static(allow)),
                )
            }
            _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
        }
    }
}

impl Pages {
    /// `GET /`: what the demo is, the visit counter, who is logged in.
    async fn index(&self, env: &Environ) -> Result<Response, Error> {
        let base = escape(env.script_name());
        let visits = count_visit(env).await?;
        let who = match Identity::of(env) {
            Some(user) => format!(
                "Logged in as <b>{}</b>: <a href=\"{base}/private\">your page</a>.",
                escape(user.id())
            ),
            None => format!(
                "Not logged in. <a href=\"{base}/login\">Log in</a> as <code>ada</code> / \
                 <code>lovelace</code>."
            ),
        };
        let body = format!(
            "<p>Visit {visits} (a counter in your session). {who}</p>\
             <ul>\
             <li><a href=\"{base}/whoami\">{base}/whoami</a>: what this instance sees of you</li>\
             <li><a href=\"{base}/api/\">{base}/api/</a>: a notes API, a mounted application</li>\
             <li><a href=\"{base}/static/site.css\">{base}/static/site.css</a>: a static file</li>\
             <li><code>{base}/ws</code>: a WebSocket echo (<code>ws://</code> or \
             <code>wss://</code> on this host; it answers from this site's pages only)</li>\
             </ul>"
        );
        self.page(env, StatusCode::OK, &body)
    }

    /// `GET /whoami`: one `key: value` line per fact the application sees
    /// (after `ProxyHeaders`), for people and tests alike.
    fn whoami(&self, env: &Environ) -> Result<Response, Error> {
        let peer = env.conn().peer();
        let client = peer
            .ip()
            .map_or_else(|| peer.to_string(), |ip| ip.to_string());
        let user = Identity::of(env).map_or("-", Identity::id);
        let text = format!(
            "instance: {}\nuser: {user}\nclient: {client}\nscheme: {}\nhost: {}\n\
             script_name: {}\nurl: {}\n",
            self.name,
            env.scheme(),
            env.host().unwrap_or("-"),
            env.script_name(),
            env.url(),
        );
        start(
            200,
            [
                ("content-type", "text/plain; charset=utf-8"),
                // Names the user: never stored by a shared cache.
                ("cache-control", "private, no-store"),
            ],
        )
        .body(text)
    }

    async fn login_form(
        &self,
        env: &Environ,
        next: Option<&str>,
        message: Option<&str>,
        status: StatusCode,
    ) -> Result<Response, Error> {
        let token = CsrfToken::of(env).await?;
        let base = escape(env.script_name());
        let next = next.map(escape).unwrap_or_default();
        let message = message
            .map(|m| format!("<p class=\"error\">{}</p>", escape(m)))
            .unwrap_or_default();
        let body = format!(
            "{message}<form method=\"post\" action=\"{base}/login\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
             <input type=\"hidden\" name=\"next\" value=\"{next}\">\
             <label>Name <input name=\"user\" autocomplete=\"username\"></label> \
             <label>Password <input name=\"password\" type=\"password\" \
             autocomplete=\"current-password\"></label> \
             <button>Log in</button></form>"
        );
        self.page(env, status, &body)
    }

    /// `POST /login` (its CSRF token already checked by `Csrf`).
    async fn login(&self, mut env: Environ) -> Result<Response, Error> {
        let body = env.take_body().to_bytes(FORM_LIMIT).await?;
        let Ok(form) = serde_urlencoded::from_bytes::<LoginForm>(&body) else {
            return Err(Error::with_status(
                StatusCode::BAD_REQUEST,
                "malformed login form",
            ));
        };
        let Some(account) = self.accounts.check(&form.user, &form.password) else {
            let message = Some("Wrong name or password.");
            let status = StatusCode::UNAUTHORIZED;
            return self
                .login_form(&env, form.next.as_deref(), message, status)
                .await;
        };
        let session = Session::of(&env).ok_or_else(|| Error::new("the pages run in Sessions"))?;
        login(&session, account, &self.key).await?;
        redirect_after_login(
            form.next.as_deref(),
            &format!("{}/private", env.script_name()),
        )
    }

    /// `GET /private`, logged in: the user's page, a note kept in the
    /// session with a form to change it, and the logout form.
    async fn private(&self, env: &Environ) -> Result<Response, Error> {
        let session = Session::of(env).ok_or_else(|| Error::new("the pages run in Sessions"))?;
        let note = session.get::<String>("note").await?.unwrap_or_default();
        let token = CsrfToken::of(env).await?;
        let name = Identity::of(env)
            .map(|u| escape(u.id()))
            .unwrap_or_default();
        let base = escape(env.script_name());
        let body = format!(
            "<p>Hello, <b>{name}</b>. Your note: <q>{note}</q></p>\
             <form method=\"post\" action=\"{base}/private\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
             <label>Note <input name=\"note\" maxlength=\"{NOTE_LIMIT}\"></label> \
             <button>Save</button></form>\
             <form method=\"post\" action=\"{base}/logout\">\
             <input type=\"hidden\" name=\"csrf_token\" value=\"{token}\">\
             <button>Log out</button></form>",
            note = escape(&note),
        );
        self.page(env, StatusCode::OK, &body)
    }

    /// `POST /private`, logged in: keeps the note in the session.
    async fn save_note(&self, mut env: Environ) -> Result<Response, Error> {
        let body = env.take_body().to_bytes(FORM_LIMIT).await?;
        let Ok(form) = serde_urlencoded::from_bytes::<NoteForm>(&body) else {
            return Err(Error::with_status(
                StatusCode::BAD_REQUEST,
                "malformed note form",
            ));
        };
        let note: String = form.note.chars().take(NOTE_LIMIT).collect();
        let session = Session::of(&env).ok_or_else(|| Error::new("the pages run in Sessions"))?;
        session.insert("note", note).await?;
        redirect(&format!("{}/private", env.script_name()))
    }

    /// An HTML page: the layout around `body`, its assets under
    /// `script_name`.
    fn page(&self, env: &Environ, status: StatusCode, body: &str) -> Result<Response, Error> {
        let base = escape(env.script_name());
        let html = format!(
            "<!doctype html><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>gateway demo</title>\
             <link rel=\"stylesheet\" href=\"{base}/static/site.css\">\
             <script src=\"{base}/static/app.js\" defer></script>\
             <header><a href=\"{base}/\">gateway demo</a> \
             <span class=\"instance\">instance {name}</span></header>\
             <main>{body}</main>\n",
            name = escape(&self.name),
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
}

#[derive(Deserialize)]
struct LoginForm {
    user: String,
    password: String,
    next: Option<String>,
}

#[derive(Deserialize)]
struct NoteForm {
    note: String,
}

/// The answer to `/private` without a login: browsers (`Accept` naming
/// `text/html`) are sent to the login form with `next=` the page they
/// asked for, under the same prefix; other clients get `401`.
/// (`RequireLogin` does this with a login URL fixed at startup; here the
/// prefix comes with each request.)
fn refuse(env: &Environ) -> Result<Response, Error> {
    let html = env
        .headers()
        .get_all(http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"));
    if !html {
        return start(
            401,
            [
                ("www-authenticate", "Cookie realm=\"login\""),
                ("content-type", "text/plain; charset=utf-8"),
                ("cache-control", "no-store"),
                ("vary", "Accept"),
            ],
        )
        .body("Unauthorized: log in first.\n");
    }
    let mut target = format!("{}{}", env.script_name(), env.path_info());
    if !env.query().is_empty() {
        target.push('?');
        target.push_str(env.query());
    }
    let mut location = format!("{}/login", env.script_name());
    if safe_next_path(&target).is_some() {
        location.push_str("?next=");
        location.extend(utf8_percent_encode(&target, QUERY_VALUE));
    }
    let location = HeaderValue::try_from(location).map_err(Error::new)?;
    start(
        303,
        [
            ("location", location),
            ("cache-control", HeaderValue::from_static("no-store")),
            ("vary", HeaderValue::from_static("Accept")),
        ],
    )
    .empty()
}

/// `303 See Other` to `location`, a path built from `script_name`.
fn redirect(location: &str) -> Result<Response, Error> {
    let location = HeaderValue::try_from(location).map_err(Error::new)?;
    start(
        303,
        [
            ("location", location),
            ("cache-control", HeaderValue::from_static("no-store")),
        ],
    )
    .empty()
}

/// Increments the session's visit counter.
async fn count_visit(env: &Environ) -> Result<u64, Error> {
    let session = Session::of(env).ok_or_else(|| Error::new("the pages run in Sessions"))?;
    let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
    session.insert("visits", visits).await?;
    Ok(visits)
}
