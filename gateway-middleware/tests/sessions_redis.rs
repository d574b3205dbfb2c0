//! `RedisStore` against a real `redis-server` the tests start on loopback
//! (see `redis_server/mod.rs`): the conformance kit, the record layout and
//! TTL, time bounds during an outage, reconnection after a restart, and
//! two stores sharing one Redis.

mod redis_server;

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_middleware::sessions::{
    Created, Record, RedisStore, Save, Saved, SessionId, SessionStore, conformance,
};
use redis_server::RedisServer;
use serde_json::json;

/// Bounds every wait in these tests: a hang fails the test instead.
async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after 10s: {what}"),
    }
}

async fn store(server: &RedisServer) -> RedisStore {
    within("connect", RedisStore::connect(&server.url()))
        .await
        .expect("connect to the test redis-server")
}

fn ms(t: SystemTime) -> u64 {
    u64::try_from(t.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn record(secs: u64) -> Record {
    let now = UNIX_EPOCH + Duration::from_millis(ms(SystemTime::now()));
    let mut r = Record::new(now, now + Duration::from_secs(secs));
    r.data.insert("user".into(), json!("ada"));
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_kit() {
    let Some(server) = RedisServer::start("RedisStore conformance") else {
        return;
    };
    let store = store(&server).await;
    within("the conformance kit", conformance::check_all(&store)).await;
    // A second store with another prefix on the same database conforms
    // too, concurrently with a rerun of the first.
    let client = redis::Client::open(server.url()).unwrap();
    let other = within(
        "connect",
        RedisStore::builder(client).key_prefix("other:").connect(),
    )
    .await
    .unwrap();
    within("two kits at once", async {
        tokio::join!(
            conformance::check_all(&store),
            conformance::check_all(&other)
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_layout_ttl_and_prefix() {
    let Some(server) = RedisServer::start("RedisStore record layout") else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let store = RedisStore::builder(client)
        .key_prefix("app:s:")
        .connect()
        .await
        .unwrap();
    let id = SessionId::generate();
    let r = record(3600);
    assert_eq!(store.create(&id, &r).await.unwrap(), Created::Inserted);
    let key = format!("app:s:{id}");
    // TTL kept by Redis: the key expires exactly when the record does.
    assert_eq!(
        server.command(&["PEXPIRETIME", &key]),
        ms(r.expires).to_string()
    );
    assert_eq!(server.command(&["HGET", &key, "d:user"]), "\"ada\"");
    assert_eq!(
        server.command(&["HGET", &key, "_e"]),
        ms(r.expires).to_string()
    );
    assert_eq!(
        server.command(&["HGET", &key, "_c"]),
        ms(r.created).to_string()
    );
    assert_eq!(server.command(&["HGET", &key, "_v"]), "0");
    assert_eq!(server.command(&["EXISTS", &format!("session:{id}")]), "0");

    // A save moves the TTL with the expiry, and keeps a removed key's
    // version (the tombstone the merge needs).
    let later = r.expires + Duration::from_secs(600);
    let save = Save::new(0, later).remove("user").set("cart", json!([1]));
    assert_eq!(
        store.save(&id, &save).await.unwrap(),
        Saved::Applied {
            version: 1,
            conflicts: vec![]
        }
    );
    assert_eq!(
        server.command(&["PEXPIRETIME", &key]),
        ms(later).to_string()
    );
    assert_eq!(server.command(&["HGET", &key, "d:user"]), "(nil)");
    assert_eq!(server.command(&["HGET", &key, "v:user"]), "1");

    // A record whose `_e` has passed never loads, even if Redis still
    // holds it (a TTL moved by hand, or clocks apart).
    server.command(&["HSET", &key, "_e", &ms(SystemTime::now()).to_string()]);
    assert_eq!(store.load(&id).await.unwrap(), None);
    let gone = store.save(&id, &Save::new(1, later)).await.unwrap();
    assert_eq!(gone, Saved::Gone);

    // Something else under the key: an error naming no value, not a panic
    // and not a fresh session.
    let odd = SessionId::generate();
    let odd_key = format!("app:s:{odd}");
    server.command(&["SET", &odd_key, "secret-value"]);
    let e = store.load(&odd).await.unwrap_err().to_string();
    assert!(!e.contains("secret-value"), "{e}");
    server.command(&["DEL", &odd_key]);
    server.command(&[
        "HSET",
        &odd_key,
        "_v",
        "1",
        "_c",
        "1",
        "_e",
        "99999999999999",
    ]);
    server.command(&["HSET", &odd_key, "d:k", "secret-not-json"]);
    let e = store.load(&odd).await.unwrap_err().to_string();
    assert!(e.contains("malformed") && !e.contains("secret"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_redis_times_out_and_keeps_data() {
    let Some(mut server) = RedisServer::start("RedisStore outage (paused)") else {
        return;
    };
    let client = redis::Client::open(server.url()).unwrap();
    let limit = Duration::from_millis(300);
    let store = RedisStore::builder(client)
        .timeout(limit)
        .connect()
        .await
        .unwrap();
    let id = SessionId::generate();
    let r = record(3600);
    store.create(&id, &r).await.unwrap();

    server.pause();
    // Every call returns a timeout error (the bound is `within`'s 10 s:
    // a hang fails the test; no timing is asserted).
    let e = within("load while paused", store.load(&id))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let fresh = SessionId::generate();
    let e = within("create while paused", store.create(&fresh, &r))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let save = Save::new(0, r.expires).set("n", json!(1));
    let e = within("save while paused", store.save(&id, &save))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    let e = within("delete while paused", store.delete(&fresh))
        .await
        .unwrap_err();
    assert!(e.is_timeout(), "{e}");
    server.resume();

    // Back: the store answers again (a reconnection may be under way: a
    // few attempts are allowed) and the record saved before is there.
    let mut loaded = None;
    for _ in 0..50 {
        if let Ok(Some(r)) = within("load after resume", store.load(&id)).await {
            loaded = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let loaded = loaded.expect("the record loads after Redis is back");
    assert_eq!(loaded.data["user"], json!("ada"));
    let v = loaded.version;
    assert!(matches!(
        store
            .save(&id, &Save::new(v, r.expires).set("after", json!(true)))
            .await,
        Ok(Saved::Applied { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_redis_fails_fast_then_reconnects() {
    let Some(mut server) = RedisServer::start("RedisStore outage (stopped)") else {
        return;
    };
    let store = store(&server).await;
    let id = SessionId::generate();
    let r = record(3600);
    store.create(&id, &r).await.unwrap();

    server.stop();
    for _ in 0..3 {
        let result = within("load while stopped", store.load(&id)).await;
        assert!(result.is_err(), "{result:?}");
    }
    // Nothing listens: connecting fails too, within its bound.
    let connect = within("connect while stopped", RedisStore::connect(&server.url())).await;
    assert!(connect.is_err());

    server.restart();
    let mut loaded = None;
    for _ in 0..50 {
        if let Ok(Some(r)) = within("load after restart", store.load(&id)).await {
            loaded = Some(r);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let loaded = loaded.expect("the store reconnects and the record survived the restart");
    assert_eq!(loaded.data["user"], json!("ada"));
    // Scripts are loaded again after the restart (EVALSHA -> NOSCRIPT).
    let save = Save::new(loaded.version, r.expires).set("n", json!(2));
    assert!(matches!(
        store.save(&id, &save).await,
        Ok(Saved::Applied { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_share_sessions_without_lost_updates() {
    let Some(server) = RedisServer::start("RedisStore shared by two instances") else {
        return;
    };
    let (a, b) = (store(&server).await, store(&server).await);
    let id = SessionId::generate();
    let r = record(3600);
    a.create(&id, &r).await.unwrap();
    // Forty overlapping saves, alternating stores, each from the same
    // base and each changing its own key: all kept.
    let saves: Vec<Save> = (0..40)
        .map(|i| Save::new(0, r.expires).set(format!("k{i}"), json!(i)))
        .collect();
    let calls = saves.iter().enumerate().map(|(i, save)| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move { store.save(&id, save).await }
    });
    let results = within("forty saves", join_all(calls.collect())).await;
    for result in results {
        assert!(
            matches!(result, Ok(Saved::Applied { ref conflicts, .. }) if conflicts.is_empty()),
            "{result:?}"
        );
    }
    let loaded = b.load(&id).await.unwrap().unwrap();
    assert_eq!(loaded.version, 40);
    assert_eq!(loaded.data.len(), 41);
    // Logout on one wins over a late save on the other.
    a.delete(&id).await.unwrap();
    let late = Save::new(40, r.expires).set("user", json!("mallory"));
    assert_eq!(b.save(&id, &late).await.unwrap(), Saved::Gone);
    assert_eq!(server.command(&["EXISTS", &format!("session:{id}")]), "0");
}

/// Polls every future to completion concurrently on this task.
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn debug_shows_no_password_and_lazy_connect_fails_closed() {
    let client = redis::Client::open("redis://user:hunter2@127.0.0.1:1/3").unwrap();
    let store = RedisStore::builder(client)
        .timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(200))
        .connect_lazy();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(
        debug.contains("127.0.0.1:1") && debug.contains("db: 3"),
        "{debug}"
    );
    // Nothing listens on port 1: a bounded error, never a hang or panic.
    let e = within("load without Redis", store.load(&SessionId::generate()))
        .await
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
    let client = redis::Client::open("redis://:hunter2@127.0.0.1:1/").unwrap();
    let debug = format!("{:?}", RedisStore::builder(client));
    assert!(!debug.contains("hunter2"), "{debug}");
}
