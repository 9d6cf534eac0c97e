//! Simultaneous initiation (spec §7.7): two sessions with one peer converge on one.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{
    AcceptError, Account, DecryptError, HandshakeHeader, IdentityKey, Session, TYPE_INITIAL,
};
use crate::ratchet;
use crate::wipe;

/// All sessions with one peer, and the rule that picks the one to send on.
///
/// When both parties start a session to each other at once, each ends up with
/// two: the one it initiated and the one it accepted. Both keep both for
/// decryption; both send on the session initiated by the party whose 64-byte
/// identity key is smaller (lexicographically), so they converge on the same
/// session without a further message. The other session is dropped once a
/// message arrives on the chosen one.
///
/// Confirmed sessions ([`Session::is_confirmed`]: the peer has sent a
/// non-initial message on them) come first: a session set up from a late or
/// replayed initial message is never confirmed when it arrives, so it cannot
/// take the sending side from a session the peer is known to use.
///
/// A conversation is bound to one peer identity: that of its first session.
/// Sessions and initial messages of any other identity are refused
/// ([`ConversationError::OtherPeer`]); otherwise anyone able to deliver an
/// initial message could add a session whose initiator key sorts first and
/// so take over the conversation's sending side.
#[derive(Debug, Default)]
pub struct Conversation {
    sessions: Vec<Session>,
}

impl Conversation {
    /// A conversation with one session.
    pub fn new(session: Session) -> Self {
        Self {
            sessions: alloc::vec![session],
        }
    }

    /// Adds a session (for example one accepted while ours was pending).
    ///
    /// # Errors
    /// [`ConversationError::OtherPeer`] when the session's peer is not the
    /// conversation's peer; the session is then not added.
    pub fn add(&mut self, session: Session) -> Result<(), ConversationError> {
        if let Some(peer) = self.peer() {
            if session.peer_identity().identity_key() != peer {
                return Err(ConversationError::OtherPeer);
            }
        }
        wipe::push(&mut self.sessions, session);
        Ok(())
    }

    /// The peer's identity key: that of the first session's peer, if any.
    pub fn peer(&self) -> Option<IdentityKey> {
        self.sessions
            .first()
            .map(|s| s.peer_identity().identity_key())
    }

    /// The sessions held, for inspection.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Index of the session to send on (spec §7.7).
    fn active(&self) -> Option<usize> {
        // Confirmed sessions first; then the smallest initiator identity key;
        // among sessions with the same initiator (a peer that started again,
        // e.g. after restoring its account), the newest (spec §7.7).
        (0..self.sessions.len()).min_by_key(|&i| {
            let s = &self.sessions[i];
            (
                !s.is_confirmed(),
                s.initiator_identity(),
                core::cmp::Reverse(i),
            )
        })
    }

    /// The session messages are sent on.
    pub fn active_session(&self) -> Option<&Session> {
        self.active().and_then(|i| self.sessions.get(i))
    }

    /// Encrypts on the active session.
    ///
    /// # Errors
    /// [`ratchet::EncryptError::NoSendingChain`] if there is no session.
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, ratchet::EncryptError> {
        let i = self.active().ok_or(ratchet::EncryptError::NoSendingChain)?;
        match self.sessions.get_mut(i) {
            Some(s) => s.encrypt(rng, plaintext),
            None => Err(ratchet::EncryptError::NoSendingChain),
        }
    }

    /// Decrypts a message from the peer: tries each session (the active one
    /// first); an initial message that no session knows is accepted through
    /// `account` as a new session, provided it comes from the conversation's
    /// peer (or the conversation is empty). Nothing changes on error.
    ///
    /// # Errors
    /// The active session's error when no session accepts the message,
    /// [`ConversationError::OtherPeer`] for a new initial message from another
    /// identity (checked before `account` is touched), or the [`AcceptError`]
    /// of a new initial message (wrapped as [`ConversationError::Accept`]).
    pub fn decrypt(
        &mut self,
        account: &mut Account,
        message: &[u8],
    ) -> Result<Vec<u8>, ConversationError> {
        let active = self.active();
        let mut order: Vec<usize> = active.into_iter().collect();
        order.extend((0..self.sessions.len()).filter(|i| Some(*i) != active));
        let mut first_err = None;
        for i in order {
            let Some(s) = self.sessions.get_mut(i) else {
                continue;
            };
            match s.decrypt(message) {
                Ok(pt) => {
                    // Decided after the decryption, which may have confirmed
                    // session `i` and so made it the active one.
                    if message.get(1) != Some(&TYPE_INITIAL)
                        && self.sessions.len() > 1
                        && self.active() == Some(i)
                    {
                        // The peer has converged on the active session.
                        let keep = self.sessions.swap_remove(i);
                        self.sessions.clear();
                        // `swap_remove` left a copy of the last session's keys in a freed slot.
                        wipe::wipe_spare(&mut self.sessions);
                        self.sessions.push(keep);
                    }
                    return Ok(pt);
                }
                Err(DecryptError::NotThisSession) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if message.get(1) == Some(&TYPE_INITIAL) && first_err.is_none() {
            // `accept` commits (one-time prekeys, replay records): refuse another
            // peer first. A malformed message is left to `accept` to report.
            if let (Some(peer), Ok((h, _))) = (self.peer(), HandshakeHeader::parse(message)) {
                if h.identity.identity_key() != peer {
                    return Err(ConversationError::OtherPeer);
                }
            }
            let (session, pt) = account.accept(message)?;
            wipe::push(&mut self.sessions, session);
            return Ok(pt);
        }
        Err(ConversationError::Decrypt(
            first_err.unwrap_or(DecryptError::NotThisSession),
        ))
    }
}

/// Why a [`Conversation`] could not decrypt a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConversationError {
    /// No session accepted the message.
    #[error(transparent)]
    Decrypt(#[from] DecryptError),
    /// A new initial message was not accepted.
    #[error(transparent)]
    Accept(#[from] AcceptError),
    /// A session or initial message of an identity other than the
    /// conversation's peer.
    #[error("session or initial message of another peer")]
    OtherPeer,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratchet::HeaderMode;
    use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

    /// A third party's initial message cannot join a conversation: its
    /// session would otherwise become the one sent on whenever its
    /// initiator's identity key sorts first.
    #[test]
    fn other_peers_cannot_join() {
        let mut rng = ChaCha20Rng::from_seed([8; 32]);
        let alice = Account::new(&mut rng).unwrap();
        let mut bob = Account::new(&mut rng).unwrap();
        // A third party whose identity key sorts before both.
        let min = alice.identity_key().min(bob.identity_key());
        let mallory = loop {
            let m = Account::new(&mut rng).unwrap();
            if m.identity_key() < min {
                break m;
            }
        };
        let bundle = bob.bundle(None, None).unwrap().to_bytes();

        // Bob's conversation with Alice, set up from her first message.
        let mut to_bob = Session::start(&alice, &mut rng, &bundle, HeaderMode::Plain).unwrap();
        let mut conv = Conversation::default();
        let first = to_bob.encrypt(&mut rng, b"from alice").unwrap();
        assert_eq!(conv.decrypt(&mut bob, &first).unwrap(), b"from alice");
        assert_eq!(conv.peer(), Some(alice.identity_key()));

        // Mallory's initial message is refused before the account changes.
        let mut from_mallory =
            Session::start(&mallory, &mut rng, &bundle, HeaderMode::Plain).unwrap();
        let forged = from_mallory.encrypt(&mut rng, b"from mallory").unwrap();
        let account_before = bob.to_bytes();
        assert_eq!(
            conv.decrypt(&mut bob, &forged),
            Err(ConversationError::OtherPeer)
        );
        assert_eq!(bob.to_bytes(), account_before);
        assert_eq!(conv.sessions().len(), 1);
        // Nor can her session be added directly.
        let (mallory_session, _) = bob.accept(&forged).unwrap();
        assert_eq!(conv.add(mallory_session), Err(ConversationError::OtherPeer));
        assert_eq!(conv.sessions().len(), 1);

        // Bob still sends to Alice.
        let reply = conv.encrypt(&mut rng, b"to alice").unwrap();
        assert_eq!(to_bob.decrypt(&reply).unwrap(), b"to alice");
    }
}
