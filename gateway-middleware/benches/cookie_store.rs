//! The cookie store's cost: sealing a small session into a cookie value and
//! opening it again, in both modes.
//!
//! The record holds one value (`"user": "ada"`) and the cookie is named
//! `id`. Each iteration seals the record under the primary key and opens
//! the value it made (so the encrypted mode draws one 24-byte nonce from the
//! operating system per iteration, as a real seal does):
//!
//! - `cookie_store/round_trip/encrypted`: XChaCha20-Poly1305
//!   ([`CookieStore::new`]).
//! - `cookie_store/round_trip/signed`: HMAC-SHA256
//!   ([`CookieStore::signed`]).
//! - `cookie_store/open/encrypted`, `cookie_store/open/signed`: opening
//!   alone, the cost a request that only reads its session pays.
//!
//! Run it with:
//!
//! ```text
//! cargo bench -p gateway-middleware --features sessions --bench cookie_store
//! # shorter: ... --bench cookie_store -- --quick
//! ```
//!
//! `cargo test -p gateway-middleware --features sessions --benches` runs
//! each benchmark once, as a smoke test.

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_main};
use gateway_middleware::sessions::{CookieStore, Key, Record};

fn record(now: SystemTime) -> Record {
    let mut record = Record::new(now, now + Duration::from_secs(3600));
    record.data.insert("user".into(), "ada".into());
    record
}

fn cookie_store(c: &mut Criterion) {
    let now = SystemTime::now();
    let record = record(now);
    let stores = [
        ("encrypted", CookieStore::new(Key::generate(1))),
        ("signed", CookieStore::signed(Key::generate(1))),
    ];

    let mut group = c.benchmark_group("cookie_store/round_trip");
    for (mode, store) in &stores {
        group.bench_function(*mode, |b| {
            b.iter(|| {
                let value = store
                    .seal_for_bench(black_box("id"), black_box(&record))
                    .expect("a small record fits");
                let opened = store.open_for_bench("id", &value, now);
                assert!(opened.is_some());
                opened
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("cookie_store/open");
    for (mode, store) in &stores {
        let value = store
            .seal_for_bench("id", &record)
            .expect("a small record fits");
        group.bench_function(*mode, |b| {
            b.iter(|| {
                let opened = store.open_for_bench(black_box("id"), black_box(&value), now);
                assert!(opened.is_some());
                opened
            })
        });
    }
    group.finish();
}

/// The benchmark group, in a private module: `criterion_group!` makes a
/// `pub fn` that cannot carry a doc comment.
mod group {
    use super::cookie_store;
    use criterion::criterion_group;

    criterion_group!(benches, cookie_store);
}

criterion_main!(group::benches);
