//! Randomness: every draw goes through [`fill`], which reports a generator
//! failure as [`CryptoError::RandomnessUnavailable`] instead of panicking.
//!
//! The library takes any [`TryCryptoRng`]: the operating system's generator
//! ([`OsRng`], feature `getrandom`, on by default) in applications, a seeded
//! generator in tests and test vectors. Every operation draws all it needs
//! before it changes any state, so a failing generator leaves the state as it
//! was. The one exception is [`fanout::encrypt`](crate::devices::fanout::encrypt),
//! which encrypts on one conversation per device: a generator failing midway
//! leaves the conversations before it one (unsent) message ahead.

use rand_core::TryCryptoRng;

use crate::CryptoError;

/// Fills `buf` from `rng`.
pub(crate) fn fill<R: TryCryptoRng + ?Sized>(
    rng: &mut R,
    buf: &mut [u8],
) -> Result<(), CryptoError> {
    rng.try_fill_bytes(buf)
        .map_err(|_| CryptoError::RandomnessUnavailable)
}

/// The operating system's random number generator (feature `getrandom`, on
/// by default): the generator every application should pass to Sova.
///
/// It holds no state. A draw that the operating system cannot serve (a
/// sandbox that forbids the system call, say) fails the operation with
/// [`CryptoError::RandomnessUnavailable`], wrapped in the operation's error,
/// and changes nothing; it never panics.
///
/// ```
/// let mut rng = sova::OsRng;
/// let account = sova::session::Account::new(&mut rng)?;
/// # Ok::<(), sova::session::AccountError>(())
/// ```
#[cfg(feature = "getrandom")]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsRng;

/// The operating system could not supply random bytes.
#[cfg(feature = "getrandom")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct OsRngError;

#[cfg(feature = "getrandom")]
impl rand_core::TryRng for OsRng {
    type Error = OsRngError;

    fn try_next_u32(&mut self) -> Result<u32, OsRngError> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, OsRngError> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), OsRngError> {
        getrandom::fill(dst).map_err(|_| OsRngError)
    }
}

#[cfg(feature = "getrandom")]
impl TryCryptoRng for OsRng {}

/// The operating system's random number generator: [`OsRng`].
#[cfg(feature = "getrandom")]
pub fn os_rng() -> OsRng {
    OsRng
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator that fails after `left` bytes.
    struct Failing {
        left: usize,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("exhausted")]
    struct Exhausted;

    impl rand_core::TryRng for Failing {
        type Error = Exhausted;
        fn try_next_u32(&mut self) -> Result<u32, Exhausted> {
            Err(Exhausted)
        }
        fn try_next_u64(&mut self) -> Result<u64, Exhausted> {
            Err(Exhausted)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Exhausted> {
            self.left = self.left.checked_sub(dst.len()).ok_or(Exhausted)?;
            dst.fill(7);
            Ok(())
        }
    }
    impl TryCryptoRng for Failing {}

    #[test]
    fn a_failing_generator_is_an_error() {
        let mut rng = Failing { left: 4 };
        let mut b = [0u8; 4];
        assert_eq!(fill(&mut rng, &mut b), Ok(()));
        assert_eq!(
            fill(&mut rng, &mut b),
            Err(CryptoError::RandomnessUnavailable)
        );
    }

    #[cfg(feature = "getrandom")]
    #[test]
    fn the_os_generator_gives_distinct_draws() {
        let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
        fill(&mut OsRng, &mut a).unwrap();
        fill(&mut OsRng, &mut b).unwrap();
        assert_ne!(a, b);
    }
}
