//! `static_server DIR`: the static_site example serving DIR on
//! `127.0.0.1:0` on a multi-threaded runtime (as in production), printing
//! `listening on http://ADDR`, until SIGTERM. The memory test measures this
//! process's resident set.

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .ok_or_else(|| std::io::Error::other("usage: static_server DIR"))?;
    let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", server.local_addr()?);
    server
        .serve_with_shutdown(
            gateway_examples::static_site::app(dir),
            gateway_hyper::shutdown_signal(),
        )
        .await
}
