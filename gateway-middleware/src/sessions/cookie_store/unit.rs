//! Unit tests of the cookie store: round trips, each refusal, binding,
//! rotation, the size limit.

use super::*;
use serde_json::json;
use std::time::{Duration, UNIX_EPOCH};

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
fn encrypted_layout_and_an_unknown_format() {
    let now = SystemTime::now();
    let [encrypted, _] = stores(1, 1);
    let record = record(now);
    let json = serde_json::to_vec(&record.data).unwrap();
    let bytes = URL_SAFE_NO_PAD
        .decode(encrypted.seal(NAME, &record).unwrap())
        .unwrap();
    // format 1 || key id || 12-byte nonce || ciphertext || 16-byte tag.
    assert_eq!(&bytes[..HEADER], &[1, 1]);
    assert_eq!(bytes.len(), HEADER + 12 + TIMES + json.len() + 16);
    // A format no store writes is refused before any key is tried.
    let mut unknown = bytes.clone();
    unknown[0] = 3;
    assert_eq!(
        encrypted
            .try_open(NAME, &URL_SAFE_NO_PAD.encode(&unknown), now)
            .map(|_| ()),
        Err(Refused::Format)
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
fn round_trips_on_either_side_of_the_stack_buffers() {
    // Sealed values from a few dozen characters to past `STACK_ENCODED`,
    // `STACK_DECODED` and the seal buffer's first capacity, one byte of
    // JSON at a time, with a long cookie name (associated data on the heap)
    // and a short one.
    let now = SystemTime::now();
    let long_name = "n".repeat(STACK_NAME + 1);
    for store in stores(1, 1) {
        for name in [NAME, long_name.as_str()] {
            let mut record = Record::new(now, now + Duration::from_secs(60));
            for n in 0..800 {
                record.data.insert("blob".into(), json!("x".repeat(n)));
                let value = store.seal(name, &record).unwrap();
                let opened = store.try_open(name, &value, now).unwrap();
                assert_eq!(opened.record.data, record.data, "{n} bytes");
                // Bound to the name at every size.
                assert_eq!(
                    store.try_open("other", &value, now).unwrap_err(),
                    Refused::Tag
                );
            }
        }
    }
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
        Key::from_secret(1, &[0; 31]).unwrap_err().to_string(),
        "session key secret is 31 bytes; at least 32 random bytes are needed"
    );
    assert!(Key::from_secret(1, &[0; 32]).is_ok());
}
