//! Unix sockets: stale socket files, the socket mode, serving raw HTTP/1.1.

use super::*;

/// A Unix socket server: it replaces a stale socket file, sets the
/// requested mode, serves raw HTTP/1.1, refuses a live socket (its own or
/// another listener's) and a regular file without touching them, and
/// removes its socket file when it stops.
#[tokio::test]
async fn unix_socket() {
    let dir = TempDir::new("server");
    let path = dir.join("app.sock");

    // A stale socket: its listener is gone, its file stays.
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind a stale socket"));
    assert!(is_socket(&path), "the stale socket file should remain");
    assert!(
        std::os::unix::net::UnixStream::connect(&path).is_err(),
        "a stale socket refuses connections"
    );

    let server = Server::bind_unix(&path, Some(0o600)).expect("bind_unix over a stale socket");
    let mode = std::fs::metadata(&path)
        .expect("socket metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode is {:o}", mode & 0o777);
    match server.local_addrs().expect("local_addrs").as_slice() {
        [Addr::Unix(Some(p))] => assert_eq!(*p, path),
        other => panic!("local_addrs: {other:?}"),
    }
    assert!(
        server.local_addr().is_err(),
        "local_addr is the first TCP listener; there is none"
    );
    let running = spawn(server, where_app());

    let (head, body) = unix_get(&path, "/over-unix").await;
    assert_eq!(status(&head), 200, "{head}");
    assert_eq!(
        String::from_utf8_lossy(&body),
        format!("unix:{} /over-unix", path.display())
    );

    // Our own live socket: in use, left alone.
    let err = Server::bind_unix(&path, None).expect_err("bind_unix over a live socket");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    let (head, _) = unix_get(&path, "/still").await;
    assert_eq!(
        status(&head),
        200,
        "the running server still answers: {head}"
    );

    // Another process's live socket (a listener still bound).
    let other = dir.join("other.sock");
    let live = std::os::unix::net::UnixListener::bind(&other).expect("bind a live socket");
    let err = Server::bind_unix(&other, Some(0o600)).expect_err("bind_unix over a live socket");
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse, "{err}");
    assert!(is_socket(&other), "the live socket file must stay");
    std::os::unix::net::UnixStream::connect(&other).expect("the live listener still accepts");
    drop(live);

    // A regular file: refused, untouched.
    let file = dir.join("not-a-socket");
    std::fs::write(&file, "keep me").expect("write a regular file");
    let err = Server::bind_unix(&file, None).expect_err("bind_unix over a regular file");
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists, "{err}");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read it back"),
        "keep me"
    );

    running.stop().await;
    assert!(!exists(&path), "the socket file is removed after shutdown");
}

/// A server whose socket file was replaced while it ran (removed, and
/// bound again by a successor) must not remove the successor's socket when
/// it stops. (A regression test: the listener once compared the path with
/// itself; it now checks the file's device and inode.)
#[tokio::test]
async fn unix_socket_replaced_by_a_successor_is_kept() {
    let dir = TempDir::new("server");
    let path = dir.join("app.sock");
    let running = spawn(
        Server::bind_unix(&path, None).expect("bind_unix"),
        where_app(),
    );
    let (head, _) = unix_get(&path, "/").await;
    assert_eq!(status(&head), 200, "{head}");

    // A deployment replaces the socket: the successor binds a new one.
    std::fs::remove_file(&path).expect("remove the socket file");
    let successor = std::os::unix::net::UnixListener::bind(&path).expect("the successor binds");

    running.stop().await;
    assert!(
        is_socket(&path),
        "the stopping server removed its successor's socket file"
    );
    drop(successor);
}
