//! A second toy, for the HTTP/2 rules: hyper's HTTP/2 server (prior
//! knowledge) with extended CONNECT, calling the application through the
//! driver and running its upgrade handler after the commit.

use std::convert::Infallible;

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Running};
use gateway_core::upgrade::{self, OnUpgrade, Upgraded};
use gateway_core::{Addr, Body, ConnInfo, Environ, driver};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// The HTTP/2-only toy; `upgrades` says whether it takes extended CONNECT.
pub(crate) struct ToyH2 {
    pub(crate) upgrades: bool,
}

impl Adapter for ToyH2 {
    fn name(&self) -> &str {
        "toy over HTTP/2"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .http1(false)
            .http2(true)
            .trailers(true)
            .extended_connect(true)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let app: &'static Battery = Box::leak(Box::new(battery));
        let upgrades = self.upgrades;
        let accept = tokio::spawn(async move {
            while let Ok((tcp, peer)) = listener.accept().await {
                let conn = ConnInfo::new(Addr::Tcp(peer), Addr::None);
                let service = hyper::service::service_fn(
                    move |mut req: http::Request<hyper::body::Incoming>| async move {
                        let protocol = req
                            .extensions()
                            .get::<hyper::ext::Protocol>()
                            .map(|p| p.as_str().to_owned());
                        let on = hyper::upgrade::on(&mut req);
                        let (parts, body) = req.into_parts();
                        let mut env = Environ::from_parts(parts, Body::new(body), conn);
                        if let (Some(protocol), true) = (protocol, upgrades) {
                            env.set_upgrade(OnUpgrade::extended_connect(&protocol, async move {
                                Ok(Upgraded::new(TokioIo::new(on.await?)))
                            }));
                        }
                        let Ok(mut res) = driver::commit(app, env).await;
                        if let Some(switch) = upgrade::take_switch(&mut res) {
                            tokio::spawn(switch); // runs once hyper has sent the 200
                        }
                        Ok::<_, Infallible>(res)
                    },
                );
                tokio::spawn(
                    hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .enable_connect_protocol()
                        .serve_connection(TokioIo::new(tcp), service),
                );
            }
        });
        Ok(Running::tcp(addr).on_stop(async move { accept.abort() }))
    }
}
