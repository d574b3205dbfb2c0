//! Listening sockets: TCP (IPv4 and IPv6) and Unix.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sock = std::env::temp_dir().join(format!("listener-doc-{}.sock", std::process::id()));
//! // One server, two listeners: the socket file goes when the server does.
//! let server = gateway_hyper::Server::bind("127.0.0.1:0").await?.and_bind_unix(&sock, 0o600)?;
//! assert_eq!(server.local_addrs()?.len(), 2);
//! drop(server);
//! assert!(!sock.exists());
//! # Ok(())
//! # }
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use gateway_core::Addr;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// One listening socket of a [`Server`](crate::Server).
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixSocket),
}

/// A Unix listener, and the socket file it created if it did.
#[derive(Debug)]
pub(crate) struct UnixSocket {
    listener: UnixListener,
    /// The path and the device and inode of the socket file this listener
    /// created (removed when dropped, if still that file); `None` for a
    /// socket the server was given, whose file it leaves alone.
    owned: Option<SocketFile>,
    /// The path as `Addr::Unix` holds it (see [`interned`]); `None` for an
    /// unnamed or abstract socket.
    addr: Option<&'static Path>,
}

/// An accepted connection.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Listener {
    /// Binds a Unix socket at `path` with permission bits `mode` (when
    /// given). A socket file left by a dead server is removed first; a live
    /// one (it accepts a connection) is an error, as is any other file.
    pub(crate) fn bind_unix(path: &Path, mode: Option<u32>) -> io::Result<Listener> {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{} exists and is not a socket", path.display()),
                ));
            }
            match std::os::unix::net::UnixStream::connect(path) {
                // Only a refused connection proves nobody listens there;
                // any other failure (permissions…) may hide a live server.
                Err(err) if err.kind() == io::ErrorKind::ConnectionRefused => {
                    tracing::info!(path = %path.display(), "removing a stale socket");
                    match std::fs::remove_file(path) {
                        Err(err) if err.kind() != io::ErrorKind::NotFound => {
                            return Err(with_path(err, "cannot remove the stale socket", path));
                        }
                        _ => {}
                    }
                }
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is in use by a running server", path.display()),
                    ));
                }
                Err(err) => return Err(with_path(err, "cannot tell whether a server uses", path)),
            }
        }
        let listener =
            UnixListener::bind(path).map_err(|err| with_path(err, "cannot bind", path))?;
        // Owned from here on: if the chmod fails, dropping it removes the file.
        let socket = UnixSocket {
            listener,
            owned: file_id(path).map(|id| SocketFile {
                path: path.to_path_buf(),
                id,
            }),
            addr: Some(interned(path)),
        };
        if let Some(mode) = mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|err| with_path(err, "cannot set the mode of", path))?;
        }
        Ok(Listener::Unix(socket))
    }

    /// Serves an already-bound std Unix listener (socket activation, a
    /// socket inherited from a parent): sets it non-blocking. Its socket
    /// file is never removed by the server.
    pub(crate) fn from_std_unix(
        listener: std::os::unix::net::UnixListener,
    ) -> io::Result<Listener> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?.as_pathname().map(interned);
        Ok(Listener::Unix(UnixSocket {
            listener: UnixListener::from_std(listener)?,
            owned: None,
            addr,
        }))
    }

    /// The address this listener is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Listener::Tcp(l) => Ok(Addr::Tcp(l.local_addr()?)),
            Listener::Unix(u) => Ok(Addr::Unix(u.addr)),
        }
    }

    /// The TCP address, if this is a TCP listener.
    pub(crate) fn tcp_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(_) => None,
        }
    }

    /// Accepts one connection: the stream and its peer address.
    pub(crate) async fn accept(&self) -> io::Result<(Stream, Addr)> {
        match self {
            Listener::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(error = %err, "could not set TCP_NODELAY");
                }
                Ok((Stream::Tcp(stream), Addr::Tcp(peer)))
            }
            // Peers of a Unix socket are normally unnamed.
            Listener::Unix(u) => Ok((Stream::Unix(u.listener.accept().await?.0), Addr::Unix(None))),
        }
    }
}

/// A socket file a server created: removed when dropped, if it is still
/// that file (another server may have replaced it).
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    /// Device and inode.
    id: (u64, u64),
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if file_id(&self.path) == Some(self.id) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Listener {
    /// Stops listening, and returns the connections that were already
    /// waiting in the listener's queue: their clients connected before the
    /// server stopped, and may have sent a request they expect answered
    /// (a proxy does not send a `POST` elsewhere once it was written).
    /// Closing the socket with them queued would reset them.
    ///
    /// A Unix socket file this server created is removed first, so that
    /// from then on a client's connect fails at once (and a proxy tries
    /// another server) instead of joining the queue.
    pub(crate) fn close(self) -> Vec<(Stream, Addr)> {
        let mut queued = Vec::new();
        match self {
            Listener::Tcp(listener) => {
                let Ok(listener) = listener.into_std() else {
                    return queued;
                };
                accept_queued(&listener, &mut queued, |stream, peer| {
                    let stream = TcpStream::from_std(stream)?;
                    let _ = stream.set_nodelay(true);
                    Ok((Stream::Tcp(stream), Addr::Tcp(peer)))
                });
            }
            Listener::Unix(UnixSocket {
                listener, owned, ..
            }) => {
                drop(owned);
                let Ok(listener) = listener.into_std() else {
                    return queued;
                };
                accept_queued(&listener, &mut queued, |stream, _| {
                    Ok((
                        Stream::Unix(UnixStream::from_std(stream)?),
                        Addr::Unix(None),
                    ))
                });
            }
        }
        queued
    }
}

/// A std listener [`Listener::close`] empties: accepted streams and their
/// peer's address.
trait Queue {
    type Stream;
    type Peer;
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Peer)>;
    fn set_nonblocking(stream: &Self::Stream) -> io::Result<()>;
}

impl Queue for std::net::TcpListener {
    type Stream = std::net::TcpStream;
    type Peer = SocketAddr;
    fn accept_one(&self) -> io::Result<(Self::Stream, SocketAddr)> {
        self.accept()
    }
    fn set_nonblocking(stream: &Self::Stream) -> io::Result<()> {
        stream.set_nonblocking(true)
    }
}

impl Queue for std::os::unix::net::UnixListener {
    type Stream = std::os::unix::net::UnixStream;
    type Peer = std::os::unix::net::SocketAddr;
    fn accept_one(&self) -> io::Result<(Self::Stream, Self::Peer)> {
        self.accept()
    }
    fn set_nonblocking(stream: &Self::Stream) -> io::Result<()> {
        stream.set_nonblocking(true)
    }
}

/// Accepts from the (non-blocking) `listener` until its queue is empty,
/// converting each stream with `convert` into `queued`.
fn accept_queued<L: Queue>(
    listener: &L,
    queued: &mut Vec<(Stream, Addr)>,
    convert: impl Fn(L::Stream, L::Peer) -> io::Result<(Stream, Addr)>,
) {
    loop {
        match listener.accept_one() {
            Ok((stream, peer)) => {
                // Accepted sockets do not inherit the listener's
                // non-blocking mode; tokio needs it.
                match L::set_nonblocking(&stream).and_then(|()| convert(stream, peer)) {
                    Ok(pair) => queued.push(pair),
                    Err(err) => tracing::debug!(error = %err, "a queued connection was lost"),
                }
            }
            Err(err) if is_connection_error(&err) => {}
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // WouldBlock: the queue is empty. Anything else: give up on
            // the rest, as the close would.
            Err(_) => return,
        }
    }
}

fn interned(path: &Path) -> &'static Path {
    static PATHS: Mutex<Vec<&'static Path>> = Mutex::new(Vec::new());
    // A poisoned list is still a valid list.
    let mut paths = PATHS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = paths.iter().find(|known| **known == path) {
        return known;
    }
    let path: &'static Path = Box::leak(path.into());
    paths.push(path);
    path
}

/// The device and inode of the file at `path`, if any.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// The same error, saying what was done to which path.
fn with_path(err: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{what} {}: {err}", path.display()))
}

/// Whether an accept error is about the accepted connection only (try the
/// next one at once) rather than about the listener or the process (back
/// off: EMFILE, ENFILE, ENOBUFS, ENOMEM).
pub(crate) fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_bound_again_is_not_allocated_again() {
        let first = interned(Path::new("/run/interned-test.sock"));
        let again = interned(&PathBuf::from("/run/interned-test.sock"));
        assert!(std::ptr::eq(first, again));
        assert_eq!(again, Path::new("/run/interned-test.sock"));
        let other = interned(Path::new("/run/other-test.sock"));
        assert_eq!(other, Path::new("/run/other-test.sock"));
    }
}
