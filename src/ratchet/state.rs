//! The ratchet's persisted form (spec §8.2).
//!
//! ```text
//! RatchetState =
//!   magic "SOVA-1 ratchet" (14 bytes) || version u8 = 1 || mode u8 (1 plain, 2 encrypted)
//!   || generation u64
//!   || u16 len(session_ad) || session_ad
//!   || root_key[32]
//!   || Opt(our_private[32])                                        -- DHs (public key recomputed)
//!   || Opt(their_public[32])                                       -- DHr
//!   || Opt(chain_key[32] || n u32 || Opt(header_key[32]))          -- sending chain
//!   || previous_sending_len u32
//!   || Opt(next_send_header_key[32]) || Opt(next_recv_header_key[32])
//!   || u8 count || count * ReceivingChain                          -- newest first
//!   || check[32]                                                   -- SHA-256 of the rest
//! ReceivingChain =
//!   their_public[32]
//!   || (0x00 || chain_key[32] || next_n u32 | 0x01 || end u32)     -- open | closed
//!   || Opt(header_key[32])
//!   || u16 count || count * (n u32 || message_key[32])            -- increasing n
//! Opt(x) = 0x00 | 0x01 || x
//! ```
//! Exactly one encoding per state; decoding enforces every rule of spec
//! §8.2 (the list there is exhaustive) and rejects trailing bytes.

use alloc::vec::Vec;

use super::{
    ChainPosition, HeaderMode, KeyPair, MessageAd, Ratchet, ReceivingChain, SendingChain,
    MAX_RECEIVING_CHAINS, MAX_SESSION_AD_LEN, MAX_STORED_KEYS,
};
use crate::codec::{Reader, Truncated, Writer};
use crate::provider::{CryptoProvider, DefaultProvider};
use crate::ratchet::kdf::Key;
use crate::secret::{ct_eq_slices, Secret};
use crate::wipe::SecretDeque;

const MAGIC: &[u8; 14] = b"SOVA-1 ratchet";
const STATE_VERSION: u8 = 1;

/// Why bytes are not a valid ratchet state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The input does not start with the ratchet-state magic.
    #[error("not a Sova ratchet state")]
    BadMagic,
    /// A state format version this library does not know (e.g. from a newer release).
    #[error("unsupported ratchet state version {0}")]
    UnsupportedVersion(u8),
    /// The input ends early.
    #[error("ratchet state truncated")]
    Truncated,
    /// A field holds a value the ratchet can never be in.
    #[error("invalid ratchet state field `{0}`")]
    Invalid(&'static str),
    /// Bytes follow the state.
    #[error("trailing bytes after ratchet state")]
    TrailingBytes,
    /// The integrity check that ends the encoding does not match its bytes
    /// (storage corruption or an edited state, spec §8.1).
    #[error("state integrity check failed")]
    Corrupted,
}

/// Reads the `magic || version` that starts every persisted state (spec §8.1).
pub(crate) fn read_state_header(
    r: &mut Reader<'_>,
    magic: &[u8],
    version: u8,
) -> Result<(), StateError> {
    if r.bytes(magic.len()).map_err(|_| StateError::BadMagic)? != magic {
        return Err(StateError::BadMagic);
    }
    let v = r.u8()?;
    if v != version {
        return Err(StateError::UnsupportedVersion(v));
    }
    Ok(())
}

/// Length of the integrity check that ends every plain state encoding (spec §8.1).
pub(crate) const STATE_CHECK_LEN: usize = 32;

/// Opens a plain state encoding (spec §8.1): checks `magic || version`, then
/// the length, then the trailing `SHA-256` of every byte before it, and
/// returns a reader over the fields between the version and the check.
pub(crate) fn open_state<'a>(
    bytes: &'a [u8],
    magic: &[u8],
    version: u8,
) -> Result<Reader<'a>, StateError> {
    let mut r = Reader::new(bytes);
    read_state_header(&mut r, magic, version)?;
    let start = r.position();
    let end = bytes
        .len()
        .checked_sub(STATE_CHECK_LEN)
        .filter(|&end| end >= start)
        .ok_or(StateError::Truncated)?;
    let check = DefaultProvider::default().sha256(&[&bytes[..end]]);
    if !ct_eq_slices(&check, &bytes[end..]) {
        return Err(StateError::Corrupted);
    }
    let mut body = Reader::new(&bytes[..end]);
    body.bytes(start)?;
    Ok(body)
}

/// Appends the integrity check of spec §8.1: `SHA-256` of everything written
/// since `start` (the position of the state's magic in `out`).
pub(crate) fn append_state_check(out: &mut Vec<u8>, start: usize) {
    let check = DefaultProvider::default().sha256(&[&out[start..]]);
    out.extend_from_slice(&check);
}

impl From<Truncated> for StateError {
    fn from(_: Truncated) -> Self {
        Self::Truncated
    }
}

fn put_key(out: &mut Vec<u8>, k: &Key) {
    out.put(k.expose());
}

fn put_opt<T>(out: &mut Vec<u8>, v: Option<&T>, f: impl FnOnce(&mut Vec<u8>, &T)) {
    match v {
        None => out.put_u8(0),
        Some(x) => {
            out.put_u8(1);
            f(out, x);
        }
    }
}

fn get_key(r: &mut Reader<'_>) -> Result<Key, StateError> {
    Ok(Secret::from_bytes(r.array()?))
}

fn get_opt<T>(
    r: &mut Reader<'_>,
    f: impl FnOnce(&mut Reader<'_>) -> Result<T, StateError>,
) -> Result<Option<T>, StateError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(f(r)?)),
        _ => Err(StateError::Invalid("option tag")),
    }
}

impl Ratchet {
    /// Serializes the whole state (secret!) in the format of spec §8.2. Store it
    /// encrypted at rest; the returned bytes are wiped when dropped only if the
    /// caller wraps them (e.g. in `zeroize::Zeroizing`).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Exactly the encoded length: a vector that grew would free earlier
        // buffers holding keys without wiping them.
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// The length of [`to_bytes`](Self::to_bytes).
    pub(crate) fn encoded_len(&self) -> usize {
        const fn opt(present: bool, len: usize) -> usize {
            1 + if present { len } else { 0 }
        }
        let sending = self
            .sending
            .as_ref()
            .map_or(0, |s| 32 + 4 + opt(s.header_key.is_some(), 32));
        let chains: usize = self
            .receiving
            .iter()
            .map(|c| {
                32 + 1
                    + match c.position {
                        ChainPosition::Open { .. } => 32 + 4,
                        ChainPosition::Closed { .. } => 4,
                    }
                    + opt(c.header_key.is_some(), 32)
                    + 2
                    + c.skipped.len() * (4 + 32)
            })
            .sum();
        MAGIC.len()
            + 1
            + 1
            + 8
            + 2
            + self.session_ad().len()
            + 32
            + opt(self.ours.is_some(), 32)
            + opt(self.theirs.is_some(), 32)
            + opt(self.sending.is_some(), sending)
            + 4
            + opt(self.next_send_header_key.is_some(), 32)
            + opt(self.next_recv_header_key.is_some(), 32)
            + 1
            + chains
            + STATE_CHECK_LEN
    }

    /// Appends the encoding of spec §8.2 to `out` (which should have room for
    /// [`encoded_len`](Self::encoded_len) more bytes).
    pub(crate) fn write_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.put(MAGIC);
        out.put_u8(STATE_VERSION);
        out.put_u8(match self.mode {
            HeaderMode::Plain => 1,
            HeaderMode::Encrypted => 2,
        });
        out.put(&self.generation.to_be_bytes());
        out.put_u16(self.session_ad().len() as u16);
        out.put(self.session_ad());
        put_key(out, &self.root_key);
        put_opt(out, self.ours.as_ref(), |o, kp| put_key(o, &kp.private));
        put_opt(out, self.theirs.as_ref(), |o, k| o.put(k));
        put_opt(out, self.sending.as_ref(), |o, s| {
            put_key(o, &s.chain_key);
            o.put_u32(s.n);
            put_opt(o, s.header_key.as_ref(), put_key);
        });
        out.put_u32(self.previous_sending_len);
        put_opt(out, self.next_send_header_key.as_ref(), put_key);
        put_opt(out, self.next_recv_header_key.as_ref(), put_key);
        out.put_u8(self.receiving.len() as u8);
        for c in &self.receiving {
            out.put(&c.their_ratchet_key);
            match &c.position {
                ChainPosition::Open { chain_key, next_n } => {
                    out.put_u8(0);
                    put_key(out, chain_key);
                    out.put_u32(*next_n);
                }
                ChainPosition::Closed { end } => {
                    out.put_u8(1);
                    out.put_u32(*end);
                }
            }
            put_opt(out, c.header_key.as_ref(), put_key);
            out.put_u16(c.skipped.len() as u16);
            for (n, k) in &c.skipped {
                out.put_u32(*n);
                put_key(out, k);
            }
        }
        append_state_check(out, start);
    }

    /// Restores a state written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    /// [`StateError`] naming what is wrong; never panics on any input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, StateError> {
        Self::from_bytes_with(&DefaultProvider::default(), bytes)
    }

    /// [`from_bytes`](Self::from_bytes) with an explicit provider (it
    /// recomputes the public key of the sending ratchet key).
    ///
    /// # Errors
    /// As [`from_bytes`](Self::from_bytes).
    pub fn from_bytes_with<P: CryptoProvider + ?Sized>(
        p: &P,
        bytes: &[u8],
    ) -> Result<Self, StateError> {
        // spec §8.2: the fields are read in order, each checked as it is
        // read (rules R1–R7); the rules that relate several fields (C1–C6)
        // are checked after the last field, in that order.
        let mut r = open_state(bytes, MAGIC, STATE_VERSION)?;
        let mode = match r.u8()? {
            1 => HeaderMode::Plain,
            2 => HeaderMode::Encrypted,
            _ => return Err(StateError::Invalid("mode")),
        };
        let he = mode == HeaderMode::Encrypted;
        let generation = u64::from_be_bytes(r.array()?);
        let ad_len = r.u16()? as usize;
        if ad_len > MAX_SESSION_AD_LEN {
            return Err(StateError::Invalid("session_ad"));
        }
        let ad = MessageAd::new(r.bytes(ad_len)?);
        let root_key = get_key(&mut r)?;
        let ours = get_opt(&mut r, |r| {
            let private = get_key(r)?;
            let public = p.x25519_public_key(&private);
            Ok(KeyPair { private, public })
        })?;
        let theirs = get_opt(&mut r, |r| Ok(r.array()?))?;
        let sending = get_opt(&mut r, |r| {
            Ok(SendingChain {
                chain_key: get_key(r)?,
                n: r.u32()?,
                header_key: get_opt(r, get_key)?,
            })
        })?;
        let previous_sending_len = r.u32()?;
        let next_send_header_key = get_opt(&mut r, get_key)?;
        let next_recv_header_key = get_opt(&mut r, get_key)?;
        let count = r.u8()? as usize;
        if count > MAX_RECEIVING_CHAINS {
            return Err(StateError::Invalid("receiving chain count"));
        }
        let mut receiving = SecretDeque::with_capacity(count);
        let mut stored = 0usize;
        for i in 0..count {
            let their_ratchet_key = r.array()?;
            let position = match r.u8()? {
                0 => ChainPosition::Open {
                    chain_key: get_key(&mut r)?,
                    next_n: r.u32()?,
                },
                1 => ChainPosition::Closed { end: r.u32()? },
                _ => return Err(StateError::Invalid("chain position")),
            };
            // R5: the newest chain is open, every older one closed, and an
            // open chain has received at least one message.
            let (limit, open) = match &position {
                ChainPosition::Open { next_n, .. } => (*next_n, true),
                ChainPosition::Closed { end } => (*end, false),
            };
            if open != (i == 0) || (open && limit == 0) {
                return Err(StateError::Invalid("chain position"));
            }
            let header_key = get_opt(&mut r, get_key)?;
            let k = r.u16()? as usize;
            stored += k;
            if stored > MAX_STORED_KEYS {
                return Err(StateError::Invalid("stored key count"));
            }
            let mut skipped: SecretDeque<(u32, Key)> = SecretDeque::with_capacity(k);
            for _ in 0..k {
                let n = r.u32()?;
                let key = get_key(&mut r)?;
                // R7: increasing, below Nr (open) or END (closed).
                if n >= limit || skipped.back().is_some_and(|(prev, _)| *prev >= n) {
                    return Err(StateError::Invalid("skipped key order"));
                }
                skipped.push_back((n, key));
            }
            receiving.push_back(ReceivingChain {
                their_ratchet_key,
                position,
                header_key,
                skipped,
            });
        }
        if r.remaining() != 0 {
            return Err(StateError::TrailingBytes);
        }
        // C1: header keys exactly in ENCRYPTED mode.
        if next_send_header_key.is_some() != he
            || next_recv_header_key.is_some() != he
            || sending
                .as_ref()
                .is_some_and(|s| s.header_key.is_some() != he)
            || receiving.iter().any(|c| c.header_key.is_some() != he)
        {
            return Err(StateError::Invalid("header keys"));
        }
        // C2: a sending chain has sent a message and needs both ratchet keys.
        if let Some(s) = &sending {
            if s.n == 0 || ours.is_none() || theirs.is_none() {
                return Err(StateError::Invalid("sending chain"));
            }
        }
        // C3: the peer's key is unknown exactly while we hold a ratchet key
        // pair without a sending chain: a responder before the first message.
        if theirs.is_none() != (ours.is_some() && sending.is_none()) {
            return Err(StateError::Invalid("ratchet key pair"));
        }
        // C4: the peer's key is that of the newest receiving chain, if any.
        match (receiving.front(), &theirs) {
            (Some(c), Some(t)) if c.their_ratchet_key == *t => {}
            (None, _) => {}
            _ => return Err(StateError::Invalid("peer ratchet key")),
        }
        // C5: no two receiving chains share a ratchet key.
        for (i, c) in receiving.iter().enumerate() {
            if receiving
                .iter()
                .skip(i + 1)
                .any(|d| d.their_ratchet_key == c.their_ratchet_key)
            {
                return Err(StateError::Invalid("duplicate receiving chain"));
            }
        }
        // C6: every encryption and decryption counts, so a state that has
        // sent or received has a non-zero generation.
        if generation == 0 && (sending.is_some() || !receiving.is_empty()) {
            return Err(StateError::Invalid("generation"));
        }
        Ok(Self {
            mode,
            generation,
            ad,
            root_key,
            ours,
            theirs,
            sending,
            previous_sending_len,
            next_send_header_key,
            next_recv_header_key,
            receiving,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{CryptoProvider, DefaultProvider};
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    /// `to_bytes` allocates once, exactly: a buffer that grew would have
    /// freed earlier copies of the keys without wiping them.
    #[test]
    fn encoding_is_written_without_reallocation() {
        let mut rng = ChaCha20Rng::from_seed([4; 32]);
        for mode in [HeaderMode::Plain, HeaderMode::Encrypted] {
            let sk = Secret::from_bytes([1; 32]);
            let bob_private = Secret::from_bytes([2; 32]);
            let bob_public = DefaultProvider::default().x25519_public_key(&bob_private);
            let mut a = Ratchet::initiator(&sk, bob_public, &[7; 32], mode).unwrap();
            let mut b = Ratchet::responder(&sk, bob_private, &[7; 32], mode).unwrap();
            let check = |r: &Ratchet| {
                let bytes = r.to_bytes();
                assert_eq!(bytes.len(), r.encoded_len());
                assert_eq!(bytes.capacity(), bytes.len());
                assert_eq!(Ratchet::from_bytes(&bytes).unwrap().to_bytes(), bytes);
            };
            check(&a);
            check(&b);
            // Several chains, each with skipped keys and an announced end.
            for round in 0..7 {
                let mut wires = Vec::new();
                for i in 0..5 {
                    wires.push(a.encrypt(&mut rng, &[round; 40][..i]).unwrap());
                }
                b.decrypt(&wires[4]).unwrap();
                b.decrypt(&wires[1]).unwrap();
                check(&a);
                check(&b);
                let reply = b.encrypt(&mut rng, b"ok").unwrap();
                a.decrypt(&reply).unwrap();
                core::mem::swap(&mut a, &mut b);
            }
            check(&a);
            check(&b);
        }
    }
}
