//! Verification reports.
//!
//! Every report type implements `Display` (the plain-text report of
//! `sova vectors verify`) and `Serialize` (its `--json` output).

use core::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// Why a case failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// The recomputed value differs from the value in the file.
    Mismatch {
        /// The value in the file (hex digits for byte strings).
        expected: String,
        /// The recomputed value.
        actual: String,
    },
    /// The case or one of its fields is not well formed (missing, unknown,
    /// not lowercase hex, wrong length, unknown kind).
    Malformed {
        /// What is wrong.
        message: String,
    },
    /// The provider returned an error for inputs the file says are valid.
    Rejected {
        /// The provider's error.
        message: String,
    },
    /// A check beyond recomputation failed.
    CheckFailed {
        /// Which check, and how it failed.
        message: String,
    },
}

/// The first failing case of a file on one backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseFailure {
    /// The 0-based index of the case in the file's `cases` array.
    pub case: usize,
    /// The case's `"kind"` (empty when it has none).
    pub kind: String,
    /// The first differing field, as a path (`"okm"`, `"steps[2].key"`);
    /// empty when the failure concerns the whole case.
    pub field: String,
    /// What went wrong.
    #[serde(flatten)]
    pub reason: Reason,
}

/// Longest hex string a plain-text report prints in full.
const SHOW_HEX: usize = 96;

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Shortens long hex strings to a window around byte offset `at`.
fn excerpt(s: &str, at: usize) -> String {
    if s.len() <= SHOW_HEX || !is_hex(s) {
        return s.to_owned();
    }
    let start = (at * 2).saturating_sub(16).min(s.len());
    let end = (start + SHOW_HEX - 32).min(s.len());
    let lead = if start > 0 { "…" } else { "" };
    let tail = if end < s.len() { "…" } else { "" };
    format!(
        "{lead}{}{tail} ({} bytes, shown from byte {})",
        &s[start..end],
        s.len() / 2,
        start / 2
    )
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "case {}", self.case)?;
        if !self.kind.is_empty() {
            write!(f, " ({})", self.kind)?;
        }
        if !self.field.is_empty() {
            write!(f, ", field `{}`", self.field)?;
        }
        match &self.reason {
            Reason::Mismatch { expected, actual } => {
                let diff_at = expected
                    .as_bytes()
                    .iter()
                    .zip(actual.as_bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(expected.len().min(actual.len()))
                    / 2;
                write!(
                    f,
                    ": expected {}, actual {}",
                    excerpt(expected, diff_at),
                    excerpt(actual, diff_at)
                )?;
                if is_hex(expected) && is_hex(actual) && expected.len() == actual.len() {
                    write!(f, " (first difference at byte {diff_at})")?;
                }
                Ok(())
            }
            Reason::Malformed { message } => write!(f, ": malformed: {message}"),
            Reason::Rejected { message } => write!(f, ": rejected by the backend: {message}"),
            Reason::CheckFailed { message } => write!(f, ": check failed: {message}"),
        }
    }
}

/// The result of one file on one backend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendReport {
    /// The backend's name ([`sova::CryptoProvider::name`]).
    pub backend: &'static str,
    /// How many cases passed.
    pub passed: usize,
    /// How many cases failed.
    pub failed: usize,
    /// The first failing case, if any.
    pub first_failure: Option<CaseFailure>,
}

/// A problem with a file as a whole; no case of it was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "error", content = "message", rename_all = "snake_case")]
pub enum FileError {
    /// The file name is not one of the known vector files.
    UnknownFile(String),
    /// The file is not valid JSON (or not UTF-8).
    Json(String),
    /// The JSON is valid but not the top-level shape of spec §4.1.
    Shape(String),
    /// The `cipher_suite` field names a suite other than SOVA-1.
    CipherSuite(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownFile(known) => write!(f, "unknown vector file (known files: {known})"),
            Self::Json(m) => write!(f, "malformed JSON: {m}"),
            Self::Shape(m) => write!(f, "not a vector file: {m}"),
            Self::CipherSuite(s) => {
                write!(f, "cipher suite {s:?} is not {:?}", crate::CIPHER_SUITE)
            }
        }
    }
}

/// The result of one file on every backend it was verified with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// The file name.
    pub file: String,
    /// The number of cases in the file (0 when it could not be read).
    pub cases: usize,
    /// A problem with the file as a whole.
    pub error: Option<FileError>,
    /// One entry per backend (empty when `error` is set).
    pub backends: Vec<BackendReport>,
}

impl FileReport {
    /// Whether every case passed on every backend.
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.backends.iter().all(|b| b.failed == 0)
    }

    /// The first failure on any backend, with that backend's name.
    pub fn first_failure(&self) -> Option<(&'static str, &CaseFailure)> {
        self.backends
            .iter()
            .find_map(|b| b.first_failure.as_ref().map(|f| (b.backend, f)))
    }
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(e) = &self.error {
            return write!(f, "{}: FAILED: {e}", self.file);
        }
        let ok: Vec<&str> = self
            .backends
            .iter()
            .filter(|b| b.failed == 0)
            .map(|b| b.backend)
            .collect();
        if ok.len() == self.backends.len() {
            return write!(
                f,
                "{}: ok: {} cases passed on {}",
                self.file,
                self.cases,
                ok.join(", ")
            );
        }
        write!(f, "{}: FAILED", self.file)?;
        for b in &self.backends {
            write!(
                f,
                "\n  {}: {} of {} cases passed",
                b.backend, b.passed, self.cases
            )?;
            if let Some(first) = &b.first_failure {
                write!(f, "; first failure: {first}")?;
            }
        }
        Ok(())
    }
}

/// The result of verifying a directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The directory that was verified.
    pub dir: PathBuf,
    /// Whether every known file is present and every file passed.
    pub passed: bool,
    /// One report per `.json` file found: the known files in their
    /// canonical order, then unknown files by name.
    pub files: Vec<FileReport>,
    /// Known files absent from the directory.
    pub missing: Vec<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            writeln!(f, "{file}")?;
        }
        for m in &self.missing {
            writeln!(f, "{m}: FAILED: missing from {}", self.dir.display())?;
        }
        let failed = self.files.iter().filter(|r| !r.passed()).count() + self.missing.len();
        if failed == 0 {
            write!(f, "all {} files passed", self.files.len())
        } else {
            write!(
                f,
                "{failed} of {} files failed",
                self.files.len() + self.missing.len()
            )
        }
    }
}
