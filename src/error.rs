//! Errors of the cryptographic layer.

/// A failure reported by a primitive behind the [`CryptoProvider`](crate::provider::CryptoProvider)
/// boundary. Each variant names one documented condition; none carries secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The AEAD tag did not authenticate the ciphertext, nonce and associated data (spec §3.4).
    #[error("AEAD authentication failed")]
    AeadAuthentication,
    /// An X25519 computation produced the all-zero output: the peer's public
    /// key is a low-order point (spec §3.2).
    #[error("X25519 produced the all-zero output (low-order public key)")]
    X25519LowOrder,
    /// An Ed25519 signature failed strict verification (spec §3.3).
    #[error("Ed25519 signature verification failed")]
    InvalidSignature,
    /// An ML-KEM-768 encapsulation key failed the FIPS 203 modulus check (spec §3.6).
    #[error("ML-KEM-768 encapsulation key is not well formed")]
    InvalidKemPublicKey,
    /// A KDF was asked for more output than HKDF-SHA-256 can give (255 * 32 bytes, spec §3.5).
    #[error("requested KDF output length is too long")]
    KdfOutputTooLong,
    /// A label longer than the encoding allows (spec §2.4).
    #[error("label is too long")]
    LabelTooLong,
    /// The random number generator failed to supply bytes (for example the
    /// operating system refused the request). Nothing was changed.
    #[error("the random number generator failed")]
    RandomnessUnavailable,
}
