//! [`CommitHints`]: what the driver must know of the request once the
//! environ has moved into the application.
//!
//! ```
//! use gateway_core::driver::CommitHints;
//! use gateway_core::http::{HeaderMap, Method, Version};
//!
//! let hints = CommitHints::from_head(&Method::HEAD, Version::HTTP_11, &HeaderMap::new());
//! assert!(hints.is_head() && !hints.is_upgrade());
//! ```

use http::header::UPGRADE;
use http::{HeaderMap, Method, Version};

use crate::environ_impl::Environ;

/// The commit hints from the request head: what the driver needs to know
/// about the request after the environ has been moved into the
/// application (whether it is HEAD, CONNECT, or an upgrade request).
///
/// [`commit`](super::commit) reads them itself; an adapter needs them to
/// answer a request without the application
/// ([`error_response`](super::error_response)) and to frame the response
/// (no body for HEAD).
#[derive(Clone, Copy, Debug)]
pub struct CommitHints {
    pub(super) head: bool,
    pub(super) connect: bool,
    pub(super) upgrade: bool,
}

impl CommitHints {
    /// Reads the hints from an environ.
    #[inline]
    pub fn of(env: &Environ) -> CommitHints {
        CommitHints::from_head(env.method(), env.version(), env.headers())
    }

    /// Reads the hints from a request head.
    #[inline]
    pub fn from_head(method: &Method, version: Version, headers: &HeaderMap) -> CommitHints {
        CommitHints {
            head: *method == Method::HEAD,
            connect: *method == Method::CONNECT,
            // A scan beats a hash lookup for the dozen headers of a typical
            // request, and this runs for every request.
            upgrade: version == Version::HTTP_11 && headers.keys().any(|k| k == UPGRADE),
        }
    }

    /// The hints from what an adapter already knows: the method, and
    /// whether the request is HTTP/1.1 with an `Upgrade` header.
    #[inline]
    pub(crate) fn new(method: &Method, upgrade: bool) -> CommitHints {
        CommitHints {
            head: *method == Method::HEAD,
            connect: *method == Method::CONNECT,
            upgrade,
        }
    }

    /// Whether the request is HEAD.
    pub fn is_head(&self) -> bool {
        self.head
    }

    /// Whether the request is CONNECT.
    pub fn is_connect(&self) -> bool {
        self.connect
    }

    /// Whether the request asks for a protocol upgrade (HTTP/1.1 with
    /// `Upgrade`), the only case in which a 101 may answer it.
    pub fn is_upgrade(&self) -> bool {
        self.upgrade
    }
}
