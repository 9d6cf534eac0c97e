//! # sova-vectors
//!
//! The generator and verifier of the Sova test vectors: the JSON files in
//! `test-vectors/` that let an implementation of Sova in any language check
//! itself against this one, byte for byte. The normative description of the
//! files is spec §4; this page describes the code.
//!
//! ## The files
//!
//! Each file covers one concern and is one JSON document:
//!
//! ```json
//! {
//!   "description": "what the file covers, citing the spec",
//!   "cipher_suite": "SOVA-1",
//!   "cases": [
//!     { "kind": "sha256", "message": "", "digest": "e3b0…" },
//!     …
//!   ]
//! }
//! ```
//!
//! * Every case is an object whose first field, `"kind"`, names the
//!   computation it exercises (`"sha256"`, `"labeled_expand"`, …); a file
//!   lists its cases grouped by kind. The remaining fields are the inputs,
//!   then any intermediate values, then the outputs, always in the same order.
//! * Byte strings are JSON strings of lowercase hex digits (`""` is the empty
//!   string); integers are JSON numbers; labels are JSON strings.
//! * Files are pretty-printed with a 2-space indent and end with a newline.
//!   They are written only by [`write_dir`] (`sova vectors generate`) and are
//!   never edited by hand.
//!
//! [`FAMILIES`] lists the files in canonical order, each with its
//! description; spec §4.1.5 maps every file to the section that specifies it
//! (`primitives.json` §4.2, `building-blocks.json` §4.3, then the higher
//! layers).
//!
//! ## How inputs are produced
//!
//! Pseudorandom inputs come from SHA-256 alone (the [`generator`] module):
//! block `i` of the input stream of a field is
//!
//! ```text
//! SHA-256("sova test vectors" || u8(len(file)) || file || u32(case)
//!         || u8(len(field)) || field || u32(i))
//! ```
//!
//! and an input of `n` bytes is the first `n` bytes of blocks 0, 1, 2, …
//! (integers big-endian, `case` the 0-based index in `cases`, `field` the JSON
//! field name). Fixed inputs (labels, lengths) are written in the family's
//! source. Regeneration is therefore byte-identical on every platform and
//! with any version of any random-number crate. The files contain every
//! input, so a consumer never needs this recipe.
//!
//! ## Verification
//!
//! [`verify_file`] reads every case, recomputes every non-input field from
//! the input fields with a given [`CryptoProvider`], and compares field by
//! field in file order; then it runs the checks that are not
//! recomputations (signatures verify, ciphertexts open, decapsulation
//! agrees). The [`FileReport`] counts the passing cases per backend and
//! names the first failure: case index, kind, field, expected and actual
//! value. A file whose name is unknown, whose JSON is malformed or whose
//! top-level shape is wrong is reported as a [`FileError`] naming the file.
//! [`verify_dir`] does this for a whole directory and also reports known
//! files that are missing.
//!
//! ## The command-line tool
//!
//! `sova vectors generate [DIR]` and `sova vectors verify [DIR] [--json]`
//! (crate `sova-cli`) wrap [`write_dir`] and [`verify_dir`]. `verify` exits
//! with 0 when every file passed, 1 when a file failed verification (a
//! mismatch, a malformed or unknown file, a missing file) and 2 on a usage
//! or I/O error.
//!
//! ## Adding a vector file
//!
//! 1. Create `src/families/<name>.rs`. For each kind of case, write a struct
//!    with `#[derive(Serialize, Deserialize)]` and
//!    `#[serde(deny_unknown_fields)]` whose fields are the JSON fields in
//!    order (inputs, intermediates, outputs; byte strings as [`Bytes`]), a
//!    constructor `compute(provider, inputs…) -> Result<Self, CaseError>`
//!    computing everything from the inputs through the library's public API,
//!    and an implementation of [`family::Case`] whose `recompute` calls the
//!    constructor with the inputs of `self` and whose optional `check` does
//!    the verifications that are not recomputations. Use
//!    [`family::fixed`] to turn a byte string into an array so that a wrong
//!    length names the field.
//! 2. Write `fn generate(g: &mut FileGen<'_>) -> Result<(), CaseError>` that
//!    adds the cases in file order with [`family::FileGen::case`], drawing
//!    pseudorandom inputs from [`family::Inputs::bytes`] (keyed by the JSON
//!    field name) and fixed inputs from constants. Cases of one kind go
//!    together. Cover the edges: empty and maximal lengths, lengths around
//!    block boundaries.
//! 3. Declare `pub(crate) const FAMILY: Family = Family::new(file, description,
//!    &[Kind::of::<YourCase>(), …], generate);`, add the module to
//!    `src/families/mod.rs` and the family to [`FAMILIES`] (the order there
//!    is the order of the reports).
//! 4. Run `cargo run -p sova-cli -- vectors generate`, review the new file,
//!    add a section file under `spec/04-test-vectors/` (Parameters, Format,
//!    Verification) and commit the file with the code. The tests in
//!    `vectors/tests/` then check it byte for byte and on every backend.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sova::CryptoProvider;

mod bytes;
mod families;
pub mod family;
pub mod generator;
mod replay;
mod report;

pub use bytes::Bytes;
pub use family::{Case, CaseError, Family, FileGen, Inputs, Kind};
pub use report::{BackendReport, CaseFailure, FileError, FileReport, Reason, Report};

/// The cipher suite every file is written for (spec §3).
pub const CIPHER_SUITE: &str = "SOVA-1";

/// The directory the vectors live in, relative to the repository root.
pub const DEFAULT_DIR: &str = "test-vectors";

/// Every vector file, in canonical order.
pub const FAMILIES: &[Family] = &[
    families::primitives::FAMILY,
    families::building_blocks::FAMILY,
    families::ratchet_kdf::FAMILY,
    families::ratchet_transcripts::FAMILY,
    families::ratchet_negative::FAMILY,
    families::ratchet_limits::FAMILY,
    families::safety_numbers::FAMILY,
    families::handshake::FAMILY,
    families::handshake_negative::FAMILY,
    families::ed25519_strict::FAMILY,
    families::state_encodings::FAMILY,
    families::prekey_upload::FAMILY,
    families::devices::FAMILY,
    families::groups::FAMILY,
];

/// The family whose file is named `file`.
pub fn family(file: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.file() == file)
}

/// The top level of a vector file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    description: String,
    cipher_suite: String,
    cases: Vec<Value>,
}

/// An error of generation or of file-system access.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing `path` failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// A case could not be generated (a bug in the family's generator).
    Generate {
        /// The file being generated.
        file: &'static str,
        /// The index of the case.
        case: usize,
        /// What went wrong.
        error: CaseError,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Self::Generate { file, case, error } => {
                write!(f, "{file}: cannot generate case {case}")?;
                if !error.field.is_empty() {
                    write!(f, ", field `{}`", error.field)?;
                }
                write!(f, ": {:?}", error.reason)
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Generate { .. } => None,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One generated vector file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The file name, e.g. `"primitives.json"`.
    pub name: &'static str,
    /// The number of cases.
    pub cases: usize,
    /// The exact contents of the file.
    pub contents: String,
}

/// Generates the file of `family` with the default provider.
///
/// # Errors
/// [`Error::Generate`] when a case cannot be built.
pub fn generate_file(family: &Family) -> Result<GeneratedFile, Error> {
    let provider = sova::DefaultProvider::default();
    let cases = family
        .generate(&provider)
        .map_err(|(case, error)| Error::Generate {
            file: family.file(),
            case,
            error,
        })?;
    let n = cases.len();
    let doc = Document {
        description: family.description().to_owned(),
        cipher_suite: CIPHER_SUITE.to_owned(),
        cases,
    };
    let mut contents = serde_json::to_string_pretty(&doc).map_err(|e| Error::Generate {
        file: family.file(),
        case: 0,
        error: CaseError::malformed("", e.to_string()),
    })?;
    contents.push('\n');
    Ok(GeneratedFile {
        name: family.file(),
        cases: n,
        contents,
    })
}

/// Generates every vector file, in the order of [`FAMILIES`].
///
/// # Errors
/// [`Error::Generate`] when a case cannot be built.
pub fn generate_all() -> Result<Vec<GeneratedFile>, Error> {
    FAMILIES.iter().map(generate_file).collect()
}

/// Generates every vector file into `dir`, creating the directory if needed
/// and overwriting files of the same names. Other files are left alone.
///
/// # Errors
/// [`Error::Io`] naming the path that could not be written, or
/// [`Error::Generate`].
pub fn write_dir(dir: &Path) -> Result<Vec<GeneratedFile>, Error> {
    let files = generate_all()?;
    std::fs::create_dir_all(dir).map_err(io_error(dir))?;
    for file in &files {
        let path = dir.join(file.name);
        std::fs::write(&path, &file.contents).map_err(io_error(&path))?;
    }
    Ok(files)
}

/// Verifies one case on one provider.
fn verify_case(
    family: &Family,
    index: usize,
    case: &Value,
    provider: &dyn CryptoProvider,
) -> Result<(), CaseFailure> {
    let fail = |kind: &str, e: CaseError| CaseFailure {
        case: index,
        kind: kind.to_owned(),
        field: e.field,
        reason: e.reason,
    };
    let Value::Object(fields) = case else {
        return Err(fail(
            "",
            CaseError::malformed("", "a case must be a JSON object"),
        ));
    };
    let mut fields = fields.clone();
    let kind_name = match fields.shift_remove("kind") {
        Some(Value::String(k)) => k,
        Some(_) => {
            return Err(fail("", CaseError::malformed("kind", "must be a string")));
        }
        None => return Err(fail("", CaseError::malformed("kind", "missing"))),
    };
    let Some(kind) = family.kind(&kind_name) else {
        let known: Vec<&str> = family.kinds().iter().map(Kind::name).collect();
        return Err(fail(
            &kind_name,
            CaseError::malformed(
                "kind",
                format!(
                    "unknown kind {kind_name:?} in {} (known: {})",
                    family.file(),
                    known.join(", ")
                ),
            ),
        ));
    };
    kind.verify(Value::Object(fields), provider)
        .map_err(|e| fail(&kind_name, e))
}

/// Verifies the vector file `name` with contents `contents` on each of
/// `providers`.
///
/// Every case is checked on every provider: the report counts the passing
/// cases and keeps the first failure of each. A file-level problem (unknown
/// name, malformed JSON, wrong top-level shape or cipher suite) is reported
/// in [`FileReport::error`] and no case is run.
pub fn verify_file(name: &str, contents: &[u8], providers: &[&dyn CryptoProvider]) -> FileReport {
    let mut report = FileReport {
        file: name.to_owned(),
        cases: 0,
        error: None,
        backends: Vec::new(),
    };
    let Some(family) = family(name) else {
        let known: Vec<&str> = FAMILIES.iter().map(Family::file).collect();
        report.error = Some(FileError::UnknownFile(known.join(", ")));
        return report;
    };
    let value: Value = match serde_json::from_slice(contents) {
        Ok(v) => v,
        Err(e) => {
            report.error = Some(FileError::Json(e.to_string()));
            return report;
        }
    };
    let doc: Document = match serde_json::from_value(value) {
        Ok(d) => d,
        Err(e) => {
            report.error = Some(FileError::Shape(e.to_string()));
            return report;
        }
    };
    if doc.cipher_suite != CIPHER_SUITE {
        report.error = Some(FileError::CipherSuite(doc.cipher_suite));
        return report;
    }
    report.cases = doc.cases.len();
    for provider in providers {
        let mut b = BackendReport {
            backend: provider.name(),
            passed: 0,
            failed: 0,
            first_failure: None,
        };
        for (i, case) in doc.cases.iter().enumerate() {
            match verify_case(family, i, case, *provider) {
                Ok(()) => b.passed += 1,
                Err(f) => {
                    b.failed += 1;
                    b.first_failure.get_or_insert(f);
                }
            }
        }
        report.backends.push(b);
    }
    report
}

/// Verifies every `.json` file of `dir` on each of `providers`.
///
/// The report lists the known files present in the order of [`FAMILIES`],
/// then any unknown `.json` files by name (each a failure), and names the
/// known files that are missing. Files not ending in `.json` are ignored.
///
/// # Errors
/// [`Error::Io`] when the directory or one of its files cannot be read.
pub fn verify_dir(dir: &Path, providers: &[&dyn CryptoProvider]) -> Result<Report, Error> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.ends_with(".json") && path.is_file() {
            names.push(name);
        }
    }
    names.sort();
    let mut files = Vec::new();
    let mut missing = Vec::new();
    let read = |name: &str| -> Result<FileReport, Error> {
        let path = dir.join(name);
        let contents = std::fs::read(&path).map_err(io_error(&path))?;
        Ok(verify_file(name, &contents, providers))
    };
    for f in FAMILIES {
        if names.iter().any(|n| n == f.file()) {
            files.push(read(f.file())?);
        } else {
            missing.push(f.file().to_owned());
        }
    }
    for name in names.iter().filter(|n| family(n).is_none()) {
        files.push(read(name)?);
    }
    let passed = missing.is_empty() && files.iter().all(FileReport::passed);
    Ok(Report {
        dir: dir.to_path_buf(),
        passed,
        files,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sova::provider::all_providers;

    #[test]
    fn file_names_and_kinds_are_unique() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert!(f.file().ends_with(".json"));
            assert!(FAMILIES[..i].iter().all(|g| g.file() != f.file()));
            for (j, k) in f.kinds().iter().enumerate() {
                assert!(f.kinds()[..j].iter().all(|l| l.name() != k.name()));
            }
        }
    }

    #[test]
    fn file_level_errors_name_the_problem() {
        let p = all_providers();
        let r = verify_file("nope.json", b"{}", p);
        assert!(matches!(r.error, Some(FileError::UnknownFile(_))));
        assert!(r.to_string().starts_with("nope.json: "), "{r}");
        let r = verify_file("primitives.json", b"{\"cases\": [", p);
        assert!(matches!(r.error, Some(FileError::Json(_))));
        assert!(r.to_string().starts_with("primitives.json: "), "{r}");
        let r = verify_file("primitives.json", b"{\"cases\": []}", p);
        assert!(matches!(r.error, Some(FileError::Shape(_))), "{r}");
        let r = verify_file(
            "primitives.json",
            br#"{"description": "", "cipher_suite": "SOVA-2", "cases": []}"#,
            p,
        );
        assert_eq!(r.error, Some(FileError::CipherSuite("SOVA-2".into())));
        assert!(!r.passed());
    }

    #[test]
    fn malformed_cases_name_the_field() {
        let p = all_providers();
        let check = |case: &str, field: &str| {
            let doc =
                format!(r#"{{"description": "", "cipher_suite": "SOVA-1", "cases": [{case}]}}"#);
            let r = verify_file("primitives.json", doc.as_bytes(), p);
            assert!(r.error.is_none());
            let (_, f) = r.first_failure().unwrap();
            assert_eq!(f.case, 0);
            assert_eq!(f.field, field, "{f}");
            assert!(matches!(f.reason, Reason::Malformed { .. }), "{f}");
        };
        check(
            r#"{"kind": "sha256", "message": "0", "digest": ""}"#,
            "message",
        );
        check(
            r#"{"kind": "sha256", "message": "AB", "digest": ""}"#,
            "message",
        );
        check(r#"{"kind": "sha256", "message": ""}"#, "digest");
        check(
            r#"{"kind": "sha256", "message": "", "digest": "", "x": 1}"#,
            "x",
        );
        check(r#"{"kind": "sha3", "message": "", "digest": ""}"#, "kind");
        check(r#"{"message": "", "digest": ""}"#, "kind");
        check("[]", "");
        check(
            r#"{"kind": "hkdf_expand", "prk": "00", "info": "", "length": 1, "okm": "00"}"#,
            "prk",
        );
        check(
            r#"{"kind": "hkdf_expand", "prk": "", "info": "", "length": -1, "okm": ""}"#,
            "length",
        );
    }

    #[test]
    fn generated_cases_start_with_their_kind() {
        for file in generate_all().unwrap() {
            let doc: Document = serde_json::from_str(&file.contents).unwrap();
            assert_eq!(doc.cases.len(), file.cases);
            for case in &doc.cases {
                let first = case.as_object().unwrap().keys().next().unwrap();
                assert_eq!(first, "kind");
            }
            assert!(file.contents.ends_with("}\n"));
        }
    }
}
