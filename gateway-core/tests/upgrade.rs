//! Upgrades in-process: `TestClient::upgrade` over a duplex pipe, the Lint
//! rules of the upgrade contract, and the switch crossing the tower bridge
//! both ways.
#![cfg(all(feature = "test-client", feature = "tower"))]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gateway_core::lint::{Lint, Rule};
use gateway_core::test_client::TestClient;
use gateway_core::tower::from_layer;
use gateway_core::upgrade::Upgraded;
use gateway_core::{Application, ApplicationExt, Environ, Response, fn_app, from_fn, start};
use http::{HeaderMap, Method, StatusCode, Version};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Echoes the `echo` protocol; 426 without an upgrade. Counts handlers
/// started and finished (dropped counts as finished).
fn echo(counts: Arc<Counts>) -> impl Application {
    fn_app(move |mut env: Environ| {
        let counts = counts.clone();
        async move {
            let Some(up) = env.upgrade() else {
                return start(426, [("upgrade", "echo"), ("connection", "upgrade")]).empty();
            };
            if up.protocol() != "echo" {
                return start(400, [("content-type", "text/plain")]).body("unknown protocol");
            }
            Ok(
                up.switch(HeaderMap::new(), move |mut io: Upgraded| async move {
                    counts.started.fetch_add(1, Ordering::SeqCst);
                    let _done = Finished(counts.clone());
                    let mut buf = [0; 1024];
                    let shutdown = io.shutdown();
                    tokio::pin!(shutdown);
                    loop {
                        tokio::select! {
                            read = io.read(&mut buf) => match read {
                                Ok(0) | Err(_) => return,
                                Ok(n) => if io.write_all(&buf[..n]).await.is_err() { return },
                            },
                            () = &mut shutdown => {
                                let _ = io.write_all(b"bye").await;
                                return;
                            }
                        }
                    }
                }),
            )
        }
    })
}

#[derive(Default)]
struct Counts {
    started: AtomicUsize,
    finished: AtomicUsize,
}

struct Finished(Arc<Counts>);

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
    }
}

async fn round_trip(conn: &mut gateway_core::test_client::TestConnection, msg: &[u8]) {
    conn.write_all(msg).await.unwrap();
    let mut buf = vec![0; msg.len()];
    conn.read_exact(&mut buf).await.unwrap();
    assert_eq!(buf, msg);
}

#[tokio::test]
async fn echo_over_the_test_client() {
    let counts = Arc::new(Counts::default());
    let client = TestClient::new(echo(counts.clone()));
    let (res, mut conn) = client.get("/").upgrade("echo").await.unwrap();
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(res.header("upgrade"), Some("echo"));
    assert_eq!(res.header("connection"), Some("upgrade"));
    round_trip(&mut conn, b"hello").await;
    round_trip(&mut conn, &[7; 100_000]).await; // more than the pipe holds
    conn.shutdown().await.unwrap();
    conn.join().await;
    assert!(conn.is_finished());
    assert_eq!(counts.finished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn shutdown_reaches_the_handler() {
    let counts = Arc::new(Counts::default());
    let client = TestClient::new(echo(counts.clone()));
    let (_, mut conn) = client.get("/").upgrade("echo").await.unwrap();
    round_trip(&mut conn, b"x").await;
    conn.begin_shutdown();
    let mut said = Vec::new();
    conn.read_to_end(&mut said).await.unwrap();
    assert_eq!(said, b"bye");
}

#[tokio::test]
async fn dropping_the_connection_cancels_the_handler() {
    let counts = Arc::new(Counts::default());
    let client = TestClient::new(echo(counts.clone()));
    let (_, mut conn) = client.get("/").upgrade("echo").await.unwrap();
    round_trip(&mut conn, b"x").await;
    assert_eq!(counts.started.load(Ordering::SeqCst), 1);
    assert_eq!(counts.finished.load(Ordering::SeqCst), 0);
    drop(conn);
    assert_eq!(counts.finished.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn refusals_come_back_as_the_error() {
    let client = TestClient::new(echo(Arc::default()));
    let res = client.get("/").upgrade("other").await.unwrap_err();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // HTTP/1.0 is offered no upgrade.
    let res = client
        .get("/")
        .version(Version::HTTP_10)
        .upgrade("echo")
        .await
        .unwrap_err();
    assert_eq!(res.status(), StatusCode::UPGRADE_REQUIRED);
    // A plain `send` lets the application switch, and keeps no connection.
    let res = client
        .get("/")
        .header("upgrade", "echo")
        .header("connection", "upgrade")
        .send()
        .await;
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
}

#[tokio::test]
async fn extended_connect_in_process() {
    let client = TestClient::new(echo(Arc::default()));
    let (res, mut conn) = client
        .request(Method::CONNECT, "https://localhost/echo")
        .version(Version::HTTP_2)
        .upgrade("echo")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.header("upgrade").is_none() && res.header("connection").is_none());
    round_trip(&mut conn, b"over h2").await;
}

#[tokio::test]
async fn lint_is_silent_on_a_good_switch_and_on_a_refusal() {
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(echo(Arc::default()).with(lint));
    let (_, mut conn) = client.get("/").upgrade("echo").await.unwrap();
    round_trip(&mut conn, b"linted").await;
    client.get("/").upgrade("other").await.unwrap_err();
    violations.assert_none();
}

#[tokio::test]
async fn lint_reports_a_switch_without_handler() {
    let app = fn_app(|mut env: Environ| async move {
        let _taken = env.upgrade();
        start(101, [("upgrade", "echo"), ("connection", "upgrade")]).empty()
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app.with(lint));
    let res = client.get("/").upgrade("echo").await.unwrap_err();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(violations.take()[0].rule(), Rule::SwitchWithoutHandler);
}

#[tokio::test]
async fn a_101_without_taking_the_upgrade_is_not_flagged_as_missing_a_handler() {
    // A hosted service that upgrades by other means (hyper's own handle).
    let app = fn_app(|_env: Environ| async move {
        start(101, [("upgrade", "echo"), ("connection", "upgrade")]).empty()
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app.with(lint));
    let res = client.get("/").upgrade("echo").await.unwrap_err();
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
    violations.assert_none();
}

#[tokio::test]
async fn lint_reports_a_handler_without_switch() {
    let app = fn_app(|mut env: Environ| async move {
        let up = env.upgrade().expect("offered");
        let mut res = up.switch(HeaderMap::new(), |_io| async {});
        *res.status_mut() = StatusCode::OK;
        res.headers_mut().remove("upgrade");
        res.headers_mut().remove("connection");
        res.headers_mut()
            .insert("content-type", "text/plain".parse().unwrap());
        Ok::<Response, gateway_core::Error>(res)
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app.with(lint));
    let res = client.get("/").upgrade("echo").await.unwrap_err();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(violations.take()[0].rule(), Rule::HandlerWithoutSwitch);
}

#[tokio::test]
async fn a_101_to_a_request_without_upgrade_is_refused() {
    let app = fn_app(|_env: Environ| async move {
        start(101, [("upgrade", "echo"), ("connection", "upgrade")]).empty()
    });
    let (lint, violations) = Lint::collecting();
    let client = TestClient::new(app.with(lint));
    let res = client.get("/").send().await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(violations.take()[0].rule(), Rule::FinalStatus);
}

#[tokio::test]
async fn a_middleware_that_replaces_the_response_drops_the_handler() {
    let counts = Arc::new(Counts::default());
    let replace = from_fn(|env, next| async move {
        let _ignored = next.run(env).await?;
        start(200, [("content-type", "text/plain")]).body("replaced")
    });
    let client = TestClient::new(echo(counts.clone()).with(replace));
    let res = client.get("/").upgrade("echo").await.unwrap_err();
    assert_eq!(res.text(), "replaced");
    assert_eq!(counts.started.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_switch_crosses_the_tower_bridge() {
    // The upgrade goes in through the request's extensions and the switch
    // comes out in the response's, through a tower layer and the driver
    // running inside the bridge.
    let layer = tower::util::MapResponseLayer::new(|mut res: Response| {
        res.headers_mut()
            .insert("x-layer", "tower".parse().unwrap());
        res
    });
    let (lint, violations) = Lint::collecting();
    let app = echo(Arc::default()).with(from_layer(layer)).with(lint);
    let client = TestClient::new(app);
    let (res, mut conn) = client.get("/").upgrade("echo").await.unwrap();
    assert_eq!(res.header("x-layer"), Some("tower"));
    round_trip(&mut conn, b"through tower").await;
    let (res, mut conn) = client
        .request(Method::CONNECT, "https://localhost/echo")
        .version(Version::HTTP_2)
        .upgrade("echo")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    round_trip(&mut conn, b"h2 through tower").await;
    violations.assert_none();
}
