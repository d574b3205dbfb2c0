//! Tower, both ways, over real sockets (gateway-core's `tower` feature):
//!
//! - tower-http's `CompressionLayer` and `CorsLayer` wrap a gateway
//!   application (`from_layer`), served by gateway-hyper;
//! - an axum `Router` is hosted as a gateway application (`from_service`)
//!   and mounted under a prefix, served by gateway-hyper;
//! - its WebSocket route echoes through gateway-hyper's upgrade;
//! - a gateway application (`into_service`) is served by `axum::serve`,
//!   with the commit rules holding there too.

use std::future::IntoFuture;
use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::ws::{WebSocket, WebSocketUpgrade};
use axum::extract::{Extension, Path};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use gateway_core::environ::GatewayContext;
use gateway_core::tower::{from_layer, from_service};
use gateway_core::{Application, ApplicationExt, Environ, Error, RootPath, fn_app, start};
use gateway_middleware::Mount;
use gateway_tests::{Client, Proto, TestServer, empty, read_body, within};
use http::{HeaderValue, Method, StatusCode, Uri};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

/// Long enough for `CompressionLayer`'s default predicate (over 32 bytes).
const TEXT: &str = "All work and no play makes Jack a dull boy. ";

/// Answers with what it saw and counts its calls.
fn reporter(calls: Arc<AtomicUsize>) -> impl Application {
    fn_app(move |env: Environ| {
        calls.fetch_add(1, Ordering::SeqCst);
        async move {
            let seen = format!(
                "{} {} {}|{}",
                env.script_name(),
                env.path_info(),
                env.query(),
                env.conn()
                    .peer()
                    .ip()
                    .map(|ip| ip.to_string())
                    .unwrap_or_default(),
            );
            start(200, [("content-type", "text/plain; charset=utf-8")])
                .body(format!("{seen}|{}", TEXT.repeat(20)))
        }
    })
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

fn header<'a>(parts: &'a http::response::Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .map_or("", |v| v.to_str().expect("an ASCII header"))
}

/// tower-http's compression and CORS layers, unmodified, around a gateway
/// application mounted under a prefix behind a root path: the layers do
/// their work and the application still sees every gateway fact.
#[tokio::test]
async fn tower_http_layers_wrap_a_gateway_app() {
    let calls = Arc::new(AtomicUsize::new(0));
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list([HeaderValue::from_static(
            "http://allowed.test",
        )]))
        .allow_methods([Method::GET, Method::POST]);
    let app = Mount::new().mount(
        "/app",
        reporter(calls.clone())
            .with(from_layer(CompressionLayer::new()))
            .with(from_layer(cors)),
    );
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .root_path(Some(RootPath::from_static("/outer")));
    let server = TestServer::serve(server, app);

    let expected = format!("/outer/app /a%2Fb q=1|127.0.0.1|{}", TEXT.repeat(20));
    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;

        let mut req = client.request(Method::GET, "/app/a%2Fb?q=1", empty());
        req.headers_mut()
            .insert("accept-encoding", HeaderValue::from_static("gzip"));
        req.headers_mut()
            .insert("origin", HeaderValue::from_static("http://allowed.test"));
        let (parts, body) = client.send(req).await.into_parts();
        let body = read_body(body).await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        assert_eq!(header(&parts, "content-encoding"), "gzip", "{proto:?}");
        assert_eq!(
            header(&parts, "access-control-allow-origin"),
            "http://allowed.test",
            "{proto:?}"
        );
        assert!(
            body.len() < expected.len() / 2,
            "compressed: {}",
            body.len()
        );
        assert_eq!(gunzip(&body), expected, "{proto:?}");

        // No Accept-Encoding, an origin not allowed: the body as the
        // application made it, no CORS grant.
        let mut req = client.request(Method::GET, "/app/a%2Fb?q=1", empty());
        req.headers_mut()
            .insert("origin", HeaderValue::from_static("http://evil.test"));
        let (parts, body) = client.send(req).await.into_parts();
        let body = read_body(body).await;
        assert_eq!(header(&parts, "content-encoding"), "", "{proto:?}");
        assert_eq!(header(&parts, "access-control-allow-origin"), "");
        assert_eq!(body, expected.as_bytes(), "{proto:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);

    // A preflight is answered by the CORS layer; the application is not
    // called.
    let mut client = server.client(Proto::Http1).await;
    let mut req = client.request(Method::OPTIONS, "/app/a", empty());
    let headers = req.headers_mut();
    headers.insert("origin", HeaderValue::from_static("http://allowed.test"));
    headers.insert(
        "access-control-request-method",
        HeaderValue::from_static("POST"),
    );
    let (parts, body) = client.send(req).await.into_parts();
    assert_eq!(parts.status, StatusCode::OK);
    assert_eq!(
        header(&parts, "access-control-allow-origin"),
        "http://allowed.test"
    );
    assert!(
        header(&parts, "access-control-allow-methods").contains("POST"),
        "{parts:?}"
    );
    assert!(read_body(body).await.is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 4, "preflight reached the app");

    drop(client);
    server.stop().await;
}

/// An axum `Router`, unmodified, hosted as a gateway application and
/// mounted at `/api` behind the root path `/outer`: it routes on
/// `path_info`, reads its prefix from the gateway context, and answers 404
/// for its own misses.
#[tokio::test]
async fn axum_router_hosted_and_mounted() {
    let router = axum::Router::new()
        .route("/", get(|| async { "api root" }))
        .route(
            "/users/{id}",
            get(
                |Path(id): Path<String>,
                 Extension(context): Extension<GatewayContext>,
                 uri: Uri| async move {
                    format!(
                        "user {id}; uri {uri}; script_name {}; original {}; peer {}",
                        context.script_name(),
                        context
                            .original_uri()
                            .path_and_query()
                            .map_or("", |pq| pq.as_str()),
                        context
                            .conn()
                            .peer()
                            .ip()
                            .map(|ip| ip.to_string())
                            .unwrap_or_default(),
                    )
                },
            ),
        );
    let app = Mount::new()
        .mount("/api", from_service(router))
        .fallback(fn_app(|env: Environ| async move {
            start(200, [("content-type", "text/plain")]).body(format!("site {}", env.path_info()))
        }));
    let server = gateway_hyper::Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .root_path(Some(RootPath::from_static("/outer")));
    let server = TestServer::serve(server, app);

    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = server.client(proto).await;
        let (parts, body) = client.fetch(Method::GET, "/api/users/7?x=1").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        let path_and_query = if proto == Proto::Http1 {
            "/users/7?x=1".to_owned()
        } else {
            // HTTP/2 targets are absolute; the hosted URI keeps scheme and
            // authority, as axum's `nest_service` does.
            format!("http://{}/users/7?x=1", server.addr)
        };
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!(
                "user 7; uri {path_and_query}; script_name /outer/api; \
                 original /api/users/7?x=1; peer 127.0.0.1"
            ),
            "{proto:?}"
        );

        let (_, body) = client.fetch(Method::GET, "/api").await;
        assert_eq!(body, "api root", "{proto:?}");
        let (parts, _) = client.fetch(Method::GET, "/api/missing").await;
        assert_eq!(parts.status, StatusCode::NOT_FOUND, "{proto:?}");
        let (_, body) = client.fetch(Method::GET, "/apiary").await;
        assert_eq!(body, "site /apiary", "{proto:?}");
    }
    server.stop().await;
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        if msg.to_text().is_ok() && socket.send(msg).await.is_err() {
            break;
        }
    }
}

/// An axum WebSocket route in a hosted, mounted `Router` works through
/// gateway-hyper: hyper's upgrade handle passes through the environ and
/// the bridge, and the 101 through the driver.
#[tokio::test]
async fn websocket_echo_through_a_hosted_router() {
    let router = axum::Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async move { ws.on_upgrade(echo) }),
    );
    let server = TestServer::start(Mount::new().mount("/chat", from_service(router))).await;

    let tcp = within("tcp connect", TcpStream::connect(server.addr))
        .await
        .expect("connect");
    let url = format!("ws://{}/chat/ws", server.addr);
    let (mut ws, res) = within(
        "websocket handshake",
        tokio_tungstenite::client_async(url, tcp),
    )
    .await
    .expect("websocket handshake");
    assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);

    for text in ["hello", "gateway", "ünïcødé"] {
        within("send", ws.send(Message::text(text)))
            .await
            .expect("send");
        let reply = within("echo", ws.next())
            .await
            .expect("a message")
            .expect("no error");
        assert_eq!(reply, Message::text(text));
    }
    within("close", ws.close(None)).await.expect("close");
    drop(ws);
    server.stop().await;
}

/// A gateway application served by `axum::serve`: the driver runs inside
/// the service, so HEAD keeps GET's length without a body, an `Err` keeps
/// its status, a panic becomes a 500 on a connection that lives on, and
/// connection-specific headers are removed.
#[tokio::test]
async fn gateway_app_served_by_axum_serve() {
    let app = fn_app(|env: Environ| async move {
        match env.path_info() {
            "/missing" => Err(Error::with_status(StatusCode::NOT_FOUND, "nothing here")),
            "/panic" => panic!("the application panicked"),
            path => {
                let body = format!("hello {path} [{}]", env.script_name());
                start(
                    200,
                    [("content-type", "text/plain"), ("keep-alive", "timeout=5")],
                )
                .body(body)
            }
        }
    });
    let service = tower::ServiceExt::<axum::extract::Request>::map_response(
        app.into_service(),
        axum::response::IntoResponse::into_response,
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let serve = axum::serve(
        listener,
        axum::ServiceExt::<axum::extract::Request>::into_make_service(service),
    )
    .with_graceful_shutdown(async move {
        let _ = stopped.await;
    });
    let join = tokio::spawn(serve.into_future());

    for proto in [Proto::Http1, Proto::Http2] {
        let mut client = Client::connect(proto, addr).await;
        let (parts, body) = client.fetch(Method::GET, "/x").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        assert_eq!(body, "hello /x []", "{proto:?}");
        assert_eq!(header(&parts, "keep-alive"), "", "{proto:?}");

        let (parts, body) = client.fetch(Method::HEAD, "/x").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
        assert_eq!(header(&parts, "content-length"), "11", "{proto:?}");
        assert!(body.is_empty(), "{proto:?}");

        let (parts, _) = client.fetch(Method::GET, "/missing").await;
        assert_eq!(parts.status, StatusCode::NOT_FOUND, "{proto:?}");

        let (parts, body) = client.fetch(Method::GET, "/panic").await;
        assert_eq!(parts.status, StatusCode::INTERNAL_SERVER_ERROR, "{proto:?}");
        assert_eq!(body, "Internal Server Error", "{proto:?}");

        // The same connection still serves.
        let (parts, _) = client.fetch(Method::GET, "/again").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
    }

    let _ = stop.send(());
    within("axum::serve shutdown", join)
        .await
        .expect("serve task")
        .expect("serve");
}
