//! The concurrency limit.

use super::*;

/// `/block` announces itself on `entered` and waits for `release`; any
/// other path answers `ok`.
#[derive(Default)]
struct Gate {
    entered: Notify,
    release: Notify,
}

impl Application for Gate {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        if env.path_info() == "/block" {
            self.entered.notify_one();
            self.release.notified().await;
            return start(200, TEXT).body("released");
        }
        start(200, TEXT).body("ok")
    }
}

/// `max_concurrent_requests(Some(1))`: while one request is in the
/// application, another (HTTP/1.1 or HTTP/2, on other connections) gets 503
/// at once; once it is released, requests succeed again.
#[tokio::test]
async fn concurrency_limit() {
    let gate = Arc::new(Gate::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_concurrent_requests(Some(1));
    let server = TestServer::serve(server, gate.clone());

    let mut blocked = server.client(Proto::Http1).await;
    let blocked = tokio::spawn(async move {
        let (parts, body) = blocked.fetch(Method::GET, "/block").await;
        (parts.status, body)
    });
    within("/block to reach the application", gate.entered.notified()).await;

    let mut h1 = server.client(Proto::Http1).await;
    let mut h2 = server.client(Proto::Http2).await;
    // `/block` never ends unless released, so these answers cannot come
    // from waiting for it.
    let (parts, _) = h1.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    let (parts, _) = h2.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);

    gate.release.notify_one();
    let (status, body) = within("the released request", blocked)
        .await
        .expect("the blocked client task");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "released");

    for client in [&mut h1, &mut h2] {
        let (parts, body) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.status, StatusCode::OK, "{:?}", client.proto());
        assert_eq!(body, "ok");
    }
    drop((h1, h2));
    server.stop().await;
}
