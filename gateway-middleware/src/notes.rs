//! What inner layers learn about a request, for the layers outside them
//! that log or count it (`AccessLog`, `Metrics`, `RequestId`).
//!
//! ```text
//! // In an outer middleware (crate-private: not a doctest), before
//! // calling the application:
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
use std::time::Instant;

use gateway_core::{Environ, Error};
use http::{HeaderValue, StatusCode};

/// The shared record of one request; see the module docs.
#[derive(Debug)]
pub(crate) struct Notes {
    /// When the first observing layer saw the request: the one clock
    /// reading the layers' durations all start from.
    start: Instant,
    /// The verified identity's user id, when a layer inside verified one.
    user: Mutex<Option<Arc<str>>>,
    /// The route label the application chose (bounded cardinality).
    route: OnceLock<&'static str>,
    /// The request's id when `RequestId` made the notes (no
    /// synchronisation: set before they are shared): the value it also
    /// puts on the response (a clone shares its bytes).
    first_id: Option<PlainId>,
    /// The request's id when `RequestId` came after another layer made
    /// the notes.
    late_id: OnceLock<PlainId>,
}

/// A request id known to match `[A-Za-z0-9._:-]{1,128}`: checked, or
/// made of hex digits here. Nothing in it needs escaping, in a header, a
/// log line of any format or JSON, so it is written as it is.
#[derive(Clone, Debug)]
pub(crate) struct PlainId(HeaderValue);

impl PlainId {
    /// `value`, if it matches `[A-Za-z0-9._:-]{1,128}`.
    pub(crate) fn checked(value: &HeaderValue) -> Option<PlainId> {
        is_plain(value.as_bytes()).then(|| PlainId(value.clone()))
    }

    /// `n` as 32 lowercase hex digits, in one allocation shared by every
    /// clone.
    pub(crate) fn hex(n: u128) -> PlainId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 32];
        for (pair, byte) in out.chunks_exact_mut(2).zip(n.to_be_bytes()) {
            pair[0] = HEX[usize::from(byte >> 4)];
            pair[1] = HEX[usize::from(byte & 0xf)];
        }
        let bytes = bytes::Bytes::from_owner(out);
        // 32 hex digits: always a valid value (and "-" is plain too).
        PlainId(
            HeaderValue::from_maybe_shared(bytes).unwrap_or_else(|_| HeaderValue::from_static("-")),
        )
    }

    /// The id as the header value it is sent as.
    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// The id's bytes: ASCII from the allowlist.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The id as text.
    pub(crate) fn as_str(&self) -> &str {
        // ASCII only (UTF-8's check is the faster); never "-" in fact.
        std::str::from_utf8(self.0.as_bytes()).unwrap_or("-")
    }
}

/// `[A-Za-z0-9._:-]{1,128}`.
pub(crate) fn is_plain(value: &[u8]) -> bool {
    (1..=128).contains(&value.len())
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

impl Notes {
    /// Notes for a request seen now.
    fn new(first_id: Option<PlainId>) -> Notes {
        Notes {
            start: Instant::now(),
            user: Mutex::new(None),
            route: OnceLock::new(),
            first_id,
            late_id: OnceLock::new(),
        }
    }

    /// The request's notes, put in its locals by the first layer that
    /// asks.
    pub(crate) fn attach(env: &mut Environ) -> Arc<Notes> {
        if let Some(notes) = env.locals().get_arc::<Notes>() {
            return notes;
        }
        let notes = Arc::new(Notes::new(None));
        env.locals_mut().insert(notes.clone());
        notes
    }

    /// [`attach`](Notes::attach) and
    /// [`set_request_id`](Notes::set_request_id) at once: notes made here
    /// get the id as they are made (no synchronisation).
    pub(crate) fn attach_with_request_id(env: &mut Environ, id: &PlainId) -> Arc<Notes> {
        if let Some(notes) = env.locals().get_arc::<Notes>() {
            notes.set_request_id(id.clone());
            return notes;
        }
        let notes = Arc::new(Notes::new(Some(id.clone())));
        env.locals_mut().insert(notes.clone());
        notes
    }

    /// The request's notes, if an observing layer is outside.
    pub(crate) fn of(env: &Environ) -> Option<&Notes> {
        env.locals().get::<Notes>()
    }

    /// When the first observing layer saw the request.
    pub(crate) fn start(&self) -> Instant {
        self.start
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

    /// Records the request id; the first one set stays.
    pub(crate) fn set_request_id(&self, id: PlainId) {
        if self.first_id.is_none() {
            let _ = self.late_id.set(id);
        }
    }

    /// The request id, if a `RequestId` layer set one.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.plain_request_id().map(PlainId::as_str)
    }

    /// The request id as it was set, if a `RequestId` layer set one.
    pub(crate) fn plain_request_id(&self) -> Option<&PlainId> {
        self.first_id.as_ref().or_else(|| self.late_id.get())
    }

    /// The route label, if the application set one.
    pub(crate) fn route(&self) -> Option<&'static str> {
        self.route.get().copied()
    }
}

/// The status and body length of the page the driver answers `err` with
/// (its rule 1), for a request whose method was `HEAD` when `head` is
/// true: what the client gets when an `Err` (or a panic, as an error with
/// status 500) leaves the stack untouched.
#[cold]
pub(crate) fn driver_page(err: &Error, head: bool) -> (StatusCode, u64) {
    let status = gateway_core::driver::error_status(err);
    (status, gateway_core::driver::error_page_len(status, head))
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
        inner.set_request_id(plain("abc"));
        inner.set_request_id(plain("def"));
        assert_eq!(outer.request_id(), Some("abc"));
        let again = Notes::attach_with_request_id(&mut env, &plain("ghi"));
        assert!(Arc::ptr_eq(&outer, &again));
        assert_eq!(again.request_id(), Some("abc"));
        let mut fresh = super::tests::env();
        let made = Notes::attach_with_request_id(&mut fresh, &plain("jkl"));
        assert_eq!(Notes::of(&fresh).unwrap().request_id(), Some("jkl"));
        assert_eq!(made.request_id(), Some("jkl"));
    }

    #[test]
    fn the_driver_page_of_an_error() {
        let busy = Error::with_status(StatusCode::SERVICE_UNAVAILABLE, "x");
        assert_eq!(
            driver_page(&busy, false),
            (StatusCode::SERVICE_UNAVAILABLE, 19)
        );
        assert_eq!(
            driver_page(&busy, true),
            (StatusCode::SERVICE_UNAVAILABLE, 0)
        );
        let odd = Error::with_status(StatusCode::OK, "x");
        assert_eq!(
            driver_page(&odd, false),
            (StatusCode::INTERNAL_SERVER_ERROR, 21)
        );
    }

    fn plain(s: &str) -> PlainId {
        PlainId::checked(&HeaderValue::from_str(s).unwrap()).unwrap()
    }

    #[test]
    fn plain_ids_are_the_allowlist() {
        let id = |s: &str| PlainId::checked(&HeaderValue::from_bytes(s.as_bytes()).unwrap());
        for ok in ["a", "A-z_0.9:x", &"a".repeat(128)] {
            assert_eq!(id(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "",
            "a b",
            "a\"",
            "a\\b",
            "é",
            "a/b",
            "a\tb",
            &"a".repeat(129),
        ] {
            assert!(id(bad).is_none(), "{bad:?}");
        }
        let made = PlainId::hex(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
        assert_eq!(made.as_str(), "0123456789abcdef0011223344556677");
        assert!(is_plain(made.as_bytes()));
        assert_eq!(made.header_value(), "0123456789abcdef0011223344556677");
    }
}
