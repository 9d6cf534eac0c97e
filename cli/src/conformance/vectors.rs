//! Capability `vectors` (spec appendix A.6.1): every case of every vector
//! file, and the edited cases that must be reported as failing.

use serde_json::{json, Value};
use sova::DefaultProvider;

use super::{Runner, Status};
use crate::protocol::{CAP_VECTORS, CASE_FAILED, UNSUPPORTED};
use crate::Failure;

impl Runner<'_> {
    pub(super) fn vectors(&mut self, files: &[(String, Vec<u8>)]) {
        if !self.wanted(CAP_VECTORS) {
            return;
        }
        if let Some(b) = &self.port.broken {
            let d = format!("not run: {}", b.0);
            self.row(CAP_VECTORS, "every vector file", Status::Skip, d);
            return;
        }
        if !self.declared(CAP_VECTORS) {
            self.row(
                CAP_VECTORS,
                "every vector file",
                Status::Skip,
                "capability `vectors` not declared".into(),
            );
            return;
        }
        let mut edits_total = 0usize;
        let mut edits_caught = 0usize;
        let mut edit_failure: Option<String> = None;
        let mut edit_unsupported = 0usize;
        for (name, contents) in files {
            if sova_vectors::family(name).is_none() {
                self.row(
                    CAP_VECTORS,
                    name.clone(),
                    Status::Skip,
                    "not a vector file this runner knows".into(),
                );
                continue;
            }
            if let Some(b) = &self.port.broken {
                let d = format!("not run: {}", b.0);
                self.row(CAP_VECTORS, name.clone(), Status::Skip, d);
                continue;
            }
            let own = sova_vectors::verify_file(name, contents, &[&DefaultProvider::default()]);
            if !own.passed() {
                let why = match (&own.error, own.first_failure()) {
                    (Some(e), _) => e.to_string(),
                    (None, Some((_, f))) => f.to_string(),
                    (None, None) => "unknown".into(),
                };
                self.row(
                    CAP_VECTORS,
                    name.clone(),
                    Status::Fail,
                    format!("the file does not verify with this library either (damaged?): {why}"),
                );
                continue;
            }
            let cases: Vec<Value> = serde_json::from_slice::<Value>(contents)
                .ok()
                .and_then(|v| v.get("cases").and_then(Value::as_array).cloned())
                .unwrap_or_default();
            let mut passed = 0usize;
            let mut unsupported: Vec<String> = Vec::new();
            let mut first_failure: Option<String> = None;
            let mut failed = 0usize;
            let mut kinds_seen: Vec<String> = Vec::new();
            for (i, case) in cases.iter().enumerate() {
                let kind = case
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let r = self.port.call(
                    "vector_case",
                    json!({ "file": name, "index": i, "case": case }),
                );
                let r = match r {
                    Ok(r) => r,
                    Err(b) => {
                        failed += 1;
                        first_failure.get_or_insert(format!("case {i} ({kind}): {}", b.0));
                        break;
                    }
                };
                match r {
                    Ok(_) => passed += 1,
                    Err(e) if e.class == UNSUPPORTED => {
                        if !unsupported.contains(&kind) {
                            unsupported.push(kind.clone());
                        }
                        continue;
                    }
                    Err(e) => {
                        failed += 1;
                        let field = e
                            .extra
                            .get("field")
                            .and_then(Value::as_str)
                            .map(|f| format!(", field `{f}`"))
                            .unwrap_or_default();
                        first_failure.get_or_insert(format!(
                            "case {i} ({kind}){field}: {}: {}",
                            e.class, e.message
                        ));
                        continue;
                    }
                }
                // A negative control: the first case of each kind, edited.
                if kinds_seen.contains(&kind) {
                    continue;
                }
                kinds_seen.push(kind.clone());
                let mut edited = case.clone();
                let Some(path) = edit_last_value(&mut edited, String::new()) else {
                    continue;
                };
                edits_total += 1;
                match self.port.call(
                    "vector_case",
                    json!({ "file": name, "index": i, "case": edited }),
                ) {
                    Ok(Err(e)) if e.class == CASE_FAILED => edits_caught += 1,
                    Ok(Err(e)) if e.class == UNSUPPORTED => edit_unsupported += 1,
                    Ok(Ok(_)) => {
                        edit_failure.get_or_insert(format!(
                            "{name} case {i} ({kind}) with `{path}` edited was reported as passing"
                        ));
                    }
                    Ok(Err(e)) => {
                        edit_failure.get_or_insert(format!(
                            "{name} case {i} ({kind}) with `{path}` edited: expected class {CASE_FAILED}, got {}",
                            e.class
                        ));
                    }
                    Err(b) => {
                        edit_failure.get_or_insert(b.0);
                    }
                }
            }
            let total = cases.len();
            let (status, detail) = if failed > 0 {
                (
                    Status::Fail,
                    format!(
                        "{passed}/{total} cases passed; first failure: {}",
                        first_failure.unwrap_or_default()
                    ),
                )
            } else if !unsupported.is_empty() {
                (
                    Status::Skip,
                    format!(
                        "{passed}/{total} cases passed; unsupported kinds: {}",
                        unsupported.join(", ")
                    ),
                )
            } else {
                (Status::Pass, format!("{passed}/{total} cases"))
            };
            self.row(CAP_VECTORS, name.clone(), status, detail);
        }
        let test = "edited cases reported as failing";
        match edit_failure {
            Some(f) => self.row(
                CAP_VECTORS,
                test,
                Status::Fail,
                format!("{edits_caught}/{edits_total} caught; {f}"),
            ),
            None if edits_total == 0 || edit_unsupported == edits_total => {
                self.row(CAP_VECTORS, test, Status::Skip, "no case to edit".into())
            }
            None => self.row(
                CAP_VECTORS,
                test,
                Status::Pass,
                format!(
                    "{edits_caught}/{edits_total} (first case of each kind, last value edited)"
                ),
            ),
        }
    }
}

/// Edits the last scalar value of a case (depth first through the last
/// field of objects and the last element of arrays); returns its path.
fn edit_last_value(v: &mut Value, path: String) -> Option<String> {
    match v {
        Value::Object(m) => {
            let key = m.keys().next_back()?.clone();
            let child = m.get_mut(&key)?;
            let p = if path.is_empty() {
                key
            } else {
                format!("{path}.{key}")
            };
            edit_last_value(child, p)
        }
        Value::Array(a) => {
            let i = a.len().checked_sub(1)?;
            edit_last_value(a.get_mut(i)?, format!("{path}[{i}]"))
        }
        Value::String(s) => {
            let is_hex = !s.is_empty()
                && s.len() % 2 == 0
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            *s = if is_hex {
                let mut b = ::hex::decode(&*s).ok()?;
                let last = b.len() - 1;
                b[last] ^= 0x01;
                ::hex::encode(b)
            } else if s.is_empty() {
                "00".into()
            } else {
                format!("{s}-edited")
            };
            Some(path)
        }
        Value::Number(n) => {
            *v = json!(n.as_u64().map_or(1, |x| x + 1));
            Some(path)
        }
        Value::Bool(b) => {
            *b = !*b;
            Some(path)
        }
        Value::Null => None,
    }
}

/// Reads the vector files of `dir`: the known ones in canonical order, then
/// any other `.json` file by name.
pub(super) fn read_vectors(dir: &std::path::Path) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let io = |e: std::io::Error| Failure::Error(format!("{}: {e}", dir.display()));
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".json") && entry.path().is_file() {
            names.push(name);
        }
    }
    names.sort_by_key(|n| {
        (
            sova_vectors::FAMILIES
                .iter()
                .position(|f| f.file() == n)
                .unwrap_or(usize::MAX),
            n.clone(),
        )
    });
    names
        .into_iter()
        .map(|n| {
            let path = dir.join(&n);
            std::fs::read(&path)
                .map(|c| (n, c))
                .map_err(|e| Failure::Error(format!("{}: {e}", path.display())))
        })
        .collect()
}
