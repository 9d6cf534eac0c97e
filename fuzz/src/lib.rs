//! Helpers shared by Sova's fuzz targets.
//!
//! A fuzz input is a flat byte string. Targets split it into typed fields with
//! a [`Reader`], which never fails: a field that runs past the end of the
//! input is padded with zero bytes, so every byte string is a valid input and
//! the fuzzer spends no time on rejected ones. [`Writer`] is the exact inverse
//! and is used to build seed inputs (`examples/write_seeds.rs`), so seeds stay
//! in step with the layout the targets read.
//!
//! Layout conventions (big-endian throughout):
//! * `u8`, `u16`: fixed-width integers;
//! * `array::<N>`: exactly `N` bytes;
//! * `bytes(max)`: a `u16` length, then that many bytes (cut to `max` and to
//!   what is left of the input);
//! * `rest`: everything that remains.

use sova::provider::{all_providers, CryptoProvider};

/// Splits a fuzz input into fields. Reading past the end yields zero bytes.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over the whole input.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// Takes up to `n` bytes from the front.
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, tail) = self.data.split_at(n);
        self.data = tail;
        head
    }

    /// One byte (0 when the input is exhausted).
    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    /// A big-endian `u16` (zero-padded when the input is exhausted).
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }

    /// Exactly `N` bytes, zero-padded when the input is exhausted.
    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let head = self.take(N);
        out[..head.len()].copy_from_slice(head);
        out
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> &'a [u8] {
        let len = usize::from(self.u16()).min(max);
        self.take(len)
    }

    /// Everything that is left.
    pub fn rest(&mut self) -> &'a [u8] {
        self.take(self.data.len())
    }
}

/// Builds inputs in the layout [`Reader`] reads.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty input.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one byte.
    pub fn u8(mut self, v: u8) -> Self {
        self.out.push(v);
        self
    }

    /// Appends a big-endian `u16`.
    pub fn u16(mut self, v: u16) -> Self {
        self.out.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// Appends a fixed-size field.
    pub fn array<const N: usize>(mut self, v: &[u8; N]) -> Self {
        self.out.extend_from_slice(v);
        self
    }

    /// Appends a length-prefixed byte string.
    ///
    /// # Panics
    /// When `v` is longer than `u16::MAX` bytes.
    pub fn bytes(self, v: &[u8]) -> Self {
        let len = u16::try_from(v.len()).expect("field longer than u16::MAX");
        let mut w = self.u16(len);
        w.out.extend_from_slice(v);
        w
    }

    /// Appends the trailing field.
    pub fn rest(mut self, v: &[u8]) -> Self {
        self.out.extend_from_slice(v);
        self
    }

    /// The finished input.
    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Every backend compiled in; differential targets need at least two.
pub fn providers() -> &'static [&'static dyn CryptoProvider] {
    let all = all_providers();
    assert!(
        all.len() >= 2,
        "differential fuzzing needs both backends compiled in"
    );
    all
}

/// The input layout of the `provider_differential` target.
///
/// The first byte selects the check ([`Op::from_byte`]); the fields that
/// follow are listed on each variant, in reading order.
pub mod provider_differential {
    /// Which check an input runs.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Op {
        /// `key[32] nonce[12] tag[16] aad:bytes(1024) ciphertext:rest`:
        /// AEAD open of arbitrary input on every backend.
        AeadOpen,
        /// `key[32] nonce[12] aad:bytes(1024) flip:u16 plaintext:rest`:
        /// seal on every backend, open on every backend, then flip bit
        /// `flip` of `ciphertext || tag` and expect rejection everywhere.
        AeadRoundTrip,
        /// `private[32] public[32]`: X25519 with an arbitrary public key.
        X25519,
        /// `prk[32] length:u16 split:u16 info:rest`: HKDF-Expand to `length`
        /// bytes (up to 65535, so beyond the 8160-byte limit), with `info`
        /// passed as two parts cut at `split`.
        HkdfExpand,
        /// `label_len:u16 label_chars:bytes(256) split:u16 data:rest`:
        /// `LabeledHash` with a label of `label_len` characters cycling
        /// through `label_chars` (each byte one character, U+0000..=U+00FF,
        /// so the label's byte length can exceed its character count).
        LabeledHash,
    }

    impl Op {
        /// Every check, in selector order.
        pub const ALL: [Op; 5] = [
            Op::AeadOpen,
            Op::AeadRoundTrip,
            Op::X25519,
            Op::HkdfExpand,
            Op::LabeledHash,
        ];

        /// The check selected by the first input byte (taken modulo the count).
        pub fn from_byte(b: u8) -> Op {
            Self::ALL[usize::from(b) % Self::ALL.len()]
        }

        /// The selector byte of this check.
        pub fn to_byte(self) -> u8 {
            // The position in `ALL`; five entries always fit in a byte.
            Self::ALL.iter().position(|op| *op == self).unwrap_or(0) as u8
        }
    }

    /// Longest associated data the AEAD checks read.
    pub const MAX_AAD: usize = 1024;
    /// Longest character source the labelled-hash check reads.
    pub const MAX_LABEL_CHARS: usize = 256;
}

/// The input layout of the `ed25519_batch` target: `count:u8 head:u8`,
/// then per item `key:u8 edit:u8 at:u8 message:bytes(64)` (edits
/// [`BatchEdit::RandomSignature`] and [`BatchEdit::RandomKey`] then read
/// `signature[64]` or `key[32]`), then the batch's random bytes (32 per
/// entry, zero-padded). `1 + count % 8` items ([`BATCH_MAX_ITEMS`]), each a
/// genuine signature by one of the target's six keys (`key % 6`: four of
/// prime order, two of mixed order) with the edit `edit % 12` applied.
/// `head % 8` is 0 for one random entry too many, 1 for one too few,
/// otherwise one per item; `head / 8` picks the backend (modulo their
/// number).
pub mod ed25519_batch {
    /// Most items of an Ed25519 batch input.
    pub const BATCH_MAX_ITEMS: usize = 8;
    /// Longest message of a batch item.
    pub const BATCH_MAX_MESSAGE: usize = 64;

    /// What an Ed25519 batch item's `edit` byte does to its genuine
    /// signature (`at` selects the bit, point or split).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum BatchEdit {
        /// Nothing.
        None,
        /// Flips bit `at` of `R`.
        FlipR,
        /// Flips bit `at` of `S`.
        FlipS,
        /// Flips bit `at` of the key.
        FlipKey,
        /// Flips bit `at` of the message (appends a byte to an empty one).
        FlipMessage,
        /// Replaces `S` with `S + ℓ` (non-canonical).
        NonCanonicalS,
        /// Replaces the key with small-order point `at % 8`.
        SmallOrderKey,
        /// Replaces `R` with small-order point `at % 8`.
        SmallOrderR,
        /// Adds torsion point `at % 8` to the key.
        TorsionKey,
        /// Replaces the signature with the next 64 input bytes.
        RandomSignature,
        /// Replaces the key with the next 32 input bytes.
        RandomKey,
        /// Adds torsion point `at % 8` to `R`.
        TorsionR,
    }

    impl BatchEdit {
        /// Every edit, in selector order.
        pub const ALL: [BatchEdit; 12] = [
            BatchEdit::None,
            BatchEdit::FlipR,
            BatchEdit::FlipS,
            BatchEdit::FlipKey,
            BatchEdit::FlipMessage,
            BatchEdit::NonCanonicalS,
            BatchEdit::SmallOrderKey,
            BatchEdit::SmallOrderR,
            BatchEdit::TorsionKey,
            BatchEdit::RandomSignature,
            BatchEdit::RandomKey,
            BatchEdit::TorsionR,
        ];

        /// The edit selected by a byte (modulo the count).
        pub fn from_byte(b: u8) -> BatchEdit {
            Self::ALL[usize::from(b) % Self::ALL.len()]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_and_reader_agree() {
        let input = Writer::new()
            .u8(7)
            .u16(0x1234)
            .array(&[1, 2, 3])
            .bytes(b"field")
            .rest(b"tail")
            .finish();
        let mut r = Reader::new(&input);
        assert_eq!(r.u8(), 7);
        assert_eq!(r.u16(), 0x1234);
        assert_eq!(r.array::<3>(), [1, 2, 3]);
        assert_eq!(r.bytes(100), b"field");
        assert_eq!(r.rest(), b"tail");
        assert_eq!(r.rest(), b"");
    }

    #[test]
    fn exhausted_input_reads_as_zeros() {
        let mut r = Reader::new(&[0xff]);
        assert_eq!(r.u16(), 0xff00);
        assert_eq!(r.array::<4>(), [0; 4]);
        assert_eq!(r.bytes(10), b"");
        let mut r = Reader::new(&[0, 9, 1, 2]);
        assert_eq!(r.bytes(10), &[1, 2]);
        let mut r = Reader::new(&[0, 9, 1, 2, 3]);
        assert_eq!(r.bytes(1), &[1]);
        assert_eq!(r.rest(), &[2, 3]);
    }

    #[test]
    fn selector_bytes_round_trip() {
        use provider_differential::Op;
        for op in Op::ALL {
            assert_eq!(Op::from_byte(op.to_byte()), op);
        }
    }

    #[test]
    fn both_backends_are_compiled_in() {
        let names: Vec<_> = providers().iter().map(|p| p.name()).collect();
        assert_eq!(names, ["ring", "rustcrypto"]);
    }
}
