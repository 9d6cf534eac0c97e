//! What a responder requires of an initial message before it accepts it
//! (spec §7.6): the peer it expects and, optionally, a header mode.

use super::IdentityKey;
use crate::ratchet::HeaderMode;

/// The checks [`Account::accept_with_policy`](super::Account::accept_with_policy)
/// applies to an initial message before any other work (spec §7.6, steps 2
/// and 3). Both are checked on the message's clear fields, so a refused
/// message costs no public-key operation and changes nothing.
///
/// ```
/// # use sova::session::{AcceptPolicy, IdentityKey};
/// # use sova::ratchet::HeaderMode;
/// # fn f(alice: IdentityKey) {
/// // Only Alice, and only with encrypted headers.
/// let policy = AcceptPolicy::expect(alice).require_header_mode(HeaderMode::Encrypted);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptPolicy {
    peer: Option<IdentityKey>,
    header_mode: Option<HeaderMode>,
}

impl AcceptPolicy {
    /// Accept initial messages from `peer` only: any other initiator is
    /// refused with [`AcceptError::UnexpectedPeer`](super::AcceptError::UnexpectedPeer).
    pub fn expect(peer: IdentityKey) -> Self {
        Self {
            peer: Some(peer),
            header_mode: None,
        }
    }

    /// Accept initial messages from anyone. The application must then decide
    /// whether to trust [`Session::peer_identity`](super::Session::peer_identity)
    /// (first contact: trust on first use, or a safety-number comparison,
    /// [`crate::safety`]).
    pub fn any_peer() -> Self {
        Self {
            peer: None,
            header_mode: None,
        }
    }

    /// Also refuse initial messages whose embedded message uses another
    /// header mode ([`AcceptError::HeaderModeRefused`](super::AcceptError::HeaderModeRefused)):
    /// a responder that requires encrypted headers cannot be talked into
    /// a session with clear ones.
    #[must_use]
    pub fn require_header_mode(mut self, mode: HeaderMode) -> Self {
        self.header_mode = Some(mode);
        self
    }

    /// The expected peer, if any.
    pub fn peer(&self) -> Option<&IdentityKey> {
        self.peer.as_ref()
    }

    /// The required header mode, if any.
    pub fn header_mode(&self) -> Option<HeaderMode> {
        self.header_mode
    }
}
