//! Length-hiding padding (spec §5.4).
//!
//! A plaintext of `L` bytes is padded to `PaddedLen(L) = Padme(max(L + 1, 32))`
//! bytes: the plaintext, one `0x80` byte, then zero bytes. Padmé (Nikitin et al.,
//! "Reducing Metadata Leakage from Encrypted Files and Communication with PURBs",
//! PETS 2019) rounds a length to a value whose binary form keeps only its top
//! `floor(log2(E)) + 1` bits, where `E = floor(log2(x))`: it leaks O(log log L)
//! bits of the length and adds at most about 12% (never more than 100% for tiny
//! inputs, which the 32-byte floor dominates).

use alloc::vec::Vec;

/// Smallest padded length: every plaintext of up to 31 bytes pads to 32 bytes.
pub const MIN_PADDED_LEN: usize = 32;
/// Largest padded length, 1 MiB (a Padmé fixed point).
pub const MAX_PADDED_LEN: usize = 1 << 20;
/// Largest plaintext a ratchet message can carry (spec §5.4).
pub const MAX_PLAINTEXT_LEN: usize = MAX_PADDED_LEN - 1;
/// The byte that marks the end of the plaintext.
pub const PAD_MARKER: u8 = 0x80;

/// Padmé rounding of `x` (spec §5.4). `padme(x) >= x`, and `padme(padme(x)) == padme(x)`.
pub const fn padme(x: usize) -> usize {
    if x < 2 {
        return x;
    }
    let mask = padme_mask(x);
    (x + mask) & !mask
}

/// `2^z − 1`, where `2^z` is the step Padmé rounds `x >= 2` up to.
const fn padme_mask(x: usize) -> usize {
    let e = usize::BITS - 1 - x.leading_zeros(); // floor(log2 x)
    let s = u32::BITS - 1 - e.leading_zeros() + 1; // floor(log2 e) + 1
    let z = e - s;
    (1usize << z) - 1
}

/// `PaddedLen(L)`: the padded length of an `L`-byte plaintext (spec §5.4).
pub const fn padded_len(plaintext_len: usize) -> usize {
    let x = plaintext_len + 1;
    padme(if x < MIN_PADDED_LEN {
        MIN_PADDED_LEN
    } else {
        x
    })
}

/// Whether `len` is a padded length some plaintext pads to.
pub const fn is_padded_len(len: usize) -> bool {
    len >= MIN_PADDED_LEN && len <= MAX_PADDED_LEN && padme(len) == len
}

/// Appends the padded form of `plaintext` to `out`.
pub fn pad_into(plaintext: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.reserve(padded_len(plaintext.len()));
    out.extend_from_slice(plaintext);
    pad_in_place(out, start);
}

/// Pads the plaintext `buf[start..]` where it lies: appends the `0x80`
/// marker and the zeros (spec §5.4).
pub(crate) fn pad_in_place(buf: &mut Vec<u8>, start: usize) {
    let len = buf.len().saturating_sub(start);
    buf.push(PAD_MARKER);
    buf.resize(start + padded_len(len), 0);
}

/// The plaintext length inside a padded buffer, or `None` when the padding is
/// not canonical: the last non-zero byte must be `0x80` and the buffer's length
/// must be exactly `PaddedLen` of the plaintext length.
///
/// The scan touches every byte and does not branch on their values, so its
/// time does not reveal where the plaintext ends (spec §3.10); only the final
/// accept/reject decision, which the caller reports anyway, branches.
pub fn unpadded_len(padded: &[u8]) -> Option<usize> {
    // Only the bytes from the shortest plaintext that pads to this length
    // on can hold the marker: the padded length already tells the receiver
    // that much of the plaintext's length, so the scan covers just that
    // window (at most 1/8 of a long message, spec §5.4), with masks.
    let from = min_plaintext_len(padded.len());
    let window = padded.get(from..)?;
    // The window's first `len % 8` bytes one by one, the rest as 8-byte
    // words: the last non-zero word is kept, and its bytes examined after
    // the loop. Every byte is read and no branch depends on a value.
    let (head, words) = window.split_at(window.len() % WORD);
    let mut marker = 0usize;
    let mut value = 0u8;
    for (i, &b) in head.iter().enumerate() {
        let nz = nonzero_mask(u64::from(b)) as usize;
        marker = select(nz, i, marker);
        value = select(nz, usize::from(b), usize::from(value)) as u8;
    }
    let mut word_at = 0usize;
    let mut word = 0u64;
    for (j, chunk) in words.chunks_exact(WORD).enumerate() {
        let mut bytes = [0u8; WORD];
        bytes.copy_from_slice(chunk);
        let w = u64::from_le_bytes(bytes);
        let nz = nonzero_mask(w);
        word_at = select(nz as usize, head.len() + j * WORD, word_at);
        word = (w & nz) | (word & !nz);
    }
    // The last non-zero word (if any) holds the last non-zero byte.
    for (k, &b) in word.to_le_bytes().iter().enumerate() {
        let nz = nonzero_mask(u64::from(b)) as usize;
        marker = select(nz, word_at + k, marker);
        value = select(nz, usize::from(b), usize::from(value)) as u8;
    }
    let marker = from + marker;
    if value != PAD_MARKER || padded_len(marker) != padded.len() {
        return None;
    }
    Some(marker)
}

/// Bytes per word of the padding scan.
const WORD: usize = 8;

/// All ones when `x != 0`, else zero, without a branch.
#[inline(always)]
fn nonzero_mask(x: u64) -> u64 {
    0u64.wrapping_sub((x | x.wrapping_neg()) >> 63)
}

/// `a` where `mask` is all ones, `b` where it is zero.
#[inline(always)]
fn select(mask: usize, a: usize, b: usize) -> usize {
    (a & mask) | (b & !mask)
}

/// The shortest plaintext length `L` with `PaddedLen(L) >= len` when `len`
/// is a padded length: 0 for the smallest, else the padded length just below
/// `len` (`PaddedLen(L) = Padmé(L + 1)` is the first Padmé value above `L`).
/// Below `len`, the Padmé values in the range of `len − 1` are the
/// multiples of its rounding step, so that one is `len − 1` rounded down to
/// the step. For any other `len` no plaintext pads to it and the caller
/// rejects whatever window it scans.
fn min_plaintext_len(len: usize) -> usize {
    if len <= MIN_PADDED_LEN {
        return 0;
    }
    let x = len - 1;
    x & !padme_mask(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_examples() {
        // Values worked by hand from the definition.
        assert_eq!(padme(0), 0);
        assert_eq!(padme(1), 1);
        assert_eq!(padme(7), 7);
        assert_eq!(padme(9), 10);
        assert_eq!(padme(33), 36);
        assert_eq!(padme(100), 104);
        assert_eq!(padme(1000), 1024);
        assert_eq!(padme(1025), 1088);
        assert_eq!(padme(MAX_PADDED_LEN), MAX_PADDED_LEN);
    }

    #[test]
    fn padded_len_floor_and_overhead() {
        assert_eq!(padded_len(0), 32);
        assert_eq!(padded_len(31), 32);
        assert_eq!(padded_len(32), 36);
        assert_eq!(padded_len(MAX_PLAINTEXT_LEN), MAX_PADDED_LEN);
        for l in 0..5000usize {
            let p = padded_len(l);
            assert!(p > l);
            assert!(is_padded_len(p), "{l} -> {p}");
            if l >= 64 {
                // Padmé's bound: overhead at most 1/2^(S-1) of the length, here under 12.5%.
                assert!((p - l - 1) * 8 <= l + 1, "{l} -> {p}");
            }
        }
    }

    #[test]
    fn round_trip_and_canonical() {
        for l in [0usize, 1, 31, 32, 33, 100, 1000, 4097] {
            let pt: Vec<u8> = (0..l).map(|i| (i % 251) as u8 + 1).collect();
            let mut buf = Vec::new();
            pad_into(&pt, &mut buf);
            assert_eq!(buf.len(), padded_len(l));
            assert_eq!(unpadded_len(&buf), Some(l));
        }
        // Trailing zeros in the plaintext are kept.
        let mut buf = Vec::new();
        pad_into(&[1, 0, 0], &mut buf);
        assert_eq!(unpadded_len(&buf), Some(3));
        // No marker, wrong marker, over-long padding.
        assert_eq!(unpadded_len(&[0u8; 32]), None);
        let mut bad = [0u8; 32];
        bad[3] = 0x81;
        assert_eq!(unpadded_len(&bad), None);
        let mut long = [0u8; 64];
        long[0] = PAD_MARKER; // an empty plaintext pads to 32, not 64
        assert_eq!(unpadded_len(&long), None);
    }

    /// The closed form of the window's start is the shortest plaintext
    /// length that pads to at least `len`, found by search.
    #[test]
    fn window_start_is_shortest_plaintext() {
        // `PaddedLen` never decreases, so `m` is the shortest when `m − 1` pads below `len`.
        let lens = (32..=MAX_PADDED_LEN).filter(|&l| is_padded_len(l));
        for len in lens {
            let m = min_plaintext_len(len);
            assert!(padded_len(m) >= len, "len {len}");
            assert!(m == 0 || padded_len(m - 1) < len, "len {len}");
        }
        assert_eq!(min_plaintext_len(32), 0);
        assert_eq!(min_plaintext_len(36), 32);
    }

    /// The windowed scan agrees with a scan of every byte (the rule of spec
    /// §5.4) on every padded length up to 5000 and each marker position.
    #[test]
    fn window_scan_matches_full_scan() {
        let full = |padded: &[u8]| -> Option<usize> {
            let m = padded.iter().rposition(|&b| b != 0)?;
            (padded[m] == PAD_MARKER && padded_len(m) == padded.len()).then_some(m)
        };
        for len in (32..5000).filter(|&l| is_padded_len(l)) {
            let mut buf = alloc::vec![0u8; len];
            assert_eq!(unpadded_len(&buf), full(&buf));
            for m in (0..len).step_by(7).chain([len - 1]) {
                buf.fill(0x11);
                buf[m] = PAD_MARKER;
                buf[m + 1..].fill(0);
                assert_eq!(unpadded_len(&buf), full(&buf), "len {len} marker {m}");
            }
        }
    }
}
