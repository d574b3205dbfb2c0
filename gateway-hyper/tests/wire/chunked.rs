//! `chunked` applied twice, in one `Transfer-Encoding` field or in two,
//! is refused with 400 and the connection closes (RFC 9112 §6.1): a
//! request pipelined behind it never runs. hyper accepted both and kept
//! the connection open.

use crate::support::{Conn, recording_app, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_twice_gets_400_and_a_close() {
    let (app, seen) = recording_app();
    let server = serve(|s| s, app).await;
    let cases: [(&str, &[u8]); 3] = [
        (
            "one field",
            b"POST /twice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n\
              5\r\nhello\r\n0\r\n\r\n\
              GET /pipelined HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "two fields",
            b"POST /twice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
              Transfer-Encoding: chunked\r\n\r\n\
              0\r\n\r\n\
              GET /pipelined HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
        (
            "empty body, the next request in the same write",
            b"POST /twice HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked,chunked\r\n\r\n\
              0\r\n\r\nGET /pipelined HTTP/1.1\r\nHost: x\r\n\r\n",
        ),
    ];
    for (what, request) in cases {
        let mut conn = Conn::open(server.addr).await;
        let _ = conn.send(request).await;
        let response = conn.response(what).await.expect("an answer");
        assert_eq!(response.status, 400, "{what}: {:?}", response.head);
        conn.assert_closed(what).await;
    }
    assert!(
        seen.get().is_empty(),
        "a refused or pipelined request reached the application: {:?}",
        seen.get()
    );

    // A single `chunked` still works, pipelining included.
    let mut conn = Conn::open(server.addr).await;
    conn.send(
        b"POST /once HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(conn.response("once").await.unwrap().body, b"POST /once 5");
    assert_eq!(conn.response("next").await.unwrap().body, b"GET /next 0");
    assert_eq!(seen.get(), ["POST /once", "GET /next"]);
    drop(conn);
    server.stop().await;
}
