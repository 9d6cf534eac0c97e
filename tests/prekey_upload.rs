//! Publishing prekeys (spec §7.11): the account's published tracking and its
//! persistence (§8.4), the upload's parser and verification with every error,
//! and bundles assembled by a simulated server, equal to `Account::bundle`
//! and usable for real handshakes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sova::ratchet::{HeaderMode, StateError};
use sova::session::{
    Account, AssembleError, IdentityPublic, KemOneTimePublic, LongTermPrekeys, PrekeyBundle,
    PrekeyUpload, Session, UploadEntry, UploadError, MAX_KEM_ONE_TIME_PREKEYS,
    MAX_ONE_TIME_PREKEYS, MAX_UPLOAD_ENTRIES,
};
use sova::DefaultProvider;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn parse_and_verify(bytes: &[u8]) -> Result<PrekeyUpload, UploadError> {
    let u = PrekeyUpload::parse(bytes)?;
    u.verify(&DefaultProvider::default())?;
    Ok(u)
}

/// An account with the long-term part, two one-time X25519 prekeys (3, 4) and
/// one one-time ML-KEM prekey (5), nothing published: its upload is 2,812
/// bytes (spec §4.12.1).
fn account_and_upload() -> (Account, Vec<u8>) {
    let mut r = rng(1);
    let mut a = Account::new(&mut r).unwrap();
    assert_eq!(a.generate_one_time_prekeys(&mut r, 2).unwrap(), vec![3, 4]);
    assert_eq!(a.generate_kem_one_time_prekeys(&mut r, 1).unwrap(), vec![5]);
    let upload = a.unpublished_prekeys().unwrap().to_bytes();
    assert_eq!(upload.len(), 2812);
    (a, upload)
}

/// A simulated server (spec §7.11.2): the identity, the latest long-term
/// part, and pools of one-time prekeys handed out oldest first, each once.
#[derive(Default)]
struct Server {
    identity: Option<IdentityPublic>,
    long_term: Option<LongTermPrekeys>,
    one_time: VecDeque<(u32, [u8; 32])>,
    kem_one_time: VecDeque<KemOneTimePublic>,
}

impl Server {
    fn upload(&mut self, bytes: &[u8]) -> Result<(), UploadError> {
        let u = parse_and_verify(bytes)?;
        let identity = *self.identity.get_or_insert(u.identity);
        assert_eq!(identity, u.identity, "another device's upload");
        if let Some(l) = u.long_term {
            self.long_term = Some(l);
        }
        for e in u.entries {
            match e {
                UploadEntry::X25519 { id, key } => self.one_time.push_back((id, key)),
                UploadEntry::Kem(k) => self.kem_one_time.push_back(k),
            }
        }
        Ok(())
    }

    fn bundle(&mut self) -> Option<Vec<u8>> {
        let long_term = self.long_term.as_ref()?;
        let opk = self.one_time.pop_front();
        let kem = self.kem_one_time.pop_front();
        let identity = self.identity.as_ref()?;
        Some(PrekeyBundle::assemble(identity, long_term, opk, kem.as_ref()).to_bytes())
    }
}

#[test]
fn new_prekeys_are_unpublished_until_marked() {
    let mut r = rng(2);
    let mut a = Account::new(&mut r).unwrap();
    assert!(a.has_unpublished_prekeys());
    let first = a.unpublished_prekeys().unwrap();
    assert!(first.long_term.is_some());
    assert!(first.entries.is_empty());
    let g = a.generation();
    assert_eq!(a.mark_prekeys_as_published(&first), 2);
    assert_eq!(a.generation(), g + 1);
    assert!(!a.has_unpublished_prekeys());
    // Marking again changes nothing, not even the generation.
    assert_eq!(a.mark_prekeys_as_published(&first), 0);
    assert_eq!(a.generation(), g + 1);
    let empty = a.unpublished_prekeys().unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty.to_bytes().len(), 133);

    a.generate_one_time_prekeys(&mut r, 3).unwrap();
    a.generate_kem_one_time_prekeys(&mut r, 2).unwrap();
    let batch = a.unpublished_prekeys().unwrap();
    assert!(batch.long_term.is_none());
    assert_eq!(batch.one_time_prekey_ids(), vec![3, 4, 5]);
    assert_eq!(batch.kem_one_time_prekey_ids(), vec![6, 7]);
    assert_eq!(batch.to_bytes().len(), 133 + 3 * 37 + 2 * 1253);

    // Keys generated after the batch was built stay unpublished.
    a.generate_one_time_prekeys(&mut r, 1).unwrap();
    assert_eq!(a.mark_prekeys_as_published(&batch), 5);
    let rest = a.unpublished_prekeys().unwrap();
    assert_eq!(rest.one_time_prekey_ids(), vec![8]);
    assert!(rest.kem_one_time_prekey_ids().is_empty());

    // A rotation makes the long-term part unpublished again.
    a.mark_prekeys_as_published(&rest);
    a.rotate_signed_prekey(&mut r).unwrap();
    let rotated = a.unpublished_prekeys().unwrap();
    assert_eq!(rotated.long_term.as_ref().unwrap().signed_prekey_id, 9);
    assert!(rotated.entries.is_empty());
    a.mark_prekeys_as_published(&rotated);
    a.rotate_kem_last_resort(&mut r).unwrap();
    assert!(a.unpublished_prekeys().unwrap().long_term.is_some());
    // An older long-term part does not mark the new one.
    assert_eq!(a.mark_prekeys_as_published(&rotated), 0);
    assert!(a.has_unpublished_prekeys());
}

#[test]
fn another_identity_marks_nothing() {
    let (mut a, _) = account_and_upload();
    let other = {
        let mut r = rng(9);
        let mut b = Account::new(&mut r).unwrap();
        b.generate_one_time_prekeys(&mut r, 2).unwrap();
        b.unpublished_prekeys().unwrap()
    };
    assert_eq!(a.mark_prekeys_as_published(&other), 0);
    assert!(a.has_unpublished_prekeys());
}

#[test]
fn published_flags_survive_persistence() {
    let (mut a, _) = account_and_upload();
    // Publish part: the long-term part and the first one-time X25519 prekey.
    let mut part = a.unpublished_prekeys().unwrap();
    part.entries.truncate(1);
    assert_eq!(a.mark_prekeys_as_published(&part), 3);
    let bytes = a.to_bytes();
    let b = Account::from_bytes(&bytes).unwrap();
    assert_eq!(b.to_bytes(), bytes);
    let (ua, ub) = (
        a.unpublished_prekeys().unwrap(),
        b.unpublished_prekeys().unwrap(),
    );
    assert_eq!(ua, ub);
    assert!(ub.long_term.is_none());
    assert_eq!(ub.one_time_prekey_ids(), vec![4]);
    assert_eq!(ub.kem_one_time_prekey_ids(), vec![5]);
    assert_eq!(b.generation(), a.generation());
}

#[test]
fn invalid_published_flags_are_rejected() {
    use sha2::{Digest, Sha256};
    let (a, _) = account_and_upload();
    let bytes = a.to_bytes();
    let reseal = |mut b: Vec<u8>| {
        b.truncate(b.len() - 32);
        let check = Sha256::digest(&b);
        b.extend_from_slice(&check);
        b
    };
    // long_term_published follows magic, version, generation, two secrets and
    // next_prekey_id: byte 14 + 1 + 8 + 64 + 4 = 91.
    assert_eq!(bytes[91], 0);
    for v in [2u8, 0xff] {
        let mut b = bytes.clone();
        b[91] = v;
        assert_eq!(
            Account::from_bytes(&reseal(b)).unwrap_err(),
            StateError::Invalid("published flag")
        );
    }
    // The first one-time X25519 prekey's flag: after the signed prekey (36),
    // its empty replay records (2), the previous-SPK tag (1), n (2), and the
    // prekey's id and secret (36).
    let at = 92 + 36 + 2 + 1 + 2 + 36;
    assert_eq!(bytes[at], 0);
    let mut b = bytes.clone();
    b[at] = 2;
    assert_eq!(
        Account::from_bytes(&reseal(b)).unwrap_err(),
        StateError::Invalid("published flag")
    );
    // The last byte before the check is the KEM one-time prekey's flag.
    let at = bytes.len() - 33;
    let mut b = bytes.clone();
    b[at] = 7;
    assert_eq!(
        Account::from_bytes(&reseal(b)).unwrap_err(),
        StateError::Invalid("published flag")
    );
    // Flag 1 loads, and reads as published.
    let mut b = bytes.clone();
    b[at] = 1;
    let restored = Account::from_bytes(&reseal(b)).unwrap();
    assert!(restored
        .unpublished_prekeys()
        .unwrap()
        .kem_one_time_prekey_ids()
        .is_empty());
}

#[test]
fn assembled_bundles_equal_the_accounts() {
    let (a, bytes) = account_and_upload();
    let u = parse_and_verify(&bytes).unwrap();
    assert_eq!(u.to_bytes(), bytes);
    for (opk, kem) in [
        (None, None),
        (Some(3), None),
        (Some(4), Some(5)),
        (None, Some(5)),
    ] {
        assert_eq!(
            u.bundle(opk, kem).unwrap().to_bytes(),
            a.bundle(opk, kem).unwrap().to_bytes(),
            "{opk:?} {kem:?}"
        );
    }
    assert_eq!(
        u.bundle(Some(5), None),
        Err(AssembleError::UnknownPrekey(5))
    );
    assert_eq!(
        u.bundle(None, Some(3)),
        Err(AssembleError::UnknownPrekey(3))
    );
    let mut no_long_term = u.clone();
    no_long_term.long_term = None;
    assert_eq!(
        no_long_term.bundle(None, None),
        Err(AssembleError::NoLongTermPart)
    );
}

#[test]
fn a_server_hands_out_each_one_time_prekey_once_then_last_resort() {
    let mut r = rng(3);
    let mut bob = Account::new(&mut r).unwrap();
    let mut server = Server::default();
    // First upload: the long-term part only.
    let first = bob.unpublished_prekeys().unwrap();
    server.upload(&first.to_bytes()).unwrap();
    bob.mark_prekeys_as_published(&first);
    // Then one-time prekeys, in a second upload.
    bob.generate_one_time_prekeys(&mut r, 2).unwrap();
    bob.generate_kem_one_time_prekeys(&mut r, 1).unwrap();
    let batch = bob.unpublished_prekeys().unwrap();
    server.upload(&batch.to_bytes()).unwrap();
    bob.mark_prekeys_as_published(&batch);
    // Persisted and restored between uploads and handshakes.
    let mut bob = Account::from_bytes(&bob.to_bytes()).unwrap();
    assert!(!bob.has_unpublished_prekeys());

    let alice = Account::new(&mut r).unwrap();
    let mut seen = Vec::new();
    for i in 0..4 {
        let bundle = server.bundle().unwrap();
        let parsed = PrekeyBundle::parse(&bundle).unwrap();
        let ids = (
            parsed.one_time_prekey.map(|(id, _)| id),
            (parsed.kem_prekey_kind == sova::session::PrekeyKind::KemOneTime)
                .then_some(parsed.kem_prekey_id),
        );
        seen.push(ids);
        let mut s = Session::start(
            &alice,
            &mut r,
            &bob.identity_key(),
            &bundle,
            HeaderMode::Plain,
        )
        .unwrap();
        let m = s.encrypt(&mut r, format!("hi {i}").as_bytes()).unwrap();
        let (_, p) = bob.accept(&alice.identity_key(), &m).unwrap();
        assert_eq!(p, format!("hi {i}").as_bytes());
    }
    assert_eq!(
        seen,
        vec![
            (Some(3), Some(5)),
            (Some(4), None),
            (None, None),
            (None, None)
        ]
    );
    assert!(bob.one_time_prekey_ids().is_empty());
    assert!(bob.kem_one_time_prekey_ids().is_empty());
    assert_eq!(bob.replay_record_count(), 2);
}

#[test]
fn a_restored_account_has_the_same_unpublished_set() {
    let (mut a, _) = account_and_upload();
    let before = a.to_bytes();
    let upload = a.unpublished_prekeys().unwrap();
    a.mark_prekeys_as_published(&upload);
    // The older copy still has everything unpublished: the application
    // publishes it again; a server may refuse the ids it holds (§7.11.2).
    let old = Account::from_bytes(&before).unwrap();
    assert_eq!(old.unpublished_prekeys().unwrap(), upload);
    assert!(old.generation() < a.generation());
}

fn parse_err(bytes: &[u8]) -> UploadError {
    parse_and_verify(bytes).unwrap_err()
}

#[test]
fn every_parser_error() {
    let (_, base) = account_and_upload();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    assert_eq!(parse_err(&[]), UploadError::Truncated("version"));
    assert_eq!(parse_err(&[1]), UploadError::Truncated("type"));
    assert_eq!(parse_err(&base[..100]), UploadError::Truncated("identity"));
    assert_eq!(
        parse_err(&base[..130]),
        UploadError::Truncated("long-term flag")
    );
    assert_eq!(
        parse_err(&base[..200]),
        UploadError::Truncated("signed prekey signature")
    );
    assert_eq!(
        parse_err(&base[..1483]),
        UploadError::Truncated("entry count")
    );
    assert_eq!(
        parse_err(&base[..base.len() - 1]),
        UploadError::Truncated("KEM one-time prekey signature")
    );
    assert_eq!(
        parse_err(&with(&|b| b[0] = 2)),
        UploadError::UnsupportedVersion(2)
    );
    assert_eq!(
        parse_err(&with(&|b| b[1] = 0x10)),
        UploadError::WrongType(0x10)
    );
    assert_eq!(
        parse_err(&with(&|b| b[130] = 2)),
        UploadError::InvalidFlag(2)
    );
    assert_eq!(
        parse_err(&with(
            &|b| b[1483..1485].copy_from_slice(&1101u16.to_be_bytes())
        )),
        UploadError::TooManyEntries
    );
    assert_eq!(
        parse_err(&with(&|b| b[1485] = 0x01)),
        UploadError::InvalidKind(0x01)
    );
    assert_eq!(
        parse_err(&with(
            &|b| b[1523..1527].copy_from_slice(&3u32.to_be_bytes())
        )),
        UploadError::DuplicateId(3)
    );
    assert_eq!(
        parse_err(&with(&|b| b[231..235].copy_from_slice(&1u32.to_be_bytes()))),
        UploadError::DuplicateId(1)
    );
    assert_eq!(
        parse_err(&with(&|b| b.extend_from_slice(&[0, 0]))),
        UploadError::TrailingBytes(2)
    );
}

#[test]
fn too_many_entries_of_each_kind() {
    let (a, base) = account_and_upload();
    let u = PrekeyUpload::parse(&base).unwrap();
    let UploadEntry::Kem(kem) = u.entries[2].clone() else {
        panic!("entry 2 is not a KEM prekey")
    };
    let mut many = PrekeyUpload {
        identity: *a.identity(),
        long_term: None,
        entries: (0..=MAX_ONE_TIME_PREKEYS as u32)
            .map(|i| UploadEntry::X25519 {
                id: 10 + i,
                key: [9; 32],
            })
            .collect(),
    };
    assert_eq!(parse_err(&many.to_bytes()), UploadError::TooManyEntries);
    many.entries.pop();
    assert!(PrekeyUpload::parse(&many.to_bytes()).is_ok());

    let kems = PrekeyUpload {
        identity: *a.identity(),
        long_term: None,
        entries: (0..=MAX_KEM_ONE_TIME_PREKEYS as u32)
            .map(|i| {
                UploadEntry::Kem(KemOneTimePublic {
                    id: 10 + i,
                    ..kem.clone()
                })
            })
            .collect(),
    };
    assert_eq!(
        PrekeyUpload::parse(&kems.to_bytes()).unwrap_err(),
        UploadError::TooManyEntries
    );
    // The largest upload: every kind at its limit.
    assert_eq!(
        MAX_UPLOAD_ENTRIES,
        MAX_ONE_TIME_PREKEYS + MAX_KEM_ONE_TIME_PREKEYS
    );
}

#[test]
fn every_signature_error_in_order() {
    let (_, base) = account_and_upload();
    let with = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = base.clone();
        f(&mut b);
        b
    };
    assert_eq!(
        parse_err(&with(&|b| b[66] ^= 1)),
        UploadError::InvalidIdentitySignature
    );
    assert_eq!(
        parse_err(&with(&|b| b[167] ^= 1)),
        UploadError::InvalidSignedPrekeySignature
    );
    assert_eq!(
        parse_err(&with(&|b| b[1419] ^= 1)),
        UploadError::InvalidKemPrekeySignature(2)
    );
    assert_eq!(
        parse_err(&with(&|b| b[2748] ^= 1)),
        UploadError::InvalidKemPrekeySignature(5)
    );
    // The first failing signature in the order of §7.11.1 is reported.
    assert_eq!(
        parse_err(&with(&|b| {
            b[167] ^= 1;
            b[66] ^= 1;
        })),
        UploadError::InvalidIdentitySignature
    );
    assert_eq!(
        parse_err(&with(&|b| {
            b[2748] ^= 1;
            b[1419] ^= 1;
        })),
        UploadError::InvalidKemPrekeySignature(2)
    );
    // One-time X25519 prekeys are not signed: a changed key still verifies.
    assert!(parse_and_verify(&with(&|b| b[1500] ^= 1)).is_ok());
    // Parser errors come before signature errors.
    assert_eq!(
        parse_err(&with(&|b| {
            b[66] ^= 1;
            b.push(0);
        })),
        UploadError::TrailingBytes(1)
    );
}
