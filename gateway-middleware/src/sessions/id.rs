//! [`SessionId`]: 128 random bits from the operating system's CSPRNG.

use std::fmt;

/// The id of a server-side session: 128 bits from the operating system's
/// CSPRNG (`getrandom`), written as 22 characters of unpadded base64url.
///
/// ```
/// use gateway_middleware::sessions::SessionId;
///
/// let id = SessionId::generate();
/// let text = id.to_string();
/// assert_eq!(text.len(), 22);
/// assert_eq!(SessionId::parse(&text), Some(id));
/// assert_eq!(SessionId::parse("not-an-id"), None);
/// ```
///
/// [`Debug`](fmt::Debug) shows only a short prefix, so an id printed in a
/// log line cannot be replayed; [`Display`](fmt::Display) writes it whole,
/// for the cookie and for store keys.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId([u8; 16]);

const ENCODED_LEN: usize = 22;

impl SessionId {
    /// A new random id.
    ///
    /// # Panics
    ///
    /// If the operating system has no randomness to give, which no supported
    /// platform does once booted; a session id must never fall back to a
    /// weaker source.
    pub fn generate() -> SessionId {
        SessionId(random())
    }

    /// Parses the 22-character form [`Display`](fmt::Display) writes;
    /// `None` for anything else (a cookie value from the client is
    /// untrusted input).
    pub fn parse(text: &str) -> Option<SessionId> {
        use base64::Engine as _;
        if text.len() != ENCODED_LEN {
            return None;
        }
        let mut bytes = [0u8; 16];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode_slice(text, &mut bytes)
            .ok()?;
        // 22 characters carry 132 bits; the last 4 must be zero, so that
        // exactly one text names each id.
        (n == 16 && SessionId(bytes).to_string() == text).then_some(SessionId(bytes))
    }

    /// Whether `text` has the form [`parse`](Self::parse) accepts —
    /// length and alphabet — without decoding it (a cheap first filter).
    pub(crate) fn has_form(text: &str) -> bool {
        text.len() == ENCODED_LEN
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use base64::Engine as _;
        let mut buf = [0u8; ENCODED_LEN];
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode_slice(self.0, &mut buf)
            .map_err(|_| fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.to_string();
        write!(f, "SessionId({}…)", &text[..4])
    }
}

/// `N` bytes from the operating system's random number generator — for
/// every id, key, nonce and secret of sessions and auth.
///
/// # Panics
///
/// If the operating system has no randomness to give (as `getrandom`
/// explains, no platform does once booted): a secret must never fall
/// back to a weaker source.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random number generator failed: {e}");
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        for _ in 0..1000 {
            let id = SessionId::generate();
            assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        }
        assert_ne!(SessionId::generate(), SessionId::generate());
        assert_eq!(SessionId::parse(""), None);
        assert_eq!(
            SessionId::parse("AAAAAAAAAAAAAAAAAAAAAA"),
            Some(SessionId([0; 16]))
        );
        // Non-zero trailing bits: a second spelling of the same id.
        assert_eq!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAAB"), None);
        assert_eq!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAA="), None);
        assert_eq!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAA+"), None);
        assert_eq!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAAAA"), None);
        assert!(!format!("{:?}", SessionId::generate()).contains(&"A".repeat(22)));
        // The cheap filter accepts every id and refuses other forms.
        assert!(SessionId::has_form(&SessionId::generate().to_string()));
        assert!(!SessionId::has_form("AAAAAAAAAAAAAAAAAAAAA="));
        assert!(!SessionId::has_form("AAAAAAAAAAAAAAAAAAAAA"));
    }
}
