//! Fixtures: an application behind `Csrf` and `Sessions`, and helpers to
//! get tokens and check refusals.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::auth::{Csrf, CsrfRejection, CsrfToken};
use gateway_middleware::sessions::{
    Created, MemoryStore, Record, Save, Saved, Session, SessionId, SessionStore, Sessions,
    StoreError,
};

/// The fixed body of a 403 refusal.
pub const FORBIDDEN_BODY: &str = "Forbidden: the request failed the cross-site request check.\n";

/// Counts the requests that reached the application.
#[derive(Clone, Default)]
pub struct Reached(Arc<AtomicUsize>);

impl Reached {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The application behind the check:
/// - `GET /token` answers a fresh token;
/// - `GET /rotate` removes the secret (what the login helper does);
/// - anything else answers the request body, byte for byte.
pub fn inner(reached: Reached) -> impl Application {
    fn_app(move |mut env: Environ| {
        let reached = reached.clone();
        async move {
            reached.0.fetch_add(1, Ordering::SeqCst);
            match (env.method().as_str(), env.path_info()) {
                ("GET", "/token") => {
                    let token = CsrfToken::of(&env).await?;
                    start(200, [("content-type", "text/plain")]).body(token.into_string())
                }
                ("GET", "/rotate") => {
                    let session = Session::of(&env).expect("behind Sessions");
                    session.remove::<String>(Csrf::SESSION_KEY).await?;
                    start(200, [("content-type", "text/plain")]).body("rotated")
                }
                _ => {
                    let body = env.take_body().to_bytes(1 << 20).await?;
                    start(200, [("content-type", "application/octet-stream")]).body(body)
                }
            }
        }
    })
}

/// `inner` behind `csrf` and a memory-store `Sessions`, with the counter.
pub fn client_with(csrf: Csrf) -> (TestClient<impl Application>, Reached) {
    let (client, reached, _) = client_and_sessions(csrf);
    (client, reached)
}

/// [`client_with`], also returning the `Sessions` (to seed sessions).
pub fn client_and_sessions(
    csrf: Csrf,
) -> (TestClient<impl Application>, Reached, Sessions<MemoryStore>) {
    let reached = Reached::default();
    let sessions = Sessions::new(MemoryStore::new());
    let app = inner(reached.clone()).with(csrf).with(sessions.clone());
    (TestClient::new(app), reached, sessions)
}

/// The default `Csrf`.
pub fn client() -> (TestClient<impl Application>, Reached) {
    client_with(Csrf::new())
}

/// A fresh token from `/token` (creating the session and its secret).
pub async fn token<A: Application>(client: &TestClient<A>) -> String {
    let res = client.get("/token").send().await;
    assert_eq!(res.status(), 200, "{res:?}");
    let token = res.text();
    assert_eq!(token.len(), 86);
    token
}

/// Asserts `res` is the refusal for `why`: status, fixed body, headers,
/// the reason in the extensions.
#[track_caller]
pub fn assert_refused(res: &TestResponse, why: CsrfRejection) {
    assert_eq!(res.status(), why.status(), "{res:?}");
    assert_eq!(
        res.extensions().get::<CsrfRejection>(),
        Some(&why),
        "{res:?}"
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    if why.status() == 403 {
        assert_eq!(res.text(), FORBIDDEN_BODY);
    } else {
        assert_eq!(res.text(), "Content Too Large: the form is too large.\n");
    }
}

/// Asserts `res` passed the check (the application answered 200, no
/// refusal recorded).
#[track_caller]
pub fn assert_passed(res: &TestResponse) {
    assert_eq!(res.status(), 200, "{res:?}");
    assert!(res.extensions().get::<CsrfRejection>().is_none());
}

/// A `MemoryStore` that can be taken down: every call fails while down.
#[derive(Clone, Default)]
pub struct Flaky {
    store: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Flaky {
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
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

/// `inner` behind the default `Csrf` and `Sessions` on a [`Flaky`] store.
pub fn flaky_client() -> (TestClient<impl Application>, Reached, Flaky) {
    let reached = Reached::default();
    let store = Flaky::default();
    let app = inner(reached.clone())
        .with(Csrf::new())
        .with(Sessions::new(store.clone()));
    (TestClient::new(app), reached, store)
}
