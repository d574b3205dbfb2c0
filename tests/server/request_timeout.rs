//! The request timeout.

use super::*;

/// `/sleep` sleeps 5 s (its future raises `dropped` when dropped);
/// `/stream` sends a chunk and then waits forever; `/` answers at once.
#[derive(Default)]
struct Sluggish {
    dropped: Arc<Flag>,
}

impl Application for Sluggish {
    async fn call(&self, env: Environ) -> Result<Response, Error> {
        match env.path_info() {
            "/sleep" => {
                let _guard = RaiseOnDrop(self.dropped.clone());
                tokio::time::sleep(Duration::from_secs(5)).await;
                start(200, TEXT).body("too late")
            }
            "/stream" => start(200, TEXT).writer(|mut w| async move {
                w.write("chunk").await?;
                std::future::pending::<()>().await;
                Ok(())
            }),
            _ => start(200, TEXT).body("fast"),
        }
    }
}

/// `request_timeout(Some(300 ms))`: a request whose response has not
/// started gets 503 within the bound and its application future is
/// dropped; a response that started and then stalls is aborted (HTTP/1.1
/// and HTTP/2) after its head and first chunk arrived; fast requests are
/// unaffected.
#[tokio::test]
async fn request_timeout() {
    let app = Arc::new(Sluggish::default());
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .request_timeout(Some(SHORT));
    let server = TestServer::serve(server, app.clone());

    let mut client = server.client(Proto::Http1).await;
    let (parts, body) = client.fetch(Method::GET, "/").await;
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(body, "fast");

    let started = Instant::now();
    let (parts, _) = tokio::time::timeout(SHORT_BOUND, client.fetch(Method::GET, "/sleep"))
        .await
        .expect("503 within the bound, not after the application's 5 s");
    let elapsed = started.elapsed();
    assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(elapsed >= SHORT, "503 before the timeout: {elapsed:?}");
    app.dropped
        .wait("the application's future to be dropped")
        .await;

    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;
        let started = Instant::now();
        let res = client
            .send(client.request(Method::GET, "/stream", empty()))
            .await;
        assert_eq!(res.status(), StatusCode::OK, "{proto:?}");
        let mut body = res.into_body();
        assert_eq!(read_at_least(&mut body, 5).await, "chunk", "{proto:?}");
        let next = tokio::time::timeout(SHORT_BOUND, http_body_util::BodyExt::frame(&mut body))
            .await
            .unwrap_or_else(|_| panic!("{proto:?}: the stalled body was not aborted"));
        match next {
            Some(Err(_)) => {}
            None => panic!("{proto:?}: the body ended cleanly instead of being aborted"),
            Some(Ok(frame)) => panic!("{proto:?}: unexpected frame {frame:?}"),
        }
        let elapsed = started.elapsed();
        assert!(
            elapsed >= SHORT,
            "{proto:?}: aborted too early: {elapsed:?}"
        );
    }
    drop(client);
    server.stop().await;
}
