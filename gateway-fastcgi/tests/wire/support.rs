//! A FastCGI "web server" for the tests: writes records to a gateway
//! FastCGI server over TCP and reads its records back.

use std::time::Duration;

use bytes::BytesMut;
use gateway_core::Application;
use gateway_fastcgi::Server;
use gateway_fastcgi::record::{self, BeginRequest, Record, RecordType, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) async fn within<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// A server on 127.0.0.1:0 in a task; `stop` shuts it down gracefully.
pub(crate) struct Running {
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) join: JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn start<A: Application>(app: A) -> Running {
    start_with(Server::bind("127.0.0.1:0").await.unwrap(), app)
}

pub(crate) fn start_with<A: Application>(server: Server, app: A) -> Running {
    let addr = server.local_addr().unwrap();
    let (stop, rx) = oneshot::channel();
    let join = tokio::spawn(server.serve_with_shutdown(app, async {
        let _ = rx.await;
    }));
    Running { addr, stop, join }
}

/// The records of one request, as a web server sends them.
pub(crate) fn request(id: u16, keep_conn: bool, params: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    begin(&mut out, id, keep_conn);
    let mut pairs = Vec::new();
    for (name, value) in params {
        record::put_pair(&mut pairs, name.as_bytes(), value.as_bytes());
    }
    record::put_record(&mut out, RecordType::Params, id, &pairs);
    record::put_record(&mut out, RecordType::Params, id, b"");
    if !body.is_empty() {
        record::put_record(&mut out, RecordType::Stdin, id, body);
    }
    record::put_record(&mut out, RecordType::Stdin, id, b"");
    out
}

pub(crate) fn begin(out: &mut Vec<u8>, id: u16, keep_conn: bool) {
    let flags = if keep_conn { record::KEEP_CONN } else { 0 };
    BeginRequest {
        role: Role::Responder,
        flags,
    }
    .put(out, id);
}

pub(crate) fn get(path: &str) -> Vec<(&'static str, String)> {
    vec![
        ("REQUEST_METHOD", "GET".to_owned()),
        ("REQUEST_URI", path.to_owned()),
        ("SERVER_PROTOCOL", "HTTP/1.1".to_owned()),
        ("HTTP_HOST", "example.test".to_owned()),
    ]
}

pub(crate) fn req(id: u16, keep: bool, params: &[(&'static str, String)], body: &[u8]) -> Vec<u8> {
    let params: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request(id, keep, &params, body)
}

/// One connection to the server.
pub(crate) struct Client {
    pub(crate) io: TcpStream,
    buf: BytesMut,
}

/// What came back for one request.
#[derive(Debug, Default)]
pub(crate) struct Reply {
    pub(crate) stdout: Vec<u8>,
    /// `(app status, protocol status)`, if `END_REQUEST` came.
    pub(crate) end: Option<(u32, u8)>,
}

impl Reply {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The CGI head and body.
    pub(crate) fn split(&self) -> (String, Vec<u8>) {
        let at = self
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a blank line");
        (
            String::from_utf8(self.stdout[..at].to_vec()).unwrap(),
            self.stdout[at + 4..].to_vec(),
        )
    }
}

impl Client {
    pub(crate) async fn connect(addr: std::net::SocketAddr) -> Client {
        Client {
            io: TcpStream::connect(addr).await.unwrap(),
            buf: BytesMut::new(),
        }
    }

    pub(crate) async fn send(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.unwrap();
    }

    /// Sends `bytes` one at a time.
    pub(crate) async fn send_in_pieces(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.io.write_all(&[*b]).await.unwrap();
            self.io.flush().await.unwrap();
        }
    }

    /// Sends `bytes` one at a time, `every` apart, from a task writing
    /// on a second handle of the socket (so that the test reads replies
    /// meanwhile); it stops at the first failed write (the server closed).
    pub(crate) fn trickle(&self, bytes: Vec<u8>, every: Duration) -> JoinHandle<()> {
        use std::os::fd::AsFd;
        let fd = self.io.as_fd().try_clone_to_owned().unwrap();
        let std = std::net::TcpStream::from(fd);
        std.set_nonblocking(true).unwrap();
        let mut writer = TcpStream::from_std(std).unwrap();
        tokio::spawn(async move {
            for b in bytes {
                tokio::time::sleep(every).await;
                if writer.write_all(&[b]).await.is_err() {
                    return;
                }
            }
        })
    }

    /// The next record, or `None` at EOF.
    pub(crate) async fn record(&mut self) -> Option<Record> {
        within("a record", async {
            loop {
                if let Some(rec) = record::decode(&mut self.buf).expect("a valid record") {
                    return Some(rec);
                }
                match self.io.read_buf(&mut self.buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(_) => {}
                }
            }
        })
        .await
    }

    /// Reads records until `END_REQUEST` for `id` (or EOF), collecting
    /// its `STDOUT`. Records for other ids are ignored.
    pub(crate) async fn reply(&mut self, id: u16) -> Reply {
        let mut reply = Reply::default();
        while let Some(rec) = self.record().await {
            if rec.request_id() != id {
                continue;
            }
            match rec.kind() {
                RecordType::Stdout => reply.stdout.extend_from_slice(rec.content()),
                RecordType::EndRequest => {
                    let c = rec.content();
                    reply.end = Some((u32::from_be_bytes([c[0], c[1], c[2], c[3]]), c[4]));
                    return reply;
                }
                _ => {}
            }
        }
        reply
    }

    /// Whether the server closed the connection (EOF or reset) within
    /// the timeout, skipping any records.
    pub(crate) async fn closed(&mut self) -> bool {
        while self.record().await.is_some() {}
        true
    }
}
