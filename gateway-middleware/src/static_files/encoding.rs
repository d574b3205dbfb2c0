//! `Accept-Encoding` negotiation (RFC 9110 §12.5.3) for precompressed
//! siblings: `app.js.br`, `app.js.zst` and `app.js.gz` next to `app.js`.
//!
//! Nothing is compressed here; the question is only which existing file
//! to send. Parsing works on the header bytes in place and never
//! allocates, since it runs for every file served.

use http::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue};

use crate::header_list::{self, Quality, Quoting};

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
    if !headers.contains_key(ACCEPT_ENCODING) {
        return Encoding::Identity;
    }
    let mut weights = Weights::default();
    for element in
        header_list::all_elements(headers.get_all(ACCEPT_ENCODING), Quoting::QuotedString)
    {
        weights.add(element);
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
mod tests {
    use super::*;

    const ALL: Available = Available {
        br: true,
        zstd: true,
        gzip: true,
    };
    const GZIP: Available = Available {
        br: false,
        zstd: false,
        gzip: true,
    };
    const NONE: Available = Available {
        br: false,
        zstd: false,
        gzip: false,
    };

    fn pick(lines: &[&str], available: Available) -> Encoding {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(line).unwrap());
        }
        negotiate(&headers, available)
    }

    #[test]
    fn names_and_extensions() {
        assert_eq!(Encoding::Identity.extension(), "");
        assert_eq!(Encoding::Brotli.extension(), ".br");
        assert_eq!(Encoding::Zstd.extension(), ".zst");
        assert_eq!(Encoding::Gzip.extension(), ".gz");
        assert_eq!(Encoding::Identity.content_encoding(), None);
        assert_eq!(Encoding::Brotli.content_encoding().unwrap(), "br");
        assert_eq!(Encoding::Zstd.content_encoding().unwrap(), "zstd");
        assert_eq!(Encoding::Gzip.content_encoding().unwrap(), "gzip");
    }

    #[test]
    fn no_field_is_identity() {
        assert_eq!(negotiate(&HeaderMap::new(), ALL), Encoding::Identity);
    }

    #[test]
    fn empty_field_is_identity_only() {
        assert_eq!(pick(&[""], ALL), Encoding::Identity);
        assert_eq!(pick(&[" , ,"], ALL), Encoding::Identity);
    }

    #[test]
    fn preference_breaks_ties() {
        assert_eq!(pick(&["gzip, deflate, br, zstd"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["gzip, zstd"], ALL), Encoding::Zstd);
        assert_eq!(pick(&["gzip, br"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["gzip, identity"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["br"], NONE), Encoding::Identity);
    }

    #[test]
    fn unlisted_codings_are_not_acceptable() {
        assert_eq!(pick(&["deflate"], ALL), Encoding::Identity);
        let br_gz = Available {
            br: true,
            zstd: false,
            gzip: true,
        };
        assert_eq!(pick(&["gzip"], br_gz), Encoding::Gzip);
    }

    #[test]
    fn highest_weight_wins() {
        assert_eq!(pick(&["br;q=0.5, gzip"], ALL), Encoding::Gzip);
        assert_eq!(pick(&["br;q=0.5, gzip;q=0.4"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["br;q=0.501, zstd;q=0.5"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["br;q=0.5, zstd;q=0.501"], ALL), Encoding::Zstd);
        assert_eq!(pick(&["gzip;q=0.001"], ALL), Encoding::Gzip);
    }

    #[test]
    fn q_zero_excludes() {
        assert_eq!(pick(&["gzip;q=0"], GZIP), Encoding::Identity);
        assert_eq!(pick(&["br;q=0, gzip"], ALL), Encoding::Gzip);
        assert_eq!(
            pick(&["br;q=0.000, zstd;q=0, gzip;q=0.0"], ALL),
            Encoding::Identity
        );
    }

    #[test]
    fn parameters_are_case_insensitive_with_whitespace() {
        assert_eq!(pick(&["br;Q=0.5, gzip"], ALL), Encoding::Gzip);
        assert_eq!(
            pick(&["br ; q=0.5 ,\tgzip ;\tq=1.000"], ALL),
            Encoding::Gzip
        );
        assert_eq!(pick(&["BR, GZIP"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["X-GZIP"], ALL), Encoding::Gzip);
        assert_eq!(pick(&["Gzip;Q=0"], GZIP), Encoding::Identity);
    }

    #[test]
    fn invalid_weight_ignores_the_element() {
        assert_eq!(pick(&["br;q=2, gzip;q=0.1"], ALL), Encoding::Gzip);
        assert_eq!(pick(&["br;q=abc"], ALL), Encoding::Identity);
        assert_eq!(pick(&["gzip;q=0.5;q=x"], GZIP), Encoding::Identity);
        // Other parameters are not weights.
        assert_eq!(pick(&["gzip;level=1"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["gzip;foo"], GZIP), Encoding::Gzip);
    }

    #[test]
    fn x_gzip_is_gzip() {
        assert_eq!(pick(&["x-gzip"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["x-gzip;q=0, gzip"], GZIP), Encoding::Gzip);
    }

    #[test]
    fn star_covers_unlisted_codings() {
        assert_eq!(pick(&["*"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["*"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["br;q=0, *"], ALL), Encoding::Zstd);
        assert_eq!(pick(&["gzip;q=0.2, *;q=0.5"], GZIP), Encoding::Identity);
        assert_eq!(pick(&["gzip;q=0.5, *;q=0.2"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["*;q=0.5"], GZIP), Encoding::Gzip);
    }

    #[test]
    fn star_q_zero() {
        // Nothing acceptable at all: identity anyway.
        assert_eq!(pick(&["*;q=0"], ALL), Encoding::Identity);
        assert_eq!(pick(&["*;q=0, gzip"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["*;q=0, identity"], GZIP), Encoding::Identity);
    }

    #[test]
    fn identity_weight() {
        assert_eq!(pick(&["identity;q=0"], NONE), Encoding::Identity);
        assert_eq!(pick(&["identity;q=0, gzip;q=0.1"], GZIP), Encoding::Gzip);
        assert_eq!(pick(&["identity, gzip;q=0.5"], GZIP), Encoding::Identity);
        assert_eq!(pick(&["identity;q=0.5, gzip;q=0.5"], GZIP), Encoding::Gzip);
        // Unlisted identity ranks below any acceptable coding.
        assert_eq!(pick(&["gzip;q=0.1"], GZIP), Encoding::Gzip);
    }

    #[test]
    fn field_lines_combine() {
        assert_eq!(pick(&["gzip", "br"], ALL), Encoding::Brotli);
        assert_eq!(pick(&["br;q=0.1", "gzip"], ALL), Encoding::Gzip);
        assert_eq!(pick(&["", "gzip"], GZIP), Encoding::Gzip);
        assert_eq!(
            pick(&["gzip", "identity;q=1, gzip;q=0.5"], GZIP),
            Encoding::Gzip
        );
        assert_eq!(pick(&["*;q=0", "identity"], ALL), Encoding::Identity);
    }

    #[test]
    fn odd_bytes_do_not_break_parsing() {
        let mut headers = HeaderMap::new();
        headers.append(
            ACCEPT_ENCODING,
            HeaderValue::from_bytes(b"\xff\xfe, gzip").unwrap(),
        );
        assert_eq!(negotiate(&headers, GZIP), Encoding::Gzip);
    }
}
