//! The deterministic input generator (spec §4.1, "How inputs were produced").
//!
//! Every pseudorandom input of every case is a function of the file name,
//! the case index and the field name, built from SHA-256 alone:
//!
//! ```text
//! B(i)  = SHA-256( "sova test vectors"
//!                  || u8(len(file))  || file
//!                  || u32(case)
//!                  || u8(len(field)) || field
//!                  || u32(i) )
//! input(file, case, field, n) = the first n bytes of B(0) || B(1) || B(2) || ...
//! ```
//!
//! `u8` and `u32` are big-endian unsigned integers, `file` is the file name
//! with its extension (`"primitives.json"`), `case` is the 0-based index of
//! the case in the file's `cases` array and `field` is the JSON field name
//! the input is written to (`"message"`). Strings are ASCII and shorter than
//! 256 bytes. The generator uses no random-number crate, so the files are
//! byte-identical across platforms and dependency versions.

use sha2::{Digest, Sha256};

/// The fixed prefix of every generator block.
pub const DOMAIN: &[u8] = b"sova test vectors";

/// Appends `u8(len(s)) || s`; the names used are all shorter than 256 bytes
/// (longer ones are cut at 255 bytes, which keeps the function total).
fn update_short_string(h: &mut Sha256, s: &str) {
    let bytes = s.as_bytes();
    let bytes = &bytes[..bytes.len().min(255)];
    // The slice is at most 255 bytes long, so the length fits in a `u8`.
    h.update([u8::try_from(bytes.len()).unwrap_or(u8::MAX)]);
    h.update(bytes);
}

/// Block `i` of the input stream of (`file`, `case`, `field`).
pub fn block(file: &str, case: u32, field: &str, i: u32) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    update_short_string(&mut h, file);
    h.update(case.to_be_bytes());
    update_short_string(&mut h, field);
    h.update(i.to_be_bytes());
    h.finalize().into()
}

/// The first `n` bytes of the input stream of (`file`, `case`, `field`).
pub fn input(file: &str, case: u32, field: &str, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.next_multiple_of(32));
    let mut i = 0u32;
    while out.len() < n {
        out.extend_from_slice(&block(file, case, field, i));
        i = i.wrapping_add(1);
    }
    out.truncate(n);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn block_is_the_documented_hash() {
        // Spelled out byte by byte, independently of the helper above.
        let mut msg = Vec::new();
        msg.extend_from_slice(b"sova test vectors");
        msg.push(15);
        msg.extend_from_slice(b"primitives.json");
        msg.extend_from_slice(&[0, 0, 0, 3]);
        msg.push(7);
        msg.extend_from_slice(b"message");
        msg.extend_from_slice(&[0, 0, 0, 1]);
        let want: [u8; 32] = Sha256::digest(&msg).into();
        assert_eq!(block("primitives.json", 3, "message", 1), want);
    }

    #[test]
    fn input_concatenates_blocks() {
        let long = input("f.json", 2, "x", 100);
        assert_eq!(long.len(), 100);
        assert_eq!(&long[..32], &block("f.json", 2, "x", 0));
        assert_eq!(&long[32..64], &block("f.json", 2, "x", 1));
        assert_eq!(&long[96..], &block("f.json", 2, "x", 3)[..4]);
        assert_eq!(input("f.json", 2, "x", 7), long[..7].to_vec());
        assert!(input("f.json", 2, "x", 0).is_empty());
        assert_ne!(input("f.json", 2, "y", 32), long[..32].to_vec());
        assert_ne!(input("f.json", 3, "x", 32), long[..32].to_vec());
        assert_ne!(input("g.json", 2, "x", 32), long[..32].to_vec());
    }
}
