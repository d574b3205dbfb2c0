//! [`MemoryStore`]: sessions in this process's memory, bounded and expiring.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::id::SessionId;
use super::store::{Created, Record, Save, Saved, SessionStore, StoreError};

/// A [`SessionStore`] in this process's memory: for one instance, for
/// development and for tests. Sessions do not survive a restart and are
/// not shared between instances (use `RedisStore`, feature `redis`, for
/// that).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::sessions::{Created, MemoryStore, Record, SessionId, SessionStore};
///
/// let store = MemoryStore::with_capacity(10_000);
/// let now = SystemTime::now();
/// let id = SessionId::generate();
/// store.create(&id, &Record::new(now, now + Duration::from_secs(60))).await?;
/// assert!(store.load(&id).await?.is_some());
///
/// let stats = store.stats();
/// assert_eq!((stats.creates, stats.loads, stats.writes()), (1, 1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// **Bounded.** It holds at most [`capacity`](Self::with_capacity)
/// records (100,000 by default). A `create` that finds it full first drops
/// every expired record; if none had expired, it evicts the record that
/// would expire soonest — the session closest to its end anyway — and
/// counts it in [`MemoryStats::evictions`]. Records are indexed by expiry,
/// so dropping and evicting cost O(log n) each, however full the store —
/// a client that creates sessions as fast as it can does not make the
/// next create scan the store. Every `create` also drops the records that
/// have expired by then. Expired records are never returned, whether or
/// not they have been dropped yet.
///
/// Clones share the records and the counters. Every call takes one
/// short-lived lock and never waits on anything else, so it is bounded.
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    records: Mutex<Records>,
    capacity: usize,
    loads: AtomicU64,
    creates: AtomicU64,
    saves: AtomicU64,
    deletes: AtomicU64,
    evictions: AtomicU64,
}

/// The records, and an index of them by expiry (soonest first).
#[derive(Default)]
struct Records {
    map: HashMap<SessionId, Entry>,
    by_expiry: BTreeSet<(SystemTime, SessionId)>,
}

impl Records {
    fn insert(&mut self, id: SessionId, entry: Entry) {
        self.by_expiry.insert((entry.record.expires, id));
        if let Some(old) = self.map.insert(id, entry) {
            self.by_expiry.remove(&(old.record.expires, id));
        }
    }

    fn remove(&mut self, id: &SessionId) {
        if let Some(old) = self.map.remove(id) {
            self.by_expiry.remove(&(old.record.expires, *id));
        }
    }

    /// Removes and returns the id of the record that expires soonest.
    fn pop_soonest(&mut self) -> Option<SessionId> {
        let (_, id) = self.by_expiry.pop_first()?;
        self.map.remove(&id);
        Some(id)
    }

    /// Drops every record expired at `now`.
    fn drop_expired(&mut self, now: SystemTime) {
        while let Some(&(expires, id)) = self.by_expiry.first() {
            if expires > now {
                break;
            }
            self.by_expiry.pop_first();
            self.map.remove(&id);
        }
    }
}

struct Entry {
    record: Record,
    /// For each key ever set or removed, the version that last changed it
    /// (tombstones included, so a removal is a change the merge sees).
    changed_at: BTreeMap<String, u64>,
}

/// What a [`MemoryStore`] has been asked to do, from
/// [`MemoryStore::stats`]. Every call is counted, whatever its outcome.
///
/// ```
/// use gateway_middleware::sessions::MemoryStore;
/// let stats = MemoryStore::new().stats();
/// assert_eq!(stats.writes(), 0);
/// assert_eq!(stats.records, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Calls to `load`.
    pub loads: u64,
    /// Calls to `create`.
    pub creates: u64,
    /// Calls to `save`.
    pub saves: u64,
    /// Calls to `delete`.
    pub deletes: u64,
    /// Records evicted because the store was full.
    pub evictions: u64,
    /// Records held now, expired ones not yet dropped included.
    pub records: usize,
}

impl MemoryStats {
    /// Calls that may write: `create + save + delete`.
    pub fn writes(&self) -> u64 {
        self.creates + self.saves + self.deletes
    }
}

/// The default capacity: 100,000 records.
const DEFAULT_CAPACITY: usize = 100_000;

impl MemoryStore {
    /// An empty store holding at most 100,000 records.
    pub fn new() -> MemoryStore {
        MemoryStore::with_capacity(DEFAULT_CAPACITY)
    }

    /// An empty store holding at most `capacity` records (at least one).
    pub fn with_capacity(capacity: usize) -> MemoryStore {
        MemoryStore {
            inner: Arc::new(Inner {
                records: Mutex::new(Records::default()),
                capacity: capacity.max(1),
                loads: AtomicU64::new(0),
                creates: AtomicU64::new(0),
                saves: AtomicU64::new(0),
                deletes: AtomicU64::new(0),
                evictions: AtomicU64::new(0),
            }),
        }
    }

    /// The counters of calls so far, and the number of records held.
    pub fn stats(&self) -> MemoryStats {
        let i = &self.inner;
        MemoryStats {
            loads: i.loads.load(Ordering::Relaxed),
            creates: i.creates.load(Ordering::Relaxed),
            saves: i.saves.load(Ordering::Relaxed),
            deletes: i.deletes.load(Ordering::Relaxed),
            evictions: i.evictions.load(Ordering::Relaxed),
            records: self.lock().map.len(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        // A panic while holding the lock cannot leave a record half
        // changed in a way later calls could misread (each change is a
        // few assignments), so a poisoned lock is used as it is.
        self.inner
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn make_room(&self, records: &mut Records, now: SystemTime) {
        records.drop_expired(now);
        while records.map.len() >= self.inner.capacity {
            if records.pop_soonest().is_none() {
                return;
            }
            self.inner.evictions.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn load_now(&self, id: &SessionId, now: SystemTime) -> Option<Record> {
        self.inner.loads.fetch_add(1, Ordering::Relaxed);
        let records = self.lock();
        let entry = records.map.get(id)?;
        (!entry.record.is_expired(now)).then(|| entry.record.clone())
    }

    fn create_now(&self, id: &SessionId, record: &Record, now: SystemTime) -> Created {
        self.inner.creates.fetch_add(1, Ordering::Relaxed);
        let mut records = self.lock();
        if records
            .map
            .get(id)
            .is_some_and(|e| !e.record.is_expired(now))
        {
            return Created::Exists;
        }
        records.remove(id);
        self.make_room(&mut records, now);
        let changed_at = record
            .data
            .keys()
            .map(|k| (k.clone(), record.version))
            .collect();
        records.insert(
            *id,
            Entry {
                record: record.clone(),
                changed_at,
            },
        );
        Created::Inserted
    }

    fn save_now(&self, id: &SessionId, save: &Save, now: SystemTime) -> Saved {
        self.inner.saves.fetch_add(1, Ordering::Relaxed);
        let mut records = self.lock();
        let Some(entry) = records.map.get_mut(id) else {
            return Saved::Gone;
        };
        if entry.record.is_expired(now) {
            records.remove(id);
            return Saved::Gone;
        }
        let old_expires = entry.record.expires;
        let saved = entry.apply(save);
        let new_expires = entry.record.expires;
        if new_expires != old_expires {
            records.by_expiry.remove(&(old_expires, *id));
            records.by_expiry.insert((new_expires, *id));
        }
        saved
    }
}

impl Entry {
    /// The per-key merge of the [`SessionStore`] contract.
    fn apply(&mut self, save: &Save) -> Saved {
        let base = save.base_version;
        let version = self.record.version + 1;
        // Decided against the versions before this save, so that clearing
        // a key and setting it again in one request is not a conflict.
        let changed_since = |changed_at: &BTreeMap<String, u64>, key: &str| {
            changed_at.get(key).is_some_and(|&v| v > base)
        };
        let mut conflicts = Vec::new();
        let refused: Vec<&String> = save
            .changes
            .keys()
            .filter(|k| changed_since(&self.changed_at, k))
            .collect();
        if save.clear {
            let cleared: Vec<String> = self
                .record
                .data
                .keys()
                .filter(|k| !changed_since(&self.changed_at, k))
                .cloned()
                .collect();
            for key in cleared {
                self.record.data.remove(&key);
                self.changed_at.insert(key, version);
            }
        }
        for (key, value) in &save.changes {
            if refused.contains(&key) {
                conflicts.push(key.clone());
                continue;
            }
            match value {
                Some(v) => {
                    self.record.data.insert(key.clone(), v.clone());
                }
                None => {
                    self.record.data.remove(key);
                }
            }
            self.changed_at.insert(key.clone(), version);
        }
        self.record.version = version;
        self.record.expires = save.expires;
        Saved::Applied { version, conflicts }
    }
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::new()
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.inner.capacity)
            .field("stats", &self.stats())
            .finish()
    }
}

impl SessionStore for MemoryStore {
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        Ok(self.load_now(id, SystemTime::now()))
    }

    async fn create(&self, id: &SessionId, record: &Record) -> Result<Created, StoreError> {
        Ok(self.create_now(id, record, SystemTime::now()))
    }

    async fn save(&self, id: &SessionId, save: &Save) -> Result<Saved, StoreError> {
        Ok(self.save_now(id, save, SystemTime::now()))
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.inner.deletes.fetch_add(1, Ordering::Relaxed);
        self.lock().remove(id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    fn record(now: SystemTime, secs: u64) -> Record {
        let mut r = Record::new(now, now + Duration::from_secs(secs));
        r.data.insert("a".into(), json!(1));
        r.data.insert("b".into(), json!(2));
        r
    }

    #[test]
    fn merge_keeps_both_and_first_writer_wins() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let id = SessionId::generate();
        let exp = now + Duration::from_secs(60);
        assert_eq!(
            store.create_now(&id, &record(now, 60), now),
            Created::Inserted
        );
        assert_eq!(
            store.create_now(&id, &record(now, 60), now),
            Created::Exists
        );
        // Two requests loaded version 0.
        let first = Save::new(0, exp).set("a", json!("x")).set("c", json!(3));
        let second = Save::new(0, exp).set("a", json!("y")).set("b", json!("z"));
        assert_eq!(
            store.save_now(&id, &first, now),
            Saved::Applied {
                version: 1,
                conflicts: vec![]
            }
        );
        assert_eq!(
            store.save_now(&id, &second, now),
            Saved::Applied {
                version: 2,
                conflicts: vec!["a".into()]
            }
        );
        let r = store.load_now(&id, now).unwrap();
        assert_eq!(r.data["a"], json!("x"));
        assert_eq!(r.data["b"], json!("z"));
        assert_eq!(r.data["c"], json!(3));
        // A removal is a change too.
        assert!(matches!(
            store.save_now(&id, &Save::new(2, exp).remove("c"), now),
            Saved::Applied { .. }
        ));
        let late = Save::new(2, exp).set("c", json!(9));
        assert_eq!(
            store.save_now(&id, &late, now),
            Saved::Applied {
                version: 4,
                conflicts: vec!["c".into()]
            }
        );
        assert!(!store.load_now(&id, now).unwrap().data.contains_key("c"));
    }

    #[test]
    fn clear_keeps_keys_added_meanwhile_and_may_set_again() {
        let store = MemoryStore::new();
        let now = SystemTime::now();
        let id = SessionId::generate();
        let exp = now + Duration::from_secs(60);
        store.create_now(&id, &record(now, 60), now);
        store.save_now(&id, &Save::new(0, exp).set("new", json!(1)), now);
        let clear = Save::new(0, exp).clear().set("a", json!("again"));
        assert_eq!(
            store.save_now(&id, &clear, now),
            Saved::Applied {
                version: 2,
                conflicts: vec![]
            }
        );
        let data = store.load_now(&id, now).unwrap().data;
        assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "new"]);
        assert_eq!(data["a"], json!("again"));
    }

    #[test]
    fn expiry_gone_and_capacity() {
        let store = MemoryStore::with_capacity(2);
        let now = SystemTime::now();
        let (a, b, c) = (
            SessionId::generate(),
            SessionId::generate(),
            SessionId::generate(),
        );
        store.create_now(&a, &record(now, 10), now);
        store.create_now(&b, &record(now, 20), now);
        let later = now + Duration::from_secs(10);
        assert_eq!(store.load_now(&a, later), None);
        let save = Save::new(0, later + Duration::from_secs(5));
        assert_eq!(store.save_now(&a, &save, later), Saved::Gone);
        // An expired id may be created again.
        assert_eq!(
            store.create_now(&a, &record(later, 30), later),
            Created::Inserted
        );
        // Full: evicts the soonest-expiring (b, at now + 20).
        store.create_now(&c, &record(later, 30), later);
        assert_eq!(store.stats().records, 2);
        assert_eq!(store.stats().evictions, 1);
        assert_eq!(store.load_now(&b, later), None);
        assert!(store.load_now(&a, later).is_some());
        assert!(store.load_now(&c, later).is_some());
    }

    #[test]
    fn eviction_follows_expiries_moved_by_saves_and_the_index_stays_whole() {
        let store = MemoryStore::with_capacity(3);
        let now = SystemTime::now();
        let ids: Vec<SessionId> = (0..3).map(|_| SessionId::generate()).collect();
        for (i, id) in ids.iter().enumerate() {
            store.create_now(id, &record(now, 10 + i as u64), now);
        }
        // The soonest (ids[0]) is refreshed past the others: ids[1] is now
        // the one to go.
        let refresh = Save::new(0, now + Duration::from_secs(100));
        assert!(matches!(
            store.save_now(&ids[0], &refresh, now),
            Saved::Applied { .. }
        ));
        store.create_now(&SessionId::generate(), &record(now, 50), now);
        assert_eq!(store.load_now(&ids[1], now), None);
        assert!(store.load_now(&ids[0], now).is_some());
        assert!(store.load_now(&ids[2], now).is_some());

        // Many creates, saves and deletes: the index names exactly the
        // records held, at their expiries.
        let store = MemoryStore::with_capacity(50);
        let mut held = Vec::new();
        for i in 0..500u64 {
            let id = SessionId::generate();
            store.create_now(&id, &record(now, 1 + i % 37), now);
            held.push(id);
            if i % 3 == 0 {
                let moved = Save::new(0, now + Duration::from_secs(i % 53 + 1));
                store.save_now(&held[(i as usize * 7) % held.len()], &moved, now);
            }
            if i % 5 == 0 {
                store.lock().remove(&held[(i as usize * 11) % held.len()]);
            }
        }
        let records = store.lock();
        assert!(records.map.len() <= 50);
        assert_eq!(records.by_expiry.len(), records.map.len());
        for (expires, id) in &records.by_expiry {
            assert_eq!(records.map[id].record.expires, *expires);
        }
    }
}
