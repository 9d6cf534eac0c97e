//! Python bindings of Sova: the `sova` package, over the Rust library itself.
//!
//! Every object that holds a secret (accounts, sessions, conversations, user
//! keys, storage keys) keeps it in Rust memory, which the library wipes when
//! the object is freed; Python sees only public values and encoded state.
//! Every fallible call raises a subclass of `sova.SovaError` carrying the
//! library's stable error code (spec appendix B); nothing panics across the
//! boundary.

use pyo3::prelude::*;

mod devices;
mod errors;
mod groups;
#[cfg(feature = "hazmat")]
mod hazmat;
mod session;

pub(crate) use errors::OrRaise;

/// The operating system's generator: the only randomness of the default API.
pub(crate) fn os_rng() -> sova::OsRng {
    sova::OsRng
}

/// Bytes of exactly `N`, or `ValueError` naming `what`.
pub(crate) fn fixed<const N: usize>(what: &str, bytes: &[u8]) -> PyResult<[u8; N]> {
    bytes.try_into().map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be {N} bytes, not {}",
            bytes.len()
        ))
    })
}

#[pymodule]
fn _sova(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    session::register(m)?;
    devices::register(m)?;
    groups::register(m)?;
    #[cfg(feature = "hazmat")]
    {
        let h = PyModule::new(m.py(), "hazmat")?;
        hazmat::register(&h)?;
        m.add_submodule(&h)?;
    }
    Ok(())
}
