//! # Sova
//!
//! The reference implementation of **Sova**, an open end-to-end encrypted
//! messaging protocol. The normative text is in `spec/`; every module cites
//! the section it implements.
//!
//! The crate is `#![no_std]` (with `alloc`) and contains no `unsafe` code.
//! All randomness is injected through [`rand_core::CryptoRng`], so every
//! operation is reproducible in tests and test vectors.
//!
//! ## Layout
//! * [`provider`] — the one boundary to cryptographic primitives (cipher suite SOVA-1, spec §3).
//! * [`kdf`] — the labelled building blocks every derivation uses (spec §3.7).
//! * [`ratchet`] — the Double Ratchet and its wire format (spec §5, §6).
//! * [`safety`] — safety numbers, the fingerprints two people compare (spec §10).
//! * [`session`] — identities, prekey bundles, the hybrid handshake and the session API (spec §7).
//! * [`storage`] — encryption of persisted state at rest (spec §8.3).
//! * [`secret`] — zeroizing, constant-time secret bytes.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

extern crate alloc;

/// The README's code examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod codec;
pub mod error;
pub mod kdf;
pub mod labels;
pub mod provider;
pub mod ratchet;
pub mod safety;
pub mod secret;
pub mod session;
pub mod storage;

pub use error::CryptoError;
pub use provider::{CryptoProvider, DefaultProvider};
pub use rand_core;
pub use secret::Secret;
