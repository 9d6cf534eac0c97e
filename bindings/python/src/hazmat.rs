//! `sova.hazmat`: building blocks for test tools and auditors, not for
//! applications. The Double Ratchet on its own, operations drawing
//! caller-supplied ("recorded") randomness instead of the operating system's,
//! and the library's own test-vector verifier (spec §4, appendix A).

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyType};

use sova::ratchet::Ratchet as RsRatchet;
use sova::session as s;
use sova::Secret;

use crate::devices::FanoutReceived;
use crate::session::{bytes, Account, HeaderMode, Session};
use crate::{fixed, os_rng, OrRaise};

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RecordedRandom>()?;
    m.add_class::<Ratchet>()?;
    m.add_class::<VectorReport>()?;
    m.add_function(wrap_pyfunction!(account_new, m)?)?;
    m.add_function(wrap_pyfunction!(generate_one_time_prekeys, m)?)?;
    m.add_function(wrap_pyfunction!(generate_kem_one_time_prekeys, m)?)?;
    m.add_function(wrap_pyfunction!(session_start, m)?)?;
    m.add_function(wrap_pyfunction!(session_encrypt, m)?)?;
    m.add_function(wrap_pyfunction!(fanout_received, m)?)?;
    m.add_function(wrap_pyfunction!(vector_file_known, m)?)?;
    m.add_function(wrap_pyfunction!(verify_vector_file, m)?)?;
    m.add("CIPHER_SUITE", sova_vectors::CIPHER_SUITE)?;
    m.add("MAX_SESSION_AD_LEN", sova::ratchet::MAX_SESSION_AD_LEN)?;
    Ok(())
}

/// Randomness recorded in advance: served in order, each byte once. Drawing
/// past the end yields zeros and sets `overrun`; check `fully_drawn` after
/// the operation.
#[pyclass(module = "sova.hazmat")]
pub(crate) struct RecordedRandom {
    bytes: Vec<u8>,
    at: usize,
    overrun: bool,
}

impl sova::rand_core::TryRng for RecordedRandom {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        let end = self.at.saturating_add(dst.len());
        match self.bytes.get(self.at..end) {
            Some(src) => dst.copy_from_slice(src),
            None => {
                self.overrun = true;
                dst.fill(0);
            }
        }
        self.at = end;
        Ok(())
    }
}

impl sova::rand_core::TryCryptoRng for RecordedRandom {}

#[pymethods]
impl RecordedRandom {
    /// Randomness that serves exactly `data`.
    #[new]
    fn new(data: &[u8]) -> Self {
        Self {
            bytes: data.to_vec(),
            at: 0,
            overrun: false,
        }
    }

    /// How many bytes were drawn (past the end included).
    #[getter]
    fn drawn(&self) -> usize {
        self.at
    }

    /// How many bytes were recorded.
    fn __len__(&self) -> usize {
        self.bytes.len()
    }

    /// More bytes were drawn than recorded.
    #[getter]
    fn overrun(&self) -> bool {
        self.overrun
    }

    /// Exactly the recorded bytes were drawn, no more, no fewer.
    #[getter]
    fn fully_drawn(&self) -> bool {
        !self.overrun && self.at == self.bytes.len()
    }
}

/// A new account drawing its keys from `random` (spec §7.2: the identity,
/// the signed prekey, the last-resort ML-KEM prekey, in this order).
/// `plaintext` as if a fan-out message from `sender_user`'s device
/// `sender_device` had carried it, for `Group.join` and
/// `Group.accept_chain` in tools that replay recorded objects (the
/// conformance adapter). The caller vouches for the sender: the checks that
/// bind a welcome or chain offer to its pairwise session rely on it.
#[pyfunction]
fn fanout_received(
    py: Python<'_>,
    plaintext: &[u8],
    sender_user: &[u8],
    sender_device: u32,
) -> PyResult<FanoutReceived> {
    let user = fixed::<32>("sender_user", sender_user)?;
    FanoutReceived::of(
        py,
        sova::devices::FanoutReceived::hazmat_new(plaintext.to_vec(), user, sender_device),
    )
}

#[pyfunction]
fn account_new(random: &mut RecordedRandom) -> PyResult<Account> {
    Ok(Account {
        inner: s::Account::new(random).or_raise()?,
    })
}

/// `Account.generate_one_time_prekeys` drawing from `random`.
#[pyfunction]
fn generate_one_time_prekeys(
    account: &mut Account,
    random: &mut RecordedRandom,
    count: usize,
) -> PyResult<Vec<u32>> {
    account
        .inner
        .generate_one_time_prekeys(random, count)
        .or_raise()
}

/// `Account.generate_kem_one_time_prekeys` drawing from `random`.
#[pyfunction]
fn generate_kem_one_time_prekeys(
    account: &mut Account,
    random: &mut RecordedRandom,
    count: usize,
) -> PyResult<Vec<u32>> {
    account
        .inner
        .generate_kem_one_time_prekeys(random, count)
        .or_raise()
}

/// `Session.start` (with `peer`) or `Session.start_unverified` (`peer`
/// None) drawing from `random` (spec §7.4: the ephemeral key, then `m`).
#[pyfunction]
#[pyo3(signature = (account, random, peer, bundle, header_mode))]
fn session_start(
    account: &Account,
    random: &mut RecordedRandom,
    peer: Option<&[u8]>,
    bundle: &[u8],
    header_mode: HeaderMode,
) -> PyResult<Session> {
    let s = match peer {
        Some(p) => {
            let p = crate::session::identity_key(p)?;
            s::Session::start(&account.inner, random, &p, bundle, header_mode.into())
        }
        None => s::Session::start_unverified(&account.inner, random, bundle, header_mode.into()),
    }
    .or_raise()?;
    Ok(Session::of(s))
}

/// `Session.encrypt` drawing from `random` (spec §5.5.2).
#[pyfunction]
fn session_encrypt<'py>(
    py: Python<'py>,
    session: &mut Session,
    random: &mut RecordedRandom,
    plaintext: &[u8],
) -> PyResult<Bound<'py, PyBytes>> {
    let m = session.get_mut()?.encrypt(random, plaintext).or_raise()?;
    Ok(bytes(py, &m))
}

/// A Double Ratchet on its own (spec §5, §6), set up from a session secret.
#[pyclass(module = "sova.hazmat")]
pub(crate) struct Ratchet {
    inner: RsRatchet,
}

#[pymethods]
impl Ratchet {
    /// The initiator's ratchet: it sends first, to `their_ratchet_public`.
    #[staticmethod]
    fn initiator(
        session_secret: &[u8],
        their_ratchet_public: &[u8],
        session_ad: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<Self> {
        let sk = Secret::from_bytes(fixed::<32>("a session secret", session_secret)?);
        let theirs = fixed::<32>("a ratchet public key", their_ratchet_public)?;
        Ok(Self {
            inner: RsRatchet::initiator(&sk, theirs, session_ad, header_mode.into()).or_raise()?,
        })
    }

    /// The responder's ratchet, holding `our_ratchet_private`.
    #[staticmethod]
    fn responder(
        session_secret: &[u8],
        our_ratchet_private: &[u8],
        session_ad: &[u8],
        header_mode: HeaderMode,
    ) -> PyResult<Self> {
        let sk = Secret::from_bytes(fixed::<32>("a session secret", session_secret)?);
        let ours = Secret::from_bytes(fixed::<32>("a ratchet private key", our_ratchet_private)?);
        Ok(Self {
            inner: RsRatchet::responder(&sk, ours, session_ad, header_mode.into()).or_raise()?,
        })
    }

    /// Encrypts, drawing from `random` if given, else from the operating
    /// system's generator.
    #[pyo3(signature = (plaintext, random=None))]
    fn encrypt<'py>(
        &mut self,
        py: Python<'py>,
        plaintext: &[u8],
        random: Option<PyRefMut<'_, RecordedRandom>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let m = match random {
            Some(mut r) => self.inner.encrypt(&mut *r, plaintext),
            None => self.inner.encrypt(&mut os_rng(), plaintext),
        }
        .or_raise()?;
        Ok(bytes(py, &m))
    }

    /// Decrypts; a rejected message raises `DecryptError` and changes nothing.
    fn decrypt<'py>(&mut self, py: Python<'py>, message: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
        let p = self.inner.decrypt(message).or_raise()?;
        Ok(bytes(py, &p))
    }

    /// The state's encoding (spec §8.2).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        bytes(py, &self.inner.to_bytes())
    }

    /// Restores a ratchet from `to_bytes`.
    #[classmethod]
    fn from_bytes(_cls: &Bound<'_, PyType>, state: &[u8]) -> PyResult<Self> {
        Ok(Self {
            inner: RsRatchet::from_bytes(state).or_raise()?,
        })
    }
}

/// Whether `file` names a vector file the verifier knows.
#[pyfunction]
fn vector_file_known(file: &str) -> bool {
    sova_vectors::family(file).is_some()
}

/// The verdict of the library's vector verifier on one file.
#[pyclass(module = "sova.hazmat", frozen, get_all)]
pub(crate) struct VectorReport {
    /// Every case passed.
    passed: bool,
    /// How many cases the file holds.
    cases: usize,
    /// A problem with the file as a whole.
    error: Option<String>,
    /// The first failing case's field path (empty for the whole case).
    failure_field: Option<String>,
    /// The first failure, described.
    failure: Option<String>,
}

/// Verifies the contents of vector file `file` (a JSON document) with the
/// library's own verifier, on the default backend.
#[pyfunction]
fn verify_vector_file(file: &str, contents: &[u8]) -> PyResult<VectorReport> {
    if sova_vectors::family(file).is_none() {
        return Err(PyValueError::new_err(format!(
            "unknown vector file {file:?}"
        )));
    }
    let report = sova_vectors::verify_file(file, contents, &[&sova::DefaultProvider::default()]);
    let first = report.first_failure();
    Ok(VectorReport {
        passed: report.passed(),
        cases: report.cases,
        error: report.error.as_ref().map(ToString::to_string),
        failure_field: first.map(|(_, f)| f.field.clone()),
        failure: first.map(|(_, f)| f.to_string()),
    })
}
