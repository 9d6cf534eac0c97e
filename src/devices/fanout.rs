//! Fan-out: one message to every device of a person and to the sender's
//! own other devices (spec §11.6).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::{Zeroize, Zeroizing};

use super::{FanoutError, KnownUser, ParseError};
use crate::codec::{Reader, Writer};
use crate::kdf::{labeled_expand, labeled_hash};
use crate::labels;
use crate::provider::{
    CryptoProvider, DefaultProvider, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN,
};
use crate::ratchet::{padding, MessageInfo, MAX_PLAINTEXT_LEN};
use crate::secret::Secret;
use crate::session::{Account, Conversation, ConversationError};

const VERSION: u8 = 1;
/// The type byte of a fan-out message (spec §11.6).
pub const TYPE_FANOUT: u8 = 0x20;
const KEY_MESSAGE_TYPE: u8 = 0x01;
const KEY_MESSAGE_LEN: usize = 1 + 32 + 32;
/// Room reserved per entry: kind, id, length and a pairwise message of the
/// key message with a plain header (62-byte prefix, spec §6.1; an encrypted
/// header or an initial message grows the buffer).
const ENTRY_LEN_ESTIMATE: usize =
    1 + 4 + 4 + 62 + padding::padded_len(KEY_MESSAGE_LEN) + AEAD_TAG_LEN;
/// The length of a fan-out header (spec §11.6).
pub const FANOUT_HEADER_LEN: usize = 2 + 32 + 4 + 8 + 32 + 32 + 8 + 32;

/// Whom an entry of a fan-out message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// A device of the recipient (entry kind 0).
    Recipient,
    /// Another device of the sender's own user (entry kind 1).
    OwnDevice,
}

impl Audience {
    fn byte(self) -> u8 {
        match self {
            Audience::Recipient => 0,
            Audience::OwnDevice => 1,
        }
    }
}

/// One device to encrypt to: the conversation with it, bound to its listed
/// identity (spec §11.7).
#[derive(Debug)]
pub struct Target<'a> {
    /// Recipient's device or own device.
    pub audience: Audience,
    /// Its id in the corresponding list.
    pub device_id: u32,
    /// The sending device's conversation with it.
    pub conversation: &'a mut Conversation,
}

/// The fields of a fan-out header (spec §11.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FanoutHeader {
    /// `UK_S`: the sender's user key.
    pub sender_user: [u8; 32],
    /// The sending device's id.
    pub sender_device: u32,
    /// The epoch of the sender's own list, as the sender holds it.
    pub sender_epoch: u64,
    /// That list's `ListHash`.
    pub sender_list_hash: [u8; 32],
    /// `UK_R`: the recipient's user key.
    pub recipient_user: [u8; 32],
    /// The epoch of the recipient's list the sender encrypted to.
    pub recipient_epoch: u64,
    /// That list's `ListHash`.
    pub recipient_list_hash: [u8; 32],
}

impl FanoutHeader {
    fn encode(&self) -> [u8; FANOUT_HEADER_LEN] {
        let mut v = Vec::with_capacity(FANOUT_HEADER_LEN);
        v.put_u8(VERSION);
        v.put_u8(TYPE_FANOUT);
        v.put(&self.sender_user);
        v.put_u32(self.sender_device);
        v.put_u64(self.sender_epoch);
        v.put(&self.sender_list_hash);
        v.put(&self.recipient_user);
        v.put_u64(self.recipient_epoch);
        v.put(&self.recipient_list_hash);
        let mut out = [0u8; FANOUT_HEADER_LEN];
        out.copy_from_slice(&v);
        out
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let t = |f: &'static str| move |_| ParseError::Truncated(f);
        let v = r.u8().map_err(t("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let ty = r.u8().map_err(t("type"))?;
        if ty != TYPE_FANOUT {
            return Err(ParseError::BadMagic);
        }
        Ok(Self {
            sender_user: r.array().map_err(t("sender user key"))?,
            sender_device: r.u32().map_err(t("sender device id"))?,
            sender_epoch: r.u64().map_err(t("sender epoch"))?,
            sender_list_hash: r.array().map_err(t("sender list hash"))?,
            recipient_user: r.array().map_err(t("recipient user key"))?,
            recipient_epoch: r.u64().map_err(t("recipient epoch"))?,
            recipient_list_hash: r.array().map_err(t("recipient list hash"))?,
        })
    }
}

/// A parsed device message (spec §11.6): what one device receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMessage<'a> {
    /// The header.
    pub header: FanoutHeader,
    header_bytes: &'a [u8],
    body: &'a [u8],
    /// Whom the entry is for.
    pub audience: Audience,
    /// The receiving device's id, as the sender addressed it.
    pub device_id: u32,
    /// The pairwise message carrying the key message.
    pub pairwise: &'a [u8],
}

fn read_entry<'a>(r: &mut Reader<'a>) -> Result<(Audience, u32, &'a [u8]), ParseError> {
    let audience = match r.u8().map_err(|_| ParseError::Truncated("audience"))? {
        0 => Audience::Recipient,
        1 => Audience::OwnDevice,
        f => return Err(ParseError::InvalidFlags(f)),
    };
    let id = r.u32().map_err(|_| ParseError::Truncated("device id"))?;
    let len = r
        .u32()
        .map_err(|_| ParseError::Truncated("pairwise length"))? as usize;
    let m = r
        .bytes(len)
        .map_err(|_| ParseError::Truncated("pairwise message"))?;
    Ok((audience, id, m))
}

fn read_head<'a>(
    r: &mut Reader<'a>,
    bytes: &'a [u8],
) -> Result<(FanoutHeader, &'a [u8], &'a [u8]), ParseError> {
    let header = FanoutHeader::read(r)?;
    let header_bytes = &bytes[..FANOUT_HEADER_LEN];
    let len = r.u32().map_err(|_| ParseError::Truncated("body length"))? as usize;
    let body = r.bytes(len).map_err(|_| ParseError::Truncated("body"))?;
    if body.len() < AEAD_TAG_LEN {
        return Err(ParseError::Truncated("body"));
    }
    Ok((header, header_bytes, body))
}

impl<'a> DeviceMessage<'a> {
    /// Parses a device message (spec §11.6, check 1).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let (header, header_bytes, body) = read_head(&mut r, bytes)?;
        let (audience, device_id, pairwise) = read_entry(&mut r)?;
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Self {
            header,
            header_bytes,
            body,
            audience,
            device_id,
            pairwise,
        })
    }
}

/// What the server does with a fan-out message (spec §11.6): one device
/// message per entry, with the device it is for.
///
/// # Errors
/// [`ParseError`] for a malformed fan-out message.
pub fn split(fanout: &[u8]) -> Result<Vec<(Audience, u32, Vec<u8>)>, ParseError> {
    let mut r = Reader::new(fanout);
    let (_, header_bytes, body) = read_head(&mut r, fanout)?;
    let count = r.u16().map_err(|_| ParseError::Truncated("count"))?;
    let mut out = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let start = r.position();
        let (audience, id, _) = read_entry(&mut r)?;
        let entry = &fanout[start..r.position()];
        let mut m = Vec::with_capacity(header_bytes.len() + 4 + body.len() + entry.len());
        m.put(header_bytes);
        m.put_u32(body.len() as u32);
        m.put(body);
        m.put(entry);
        out.push((audience, id, m));
    }
    if r.remaining() != 0 {
        return Err(ParseError::TrailingBytes);
    }
    Ok(out)
}

/// The key and nonce of a body key (spec §11.6).
fn body_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    bk: &Secret<32>,
) -> Result<(Secret<AEAD_KEY_LEN>, [u8; AEAD_NONCE_LEN]), FanoutError> {
    let mut okm = Secret::<{ AEAD_KEY_LEN + AEAD_NONCE_LEN }>::zero();
    labeled_expand(p, bk, labels::FANOUT_BODY, &[], okm.expose_mut())?;
    let mut key = Secret::zero();
    key.expose_mut()
        .copy_from_slice(&okm.expose()[..AEAD_KEY_LEN]);
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&okm.expose()[AEAD_KEY_LEN..]);
    Ok((key, nonce))
}

/// Encrypts `plaintext` once and its key to every device (spec §11.6):
/// `targets` must name exactly the devices of `recipient`'s accepted list
/// and of `own`'s other devices, each with a conversation bound to the
/// listed identity. Returns the fan-out message for the server.
///
/// Every check is made before anything is encrypted: a target that is not
/// listed, or bound to another identity ([`FanoutError::UnlistedDevice`]),
/// a listed device without a target ([`FanoutError::MissingDevice`]), or a
/// conversation without a session ([`FanoutError::NoSession`]) changes
/// nothing. Only a failure of a conversation's encryption itself (its
/// generator failing, a sending chain at its end) can leave the targets
/// encrypted to before it one message ahead; their receivers see a gap.
///
/// # Errors
/// See [`FanoutError`].
pub fn encrypt<R: TryCryptoRng + ?Sized>(
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    targets: &mut [Target<'_>],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, FanoutError> {
    encrypt_with(
        &DefaultProvider::default(),
        own,
        own_device,
        recipient,
        targets,
        plaintext,
        rng,
    )
}

/// [`encrypt`] with an explicit provider.
///
/// # Errors
/// As [`encrypt`].
pub fn encrypt_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
    p: &P,
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    targets: &mut [Target<'_>],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, FanoutError> {
    encrypt_entries(p, own, own_device, recipient, targets, plaintext, rng, true)
}

/// [`encrypt`] without the copies for the sender's own other devices
/// (spec §11.6, "Recipient-only"): `targets` must name exactly the devices
/// of `recipient`'s accepted list, each once, all [`Audience::Recipient`].
/// For a plaintext that reaches the own devices another way, such as a
/// chain offer sent to every member of a group and once, as a note to
/// self, to the own devices (spec §12.5). `recipient` must be another
/// person: a note to self without its own copies would reach no device
/// ([`FanoutError::NotForUs`]).
///
/// # Errors
/// As [`encrypt`]; an own-device target is [`FanoutError::UnlistedDevice`].
pub fn encrypt_to_recipient<R: TryCryptoRng + ?Sized>(
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    targets: &mut [Target<'_>],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, FanoutError> {
    encrypt_to_recipient_with(
        &DefaultProvider::default(),
        own,
        own_device,
        recipient,
        targets,
        plaintext,
        rng,
    )
}

/// [`encrypt_to_recipient`] with an explicit provider.
///
/// # Errors
/// As [`encrypt_to_recipient`].
pub fn encrypt_to_recipient_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
    p: &P,
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    targets: &mut [Target<'_>],
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, FanoutError> {
    if recipient.user_key() == own.user_key() {
        return Err(FanoutError::NotForUs);
    }
    encrypt_entries(
        p, own, own_device, recipient, targets, plaintext, rng, false,
    )
}

/// [`encrypt_with`], with (`own_copies`) or without the entries of kind 1.
#[allow(clippy::too_many_arguments)]
fn encrypt_entries<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
    p: &P,
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    targets: &mut [Target<'_>],
    plaintext: &[u8],
    rng: &mut R,
    own_copies: bool,
) -> Result<Vec<u8>, FanoutError> {
    if plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(FanoutError::PlaintextTooLong);
    }
    if own.list().device(own_device).is_none() {
        return Err(FanoutError::UnknownDevice);
    }
    // A note to self goes to our other devices only (spec §11.6).
    let to_self = recipient.user_key() == own.user_key();
    // Never encrypt to a device the user key did not certify (spec §11.6).
    for t in targets.iter() {
        if (to_self && t.audience == Audience::Recipient)
            || (!own_copies && t.audience == Audience::OwnDevice)
        {
            return Err(FanoutError::UnlistedDevice(t.device_id));
        }
        let list = match t.audience {
            Audience::Recipient => recipient.list(),
            Audience::OwnDevice => own.list(),
        };
        let listed = list
            .device(t.device_id)
            .filter(|e| !(t.audience == Audience::OwnDevice && e.device_id == own_device))
            .ok_or(FanoutError::UnlistedDevice(t.device_id))?;
        if *t.conversation.peer() != listed.identity {
            return Err(FanoutError::UnlistedDevice(t.device_id));
        }
        if t.conversation.active_session().is_none() {
            return Err(FanoutError::NoSession(t.device_id));
        }
    }
    // Exactly one target per listed device: every target is a listed
    // device (above), so distinct targets as many as the devices listed
    // cover them all. Sorting keeps this O(N log N); on failure the slow
    // scan names the first device in list order without exactly one target.
    let recipients = if to_self {
        0
    } else {
        recipient.list().entries().len()
    };
    let own_entries = if own_copies {
        own.list().entries().len().saturating_sub(1)
    } else {
        0
    };
    let wanted = recipients + own_entries;
    let mut keys: Vec<(u8, u32)> = targets
        .iter()
        .map(|t| (t.audience.byte(), t.device_id))
        .collect();
    keys.sort_unstable();
    if keys.len() != wanted || keys.windows(2).any(|w| w[0] == w[1]) {
        return Err(missing_device(
            own, own_device, recipient, to_self, own_copies, targets,
        ));
    }
    let count = u16::try_from(wanted).map_err(|_| FanoutError::MissingDevice(u32::MAX))?;

    let mut bk = Secret::<32>::zero();
    crate::random::fill(rng, bk.expose_mut())?;
    let header = FanoutHeader {
        sender_user: *own.user_key(),
        sender_device: own_device,
        sender_epoch: own.list().epoch(),
        sender_list_hash: *own.list_hash(),
        recipient_user: *recipient.user_key(),
        recipient_epoch: recipient.list().epoch(),
        recipient_list_hash: *recipient.list_hash(),
    }
    .encode();
    let (key, nonce) = body_keys(p, &bk)?;
    let padded_len = padding::padded_len(plaintext.len());
    let body_len = padded_len + AEAD_TAG_LEN;
    let mut out = Vec::with_capacity(
        FANOUT_HEADER_LEN + 4 + body_len + 2 + targets.len() * ENTRY_LEN_ESTIMATE,
    );
    out.put(&header);
    out.put_u32(body_len as u32);
    let body_start = out.len();
    padding::pad_into(plaintext, &mut out);
    let tag = p.aead_seal(&key, &nonce, &header, &mut out[body_start..]);
    out.put(&tag);
    let digest = labeled_hash(
        p,
        labels::FANOUT_DIGEST,
        &[&header, &out[FANOUT_HEADER_LEN + 4..]],
    )?;
    let mut key_message = Zeroizing::new([0u8; KEY_MESSAGE_LEN]);
    key_message[0] = KEY_MESSAGE_TYPE;
    key_message[1..33].copy_from_slice(bk.expose());
    key_message[33..].copy_from_slice(&digest);
    out.put_u16(count);
    for t in targets.iter_mut() {
        out.put_u8(t.audience.byte());
        out.put_u32(t.device_id);
        let len_at = out.len();
        out.put_u32(0);
        // Sealed in place behind its length, patched in once known.
        t.conversation
            .encrypt_into_with(p, rng, &key_message[..], &mut out)?;
        let len = (out.len() - len_at - 4) as u32;
        out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

/// The first listed device, in list order (the recipient's, then the
/// sender's other devices), without exactly one target; `u32::MAX` when
/// each has one but there are more targets (or too many to count).
fn missing_device(
    own: &KnownUser,
    own_device: u32,
    recipient: &KnownUser,
    to_self: bool,
    own_copies: bool,
    targets: &[Target<'_>],
) -> FanoutError {
    let wanted = recipient
        .list()
        .entries()
        .iter()
        .filter(|_| !to_self)
        .map(|e| (Audience::Recipient, e.device_id))
        .chain(
            own.list()
                .entries()
                .iter()
                .filter(|e| own_copies && e.device_id != own_device)
                .map(|e| (Audience::OwnDevice, e.device_id)),
        );
    for (audience, id) in wanted {
        let n = targets
            .iter()
            .filter(|t| t.audience == audience && t.device_id == id)
            .count();
        if n != 1 {
            return FanoutError::MissingDevice(id);
        }
    }
    FanoutError::MissingDevice(u32::MAX)
}

/// A message a device received by fan-out. Only [`receive`] makes one:
/// it carries, beside the public fields, the sender it authenticated (the
/// pairwise session the message came over), which is what
/// [`Group::join`](crate::groups::Group::join) and
/// [`Group::accept_chain`](crate::groups::Group::accept_chain) bind a
/// welcome or chain offer to; changing the public fields does not change it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FanoutReceived {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The sender's user key.
    pub sender_user: [u8; 32],
    /// The sending device's id in the sender's list.
    pub sender_device: u32,
    /// The sender encrypted to our own user's list at our accepted epoch
    /// (spec §11.6). `false`: it used an older list, and may have encrypted
    /// to a device since removed; tell the user.
    pub recipient_list_current: bool,
    /// The pairwise message's position (spec §5.9).
    pub info: MessageInfo,
    /// The pairwise message set up a new session through `account`:
    /// persist the account.
    pub account_changed: bool,
    /// The sender [`receive`] authenticated: user key and device id.
    pub(crate) authenticated: ([u8; 32], u32),
}

impl FanoutReceived {
    /// The sender [`receive`] authenticated: its user key and device id
    /// (those of the pairwise session the message came over).
    pub fn authenticated_sender(&self) -> (&[u8; 32], u32) {
        (&self.authenticated.0, self.authenticated.1)
    }

    /// A received message from `sender_user`'s device `sender_device`
    /// that no fan-out message carried, for tools that replay recorded
    /// objects (the test-vector generator, fuzz targets). Whoever builds
    /// one vouches for the sender: the checks of spec §12.3 and §12.5 that
    /// bind a welcome or chain offer to its pairwise session rely on it.
    #[cfg(feature = "hazmat")]
    pub fn hazmat_new(plaintext: Vec<u8>, sender_user: [u8; 32], sender_device: u32) -> Self {
        Self {
            plaintext,
            sender_user,
            sender_device,
            recipient_list_current: true,
            info: MessageInfo {
                chain: [0; 32],
                number: 0,
                previous_chain_len: 0,
                late: false,
                new_chain: false,
                gap: 0,
            },
            account_changed: false,
            authenticated: (sender_user, sender_device),
        }
    }
}

/// Receives a device message (spec §11.6, checks 2–7 in order; check 1 is
/// [`DeviceMessage::parse`]). `own` is this device's user, `sender` the
/// sending person as this device knows them (look them up by
/// [`FanoutHeader::sender_user`]; for one's own devices, `own` again), and
/// `conversation` this device's conversation with the sending device (look
/// it up by sender user and [`FanoutHeader::sender_device`]; bound to the
/// listed identity). Nothing changes on error.
///
/// The entry must be addressed to this device (step 2): its kind the one
/// the sender and recipient user keys allow (kind 1 for a message from our
/// own user, a note to self included; kind 0 for one to our user from
/// another person), and its device id this device's own id, the one `own`'s
/// list gives `account`'s identity key. Anything else, a copy re-addressed
/// by the server included, is [`FanoutError::NotForUs`].
///
/// # Errors
/// See [`FanoutError`].
pub fn receive(
    own: &KnownUser,
    sender: &KnownUser,
    conversation: &mut Conversation,
    account: &mut Account,
    message: &DeviceMessage<'_>,
) -> Result<FanoutReceived, FanoutError> {
    receive_with(
        &DefaultProvider::default(),
        own,
        sender,
        conversation,
        account,
        message,
    )
}

/// [`receive`] with an explicit provider.
///
/// # Errors
/// As [`receive`].
pub fn receive_with<P: CryptoProvider + ?Sized>(
    p: &P,
    own: &KnownUser,
    sender: &KnownUser,
    conversation: &mut Conversation,
    account: &mut Account,
    message: &DeviceMessage<'_>,
) -> Result<FanoutReceived, FanoutError> {
    let h = &message.header;
    // 2. The person, and whether the entry is addressed to this device.
    if h.sender_user != *sender.user_key() {
        return Err(FanoutError::UnknownUser);
    }
    if !addressed_to_us(own, account, message) {
        return Err(FanoutError::NotForUs);
    }
    // 3. The sender's list, then ours as the sender saw it.
    sender
        .check_named(h.sender_epoch, &h.sender_list_hash)
        .map_err(FanoutError::List)?;
    let recipient_list_current = match message.audience {
        Audience::Recipient => {
            // A newer list of ours than we hold (StaleDeviceList): fetch
            // it first; the same epoch with another hash: a fork.
            own.check_named(h.recipient_epoch, &h.recipient_list_hash)
                .map_err(FanoutError::List)?;
            h.recipient_epoch == own.list().epoch()
        }
        Audience::OwnDevice => true,
    };
    // 4. The sending device is listed, and the conversation is its.
    let listed = sender
        .list()
        .device(h.sender_device)
        .ok_or(FanoutError::UnknownDevice)?;
    if *conversation.peer() != listed.identity {
        return Err(FanoutError::UnknownDevice);
    }
    // 5–7. The pairwise message, committed only if the key message and the
    // body check out.
    let mut opened: Option<Vec<u8>> = None;
    let mut refused = false;
    let mut check = |key_message: &[u8]| -> bool {
        let ok = open_body(p, message, key_message).map(|pt| opened = Some(pt));
        refused = ok.is_err();
        ok.is_ok()
    };
    let got = conversation.decrypt_checked(p, account, message.pairwise, &mut check);
    let got = match got {
        Ok(got) => got,
        Err(_) if refused => return Err(FanoutError::BodyMismatch),
        Err(e) => return Err(FanoutError::Pairwise(e)),
    };
    let mut key_message = got.plaintext;
    key_message.zeroize();
    let plaintext = opened.ok_or(FanoutError::BodyMismatch)?;
    Ok(FanoutReceived {
        plaintext,
        sender_user: h.sender_user,
        authenticated: (h.sender_user, h.sender_device),
        sender_device: h.sender_device,
        recipient_list_current,
        info: got.info,
        account_changed: got.account_changed,
    })
}

/// Whether the entry is addressed to this device (spec §11.6, step 2):
/// its kind is the only one the pair (`UK_S`, `UK_R`) allows us (kind 1
/// when `UK_S` is our own user key, a note to self included; kind 0 when
/// only `UK_R` is), and its device id is ours, the id of the entry of our
/// own user's accepted list that lists our account's identity key. Neither
/// field is authenticated, so these checks are what keeps a re-addressed or
/// kind-flipped copy from being accepted as a second encoding.
fn addressed_to_us(own: &KnownUser, account: &Account, message: &DeviceMessage<'_>) -> bool {
    let h = &message.header;
    let from_own_user = h.sender_user == *own.user_key();
    let kind = match message.audience {
        Audience::OwnDevice => from_own_user,
        Audience::Recipient => !from_own_user && h.recipient_user == *own.user_key(),
    };
    kind && own
        .list()
        .device_by_identity(&account.identity_key())
        .is_some_and(|e| e.device_id == message.device_id)
}

/// Checks the key message against the header and body and opens the body
/// (spec §11.6, steps 6 and 7).
fn open_body<P: CryptoProvider + ?Sized>(
    p: &P,
    message: &DeviceMessage<'_>,
    key_message: &[u8],
) -> Result<Vec<u8>, ()> {
    if key_message.len() != KEY_MESSAGE_LEN || key_message[0] != KEY_MESSAGE_TYPE {
        return Err(());
    }
    let digest = labeled_hash(
        p,
        labels::FANOUT_DIGEST,
        &[message.header_bytes, message.body],
    )
    .map_err(|_| ())?;
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        &digest[..],
        &key_message[33..],
    )) {
        return Err(());
    }
    let mut bk = Secret::<32>::zero();
    bk.expose_mut().copy_from_slice(&key_message[1..33]);
    let (key, nonce) = body_keys(p, &bk).map_err(|_| ())?;
    let (ct, tag) = message.body.split_at(message.body.len() - AEAD_TAG_LEN);
    let tag: [u8; AEAD_TAG_LEN] = tag.try_into().map_err(|_| ())?;
    let mut buf = ct.to_vec();
    if p.aead_open(&key, &nonce, message.header_bytes, &mut buf, &tag)
        .is_err()
    {
        buf.zeroize();
        return Err(());
    }
    let Some(len) = padding::unpadded_len(&buf) else {
        buf.zeroize();
        return Err(());
    };
    buf[len..].zeroize();
    buf.truncate(len);
    Ok(buf)
}

/// A conversation error of the pairwise message (spec §11.6, step 5).
impl From<ConversationError> for FanoutError {
    fn from(e: ConversationError) -> Self {
        FanoutError::Pairwise(e)
    }
}

impl From<crate::session::EncryptError> for FanoutError {
    fn from(e: crate::session::EncryptError) -> Self {
        FanoutError::Encrypt(e)
    }
}
