//! `sova inspect` (in progress).
use std::io::Write;

use crate::encoding::Encoding;
use crate::Failure;

/// Options of `sova inspect`.
pub struct Options {
    /// Forced input encoding.
    pub encoding: Option<Encoding>,
    /// Print long values in full.
    pub full: bool,
    /// JSON output.
    pub json: bool,
}

/// Runs `sova inspect`.
///
/// # Errors
/// Always, for now.
pub fn run(_text: &str, _opts: &Options, _out: &mut dyn Write) -> Result<(), Failure> {
    Err(Failure::Error("not yet".into()))
}
