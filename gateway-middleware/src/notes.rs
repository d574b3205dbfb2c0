//! What inner layers learn about a request, for the layers outside them
//! that log or count it (`AccessLog`, `Metrics`, `RequestId`).
//!
//! ```ignore
//! // In an outer middleware, before calling the application:
//! let notes = Notes::attach(&mut env);
//! let res = self.app.call(env).await;
//! // Later, when the response ends:
//! let user = notes.user(); // set by `auth::Identity::insert` inside
//! ```
//!
//! The environ is moved into the application, so an outer layer cannot
//! read what an inner one put in it once the call returns. `Notes` is
//! shared instead: the first observing layer puts one `Arc<Notes>` in the
//! environ's locals and keeps a clone; the others find that one, and the
//! inner layers write to it (an identity when one is verified, a route
//! label when the application sets one). One allocation per request, for
//! all of the observing layers together.

// Each observing layer reads its own part; built with only some of them,
// the others' parts are unused.
#![cfg_attr(
    not(all(feature = "access-log", feature = "metrics", feature = "request-id")),
    allow(dead_code)
)]

use std::sync::{Arc, Mutex, OnceLock};

use gateway_core::Environ;

/// The shared record of one request; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// The verified identity's user id, when a layer inside verified one.
    user: Mutex<Option<Arc<str>>>,
    /// The route label the application chose (bounded cardinality).
    route: OnceLock<&'static str>,
    /// The request's id, set by `RequestId` (kept inline: no allocation).
    request_id: OnceLock<ShortId>,
}

/// A request id of at most [`ShortId::MAX`] bytes, stored inline.
#[derive(Debug)]
struct ShortId {
    len: u8,
    bytes: [u8; ShortId::MAX],
}

impl ShortId {
    /// The longest id kept (`RequestId` accepts no longer one).
    const MAX: usize = 128;
}

impl Notes {
    /// The request's notes, put in its locals by the first layer that
    /// asks.
    pub(crate) fn attach(env: &mut Environ) -> Arc<Notes> {
        if let Some(notes) = env.locals().get_arc::<Notes>() {
            return notes;
        }
        let notes = Arc::new(Notes::default());
        env.locals_mut().insert(notes.clone());
        notes
    }

    /// The request's notes, if an observing layer is outside.
    pub(crate) fn of(env: &Environ) -> Option<&Notes> {
        env.locals().get::<Notes>()
    }

    /// Records the verified user's id (the last one set wins, as the
    /// identity in the environ does).
    pub(crate) fn set_user(&self, id: &str) {
        let mut user = self.user.lock().unwrap_or_else(|e| e.into_inner());
        *user = Some(Arc::from(id));
    }

    /// The verified user's id, if one was recorded.
    pub(crate) fn user(&self) -> Option<Arc<str>> {
        self.user.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the route label; the first one set stays.
    pub(crate) fn set_route(&self, route: &'static str) {
        let _ = self.route.set(route);
    }

    /// Records the request id; the first one set stays. Ids longer than
    /// 128 bytes or not ASCII are not recorded (`RequestId` makes none).
    pub(crate) fn set_request_id(&self, id: &str) {
        if id.len() > ShortId::MAX || !id.is_ascii() {
            return;
        }
        let mut bytes = [0; ShortId::MAX];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        let _ = self.request_id.set(ShortId {
            len: id.len() as u8,
            bytes,
        });
    }

    /// The request id, if a `RequestId` layer set one.
    pub(crate) fn request_id(&self) -> Option<&str> {
        let id = self.request_id.get()?;
        // Only ASCII is ever stored.
        std::str::from_utf8(&id.bytes[..usize::from(id.len)]).ok()
    }

    /// The route label, if the application set one.
    pub(crate) fn route(&self) -> Option<&'static str> {
        self.route.get().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_core::Body;

    fn env() -> Environ {
        Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap())
    }

    #[test]
    fn one_record_per_request_shared_by_every_layer() {
        let mut env = env();
        assert!(Notes::of(&env).is_none());
        let outer = Notes::attach(&mut env);
        let inner = Notes::attach(&mut env);
        assert!(Arc::ptr_eq(&outer, &inner));
        Notes::of(&env).unwrap().set_user("ada");
        Notes::of(&env).unwrap().set_user("grace");
        Notes::of(&env).unwrap().set_route("/users/{id}");
        Notes::of(&env).unwrap().set_route("/other");
        assert_eq!(outer.user().as_deref(), Some("grace"));
        assert_eq!(outer.route(), Some("/users/{id}"));
        assert_eq!(outer.request_id(), None);
        inner.set_request_id("abc");
        inner.set_request_id("def");
        assert_eq!(outer.request_id(), Some("abc"));
    }

    #[test]
    fn request_ids_too_long_or_not_ascii_are_not_kept() {
        let notes = Notes::default();
        notes.set_request_id(&"a".repeat(129));
        notes.set_request_id("é");
        assert_eq!(notes.request_id(), None);
        notes.set_request_id(&"a".repeat(128));
        assert_eq!(notes.request_id().map(str::len), Some(128));
    }
}
