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

mod toy;
use toy::{Breakage, Toy, ToyH2};

/// The rules each breakage must fail (at least these; others may follow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_breakage_fails_the_rule_that_names_it() {
    let clean = gateway_conformance::run(&Toy(Breakage::None)).await;
    println!("{clean}");
    clean.assert_passed();

    let cases: [(Breakage, &[&str]); 6] = [
        (
            Breakage::IgnoresHead,
            &["h1/head_keeps_length", "h1/head_of_stream"],
        ),
        (Breakage::CompletesAfterError, &["h1/abort_after_commit"]),
        (
            Breakage::NeverDrops,
            &["h1/disconnect_pending", "h1/disconnect_streaming"],
        ),
        (Breakage::AlwaysChunked, &["h1/exact_length"]),
        (
            Breakage::NoDriver,
            &["h1/panic_isolated", "h1/error_before_commit"],
        ),
        (Breakage::DropsUpgrade, &["h1/upgrade_echo"]),
    ];
    for (breakage, rules) in cases {
        let report = gateway_conformance::run(&Toy(breakage)).await;
        println!("{breakage:?}:\n{report}");
        for rule in rules {
            let result = report.get(rule).unwrap_or_else(|| panic!("no rule {rule}"));
            assert_eq!(
                result.outcome(),
                Outcome::Failed,
                "{breakage:?} must fail {rule}: {result}"
            );
        }
        // The panic message names every failed rule.
        let message = std::panic::catch_unwind(|| report.assert_passed())
            .expect_err("assert_passed panics")
            .downcast::<String>()
            .expect("a formatted message");
        for rule in rules {
            assert!(message.contains(rule), "{message}");
        }
    }
}

/// The HTTP/2 rules against a second toy (hyper's HTTP/2 server), with
/// extended CONNECT; without its upgrade support, the CONNECT rule fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_toy_passes_and_its_breakage_is_caught() {
    let report = gateway_conformance::run(&ToyH2 { upgrades: true }).await;
    println!("{report}");
    report.assert_passed();
    assert_eq!(
        report.get("h2/upgrade_echo").map(|r| r.outcome()),
        Some(Outcome::Passed)
    );
    assert_eq!(
        report.get("h1/request_in_one_write").map(|r| r.message()),
        Some("needs http1"),
        "skipped, saying why"
    );

    let broken = gateway_conformance::run(&ToyH2 { upgrades: false }).await;
    let result = broken.get("h2/upgrade_echo").expect("the rule ran");
    assert_eq!(result.outcome(), Outcome::Failed, "{broken}");
}
