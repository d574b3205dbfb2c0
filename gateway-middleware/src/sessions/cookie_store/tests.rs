//! The tampering test: 100,000 random mutations of valid cookies, every
//! one refused, none panics.
//!
//! The PRNG is seeded from `COOKIE_TAMPER_SEED` if set, else from the
//! clock; the seed is printed (shown by `cargo test` when the test fails),
//! so a failure reproduces with `COOKIE_TAMPER_SEED=<seed>`.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::json;

use super::{CookieStore, Key, Refused};
use crate::sessions::Record;

const MUTATIONS: usize = 100_000;
const NAME: &str = "id";

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn seed() -> u64 {
    match std::env::var("COOKIE_TAMPER_SEED") {
        Ok(text) => text.trim().parse().expect("COOKIE_TAMPER_SEED is a u64"),
        Err(_) => SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

fn secret(byte: u8) -> [u8; 32] {
    [byte; 32]
}

/// Characters a substitution draws from: the base64url alphabet, the
/// standard alphabet's extras, padding, and bytes a cookie header might
/// carry or a proxy might mangle.
const CHARS: &[char] = &[
    'A', 'Z', 'a', 'z', '0', '9', '-', '_', '+', '/', '=', '%', ' ', '"', ';', ',', '\\', '\t',
    '.', '\0', 'é', '\u{7f}', '\u{fffd}',
];

fn mutate(rng: &mut Rng, value: &str, other: &str) -> (&'static str, String) {
    let bytes = URL_SAFE_NO_PAD
        .decode(value)
        .expect("a sealed cookie decodes");
    let enc = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    match rng.below(12) {
        0 => {
            // One to three bit flips in the decoded bytes, re-encoded.
            let mut b = bytes;
            for _ in 0..1 + rng.below(3) {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            ("bit flip", enc(&b))
        }
        1 => {
            // A random byte replaced.
            let mut b = bytes;
            let i = rng.below(b.len());
            b[i] = rng.byte();
            ("byte substitution", enc(&b))
        }
        2 => {
            // A raw character substituted in the text.
            let mut chars: Vec<char> = value.chars().collect();
            let i = rng.below(chars.len());
            chars[i] = *rng.pick(CHARS);
            if rng.below(2) == 0 {
                // Or from the base64url alphabet only: decodes, fails later.
                let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                chars[i] = *rng.pick(alphabet) as char;
            }
            ("character substitution", chars.into_iter().collect())
        }
        3 => {
            // Truncated: decoded bytes or raw text.
            if rng.below(2) == 0 {
                ("truncation (bytes)", enc(&bytes[..rng.below(bytes.len())]))
            } else {
                (
                    "truncation (text)",
                    value[..rng.below(value.len())].to_owned(),
                )
            }
        }
        4 => {
            // Extended: bytes appended, raw characters appended, or far
            // past 4096.
            match rng.below(3) {
                0 => {
                    let mut b = bytes;
                    for _ in 0..1 + rng.below(40) {
                        b.push(rng.byte());
                    }
                    ("extension (bytes)", enc(&b))
                }
                1 => {
                    let mut v = value.to_owned();
                    for _ in 0..1 + rng.below(4) {
                        v.push(*rng.pick(CHARS));
                    }
                    ("extension (text)", v)
                }
                _ => {
                    let mut v = value.to_owned();
                    while v.len() <= 4096 {
                        v.push_str(value);
                    }
                    ("extension (oversized)", v)
                }
            }
        }
        5 => {
            // Re-encoded: other base64 flavours, padding, percent-encoding,
            // quoting, whitespace.
            match rng.below(8) {
                0 => ("re-encoding (standard)", STANDARD.encode(&bytes)),
                1 => (
                    "re-encoding (standard, no pad)",
                    STANDARD_NO_PAD.encode(&bytes),
                ),
                2 => ("re-encoding (url-safe, padded)", URL_SAFE.encode(&bytes)),
                3 => (
                    "re-encoding (padding added)",
                    format!("{value}{}", "=".repeat(1 + rng.below(2))),
                ),
                4 => {
                    // Percent-encode one character (or all of them).
                    let all = rng.below(4) == 0;
                    let at = rng.below(value.len());
                    let v: String = value
                        .char_indices()
                        .map(|(i, c)| {
                            if all || i == at {
                                format!("%{:02X}", c as u32)
                            } else {
                                c.to_string()
                            }
                        })
                        .collect();
                    ("re-encoding (percent)", v)
                }
                5 => ("re-encoding (quoted)", format!("\"{value}\"")),
                6 => ("re-encoding (whitespace)", format!(" {value}")),
                _ => {
                    // Non-canonical trailing bits in the last character.
                    let mut chars: Vec<char> = value.chars().collect();
                    let last = chars.len() - 1;
                    let alphabet =
                        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                    let pos = alphabet
                        .iter()
                        .position(|&a| a as char == chars[last])
                        .unwrap();
                    chars[last] = alphabet[pos ^ (1 + rng.below(3))] as char;
                    ("re-encoding (trailing bits)", chars.into_iter().collect())
                }
            }
        }
        6 => {
            // Key id swapped: to the other known key, or any byte.
            let mut b = bytes;
            b[1] = match rng.below(3) {
                0 => 1,
                1 => 2,
                _ => rng.byte(),
            };
            ("key-id swap", enc(&b))
        }
        7 => {
            // Format byte changed (to the other mode, or anything).
            let mut b = bytes;
            b[0] = if rng.below(2) == 0 {
                b[0] ^ 3
            } else {
                rng.byte()
            };
            ("format swap", enc(&b))
        }
        8 => {
            // A byte inserted or removed somewhere.
            let mut b = bytes;
            let i = rng.below(b.len());
            if rng.below(2) == 0 {
                b.insert(i, rng.byte());
            } else {
                b.remove(i);
            }
            ("insertion/deletion", enc(&b))
        }
        9 => {
            // Spliced: the start of one cookie, the end of another.
            let o = URL_SAFE_NO_PAD.decode(other).unwrap();
            let cut = rng.below(bytes.len().min(o.len()));
            let mut b = bytes[..cut].to_vec();
            b.extend_from_slice(&o[cut.min(o.len())..]);
            ("splice", enc(&b))
        }
        10 => {
            // Two halves swapped, or the tag moved to the front.
            let mut b = bytes;
            let mid = 2 + rng.below(b.len() - 2);
            b[2..].rotate_left(mid - 2);
            ("rotation", enc(&b))
        }
        _ => {
            // Random bytes of a plausible length with a valid header.
            let mut b = bytes;
            for x in &mut b[2..] {
                *x = rng.byte();
            }
            ("random body", enc(&b))
        }
    }
}

#[test]
fn a_hundred_thousand_mutations_are_all_refused() {
    let seed = seed();
    println!("cookie tamper seed: {seed} (rerun with COOKIE_TAMPER_SEED={seed})");
    let mut rng = Rng::new(seed);
    let now = SystemTime::now();

    // Both modes, each with a primary (2) and an old key (1), plus stores
    // that seal under the old key.
    let stores = [
        CookieStore::new(Key::from_secret(2, &secret(2)).unwrap())
            .old_key(Key::from_secret(1, &secret(1)).unwrap()),
        CookieStore::signed(Key::from_secret(2, &secret(2)).unwrap())
            .old_key(Key::from_secret(1, &secret(1)).unwrap()),
    ];
    let old_sealers = [
        CookieStore::new(Key::from_secret(1, &secret(1)).unwrap()),
        CookieStore::signed(Key::from_secret(1, &secret(1)).unwrap()),
    ];

    // Several records: empty, small, nested, unicode, near-expiry.
    let mut records = Vec::new();
    let mut empty = Record::new(now, now + Duration::from_secs(60));
    records.push(empty.clone());
    empty.data.insert("user".into(), json!("ada"));
    records.push(empty.clone());
    let mut nested = Record::new(
        now - Duration::from_secs(100),
        now + Duration::from_secs(86_400),
    );
    nested.data.insert(
        "cart".into(),
        json!([{"sku": "a-1", "n": 2}, {"sku": "b", "n": 1}]),
    );
    nested.data.insert("flash".into(), json!(null));
    nested.data.insert("théme".into(), json!("dünkel ☾"));
    records.push(nested);
    let mut numbers = Record::new(now, now + Duration::from_secs(3));
    numbers.data.insert("n".into(), json!(u64::MAX));
    numbers.data.insert("f".into(), json!(-1.5e300));
    records.push(numbers);

    let mut valid: Vec<(usize, String)> = Vec::new();
    for (mode, (store, old)) in stores.iter().zip(&old_sealers).enumerate() {
        for record in &records {
            for _ in 0..3 {
                valid.push((mode, store.seal(NAME, record).unwrap()));
                valid.push((mode, old.seal(NAME, record).unwrap()));
            }
        }
    }
    // The originals open (so a refusal below is the mutation's doing).
    for (mode, value) in &valid {
        assert!(stores[*mode].open(NAME, value, now).is_some());
    }
    let originals: HashSet<&str> = valid.iter().map(|(_, v)| v.as_str()).collect();

    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    let mut done = 0;
    while done < MUTATIONS {
        let (_, value) = rng.pick(&valid);
        let (_, other) = rng.pick(&valid);
        let (kind, mutated) = mutate(&mut rng, value, other);
        if originals.contains(mutated.as_str()) {
            // Not a mutation (a flip that cancelled out, a splice at the
            // end, a re-encoding that changed nothing).
            continue;
        }
        done += 1;
        *by_kind.entry(kind).or_default() += 1;
        // Opened by both modes' stores under the right name; every eighth
        // also under another name (that costs a second tag check, and
        // debug builds are slow at crypto).
        let names: &[&str] = if done % 8 == 0 {
            &[NAME, "other"]
        } else {
            &[NAME]
        };
        for store in &stores {
            for &name in names {
                match store.try_open(name, &mutated, now) {
                    Ok(opened) => panic!(
                        "seed {seed}: a {kind} mutation was accepted (primary: {}): {mutated:?} from {value:?}",
                        opened.primary
                    ),
                    Err(reason) => *by_reason.entry(format!("{reason:?}")).or_default() += 1,
                }
            }
        }
    }
    println!("mutations by kind: {by_kind:?}");
    println!("refusals by reason: {by_reason:?}");

    // Every mutation kind ran, and the refusals reached every check, the
    // tag included (so the test is not refusing everything at the base64
    // step).
    assert_eq!(by_kind.len(), 22, "{by_kind:?}");
    for reason in [
        Refused::TooLong,
        Refused::Base64,
        Refused::TooShort,
        Refused::Format,
        Refused::UnknownKey,
        Refused::Tag,
    ] {
        let n = by_reason.get(&format!("{reason:?}")).copied().unwrap_or(0);
        assert!(
            n > 0,
            "no mutation was refused as {reason:?}: {by_reason:?}"
        );
    }
    // No forged cookie got as far as the payload parser or expiry check.
    assert!(!by_reason.contains_key("Payload"), "{by_reason:?}");
    assert!(!by_reason.contains_key("Expired"), "{by_reason:?}");
    // The old key opened nothing forged.
    assert_eq!(stores[0].old_key_uses(), vec![(1, valid.len() as u64 / 4)]);
}
