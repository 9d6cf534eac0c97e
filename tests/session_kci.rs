//! Key-compromise impersonation (spec §9.9), performed: the private key of
//! Bob's signed prekey alone, with public data, makes an initial message
//! that Bob accepts as Alice's. This is the documented limit of a handshake
//! the initiator does not sign; rotating the signed prekey (twice: the
//! previous one is kept) ends it, which the test also shows.
#![cfg(feature = "hazmat")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::{
    derive_keys, transcript_hash, AcceptError, Account, HandshakeHeader, HandshakeSecrets,
    PrekeyBundle, Transcript,
};
use sova::{CryptoProvider, DefaultProvider, Secret};

/// The signed prekey's private key, read from Bob's account encoding
/// (spec §8.4: magic, version, generation, two identity secrets, the next
/// prekey id, then the signed prekey's id and private key).
fn signed_prekey_private(bob: &Account) -> Secret<32> {
    // spec §8.4: after magic, version, generation, the identity secrets,
    // next_prekey_id, the long-term published flag and the SPK id.
    let enc = bob.to_bytes();
    Secret::try_from_slice(&enc[96..128]).unwrap()
}

/// An initial message in `alice`'s name built by someone who knows only
/// `spk_private` and public values: Alice's public identity and Bob's bundle.
fn forge(
    alice: &Account,
    bundle: &[u8],
    spk_private: &Secret<32>,
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let p = DefaultProvider::default();
    let b = PrekeyBundle::parse(bundle).unwrap();
    let mut ek = Secret::<32>::zero();
    rng.fill_bytes(ek.expose_mut());
    let ek_pub = p.x25519_public_key(&ek);
    let mut m = Secret::<32>::zero();
    rng.fill_bytes(m.expose_mut());
    // DH1 = X25519(IK_dh_A, SPK_B), computed from the other side.
    let dh1 = p
        .x25519(spk_private, &alice.identity().agreement_key)
        .unwrap();
    let dh2 = p.x25519(&ek, &b.identity.agreement_key).unwrap();
    let dh3 = p.x25519(&ek, &b.signed_prekey).unwrap();
    let (ct, ss) = p.ml_kem_768_encapsulate(&b.kem_prekey, &m).unwrap();
    let th = transcript_hash(
        &p,
        &Transcript {
            initiator: alice.identity(),
            responder: &b.identity,
            signed_prekey: (b.signed_prekey_id, &b.signed_prekey),
            one_time_prekey: None,
            kem_prekey: (b.kem_prekey_kind, b.kem_prekey_id, &b.kem_prekey),
            ephemeral_key: &ek_pub,
            kem_ciphertext: &ct,
        },
    )
    .unwrap();
    let keys = derive_keys(
        &p,
        th,
        &HandshakeSecrets {
            dh: vec![dh1, dh2, dh3],
            kem_shared_secret: ss,
        },
    )
    .unwrap();
    let mut ratchet = Ratchet::initiator(
        &keys.session_secret,
        b.signed_prekey,
        &th,
        HeaderMode::Plain,
    )
    .unwrap();
    let inner = ratchet.encrypt(rng, b"this is Alice").unwrap();
    HandshakeHeader {
        identity: *alice.identity(),
        ephemeral_key: ek_pub,
        signed_prekey_id: b.signed_prekey_id,
        one_time_prekey_id: None,
        kem_prekey_kind: b.kem_prekey_kind,
        kem_prekey_id: b.kem_prekey_id,
        kem_ciphertext: Box::new(ct),
    }
    .encode_with(&inner)
}

#[test]
fn the_signed_prekey_alone_impersonates_anyone_to_its_owner_until_rotated() {
    let mut rng = ChaCha20Rng::from_seed([0x4b; 32]);
    let alice = Account::new(&mut rng).unwrap();
    let mut bob = Account::new(&mut rng).unwrap();
    let bundle = bob.bundle(None, None).unwrap().to_bytes();
    let stolen = signed_prekey_private(&bob);

    let forged = forge(&alice, &bundle, &stolen, &mut rng);
    let (session, plaintext) = bob.accept_unverified(&forged).unwrap();
    assert_eq!(plaintext, b"this is Alice");
    assert_eq!(
        session.peer_identity().identity_key(),
        alice.identity_key(),
        "accepted as Alice's"
    );

    // One rotation keeps the old signed prekey (for messages in flight) ...
    bob.rotate_signed_prekey(&mut rng).unwrap();
    let forged = forge(&alice, &bundle, &stolen, &mut rng);
    assert!(bob.accept_unverified(&forged).is_ok());
    // ... the second deletes it, and the stolen key is worthless.
    bob.rotate_signed_prekey(&mut rng).unwrap();
    let forged = forge(&alice, &bundle, &stolen, &mut rng);
    assert!(matches!(
        bob.accept_unverified(&forged),
        Err(AcceptError::UnknownPrekey(_))
    ));
}
