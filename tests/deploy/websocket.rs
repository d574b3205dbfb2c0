//! WebSockets through the shipped nginx config: the demo's `/ws` echo at
//! `/ws` and under `/app/`, a foreign `Origin` refused, the instance that
//! holds a socket stopped gracefully (the client sees close 1001), and
//! plain requests still on kept-alive upstream connections (the `map`
//! sends them an empty `Connection`).

use futures_util::{SinkExt as _, StreamExt as _};
use gateway_tests::{curl, within};
use http::StatusCode;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self as ts, ClientRequestBuilder};

use super::SERIAL;
use super::observe::sample;
use super::stack::{Browser, Deployment, Instance};
use crate::websocket::{Client, close_code_of, next};

/// Opens `path` through nginx (bounded) as a WebSocket, from a page of
/// `origin` if given: the socket, or the refusal's status.
async fn open(
    deploy: &Deployment,
    path: &str,
    origin: Option<&str>,
) -> Result<Client<TcpStream>, StatusCode> {
    let tcp = within(
        "connect to nginx",
        TcpStream::connect(("127.0.0.1", deploy.port)),
    )
    .await
    .expect("connect to nginx");
    let url = format!("ws://127.0.0.1:{}{path}", deploy.port);
    let mut request = ClientRequestBuilder::new(url.parse().expect("a ws:// URL"));
    if let Some(origin) = origin {
        request = request.with_header("Origin", origin);
    }
    match within("handshake", tokio_tungstenite::client_async(request, tcp)).await {
        Ok((ws, res)) => {
            assert_eq!(res.status(), StatusCode::SWITCHING_PROTOCOLS);
            Ok(ws)
        }
        Err(ts::Error::Http(res)) => Err(res.status()),
        Err(e) => panic!("handshake through nginx to {path}: {e}"),
    }
}

/// Sends `text` and returns the name of the instance that echoed it.
async fn echo(ws: &mut Client<TcpStream>, text: &str) -> String {
    within("send", ws.send(ts::Message::text(text)))
        .await
        .expect("send");
    let reply = next(ws).await;
    let reply = reply.to_text().expect("a text reply");
    let (name, echoed) = reply.split_once(": ").expect("NAME: text");
    assert_eq!(echoed, text);
    assert!(name == "a" || name == "b", "{reply}");
    name.to_owned()
}

/// `gateway_connections_accepted_total` of each instance, read on its
/// Unix socket (the read is itself one connection).
async fn accepted(deploy: &Deployment) -> [u64; 2] {
    let mut counts = [0; 2];
    for (count, instance) in counts.iter_mut().zip([&deploy.a, &deploy.b]) {
        let sock = instance.sock.display().to_string();
        let args = [
            "--silent",
            "--unix-socket",
            &sock,
            "http://localhost/metrics",
        ];
        let out = curl(&args, None).await;
        let text = String::from_utf8_lossy(&out.stdout);
        *count = sample(&text, "gateway_connections_accepted_total");
        assert!(*count > 0, "{}: {text}", instance.name);
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_through_nginx_and_a_graceful_stop_closes_them_1001() {
    let _serial = SERIAL.lock().await;
    let Some(mut deploy) = Deployment::start("deploy: websocket", false).await else {
        return;
    };
    let own = deploy.url("");

    // Plain requests still reuse nginx's connections to the instances:
    // 20 requests, a few new connections at most (20 without keep-alive).
    let browser = Browser::new();
    let before = accepted(&deploy).await;
    for _ in 0..20 {
        assert_eq!(browser.get(&deploy.url("/whoami")).await.status, 200);
    }
    let after = accepted(&deploy).await;
    // Less the one connection of each read of the counters.
    let new: u64 = (0..2).map(|i| after[i] - before[i] - 1).sum();
    assert!(new <= 4, "{new} new upstream connections for 20 requests");

    // The echo at the root and under the prefix, from the site's own
    // pages and from a client that sends no Origin. nginx spreads the
    // handshakes over both instances.
    let mut seen = std::collections::BTreeSet::new();
    for path in ["/ws", "/app/ws"] {
        for origin in [Some(own.as_str()), None] {
            for _ in 0..2 {
                let mut ws = open(&deploy, path, origin).await.expect(path);
                seen.insert(echo(&mut ws, "hi").await);
                seen.insert(echo(&mut ws, &"x".repeat(10_000)).await);
                within("close", ws.close(None)).await.expect("close");
            }
        }
    }
    assert_eq!(seen.len(), 2, "both instances: {seen:?}");

    // Pages of other origins are refused: another site, and nginx's own
    // host on another port or scheme.
    let port = deploy.port;
    for path in ["/ws", "/app/ws"] {
        for origin in [
            "https://evil.example".to_owned(),
            format!("http://127.0.0.1:{}", port.wrapping_add(1)),
            format!("https://127.0.0.1:{port}"),
        ] {
            let status = open(&deploy, path, Some(&origin)).await.err();
            assert_eq!(status, Some(StatusCode::FORBIDDEN), "{path} from {origin}");
        }
    }

    // SIGTERM to the instance holding an open socket: it drains, the
    // client gets close 1001 through nginx, the instance exits 0; a new
    // socket opens on the other instance.
    let mut ws = open(&deploy, "/ws", Some(&own)).await.expect("/ws");
    let holder = echo(&mut ws, "before the stop").await;
    let instance: &mut Instance = deploy.instance(&holder);
    let client = async {
        let code = close_code_of(&mut ws).await;
        // Reading on sends the client's close back: the closing handshake
        // the instance waits for before it exits.
        let end = within("the end of the socket", ws.next()).await;
        assert!(end.is_none(), "after the close: {end:?}");
        code
    };
    let (status, code) = tokio::join!(instance.terminate(), client);
    assert!(status.success(), "{holder} exited with {status}");
    assert_eq!(code, 1001, "close 1001 (Going Away) from {holder}'s drain");
    let other = if holder == "a" { "b" } else { "a" };
    for path in ["/ws", "/app/ws"] {
        let mut ws = open(&deploy, path, Some(&own)).await.expect(path);
        assert_eq!(echo(&mut ws, "after").await, other, "{path}");
    }
    let errors = deploy.nginx_errors();
    assert!(!errors.contains("[alert]"), "{errors}");
}
