//! `cargo run --example axum_router [ADDR]`
//!
//! Routing and extractors from axum on the gateway stack: an axum `Router`
//! hosted as a gateway application (`from_service`), mounted at `/api` in
//! front of a plain gateway application, with tower-http's compression
//! around both (`from_layer`). The README shows this file's code.
//!
//! ```text
//! curl http://127.0.0.1:8000/api/users/7
//! curl -i http://127.0.0.1:8000/api/users/seven        # 400, from axum's Path
//! curl -i --compressed http://127.0.0.1:8000/about      # gzip, from tower-http
//! ```

use axum::extract::Path;
use axum::routing::get;
use gateway_core::tower::{from_layer, from_service};
use gateway_core::{Application, ApplicationExt, Environ, fn_app, start};
use gateway_middleware::Mount;
use tower_http::compression::CompressionLayer;

/// The site: axum under `/api`, a gateway application for the rest.
pub fn app() -> impl Application {
    // axum routes and extracts; mounted at /api, it sees the path below it.
    let api = axum::Router::new().route(
        "/users/{id}",
        get(|Path(id): Path<u32>| async move { format!("user {id}\n") }),
    );
    // Everything else goes to a plain gateway application.
    let site = fn_app(|env: Environ| async move {
        let page = format!("{} is served by a gateway application\n", env.path_info());
        start(200, [("content-type", "text/plain")]).body(page)
    });
    Mount::new()
        .mount("/api", from_service(api))
        .fallback(site)
        // A tower layer (here tower-http's) as gateway middleware.
        .with(from_layer(CompressionLayer::new()))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    gateway_examples::run(app()).await
}
