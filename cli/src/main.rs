//! # sova
//!
//! The Sova command-line tool, for people trying Sova, implementers porting
//! it and auditors checking it:
//!
//! ```text
//! sova demo [--seed N] [--trace] [--header-encryption] [--messages N]
//! sova demo --devices [--seed N]
//! sova inspect [HEX|BASE64|-] [--hex|--base64] [--full] [--json]
//! sova vectors generate [DIR]
//! sova vectors verify [DIR] [--json]
//! sova conformance --impl 'CMD' [--vectors DIR] [--seed N] [--rounds N] [--only CAP] [--strict] [--json]
//! ```
//!
//! See the crate documentation of `sova_cli` for the modules, and
//! `sova <command> --help` for each command.
//!
//! ## Exit codes
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success |
//! | 1 | a check failed: a vector or conformance test failed, an input is malformed, a demo self-check failed |
//! | 2 | usage error (bad arguments) or I/O error (file unreadable, command cannot be started) |
#![forbid(unsafe_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sova_cli::encoding::Encoding;
use sova_cli::{conformance, demo, inspect, vectors, Failure, EXIT_ERROR};

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  a check failed: a vector or conformance test failed, a value differs,
     an input is malformed, or a file is malformed, unknown or missing
  2  usage error, or I/O error (directory missing, file unreadable or
     unwritable, command cannot be started)";

/// The Sova command-line tool: demo, inspect, test vectors, conformance.
#[derive(Parser)]
#[command(name = "sova", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Alice and Bob establish a session and talk over a simulated network
    /// that delays, reorders and drops messages; with --devices, several
    /// devices per person (linking, fan-out, a hostile server).
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// Decode a Sova message, bundle or persisted state into annotated fields.
    ///
    /// Reads hex or base64 from the argument, or from standard input when it
    /// is `-` or absent. Recognises ratchet messages (type 0x01, 0x02; spec
    /// §6), initial messages (0x03; §7.5), prekey bundles (0x10; §7.3), prekey uploads (0x11; §7.11) and the
    /// persisted states of §8 ("SOVA-1 ratchet", "SOVA-1 session",
    /// "SOVA-1 conversation", "SOVA-1 account", and the outer framing of
    /// "SOVA-1 sealed"), and the objects of §11: device lists ("SOVA-1
    /// devices"), link offers and the framing of link responses, fan-out and
    /// device messages (0x20) and the states "SOVA-1 known user" and
    /// "SOVA-1 user key"; and the objects of §12: group operations ("SOVA-1
    /// group op"), welcomes, chain offers, group messages (0x30) and the
    /// state "SOVA-1 group". Malformed input is reported with the rule it
    /// breaks and exit code 1.
    #[command(after_help = EXIT_CODES)]
    Inspect(InspectArgs),
    /// Generate or verify the test vectors (spec §4).
    #[command(subcommand, after_help = EXIT_CODES)]
    Vectors(Vectors),
    /// Run another implementation through the conformance protocol (spec
    /// appendix A): every vector case, then live sessions with the library.
    #[command(after_help = EXIT_CODES)]
    Conformance(ConformanceArgs),
}

#[derive(Args)]
struct DemoArgs {
    /// Seed of the simulation: keys, network delays, drops and order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print every derivation step with its inputs and outputs.
    #[arg(long)]
    trace: bool,
    /// Encrypt headers (type 0x02 messages, spec §5.6).
    #[arg(long)]
    header_encryption: bool,
    /// How many messages Alice and Bob send in all.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    messages: u32,
    /// Several devices per person (spec §11): Alice's two devices and Bob's
    /// three, one linked by QR code and one removed mid-conversation, and a
    /// server that tries to add a ghost device.
    #[arg(long, conflicts_with_all = ["trace", "header_encryption", "messages"])]
    devices: bool,
    /// A group (spec §12): four people on seven devices, one member added
    /// and one removed mid-conversation, and a server that tries to slip in
    /// a ghost member.
    #[arg(long, conflicts_with_all = ["trace", "header_encryption", "messages", "devices"])]
    group: bool,
}

#[derive(Args)]
struct InspectArgs {
    /// The object as hex or base64; `-` or nothing reads standard input.
    input: Option<String>,
    /// Treat the input as hex.
    #[arg(long, conflicts_with = "base64")]
    hex: bool,
    /// Treat the input as base64 (standard or URL-safe alphabet).
    #[arg(long)]
    base64: bool,
    /// Print long values in full instead of abbreviated.
    #[arg(long)]
    full: bool,
    /// Print the annotation as one JSON object.
    #[arg(long)]
    json: bool,
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

#[derive(Args)]
struct ConformanceArgs {
    /// The command that starts the implementation under test (run by the
    /// shell); it must speak the protocol of spec appendix A on its standard
    /// input and output.
    #[arg(long = "impl", value_name = "CMD")]
    implementation: String,
    /// The directory of test vectors to drive it through.
    #[arg(long, default_value = sova_vectors::DEFAULT_DIR)]
    vectors: PathBuf,
    /// Seed of the live sessions: plaintexts, delivery order, tampering.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Rounds of conversation per live session.
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u32).range(1..=1000))]
    rounds: u32,
    /// Seconds to wait for each response before giving up on the implementation.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Run only these capabilities (repeatable): vectors, ratchet,
    /// header-encryption, session, ratchet-state, prekey-rotation,
    /// safety-number, recorded-randomness.
    #[arg(long, value_name = "CAP")]
    only: Vec<String>,
    /// Count tests skipped (capability not declared, case unsupported) as failures.
    #[arg(long)]
    strict: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

fn read_input(arg: Option<String>) -> Result<String, Failure> {
    use std::io::IsTerminal;
    if arg.is_none() && std::io::stdin().is_terminal() {
        return Err(Failure::Error(
            "give the object as hex or base64, as an argument or on standard input \
             (see `sova inspect --help`)"
                .into(),
        ));
    }
    match arg.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::Error(format!("reading standard input: {e}")))?;
            Ok(s)
        }
        Some(s) => Ok(s.to_owned()),
    }
}

fn run(command: Command) -> Result<(), Failure> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::Demo(a) => demo::run(
            &demo::Options {
                seed: a.seed,
                trace: a.trace,
                header_encryption: a.header_encryption,
                messages: a.messages,
                devices: a.devices,
                group: a.group,
            },
            &mut out,
        ),
        Command::Inspect(a) => {
            let forced = if a.hex {
                Some(Encoding::Hex)
            } else if a.base64 {
                Some(Encoding::Base64)
            } else {
                None
            };
            let text = read_input(a.input)?;
            inspect::run(
                &text,
                &inspect::Options {
                    encoding: forced,
                    full: a.full,
                    json: a.json,
                },
                &mut out,
            )
        }
        Command::Vectors(Vectors::Generate { dir }) => vectors::generate(&dir, &mut out),
        Command::Vectors(Vectors::Verify { dir, json }) => vectors::verify(&dir, json, &mut out),
        Command::Conformance(a) => conformance::run(
            &conformance::Options {
                command: a.implementation,
                vectors: a.vectors,
                seed: a.seed,
                rounds: a.rounds,
                timeout: std::time::Duration::from_secs(a.timeout),
                only: a.only,
                strict: a.strict,
                json: a.json,
            },
            &mut out,
        ),
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0, usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_ERROR)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let _ = std::io::stdout().flush();
            let msg = f.to_string();
            if !msg.is_empty() {
                eprintln!("sova: error: {msg}");
            }
            ExitCode::from(f.exit_code())
        }
    }
}
