//! [`Key`]: a cookie store key, its id and the subkeys derived from it.

use std::fmt;

use aes_gcm_siv::Aes256GcmSiv;
use aes_gcm_siv::aead::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The least secret [`Key::from_secret`] accepts.
const MIN_SECRET: usize = 32;

const AEAD_LABEL: &[u8] = b"gateway-middleware sessions cookie-store v1: aes-256-gcm-siv key";
const MAC_LABEL: &[u8] = b"gateway-middleware sessions cookie-store v1: hmac-sha256 key";

/// A key of a [`CookieStore`](super::CookieStore): a one-byte id, written into every cookie it
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
    pub(super) id: u8,
    pub(super) aead: Aes256GcmSiv,
    /// HMAC-SHA256 already keyed with the MAC subkey; cloned per use.
    pub(super) mac: Hmac<Sha256>,
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
        let secret: [u8; 32] = crate::sessions::id::random();
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
            aead: Aes256GcmSiv::new(&aead_key.into()),
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
