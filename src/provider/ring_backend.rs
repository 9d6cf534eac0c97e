//! The default backend: ChaCha20-Poly1305 and SHA-512 from *ring*; SHA-256,
//! HMAC, HKDF and the asymmetric primitives shared with the pure-Rust backend
//! (each choice measured, see `benches/RESULTS.md`).

use ring::aead::{Aad, LessSafeKey, Nonce, Tag, UnboundKey, CHACHA20_POLY1305};
use ring::digest;

use super::{CryptoProvider, AEAD_KEY_LEN, AEAD_NONCE_LEN, AEAD_TAG_LEN};
use crate::error::CryptoError;
use crate::secret::Secret;

/// The default [`CryptoProvider`]: *ring* for ChaCha20-Poly1305 and SHA-512.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingProvider;

fn aead_key(key: &Secret<AEAD_KEY_LEN>) -> LessSafeKey {
    // A 32-byte key is exactly what CHACHA20_POLY1305 takes, so `new` succeeds;
    // ring only fails on a wrong length.
    match UnboundKey::new(&CHACHA20_POLY1305, key.expose()) {
        Ok(k) => LessSafeKey::new(k),
        Err(_) => unreachable_key_length(),
    }
}

#[cold]
fn unreachable_key_length() -> ! {
    #[allow(clippy::panic)]
    {
        panic!("ring rejected a 32-byte ChaCha20-Poly1305 key")
    }
}

fn digest_parts<const N: usize>(alg: &'static digest::Algorithm, parts: &[&[u8]]) -> [u8; N] {
    let mut ctx = digest::Context::new(alg);
    for part in parts {
        ctx.update(part);
    }
    let mut out = [0u8; N];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl CryptoProvider for RingProvider {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        digest_parts(&digest::SHA512, parts)
    }

    fn aead_seal(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; AEAD_TAG_LEN] {
        let key = aead_key(key);
        // ring only fails to seal inputs longer than ChaCha20's 2^38-byte
        // limit, which no slice on a real machine reaches.
        match key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            in_out,
        ) {
            Ok(tag) => {
                let mut out = [0u8; AEAD_TAG_LEN];
                out.copy_from_slice(tag.as_ref());
                out
            }
            Err(_) => unreachable_key_length(),
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
        let key = aead_key(key);
        key.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            Tag::from(*tag),
            in_out,
            0..,
        )
        .map(|_| ())
        .map_err(|_| CryptoError::AeadAuthentication)
    }
}
