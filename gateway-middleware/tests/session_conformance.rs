//! The conformance kit against `MemoryStore`, and the kit itself: it
//! refuses stores that break the contract (a last-writer-wins store, a
//! store that resurrects deleted sessions, one that returns expired
//! records), naming the rule. (`RedisStore` runs it in `sessions_redis`.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use gateway_middleware::sessions::{
    Created, Record, Save, Saved, SessionId, SessionStore, StoreError, conformance,
};

/// A store with one deliberate flaw.
#[derive(Debug, Default)]
struct Flawed {
    records: Mutex<HashMap<SessionId, Record>>,
    flaw: Flaw,
}

#[derive(Debug, Default, PartialEq)]
enum Flaw {
    #[default]
    LastWriterWins,
    Resurrects,
    ReturnsExpired,
}

impl SessionStore for Flawed {
    async fn load(&self, id: &SessionId) -> Result<Option<Record>, StoreError> {
        let records = self.records.lock().unwrap();
        Ok(records
            .get(id)
            .filter(|r| self.flaw == Flaw::ReturnsExpired || !r.is_expired(SystemTime::now()))
            .cloned())
    }

    async fn create(&self, id: &SessionId, record: &Record) -> Result<Created, StoreError> {
        let mut records = self.records.lock().unwrap();
        if records.contains_key(id) {
            return Ok(Created::Exists);
        }
        records.insert(*id, record.clone());
        Ok(Created::Inserted)
    }

    async fn save(&self, id: &SessionId, save: &Save) -> Result<Saved, StoreError> {
        let mut records = self.records.lock().unwrap();
        let record = match records.get_mut(id) {
            Some(r) => r,
            None if self.flaw == Flaw::Resurrects => records
                .entry(*id)
                .or_insert_with(|| Record::new(SystemTime::now(), save.expires)),
            None => return Ok(Saved::Gone),
        };
        // No versions per key: every change applies.
        if save.clear {
            record.data.clear();
        }
        for (key, value) in &save.changes {
            match value {
                Some(v) => record.data.insert(key.clone(), v.clone()),
                None => record.data.remove(key),
            };
        }
        record.version += 1;
        record.expires = save.expires;
        Ok(Saved::Applied {
            version: record.version,
            conflicts: Vec::new(),
        })
    }

    async fn delete(&self, id: &SessionId) -> Result<(), StoreError> {
        self.records.lock().unwrap().remove(id);
        Ok(())
    }
}

fn flawed(flaw: Flaw) -> Flawed {
    Flawed {
        flaw,
        ..Flawed::default()
    }
}

#[tokio::test]
#[should_panic(expected = "rule `first-writer-wins`")]
async fn refuses_last_writer_wins() {
    conformance::first_writer_wins(&flawed(Flaw::LastWriterWins)).await;
}

#[tokio::test]
#[should_panic(expected = "rule `gone-after-delete`")]
async fn refuses_resurrection() {
    conformance::gone_after_delete(&flawed(Flaw::Resurrects)).await;
}

#[tokio::test]
#[should_panic(expected = "rule `expiry`")]
async fn refuses_expired_records() {
    conformance::expiry(&flawed(Flaw::ReturnsExpired)).await;
}

#[tokio::test]
#[should_panic(expected = "rule `clear`")]
async fn refuses_a_clear_that_drops_newer_keys() {
    conformance::clear(&flawed(Flaw::LastWriterWins)).await;
}

#[tokio::test]
async fn the_flawed_store_passes_the_rules_it_keeps() {
    let store = flawed(Flaw::LastWriterWins);
    conformance::load_missing(&store).await;
    conformance::create_round_trip(&store).await;
    conformance::create_existing(&store).await;
    conformance::delete_idempotent(&store).await;
    conformance::gone_after_delete(&store).await;
    conformance::values_and_keys(&store).await;
}

#[tokio::test]
async fn memory_store_conforms() {
    use gateway_middleware::sessions::MemoryStore;
    conformance::check_all(&MemoryStore::new()).await;
    // Bounded: a small store that evicts still keeps the rules for the
    // records it holds.
    conformance::check_all(&MemoryStore::with_capacity(64)).await;
}
