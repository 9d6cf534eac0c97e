//! # sova
//!
//! The Sova command-line tool. For now it generates and verifies the test
//! vectors (spec §4):
//!
//! ```text
//! sova vectors generate [DIR]          write every vector file into DIR
//! sova vectors verify [DIR] [--json]   verify every vector file in DIR
//! ```
//!
//! `DIR` defaults to `test-vectors`. `verify` checks every file on every
//! compiled-in backend and prints one line per file (the cases passed, or the
//! first failure with its case index, kind and field); `--json` prints the
//! same report as one JSON object instead.
//!
//! ## Exit codes
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success: every file was written, or every file passed on every backend |
//! | 1 | verification failed: a value differs, a check fails, a file is malformed, unknown or missing |
//! | 2 | usage error (bad arguments) or I/O error (directory missing, file unreadable or unwritable) |
#![forbid(unsafe_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use sova::provider::all_providers;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: every file was written, or every file passed on every backend
  1  verification failed: a value differs, a check fails, or a file is
     malformed, unknown or missing
  2  usage error, or I/O error (directory missing, file unreadable or unwritable)";

/// The Sova command-line tool.
#[derive(Parser)]
#[command(name = "sova", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate or verify the test vectors (spec §4).
    #[command(subcommand, after_help = EXIT_CODES)]
    Vectors(Vectors),
}

#[derive(Subcommand)]
enum Vectors {
    /// Write every vector file into DIR (created if needed), replacing files
    /// of the same names.
    #[command(after_help = EXIT_CODES)]
    Generate {
        /// The directory to write to.
        #[arg(default_value = sova_vectors::DEFAULT_DIR)]
        dir: PathBuf,
    },
    /// Verify every vector file in DIR on every compiled-in backend.
    #[command(after_help = EXIT_CODES)]
    Verify {
        /// The directory to verify.
        #[arg(default_value = sova_vectors::DEFAULT_DIR)]
        dir: PathBuf,
        /// Print the report as one JSON object on standard output.
        #[arg(long)]
        json: bool,
    },
}

/// Exit code: verification failed.
const FAILED: u8 = 1;
/// Exit code: usage or I/O error.
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0, usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Vectors(Vectors::Generate { dir }) => generate(dir),
        Command::Vectors(Vectors::Verify { dir, json }) => verify(dir, json),
    }
}

fn generate(dir: PathBuf) -> ExitCode {
    match sova_vectors::write_dir(&dir) {
        Ok(files) => {
            let mut out = std::io::stdout().lock();
            for f in files {
                let _ = writeln!(
                    out,
                    "wrote {} ({} cases)",
                    dir.join(f.name).display(),
                    f.cases
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("sova: error: {e}");
            ExitCode::from(ERROR)
        }
    }
}

fn verify(dir: PathBuf, json: bool) -> ExitCode {
    let report = match sova_vectors::verify_dir(&dir, all_providers()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sova: error: {e}");
            if json {
                let v = serde_json::json!({ "dir": dir, "error": e.to_string() });
                println!("{v}");
            }
            return ExitCode::from(ERROR);
        }
    };
    let mut out = std::io::stdout().lock();
    let printed = if json {
        match serde_json::to_string_pretty(&report) {
            Ok(s) => writeln!(out, "{s}"),
            Err(e) => {
                eprintln!("sova: error: {e}");
                return ExitCode::from(ERROR);
            }
        }
    } else {
        writeln!(out, "{report}")
    };
    if let Err(e) = printed {
        eprintln!("sova: error: writing the report: {e}");
        return ExitCode::from(ERROR);
    }
    if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(FAILED)
    }
}
