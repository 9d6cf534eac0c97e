//! # Sova
//!
//! The reference implementation of **Sova**, an open end-to-end encrypted
//! messaging protocol. The normative text is in `spec/`; every module cites
//! the section it implements.
//!
//! The crate is `#![no_std]` (with `alloc`) and contains no `unsafe` code.
//! All randomness is injected through [`rand_core::TryCryptoRng`]: the
//! operating system's generator [`OsRng`] (feature `getrandom`, on by
//! default) in applications, a seeded generator in tests and test vectors. A
//! failing generator is an error that changes nothing, never a panic.
//!
//! ## A session in brief
//!
//! ```
//! use sova::ratchet::HeaderMode;
//! use sova::session::{Account, Session};
//!
//! let mut rng = sova::OsRng; // the operating system's generator
//! let alice = Account::new(&mut rng)?;
//! let mut bob = Account::new(&mut rng)?;
//!
//! // Bob publishes a prekey bundle; Alice, who knows Bob's identity key,
//! // starts a session from it (a bundle of anyone else is refused).
//! let bundle = bob.bundle(None, None)?.to_bytes();
//! let mut to_bob = Session::start(&alice, &mut rng, &bob.identity_key(), &bundle, HeaderMode::Encrypted)?;
//! let first = to_bob.encrypt(&mut rng, b"hi Bob")?;
//!
//! // Bob, who expects Alice, accepts the initial message and answers.
//! let (mut to_alice, plaintext) = bob.accept(&alice.identity_key(), &first)?;
//! assert_eq!(plaintext, b"hi Bob");
//! let reply = to_alice.encrypt(&mut rng, b"hi Alice")?;
//! assert_eq!(to_bob.decrypt(&reply)?, b"hi Alice");
//!
//! // Both sides compare safety numbers out of band: the same 60 digits.
//! let a = sova::safety::SafetyNumber::new(&alice.identity_key(), &to_bob.peer_identity().identity_key());
//! let b = sova::safety::SafetyNumber::new(&bob.identity_key(), &to_alice.peer_identity().identity_key());
//! assert_eq!(a.digits(), b.digits());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Layout
//! * [`provider`] — the one boundary to cryptographic primitives (cipher suite SOVA-1, spec §3).
//! * [`kdf`] — the labelled building blocks every derivation uses (spec §3.7).
//! * [`ratchet`] — the Double Ratchet and its wire format (spec §5, §6).
//! * [`safety`] — safety numbers, the fingerprints two people compare (spec §10).
//! * [`devices`] — several devices per person: signed device lists, linking, fan-out (spec §11).
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
mod codes;
pub mod devices;
pub mod error;
pub mod groups;
pub mod kdf;
pub mod labels;
pub mod provider;
mod random;
#[cfg(feature = "serde")]
mod serde_impls;
#[cfg(feature = "serde")]
pub use serde_impls::identity_key_serde;
pub mod ratchet;
pub mod safety;
pub mod secret;
pub mod session;
pub mod storage;
mod wipe;

pub use error::CryptoError;
pub use provider::{CryptoProvider, DefaultProvider};
pub use rand_core;

#[cfg(feature = "getrandom")]
pub use random::{os_rng, OsRng, OsRngError};
pub use secret::Secret;
