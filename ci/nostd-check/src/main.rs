//! A freestanding program that proves `sova` builds and links without `std`.
//!
//! The crate is `#![no_std]` and brings its own panic handler and global
//! allocator. Should any dependency of `sova` link `std`, the build fails with
//! a duplicate `panic_impl` lang item. The C-ABI `main` runs every kind of
//! primitive through the provider boundary (behind [`core::hint::black_box`],
//! so nothing is optimised away or left unlinked) and returns 0 only when the
//! results are consistent: each check that fails has its own exit status.
#![no_std]
#![no_main]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::hint::black_box;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicUsize, Ordering};

use sova::kdf::{labeled_expand, labeled_extract, labeled_hash, labeled_sign, labeled_verify};
use sova::provider::{CryptoProvider, AEAD_TAG_LEN, HASH_LEN, MLKEM_CT_LEN};
use sova::{CryptoError, Secret};

#[cfg(not(any(feature = "ring", feature = "rustcrypto")))]
compile_error!("select a backend: `--features ring` or `--features rustcrypto`");

// ---------------------------------------------------------------------------
// Runtime: the pieces `std` would otherwise provide.
// ---------------------------------------------------------------------------

extern "C" {
    fn abort() -> !;
    fn write(fd: i32, buf: *const u8, count: usize) -> isize;
}

#[panic_handler]
fn panic(_info: &PanicInfo<'_>) -> ! {
    // SAFETY: `abort` is the C library's; it takes no arguments and never returns.
    unsafe { abort() }
}

/// The precompiled `alloc` of the toolchain is built for unwinding and so
/// refers to this personality routine in its unwind tables. With
/// `panic = "abort"` nothing unwinds and it is never called; `std` would
/// define it (and then clash with this one, which is also a useful alarm).
#[no_mangle]
pub extern "C" fn rust_eh_personality() {
    // SAFETY: see `panic`.
    unsafe { abort() }
}

/// Writes `msg` to standard output, ignoring errors.
fn print(msg: &str) {
    // SAFETY: the pointer and length describe a live, initialised byte slice.
    let _ = unsafe { write(1, msg.as_ptr(), msg.len()) };
}

/// Size of the heap the bump allocator hands out.
const HEAP_SIZE: usize = 256 * 1024;

/// A bump allocator over a static array: allocation moves a cursor forward,
/// deallocation does nothing. Enough for a short-lived check program.
struct BumpAllocator {
    heap: UnsafeCell<[u8; HEAP_SIZE]>,
    next: AtomicUsize,
}

// SAFETY: the cursor is advanced atomically, so no two allocations overlap;
// the bytes of each allocation are only reached through the pointer returned.
unsafe impl Sync for BumpAllocator {}

// SAFETY: every returned block lies inside `heap`, is aligned as requested and
// is never handed out twice; `dealloc` never reuses memory.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.heap.get() as usize;
        let mut current = self.next.load(Ordering::Relaxed);
        loop {
            let addr = match base.checked_add(current) {
                Some(a) => a,
                None => return core::ptr::null_mut(),
            };
            // `Layout` guarantees a non-zero power-of-two alignment.
            let aligned = match addr.checked_add(layout.align() - 1) {
                Some(a) => a & !(layout.align() - 1),
                None => return core::ptr::null_mut(),
            };
            let start = aligned - base;
            let end = match start.checked_add(layout.size()) {
                Some(e) if e <= HEAP_SIZE => e,
                _ => return core::ptr::null_mut(),
            };
            match self.next.compare_exchange_weak(
                current,
                end,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                // SAFETY: `start..end` lies within `heap` (checked above).
                Ok(_) => return unsafe { (self.heap.get() as *mut u8).add(start) },
                Err(seen) => current = seen,
            }
        }
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: BumpAllocator = BumpAllocator {
    heap: UnsafeCell::new([0; HEAP_SIZE]),
    next: AtomicUsize::new(0),
};

// ---------------------------------------------------------------------------
// The checks.
// ---------------------------------------------------------------------------

/// Runs every kind of primitive through `p`; `Err(n)` names the first
/// inconsistent result.
fn exercise(p: &dyn CryptoProvider) -> Result<(), i32> {
    // Labelled hash: deterministic, and different labels separate domains.
    let h1 = labeled_hash(p, black_box("nostd check"), &[black_box(b"data")]).map_err(|_| 10)?;
    let h2 = labeled_hash(p, black_box("nostd check"), &[b"da", b"ta"]).map_err(|_| 11)?;
    let h3 = labeled_hash(p, black_box("nostd other"), &[b"data"]).map_err(|_| 12)?;
    if h1 != h2 || h1 == h3 || black_box(h1) == [0u8; HASH_LEN] {
        return Err(13);
    }
    let long_label = "x".repeat(black_box(sova::kdf::MAX_LABEL_LEN + 1));
    if labeled_hash(p, &long_label, &[]) != Err(CryptoError::LabelTooLong) {
        return Err(14);
    }

    // Labelled extract and expand.
    let prk = labeled_extract(p, black_box(b"salt"), "nostd prk", &[b"ikm"]).map_err(|_| 20)?;
    let mut okm1 = [0u8; 80];
    let mut okm2 = [0u8; 80];
    labeled_expand(p, &prk, "nostd okm", black_box(b"ctx"), &mut okm1).map_err(|_| 21)?;
    labeled_expand(p, &prk, "nostd okm", b"ctx", &mut okm2).map_err(|_| 22)?;
    if okm1 != okm2 || black_box(okm1) == [0u8; 80] {
        return Err(23);
    }
    let mut too_long = alloc::vec![0u8; sova::provider::HKDF_MAX_OUTPUT + 1];
    if p.hkdf_expand(&prk, &[b"info"], &mut too_long) != Err(CryptoError::KdfOutputTooLong) {
        return Err(24);
    }

    // X25519: both sides agree; a low-order point is rejected.
    let a = Secret::from_bytes(black_box([0x11u8; 32]));
    let b = Secret::from_bytes(black_box([0x22u8; 32]));
    let a_pub = p.x25519_public_key(&a);
    let b_pub = p.x25519_public_key(&b);
    let ab = p.x25519(&a, &b_pub).map_err(|_| 30)?;
    let ba = p.x25519(&b, &a_pub).map_err(|_| 31)?;
    if ab != ba {
        return Err(32);
    }
    if p.x25519(&a, black_box(&[0u8; 32])).err() != Some(CryptoError::X25519LowOrder) {
        return Err(33);
    }

    // AEAD: open(seal(x)) == x; a flipped tag bit is rejected.
    let key = Secret::from_bytes(black_box([0x33u8; 32]));
    let nonce = black_box([0x44u8; 12]);
    let plaintext = *b"a message sealed and opened without the standard library";
    let mut buf = black_box(plaintext);
    let tag = p.aead_seal(&key, &nonce, b"aad", &mut buf);
    if buf == plaintext {
        return Err(40);
    }
    let sealed = buf;
    p.aead_open(&key, &nonce, b"aad", &mut buf, &tag)
        .map_err(|_| 41)?;
    if buf != plaintext {
        return Err(42);
    }
    let mut bad_tag: [u8; AEAD_TAG_LEN] = tag;
    bad_tag[0] ^= 1;
    let mut buf = sealed;
    if p.aead_open(&key, &nonce, b"aad", &mut buf, black_box(&bad_tag))
        != Err(CryptoError::AeadAuthentication)
    {
        return Err(43);
    }

    // ML-KEM-768: decapsulation recovers the encapsulated secret; a tampered
    // ciphertext yields a different one (implicit rejection).
    let pair = p.ml_kem_768_generate(&Secret::from_bytes(black_box([0x55u8; 64])));
    let (ct, ss) = p
        .ml_kem_768_encapsulate(
            &pair.encapsulation_key,
            &Secret::from_bytes(black_box([0x66u8; 32])),
        )
        .map_err(|_| 50)?;
    let ss2 = p.ml_kem_768_decapsulate(&pair.decapsulation_key, black_box(&ct));
    if ss != ss2 {
        return Err(51);
    }
    let mut bad_ct: [u8; MLKEM_CT_LEN] = ct;
    bad_ct[0] ^= 1;
    if p.ml_kem_768_decapsulate(&pair.decapsulation_key, black_box(&bad_ct)) == ss {
        return Err(52);
    }

    // Ed25519: a labelled signature verifies, and only under its own label.
    let seed = Secret::from_bytes(black_box([0x77u8; 32]));
    let pk = p.ed25519_public_key(&seed);
    let sig = labeled_sign(p, &seed, "nostd sig", &[b"signed message"]).map_err(|_| 60)?;
    labeled_verify(p, &pk, "nostd sig", &[b"signed message"], black_box(&sig)).map_err(|_| 61)?;
    if labeled_verify(p, &pk, "nostd other", &[b"signed message"], &sig)
        != Err(CryptoError::InvalidSignature)
    {
        return Err(62);
    }
    let raw = p.ed25519_sign(&seed, black_box(b"raw"));
    p.ed25519_verify(&pk, b"raw", &raw).map_err(|_| 63)?;

    Ok(())
}

/// Runs the checks on one backend and reports the outcome on standard output.
fn check(p: &dyn CryptoProvider) -> i32 {
    let p = black_box(p);
    match exercise(p) {
        Ok(()) => {
            print("sova-nostd-check: ");
            print(p.name());
            print(": ok\n");
            0
        }
        Err(code) => {
            print("sova-nostd-check: ");
            print(p.name());
            print(": FAILED\n");
            code
        }
    }
}

/// The C entry point, called by the C library's start files.
#[no_mangle]
pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
    #[cfg(feature = "ring")]
    {
        let status = check(&sova::provider::RingProvider);
        if status != 0 {
            return status;
        }
    }
    #[cfg(feature = "rustcrypto")]
    {
        let status = check(&sova::provider::RustCryptoProvider);
        if status != 0 {
            return status;
        }
    }
    0
}
