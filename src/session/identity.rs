//! Long-term identities (spec §7.1).
//!
//! An identity is two key pairs: an Ed25519 signing key `IK_sig` and an
//! X25519 key-agreement key `IK_dh`, the latter signed by the former. Keeping
//! them separate means no implementation needs to convert keys between curve
//! forms or implement XEdDSA.

use rand_core::TryCryptoRng;

use crate::codec::Reader;
use crate::kdf::{labeled_sign, labeled_verify};
use crate::labels;
use crate::provider::{CryptoProvider, ED25519_KEY_LEN, ED25519_SIG_LEN, X25519_LEN};
use crate::secret::Secret;
use crate::CryptoError;

/// Length of an encoded [`IdentityPublic`].
pub const IDENTITY_PUBLIC_LEN: usize = 128;

/// The 64-byte identity key `IK_sig || IK_dh` that names a party (safety
/// numbers, transcript hashes).
pub type IdentityKey = [u8; 64];

/// A party's public identity (spec §7.1): `IK_sig || IK_dh || binding`, where
/// `binding = LabeledSign(IK_sig, "identity binding", IK_sig || IK_dh)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IdentityPublic {
    /// The Ed25519 public key.
    pub signing_key: [u8; ED25519_KEY_LEN],
    /// The X25519 public key.
    pub agreement_key: [u8; X25519_LEN],
    /// The signature binding the X25519 key to the Ed25519 key.
    pub binding: [u8; ED25519_SIG_LEN],
}

impl IdentityPublic {
    /// `IK_sig || IK_dh`.
    pub fn identity_key(&self) -> IdentityKey {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.signing_key);
        out[32..].copy_from_slice(&self.agreement_key);
        out
    }

    /// The 128-byte encoding.
    pub fn to_bytes(&self) -> [u8; IDENTITY_PUBLIC_LEN] {
        let mut out = [0u8; IDENTITY_PUBLIC_LEN];
        out[..32].copy_from_slice(&self.signing_key);
        out[32..64].copy_from_slice(&self.agreement_key);
        out[64..].copy_from_slice(&self.binding);
        out
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, crate::codec::Truncated> {
        Ok(Self {
            signing_key: r.array()?,
            agreement_key: r.array()?,
            binding: r.array()?,
        })
    }

    /// Checks the binding signature (strict Ed25519, spec §3.3).
    ///
    /// # Errors
    /// [`CryptoError::InvalidSignature`].
    pub fn verify<P: CryptoProvider + ?Sized>(&self, p: &P) -> Result<(), CryptoError> {
        labeled_verify(
            p,
            &self.signing_key,
            labels::IDENTITY_BINDING,
            &[&self.signing_key, &self.agreement_key],
            &self.binding,
        )
    }
}

/// A party's identity key pairs (secret).
#[derive(Clone)]
pub struct IdentityKeyPair {
    pub(crate) signing_seed: Secret<ED25519_KEY_LEN>,
    pub(crate) agreement_private: Secret<X25519_LEN>,
    pub(crate) public: IdentityPublic,
}

impl core::fmt::Debug for IdentityKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdentityKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl IdentityKeyPair {
    /// Generates an identity: 32 random bytes for the Ed25519 seed, then 32
    /// for the X25519 private key (spec §7.1).
    ///
    /// # Errors
    /// Only on an internal label error, which the fixed labels never cause.
    pub fn generate<P: CryptoProvider + ?Sized, R: TryCryptoRng + ?Sized>(
        p: &P,
        rng: &mut R,
    ) -> Result<Self, CryptoError> {
        let mut seed = Secret::zero();
        crate::random::fill(rng, seed.expose_mut())?;
        let mut dh = Secret::zero();
        crate::random::fill(rng, dh.expose_mut())?;
        Self::from_secrets(p, seed, dh)
    }

    /// Rebuilds an identity from its two secrets.
    ///
    /// # Errors
    /// Only on an internal label error, which the fixed labels never cause.
    pub fn from_secrets<P: CryptoProvider + ?Sized>(
        p: &P,
        signing_seed: Secret<ED25519_KEY_LEN>,
        agreement_private: Secret<X25519_LEN>,
    ) -> Result<Self, CryptoError> {
        let signing_key = p.ed25519_public_key(&signing_seed);
        let agreement_key = p.x25519_public_key(&agreement_private);
        let binding = labeled_sign(
            p,
            &signing_seed,
            labels::IDENTITY_BINDING,
            &[&signing_key, &agreement_key],
        )?;
        Ok(Self {
            signing_seed,
            agreement_private,
            public: IdentityPublic {
                signing_key,
                agreement_key,
                binding,
            },
        })
    }

    /// The public identity.
    pub fn public(&self) -> &IdentityPublic {
        &self.public
    }
}
