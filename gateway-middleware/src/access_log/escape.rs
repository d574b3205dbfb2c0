//! Escaping of the values that go into a log line, so that no request can
//! forge one: what a client sent never reaches the output as a raw control
//! byte, a non-ASCII byte, an unescaped quote or a line break.

/// The longest value written, in bytes of the value as received; longer
/// ones are cut there and [`TRUNCATED`] follows.
pub(crate) const FIELD_LIMIT: usize = 2048;

/// What follows a value cut at [`FIELD_LIMIT`].
pub(crate) const TRUNCATED: &[u8] = b"...";

/// Bytes written as they are: printable ASCII but `"` and `\`, and a
/// space unless `space` is false.
const fn table(space: bool) -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b < 0x7f {
        t[b] = b != b'"' as usize && b != b'\\' as usize && (space || b != b' ' as usize);
        b += 1;
    }
    t
}

const QUOTED: [bool; 256] = table(true);
const BARE: [bool; 256] = table(false);

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A value for a quoted field of the text formats (nginx's escaping):
/// `"` and `\` get a backslash, every byte below 0x20, 0x7f and every
/// byte from 0x80 is `\xHH`.
pub(crate) fn quoted(out: &mut Vec<u8>, value: &[u8]) {
    escape(out, value, &QUOTED, text_escape);
}

/// A value for an unquoted field of the text formats (the user, the
/// request id): as [`quoted`], but a space, `"` and `\` are `\x20`,
/// `\x22` and `\x5C`, so that the fields still split on spaces and no
/// quote appears outside the quoted fields.
pub(crate) fn bare(out: &mut Vec<u8>, value: &[u8]) {
    escape(out, value, &BARE, hex_escape);
}

fn hex_escape(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(&[
        b'\\',
        b'x',
        HEX[usize::from(b >> 4)],
        HEX[usize::from(b & 0xf)],
    ]);
}

/// The inside of a JSON string: `"` and `\` get a backslash, every byte
/// below 0x20, 0x7f and every byte from 0x80 is `\u00HH` (so the output is
/// ASCII and valid JSON whatever the input; a UTF-8 sequence shows as its
/// bytes).
pub(crate) fn json(out: &mut Vec<u8>, value: &[u8]) {
    escape(out, value, &QUOTED, json_escape);
}

fn text_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
        _ => out.extend_from_slice(&[
            b'\\',
            b'x',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
}

fn json_escape(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(b >> 4)],
            HEX[usize::from(b & 0xf)],
        ]),
    }
}

/// Copies runs of safe bytes whole; escapes the others one by one.
#[inline]
fn escape(out: &mut Vec<u8>, value: &[u8], safe: &[bool; 256], esc: fn(&mut Vec<u8>, u8)) {
    let (value, cut) = match value.get(..FIELD_LIMIT) {
        Some(head) if value.len() > FIELD_LIMIT => (head, true),
        _ => (value, false),
    };
    // The common case, a value with nothing to escape, is found eight
    // bytes at a time and copied whole.
    let clean = clean_prefix(value, !safe[usize::from(b' ')]);
    let mut start = 0;
    for (i, &b) in value.iter().enumerate().skip(clean) {
        if !safe[usize::from(b)] {
            out.extend_from_slice(&value[start..i]);
            esc(out, b);
            start = i + 1;
        }
    }
    out.extend_from_slice(&value[start..]);
    if cut {
        out.extend_from_slice(TRUNCATED);
    }
}

/// The length of the longest prefix of whole 8-byte words with no byte to
/// escape: none below 0x20 (0x21 when a space is escaped too), none from
/// 0x7f on, no `"` and no `\`. The bytes after it are checked one by
/// one.
fn clean_prefix(value: &[u8], escape_space: bool) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    /// Whether a byte of `x` is below `n` (`n` at most 0x80).
    const fn any_below(x: u64, n: u8) -> bool {
        x.wrapping_sub(ONES * n as u64) & !x & HIGH != 0
    }
    const fn any_equal(x: u64, b: u8) -> bool {
        any_below(x ^ (ONES * b as u64), 1)
    }
    let low = if escape_space { 0x21 } else { 0x20 };
    let mut clean = 0;
    for word in value.chunks_exact(8) {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_ne_bytes(bytes);
        if any_below(x, low)
            || x & HIGH != 0
            || any_equal(x, 0x7f)
            || any_equal(x, b'"')
            || any_equal(x, b'\\')
        {
            break;
        }
        clean += 8;
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(f: fn(&mut Vec<u8>, &[u8]), value: &[u8]) -> String {
        let mut out = Vec::new();
        f(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_fields() {
        assert_eq!(run(quoted, b"a b/c?d=1"), "a b/c?d=1");
        assert_eq!(
            run(quoted, b"\"\\\r\n\0\x7f\xc3\xa9"),
            r#"\"\\\x0D\x0A\x00\x7F\xC3\xA9"#
        );
        assert_eq!(run(bare, b"ada lovelace\"\\"), r"ada\x20lovelace\x22\x5C");
    }

    #[test]
    fn json_strings() {
        assert_eq!(
            run(json, b"a\"b\\c\n\x01\xff"),
            r#"a\"b\\c\u000A\u0001\u00FF"#
        );
    }

    #[test]
    fn the_word_scan_agrees_with_the_tables() {
        // Every byte, at every position of a 16-byte value of safe bytes.
        for b in 0..=255u8 {
            for pos in 0..16 {
                let mut value = *b"abcdefghijklmnop";
                value[pos] = b;
                for (table, space) in [(&QUOTED, false), (&BARE, true)] {
                    let clean = clean_prefix(&value, space);
                    let first_bad = value.iter().position(|&c| !table[usize::from(c)]);
                    match first_bad {
                        None => assert_eq!(clean, 16, "{b:#x} at {pos}"),
                        Some(i) => assert!(clean <= i && clean % 8 == 0, "{b:#x} at {pos}"),
                    }
                    if first_bad.is_some() {
                        assert_eq!(clean, pos / 8 * 8, "{b:#x} at {pos}");
                    }
                }
            }
        }
    }

    #[test]
    fn long_values_are_cut_with_a_marker() {
        let long = vec![b'a'; FIELD_LIMIT + 1];
        let out = run(quoted, &long);
        assert_eq!(out.len(), FIELD_LIMIT + TRUNCATED.len());
        assert!(out.ends_with("a..."));
        assert_eq!(run(quoted, &long[..FIELD_LIMIT]).len(), FIELD_LIMIT);
    }
}
