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
