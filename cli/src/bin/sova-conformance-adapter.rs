//! `sova-conformance-adapter`: the Rust reference library behind the
//! conformance protocol of spec appendix A, on standard input and output.
//!
//! ```text
//! sova-conformance-adapter [--break MODE]
//! sova conformance --impl 'sova-conformance-adapter'
//! ```
//!
//! `--break MODE` makes it misbehave on purpose, to show that the runner
//! catches the defect; the modes are listed in `sova_cli::adapter`. Exit codes: 0 after `bye` or the end of input, 2 on a
//! usage or I/O error.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use sova_cli::adapter::{serve, Break, BREAK_MODES};

fn usage() -> String {
    format!(
        "usage: sova-conformance-adapter [--break {}]",
        BREAK_MODES.join("|")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let defect = match args.as_slice() {
        [] => Break::None,
        [flag, mode] if flag == "--break" => match Break::parse(mode) {
            Some(b) => b,
            None => {
                eprintln!(
                    "sova-conformance-adapter: unknown --break mode {mode:?}\n{}",
                    usage()
                );
                return ExitCode::from(2);
            }
        },
        [h] if h == "--help" || h == "-h" => {
            println!("{}\nServes the conformance protocol (spec appendix A) on standard input and output.", usage());
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{}", usage());
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match serve(stdin.lock(), stdout.lock(), defect) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sova-conformance-adapter: {e}");
            ExitCode::from(2)
        }
    }
}
