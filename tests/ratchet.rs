//! Behaviour of the Double Ratchet (spec §5, §6): delivery, ordering, limits,
//! and that every rejected message leaves the state byte-for-byte unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::provider::all_providers;
use sova::ratchet::{
    message, DecryptError, EncryptError, HeaderMode, InitError, Ratchet, StateError,
    MAX_PLAINTEXT_LEN, MAX_RECEIVING_CHAINS, MAX_SESSION_AD_LEN, MAX_SKIP, MAX_STORED_KEYS,
};
use sova::{CryptoProvider, DefaultProvider, Secret};

const MODES: [HeaderMode; 2] = [HeaderMode::Plain, HeaderMode::Encrypted];

fn pair(mode: HeaderMode) -> (Ratchet, Ratchet) {
    let p = DefaultProvider::default();
    let sk = Secret::from_bytes([0x42; 32]);
    let bob_priv = Secret::from_bytes([0x24; 32]);
    let bob_pub = p.x25519_public_key(&bob_priv);
    let ad = b"alice-id|bob-id";
    let a = Ratchet::initiator(&sk, bob_pub, ad, mode).unwrap();
    let b = Ratchet::responder(&sk, bob_priv, ad, mode).unwrap();
    (a, b)
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([7; 32])
}

/// Decrypting `msg` must fail with `want` and leave `r` exactly as it was.
fn rejects(r: &mut Ratchet, msg: &[u8], want: DecryptError) {
    let before = r.to_bytes();
    assert_eq!(r.decrypt(msg), Err(want));
    assert_eq!(r.to_bytes(), before, "state changed by a rejected message");
}

/// As `rejects`, for any error.
fn rejects_any(r: &mut Ratchet, msg: &[u8]) -> DecryptError {
    let before = r.to_bytes();
    let e = r.decrypt(msg).expect_err("message should be rejected");
    assert_eq!(
        r.to_bytes(),
        before,
        "state changed by a rejected message ({e})"
    );
    e
}

#[test]
fn ping_pong_with_ratchet_steps() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = rng();
        for round in 0..20u32 {
            for i in 0..(round % 3 + 1) {
                let text = format!("a->b {round} {i}");
                let m = a.encrypt(&mut rng, text.as_bytes()).unwrap();
                assert_eq!(b.decrypt(&m).unwrap(), text.as_bytes());
            }
            let text = format!("b->a {round}");
            let m = b.encrypt(&mut rng, text.as_bytes()).unwrap();
            assert_eq!(a.decrypt(&m).unwrap(), text.as_bytes());
        }
        assert!(a.receiving_chains() <= MAX_RECEIVING_CHAINS);
        assert_eq!(a.stored_keys(), 0);
    }
}

#[test]
fn wire_type_follows_mode() {
    for mode in MODES {
        let (mut a, _) = pair(mode);
        let m = a.encrypt(&mut rng(), b"x").unwrap();
        assert_eq!(m[0], message::VERSION);
        let want = match mode {
            HeaderMode::Plain => message::TYPE_PLAIN_HEADER,
            HeaderMode::Encrypted => message::TYPE_ENCRYPTED_HEADER,
        };
        assert_eq!(m[1], want);
        let parsed = message::parse(&m).unwrap();
        assert_eq!(parsed.ciphertext.len(), 32);
    }
}

#[test]
fn backends_produce_identical_messages() {
    for mode in MODES {
        let mut outs = Vec::new();
        for p in all_providers() {
            let (mut a, mut b) = pair(mode);
            let mut r = rng();
            let m1 = a.encrypt_with(*p, &mut r, b"one").unwrap();
            b.decrypt_with(*p, &m1).unwrap();
            let m2 = b.encrypt_with(*p, &mut r, b"two").unwrap();
            a.decrypt_with(*p, &m2).unwrap();
            outs.push((m1, m2, a.to_bytes(), b.to_bytes()));
        }
        assert!(outs.windows(2).all(|w| w[0] == w[1]));
    }
}

#[test]
fn out_of_order_within_and_across_chains() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = rng();
        let first: Vec<_> = (0..5).map(|i| a.encrypt(&mut rng, &[i]).unwrap()).collect();
        b.decrypt(&first[2]).unwrap();
        assert_eq!(b.stored_keys(), 2);
        let reply = b.encrypt(&mut rng, b"r").unwrap();
        a.decrypt(&reply).unwrap();
        let second: Vec<_> = (10..13)
            .map(|i| a.encrypt(&mut rng, &[i]).unwrap())
            .collect();
        // New chain first, then late messages of the old chain.
        assert_eq!(b.decrypt(&second[1]).unwrap(), [11]);
        assert_eq!(b.decrypt(&first[4]).unwrap(), [4]);
        assert_eq!(b.decrypt(&first[0]).unwrap(), [0]);
        assert_eq!(b.decrypt(&second[0]).unwrap(), [10]);
        assert_eq!(b.decrypt(&first[1]).unwrap(), [1]);
        assert_eq!(b.decrypt(&first[3]).unwrap(), [3]);
        assert_eq!(b.decrypt(&second[2]).unwrap(), [12]);
        assert_eq!(b.stored_keys(), 0);
        // Each is usable once.
        for m in first.iter().chain(&second) {
            assert!(matches!(
                rejects_any(&mut b, m),
                DecryptError::DuplicateOrExpired { .. }
            ));
        }
    }
}

#[test]
fn replay_is_rejected_without_state_change() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let m = a.encrypt(&mut rng(), b"hi").unwrap();
        b.decrypt(&m).unwrap();
        rejects(&mut b, &m, DecryptError::DuplicateOrExpired { n: 0 });
    }
}

#[test]
fn every_single_byte_tamper_is_rejected_without_state_change() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = rng();
        let m0 = a.encrypt(&mut rng, b"first").unwrap();
        b.decrypt(&m0).unwrap();
        let m = a.encrypt(&mut rng, b"tamper with me").unwrap();
        for i in 0..m.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = m.clone();
                t[i] ^= bit;
                rejects_any(&mut b, &t);
            }
        }
        assert_eq!(b.decrypt(&m).unwrap(), b"tamper with me");
    }
}

#[test]
fn malformed_messages() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let m = a.encrypt(&mut rng(), b"x").unwrap();
        for cut in 0..m.len() {
            assert!(matches!(
                rejects_any(&mut b, &m[..cut]),
                DecryptError::Malformed(_)
            ));
        }
        let mut long = m.clone();
        long.push(0);
        rejects(
            &mut b,
            &long,
            DecryptError::Malformed(message::ParseError::TrailingBytes(1)),
        );
        let mut v = m.clone();
        v[0] = 2;
        rejects(
            &mut b,
            &v,
            DecryptError::Malformed(message::ParseError::UnsupportedVersion(2)),
        );
        let mut t = m.clone();
        t[1] = 9;
        rejects(
            &mut b,
            &t,
            DecryptError::Malformed(message::ParseError::UnknownType(9)),
        );
    }
}

#[test]
fn wrong_header_mode_is_rejected() {
    let (mut a, _) = pair(HeaderMode::Plain);
    let (_, mut b) = pair(HeaderMode::Encrypted);
    let m = a.encrypt(&mut rng(), b"x").unwrap();
    rejects(
        &mut b,
        &m,
        DecryptError::WrongMessageType(message::TYPE_PLAIN_HEADER),
    );
    let (mut a2, _) = pair(HeaderMode::Encrypted);
    let (_, mut b2) = pair(HeaderMode::Plain);
    let m2 = a2.encrypt(&mut rng(), b"x").unwrap();
    rejects(
        &mut b2,
        &m2,
        DecryptError::WrongMessageType(message::TYPE_ENCRYPTED_HEADER),
    );
}

#[test]
fn skip_limit_is_enforced_without_state_change() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = rng();
        let mut last = Vec::new();
        for _ in 0..=MAX_SKIP + 1 {
            last = a.encrypt(&mut rng, b"").unwrap();
        }
        rejects(
            &mut b,
            &last,
            DecryptError::TooManySkipped {
                n: MAX_SKIP + 1,
                skip: MAX_SKIP + 1,
            },
        );
        assert_eq!(b.stored_keys(), 0);
    }
}

#[test]
fn stored_keys_are_bounded_and_evicted_oldest_first() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = rng();
    // Chain 1: skip 1500 keys.
    let c1: Vec<_> = (0..=1500u32)
        .map(|_| a.encrypt(&mut rng, b"").unwrap())
        .collect();
    b.decrypt(&c1[1500]).unwrap();
    assert_eq!(b.stored_keys(), 1500);
    let r = b.encrypt(&mut rng, b"").unwrap();
    a.decrypt(&r).unwrap();
    // Chain 2: skip 1000 more: 500 of chain 1's lowest keys are evicted.
    let c2: Vec<_> = (0..=1000u32)
        .map(|_| a.encrypt(&mut rng, b"").unwrap())
        .collect();
    b.decrypt(&c2[1000]).unwrap();
    assert_eq!(b.stored_keys(), MAX_STORED_KEYS);
    assert!(matches!(
        rejects_any(&mut b, &c1[0]),
        DecryptError::DuplicateOrExpired { n: 0 }
    ));
    assert!(matches!(
        rejects_any(&mut b, &c1[499]),
        DecryptError::DuplicateOrExpired { n: 499 }
    ));
    b.decrypt(&c1[500]).unwrap();
    b.decrypt(&c2[0]).unwrap();
}

#[test]
fn old_chains_are_dropped_after_the_window() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = rng();
    let late = a.encrypt(&mut rng, b"late").unwrap();
    let _skipped = a.encrypt(&mut rng, b"x").unwrap();
    let on_time = a.encrypt(&mut rng, b"x").unwrap();
    b.decrypt(&on_time).unwrap();
    // MAX_RECEIVING_CHAINS more round trips push the first chain out.
    for _ in 0..MAX_RECEIVING_CHAINS {
        let m = b.encrypt(&mut rng, b"").unwrap();
        a.decrypt(&m).unwrap();
        let m = a.encrypt(&mut rng, b"").unwrap();
        b.decrypt(&m).unwrap();
    }
    assert_eq!(b.receiving_chains(), MAX_RECEIVING_CHAINS);
    // The late message now looks like a new chain under an old key: rejected.
    rejects_any(&mut b, &late);
}

#[test]
fn beyond_announced_chain_end_is_rejected() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = rng();
    let m0 = a.encrypt(&mut rng, b"0").unwrap();
    b.decrypt(&m0).unwrap();
    // Bob's reply makes Alice start a new chain; her old chain had 1 message.
    let r = b.encrypt(&mut rng, b"r").unwrap();
    a.decrypt(&r).unwrap();
    let n0 = a.encrypt(&mut rng, b"n0").unwrap();
    b.decrypt(&n0).unwrap();
    // Forge nothing: craft a header claiming message 5 of the old chain. It is
    // rejected before any key is derived.
    let mut forged = m0.clone();
    forged[38..42].copy_from_slice(&5u32.to_be_bytes());
    rejects(
        &mut b,
        &forged,
        DecryptError::BeyondChainEnd { n: 5, end: 1 },
    );
}

#[test]
fn low_order_ratchet_key_is_rejected() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut m = a.encrypt(&mut rng(), b"x").unwrap();
    m[2..34].copy_from_slice(&[0u8; 32]);
    rejects(&mut b, &m, DecryptError::LowOrderRatchetKey);
}

#[test]
fn encrypt_errors_leave_state_unchanged() {
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let mut rng = rng();
    let before = b.to_bytes();
    assert_eq!(b.encrypt(&mut rng, b"x"), Err(EncryptError::NoSendingChain));
    assert_eq!(b.to_bytes(), before);
    let before = a.to_bytes();
    let big = vec![0u8; MAX_PLAINTEXT_LEN + 1];
    assert_eq!(
        a.encrypt(&mut rng, &big),
        Err(EncryptError::PlaintextTooLong)
    );
    assert_eq!(a.to_bytes(), before);
    // The largest plaintext is fine.
    let max = vec![0xa5u8; MAX_PLAINTEXT_LEN];
    let m = a.encrypt(&mut rng, &max).unwrap();
    assert_eq!(m.len(), message::MAX_MESSAGE_LEN - 28);
    assert_eq!(b.decrypt(&m).unwrap(), max);
    // A low-order peer key fails the ratchet step without changing anything.
    let sk = Secret::from_bytes([1; 32]);
    let mut c = Ratchet::initiator(&sk, [0u8; 32], b"", HeaderMode::Plain).unwrap();
    let before = c.to_bytes();
    assert_eq!(
        c.encrypt(&mut rng, b"x"),
        Err(EncryptError::LowOrderRatchetKey)
    );
    assert_eq!(c.to_bytes(), before);
}

#[test]
fn session_ad_limit() {
    let sk = Secret::from_bytes([1; 32]);
    let ad = vec![0u8; MAX_SESSION_AD_LEN + 1];
    assert!(matches!(
        Ratchet::initiator(&sk, [9; 32], &ad, HeaderMode::Plain),
        Err(InitError::SessionAdTooLong)
    ));
    assert!(Ratchet::initiator(&sk, [9; 32], &ad[1..], HeaderMode::Plain).is_ok());
}

#[test]
fn session_ad_binds_messages() {
    let p = DefaultProvider::default();
    let sk = Secret::from_bytes([0x42; 32]);
    let bob_priv = Secret::from_bytes([0x24; 32]);
    let bob_pub = p.x25519_public_key(&bob_priv);
    let mut a = Ratchet::initiator(&sk, bob_pub, b"ad one", HeaderMode::Plain).unwrap();
    let mut b = Ratchet::responder(&sk, bob_priv, b"ad two", HeaderMode::Plain).unwrap();
    let m = a.encrypt(&mut rng(), b"x").unwrap();
    rejects(&mut b, &m, DecryptError::Authentication);
}

#[test]
fn state_round_trips_and_rejects_bad_input() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut rng = rng();
        let ms: Vec<_> = (0..4).map(|i| a.encrypt(&mut rng, &[i]).unwrap()).collect();
        b.decrypt(&ms[3]).unwrap();
        let bytes = b.to_bytes();
        let mut restored = Ratchet::from_bytes(&bytes).unwrap();
        assert_eq!(restored.to_bytes(), bytes);
        assert_eq!(restored.decrypt(&ms[1]).unwrap(), [1]);
        for cut in 0..bytes.len() {
            assert!(Ratchet::from_bytes(&bytes[..cut]).is_err());
        }
        // A byte appended after the integrity check breaks the check (spec §8.1).
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            Ratchet::from_bytes(&long).err(),
            Some(StateError::Corrupted)
        );
        // Every single-bit flip past the magic and version is caught by the
        // integrity check: no corruption restores as a different state.
        for bit in 15 * 8..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                Ratchet::from_bytes(&flipped).err(),
                Some(StateError::Corrupted),
                "bit {bit}"
            );
        }
        let mut future = bytes.clone();
        future[14] = 2;
        assert_eq!(
            Ratchet::from_bytes(&future).err(),
            Some(StateError::UnsupportedVersion(2))
        );
        let mut magic = bytes.clone();
        magic[0] ^= 1;
        assert_eq!(
            Ratchet::from_bytes(&magic).err(),
            Some(StateError::BadMagic)
        );
    }
}

#[test]
fn debug_output_has_no_secrets() {
    let (a, _) = pair(HeaderMode::Encrypted);
    let text = format!("{a:?}");
    assert!(text.contains("Ratchet"));
    let state = a.to_bytes();
    // The root key's first bytes would show up as a run of decimal or hex values.
    let root_hex: String = state[20..28].iter().map(|b| format!("{b:02x}")).collect();
    assert!(!text.contains(&root_hex));
}

#[cfg(feature = "hazmat")]
#[test]
fn non_canonical_padding_is_rejected_without_state_change() {
    // A sender holding the right keys but padding wrongly: re-seal the body
    // of a genuine message with the same AEAD key and nonce.
    let p = DefaultProvider::default();
    let (mut a, mut b) = pair(HeaderMode::Plain);
    let (mut m, trace) = a.encrypt_traced(&p, &mut rng(), b"x").unwrap();
    let key = trace.aead_key.unwrap();
    let nonce = trace.aead_nonce.unwrap();
    let prefix_len = message::PLAIN_PREFIX_LEN;
    let session_ad = b"alice-id|bob-id";
    let mut ad = (session_ad.len() as u16).to_be_bytes().to_vec();
    ad.extend_from_slice(session_ad);
    ad.extend_from_slice(&m[..prefix_len]);
    for bad in [[0xaau8; 32], [0u8; 32], {
        let mut x = [0u8; 32];
        x[0] = 0x80; // an empty plaintext, but its padded length is 32: fine...
        x[31] = 0x01; // ...followed by a non-zero byte: not canonical
        x
    }] {
        let mut body = bad.to_vec();
        let tag = p.aead_seal(&key, &nonce, &ad, &mut body);
        m.truncate(prefix_len);
        m.extend_from_slice(&body);
        m.extend_from_slice(&tag);
        rejects(&mut b, &m, DecryptError::InvalidPadding);
    }
}

/// The caller-buffer and in-place variants produce messages the allocating
/// API reads and read messages it produces, in both header modes, at sizes
/// around the padding steps.
#[test]
fn in_place_and_into_variants_round_trip() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut r = rng();
        for (i, len) in [0usize, 1, 31, 32, 100, 1000, 1024, 5000]
            .into_iter()
            .enumerate()
        {
            let pt: Vec<u8> = (0..len).map(|j| (j % 251) as u8).collect();
            // encrypt_into appends after existing bytes.
            let mut out = b"xyz".to_vec();
            a.encrypt_into(&mut r, &pt, &mut out).unwrap();
            assert_eq!(&out[..3], b"xyz");
            assert_eq!(out.len(), 3 + a.message_len(len));
            let mut msg = out[3..].to_vec();
            match i % 3 {
                0 => assert_eq!(b.decrypt_in_place(&mut msg).unwrap(), &pt[..]),
                1 => {
                    let mut got = b"abc".to_vec();
                    b.decrypt_into(&msg, &mut got).unwrap();
                    assert_eq!(&got[..3], b"abc");
                    assert_eq!(&got[3..], &pt[..]);
                }
                _ => assert_eq!(b.decrypt(&msg).unwrap(), pt),
            }
            // encrypt_in_place from the other side, with headroom.
            let mut buf = vec![0xee; b.message_prefix_len()];
            buf.extend_from_slice(&pt);
            b.encrypt_in_place(&mut r, &mut buf).unwrap();
            assert_eq!(buf.len(), b.message_len(len));
            let start = a.message_prefix_len();
            let got = a.decrypt_in_place(&mut buf).unwrap();
            assert_eq!(got, &pt[..]);
            let got_ptr = got.as_ptr();
            assert_eq!(
                got_ptr,
                buf[start..].as_ptr(),
                "plaintext starts after the prefix"
            );
        }
    }
}

/// Every rejected message leaves the ratchet unchanged through every
/// variant; `decrypt_into` leaves `out` as it was; `decrypt_in_place` keeps
/// the length and prefix and leaves no plaintext in the body.
#[test]
fn in_place_and_into_errors_leave_state_unchanged() {
    for mode in MODES {
        let (mut a, mut b) = pair(mode);
        let mut r = rng();
        let pt = [0x61u8; 40];
        let good = a.encrypt(&mut r, &pt).unwrap();
        let prefix = a.message_prefix_len();
        let mut bad_tag = good.clone();
        *bad_tag.last_mut().unwrap() ^= 1;
        let mut bad_body = good.clone();
        bad_body[prefix + 3] ^= 1;
        let truncated = good[..good.len() - 1].to_vec();
        for msg in [&bad_tag, &bad_body, &truncated] {
            let before = b.to_bytes();
            let mut out = b"keep".to_vec();
            assert!(b.decrypt_into(msg, &mut out).is_err());
            assert_eq!(out, b"keep");
            assert_eq!(b.to_bytes(), before);
            let mut buf = msg.clone();
            assert!(b.decrypt_in_place(&mut buf).is_err());
            assert_eq!(b.to_bytes(), before);
            assert_eq!(buf.len(), msg.len());
            assert_eq!(buf[..prefix.min(buf.len())], msg[..prefix.min(msg.len())]);
            if buf.len() == good.len() && buf != *msg {
                // Opened and rejected: the body was zeroed.
                assert!(buf[prefix..buf.len() - 16].iter().all(|&x| x == 0));
            }
        }
        // Accepted once, then a replay: rejected before opening, the buffer is untouched.
        let mut buf = good.clone();
        assert_eq!(b.decrypt_in_place(&mut buf).unwrap(), &pt[..]);
        let before = b.to_bytes();
        let mut replay = good.clone();
        assert_eq!(
            b.decrypt_in_place(&mut replay),
            Err(DecryptError::DuplicateOrExpired { n: 0 })
        );
        assert_eq!(replay, good);
        assert_eq!(b.to_bytes(), before);

        // Encryption errors leave the ratchet and the buffers unchanged.
        let before = a.to_bytes();
        let mut short = vec![1u8; prefix - 1];
        assert_eq!(
            a.encrypt_in_place(&mut r, &mut short),
            Err(EncryptError::NoHeadroom)
        );
        assert_eq!(short, vec![1u8; prefix - 1]);
        let mut out = b"keep".to_vec();
        let long = vec![0u8; MAX_PLAINTEXT_LEN + 1];
        assert_eq!(
            a.encrypt_into(&mut r, &long, &mut out),
            Err(EncryptError::PlaintextTooLong)
        );
        assert_eq!(out, b"keep");
        let mut big = vec![0u8; prefix + MAX_PLAINTEXT_LEN + 1];
        assert_eq!(
            a.encrypt_in_place(&mut r, &mut big),
            Err(EncryptError::PlaintextTooLong)
        );
        assert_eq!(a.to_bytes(), before);
        // A responder without a sending chain refuses, buffer unchanged.
        let (_, mut fresh) = pair(mode);
        let mut buf = vec![0u8; prefix + 3];
        assert_eq!(
            fresh.encrypt_in_place(&mut r, &mut buf),
            Err(EncryptError::NoSendingChain)
        );
        assert_eq!(buf, vec![0u8; prefix + 3]);
    }
}
