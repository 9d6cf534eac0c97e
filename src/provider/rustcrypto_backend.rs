//! The pure-Rust backend: RustCrypto for every symmetric primitive.

use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use sha2::{Digest, Sha512};

use super::{CryptoProvider, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::error::CryptoError;
use crate::secret::Secret;

/// The pure-Rust [`CryptoProvider`], for targets *ring* does not support.
#[derive(Debug, Clone, Copy, Default)]
pub struct RustCryptoProvider;

impl CryptoProvider for RustCryptoProvider {
    fn name(&self) -> &'static str {
        "rustcrypto"
    }

    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        let mut h = Sha512::new();
        for part in parts {
            h.update(part);
        }
        h.finalize().into()
    }

    fn aead_seal(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; AEAD_TAG_LEN] {
        let cipher = ChaCha20Poly1305::new(key.expose().into());
        // Encryption only fails past ChaCha20's 2^38-byte limit.
        match cipher.encrypt_inout_detached(nonce.into(), aad, in_out.into()) {
            Ok(tag) => tag.into(),
            Err(_) => too_long(),
        }
    }

    fn aead_open(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), CryptoError> {
        let cipher = ChaCha20Poly1305::new(key.expose().into());
        cipher
            .decrypt_inout_detached(nonce.into(), aad, in_out.into(), tag.into())
            .map_err(|_| CryptoError::AeadAuthentication)
    }
}

#[cold]
fn too_long() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("ChaCha20-Poly1305 input exceeds 2^38 bytes")
    }
}
