//! `serde` support (feature `serde`): public values round-trip through JSON
//! as their canonical encodings; errors serialize as code and message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};
use sova::ratchet::{HeaderMode, MessageInfo};
use sova::session::{
    AcceptError, Account, IdentityKey, IdentityPublic, PrekeyBundle, PrekeyKind, Session,
};

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Contact {
    #[serde(with = "sova::identity_key_serde")]
    key: IdentityKey,
    identity: IdentityPublic,
}

#[test]
fn public_values_round_trip_through_json() {
    let mut r = ChaCha20Rng::from_seed([1; 32]);
    let alice = Account::new(&mut r).unwrap();
    let mut bob = Account::new(&mut r).unwrap();
    let opk = bob.generate_one_time_prekeys(&mut r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap();

    let json = serde_json::to_string(&bundle).unwrap();
    assert_eq!(json, format!("\"{}\"", hex::encode(bundle.to_bytes())));
    let back: PrekeyBundle = serde_json::from_str(&json).unwrap();
    assert_eq!(back, bundle);
    // A bundle that does not parse is refused.
    assert!(serde_json::from_str::<PrekeyBundle>("\"00\"").is_err());
    assert!(serde_json::from_str::<PrekeyBundle>("\"zz\"").is_err());

    let contact = Contact {
        key: alice.identity_key(),
        identity: *alice.identity(),
    };
    let json = serde_json::to_string(&contact).unwrap();
    assert_eq!(serde_json::from_str::<Contact>(&json).unwrap(), contact);
    assert!(serde_json::from_str::<IdentityPublic>("\"0011\"").is_err());

    assert_eq!(
        serde_json::to_string(&HeaderMode::Encrypted).unwrap(),
        "\"Encrypted\""
    );
    assert_eq!(
        serde_json::from_str::<PrekeyKind>("\"KemOneTime\"").unwrap(),
        PrekeyKind::KemOneTime
    );

    let mut s = Session::start(
        &alice,
        &mut r,
        &bob.identity_key(),
        &bundle.to_bytes(),
        HeaderMode::Plain,
    )
    .unwrap();
    let m = s.encrypt(&mut r, b"x").unwrap();
    let (mut b, _) = bob.accept(&alice.identity_key(), &m).unwrap();
    let reply = b.encrypt(&mut r, b"y").unwrap();
    let (_, info) = s.decrypt_with_info(&reply).unwrap();
    let json = serde_json::to_string(&info).unwrap();
    assert_eq!(serde_json::from_str::<MessageInfo>(&json).unwrap(), info);

    let e = serde_json::to_value(AcceptError::UnknownPrekey(7)).unwrap();
    assert_eq!(e["code"], "UnknownPrekey");
    assert_eq!(e["message"], "unknown prekey 7");
}
