//! `StaticFiles` against path traversal, through `TestClient`: a corpus of
//! hostile paths, each of which must be answered 400 or 404 (or with a
//! redirect that stays under the mount point) and never with the canary
//! files planted outside the root, as an application and as a middleware
//! under a prefix. Positive controls prove the server does serve files, so
//! the corpus cannot pass by refusing everything.
//!
//! Targets `http::Uri` refuses (raw spaces, NUL, high bytes) cannot go
//! through `TestClient`; `tests/static_traversal.rs` in the workspace's
//! `tests` crate sends them as raw bytes over a socket, with this corpus.

use std::path::Path;

use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{Application, ApplicationExt, fn_app, start};
use gateway_middleware::StaticFiles;

#[path = "support/traversal.rs"]
mod traversal;
use traversal::{B_TXT, C_TXT, CANARY, CORPUS, Fixture, assert_safe_redirect};

/// Answers 404 "fallback" to everything: what a miss falls through to.
fn fallback() -> impl Application {
    fn_app(|_| async { start(404, [("content-type", "text/plain")]).body("fallback") })
}

/// Asserts that `res`, the answer to the hostile `target` under `prefix`,
/// is a refusal or a redirect that stays under `prefix`, and carries no
/// canary. Returns the redirect's target to follow, if any.
fn assert_refused(target: &str, prefix: &str, res: &TestResponse) -> Option<String> {
    assert!(
        !contains_canary(res.bytes()) && !format!("{:?}", res.headers()).contains(CANARY),
        "{target}: canary leaked: {} {:?}",
        res.status(),
        res.text()
    );
    let status = res.status().as_u16();
    if res.status().is_redirection() {
        let location = res
            .header("location")
            .unwrap_or_else(|| panic!("{target}: {status} without a Location"));
        let path = assert_safe_redirect(target, prefix, location, "http://localhost");
        return Some(path.to_owned());
    }
    assert!(
        status == 400 || status == 404,
        "{target}: expected 400 or 404, got {status} {:?}",
        res.text()
    );
    None
}

fn contains_canary(body: &[u8]) -> bool {
    body.windows(CANARY.len()).any(|w| w == CANARY.as_bytes())
}

/// Sends every corpus path (under `prefix`) and checks each answer,
/// following a redirect once; returns `(target, status)` for the record.
async fn run_corpus<A: Application>(client: &TestClient<A>, prefix: &str) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    for path in CORPUS {
        let target = format!("{prefix}{path}");
        let res = client.get(&target).send().await;
        if let Some(next) = assert_refused(&target, prefix, &res) {
            let again = client.get(&next).send().await;
            let status = again.status().as_u16();
            assert!(
                !contains_canary(again.bytes()),
                "{target} -> {next}: canary leaked"
            );
            assert!(
                !again.status().is_redirection(),
                "{target} -> {next}: redirects again ({status})"
            );
        }
        seen.push((target, res.status().as_u16()));
    }
    seen
}

/// The positive controls: a plain file, a file under an encoded name, and
/// (on Unix) a symbolic link that stays inside the root.
async fn assert_serves_controls<A: Application>(client: &TestClient<A>, prefix: &str) {
    let mut controls = vec!["/a/b.txt", "/%61/b.txt", "/a/b%2Etxt"];
    if cfg!(unix) {
        controls.push("/inside.txt");
    }
    for path in controls {
        let target = format!("{prefix}{path}");
        let res = client.get(&target).send().await;
        assert_eq!(res.status(), 200, "{target}: positive control");
        assert_eq!(res.text(), B_TXT, "{target}: positive control");
    }
    let res = client.get(&format!("{prefix}/index.html")).send().await;
    assert_eq!(res.status(), 200, "{prefix}/index.html: positive control");
}

#[test]
fn corpus_is_large_distinct_and_valid_uris() {
    let mut sorted = CORPUS.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), CORPUS.len(), "duplicate corpus entries");
    assert!(CORPUS.len() >= 40, "the issue asks for at least 40 paths");
    for path in CORPUS {
        let uri: http::Uri = path
            .parse()
            .unwrap_or_else(|e| panic!("{path:?} is not a valid Uri: {e}"));
        assert_eq!(uri.path(), *path, "{path:?} is changed by the Uri parser");
        assert!(uri.query().is_none(), "{path:?} has a query");
    }
}

#[tokio::test]
async fn as_application() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()));
    assert_serves_controls(&client, "").await;
    let seen = run_corpus(&client, "").await;
    assert_eq!(seen.len(), CORPUS.len());
    // The server is still fine afterwards.
    assert_serves_controls(&client, "").await;
}

#[tokio::test]
async fn as_middleware_under_a_prefix() {
    let fixture = Fixture::new();
    let app = fallback().with(StaticFiles::new(fixture.root()).prefix("/static"));
    let client = TestClient::new(app);
    assert_serves_controls(&client, "/static").await;
    let seen = run_corpus(&client, "/static").await;
    assert_eq!(seen.len(), CORPUS.len());
    // Paths that play with the prefix itself.
    for target in [
        "/static/../canary.txt",
        "/static/../static/a/b.txt",
        "/static..%2fcanary.txt",
        "/static%2f..%2fcanary.txt",
        "/static%2fa/b.txt",
        "/staticx/../canary.txt",
        "/static/a/b.txt/..",
        "/Static/../canary.txt",
        "/%73tatic/../canary.txt",
    ] {
        let res = client.get(target).send().await;
        assert!(
            assert_refused(target, "/static", &res).is_none(),
            "{target}: redirected"
        );
    }
    // Outside the prefix, the wrapped application answers.
    let res = client.get("/a/b.txt").send().await;
    assert_eq!(
        (res.status().as_u16(), res.text().as_str()),
        (404, "fallback")
    );
    assert_serves_controls(&client, "/static").await;
}

#[tokio::test]
async fn application_under_a_prefix() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()).prefix("/static"));
    assert_serves_controls(&client, "/static").await;
    run_corpus(&client, "/static").await;
    for target in [
        "/a/b.txt",
        "/canary.txt",
        "/../canary.txt",
        "/staticx/a/b.txt",
    ] {
        let res = client.get(target).send().await;
        assert!(assert_refused(target, "/static", &res).is_none());
    }
}

#[tokio::test]
async fn head_requests_are_refused_alike() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()));
    for path in CORPUS {
        let res = client.head(path).send().await;
        let status = res.status().as_u16();
        assert!(
            status == 400 || status == 404 || res.status().is_redirection(),
            "HEAD {path}: {status}"
        );
        assert!(!contains_canary(res.bytes()), "HEAD {path}: canary leaked");
    }
}

#[tokio::test]
async fn dotfiles_are_served_when_enabled() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()).dotfiles(true));
    for path in ["/.env", "/%2eenv"] {
        let res = client.get(path).send().await;
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.text(), "CANARY-DOT\n", "{path}");
    }
    // Dot segments stay refused, and links out of the root too.
    for path in [
        "/../canary.txt",
        "/%2e%2e/canary.txt",
        "/./a/b.txt",
        "/escape.txt",
    ] {
        let res = client.get(path).send().await;
        assert!(assert_refused(path, "", &res).is_none(), "{path}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks_outside_root_are_followed_when_enabled() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()).symlinks_outside_root(true));
    let res = client.get("/escape.txt").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "CANARY-SECRET\n");
    // The opt-in concerns links only: lexical escapes stay refused.
    for path in [
        "/../canary.txt",
        "/%2e%2e/canary.txt",
        "/..%2fcanary.txt",
        "/a/../../canary.txt",
        "//canary.txt",
        "/.env",
    ] {
        let res = client.get(path).send().await;
        assert!(assert_refused(path, "", &res).is_none(), "{path}");
    }
}

#[test]
fn fixture_is_what_the_corpus_expects() {
    let fixture = Fixture::new();
    let root = fixture.root();
    let read = |path: &Path| std::fs::read_to_string(path).expect("read fixture");
    assert_eq!(read(&root.join("a/b.txt")), B_TXT);
    assert!(read(&root.join("../canary.txt")).contains(CANARY));
    if cfg!(unix) {
        // The links do lead out: refusing them is the server's doing.
        assert!(read(&root.join("escape.txt")).contains(CANARY));
        assert!(read(&root.join("up/canary.txt")).contains(CANARY));
        assert!(read(&root.join("sibling/canary.txt")).contains(CANARY));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn derived_names_are_checked_too() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()));
    // Precompressed siblings that are links out are not candidates.
    for accept in ["br", "zstd", "gzip", "br, zstd, gzip", "*"] {
        let res = client
            .get("/c.txt")
            .header("accept-encoding", accept)
            .send()
            .await;
        assert_eq!(res.status(), 200, "accept-encoding: {accept}");
        assert_eq!(res.text(), C_TXT, "accept-encoding: {accept}");
        assert_eq!(res.header("content-encoding"), None, "{accept}");
    }
    // An index file that is a link out is not served for its directory.
    for path in ["/d/", "/d/index.html"] {
        let res = client.get(path).send().await;
        assert!(assert_refused(path, "", &res).is_none(), "{path}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn listings_show_no_hidden_or_outside_entries() {
    let fixture = Fixture::new();
    let client = TestClient::new(StaticFiles::new(fixture.root()).listing(true));
    let res = client.get("/a/").send().await;
    assert_eq!(res.status(), 200, "listing of /a/");
    assert!(res.text().contains("b.txt"), "{:?}", res.text());
    assert!(!res.text().contains(".hidden"), "{:?}", res.text());
    assert!(!contains_canary(res.bytes()));
    // Directories reached through links out of the root are not listed.
    // (`/up/root/` is the root itself, out and back in: it may be served.)
    for path in ["/up/", "/sibling/", "/%2e%2e/", "/a/../"] {
        let res = client.get(path).send().await;
        assert!(assert_refused(path, "", &res).is_none(), "{path}");
    }
}
