//! Writes the committed seed inputs of `provider_differential` and
//! `ed25519_batch` under `fuzz/seeds/<target>/`.
//!
//!     cargo run --manifest-path fuzz/Cargo.toml --example write_seeds
//!
//! Seeds are built with `sova_fuzz::Writer`, the inverse of the `Reader` the
//! targets use, so they always match the targets' input layout. Each seed is a
//! small file named after what it exercises; rerunning the program rewrites
//! them identically.

use std::fs;
use std::path::{Path, PathBuf};

use sova::provider::{CryptoProvider, RingProvider, HKDF_MAX_OUTPUT};
use sova::Secret;
use sova_fuzz::ed25519_batch::BatchEdit;
use sova_fuzz::provider_differential::Op;
use sova_fuzz::Writer;

fn provider_differential() -> Vec<(&'static str, Vec<u8>)> {
    let key = [0x42u8; 32];
    let nonce = *b"sova-nonce12";
    let aad = b"associated data";
    let message = b"a message for the seed corpus";

    // A valid sealed message, so the fuzzer starts from an accepted input.
    let mut sealed = message.to_vec();
    let tag = RingProvider.aead_seal(&Secret::from_bytes(key), &nonce, aad, &mut sealed);

    // X25519: the base point, and two low-order points (zero and one).
    let mut base_point = [0u8; 32];
    base_point[0] = 9;
    let mut one = [0u8; 32];
    one[0] = 1;

    // RFC 5869 test case 1: PRK, info and L = 42.
    let rfc5869_prk: [u8; 32] = [
        0x07, 0x77, 0x09, 0x36, 0x2c, 0x2e, 0x32, 0xdf, 0x0d, 0xdc, 0x3f, 0x0d, 0xc4, 0x7b, 0xba,
        0x63, 0x90, 0xb6, 0xc7, 0x3b, 0xb5, 0x0f, 0x9c, 0x31, 0x22, 0xec, 0x84, 0x4a, 0xd7, 0xc2,
        0xb3, 0xe5,
    ];
    let rfc5869_info: Vec<u8> = (0xf0..=0xf9).collect();
    let max = u16::try_from(HKDF_MAX_OUTPUT).expect("8160 fits in u16");

    let op = |op: Op| Writer::new().u8(op.to_byte());
    vec![
        (
            "aead_open_valid",
            op(Op::AeadOpen)
                .array(&key)
                .array(&nonce)
                .array(&tag)
                .bytes(aad)
                .rest(&sealed)
                .finish(),
        ),
        (
            "aead_open_forged",
            op(Op::AeadOpen)
                .array(&key)
                .array(&nonce)
                .array(&[0u8; 16])
                .bytes(aad)
                .rest(&sealed)
                .finish(),
        ),
        (
            "aead_round_trip",
            op(Op::AeadRoundTrip)
                .array(&key)
                .array(&nonce)
                .bytes(aad)
                .u16(77)
                .rest(message)
                .finish(),
        ),
        (
            "aead_round_trip_empty",
            op(Op::AeadRoundTrip)
                .array(&key)
                .array(&nonce)
                .bytes(b"")
                .u16(3)
                .rest(b"")
                .finish(),
        ),
        (
            "x25519_base_point",
            op(Op::X25519)
                .array(&[0x11; 32])
                .array(&base_point)
                .finish(),
        ),
        (
            "x25519_zero",
            op(Op::X25519).array(&[0x11; 32]).array(&[0; 32]).finish(),
        ),
        (
            "x25519_one",
            op(Op::X25519).array(&[0x11; 32]).array(&one).finish(),
        ),
        (
            "hkdf_expand_rfc5869_1",
            op(Op::HkdfExpand)
                .array(&rfc5869_prk)
                .u16(42)
                .u16(4)
                .rest(&rfc5869_info)
                .finish(),
        ),
        (
            "hkdf_expand_max",
            op(Op::HkdfExpand)
                .array(&rfc5869_prk)
                .u16(max)
                .u16(0)
                .rest(b"info")
                .finish(),
        ),
        (
            "hkdf_expand_too_long",
            op(Op::HkdfExpand)
                .array(&rfc5869_prk)
                .u16(max + 1)
                .u16(0)
                .rest(b"info")
                .finish(),
        ),
        (
            "labeled_hash_short",
            op(Op::LabeledHash)
                .u16(4)
                .bytes(b"root")
                .u16(2)
                .rest(b"data")
                .finish(),
        ),
        (
            "labeled_hash_longest",
            op(Op::LabeledHash)
                .u16(248)
                .bytes(b"label")
                .u16(0)
                .rest(b"")
                .finish(),
        ),
        (
            "labeled_hash_too_long",
            op(Op::LabeledHash)
                .u16(249)
                .bytes(b"label")
                .u16(0)
                .rest(b"")
                .finish(),
        ),
        (
            // 125 two-byte characters: 125 characters, 250 bytes.
            "labeled_hash_multibyte_too_long",
            op(Op::LabeledHash)
                .u16(125)
                .bytes(&[0xe9])
                .u16(0)
                .rest(b"")
                .finish(),
        ),
    ]
}

/// Ed25519 batches: items `(key, edit, at, message)` and the count of random
/// entries relative to the items (`lengths`: 0 one too many, 1 one too few,
/// 2 exact).
fn ed25519_batch(lengths: u8, items: &[(u8, BatchEdit, u8, &[u8])]) -> Vec<u8> {
    let edit_byte = |e: BatchEdit| BatchEdit::ALL.iter().position(|x| *x == e).unwrap_or(0) as u8;
    let mut w = Writer::new().u8(items.len() as u8 - 1).u8(lengths);
    for &(key, edit, at, message) in items {
        w = w.u8(key).u8(edit_byte(edit)).u8(at).bytes(message);
    }
    let random: Vec<u8> = (0..32 * items.len() + 32).map(|i| (i * 7) as u8).collect();
    w.rest(&random).finish()
}

fn ed25519_batch_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let genuine: Vec<(u8, BatchEdit, u8, &[u8])> = (0..8u8)
        .map(|k| (k % 6, BatchEdit::None, k * 3, &b"queued message"[..]))
        .collect();
    let mut out = vec![
        ("one", ed25519_batch(2, &[(0, BatchEdit::None, 0, b"one")])),
        ("eight_mixed_keys", ed25519_batch(2, &genuine)),
        ("extra_random", ed25519_batch(0, &genuine[..3])),
        ("missing_random", ed25519_batch(1, &genuine[..3])),
        (
            "repeated_key",
            ed25519_batch(
                2,
                &[
                    (1, BatchEdit::None, 0, b"a"),
                    (1, BatchEdit::None, 1, b"b"),
                    (1, BatchEdit::None, 2, b""),
                ],
            ),
        ),
    ];
    let names = [
        "flip_r",
        "flip_s",
        "flip_key",
        "flip_message",
        "non_canonical_s",
        "small_order_key",
        "small_order_r",
        "torsion_key",
        "random_signature",
        "random_key",
        "torsion_r",
    ];
    for (name, edit) in names.iter().zip(&BatchEdit::ALL[1..]) {
        out.push((
            *name,
            ed25519_batch(
                2,
                &[
                    (0, BatchEdit::None, 0, b"first"),
                    (2, *edit, 77, b"edited"),
                    (4, BatchEdit::None, 5, b"mixed order"),
                ],
            ),
        ));
    }
    out
}

fn write_all(dir: &Path, seeds: &[(&str, Vec<u8>)]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for (name, bytes) in seeds {
        fs::write(dir.join(name), bytes)?;
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
    Ok(())
}

fn main() -> std::io::Result<()> {
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    write_all(
        &seeds.join("provider_differential"),
        &provider_differential(),
    )?;
    write_all(&seeds.join("ed25519_batch"), &ed25519_batch_seeds())
}
