//! gateway-fastcgi against a hostile or careless peer, over raw FastCGI
//! records on 127.0.0.1: each test reproduces a finding of the review of
//! issue 17 and fails without its fix.

#[path = "wire/support.rs"]
mod support;

use std::time::Duration;

use gateway_core::response::NO_HEADERS;
use gateway_core::{Environ, fn_app, start};
use gateway_fastcgi::record::{self, RecordType};
use support::{Client, get, req, start as serve, within};

fn app() -> impl gateway_core::Application {
    fn_app(|mut env: Environ| async move {
        match env.path_info() {
            "/stream" => start(200, NO_HEADERS).body(env.take_body()),
            "/huge" => start(200, NO_HEADERS).body(vec![b'a'; 20 << 20]),
            "/env" => {
                let text = format!("{}|{}", env.uri(), env.path_info());
                start(200, NO_HEADERS).body(text)
            }
            _ => start(200, NO_HEADERS).body("hi"),
        }
    })
}

/// `ABORT_REQUEST` while the request's response is blocked half-way
/// through a record: the record is finished before `END_REQUEST`, and a
/// second request on the same connection decodes cleanly.
#[tokio::test]
async fn abort_during_a_large_response_keeps_the_record_stream_whole() {
    let server = serve(app()).await;
    let mut c = Client::connect(server.addr).await;
    c.send(&req(1, true, &get("/huge"), b"")).await;
    // Not reading: the server blocks inside a STDOUT record.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut abort = Vec::new();
    record::put_record(&mut abort, RecordType::AbortRequest, 1, b"");
    c.send(&abort).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.send(&req(2, true, &get("/"), b"")).await;
    // Every record decodes (`Client::record` panics on a bad one).
    let reply = c.reply(2).await;
    assert!(reply.text().ends_with("hi"), "{:?}", reply.end);
    assert_eq!(reply.end, Some((0, 0)));
}
