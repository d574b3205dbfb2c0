//! [`RootPath`]: an external path prefix that precedes `script_name`, and
//! [`InvalidPrefix`], the one error for a prefix that is not a valid path.
//!
//! ```
//! use gateway_core::RootPath;
//!
//! assert_eq!(RootPath::new("/outer/").unwrap().as_str(), "/outer");
//! let err = RootPath::new("/a/../b").unwrap_err();
//! assert_eq!((err.prefix(), err.reason()), ("/a/../b", "dot segment"));
//! ```

use std::fmt;
use std::sync::Arc;

/// An external path prefix that precedes `script_name`: an application
/// served under `/outer` by a proxy that strips it. Validated: an absolute
/// path of `pchar` segments, no empty, `.` or `..` segments, no trailing
/// `/`. Cloning does not allocate.
#[derive(Clone, PartialEq, Eq)]
pub struct RootPath(RootRepr);

#[derive(Clone, PartialEq, Eq)]
enum RootRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

/// A path prefix that is not valid: not an absolute path of `pchar`
/// segments, or with an empty, `.` or `..` segment (see [`RootPath`]). It
/// says which prefix and why.
///
/// The one error for an invalid prefix, whatever the prefix is for (an
/// external root path, a mount point, a static-files prefix).
///
/// ```
/// use gateway_core::RootPath;
///
/// let err = RootPath::new("no-slash").unwrap_err();
/// assert_eq!(err.prefix(), "no-slash");
/// assert_eq!(err.reason(), "does not start with '/'");
/// assert_eq!(err.to_string(), r#"invalid prefix "no-slash": does not start with '/'"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid prefix {prefix:?}: {reason}")]
pub struct InvalidPrefix {
    prefix: Box<str>,
    reason: &'static str,
}

impl InvalidPrefix {
    /// The prefix as given.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Why it is not valid, in words.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl RootPath {
    /// Validates `prefix` (one trailing `/` is dropped).
    ///
    /// ```
    /// use gateway_core::RootPath;
    /// assert_eq!(RootPath::new("/outer/").unwrap().as_str(), "/outer");
    /// assert!(RootPath::new("/a/../b").is_err());
    /// assert!(RootPath::new("/a\r\nSet-Cookie: x").is_err());
    /// ```
    pub fn new(prefix: &str) -> Result<RootPath, InvalidPrefix> {
        match validate_root(prefix) {
            Ok(valid) => Ok(RootPath(RootRepr::Shared(Arc::from(valid)))),
            Err(reason) => Err(InvalidPrefix {
                prefix: prefix.into(),
                reason,
            }),
        }
    }

    /// A root path from a constant. Allocates nothing.
    ///
    /// # Panics
    ///
    /// If `prefix` is not valid (as [`RootPath::new`] checks), like
    /// `HeaderValue::from_static`: it is a programming error in a constant.
    pub fn from_static(prefix: &'static str) -> RootPath {
        match validate_root(prefix) {
            Ok(p) => RootPath(RootRepr::Static(p)),
            Err(reason) => panic!(
                "{}",
                InvalidPrefix {
                    prefix: prefix.into(),
                    reason
                }
            ),
        }
    }

    /// The prefix: starts with `/`, does not end with `/`.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            RootRepr::Static(s) => s,
            RootRepr::Shared(s) => s,
        }
    }
}

/// `prefix` without its trailing `/`, or why it is not valid.
fn validate_root(prefix: &str) -> Result<&str, &'static str> {
    let err = Err;
    let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
    if prefix.is_empty() {
        return err("empty (use no root path)");
    }
    if !prefix.starts_with('/') {
        return err("does not start with '/'");
    }
    for segment in prefix[1..].split('/') {
        if segment.is_empty() {
            return err("empty segment");
        }
        if segment == "." || segment == ".." || segment.eq_ignore_ascii_case("%2e") {
            return err("dot segment");
        }
        let bytes = segment.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let ok = b.is_ascii_alphanumeric()
                || b"-._~!$&'()*+,;=:@".contains(&b)
                || (b == b'%'
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit));
            if !ok {
                return err("character not allowed in a path segment");
            }
        }
        let lower = segment.to_ascii_lowercase();
        let decoded_dots = lower.replace("%2e", ".");
        if decoded_dots == ".." || decoded_dots == "." {
            return err("dot segment");
        }
        if lower.contains("%2f") || lower.contains("%5c") || lower.contains("%00") {
            return err("encoded slash, backslash or NUL");
        }
    }
    Ok(prefix)
}

impl fmt::Debug for RootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for RootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
