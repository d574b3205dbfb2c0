use http::{HeaderMap, Method, Version};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::*;
use crate::driver;
use crate::{fn_app, start};

fn upgrade_request(protocol: &str) -> Environ {
    let req = http::Request::get("/")
        .header("connection", "upgrade")
        .header("upgrade", protocol)
        .body(Body::empty())
        .unwrap();
    Environ::from_request(req)
}

fn echo_app() -> impl crate::Application {
    fn_app(|mut env: Environ| async move {
        let Some(upgrade) = env.upgrade() else {
            return start(426, [("upgrade", "echo")]).empty();
        };
        Ok(
            upgrade.switch(HeaderMap::new(), |mut io: Upgraded| async move {
                let (mut r, mut w) = tokio::io::split(&mut io);
                let _ = tokio::io::copy(&mut r, &mut w).await;
            }),
        )
    })
}

#[tokio::test]
async fn an_echo_switches_and_runs_after_the_commit() {
    let (mut client, server) = tokio::io::duplex(64);
    let mut env = upgrade_request("echo");
    env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    let Ok(mut res) = driver::commit(&echo_app(), env).await;
    assert_eq!(res.status(), 101);
    assert_eq!(res.headers()["connection"], "upgrade");
    let switch = take_switch(&mut res).unwrap();
    assert!(take_switch(&mut res).is_none(), "taken once");
    let talk = async {
        client.write_all(b"abc").await.unwrap();
        let mut buf = [0; 3];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"abc");
        drop(client);
    };
    tokio::join!(switch, talk);
}

#[tokio::test]
async fn without_an_adapter_offer_the_app_answers_426() {
    let Ok(mut res) = driver::commit(&echo_app(), upgrade_request("echo")).await;
    assert_eq!(res.status(), 426);
    assert!(take_switch(&mut res).is_none());
}

#[tokio::test]
async fn a_replaced_status_drops_the_handler() {
    let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = ran.clone();
    let app = fn_app(move |mut env: Environ| {
        let flag = flag.clone();
        async move {
            let upgrade = env.upgrade().unwrap();
            let mut res = upgrade.switch(HeaderMap::new(), move |_io| async move {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            // A middleware that knows nothing of upgrades turns it into 200.
            *res.status_mut() = StatusCode::OK;
            Ok(res)
        }
    });
    let mut env = upgrade_request("echo");
    let (_client, server) = tokio::io::duplex(64);
    env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    let Ok(mut res) = driver::commit(&app, env).await;
    assert_eq!(res.status(), 200);
    assert!(take_switch(&mut res).is_none());
    assert!(!ran.load(std::sync::atomic::Ordering::SeqCst));
}

#[tokio::test]
async fn a_101_to_http10_is_refused_and_drops_the_handler() {
    let req = http::Request::get("/")
        .version(Version::HTTP_10)
        .header("upgrade", "echo")
        .body(Body::empty())
        .unwrap();
    let mut env = Environ::from_request(req);
    // A careless adapter offered the upgrade anyway: the driver still
    // refuses the 101.
    let (_client, server) = tokio::io::duplex(64);
    env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    let Ok(mut res) = driver::commit(&echo_app(), env).await;
    assert_eq!(res.status(), 500);
    assert!(take_switch(&mut res).is_none());
}

#[tokio::test]
async fn extended_connect_answers_200_without_connection_fields() {
    let req = http::Request::builder()
        .method(Method::CONNECT)
        .version(Version::HTTP_2)
        .uri("https://example.com/chat")
        .body(Body::empty())
        .unwrap();
    let mut env = Environ::from_request(req);
    let (mut client, server) = tokio::io::duplex(64);
    env.set_upgrade(OnUpgrade::extended_connect("echo", async move {
        Ok(Upgraded::new(server))
    }));
    let app = fn_app(|mut env: Environ| async move {
        let upgrade = env.upgrade().unwrap();
        assert!(upgrade.is_extended_connect());
        assert_eq!(upgrade.protocol(), "echo");
        let mut headers = HeaderMap::new();
        headers.insert("connection", "upgrade".parse().unwrap());
        Ok(upgrade.switch(headers, |mut io: Upgraded| async move {
            io.write_all(b"hi").await.unwrap();
        }))
    });
    let Ok(mut res) = driver::commit(&app, env).await;
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("connection"));
    assert!(!res.headers().contains_key("upgrade"));
    take_switch(&mut res).unwrap().await;
    let mut got = Vec::new();
    client.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hi");
}

#[tokio::test]
async fn the_app_may_choose_one_protocol_of_a_list() {
    let mut env = upgrade_request("foo/2, echo");
    let (_client, server) = tokio::io::duplex(64);
    env.set_upgrade(OnUpgrade::http1(async move { Ok(Upgraded::new(server)) }));
    let upgrade = env.upgrade().unwrap();
    assert_eq!(upgrade.protocol(), "foo/2, echo");
    assert!(env.upgrade().is_none(), "taken once");
    let mut headers = HeaderMap::new();
    headers.insert(UPGRADE, "echo".parse().unwrap());
    let res = upgrade.switch(headers, |_io| async {});
    assert_eq!(res.headers()[UPGRADE], "echo");
    assert_eq!(res.headers().get_all(UPGRADE).iter().count(), 1);
}

#[tokio::test]
async fn shutdown_resolves_for_every_clone() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let (_client, server) = tokio::io::duplex(64);
    let upgraded = Upgraded::new(server).with_shutdown(Shutdown::new(async move {
        let _ = rx.await;
    }));
    let a = upgraded.shutdown();
    let b = upgraded.shutdown();
    assert_eq!(format!("{a:?}"), r#"Shutdown("pending")"#);
    tx.send(()).unwrap();
    a.await;
    b.await;
    assert_eq!(
        format!("{:?}", upgraded.shutdown()),
        r#"Shutdown("resolved")"#
    );
}
