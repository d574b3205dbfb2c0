//! Many connections at once.

use super::*;

const CONNECTIONS: usize = 1000;
/// The connections are opened and used by this many concurrent tasks.
const TASKS: usize = 50;

/// How many connections this process can hold, up to `wanted`: each takes
/// two descriptors here (client and server end), plus some headroom for
/// the runtime. Probed by opening files until it fails (`EMFILE`), without
/// libc; the default soft limit on some systems is only 1,024.
fn connection_budget(wanted: usize) -> usize {
    const HEADROOM: usize = 64;
    let target = 2 * wanted + HEADROOM;
    let exe = std::env::current_exe().expect("current_exe");
    let mut files = Vec::with_capacity(target);
    let mut failure = None;
    while files.len() < target {
        match std::fs::File::open(&exe) {
            Ok(file) => files.push(file),
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    let opened = files.len();
    drop(files);
    match failure {
        None => wanted,
        Some(err) => {
            let budget = opened.saturating_sub(HEADROOM) / 2;
            let banner = "!".repeat(72);
            let notice = format!(
                "\n{banner}\n!!! file descriptors: only {opened} more could be opened ({err});\n\
                 !!! testing {budget} connections instead of {wanted}. Raise `ulimit -n`.\n{banner}\n\n"
            );
            let _ = std::io::Write::write_all(&mut std::io::stderr(), notice.as_bytes());
            budget
        }
    }
}

/// 1,000 keep-alive connections open at once, each answered twice: every
/// response is a 200 naming the client's own address, the same on both
/// requests (so the second request travelled on the same connection, kept
/// open while all the others were open too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_keep_alive_connections() {
    let n = connection_budget(CONNECTIONS);
    assert!(
        n >= 500,
        "the file-descriptor limit leaves room for only {n} connections; at least 500 are needed"
    );
    let server = start_server(|s| s).await;
    let addr = server.addr;
    let began = Instant::now();

    // Round one: open every connection and send one request on each.
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let count = n / TASKS + usize::from(t < n % TASKS);
        tasks.push(tokio::spawn(async move {
            let mut conns = Vec::with_capacity(count);
            for _ in 0..count {
                let stream = within("connect", TcpStream::connect(addr))
                    .await
                    .unwrap_or_else(|err| panic!("connect #{}: {err}", conns.len()));
                let local = stream.local_addr().expect("local_addr").to_string();
                let mut conn = Conn::new(stream);
                conn.send(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write the first request");
                let response = conn
                    .response("first request")
                    .await
                    .expect("a response to the first request");
                assert_eq!(response.status, 200, "{:?}", response.head);
                assert_eq!(response.body_str(), local, "the server's view of the peer");
                conns.push((conn, local));
            }
            conns
        }));
    }
    let mut groups = Vec::with_capacity(TASKS);
    for task in tasks {
        groups.push(within("round one", task).await.expect("round one task"));
    }
    let open: usize = groups.iter().map(Vec::len).sum();
    assert_eq!(open, n, "connections open at once");
    let round_one = began.elapsed();

    // Round two: with all of them open, a second request on each.
    let mut tasks = Vec::with_capacity(TASKS);
    for mut group in groups {
        tasks.push(tokio::spawn(async move {
            for (conn, local) in &mut group {
                conn.send(b"GET /peer HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .expect("write the second request");
                let response = conn
                    .response("second request")
                    .await
                    .expect("a response on the same connection");
                assert_eq!(response.status, 200, "{:?}", response.head);
                assert_eq!(response.body_str(), *local, "same connection");
            }
            group
        }));
    }
    let mut groups = Vec::with_capacity(TASKS);
    for task in tasks {
        groups.push(within("round two", task).await.expect("round two task"));
    }
    let elapsed = began.elapsed();
    eprintln!("{n} connections: round one {round_one:?}, both rounds {elapsed:?}");
    assert_eq!(server.seen().len(), 2 * n, "requests the application saw");
    assert_still_serving(addr).await;

    drop(groups);
    server.stop().await;
}
