//! A memoising wrapper around a real crypto provider, for fuzz builds only.
//!
//! Compiled only with `cfg(fuzzing)` (set by `cargo fuzz`); `cargo test` and
//! the stable `cargo check` of the fuzz crate never see it. The checks pick it
//! through `checked_providers()` in `ratchet.rs` and `session.rs`.
//!
//! Every public-key operation (X25519, Ed25519, ML-KEM-768) is computed by the
//! wrapped provider the first time it is asked for, and its result is
//! remembered, keyed by the SHA-256 of the complete input bytes. The provider
//! contract requires each method to be a deterministic function of its
//! inputs, so the wrapper returns byte for byte what the real provider
//! returns; it only avoids recomputing the scalar multiplications and lattice
//! operations that fuzz inputs repeat (the fixtures' keys, the ratchet keys
//! many schedules reach), which in an instrumented build cost milliseconds
//! each. Hashes, HMAC, HKDF and the AEAD are passed through unchanged. Each
//! cache holds at most [`MAX_ENTRIES`] ([`MAX_KEM_ENTRIES`] for ML-KEM)
//! results and is emptied when full. Each backend has its own caches, so the
//! differential checks still compare two computations.
//!
//! Setting `SOVA_FUZZ_REAL_PROVIDER=1` in the environment turns the caches
//! off, so every operation runs on the real provider; `.ci/run` replays each
//! target's corpus that way after fuzzing it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sova::provider::{
    all_providers, CryptoProvider, Ed25519BatchItem, MlKemKeyPair, AEAD_KEY_LEN, AEAD_NONCE_LEN,
    AEAD_TAG_LEN, ED25519_KEY_LEN, ED25519_SIG_LEN, HASH_LEN, MLKEM_CT_LEN, MLKEM_DK_LEN,
    MLKEM_EK_LEN, MLKEM_SEED_LEN, MLKEM_SS_LEN, X25519_LEN,
};
use sova::{CryptoError, Secret};

/// Entries per cache (X25519, Ed25519) before it is emptied: room for the
/// session starts of every seed byte of `conversation` besides the ratchet
/// steps, whose keys rarely recur. A table is allocated at its full size
/// (at most about 50 MB of address space), but its pages are touched, and
/// count towards libFuzzer's RSS limit, only as it fills.
pub const MAX_ENTRIES: usize = 1 << 18;
/// Entries per ML-KEM cache (results of up to 3.5 kilobytes).
pub const MAX_KEM_ENTRIES: usize = 1 << 13;

/// Whether the caches are on (`SOVA_FUZZ_REAL_PROVIDER` unset or not `1`).
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var("SOVA_FUZZ_REAL_PROVIDER").as_deref() != Ok("1"))
}

/// Results of one operation, keyed by the SHA-256 of its complete input (the
/// parts are fixed-length but for a trailing message, so the concatenation
/// is unambiguous). The table is allocated once at its full capacity and
/// emptied in place when full: a lookup or insertion never allocates, so
/// libFuzzer's leak heuristic (more allocations than frees during an input)
/// is not set off by the cache.
struct Cache<const V: usize> {
    capacity: usize,
    map: OnceLock<Mutex<HashMap<[u8; 32], [u8; V]>>>,
}

impl<const V: usize> Cache<V> {
    const fn new(capacity: usize) -> Self {
        Self {
            capacity,
            map: OnceLock::new(),
        }
    }

    /// The remembered result for `key`, or `compute()` (then remembered).
    fn get(
        &self,
        inner: &dyn CryptoProvider,
        key: &[&[u8]],
        compute: impl FnOnce() -> [u8; V],
    ) -> [u8; V] {
        let map = self
            .map
            .get_or_init(|| Mutex::new(HashMap::with_capacity(self.capacity)));
        let key = inner.sha256(key);
        if let Some(v) = map.lock().unwrap().get(&key) {
            return *v;
        }
        let v = compute();
        let mut map = map.lock().unwrap();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(key, v);
        v
    }
}

/// The wrapper; see the module documentation.
pub struct Memo {
    inner: &'static dyn CryptoProvider,
    x25519: Cache<{ 1 + X25519_LEN }>,
    x25519_public: Cache<X25519_LEN>,
    ed25519_public: Cache<ED25519_KEY_LEN>,
    ed25519_sign: Cache<ED25519_SIG_LEN>,
    ed25519_verify: Cache<2>,
    kem_generate: Cache<{ MLKEM_DK_LEN + MLKEM_EK_LEN }>,
    kem_encapsulate: Cache<{ 2 + MLKEM_CT_LEN + MLKEM_SS_LEN }>,
    kem_decapsulate: Cache<MLKEM_SS_LEN>,
}

impl Memo {
    fn new(inner: &'static dyn CryptoProvider) -> Self {
        Self {
            inner,
            x25519: Cache::new(MAX_ENTRIES),
            x25519_public: Cache::new(MAX_ENTRIES),
            ed25519_public: Cache::new(MAX_ENTRIES),
            ed25519_sign: Cache::new(MAX_ENTRIES),
            ed25519_verify: Cache::new(MAX_ENTRIES),
            kem_generate: Cache::new(MAX_KEM_ENTRIES),
            kem_encapsulate: Cache::new(MAX_KEM_ENTRIES),
            kem_decapsulate: Cache::new(MAX_KEM_ENTRIES),
        }
    }
}

/// Every compiled-in provider, wrapped (or unwrapped when the caches are off),
/// in the order of `all_providers()`.
pub fn providers() -> &'static [&'static dyn CryptoProvider] {
    static ALL: OnceLock<Vec<&'static dyn CryptoProvider>> = OnceLock::new();
    ALL.get_or_init(|| {
        all_providers()
            .iter()
            .map(|p| -> &'static dyn CryptoProvider {
                if enabled() {
                    Box::leak(Box::new(Memo::new(*p)))
                } else {
                    *p
                }
            })
            .collect()
    })
}

/// `Ok(bytes)` as `0 || bytes`, an error as `1 || code || zeros`.
fn encode<const V: usize>(r: Result<&[u8], CryptoError>) -> [u8; V] {
    let mut out = [0u8; V];
    match r {
        Ok(v) => out[1..].copy_from_slice(v),
        Err(e) => {
            out[0] = 1;
            out[1] = error_code(e);
        }
    }
    out
}

fn error_code(e: CryptoError) -> u8 {
    match e {
        CryptoError::X25519LowOrder => 1,
        CryptoError::InvalidSignature => 2,
        CryptoError::InvalidKemPublicKey => 3,
        other => panic!("memo: unexpected error {other:?}"),
    }
}

fn decode(v: &[u8]) -> Result<&[u8], CryptoError> {
    match v[0] {
        0 => Ok(&v[1..]),
        _ => Err(match v[1] {
            1 => CryptoError::X25519LowOrder,
            2 => CryptoError::InvalidSignature,
            _ => CryptoError::InvalidKemPublicKey,
        }),
    }
}

fn arr<const N: usize>(v: &[u8]) -> [u8; N] {
    v.try_into().unwrap()
}

impl CryptoProvider for Memo {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn sha256(&self, parts: &[&[u8]]) -> [u8; HASH_LEN] {
        self.inner.sha256(parts)
    }
    fn sha512(&self, parts: &[&[u8]]) -> [u8; 64] {
        self.inner.sha512(parts)
    }
    fn hmac_sha256(&self, key: &[u8], parts: &[&[u8]]) -> Secret<HASH_LEN> {
        self.inner.hmac_sha256(key, parts)
    }
    fn hkdf_extract(&self, salt: &[u8], ikm_parts: &[&[u8]]) -> Secret<HASH_LEN> {
        self.inner.hkdf_extract(salt, ikm_parts)
    }
    fn hkdf_expand(
        &self,
        prk: &Secret<HASH_LEN>,
        info_parts: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.inner.hkdf_expand(prk, info_parts, okm)
    }
    fn aead_seal(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> [u8; AEAD_TAG_LEN] {
        self.inner.aead_seal(key, nonce, aad, in_out)
    }
    fn aead_open(
        &self,
        key: &Secret<AEAD_KEY_LEN>,
        nonce: &[u8; AEAD_NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; AEAD_TAG_LEN],
    ) -> Result<(), CryptoError> {
        self.inner.aead_open(key, nonce, aad, in_out, tag)
    }
    fn x25519_public_key(&self, private_key: &Secret<X25519_LEN>) -> [u8; X25519_LEN] {
        self.x25519_public
            .get(self.inner, &[private_key.expose()], || {
                self.inner.x25519_public_key(private_key)
            })
    }
    fn x25519(
        &self,
        private_key: &Secret<X25519_LEN>,
        public_key: &[u8; X25519_LEN],
    ) -> Result<Secret<X25519_LEN>, CryptoError> {
        let v = self
            .x25519
            .get(self.inner, &[private_key.expose(), public_key], || {
                let r = self.inner.x25519(private_key, public_key);
                encode(r.as_ref().map(|s| &s.expose()[..]).map_err(|e| *e))
            });
        decode(&v).map(|s| Secret::from_bytes(arr(s)))
    }
    fn ed25519_public_key(&self, seed: &Secret<ED25519_KEY_LEN>) -> [u8; ED25519_KEY_LEN] {
        self.ed25519_public.get(self.inner, &[seed.expose()], || {
            self.inner.ed25519_public_key(seed)
        })
    }
    fn ed25519_sign(
        &self,
        seed: &Secret<ED25519_KEY_LEN>,
        message: &[u8],
    ) -> [u8; ED25519_SIG_LEN] {
        self.ed25519_sign
            .get(self.inner, &[seed.expose(), message], || {
                self.inner.ed25519_sign(seed, message)
            })
    }
    fn ed25519_verify(
        &self,
        public_key: &[u8; ED25519_KEY_LEN],
        message: &[u8],
        signature: &[u8; ED25519_SIG_LEN],
    ) -> Result<(), CryptoError> {
        let v = self
            .ed25519_verify
            .get(self.inner, &[public_key, signature, message], || {
                encode(
                    self.inner
                        .ed25519_verify(public_key, message, signature)
                        .map(|()| &[0u8][..]),
                )
            });
        decode(&v).map(|_| ())
    }
    /// Fuzz builds only: every item through the memoised
    /// [`ed25519_verify`](Self::ed25519_verify), which is what the real batch
    /// promises (`Ok` exactly when every item passes, up to its 2⁻¹²⁸ bound),
    /// without its fixed cost (128 subset sums checked for torsion, several
    /// milliseconds a call). The real batch is checked by
    /// `provider_differential` and by the replays with
    /// `SOVA_FUZZ_REAL_PROVIDER=1`, which bypass this wrapper.
    fn ed25519_verify_batch(
        &self,
        items: &[Ed25519BatchItem<'_>],
        random: &[[u8; 32]],
    ) -> Result<(), CryptoError> {
        if items.len() != random.len() {
            return Err(CryptoError::InvalidSignature);
        }
        for item in items {
            let message: Vec<u8> = item.message.concat();
            self.ed25519_verify(item.public_key, &message, item.signature)?;
        }
        Ok(())
    }
    fn ml_kem_768_generate(&self, seed: &Secret<MLKEM_SEED_LEN>) -> MlKemKeyPair {
        let v = self.kem_generate.get(self.inner, &[seed.expose()], || {
            let k = self.inner.ml_kem_768_generate(seed);
            let mut out = [0u8; MLKEM_DK_LEN + MLKEM_EK_LEN];
            out[..MLKEM_DK_LEN].copy_from_slice(k.decapsulation_key.expose());
            out[MLKEM_DK_LEN..].copy_from_slice(&k.encapsulation_key);
            out
        });
        MlKemKeyPair {
            decapsulation_key: Secret::from_bytes(arr(&v[..MLKEM_DK_LEN])),
            encapsulation_key: arr(&v[MLKEM_DK_LEN..]),
        }
    }
    fn ml_kem_768_encapsulate(
        &self,
        encapsulation_key: &[u8; MLKEM_EK_LEN],
        randomness: &Secret<MLKEM_SS_LEN>,
    ) -> Result<([u8; MLKEM_CT_LEN], Secret<MLKEM_SS_LEN>), CryptoError> {
        let v = self.kem_encapsulate.get(
            self.inner,
            &[encapsulation_key, randomness.expose()],
            || match self
                .inner
                .ml_kem_768_encapsulate(encapsulation_key, randomness)
            {
                Ok((ct, ss)) => {
                    let mut b = [0u8; 1 + MLKEM_CT_LEN + MLKEM_SS_LEN];
                    b[..MLKEM_CT_LEN].copy_from_slice(&ct);
                    b[MLKEM_CT_LEN..MLKEM_CT_LEN + MLKEM_SS_LEN].copy_from_slice(ss.expose());
                    encode(Ok(&b))
                }
                Err(e) => encode(Err(e)),
            },
        );
        decode(&v).map(|b| {
            (
                arr(&b[..MLKEM_CT_LEN]),
                Secret::from_bytes(arr(&b[MLKEM_CT_LEN..MLKEM_CT_LEN + MLKEM_SS_LEN])),
            )
        })
    }
    fn ml_kem_768_decapsulate(
        &self,
        decapsulation_key: &Secret<MLKEM_DK_LEN>,
        ciphertext: &[u8; MLKEM_CT_LEN],
    ) -> Secret<MLKEM_SS_LEN> {
        Secret::from_bytes(self.kem_decapsulate.get(
            self.inner,
            &[decapsulation_key.expose(), ciphertext],
            || {
                *self
                    .inner
                    .ml_kem_768_decapsulate(decapsulation_key, ciphertext)
                    .expose()
            },
        ))
    }
}
