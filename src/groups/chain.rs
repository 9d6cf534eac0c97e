//! Sender chains and chain offers (spec §12.5).

use alloc::vec::Vec;

use super::{GroupError, ParseError};
use crate::codec::{Reader, Writer};
use crate::kdf::{labeled_expand, labeled_hash, labeled_mac, labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, AEAD_KEY_LEN, AEAD_NONCE_LEN, ED25519_SIG_LEN};
use crate::secret::Secret;

const MAGIC: &[u8; 18] = b"SOVA-1 group chain";
const VERSION: u8 = 1;
/// Bytes of an offer covered by the binding signature.
const SIGNED_LEN: usize = 18 + 1 + 32 + 8 + 32 + 32 + 4 + 4 + 32;
/// The length of a chain offer.
const OFFER_LEN: usize = SIGNED_LEN + ED25519_SIG_LEN + 4 + 32;

/// One step of a sender chain (spec §12.5): the message key of `ck` and
/// the next chain key.
pub(crate) fn step<P: CryptoProvider + ?Sized>(
    p: &P,
    ck: &Secret<32>,
) -> Result<(Secret<32>, Secret<32>), GroupError> {
    let mk = labeled_mac(p, ck.expose(), labels::GROUP_MESSAGE_KEY, &[])?;
    let next = labeled_mac(p, ck.expose(), labels::GROUP_CHAIN, &[])?;
    Ok((mk, next))
}

/// The AEAD key and nonce of a message key for a header (spec §12.5).
pub(crate) fn message_keys<P: CryptoProvider + ?Sized>(
    p: &P,
    mk: &Secret<32>,
    header: &[u8],
) -> Result<(Secret<AEAD_KEY_LEN>, [u8; AEAD_NONCE_LEN]), GroupError> {
    let mut okm = Secret::<{ AEAD_KEY_LEN + AEAD_NONCE_LEN }>::zero();
    labeled_expand(p, mk, labels::GROUP_MESSAGE_KEYS, header, okm.expose_mut())?;
    let mut key = Secret::zero();
    key.expose_mut()
        .copy_from_slice(&okm.expose()[..AEAD_KEY_LEN]);
    let mut nonce = [0u8; AEAD_NONCE_LEN];
    nonce.copy_from_slice(&okm.expose()[AEAD_KEY_LEN..]);
    Ok((key, nonce))
}

/// This device's sending chain.
#[derive(Clone)]
pub(crate) struct SendingChain {
    pub(crate) generation: u32,
    pub(crate) index: u32,
    pub(crate) chain_key: Secret<32>,
    pub(crate) signing_seed: Secret<32>,
}

/// A chain received from another device.
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize)]
pub(crate) struct ReceivingChain {
    pub(crate) user: [u8; 32],
    pub(crate) device: u32,
    pub(crate) generation: u32,
    pub(crate) next_index: u32,
    pub(crate) chain_key: Secret<32>,
    pub(crate) signing_public: [u8; 32],
}

/// A skipped message key (spec §12.6).
#[derive(Clone, PartialEq, Eq, zeroize::Zeroize)]
pub(crate) struct SkippedKey {
    pub(crate) user: [u8; 32],
    pub(crate) device: u32,
    pub(crate) generation: u32,
    pub(crate) index: u32,
    pub(crate) key: Secret<32>,
}

/// `C = LabeledHash("group chain commitment", u32(index) || CK_index)`
/// (spec §12.5).
fn commitment<P: CryptoProvider + ?Sized>(
    p: &P,
    index: u32,
    chain_key: &Secret<32>,
) -> Result<[u8; 32], GroupError> {
    Ok(labeled_hash(
        p,
        labels::GROUP_CHAIN_COMMITMENT,
        &[&index.to_be_bytes(), chain_key.expose()],
    )?)
}

/// A parsed chain offer (spec §12.5): what a device hands to the other
/// members' devices inside fan-out messages. Holds a chain key: secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ChainOffer {
    /// The group.
    pub group_id: [u8; 32],
    /// The epoch the chain is for.
    pub epoch: u64,
    /// That epoch's state hash.
    pub state_hash: [u8; 32],
    /// The owner's user key.
    pub owner_user: [u8; 32],
    /// The owner device's id.
    pub owner_device: u32,
    /// The chain's generation.
    pub generation: u32,
    /// The chain's signing public key.
    pub signing_public: [u8; 32],
    binding: [u8; ED25519_SIG_LEN],
    /// The index of the next message the chain will send.
    pub index: u32,
    chain_key: Secret<32>,
}

impl core::fmt::Debug for ChainOffer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChainOffer")
            .field("epoch", &self.epoch)
            .field("owner_device", &self.owner_device)
            .field("generation", &self.generation)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl ChainOffer {
    /// Builds and binds an offer with the owner device's identity seed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build<P: CryptoProvider + ?Sized>(
        p: &P,
        identity_seed: &Secret<32>,
        group_id: [u8; 32],
        epoch: u64,
        state_hash: [u8; 32],
        owner_user: [u8; 32],
        owner_device: u32,
        chain: &SendingChain,
    ) -> Result<(Self, Vec<u8>), GroupError> {
        let signing_public = p.ed25519_public_key(&chain.signing_seed);
        let mut out = Vec::with_capacity(OFFER_LEN);
        out.put(MAGIC);
        out.put_u8(VERSION);
        out.put(&group_id);
        out.put_u64(epoch);
        out.put(&state_hash);
        out.put(&owner_user);
        out.put_u32(owner_device);
        out.put_u32(chain.generation);
        out.put(&signing_public);
        // spec §12.5: the binding also covers C, so every receiver of one
        // signed chain holds the same chain key.
        let c = commitment(p, chain.index, &chain.chain_key)?;
        let binding = labeled_sign(p, identity_seed, labels::GROUP_CHAIN_BINDING, &[&out, &c])?;
        out.put(&binding);
        out.put_u32(chain.index);
        out.put(chain.chain_key.expose());
        let offer = Self {
            group_id,
            epoch,
            state_hash,
            owner_user,
            owner_device,
            generation: chain.generation,
            signing_public,
            binding,
            index: chain.index,
            chain_key: chain.chain_key.clone(),
        };
        Ok((offer, out))
    }

    /// Parses a chain offer (spec §12.5, check 1).
    ///
    /// # Errors
    /// [`ParseError`].
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let magic = r
            .bytes(MAGIC.len())
            .map_err(|_| ParseError::Truncated("magic"))?;
        if magic != MAGIC {
            return Err(ParseError::BadMagic);
        }
        let v = r.u8().map_err(|_| ParseError::Truncated("version"))?;
        if v != VERSION {
            return Err(ParseError::UnsupportedVersion(v));
        }
        let t = |f: &'static str| move |_| ParseError::Truncated(f);
        let group_id = r.array().map_err(t("group id"))?;
        let epoch = r.u64().map_err(t("epoch"))?;
        let state_hash = r.array().map_err(t("state hash"))?;
        let owner_user = r.array().map_err(t("owner user key"))?;
        let owner_device = r.u32().map_err(t("owner device id"))?;
        let generation = r.u32().map_err(t("generation"))?;
        let signing_public = r.array().map_err(t("signing key"))?;
        let binding = r.array().map_err(t("binding"))?;
        let index = r.u32().map_err(t("index"))?;
        let mut chain_key = Secret::zero();
        chain_key
            .expose_mut()
            .copy_from_slice(r.bytes(32).map_err(t("chain key"))?);
        if r.remaining() != 0 {
            return Err(ParseError::TrailingBytes);
        }
        Ok(Self {
            group_id,
            epoch,
            state_hash,
            owner_user,
            owner_device,
            generation,
            signing_public,
            binding,
            index,
            chain_key,
        })
    }

    /// Verifies the binding under the owner device's `IK_sig` (spec §12.5,
    /// check 5).
    pub(crate) fn verify_binding<P: CryptoProvider + ?Sized>(
        &self,
        p: &P,
        ik_sig: &[u8; 32],
    ) -> Result<(), GroupError> {
        let mut signed = Vec::with_capacity(SIGNED_LEN);
        signed.put(MAGIC);
        signed.put_u8(VERSION);
        signed.put(&self.group_id);
        signed.put_u64(self.epoch);
        signed.put(&self.state_hash);
        signed.put(&self.owner_user);
        signed.put_u32(self.owner_device);
        signed.put_u32(self.generation);
        signed.put(&self.signing_public);
        let c = commitment(p, self.index, &self.chain_key)?;
        labeled_verify(
            p,
            ik_sig,
            labels::GROUP_CHAIN_BINDING,
            &[&signed, &c],
            &self.binding,
        )
        .map_err(|_| GroupError::InvalidSignature)
    }

    pub(crate) fn to_receiving(&self) -> ReceivingChain {
        ReceivingChain {
            user: self.owner_user,
            device: self.owner_device,
            generation: self.generation,
            next_index: self.index,
            chain_key: self.chain_key.clone(),
            signing_public: self.signing_public,
        }
    }
}
