//! The provider boundary: every primitive Sova uses, behind one trait.
//!
//! Protocol code never imports a primitive crate; it calls a [`CryptoProvider`].
//! The boundary is deliberately narrow and byte-oriented: fixed-size arrays in,
//! fixed-size arrays out, no randomness inside (callers draw random bytes from
//! an injected RNG and pass them in), so a backend is a thin adapter and two
//! backends can be checked against each other byte for byte.
//!
//! Two backends ship with the crate, each behind a cargo feature:
//!
//! * [`RingProvider`] (feature `backend-ring`, the default): ChaCha20-Poly1305
//!   and SHA-512 from *ring*; SHA-256, HMAC and HKDF from RustCrypto, each
//!   where it measured faster on the reference machine (`benches/RESULTS.md`:
//!   *ring*'s AEAD is 2–8x faster, RustCrypto's SHA-256 1.1–1.8x and its
//!   HMAC/HKDF 1.1–1.5x).
//! * [`RustCryptoProvider`] (feature `backend-rustcrypto`): RustCrypto for every
//!   symmetric primitive, for targets *ring* does not build on.
//!
//! Both use x25519-dalek, ed25519-dalek (strict verification) and
//! libcrux-ml-kem for the asymmetric primitives (spec §3), and
//! curve25519-dalek (the curve under both dalek crates) for batch
//! verification of Ed25519 signatures (spec §12.6.1): *ring* has no batch
//! verification, and ed25519-dalek's (feature `batch`) draws no injected
//! randomness and checks the batch equation alone, which accepts
//! signatures strict verification refuses.

use crate::error::CryptoError;
use crate::secret::Secret;

mod common;
#[cfg(feature = "backend-ring")]
mod ring_backend;
#[cfg(feature = "backend-rustcrypto")]
mod rustcrypto_backend;

#[cfg(feature = "backend-ring")]
pub use ring_backend::RingProvider;
#[cfg(feature = "backend-rustcrypto")]
pub use rustcrypto_backend::RustCryptoProvider;

#[cfg(not(any(feature = "backend-ring", feature = "backend-rustcrypto")))]
compile_error!("enable at least one backend: `backend-ring` or `backend-rustcrypto`");

/// Length of an X25519 key or shared secret (spec §3.2).
pub const X25519_LEN: usize = 32;
/// Length of an Ed25519 public key or seed (spec §3.3).
pub const ED25519_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature (spec §3.3).
pub const ED25519_SIG_LEN: usize = 64;
/// Length of a ChaCha20-Poly1305 key (spec §3.4).
pub const AEAD_KEY_LEN: usize = 32;
/// Length of a ChaCha20-Poly1305 nonce (spec §3.4).
pub const AEAD_NONCE_LEN: usize = 12;
/// Length of a ChaCha20-Poly1305 tag; tags are never truncated (spec §3.4).
pub const AEAD_TAG_LEN: usize = 16;
/// Output length of SHA-256, HMAC-SHA-256 and HKDF-Extract (spec §3.5).
pub const HASH_LEN: usize = 32;
/// Largest HKDF-SHA-256 output, 255 * 32 bytes (RFC 5869).
pub const HKDF_MAX_OUTPUT: usize = 255 * HASH_LEN;
/// ML-KEM-768 key-generation seed `d || z` (FIPS 203 §6.1, spec §3.6).
pub const MLKEM_SEED_LEN: usize = 64;
/// ML-KEM-768 encapsulation-key length (spec §3.6).
pub const MLKEM_EK_LEN: usize = 1184;
/// ML-KEM-768 decapsulation-key length, expanded form (spec §3.6).
pub const MLKEM_DK_LEN: usize = 2400;
/// ML-KEM-768 ciphertext length (spec §3.6).
pub const MLKEM_CT_LEN: usize = 1088;
/// ML-KEM-768 encapsulation randomness `m` and shared-secret length (spec §3.6).
pub const MLKEM_SS_LEN: usize = 32;

/// An ML-KEM-768 key pair generated from a seed.
pub struct MlKemKeyPair {
    /// The decapsulation key (secret).
    pub decapsulation_key: Secret<MLKEM_DK_LEN>,
    /// The encapsulation key (public).
    pub encapsulation_key: [u8; MLKEM_EK_LEN],
}

/// One signature of a batch ([`CryptoProvider::ed25519_verify_batch`]).
#[derive(Debug, Clone, Copy)]
pub struct Ed25519BatchItem<'a> {
    /// The signer's public key.
    pub public_key: &'a [u8; ED25519_KEY_LEN],
    /// The signed message, as parts to be read one after the other.
    pub message: &'a [&'a [u8]],
    /// The signature.
    pub signature: &'a [u8; ED25519_SIG_LEN],
}

/// The primitives of cipher suite SOVA-1 (spec §3).
///
/// Implementations MUST be deterministic functions of their inputs and MUST
/// agree byte for byte; the test suite runs every vector through each backend.
/// Variable-length inputs are passed as lists of parts so that callers can
/// feed labelled, length-prefixed encodings without concatenating them first.
pub trait CryptoProvider: Send + Sync {
    /// A short name of the backend, for reports and benchmarks.
    fn name(&self) -> &'static str;

    /// SHA-256 of the concatenation of `parts` (default: RustCrypto's `sha2`).
    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        common::sha256(parts)
    }

    /// SHA-512 of the concatenation of `parts`.
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64];

    /// HMAC-SHA-256 under `key` of the concatenation of `parts` (RFC 2104;
    /// default: RustCrypto's `hmac`).
    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret<HASH_LEN> {
        common::hmac_sha256(key, parts)
    }

    /// HKDF-Extract with SHA-256 (RFC 5869 §2.2) of the concatenation of
    /// `ikm_parts`. An empty salt is the same as 32 zero bytes.
    fn hkdf_extract(&self, salt: &[u8], ikm_parts: &[&[u8]]) -> Secret<HASH_LEN> {
        // RFC 5869: PRK = HMAC-Hash(salt, IKM).
        self.hmac_sha256(salt, ikm_parts)
    }

    /// HKDF-Expand with SHA-256 (RFC 5869 §2.3), filling `okm` completely
    /// (default: RustCrypto's `hkdf`).
    ///
    /// # Errors
    /// [`CryptoError::KdfOutputTooLong`] when `okm` is longer than 8160 bytes.
    fn hkdf_expand(
        &self,
        prk: &Secret<HASH_LEN>,
        info_parts: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        common::hkdf_expand(prk, info_parts, okm)
    }

    /// ChaCha20-Poly1305 (RFC 8439) encryption of `in_out` in place; returns the tag.
    fn aead_seal(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; AEAD_TAG_LEN];

    /// ChaCha20-Poly1305 decryption of `in_out` in place.
    ///
    /// # Errors
    /// [`CryptoError::AeadAuthentication`] when the tag does not verify; the
    /// contents of `in_out` are then unspecified and MUST be discarded.
    fn aead_open(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), CryptoError>;

    /// The X25519 public key of a private key (RFC 7748 §6.1; the private key is clamped).
    fn x25519_public_key(&self, private_key: &Secret<X25519_LEN>) -> [u8; X25519_LEN] {
        common::x25519_public_key(private_key)
    }

    /// X25519 Diffie-Hellman (RFC 7748 §5).
    ///
    /// # Errors
    /// [`CryptoError::X25519LowOrder`] when the output is all zero.
    fn x25519(
        &self,
        private_key: &Secret<X25519_LEN>,
        public_key: &[u8; X25519_LEN],
    ) -> Result<Secret<X25519_LEN>, CryptoError> {
        common::x25519(private_key, public_key)
    }

    /// The Ed25519 public key of a 32-byte seed (RFC 8032 §5.1.5).
    fn ed25519_public_key(&self, seed: &Secret<ED25519_KEY_LEN>) -> [u8; ED25519_KEY_LEN] {
        common::ed25519_public_key(seed)
    }

    /// An Ed25519 signature of `message` (RFC 8032 §5.1.6).
    fn ed25519_sign(
        &self,
        seed: &Secret<ED25519_KEY_LEN>,
        message: &[u8],
    ) -> [u8; ED25519_SIG_LEN] {
        common::ed25519_sign(seed, message)
    }

    /// Strict Ed25519 verification (spec §3.3): canonical `S`, canonical and
    /// non-small-order `R` and `A`, cofactorless equation.
    ///
    /// # Errors
    /// [`CryptoError::InvalidSignature`] on any failure.
    fn ed25519_verify(
        &self,
        public_key: &[u8; ED25519_KEY_LEN],
        message: &[u8],
        signature: &[u8; ED25519_SIG_LEN],
    ) -> Result<(), CryptoError> {
        common::ed25519_verify(public_key, message, signature)
    }

    /// Strict Ed25519 verification of many signatures at once (spec §3.3,
    /// §12.6.1). `Ok` only if every item passes
    /// [`ed25519_verify`](Self::ed25519_verify), except with probability at
    /// most 2⁻¹²⁸. `random` holds 32 bytes per item from the caller's
    /// generator; the batch's coefficients are SHA-512 of them and of every
    /// item, so the bound holds even for a generator with predictable
    /// output, up to a forger's SHA-512 work. Items under a key with a
    /// small-order component are verified one by one inside the call.
    /// `Err` means at least one item fails: verify the items one by one (or
    /// in smaller batches) to learn which.
    ///
    /// # Errors
    /// [`CryptoError::InvalidSignature`], also when `random` does not hold
    /// one entry per item.
    fn ed25519_verify_batch(
        &self,
        items: &[Ed25519BatchItem<'_>],
        random: &[[u8; 32]],
    ) -> Result<(), CryptoError> {
        common::ed25519_verify_batch(
            items,
            random,
            |parts| self.sha512(parts),
            |key, message, signature| self.ed25519_verify(key, message, signature).is_ok(),
        )
    }

    /// ML-KEM-768 key generation from the 64-byte seed `d || z` (FIPS 203 ML-KEM.KeyGen_internal).
    fn ml_kem_768_generate(&self, seed: &Secret<MLKEM_SEED_LEN>) -> MlKemKeyPair {
        common::ml_kem_768_generate(seed)
    }

    /// ML-KEM-768 encapsulation with the 32-byte randomness `m`
    /// (FIPS 203 ML-KEM.Encaps_internal, after the encapsulation-key check).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKemPublicKey`] when the key fails the modulus check.
    fn ml_kem_768_encapsulate(
        &self,
        encapsulation_key: &[u8; MLKEM_EK_LEN],
        randomness: &Secret<MLKEM_SS_LEN>,
    ) -> Result<([u8; MLKEM_CT_LEN], Secret<MLKEM_SS_LEN>), CryptoError> {
        common::ml_kem_768_encapsulate(encapsulation_key, randomness)
    }

    /// ML-KEM-768 decapsulation (FIPS 203 ML-KEM.Decaps, implicit rejection:
    /// a tampered ciphertext yields an unrelated pseudorandom secret, not an error).
    fn ml_kem_768_decapsulate(
        &self,
        decapsulation_key: &Secret<MLKEM_DK_LEN>,
        ciphertext: &[u8; MLKEM_CT_LEN],
    ) -> Secret<MLKEM_SS_LEN> {
        common::ml_kem_768_decapsulate(decapsulation_key, ciphertext)
    }
}

/// The provider the crate's high-level API uses: [`RingProvider`] when the
/// `backend-ring` feature is on, otherwise [`RustCryptoProvider`].
#[cfg(feature = "backend-ring")]
pub type DefaultProvider = RingProvider;
/// The provider the crate's high-level API uses: [`RingProvider`] when the
/// `backend-ring` feature is on, otherwise [`RustCryptoProvider`].
#[cfg(all(not(feature = "backend-ring"), feature = "backend-rustcrypto"))]
pub type DefaultProvider = RustCryptoProvider;

/// Every backend compiled into this build, for tests that compare them.
pub fn all_providers() -> &'static [&'static dyn CryptoProvider] {
    &[
        #[cfg(feature = "backend-ring")]
        &RingProvider,
        #[cfg(feature = "backend-rustcrypto")]
        &RustCryptoProvider,
    ]
}
