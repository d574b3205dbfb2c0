//! Header values computed once per file: content type, cache policy,
//! validators.

use std::fs::Metadata;
use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;

/// `Content-Type` for a file name, from `mime_guess`'s table (the Apache
/// and nginx `mime.types` lineage): `charset=utf-8` on text types, and
/// `application/octet-stream` when the extension is unknown.
pub(super) fn content_type(name: &str) -> HeaderValue {
    let Some(mime) = mime_guess::from_path(name).first_raw() else {
        return HeaderValue::from_static("application/octet-stream");
    };
    if is_text(mime) {
        HeaderValue::try_from(format!("{mime}; charset=utf-8"))
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    } else {
        HeaderValue::from_static(mime)
    }
}

/// Types whose content is text, so a browser needs the charset.
fn is_text(mime: &str) -> bool {
    mime.starts_with("text/")
        || matches!(
            mime,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/xhtml+xml"
                | "application/manifest+json"
                | "image/svg+xml"
        )
}

/// Whether a content type is HTML, which revalidates by default.
pub(super) fn is_html(content_type: &HeaderValue) -> bool {
    let v = content_type.as_bytes();
    v.starts_with(b"text/html") || v.starts_with(b"application/xhtml+xml")
}

/// Whether a file name carries a content fingerprint, so its content can
/// never change under that name: a `.`- or `-`-separated part of the name
/// before the extension made of 8 to 64 hexadecimal digits, letters and
/// digits both (`app.3f2a9c1e.js`, `logo-0123abcd.svg`, webpack's and
/// Django's `ManifestStaticFilesStorage` shapes; a hash without a letter
/// or a digit is rare enough to leave to the default `Cache-Control`).
pub(super) fn is_fingerprinted(name: &str) -> bool {
    let Some((stem, _ext)) = name.rsplit_once('.') else {
        return false;
    };
    // Both a digit and a letter: a date (`report-20240131.pdf`) or a
    // number is not a fingerprint, and must not be cached for a year.
    stem.split(['.', '-']).skip(1).any(|part| {
        (8..=64).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_hexdigit())
            && part.bytes().any(|b| b.is_ascii_digit())
            && part.bytes().any(|b| b.is_ascii_alphabetic())
    })
}

/// What identifies one version of a file on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    pub(super) len: u64,
    pub(super) mtime: SystemTime,
    pub(super) inode: u64,
    pub(super) device: u64,
}

impl Stamp {
    pub(super) fn of(meta: &Metadata) -> Stamp {
        #[cfg(unix)]
        let (inode, device) = {
            use std::os::unix::fs::MetadataExt;
            (meta.ino(), meta.dev())
        };
        #[cfg(not(unix))]
        let (inode, device) = (0, 0);
        Stamp {
            len: meta.len(),
            mtime: meta.modified().unwrap_or(UNIX_EPOCH),
            inode,
            device,
        }
    }

    /// The entity tag of a file streamed from disk: its size and
    /// modification time in nanoseconds, in hex — the same on every
    /// machine that has the file with that time stamp (no inode, which
    /// differs between copies).
    ///
    /// Strong once the file had not changed for a second at `now`, the
    /// time it is looked at: any later write gives it a later
    /// modification time, even on a file system that keeps whole seconds,
    /// so one tag cannot name two contents. Weak (`W/`) before that, when
    /// a second write within the time stamp's resolution could go
    /// unnoticed; conditional GETs still match a weak tag, `If-Match` and
    /// `If-Range` do not. An entry whose tag was weak is reloaded once the
    /// file settles (see `cache::still_valid`).
    pub(super) fn etag(&self, now: SystemTime) -> HeaderValue {
        let since = self.mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
        let settled = crate::conditional::is_strong_last_modified(self.mtime, now);
        let weak = if settled { "" } else { "W/" };
        let tag = format!("{weak}\"{:x}-{:x}\"", self.len, since.as_nanos());
        HeaderValue::try_from(tag).expect("hex digits and quotes are a valid header value")
    }

    /// `Last-Modified`, at the one-second precision of HTTP dates.
    pub(super) fn last_modified(&self) -> HeaderValue {
        HeaderValue::try_from(httpdate::fmt_http_date(self.mtime))
            .expect("an HTTP date is a valid header value")
    }
}

/// The entity tag of content held in memory: its length and its 64-bit
/// FNV-1a hash, in hex. Strong at once, since it names exactly these
/// bytes, and the same wherever the same bytes are served.
///
/// FNV-1a rather than a cryptographic hash: it needs no dependency, its
/// value is fixed by its specification (std's `DefaultHasher` may change
/// between Rust releases, which would change every tag after an
/// upgrade), and it runs once per load on the blocking pool. Tags are
/// compared only between versions of one file, which nobody crafts to
/// collide; with the length in the tag, two versions share a tag with a
/// chance of about 2^-64.
pub(super) fn content_etag(content: &[u8]) -> HeaderValue {
    let mut hash = super::fnv::Fnv::default();
    std::hash::Hasher::write(&mut hash, content);
    let tag = format!(
        "\"{:x}-{:016x}\"",
        content.len(),
        std::hash::Hasher::finish(&hash)
    );
    HeaderValue::try_from(tag).expect("hex digits and quotes are a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn content_types_carry_a_charset_for_text() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("data.json"), "application/json; charset=utf-8");
        assert_eq!(content_type("logo.svg"), "image/svg+xml; charset=utf-8");
        assert_eq!(content_type("photo.PNG"), "image/png");
        assert_eq!(content_type("blob.unknownext"), "application/octet-stream");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    #[test]
    fn fingerprints_are_hex_parts_before_the_extension() {
        assert!(is_fingerprinted("app.3f2a9c1e.js"));
        assert!(is_fingerprinted("logo-0123abcd.svg"));
        assert!(is_fingerprinted(
            "chunk.0123456789abcdef0123456789abcdef.css"
        ));
        assert!(!is_fingerprinted("app.js"));
        assert!(
            !is_fingerprinted("3f2a9c1e.js"),
            "the whole stem is a name, not a fingerprint"
        );
        assert!(!is_fingerprinted("app.3f2a9c1.js"), "seven digits");
        assert!(!is_fingerprinted("app.settings.js"));
        assert!(!is_fingerprinted("jquery-3.7.1.min.js"));
        assert!(!is_fingerprinted("app.3f2a9c1e"), "no extension");
        assert!(!is_fingerprinted("report-20240131.pdf"), "a date");
        assert!(!is_fingerprinted("invoice.12345678.pdf"), "a number");
        assert!(!is_fingerprinted("app.deadbeef.js"), "letters only");
    }

    #[test]
    fn stream_etags_are_size_and_time_strong_once_settled() {
        let mtime = UNIX_EPOCH + Duration::new(1_700_000_000, 123);
        let stamp = Stamp {
            len: 1024,
            mtime,
            inode: 42,
            device: 1,
        };
        let later = mtime + Duration::from_secs(5);
        let tag = stamp.etag(later);
        assert_eq!(
            tag,
            format!("\"400-{:x}\"", 1_700_000_000_000_000_123u128).as_str()
        );
        assert!(
            stamp.etag(mtime).as_bytes().starts_with(b"W/"),
            "changed just now"
        );
        assert!(
            stamp
                .etag(mtime + Duration::from_millis(999))
                .as_bytes()
                .starts_with(b"W/"),
            "not a second ago"
        );
        let coarse = Stamp {
            mtime: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ..stamp
        };
        assert!(
            !coarse.etag(later).as_bytes().starts_with(b"W/"),
            "whole seconds, settled: strong"
        );
        let other = Stamp { len: 1025, ..stamp };
        assert_ne!(other.etag(later), tag);
        let touched = Stamp {
            mtime: mtime + Duration::from_nanos(1),
            ..stamp
        };
        assert_ne!(touched.etag(later), tag);
        // Another copy of the file, another inode and device: the same tag.
        let copy = Stamp {
            inode: 43,
            device: 2,
            ..stamp
        };
        assert_eq!(copy.etag(later), tag);
    }

    #[test]
    fn content_etags_name_the_bytes() {
        assert_eq!(content_etag(b""), "\"0-cbf29ce484222325\"");
        assert_eq!(content_etag(b"foobar"), "\"6-85944171f73967e8\"");
        assert_eq!(content_etag(b"foobar"), content_etag(b"foobar"));
        assert_ne!(content_etag(b"foobar"), content_etag(b"foobaz"));
        assert_ne!(content_etag(b"foobar"), content_etag(b"foobar\0"));
    }

    #[test]
    fn last_modified_is_an_http_date() {
        let stamp = Stamp {
            len: 0,
            mtime: UNIX_EPOCH + Duration::new(784_111_777, 999),
            inode: 0,
            device: 0,
        };
        assert_eq!(stamp.last_modified(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }
}
