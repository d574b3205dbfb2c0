//! What a refusal logs: one debug event naming the reason, and nothing
//! from the request (no header value, no token).

use gateway_middleware::auth::CsrfRejection;

use crate::capture::Capture;
use crate::support::{assert_refused, client, token};

#[tokio::test]
async fn refusals_log_the_reason_and_nothing_from_the_request() {
    let capture = Capture::default();
    let _guard = capture.install();
    let (client, _) = client();
    let good = token(&client).await;
    let marker = "MARKER-7f3a";
    let res = client
        .post("/")
        .header("sec-fetch-site", format!("cross-site-{marker}"))
        .header("origin", format!("https://{marker}.example"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::CrossSite);
    let res = client
        .post("/")
        .header("origin", format!("https://{marker}.example"))
        .send()
        .await;
    assert_refused(&res, CsrfRejection::OriginMismatch);
    // A token of this session, altered: close to a real one.
    let mut altered = good.clone().into_bytes();
    altered[0] = if altered[0] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let res = client
        .post("/")
        .header("x-csrf-token", &altered)
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);
    let res = client
        .post("/")
        .form(&[("csrf_token", marker)])
        .send()
        .await;
    assert_refused(&res, CsrfRejection::InvalidToken);

    let logs = capture.events();
    let refusals: Vec<&String> = logs.iter().filter(|l| l.contains("Csrf refused")).collect();
    assert_eq!(refusals.len(), 4, "{logs:#?}");
    assert!(
        refusals.iter().all(|l| l.starts_with("DEBUG ")),
        "{refusals:#?}"
    );
    for (line, why) in refusals.iter().zip([
        CsrfRejection::CrossSite,
        CsrfRejection::OriginMismatch,
        CsrfRejection::InvalidToken,
        CsrfRejection::InvalidToken,
    ]) {
        assert!(line.contains(&format!("reason={}", why.reason())), "{line}");
    }
    for line in &logs {
        assert!(!line.contains(marker), "{line}");
        assert!(!line.contains(&good), "{line}");
        assert!(!line.contains(&altered), "{line}");
        assert!(!line.contains(&good[..20]), "{line}");
    }
}
