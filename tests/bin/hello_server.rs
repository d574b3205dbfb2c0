//! `hello_server`: the hello example on `127.0.0.1:0`, printing
//! `listening on http://ADDR`, until SIGTERM. The integration tests run it
//! as a separate process when they need one (for example under a low
//! file-descriptor limit).

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let server = gateway_hyper::Server::bind("127.0.0.1:0").await?;
    println!("listening on http://{}", server.local_addr()?);
    server
        .serve_with_shutdown(
            gateway_examples::hello::app(),
            gateway_hyper::shutdown_signal(),
        )
        .await
}
