//! Safety numbers (spec §10): order independence, backend agreement,
//! sensitivity to every identity bit, the QR payload and its scanning errors.

use sova::provider::{all_providers, CryptoProvider};
use sova::safety::{
    fingerprint, fingerprint_digits, verify_scanned, SafetyError, SafetyNumber, DIGITS_LEN,
    IDENTITY_LEN, QR_PAYLOAD_LEN, QR_VERSION,
};
use sova::Secret;

/// A realistic identity: the Ed25519 and X25519 public keys of two seeds.
fn identity(p: &dyn CryptoProvider, seed: u8) -> [u8; IDENTITY_LEN] {
    let mut id = [0u8; IDENTITY_LEN];
    id[..32].copy_from_slice(&p.ed25519_public_key(&Secret::from_bytes([seed; 32])));
    id[32..].copy_from_slice(&p.x25519_public_key(&Secret::from_bytes([seed ^ 0x80; 32])));
    id
}

fn alice_bob(p: &dyn CryptoProvider) -> ([u8; IDENTITY_LEN], [u8; IDENTITY_LEN]) {
    (identity(p, 1), identity(p, 2))
}

#[test]
fn order_independent() {
    for p in all_providers() {
        let (a, b) = alice_bob(*p);
        let ab = SafetyNumber::compute(*p, &a, &b);
        let ba = SafetyNumber::compute(*p, &b, &a);
        assert_eq!(ab, ba);
        assert_eq!(ab.digits(), ba.digits());
        assert_eq!(ab.qr_payload(), ba.qr_payload());
        // Each side accepts the other's payload.
        assert_eq!(ab.verify_scanned(&ba.qr_payload()), Ok(()));
        assert_eq!(verify_scanned(*p, &a, &b, &ba.qr_payload()), Ok(()));
        assert_eq!(verify_scanned(*p, &b, &a, &ab.qr_payload()), Ok(()));
    }
}

#[test]
fn smaller_identity_comes_first() {
    for p in all_providers() {
        let (a, b) = alice_bob(*p);
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let fp_lo = fingerprint(*p, &lo);
        let fp_hi = fingerprint(*p, &hi);
        let n = SafetyNumber::compute(*p, &a, &b);
        let want = fingerprint_digits(&fp_lo) + &fingerprint_digits(&fp_hi);
        assert_eq!(n.digits(), want);
        let payload = n.qr_payload();
        assert_eq!(payload[0], QR_VERSION);
        assert_eq!(payload[1..33], fp_lo[..32]);
        assert_eq!(payload[33..], fp_hi[..32]);
    }
}

#[test]
fn backends_agree() {
    let providers = all_providers();
    let (a, b) = alice_bob(providers[0]);
    let first = SafetyNumber::compute(providers[0], &a, &b);
    for p in &providers[1..] {
        assert_eq!(SafetyNumber::compute(*p, &a, &b), first, "{}", p.name());
        assert_eq!(fingerprint(*p, &a), fingerprint(providers[0], &a));
    }
    assert_eq!(SafetyNumber::new(&a, &b), first);
}

#[cfg(all(feature = "backend-ring", feature = "backend-rustcrypto"))]
#[test]
fn ring_and_rustcrypto_agree() {
    use sova::provider::{RingProvider, RustCryptoProvider};
    let (a, b) = alice_bob(&RingProvider);
    assert_eq!(
        SafetyNumber::compute(&RingProvider, &a, &b),
        SafetyNumber::compute(&RustCryptoProvider, &a, &b)
    );
}

#[test]
fn one_bit_changes_digits_and_payload() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let base = SafetyNumber::compute(p, &a, &b);
    // A bit in each half of each identity: IK_sig and IK_dh, first and last bytes.
    for (byte, bit) in [(0usize, 0u8), (31, 7), (32, 3), (63, 7)] {
        for which in 0..2 {
            let (mut a2, mut b2) = (a, b);
            let target = if which == 0 { &mut a2 } else { &mut b2 };
            target[byte] ^= 1 << bit;
            let changed = SafetyNumber::compute(p, &a2, &b2);
            assert_ne!(changed.digits(), base.digits(), "byte {byte} bit {bit}");
            assert_ne!(changed.qr_payload(), base.qr_payload());
            assert_eq!(
                base.verify_scanned(&changed.qr_payload()),
                Err(SafetyError::Mismatch)
            );
            assert_eq!(
                verify_scanned(p, &a, &b, &changed.qr_payload()),
                Err(SafetyError::Mismatch)
            );
        }
    }
}

#[test]
fn digits_are_sixty_ascii_digits() {
    for p in all_providers() {
        for (x, y) in [(1u8, 2u8), (3, 4), (5, 5)] {
            let n = SafetyNumber::compute(*p, &identity(*p, x), &identity(*p, y));
            assert_eq!(n.digits().len(), DIGITS_LEN);
            assert!(n.digits().bytes().all(|c| c.is_ascii_digit()));
            let groups: Vec<&str> = n.groups().collect();
            assert_eq!(groups.len(), 12);
            assert!(groups.iter().all(|g| g.len() == 5));
            assert_eq!(groups.concat(), n.digits());
            assert_eq!(n.display(), groups.join(" "));
            assert_eq!(n.display().len(), 71);
            assert_eq!(n.to_string(), n.display());
        }
    }
}

#[test]
fn identical_identities_repeat_one_half() {
    for p in all_providers() {
        let a = identity(*p, 9);
        let n = SafetyNumber::compute(*p, &a, &a);
        let half = fingerprint_digits(&fingerprint(*p, &a));
        assert_eq!(n.digits(), half.clone() + &half);
        assert_eq!(n.qr_payload()[1..33], n.qr_payload()[33..]);
        assert_eq!(n.verify_scanned(&n.qr_payload()), Ok(()));
    }
}

#[test]
fn payload_round_trip() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let n = SafetyNumber::compute(p, &a, &b);
    let payload = n.qr_payload();
    assert_eq!(payload.len(), QR_PAYLOAD_LEN);
    // What a scanner reads back is accepted by both parties.
    let scanned: Vec<u8> = payload.to_vec();
    assert_eq!(n.verify_scanned(&scanned), Ok(()));
    assert_eq!(verify_scanned(p, &a, &b, &scanned), Ok(()));
    assert_eq!(verify_scanned(p, &b, &a, &scanned), Ok(()));
}

#[test]
fn verify_scanned_errors() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let n = SafetyNumber::compute(p, &a, &b);
    let payload = n.qr_payload();

    // Wrong length: empty, one short, one long, a bare 64-byte pair.
    for len in [0usize, 1, 64, 66, 130] {
        let mut v = payload.to_vec();
        v.resize(len, 0);
        let want = Err(SafetyError::Length { actual: len });
        assert_eq!(n.verify_scanned(&v), want);
        assert_eq!(verify_scanned(p, &a, &b, &v), want);
    }
    // A payload of the right length whose length error would hide a bad version.
    let mut long = payload.to_vec();
    long[0] = 0x02;
    long.push(0);
    assert_eq!(
        n.verify_scanned(&long),
        Err(SafetyError::Length { actual: 66 })
    );

    // Unknown version, even with matching fingerprints.
    for version in [0x00u8, 0x02, 0xff] {
        let mut v = payload;
        v[0] = version;
        let want = Err(SafetyError::UnknownVersion { version });
        assert_eq!(n.verify_scanned(&v), want);
        assert_eq!(verify_scanned(p, &a, &b, &v), want);
    }

    // Mismatch: any flipped bit after the version byte, in either fingerprint.
    for i in [1usize, 16, 32, 33, 50, 64] {
        let mut v = payload;
        v[i] ^= 0x01;
        assert_eq!(n.verify_scanned(&v), Err(SafetyError::Mismatch));
        assert_eq!(verify_scanned(p, &a, &b, &v), Err(SafetyError::Mismatch));
    }
    // Mismatch: the two fingerprints swapped.
    let mut swapped = [0u8; QR_PAYLOAD_LEN];
    swapped[0] = QR_VERSION;
    swapped[1..33].copy_from_slice(&payload[33..]);
    swapped[33..].copy_from_slice(&payload[1..33]);
    assert_eq!(n.verify_scanned(&swapped), Err(SafetyError::Mismatch));
    // Mismatch: a third party's payload.
    let c = identity(p, 3);
    let other = SafetyNumber::compute(p, &a, &c).qr_payload();
    assert_eq!(
        verify_scanned(p, &a, &b, &other),
        Err(SafetyError::Mismatch)
    );

    // The errors display without panicking and name the problem.
    assert!(SafetyError::Length { actual: 3 }.to_string().contains('3'));
    assert!(SafetyError::UnknownVersion { version: 2 }
        .to_string()
        .contains("0x02"));
    assert!(!SafetyError::Mismatch.to_string().is_empty());
}
