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

    /// The entity tag: size, modification time in nanoseconds and inode,
    /// in hex.
    ///
    /// It is strong only when the file system keeps sub-second times and
    /// the file was last changed at least a second before `now`: a file
    /// rewritten twice within its time stamp's resolution, with the same
    /// size and inode, would otherwise keep one strong tag for two
    /// contents. Otherwise it is weak (`W/`), which conditional GETs still
    /// match but `If-Match` and `If-Range` do not.
    pub(super) fn etag(&self, now: SystemTime) -> HeaderValue {
        let since = self.mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
        let settled = crate::conditional::is_strong_last_modified(self.mtime, now);
        let fine_grained = since.subsec_nanos() != 0;
        let weak = if fine_grained && settled { "" } else { "W/" };
        let tag = format!(
            "{weak}\"{:x}-{:x}-{:x}\"",
            self.len,
            since.as_nanos(),
            self.inode
        );
        HeaderValue::try_from(tag).expect("hex digits and quotes are a valid header value")
    }

    /// `Last-Modified`, at the one-second precision of HTTP dates.
    pub(super) fn last_modified(&self) -> HeaderValue {
        HeaderValue::try_from(httpdate::fmt_http_date(self.mtime))
            .expect("an HTTP date is a valid header value")
    }
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
    fn etags_are_strong_only_for_settled_fine_grained_times() {
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
            format!("\"400-{:x}-2a\"", 1_700_000_000_000_000_123u128).as_str()
        );
        assert!(
            stamp.etag(mtime).as_bytes().starts_with(b"W/"),
            "changed just now"
        );
        let coarse = Stamp {
            mtime: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            ..stamp
        };
        assert!(
            coarse.etag(later).as_bytes().starts_with(b"W/"),
            "whole seconds"
        );
        let other = Stamp { len: 1025, ..stamp };
        assert_ne!(other.etag(later), tag);
        let moved = Stamp { inode: 43, ..stamp };
        assert_ne!(moved.etag(later), tag);
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
