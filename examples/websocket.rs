//! `cargo run --release --example websocket [ADDR]`
//!
//! A WebSocket echo: open <http://127.0.0.1:8000/> in a browser and type,
//! or use any client on `ws://127.0.0.1:8000/ws`:
//!
//! ```text
//! python3 -m websockets ws://127.0.0.1:8000/ws
//! ```
//!
//! Ctrl-C closes open sockets with 1001 (Going Away) before the server
//! exits.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::init_tracing();
    gateway_examples::run(gateway_examples::websocket::app()).await
}
