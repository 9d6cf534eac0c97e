//! Linking a new device (spec §11.5).

use alloc::vec::Vec;

use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::{DeviceEntry, DeviceList, KnownUser, LinkError, ParseError, UserKey, MAX_DEVICES};
use crate::codec::{Reader, Writer};
use crate::kdf::{labeled_expand, labeled_extract, labeled_hash};
use crate::labels;
use crate::provider::{
    CryptoProvider, DefaultProvider, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN,
};
use crate::secret::Secret;
use crate::session::{Account, IdentityPublic, IDENTITY_PUBLIC_LEN};

const OFFER_MAGIC: &[u8; 17] = b"SOVA-1 link offer";
const RESPONSE_MAGIC: &[u8; 20] = b"SOVA-1 link response";
const VERSION: u8 = 1;
/// The most application data a link response carries (spec §11.8).
pub const MAX_LINK_DATA: usize = 65_536;
const OFFER_LEN: usize = 17 + 1 + 32 + IDENTITY_PUBLIC_LEN;

/// The new device's side of a link (spec §11.5): its link key and the offer
/// it shows as a QR code.
pub struct LinkRequest {
    link_key: Secret<32>,
    offer: Vec<u8>,
    identity: IdentityPublic,
}

impl core::fmt::Debug for LinkRequest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LinkRequest").finish_non_exhaustive()
    }
}

/// What a new device learns from a successful link.
#[derive(Debug)]
#[non_exhaustive]
pub struct Linked {
    /// Its person, with the new list accepted (the user key pinned).
    pub user: KnownUser,
    /// Its own device id in that list.
    pub device_id: u32,
    /// The user key, when the device was linked as an admin device.
    pub user_key: Option<UserKey>,
    /// The application's data (contacts, history…), authentic and confidential.
    pub data: Zeroizing<Vec<u8>>,
    /// The six digits both devices show, for the person to compare.
    pub code: [u8; 6],
}

/// What the admin device produces: the new list (publish it, and accept it
/// in the admin's own [`KnownUser`]) and the response for the new device.
#[derive(Debug)]
#[non_exhaustive]
pub struct LinkApproval {
    /// The new, signed list with the new device in it.
    pub list: DeviceList,
    /// The new device's id.
    pub device_id: u32,
    /// The response to send to the new device (through the server).
    pub response: Vec<u8>,
    /// The six digits both devices show.
    pub code: [u8; 6],
}

impl LinkRequest {
    /// Starts linking `account` (the new device's): draws the link key
    /// `e_N` (32 bytes) and builds the offer.
    ///
    /// # Errors
    /// [`LinkError::Randomness`] when the generator fails.
    pub fn new<R: TryCryptoRng + ?Sized>(
        account: &Account,
        rng: &mut R,
    ) -> Result<Self, LinkError> {
        let mut link_key = Secret::zero();
        crate::random::fill(rng, link_key.expose_mut())?;
        let p = DefaultProvider::default();
        let identity = *account.identity();
        let mut offer = Vec::with_capacity(OFFER_LEN);
        offer.put(OFFER_MAGIC);
        offer.put_u8(VERSION);
        offer.put(&p.x25519_public_key(&link_key));
        offer.put(&identity.to_bytes());
        Ok(Self {
            link_key,
            offer,
            identity,
        })
    }

    /// The offer: the QR code's payload.
    pub fn offer(&self) -> &[u8] {
        &self.offer
    }

    /// Reads the admin device's response (spec §11.5). Nothing changes on
    /// error; the request can be given another response.
    ///
    /// # Errors
    /// See [`LinkError`].
    pub fn finish(&self, response: &[u8]) -> Result<Linked, LinkError> {
        self.finish_with(&DefaultProvider::default(), response)
    }

    /// [`finish`](Self::finish) with an explicit provider.
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub fn finish_with<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        response: &[u8],
    ) -> Result<Linked, LinkError> {
        let parsed = LinkResponseFrame::parse(response)?;
        let (theirs, body, tag) = (parsed.admin_public, parsed.ciphertext, parsed.tag);
        let dh = p.x25519(&self.link_key, &theirs)?;
        let (t, key, nonce) = link_keys(p, &self.offer, &theirs, &dh)?;
        let mut payload = Zeroizing::new(body.to_vec());
        p.aead_open(&key, &nonce, &t, &mut payload, &tag)
            .map_err(|_| LinkError::Authentication)?;
        let (list, seed, data) = parse_payload(&payload)?;
        let list = DeviceList::verify_with(p, list, None).map_err(LinkError::List)?;
        let me = list
            .device_by_identity(&self.identity.identity_key())
            .ok_or(LinkError::NotListed)?;
        let device_id = me.device_id;
        let user_key = match seed {
            None => None,
            Some(seed) => {
                let k = UserKey::from_seed(Secret::from_bytes(seed));
                if k.public() != list.user_key() {
                    return Err(LinkError::WrongUserKey);
                }
                Some(k)
            }
        };
        Ok(Linked {
            user: KnownUser::from_list(list),
            device_id,
            user_key,
            data: Zeroizing::new(data.to_vec()),
            code: link_code(p, &t)?,
        })
    }
}

/// The admin device's side (spec §11.5): checks the scanned `offer`, signs
/// the list `current` plus the new device (as an admin device if `admin`),
/// and seals the response. Draws `e_A` (32 bytes). Nothing changes: the
/// caller publishes [`LinkApproval::list`] and accepts it in its own
/// [`KnownUser`].
///
/// # Errors
/// See [`LinkError`].
pub fn approve_link<R: TryCryptoRng + ?Sized>(
    user_key: &UserKey,
    current: &KnownUser,
    offer: &[u8],
    admin: bool,
    data: &[u8],
    rng: &mut R,
) -> Result<LinkApproval, LinkError> {
    approve_link_with(
        &DefaultProvider::default(),
        user_key,
        current,
        offer,
        admin,
        data,
        rng,
    )
}

/// [`approve_link`] with an explicit provider (the list is signed by
/// [`UserKey::sign_list`]).
///
/// # Errors
/// As [`approve_link`].
pub fn approve_link_with<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
    p: &P,
    user_key: &UserKey,
    current: &KnownUser,
    offer: &[u8],
    admin: bool,
    data: &[u8],
    rng: &mut R,
) -> Result<LinkApproval, LinkError> {
    if data.len() > MAX_LINK_DATA {
        return Err(LinkError::DataTooLong);
    }
    if current.user_key() != user_key.public() {
        return Err(LinkError::WrongUserKey);
    }
    let parsed = LinkOffer::parse(offer)?;
    let (theirs, identity) = (parsed.link_public, parsed.identity);
    identity
        .verify(p)
        .map_err(|_| LinkError::InvalidIdentitySignature)?;
    let list = current.list();
    if list.device_by_identity(&identity.identity_key()).is_some() {
        return Err(LinkError::AlreadyListed);
    }
    if list.entries().len() >= MAX_DEVICES {
        return Err(LinkError::TooManyDevices);
    }
    let device_id = match list.entries().last() {
        Some(e) => e
            .device_id
            .checked_add(1)
            .ok_or(LinkError::DeviceIdsExhausted)?,
        None => 1,
    };
    let epoch = list
        .epoch()
        .checked_add(1)
        .ok_or(LinkError::DeviceIdsExhausted)?;
    let mut entries = list.entries().to_vec();
    entries.push(DeviceEntry {
        device_id,
        identity: identity.identity_key(),
        admin,
    });
    let mut e = Secret::<32>::zero();
    crate::random::fill(rng, e.expose_mut())?;
    let new_list = user_key
        .sign_list(epoch, &entries)
        .map_err(LinkError::List)?;
    let ours = p.x25519_public_key(&e);
    let dh = p.x25519(&e, &theirs)?;
    let (t, key, nonce) = link_keys(p, offer, &ours, &dh)?;
    let list_bytes = new_list.to_bytes();
    let mut payload = Zeroizing::new(Vec::with_capacity(
        4 + list_bytes.len() + 1 + 32 + 4 + data.len(),
    ));
    payload.put_u32(list_bytes.len() as u32);
    payload.put(list_bytes);
    if admin {
        payload.put_u8(1);
        payload.put(user_key.seed().expose());
    } else {
        payload.put_u8(0);
    }
    payload.put_u32(data.len() as u32);
    payload.put(data);
    let mut response = Vec::with_capacity(RESPONSE_MAGIC.len() + 1 + 32 + payload.len() + 16);
    response.put(RESPONSE_MAGIC);
    response.put_u8(VERSION);
    response.put(&ours);
    let start = response.len();
    response.put(&payload);
    let tag = p.aead_seal(&key, &nonce, &t, &mut response[start..]);
    response.put(&tag);
    Ok(LinkApproval {
        list: new_list,
        device_id,
        response,
        code: link_code(p, &t)?,
    })
}

/// The fields of a link offer (spec §11.5), parsed but not verified: the
/// identity's binding is checked by [`approve_link`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkOffer {
    /// `E_N`: the new device's link public key.
    pub link_public: [u8; 32],
    /// `IdentityPublic_N`.
    pub identity: IdentityPublic,
}

impl LinkOffer {
    /// Parses a link offer (the encoding checks of spec §11.5).
    ///
    /// # Errors
    /// [`ParseError`]: `BadMagic`, `UnsupportedVersion`, `Truncated(field)`
    /// (`"version"`, `"E_N"`, `"identity"`), `TrailingBytes`.
    pub fn parse(offer: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(offer);
        if r.bytes(OFFER_MAGIC.len())
            .map_err(|_| ParseError::BadMagic)?
            != OFFER_MAGIC
        {
            return Err(ParseError::BadMagic);
        }
        let v = r.u8().map_err(|_| ParseError::Truncated("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let link_public: [u8; 32] = r.array().map_err(|_| ParseError::Truncated("E_N"))?;
        let identity =
            IdentityPublic::read(&mut r).map_err(|_| ParseError::Truncated("identity"))?;
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Self {
            link_public,
            identity,
        })
    }
}

/// The outer framing of a link response (spec §11.5): what anyone can read
/// without the new device's link key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkResponseFrame<'a> {
    /// `E_A`: the admin device's link public key.
    pub admin_public: [u8; 32],
    /// The sealed payload without its tag.
    pub ciphertext: &'a [u8],
    /// The AEAD tag.
    pub tag: [u8; AEAD_TAG_LEN],
}

impl<'a> LinkResponseFrame<'a> {
    /// Parses the framing of a link response: magic, version, `E_A` and a
    /// sealed payload of at least its tag.
    ///
    /// # Errors
    /// [`ParseError`]: `BadMagic`, `UnsupportedVersion`, `Truncated(field)`
    /// (`"version"`, `"E_A"`, `"payload"`).
    pub fn parse(response: &'a [u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(response);
        if r.bytes(RESPONSE_MAGIC.len())
            .map_err(|_| ParseError::BadMagic)?
            != RESPONSE_MAGIC
        {
            return Err(ParseError::BadMagic);
        }
        let v = r.u8().map_err(|_| ParseError::Truncated("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let admin_public: [u8; 32] = r.array().map_err(|_| ParseError::Truncated("E_A"))?;
        if r.remaining() < AEAD_TAG_LEN {
            return Err(ParseError::Truncated("payload"));
        }
        let body_len = r.remaining() - AEAD_TAG_LEN;
        let ciphertext = r
            .bytes(body_len)
            .map_err(|_| ParseError::Truncated("payload"))?;
        let tag: [u8; AEAD_TAG_LEN] = r.array().map_err(|_| ParseError::Truncated("payload"))?;
        Ok(Self {
            admin_public,
            ciphertext,
            tag,
        })
    }
}

type LinkKeys = ([u8; 32], Secret<AEAD_KEY_LEN>, [u8; AEAD_NONCE_LEN]);

/// `T`, `K` and `n` of spec §11.5.
fn link_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    offer: &[u8],
    admin_public: &[u8; 32],
    dh: &Secret<32>,
) -> Result<LinkKeys, LinkError> {
    let t = labeled_hash(p, labels::LINK_TRANSCRIPT, &[offer, admin_public])?;
    let prk = labeled_extract(p, &t, labels::LINK, &[dh.expose()])?;
    let mut okm = Secret::<{ AEAD_KEY_LEN + AEAD_NONCE_LEN }>::zero();
    labeled_expand(p, &prk, labels::LINK, &[], okm.expose_mut())?;
    let mut key = Secret::zero();
    key.expose_mut()
        .copy_from_slice(&okm.expose()[..AEAD_KEY_LEN]);
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&okm.expose()[AEAD_KEY_LEN..]);
    Ok((t, key, nonce))
}

/// `LinkCode`: six decimal digits of `LabeledHash("link code", T)` (spec §11.5).
fn link_code<P: CryptoProvider + ?Sized>(p: &P, t: &[u8; 32]) -> Result<[u8; 6], LinkError> {
    let h = labeled_hash(p, labels::LINK_CODE, &[t])?;
    let mut n = u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]]) % 1_000_000;
    let mut out = [b'0'; 6];
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Ok(out)
}

type Payload<'a> = (&'a [u8], Option<[u8; 32]>, &'a [u8]);

fn parse_payload(payload: &[u8]) -> Result<Payload<'_>, LinkError> {
    let mut r = Reader::new(payload);
    let len = r.u32().map_err(|_| ParseError::Truncated("list length"))? as usize;
    let list = r.bytes(len).map_err(|_| ParseError::Truncated("list"))?;
    let seed = match r.u8().map_err(|_| ParseError::Truncated("admin flag"))? {
        0 => None,
        1 => Some(
            r.array()
                .map_err(|_| ParseError::Truncated("user key seed"))?,
        ),
        f => return Err(ParseError::InvalidFlags(f).into()),
    };
    let len = r.u32().map_err(|_| ParseError::Truncated("data length"))? as usize;
    if len > MAX_LINK_DATA {
        return Err(LinkError::DataTooLong);
    }
    let data = r.bytes(len).map_err(|_| ParseError::Truncated("data"))?;
    if r.remaining() != 0 {
        return Err(ParseError::TrailingBytes.into());
    }
    Ok((list, seed, data))
}
