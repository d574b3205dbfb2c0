//! The memory store's cost: what a request that reads and writes its
//! session asks of [`MemoryStore`].
//!
//! The store holds 10,000 sessions, each with one value (`"n"`, a
//! counter); every iteration works on one of them:
//!
//! - `memory_store/round_trip`: [`SessionStore::load`] the record, then
//!   [`SessionStore::save`] the counter incremented against the loaded
//!   version (the per-key merge of one changed key) — the two store calls
//!   of a request that reads and changes its session;
//! - `memory_store/load`: loading alone, the cost of a request that only
//!   reads its session.
//!
//! The store's futures never wait (its map is behind a `std` mutex held
//! for no `.await`), so each is polled once with a no-op waker: the figures
//! are the store's own, without an executor's.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p gateway-middleware --features sessions --bench memory_store
//! # shorter: ... --bench memory_store -- --quick
//! ```
//!
//! `cargo test -p gateway-middleware --features sessions --benches` runs
//! each benchmark once, as a smoke test.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_main};
use gateway_middleware::sessions::{
    Created, MemoryStore, Record, Save, Saved, SessionId, SessionStore,
};

/// The sessions in the store while it is measured.
const SESSIONS: usize = 10_000;

/// Polls `future` once: the memory store's futures are ready at once.
fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a memory store call waited"),
    }
}

fn memory_store(c: &mut Criterion) {
    let store = MemoryStore::new();
    let created = SystemTime::now();
    let expires = created + Duration::from_secs(14 * 24 * 3600);
    let ids: Vec<SessionId> = (0..SESSIONS).map(|_| SessionId::generate()).collect();
    for id in &ids {
        let mut record = Record::new(created, expires);
        record.data.insert("n".into(), 0u64.into());
        let inserted = now(store.create(id, &record)).expect("the memory store never fails");
        assert_eq!(inserted, Created::Inserted);
    }
    let id = &ids[SESSIONS / 2];

    let mut group = c.benchmark_group("memory_store");
    group.bench_function("round_trip", |b| {
        b.iter(|| {
            let record = now(store.load(black_box(id)))
                .expect("the memory store never fails")
                .expect("the session is stored");
            let n = record.data.get("n").and_then(|n| n.as_u64()).unwrap_or(0);
            let save = Save::new(record.version, expires).set("n", (n + 1).into());
            let saved = now(store.save(id, &save)).expect("the memory store never fails");
            assert!(matches!(saved, Saved::Applied { .. }));
            saved
        })
    });
    group.bench_function("load", |b| {
        b.iter(|| {
            let record = now(store.load(black_box(id))).expect("the memory store never fails");
            assert!(record.is_some());
            record
        })
    });
    group.finish();
}

/// The benchmark group, in a private module: `criterion_group!` makes a
/// `pub fn` that cannot carry a doc comment.
mod group {
    use super::memory_store;
    use criterion::criterion_group;

    criterion_group!(benches, memory_store);
}

criterion_main!(group::benches);
