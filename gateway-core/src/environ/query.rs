//! [`QueryPairs`]: the decoded pairs of a query string, what
//! [`Environ::query_pairs`](crate::Environ::query_pairs) returns.
//!
//! ```
//! use gateway_core::{Body, Environ};
//!
//! let env = Environ::from_request(http::Request::get("/?tag=a&tag=b%20c").body(Body::empty()).unwrap());
//! let tags: Vec<_> = env.query_pairs().filter(|(k, _)| k == "tag").map(|(_, v)| v).collect();
//! assert_eq!(tags, ["a", "b c"]);
//! ```

use std::borrow::Cow;
use std::fmt;

/// The `application/x-www-form-urlencoded` pairs of a query string,
/// decoded lazily as the iterator advances: `+` is a space, escapes are
/// decoded, and each name and value borrows from the query unless there
/// was something to decode.
///
/// Decoding never fails. What the client sent badly is read as the WHATWG
/// URL standard's urlencoded parser (and so every browser) reads it:
/// bytes that are not UTF-8 become U+FFFD, and a `%` that does not start
/// an escape stays a `%`. Use [`Environ::query`](crate::Environ::query)
/// for the raw bytes.
///
/// ```
/// use gateway_core::{Body, Environ};
///
/// let env = Environ::from_request(http::Request::get("/?q=%FF&r=50%").body(Body::empty()).unwrap());
/// let pairs: Vec<_> = env.query_pairs().collect();
/// assert_eq!(pairs, [("q".into(), "\u{FFFD}".into()), ("r".into(), "50%".into())]);
/// ```
#[derive(Clone)]
pub struct QueryPairs<'a> {
    query: &'a str,
    pairs: form_urlencoded::Parse<'a>,
}

impl<'a> QueryPairs<'a> {
    pub(super) fn new(query: &'a str) -> QueryPairs<'a> {
        QueryPairs {
            query,
            pairs: form_urlencoded::parse(query.as_bytes()),
        }
    }
}

impl<'a> Iterator for QueryPairs<'a> {
    type Item = (Cow<'a, str>, Cow<'a, str>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.pairs.next()
    }
}

impl fmt::Debug for QueryPairs<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryPairs")
            .field("query", &self.query)
            .finish_non_exhaustive()
    }
}
