//! Safety numbers (spec §10): order independence, backend agreement,
//! sensitivity to every identity bit, the directional QR payload and its
//! scanning errors (a device's own code is refused).

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
        assert_eq!(ab.digits(), ba.digits());
        assert_eq!(ab.display(), ba.display());
        // The payloads are directional: each party displays its own first,
        // and expects the other's.
        assert_ne!(ab.qr_payload(), ba.qr_payload());
        assert_eq!(ab.qr_payload(), ba.expected_scan());
        assert_eq!(ba.qr_payload(), ab.expected_scan());
        // Each side accepts the other's payload, in both directions.
        assert_eq!(ab.verify_scanned(&ba.qr_payload()), Ok(()));
        assert_eq!(ba.verify_scanned(&ab.qr_payload()), Ok(()));
        assert_eq!(verify_scanned(*p, &a, &b, &ba.qr_payload()), Ok(()));
        assert_eq!(verify_scanned(*p, &b, &a, &ab.qr_payload()), Ok(()));
    }
}

#[test]
fn payload_names_the_displayer_first() {
    for p in all_providers() {
        let (a, b) = alice_bob(*p);
        let fp_a = fingerprint(*p, &a);
        let fp_b = fingerprint(*p, &b);
        let shown_by_a = SafetyNumber::compute(*p, &a, &b).qr_payload();
        assert_eq!(shown_by_a.len(), QR_PAYLOAD_LEN);
        assert_eq!(shown_by_a[0], QR_VERSION);
        assert_eq!(shown_by_a[1..33], fp_a[..32]);
        assert_eq!(shown_by_a[33..], fp_b[..32]);
        let shown_by_b = SafetyNumber::compute(*p, &b, &a).qr_payload();
        assert_eq!(shown_by_b[1..33], fp_b[..32]);
        assert_eq!(shown_by_b[33..], fp_a[..32]);
    }
}

/// The attack of the review: a device shown its own code (a mirror, or a
/// video of its own screen relayed back to it) must not accept it.
#[test]
fn own_code_is_refused() {
    for p in all_providers() {
        let (a, b) = alice_bob(*p);
        let alice = SafetyNumber::compute(*p, &a, &b);
        let bob = SafetyNumber::compute(*p, &b, &a);
        // Alice scans her own screen; Bob scans his.
        assert_eq!(
            alice.verify_scanned(&alice.qr_payload()),
            Err(SafetyError::OwnCode)
        );
        assert_eq!(
            verify_scanned(*p, &a, &b, &alice.qr_payload()),
            Err(SafetyError::OwnCode)
        );
        assert_eq!(
            bob.verify_scanned(&bob.qr_payload()),
            Err(SafetyError::OwnCode)
        );
        assert_eq!(
            verify_scanned(*p, &b, &a, &bob.qr_payload()),
            Err(SafetyError::OwnCode)
        );
    }
}

#[test]
fn relayed_or_mirrored_code_is_refused() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let c = identity(p, 3);
    let alice = SafetyNumber::compute(p, &a, &b);
    // A relay shows Alice the code she displays for another contact, Carol:
    // still her own code, whatever follows.
    let for_carol = SafetyNumber::compute(p, &a, &c).qr_payload();
    assert_eq!(alice.verify_scanned(&for_carol), Err(SafetyError::OwnCode));
    // A mirror image cannot turn Alice's code into Bob's: swapping the two
    // halves of Alice's code gives Bob's code, which Bob refuses as his own
    // and Alice accepts only because it is exactly what Bob displays.
    let shown = alice.qr_payload();
    let swapped = [&shown[..1], &shown[33..], &shown[1..33]].concat();
    assert_eq!(
        verify_scanned(p, &b, &a, &swapped),
        Err(SafetyError::OwnCode)
    );
    // Carol relays Bob's code for Carol to Alice: not Bob's code for Alice.
    let bob_for_carol = SafetyNumber::compute(p, &b, &c).qr_payload();
    assert_eq!(
        alice.verify_scanned(&bob_for_carol),
        Err(SafetyError::Mismatch)
    );
    // Carol's code for Alice, relayed as if it were Bob's.
    let carol_for_alice = SafetyNumber::compute(p, &c, &a).qr_payload();
    assert_eq!(
        alice.verify_scanned(&carol_for_alice),
        Err(SafetyError::Mismatch)
    );
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
            assert_ne!(changed.expected_scan(), base.expected_scan());
            assert_eq!(
                base.verify_scanned(&changed.expected_scan()),
                Err(SafetyError::Mismatch)
            );
            assert_eq!(
                verify_scanned(p, &a, &b, &changed.expected_scan()),
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
        assert_eq!(n.qr_payload(), n.expected_scan());
        // A device verifying itself (spec §10.7): its own code is the only
        // candidate and is refused, and nothing else matches.
        assert_eq!(n.verify_scanned(&n.qr_payload()), Err(SafetyError::OwnCode));
        assert_eq!(
            verify_scanned(*p, &a, &a, &n.qr_payload()),
            Err(SafetyError::OwnCode)
        );
        let other = identity(*p, 10);
        let from_other = SafetyNumber::compute(*p, &other, &a).qr_payload();
        assert_eq!(
            verify_scanned(*p, &a, &a, &from_other),
            Err(SafetyError::Mismatch)
        );
    }
}

#[test]
fn payload_round_trip() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let n = SafetyNumber::compute(p, &a, &b);
    let payload = n.qr_payload();
    assert_eq!(payload.len(), QR_PAYLOAD_LEN);
    // What the other party's scanner reads back is accepted by it only.
    let scanned: Vec<u8> = payload.to_vec();
    assert_eq!(verify_scanned(p, &b, &a, &scanned), Ok(()));
    assert_eq!(
        SafetyNumber::compute(p, &b, &a).verify_scanned(&scanned),
        Ok(())
    );
    assert_eq!(n.verify_scanned(&scanned), Err(SafetyError::OwnCode));
}

#[test]
fn verify_scanned_errors() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    // Bob scans the code Alice displays.
    let bob = SafetyNumber::compute(p, &b, &a);
    let payload = SafetyNumber::compute(p, &a, &b).qr_payload();
    assert_eq!(bob.verify_scanned(&payload), Ok(()));

    // Wrong length: empty, one short, one long, a bare 64-byte pair.
    for len in [0usize, 1, 64, 66, 130] {
        let mut v = payload.to_vec();
        v.resize(len, 0);
        let want = Err(SafetyError::Length { actual: len });
        assert_eq!(bob.verify_scanned(&v), want);
        assert_eq!(verify_scanned(p, &b, &a, &v), want);
    }

    // Unknown version, even with matching fingerprints; 0x01 is the former
    // symmetric layout.
    for version in [0x00u8, 0x01, 0x03, 0xff] {
        let mut v = payload;
        v[0] = version;
        let want = Err(SafetyError::UnknownVersion { version });
        assert_eq!(bob.verify_scanned(&v), want);
        assert_eq!(verify_scanned(p, &b, &a, &v), want);
    }

    // Own code: Bob's own code, and Alice's with its halves swapped (the same).
    let own = bob.qr_payload();
    assert_eq!(bob.verify_scanned(&own), Err(SafetyError::OwnCode));
    assert_eq!(verify_scanned(p, &b, &a, &own), Err(SafetyError::OwnCode));
    let mut swapped = [0u8; QR_PAYLOAD_LEN];
    swapped[0] = QR_VERSION;
    swapped[1..33].copy_from_slice(&payload[33..]);
    swapped[33..].copy_from_slice(&payload[1..33]);
    assert_eq!(swapped, own);
    assert_eq!(bob.verify_scanned(&swapped), Err(SafetyError::OwnCode));

    // Mismatch: any flipped bit after the version byte, in either part.
    for i in [1usize, 16, 32, 33, 50, 64] {
        let mut v = payload;
        v[i] ^= 0x01;
        assert_eq!(bob.verify_scanned(&v), Err(SafetyError::Mismatch));
        assert_eq!(verify_scanned(p, &b, &a, &v), Err(SafetyError::Mismatch));
    }
    // Mismatch: a third party's code for Bob.
    let c = identity(p, 3);
    let other = SafetyNumber::compute(p, &c, &b).qr_payload();
    assert_eq!(
        verify_scanned(p, &b, &a, &other),
        Err(SafetyError::Mismatch)
    );

    // The errors display without panicking and name the problem.
    assert!(SafetyError::Length { actual: 3 }.to_string().contains('3'));
    assert!(SafetyError::UnknownVersion { version: 2 }
        .to_string()
        .contains("0x02"));
    assert!(SafetyError::OwnCode.to_string().contains("own code"));
    assert!(!SafetyError::Mismatch.to_string().is_empty());
}

/// Several faults at once: the first check of spec §10.7 that fails names
/// the error (length, version, own code, mismatch).
#[test]
fn check_order() {
    let p = all_providers()[0];
    let (a, b) = alice_bob(p);
    let bob = SafetyNumber::compute(p, &b, &a);
    let own = bob.qr_payload();
    let check = |v: &[u8]| (bob.verify_scanned(v), verify_scanned(p, &b, &a, v));
    let both = |e: SafetyError| (Err(e), Err(e));

    // Length before version: 66 bytes with an unknown version.
    let mut long = own.to_vec();
    long[0] = 0x01;
    long.push(0);
    assert_eq!(check(&long), both(SafetyError::Length { actual: 66 }));
    // Length before own code: Bob's own code, one byte short.
    assert_eq!(check(&own[..64]), both(SafetyError::Length { actual: 64 }));
    // Version before own code: Bob's own code with the old version byte.
    let mut old = own;
    old[0] = 0x01;
    assert_eq!(
        check(&old),
        both(SafetyError::UnknownVersion { version: 0x01 })
    );
    // Own code before mismatch: Bob's fingerprint first, followed by garbage.
    let mut own_bad = own;
    own_bad[64] ^= 0x01;
    assert_eq!(check(&own_bad), both(SafetyError::OwnCode));
    own_bad[33..].fill(0);
    assert_eq!(check(&own_bad), both(SafetyError::OwnCode));
    // Version before mismatch: a random-looking payload with version 0.
    let mut garbage = [0x5au8; QR_PAYLOAD_LEN];
    garbage[0] = 0x00;
    assert_eq!(
        check(&garbage),
        both(SafetyError::UnknownVersion { version: 0x00 })
    );
    garbage[0] = QR_VERSION;
    assert_eq!(check(&garbage), both(SafetyError::Mismatch));
}
