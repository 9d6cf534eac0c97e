//! Simultaneous initiation (spec §7.7): two sessions with one peer converge on one.

use alloc::vec::Vec;

use rand_core::CryptoRng;

use super::{AcceptError, Account, DecryptError, Session, TYPE_INITIAL};
use crate::ratchet;

/// All sessions with one peer, and the rule that picks the one to send on.
///
/// When both parties start a session to each other at once, each ends up with
/// two: the one it initiated and the one it accepted. Both keep both for
/// decryption; both send on the session initiated by the party whose 64-byte
/// identity key is smaller (lexicographically), so they converge on the same
/// session without a further message. The other session is dropped once a
/// message arrives on the chosen one.
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
    pub fn add(&mut self, session: Session) {
        self.sessions.push(session);
    }

    /// The sessions held, for inspection.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Index of the session to send on (spec §7.7).
    fn active(&self) -> Option<usize> {
        (0..self.sessions.len()).min_by_key(|&i| self.sessions[i].initiator_identity())
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
    /// `account` as a new session. Nothing changes on error.
    ///
    /// # Errors
    /// The active session's error when no session accepts the message, or the
    /// [`AcceptError`] of a new initial message (wrapped as
    /// [`ConversationError::Accept`]).
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
                    if Some(i) == active
                        && message.get(1) != Some(&TYPE_INITIAL)
                        && self.sessions.len() > 1
                    {
                        // The peer has converged on the active session.
                        let keep = self.sessions.swap_remove(i);
                        self.sessions.clear();
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
            let (session, pt) = account.accept(message)?;
            self.sessions.push(session);
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
}
