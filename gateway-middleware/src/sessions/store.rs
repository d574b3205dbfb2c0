//! The [`SessionStore`] trait and the values that cross it.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::{Duration, SystemTime};

use gateway_core::BoxError;
use serde_json::Value;

use super::id::SessionId;

/// A server-side session store: where [`Sessions`](super::Sessions) keeps
/// records by [`SessionId`]. [`MemoryStore`](super::MemoryStore) and
/// [`RedisStore`](super::RedisStore) implement it; the cookie store keeps
/// the record in the cookie instead and is not a `SessionStore`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::sessions::{
///     Created, MemoryStore, Record, Save, Saved, SessionId, SessionStore,
/// };
///
/// let store = MemoryStore::new();
/// let id = SessionId::generate();
/// let expires = SystemTime::now() + Duration::from_secs(60);
/// let mut record = Record::new(SystemTime::now(), expires);
/// record.data.insert("user".into(), "ada".into());
/// assert_eq!(store.create(&id, &record).await?, Created::Inserted);
///
/// let loaded = store.load(&id).await?.expect("just created");
/// let save = Save::new(loaded.version, expires).set("theme", "dark".into());
/// assert!(matches!(store.save(&id, &save).await?, Saved::Applied { .. }));
///
/// store.delete(&id).await?;
/// assert_eq!(store.load(&id).await?, None);
/// // A save after a delete does not bring the record back.
/// assert_eq!(store.save(&id, &save).await?, Saved::Gone);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// # The contract
///
/// Every implementation keeps these rules; the [`conformance`](super::conformance)
/// kit checks them (run it in your store's tests).
///
/// - **Expiry.** A record is never returned by [`load`](Self::load) at or
///   after its [`expires`](Record::expires), whether or not the store has
///   reclaimed it yet. [`create`](Self::create) and [`save`](Self::save)
///   set the record's expiry to the one they are given (a store with its
///   own TTLs, like Redis, sets the TTL to match).
/// - **Create is insert-if-absent.** [`create`](Self::create) never
///   overwrites: if the id exists (even expired but not yet reclaimed, if
///   the store cannot tell), it returns [`Created::Exists`] and changes
///   nothing; [`Sessions`](super::Sessions) then draws a new id and tries
///   again.
/// - **Per-key merge.** A [`Save`] carries only the keys the request
///   changed and the version it loaded. The store applies a changed key
///   only if no save since that version changed the same key; otherwise the
///   key keeps the value the earlier save wrote and is reported in
///   [`Saved::Applied::conflicts`] — *first writer wins*, so a value
///   computed from a stale read never overwrites a newer one. Keys the
///   request did not change are never written, so two overlapping requests
///   that change different keys both keep their change.
///   [`clear`](Save::clear) removes the keys that existed at the loaded
///   version and were not changed since; keys another request added
///   meanwhile stay.
/// - **Versions.** Every applied save increments the record's version by
///   at least one; a store tracks, for each key, the version that last
///   changed it (that is what the merge compares).
/// - **Logout wins.** A save to an id that does not exist (deleted,
///   expired, or replaced by `cycle_id`) returns [`Saved::Gone`] and
///   creates nothing.
/// - **Delete is idempotent.** Deleting a missing id is `Ok(())`.
/// - **Bounded.** Every call returns within a bounded time; a store that
///   cannot reach its backend returns a [`StoreError`], which
///   `Sessions` answers with `503 Service Unavailable`.
pub trait SessionStore: Send + Sync + 'static {
    /// The record stored under `id`, or `None` if there is none or it has
    /// expired.
    fn load(
        &self,
        id: &SessionId,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Stores `record` under `id` if nothing is stored there
    /// ([`Created::Inserted`]); otherwise changes nothing
    /// ([`Created::Exists`]). The record's version is stored as given.
    fn create(
        &self,
        id: &SessionId,
        record: &Record,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Applies `save` to the record under `id` by the per-key merge rule
    /// (see [the contract](Self#the-contract)).
    fn save(
        &self,
        id: &SessionId,
        save: &Save,
    ) -> impl Future<Output = Result<Saved, StoreError>> + Send;

    /// Removes the record under `id`; `Ok(())` if there was none.
    fn delete(&self, id: &SessionId) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A session's data and metadata as a store holds it.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::sessions::Record;
///
/// let now = SystemTime::now();
/// let mut record = Record::new(now, now + Duration::from_secs(3600));
/// record.data.insert("cart".into(), serde_json::json!([1, 2]));
/// assert_eq!(record.version, 0);
/// assert!(!record.is_expired(now));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Record {
    /// The values, by key, as JSON.
    pub data: BTreeMap<String, Value>,
    /// Incremented by every applied save; the version a request loaded is
    /// the base its [`Save`] is merged against.
    pub version: u64,
    /// When the session was created — what an absolute timeout counts
    /// from. Kept by `cycle_id`.
    pub created: SystemTime,
    /// When the record expires: the store never returns it from this
    /// instant on.
    pub expires: SystemTime,
}

impl Record {
    /// An empty record at version 0.
    pub fn new(created: SystemTime, expires: SystemTime) -> Record {
        Record {
            data: BTreeMap::new(),
            version: 0,
            created,
            expires,
        }
    }

    /// Whether the record has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        now >= self.expires
    }
}

/// What one request changed in a session, for [`SessionStore::save`].
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use gateway_middleware::sessions::Save;
///
/// let expires = SystemTime::now() + Duration::from_secs(60);
/// let save = Save::new(3, expires)
///     .set("theme", "dark".into())
///     .remove("flash");
/// assert_eq!(save.base_version, 3);
/// assert_eq!(save.changes.len(), 2);
/// assert!(!save.clear);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Save {
    /// The version the request loaded.
    pub base_version: u64,
    /// The changed keys: `Some(value)` set, `None` removed.
    pub changes: BTreeMap<String, Option<Value>>,
    /// The request cleared the session (applied before `changes`).
    pub clear: bool,
    /// The record's new expiry; a save with no changes only moves it (a
    /// rolling expiry's refresh).
    pub expires: SystemTime,
}

impl Save {
    /// A save of no changes against `base_version` that sets the expiry.
    pub fn new(base_version: u64, expires: SystemTime) -> Save {
        Save {
            base_version,
            changes: BTreeMap::new(),
            clear: false,
            expires,
        }
    }

    /// Adds a change: `key` set to `value`.
    pub fn set(mut self, key: impl Into<String>, value: Value) -> Save {
        self.changes.insert(key.into(), Some(value));
        self
    }

    /// Adds a change: `key` removed.
    pub fn remove(mut self, key: impl Into<String>) -> Save {
        self.changes.insert(key.into(), None);
        self
    }

    /// Marks the save as clearing the session first.
    pub fn clear(mut self) -> Save {
        self.clear = true;
        self
    }
}

/// The outcome of [`SessionStore::create`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    /// The record was stored.
    Inserted,
    /// Something is already stored under the id; nothing changed.
    Exists,
}

/// The outcome of [`SessionStore::save`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Saved {
    /// The save was merged in.
    Applied {
        /// The record's version after the save.
        version: u64,
        /// Keys this save changed that another save had changed since its
        /// base version; they keep the other save's value (first writer
        /// wins).
        conflicts: Vec<String>,
    },
    /// There is no record under the id (deleted, expired or replaced):
    /// nothing was written, and the request gets no session cookie.
    Gone,
}

/// A store could not do what was asked in time: its backend is down,
/// unreachable or too slow. [`Sessions`](super::Sessions) answers a request
/// that needs its session with `503 Service Unavailable` and `Retry-After`.
///
/// ```
/// use std::time::Duration;
/// use gateway_middleware::sessions::StoreError;
///
/// let e = StoreError::timeout(Duration::from_millis(500));
/// assert!(e.is_timeout());
/// assert_eq!(e.to_string(), "session store did not answer within 500ms");
///
/// let e = StoreError::new(std::io::Error::other("connection refused"));
/// assert!(!e.is_timeout());
/// assert_eq!(e.to_string(), "session store failed: connection refused");
/// ```
pub struct StoreError {
    kind: Kind,
}

enum Kind {
    Timeout(Duration),
    Backend(BoxError),
}

impl StoreError {
    /// The backend failed; `source` says how.
    pub fn new(source: impl Into<BoxError>) -> StoreError {
        StoreError {
            kind: Kind::Backend(source.into()),
        }
    }

    /// The backend did not answer within `limit`.
    pub fn timeout(limit: Duration) -> StoreError {
        StoreError {
            kind: Kind::Timeout(limit),
        }
    }

    /// Whether the call timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::Timeout(_))
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Timeout(limit) => f.debug_tuple("StoreError::Timeout").field(limit).finish(),
            Kind::Backend(e) => f.debug_tuple("StoreError::Backend").field(e).finish(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Timeout(limit) => write!(f, "session store did not answer within {limit:?}"),
            Kind::Backend(e) => write!(f, "session store failed: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Timeout(_) => None,
            Kind::Backend(e) => Some(&**e),
        }
    }
}

/// `time` as Unix milliseconds: 0 before the epoch, `u64::MAX` past what
/// a `u64` holds. Truncated, so an expiry read back is never later than
/// the one written. The one conversion the stores' formats share.
pub(crate) fn unix_millis(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The inverse of [`unix_millis`]; `None` past what a `SystemTime` holds.
pub(crate) fn from_unix_millis(millis: u64) -> Option<std::time::SystemTime> {
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_millis(millis))
}
