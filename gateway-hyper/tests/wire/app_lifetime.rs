//! The server holds the application only while it serves: once
//! `serve_with_shutdown` returns, the application has been dropped (it was
//! leaked before), after requests over HTTP/1.1 and HTTP/2.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use gateway_core::{fn_app, start};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::support::{Conn, serve, within};

/// Counts its drops.
struct Dropped(Arc<AtomicUsize>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_is_dropped_when_the_server_returns() {
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = Dropped(drops.clone());
    let app = fn_app(move |_env| {
        // The application owns the guard: it drops with the application.
        let _owned = &guard;
        async { start(200, [("content-type", "text/plain")]).body("ok") }
    });
    let server = serve(|s| s, app).await;

    let mut h1 = Conn::open(server.addr).await;
    h1.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let response = h1.response("HTTP/1.1").await.expect("a response");
    assert_eq!(response.status, 200);

    let tcp = within("connect", tokio::net::TcpStream::connect(server.addr))
        .await
        .unwrap();
    let (mut sender, conn) = within(
        "h2 handshake",
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)),
    )
    .await
    .unwrap();
    let h2 = tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/", server.addr))
        .body(Empty::<bytes::Bytes>::new())
        .unwrap();
    let res = within("h2 request", sender.send_request(req))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    within("h2 body", res.into_body().collect()).await.unwrap();

    assert_eq!(drops.load(Ordering::SeqCst), 0, "dropped while serving");
    // Both connections stay open: the drain closes them.
    server.stop().await;
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "the application was not dropped when serve_with_shutdown returned"
    );
    drop((h1, sender));
    let _ = within("h2 client", h2).await;
}
