//! Link arguments for a `#![no_std]`, `#![no_main]` executable on a hosted
//! target.
//!
//! rustc links through the system C compiler driver with `-nodefaultlibs`, so
//! the C start files (`Scrt1.o`/`crt1.o`, `crti.o`, ...) are included, and they
//! call the C-ABI `main` defined in `src/main.rs`, but the C library itself is
//! not: without `std` nothing else asks for it. The start files need
//! `__libc_start_main`, and *ring*'s C and assembly code uses `memcpy` and
//! friends, so the C library is linked explicitly here.

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target_env = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    match (os.as_str(), target_env.as_str()) {
        ("linux", "gnu") | ("linux", "musl") => {
            println!("cargo:rustc-link-lib=c");
        }
        _ => {
            println!(
                "cargo:warning=sova-nostd-check: no link setup for target os `{os}` env \
                 `{target_env}`; the build may fail to link"
            );
        }
    }
}
