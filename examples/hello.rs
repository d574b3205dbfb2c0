//! `cargo run --release --example hello [ADDR]`
//!
//! `GET /` answers with a greeting; `POST /echo` streams the body back:
//!
//! ```text
//! curl http://127.0.0.1:8000/
//! curl --data-binary @Cargo.toml http://127.0.0.1:8000/echo
//! curl --http2-prior-knowledge http://127.0.0.1:8000/
//! ```

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::init_tracing();
    gateway_examples::run(gateway_examples::hello::app()).await
}
