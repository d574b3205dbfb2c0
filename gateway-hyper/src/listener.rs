//! Listening sockets: TCP (IPv4 and IPv6) and Unix.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use gateway_core::Addr;
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// One listening socket of a [`Server`](crate::Server).
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixSocket),
}

/// A Unix listener and the path it owns (removed when dropped).
#[derive(Debug)]
pub(crate) struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the socket file this listener created: the file
    /// at `path` is removed only if it is still this one.
    file_id: Option<(u64, u64)>,
    /// The path as a `&'static Path` for `Addr::Unix` (one allocation per
    /// listener, kept for the life of the process, so that every request
    /// can copy its connection facts).
    addr: &'static Path,
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
                Ok(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{} is in use by a running server", path.display()),
                    ));
                }
                Err(_) => {
                    tracing::info!(path = %path.display(), "removing a stale socket");
                    std::fs::remove_file(path)?;
                }
            }
        }
        let listener = UnixListener::bind(path)?;
        if let Some(mode) = mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(Listener::Unix(UnixSocket {
            listener,
            file_id: file_id(path),
            path: path.to_path_buf(),
            addr: Box::leak(path.to_path_buf().into_boxed_path()),
        }))
    }

    /// The address this listener is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<Addr> {
        match self {
            Listener::Tcp(l) => Ok(Addr::Tcp(l.local_addr()?)),
            Listener::Unix(u) => Ok(Addr::Unix(Some(u.addr))),
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

impl Drop for UnixSocket {
    fn drop(&mut self) {
        // Only our own socket file: another server may have replaced it.
        if self.file_id.is_some() && file_id(&self.path) == self.file_id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The device and inode of the file at `path`, if any.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
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
