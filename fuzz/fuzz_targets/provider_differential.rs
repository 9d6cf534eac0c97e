//! Differential fuzzing of the two crypto backends.
//!
//! Every input runs one check (selected by its first byte, see
//! `sova_fuzz::provider_differential::Op` for the field layout) on every
//! compiled-in provider. The backends must agree byte for byte, fail with the
//! same error on the same input, and never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sova::kdf::{encode_label, labeled_hash, MAX_LABEL_LEN};
use sova::provider::{CryptoProvider, AEAD_TAG_LEN, HKDF_MAX_OUTPUT, X25519_LEN};
use sova::{CryptoError, Secret};
use sova_fuzz::provider_differential::{Op, MAX_AAD, MAX_LABEL_CHARS};
use sova_fuzz::{providers, Reader};

fuzz_target!(|data: &[u8]| {
    let mut r = Reader::new(data);
    match Op::from_byte(r.u8()) {
        Op::AeadOpen => aead_open(&mut r),
        Op::AeadRoundTrip => aead_round_trip(&mut r),
        Op::X25519 => x25519(&mut r),
        Op::HkdfExpand => hkdf_expand(&mut r),
        Op::LabeledHash => labeled_hash_check(&mut r),
    }
});

/// Runs `f` on every provider and asserts that all results equal the first.
fn agree<T: PartialEq + core::fmt::Debug>(what: &str, f: impl Fn(&dyn CryptoProvider) -> T) -> T {
    let all = providers();
    let reference = f(all[0]);
    for p in &all[1..] {
        let other = f(*p);
        assert_eq!(
            reference,
            other,
            "{what}: {} and {} disagree",
            all[0].name(),
            p.name()
        );
    }
    reference
}

fn aead_open(r: &mut Reader<'_>) {
    let key = r.array::<32>();
    let nonce = r.array::<12>();
    let tag = r.array::<AEAD_TAG_LEN>();
    let aad = r.bytes(MAX_AAD);
    let ciphertext = r.rest();

    let (result, plaintext) = agree("AEAD open", |p| {
        let mut buf = ciphertext.to_vec();
        let res = p.aead_open(&Secret::from_bytes(key), &nonce, aad, &mut buf, &tag);
        // The buffer's contents are unspecified after a failure.
        (res, if res.is_ok() { buf } else { Vec::new() })
    });
    match result {
        Err(e) => assert_eq!(e, CryptoError::AeadAuthentication),
        Ok(()) => {
            // A forged or seeded valid input: sealing the plaintext again
            // must give back the same ciphertext and tag.
            agree("AEAD re-seal", |p| {
                let mut buf = plaintext.clone();
                let t = p.aead_seal(&Secret::from_bytes(key), &nonce, aad, &mut buf);
                assert_eq!(
                    buf,
                    ciphertext,
                    "{}: re-seal changed the ciphertext",
                    p.name()
                );
                assert_eq!(t, tag, "{}: re-seal changed the tag", p.name());
                t
            });
        }
    }
}

fn aead_round_trip(r: &mut Reader<'_>) {
    let key = r.array::<32>();
    let nonce = r.array::<12>();
    let aad = r.bytes(MAX_AAD);
    let flip = usize::from(r.u16());
    let plaintext = r.rest();

    let (ciphertext, tag) = agree("AEAD seal", |p| {
        let mut buf = plaintext.to_vec();
        let tag = p.aead_seal(&Secret::from_bytes(key), &nonce, aad, &mut buf);
        (buf, tag)
    });
    // Every backend opens what every backend sealed (they are all equal).
    let opened = agree("AEAD open of sealed", |p| {
        let mut buf = ciphertext.clone();
        let res = p.aead_open(&Secret::from_bytes(key), &nonce, aad, &mut buf, &tag);
        (res, buf)
    });
    assert_eq!(opened, (Ok(()), plaintext.to_vec()), "round trip failed");
    // One flipped bit anywhere in ciphertext || tag is rejected everywhere.
    let bit = flip % ((ciphertext.len() + AEAD_TAG_LEN) * 8);
    let (mut bad_ct, mut bad_tag) = (ciphertext.clone(), tag);
    let byte = bit / 8;
    if byte < bad_ct.len() {
        bad_ct[byte] ^= 1 << (bit % 8);
    } else {
        bad_tag[byte - bad_ct.len()] ^= 1 << (bit % 8);
    }
    let tampered = agree("AEAD open of tampered", |p| {
        let mut buf = bad_ct.clone();
        p.aead_open(&Secret::from_bytes(key), &nonce, aad, &mut buf, &bad_tag)
    });
    assert_eq!(
        tampered,
        Err(CryptoError::AeadAuthentication),
        "tampered message accepted"
    );
}

fn x25519(r: &mut Reader<'_>) {
    let private = r.array::<X25519_LEN>();
    let public = r.array::<X25519_LEN>();
    agree("X25519 public key", |p| {
        p.x25519_public_key(&Secret::from_bytes(private))
    });
    let result = agree("X25519", |p| {
        p.x25519(&Secret::from_bytes(private), &public)
            .map(|s| *s.expose())
    });
    match result {
        Ok(shared) => assert_ne!(shared, [0u8; X25519_LEN], "all-zero output accepted"),
        Err(e) => assert_eq!(e, CryptoError::X25519LowOrder),
    }
}

fn hkdf_expand(r: &mut Reader<'_>) {
    let prk = r.array::<32>();
    let length = usize::from(r.u16());
    let split = usize::from(r.u16());
    let info = r.rest();
    let (info_a, info_b) = info.split_at(split % (info.len() + 1));

    let (result, okm) = agree("HKDF-Expand", |p| {
        let mut okm = vec![0u8; length];
        let res = p.hkdf_expand(&Secret::from_bytes(prk), &[info_a, info_b], &mut okm);
        (res, okm)
    });
    if length > HKDF_MAX_OUTPUT {
        assert_eq!(result, Err(CryptoError::KdfOutputTooLong));
    } else {
        assert_eq!(result, Ok(()));
        // Splitting `info` into parts must not change the output.
        agree("HKDF-Expand, one info part", |p| {
            let mut whole = vec![0u8; length];
            let res = p.hkdf_expand(&Secret::from_bytes(prk), &[info], &mut whole);
            assert_eq!(res, Ok(()));
            assert_eq!(whole, okm, "{}: info split changed the output", p.name());
            whole
        });
    }
}

fn labeled_hash_check(r: &mut Reader<'_>) {
    let label_len = usize::from(r.u16());
    let chars = r.bytes(MAX_LABEL_CHARS);
    let split = usize::from(r.u16());
    let data = r.rest();
    let (data_a, data_b) = data.split_at(split % (data.len() + 1));

    let label: String = if chars.is_empty() {
        "a".repeat(label_len)
    } else {
        (0..label_len)
            .map(|i| char::from(chars[i % chars.len()]))
            .collect()
    };
    let result = agree("LabeledHash", |p| {
        labeled_hash(p, &label, &[data_a, data_b])
    });
    // The limit is on the label's encoded length in bytes, not in characters.
    if label.len() > MAX_LABEL_LEN {
        assert_eq!(result, Err(CryptoError::LabelTooLong));
        assert_eq!(encode_label(&label), Err(CryptoError::LabelTooLong));
    } else {
        let hash = result.expect("label within the limit rejected");
        let encoded = encode_label(&label).expect("label within the limit rejected");
        agree("LabeledHash definition", |p| {
            let direct = p.sha256(&[&encoded, data]);
            assert_eq!(
                direct,
                hash,
                "{}: LabeledHash differs from its definition",
                p.name()
            );
            direct
        });
    }
}
