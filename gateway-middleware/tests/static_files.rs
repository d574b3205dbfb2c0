//! StaticFiles through `TestClient`: one test per rule of the issue, each
//! failing if its rule regresses. The traversal corpus is in
//! `static_traversal.rs`; real sockets and curl in the root `tests/`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway_core::test_client::{TestClient, TestResponse};
use gateway_core::{ApplicationExt, Environ, fn_app, start};
use gateway_middleware::{Mount, StaticFiles};
use http::Method;

/// A directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "gateway-static-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> &Dir {
        let path = self.0.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Bytes 0..len of a recognisable pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| b"0123456789abcdefghijklmnopqrstuvwxyz"[i % 36])
        .collect()
}

/// The usual site: a page, a script with precompressed siblings, a
/// fingerprinted asset, a text file, a binary, a sub-directory.
fn site() -> Dir {
    let dir = Dir::new();
    dir.write("index.html", "<h1>home</h1>")
        .write("docs/index.html", "<h1>docs</h1>")
        .write("docs/guide.txt", "guide")
        .write("empty/.keep", "")
        .write("app.js", "console.log('identity');")
        .write("app.js.br", "BROTLI")
        .write("app.js.gz", "GZIP")
        .write("app.js.zst", "ZSTD")
        .write("app.3f2a9c1e.css", "body{}")
        .write("data.bin", pattern(1000))
        .write("blob.unknownext", "?")
        .write(".env", "SECRET=1");
    dir
}

fn fallback() -> impl gateway_core::Application {
    fn_app(|env: Environ| async move {
        start(200, [("content-type", "text/plain")]).body(format!("app saw {}", env.path_info()))
    })
}

fn files(dir: &Dir) -> TestClient<StaticFiles> {
    TestClient::new(StaticFiles::new(dir.path()))
}

async fn get(
    client: &TestClient<impl gateway_core::Application>,
    path: &str,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut req = client.get(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await
}

#[tokio::test]
async fn serves_a_file_with_its_headers() {
    let dir = site();
    let client = files(&dir);
    let res = get(&client, "/docs/guide.txt", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text(), "guide");
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(res.header("content-length"), Some("5"));
    assert_eq!(res.header("accept-ranges"), Some("bytes"));
    assert_eq!(res.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
    assert!(res.header("etag").is_some_and(|e| e.ends_with('"')));
    assert!(
        res.header("last-modified")
            .is_some_and(|d| d.ends_with(" GMT"))
    );
    assert_eq!(res.header("vary"), None, "no variants, no Vary");
    let res = get(&client, "/data.bin", &[]).await;
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    assert_eq!(res.bytes().as_ref(), pattern(1000).as_slice());
    let res = get(&client, "/blob.unknownext", &[]).await;
    assert_eq!(res.header("content-type"), Some("application/octet-stream"));
}

#[tokio::test]
async fn cache_control_depends_on_the_kind_of_file() {
    let dir = site();
    let client = files(&dir);
    assert_eq!(
        get(&client, "/", &[]).await.header("cache-control"),
        Some("no-cache")
    );
    assert_eq!(
        get(&client, "/app.3f2a9c1e.css", &[])
            .await
            .header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let client = TestClient::new(
        StaticFiles::new(dir.path())
            .cache_control(http::HeaderValue::from_static("max-age=5"))
            .html_cache_control(http::HeaderValue::from_static("max-age=0")),
    );
    assert_eq!(
        get(&client, "/docs/guide.txt", &[])
            .await
            .header("cache-control"),
        Some("max-age=5")
    );
    assert_eq!(
        get(&client, "/docs/", &[]).await.header("cache-control"),
        Some("max-age=0")
    );
}

#[tokio::test]
async fn directories_get_their_index_or_a_redirect() {
    let dir = site();
    let client = files(&dir);
    let res = get(&client, "/", &[]).await;
    assert_eq!(
        (res.status(), res.text().as_str()),
        (200.try_into().unwrap(), "<h1>home</h1>")
    );
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(get(&client, "/docs/", &[]).await.text(), "<h1>docs</h1>");
    let res = get(&client, "/docs?x=1&y=%20", &[]).await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.header("location"), Some("/docs/?x=1&y=%20"));
    assert!(res.bytes().is_empty());
    // No index and no listing: a miss.
    assert_eq!(get(&client, "/empty/", &[]).await.status(), 404);
    // A file asked for as a directory is a miss, as on nginx.
    assert_eq!(get(&client, "/docs/guide.txt/", &[]).await.status(), 404);
    // Without the index file, and without redirects.
    let client = TestClient::new(
        StaticFiles::new(dir.path())
            .index_file(None)
            .redirect_directories(false),
    );
    assert_eq!(get(&client, "/docs/", &[]).await.status(), 404);
    assert_eq!(get(&client, "/docs", &[]).await.status(), 404);
}

#[tokio::test]
async fn redirects_are_built_from_script_name() {
    let dir = site();
    let app = Mount::new().mount("/site", StaticFiles::new(dir.path()));
    let client = TestClient::new(app);
    let res = get(&client, "/site/docs?q=1", &[]).await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.header("location"), Some("/site/docs/?q=1"));
    assert_eq!(
        get(&client, "/site/docs/", &[]).await.text(),
        "<h1>docs</h1>"
    );
    // As a middleware under a prefix.
    let client = TestClient::new(fallback().with(StaticFiles::new(dir.path()).prefix("/static")));
    assert_eq!(
        get(&client, "/static/docs", &[]).await.header("location"),
        Some("/static/docs/")
    );
    assert_eq!(
        get(&client, "/static", &[]).await.header("location"),
        Some("/static/")
    );
}

#[tokio::test]
async fn listing_is_off_by_default_and_escaped_when_on() {
    let dir = site();
    dir.write("empty/<b>&.txt", "x");
    assert_eq!(get(&files(&dir), "/empty/", &[]).await.status(), 404);
    let client = TestClient::new(StaticFiles::new(dir.path()).listing(true));
    let res = get(&client, "/empty/", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    let html = res.text();
    assert!(html.contains("&lt;b&gt;&amp;.txt"), "{html}");
    assert!(!html.contains("<b>"), "{html}");
    assert!(!html.contains(".keep"), "dotfiles stay hidden in listings");
    // A directory with an index still gets the index.
    assert_eq!(get(&client, "/docs/", &[]).await.text(), "<h1>docs</h1>");
}

#[tokio::test]
async fn head_has_get_headers_and_no_body() {
    let dir = site();
    let client = files(&dir);
    let get_res = get(&client, "/data.bin", &[]).await;
    let head = client.head("/data.bin").send().await;
    assert_eq!(head.status(), 200);
    assert!(head.bytes().is_empty());
    for name in [
        "content-length",
        "content-type",
        "etag",
        "last-modified",
        "cache-control",
        "accept-ranges",
    ] {
        assert_eq!(head.header(name), get_res.header(name), "{name}");
    }
    // Ranges are ignored for HEAD.
    let head = client
        .head("/data.bin")
        .header("range", "bytes=0-9")
        .send()
        .await;
    assert_eq!(head.status(), 200);
    assert_eq!(head.header("content-length"), Some("1000"));
}

#[tokio::test]
async fn other_methods_get_405_or_fall_through() {
    let dir = site();
    let client = files(&dir);
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let res = client
            .request(method.clone(), "/docs/guide.txt")
            .send()
            .await;
        assert_eq!(res.status(), 405, "{method}");
        assert_eq!(res.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(
        client.post("/docs").send().await.status(),
        405,
        "a directory exists too"
    );
    assert_eq!(client.post("/missing").send().await.status(), 404);

    let app = fallback().with(StaticFiles::new(dir.path()).other_methods_fall_through(true));
    let client = TestClient::new(app);
    assert_eq!(
        client.post("/docs/guide.txt").send().await.text(),
        "app saw /docs/guide.txt"
    );
    let app = fallback().with(StaticFiles::new(dir.path()));
    let client = TestClient::new(app);
    assert_eq!(client.post("/docs/guide.txt").send().await.status(), 405);
    assert_eq!(
        client.post("/missing").send().await.text(),
        "app saw /missing"
    );
}

#[tokio::test]
async fn as_middleware_misses_fall_through_unless_told_otherwise() {
    let dir = site();
    let client = TestClient::new(fallback().with(StaticFiles::new(dir.path()).prefix("/static")));
    assert_eq!(
        get(&client, "/static/docs/guide.txt", &[]).await.text(),
        "guide"
    );
    assert_eq!(
        get(&client, "/static/nope.txt", &[]).await.text(),
        "app saw /static/nope.txt"
    );
    assert_eq!(
        get(&client, "/staticx/docs/guide.txt", &[]).await.text(),
        "app saw /staticx/docs/guide.txt"
    );
    assert_eq!(
        get(&client, "/docs/guide.txt", &[]).await.text(),
        "app saw /docs/guide.txt"
    );
    let client = TestClient::new(
        fallback().with(
            StaticFiles::new(dir.path())
                .prefix("/static")
                .fall_through(false),
        ),
    );
    assert_eq!(get(&client, "/static/nope.txt", &[]).await.status(), 404);
    assert_eq!(
        get(&client, "/other", &[]).await.text(),
        "app saw /other",
        "outside the prefix"
    );
    // Standalone, with a prefix: everything else is a 404.
    let client = TestClient::new(StaticFiles::new(dir.path()).prefix("/static"));
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.status(), 404);
}

#[tokio::test]
async fn dotfiles_are_hidden_unless_allowed() {
    let dir = site();
    assert_eq!(get(&files(&dir), "/.env", &[]).await.status(), 404);
    let client = TestClient::new(StaticFiles::new(dir.path()).dotfiles(true));
    assert_eq!(get(&client, "/.env", &[]).await.text(), "SECRET=1");
}

#[tokio::test]
async fn if_none_match_and_if_modified_since_give_304() {
    let dir = site();
    let client = files(&dir);
    let first = get(&client, "/app.js", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let date = first.header("last-modified").unwrap().to_owned();

    let res = get(&client, "/app.js", &[("if-none-match", &etag)]).await;
    assert_eq!(res.status(), 304);
    assert!(res.bytes().is_empty());
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    assert_eq!(res.header("last-modified"), Some(date.as_str()));
    assert_eq!(res.header("cache-control"), Some("public, max-age=60"));
    assert_eq!(
        res.header("vary"),
        Some("accept-encoding"),
        "304 keeps Vary"
    );
    assert_eq!(res.header("content-type"), None);

    let list = format!("\"nope\", {etag}");
    assert_eq!(
        get(&client, "/app.js", &[("if-none-match", &list)])
            .await
            .status(),
        304
    );
    assert_eq!(
        get(&client, "/app.js", &[("if-none-match", "*")])
            .await
            .status(),
        304
    );
    let weak = format!("W/{}", etag.trim_start_matches("W/"));
    assert_eq!(
        get(&client, "/app.js", &[("if-none-match", &weak)])
            .await
            .status(),
        304,
        "weak comparison"
    );
    assert_eq!(
        get(&client, "/app.js", &[("if-none-match", "\"other\"")])
            .await
            .status(),
        200
    );

    assert_eq!(
        get(&client, "/app.js", &[("if-modified-since", &date)])
            .await
            .status(),
        304
    );
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(
        get(&client, "/app.js", &[("if-modified-since", old)])
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&client, "/app.js", &[("if-modified-since", "yesterday")])
            .await
            .status(),
        200,
        "invalid date ignored"
    );
    // If-Modified-Since is ignored when If-None-Match is present.
    let res = get(
        &client,
        "/app.js",
        &[("if-none-match", "\"other\""), ("if-modified-since", &date)],
    )
    .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn if_match_and_if_unmodified_since_give_412() {
    let dir = site();
    settled(&dir, "docs/guide.txt");
    let client = files(&dir);
    let first = get(&client, "/docs/guide.txt", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let date = first.header("last-modified").unwrap().to_owned();
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-match", "\"other\"")])
            .await
            .status(),
        412
    );
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-match", "*")])
            .await
            .status(),
        200
    );
    let old = "Thu, 01 Jan 1970 00:00:00 GMT";
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-unmodified-since", old)])
            .await
            .status(),
        412
    );
    assert_eq!(
        get(
            &client,
            "/docs/guide.txt",
            &[("if-unmodified-since", &date)]
        )
        .await
        .status(),
        200
    );
    // If-Match wins over If-None-Match: evaluated first.
    let res = get(
        &client,
        "/docs/guide.txt",
        &[("if-match", "\"other\""), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(res.status(), 412);
    assert!(!etag.starts_with("W/"), "settled: {etag}");
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-match", &etag)])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_mounted_root_without_its_slash_is_redirected() {
    let dir = site();
    let client = TestClient::new(Mount::new().mount("/site", StaticFiles::new(dir.path())));
    let res = get(&client, "/site?x=1", &[]).await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.header("location"), Some("/site/?x=1"));
    assert_eq!(get(&client, "/site/", &[]).await.text(), "<h1>home</h1>");
}

#[tokio::test]
async fn many_small_ranges_get_the_whole_file() {
    let dir = site();
    let client = files(&dir);
    // 100 one-byte ranges: within the file's size, but their multipart
    // framing would be about 100 times larger.
    let many: Vec<String> = (0..100).map(|i| format!("{0}-{0}", i * 2)).collect();
    let res = get(
        &client,
        "/data.bin",
        &[("range", &format!("bytes={}", many.join(",")))],
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().as_ref(), pattern(1000));
    assert_eq!(res.header("content-range"), None);
    // A few small ones are still answered as asked.
    let res = get(&client, "/data.bin", &[("range", "bytes=0-0,500-500")]).await;
    assert_eq!(res.status(), 206);
}

#[tokio::test]
async fn an_unsatisfiable_range_on_a_variant_has_no_content_encoding() {
    let dir = site();
    let client = files(&dir);
    let res = get(
        &client,
        "/app.js",
        &[("accept-encoding", "br"), ("range", "bytes=100-")],
    )
    .await;
    assert_eq!(res.status(), 416);
    assert_eq!(res.header("content-range"), Some("bytes */6"));
    assert_eq!(res.header("content-encoding"), None);
    assert_eq!(res.header("vary"), Some("accept-encoding"));
}

#[tokio::test]
async fn a_changed_or_deleted_sibling_is_noticed() {
    let dir = site();
    let client =
        TestClient::new(StaticFiles::new(dir.path()).revalidate_after(Duration::from_millis(200)));
    let br = [("accept-encoding", "br")];
    assert_eq!(get(&client, "/app.js", &br).await.text(), "BROTLI");
    dir.write("app.js.br", "NEWBROTLI");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, "/app.js", &br).await.text(), "NEWBROTLI");
    std::fs::remove_file(dir.path().join("app.js.br")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let res = get(&client, "/app.js", &[("accept-encoding", "br, gzip")]).await;
    assert_eq!(
        (res.header("content-encoding"), res.text().as_str()),
        (Some("gzip"), "GZIP")
    );
}

/// Files written a moment ago get a weak ETag until they have been stable
/// for a second; age them so strong comparisons (If-Match, If-Range) apply.
fn settled(dir: &Dir, rel: &str) {
    let file = std::fs::File::options()
        .write(true)
        .open(dir.path().join(rel))
        .unwrap();
    let past =
        std::time::SystemTime::now() - Duration::from_secs(3600) + Duration::from_nanos(123_456);
    file.set_modified(past).unwrap();
}

#[tokio::test]
async fn strong_etags_for_settled_files() {
    let dir = site();
    settled(&dir, "docs/guide.txt");
    let client = files(&dir);
    let etag = get(&client, "/docs/guide.txt", &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert!(!etag.starts_with("W/"), "{etag}");
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-match", &etag)])
            .await
            .status(),
        200
    );
    let weak = format!("W/{etag}");
    assert_eq!(
        get(&client, "/docs/guide.txt", &[("if-match", &weak)])
            .await
            .status(),
        412,
        "If-Match compares strongly"
    );
}

/// Streamed files: a file held in memory is tagged by its content and
/// strong at once (`a_cached_file_is_strong_at_once`).
#[tokio::test]
async fn a_weak_etag_becomes_strong_once_the_file_settles() {
    let dir = Dir::new();
    dir.write("fresh.txt", "just deployed");
    let client = TestClient::new(
        StaticFiles::new(dir.path())
            .max_cached_file(0)
            .revalidate_after(Duration::from_millis(100)),
    );
    let first = get(&client, "/fresh.txt", &[]).await;
    let weak = first.header("etag").unwrap().to_owned();
    assert!(weak.starts_with("W/"), "written a moment ago: {weak}");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let strong = get(&client, "/fresh.txt", &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        strong,
        weak.trim_start_matches("W/"),
        "the same tag, now strong"
    );
    let res = get(
        &client,
        "/fresh.txt",
        &[("range", "bytes=0-3"), ("if-range", &strong)],
    )
    .await;
    assert_eq!((res.status().as_u16(), res.text().as_str()), (206, "just"));
}

#[tokio::test]
async fn a_cached_file_is_strong_at_once() {
    let dir = Dir::new();
    dir.write("fresh.txt", "just deployed");
    let client = files(&dir);
    let etag = get(&client, "/fresh.txt", &[])
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    assert!(!etag.starts_with("W/"), "{etag}");
    let res = get(
        &client,
        "/fresh.txt",
        &[("range", "bytes=0-3"), ("if-range", &etag)],
    )
    .await;
    assert_eq!((res.status().as_u16(), res.text().as_str()), (206, "just"));
    assert_eq!(
        get(&client, "/fresh.txt", &[("if-match", &etag)])
            .await
            .status(),
        200
    );
}

/// Issue 13 item 15: two instances serving the same bytes (another
/// machine, a rebuilt container: other inodes) give the same validators,
/// so a client revalidating against either gets a 304.
#[tokio::test]
async fn the_same_bytes_under_two_roots_have_the_same_etag() {
    let (one, two) = (Dir::new(), Dir::new());
    let mtime = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    for dir in [&one, &two] {
        dir.write("small.txt", "the same small file")
            .write("large.bin", pattern(5000));
        // Large files are tagged by size and time stamp, which tar, `cp -p`
        // and `rsync -t` keep.
        set_mtime(dir, "large.bin", mtime);
    }
    // Different modification times for the small one: its tag comes from
    // its content.
    set_mtime(&one, "small.txt", mtime);
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let inode = |dir: &Dir| {
            std::fs::metadata(dir.path().join("small.txt"))
                .unwrap()
                .ino()
        };
        assert_ne!(inode(&one), inode(&two));
    }
    let client = |dir: &Dir| TestClient::new(StaticFiles::new(dir.path()).max_cached_file(1024));
    let (one, two) = (client(&one), client(&two));
    for path in ["/small.txt", "/large.bin"] {
        let a = get(&one, path, &[]).await;
        let b = get(&two, path, &[]).await;
        let etag = a.header("etag").unwrap();
        assert_eq!(Some(etag), b.header("etag"), "{path}");
        assert!(!etag.starts_with("W/"), "{path}: {etag}");
        let res = get(&two, path, &[("if-none-match", etag)]).await;
        assert_eq!(res.status(), 304, "{path}");
    }
    let small = get(&one, "/small.txt", &[]).await;
    let other = get(&two, "/large.bin", &[]).await;
    assert_ne!(small.header("etag"), other.header("etag"));
}

/// Issue 13 item 15: a large file with a whole-second modification time
/// (tar, `rsync -t`, `touch -d`, container layers) that has settled gets a
/// strong tag, so `If-Range` resumes a download and `If-Match` holds.
#[tokio::test]
async fn a_settled_whole_second_mtime_gives_a_strong_etag() {
    let dir = Dir::new();
    dir.write("big.bin", pattern(4096));
    let whole = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_mtime(&dir, "big.bin", whole);
    let client = TestClient::new(StaticFiles::new(dir.path()).max_cached_file(1024));
    let first = get(&client, "/big.bin", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    assert!(!etag.starts_with("W/"), "{etag}");
    let res = get(
        &client,
        "/big.bin",
        &[("range", "bytes=4000-"), ("if-range", &etag)],
    )
    .await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.header("content-range"), Some("bytes 4000-4095/4096"));
    assert_eq!(res.bytes().as_ref(), &pattern(4096)[4000..]);
    assert_eq!(
        get(&client, "/big.bin", &[("if-match", &etag)])
            .await
            .status(),
        200
    );
}

fn set_mtime(dir: &Dir, rel: &str, mtime: std::time::SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(dir.path().join(rel))
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[tokio::test]
async fn single_ranges() {
    let dir = site();
    settled(&dir, "data.bin");
    let client = files(&dir);
    let data = pattern(1000);
    for (range, from, to) in [
        ("bytes=0-9", 0, 9),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=500-5000", 500, 999),
        ("BYTES=1-1", 1, 1),
    ] {
        let res = get(&client, "/data.bin", &[("range", range)]).await;
        assert_eq!(res.status(), 206, "{range}");
        assert_eq!(
            res.header("content-range"),
            Some(format!("bytes {from}-{to}/1000").as_str()),
            "{range}"
        );
        assert_eq!(res.bytes().as_ref(), &data[from..=to], "{range}");
        assert_eq!(res.header("content-type"), Some("application/octet-stream"));
    }
    let res = get(&client, "/data.bin", &[("range", "bytes=1000-")]).await;
    assert_eq!(res.status(), 416);
    assert_eq!(res.header("content-range"), Some("bytes */1000"));
    assert!(res.bytes().is_empty());
    for invalid in ["bytes=5-1", "bytes=abc", "items=0-1", "bytes=", "0-9"] {
        let res = get(&client, "/data.bin", &[("range", invalid)]).await;
        assert_eq!(res.status(), 200, "{invalid} is ignored");
        assert_eq!(res.bytes().len(), 1000);
    }
}

#[tokio::test]
async fn if_range_needs_a_strong_match() {
    let dir = site();
    settled(&dir, "data.bin");
    let client = files(&dir);
    let first = get(&client, "/data.bin", &[]).await;
    let etag = first.header("etag").unwrap().to_owned();
    let date = first.header("last-modified").unwrap().to_owned();
    let with = |if_range: &str| {
        [("range", "bytes=0-9"), ("if-range", if_range)].map(|(a, b)| (a, b.to_owned()))
    };
    for (if_range, status) in [
        (etag.clone(), 206),
        ("\"stale\"".to_owned(), 200),
        (format!("W/{etag}"), 200),
        (date.clone(), 206),
        ("Thu, 01 Jan 1970 00:00:00 GMT".to_owned(), 200),
    ] {
        let headers = with(&if_range);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (*a, b.as_str())).collect();
        let res = get(&client, "/data.bin", &headers).await;
        assert_eq!(res.status(), status, "If-Range: {if_range}");
    }
}

#[tokio::test]
async fn several_ranges_are_multipart_and_coalesced() {
    let dir = site();
    let client = files(&dir);
    let data = pattern(1000);
    let res = get(&client, "/data.bin", &[("range", "bytes=0-4, 100-104")]).await;
    assert_eq!(res.status(), 206);
    let ct = res.header("content-type").unwrap().to_owned();
    let boundary = ct
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(&ct);
    let body = res.bytes().clone();
    assert_eq!(
        res.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains(&format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-4/1000\r\n\r\n01234\r\n")), "{text}");
    assert!(
        text.contains("Content-Range: bytes 100-104/1000\r\n\r\n"),
        "{text}"
    );
    assert!(text.ends_with(&format!("--{boundary}--\r\n")), "{text}");
    let second = format!(
        "Content-Range: bytes 100-104/1000\r\n\r\n{}\r\n",
        String::from_utf8_lossy(&data[100..105])
    );
    assert!(text.contains(&second), "{text}");
    // Overlapping ranges are merged into one.
    let res = get(&client, "/data.bin", &[("range", "bytes=0-9, 5-19")]).await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.header("content-range"), Some("bytes 0-19/1000"));
    // Amplification: asking for more than the file is refused.
    let many = format!("bytes={}", ["0-999"; 3].join(","));
    assert_eq!(
        get(&client, "/data.bin", &[("range", &many)])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn precompressed_siblings_by_accept_encoding() {
    let dir = site();
    let client = files(&dir);
    let identity = get(&client, "/app.js", &[]).await;
    assert_eq!(identity.text(), "console.log('identity');");
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.header("vary"), Some("accept-encoding"));
    for (accept, body, coding) in [
        ("br", "BROTLI", Some("br")),
        ("gzip, deflate", "GZIP", Some("gzip")),
        ("zstd", "ZSTD", Some("zstd")),
        ("gzip, br, zstd", "BROTLI", Some("br")),
        ("br;q=0.5, gzip", "GZIP", Some("gzip")),
        (
            "br;q=0, gzip;q=0, zstd;q=0",
            "console.log('identity');",
            None,
        ),
        ("*", "BROTLI", Some("br")),
        ("identity", "console.log('identity');", None),
        ("deflate", "console.log('identity');", None),
    ] {
        let res = get(&client, "/app.js", &[("accept-encoding", accept)]).await;
        assert_eq!(res.status(), 200, "{accept}");
        assert_eq!(res.text(), body, "{accept}");
        assert_eq!(res.header("content-encoding"), coding, "{accept}");
        assert_eq!(res.header("vary"), Some("accept-encoding"), "{accept}");
        assert_eq!(
            res.header("content-type"),
            Some("text/javascript; charset=utf-8"),
            "{accept}"
        );
    }
    // Each variant has its own ETag; a 304 keeps Vary.
    let br = get(&client, "/app.js", &[("accept-encoding", "br")]).await;
    let br_tag = br.header("etag").unwrap().to_owned();
    assert_ne!(Some(br_tag.as_str()), identity.header("etag"));
    let res = get(
        &client,
        "/app.js",
        &[("accept-encoding", "br"), ("if-none-match", &br_tag)],
    )
    .await;
    assert_eq!(res.status(), 304);
    assert_eq!(res.header("vary"), Some("accept-encoding"));
    assert_eq!(
        get(&client, "/app.js", &[("if-none-match", &br_tag)])
            .await
            .status(),
        200,
        "identity has another tag"
    );
    // Ranges apply to the representation served.
    let res = get(
        &client,
        "/app.js",
        &[("accept-encoding", "br"), ("range", "bytes=0-1")],
    )
    .await;
    assert_eq!(res.status(), 206);
    assert_eq!(res.text(), "BR");
    assert_eq!(res.header("content-range"), Some("bytes 0-1/6"));
    // The siblings are files of their own too, and off when configured.
    let client = TestClient::new(StaticFiles::new(dir.path()).precompressed(false));
    let res = get(&client, "/app.js", &[("accept-encoding", "br")]).await;
    assert_eq!(
        (res.header("content-encoding"), res.header("vary")),
        (None, None)
    );
}

#[tokio::test]
async fn large_files_are_streamed_with_ranges() {
    let dir = Dir::new();
    let data = pattern(3 * 1024 * 1024 + 17);
    dir.write("big.bin", &data);
    settled(&dir, "big.bin");
    let client = TestClient::new(StaticFiles::new(dir.path()).block_size(64 * 1024));
    let res = get(&client, "/big.bin", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.header("content-length"),
        Some(data.len().to_string().as_str())
    );
    assert!(res.bytes().as_ref() == data.as_slice());
    let res = get(&client, "/big.bin", &[("range", "bytes=1000000-1999999")]).await;
    assert_eq!(res.status(), 206);
    assert!(res.bytes().as_ref() == &data[1_000_000..2_000_000]);
    let res = get(&client, "/big.bin", &[("range", "bytes=0-1,-2")]).await;
    assert_eq!(res.status(), 206);
    let text = String::from_utf8_lossy(res.bytes()).into_owned();
    assert!(
        text.contains("Content-Range: bytes 0-1/3145745\r\n\r\n01\r\n"),
        "{text}"
    );
    let tail = String::from_utf8_lossy(&data[data.len() - 2..]).into_owned();
    assert!(
        text.contains(&format!(
            "Content-Range: bytes 3145743-3145744/3145745\r\n\r\n{tail}\r\n"
        )),
        "{text}"
    );
    assert_eq!(
        res.header("content-length"),
        Some(res.bytes().len().to_string().as_str())
    );
}

#[tokio::test]
async fn a_changed_file_is_served_fresh_after_revalidate_after() {
    let dir = site();
    let client =
        TestClient::new(StaticFiles::new(dir.path()).revalidate_after(Duration::from_millis(200)));
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.text(), "guide");
    // Same size and a new inode or mtime: still noticed.
    std::fs::write(dir.path().join("docs/guide.txt.new"), "GUIDE").unwrap();
    std::fs::rename(
        dir.path().join("docs/guide.txt.new"),
        dir.path().join("docs/guide.txt"),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.text(), "GUIDE");
    // Rewritten in place, longer.
    std::fs::write(dir.path().join("docs/guide.txt"), "a longer guide").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&client, "/docs/guide.txt", &[]).await.text(),
        "a longer guide"
    );
    // Deleted: no longer served.
    std::fs::remove_file(dir.path().join("docs/guide.txt")).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.status(), 404);
    // The index of a directory too.
    assert_eq!(get(&client, "/docs/", &[]).await.text(), "<h1>docs</h1>");
    std::fs::write(dir.path().join("docs/index.html"), "<h1>new docs</h1>").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get(&client, "/docs/", &[]).await.text(),
        "<h1>new docs</h1>"
    );
}

#[tokio::test]
async fn a_miss_is_remembered_until_revalidate_after() {
    let dir = site();
    let client = TestClient::new(
        fallback().with(StaticFiles::new(dir.path()).revalidate_after(Duration::from_millis(200))),
    );
    assert_eq!(
        get(&client, "/new.txt", &[]).await.text(),
        "app saw /new.txt"
    );
    dir.write("new.txt", "new");
    assert_eq!(
        get(&client, "/new.txt", &[]).await.text(),
        "app saw /new.txt",
        "remembered"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, "/new.txt", &[]).await.text(), "new");
    // A directory request for the same name is a different question.
    std::fs::create_dir(dir.path().join("later")).unwrap();
    assert_eq!(get(&client, "/later/", &[]).await.status(), 200, "fallback");
    dir.write("later/index.html", "later");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(get(&client, "/later/", &[]).await.text(), "later");
}

#[tokio::test]
async fn a_cached_file_is_not_looked_at_before_revalidate_after() {
    // The other side of the cache: within the period, memory answers.
    let dir = site();
    let client =
        TestClient::new(StaticFiles::new(dir.path()).revalidate_after(Duration::from_secs(3600)));
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.text(), "guide");
    std::fs::write(dir.path().join("docs/guide.txt"), "GUIDE").unwrap();
    assert_eq!(get(&client, "/docs/guide.txt", &[]).await.text(), "guide");
}

#[tokio::test]
async fn a_large_file_changed_after_it_was_remembered_is_reread() {
    let dir = Dir::new();
    dir.write("big.bin", pattern(4096));
    let client = TestClient::new(
        StaticFiles::new(dir.path())
            .max_cached_file(1024)
            .revalidate_after(Duration::from_secs(3600)),
    );
    assert_eq!(get(&client, "/big.bin", &[]).await.bytes().len(), 4096);
    // Same path, new content and size: opening it notices, whatever the cache says.
    dir.write("big.bin", pattern(5000));
    let res = get(&client, "/big.bin", &[]).await;
    assert_eq!(res.header("content-length"), Some("5000"));
    assert_eq!(res.bytes().as_ref(), pattern(5000).as_slice());
}

#[tokio::test]
async fn startup_fails_when_the_root_is_not_a_directory() {
    use gateway_core::Application;
    let dir = site();
    let err = StaticFiles::new(dir.path().join("missing"))
        .startup()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    let err = StaticFiles::new(dir.path().join("app.js"))
        .startup()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    StaticFiles::new(dir.path()).startup().await.unwrap();
    let app = fallback().with(StaticFiles::new(dir.path().join("missing")));
    assert!(app.startup().await.is_err());
}

#[tokio::test]
async fn hostile_paths_get_400_or_404() {
    let dir = site();
    let client = files(&dir);
    for path in [
        "/../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/docs%2fguide.txt",
        "/docs/..%2f..%2f",
        "/a%00b",
    ] {
        let status = get(&client, path, &[]).await.status();
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_root_is_looked_at_when_serving_starts_not_when_configured() {
    let dir = Dir::new();
    let link = dir.path().join("current");
    // Configured before the root exists: nothing is read from the disk yet.
    let files = StaticFiles::new(&link);
    dir.write("release-1/a.txt", "one");
    std::os::unix::fs::symlink(dir.path().join("release-1"), &link).unwrap();
    // The root, a symlink, is made canonical when first needed, so files
    // under it are inside it.
    let client = TestClient::new(files.clone());
    assert_eq!(get(&client, "/a.txt", &[]).await.text(), "one");
    gateway_core::Application::startup(&files).await.unwrap();
    assert_eq!(files.root(), link.as_path(), "the root as given");
}

/// A minimal executor that is not tokio's: polls on this thread, parks
/// until woken. What an adapter on another runtime amounts to.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[test]
fn outside_a_tokio_runtime_it_fails_with_a_clear_error_not_a_panic() {
    use gateway_core::{Application, Body};
    let dir = site();
    let files = StaticFiles::new(dir.path());
    let err = block_on(files.startup()).unwrap_err();
    assert!(err.to_string().contains("needs a tokio runtime"), "{err}");
    let app = fallback().with(StaticFiles::new(dir.path()).prefix("/static"));
    let err = block_on(app.startup()).unwrap_err();
    assert!(err.to_string().contains("needs a tokio runtime"), "{err}");
    // A request that has to look at the disk is an error (a 500 from the
    // driver), not a panic in the adapter.
    let env = |path| Environ::from_request(http::Request::get(path).body(Body::empty()).unwrap());
    let err = block_on(files.call(env("/docs/guide.txt"))).unwrap_err();
    assert!(err.to_string().contains("needs a tokio runtime"), "{err}");
    let err = block_on(app.call(env("/static/app.js"))).unwrap_err();
    assert!(err.to_string().contains("needs a tokio runtime"), "{err}");
    // What needs no disk still works.
    let res = block_on(app.call(env("/elsewhere"))).unwrap();
    assert_eq!(res.status(), 200);
}
