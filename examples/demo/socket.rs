//! `/ws`: the demo's WebSocket, an echo that names the instance that
//! answers (`a: hi`), so that a client behind nginx can tell which
//! instance holds its socket. Mounted at `/ws` outside the pages'
//! sessions: it reads no cookie, but a browser would still send them, so
//! it refuses a page from another site (`Origin`) all the same.

use std::sync::Arc;

use gateway_core::http::StatusCode;
use gateway_core::websocket::{Message, WebSocket, WebSocketUpgrade, close_code};
use gateway_core::{Application, Environ, Error, Response};

/// The largest message the socket takes: 64 KiB (the demo echoes short
/// lines; the helper's default is 1 MiB).
pub(super) const MAX_MESSAGE: usize = 64 << 10;

/// The socket, mounted at `/ws`.
#[derive(Clone, Debug)]
pub(super) struct Socket {
    name: Arc<str>,
}

impl Socket {
    pub(super) fn new(name: &str) -> Socket {
        Socket { name: name.into() }
    }
}

impl Application for Socket {
    async fn call(&self, mut env: Environ) -> Result<Response, Error> {
        // Mounted at `/ws`: `/ws` itself, nothing under it.
        if !env.path_info().is_empty() {
            return Err(Error::with_status(StatusCode::NOT_FOUND, "no such page"));
        }
        // The origin of the demo's own pages as the browser sees it: after
        // `ProxyHeaders`, nginx's scheme and host, not the socket's.
        let own = env.host_url();
        let ws = WebSocketUpgrade::from_environ(&mut env)?.max_message_size(MAX_MESSAGE);
        // Cross-site WebSocket hijacking: browsers send `Origin` (and the
        // user's cookies) from any page. Clients that are not browsers
        // send none, and carry no user's cookies: let them in.
        if ws.origin().is_some_and(|o| !o.eq_ignore_ascii_case(&own)) {
            return Err(Error::with_status(StatusCode::FORBIDDEN, "foreign origin"));
        }
        let name = Arc::clone(&self.name);
        Ok(ws.on_upgrade(move |socket| echo(socket, name)))
    }
}

/// Echoes text as `NAME: text`, binary as it is; `bye` closes normally.
/// On the server's shutdown the helper closes the socket with 1001 and
/// `recv` ends.
async fn echo(mut socket: WebSocket, name: Arc<str>) {
    while let Some(msg) = socket.recv().await {
        let reply = match msg {
            Ok(Message::Text(text)) if text == "bye" => {
                let _ = socket.close(close_code::NORMAL, "bye").await;
                return;
            }
            Ok(Message::Text(text)) => Message::text(format!("{name}: {text}")),
            Ok(msg @ Message::Binary(_)) => msg,
            // Pings are answered by the helper; a close ends `recv`.
            Ok(_) => continue,
            // The client was told why (1009 for a message over the limit),
            // or the connection broke.
            Err(_) => return,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
