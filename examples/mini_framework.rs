//! `cargo run --release --example mini_framework [ADDR]`
//!
//! A notes API written with the mini-framework in
//! `gateway_examples::mini_framework` (router with path parameters, typed
//! query/form/JSON extraction, errors rendered as JSON):
//!
//! ```text
//! curl http://127.0.0.1:8000/
//! curl -i -H 'content-type: application/json' -d '{"title":"milk","body":"2 litres"}' \
//!     http://127.0.0.1:8000/notes
//! curl -i -d 'title=eggs&body=a+dozen' http://127.0.0.1:8000/notes
//! curl http://127.0.0.1:8000/notes
//! curl http://127.0.0.1:8000/notes/1
//! curl 'http://127.0.0.1:8000/search?q=milk&limit=5'
//! curl http://127.0.0.1:8000/hello/J%C3%BCrgen
//! curl -i -X PUT http://127.0.0.1:8000/notes      # 405, Allow: GET, HEAD, POST
//! curl -i -H 'content-type: application/json' -d '{"title":' http://127.0.0.1:8000/notes  # 400
//! ```

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::init_tracing();
    gateway_examples::run(gateway_examples::mini_framework::app()).await
}
