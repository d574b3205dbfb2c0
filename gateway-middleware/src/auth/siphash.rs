//! SipHash-2-4 with its 128-bit output (Aumasson and Bernstein, "SipHash:
//! a fast short-input PRF", 2012; the reference implementation's
//! `vectors_sip128` are the tests): a keyed pseudorandom function made for
//! short inputs, used as a MAC. Its time depends only on the input's
//! length, never on the key or the bytes.

/// An incremental SipHash-2-4-128 computation.
pub(super) struct SipHash128 {
    v0: u64,
    v1: u64,
    v2: u64,
    v3: u64,
    /// Input bytes not yet compressed (fewer than 8), little-endian.
    tail: u64,
    tail_len: usize,
    /// Bytes written so far.
    len: usize,
}

impl SipHash128 {
    /// A computation under the key `(k0, k1)` (the key's two halves read
    /// little-endian).
    pub(super) fn new(k0: u64, k1: u64) -> SipHash128 {
        SipHash128 {
            v0: k0 ^ 0x736f_6d65_7073_6575,
            // 0xee: the 128-bit output's domain separation.
            v1: k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
            v2: k0 ^ 0x6c79_6765_6e65_7261,
            v3: k1 ^ 0x7465_6462_7974_6573,
            tail: 0,
            tail_len: 0,
            len: 0,
        }
    }

    fn round(&mut self) {
        self.v0 = self.v0.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(13) ^ self.v0;
        self.v0 = self.v0.rotate_left(32);
        self.v2 = self.v2.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(16) ^ self.v2;
        self.v0 = self.v0.wrapping_add(self.v3);
        self.v3 = self.v3.rotate_left(21) ^ self.v0;
        self.v2 = self.v2.wrapping_add(self.v1);
        self.v1 = self.v1.rotate_left(17) ^ self.v2;
        self.v2 = self.v2.rotate_left(32);
    }

    /// Two rounds on one 8-byte word.
    fn compress(&mut self, m: u64) {
        self.v3 ^= m;
        self.round();
        self.round();
        self.v0 ^= m;
    }

    /// Feeds `bytes`.
    pub(super) fn write(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len();
        if self.tail_len > 0 {
            // Complete the pending word first.
            let take = (8 - self.tail_len).min(bytes.len());
            self.tail |= le_u64(&bytes[..take]) << (8 * self.tail_len);
            self.tail_len += take;
            bytes = &bytes[take..];
            if self.tail_len < 8 {
                return;
            }
            self.compress(self.tail);
            self.tail = 0;
            self.tail_len = 0;
        }
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            self.compress(le_u64(word));
        }
        self.tail = le_u64(words.remainder());
        self.tail_len = words.remainder().len();
    }

    /// The 16-byte output.
    pub(super) fn finish(mut self) -> [u8; 16] {
        // The last word carries the length modulo 256 in its top byte.
        self.compress(((self.len as u64) << 56) | self.tail);
        self.v2 ^= 0xee;
        for _ in 0..4 {
            self.round();
        }
        let first = self.v0 ^ self.v1 ^ self.v2 ^ self.v3;
        self.v1 ^= 0xdd;
        for _ in 0..4 {
            self.round();
        }
        let second = self.v0 ^ self.v1 ^ self.v2 ^ self.v3;
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&first.to_le_bytes());
        out[8..].copy_from_slice(&second.to_le_bytes());
        out
    }
}

/// Up to 8 bytes as a little-endian number.
fn le_u64(bytes: &[u8]) -> u64 {
    if let Ok(word) = <[u8; 8]>::try_from(bytes) {
        return u64::from_le_bytes(word);
    }
    bytes
        .iter()
        .enumerate()
        .fold(0, |word, (i, &b)| word | (u64::from(b) << (8 * i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entries of the reference implementation's `vectors_sip128`: key
    /// `00 01 .. 0f`, input `00 01 .. (n - 1)`.
    #[rustfmt::skip]
    const VECTORS: [(usize, [u8; 16]); 7] = [
        (0, [0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93]),
        (1, [0xda, 0x87, 0xc1, 0xd8, 0x6b, 0x99, 0xaf, 0x44, 0x34, 0x76, 0x59, 0x11, 0x9b, 0x22, 0xfc, 0x45]),
        (7, [0xa1, 0xf1, 0xeb, 0xbe, 0xd8, 0xdb, 0xc1, 0x53, 0xc0, 0xb8, 0x4a, 0xa6, 0x1f, 0xf0, 0x82, 0x39]),
        (8, [0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61, 0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4]),
        (15, [0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9]),
        (16, [0x6e, 0xe2, 0xa4, 0xca, 0x67, 0xb0, 0x54, 0xbb, 0xfd, 0x33, 0x15, 0xbf, 0x85, 0x23, 0x05, 0x77]),
        (63, [0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97, 0x3f, 0xbd, 0x7c]),
    ];

    const K0: u64 = 0x0706_0504_0302_0100;
    const K1: u64 = 0x0f0e_0d0c_0b0a_0908;

    #[test]
    fn reference_vectors() {
        let input: Vec<u8> = (0..64).collect();
        for (len, want) in VECTORS {
            let mut h = SipHash128::new(K0, K1);
            h.write(&input[..len]);
            assert_eq!(h.finish(), want, "length {len}");
        }
    }

    /// Any split of the input into writes gives the same output.
    #[test]
    fn incremental_writes() {
        let input: Vec<u8> = (0..64).collect();
        for (len, want) in VECTORS {
            for split in 0..=len {
                for split2 in split..=len {
                    let mut h = SipHash128::new(K0, K1);
                    h.write(&input[..split]);
                    h.write(&input[split..split2]);
                    h.write(&input[split2..len]);
                    assert_eq!(h.finish(), want, "length {len} split at {split}, {split2}");
                }
            }
        }
    }
}
