//! [`CsrfToken`]: the per-session secret, masked afresh for every page
//! that embeds it (a BREACH defence), and its verification.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gateway_core::Environ;
use subtle::ConstantTimeEq as _;

use crate::sessions::{Session, SessionError};

/// The session key holding the CSRF secret (32 random bytes, unpadded
/// base64url).
pub(crate) const SESSION_KEY: &str = "_csrf";

/// The secret's length in bytes.
const SECRET_LEN: usize = 32;
/// The secret's length as stored: 32 bytes in unpadded base64url.
const SECRET_TEXT_LEN: usize = 43;
/// A token's length: `pad ‖ (pad ⊕ secret)`, 64 bytes, in unpadded
/// base64url.
pub(crate) const TOKEN_LEN: usize = 86;

/// The per-session secret.
pub(crate) type Secret = [u8; SECRET_LEN];

/// A CSRF token for the current session, to embed in a form (field
/// `csrf_token`) or hand to a script (header `X-CSRF-Token`); see
/// [`Csrf`](super::Csrf).
///
/// Every call gives a different string — the session's secret masked
/// with fresh random bytes, so that a compressed page never repeats the
/// same secret bytes (BREACH) — and every one of them verifies until the
/// secret changes: at login (the login helper removes the secret, and the
/// next call makes a new one) or when the session ends.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::test_client::TestClient;
/// use gateway_core::{ApplicationExt, Environ, fn_app, start};
/// use gateway_middleware::auth::{Csrf, CsrfToken};
/// use gateway_middleware::sessions::{MemoryStore, Sessions};
///
/// let app = fn_app(|env: Environ| async move {
///     let token = CsrfToken::of(&env).await?;
///     let page = format!(
///         r#"<form method="post"><input type="hidden" name="csrf_token" value="{token}"></form>"#
///     );
///     start(200, [("content-type", "text/html"), ("cache-control", "private")]).body(page)
/// })
/// .with(Csrf::new())
/// .with(Sessions::new(MemoryStore::new()));
///
/// let client = TestClient::new(app);
/// let first = client.get("/").send().await.text();
/// let second = client.get("/").send().await.text();
/// assert_ne!(first, second); // masked afresh for every response
/// assert_eq!(first.len(), second.len());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// [`Display`](fmt::Display) writes the token (that is what a template
/// wants); [`Debug`](fmt::Debug) does not, so a token printed in a log
/// line cannot be replayed. There is no `==`: a token from a request is
/// checked by [`Csrf`](super::Csrf), in constant time, not compared.
#[derive(Clone)]
pub struct CsrfToken {
    text: String,
}

impl CsrfToken {
    /// A freshly masked token for the session of `env`, creating the
    /// session's secret (and so the session) when it has none. The
    /// [`Sessions`](crate::sessions::Sessions) middleware must be in front.
    ///
    /// # Errors
    ///
    /// There is no session ([`CsrfError::is_no_session`]), or the session
    /// store failed.
    pub async fn of(env: &Environ) -> Result<CsrfToken, CsrfError> {
        let session = Session::of(env).ok_or(CsrfError {
            kind: Kind::NoSession,
        })?;
        CsrfToken::for_session(&session).await
    }

    /// A freshly masked token for `session` — for a tower service behind
    /// the bridge, which finds its session with
    /// [`Session::of_request`].
    ///
    /// # Errors
    ///
    /// The session store failed.
    pub async fn for_session(session: &Session) -> Result<CsrfToken, CsrfError> {
        let secret = match load_secret(session).await? {
            Some(secret) => secret,
            None => {
                let secret: Secret = random();
                session
                    .insert(SESSION_KEY, URL_SAFE_NO_PAD.encode(secret))
                    .await
                    .map_err(CsrfError::session)?;
                secret
            }
        };
        Ok(CsrfToken {
            text: mask(&secret, &random()),
        })
    }

    /// The token: 86 characters of unpadded base64url (`A–Z a–z 0–9 - _`),
    /// safe in HTML attributes, URLs, form fields and headers unescaped.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The token as a `String`.
    pub fn into_string(self) -> String {
        self.text
    }
}

impl fmt::Display for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CsrfToken(..)")
    }
}

impl AsRef<str> for CsrfToken {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

/// Why [`CsrfToken::of`] gave no token. Converts into
/// [`gateway_core::Error`] with `?`.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use gateway_core::{Body, Environ};
/// use gateway_middleware::auth::CsrfToken;
///
/// // No `Sessions` in front: no session to keep the secret in.
/// let env = Environ::from_request(http::Request::get("/").body(Body::empty()).unwrap());
/// let err = CsrfToken::of(&env).await.unwrap_err();
/// assert!(err.is_no_session());
/// # });
/// ```
pub struct CsrfError {
    kind: Kind,
}

enum Kind {
    NoSession,
    Session(SessionError),
}

impl CsrfError {
    fn session(e: SessionError) -> CsrfError {
        CsrfError {
            kind: Kind::Session(e),
        }
    }

    /// No [`Sessions`](crate::sessions::Sessions) middleware in front of
    /// the application (a configuration mistake).
    pub fn is_no_session(&self) -> bool {
        matches!(self.kind, Kind::NoSession)
    }

    /// The session store could not be reached; `Sessions` answers the
    /// request with 503 under its default fail-closed policy.
    pub fn is_unavailable(&self) -> bool {
        matches!(&self.kind, Kind::Session(e) if e.is_unavailable())
    }
}

impl fmt::Debug for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for CsrfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::NoSession => f.write_str(
                "no session for the CSRF token: put the Sessions middleware in front of Csrf",
            ),
            Kind::Session(e) => write!(f, "the CSRF secret could not be kept in the session: {e}"),
        }
    }
}

impl std::error::Error for CsrfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::NoSession => None,
            Kind::Session(e) => Some(e),
        }
    }
}

/// The session's secret, `None` when it has none or holds something that
/// is not a secret (treated as none: a new one replaces it).
///
/// # Errors
///
/// The store failed.
pub(crate) async fn load_secret(session: &Session) -> Result<Option<Secret>, CsrfError> {
    match session.get::<String>(SESSION_KEY).await {
        Ok(text) => Ok(text.as_deref().and_then(parse_secret)),
        Err(e) if e.is_unavailable() => Err(CsrfError::session(e)),
        // Not a string: not a secret this module wrote.
        Err(_) => Ok(None),
    }
}

/// Parses the stored form of a secret: exactly 43 characters of unpadded
/// base64url that decode to 32 bytes (non-zero trailing bits refused).
fn parse_secret(text: &str) -> Option<Secret> {
    if text.len() != SECRET_TEXT_LEN {
        return None;
    }
    // 43 characters: the decoder's conservative estimate asks for 33.
    let mut buf = [0u8; SECRET_LEN + 1];
    let n = URL_SAFE_NO_PAD.decode_slice(text, &mut buf).ok()?;
    (n == SECRET_LEN).then(|| {
        let mut secret = [0u8; SECRET_LEN];
        secret.copy_from_slice(&buf[..SECRET_LEN]);
        secret
    })
}

/// 32 bytes from the operating system's CSPRNG.
///
/// # Panics
///
/// If the operating system has no randomness to give (as
/// [`SessionId::generate`](crate::sessions::SessionId::generate)): a
/// secret must never fall back to a weaker source.
fn random() -> Secret {
    crate::sessions::id::random()
}

/// `base64url(pad ‖ (pad ⊕ secret))`, unpadded: 86 characters.
pub(crate) fn mask(secret: &Secret, pad: &Secret) -> String {
    let mut raw = [0u8; 2 * SECRET_LEN];
    raw[..SECRET_LEN].copy_from_slice(pad);
    for (i, (s, p)) in secret.iter().zip(pad).enumerate() {
        raw[SECRET_LEN + i] = s ^ p;
    }
    URL_SAFE_NO_PAD.encode(raw)
}

/// Whether `token` is `secret` masked by [`mask`]: exactly 86 characters
/// of unpadded base64url (no `=`, `+`, `/`, whitespace, non-zero trailing
/// bits), unmasked, then compared with the secret in constant time. An
/// unmasked secret is not accepted.
pub(crate) fn verify(secret: &Secret, token: &[u8]) -> bool {
    if token.len() != TOKEN_LEN {
        return false;
    }
    // 86 characters: the decoder's conservative estimate asks for 66.
    let mut raw = [0u8; 2 * SECRET_LEN + 2];
    match URL_SAFE_NO_PAD.decode_slice(token, &mut raw) {
        Ok(n) if n == 2 * SECRET_LEN => {}
        _ => return false,
    }
    let mut candidate = [0u8; SECRET_LEN];
    for (i, c) in candidate.iter_mut().enumerate() {
        *c = raw[i] ^ raw[SECRET_LEN + i];
    }
    bool::from(candidate.ct_eq(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_tokens_verify_and_differ() {
        let secret = random();
        let a = mask(&secret, &random());
        let b = mask(&secret, &random());
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert!(verify(&secret, a.as_bytes()));
        assert!(verify(&secret, b.as_bytes()));
        assert!(!verify(&random(), a.as_bytes()));
    }

    #[test]
    fn a_zero_pad_is_the_secret_in_the_clear() {
        // The construction itself: pad ‖ (pad ⊕ secret).
        let secret = [0xA5; SECRET_LEN];
        let token = mask(&secret, &[0; SECRET_LEN]);
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(&raw[..SECRET_LEN], &[0; SECRET_LEN]);
        assert_eq!(&raw[SECRET_LEN..], &secret);
        let token = mask(&secret, &[0xFF; SECRET_LEN]);
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        assert_eq!(&raw[SECRET_LEN..], &[0x5A; SECRET_LEN]);
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let secret = random();
        let good = mask(&secret, &random());
        // Every single-character change is refused.
        for i in 0..good.len() {
            let mut bad = good.clone().into_bytes();
            bad[i] = if bad[i] == b'A' { b'B' } else { b'A' };
            // The last character carries 2 data bits and 4 zero bits: a
            // change there either flips data or sets trailing bits.
            assert!(!verify(&secret, &bad), "changed at {i}");
        }
        let padded = format!("{good}==");
        let standard = good.replace('-', "+").replace('_', "/");
        let cases: Vec<&[u8]> = vec![
            b"",
            &good.as_bytes()[..TOKEN_LEN - 1],
            padded.as_bytes(),
            b"\xff\xfe",
        ];
        for case in cases {
            assert!(!verify(&secret, case));
        }
        if standard != good {
            assert!(!verify(&secret, standard.as_bytes()));
        }
        // The unmasked secret is not a token.
        let plain = URL_SAFE_NO_PAD.encode(secret);
        assert!(!verify(&secret, plain.as_bytes()));
        // Non-zero trailing bits: a second spelling of a valid token.
        let mut bytes = good.into_bytes();
        let last = bytes[TOKEN_LEN - 1];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let index = alphabet.iter().position(|&c| c == last).unwrap();
        assert_eq!(index % 16, 0, "the 4 trailing bits are zero");
        bytes[TOKEN_LEN - 1] = alphabet[index | 1];
        assert!(!verify(&secret, &bytes));
    }

    #[test]
    fn stored_secrets_parse_strictly() {
        let secret = random();
        let text = URL_SAFE_NO_PAD.encode(secret);
        assert_eq!(parse_secret(&text), Some(secret));
        assert_eq!(parse_secret(&text[..42]), None);
        assert_eq!(parse_secret(&format!("{text}=")), None);
        assert_eq!(parse_secret(&"*".repeat(43)), None);
        assert_eq!(parse_secret(""), None);
    }
}
