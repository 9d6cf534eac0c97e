//! The exception hierarchy: `SovaError` with `.code` (the library's stable
//! code, spec appendix B) and `.codes` (the code and the reasons it wraps,
//! outermost first), and one subclass per error type of the library.

use core::fmt::{Debug, Display};

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3::PyTypeInfo;

create_exception!(
    sova,
    SovaError,
    PyException,
    "Any error of the library. `code` is its stable code (spec appendix B); \
     `codes` is that code followed by the codes of the errors it wraps."
);
create_exception!(
    sova,
    CryptoError,
    SovaError,
    "A primitive's error (spec §3)."
);
create_exception!(
    sova,
    AccountError,
    SovaError,
    "An account operation failed."
);
create_exception!(
    sova,
    StartError,
    SovaError,
    "A session could not be started from a bundle."
);
create_exception!(
    sova,
    AcceptError,
    SovaError,
    "An initial message was not accepted."
);
create_exception!(
    sova,
    EncryptError,
    SovaError,
    "A message could not be encrypted."
);
create_exception!(sova, DecryptError, SovaError, "A message was rejected.");
create_exception!(
    sova,
    ConversationError,
    SovaError,
    "A conversation refused a session or a message."
);
create_exception!(
    sova,
    StateError,
    SovaError,
    "A persisted state could not be restored."
);
create_exception!(
    sova,
    StorageError,
    SovaError,
    "A sealed state could not be sealed or opened."
);
create_exception!(
    sova,
    PersistError,
    SovaError,
    "A sealed state could not be restored."
);
create_exception!(
    sova,
    BundleError,
    SovaError,
    "A prekey bundle is malformed or badly signed."
);
create_exception!(
    sova,
    UploadError,
    SovaError,
    "A prekey upload is malformed or badly signed."
);
create_exception!(
    sova,
    AssembleError,
    SovaError,
    "A bundle could not be assembled from an upload."
);
create_exception!(
    sova,
    SafetyError,
    SovaError,
    "A scanned safety-number code does not match."
);
create_exception!(
    sova,
    DeviceParseError,
    SovaError,
    "A device-layer encoding is malformed."
);
create_exception!(
    sova,
    DeviceListError,
    SovaError,
    "A device list was refused."
);
create_exception!(sova, LinkError, SovaError, "Linking a device failed.");
create_exception!(
    sova,
    FanoutError,
    SovaError,
    "A fan-out message could not be sent or was refused."
);
create_exception!(
    sova,
    GroupError,
    SovaError,
    "A group operation, welcome, chain offer or message was refused, or a \
     send failed (spec §12.9)."
);
create_exception!(
    sova,
    RatchetInitError,
    SovaError,
    "A ratchet could not be created (hazmat)."
);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SovaError", py.get_type::<SovaError>())?;
    m.add("CryptoError", py.get_type::<CryptoError>())?;
    m.add("AccountError", py.get_type::<AccountError>())?;
    m.add("StartError", py.get_type::<StartError>())?;
    m.add("AcceptError", py.get_type::<AcceptError>())?;
    m.add("EncryptError", py.get_type::<EncryptError>())?;
    m.add("DecryptError", py.get_type::<DecryptError>())?;
    m.add("ConversationError", py.get_type::<ConversationError>())?;
    m.add("StateError", py.get_type::<StateError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    m.add("PersistError", py.get_type::<PersistError>())?;
    m.add("BundleError", py.get_type::<BundleError>())?;
    m.add("UploadError", py.get_type::<UploadError>())?;
    m.add("AssembleError", py.get_type::<AssembleError>())?;
    m.add("SafetyError", py.get_type::<SafetyError>())?;
    m.add("DeviceParseError", py.get_type::<DeviceParseError>())?;
    m.add("DeviceListError", py.get_type::<DeviceListError>())?;
    m.add("LinkError", py.get_type::<LinkError>())?;
    m.add("FanoutError", py.get_type::<FanoutError>())?;
    m.add("GroupError", py.get_type::<GroupError>())?;
    m.add("RatchetInitError", py.get_type::<RatchetInitError>())?;
    Ok(())
}

/// The codes of an error and of the errors it wraps, outermost first, read
/// from its `Debug` form: every error of the library is an enum whose
/// variant names are its codes (spec appendix B), and a wrapping variant
/// holds the inner error as its first field. Numbers, strings and named
/// fields are not codes and end the chain.
fn chain(debug: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = debug;
    loop {
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if name.is_empty() {
            break;
        }
        rest = &rest[name.len()..];
        out.push(name);
        match rest.strip_prefix('(') {
            Some(inner) if inner.starts_with(|c: char| c.is_ascii_uppercase()) => rest = inner,
            _ => break,
        }
    }
    out
}

/// The exception of type `T` for error `e` with code `code`.
fn raise<T: PyTypeInfo, E: Debug + Display>(code: &'static str, e: &E) -> PyErr {
    let mut codes = chain(&format!("{e:?}"));
    // The outermost code is the library's own `code()`.
    match codes.first_mut() {
        Some(first) => *first = code.to_owned(),
        None => codes.push(code.to_owned()),
    }
    Python::with_gil(|py| {
        let err = PyErr::new::<T, _>(e.to_string());
        let value = err.value(py);
        let set = value.setattr("code", code).and_then(|()| {
            let t = PyTuple::new(py, &codes)?;
            value.setattr("codes", t)
        });
        match set {
            Ok(()) => err,
            Err(e) => e,
        }
    })
}

/// A library error that becomes a Python exception.
pub(crate) trait ToPyErr {
    /// The exception.
    fn to_py_err(&self) -> PyErr;
}

macro_rules! coded {
    ($($ty:ty => $exc:ty),* $(,)?) => {
        $(impl ToPyErr for $ty {
            fn to_py_err(&self) -> PyErr {
                raise::<$exc, _>(self.code(), self)
            }
        })*
    };
}

coded!(
    sova::CryptoError => CryptoError,
    sova::session::AccountError => AccountError,
    sova::session::StartError => StartError,
    sova::session::AcceptError => AcceptError,
    sova::session::EncryptError => EncryptError,
    sova::session::DecryptError => DecryptError,
    sova::session::ConversationError => ConversationError,
    sova::ratchet::StateError => StateError,
    sova::storage::StorageError => StorageError,
    sova::session::PersistError => PersistError,
    sova::session::BundleError => BundleError,
    sova::session::UploadError => UploadError,
    sova::session::AssembleError => AssembleError,
    sova::safety::SafetyError => SafetyError,
    sova::devices::ParseError => DeviceParseError,
    sova::devices::ListError => DeviceListError,
    sova::devices::LinkError => LinkError,
    sova::devices::FanoutError => FanoutError,
    sova::groups::GroupError => GroupError,
    sova::ratchet::InitError => RatchetInitError,
    sova::ratchet::EncryptError => EncryptError,
    sova::ratchet::DecryptError => DecryptError,
);

/// `?` for library results: the error becomes its Python exception.
pub(crate) trait OrRaise<T> {
    /// The value, or the exception of the error.
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: ToPyErr> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| e.to_py_err())
    }
}
