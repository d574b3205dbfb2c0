//! `cargo run --release --example static_site -- [ADDR] [DIR]`
//!
//! Serves DIR (default: the sample folder `examples/static_site`) at `/`
//! with `StaticFiles`; everything that is not a file goes to a small
//! application (`GET /api/time`, else 404):
//!
//! ```text
//! curl -i http://127.0.0.1:8000/
//! curl -i http://127.0.0.1:8000/docs                     # 301 to /docs/
//! curl -i -H 'accept-encoding: gzip' http://127.0.0.1:8000/js/app.3f2a9c1e.js
//! curl -i -r 0-99 http://127.0.0.1:8000/index.html       # 206
//! curl -i http://127.0.0.1:8000/api/time
//! curl --http2-prior-knowledge -I http://127.0.0.1:8000/css/site.css
//! ```

use gateway_examples::static_site;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::init_tracing();
    let dir = std::env::args()
        .nth(2)
        .map_or_else(static_site::sample_dir, Into::into);
    if !dir.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a directory (usage: static_site [ADDR] [DIR])",
            dir.display()
        )));
    }
    println!("serving {}", dir.display());
    gateway_examples::run(static_site::app(dir)).await
}
