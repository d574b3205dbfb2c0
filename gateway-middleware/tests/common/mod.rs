//! Fixtures shared by the middleware table tests.

#![allow(dead_code, unreachable_pub)]

use gateway_core::test_client::TestResponse;
use gateway_core::{Addr, Application, ConnInfo, Environ, fn_app, start};
use gateway_middleware::ProxyOriginal;

/// An application that reports what it sees, one `key=value` per line,
/// and for a `path_info` ending in `/go` answers 303 with a `Location`
/// built from `host_url + script_name`.
pub fn echo(name: &'static str) -> impl Application {
    fn_app(move |env: Environ| async move {
        let original = env.extensions().get::<ProxyOriginal>();
        let body = format!(
            "app={name}\npeer={}\nscheme={}\nhost={}\nscript={}\ninfo={}\nurl={}\norig_peer={}\norig_scheme={}\norig_host={}\norig_root={}\n",
            env.conn().peer(),
            env.scheme(),
            env.host().unwrap_or("-"),
            env.script_name(),
            env.path_info(),
            env.url(),
            original.map_or("-".into(), |o| o.peer().to_string()),
            original.map_or("-", |o| o.scheme().as_str()),
            original.and_then(|o| o.host()).unwrap_or("-"),
            original
                .and_then(|o| o.root_path())
                .map_or("-", |r| r.as_str()),
        );
        if env.path_info().ends_with("/go") {
            let location = format!("{}{}/done", env.host_url(), env.script_name());
            start(
                303,
                [
                    ("content-type", "text/plain"),
                    ("location", location.as_str()),
                ],
            )
            .body(body)
        } else {
            start(200, [("content-type", "text/plain")]).body(body)
        }
    })
}

/// One `key=` line of an [`echo`] response.
pub fn field(res: &TestResponse, key: &str) -> String {
    let text = res.text();
    let prefix = format!("{key}=");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
}

/// Connection info with a TCP peer.
pub fn tcp_peer(addr: &str) -> ConnInfo {
    ConnInfo::new(
        Addr::Tcp(addr.parse().expect("a socket address")),
        Addr::None,
    )
}

/// Connection info with a Unix socket peer.
pub fn unix_peer() -> ConnInfo {
    ConnInfo::new(Addr::Unix(None), Addr::None)
}
