//! The conformance kit for [`SessionStore`] implementations (feature
//! `session-conformance`): run it in your store's tests.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use gateway_middleware::sessions::{conformance, MemoryStore};
//!
//! // In a test: `#[tokio::test] async fn conforms() { ... }`.
//! conformance::check_all(&MemoryStore::new()).await;
//! # });
//! ```
//!
//! [`check_all`] runs every rule of the
//! [`SessionStore` contract](SessionStore#the-contract) in about two
//! seconds (one rule waits for a record to expire); each rule is also a
//! function of its own, to run or skip separately. A rule that does not
//! hold panics with a message naming it:
//!
//! ```text
//! SessionStore conformance, rule `first-writer-wins`: the second save of "k" from
//! the same base should report a conflict, got Applied { version: 2, conflicts: [] }
//! ```
//!
//! Every rule uses fresh random ids, so the kit may run against a store
//! (a shared Redis, say) that holds other sessions, and several runs may
//! share one store at once. It leaves expired or deleted records only.
//!
//! The kit needs a Tokio runtime with its timer (`#[tokio::test]` has
//! one). It uses times in whole milliseconds, the precision stores such as
//! [`RedisStore`](super::RedisStore) keep; a store keeping coarser times
//! does not conform.

use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::id::SessionId;
use super::store::{Created, Record, Save, Saved, SessionStore, StoreError};

macro_rules! ensure {
    ($rule:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!("SessionStore conformance, rule `{}`: {}", $rule, format_args!($($msg)+));
        }
    };
}

/// Runs every rule of the kit against `store`, one after another.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// gateway_middleware::sessions::conformance::check_all(
///     &gateway_middleware::sessions::MemoryStore::new(),
/// ).await;
/// # });
/// ```
///
/// # Panics
///
/// When a rule does not hold, or a call returns a [`StoreError`], with a
/// message naming the rule.
pub async fn check_all<S: SessionStore>(store: &S) {
    load_missing(store).await;
    create_round_trip(store).await;
    create_existing(store).await;
    delete_idempotent(store).await;
    versioned_save(store).await;
    merge_different_keys(store).await;
    first_writer_wins(store).await;
    concurrent_saves(store).await;
    clear(store).await;
    gone_after_delete(store).await;
    values_and_keys(store).await;
    expiry(store).await;
}

/// `load-missing`: loading an id never created returns `None`.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn load_missing<S: SessionStore>(store: &S) {
    const RULE: &str = "load-missing";
    let loaded = ok(RULE, store.load(&SessionId::generate()).await);
    ensure!(RULE, loaded.is_none(), "an unknown id loaded {loaded:?}");
}

/// `create-round-trip`: a created record loads back with the same data,
/// version, created and expires.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn create_round_trip<S: SessionStore>(store: &S) {
    const RULE: &str = "create-round-trip";
    let id = SessionId::generate();
    let mut record = record_with(&[("user", json!("ada")), ("n", json!(1))]);
    record.version = 7;
    record.created = now() - Duration::from_secs(30);
    created(RULE, store, &id, &record).await;
    let loaded = load_live(RULE, store, &id).await;
    ensure!(
        RULE,
        loaded == record,
        "created {record:?} but loaded {loaded:?}"
    );
}

/// `create-existing`: a create on an id that exists returns
/// [`Created::Exists`] and changes nothing.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn create_existing<S: SessionStore>(store: &S) {
    const RULE: &str = "create-existing";
    let id = SessionId::generate();
    let first = record_with(&[("owner", json!("first"))]);
    created(RULE, store, &id, &first).await;
    let mut second = record_with(&[("owner", json!("second")), ("extra", json!(true))]);
    second.version = 3;
    let outcome = ok(RULE, store.create(&id, &second).await);
    ensure!(
        RULE,
        outcome == Created::Exists,
        "a second create on the same id returned {outcome:?}"
    );
    let loaded = load_live(RULE, store, &id).await;
    ensure!(
        RULE,
        loaded == first,
        "a refused create changed the record: {loaded:?}"
    );
}

/// `delete-idempotent`: delete removes the record; deleting it again, or
/// an id that never existed, is `Ok(())`.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn delete_idempotent<S: SessionStore>(store: &S) {
    const RULE: &str = "delete-idempotent";
    let id = SessionId::generate();
    created(RULE, store, &id, &record_with(&[("a", json!(1))])).await;
    ok(RULE, store.delete(&id).await);
    let after = ok(RULE, store.load(&id).await);
    ensure!(RULE, after.is_none(), "a deleted record loaded: {after:?}");
    ok(RULE, store.delete(&id).await);
    ok(RULE, store.delete(&SessionId::generate()).await);
}

/// `versioned-save`: every applied save increments the version (and
/// [`Saved::Applied::version`] is the version the record then loads
/// with), sets the expiry it carries, and a save with no changes only
/// moves the expiry.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn versioned_save<S: SessionStore>(store: &S) {
    const RULE: &str = "versioned-save";
    let id = SessionId::generate();
    let record = record_with(&[("a", json!(1))]);
    created(RULE, store, &id, &record).await;
    let mut base = record.version;
    for (step, expires) in [(1u64, 120), (2, 180), (3, 240)] {
        let expires = now() + Duration::from_secs(expires);
        let save = Save::new(base, expires).set("a", json!(step));
        let (version, conflicts) = applied(RULE, store, &id, &save).await;
        ensure!(
            RULE,
            version > base && conflicts.is_empty(),
            "save {step} from version {base} returned version {version}, conflicts {conflicts:?}"
        );
        let loaded = load_live(RULE, store, &id).await;
        ensure!(
            RULE,
            loaded.version == version && loaded.data["a"] == json!(step),
            "after save {step} (version {version}) the record loads as {loaded:?}"
        );
        ensure!(
            RULE,
            loaded.expires == expires && loaded.created == record.created,
            "save {step} set expires {expires:?}, kept created {:?}; loaded {loaded:?}",
            record.created
        );
        base = version;
    }
    let expires = now() + Duration::from_secs(600);
    let (version, _) = applied(RULE, store, &id, &Save::new(base, expires)).await;
    let loaded = load_live(RULE, store, &id).await;
    ensure!(
        RULE,
        loaded.expires == expires && loaded.data == record_with(&[("a", json!(3))]).data,
        "a save without changes should only move the expiry; loaded {loaded:?}"
    );
    ensure!(
        RULE,
        version > base && loaded.version == version,
        "a save without changes returned version {version} from base {base}, loads as {}",
        loaded.version
    );
}

/// `merge-different-keys`: two saves from the same base version that
/// change different keys both keep their change, and keys neither
/// changed stay.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn merge_different_keys<S: SessionStore>(store: &S) {
    const RULE: &str = "merge-different-keys";
    let id = SessionId::generate();
    let record = record_with(&[("kept", json!("k")), ("a", json!(0)), ("b", json!(0))]);
    created(RULE, store, &id, &record).await;
    let base = record.version;
    let first = Save::new(base, record.expires)
        .set("a", json!(1))
        .set("new", json!("n"));
    let second = Save::new(base, record.expires)
        .set("b", json!(2))
        .remove("kept");
    for save in [&first, &second] {
        let (_, conflicts) = applied(RULE, store, &id, save).await;
        ensure!(
            RULE,
            conflicts.is_empty(),
            "saves of different keys from one base conflicted on {conflicts:?}"
        );
    }
    let data = load_live(RULE, store, &id).await.data;
    let want = record_with(&[("a", json!(1)), ("b", json!(2)), ("new", json!("n"))]).data;
    ensure!(
        RULE,
        data == want,
        "after two saves of different keys the data is {data:?}, not {want:?}"
    );
}

/// `first-writer-wins`: of two saves from the same base that change the
/// same key, the first applies; the second reports the key in
/// [`Saved::Applied::conflicts`], keeps the first's value, and still
/// applies its other changes. A removal is a change like a set.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn first_writer_wins<S: SessionStore>(store: &S) {
    const RULE: &str = "first-writer-wins";
    let id = SessionId::generate();
    let record = record_with(&[("k", json!("original")), ("gone", json!(1))]);
    created(RULE, store, &id, &record).await;
    let base = record.version;
    let first = Save::new(base, record.expires)
        .set("k", json!("first"))
        .remove("gone");
    let (_, conflicts) = applied(RULE, store, &id, &first).await;
    ensure!(
        RULE,
        conflicts.is_empty(),
        "the first save conflicted on {conflicts:?}"
    );
    let second = Save::new(base, record.expires)
        .set("k", json!("second"))
        .set("gone", json!("back"))
        .set("other", json!(2));
    let (_, mut conflicts) = applied(RULE, store, &id, &second).await;
    conflicts.sort();
    ensure!(
        RULE,
        conflicts == ["gone", "k"],
        "the second save of \"k\" and \"gone\" from the same base should report both as \
         conflicts, got {conflicts:?}"
    );
    let data = load_live(RULE, store, &id).await.data;
    let want = record_with(&[("k", json!("first")), ("other", json!(2))]).data;
    ensure!(
        RULE,
        data == want,
        "after a conflict the data is {data:?}, not {want:?}"
    );
    // A save from the newest version may change the key again.
    let version = load_live(RULE, store, &id).await.version;
    let third = Save::new(version, record.expires).set("k", json!("third"));
    let (_, conflicts) = applied(RULE, store, &id, &third).await;
    let data = load_live(RULE, store, &id).await.data;
    ensure!(
        RULE,
        conflicts.is_empty() && data["k"] == json!("third"),
        "a save from the current version was refused: conflicts {conflicts:?}, data {data:?}"
    );
}

/// `concurrent-saves`: saves from the same base changing different keys,
/// issued at the same time, are all applied with distinct versions.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn concurrent_saves<S: SessionStore>(store: &S) {
    const RULE: &str = "concurrent-saves";
    let id = SessionId::generate();
    let record = record_with(&[]);
    created(RULE, store, &id, &record).await;
    let save = |key: &str| Save::new(record.version, record.expires).set(key, json!(key));
    let (a, b, c, d) = (save("a"), save("b"), save("c"), save("d"));
    let results = tokio::join!(
        store.save(&id, &a),
        store.save(&id, &b),
        store.save(&id, &c),
        store.save(&id, &d),
    );
    let mut versions = Vec::new();
    for result in [results.0, results.1, results.2, results.3] {
        match ok(RULE, result) {
            Saved::Applied { version, conflicts } if conflicts.is_empty() => versions.push(version),
            other => unexpected(RULE, "a concurrent save", other),
        }
    }
    versions.sort_unstable();
    versions.dedup();
    ensure!(
        RULE,
        versions.len() == 4,
        "four concurrent saves returned versions {versions:?}"
    );
    let loaded = load_live(RULE, store, &id).await;
    ensure!(
        RULE,
        loaded.data.len() == 4 && Some(&loaded.version) == versions.last(),
        "after four concurrent saves the record is {loaded:?}"
    );
}

/// `clear`: a clearing save removes the keys that existed at its base
/// version and were not changed since, keeps keys another save added or
/// changed meanwhile, and may set keys again in the same save without a
/// conflict.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn clear<S: SessionStore>(store: &S) {
    const RULE: &str = "clear";
    let id = SessionId::generate();
    let record = record_with(&[("a", json!(1)), ("b", json!(2)), ("c", json!(3))]);
    created(RULE, store, &id, &record).await;
    let base = record.version;
    let meanwhile = Save::new(base, record.expires)
        .set("new", json!("added"))
        .set("c", json!("changed"));
    applied(RULE, store, &id, &meanwhile).await;
    let clearing = Save::new(base, record.expires)
        .clear()
        .set("a", json!("again"));
    let (_, conflicts) = applied(RULE, store, &id, &clearing).await;
    ensure!(
        RULE,
        conflicts.is_empty(),
        "setting a key the same save cleared conflicted on {conflicts:?}"
    );
    let data = load_live(RULE, store, &id).await.data;
    let want = record_with(&[
        ("a", json!("again")),
        ("c", json!("changed")),
        ("new", json!("added")),
    ])
    .data;
    ensure!(
        RULE,
        data == want,
        "after clear the data is {data:?}, not {want:?}"
    );
}

/// `gone-after-delete` (logout wins): a save to a deleted id returns
/// [`Saved::Gone`] and creates nothing.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn gone_after_delete<S: SessionStore>(store: &S) {
    const RULE: &str = "gone-after-delete";
    let id = SessionId::generate();
    let record = record_with(&[("user", json!("ada"))]);
    created(RULE, store, &id, &record).await;
    ok(RULE, store.delete(&id).await);
    for save in [
        Save::new(record.version, record.expires).set("user", json!("mallory")),
        Save::new(record.version, record.expires),
        Save::new(record.version, record.expires).clear(),
    ] {
        let outcome = ok(RULE, store.save(&id, &save).await);
        ensure!(
            RULE,
            outcome == Saved::Gone,
            "a save after delete returned {outcome:?}"
        );
    }
    let after = ok(RULE, store.load(&id).await);
    ensure!(
        RULE,
        after.is_none(),
        "a save after delete brought the record back: {after:?}"
    );
    let never = ok(
        RULE,
        store
            .save(&SessionId::generate(), &Save::new(0, record.expires))
            .await,
    );
    ensure!(
        RULE,
        never == Saved::Gone,
        "a save to an id never created returned {never:?}"
    );
}

/// `values-and-keys`: values of every JSON kind, and keys with odd
/// characters (empty, `:`, the store's own field names, Unicode), round
/// trip through create and save.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn values_and_keys<S: SessionStore>(store: &S) {
    const RULE: &str = "values-and-keys";
    let values = [
        json!(null),
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5),
        json!(-0.25),
        json!(""),
        json!("text with \"quotes\", \\ and \u{0} and ünïcødé 🦀"),
        json!([]),
        json!({}),
        json!([1, "two", [3.5], {"four": null}]),
        json!({"nested": {"deeper": [true, {"": ""}]}, "k:v": 1}),
    ];
    let keys = [
        "",
        ":",
        "a:b",
        "::",
        "d:",
        "v:x",
        "_v",
        "_e",
        "_c",
        "space key",
        "ключ🔑",
        "\u{0}",
    ];
    let pairs: Vec<(String, Value)> = keys
        .iter()
        .map(|k| (*k).to_owned())
        .zip(values.iter().cycle().cloned())
        .chain(
            values
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("value {i}"), v.clone())),
        )
        .collect();

    let id = SessionId::generate();
    let mut record = record_with(&[]);
    record.data.extend(pairs.iter().cloned());
    created(RULE, store, &id, &record).await;
    let loaded = load_live(RULE, store, &id).await;
    ensure!(
        RULE,
        loaded == record,
        "created {record:?} but loaded {loaded:?}"
    );

    let id = SessionId::generate();
    let record = record_with(&[]);
    created(RULE, store, &id, &record).await;
    let mut save = Save::new(record.version, record.expires);
    for (key, value) in &pairs {
        save = save.set(key.clone(), value.clone());
    }
    applied(RULE, store, &id, &save).await;
    let data = load_live(RULE, store, &id).await.data;
    ensure!(
        RULE,
        data == record_with_owned(&pairs).data,
        "saved {pairs:?} but loaded {data:?}"
    );
    let mut removal = Save::new(load_live(RULE, store, &id).await.version, record.expires);
    for key in keys {
        removal = removal.remove(key);
    }
    applied(RULE, store, &id, &removal).await;
    let data = load_live(RULE, store, &id).await.data;
    ensure!(
        RULE,
        data.len() == values.len() && data.keys().all(|k| k.starts_with("value ")),
        "removing the odd keys left {data:?}"
    );
}

/// `expiry`: a record is never loaded at or after its expiry, and a save
/// to it then returns [`Saved::Gone`]; a save that moves the expiry later
/// keeps the record; a record created already expired never loads. Waits
/// about 1.3 seconds.
///
/// # Panics
///
/// When the rule does not hold.
pub async fn expiry<S: SessionStore>(store: &S) {
    const RULE: &str = "expiry";
    let soon = now() + Duration::from_millis(1200);
    let mut short = record_with(&[("a", json!(1))]);
    short.expires = soon;
    let (ends, extended) = (SessionId::generate(), SessionId::generate());
    created(RULE, store, &ends, &short).await;
    created(RULE, store, &extended, &short).await;
    let later = now() + Duration::from_secs(60);
    applied(RULE, store, &extended, &Save::new(short.version, later)).await;

    let past = SessionId::generate();
    let mut expired = record_with(&[("a", json!(1))]);
    expired.expires = now() - Duration::from_secs(1);
    let outcome = ok(RULE, store.create(&past, &expired).await);
    let loaded_past = ok(RULE, store.load(&past).await);
    ensure!(
        RULE,
        outcome == Created::Inserted && loaded_past.is_none(),
        "a record created already expired: create {outcome:?}, load {loaded_past:?}"
    );

    // Until past the expiry by this clock, with a margin for a store
    // whose clock runs slightly behind.
    while now() < soon + Duration::from_millis(100) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = ok(RULE, store.load(&ends).await);
    ensure!(RULE, after.is_none(), "an expired record loaded: {after:?}");
    let saved = ok(
        RULE,
        store
            .save(&ends, &Save::new(short.version, later).set("a", json!(2)))
            .await,
    );
    ensure!(
        RULE,
        saved == Saved::Gone,
        "a save to an expired record returned {saved:?}"
    );
    let after = ok(RULE, store.load(&ends).await);
    ensure!(
        RULE,
        after.is_none(),
        "a save brought an expired record back: {after:?}"
    );
    let kept = ok(RULE, store.load(&extended).await);
    ensure!(
        RULE,
        kept.as_ref().is_some_and(|r| r.expires == later),
        "a record whose expiry a save moved later did not load: {kept:?}"
    );
    ok(RULE, store.delete(&extended).await);
}

/// Now, in whole milliseconds.
fn now() -> SystemTime {
    let ms = crate::sessions::store::unix_millis(SystemTime::now());
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A version-0 record created now, expiring in an hour.
fn record_with(data: &[(&str, Value)]) -> Record {
    let now = now();
    let mut record = Record::new(now, now + Duration::from_secs(3600));
    for (k, v) in data {
        record.data.insert((*k).to_owned(), v.clone());
    }
    record
}

fn record_with_owned(data: &[(String, Value)]) -> Record {
    let mut record = record_with(&[]);
    record.data.extend(data.iter().cloned());
    record
}

fn ok<T>(rule: &str, result: Result<T, StoreError>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("SessionStore conformance, rule `{rule}`: the store failed: {e}"),
    }
}

async fn created<S: SessionStore>(rule: &str, store: &S, id: &SessionId, record: &Record) {
    let outcome = ok(rule, store.create(id, record).await);
    ensure!(
        rule,
        outcome == Created::Inserted,
        "a create on a fresh id returned {outcome:?}"
    );
}

async fn load_live<S: SessionStore>(rule: &str, store: &S, id: &SessionId) -> Record {
    match ok(rule, store.load(id).await) {
        Some(record) => record,
        None => panic!("SessionStore conformance, rule `{rule}`: a live record did not load"),
    }
}

async fn applied<S: SessionStore>(
    rule: &str,
    store: &S,
    id: &SessionId,
    save: &Save,
) -> (u64, Vec<String>) {
    match ok(rule, store.save(id, save).await) {
        Saved::Applied { version, conflicts } => (version, conflicts),
        gone @ Saved::Gone => unexpected(rule, "a save to a live record", gone),
    }
}

fn unexpected(rule: &str, what: &str, got: impl Debug) -> ! {
    panic!("SessionStore conformance, rule `{rule}`: {what} returned {got:?}")
}
