//! The cookie store: the whole session inside the cookie, encrypted and
//! authenticated (XChaCha20-Poly1305) by default, or authenticated only
//! (HMAC-SHA256) as an option, with key ids for rotation.
//!
//! ```
//! use gateway_middleware::sessions::{CookieStore, Key};
//!
//! // Keep the secret outside the code (an environment variable, a secrets
//! // manager); 32 bytes or more of it, random.
//! let secret = [7u8; 32];
//! let store = CookieStore::new(Key::from_secret(1, &secret)?);
//!
//! // Rotation: seal with key 2 from now on, still accept cookies sealed
//! // under key 1 until they have all been re-issued or have expired.
//! let store = CookieStore::new(Key::generate(2)).old_key(Key::from_secret(1, &secret)?);
//! assert_eq!(store.old_key_uses(), vec![(1, 0)]);
//! # Ok::<(), gateway_middleware::sessions::KeyError>(())
//! ```
//!
//! See [`CookieStore`] for what the store protects and what it cannot.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag as AeadTag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::store::Record;

#[cfg(test)]
mod tests;

/// The most bytes a browser keeps for one cookie: name, `=` and value
/// (RFC 6265 §6.1 asks for at least this much; the major browsers keep no
/// more).
const MAX_COOKIE: usize = 4096;

/// The least secret [`Key::from_secret`] accepts.
const MIN_SECRET: usize = 32;

const FORMAT_ENCRYPTED: u8 = 1;
const FORMAT_SIGNED: u8 = 2;

const HEADER: usize = 2;
const NONCE: usize = 24;
const AEAD_TAG: usize = 16;
const MAC_TAG: usize = 32;
/// Creation and expiry times, each a big-endian `u64` of unix milliseconds.
const TIMES: usize = 16;

const AEAD_LABEL: &[u8] = b"gateway-middleware sessions cookie-store v1: xchacha20poly1305 key";
const MAC_LABEL: &[u8] = b"gateway-middleware sessions cookie-store v1: hmac-sha256 key";

/// A key of a [`CookieStore`]: a one-byte id, written into every cookie it
/// seals, and the secret the store's subkeys are derived from.
///
/// [`Debug`](fmt::Debug) shows the id only, never key bytes.
///
/// ```
/// use gateway_middleware::sessions::Key;
///
/// let key = Key::generate(1);
/// assert_eq!(key.id(), 1);
/// assert_eq!(format!("{key:?}"), "Key { id: 1, .. }");
///
/// // From a configured secret: 32 bytes or more.
/// let key = Key::from_secret(2, b"an example secret of 32 bytes or more")?;
/// assert_eq!(key.id(), 2);
/// assert!(Key::from_secret(3, b"too short").is_err());
/// # Ok::<(), gateway_middleware::sessions::KeyError>(())
/// ```
#[derive(Clone)]
pub struct Key {
    id: u8,
    aead: XChaCha20Poly1305,
    /// HMAC-SHA256 already keyed with the MAC subkey; cloned per use.
    mac: Hmac<Sha256>,
}

impl Key {
    /// A new key of 32 random bytes from the operating system's CSPRNG.
    ///
    /// A generated key lives as long as the process: cookies sealed with it
    /// cannot be opened after a restart, nor by another instance. Use
    /// [`from_secret`](Self::from_secret) with a shared, stored secret for
    /// sessions that outlive the process or span several instances.
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// let store = CookieStore::new(Key::generate(1));
    /// # let _ = store;
    /// ```
    ///
    /// # Panics
    ///
    /// If the operating system has no randomness to give, which no supported
    /// platform does once booted; a key must never fall back to a weaker
    /// source.
    pub fn generate(id: u8) -> Key {
        let mut secret = [0u8; 32];
        if let Err(e) = getrandom::fill(&mut secret) {
            panic!("the operating system's random number generator failed: {e}");
        }
        Key::derive(id, &secret)
    }

    /// A key from a secret of at least 32 bytes (more is fine), such as 32
    /// random bytes kept in a secrets manager. Every instance given the
    /// same id and secret opens the others' cookies.
    ///
    /// The secret should be random: it is used as key material as it is,
    /// not stretched like a password.
    ///
    /// ```
    /// use gateway_middleware::sessions::Key;
    ///
    /// let key = Key::from_secret(7, &[0x5a; 64])?;
    /// assert_eq!(key.id(), 7);
    /// # Ok::<(), gateway_middleware::sessions::KeyError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`KeyError`] if `secret` is shorter than 32 bytes.
    pub fn from_secret(id: u8, secret: &[u8]) -> Result<Key, KeyError> {
        if secret.len() < MIN_SECRET {
            return Err(KeyError { len: secret.len() });
        }
        Ok(Key::derive(id, secret))
    }

    /// The key's id, written into every cookie it seals.
    ///
    /// ```
    /// use gateway_middleware::sessions::Key;
    ///
    /// assert_eq!(Key::generate(9).id(), 9);
    /// ```
    pub fn id(&self) -> u8 {
        self.id
    }

    fn derive(id: u8, secret: &[u8]) -> Key {
        let aead_key = subkey(secret, AEAD_LABEL);
        let mac_key = subkey(secret, MAC_LABEL);
        Key {
            id,
            aead: XChaCha20Poly1305::new(&aead_key.into()),
            mac: hmac_sha256(&mac_key),
        }
    }
}

/// HMAC-SHA256 keyed with `key`. HMAC takes keys of any length.
fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    match <Hmac<Sha256> as KeyInit>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// HMAC-SHA256(secret, label): a 32-byte subkey for one use.
fn subkey(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac = hmac_sha256(secret);
    mac.update(label);
    mac.finalize().into_bytes().into()
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A secret given to [`Key::from_secret`] was shorter than 32 bytes.
///
/// ```
/// use gateway_middleware::sessions::Key;
///
/// let e = Key::from_secret(1, b"hunter2").unwrap_err();
/// assert_eq!(
///     e.to_string(),
///     "session key secret is 7 bytes; at least 32 random bytes are needed",
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    len: usize,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session key secret is {} bytes; at least {MIN_SECRET} random bytes are needed",
            self.len
        )
    }
}

impl std::error::Error for KeyError {}

/// A session sealed into a cookie would exceed the 4096 bytes (name, `=`
/// and value) that browsers keep for one cookie; a browser would drop it
/// silently, so the store refuses to produce it.
///
/// ```
/// use gateway_middleware::sessions::{CookieStore, Key};
/// # use std::time::{Duration, SystemTime};
/// # use gateway_middleware::sessions::Record;
/// # let store = CookieStore::new(Key::generate(1));
/// # let now = SystemTime::now();
/// # let mut record = Record::new(now, now + Duration::from_secs(60));
/// # record.data.insert("blob".into(), "x".repeat(5000).into());
/// # let e = store.seal_for_bench("id", &record).unwrap_err();
/// // `Sessions` reports this error when a session grows too large:
/// assert!(e.size() > 4096);
/// assert!(e.to_string().starts_with("session cookie would be "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieTooLarge {
    size: usize,
}

impl CookieTooLarge {
    /// The size the cookie would have had: name, `=` and value, in bytes.
    ///
    /// ```
    /// # use std::time::{Duration, SystemTime};
    /// # use gateway_middleware::sessions::{CookieStore, Key, Record};
    /// # let store = CookieStore::new(Key::generate(1));
    /// # let now = SystemTime::now();
    /// # let mut record = Record::new(now, now + Duration::from_secs(60));
    /// # record.data.insert("blob".into(), "x".repeat(5000).into());
    /// # let e = store.seal_for_bench("id", &record).unwrap_err();
    /// assert!(e.size() > 4096);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }
}

impl fmt::Display for CookieTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "session cookie would be {} bytes; browsers keep at most {MAX_COOKIE} bytes \
             per cookie (name, '=' and value): keep less in the session, or use a \
             server-side session store",
            self.size
        )
    }
}

impl std::error::Error for CookieTooLarge {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Encrypted,
    Signed,
}

impl Mode {
    fn format(self) -> u8 {
        match self {
            Mode::Encrypted => FORMAT_ENCRYPTED,
            Mode::Signed => FORMAT_SIGNED,
        }
    }

    /// The fewest bytes a cookie of this mode can have (empty data would
    /// still be `{}`, but this is the bound the parser needs).
    fn min_len(self) -> usize {
        match self {
            Mode::Encrypted => HEADER + NONCE + TIMES + AEAD_TAG,
            Mode::Signed => HEADER + TIMES + MAC_TAG,
        }
    }

    fn overhead(self) -> usize {
        match self {
            Mode::Encrypted => HEADER + NONCE + AEAD_TAG,
            Mode::Signed => HEADER + MAC_TAG,
        }
    }
}

impl fmt::Debug for CookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mode = match self.inner.mode {
            Mode::Encrypted => "encrypted (XChaCha20-Poly1305)",
            Mode::Signed => "signed (HMAC-SHA256)",
        };
        let old: Vec<u8> = self.inner.old.iter().map(|o| o.key.id).collect();
        f.debug_struct("CookieStore")
            .field("mode", &mode)
            .field("primary_key", &self.inner.primary.id)
            .field("old_keys", &old)
            .finish()
    }
}

/// The session store that keeps the whole session in the cookie: nothing
/// on the server, so any instance with the same keys serves any request.
///
/// [`new`](Self::new) encrypts and authenticates the cookie
/// (XChaCha20-Poly1305 with a random 24-byte nonce);
/// [`signed`](Self::signed) only authenticates it (HMAC-SHA256), and the
/// client can read the session. See [below](#what-it-protects-and-what-it-cannot)
/// for what the store protects and what it cannot (no server-side
/// revocation).
///
/// Cloning is cheap (the keys are shared). [`Debug`](fmt::Debug) shows the
/// mode and the key ids, never key bytes.
///
/// ```
/// use gateway_middleware::sessions::{CookieStore, Key};
///
/// let store = CookieStore::new(Key::generate(1));
/// assert_eq!(
///     format!("{store:?}"),
///     r#"CookieStore { mode: "encrypted (XChaCha20-Poly1305)", primary_key: 1, old_keys: [] }"#,
/// );
/// ```
///
/// # Key rotation
///
/// Seal with the new key only, keep the old one for reading: a cookie
/// sealed under the old key still opens, and is sealed again under the new
/// key the next time its session is written. Watch
/// [`old_key_uses`](Self::old_key_uses) and drop the old key once it stays
/// at zero (or once the longest session lifetime has passed).
///
/// ```
/// use gateway_middleware::sessions::{CookieStore, Key};
///
/// let old = b"the secret every instance used until today".as_slice();
/// let new = b"the secret every instance uses from today on".as_slice();
/// let store = CookieStore::new(Key::from_secret(2, new)?)
///     .old_key(Key::from_secret(1, old)?);
/// assert_eq!(store.primary_key_id(), 2);
/// assert_eq!(store.old_key_uses(), vec![(1, 0)]);
/// # Ok::<(), gateway_middleware::sessions::KeyError>(())
/// ```
///
/// # What it protects, and what it cannot
///
/// - **Confidentiality** (the default, [`CookieStore::new`]): the client
///   sees only ciphertext: it learns the cookie's length and the key id,
///   nothing of the data.
///   A [`CookieStore::signed`] cookie is *readable by the client*: keep
///   nothing secret in such a session.
/// - **Integrity**: a cookie that this store did not seal with one of its
///   keys — any changed, cut, extended or re-encoded byte — is refused, and
///   the request gets a fresh empty session. The cookie's name, format and
///   key id are authenticated too, so a value cannot be moved to another
///   cookie name or from the signed mode to the encrypted one.
/// - **Expiry** is inside the authenticated payload: a cookie is refused
///   from its expiry on, whatever the browser was told.
/// - **No revocation.** Nothing is kept on the server, so a copy of a
///   cookie stays valid until it expires: logging out removes the cookie
///   from the browser but cannot stop a copy taken earlier from being
///   replayed, nor can an older cookie be told from a newer one. Keep
///   expiries short, or use a server-side store
///   ([`SessionStore`](super::SessionStore)) where logout (and "log out
///   everywhere") must be final.
///
/// # The cookie's format
///
/// Unpadded base64url of `format || key id || nonce || ciphertext || tag`
/// (encrypted: format 1, a random 24-byte nonce, a 16-byte Poly1305 tag) or
/// of `format || key id || payload || tag` (signed: format 2, a 32-byte
/// HMAC-SHA256 tag). The payload is the session's creation and expiry
/// times (unix milliseconds, big-endian `u64`s) followed by its data as a
/// JSON object. The AEAD and the HMAC use separate subkeys, derived from
/// the key's secret with HMAC-SHA256 under distinct labels.
#[derive(Clone)]
pub struct CookieStore {
    inner: Arc<Inner>,
}

struct Inner {
    mode: Mode,
    primary: Key,
    old: Vec<OldKey>,
}

struct OldKey {
    key: Key,
    /// Cookies this key opened.
    uses: AtomicU64,
}

/// A cookie [`CookieStore::open`] accepted.
#[derive(Debug)]
pub(crate) struct Opened {
    /// The session; `version` is always 0 (a cookie keeps none).
    pub(crate) record: Record,
    /// Whether the primary key sealed it; if not, the next write re-seals
    /// it under the primary key.
    #[allow(dead_code, reason = "read by the Sessions middleware")]
    pub(crate) primary: bool,
}

/// Why [`CookieStore::open`] refused a cookie; for tests and the debug log
/// line, which never carries the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Longer than a browser keeps: refused before decoding.
    TooLong,
    /// Not canonical unpadded base64url.
    Base64,
    /// Shorter than the mode's smallest cookie.
    TooShort,
    /// Another format (the other mode, or unknown).
    Format,
    /// No key with the cookie's key id.
    UnknownKey,
    /// The tag does not verify.
    Tag,
    /// Authentic, but not a payload this store writes (cannot happen for
    /// a cookie this code sealed).
    Payload,
    /// Authentic, but expired.
    Expired,
}

impl CookieStore {
    /// A store that encrypts and authenticates its cookies with
    /// XChaCha20-Poly1305, sealing with `primary`. This is the default and
    /// the recommended mode: the client can neither read nor change the
    /// session.
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// let store = CookieStore::new(Key::generate(1));
    /// assert_eq!(store.primary_key_id(), 1);
    /// ```
    pub fn new(primary: Key) -> CookieStore {
        CookieStore::with_mode(Mode::Encrypted, primary)
    }

    /// A store that only authenticates its cookies (HMAC-SHA256), sealing
    /// with `primary`. **The client can read the session**: its data is in
    /// the cookie as plain JSON under base64url. Use it only for data the
    /// client may see, when a readable cookie is wanted (debugging, a
    /// client that shows its own session); otherwise use
    /// [`new`](Self::new).
    ///
    /// A signed store refuses the encrypted store's cookies and vice versa,
    /// even under the same key.
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// let store = CookieStore::signed(Key::generate(1));
    /// assert!(format!("{store:?}").contains("signed (HMAC-SHA256)"));
    /// ```
    pub fn signed(primary: Key) -> CookieStore {
        CookieStore::with_mode(Mode::Signed, primary)
    }

    fn with_mode(mode: Mode, primary: Key) -> CookieStore {
        CookieStore {
            inner: Arc::new(Inner {
                mode,
                primary,
                old: Vec::new(),
            }),
        }
    }

    /// Adds a key that opens cookies but never seals them: the key being
    /// rotated out. Cookies it opens are sealed again under the primary key
    /// on their next write, and counted in
    /// [`old_key_uses`](Self::old_key_uses).
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// let store = CookieStore::new(Key::generate(3))
    ///     .old_key(Key::generate(2))
    ///     .old_key(Key::generate(1));
    /// assert_eq!(store.old_key_uses(), vec![(2, 0), (1, 0)]);
    /// ```
    ///
    /// # Panics
    ///
    /// If the store already has a key with `key`'s id (the primary or an
    /// old key): two keys under one id would make a cookie's key ambiguous.
    /// This is a configuration mistake, caught when the store is built.
    pub fn old_key(self, key: Key) -> CookieStore {
        let taken = key.id == self.inner.primary.id
            || self.inner.old.iter().any(|old| old.key.id == key.id);
        assert!(
            !taken,
            "CookieStore::old_key: the store already has a key with id {}",
            key.id
        );
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            // Cloned before this call: the clones keep their keys.
            Err(shared) => Inner {
                mode: shared.mode,
                primary: shared.primary.clone(),
                old: shared
                    .old
                    .iter()
                    .map(|old| OldKey {
                        key: old.key.clone(),
                        uses: AtomicU64::new(old.uses.load(Ordering::Relaxed)),
                    })
                    .collect(),
            },
        };
        inner.old.push(OldKey {
            key,
            uses: AtomicU64::new(0),
        });
        CookieStore {
            inner: Arc::new(inner),
        }
    }

    /// For each old key, in the order they were added: its id and how many
    /// cookies it has opened (cookies that verified and had not expired).
    /// The primary key's are not counted. An old key whose count stays at
    /// zero is no longer needed.
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// let store = CookieStore::new(Key::generate(2)).old_key(Key::generate(1));
    /// assert_eq!(store.old_key_uses(), vec![(1, 0)]);
    /// ```
    pub fn old_key_uses(&self) -> Vec<(u8, u64)> {
        self.inner
            .old
            .iter()
            .map(|old| (old.key.id, old.uses.load(Ordering::Relaxed)))
            .collect()
    }

    /// The id of the key that seals new cookies.
    ///
    /// ```
    /// use gateway_middleware::sessions::{CookieStore, Key};
    ///
    /// assert_eq!(CookieStore::new(Key::generate(4)).primary_key_id(), 4);
    /// ```
    pub fn primary_key_id(&self) -> u8 {
        self.inner.primary.id
    }

    /// Seals `record` (its creation and expiry times and its data; not its
    /// version) into the value of the cookie named `cookie_name`, under the
    /// primary key.
    ///
    /// # Errors
    ///
    /// [`CookieTooLarge`] if `cookie_name`, `=` and the value would exceed
    /// 4096 bytes.
    ///
    /// # Panics
    ///
    /// If the operating system has no randomness to give for the nonce (see
    /// [`Key::generate`]).
    pub(crate) fn seal(
        &self,
        cookie_name: &str,
        record: &Record,
    ) -> Result<String, CookieTooLarge> {
        let inner = &*self.inner;
        let mode = inner.mode;
        let key = &inner.primary;

        let mut buf = Vec::with_capacity(mode.overhead() + TIMES + 64);
        buf.push(mode.format());
        buf.push(key.id);
        if mode == Mode::Encrypted {
            let mut nonce = [0u8; NONCE];
            if let Err(e) = getrandom::fill(&mut nonce) {
                panic!("the operating system's random number generator failed: {e}");
            }
            buf.extend_from_slice(&nonce);
        }
        let payload = buf.len();
        buf.extend_from_slice(&unix_millis(record.created).to_be_bytes());
        buf.extend_from_slice(&unix_millis(record.expires).to_be_bytes());
        if let Err(e) = serde_json::to_writer(&mut buf, &record.data) {
            // Writing into a Vec cannot fail, and a map of JSON values
            // always serializes.
            unreachable!("a JSON object failed to serialize: {e}");
        }

        let tag_len = match mode {
            Mode::Encrypted => AEAD_TAG,
            Mode::Signed => MAC_TAG,
        };
        let size = cookie_name
            .len()
            .saturating_add(1)
            .saturating_add(encoded_len(buf.len() + tag_len));
        if size > MAX_COOKIE {
            return Err(CookieTooLarge { size });
        }

        match mode {
            Mode::Encrypted => {
                let (head, plaintext) = buf.split_at_mut(payload);
                let header = &head[..HEADER];
                let nonce = XNonce::try_from(&head[HEADER..]).unwrap_or_default();
                let aad = associated_data(header, cookie_name);
                let tag = match key
                    .aead
                    .encrypt_inout_detached(&nonce, &aad, plaintext.into())
                {
                    Ok(tag) => tag,
                    // Only inputs of gigabytes are too long for the AEAD.
                    Err(_) => unreachable!("a cookie-sized payload is too long for the AEAD"),
                };
                buf.extend_from_slice(&tag);
            }
            Mode::Signed => {
                let tag = mac(key, cookie_name, &buf).finalize().into_bytes();
                buf.extend_from_slice(&tag);
            }
        }
        Ok(URL_SAFE_NO_PAD.encode(&buf))
    }

    /// Opens the value of the cookie named `cookie_name`: the record it
    /// carries (version 0), if this store sealed it under one of its keys
    /// for that name and it has not expired at `now`. Anything else is
    /// `None`: never a panic, and the value is never logged.
    pub(crate) fn open(&self, cookie_name: &str, value: &str, now: SystemTime) -> Option<Opened> {
        match self.try_open(cookie_name, value, now) {
            Ok(opened) => Some(opened),
            Err(reason) => {
                tracing::debug!(?reason, cookie = cookie_name, "session cookie refused");
                None
            }
        }
    }

    /// [`open`](Self::open), saying why a cookie is refused.
    pub(crate) fn try_open(
        &self,
        cookie_name: &str,
        value: &str,
        now: SystemTime,
    ) -> Result<Opened, Refused> {
        if value.len() > MAX_COOKIE {
            return Err(Refused::TooLong);
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(value).map_err(|_| Refused::Base64)?;
        let inner = &*self.inner;
        let mode = inner.mode;
        if bytes.len() < mode.min_len() {
            return Err(Refused::TooShort);
        }
        if bytes[0] != mode.format() {
            return Err(Refused::Format);
        }
        let id = bytes[1];
        let (key, uses) = if inner.primary.id == id {
            (&inner.primary, None)
        } else {
            let old = inner
                .old
                .iter()
                .find(|old| old.key.id == id)
                .ok_or(Refused::UnknownKey)?;
            (&old.key, Some(&old.uses))
        };

        let payload = match mode {
            Mode::Encrypted => {
                let (head, rest) = bytes.split_at_mut(HEADER + NONCE);
                let (ciphertext, tag) = rest.split_at_mut(rest.len() - AEAD_TAG);
                let nonce = XNonce::try_from(&head[HEADER..]).map_err(|_| Refused::TooShort)?;
                let tag = AeadTag::try_from(&*tag).map_err(|_| Refused::TooShort)?;
                let aad = associated_data(&head[..HEADER], cookie_name);
                key.aead
                    .decrypt_inout_detached(&nonce, &aad, ciphertext.into(), &tag)
                    .map_err(|_| Refused::Tag)?;
                &bytes[HEADER + NONCE..bytes.len() - AEAD_TAG]
            }
            Mode::Signed => {
                let (signed, tag) = bytes.split_at(bytes.len() - MAC_TAG);
                // Constant-time comparison inside `verify_slice`.
                mac(key, cookie_name, signed)
                    .verify_slice(tag)
                    .map_err(|_| Refused::Tag)?;
                &bytes[HEADER..bytes.len() - MAC_TAG]
            }
        };

        let (times, json) = payload.split_at(TIMES);
        let (created, expires) = times.split_at(8);
        let created = from_unix_millis(created).ok_or(Refused::Payload)?;
        let expires = from_unix_millis(expires).ok_or(Refused::Payload)?;
        if now >= expires {
            return Err(Refused::Expired);
        }
        let mut record = Record::new(created, expires);
        record.data = serde_json::from_slice(json).map_err(|_| Refused::Payload)?;
        if let Some(uses) = uses {
            uses.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Opened {
            record,
            primary: uses.is_none(),
        })
    }

    /// Not part of the API: [`seal`](Self::seal) for this crate's benches
    /// and doc examples.
    #[doc(hidden)]
    pub fn seal_for_bench(
        &self,
        cookie_name: &str,
        record: &Record,
    ) -> Result<String, CookieTooLarge> {
        self.seal(cookie_name, record)
    }

    /// Not part of the API: [`open`](Self::open) for this crate's benches
    /// and doc examples.
    #[doc(hidden)]
    pub fn open_for_bench(
        &self,
        cookie_name: &str,
        value: &str,
        now: SystemTime,
    ) -> Option<Record> {
        self.open(cookie_name, value, now)
            .map(|opened| opened.record)
    }
}

/// The AEAD's associated data: the cookie's header (format, key id) and
/// the cookie's name. The header has a fixed length, so the two cannot run
/// into each other.
fn associated_data(header: &[u8], cookie_name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + cookie_name.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(cookie_name.as_bytes());
    aad
}

/// The signed mode's MAC over the cookie name (length-prefixed) and the
/// cookie's bytes before the tag (header and payload).
fn mac(key: &Key, cookie_name: &str, signed: &[u8]) -> Hmac<Sha256> {
    let mut mac = key.mac.clone();
    mac.update(&(cookie_name.len() as u64).to_be_bytes());
    mac.update(cookie_name.as_bytes());
    mac.update(signed);
    mac
}

/// The length of `n` bytes in unpadded base64.
fn encoded_len(n: usize) -> usize {
    n.saturating_mul(4).saturating_add(2) / 3
}

/// `time` as unix milliseconds: 0 before the epoch, `u64::MAX` past what
/// a `u64` holds. Truncated, so an expiry read back is never later than
/// the one sealed.
fn unix_millis(time: SystemTime) -> u64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        Err(_) => 0,
    }
}

fn from_unix_millis(bytes: &[u8]) -> Option<SystemTime> {
    let millis = u64::from_be_bytes(bytes.try_into().ok()?);
    UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    const NAME: &str = "session";

    fn record(now: SystemTime) -> Record {
        let mut record = Record::new(now, now + Duration::from_secs(3600));
        record.data.insert("user".into(), json!("ada"));
        record
            .data
            .insert("cart".into(), json!([1, 2, {"sku": "x"}]));
        record
    }

    fn secret(byte: u8) -> [u8; 32] {
        [byte; 32]
    }

    fn stores(id: u8, byte: u8) -> [CookieStore; 2] {
        [
            CookieStore::new(Key::from_secret(id, &secret(byte)).unwrap()),
            CookieStore::signed(Key::from_secret(id, &secret(byte)).unwrap()),
        ]
    }

    fn millis(time: SystemTime) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(unix_millis(time))
    }

    #[test]
    fn round_trip_both_modes() {
        let now = SystemTime::now();
        for store in stores(1, 1) {
            let record = record(now);
            let value = store.seal(NAME, &record).unwrap();
            let opened = store.open(NAME, &value, now).unwrap();
            assert!(opened.primary);
            assert_eq!(opened.record.data, record.data);
            assert_eq!(opened.record.version, 0);
            assert_eq!(opened.record.created, millis(record.created));
            assert_eq!(opened.record.expires, millis(record.expires));
            assert!(opened.record.expires <= record.expires);
            // An empty session too.
            let empty = Record::new(now, now + Duration::from_secs(1));
            let value = store.seal(NAME, &empty).unwrap();
            assert!(
                store
                    .open(NAME, &value, now)
                    .unwrap()
                    .record
                    .data
                    .is_empty()
            );
        }
    }

    #[test]
    fn encrypted_hides_the_data_signed_shows_it() {
        let now = SystemTime::now();
        let [encrypted, signed] = stores(1, 1);
        let mut record = record(now);
        record.data.insert("secret".into(), json!("attack at dawn"));
        let decoded =
            |v: String| String::from_utf8_lossy(&URL_SAFE_NO_PAD.decode(v).unwrap()).into_owned();
        assert!(!decoded(encrypted.seal(NAME, &record).unwrap()).contains("attack at dawn"));
        assert!(decoded(signed.seal(NAME, &record).unwrap()).contains("attack at dawn"));
        // A fresh nonce every time: the same record seals differently.
        assert_ne!(
            encrypted.seal(NAME, &record).unwrap(),
            encrypted.seal(NAME, &record).unwrap()
        );
    }

    #[test]
    fn each_refusal_reason() {
        let now = SystemTime::now();
        for store in stores(1, 1) {
            let value = store.seal(NAME, &record(now)).unwrap();
            let bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
            let reencode = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
            let open = |v: &str| store.try_open(NAME, v, now).map(|_| ());

            assert_eq!(open(&"A".repeat(4097)), Err(Refused::TooLong));
            assert_eq!(open(""), Err(Refused::TooShort));
            assert_eq!(open(&format!("{value}=")), Err(Refused::Base64));
            assert_eq!(
                open(&(value.replace('-', "+").replace('_', "/") + "!")),
                Err(Refused::Base64)
            );
            assert!(open(&value[..value.len() - 1]).is_err());
            assert_eq!(
                open(&reencode(&bytes[..bytes.len() - 1])),
                Err(Refused::Tag)
            );
            assert_eq!(
                open(&reencode(&bytes[..store.inner.mode.min_len() - 1])),
                Err(Refused::TooShort)
            );

            let mut other_format = bytes.clone();
            other_format[0] = 9;
            assert_eq!(open(&reencode(&other_format)), Err(Refused::Format));
            let mut unknown = bytes.clone();
            unknown[1] = 77;
            assert_eq!(open(&reencode(&unknown)), Err(Refused::UnknownKey));
            let mut flipped = bytes.clone();
            let last = flipped.len() - 1;
            flipped[last] ^= 1;
            assert_eq!(open(&reencode(&flipped)), Err(Refused::Tag));
            let mut flipped = bytes.clone();
            flipped[HEADER + 20] ^= 0x80;
            assert_eq!(open(&reencode(&flipped)), Err(Refused::Tag));

            // Another store's key under the same id.
            let [other_e, other_s] = stores(1, 2);
            let other = if store.inner.mode == Mode::Encrypted {
                other_e
            } else {
                other_s
            };
            assert_eq!(
                other.try_open(NAME, &value, now).map(|_| ()),
                Err(Refused::Tag)
            );

            // Sealed (authentic) but expired: refused from the expiry on.
            let mut past = record(now - Duration::from_secs(7200));
            past.expires = now - Duration::from_secs(1);
            let expired = store.seal(NAME, &past).unwrap();
            assert_eq!(open(&expired), Err(Refused::Expired));
            let at = record(now);
            let value = store.seal(NAME, &at).unwrap();
            let expires = millis(at.expires);
            assert!(
                store
                    .open(NAME, &value, expires - Duration::from_millis(1))
                    .is_some()
            );
            assert_eq!(
                store.try_open(NAME, &value, expires).map(|_| ()),
                Err(Refused::Expired)
            );
            assert!(
                store
                    .open(NAME, &value, expires + Duration::from_secs(1))
                    .is_none()
            );
        }
    }

    #[test]
    fn authentic_but_malformed_payload_is_refused() {
        // Only a holder of the key can make such a cookie; the parser still
        // refuses it rather than trusting it.
        let now = SystemTime::now();
        let store = CookieStore::signed(Key::from_secret(1, &secret(1)).unwrap());
        let key = &store.inner.primary;
        let forge = |json: &[u8]| {
            let mut buf = vec![FORMAT_SIGNED, 1];
            buf.extend_from_slice(&unix_millis(now).to_be_bytes());
            buf.extend_from_slice(&unix_millis(now + Duration::from_secs(60)).to_be_bytes());
            buf.extend_from_slice(json);
            let tag = mac(key, NAME, &buf).finalize().into_bytes();
            buf.extend_from_slice(&tag);
            URL_SAFE_NO_PAD.encode(buf)
        };
        assert!(store.open(NAME, &forge(b"{\"a\":1}"), now).is_some());
        for bad in [&b"[1]"[..], b"{", b"", b"{\"a\":1}x", b"\xff", b"null"] {
            assert_eq!(
                store.try_open(NAME, &forge(bad), now).map(|_| ()),
                Err(Refused::Payload),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn the_cookie_name_is_bound() {
        let now = SystemTime::now();
        for store in stores(1, 1) {
            let value = store.seal("a", &record(now)).unwrap();
            assert!(store.open("a", &value, now).is_some());
            assert!(store.open("b", &value, now).is_none());
            assert!(store.open("a ", &value, now).is_none());
            assert!(store.open("", &value, now).is_none());
        }
    }

    #[test]
    fn the_mode_is_bound() {
        let now = SystemTime::now();
        let [encrypted, signed] = stores(1, 1);
        let e = encrypted.seal(NAME, &record(now)).unwrap();
        let s = signed.seal(NAME, &record(now)).unwrap();
        assert_eq!(
            signed.try_open(NAME, &e, now).map(|_| ()),
            Err(Refused::Format)
        );
        assert_eq!(
            encrypted.try_open(NAME, &s, now).map(|_| ()),
            Err(Refused::Format)
        );
        // Relabelled as the other format: refused by the tag (and the
        // layouts differ), never read.
        for (value, store) in [(&e, &signed), (&s, &encrypted)] {
            let mut bytes = URL_SAFE_NO_PAD.decode(value).unwrap();
            bytes[0] = store.inner.mode.format();
            let relabelled = URL_SAFE_NO_PAD.encode(&bytes);
            assert!(store.open(NAME, &relabelled, now).is_none());
        }
    }

    #[test]
    fn rotation() {
        let now = SystemTime::now();
        for [old_only, rotated, dropped] in [
            [
                CookieStore::new(Key::from_secret(1, &secret(1)).unwrap()),
                CookieStore::new(Key::from_secret(2, &secret(2)).unwrap())
                    .old_key(Key::from_secret(1, &secret(1)).unwrap()),
                CookieStore::new(Key::from_secret(2, &secret(2)).unwrap()),
            ],
            [
                CookieStore::signed(Key::from_secret(1, &secret(1)).unwrap()),
                CookieStore::signed(Key::from_secret(2, &secret(2)).unwrap())
                    .old_key(Key::from_secret(1, &secret(1)).unwrap()),
                CookieStore::signed(Key::from_secret(2, &secret(2)).unwrap()),
            ],
        ] {
            let record = record(now);
            let old_cookie = old_only.seal(NAME, &record).unwrap();

            // The rotated store opens the old cookie, not as primary, and
            // counts it.
            assert_eq!(rotated.old_key_uses(), vec![(1, 0)]);
            let opened = rotated.open(NAME, &old_cookie, now).unwrap();
            assert!(!opened.primary);
            assert_eq!(opened.record.data, record.data);
            assert_eq!(rotated.old_key_uses(), vec![(1, 1)]);
            // A clone shares the counters.
            let clone = rotated.clone();
            clone.open(NAME, &old_cookie, now).unwrap();
            assert_eq!(rotated.old_key_uses(), vec![(1, 2)]);

            // Re-issued under the primary: opens as primary, not counted,
            // and a store with only the old key refuses it.
            let fresh = rotated.seal(NAME, &opened.record).unwrap();
            assert_eq!(URL_SAFE_NO_PAD.decode(&fresh).unwrap()[1], 2);
            assert!(rotated.open(NAME, &fresh, now).unwrap().primary);
            assert_eq!(rotated.old_key_uses(), vec![(1, 2)]);
            assert_eq!(
                old_only.try_open(NAME, &fresh, now).map(|_| ()),
                Err(Refused::UnknownKey)
            );

            // Refusals are not counted.
            assert!(rotated.open("other", &old_cookie, now).is_none());
            assert_eq!(rotated.old_key_uses(), vec![(1, 2)]);

            // The old key dropped: its cookies are refused.
            assert_eq!(
                dropped.try_open(NAME, &old_cookie, now).map(|_| ()),
                Err(Refused::UnknownKey)
            );
            assert!(dropped.open(NAME, &fresh, now).is_some());
        }
    }

    #[test]
    fn a_key_id_swapped_to_another_known_key_is_refused() {
        let now = SystemTime::now();
        let store = CookieStore::new(Key::from_secret(2, &secret(2)).unwrap())
            .old_key(Key::from_secret(1, &secret(1)).unwrap());
        let value = store.seal(NAME, &record(now)).unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        bytes[1] = 1;
        assert_eq!(
            store
                .try_open(NAME, &URL_SAFE_NO_PAD.encode(&bytes), now)
                .map(|_| ()),
            Err(Refused::Tag)
        );
        // Even when both ids hold the same secret: the id is authenticated.
        let same = CookieStore::new(Key::from_secret(2, &secret(2)).unwrap())
            .old_key(Key::from_secret(1, &secret(2)).unwrap());
        assert!(same.open(NAME, &value, now).is_some());
        assert_eq!(
            same.try_open(NAME, &URL_SAFE_NO_PAD.encode(&bytes), now)
                .map(|_| ()),
            Err(Refused::Tag)
        );
    }

    #[test]
    #[should_panic(expected = "already has a key with id 1")]
    fn a_duplicate_key_id_panics() {
        let _ = CookieStore::new(Key::generate(2))
            .old_key(Key::generate(1))
            .old_key(Key::generate(1));
    }

    #[test]
    #[should_panic(expected = "already has a key with id 2")]
    fn an_old_key_with_the_primary_id_panics() {
        let _ = CookieStore::new(Key::generate(2)).old_key(Key::generate(2));
    }

    #[test]
    fn old_key_after_clone_leaves_the_clone_alone() {
        let store = CookieStore::new(Key::generate(3)).old_key(Key::generate(2));
        let clone = store.clone();
        let more = store.old_key(Key::generate(1));
        assert_eq!(clone.old_key_uses(), vec![(2, 0)]);
        assert_eq!(more.old_key_uses(), vec![(2, 0), (1, 0)]);
    }

    #[test]
    fn size_limit() {
        let now = SystemTime::now();
        for store in stores(1, 1) {
            let mut record = Record::new(now, now + Duration::from_secs(60));
            record.data.insert("blob".into(), json!("x".repeat(5000)));
            let e = store.seal(NAME, &record).unwrap_err();
            assert!(e.size() > 4096);
            assert_eq!(
                e.to_string(),
                format!(
                    "session cookie would be {} bytes; browsers keep at most 4096 bytes per \
                     cookie (name, '=' and value): keep less in the session, or use a \
                     server-side session store",
                    e.size()
                )
            );

            // Grow a value until the seal fails: the last one that fits is
            // at most 4096 bytes with its name, and the size reported is
            // exact.
            let mut n = 2900;
            let last_ok = loop {
                record.data.insert("blob".into(), json!("x".repeat(n)));
                match store.seal(NAME, &record) {
                    Ok(value) => {
                        assert!(NAME.len() + 1 + value.len() <= 4096);
                        n += 1;
                        let _ = value;
                    }
                    Err(e) => {
                        record.data.insert("blob".into(), json!("x".repeat(n - 1)));
                        let fits = store.seal(NAME, &record).unwrap();
                        assert!(e.size() > 4096 && e.size() <= 4096 + 2, "{}", e.size());
                        break fits;
                    }
                }
            };
            assert!(NAME.len() + 1 + last_ok.len() >= 4096 - 2);
            assert!(store.open(NAME, &last_ok, now).is_some());
            // A longer name leaves less room for the value.
            assert!(store.seal(&"n".repeat(100), &record).is_err());
        }
    }

    #[test]
    fn times_are_clamped_never_panic() {
        let now = SystemTime::now();
        for store in stores(1, 1) {
            let before_epoch = UNIX_EPOCH - Duration::from_secs(10);
            let record = Record::new(before_epoch, before_epoch);
            let value = store.seal(NAME, &record).unwrap();
            assert!(store.open(NAME, &value, now).is_none());
            let far = now + Duration::from_secs(100 * 365 * 24 * 3600);
            let value = store.seal(NAME, &Record::new(now, far)).unwrap();
            assert_eq!(
                store.open(NAME, &value, now).unwrap().record.expires,
                millis(far)
            );
        }
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let secret = [0xAB; 32];
        let key = Key::from_secret(5, &secret).unwrap();
        let store = CookieStore::signed(key.clone()).old_key(Key::generate(4));
        let text = format!("{key:?} {store:?}");
        assert_eq!(
            format!("{store:?}"),
            r#"CookieStore { mode: "signed (HMAC-SHA256)", primary_key: 5, old_keys: [4] }"#
        );
        assert!(
            !text.contains("171") && !text.to_lowercase().contains("ab, "),
            "{text}"
        );
        assert_eq!(
            Key::from_secret(1, &[0; 31]).unwrap_err(),
            KeyError { len: 31 }
        );
        assert!(Key::from_secret(1, &[0; 32]).is_ok());
    }
}
