//! The building blocks of a vector file: case types, kinds and families.
//!
//! A *family* is one vector file. It lists the *kinds* of case it contains
//! and a function that generates its cases. A kind is a Rust struct
//! implementing [`Case`]: its fields, in declaration order, are the JSON
//! fields of the case (inputs first, then intermediates and outputs), and
//! [`Case::recompute`] rebuilds every non-input field from the inputs.
//!
//! Generation and verification share that one function, so a file cannot
//! describe a computation other than the one the verifier checks.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};
use sova::CryptoProvider;

use crate::generator;
use crate::report::Reason;

/// A failure of one case: the field it concerns and what went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseError {
    /// The field, as a path: `"okm"`, or `"steps[2].key"` for nested values;
    /// empty when the problem concerns the case as a whole.
    pub field: String,
    /// What went wrong.
    pub reason: Reason,
}

impl CaseError {
    /// An input field that cannot be used as it is (wrong length, out of range).
    pub fn malformed(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: Reason::Malformed {
                message: message.into(),
            },
        }
    }

    /// The provider rejected inputs the file says are valid.
    pub fn rejected(field: &str, error: impl core::fmt::Display) -> Self {
        Self {
            field: field.to_owned(),
            reason: Reason::Rejected {
                message: error.to_string(),
            },
        }
    }

    /// A check beyond recomputation failed (a signature does not verify,
    /// decapsulation disagrees).
    pub fn check_failed(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: Reason::CheckFailed {
                message: message.into(),
            },
        }
    }
}

/// Converts a byte-string field to a fixed-size array, naming the field when
/// the length is wrong.
///
/// # Errors
/// [`Reason::Malformed`] when `bytes` is not exactly `N` bytes long.
pub fn fixed<const N: usize>(field: &str, bytes: &[u8]) -> Result<[u8; N], CaseError> {
    bytes.try_into().map_err(|_| {
        CaseError::malformed(
            field,
            format!("expected {N} bytes, found {} bytes", bytes.len()),
        )
    })
}

/// One kind of case: a struct whose fields are the case's JSON fields.
///
/// The derived `Serialize`/`Deserialize` must keep the declaration order
/// (inputs, then intermediates, then outputs) and should deny unknown fields
/// (`#[serde(deny_unknown_fields)]`). Byte strings are [`Bytes`](crate::Bytes),
/// integers are Rust integers, labels are `String`s.
pub trait Case: Serialize + DeserializeOwned {
    /// The value of the case's `"kind"` field, unique within its file.
    const KIND: &'static str;

    /// Returns the case with every non-input field recomputed from the input
    /// fields of `self` with `provider`. Input fields are copied unchanged.
    ///
    /// # Errors
    /// A [`CaseError`] naming the field when an input is unusable or the
    /// provider rejects it.
    fn recompute(&self, provider: &dyn CryptoProvider) -> Result<Self, CaseError>;

    /// Checks that are not recomputations, run after every field matched:
    /// a signature verifies, a ciphertext decrypts, a decapsulation agrees.
    ///
    /// # Errors
    /// A [`CaseError`] naming the field whose check failed.
    fn check(&self, _provider: &dyn CryptoProvider) -> Result<(), CaseError> {
        Ok(())
    }
}

/// A kind of case as a family lists it: its name and its verifier.
#[derive(Clone, Copy)]
pub struct Kind {
    name: &'static str,
    verify: fn(Value, &dyn CryptoProvider) -> Result<(), CaseError>,
}

impl Kind {
    /// The kind implemented by the case type `T`.
    pub const fn of<T: Case>() -> Self {
        Self {
            name: T::KIND,
            verify: verify_case::<T>,
        }
    }

    /// The value of the `"kind"` field of this kind's cases.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Verifies one case (without its `"kind"` field) with `provider`.
    ///
    /// # Errors
    /// The first failure, naming its field.
    pub fn verify(&self, case: Value, provider: &dyn CryptoProvider) -> Result<(), CaseError> {
        (self.verify)(case, provider)
    }
}

impl core::fmt::Debug for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("Kind").field(&self.name).finish()
    }
}

/// One vector file: its name, description, kinds of case and generator.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    file: &'static str,
    description: &'static str,
    kinds: &'static [Kind],
    generate: fn(&mut FileGen<'_>) -> Result<(), CaseError>,
}

impl Family {
    /// Declares a family. `generate` adds the cases in file order through
    /// [`FileGen::case`].
    pub const fn new(
        file: &'static str,
        description: &'static str,
        kinds: &'static [Kind],
        generate: fn(&mut FileGen<'_>) -> Result<(), CaseError>,
    ) -> Self {
        Self {
            file,
            description,
            kinds,
            generate,
        }
    }

    /// The file name, e.g. `"primitives.json"`.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The `"description"` written at the top of the file.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The kinds of case the file may contain.
    pub fn kinds(&self) -> &'static [Kind] {
        self.kinds
    }

    /// The kind named `name`, if this family has it.
    pub fn kind(&self, name: &str) -> Option<&'static Kind> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// Generates the cases of the file with `provider`, as JSON objects whose
    /// first field is `"kind"`.
    ///
    /// # Errors
    /// The index and [`CaseError`] of the first case that could not be built.
    pub fn generate(
        &self,
        provider: &dyn CryptoProvider,
    ) -> Result<Vec<Value>, (usize, CaseError)> {
        let mut g = FileGen {
            file: self.file,
            provider,
            cases: Vec::new(),
        };
        (self.generate)(&mut g).map_err(|e| (g.cases.len(), e))?;
        Ok(g.cases)
    }
}

/// The state of a family's generator: the cases made so far.
pub struct FileGen<'a> {
    file: &'static str,
    provider: &'a dyn CryptoProvider,
    cases: Vec<Value>,
}

impl FileGen<'_> {
    /// Appends one case. `build` receives the [`Inputs`] of the new case's
    /// index and returns the complete case (usually through the same
    /// constructor [`Case::recompute`] calls).
    ///
    /// # Errors
    /// Whatever `build` returns.
    pub fn case<T: Case>(
        &mut self,
        build: impl FnOnce(&Inputs<'_>) -> Result<T, CaseError>,
    ) -> Result<(), CaseError> {
        let index = u32::try_from(self.cases.len())
            .map_err(|_| CaseError::malformed("", "too many cases in one file"))?;
        let inputs = Inputs {
            file: self.file,
            index,
            provider: self.provider,
        };
        let case = build(&inputs)?;
        self.cases.push(tagged(T::KIND, &case)?);
        Ok(())
    }
}

/// The inputs available to the case being generated.
pub struct Inputs<'a> {
    file: &'static str,
    index: u32,
    provider: &'a dyn CryptoProvider,
}

impl Inputs<'_> {
    /// `n` pseudorandom bytes for the input field `field` of this case
    /// (the recipe in [`crate::generator`]).
    pub fn bytes(&self, field: &str, n: usize) -> Vec<u8> {
        generator::input(self.file, self.index, field, n)
    }

    /// [`Inputs::bytes`] as a fixed-size array.
    pub fn array<const N: usize>(&self, field: &str) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes(field, N));
        out
    }

    /// The provider that computes the outputs.
    pub fn provider(&self) -> &dyn CryptoProvider {
        self.provider
    }

    /// The index of the case in the file.
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// The JSON object of a case with `"kind"` as its first field.
fn tagged<T: Case>(kind: &str, case: &T) -> Result<Value, CaseError> {
    let fields = match serde_json::to_value(case) {
        Ok(Value::Object(m)) => m,
        Ok(_) => {
            return Err(CaseError::malformed(
                "",
                "a case must serialize to an object",
            ))
        }
        Err(e) => return Err(CaseError::malformed("", e.to_string())),
    };
    let mut m = Map::new();
    m.insert("kind".to_owned(), Value::String(kind.to_owned()));
    for (k, v) in fields {
        m.insert(k, v);
    }
    Ok(Value::Object(m))
}

/// Reads a case of type `T`, recomputes it, compares field by field, then
/// runs the extra checks.
fn verify_case<T: Case>(case: Value, provider: &dyn CryptoProvider) -> Result<(), CaseError> {
    let parsed: T = serde_path_to_error::deserialize(case).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // serde reports a missing field at the level of the case; name it.
        let field = match message.strip_prefix("missing field `") {
            Some(rest) if path == "." => rest.split('`').next().unwrap_or_default().to_owned(),
            _ if path == "." => String::new(),
            _ => path,
        };
        CaseError::malformed(&field, message)
    })?;
    let recomputed = parsed.recompute(provider)?;
    let expected =
        serde_json::to_value(&parsed).map_err(|e| CaseError::malformed("", e.to_string()))?;
    let actual =
        serde_json::to_value(&recomputed).map_err(|e| CaseError::malformed("", e.to_string()))?;
    if let Some((field, expected, actual)) = first_difference(&expected, &actual, "") {
        return Err(CaseError {
            field,
            reason: Reason::Mismatch { expected, actual },
        });
    }
    parsed.check(provider)
}

/// The text shown for a value in a report: strings without quotes, anything
/// else as compact JSON.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// The first place where `expected` and `actual` differ, in `actual`'s field
/// order: (path, expected text, actual text).
pub(crate) fn first_difference(
    expected: &Value,
    actual: &Value,
    path: &str,
) -> Option<(String, String, String)> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, av) in a {
                let p = join(path, k);
                match e.get(k) {
                    None => return Some((p, "(absent)".to_owned(), value_text(av))),
                    Some(ev) => {
                        if let Some(d) = first_difference(ev, av, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            e.iter()
                .find(|(k, _)| !a.contains_key(*k))
                .map(|(k, ev)| (join(path, k), value_text(ev), "(absent)".to_owned()))
        }
        (Value::Array(e), Value::Array(a)) => {
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                if let Some(d) = first_difference(ev, av, &format!("{path}[{i}]")) {
                    return Some(d);
                }
            }
            (e.len() != a.len()).then(|| {
                (
                    path.to_owned(),
                    format!("{} elements", e.len()),
                    format!("{} elements", a.len()),
                )
            })
        }
        (e, a) if e == a => None,
        (e, a) => Some((path.to_owned(), value_text(e), value_text(a))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn first_difference_follows_actual_order_and_nests() {
        let e = json!({"a": "00", "b": [{"x": 1}, {"x": 2}], "c": "ff"});
        let a = json!({"a": "00", "b": [{"x": 1}, {"x": 3}], "c": "fe"});
        assert_eq!(
            first_difference(&e, &a, ""),
            Some(("b[1].x".into(), "2".into(), "3".into()))
        );
        let a = json!({"a": "00", "b": [{"x": 1}], "c": "ff"});
        assert_eq!(
            first_difference(&e, &a, ""),
            Some(("b".into(), "2 elements".into(), "1 elements".into()))
        );
        assert_eq!(first_difference(&e, &e, ""), None);
    }

    #[test]
    fn fixed_names_the_field() {
        assert_eq!(fixed::<2>("key", &[1, 2]).unwrap(), [1, 2]);
        let e = fixed::<2>("key", &[1]).unwrap_err();
        assert_eq!(e.field, "key");
        assert!(matches!(e.reason, Reason::Malformed { .. }));
    }
}
