//! `sova demo`: the protocol at work, one chapter at a time, with every
//! check it makes shown.
//!
//! * [`session`] (the default): Alice and Bob establish a session (§7) and
//!   talk over a simulated network that delays, reorders and drops messages
//!   (§5); `--trace` prints every derivation, computed in [`trace`].
//! * [`devices`] (`--devices`): Alice's and Bob's several devices (§11):
//!   signed device lists, linking a device by QR code, fan-out, a device
//!   removed mid-conversation, and a server trying to add a ghost device.
//! * [`groups`] (`--group`): four people on seven devices in a group (§12),
//!   one member added and one removed mid-conversation, and a server trying
//!   to slip in a ghost member.
//!
//! Everything is deterministic from `--seed`.

use std::io::Write;

use crate::Failure;

pub mod devices;
pub mod groups;
pub mod session;
pub mod trace;

/// The options of `sova demo`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed of the keys and of the network.
    pub seed: u64,
    /// Print every derivation step.
    pub trace: bool,
    /// Use encrypted headers (type 0x02 messages).
    pub header_encryption: bool,
    /// How many messages are sent in all.
    pub messages: u32,
    /// Show several devices per person (spec §11) instead of one session.
    pub devices: bool,
    /// Show a group (spec §12) instead of one session.
    pub group: bool,
}

pub(crate) const INDENT: &str = "        ";

pub(crate) fn check(ok: bool, what: &str) -> Result<(), Failure> {
    if ok {
        Ok(())
    } else {
        Err(Failure::Check(format!("self-check failed: {what}")))
    }
}

pub(crate) fn lib_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> Failure + '_ {
    move |e| Failure::Check(format!("{what}: {e}"))
}

/// Runs the demo chosen by `opts`, writing the transcript to `out`.
///
/// # Errors
/// [`Failure::Check`] when a self-check fails (a message not decrypted to
/// what was sent, a traced value that disagrees with the library, a hostile
/// server's forgery accepted: none should ever happen); [`Failure::Error`]
/// when the output cannot be written.
pub fn run(opts: &Options, out: &mut dyn Write) -> Result<(), Failure> {
    if opts.group {
        groups::run(opts, out)
    } else if opts.devices {
        devices::run(opts, out)
    } else {
        session::run(opts, out)
    }
}
