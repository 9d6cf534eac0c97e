//! Capability `safety-number` (spec §10): the displayed safety number of
//! two identities, compared with this library's text exactly.

use serde_json::json;
use sova::safety::SafetyNumber;

use super::{field, random_bytes, Runner};
use crate::hex;

/// Why `s` is not 12 groups of 5 ASCII digits separated by single spaces.
fn format_problem(s: &str) -> Option<String> {
    if s.len() != 71 {
        return Some(format!(
            "{} characters, not 71 (12 groups of 5 digits separated by single spaces, §10.5)",
            s.len()
        ));
    }
    let groups: Vec<&str> = s.split(' ').collect();
    if groups.len() != 12
        || groups
            .iter()
            .any(|g| g.len() != 5 || !g.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("not 12 groups of 5 ASCII digits separated by single spaces (§10.5)".into());
    }
    None
}

impl Runner<'_> {
    /// Random identity pairs, one of them swapped and one equal pair.
    pub(super) fn safety_numbers(&mut self) -> Result<String, String> {
        let mut pairs: Vec<([u8; 64], [u8; 64])> = (0..3)
            .map(|_| {
                (
                    random_bytes(&mut self.crypto),
                    random_bytes(&mut self.crypto),
                )
            })
            .collect();
        let (a, b) = pairs[0];
        pairs.push((b, a));
        pairs.push((a, a));
        for (i, (ours, theirs)) in pairs.iter().enumerate() {
            let want = SafetyNumber::new(ours, theirs).display();
            let m = self.call_ok(
                "safety_number",
                json!({ "ours": hex(ours), "theirs": hex(theirs) }),
            )?;
            let got = field(&m, "safety_number", "safety_number")?;
            if let Some(why) = format_problem(got) {
                return Err(format!("pair {i}: {why}: {got:?}"));
            }
            if got != want {
                return Err(format!("pair {i}: {got:?}, expected {want:?}"));
            }
        }
        Ok(format!(
            "{} pairs (one swapped, one equal): 12 groups of 5 digits, as this library",
            pairs.len()
        ))
    }
}
