//! `cargo run --example login -- [ADDR] [redis://HOST:PORT]`
//!
//! A small site with a login (see `examples/login/mod.rs`): sessions in
//! memory, or in Redis when a `redis://` URL is given, so that several
//! instances share them. The demo account is `ada` / `lovelace`.
//!
//! Instances that share sessions must share the login key too: set
//! `LOGIN_SECRET` (at least 32 bytes) to the same secret on each; without
//! it a random key is made, and logins end when the process does.
//!
//! ```text
//! cargo run --example login -- 127.0.0.1:8000
//! # then open http://127.0.0.1:8000/ in a browser, or with curl:
//! curl -c jar -b jar http://127.0.0.1:8000/login     # the form, with its csrf_token
//! curl -c jar -b jar -d 'user=ada&password=lovelace&csrf_token=…' http://127.0.0.1:8000/login
//! curl -c jar -b jar http://127.0.0.1:8000/private
//! ```

use gateway_examples::login;
use gateway_middleware::auth::AuthKey;
use gateway_middleware::sessions::{MemoryStore, RedisStore, Sessions};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::init_tracing();
    let key = match std::env::var("LOGIN_SECRET") {
        Ok(secret) => AuthKey::from_secret(secret.as_bytes()).map_err(std::io::Error::other)?,
        Err(_) => AuthKey::generate(),
    };
    let redis = std::env::args()
        .skip(1)
        .find(|a| a.starts_with("redis://") || a.starts_with("rediss://"));
    match redis {
        None => gateway_examples::run(login::app(Sessions::new(MemoryStore::new()), key)).await,
        Some(url) => {
            let client = redis::Client::open(url.as_str()).map_err(std::io::Error::other)?;
            let store = RedisStore::builder(client)
                .connect()
                .await
                .map_err(std::io::Error::other)?;
            gateway_examples::run(login::app(Sessions::new(store), key)).await
        }
    }
}
