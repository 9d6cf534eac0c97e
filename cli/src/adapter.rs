//! The reference adapter: the Rust library behind the conformance protocol
//! of spec appendix A, served on standard input and output by the
//! `sova-conformance-adapter` binary.
//!
//! It proves the runner (`sova conformance --impl sova-conformance-adapter`
//! passes every test) and shows a port what an adapter does. With
//! `--break MODE` it misbehaves on purpose, so that the runner can be seen
//! to catch each kind of defect:
//!
//! | mode | defect |
//! |------|--------|
//! | `tamper-accept` | accepts messages the library rejects as forged (answers with an empty plaintext) |
//! | `vectors-lax` | answers every vector case as passing without checking it |
//! | `corrupt-encrypt` | flips one bit of every message it encrypts |
//! | `state-lax` | accepts malformed ratchet states |
//! | `ed25519-lax` | verifies Ed25519 signatures as RFC 8032 and OpenSSL do, without the small-order checks of spec §3.3 (vector cases, bundles and initial messages) |
//! | `replay-accept` | accepts a replayed initial message (forgets its replay records) |
//! | `rotate-drop` | drops the previous signed prekey at each rotation |
//! | `misroute` | answers `InitialMessageMismatch` where a session must answer `NotThisSession` |
//! | `limits-lax` | ignores the limits of §5.5.5 and the end of a sending chain |
//! | `ad-limit-lax` | cuts an associated data over 512 bytes instead of refusing it (`SessionAdTooLong`) |
//! | `no-sending-chain-lax` | sends something from a responder that has no sending chain yet (`NoSendingChain`) |
//! | `plaintext-limit-lax` | sends something for an over-long plaintext (`PlaintextTooLong`) |
//! | `chain-end-lax` | sends something past the end of a sending chain (`ChainExhausted`) |
//! | `safety-number-format` | shows the safety number's 60 digits without group separators |
//! | `random-ignore` | ignores the recorded randomness the runner supplies |
//! | `random-order` | creates accounts from the recorded randomness drawn in another order (the signed prekey before the identity, spec §7.2) |
//! | `start-order` | starts sessions drawing the encapsulation randomness `m` before the ephemeral key (spec §7.4) |
//! | `list-rollback` | accepts device lists older than the accepted one instead of `Rollback` (spec §11.4) |
//! | `list-lax` | accepts device lists whose signature fails (spec §11.3) |
//! | `fanout-unlisted-accept` | accepts fan-out messages from a device the sender's accepted list does not name (spec §11.6, check 4; answers with an empty plaintext) |
//! | `fanout-keep-removed` | answers a newer device list of a person it knows as accepted but keeps believing the older one: a removed device is still believed and still sent to (spec §11.7) |
//! | `fanout-replay-accept` | accepts a fan-out message it has already received (answers with an empty plaintext) |
//! | `fanout-readdress-accept` | ignores the entry's device id, and its kind beyond naming its own user, as SOVA-1 did before §11.6 step 2 checked them: accepts an entry re-addressed to another device id, or a note to self's entry flipped to kind 0 |
//! | `group-wrong-session` | believes a welcome's signer and a chain offer's owner instead of the session each came over (spec §12.3, §12.5 check 3) |
//! | `group-ghost-accept` | answers an operation signed by a non-member or by an unlisted device as applied (spec §12.3, checks 4 and 5) |
//! | `group-role-lax` | answers an operation whose signer lacks the role as applied (spec §12.3, check 7) |
//! | `group-signature-lax` | accepts operations and group messages whose signature fails (spec §12.3 check 6, §12.6 check 6) |
//! | `group-stale-accept` | keeps the epoch it left: reads its messages (a removed member's too) and answers its operations as unchanged (spec §12.3 check 3, §12.6 check 3) |
//! | `group-removed-accept` | reads a message of the epoch it left from a member that epoch's change removed (spec §12.6, "a removed member") |
//! | `group-fork-accept` | answers a competing operation and a message of another history as accepted (spec §12.4) |
//! | `group-replay-accept` | answers a group message read before with an empty plaintext (spec §12.6, check 7) |
//! | `group-keep-chain` | keeps sending on the chain of the epoch it left after a membership change (spec §12.3, §12.6: `NoChain`) |
//! | `group-refusal-dirty` | starts a fresh sending chain when it refuses an operation: a refusal changes its state |
//! | `group-change-lax` | answers an operation whose change breaks spec §12.3 check 8 (`AlreadyMember`, `NoSuchMember`, `RoleUnchanged`, `TooManyMembers`, `LastAdmin`) as applied |
//! | `group-welcome-others` | answers a welcome that does not add its user as joined (spec §12.3: `NotInRoster`) |
//! | `group-welcome-lax` | answers a welcome whose roster or previous operation does not follow as joined (spec §12.3: `WelcomeMismatch`) |
//! | `group-wrong-group` | hands an operation, chain offer or message to the group its group id names, not to the group the request names (spec §12.3 check 2, §12.5, §12.6: `WrongGroup`) |
//! | `group-beyond-end-lax` | reads a message at or beyond its chain's end as an empty one (spec §12.6 check 7: `BeyondChainEnd`) |
//! | `group-chain-end-lax` | at the end of its sending chain, starts another unasked and sends on it (spec §12.6: `ChainExhausted`) |
//! | `group-body-lax` | reads a message whose body does not authenticate or is not padded as an empty one (spec §12.6 check 8) |

use std::collections::HashMap;
use std::io::{BufRead, Write};

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::{json, Map, Value};
use sova::devices::fanout::{self, Audience, DeviceMessage};
use sova::devices::{
    approve_link, DeviceList, FanoutError, KnownUser, LinkRequest, ListChange, ListError,
    PeerDevices, UserKey,
};
use sova::ratchet::{HeaderMode, Ratchet};
use sova::session::{Account, Session};
use sova::{CryptoProvider, DefaultProvider, Secret};

mod groups;

use crate::classes;
use crate::protocol::{
    bool_field, hex_array, hex_field, mode_of, response, str_field, ErrorReply, Reply,
    CAPABILITIES, CASE_FAILED, PROTOCOL, UNKNOWN_HANDLE, UNKNOWN_OP, UNSUPPORTED,
};

/// A deliberate defect (`--break MODE`), to show that the runner catches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Break {
    /// No defect: the library as it is.
    #[default]
    None,
    /// Accept forged messages.
    TamperAccept,
    /// Pass every vector case unchecked.
    VectorsLax,
    /// Corrupt every encrypted message.
    CorruptEncrypt,
    /// Accept malformed ratchet states.
    StateLax,
    /// Verify Ed25519 without the strict rules of spec §3.3.
    Ed25519Lax,
    /// Accept replayed initial messages.
    ReplayAccept,
    /// Drop the previous signed prekey at each rotation.
    RotateDrop,
    /// Check an initial message's handshake fields before its `EK`.
    Misroute,
    /// Ignore the message and associated data limits.
    LimitsLax,
    /// Ignore `SessionAdTooLong` only.
    AdLimitLax,
    /// Ignore `NoSendingChain` only.
    NoSendingChainLax,
    /// Ignore `PlaintextTooLong` only.
    PlaintextLimitLax,
    /// Ignore `ChainExhausted` only.
    ChainEndLax,
    /// Show the safety number without group separators.
    SafetyNumberFormat,
    /// Draw fresh randomness instead of the recorded one.
    RandomIgnore,
    /// Create accounts drawing the signed prekey before the identity.
    RandomOrder,
    /// Start sessions drawing `m` before the ephemeral key.
    StartOrder,
    /// Accept device lists older than the accepted one (no `Rollback`).
    ListRollback,
    /// Accept device lists whose signature fails.
    ListLax,
    /// Accept fan-out messages from a device the sender's list does not name.
    FanoutUnlistedAccept,
    /// Accept a fan-out message received before.
    FanoutReplayAccept,
    /// Report a person's newer list as accepted but keep the older one.
    FanoutKeepRemoved,
    /// Accept an entry whatever its device id, and of either kind that
    /// names the device's own user.
    FanoutReaddressAccept,
    /// Believe a welcome's signer and a chain offer's owner, not the
    /// session each came over.
    GroupWrongSession,
    /// Take operations of non-members and unlisted devices as applied.
    GroupGhostAccept,
    /// Take operations whose signer lacks the role as applied.
    GroupRoleLax,
    /// Accept operations and group messages whose signature fails.
    GroupSignatureLax,
    /// Keep the epoch left: read its messages, take its operations.
    GroupStaleAccept,
    /// Read a removed member's message of the epoch left.
    GroupRemovedAccept,
    /// Take a competing operation or another history's message as accepted.
    GroupForkAccept,
    /// Take a group message read before as a new one.
    GroupReplayAccept,
    /// Keep sending on the previous epoch's chain after a change.
    GroupKeepChain,
    /// Start a fresh chain when refusing an operation.
    GroupRefusalDirty,
    /// Take an operation whose change breaks spec §12.3 check 8 as applied.
    GroupChangeLax,
    /// Answer a welcome that does not add the device's user as joined.
    GroupWelcomeOthers,
    /// Answer a welcome whose roster does not follow as joined.
    GroupWelcomeLax,
    /// Hand an object to the group its group id names, whatever the handle.
    GroupWrongGroup,
    /// Read a message beyond its chain's end as an empty one.
    GroupBeyondEndLax,
    /// Start another chain unasked at the end of the sending chain.
    GroupChainEndLax,
    /// Read a message whose body does not authenticate or is not padded
    /// as an empty one.
    GroupBodyLax,
}

/// The name of every mode, as `--break` takes it.
pub const BREAK_MODES: &[&str] = &[
    "tamper-accept",
    "vectors-lax",
    "corrupt-encrypt",
    "state-lax",
    "ed25519-lax",
    "replay-accept",
    "rotate-drop",
    "misroute",
    "limits-lax",
    "ad-limit-lax",
    "no-sending-chain-lax",
    "plaintext-limit-lax",
    "chain-end-lax",
    "safety-number-format",
    "random-ignore",
    "random-order",
    "start-order",
    "list-rollback",
    "list-lax",
    "fanout-unlisted-accept",
    "fanout-replay-accept",
    "fanout-keep-removed",
    "fanout-readdress-accept",
    "group-wrong-session",
    "group-ghost-accept",
    "group-role-lax",
    "group-signature-lax",
    "group-stale-accept",
    "group-removed-accept",
    "group-fork-accept",
    "group-replay-accept",
    "group-keep-chain",
    "group-refusal-dirty",
    "group-change-lax",
    "group-welcome-others",
    "group-welcome-lax",
    "group-wrong-group",
    "group-beyond-end-lax",
    "group-chain-end-lax",
    "group-body-lax",
];

impl Break {
    /// The mode named on the command line.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "none" => Some(Self::None),
            "tamper-accept" => Some(Self::TamperAccept),
            "vectors-lax" => Some(Self::VectorsLax),
            "corrupt-encrypt" => Some(Self::CorruptEncrypt),
            "state-lax" => Some(Self::StateLax),
            "ed25519-lax" => Some(Self::Ed25519Lax),
            "replay-accept" => Some(Self::ReplayAccept),
            "rotate-drop" => Some(Self::RotateDrop),
            "misroute" => Some(Self::Misroute),
            "limits-lax" => Some(Self::LimitsLax),
            "ad-limit-lax" => Some(Self::AdLimitLax),
            "no-sending-chain-lax" => Some(Self::NoSendingChainLax),
            "plaintext-limit-lax" => Some(Self::PlaintextLimitLax),
            "chain-end-lax" => Some(Self::ChainEndLax),
            "safety-number-format" => Some(Self::SafetyNumberFormat),
            "random-ignore" => Some(Self::RandomIgnore),
            "random-order" => Some(Self::RandomOrder),
            "start-order" => Some(Self::StartOrder),
            "list-rollback" => Some(Self::ListRollback),
            "list-lax" => Some(Self::ListLax),
            "fanout-unlisted-accept" => Some(Self::FanoutUnlistedAccept),
            "fanout-replay-accept" => Some(Self::FanoutReplayAccept),
            "fanout-keep-removed" => Some(Self::FanoutKeepRemoved),
            "fanout-readdress-accept" => Some(Self::FanoutReaddressAccept),
            "group-wrong-session" => Some(Self::GroupWrongSession),
            "group-ghost-accept" => Some(Self::GroupGhostAccept),
            "group-role-lax" => Some(Self::GroupRoleLax),
            "group-signature-lax" => Some(Self::GroupSignatureLax),
            "group-stale-accept" => Some(Self::GroupStaleAccept),
            "group-removed-accept" => Some(Self::GroupRemovedAccept),
            "group-fork-accept" => Some(Self::GroupForkAccept),
            "group-replay-accept" => Some(Self::GroupReplayAccept),
            "group-keep-chain" => Some(Self::GroupKeepChain),
            "group-refusal-dirty" => Some(Self::GroupRefusalDirty),
            "group-change-lax" => Some(Self::GroupChangeLax),
            "group-welcome-others" => Some(Self::GroupWelcomeOthers),
            "group-welcome-lax" => Some(Self::GroupWelcomeLax),
            "group-wrong-group" => Some(Self::GroupWrongGroup),
            "group-beyond-end-lax" => Some(Self::GroupBeyondEndLax),
            "group-chain-end-lax" => Some(Self::GroupChainEndLax),
            "group-body-lax" => Some(Self::GroupBodyLax),
            _ => None,
        }
    }

    /// Whether the defect ignores the limit whose error class is `class`
    /// (spec §5.5.5, §5.8).
    fn ignores(self, class: &str) -> bool {
        match self {
            Self::LimitsLax => true,
            Self::AdLimitLax => class == "SessionAdTooLong",
            Self::NoSendingChainLax => class == "NoSendingChain",
            Self::PlaintextLimitLax => class == "PlaintextTooLong",
            Self::ChainEndLax => class == "ChainExhausted",
            _ => false,
        }
    }
}

/// The library's primitives with a lax Ed25519 verification: RFC 8032's
/// cofactorless equation and canonical `S`, but small-order `A` and `R`
/// accepted (ed25519-dalek's non-strict `verify`, which accepts what OpenSSL
/// accepts). The defect of `--break ed25519-lax`.
struct LaxEd25519(DefaultProvider);

impl CryptoProvider for LaxEd25519 {
    fn name(&self) -> &'static str {
        "lax-ed25519"
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        self.0.sha512(parts)
    }
    fn aead_seal(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; 16] {
        self.0.aead_seal(key, nonce, aad, in_out)
    }
    fn aead_open(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), sova::CryptoError> {
        self.0.aead_open(key, nonce, aad, in_out, tag)
    }
    fn ed25519_verify(
        &self,
        public_key: &[u8; 32],
        message: &[u8],
        signature: &[u8; 64],
    ) -> Result<(), sova::CryptoError> {
        use ed25519_dalek::Verifier;
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .map_err(|_| sova::CryptoError::InvalidSignature)?;
        key.verify(message, &ed25519_dalek::Signature::from_bytes(signature))
            .map_err(|_| sova::CryptoError::InvalidSignature)
    }
}

/// The library's primitives with every Ed25519 signature accepted: the
/// defect of `--break list-lax`, used for device lists only.
struct LaxListProvider(DefaultProvider);

impl CryptoProvider for LaxListProvider {
    fn name(&self) -> &'static str {
        "no-list-signatures"
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        self.0.sha512(parts)
    }
    fn aead_seal(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; 16] {
        self.0.aead_seal(key, nonce, aad, in_out)
    }
    fn aead_open(
        &self,
        key: &Secret<32>,
        nonce: &[u8; 12],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), sova::CryptoError> {
        self.0.aead_open(key, nonce, aad, in_out, tag)
    }
    fn ed25519_verify(
        &self,
        _public_key: &[u8; 32],
        _message: &[u8],
        _signature: &[u8; 64],
    ) -> Result<(), sova::CryptoError> {
        Ok(())
    }
}

enum Object {
    Ratchet(Box<Ratchet>),
    Account(Box<Account>),
    Session(Box<Session>),
    Link(Box<sova::devices::LinkRequest>),
    Device(Box<Device>),
    Group(Box<groups::GroupObject>),
}

/// A device of a person (spec §11.7): the handle of its account, its own
/// user's accepted list and its conversations with its other devices, and
/// the persons it knows, by user key, each with their conversations.
struct Device {
    account: String,
    own: PeerDevices,
    others: HashMap<[u8; 32], PeerDevices>,
}

fn fanout_err(e: &FanoutError) -> ErrorReply {
    class_err(classes::of(e), e.to_string())
}

/// The adapter's state: the objects it holds, by handle.
pub struct Adapter {
    defect: Break,
    rng: ChaCha20Rng,
    objects: HashMap<String, Object>,
    /// Each account as it was when it last made a bundle (`replay-accept`).
    pristine: HashMap<String, Vec<u8>>,
    next: u64,
}

/// The randomness the runner recorded for one request (`random`, spec
/// appendix A.4): served in order; drawing more, or less, is an error.
struct Recorded {
    bytes: Vec<u8>,
    at: usize,
    overrun: bool,
}

impl rand_chacha::rand_core::TryRng for Recorded {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let end = self.at + dst.len();
        match self.bytes.get(self.at..end) {
            Some(src) => dst.copy_from_slice(src),
            None => {
                self.overrun = true;
                dst.fill(0);
            }
        }
        self.at = end;
        Ok(())
    }
}

impl rand_chacha::rand_core::TryCryptoRng for Recorded {}

impl Recorded {
    /// The request's `random`, unless it has none or the defect ignores it.
    fn of(req: &Map<String, Value>, defect: Break) -> Result<Option<Self>, ErrorReply> {
        match req.get("random") {
            Some(_) if defect != Break::RandomIgnore => Ok(Some(Self {
                bytes: hex_field(req, "random")?,
                at: 0,
                overrun: false,
            })),
            _ => Ok(None),
        }
    }

    /// `BadRequest` unless the operation drew exactly the recorded bytes.
    fn check(recorded: &Option<Self>) -> Result<(), ErrorReply> {
        match recorded {
            Some(r) if r.overrun || r.at != r.bytes.len() => Err(ErrorReply::bad_request(format!(
                "`random` holds {} bytes; the operation drew {}",
                r.bytes.len(),
                r.at
            ))),
            _ => Ok(()),
        }
    }
}

fn ok(fields: Value) -> Reply {
    match fields {
        Value::Object(m) => Ok(m),
        _ => Ok(Map::new()),
    }
}

fn class_err(class: String, message: impl Into<String>) -> ErrorReply {
    ErrorReply::new(class, message)
}

impl Adapter {
    /// A fresh adapter with the given defect.
    pub fn new(defect: Break) -> Self {
        Self {
            defect,
            rng: ChaCha20Rng::seed_from_u64(0),
            objects: HashMap::new(),
            pristine: HashMap::new(),
            next: 1,
        }
    }

    fn insert(&mut self, prefix: &str, o: Object) -> String {
        let h = format!("{prefix}{}", self.next);
        self.next += 1;
        self.objects.insert(h.clone(), o);
        h
    }

    fn object(&mut self, req: &Map<String, Value>, field: &str) -> Result<&mut Object, ErrorReply> {
        let h = str_field(req, field)?;
        self.objects
            .get_mut(h)
            .ok_or_else(|| ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}")))
    }

    fn account(&mut self, req: &Map<String, Value>) -> Result<&mut Account, ErrorReply> {
        match self.object(req, "account")? {
            Object::Account(a) => Ok(a),
            _ => Err(ErrorReply::bad_request(
                "`account` is not an account handle",
            )),
        }
    }

    /// A device list checked against `user` (spec §11.3); `list-lax`
    /// skips the signature.
    fn verify_list(&self, list: &[u8], user: &[u8; 32]) -> Result<DeviceList, ErrorReply> {
        match DeviceList::verify(list, user) {
            Ok(l) => Ok(l),
            Err(ListError::InvalidSignature) if self.defect == Break::ListLax => {
                DeviceList::verify_with(
                    &LaxListProvider(DefaultProvider::default()),
                    list,
                    Some(user),
                )
                .map_err(|e| class_err(classes::of(&e), e.to_string()))
            }
            Err(e) => Err(class_err(classes::of(&e), e.to_string())),
        }
    }

    /// Handles one request (already parsed) and returns its reply.
    pub fn handle(&mut self, req: &Map<String, Value>) -> Reply {
        let op = str_field(req, "op")?;
        match op {
            "hello" => {
                if let Ok(seed) = hex_array::<32>(req, "seed") {
                    self.rng = ChaCha20Rng::from_seed(seed);
                }
                ok(json!({
                    "implementation": format!("sova (Rust reference library) {}", env!("CARGO_PKG_VERSION")),
                    "protocol": PROTOCOL,
                    "capabilities": CAPABILITIES,
                }))
            }
            "bye" => ok(json!({})),
            "drop" => {
                let h = str_field(req, "handle")?;
                match self.objects.remove(h) {
                    Some(_) => ok(json!({})),
                    None => Err(ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}"))),
                }
            }
            "vector_case" => self.vector_case(req),
            "ratchet_new" => self.ratchet_new(req),
            "encrypt" => self.encrypt(req),
            "decrypt" => self.decrypt(req),
            "account_new" => self.account_new(req),
            "account_export" => {
                let state = self.account(req)?.to_bytes();
                ok(json!({ "state": crate::hex(&state) }))
            }
            "session_export" => match self.object(req, "handle")? {
                Object::Session(s) => ok(json!({ "state": crate::hex(&s.to_bytes()) })),
                _ => Err(ErrorReply::bad_request("`handle` is not a session")),
            },
            "bundle" => self.bundle(req),
            "session_start" => self.session_start(req),
            "session_accept" => self.session_accept(req),
            "rotate_signed_prekey" => {
                let mut rng = self.rng.clone();
                let drop_previous = self.defect == Break::RotateDrop;
                let account = self.account(req)?;
                let e = |e: sova::session::AccountError| class_err(classes::of(&e), e.to_string());
                if drop_previous {
                    // Defect: a second rotation pushes the previous key out.
                    account.rotate_signed_prekey(&mut rng).map_err(e)?;
                }
                let id = account.rotate_signed_prekey(&mut rng).map_err(e)?;
                self.rng = rng;
                ok(json!({ "spk_id": id }))
            }
            "device_list_verify" => {
                let user = hex_array::<32>(req, "expected_user")?;
                let list = hex_field(req, "list")?;
                let l = self.verify_list(&list, &user)?;
                ok(json!({ "epoch": l.epoch(), "list_hash": crate::hex(&l.hash()) }))
            }
            "directory_update" => {
                let user = hex_array::<32>(req, "user_key")?;
                let known = self.verify_list(&hex_field(req, "known")?, &user)?;
                let list = hex_field(req, "list")?;
                let new = self.verify_list(&list, &user)?;
                let mut k = KnownUser::from_list(known);
                let outcome = match k.update(&list) {
                    Ok(ListChange::Unchanged) => "unchanged",
                    Ok(_) => "accepted",
                    Err(ListError::Rollback) if self.defect == Break::ListRollback => {
                        k = KnownUser::from_list(new);
                        "accepted"
                    }
                    Err(ListError::InvalidSignature) if self.defect == Break::ListLax => {
                        k = KnownUser::from_list(new);
                        "accepted"
                    }
                    Err(e) => return Err(class_err(classes::of(&e), e.to_string())),
                };
                ok(json!({
                    "outcome": outcome,
                    "epoch": k.list().epoch(),
                    "list_hash": crate::hex(k.list_hash()),
                }))
            }
            "link_offer" => {
                let account = Account::new(&mut self.rng)
                    .map_err(|e| class_err(classes::of(&e), e.to_string()))?;
                let request = LinkRequest::new(&account, &mut self.rng)
                    .map_err(|e| class_err(classes::of(&e), e.to_string()))?;
                let offer = crate::hex(request.offer());
                let h = self.insert("link", Object::Link(Box::new(request)));
                ok(json!({ "handle": h, "offer": offer }))
            }
            "link_finish" => {
                let response = hex_field(req, "response")?;
                let Object::Link(request) = self.object(req, "handle")? else {
                    return Err(ErrorReply::bad_request("`handle` is not a link request"));
                };
                let linked = request
                    .finish(&response)
                    .map_err(|e| class_err(classes::of(&e), e.to_string()))?;
                ok(json!({
                    "device_id": linked.device_id,
                    "list": crate::hex(linked.user.list().to_bytes()),
                    "admin": linked.user_key.is_some(),
                    "data": crate::hex(&linked.data),
                    "code": String::from_utf8_lossy(&linked.code),
                }))
            }
            "link_approve" => {
                let seed = hex_array::<32>(req, "user_key_seed")?;
                let uk = UserKey::from_seed(sova::Secret::from_bytes(seed));
                let current = self.verify_list(&hex_field(req, "current_list")?, uk.public())?;
                let approval = approve_link(
                    &uk,
                    &KnownUser::from_list(current),
                    &hex_field(req, "offer")?,
                    bool_field(req, "admin"),
                    &hex_field(req, "data")?,
                    &mut self.rng,
                )
                .map_err(|e| class_err(classes::of(&e), e.to_string()))?;
                ok(json!({
                    "device_id": approval.device_id,
                    "list": crate::hex(approval.list.to_bytes()),
                    "response": crate::hex(&approval.response),
                    "code": String::from_utf8_lossy(&approval.code),
                }))
            }
            "device_new" => self.device_new(req),
            "device_update" => self.device_update(req),
            "fanout_encrypt" => self.fanout_encrypt(req),
            "fanout_receive" => self.fanout_receive(req),
            op if op.starts_with("group_") => self.group(op, req),
            "safety_number" => {
                let ours = hex_array::<64>(req, "ours")?;
                let theirs = hex_array::<64>(req, "theirs")?;
                let n = sova::safety::SafetyNumber::new(&ours, &theirs);
                let shown = if self.defect == Break::SafetyNumberFormat {
                    n.digits().to_owned()
                } else {
                    n.display()
                };
                ok(json!({ "safety_number": shown }))
            }
            "ratchet_export" => match self.object(req, "handle")? {
                Object::Ratchet(r) => ok(json!({ "state": crate::hex(&r.to_bytes()) })),
                _ => Err(ErrorReply::bad_request("`handle` is not a ratchet")),
            },
            "ratchet_import" => {
                let bytes = hex_field(req, "state")?;
                let r = match Ratchet::from_bytes(&bytes) {
                    Ok(r) => r,
                    Err(e) if self.defect == Break::StateLax => {
                        // Defect: fall back to any state at all.
                        let _ = e;
                        Ratchet::responder(
                            &Secret::from_bytes([0; 32]),
                            Secret::from_bytes([1; 32]),
                            b"",
                            HeaderMode::Plain,
                        )
                        .map_err(|e| class_err(classes::of(&e), e.to_string()))?
                    }
                    Err(e) => return Err(class_err(classes::of(&e), e.to_string())),
                };
                let h = self.insert("ratchet-", Object::Ratchet(Box::new(r)));
                ok(json!({ "handle": h }))
            }
            other => Err(ErrorReply::new(UNKNOWN_OP, format!("unknown op {other:?}"))),
        }
    }

    /// `device_new`: a device of the user `user_key` whose account is
    /// `account` and whose own user's accepted list is `list`; its id is
    /// that of the entry listing the account's identity.
    fn device_new(&mut self, req: &Map<String, Value>) -> Reply {
        let user = hex_array::<32>(req, "user_key")?;
        let list = self.verify_list(&hex_field(req, "list")?, &user)?;
        let account = str_field(req, "account")?.to_owned();
        let identity = self.account(req)?.identity_key();
        let id = list
            .entries()
            .iter()
            .find(|e| e.identity == identity)
            .map(|e| e.device_id)
            .ok_or_else(|| class_err("NotListed".into(), "the list does not name the account"))?;
        let own = PeerDevices::own(KnownUser::from_list(list), id).map_err(|e| fanout_err(&e))?;
        let device = Device {
            account,
            own,
            others: HashMap::new(),
        };
        let h = self.insert("device-", Object::Device(Box::new(device)));
        ok(json!({ "handle": h, "device_id": id }))
    }

    /// Runs `f` on the device named by `handle` and its account, taken out
    /// of the map for the call and put back after it.
    fn with_device(
        &mut self,
        req: &Map<String, Value>,
        f: impl FnOnce(&mut Device, &mut Account, &mut ChaCha20Rng, Break) -> Reply,
    ) -> Reply {
        let h = str_field(req, "handle")?.to_owned();
        let mut device = match self.objects.remove(&h) {
            Some(Object::Device(d)) => d,
            Some(other) => {
                self.objects.insert(h, other);
                return Err(ErrorReply::bad_request("`handle` is not a device"));
            }
            None => return Err(ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}"))),
        };
        let a = device.account.clone();
        let mut account = match self.objects.remove(&a) {
            Some(Object::Account(acc)) => acc,
            other => {
                if let Some(o) = other {
                    self.objects.insert(a.clone(), o);
                }
                self.objects.insert(h, Object::Device(device));
                return Err(ErrorReply::new(
                    UNKNOWN_HANDLE,
                    format!("the device's account {a:?} is gone"),
                ));
            }
        };
        let reply = f(&mut device, &mut account, &mut self.rng, self.defect);
        self.objects.insert(a, Object::Account(account));
        self.objects.insert(h, Object::Device(device));
        reply
    }

    /// `device_update`: offers `list` of the person `user_key` to the
    /// device (spec §11.4, §11.7): its own user, a person it knows, or a
    /// person first seen (accepted at any epoch).
    fn device_update(&mut self, req: &Map<String, Value>) -> Reply {
        let user = hex_array::<32>(req, "user_key")?;
        let list = hex_field(req, "list")?;
        self.with_device(req, |d, _, _, defect| {
            let e = |e: ListError| class_err(classes::of(&e), e.to_string());
            let outcome = if user == *d.own.user().user_key() {
                d.own.update(&list).map_err(e)?
            } else if let Some(p) = d.others.get_mut(&user) {
                if defect == Break::FanoutKeepRemoved {
                    // Defect: the answer of the newer list, the older one kept.
                    let mut newer = p.user().clone();
                    let outcome = newer.update(&list).map_err(e)?;
                    return ok(json!({
                        "outcome": if outcome == ListChange::Unchanged { "unchanged" } else { "accepted" },
                        "epoch": newer.list().epoch(),
                        "list_hash": crate::hex(newer.list_hash()),
                    }));
                }
                p.update(&list).map_err(e)?
            } else {
                let k = KnownUser::new(&user, &list).map_err(e)?;
                d.others.insert(user, PeerDevices::new(k));
                ListChange::Accepted {
                    added: Vec::new(),
                    removed: Vec::new(),
                }
            };
            let k = if user == *d.own.user().user_key() {
                d.own.user()
            } else {
                d.others
                    .get(&user)
                    .map(PeerDevices::user)
                    .ok_or_else(|| ErrorReply::bad_request("no such person"))?
            };
            ok(json!({
                "outcome": if outcome == ListChange::Unchanged { "unchanged" } else { "accepted" },
                "epoch": k.list().epoch(),
                "list_hash": crate::hex(k.list_hash()),
            }))
        })
    }

    /// `fanout_encrypt`: starts a session from the given bundles with every
    /// listed device that has none, then encrypts one fan-out message to
    /// the person `recipient` and to the device's own other devices.
    fn fanout_encrypt(&mut self, req: &Map<String, Value>) -> Reply {
        let recipient = hex_array::<32>(req, "recipient")?;
        let plaintext = hex_field(req, "plaintext")?;
        let mode = mode_of(str_field(req, "header_mode")?)
            .ok_or_else(|| ErrorReply::bad_request("unknown `header_mode`"))?;
        let mut bundles = Vec::new();
        for b in req
            .get("bundles")
            .and_then(Value::as_array)
            .ok_or_else(|| ErrorReply::bad_request("`bundles` must be an array"))?
        {
            let o = b
                .as_object()
                .ok_or_else(|| ErrorReply::bad_request("a bundle must be an object"))?;
            let number = |name: &str| {
                o.get(name)
                    .and_then(Value::as_u64)
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or_else(|| ErrorReply::bad_request(format!("`{name}` must be a u32")))
            };
            let audience = match number("audience")? {
                0 => Audience::Recipient,
                1 => Audience::OwnDevice,
                _ => return Err(ErrorReply::bad_request("`audience` must be 0 or 1")),
            };
            bundles.push((audience, number("device_id")?, hex_field(o, "bundle")?));
        }
        self.with_device(req, |d, account, rng, _| {
            let fe = |e: FanoutError| fanout_err(&e);
            let bundle = |audience: Audience, id: u32| {
                bundles
                    .iter()
                    .find(|(a, i, _)| *a == audience && *i == id)
                    .map(|(_, _, b)| b.as_slice())
                    .ok_or_else(|| fanout_err(&FanoutError::NoSession(id)))
            };
            for id in d.own.needs_bundle() {
                d.own
                    .start(account, id, bundle(Audience::OwnDevice, id)?, mode, rng)
                    .map_err(fe)?;
            }
            let message = if recipient == *d.own.user().user_key() {
                // A note to self: the other devices only (spec §11.6).
                let this = d
                    .own
                    .this_device()
                    .ok_or(FanoutError::UnknownDevice)
                    .map_err(fe)?;
                if !d.own.is_listed() {
                    return Err(fe(FanoutError::UnknownDevice));
                }
                let (own, mut targets) = d.own.targets().map_err(fe)?;
                fanout::encrypt(own, this, own, &mut targets, &plaintext, rng).map_err(fe)?
            } else {
                let p = d
                    .others
                    .get_mut(&recipient)
                    .ok_or(FanoutError::UnknownUser)
                    .map_err(fe)?;
                for id in p.needs_bundle() {
                    p.start(account, id, bundle(Audience::Recipient, id)?, mode, rng)
                        .map_err(fe)?;
                }
                PeerDevices::send(&mut d.own, p, &plaintext, rng).map_err(fe)?
            };
            ok(json!({ "message": crate::hex(&message) }))
        })
    }

    /// `fanout_receive`: a device message (spec §11.6), from the device's
    /// own user or from a person it knows.
    fn fanout_receive(&mut self, req: &Map<String, Value>) -> Reply {
        let bytes = hex_field(req, "message")?;
        self.with_device(req, |d, account, _, defect| {
            let message =
                DeviceMessage::parse(&bytes).map_err(|e| fanout_err(&FanoutError::Malformed(e)))?;
            let receive = |d: &mut Device, account: &mut Account, message: &DeviceMessage<'_>| {
                let sender = message.header.sender_user;
                if sender == *d.own.user().user_key() {
                    d.own.receive_own(account, message)
                } else if let Some(p) = d.others.get_mut(&sender) {
                    p.receive(d.own.user(), account, message)
                } else {
                    Err(FanoutError::UnknownUser)
                }
            };
            let mut got = receive(d, account, &message);
            // Defect: the entry's device id and kind unchecked (beyond a
            // kind naming our user), as before §11.6 step 2 checked them:
            // the entry is read as if it were addressed to this device.
            if got == Err(FanoutError::NotForUs) && defect == Break::FanoutReaddressAccept {
                let own = *d.own.user().user_key();
                let names_us = match message.audience {
                    Audience::OwnDevice => message.header.sender_user == own,
                    Audience::Recipient => message.header.recipient_user == own,
                };
                let kind = if message.header.sender_user == own {
                    1
                } else {
                    0
                };
                if let (true, Some(id)) = (names_us, d.own.this_device()) {
                    let mut fixed = bytes.clone();
                    let at = fixed.len() - message.pairwise.len() - 9;
                    fixed[at] = kind;
                    fixed[at + 1..at + 5].copy_from_slice(&id.to_be_bytes());
                    if let Ok(m) = DeviceMessage::parse(&fixed) {
                        got = receive(d, account, &m);
                    }
                }
            }
            match got {
                Ok(r) => ok(json!({
                    "plaintext": crate::hex(&r.plaintext),
                    "sender_device": r.sender_device,
                    "recipient_list_current": r.recipient_list_current,
                })),
                // Defects: check 4 skipped; a repeat taken for a new message.
                Err(FanoutError::UnknownDevice) if defect == Break::FanoutUnlistedAccept => {
                    ok(json!({
                        "plaintext": "",
                        "sender_device": message.header.sender_device,
                        "recipient_list_current": true,
                    }))
                }
                Err(FanoutError::Pairwise(e))
                    if defect == Break::FanoutReplayAccept
                        && classes::of(&e).contains("DuplicateOrExpired") =>
                {
                    ok(json!({
                        "plaintext": "",
                        "sender_device": message.header.sender_device,
                        "recipient_list_current": true,
                    }))
                }
                Err(e) => Err(fanout_err(&e)),
            }
        })
    }

    fn vector_case(&mut self, req: &Map<String, Value>) -> Reply {
        let file = str_field(req, "file")?;
        let case = req
            .get("case")
            .filter(|c| c.is_object())
            .ok_or_else(|| ErrorReply::bad_request("missing object field `case`"))?;
        if self.defect == Break::VectorsLax {
            return ok(json!({}));
        }
        if sova_vectors::family(file).is_none() {
            return Err(ErrorReply::new(
                UNSUPPORTED,
                format!("unknown vector file {file:?}"),
            ));
        }
        let doc = json!({
            "description": "",
            "cipher_suite": sova_vectors::CIPHER_SUITE,
            "cases": [case],
        });
        let bytes = serde_json::to_vec(&doc).map_err(|e| ErrorReply::bad_request(e.to_string()))?;
        let report = if self.defect == Break::Ed25519Lax {
            sova_vectors::verify_file(file, &bytes, &[&LaxEd25519(DefaultProvider::default())])
        } else {
            sova_vectors::verify_file(file, &bytes, &[&DefaultProvider::default()])
        };
        if let Some(e) = &report.error {
            return Err(ErrorReply::new(CASE_FAILED, e.to_string()));
        }
        match report.first_failure() {
            None => ok(json!({})),
            Some((_, f)) => {
                let mut e = ErrorReply::new(CASE_FAILED, f.to_string());
                e.extra.insert("field".into(), json!(f.field));
                Err(e)
            }
        }
    }

    fn ratchet_new(&mut self, req: &Map<String, Value>) -> Reply {
        let mode = mode_of(str_field(req, "header_mode")?)
            .ok_or_else(|| ErrorReply::bad_request("`header_mode` must be plain or encrypted"))?;
        let sk = Secret::from_bytes(hex_array::<32>(req, "session_secret")?);
        let mut ad = hex_field(req, "session_ad")?;
        if self.defect.ignores("SessionAdTooLong") {
            // Defect: an over-long associated data is cut instead of refused.
            ad.truncate(sova::ratchet::MAX_SESSION_AD_LEN);
        }
        let r = match str_field(req, "role")? {
            "initiator" => {
                Ratchet::initiator(&sk, hex_array(req, "their_ratchet_public")?, &ad, mode)
            }
            "responder" => Ratchet::responder(
                &sk,
                Secret::from_bytes(hex_array(req, "our_ratchet_private")?),
                &ad,
                mode,
            ),
            other => return Err(ErrorReply::bad_request(format!("unknown role {other:?}"))),
        }
        .map_err(|e| class_err(classes::of(&e), e.to_string()))?;
        let h = self.insert("ratchet-", Object::Ratchet(Box::new(r)));
        ok(json!({ "handle": h }))
    }

    fn corrupt(&self, mut m: Vec<u8>) -> Vec<u8> {
        if self.defect == Break::CorruptEncrypt {
            if let Some(b) = m.len().checked_sub(17).and_then(|i| m.get_mut(i)) {
                *b ^= 0x01;
            }
        }
        m
    }

    fn encrypt(&mut self, req: &Map<String, Value>) -> Reply {
        let pt = hex_field(req, "plaintext")?;
        let h = str_field(req, "handle")?.to_owned();
        let mut recorded = Recorded::of(req, self.defect)?;
        let rng: &mut dyn rand_chacha::rand_core::CryptoRng = match recorded.as_mut() {
            Some(r) => r,
            None => &mut self.rng,
        };
        let m = match self.objects.get_mut(&h) {
            Some(Object::Ratchet(r)) => r
                .encrypt(rng, &pt)
                .map_err(|e| (classes::of(&e), e.to_string())),
            Some(Object::Session(s)) => s
                .encrypt(rng, &pt)
                .map_err(|e| (classes::of(&e), e.to_string())),
            Some(Object::Account(_) | Object::Link(_) | Object::Device(_) | Object::Group(_)) => {
                return Err(ErrorReply::bad_request("cannot encrypt with this handle"))
            }
            None => return Err(ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}"))),
        };
        let m = match m {
            Ok(m) => m,
            Err((class, _)) if self.defect.ignores(&class) => {
                // Defect: the limit is not enforced; some message goes out.
                vec![0x01, 0x01]
            }
            Err((class, text)) => return Err(class_err(class, text)),
        };
        Recorded::check(&recorded)?;
        let m = self.corrupt(m);
        ok(json!({ "message": crate::hex(&m) }))
    }

    /// The reply to a rejected message: the error, unless the defect accepts forgeries.
    fn rejected(&self, class: String, message: String) -> Reply {
        if self.defect == Break::TamperAccept && !class.contains("DuplicateOrExpired") {
            return ok(json!({ "plaintext": "" }));
        }
        Err(class_err(class, message))
    }

    fn decrypt(&mut self, req: &Map<String, Value>) -> Reply {
        let m = hex_field(req, "message")?;
        let h = str_field(req, "handle")?.to_owned();
        let result = match self.objects.get_mut(&h) {
            Some(Object::Ratchet(r)) => r
                .decrypt(&m)
                .map_err(|e| (classes::ratchet_decrypt(&e), e.to_string())),
            Some(Object::Session(s)) => s.decrypt(&m).map_err(|e| {
                let class = classes::session_decrypt(&e);
                if self.defect == Break::Misroute && class == "NotThisSession" {
                    // Defect: the handshake fields compared before `EK`.
                    return ("InitialMessageMismatch".to_owned(), e.to_string());
                }
                (class, e.to_string())
            }),
            Some(Object::Account(_) | Object::Link(_) | Object::Device(_) | Object::Group(_)) => {
                return Err(ErrorReply::bad_request(
                    "only ratchets and sessions decrypt; an account accepts initial messages \
                     with session_accept",
                ))
            }
            None => return Err(ErrorReply::new(UNKNOWN_HANDLE, format!("no object {h:?}"))),
        };
        match result {
            Ok(pt) => ok(json!({ "plaintext": crate::hex(&pt) })),
            Err((class, msg)) => self.rejected(class, msg),
        }
    }

    /// `account_new`: the identity, the signed prekey and the last-resort
    /// ML-KEM prekey, drawn in this order (spec §7.2).
    fn account_new(&mut self, req: &Map<String, Value>) -> Reply {
        let mut recorded = Recorded::of(req, self.defect)?;
        if let (Some(r), Break::RandomOrder) = (recorded.as_mut(), self.defect) {
            // Defect: the signed prekey drawn first, then the identity.
            if r.bytes.len() == 160 {
                r.bytes[..96].rotate_left(32);
            }
        }
        let rng: &mut dyn rand_chacha::rand_core::CryptoRng = match recorded.as_mut() {
            Some(r) => r,
            None => &mut self.rng,
        };
        let a = Account::new(rng).map_err(|e| class_err(classes::of(&e), e.to_string()))?;
        Recorded::check(&recorded)?;
        let identity = crate::hex(&a.identity().to_bytes());
        let h = self.insert("account-", Object::Account(Box::new(a)));
        ok(json!({ "handle": h, "identity": identity }))
    }

    fn bundle(&mut self, req: &Map<String, Value>) -> Reply {
        let opk = bool_field(req, "one_time_prekey");
        let kem = bool_field(req, "kem_one_time_prekey");
        let mut recorded = Recorded::of(req, self.defect)?;
        let mut own = self.rng.clone();
        let account = self.account(req)?;
        let rng: &mut dyn rand_chacha::rand_core::CryptoRng = match recorded.as_mut() {
            Some(r) => r,
            None => &mut own,
        };
        let e = |e: sova::session::AccountError| class_err(classes::of(&e), e.to_string());
        let opk_id = if opk {
            account
                .generate_one_time_prekeys(rng, 1)
                .map_err(e)?
                .first()
                .copied()
        } else {
            None
        };
        let kem_id = if kem {
            account
                .generate_kem_one_time_prekeys(rng, 1)
                .map_err(e)?
                .first()
                .copied()
        } else {
            None
        };
        let b = account.bundle(opk_id, kem_id).map_err(e)?;
        let snapshot = account.to_bytes();
        Recorded::check(&recorded)?;
        self.rng = own;
        if self.defect == Break::ReplayAccept {
            self.pristine
                .insert(str_field(req, "account")?.to_owned(), snapshot);
        }
        ok(json!({ "bundle": crate::hex(&b.to_bytes()) }))
    }

    fn session_start(&mut self, req: &Map<String, Value>) -> Reply {
        let mode = mode_of(str_field(req, "header_mode")?)
            .ok_or_else(|| ErrorReply::bad_request("`header_mode` must be plain or encrypted"))?;
        let bundle = hex_field(req, "bundle")?;
        let mut recorded = Recorded::of(req, self.defect)?;
        if let (Some(r), Break::StartOrder) = (recorded.as_mut(), self.defect) {
            // Defect: `m` drawn first, then the ephemeral key.
            let half = r.bytes.len() / 2;
            r.bytes.rotate_left(half);
        }
        let mut own = self.rng.clone();
        let lax = self.defect == Break::Ed25519Lax;
        let account = self.account(req)?;
        let rng: &mut dyn rand_chacha::rand_core::CryptoRng = match recorded.as_mut() {
            Some(r) => r,
            None => &mut own,
        };
        let s = if lax {
            let lax = LaxEd25519(DefaultProvider::default());
            Session::start_with(&lax, account, rng, None, &bundle, mode)
        } else {
            Session::start_unverified(account, rng, &bundle, mode)
        }
        .map_err(|e| class_err(classes::start(&e), e.to_string()))?;
        Recorded::check(&recorded)?;
        self.rng = own;
        let id = crate::hex(s.session_id());
        let h = self.insert("session-", Object::Session(Box::new(s)));
        ok(json!({ "handle": h, "session_id": id }))
    }

    fn session_accept(&mut self, req: &Map<String, Value>) -> Reply {
        let m = hex_field(req, "message")?;
        let lax = self.defect == Break::Ed25519Lax;
        let account = self.account(req)?;
        let mut result = if lax {
            account.accept_with(
                &LaxEd25519(DefaultProvider::default()),
                &sova::session::AcceptPolicy::any_peer(),
                &m,
            )
        } else {
            account.accept_unverified(&m)
        };
        if self.defect == Break::ReplayAccept
            && matches!(result, Err(sova::session::AcceptError::Replay))
        {
            // Defect: the replay records are lost (an old copy of the account).
            let h = str_field(req, "account")?;
            if let Some(Ok(mut old)) = self.pristine.get(h).map(|b| Account::from_bytes(b)) {
                result = old.accept_unverified(&m);
            }
        }
        match result {
            Ok((s, pt)) => {
                let id = crate::hex(s.session_id());
                let h = self.insert("session-", Object::Session(Box::new(s)));
                ok(json!({ "handle": h, "session_id": id, "plaintext": crate::hex(&pt) }))
            }
            Err(e) => {
                let class = classes::accept(&e);
                if self.defect == Break::TamperAccept
                    && class.starts_with("FirstMessage")
                    && !class.contains("DuplicateOrExpired")
                {
                    let h = format!("session-forged-{}", self.next);
                    self.next += 1;
                    return ok(json!({ "handle": h, "session_id": "", "plaintext": "" }));
                }
                Err(class_err(class, e.to_string()))
            }
        }
    }
}

/// Serves the protocol: reads requests from `input` until `bye` or the end
/// of input, writing one response line per request to `output`.
///
/// # Errors
/// Only I/O errors of `input` or `output`.
pub fn serve(input: impl BufRead, mut output: impl Write, defect: Break) -> std::io::Result<()> {
    let mut adapter = Adapter::new(defect);
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let (id, reply, bye) = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(req)) => {
                let id = req.get("id").cloned().unwrap_or(Value::Null);
                let bye = req.get("op").and_then(Value::as_str) == Some("bye");
                (id, adapter.handle(&req), bye)
            }
            Ok(_) => (
                Value::Null,
                Err(ErrorReply::bad_request("a request must be a JSON object")),
                false,
            ),
            Err(e) => (
                Value::Null,
                Err(ErrorReply::bad_request(format!("invalid JSON: {e}"))),
                false,
            ),
        };
        writeln!(output, "{}", response(&id, &reply))?;
        output.flush()?;
        if bye {
            break;
        }
    }
    Ok(())
}
