//! The kit against gateway-hyper (which must pass) and against toy adapters
//! broken on purpose (each must fail the rule that names its breakage).

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Outcome, Running};

struct Hyper;

impl Adapter for Hyper {
    fn name(&self) -> &str {
        "gateway-hyper"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .http2(true)
            .trailers(true)
            .max_body_size(64 * 1024)
    }

    async fn start(&self, battery: Battery) -> Result<Running, BoxError> {
        let server = gateway_hyper::Server::bind("127.0.0.1:0")
            .await?
            .max_body_size(64 * 1024);
        let addr = server.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.serve_with_shutdown(battery, async move {
            let _ = stopped.await;
        }));
        Ok(Running::tcp(addr).on_stop(async move {
            let _ = stop.send(());
            let _ = task.await;
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_hyper_passes() {
    let t = std::time::Instant::now();
    let report = gateway_conformance::run(&Hyper).await;
    println!("{report}{:?}", t.elapsed());
    assert!(
        report
            .results()
            .iter()
            .all(|r| r.outcome() != Outcome::Skipped || r.name().contains("upgrade"))
    );
    report.assert_passed();
}
