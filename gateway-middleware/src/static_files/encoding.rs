//! `Accept-Encoding` negotiation (RFC 9110 §12.5.3) for precompressed
//! siblings: `app.js.br`, `app.js.zst` and `app.js.gz` next to `app.js`.
//!
//! Nothing is compressed here; the question is only which existing file
//! to send. Parsing works on the header bytes in place and never
//! allocates, since it runs for every file served.

use http::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue};

use crate::header_list::{self, Elements, Quality, Quoting};

/// A content coding a file may be stored in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// The file itself, uncompressed.
    Identity,
    /// `br`, stored as `<file>.br`.
    Brotli,
    /// `zstd`, stored as `<file>.zst`.
    Zstd,
    /// `gzip`, stored as `<file>.gz`.
    Gzip,
}

impl Encoding {
    /// The suffix of the sibling file holding this coding; empty for
    /// identity.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Encoding::Identity => "",
            Encoding::Brotli => ".br",
            Encoding::Zstd => ".zst",
            Encoding::Gzip => ".gz",
        }
    }

    /// The `Content-Encoding` value to send; `None` for identity, which is
    /// never sent (RFC 9110 §8.4.1).
    pub(crate) fn content_encoding(self) -> Option<HeaderValue> {
        match self {
            Encoding::Identity => None,
            Encoding::Brotli => Some(HeaderValue::from_static("br")),
            Encoding::Zstd => Some(HeaderValue::from_static("zstd")),
            Encoding::Gzip => Some(HeaderValue::from_static("gzip")),
        }
    }
}

/// Which precompressed siblings exist (identity always does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Available {
    /// `<file>.br` exists.
    pub(crate) br: bool,
    /// `<file>.zst` exists.
    pub(crate) zstd: bool,
    /// `<file>.gz` exists.
    pub(crate) gzip: bool,
}

/// The weights a request gave, per coding this module knows; `None` where
/// the coding was not listed.
#[derive(Default)]
struct Weights {
    br: Option<Quality>,
    zstd: Option<Quality>,
    gzip: Option<Quality>,
    identity: Option<Quality>,
    any: Option<Quality>,
}

/// The best encoding for the request's `Accept-Encoding` field lines (all
/// of them, combined as one list).
///
/// - No `Accept-Encoding` field: identity (the client did not ask).
/// - A coding is acceptable when its weight, or else `*`'s, is above 0;
///   `x-gzip` is `gzip`. Elements with an invalid qvalue are ignored, as is
///   an unknown coding. A coding listed twice takes its highest weight.
/// - Among the available acceptable codings the highest weight wins; ties
///   go to the smaller file: br, then zstd, then gzip.
/// - Identity is acceptable by default, but ranks below any acceptable
///   coding unless it has a weight of its own (`identity;q=…`, or `*;q=…`
///   standing for it) above that coding's. An empty field value therefore
///   means identity.
/// - When nothing is acceptable — `identity;q=0`, or `*;q=0` without an
///   identity entry, and no available coding allowed — this is still
///   identity: like nginx, a file is sent unencoded rather than answered
///   406, which RFC 9110 permits ("the origin server SHOULD send a response
///   without any content coding").
pub(crate) fn negotiate(headers: &HeaderMap, available: Available) -> Encoding {
    // One lookup for both questions: is there a field, and what it says.
    let mut lines = headers.get_all(ACCEPT_ENCODING).iter().peekable();
    if lines.peek().is_none() {
        return Encoding::Identity;
    }
    let mut weights = Weights::default();
    for line in lines {
        for element in Elements::new(line.as_bytes(), Quoting::QuotedString) {
            weights.add(element);
        }
    }
    let mut best: Option<(Quality, Encoding)> = None;
    for (present, listed, encoding) in [
        (available.br, weights.br, Encoding::Brotli),
        (available.zstd, weights.zstd, Encoding::Zstd),
        (available.gzip, weights.gzip, Encoding::Gzip),
    ] {
        let q = listed.or(weights.any).unwrap_or(0);
        // Strictly greater: an earlier (preferred) coding keeps a tie.
        if present && q > 0 && best.is_none_or(|(best_q, _)| q > best_q) {
            best = Some((q, encoding));
        }
    }
    match best {
        Some((q, encoding)) if weights.identity.or(weights.any).is_none_or(|id| id <= q) => {
            encoding
        }
        _ => Encoding::Identity,
    }
}

impl Weights {
    /// Records one list element (`coding *( OWS ";" OWS param )`); an
    /// unknown coding or an invalid weight is ignored.
    fn add(&mut self, element: &[u8]) {
        let Some((coding, q)) = header_list::weighted(element) else {
            return;
        };
        let slot = if coding.eq_ignore_ascii_case(b"br") {
            &mut self.br
        } else if coding.eq_ignore_ascii_case(b"zstd") {
            &mut self.zstd
        } else if coding.eq_ignore_ascii_case(b"gzip") || coding.eq_ignore_ascii_case(b"x-gzip") {
            &mut self.gzip
        } else if coding.eq_ignore_ascii_case(b"identity") {
            &mut self.identity
        } else if coding == b"*" {
            &mut self.any
        } else {
            return;
        };
        *slot = Some(slot.map_or(q, |old| old.max(q)));
    }
}

#[cfg(test)]
mod tests;
