//! `state-encodings.json`: the persisted states of spec §8 byte for byte —
//! ratchet states (§8.2) reached by short scripts, account states (§8.4) from
//! recorded secrets, sealed states (§8.3) with their storage keys — and
//! encodings a reader must reject, each with its exact `StateError` or
//! `StorageError`, several of them breaking more than one rule so that the
//! order of the checks is fixed (format in spec §4.11).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova::devices::{KnownUser, UserKey};
use sova::kdf::labeled_expand;
use sova::ratchet::{Ratchet, StateError};
use sova::session::{Account, Conversation, Session};
use sova::storage::{open, seal, SealedKind, StorageError};
use sova::{labels, CryptoProvider, Secret};

use super::handshake::AccountSecrets;
use super::ratchet_negative::{replay, steps_of, Op, StepInput};
use super::ratchet_transcripts::{Party, Setup};
use crate::family::{fixed, Case, CaseError, Family, FileGen, Inputs, Kind};
use crate::replay::ReplayRng;
use crate::Bytes;

/// The file name.
pub(crate) const FILE: &str = "state-encodings.json";

/// The family of `state-encodings.json`.
pub(crate) const FAMILY: Family = Family::new(
    FILE,
    "Persisted state byte for byte: ratchet states reached by short scripts, account states \
     from recorded secrets, sealed states with their storage keys; and encodings a reader must \
     reject, with the exact error, several breaking more than one rule \
     (spec §8; format: spec §4.11).",
    &[
        Kind::of::<RatchetState>(),
        Kind::of::<AccountState>(),
        Kind::of::<SealedState>(),
        Kind::of::<StateRejection>(),
        Kind::of::<SealedRejection>(),
        Kind::of::<super::session_states::SessionState>(),
        Kind::of::<super::conversation_states::ConversationState>(),
        Kind::of::<super::device_states::KnownUserState>(),
        Kind::of::<super::device_states::UserKeyState>(),
        Kind::of::<super::device_states::LinkedDeviceState>(),
    ],
    generate,
);

/// The class of a `StateError` as the file writes it (spec §4.11.2).
fn state_error_class(e: &StateError) -> String {
    match e {
        StateError::BadMagic => "BadMagic".into(),
        StateError::UnsupportedVersion(_) => "UnsupportedVersion".into(),
        StateError::Truncated => "Truncated".into(),
        StateError::Corrupted => "Corrupted".into(),
        StateError::TrailingBytes => "TrailingBytes".into(),
        StateError::Invalid(field) => format!("Invalid({field})"),
        _ => "Other".into(),
    }
}

fn storage_error_class(e: &StorageError) -> String {
    match e {
        StorageError::BadMagic => "BadMagic".into(),
        StorageError::UnsupportedVersion(_) => "UnsupportedVersion".into(),
        StorageError::WrongKind(_) => "WrongKind".into(),
        StorageError::Truncated => "Truncated".into(),
        StorageError::Authentication => "Authentication".into(),
        _ => "Other".into(),
    }
}

/// A ratchet state after a script: the state of `party`, encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RatchetState {
    description: String,
    #[serde(flatten)]
    setup: Setup,
    steps: Vec<StepInput>,
    party: Party,
    encoding: Bytes,
}

impl RatchetState {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        setup: Setup,
        steps: &[StepInput],
        party: Party,
    ) -> Result<Self, CaseError> {
        let (mut session, steps) = replay(p, &setup, steps)?;
        let encoding = session.party(party).to_bytes();
        let back =
            Ratchet::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.to_bytes() != encoding {
            return Err(CaseError::check_failed("encoding", "decoding changes it"));
        }
        Ok(Self {
            description,
            setup: setup.recompute(p)?,
            steps,
            party,
            encoding: encoding.into(),
        })
    }
}

impl Case for RatchetState {
    const KIND: &'static str = "ratchet_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.setup.clone(),
            &self.steps,
            self.party,
        )
    }
}

/// An account created from recorded secrets (spec §4.7.2), encoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountState {
    description: String,
    account: AccountSecrets,
    encoding: Bytes,
}

impl AccountState {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        account: AccountSecrets,
    ) -> Result<Self, CaseError> {
        let encoding = account.open(p, "account")?.account.to_bytes();
        let back =
            Account::from_bytes(&encoding).map_err(|e| CaseError::rejected("encoding", e))?;
        if back.to_bytes() != encoding {
            return Err(CaseError::check_failed("encoding", "decoding changes it"));
        }
        Ok(Self {
            description,
            account,
            encoding: encoding.into(),
        })
    }
}

impl Case for AccountState {
    const KIND: &'static str = "account_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(p, self.description.clone(), self.account.clone())
    }
}

fn sealed_kind(kind: u8) -> Result<SealedKind, CaseError> {
    match kind {
        1 => Ok(SealedKind::Account),
        2 => Ok(SealedKind::Session),
        3 => Ok(SealedKind::Conversation),
        4 => Ok(SealedKind::KnownUser),
        5 => Ok(SealedKind::UserKey),
        _ => Err(CaseError::malformed("sealed_kind", "expected 1 to 5")),
    }
}

/// A state sealed under `key` with the drawn `nonce` (spec §8.3).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SealedState {
    description: String,
    key: Bytes,
    sealed_kind: u8,
    state: Bytes,
    nonce: Bytes,
    storage_key: Bytes,
    sealed: Bytes,
}

impl SealedState {
    pub(super) fn compute(
        p: &dyn CryptoProvider,
        description: String,
        key: Bytes,
        kind: u8,
        state: Bytes,
        nonce: Bytes,
    ) -> Result<Self, CaseError> {
        let k = Secret::from_bytes(fixed::<32>("key", key.as_slice())?);
        let mut sk = [0u8; 32];
        labeled_expand(p, &k, labels::STORAGE_KEY, &[kind], &mut sk)
            .map_err(|e| CaseError::rejected("key", e))?;
        let which = sealed_kind(kind)?;
        let mut rng = ReplayRng::new(vec![fixed::<12>("nonce", nonce.as_slice())?.to_vec()]);
        let sealed = seal(p, &mut rng, &k, which, state.as_slice())
            .map_err(|e| CaseError::rejected("", e))?;
        rng.finish_exact(&[12])
            .map_err(|e| CaseError::check_failed("nonce", e))?;
        let opened = open(p, &k, which, &sealed).map_err(|e| CaseError::rejected("sealed", e))?;
        if opened != state.as_slice() {
            return Err(CaseError::check_failed(
                "sealed",
                "does not open to the state",
            ));
        }
        api_sealing(&k, which, &nonce, &sealed)?;
        Ok(Self {
            description,
            key,
            sealed_kind: kind,
            state,
            nonce,
            storage_key: sk.into(),
            sealed: sealed.into(),
        })
    }
}

impl Case for SealedState {
    const KIND: &'static str = "sealed_state";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.key.clone(),
            self.sealed_kind,
            self.state.clone(),
            self.nonce.clone(),
        )
    }
}

/// An encoding the reader of `state` (`"ratchet"`, `"account"`, `"session"` or
/// `"conversation"`) must reject.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRejection {
    description: String,
    state: String,
    encoding: Bytes,
    error: String,
}

impl StateRejection {
    fn compute(description: String, state: String, encoding: Bytes) -> Result<Self, CaseError> {
        let result = match state.as_str() {
            "ratchet" => Ratchet::from_bytes(encoding.as_slice()).map(drop),
            "account" => Account::from_bytes(encoding.as_slice()).map(drop),
            "session" => Session::from_bytes(encoding.as_slice()).map(drop),
            "conversation" => Conversation::from_bytes(encoding.as_slice()).map(drop),
            "known_user" => KnownUser::from_bytes(encoding.as_slice()).map(drop),
            "user_key" => UserKey::from_bytes(encoding.as_slice()).map(drop),
            _ => {
                return Err(CaseError::malformed(
                    "state",
                    "expected ratchet, account, session, conversation, known_user or user_key",
                ))
            }
        };
        let error = match result {
            Ok(()) => return Err(CaseError::check_failed("encoding", "the reader accepts it")),
            Err(e) => state_error_class(&e),
        };
        Ok(Self {
            description,
            state,
            encoding,
            error,
        })
    }
}

impl Case for StateRejection {
    const KIND: &'static str = "state_rejection";
    fn recompute(&self, _: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            self.description.clone(),
            self.state.clone(),
            self.encoding.clone(),
        )
    }
}

/// A sealed blob that opening as `kind` under `key` must reject.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedRejection {
    description: String,
    key: Bytes,
    sealed_kind: u8,
    sealed: Bytes,
    error: String,
}

impl SealedRejection {
    fn compute(
        p: &dyn CryptoProvider,
        description: String,
        key: Bytes,
        kind: u8,
        sealed: Bytes,
    ) -> Result<Self, CaseError> {
        let k = Secret::from_bytes(fixed::<32>("key", key.as_slice())?);
        let error = match open(p, &k, sealed_kind(kind)?, sealed.as_slice()) {
            Ok(_) => return Err(CaseError::check_failed("sealed", "the blob opens")),
            Err(e) => storage_error_class(&e),
        };
        Ok(Self {
            description,
            key,
            sealed_kind: kind,
            sealed,
            error,
        })
    }
}

impl Case for SealedRejection {
    const KIND: &'static str = "sealed_rejection";
    fn recompute(&self, p: &dyn CryptoProvider) -> Result<Self, CaseError> {
        Self::compute(
            p,
            self.description.clone(),
            self.key.clone(),
            self.sealed_kind,
            self.sealed.clone(),
        )
    }
}

// ---- Encodings built field by field, for the rejected states ---------------

/// `Opt(x)` with a raw tag: the payload is written only for tag 1.
fn opt(out: &mut Vec<u8>, tag: u8, payload: &[u8]) {
    out.push(tag);
    if tag == 1 {
        out.extend_from_slice(payload);
    }
}

fn key(b: u8) -> [u8; 32] {
    [b; 32]
}

/// A receiving chain of spec §8.2 with raw fields.
#[derive(Clone)]
struct Chain {
    dhr: [u8; 32],
    position: u8,
    limit: u32,
    hk: u8,
    count: Option<u16>,
    keys: Vec<u32>,
}

impl Chain {
    fn open(dhr: u8, nr: u32, keys: &[u32]) -> Self {
        Self {
            dhr: key(dhr),
            position: 0,
            limit: nr,
            hk: 0,
            count: None,
            keys: keys.to_vec(),
        }
    }
    fn closed(dhr: u8, end: u32, keys: &[u32]) -> Self {
        Self {
            position: 1,
            ..Self::open(dhr, end, keys)
        }
    }
}

/// The fields of a ratchet state (spec §8.2), raw: tags and counts can hold
/// any value.
#[derive(Clone)]
struct Rs {
    magic: Vec<u8>,
    version: u8,
    mode: u8,
    generation: u64,
    ad_len: Option<u16>,
    dhs: u8,
    dhr: u8,
    dhr_key: [u8; 32],
    s: u8,
    ns: u32,
    hks: u8,
    nhks: u8,
    nhkr: u8,
    count: Option<u8>,
    chains: Vec<Chain>,
    trailing: Vec<u8>,
}

impl Rs {
    /// A valid state: a party that has received two chains and sends.
    fn base() -> Self {
        Self {
            magic: b"SOVA-1 ratchet".to_vec(),
            version: 1,
            mode: 1,
            generation: 7,
            ad_len: None,
            dhs: 1,
            dhr: 1,
            dhr_key: key(0xd2),
            s: 1,
            ns: 3,
            hks: 0,
            nhks: 0,
            nhkr: 0,
            count: None,
            chains: vec![
                Chain::open(0xd2, 4, &[1, 2]),
                Chain::closed(0xd1, 5, &[0, 3]),
            ],
            trailing: Vec::new(),
        }
    }

    /// The valid base in ENCRYPTED mode.
    fn encrypted() -> Self {
        let mut s = Self::base();
        s.mode = 2;
        s.hks = 1;
        s.nhks = 1;
        s.nhkr = 1;
        for c in &mut s.chains {
            c.hk = 1;
        }
        s
    }

    fn body(&self) -> Vec<u8> {
        let ad = b"ad";
        let mut o = self.magic.clone();
        o.push(self.version);
        o.push(self.mode);
        o.extend_from_slice(&self.generation.to_be_bytes());
        o.extend_from_slice(&self.ad_len.unwrap_or(ad.len() as u16).to_be_bytes());
        o.extend_from_slice(ad);
        o.extend_from_slice(&key(0x11));
        opt(&mut o, self.dhs, &key(0x22));
        opt(&mut o, self.dhr, &self.dhr_key);
        let mut s = key(0x33).to_vec();
        s.extend_from_slice(&self.ns.to_be_bytes());
        opt(&mut s, self.hks, &key(0x44));
        opt(&mut o, self.s, &s);
        o.extend_from_slice(&0u32.to_be_bytes());
        opt(&mut o, self.nhks, &key(0x55));
        opt(&mut o, self.nhkr, &key(0x66));
        o.push(self.count.unwrap_or(self.chains.len() as u8));
        for c in &self.chains {
            o.extend_from_slice(&c.dhr);
            o.push(c.position);
            if c.position == 0 {
                o.extend_from_slice(&key(0x77));
            }
            o.extend_from_slice(&c.limit.to_be_bytes());
            opt(&mut o, c.hk, &key(0x88));
            o.extend_from_slice(&c.count.unwrap_or(c.keys.len() as u16).to_be_bytes());
            for n in &c.keys {
                o.extend_from_slice(&n.to_be_bytes());
                o.extend_from_slice(&key(0x99));
            }
        }
        o.extend_from_slice(&self.trailing);
        o
    }

    fn encode(&self) -> Vec<u8> {
        checked(self.body())
    }
}

/// `bytes || SHA-256(bytes)` (spec §8.1).
pub(super) fn checked(mut bytes: Vec<u8>) -> Vec<u8> {
    let check = Sha256::digest(&bytes);
    bytes.extend_from_slice(&check);
    bytes
}

/// The fields of an account state (spec §8.4), raw.
#[derive(Clone)]
struct As {
    magic: Vec<u8>,
    version: u8,
    next_id: u32,
    long_term_published: u8,
    spk_id: u32,
    records: Vec<u8>,
    record_count: Option<u16>,
    previous: u8,
    previous_id: u32,
    opks: Vec<u32>,
    /// The published flag of the last one-time prekey (the others are 1).
    opk_published: u8,
    opk_count: Option<u16>,
    pqspk_id: u32,
    previous_pq: u8,
    previous_pq_id: u32,
    pqopks: Vec<u32>,
    pqopk_published: u8,
    pqopk_count: Option<u16>,
    trailing: Vec<u8>,
}

impl As {
    /// A valid account: rotated once, two one-time prekeys, replay records.
    fn base() -> Self {
        Self {
            magic: b"SOVA-1 account".to_vec(),
            version: 1,
            next_id: 8,
            long_term_published: 1,
            spk_id: 5,
            records: vec![0x10, 0x20],
            record_count: None,
            previous: 1,
            previous_id: 1,
            opks: vec![3, 4],
            opk_published: 0,
            opk_count: None,
            pqspk_id: 6,
            previous_pq: 1,
            previous_pq_id: 2,
            pqopks: vec![7],
            pqopk_published: 1,
            pqopk_count: None,
            trailing: Vec::new(),
        }
    }

    fn body(&self) -> Vec<u8> {
        let x = |o: &mut Vec<u8>, id: u32, b: u8| {
            o.extend_from_slice(&id.to_be_bytes());
            o.extend_from_slice(&key(b));
        };
        let kem = |o: &mut Vec<u8>, id: u32, b: u8| {
            o.extend_from_slice(&id.to_be_bytes());
            o.extend_from_slice(&[b; 64]);
        };
        let mut o = self.magic.clone();
        o.push(self.version);
        o.extend_from_slice(&3u64.to_be_bytes());
        o.extend_from_slice(&key(0x01));
        o.extend_from_slice(&key(0x02));
        o.extend_from_slice(&self.next_id.to_be_bytes());
        o.push(self.long_term_published);
        x(&mut o, self.spk_id, 0x03);
        let count = self.record_count.unwrap_or(self.records.len() as u16);
        o.extend_from_slice(&count.to_be_bytes());
        for r in &self.records {
            o.extend_from_slice(&key(*r));
        }
        o.push(self.previous);
        if self.previous == 1 {
            x(&mut o, self.previous_id, 0x04);
            o.extend_from_slice(&1u16.to_be_bytes());
            o.extend_from_slice(&key(0x30));
        }
        let n = self.opk_count.unwrap_or(self.opks.len() as u16);
        o.extend_from_slice(&n.to_be_bytes());
        for (i, id) in self.opks.iter().enumerate() {
            x(&mut o, *id, 0x05);
            o.push(if i + 1 == self.opks.len() {
                self.opk_published
            } else {
                1
            });
        }
        kem(&mut o, self.pqspk_id, 0x06);
        o.push(self.previous_pq);
        if self.previous_pq == 1 {
            kem(&mut o, self.previous_pq_id, 0x07);
        }
        let m = self.pqopk_count.unwrap_or(self.pqopks.len() as u16);
        o.extend_from_slice(&m.to_be_bytes());
        for id in &self.pqopks {
            kem(&mut o, *id, 0x08);
            o.push(self.pqopk_published);
        }
        o.extend_from_slice(&self.trailing);
        o
    }

    fn encode(&self) -> Vec<u8> {
        checked(self.body())
    }
}

pub(super) fn reject(
    g: &mut FileGen<'_>,
    state: &str,
    description: &str,
    bytes: Vec<u8>,
) -> Result<(), CaseError> {
    g.case(|_| StateRejection::compute(description.to_owned(), state.to_owned(), bytes.into()))
}

pub(super) fn flip_last(mut b: Vec<u8>) -> Vec<u8> {
    if let Some(x) = b.last_mut() {
        *x ^= 1;
    }
    b
}

fn ratchet_rejections(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let base = Rs::base();
    let with = |f: &dyn Fn(&mut Rs)| {
        let mut s = Rs::base();
        f(&mut s);
        s.encode()
    };
    let enc_with = |f: &dyn Fn(&mut Rs)| {
        let mut s = Rs::encrypted();
        f(&mut s);
        s.encode()
    };
    // Both bases are valid states.
    for (field, bytes) in [
        ("base", base.encode()),
        ("encrypted", Rs::encrypted().encode()),
    ] {
        Ratchet::from_bytes(&bytes).map_err(|e| CaseError::rejected(field, e))?;
    }
    let full = base.encode();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // §8.1, in order: magic, version, length, check.
        ("empty input", Vec::new()),
        ("the magic cut short (10 bytes)", full[..10].to_vec()),
        ("wrong magic and version 2", {
            let mut b = full.clone();
            b[13] = b'X';
            b[14] = 2;
            b
        }),
        ("the magic alone (the version missing)", full[..14].to_vec()),
        ("version 2 and nothing after it", {
            let mut b = full[..15].to_vec();
            b[14] = 2;
            b
        }),
        ("version 0", with(&|s| s.version = 0)),
        (
            "magic and version, then 31 bytes: shorter than magic, version and check",
            full[..46].to_vec(),
        ),
        (
            "check wrong (its last bit flipped)",
            flip_last(full.clone()),
        ),
        ("check wrong and mode 3", flip_last(with(&|s| s.mode = 3))),
        ("a byte appended after the check", {
            let mut b = full.clone();
            b.push(0);
            b
        }),
        // R1–R7, as the fields are read.
        ("R1: mode 3", with(&|s| s.mode = 3)),
        (
            "R1: mode 0 and len(AD) 513",
            with(&|s| {
                s.mode = 0;
                s.ad_len = Some(513);
            }),
        ),
        (
            "R2: len(AD) 513 (its bytes absent)",
            with(&|s| s.ad_len = Some(513)),
        ),
        (
            "R2 and R3: len(AD) 513 and an option tag 2",
            with(&|s| {
                s.ad_len = Some(513);
                s.dhs = 2;
            }),
        ),
        ("R3: DHs option tag 2", with(&|s| s.dhs = 2)),
        (
            "R3: HKs option tag 2, inside the sending chain",
            with(&|s| s.hks = 2),
        ),
        (
            "R3: NHKr option tag 2 and receiving chain count 6",
            with(&|s| {
                s.nhkr = 2;
                s.count = Some(6);
            }),
        ),
        (
            "R4: receiving chain count 6 (the chains absent)",
            with(&|s| {
                s.count = Some(6);
                s.chains.clear();
            }),
        ),
        ("R5: position tag 2", with(&|s| s.chains[0].position = 2)),
        (
            "R5: the first chain closed",
            with(&|s| s.chains[0].position = 1),
        ),
        (
            "R5: the second chain open",
            with(&|s| s.chains[1].position = 0),
        ),
        (
            "R5: an open chain with Nr = 0 (and no keys)",
            with(&|s| {
                s.chains[0].limit = 0;
                s.chains[0].keys.clear();
            }),
        ),
        (
            "R6: 2001 keys announced in the first chain, none present",
            with(&|s| {
                s.chains[0].count = Some(2001);
                s.chains[0].keys.clear();
                s.chains.truncate(1);
            }),
        ),
        (
            "R6: 2 + 1999 keys over two chains, the second chain's absent",
            with(&|s| {
                s.chains[1].count = Some(1999);
                s.chains[1].keys.clear();
            }),
        ),
        (
            "R7: keys 2, 1 (decreasing)",
            with(&|s| s.chains[0].keys = vec![2, 1]),
        ),
        (
            "R7: keys 1, 1 (repeated)",
            with(&|s| s.chains[0].keys = vec![1, 1]),
        ),
        (
            "R7: open chain, key n = Nr",
            with(&|s| s.chains[0].keys = vec![1, 4]),
        ),
        (
            "R7: closed chain, key n = END",
            with(&|s| s.chains[1].keys = vec![0, 5]),
        ),
        (
            "R7 and C1: keys 2, 1 and NHKs present in PLAIN mode",
            with(&|s| {
                s.chains[0].keys = vec![2, 1];
                s.nhks = 1;
            }),
        ),
        ("the last chain's keys cut short (check valid)", {
            let b = base.body();
            checked(b[..b.len() - 20].to_vec())
        }),
        (
            "a byte after the last chain (check valid)",
            with(&|s| s.trailing = vec![0]),
        ),
        (
            "a byte after the last chain and NHKs present in PLAIN mode",
            with(&|s| {
                s.trailing = vec![0];
                s.nhks = 1;
            }),
        ),
        // C1–C6, after the last field, in order.
        ("C1: NHKs present in PLAIN mode", with(&|s| s.nhks = 1)),
        (
            "C1: ENCRYPTED mode, a chain without HKr",
            enc_with(&|s| s.chains[1].hk = 0),
        ),
        ("C1: ENCRYPTED mode, no HKs", enc_with(&|s| s.hks = 0)),
        (
            "C1 and C2: NHKr present in PLAIN mode and Ns = 0",
            with(&|s| {
                s.nhkr = 1;
                s.ns = 0;
            }),
        ),
        ("C2: Ns = 0", with(&|s| s.ns = 0)),
        ("C2: a sending chain without DHs", with(&|s| s.dhs = 0)),
        (
            "C2 and C3: a sending chain without DHs or DHr, no chains",
            with(&|s| {
                s.dhs = 0;
                s.dhr = 0;
                s.chains.clear();
            }),
        ),
        (
            "C3: neither DHs nor DHr nor S, no chains",
            with(&|s| {
                s.dhs = 0;
                s.dhr = 0;
                s.s = 0;
                s.chains.clear();
            }),
        ),
        (
            "C3: DHs and DHr without S, no chains (a responder cannot know DHr yet)",
            with(&|s| {
                s.s = 0;
                s.chains.clear();
            }),
        ),
        (
            "C4: DHr not the newest chain's",
            with(&|s| s.dhr_key = key(0xd1)),
        ),
        (
            "C4 and C6: DHr not the newest chain's, generation 0",
            with(&|s| {
                s.dhr_key = key(0xd1);
                s.generation = 0;
            }),
        ),
        (
            "C5: two chains with the same DHr",
            with(&|s| s.chains[1].dhr = key(0xd2)),
        ),
        (
            "C5 and C6: two chains with the same DHr, generation 0",
            with(&|s| {
                s.chains[1].dhr = key(0xd2);
                s.generation = 0;
            }),
        ),
        (
            "C6: generation 0 with a sending chain",
            with(&|s| s.generation = 0),
        ),
    ];
    for (description, bytes) in cases {
        reject(g, "ratchet", description, bytes)?;
    }
    Ok(())
}

fn account_rejections(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    let with = |f: &dyn Fn(&mut As)| {
        let mut s = As::base();
        f(&mut s);
        s.encode()
    };
    Account::from_bytes(&As::base().encode()).map_err(|e| CaseError::rejected("base", e))?;
    let full = As::base().encode();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "the magic of a session state",
            with(&|s| s.magic = b"SOVA-1 session".to_vec()),
        ),
        ("version 2", with(&|s| s.version = 2)),
        (
            "check wrong and replay record count 4097",
            flip_last(with(&|s| {
                s.record_count = Some(4097);
                s.records.clear();
            })),
        ),
        ("1: signed prekey id 0", with(&|s| s.spk_id = 0)),
        (
            "1: signed prekey id equal to next_prekey_id",
            with(&|s| s.spk_id = 8),
        ),
        (
            "1: one-time prekey id above next_prekey_id",
            with(&|s| s.opks = vec![3, 9]),
        ),
        ("1: KEM one-time prekey id 0", with(&|s| s.pqopks = vec![0])),
        (
            "1 and 4: signed prekey id 0 and option tag 2",
            with(&|s| {
                s.spk_id = 0;
                s.previous = 2;
            }),
        ),
        (
            "2: replay record count 4097 (the records absent)",
            with(&|s| {
                s.record_count = Some(4097);
                s.records.clear();
            }),
        ),
        (
            "3: replay records decreasing",
            with(&|s| s.records = vec![0x20, 0x10]),
        ),
        (
            "3: a replay record repeated",
            with(&|s| s.records = vec![0x10, 0x10]),
        ),
        (
            "4: previous signed prekey option tag 2",
            with(&|s| s.previous = 2),
        ),
        (
            "4: previous last-resort prekey option tag 2",
            with(&|s| s.previous_pq = 2),
        ),
        (
            "4: long-term published flag 2",
            with(&|s| s.long_term_published = 2),
        ),
        (
            "4: a one-time prekey's published flag 2",
            with(&|s| s.opk_published = 2),
        ),
        (
            "4: a KEM one-time prekey's published flag 0xff",
            with(&|s| s.pqopk_published = 0xff),
        ),
        (
            "1 and 4: one-time prekey id 0 and its published flag 2",
            with(&|s| {
                s.opks = vec![3, 0];
                s.opk_published = 2;
            }),
        ),
        (
            "5: 1001 one-time prekeys announced, none present",
            with(&|s| {
                s.opk_count = Some(1001);
                s.opks.clear();
            }),
        ),
        (
            "5: 101 KEM one-time prekeys announced, none present",
            with(&|s| {
                s.pqopk_count = Some(101);
                s.pqopks.clear();
            }),
        ),
        ("6: the last prekey cut short (check valid)", {
            let b = As::base().body();
            checked(b[..b.len() - 10].to_vec())
        }),
        (
            "6: a byte after the last field (check valid)",
            with(&|s| s.trailing = vec![0]),
        ),
        (
            "6 and 7: a byte after the last field, one-time prekey ids 4, 3",
            with(&|s| {
                s.trailing = vec![0];
                s.opks = vec![4, 3];
            }),
        ),
        (
            "7: one-time prekey ids 4, 3",
            with(&|s| s.opks = vec![4, 3]),
        ),
        (
            "7 and 9: one-time prekey ids 5, 3 (5 is the signed prekey's)",
            with(&|s| s.opks = vec![5, 3]),
        ),
        (
            "8: previous signed prekey id above the current one",
            with(&|s| s.previous_id = 7),
        ),
        (
            "8 and 9: previous last-resort prekey id 7, above 6 and a KEM one-time prekey's",
            with(&|s| s.previous_pq_id = 7),
        ),
        (
            "9: a one-time prekey with the signed prekey's id",
            with(&|s| s.opks = vec![3, 5]),
        ),
        (
            "9: the previous signed prekey with a one-time prekey's id",
            with(&|s| s.previous_id = 3),
        ),
        ("the magic alone", full[..14].to_vec()),
    ];
    for (description, bytes) in cases {
        reject(g, "account", description, bytes)?;
    }
    Ok(())
}

fn sealed_cases(g: &mut FileGen<'_>, state: Vec<u8>) -> Result<(), CaseError> {
    for (description, kind) in [
        ("an account state (kind 1)", 1u8),
        (
            "the same bytes as kind 2 (the state is opaque to sealing)",
            2,
        ),
    ] {
        let state = state.clone();
        g.case(|c: &Inputs<'_>| {
            SealedState::compute(
                c.provider(),
                description.into(),
                c.bytes("key", 32).into(),
                kind,
                state.into(),
                c.bytes("nonce", 12).into(),
            )
        })?;
    }
    g.case(|c: &Inputs<'_>| {
        SealedState::compute(
            c.provider(),
            "the empty state".into(),
            c.bytes("key", 32).into(),
            1,
            Vec::new().into(),
            c.bytes("nonce", 12).into(),
        )
    })?;
    Ok(())
}

fn sealed_rejections(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    type Mutation = fn(&mut Vec<u8>);
    let cases: &[(&str, u8, Mutation)] = &[
        ("wrong magic", 1, |b| b[0] = b'X'),
        ("version 2", 1, |b| b[13] = 2),
        ("version 2 and kind 2", 1, |b| {
            b[13] = 2;
            b[14] = 2;
        }),
        ("the magic alone", 1, |b| b.truncate(13)),
        ("kind 2 opened as an account", 1, |b| b[14] = 2),
        (
            "kind 1 opened as a session, and truncated to 20 bytes",
            2,
            |b| b.truncate(20),
        ),
        ("header and nonce, 15 bytes of tag", 1, |b| b.truncate(42)),
        ("a ciphertext bit flipped", 1, |b| b[30] ^= 1),
        ("the tag's last bit flipped", 1, |b| {
            let l = b.len();
            b[l - 1] ^= 1
        }),
        ("a byte appended", 1, |b| b.push(0)),
    ];
    for (description, kind, mutate) in cases {
        g.case(|c: &Inputs<'_>| {
            let p = c.provider();
            let key: Bytes = c.bytes("key", 32).into();
            let k = Secret::from_bytes(fixed::<32>("key", key.as_slice())?);
            let mut rng = ReplayRng::new(vec![c.bytes("nonce", 12)]);
            let mut b = seal(p, &mut rng, &k, SealedKind::Account, b"a state")
                .map_err(|e| CaseError::rejected("", e))?;
            mutate(&mut b);
            SealedRejection::compute(p, (*description).into(), key, *kind, b.into())
        })?;
    }
    g.case(|c: &Inputs<'_>| {
        let p = c.provider();
        let k = Secret::from_bytes(c.array::<32>("sealing_key"));
        let mut rng = ReplayRng::new(vec![c.bytes("nonce", 12)]);
        let b = seal(p, &mut rng, &k, SealedKind::Account, b"a state")
            .map_err(|e| CaseError::rejected("", e))?;
        SealedRejection::compute(
            p,
            "sealed under another key".into(),
            c.bytes("key", 32).into(),
            1,
            b.into(),
        )
    })
}

fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError> {
    use sova::ratchet::HeaderMode::{Encrypted, Plain};
    use Op::{D, S};
    const A: Party = Party::Initiator;
    const B: Party = Party::Responder;
    let scripts: &[(&str, sova::ratchet::HeaderMode, &[Op], Party)] = &[
        ("a new initiator", Plain, &[], A),
        ("a new responder (DHs, no DHr)", Encrypted, &[], B),
        (
            "the initiator after its first message",
            Plain,
            &[S(A, 5)],
            A,
        ),
        (
            "a responder with two skipped keys, its ratchet key pair erased",
            Encrypted,
            &[S(A, 3), S(A, 3), S(A, 3), D(2)],
            B,
        ),
        (
            "a responder with a closed chain holding a key, after replying",
            Plain,
            &[
                S(A, 10),
                S(A, 10),
                D(0),
                S(B, 10),
                D(2),
                S(A, 10),
                D(3),
                S(B, 10),
            ],
            B,
        ),
        (
            "the same conversation with encrypted headers, the initiator",
            Encrypted,
            &[
                S(A, 10),
                S(A, 10),
                D(0),
                S(B, 10),
                D(2),
                S(A, 10),
                D(3),
                S(B, 10),
            ],
            A,
        ),
    ];
    for (description, mode, ops, party) in scripts {
        g.case(|c: &Inputs<'_>| {
            let p = c.provider();
            let setup = Setup::new(p, c, *mode, b"state encodings".to_vec());
            let (_, steps) = replay(p, &setup, &steps_of(c, ops))?;
            RatchetState::compute(p, (*description).into(), setup, &steps, *party)
        })?;
    }
    let mut first_account = Vec::new();
    for (description, one_time, kem_one_time) in [
        ("an account without one-time prekeys", false, false),
        ("an account with a one-time prekey of each kind", true, true),
    ] {
        g.case(|c: &Inputs<'_>| {
            let case = AccountState::compute(
                c.provider(),
                description.into(),
                AccountSecrets::new(c, "account", one_time, kem_one_time),
            )?;
            first_account = case.encoding.as_slice().to_vec();
            Ok(case)
        })?;
    }
    sealed_cases(g, first_account)?;
    ratchet_rejections(g)?;
    account_rejections(g)?;
    sealed_rejections(g)?;
    super::session_states::generate(g)?;
    super::conversation_states::generate(g)?;
    super::device_states::generate(g)
}

/// For the states of spec §11.9, the API's own sealing and opening: the
/// state loads, and sealing it with the same nonce gives the same blob.
fn api_sealing(
    k: &Secret<32>,
    which: SealedKind,
    nonce: &Bytes,
    sealed: &[u8],
) -> Result<(), CaseError> {
    let rng = || ReplayRng::new(vec![nonce.as_slice().to_vec()]);
    let again = match which {
        SealedKind::KnownUser => KnownUser::from_sealed_bytes(sealed, k)
            .map_err(|e| CaseError::rejected("sealed", e))?
            .to_sealed_bytes(&mut rng(), k),
        SealedKind::UserKey => UserKey::from_sealed_bytes(sealed, k)
            .map_err(|e| CaseError::rejected("sealed", e))?
            .to_sealed_bytes(&mut rng(), k),
        _ => return Ok(()),
    }
    .map_err(|e| CaseError::rejected("sealed", e))?;
    if again != sealed {
        return Err(CaseError::check_failed(
            "sealed",
            "the loaded state seals to another blob",
        ));
    }
    Ok(())
}

/// Blobs of the device states (spec §11.9) opened as another kind.
pub(super) fn sealed_device_rejections(
    g: &mut FileGen<'_>,
    known_user: &[u8],
    user_key: &[u8],
) -> Result<(), CaseError> {
    let cases: [(&str, u8, &[u8], u8); 3] = [
        (
            "a known user (kind 4) opened as a user key",
            4,
            known_user,
            5,
        ),
        ("a user key (kind 5) opened as a known user", 5, user_key, 4),
        ("a user key (kind 5) opened as an account", 5, user_key, 1),
    ];
    for (description, kind, state, opened_as) in cases {
        g.case(|c: &Inputs<'_>| {
            let p = c.provider();
            let key: Bytes = c.bytes("key", 32).into();
            let k = Secret::from_bytes(fixed::<32>("key", key.as_slice())?);
            let mut rng = ReplayRng::new(vec![c.bytes("nonce", 12)]);
            let b = seal(p, &mut rng, &k, sealed_kind(kind)?, state)
                .map_err(|e| CaseError::rejected("", e))?;
            SealedRejection::compute(p, description.into(), key, opened_as, b.into())
        })?;
    }
    Ok(())
}
