//! `sova conformance` (in progress).
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::Failure;

/// Options of `sova conformance`.
pub struct Options {
    /// Command.
    pub command: String,
    /// Vectors.
    pub vectors: PathBuf,
    /// Seed.
    pub seed: u64,
    /// Rounds.
    pub rounds: u32,
    /// Timeout.
    pub timeout: Duration,
    /// Only.
    pub only: Vec<String>,
    /// Strict.
    pub strict: bool,
    /// JSON.
    pub json: bool,
}

/// Runs the conformance runner.
///
/// # Errors
/// Always, for now.
pub fn run(_opts: &Options, _out: &mut dyn Write) -> Result<(), Failure> {
    Err(Failure::Error("not yet".into()))
}
