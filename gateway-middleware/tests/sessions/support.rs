//! Fixtures: a session-driven application, a store that can be taken
//! down, and cookie helpers.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use gateway_core::test_client::TestResponse;
use gateway_core::{Application, Environ, Error, fn_app, start};
use gateway_middleware::sessions::{
    Created, MemoryStore, Record, Save, Saved, Session, SessionId, SessionStore, StoreError,
};
use serde_json::Value;

/// An application driven by its path:
/// `/get/k`, `/set/k/v`, `/remove/k`, `/clear`, `/destroy`, `/cycle`,
/// `/relogin/k/v` (destroy, then set),
/// `/plain` (never touches the session), `/fail/k/v` (sets, then 500),
/// `/late/k/v` (sets inside the streaming body, after the commit),
/// `/refuse/k/v` (sets, then returns an `Err` with 403),
/// `/crash/k/v` (sets, then returns an `Err` without a status: 500).
/// Answers the JSON of what it read (or `null`).
pub fn app() -> impl Application {
    fn_app(|env: Environ| async move {
        let parts: Vec<String> = env
            .path_info()
            .split('/')
            .skip(1)
            .map(str::to_owned)
            .collect();
        let session = Session::of(&env).expect("Sessions puts a Session in the extensions");
        let part = |i: usize| parts.get(i).map(String::as_str).unwrap_or("");
        let mut out = Value::Null;
        match part(0) {
            "get" => out = session.get::<Value>(part(1)).await?.unwrap_or(Value::Null),
            "set" => session.insert(part(1), part(2)).await?,
            "remove" => {
                out = session
                    .remove::<Value>(part(1))
                    .await?
                    .unwrap_or(Value::Null)
            }
            "clear" => session.clear().await?,
            "destroy" => session.destroy().await?,
            "relogin" => {
                session.destroy().await?;
                session.insert(part(1), part(2)).await?;
            }
            "cycle" => session.cycle_id().await?,
            "fail" => {
                session.insert(part(1), part(2)).await?;
                return start(500, [("content-type", "text/plain")]).body("failed");
            }
            "refuse" => {
                session.insert(part(1), part(2)).await?;
                return Err(Error::with_status(
                    http::StatusCode::FORBIDDEN,
                    "refused after a session change",
                ));
            }
            "crash" => {
                session.insert(part(1), part(2)).await?;
                return Err(Error::new("failed after a session change"));
            }
            "late" => {
                let (k, v) = (part(1).to_owned(), part(2).to_owned());
                return start(200, [("content-type", "text/plain")]).writer(
                    move |mut w| async move {
                        w.write("first chunk").await?;
                        let result = session.insert(&k, v).await;
                        let late = result.as_ref().is_err_and(|e| e.is_after_commit());
                        w.write(if late { " refused" } else { " accepted" }).await
                    },
                );
            }
            _ => {}
        }
        start(200, [("content-type", "application/json")]).body(out.to_string())
    })
}

/// The session cookie's value in a response's `Set-Cookie`, if any.
pub fn set_cookie(res: &TestResponse, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// The value part of `name=value; attrs`.
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or("");
    pair.split_once('=').map_or("", |(_, v)| v).to_owned()
}

/// An attribute's value (`Max-Age`), case-insensitive name.
pub fn attribute<'a>(set_cookie: &'a str, name: &str) -> Option<&'a str> {
    set_cookie.split(';').skip(1).find_map(|a| {
        let a = a.trim();
        let (n, v) = a.split_once('=').unwrap_or((a, ""));
        n.eq_ignore_ascii_case(name).then_some(v)
    })
}

/// A `MemoryStore` that can be taken down: every call fails while down.
/// Counts its failures.
#[derive(Clone, Default)]
pub struct Flaky {
    pub store: MemoryStore,
    down: Arc<AtomicBool>,
    pub failures: Arc<AtomicU64>,
}

impl Flaky {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            self.failures.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::new("connection refused (test store is down)"));
        }
        Ok(())
    }
}

impl SessionStore for Flaky {
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        self.check()?;
        self.store.load(id).await
    }
    async fn create(&self, id: &SessionId, record: &Record) -> Result<Created, StoreError> {
        self.check()?;
        self.store.create(id, record).await
    }
    async fn save(&self, id: &SessionId, save: &Save) -> Result<Saved, StoreError> {
        self.check()?;
        self.store.save(id, save).await
    }
    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.check()?;
        self.store.delete(id).await
    }
}

/// `res` as JSON.
pub fn json(res: &TestResponse) -> Value {
    res.json()
        .unwrap_or_else(|e| panic!("not JSON: {e}: {res:?}"))
}

pub type AppError = Error;
