//! The cookie store: the whole session inside the cookie, encrypted and
//! authenticated (AES-256-GCM-SIV) by default, or authenticated only
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
use std::time::SystemTime;

use aes_gcm_siv::aead::AeadInOut;
use aes_gcm_siv::{Nonce, Tag as AeadTag};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookie::FIELD_ROOM;
use super::store::{Record, from_unix_millis, unix_millis};

mod key;
#[cfg(test)]
mod tests;

pub use key::{Key, KeyError};

/// The most bytes a browser keeps for one cookie: name, `=` and value
/// (RFC 6265 §6.1 asks for at least this much; the major browsers keep no
/// more).
const MAX_COOKIE: usize = 4096;

/// The first byte of a sealed cookie: its mode. A later change of cipher
/// or layout takes a new number, and cookies of a format a store does not
/// know are refused like any bad cookie (a fresh session).
const FORMAT_ENCRYPTED: u8 = 1;
/// HMAC-SHA256 over the readable payload.
const FORMAT_SIGNED: u8 = 2;

const HEADER: usize = 2;
const NONCE: usize = 12;
const AEAD_TAG: usize = 16;
const MAC_TAG: usize = 32;
/// Creation and expiry times, each a big-endian `u64` of unix milliseconds.
const TIMES: usize = 16;
/// The JSON bytes the seal buffer has room for before it grows: a small
/// allocation either way.
const JSON_ROOM: usize = 256;
/// The longest sealed value (in base64 characters) encoded through a
/// stack buffer.
const STACK_ENCODED: usize = 256;
/// The longest cookie name whose associated data is built on the stack.
const STACK_NAME: usize = 64;
/// The stack buffer cookie values are decoded into: values of up to 680
/// characters (510 bytes) fit.
const STACK_DECODED: usize = 512;

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
            Mode::Encrypted => "encrypted (AES-256-GCM-SIV)",
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
/// (AES-256-GCM-SIV with a random 12-byte nonce; see
/// [why](#the-cipher-and-its-nonces));
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
///     r#"CookieStore { mode: "encrypted (AES-256-GCM-SIV)", primary_key: 1, old_keys: [] }"#,
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
/// (encrypted: format 1, a random 12-byte nonce, a 16-byte AES-GCM-SIV
/// tag) or of `format || key id || payload || tag` (signed: format 2, a
/// 32-byte HMAC-SHA256 tag). The payload is the session's creation and
/// expiry times (unix milliseconds, big-endian `u64`s) followed by its data
/// as a JSON object. The AEAD's associated data is the format, the key id
/// and the cookie's name. The AEAD and the HMAC use separate subkeys,
/// derived from the key's secret with HMAC-SHA256 under distinct labels.
///
/// # The cipher and its nonces
///
/// AES-256-GCM-SIV (RFC 8452) is nonce-misuse resistant: it derives fresh
/// per-nonce subkeys, and the tag, computed over the whole plaintext, sets
/// the counter. So random 12-byte nonces are sound at any cookie volume: a
/// key can seal far more than the 2<sup>32</sup> cookies that bound
/// AES-GCM or ChaCha20-Poly1305 with random 96-bit nonces, and even a
/// repeated nonce would only show that two cookies carry identical bytes,
/// never the key, the data, nor a way to forge. The nonce comes from the
/// operating system's CSPRNG on every seal (no state in the process that a
/// fork could copy). With AES-NI it costs well under a microsecond for a
/// small session; CPUs without AES instructions get the `aes` crate's
/// constant-time software implementation.
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
    /// AES-256-GCM-SIV, sealing with `primary`. This is the default and
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

        // Room for the JSON of a typical session: it is not grown (copied)
        // while it is written.
        let mut buf = Vec::with_capacity(mode.overhead() + TIMES + JSON_ROOM);
        buf.push(mode.format());
        buf.push(key.id);
        if mode == Mode::Encrypted {
            let nonce: [u8; NONCE] = crate::sessions::id::random();
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
                let (header, nonce) = head.split_at(HEADER);
                let nonce = Nonce::try_from(nonce).unwrap_or_default();
                let sealed = with_associated_data(header, cookie_name, |aad| {
                    key.aead
                        .encrypt_inout_detached(&nonce, aad, plaintext.into())
                });
                let tag = match sealed {
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
        // Into a string with room for the `Set-Cookie` field around the
        // value, which the middleware builds in this same buffer (`encode`
        // would zero-allocate a buffer of its own and copy it). Through a
        // small stack buffer when the value fits (`encode_string` zeroes
        // one of 1 KiB).
        let len = encoded_len(buf.len());
        let mut value = String::with_capacity(cookie_name.len() + 1 + len + FIELD_ROOM);
        let mut out = [0u8; STACK_ENCODED];
        let written = match out.get_mut(..len) {
            Some(out) => URL_SAFE_NO_PAD.encode_slice(&buf, out).ok(),
            None => None,
        };
        match written.and_then(|n| std::str::from_utf8(&out[..n]).ok()) {
            Some(text) => value.push_str(text),
            None => URL_SAFE_NO_PAD.encode_string(&buf, &mut value),
        }
        Ok(value)
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
        // Decoded on the stack when small (most sessions), else into a
        // heap buffer of the decoder's size bound; never zero-allocated.
        let bound = value.len().div_ceil(4) * 3;
        let mut stack = [0u8; STACK_DECODED];
        let mut heap = Vec::new();
        let out = if bound <= STACK_DECODED {
            &mut stack[..bound]
        } else {
            heap.resize(bound, 0);
            &mut heap[..]
        };
        let len = URL_SAFE_NO_PAD
            .decode_slice(value, out)
            .map_err(|_| Refused::Base64)?;
        let bytes = &mut out[..len];
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
                let nonce = Nonce::try_from(&head[HEADER..]).map_err(|_| Refused::TooShort)?;
                let tag = AeadTag::try_from(&*tag).map_err(|_| Refused::TooShort)?;
                with_associated_data(&head[..HEADER], cookie_name, |aad| {
                    key.aead
                        .decrypt_inout_detached(&nonce, aad, ciphertext.into(), &tag)
                })
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
        let created = from_be_millis(created).ok_or(Refused::Payload)?;
        let expires = from_be_millis(expires).ok_or(Refused::Payload)?;
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

    /// Whether `value` could be a sealed cookie, judged without reading it
    /// all: a length `open` would try, and a first character that encodes
    /// a format byte below 4 (`A`). Checked before a value counts as a
    /// candidate, so junk planted ahead of the real cookie is skipped.
    pub(crate) fn plausible(value: &str) -> bool {
        const _: () = assert!(FORMAT_ENCRYPTED < 4 && FORMAT_SIGNED < 4);
        (HEADER + AEAD_TAG..=MAX_COOKIE).contains(&value.len()) && value.starts_with('A')
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

/// Calls `f` with the AEAD's associated data: the cookie's header
/// (format, key id) and the cookie's name. The header has a fixed length,
/// so the two cannot run into each other. Built on the stack for names of
/// up to [`STACK_NAME`] bytes, on the heap for longer ones.
fn with_associated_data<T>(header: &[u8], cookie_name: &str, f: impl FnOnce(&[u8]) -> T) -> T {
    let name = cookie_name.as_bytes();
    if name.len() <= STACK_NAME {
        let mut aad = [0u8; HEADER + STACK_NAME];
        let len = header.len() + name.len();
        aad[..header.len()].copy_from_slice(header);
        aad[header.len()..len].copy_from_slice(name);
        f(&aad[..len])
    } else {
        let mut aad = Vec::with_capacity(header.len() + name.len());
        aad.extend_from_slice(header);
        aad.extend_from_slice(name);
        f(&aad)
    }
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

fn from_be_millis(bytes: &[u8]) -> Option<SystemTime> {
    from_unix_millis(u64::from_be_bytes(bytes.try_into().ok()?))
}

#[cfg(test)]
mod unit;
