//! [`Backend`]: what [`Sessions`](super::Sessions) keeps sessions in —
//! any [`SessionStore`], or the cookie store.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::SystemTime;

use serde_json::Value;

use super::cookie_store::CookieStore;
use super::handle::{Loaded, Plan};
use super::id::SessionId;
use super::store::{Created, Record, Save, Saved, SessionStore, StoreError};

/// Where [`Sessions`](super::Sessions) keeps sessions: implemented for
/// every [`SessionStore`] (the record on the server, its id in the cookie)
/// and for the cookie store (the whole record, sealed, in the cookie).
/// Sealed: implement [`SessionStore`] to bring a store of your own.
///
/// ```
/// use gateway_middleware::sessions::{Backend, MemoryStore, Sessions};
/// fn sessions<B: Backend>(backend: B) -> Sessions<B> {
///     Sessions::new(backend)
/// }
/// let _ = sessions(MemoryStore::new());
/// ```
pub trait Backend: sealed::Sealed {}

impl<S: SessionStore> Backend for S {}

impl Backend for CookieStore {}

/// What the request's cookie should become.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CookieAction {
    /// Leave the client's cookie as it is (or send none).
    Keep,
    /// Set the cookie to this value.
    Set(String),
    /// Tell the client to drop its cookie.
    Remove,
}

/// The outcome of a commit.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) cookie: CookieAction,
    /// Keys refused by first-writer-wins.
    pub(crate) conflicts: Vec<String>,
}

/// Why a commit failed.
#[derive(Debug)]
pub(crate) enum CommitError {
    Store(StoreError),
    /// The application's bug: the sealed cookie is over the browsers'
    /// limit. The message says by how much.
    TooLarge(String),
}

impl From<StoreError> for CommitError {
    fn from(e: StoreError) -> CommitError {
        CommitError::Store(e)
    }
}

/// What a commit needs besides the plan.
#[derive(Debug)]
pub(crate) struct Context<'a> {
    pub(crate) cookie_name: &'a str,
    pub(crate) now: SystemTime,
    /// The record's expiry after this request (idle and absolute).
    pub(crate) expires: SystemTime,
    /// Whether a rolling refresh is due even without a change.
    pub(crate) refresh: bool,
    /// Whether the client sent a cookie of the session's name.
    pub(crate) sent_cookie: bool,
}

/// How many times `create` draws a new id after [`Created::Exists`]. With
/// 128-bit random ids one retry is already a sign of a broken store.
const CREATE_ATTEMPTS: usize = 4;

// The sealed trait's methods use crate-private types: nobody outside the
// crate can name, call or implement them, which is the point.
#[allow(private_interfaces, private_bounds)]
pub(crate) mod sealed {
    use std::future::Future;
    use std::time::SystemTime;

    use super::{CommitError, Context, Outcome};
    use crate::sessions::handle::{Loaded, Plan};
    use crate::sessions::store::{Record, StoreError};

    pub trait Sealed: Send + Sync + 'static {
        /// The session named by the first usable cookie value.
        fn load(
            &self,
            values: &[&str],
            cookie_name: &str,
            now: SystemTime,
        ) -> impl Future<Output = Result<Option<Loaded>, StoreError>> + Send;

        /// Writes what the request did.
        fn commit(
            &self,
            plan: Plan,
            cx: &Context<'_>,
        ) -> impl Future<Output = Result<Outcome, CommitError>> + Send;

        /// Stores a new session (tests' seeding); the cookie value.
        fn seed(
            &self,
            record: &Record,
            cookie_name: &str,
        ) -> impl Future<Output = Result<String, CommitError>> + Send;

        /// Whether a cookie value could be this backend's at all (a cheap
        /// check of its form, before any store call or decryption).
        fn plausible(&self, value: &str) -> bool;

        /// Verifications by each non-primary key (cookie store only).
        fn old_key_uses(&self) -> Vec<(u8, u64)> {
            Vec::new()
        }
    }
}

#[allow(private_interfaces, private_bounds)]
impl<S: SessionStore> sealed::Sealed for S {
    async fn load(
        &self,
        values: &[&str],
        _cookie_name: &str,
        now: SystemTime,
    ) -> Result<Option<Loaded>, StoreError> {
        // The first value that is an id at all; a cookie tossed in by a
        // sibling domain with junk in it does not hide ours.
        // Every candidate that is an id, in order, until one names a live
        // record: an unknown id tossed in ahead of the real cookie (by a
        // sibling subdomain, say) does not hide it. The middleware passes
        // at most a few candidates, so this is bounded.
        for id in values.iter().filter_map(|v| SessionId::parse(v)) {
            if let Some(record) = self.load(&id).await?.filter(|r| !r.is_expired(now)) {
                return Ok(Some(Loaded {
                    id: Some(id),
                    record,
                    reissue: false,
                }));
            }
        }
        Ok(None)
    }

    fn commit(
        &self,
        plan: Plan,
        cx: &Context<'_>,
    ) -> impl Future<Output = Result<Outcome, CommitError>> + Send {
        // The plan is taken apart before the future: it keeps only what
        // its store calls need, not the whole plan across them.
        let step = Step::of(plan, cx);
        let (now, expires, refresh) = (cx.now, cx.expires, cx.refresh);
        async move {
            let mut conflicts = Vec::new();
            let cookie = match step {
                Step::Keep => CookieAction::Keep,
                Step::Create { data, destroyed } => {
                    if !data.is_empty() {
                        CookieAction::Set(create(self, now, expires, data).await?)
                    } else if destroyed {
                        // Logout with a cookie that named nothing: drop it
                        // too.
                        CookieAction::Remove
                    } else {
                        CookieAction::Keep
                    }
                }
                Step::Replace { id, data } => {
                    self.delete(&id).await?;
                    if data.is_empty() {
                        CookieAction::Remove
                    } else {
                        CookieAction::Set(create(self, now, expires, data).await?)
                    }
                }
                Step::Cycle { id, created, data } => {
                    let new = create(self, created, expires, data).await?;
                    self.delete(&id).await?;
                    CookieAction::Set(new)
                }
                Step::Save { id, save } => match self.save(&id, &save).await? {
                    Saved::Applied {
                        conflicts: refused, ..
                    } => {
                        conflicts = refused;
                        // The id is the same; the cookie is sent again only
                        // when its expiry moved.
                        if refresh {
                            CookieAction::Set(id.to_string())
                        } else {
                            CookieAction::Keep
                        }
                    }
                    // Logout wins: deleted or replaced meanwhile.
                    Saved::Gone => CookieAction::Keep,
                },
            };
            Ok(Outcome { cookie, conflicts })
        }
    }

    async fn seed(&self, record: &Record, _cookie_name: &str) -> Result<String, CommitError> {
        Ok(insert(self, record).await?.to_string())
    }

    fn plausible(&self, value: &str) -> bool {
        SessionId::has_form(value)
    }
}

#[allow(private_interfaces, private_bounds)]
impl sealed::Sealed for CookieStore {
    async fn load(
        &self,
        values: &[&str],
        cookie_name: &str,
        now: SystemTime,
    ) -> Result<Option<Loaded>, StoreError> {
        // The first value that opens: authenticated, so a tossed cookie
        // of the same name cannot pass for ours.
        Ok(values
            .iter()
            .find_map(|v| self.open(cookie_name, v, now))
            .map(|opened| Loaded {
                id: None,
                record: opened.record,
                reissue: !opened.primary,
            }))
    }

    fn commit(
        &self,
        plan: Plan,
        cx: &Context<'_>,
    ) -> impl std::future::Future<Output = Result<Outcome, CommitError>> + Send {
        std::future::ready(self.commit_now(plan, cx))
    }

    async fn seed(&self, record: &Record, cookie_name: &str) -> Result<String, CommitError> {
        self.seal(cookie_name, record)
            .map_err(|e| CommitError::TooLarge(too_large(&e)))
    }

    fn plausible(&self, value: &str) -> bool {
        CookieStore::plausible(value)
    }

    fn old_key_uses(&self) -> Vec<(u8, u64)> {
        CookieStore::old_key_uses(self)
    }
}

impl CookieStore {
    /// [`commit`](sealed::Sealed::commit), which waits for nothing.
    fn commit_now(&self, plan: Plan, cx: &Context<'_>) -> Result<Outcome, CommitError> {
        let created = match &plan.loaded {
            None => cx.now,
            Some(_) if plan.destroyed => cx.now,
            Some(l) if plan.changed() || plan.cycle || cx.refresh || l.reissue => l.record.created,
            Some(_) => return Ok(keep()),
        };
        // A new session that is still empty sends nothing; one that held
        // something (or a logout) drops the client's cookie.
        let fresh = plan.loaded.is_none() && !plan.destroyed;
        let data = plan.into_data();
        if data.is_empty() {
            return Ok(if fresh {
                keep()
            } else {
                outcome(CookieAction::Remove)
            });
        }
        let mut record = Record::new(created, cx.expires);
        record.data = data;
        self.seal(cx.cookie_name, &record)
            .map(|value| outcome(CookieAction::Set(value)))
            .map_err(|e| CommitError::TooLarge(too_large(&e)))
    }
}

fn keep() -> Outcome {
    outcome(CookieAction::Keep)
}

fn outcome(cookie: CookieAction) -> Outcome {
    Outcome {
        cookie,
        conflicts: Vec::new(),
    }
}

fn too_large(e: &super::cookie_store::CookieTooLarge) -> String {
    format!(
        "the session no longer fits in its cookie: {e}; keep less in it, or use a server-side store"
    )
}

/// What a server store's commit does, decided from the plan before any
/// store call.
enum Step {
    /// No store call; the client keeps its cookie.
    Keep,
    /// No record was loaded: store the data, if any, as a new record.
    Create {
        data: BTreeMap<String, Value>,
        destroyed: bool,
    },
    /// Destroyed: delete the record, then store the data set since, if
    /// any, as a new record.
    Replace {
        id: SessionId,
        data: BTreeMap<String, Value>,
    },
    /// A new id for the data: store it as a new record (of the old one's
    /// creation time), then delete the old one.
    Cycle {
        id: SessionId,
        created: SystemTime,
        data: BTreeMap<String, Value>,
    },
    /// Save the changes (or just the new expiry) into the record.
    Save { id: SessionId, save: Save },
}

impl Step {
    fn of(plan: Plan, cx: &Context<'_>) -> Step {
        let loaded = plan
            .loaded
            .as_ref()
            .and_then(|l| Some((l.id?, l.record.created, l.record.version)));
        match loaded {
            None => Step::Create {
                destroyed: plan.destroyed,
                data: plan.into_data(),
            },
            Some((id, _, _)) if plan.destroyed => Step::Replace {
                id,
                data: plan.into_data(),
            },
            Some((id, created, _)) if plan.cycle => Step::Cycle {
                id,
                created,
                data: plan.into_data(),
            },
            Some((id, _, version)) if plan.changed() || cx.refresh => Step::Save {
                id,
                save: Save {
                    changes: plan.changes,
                    clear: plan.cleared,
                    ..Save::new(version, cx.expires)
                },
            },
            Some(_) => Step::Keep,
        }
    }
}

/// Stores a new record of `data`, created at `created` and expiring at
/// `expires`, under a fresh id; the cookie value (the id).
async fn create<S: SessionStore>(
    store: &S,
    created: SystemTime,
    expires: SystemTime,
    data: BTreeMap<String, Value>,
) -> Result<String, StoreError> {
    let mut record = Record::new(created, expires);
    record.data = data;
    Ok(insert(store, &record).await?.to_string())
}

/// Inserts `record` under a fresh id, drawing again on a collision.
async fn insert<S: SessionStore>(store: &S, record: &Record) -> Result<SessionId, StoreError> {
    for _ in 0..CREATE_ATTEMPTS {
        let id = SessionId::generate();
        if store.create(&id, record).await? == Created::Inserted {
            return Ok(id);
        }
    }
    Err(StoreError::new(format!(
        "session store reported {CREATE_ATTEMPTS} fresh random ids as existing"
    )))
}
