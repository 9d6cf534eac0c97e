//! Fixed-size secret byte strings.
//!
//! Every key, chain key, shared secret and seed in Sova is held in a [`Secret`]:
//! it is wiped from memory when dropped, compared in constant time, and its
//! `Debug` output never shows the bytes.

use core::fmt;
use subtle::{Choice, ConstantTimeEq};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// `N` secret bytes: zeroized on drop, compared in constant time, redacted in `Debug`.
#[derive(Clone)]
pub struct Secret<const N: usize>([u8; N]);

/// Wipes the bytes as one slice. `zeroize`'s impl for `[u8]` writes the zeros
/// with an ordinary fill followed by an optimisation barrier (an `asm!` block
/// the compiler must assume reads the bytes) on the architectures with stable
/// `asm!`, and with volatile writes elsewhere: either way the writes are not
/// optimised away, and the fill runs in whole words. (The impl for `[u8; N]`
/// that a derive would use writes one volatile byte at a time, about one
/// instruction per byte, and a ratchet message wipes several such keys.)
impl<const N: usize> Zeroize for Secret<N> {
    #[inline]
    fn zeroize(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

impl<const N: usize> Drop for Secret<N> {
    #[inline]
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<const N: usize> ZeroizeOnDrop for Secret<N> {}

impl<const N: usize> Secret<N> {
    /// Length of the secret in bytes.
    pub const LEN: usize = N;

    /// Takes ownership of `bytes`. The caller's copy should be zeroized if it
    /// lives on; arrays passed by value are moved.
    #[inline]
    pub const fn from_bytes(bytes: [u8; N]) -> Self {
        Self(bytes)
    }

    /// Copies a secret out of a slice, or `None` when the length is not `N`.
    pub fn try_from_slice(bytes: &[u8]) -> Option<Self> {
        let arr: [u8; N] = bytes.try_into().ok()?;
        Some(Self(arr))
    }

    /// An all-zero secret, to be filled in place.
    #[inline]
    pub const fn zero() -> Self {
        Self([0u8; N])
    }

    /// Borrows the secret bytes. Keep the borrow short and never log it.
    #[inline]
    pub fn expose(&self) -> &[u8; N] {
        &self.0
    }

    /// Mutably borrows the secret bytes (for filling a freshly made secret).
    #[inline]
    pub fn expose_mut(&mut self) -> &mut [u8; N] {
        &mut self.0
    }
}

impl<const N: usize> ConstantTimeEq for Secret<N> {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.0.ct_eq(&other.0)
    }
}

impl<const N: usize> PartialEq for Secret<N> {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl<const N: usize> Eq for Secret<N> {}

impl<const N: usize> fmt::Debug for Secret<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret<{N}>(<redacted>)")
    }
}

/// Constant-time equality of two byte strings of public length (MACs, tags,
/// key confirmations). The lengths themselves are not secret.
pub fn ct_eq_slices(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::format;

    #[test]
    fn debug_never_prints_bytes() {
        let s = Secret::from_bytes([0xabu8; 32]);
        let text = format!("{s:?} {s:#?}");
        assert!(!text.contains("ab"), "{text}");
        assert!(!text.contains("171"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn equality_is_by_value() {
        let a = Secret::from_bytes([1u8; 4]);
        let b = Secret::from_bytes([1u8; 4]);
        let c = Secret::from_bytes([1, 1, 1, 2]);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(ct_eq_slices(b"abc", b"abc"));
        assert!(!ct_eq_slices(b"abc", b"abd"));
        assert!(!ct_eq_slices(b"abc", b"ab"));
    }

    #[test]
    fn zeroize_wipes() {
        let mut s = Secret::from_bytes([7u8; 16]);
        s.zeroize();
        assert_eq!(s.expose(), &[0u8; 16]);
    }

    #[test]
    fn try_from_slice_checks_length() {
        assert!(Secret::<4>::try_from_slice(&[1, 2, 3]).is_none());
        assert!(Secret::<4>::try_from_slice(&[1, 2, 3, 4]).is_some());
    }
}
