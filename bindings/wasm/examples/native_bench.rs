//! The native side of the binding's benchmark (bench/bench.mjs): the same
//! session operations as the Node.js benchmark, on the same library build
//! (pure-Rust backend), called directly from Rust. Prints JSON: medians in
//! microseconds per operation.
//!
//! `cargo run --profile native --example native_bench`
use std::time::Instant;

use sova::ratchet::HeaderMode;
use sova::session::{Account, Conversation, Session};

const SIZE: usize = 1024;
const BATCH: usize = 500;
const ROUNDS: usize = 15;
const SETUPS: usize = 25;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let m = xs.len() / 2;
    if xs.len() % 2 == 1 {
        xs[m]
    } else {
        (xs[m - 1] + xs[m]) / 2.0
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = sova::OsRng;
    let alice = Account::new(&mut rng)?;
    let mut bob = Account::new(&mut rng)?;
    let bundle = bob.bundle(None, None)?.to_bytes();
    let mut a = Session::start(
        &alice,
        &mut rng,
        &bob.identity_key(),
        &bundle,
        HeaderMode::Encrypted,
    )?;
    let (mut b, _) = bob.accept(&alice.identity_key(), &a.encrypt(&mut rng, b"hi")?)?;
    a.decrypt(&b.encrypt(&mut rng, b"back")?)?;
    let plaintext = vec![0x5a; SIZE];

    let (mut enc, mut dec) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS + 2 {
        let t = Instant::now();
        let wires = (0..BATCH)
            .map(|_| a.encrypt(&mut rng, &plaintext))
            .collect::<Result<Vec<_>, _>>()?;
        enc.push(t.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
        let t = Instant::now();
        for w in &wires {
            let p = b.decrypt(w)?;
            std::hint::black_box(p);
        }
        dec.push(t.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    // The first two rounds warm up.
    let (enc, dec) = (median(enc.split_off(2)), median(dec.split_off(2)));

    // Session setup as the demo page times it: from Bob's bundle, Alice's
    // Conversation::start and first message, then Bob's accept of it.
    let mut setup = Vec::new();
    for _ in 0..SETUPS {
        let alice = Account::new(&mut rng)?;
        let mut bob = Account::new(&mut rng)?;
        let opk = bob.generate_one_time_prekeys(&mut rng, 1)?[0];
        let bundle = bob.bundle(Some(opk), None)?.to_bytes();
        let t = Instant::now();
        let mut to_bob = Conversation::start(
            &alice,
            &mut rng,
            &bob.identity_key(),
            &bundle,
            HeaderMode::Encrypted,
        )?;
        let first = to_bob.encrypt(&mut rng, b"hello")?;
        let got = Conversation::new(alice.identity_key()).decrypt(&mut bob, &first)?;
        setup.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(got);
    }
    let setup = median(setup);
    println!(
        r#"{{"encrypt_us": {enc:.3}, "decrypt_us": {dec:.3}, "setup_ms": {setup:.3}, "size": {SIZE}, "batch": {BATCH}, "rounds": {ROUNDS}, "setups": {SETUPS}}}"#
    );
    Ok(())
}
