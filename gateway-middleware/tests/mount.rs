//! `Mount` through `TestClient`: segment boundaries, longest prefix,
//! empty `path_info`, trailing slashes, nesting, `%2F`, lifecycle.

mod common;

use std::sync::{Arc, Mutex};

use common::{echo, field};
use gateway_core::test_client::TestClient;
use gateway_core::{
    Application, ApplicationExt, Environ, Error, Response, RootPath, from_fn, start,
};
use gateway_middleware::{Mount, MountError};
use http::Method;

fn site() -> Mount {
    Mount::new()
        .mount("/app", echo("app"))
        .mount("/api", echo("api"))
        .mount("/api/v1/", echo("v1"))
        .mount("/caf%C3%A9", echo("cafe"))
        .mount("/a%20b", echo("space"))
        .fallback(echo("fallback"))
}

#[tokio::test]
async fn boundaries_and_longest_prefix() {
    let client = TestClient::new(site());
    for (target, app, script, info) in [
        ("/app", "app", "/app", ""),
        ("/app/", "app", "/app", "/"),
        ("/app/x", "app", "/app", "/x"),
        ("/app/x/", "app", "/app", "/x/"),
        ("/app//x", "app", "/app", "//x"),
        ("/app?q=1", "app", "/app", ""),
        ("/apple", "fallback", "", "/apple"),
        ("/ap", "fallback", "", "/ap"),
        ("/APP", "fallback", "", "/APP"),
        ("/", "fallback", "", "/"),
        ("/x/app", "fallback", "", "/x/app"),
        ("/api", "api", "/api", ""),
        ("/api/v1/users", "v1", "/api/v1", "/users"),
        ("/api/v1x", "api", "/api", "/v1x"),
        ("/api/v2", "api", "/api", "/v2"),
        // Raw bytes: an encoded slash is not a boundary, an encoded letter
        // is not the letter, and hex case matters.
        ("/app%2Fx", "fallback", "", "/app%2Fx"),
        ("/app/a%2Fb", "app", "/app", "/a%2Fb"),
        ("/%61pp/x", "fallback", "", "/%61pp/x"),
        ("/caf%C3%A9/menu", "cafe", "/caf%C3%A9", "/menu"),
        ("/caf%c3%a9/menu", "fallback", "", "/caf%c3%a9/menu"),
        ("/a%20b/c", "space", "/a%20b", "/c"),
        // No `.`/`..` normalisation: the mounted application gets them.
        ("/app/../api", "app", "/app", "/../api"),
        ("/./app", "fallback", "", "/./app"),
    ] {
        let res = client.get(target).send().await;
        assert_eq!(res.status(), 200, "{target}");
        assert_eq!(field(&res, "app"), app, "{target}");
        assert_eq!(field(&res, "script"), script, "{target}");
        assert_eq!(field(&res, "info"), info, "{target}");
        // script_name + path_info is still the path the client sent.
        assert_eq!(
            field(&res, "url"),
            format!("http://localhost{target}"),
            "{target}"
        );
    }
}

/// `/api/v1/` is mounted with its slash, so `/api/v1` is no longer a
/// row of the table above: a GET is redirected, other methods still
/// reach the application with an empty `path_info`.
#[tokio::test]
async fn exactly_a_prefix_mounted_with_its_slash() {
    let client = TestClient::new(site());
    let res = client.get("/api/v1").send().await;
    assert_eq!(res.status(), 301);
    assert_eq!(res.header("location"), Some("/api/v1/"));
    let res = client.request(Method::POST, "/api/v1").send().await;
    assert_eq!(res.status(), 200);
    assert_eq!(field(&res, "app"), "v1");
    assert_eq!(field(&res, "script"), "/api/v1");
    assert_eq!(field(&res, "info"), "");
}

/// Issue 13 item 14: a root mounted as `/app/` gets `/app` redirected to
/// it, as StaticFiles does for a directory: GET and HEAD, the query kept,
/// under an outer mount and a root path.
#[tokio::test]
async fn a_root_mounted_with_its_slash_redirects_the_bare_prefix() {
    let inner = Mount::new()
        .mount("/b/", echo("inner-b"))
        .fallback(echo("inner"));
    let app = Mount::new()
        .mount("/app/", echo("app"))
        .mount("/a", inner)
        .with(from_fn(|mut env: Environ, next| async move {
            env.set_root_path(Some(RootPath::from_static("/outer")));
            next.run(env).await
        }));
    let client = TestClient::new(app);
    for (method, target, location) in [
        (Method::GET, "/app", "/outer/app/"),
        (Method::GET, "/app?x=1&y=%20", "/outer/app/?x=1&y=%20"),
        (Method::HEAD, "/app", "/outer/app/"),
        (Method::GET, "/a/b?q", "/outer/a/b/?q"),
    ] {
        let res = client.request(method.clone(), target).send().await;
        assert_eq!(res.status(), 301, "{method} {target}");
        assert_eq!(res.header("location"), Some(location), "{method} {target}");
        assert!(res.bytes().is_empty());
    }
    // Below the root, and other methods on the bare prefix, reach the
    // application.
    for (method, target, app, info) in [
        (Method::GET, "/app/", "app", "/"),
        (Method::GET, "/app/x", "app", "/x"),
        (Method::POST, "/app", "app", ""),
        (Method::PUT, "/a/b", "inner-b", ""),
        (Method::GET, "/a/b/", "inner-b", "/"),
        (Method::GET, "/a", "inner", ""),
    ] {
        let res = client.request(method.clone(), target).send().await;
        assert_eq!(res.status(), 200, "{method} {target}");
        assert_eq!(field(&res, "app"), app, "{method} {target}");
        assert_eq!(field(&res, "info"), info, "{method} {target}");
    }
}

#[tokio::test]
async fn options_star_goes_to_the_fallback() {
    let client = TestClient::new(site());
    let res = client.request(Method::OPTIONS, "*").send().await;
    assert_eq!(field(&res, "app"), "fallback");
    assert_eq!(field(&res, "info"), "*");
}

#[tokio::test]
async fn default_fallback_is_404() {
    let client = TestClient::new(Mount::new().mount("/app", echo("app")));
    let res = client.get("/other").send().await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.text(), "Not Found");
    assert_eq!(
        res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(client.get("/app/x").send().await.status(), 200);
}

#[tokio::test]
async fn nested_mounts() {
    let inner = Mount::new()
        .mount("/b", echo("inner-b"))
        .fallback(echo("inner-fallback"));
    let client = TestClient::new(Mount::new().mount("/a", inner).fallback(echo("outer")));
    for (target, app, script, info) in [
        ("/a/b/c", "inner-b", "/a/b", "/c"),
        ("/a/b", "inner-b", "/a/b", ""),
        ("/a/bc", "inner-fallback", "/a", "/bc"),
        ("/a", "inner-fallback", "/a", ""),
        ("/b", "outer", "", "/b"),
    ] {
        let res = client.get(target).send().await;
        assert_eq!(field(&res, "app"), app, "{target}");
        assert_eq!(field(&res, "script"), script, "{target}");
        assert_eq!(field(&res, "info"), info, "{target}");
        assert_eq!(field(&res, "url"), format!("http://localhost{target}"));
    }
}

/// Redirects built from `script_name` stay under the mount, and under a
/// root path in front of it.
#[tokio::test]
async fn redirects_under_root_path_and_mount() {
    let app = Mount::new().mount("/app", echo("app")).with(from_fn(
        |mut env: Environ, next| async move {
            env.set_root_path(Some(RootPath::from_static("/outer")));
            next.run(env).await
        },
    ));
    let client = TestClient::new(app).with_base_url("https://example.com");
    let res = client.get("/app/go").send().await;
    assert_eq!(res.status(), 303);
    assert_eq!(field(&res, "script"), "/outer/app");
    assert_eq!(
        res.header("location"),
        Some("https://example.com/outer/app/done")
    );
}

#[test]
fn invalid_prefixes() {
    let app = || echo("x");
    for bad in [
        "app", "/a//b", "/a/../b", "/a/./b", "/..", "/a%2Fb", "/a%2fb", "/a b", "/a?b", "/a#b",
        "/a%zz", "/é", "/a\\b",
    ] {
        match Mount::new().try_mount(bad, app()) {
            Err(MountError::InvalidPrefix { prefix, .. }) => assert_eq!(prefix, bad),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    for root in ["", "/", "//"] {
        assert!(
            matches!(
                Mount::new().try_mount(root, app()),
                Err(MountError::Root(_))
            ),
            "{root:?}"
        );
    }
    let mount = Mount::new().mount("/a", app());
    let err = mount.try_mount("/a/", app()).unwrap_err();
    assert_eq!(err.to_string(), "\"/a\" is already mounted");
    let err = Mount::new().try_mount("/a//b", app()).unwrap_err();
    assert!(err.to_string().contains("\"/a//b\""), "{err}");
}

#[test]
#[should_panic(expected = "invalid mount prefix \"/a/../b\"")]
fn mount_panics_on_an_invalid_prefix() {
    let _ = Mount::new().mount("/a/../b", echo("x"));
}

#[test]
fn prefixes_longest_first() {
    let prefixes: Vec<_> = site().prefixes().map(str::to_owned).collect();
    assert_eq!(
        prefixes,
        ["/caf%C3%A9", "/api/v1", "/a%20b", "/app", "/api"]
    );
}

/// An application that records its lifecycle and can fail `startup`.
struct Recorder {
    name: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    fail: bool,
}

impl Application for Recorder {
    async fn call(&self, _env: Environ) -> Result<Response, Error> {
        start(200, [("content-type", "text/plain")]).body(self.name)
    }

    async fn startup(&self) -> Result<(), Error> {
        self.log
            .lock()
            .unwrap()
            .push(format!("start {}", self.name));
        if self.fail {
            return Err(Error::from(std::io::Error::other("no database")));
        }
        Ok(())
    }

    async fn shutdown(&self) {
        self.log.lock().unwrap().push(format!("stop {}", self.name));
    }
}

fn recorded(fail: &str) -> (Mount, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let rec = |name| Recorder {
        name,
        log: log.clone(),
        fail: name == fail,
    };
    let mount = Mount::new()
        .mount("/a", rec("a"))
        .mount("/bb", rec("bb"))
        .fallback(rec("fallback"));
    (mount, log)
}

#[tokio::test]
async fn startup_and_shutdown_reach_every_app() {
    let (mount, log) = recorded("");
    mount.startup().await.unwrap();
    mount.shutdown().await;
    assert_eq!(
        *log.lock().unwrap(),
        [
            "start bb",
            "start a",
            "start fallback",
            "stop fallback",
            "stop a",
            "stop bb"
        ]
    );
    // Heterogeneous applications answer through one Mount.
    let client = TestClient::new(mount);
    assert_eq!(client.get("/bb/x").send().await.text(), "bb");
    assert_eq!(client.get("/zz").send().await.text(), "fallback");
}

#[tokio::test]
async fn failed_startup_stops_those_started() {
    let (mount, log) = recorded("a");
    let err = mount.startup().await.unwrap_err();
    assert!(err.to_string().contains("no database"), "{err}");
    assert_eq!(*log.lock().unwrap(), ["start bb", "start a", "stop bb"]);

    let (mount, log) = recorded("fallback");
    mount.startup().await.unwrap_err();
    assert_eq!(
        *log.lock().unwrap(),
        ["start bb", "start a", "start fallback", "stop a", "stop bb"]
    );
}
