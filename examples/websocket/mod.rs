//! A WebSocket echo with a page to try it in a browser: `GET /` is the
//! page, `/ws` the socket (`gateway_core::websocket`). The socket refuses a
//! foreign `Origin` (403): a page on another site cannot open it with the
//! user's cookies.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use gateway_core::{driver, Body, Environ};
//!
//! let app = gateway_examples::websocket::app();
//! let page = http::Request::get("/").header("host", "localhost").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(page)).await;
//! assert_eq!(res.status(), 200);
//! // The socket's URL opened as a page: not a handshake.
//! let plain = http::Request::get("/ws").header("host", "localhost").body(Body::empty()).unwrap();
//! let Ok(res) = driver::commit(&app, Environ::from_request(plain)).await;
//! assert_eq!(res.status(), 426);
//! # });
//! ```

use gateway_core::http::StatusCode;
use gateway_core::websocket::{Message, WebSocket, WebSocketUpgrade, close_code};
use gateway_core::{Application, Environ, Error, fn_app, start};

#[cfg(test)]
mod tests;

/// The page: a text box, a log, and a few lines of JavaScript.
pub const PAGE: &str = include_str!("page.html");

/// The largest message the socket takes: 64 KiB.
pub const MAX_MESSAGE: usize = 64 << 10;

/// The example's application.
pub fn app() -> impl Application + Clone {
    fn_app(|mut env: Environ| async move {
        match env.path_info() {
            "/" => start(200, [("content-type", "text/html; charset=utf-8")]).body(PAGE),
            "/ws" => {
                // The origin of this site's own pages, as the browser sees
                // it (behind a proxy, put `ProxyHeaders` in front).
                let own = env.host_url();
                let ws = WebSocketUpgrade::from_environ(&mut env)?.max_message_size(MAX_MESSAGE);
                if ws.origin().is_some_and(|o| !o.eq_ignore_ascii_case(&own)) {
                    return Err(Error::with_status(StatusCode::FORBIDDEN, "foreign origin"));
                }
                Ok(ws.on_upgrade(echo))
            }
            _ => Err(Error::with_status(StatusCode::NOT_FOUND, "no such page")),
        }
    })
}

/// Echoes text as `echo: …`, binary as it is; `bye` closes normally.
async fn echo(mut socket: WebSocket) {
    while let Some(msg) = socket.recv().await {
        let reply = match msg {
            Ok(Message::Text(text)) if text == "bye" => {
                let _ = socket.close(close_code::NORMAL, "bye").await;
                return;
            }
            Ok(Message::Text(text)) => Message::text(format!("echo: {text}")),
            Ok(msg @ Message::Binary(_)) => msg,
            // Pings are answered for us; a close ends `recv`.
            Ok(_) => continue,
            // The client was told why with the close code (1009 for a
            // message over the limit), or the connection broke.
            Err(_) => return,
        };
        if socket.send(reply).await.is_err() {
            return;
        }
    }
}
