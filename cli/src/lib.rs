//! # sova-cli
//!
//! The library behind the `sova` command-line tool and the
//! `sova-conformance-adapter` binary. Each subcommand is one module:
//!
//! | command | module | what it does |
//! |---------|--------|--------------|
//! | `sova demo` | [`demo`] | two parties establish a session and talk over a simulated, unreliable network; `--trace` prints every derivation with the spec's names; `--devices` shows several devices per person (§11): linking, fan-out, a device removed, a ghost device refused |
//! | `sova inspect` | [`inspect`] | decodes any Sova wire object or persisted state into annotated fields with byte offsets, or names the rule it breaks |
//! | `sova vectors` | [`vectors`] | generates and verifies the test vectors (spec §4) |
//! | `sova conformance` | [`conformance`] | drives another implementation through the vectors and live sessions over the JSON-lines protocol of spec appendix A |
//!
//! [`adapter`] is the reference side of that protocol: the Rust library
//! behind it, used to prove the runner (and as an example for ports);
//! [`protocol`] holds the vocabulary both sides share, and [`classes`] the
//! stable names of the library's errors.
//!
//! ## Exit codes
//!
//! Every command uses the same three codes:
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a check failed: a vector or conformance test failed, an input is malformed, a demo self-check failed |
//! | 2 | usage error (bad arguments) or I/O error (file unreadable, command cannot be started) |
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod adapter;
pub mod classes;
pub mod conformance;
pub mod demo;
pub mod encoding;
pub mod inspect;
pub mod protocol;
pub mod vectors;

use std::fmt;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: a check failed (verification, conformance, malformed input).
pub const EXIT_FAILED: u8 = 1;
/// Exit code: usage or I/O error.
pub const EXIT_ERROR: u8 = 2;

/// How a command ended when it did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// A check failed (exit code 1); the message says which.
    Check(String),
    /// A usage or I/O error (exit code 2); the message names the file or argument.
    Error(String),
}

impl Failure {
    /// The process exit code of this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Check(_) => EXIT_FAILED,
            Self::Error(_) => EXIT_ERROR,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Check(m) | Self::Error(m) => f.write_str(m),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            // The reader went away (`sova demo | head`): stop quietly.
            return Self::Error(String::new());
        }
        Self::Error(format!("writing the output: {e}"))
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

/// Hex of `bytes`, shortened to its first and last 8 bytes when longer than `max` bytes.
pub fn hex_short(bytes: &[u8], max: usize) -> String {
    if bytes.len() <= max {
        return hex(bytes);
    }
    format!(
        "{}…{} ({} bytes)",
        hex(&bytes[..8]),
        hex(&bytes[bytes.len() - 8..]),
        bytes.len()
    )
}
