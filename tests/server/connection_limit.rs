//! The connection limit (`max_connections`).

use super::*;

/// `max_connections(1)`: while a kept-alive connection is open, a second
/// one is accepted by the kernel but not served; once the first closes, the
/// second is served.
#[tokio::test]
async fn connection_limit() {
    let server = Server::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .max_connections(1);
    let server = TestServer::serve(server, where_app());

    let mut first = server.client(Proto::Http1).await;
    let (parts, _) = first.fetch(Method::GET, "/first").await;
    assert_eq!(parts.status, StatusCode::OK);

    let mut second = within("tcp connect", TcpStream::connect(server.addr))
        .await
        .expect("the kernel accepts the second connection");
    within(
        "write a request",
        second.write_all(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n"),
    )
    .await
    .expect("write a request");
    // The timeout under test: nothing may arrive while the first is open.
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), second.read(&mut byte)).await;
    assert!(
        early.is_err(),
        "the second connection got an answer (or closed) while the first was open: {early:?}"
    );

    // Close the first: its connection task ends once the socket is shut.
    let conn = first.connection().expect("connection task");
    drop(first);
    within("the first connection to close", conn)
        .await
        .expect("connection task")
        .expect("the first connection closed cleanly");

    let (head, body) = read_response(&mut second).await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("{} /second", server.addr)
    );
    drop(second);
    server.stop().await;
}

/// Settings at their extremes neither break nor disable the server: a
/// header size past `u32` (HTTP/2's header-list limit is a `u32`; it must
/// not wrap to 0 and refuse everything) and `max_headers(0)` (clamped to
/// one field, so the mandatory Host still fits).
#[tokio::test]
async fn extreme_settings_still_serve() {
    let server = Server::bind("127.0.0.1:0")
        .await
        .unwrap()
        .max_header_size(1 << 32)
        .max_headers(0);
    let served = TestServer::serve(server, where_app());
    for proto in [Proto::Http2, Proto::Http1] {
        let mut client = Client::connect(proto, served.addr).await;
        let (parts, _) = client.fetch(Method::GET, "/").await;
        assert_eq!(parts.status, StatusCode::OK, "{proto:?}");
    }
    served.stop().await;
}

/// A Unix socket in a directory that does not exist: an error that names
/// the path, not a bare "No such file or directory".
#[tokio::test]
async fn unix_bind_error_names_the_path() {
    let dir = TempDir::new("server");
    let path = dir.join("no/such/dir/app.sock");
    let err = Server::bind_unix(&path, None).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
}
