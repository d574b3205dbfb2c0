//! From a request's raw `path_info` to a file under the root, proving on
//! the way that nothing outside the root is ever read.
//!
//! Two steps, so the cheap one runs on every request and the system calls
//! only on the blocking pool:
//!
//! 1. [`parse`] (pure, no allocation unless the path holds a `%`): decodes
//!    the path once and refuses every form that could name something other
//!    than the obvious file — dot segments, encoded separators, double
//!    encoding, control characters, Windows drive letters, streams and
//!    device names, names Windows would silently trim. What survives is
//!    relative, `/`-separated and free of `.`, `..` and empty segments, so
//!    joining it under the root cannot climb out *lexically*.
//! 2. [`resolve`] (blocking): joins it under the root and canonicalizes it,
//!    so a symbolic link anywhere along the path that leads out of the root
//!    is refused too (unless the owner opted in).
//!
//! # 400 or 404
//!
//! A path is **400 Bad Request** when it is malformed or ambiguous — its
//! meaning depends on who decodes or normalizes it, and no browser sends
//! it: invalid or double percent-encoding, an encoded `/` or `\`, a raw
//! `\`, a control character, invalid UTF-8, a `.` or `..` segment, an empty
//! segment (`//`). It is **404 Not Found** when it is well-formed but names
//! something this server never serves: a dotfile (unless enabled), a name
//! with `:` (drive letters, NTFS streams), a Windows device name, a name
//! ending in `.` or space, a name too long for any file system. A 404 says
//! nothing about whether such a file exists. When a path breaks rules of
//! both kinds it is a 400, whatever the order of its segments.

use std::borrow::Cow;
use std::io;
use std::path::{Path, PathBuf};

/// Why a request path is refused; see the [module docs](self) for which
/// rule gives which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathError {
    /// Malformed or ambiguous: answered 400.
    BadRequest,
    /// Well-formed, but never served: answered 404 (or passed on by the
    /// middleware, like any other miss).
    NotFound,
}

/// A request path proven safe to join under the root: percent-decoded
/// once, relative (no leading `/`), `/`-separated, with no empty, `.` or
/// `..` segments. Only [`parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SafePath<'a> {
    /// Borrowed from `path_info` unless decoding changed it.
    rel: Cow<'a, str>,
    /// The request path ended with `/` (or was empty).
    dir: bool,
}

impl SafePath<'_> {
    /// The relative path, without a leading or trailing `/`; empty for the
    /// root itself.
    pub(crate) fn as_str(&self) -> &str {
        &self.rel
    }

    /// Whether the request named a directory: its path ended with `/` or
    /// was empty (the root). A file requested this way is a miss, as on
    /// nginx.
    pub(crate) fn is_dir_request(&self) -> bool {
        self.dir
    }
}

/// The longest single name accepted (bytes): `NAME_MAX` on Linux, the
/// component limit of ext4, XFS, APFS and NTFS. Longer names are a 404
/// here rather than an `ENAMETOOLONG` the caller would have to classify.
const NAME_MAX: usize = 255;

/// The longest joined path [`resolve`] hands to the file system (bytes):
/// `PATH_MAX` on Linux, the smaller one elsewhere (macOS, the BSDs).
const PATH_MAX: usize = if cfg!(target_os = "linux") {
    4095
} else {
    1023
};

/// Checks and decodes `path_info` (raw, percent-encoded, empty or starting
/// with `/`). See the [module docs](self) for the rules and which status
/// each gives; dotfiles (a segment starting with `.`) are a 404 unless
/// `dotfiles` is true, while `.` and `..` are always a 400.
///
/// Runs on every request: it borrows from `path_info` and allocates only
/// when there is a `%` to decode.
pub(crate) fn parse(path_info: &str, dotfiles: bool) -> Result<SafePath<'_>, PathError> {
    let rel = match path_info.strip_prefix('/') {
        Some(rel) => rel,
        None if path_info.is_empty() => "",
        // `*` (OPTIONS *) or anything else not below the mount point.
        None => return Err(PathError::BadRequest),
    };
    if rel.is_empty() {
        return Ok(SafePath {
            rel: Cow::Borrowed(rel),
            dir: true,
        });
    }
    let (rel, dir) = match rel.strip_suffix('/') {
        Some(rel) => (rel, true),
        None => (rel, false),
    };
    if is_plain(rel) {
        return Ok(SafePath {
            rel: Cow::Borrowed(rel),
            dir,
        });
    }
    let rel = if rel.contains('%') {
        check_escapes(rel)?;
        // No `%2F` survived `check_escapes`, so decoding cannot create a
        // separator: the decoded segments are the raw ones, decoded.
        match percent_encoding::percent_decode_str(rel).decode_utf8() {
            Ok(decoded) => decoded,
            Err(_) => return Err(PathError::BadRequest),
        }
    } else {
        Cow::Borrowed(rel)
    };
    // The root was answered above, so an empty `rel` here came from `//`
    // and is refused as an empty segment.
    check_segments(&rel, dotfiles)?;
    Ok(SafePath { rel, dir })
}

/// The bytes of a plain name: ASCII letters, digits, `-`, `_`, `.`, `~`.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] =
            matches!(b as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~');
        b += 1;
    }
    table
};

/// The fast path for the paths real sites serve (`css/site.3f2a9c1e.css`):
/// plain bytes only (so nothing to decode), every segment non-empty, not
/// starting or ending with `.` (so no `.`, `..` or dotfile), not too long
/// and not a device name. Anything else takes the full checks, which this
/// must never accept more than (a test holds them to it).
fn is_plain(rel: &str) -> bool {
    let bytes = rel.as_bytes();
    let mut start = 0;
    for i in 0..=bytes.len() {
        if i < bytes.len() && bytes[i] != b'/' {
            if !PLAIN[bytes[i] as usize] {
                return false;
            }
            continue;
        }
        let segment = &bytes[start..i];
        match (segment.first(), segment.last()) {
            (Some(&first), Some(&last)) if first != b'.' && last != b'.' => {}
            _ => return false,
        }
        if segment.len() > NAME_MAX
            || (matches!(first_lower(segment), b'a' | b'c' | b'l' | b'n' | b'p')
                && is_windows_device(&rel[start..i]))
        {
            return false;
        }
        start = i + 1;
    }
    true
}

fn first_lower(segment: &[u8]) -> u8 {
    segment.first().map_or(0, u8::to_ascii_lowercase)
}

/// Every `%` starts a valid escape, and none encodes a separator (`%2F`,
/// `%5C`): decoding one would merge two names into one segment, or split
/// one. Checked on the raw path, before decoding.
fn check_escapes(raw: &str) -> Result<(), PathError> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'%') {
        let at = i + offset;
        let (Some(&hi), Some(&lo)) = (bytes.get(at + 1), bytes.get(at + 2)) else {
            return Err(PathError::BadRequest);
        };
        let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) else {
            return Err(PathError::BadRequest);
        };
        if matches!(hi << 4 | lo, b'/' | b'\\') {
            return Err(PathError::BadRequest);
        }
        i = at + 3;
    }
    Ok(())
}

/// The value of one hex digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Applies the segment rules to the decoded, non-empty relative path. A
/// 400 anywhere wins over a 404 earlier on, so the status does not depend
/// on the order of segments.
fn check_segments(rel: &str, dotfiles: bool) -> Result<(), PathError> {
    let mut refused = None;
    for segment in rel.split('/') {
        match check_segment(segment, dotfiles) {
            Ok(()) => {}
            Err(PathError::BadRequest) => return Err(PathError::BadRequest),
            Err(PathError::NotFound) => refused = Some(PathError::NotFound),
        }
    }
    match refused {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// The rules for one decoded segment; 400 rules first.
fn check_segment(segment: &str, dotfiles: bool) -> Result<(), PathError> {
    // `//` (an absolute path once joined), `.` and `..`.
    if matches!(segment, "" | "." | "..") {
        return Err(PathError::BadRequest);
    }
    // `\` is a separator on Windows; controls (NUL ends a C string, C1
    // included) are never part of a name worth serving.
    if segment.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(PathError::BadRequest);
    }
    // Still encoded after one decode: something downstream that decodes
    // again would see a dot, a separator or another escape.
    if segment.contains('%') && is_double_encoded(segment) {
        return Err(PathError::BadRequest);
    }
    if segment.len() > NAME_MAX {
        return Err(PathError::NotFound);
    }
    // Drive letters (`C:`), NTFS alternate data streams (`a::$DATA`).
    if segment.contains(':') {
        return Err(PathError::NotFound);
    }
    // Windows trims trailing dots and spaces: `a.txt.` would open `a.txt`.
    if segment.ends_with(['.', ' ']) {
        return Err(PathError::NotFound);
    }
    if segment.starts_with('.') && !dotfiles {
        return Err(PathError::NotFound);
    }
    if is_windows_device(segment) {
        return Err(PathError::NotFound);
    }
    Ok(())
}

/// Whether a decoded segment still holds `%2E`, `%2F`, `%5C` or `%25`
/// (any case).
fn is_double_encoded(segment: &str) -> bool {
    segment.as_bytes().windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'e' | b'f' | b'5') | (b'5', b'c')
            )
    })
}

/// Whether Windows would open a device instead of a file for this name:
/// `CON`, `PRN`, `AUX`, `NUL`, `COM0`–`COM9`, `LPT0`–`LPT9` (and the
/// superscript-digit forms), `CONIN$`, `CONOUT$`, in any case, with any
/// extension (`nul.txt`) and trailing spaces before it (`nul .txt`).
/// Refused on every platform, so a site behaves the same wherever it runs.
fn is_windows_device(segment: &str) -> bool {
    let stem = segment.split('.').next().unwrap_or(segment);
    let stem = stem.trim_end_matches(' ');
    let upper = |s: &str, name: &str| s.eq_ignore_ascii_case(name);
    match stem.len() {
        3 => ["CON", "PRN", "AUX", "NUL"].iter().any(|n| upper(stem, n)),
        4 => match stem.get(..3) {
            Some(name) if upper(name, "COM") || upper(name, "LPT") => {
                stem.as_bytes()[3].is_ascii_digit()
            }
            _ => false,
        },
        // `COM¹` and friends: the superscript digit is two bytes in UTF-8.
        5 => match stem.get(..3) {
            Some(name) if upper(name, "COM") || upper(name, "LPT") => {
                matches!(&stem[3..], "¹" | "²" | "³")
            }
            _ => false,
        },
        6 => upper(stem, "CONIN$"),
        7 => upper(stem, "CONOUT$"),
        _ => false,
    }
}

/// Joins `rel` (from [`SafePath::as_str`]) under `root` and proves the
/// result stays inside it. Blocking: call it on the blocking pool.
///
/// `root` must already be canonical (`std::fs::canonicalize` once, at
/// start-up); otherwise every path is refused. The joined path is
/// canonicalized, which resolves symbolic links in *every* component, not
/// just the last: `up/canary.txt` with `up -> ..` is caught as well as
/// `escape.txt -> ../canary.txt`. When `symlinks_outside_root` is false, a
/// canonical path not under `root` is refused with a
/// [`NotFound`](io::ErrorKind::NotFound) error, indistinguishable from a
/// missing file. When it is true, links may lead anywhere (an explicit
/// opt-in); the lexical checks of [`parse`] still apply.
///
/// Returns the canonical path, which is what to open: it held no symbolic
/// links when checked. Derive the content type from the request path, not
/// from it (a link's target may have another extension). To look up a name
/// derived from the request — an index file, a precompressed sibling such
/// as `app.js.br` — build the relative name and resolve that too.
///
/// Errors: a missing file, a component that is not a directory
/// (`a/b.txt/c`) and a path too long for the platform are all
/// [`NotFound`](io::ErrorKind::NotFound); others (permission denied, a
/// symlink loop, I/O errors) are passed through for the caller to map.
///
/// # Time of check, time of use
///
/// Between this check and the caller's `open`, someone able to write under
/// the root could replace a directory on the returned path with a symbolic
/// link to elsewhere, and the open would follow it. Closing that window
/// needs `openat2(RESOLVE_BENEATH)` or an `O_NOFOLLOW` walk from a root
/// descriptor, which std does not offer; the threat model here is a
/// hostile *client*, not a hostile writer on the server's disk. Hard links
/// cannot be told from ordinary files and are always served.
pub(crate) fn resolve(root: &Path, rel: &str, symlinks_outside_root: bool) -> io::Result<PathBuf> {
    if root.as_os_str().len() + 1 + rel.len() > PATH_MAX {
        return Err(not_found());
    }
    let canonical = match std::fs::canonicalize(root.join(rel)) {
        Ok(path) => path,
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(not_found()),
        Err(e) => return Err(e),
    };
    if symlinks_outside_root || canonical.starts_with(root) {
        Ok(canonical)
    } else {
        Err(not_found())
    }
}

/// The error for a path that is missing, or that must look missing.
fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file under the root")
}

#[cfg(test)]
mod tests;
