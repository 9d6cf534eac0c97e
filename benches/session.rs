//! Session establishment (spec §7) against its primitive floor and against
//! vodozemac's Olm.
//!
//! Every operation is measured in three columns, in one run:
//!
//! * `sova` — the public session API ([`Session::start`],
//!   [`Session::encrypt`], [`Account::accept`]; default provider, plain
//!   headers, a 16-byte first message), wire bytes in and wire bytes out;
//! * `floor` — only the primitive calls that operation needs, through the
//!   same provider, with every label, signed message and fixed transcript
//!   field encoded once in advance and no protocol logic (no parsing,
//!   encoding, key lookup, allocation of state or bookkeeping). Each floor
//!   function's comment lists exactly which calls it makes;
//! * `vodozemac` — Olm (`SessionConfig::version_1`) doing the nearest
//!   equivalent work. Olm's handshake is triple X25519 only: it has no
//!   signatures to check and no post-quantum part, so its column shows what
//!   the hybrid handshake costs over a classical one rather than a like for
//!   like comparison.
//!
//! `opk` / `no_opk` is whether the bundle carries a one-time X25519 prekey
//! (four Diffie-Hellman values instead of three). The ML-KEM prekey is the
//! last-resort one throughout (a one-time ML-KEM prekey costs the same).
//!
//! Accepting consumes one-time prekeys and records the ephemeral key against
//! replays, so each accept runs on a fresh copy of the responder's account,
//! restored in the batch's untimed setup.
//!
//! Run: `cargo bench --bench session`. Results and their reading are in
//! `benches/RESULTS.md`.

// A benchmark stops at the first failure, like a test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use rand_chacha::rand_core::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sova::kdf::encode_label;
use sova::labels;
use sova::provider::{MLKEM_CT_LEN, MLKEM_EK_LEN};
use sova::ratchet::message::PLAIN_PREFIX_LEN;
use sova::ratchet::padding::padded_len;
use sova::ratchet::HeaderMode;
use sova::session::{Account, HandshakeHeader, IdentityPublic, PrekeyBundle, PrekeyKind, Session};
use sova::{CryptoProvider, DefaultProvider, Secret};
use vodozemac::olm::{Account as OlmAccount, OlmMessage, Session as OlmSession, SessionConfig};
use vodozemac::Curve25519PublicKey;

type Key = Secret<32>;

/// The first message's plaintext.
const FIRST: &[u8] = &[0x61; 16];
/// Both one-time-prekey configurations, as benchmark parameters.
const OPK: [(bool, &str); 2] = [(true, "opk"), (false, "no_opk")];

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::from_seed([0x5e; 32])
}

// ---------------------------------------------------------------------------
// Sova set-up

/// Alice, Bob, Bob's saved state and, per configuration, a bundle and the
/// initial message made from it.
struct Parties {
    alice: Account,
    /// Bob's account without one-time prekeys (for the end-to-end set-up).
    bob_bare: Vec<u8>,
    /// Bob's account holding the one one-time prekey of `bundle[0]`.
    bob: Vec<u8>,
    /// `[opk, no_opk]` bundles.
    bundle: [Vec<u8>; 2],
    /// `[opk, no_opk]` initial messages carrying [`FIRST`].
    initial: [Vec<u8>; 2],
}

impl Parties {
    fn new(r: &mut ChaCha20Rng) -> Self {
        let alice = Account::new(r).unwrap();
        let mut bob = Account::new(r).unwrap();
        let bob_bare = bob.to_bytes();
        let opk = bob.generate_one_time_prekeys(r, 1).unwrap()[0];
        let bundle = [
            bob.bundle(Some(opk), None).unwrap().to_bytes(),
            bob.bundle(None, None).unwrap().to_bytes(),
        ];
        let initial = [0, 1].map(|i| {
            let mut s =
                Session::start_unverified(&alice, r, &bundle[i], HeaderMode::Plain).unwrap();
            s.encrypt(r, FIRST).unwrap()
        });
        // Both initial messages are accepted by a fresh copy of Bob.
        for m in &initial {
            let mut b = Account::from_bytes(&bob.to_bytes()).unwrap();
            assert_eq!(b.accept_unverified(m).unwrap().1, FIRST);
        }
        Self {
            alice,
            bob_bare,
            bob: bob.to_bytes(),
            bundle,
            initial,
        }
    }

    fn index(opk: bool) -> usize {
        usize::from(!opk)
    }
}

fn restore(saved: &[u8]) -> Account {
    Account::from_bytes(saved).unwrap()
}

/// The whole exchange: Bob adds a one-time prekey and publishes a bundle,
/// Alice starts a session and encrypts, Bob accepts.
#[inline(never)] // a frame of its own in profiles
fn sova_setup(alice: &Account, bob: &mut Account, r: &mut ChaCha20Rng) -> (Session, Vec<u8>) {
    let opk = bob.generate_one_time_prekeys(r, 1).unwrap()[0];
    let bundle = bob.bundle(Some(opk), None).unwrap().to_bytes();
    let mut s = Session::start_unverified(alice, r, &bundle, HeaderMode::Plain).unwrap();
    let m = s.encrypt(r, black_box(FIRST)).unwrap();
    bob.accept_unverified(&m).unwrap()
}

// ---------------------------------------------------------------------------
// vodozemac set-up

/// Alice's and Bob's Olm accounts, Bob with one published one-time key, and
/// a PreKey message to Bob in wire form.
struct OlmParties {
    alice: OlmAccount,
    bob: OlmAccount,
    /// Bob's published one-time key.
    otk: Curve25519PublicKey,
    initial: (usize, Vec<u8>),
}

fn olm_config() -> SessionConfig {
    SessionConfig::version_1()
}

impl OlmParties {
    fn new() -> Self {
        let alice = OlmAccount::new();
        let mut bob = OlmAccount::new();
        bob.generate_one_time_keys(1);
        let otk = olm_one_time_key(&bob);
        bob.mark_keys_as_published();
        let initial = olm_start_encrypt(&alice, &bob, otk);
        let p = Self {
            alice,
            bob,
            otk,
            initial,
        };
        assert_eq!(olm_accept(&p.alice, &mut p.bob_clone(), &p.initial), FIRST);
        p
    }

    fn bob_clone(&self) -> OlmAccount {
        OlmAccount::from_pickle(self.bob.pickle())
    }
}

/// Bob's (only) unpublished one-time key.
fn olm_one_time_key(bob: &OlmAccount) -> Curve25519PublicKey {
    *bob.one_time_keys().values().next().unwrap()
}

fn olm_start(alice: &OlmAccount, bob: &OlmAccount, otk: Curve25519PublicKey) -> OlmSession {
    alice
        .create_outbound_session(olm_config(), bob.curve25519_key(), otk)
        .unwrap()
}

fn olm_start_encrypt(
    alice: &OlmAccount,
    bob: &OlmAccount,
    otk: Curve25519PublicKey,
) -> (usize, Vec<u8>) {
    let mut s = olm_start(alice, bob, otk);
    s.encrypt(black_box(FIRST)).unwrap().to_parts()
}

fn olm_accept(alice: &OlmAccount, bob: &mut OlmAccount, wire: &(usize, Vec<u8>)) -> Vec<u8> {
    let OlmMessage::PreKey(m) = OlmMessage::from_parts(wire.0, &wire.1).unwrap() else {
        unreachable!("the first message of an outbound session is a PreKey message")
    };
    bob.create_inbound_session(olm_config(), alice.curve25519_key(), &m)
        .unwrap()
        .plaintext
}

/// The whole Olm exchange: Bob adds and publishes a one-time key, Alice
/// creates an outbound session and encrypts, Bob creates the inbound session.
#[inline(never)] // a frame of its own in profiles
fn olm_setup(alice: &OlmAccount, bob: &mut OlmAccount) -> Vec<u8> {
    bob.generate_one_time_keys(1);
    let otk = olm_one_time_key(bob);
    bob.mark_keys_as_published();
    let wire = olm_start_encrypt(alice, bob, otk);
    olm_accept(alice, bob, &wire)
}

// ---------------------------------------------------------------------------
// The primitive floor

/// Labels and fixed inputs every floor function shares.
struct Labels {
    p: DefaultProvider,
    transcript: Vec<u8>,
    handshake: Vec<u8>,
    /// `EncodeLabel("session secret") || u16(32)`.
    session_secret_info: Vec<u8>,
    /// `EncodeLabel("ratchet init") || u16(96)`.
    ratchet_init_info: Vec<u8>,
    root: Vec<u8>,
    /// `EncodeLabel("root") || u16(96)`.
    root_info: Vec<u8>,
    chain: Vec<u8>,
    message: Vec<u8>,
    /// `EncodeLabel("message keys") || u16(44)`.
    message_keys_info: Vec<u8>,
    /// `u16(32) || TH || prefix` of the first (plain-header) message.
    aead_ad: Vec<u8>,
}

fn info(label: &str, len: u16) -> Vec<u8> {
    let mut v = encode_label(label).unwrap();
    v.extend(len.to_be_bytes());
    v
}

impl Labels {
    fn new() -> Self {
        let mut aead_ad = 32u16.to_be_bytes().to_vec();
        aead_ad.extend([0x33; 32 + PLAIN_PREFIX_LEN]);
        Self {
            p: DefaultProvider::default(),
            transcript: encode_label(labels::HANDSHAKE_TRANSCRIPT).unwrap(),
            handshake: encode_label(labels::HANDSHAKE).unwrap(),
            session_secret_info: info(labels::SESSION_SECRET, 32),
            ratchet_init_info: info(labels::RATCHET_INIT, 96),
            root: encode_label(labels::ROOT).unwrap(),
            root_info: info(labels::ROOT, 96),
            chain: encode_label(labels::CHAIN).unwrap(),
            message: encode_label(labels::MESSAGE).unwrap(),
            message_keys_info: info(labels::MESSAGE_KEYS, 44),
            aead_ad,
        }
    }

    /// `TH` over the fixed fields (prepared), `SHA-256(KEMPK)`, `EK_A` and
    /// `CT`: two SHA-256, of 1184 bytes and of about 1.6 KB.
    fn transcript_hash(
        &self,
        fixed: &[u8],
        kem_pk: &[u8; MLKEM_EK_LEN],
        ek: &[u8; 32],
        ct: &[u8; MLKEM_CT_LEN],
    ) -> [u8; 32] {
        let kem_hash = self.p.sha256(&[&kem_pk[..]]);
        self.p
            .sha256(&[&self.transcript, fixed, &kem_hash, ek, &ct[..]])
    }

    /// `SK` and the ratchet's initial keys: HKDF-Extract of the DH values and
    /// `SS` salted with `TH`, HKDF-Expand of 32 bytes, HKDF-Expand of 96 bytes.
    /// Returns the root key.
    fn derive(&self, th: &[u8; 32], dh: &[Key], ss: &Key) -> Key {
        let mut ikm: [&[u8]; 6] = [&[]; 6];
        ikm[0] = &self.handshake;
        for (slot, d) in ikm[1..].iter_mut().zip(dh) {
            *slot = d.expose();
        }
        ikm[1 + dh.len()] = ss.expose();
        let prk = self.p.hkdf_extract(th, &ikm[..2 + dh.len()]);
        let mut sk = Key::zero();
        self.p
            .hkdf_expand(&prk, &[&self.session_secret_info], sk.expose_mut())
            .unwrap();
        let mut init = Secret::<96>::zero();
        self.p
            .hkdf_expand(&sk, &[&self.ratchet_init_info], init.expose_mut())
            .unwrap();
        first32(&init)
    }

    /// A DH ratchet step's `KDF_RK` (HKDF-Extract, HKDF-Expand of 96 bytes),
    /// a chain step (2 HMAC-SHA-256) and `MessageKeys` (HKDF-Expand of 44
    /// bytes): the first message's AEAD key and nonce.
    fn first_message_keys(&self, rk: &Key, dh: &Key) -> (Key, [u8; 12]) {
        let prk = self.p.hkdf_extract(rk.expose(), &[&self.root, dh.expose()]);
        let mut okm = Secret::<96>::zero();
        self.p
            .hkdf_expand(&prk, &[&self.root_info], okm.expose_mut())
            .unwrap();
        let mut ck = Key::zero();
        ck.expose_mut().copy_from_slice(&okm.expose()[32..64]);
        let _next = self.p.hmac_sha256(ck.expose(), &[&self.chain]);
        let mk = self.p.hmac_sha256(ck.expose(), &[&self.message]);
        let mut keys = Secret::<44>::zero();
        self.p
            .hkdf_expand(
                &mk,
                &[&self.message_keys_info, &[0x5c; 16]],
                keys.expose_mut(),
            )
            .unwrap();
        let mut key = Key::zero();
        key.expose_mut().copy_from_slice(&keys.expose()[..32]);
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&keys.expose()[32..]);
        (key, nonce)
    }
}

fn first32<const N: usize>(s: &Secret<N>) -> Key {
    let mut k = Key::zero();
    k.expose_mut().copy_from_slice(&s.expose()[..32]);
    k
}

/// A signature check: public key, labelled message, signature.
type SignedMessage = ([u8; 32], Vec<u8>, [u8; 64]);

/// The identity binding `EncodeLabel("identity binding") || IK_sig || IK_dh`.
fn binding(id: &IdentityPublic) -> SignedMessage {
    let mut msg = encode_label(labels::IDENTITY_BINDING).unwrap();
    msg.extend(id.signing_key);
    msg.extend(id.agreement_key);
    (id.signing_key, msg, id.binding)
}

/// A prekey signature's message `EncodeLabel("prekey") || kind || id || key`.
fn prekey_signed(
    ik: &[u8; 32],
    kind: PrekeyKind,
    id: u32,
    key: &[u8],
    sig: [u8; 64],
) -> SignedMessage {
    let mut msg = encode_label(labels::PREKEY).unwrap();
    msg.push(kind as u8);
    msg.extend(id.to_be_bytes());
    msg.extend(key);
    (*ik, msg, sig)
}

/// The transcript fields known before the handshake: both identities, the
/// prekey ids and X25519 keys, the KEM prekey's kind and id.
fn transcript_fixed(
    a: &IdentityPublic,
    b: &IdentityPublic,
    spk: (u32, &[u8; 32]),
    opk: Option<(u32, [u8; 32])>,
    kem: (PrekeyKind, u32),
) -> Vec<u8> {
    let mut v = a.to_bytes().to_vec();
    v.extend(b.to_bytes());
    v.extend(spk.0.to_be_bytes());
    v.extend(spk.1);
    match opk {
        None => v.push(0),
        Some((id, k)) => {
            v.push(1);
            v.extend(id.to_be_bytes());
            v.extend(k);
        }
    }
    v.push(kem.0 as u8);
    v.extend(kem.1.to_be_bytes());
    v
}

/// The initiator's floor for one bundle.
struct StartFloor {
    signatures: [SignedMessage; 3],
    our_identity: Key,
    their_identity: [u8; 32],
    spk: [u8; 32],
    opk: Option<[u8; 32]>,
    kem_pk: Box<[u8; MLKEM_EK_LEN]>,
    fixed: Vec<u8>,
}

impl StartFloor {
    fn new(alice: &IdentityPublic, bundle: &[u8]) -> Self {
        let b = PrekeyBundle::parse(bundle).unwrap();
        let ik = &b.identity.signing_key;
        let f = Self {
            signatures: [
                binding(&b.identity),
                prekey_signed(
                    ik,
                    PrekeyKind::SignedX25519,
                    b.signed_prekey_id,
                    &b.signed_prekey,
                    b.signed_prekey_signature,
                ),
                prekey_signed(
                    ik,
                    b.kem_prekey_kind,
                    b.kem_prekey_id,
                    &b.kem_prekey[..],
                    b.kem_prekey_signature,
                ),
            ],
            our_identity: Key::from_bytes([0x31; 32]),
            their_identity: b.identity.agreement_key,
            spk: b.signed_prekey,
            opk: b.one_time_prekey.map(|(_, k)| k),
            kem_pk: b.kem_prekey.clone(),
            fixed: transcript_fixed(
                alice,
                &b.identity,
                (b.signed_prekey_id, &b.signed_prekey),
                b.one_time_prekey,
                (b.kem_prekey_kind, b.kem_prekey_id),
            ),
        };
        let p = DefaultProvider::default();
        for (pk, msg, sig) in &f.signatures {
            p.ed25519_verify(pk, msg, sig).unwrap();
        }
        f
    }

    /// `Session::start`'s primitives: 64 random bytes (`EK_A`, the ML-KEM
    /// randomness), 3 Ed25519 verifications (identity binding, signed prekey,
    /// KEM prekey), 1 X25519 key generation, 3 or 4 X25519, 1 ML-KEM-768
    /// encapsulation with its encapsulation-key check, the transcript hash
    /// (2 SHA-256) and [`Labels::derive`] (HKDF-Extract, two HKDF-Expand).
    /// Returns the root key.
    #[inline(never)] // a frame of its own in profiles
    fn start(&self, l: &Labels, r: &mut ChaCha20Rng) -> Key {
        let p = &l.p;
        let mut ek = Key::zero();
        r.fill_bytes(ek.expose_mut());
        let mut m = Key::zero();
        r.fill_bytes(m.expose_mut());
        for (pk, msg, sig) in &self.signatures {
            p.ed25519_verify(pk, msg, sig).unwrap();
        }
        let ek_pub = p.x25519_public_key(&ek);
        let dh4 = self.opk.as_ref().map(|opk| p.x25519(&ek, opk).unwrap());
        let dh = [
            p.x25519(&self.our_identity, &self.spk).unwrap(),
            p.x25519(&ek, &self.their_identity).unwrap(),
            p.x25519(&ek, &self.spk).unwrap(),
            dh4.unwrap_or_else(Key::zero),
        ];
        let (ct, ss) = p.ml_kem_768_encapsulate(&self.kem_pk, &m).unwrap();
        let th = l.transcript_hash(&self.fixed, &self.kem_pk, &ek_pub, &ct);
        l.derive(&th, &dh[..3 + usize::from(self.opk.is_some())], &ss)
    }

    /// [`start`](Self::start), then the first encryption: 32 random bytes,
    /// 1 X25519 key generation and 1 X25519 (the DH ratchet step against the
    /// signed prekey), [`Labels::first_message_keys`], and a ChaCha20-Poly1305
    /// seal of the padded 16-byte message (32 bytes), in place.
    #[inline(never)] // a frame of its own in profiles
    fn start_encrypt(&self, l: &Labels, r: &mut ChaCha20Rng, buf: &mut [u8]) -> [u8; 16] {
        let p = &l.p;
        let rk = self.start(l, r);
        let mut ratchet = Key::zero();
        r.fill_bytes(ratchet.expose_mut());
        let _public = p.x25519_public_key(&ratchet);
        let dh = p.x25519(&ratchet, &self.spk).unwrap();
        let (key, nonce) = l.first_message_keys(&rk, &dh);
        p.aead_seal(&key, &nonce, &l.aead_ad, buf)
    }
}

/// The responder's floor for one initial message.
struct AcceptFloor {
    signature: SignedMessage,
    our_identity: Key,
    spk: Key,
    opk: Option<Key>,
    kem_seed: Secret<64>,
    their_identity: [u8; 32],
    ephemeral: [u8; 32],
    ratchet_key: [u8; 32],
    kem_ct: Box<[u8; MLKEM_CT_LEN]>,
    fixed: Vec<u8>,
    /// The first message's padded body, sealed under the key this floor
    /// derives, and its tag.
    body: Vec<u8>,
    tag: [u8; 16],
}

impl AcceptFloor {
    fn new(l: &Labels, bob: &IdentityPublic, initial: &[u8]) -> Self {
        let p = &l.p;
        let (h, inner) = HandshakeHeader::parse(initial).unwrap();
        let kem_seed = Secret::from_bytes([0x44; 64]);
        let kem = p.ml_kem_768_generate(&kem_seed);
        let (ct, _) = p
            .ml_kem_768_encapsulate(&kem.encapsulation_key, &Key::from_bytes([0x45; 32]))
            .unwrap();
        let spk = Key::from_bytes([0x41; 32]);
        let opk = h.one_time_prekey_id.map(|_| Key::from_bytes([0x43; 32]));
        let mut f = Self {
            signature: binding(&h.identity),
            our_identity: Key::from_bytes([0x42; 32]),
            fixed: transcript_fixed(
                &h.identity,
                bob,
                (h.signed_prekey_id, &p.x25519_public_key(&spk)),
                h.one_time_prekey_id
                    .zip(opk.as_ref())
                    .map(|(id, k)| (id, p.x25519_public_key(k))),
                (h.kem_prekey_kind, h.kem_prekey_id),
            ),
            spk,
            opk,
            kem_seed,
            their_identity: h.identity.agreement_key,
            ephemeral: h.ephemeral_key,
            ratchet_key: inner[2..34].try_into().unwrap(),
            kem_ct: Box::new(ct),
            body: vec![0x5a; padded_len(FIRST.len())],
            tag: [0; 16],
        };
        let (key, nonce) = f.keys(l);
        f.tag = p.aead_seal(&key, &nonce, &l.aead_ad, &mut f.body);
        f
    }

    /// Everything before the first message's decryption: 1 Ed25519
    /// verification (the initiator's identity binding), the replay tag
    /// (SHA-256 of `EK_A`), 3 or 4 X25519, ML-KEM-768 key generation from the
    /// stored 64-byte seed and decapsulation, the transcript hash (2 SHA-256),
    /// [`Labels::derive`], then the first message's DH ratchet step
    /// (1 X25519) and [`Labels::first_message_keys`].
    #[inline(never)] // a frame of its own in profiles
    fn keys(&self, l: &Labels) -> (Key, [u8; 12]) {
        let p = &l.p;
        let (pk, msg, sig) = &self.signature;
        p.ed25519_verify(pk, msg, sig).unwrap();
        black_box(p.sha256(&[&self.ephemeral]));
        let dh4 = self
            .opk
            .as_ref()
            .map(|opk| p.x25519(opk, &self.ephemeral).unwrap());
        let dh = [
            p.x25519(&self.spk, &self.their_identity).unwrap(),
            p.x25519(&self.our_identity, &self.ephemeral).unwrap(),
            p.x25519(&self.spk, &self.ephemeral).unwrap(),
            dh4.unwrap_or_else(Key::zero),
        ];
        let kem = p.ml_kem_768_generate(&self.kem_seed);
        let ss = p.ml_kem_768_decapsulate(&kem.decapsulation_key, &self.kem_ct);
        let th = l.transcript_hash(
            &self.fixed,
            &kem.encapsulation_key,
            &self.ephemeral,
            &self.kem_ct,
        );
        let rk = l.derive(&th, &dh[..3 + usize::from(self.opk.is_some())], &ss);
        let dh = p.x25519(&self.spk, &self.ratchet_key).unwrap();
        l.first_message_keys(&rk, &dh)
    }

    /// [`keys`](Self::keys) and the ChaCha20-Poly1305 open of the 32-byte
    /// body, in place in `buf` (a fresh copy of it).
    #[inline(never)] // a frame of its own in profiles
    fn accept(&self, l: &Labels, buf: &mut [u8]) {
        let (key, nonce) = self.keys(l);
        l.p.aead_open(&key, &nonce, &l.aead_ad, buf, &self.tag)
            .unwrap();
    }
}

// ---------------------------------------------------------------------------
// Benchmarks

/// `Session::start` alone, with and without a one-time prekey. Floor:
/// [`StartFloor::start`]. vodozemac: `create_outbound_session` (1 X25519 key
/// generation for the base key, 3 X25519, HKDF; 1 more key generation for
/// the first ratchet key).
fn start(c: &mut Criterion) {
    let mut r = rng();
    let parties = Parties::new(&mut r);
    let l = Labels::new();
    let mut g = c.benchmark_group("start");
    for (opk, name) in OPK {
        let bundle = &parties.bundle[Parties::index(opk)];
        g.bench_with_input(BenchmarkId::new("sova", name), bundle, |b, bundle| {
            b.iter(|| {
                Session::start_unverified(
                    &parties.alice,
                    &mut r,
                    black_box(bundle),
                    HeaderMode::Plain,
                )
                .unwrap()
            })
        });
        let f = StartFloor::new(parties.alice.identity(), bundle);
        g.bench_function(BenchmarkId::new("floor", name), |b| {
            b.iter(|| f.start(&l, &mut r))
        });
    }
    let olm = OlmParties::new();
    g.bench_function(BenchmarkId::new("vodozemac", "opk"), |b| {
        b.iter(|| olm_start(&olm.alice, black_box(&olm.bob), olm.otk))
    });
    g.finish();
}

/// `Session::start` and the first `encrypt` (16 bytes; its DH ratchet step
/// included), wire bytes out. Floor: [`StartFloor::start_encrypt`].
/// vodozemac: `create_outbound_session`, `encrypt` and `to_parts` (Olm's
/// first message needs no DH ratchet step).
fn start_encrypt(c: &mut Criterion) {
    let mut r = rng();
    let parties = Parties::new(&mut r);
    let l = Labels::new();
    let mut g = c.benchmark_group("start_encrypt");
    for (opk, name) in OPK {
        let bundle = &parties.bundle[Parties::index(opk)];
        g.bench_with_input(BenchmarkId::new("sova", name), bundle, |b, bundle| {
            b.iter(|| {
                let mut s = Session::start_unverified(
                    &parties.alice,
                    &mut r,
                    black_box(bundle),
                    HeaderMode::Plain,
                )
                .unwrap();
                s.encrypt(&mut r, black_box(FIRST)).unwrap()
            })
        });
        let f = StartFloor::new(parties.alice.identity(), bundle);
        let mut buf = vec![0x61; padded_len(FIRST.len())];
        g.bench_function(BenchmarkId::new("floor", name), |b| {
            b.iter(|| f.start_encrypt(&l, &mut r, &mut buf))
        });
    }
    let olm = OlmParties::new();
    g.bench_function(BenchmarkId::new("vodozemac", "opk"), |b| {
        b.iter(|| olm_start_encrypt(&olm.alice, black_box(&olm.bob), olm.otk))
    });
    g.finish();
}

/// `Account::accept` of an initial message carrying a 16-byte first message,
/// on a fresh copy of Bob's account each time. Floor: [`AcceptFloor::accept`].
/// vodozemac: `from_parts` and `create_inbound_session` (3 X25519, HKDF, the
/// first message's decryption), on a fresh copy of Bob's account.
fn accept(c: &mut Criterion) {
    let mut r = rng();
    let parties = Parties::new(&mut r);
    let l = Labels::new();
    let bob_identity = *restore(&parties.bob).identity();
    let mut g = c.benchmark_group("accept");
    for (opk, name) in OPK {
        let initial = &parties.initial[Parties::index(opk)];
        g.bench_function(BenchmarkId::new("sova", name), |b| {
            b.iter_batched_ref(
                || restore(&parties.bob),
                |bob| bob.accept_unverified(black_box(initial)).unwrap(),
                BatchSize::SmallInput,
            )
        });
        let f = AcceptFloor::new(&l, &bob_identity, initial);
        g.bench_function(BenchmarkId::new("floor", name), |b| {
            b.iter_batched_ref(
                || f.body.clone(),
                |buf| f.accept(&l, buf),
                BatchSize::SmallInput,
            )
        });
    }
    let olm = OlmParties::new();
    g.bench_function(BenchmarkId::new("vodozemac", "opk"), |b| {
        b.iter_batched_ref(
            || olm.bob_clone(),
            |bob| olm_accept(&olm.alice, bob, black_box(&olm.initial)),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The floor of the whole exchange: the one-time prekey's 32 random bytes and
/// X25519 key generation, [`StartFloor::start_encrypt`] into `out` and
/// [`AcceptFloor::accept`] of `buf`.
#[inline(never)] // a frame of its own in profiles
fn floor_setup(
    l: &Labels,
    sf: &StartFloor,
    af: &AcceptFloor,
    r: &mut ChaCha20Rng,
    out: &mut [u8],
    buf: &mut [u8],
) {
    let mut opk = Key::zero();
    r.fill_bytes(opk.expose_mut());
    black_box(l.p.x25519_public_key(&opk));
    black_box(sf.start_encrypt(l, r, out));
    af.accept(l, buf)
}

/// The whole exchange with a one-time prekey: Bob generates one (32 random
/// bytes, 1 X25519 key generation) and a bundle is encoded, Alice starts and
/// encrypts, Bob accepts. Floor: [`floor_setup`].
/// vodozemac: `generate_one_time_keys(1)`, `mark_keys_as_published`, then as
/// `start_encrypt` and `accept` (the reference exchange of the comparison).
fn setup(c: &mut Criterion) {
    let mut r = rng();
    let parties = Parties::new(&mut r);
    let l = Labels::new();
    let mut g = c.benchmark_group("setup");
    g.bench_function("sova", |b| {
        b.iter_batched_ref(
            || restore(&parties.bob_bare),
            |bob| sova_setup(&parties.alice, bob, &mut r),
            BatchSize::SmallInput,
        )
    });
    let bundle = &parties.bundle[Parties::index(true)];
    let initial = &parties.initial[Parties::index(true)];
    let sf = StartFloor::new(parties.alice.identity(), bundle);
    let af = AcceptFloor::new(&l, restore(&parties.bob).identity(), initial);
    let mut out = vec![0x61; padded_len(FIRST.len())];
    g.bench_function("floor", |b| {
        b.iter_batched_ref(
            || af.body.clone(),
            |buf| floor_setup(&l, &sf, &af, &mut r, &mut out, buf),
            BatchSize::SmallInput,
        )
    });
    let olm = OlmParties::new();
    let olm_bare = {
        let mut a = OlmAccount::new();
        a.mark_keys_as_published();
        a
    };
    assert_eq!(
        olm_setup(&olm.alice, &mut OlmAccount::from_pickle(olm_bare.pickle())),
        FIRST
    );
    g.bench_function("vodozemac", |b| {
        b.iter_batched_ref(
            || OlmAccount::from_pickle(olm_bare.pickle()),
            |bob| olm_setup(&olm.alice, bob),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The restore floor: what loading cannot avoid. SHA-256 of the encoding
/// (its check, spec §8.1); the identity's Ed25519 and X25519 public keys and
/// binding signature; the signed prekey's public key and signature; the
/// last-resort ML-KEM key generation and signature. Secrets are read from
/// the encoding at their fixed offsets (an account without a previous
/// signed or last-resort prekey and without replay records).
#[inline(never)]
fn restore_floor(p: &DefaultProvider, bytes: &[u8]) -> usize {
    let check = p.sha256(&[&bytes[..bytes.len() - 32]]);
    let seed = Secret::<32>::try_from_slice(&bytes[23..55]).unwrap();
    let dh = Secret::<32>::try_from_slice(&bytes[55..87]).unwrap();
    let ik_sig = p.ed25519_public_key(&seed);
    let ik_dh = p.x25519_public_key(&dh);
    let binding =
        sova::kdf::labeled_sign(p, &seed, labels::IDENTITY_BINDING, &[&ik_sig, &ik_dh]).unwrap();
    let spk = Secret::<32>::try_from_slice(&bytes[96..128]).unwrap();
    let spk_pub = p.x25519_public_key(&spk);
    let spk_sig =
        sova::kdf::labeled_sign(p, &seed, labels::PREKEY, &[&[1], &bytes[92..96], &spk_pub])
            .unwrap();
    let n = usize::from(u16::from_be_bytes([bytes[131], bytes[132]]));
    let kem_at = 133 + n * 37;
    let kem_seed = Secret::<64>::try_from_slice(&bytes[kem_at + 4..kem_at + 68]).unwrap();
    let pair = p.ml_kem_768_generate(&kem_seed);
    let kem_sig = sova::kdf::labeled_sign(
        p,
        &seed,
        labels::PREKEY,
        &[&[2], &bytes[kem_at..kem_at + 4], &pair.encapsulation_key],
    )
    .unwrap();
    black_box((check, binding, spk_sig, kem_sig));
    bytes.len()
}

#[inline(never)]
fn restore_sova(bytes: &[u8]) -> Account {
    Account::from_bytes(bytes).unwrap()
}

/// Restoring an account (`Account::from_bytes`) holding 1000 one-time
/// X25519 prekeys and 40 or 100 one-time ML-KEM prekeys. Floor:
/// [`restore_floor`].
fn account_restore(c: &mut Criterion) {
    let mut g = c.benchmark_group("account_restore");
    let p = DefaultProvider::default();
    for kem in [40usize, 100] {
        let mut r = ChaCha20Rng::from_seed([0x52; 32]);
        let mut bob = Account::new(&mut r).unwrap();
        bob.generate_one_time_prekeys(&mut r, 1000).unwrap();
        bob.generate_kem_one_time_prekeys(&mut r, kem).unwrap();
        let bytes = bob.to_bytes();
        let name = format!("1000x25519_{kem}kem");
        g.bench_function(BenchmarkId::new("sova", &name), |b| {
            b.iter(|| restore_sova(black_box(&bytes)))
        });
        g.bench_function(BenchmarkId::new("floor", &name), |b| {
            b.iter(|| restore_floor(&p, black_box(&bytes)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = start, start_encrypt, accept, setup, account_restore
}
criterion_main!(benches);
