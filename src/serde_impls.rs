//! `serde` support for public values (feature `serde`): identities and
//! bundles as their canonical encodings (spec §7.1, §7.3), written as
//! lowercase hex in human-readable formats (JSON) and as bytes otherwise;
//! header modes and prekey kinds as their names; message positions as
//! structs; errors (serialization only) as `{ "code", "message" }`.
//!
//! Secret state has no `serde` support: it keeps its own encodings (spec §8).
//! Deserializing checks structure only; signatures are checked where the
//! protocol uses them (`Session::start` verifies a bundle, `Account::accept`
//! an initiator's identity).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use crate::codec::Reader;
use crate::session::{IdentityKey, IdentityPublic, PrekeyBundle, IDENTITY_PUBLIC_LEN};

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

fn put_bytes<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if s.is_human_readable() {
        s.serialize_str(&hex(bytes))
    } else {
        s.serialize_bytes(bytes)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bytes, or a string of lowercase hex digits")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        unhex(v).ok_or_else(|| E::custom("not lowercase hex"))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
        let mut out = Vec::new();
        while let Some(b) = seq.next_element::<u8>()? {
            out.push(b);
        }
        Ok(out)
    }
}

fn get_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    if d.is_human_readable() {
        d.deserialize_str(BytesVisitor)
    } else {
        d.deserialize_bytes(BytesVisitor)
    }
}

impl Serialize for IdentityPublic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        put_bytes(&self.to_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for IdentityPublic {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = get_bytes(d)?;
        if bytes.len() != IDENTITY_PUBLIC_LEN {
            return Err(de::Error::invalid_length(bytes.len(), &"128 bytes"));
        }
        IdentityPublic::read(&mut Reader::new(&bytes))
            .map_err(|_| de::Error::invalid_length(bytes.len(), &"128 bytes"))
    }
}

impl Serialize for PrekeyBundle {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        put_bytes(&self.to_bytes(), s)
    }
}

impl<'de> Deserialize<'de> for PrekeyBundle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = get_bytes(d)?;
        PrekeyBundle::parse(&bytes).map_err(de::Error::custom)
    }
}

/// `serde` functions for an [`IdentityKey`] (a 64-byte array, which `serde`
/// does not derive for): `#[serde(with = "sova::identity_key_serde")]`.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Contact {
///     name: String,
///     #[serde(with = "sova::identity_key_serde")]
///     identity_key: sova::session::IdentityKey,
///     bundle: Option<sova::session::PrekeyBundle>,
/// }
/// # }
/// ```
pub mod identity_key_serde {
    use super::*;

    /// Writes the 64 bytes (hex in human-readable formats).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(key: &IdentityKey, s: S) -> Result<S::Ok, S::Error> {
        put_bytes(key, s)
    }

    /// Reads exactly 64 bytes.
    ///
    /// # Errors
    /// Another length, or the deserializer's error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IdentityKey, D::Error> {
        let bytes = get_bytes(d)?;
        IdentityKey::try_from(bytes.as_slice())
            .map_err(|_| de::Error::invalid_length(bytes.len(), &"64 bytes"))
    }
}
