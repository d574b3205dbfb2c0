//! The kit against toy adapters: correct ones pass, and each broken on
//! purpose fails the rule that names its breakage. (The crate docs' example
//! runs it against gateway-hyper; the repository's `tests/conformance`
//! against every adapter here.)

use gateway_conformance::{Adapter, Battery, BoxError, Capabilities, Outcome, Running};

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
/// On a current-thread runtime: the kit needs no second worker.
#[tokio::test]
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

/// An adapter that cannot start is one failed rule, `start`, not a panic.
#[tokio::test]
async fn a_failed_start_is_reported() {
    struct NoStart;
    impl Adapter for NoStart {
        fn name(&self) -> &str {
            "no start"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::new()
        }
        async fn start(&self, _battery: Battery) -> Result<Running, BoxError> {
            Err("port in use".into())
        }
    }
    let report = gateway_conformance::run(&NoStart).await;
    assert_eq!(report.results().len(), 1, "{report}");
    let start = report.get("start").expect("a start result");
    assert_eq!(start.outcome(), Outcome::Failed);
    assert!(start.message().contains("port in use"), "{start}");
    assert!(!report.passed());
}

#[test]
fn path_prefixes_are_checked() {
    let addr = "127.0.0.1:1".parse().unwrap();
    for bad in ["cgi-bin", "/cgi-bin/", "/a?b", "/"] {
        assert!(Running::tcp(addr).try_path_prefix(bad).is_err(), "{bad:?}");
    }
    for good in ["", "/cgi-bin/app"] {
        assert!(Running::tcp(addr).try_path_prefix(good).is_ok(), "{good:?}");
    }
    let panicked = std::panic::catch_unwind(|| Running::tcp(addr).path_prefix("x/"));
    assert!(panicked.is_err());
}
