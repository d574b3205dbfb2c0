//! An application's `Content-Length` on a streaming body, over a real
//! socket: a body that breaks it aborts the response (the connection
//! closes, so the client sees a truncated response and no later response
//! on that connection), and a body that keeps it leaves the connection
//! open for the next request.

#[path = "common/declared.rs"]
mod declared;

use declared::serve;

#[tokio::test]
async fn a_short_body_closes_the_connection() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/short").await;
    assert!(
        closed,
        "the connection must close after a short body: {seen:?}"
    );
    // At most the head and the 3 bytes; never a second response.
    assert!(!seen.contains("next"), "{seen:?}");
    if let Some((head, body)) = seen.split_once("\r\n\r\n") {
        assert!(
            head.to_ascii_lowercase().contains("content-length: 10"),
            "{head}"
        );
        assert!(body.len() < 10, "{body:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_long_body_is_cut_and_the_connection_closed() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/long").await;
    assert!(
        closed,
        "a body past its length must abort, not end as a complete response: {seen:?}"
    );
    assert!(!seen.contains("INJECTED"), "{seen:?}");
    assert!(!seen.contains("next"), "{seen:?}");
    if let Some((head, body)) = seen.split_once("\r\n\r\n") {
        assert!(
            head.to_ascii_lowercase().contains("content-length: 2"),
            "{head}"
        );
        assert!(
            body.len() < 2,
            "a truncated response, not a complete one: {body:?}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_body_of_the_announced_length_keeps_the_connection() {
    let server = serve().await;
    let (seen, closed) = server.pipelined("/exact").await;
    assert!(!closed, "{seen:?}");
    let (first, second) = seen.split_once("HTTP/1.1 200 OK\r\ncontent-type").unwrap();
    assert!(
        first.to_ascii_lowercase().contains("content-length: 5"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\nabcde"), "{first:?}");
    assert!(second.ends_with("\r\n\r\nnext"), "{second:?}");
    server.stop().await;
}
