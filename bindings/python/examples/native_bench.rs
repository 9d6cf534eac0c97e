//! The native side of `bench.py`: encrypt and decrypt of 1 KiB with the
//! calls the Python binding makes (`Session::encrypt` with the operating
//! system's generator, `Session::decrypt_with_info`, encrypted headers), timed
//! the same way: batches of `BATCH` operations, the median of `BATCHES`
//! per-operation times.
//!
//! Run: `cargo run --release --example native_bench`.

use std::time::Instant;

use sova::ratchet::HeaderMode;
use sova::session::{Account, Session};

const BATCH: usize = 1000;
const BATCHES: usize = 31;
const LEN: usize = 1024;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = sova::OsRng;
    let alice = Account::new(&mut rng)?;
    let mut bob = Account::new(&mut rng)?;
    let bundle = bob.bundle(None, None)?.to_bytes();
    let mut to_bob = Session::start(
        &alice,
        &mut rng,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Encrypted,
    )?;
    let (mut to_alice, _) =
        bob.accept(&alice.identity_key(), &to_bob.encrypt(&mut rng, b"hello")?)?;
    to_bob.decrypt(&to_alice.encrypt(&mut rng, b"hi")?)?;
    let pt = vec![0x61u8; LEN];

    let mut enc = Vec::new();
    let mut dec = Vec::new();
    for _ in 0..=BATCHES {
        let start = Instant::now();
        for _ in 0..BATCH {
            std::hint::black_box(to_bob.encrypt(&mut rng, std::hint::black_box(&pt))?);
        }
        enc.push(start.elapsed().as_secs_f64() / BATCH as f64);

        let messages = (0..BATCH)
            .map(|_| to_alice.encrypt(&mut rng, &pt))
            .collect::<Result<Vec<_>, _>>()?;
        let start = Instant::now();
        for m in &messages {
            std::hint::black_box(to_bob.decrypt_with_info(std::hint::black_box(m))?);
        }
        dec.push(start.elapsed().as_secs_f64() / BATCH as f64);
    }
    // The first batch of each is a warm-up.
    enc.remove(0);
    dec.remove(0);
    println!("native encrypt 1 KiB: median {:.3} us", median(enc) * 1e6);
    println!("native decrypt 1 KiB: median {:.3} us", median(dec) * 1e6);
    Ok(())
}
