//! A random-number generator that replays recorded bytes.
//!
//! The library draws every random value from a caller's RNG, in a documented
//! order. The vector families run the real API with this RNG so that the
//! bytes the library actually produces are the ones checked: each request
//! (`fill_bytes` call) is served by the next recorded byte string, which must
//! have exactly the requested length. When generating, requests past the
//! recorded ones can be served by a `fresh` function and are recorded.
//!
//! A request that cannot be served (nothing left, or a length mismatch) is
//! answered with zeros and remembered; [`ReplayRng::finish`] reports it, so a
//! case never silently runs on bytes that are not in its file.

use core::convert::Infallible;

use sova::rand_core::{TryCryptoRng, TryRng};

/// Supplies the bytes of request `index` (0-based) of `len` bytes while generating.
pub(crate) type Fresh<'a> = &'a dyn Fn(usize, usize) -> Vec<u8>;

/// Replays recorded draws, one per request.
pub(crate) struct ReplayRng<'a> {
    draws: Vec<Vec<u8>>,
    served: usize,
    fresh: Option<Fresh<'a>>,
    fault: Option<String>,
}

impl<'a> ReplayRng<'a> {
    /// Serves `draws` in order, and nothing more.
    pub(crate) fn new(draws: Vec<Vec<u8>>) -> Self {
        Self {
            draws,
            served: 0,
            fresh: None,
            fault: None,
        }
    }

    /// Serves `draws` in order, then asks `fresh` for further requests.
    pub(crate) fn with_fresh(draws: Vec<Vec<u8>>, fresh: Option<Fresh<'a>>) -> Self {
        Self {
            fresh,
            ..Self::new(draws)
        }
    }

    /// The draws served, in order; an error describing the first request
    /// that could not be served. Recorded draws left unused are not an error
    /// here: callers that expect an exact number compare the length.
    pub(crate) fn finish(mut self) -> Result<Vec<Vec<u8>>, String> {
        if let Some(fault) = self.fault {
            return Err(fault);
        }
        self.draws.truncate(self.served);
        Ok(self.draws)
    }

    /// Like [`finish`](Self::finish), but every recorded draw must have been
    /// used and their lengths must be `lengths`.
    pub(crate) fn finish_exact(self, lengths: &[usize]) -> Result<(), String> {
        let recorded = self.draws.len();
        let drawn = self.finish()?;
        let got: Vec<usize> = drawn.iter().map(Vec::len).collect();
        if got != lengths || recorded != lengths.len() {
            return Err(format!(
                "expected draws of {lengths:?} bytes, the library drew {got:?} bytes"
            ));
        }
        Ok(())
    }

    fn serve(&mut self, dst: &mut [u8]) {
        let index = self.served;
        if index == self.draws.len() {
            if let Some(fresh) = self.fresh {
                self.draws.push(fresh(index, dst.len()));
            }
        }
        match self.draws.get(index) {
            Some(bytes) if bytes.len() == dst.len() => {
                dst.copy_from_slice(bytes);
                self.served += 1;
            }
            other => {
                dst.fill(0);
                if self.fault.is_none() {
                    self.fault = Some(match other {
                        Some(bytes) => format!(
                            "random draw {index} is {} bytes, but {} were requested",
                            bytes.len(),
                            dst.len()
                        ),
                        None => format!(
                            "random draw {index} of {} bytes was requested, but only {index} \
                             are recorded",
                            dst.len()
                        ),
                    });
                }
            }
        }
    }
}

impl TryRng for ReplayRng<'_> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.serve(&mut b);
        Ok(u32::from_be_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.serve(&mut b);
        Ok(u64::from_be_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.serve(dst);
        Ok(())
    }
}

impl TryCryptoRng for ReplayRng<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_in_order_and_reports_faults() {
        let mut r = ReplayRng::new(vec![vec![1, 2], vec![3]]);
        let mut a = [0u8; 2];
        r.try_fill_bytes(&mut a).unwrap();
        assert_eq!(a, [1, 2]);
        assert_eq!(r.finish().unwrap(), vec![vec![1, 2]]);

        let mut r = ReplayRng::new(vec![vec![1, 2]]);
        let mut b = [9u8; 3];
        r.try_fill_bytes(&mut b).unwrap();
        assert_eq!(b, [0; 3]);
        assert!(r.finish().unwrap_err().contains("is 2 bytes"));

        let mut r = ReplayRng::new(vec![]);
        r.try_fill_bytes(&mut a).unwrap();
        assert!(r.finish().is_err());

        let f = |i: usize, n: usize| vec![i as u8; n];
        let mut r = ReplayRng::with_fresh(vec![vec![7]], Some(&f));
        let mut c = [0u8; 1];
        r.try_fill_bytes(&mut c).unwrap();
        r.try_fill_bytes(&mut a).unwrap();
        assert_eq!(a, [1, 1]);
        assert!(r.finish_exact(&[1, 2]).is_ok());

        let r = ReplayRng::new(vec![vec![1]]);
        assert!(r.finish_exact(&[1]).is_err());
    }
}
