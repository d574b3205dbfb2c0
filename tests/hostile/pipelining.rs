//! Pipelining.

use super::*;

/// Three requests in one write — a GET, a chunked POST and a GET — get
/// three responses in order, each with its own body; the connection then
/// serves a fourth request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_requests_are_answered_in_order() {
    let server = start_server(|s| s).await;
    let mut conn = Conn::open(server.addr).await;
    conn.send(
        b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n\
          POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n\
          GET /three HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .expect("write three requests");
    for expected in ["GET /one\n", "POST /two\nhello", "GET /three\n"] {
        let response = conn
            .response(expected)
            .await
            .unwrap_or_else(|| panic!("closed before the response to {expected:?}"));
        assert_eq!(response.status, 200, "{:?}", response.head);
        assert_eq!(response.body_str(), expected);
    }
    assert!(
        conn.buf.is_empty(),
        "bytes after the third response: {:?}",
        lossy(&conn.buf)
    );

    conn.send(b"POST /four HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("write a fourth request");
    let response = conn.response("fourth").await.expect("a fourth response");
    assert_eq!(response.status, 200, "{:?}", response.head);
    assert_eq!(response.body_str(), "POST /four\nabc");
    assert_eq!(
        server.seen(),
        ["GET /one", "POST /two", "GET /three", "POST /four"]
    );
    drop(conn);
    assert_still_serving(server.addr).await;
    server.stop().await;
}
