//! Text encodings of binary input: hex and base64, detected or forced.

use core::fmt;

/// How the input text encodes its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Hex digits, either case, optionally prefixed with `0x`.
    Hex,
    /// Base64, standard (`+/`) or URL-safe (`-_`) alphabet, padded or not.
    Base64,
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Hex => "hex",
            Self::Base64 => "base64",
        })
    }
}

/// Why the input text could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The encoding tried.
    pub encoding: Encoding,
    /// What is wrong, with the position (counted in characters after
    /// whitespace and any `0x` prefix are removed).
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not valid {}: {}", self.encoding, self.message)
    }
}

/// The input without whitespace.
fn compact(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

/// Decodes `text` with `forced`, or detects the encoding: text made only of
/// hex digits (after an optional `0x`) is hex, anything else base64.
/// Whitespace is ignored everywhere.
///
/// # Errors
/// A [`DecodeError`] naming the first bad character or the bad length.
pub fn decode(text: &str, forced: Option<Encoding>) -> Result<(Encoding, Vec<u8>), DecodeError> {
    let s = compact(text);
    let encoding = forced.unwrap_or_else(|| {
        let h = strip_0x(&s);
        if h.bytes().all(|b| b.is_ascii_hexdigit()) {
            Encoding::Hex
        } else {
            Encoding::Base64
        }
    });
    let bytes = match encoding {
        Encoding::Hex => decode_hex(strip_0x(&s)),
        Encoding::Base64 => {
            decode_base64(&s).map_err(|b64| match (forced, decode_hex(strip_0x(&s))) {
                // Detected as base64 only because of a stray character: say both.
                (None, Err(h)) => format!("{b64} (and not hex either: {h})"),
                _ => b64,
            })
        }
    }
    .map_err(|message| DecodeError { encoding, message })?;
    Ok((encoding, bytes))
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if let Some((i, c)) = s.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "character {c:?} at position {i} is not a hex digit"
        ));
    }
    if !s.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): every byte is two digits",
            s.len()
        ));
    }
    ::hex::decode(s).map_err(|e| e.to_string())
}

fn base64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

fn decode_base64(s: &str) -> Result<Vec<u8>, String> {
    let body = s.trim_end_matches('=');
    let padding = s.len() - body.len();
    if padding > 2 || (padding > 0 && !s.len().is_multiple_of(4)) {
        return Err(format!(
            "bad padding ({padding} '=' for {} characters)",
            s.len()
        ));
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for (i, c) in body.char_indices() {
        let v = u8::try_from(c)
            .ok()
            .and_then(base64_value)
            .ok_or_else(|| format!("character {c:?} at position {i} is not a base64 digit"))?;
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if body.len() % 4 == 1 {
        return Err(format!(
            "{} base64 digits cannot encode whole bytes",
            body.len()
        ));
    }
    if acc != 0 {
        return Err("the last base64 digit has non-zero unused bits".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_and_decodes() {
        assert_eq!(
            decode("01 02\nff", None).unwrap(),
            (Encoding::Hex, vec![1, 2, 255])
        );
        assert_eq!(
            decode("0xABcd", None).unwrap(),
            (Encoding::Hex, vec![0xab, 0xcd])
        );
        assert_eq!(
            decode("aGVsbG8=", None).unwrap(),
            (Encoding::Base64, b"hello".to_vec())
        );
        assert_eq!(
            decode("aGVsbG8", None).unwrap(),
            (Encoding::Base64, b"hello".to_vec())
        );
        assert_eq!(decode("-_8", None).unwrap().1, vec![0xfb, 0xff]);
        // Hex digits only, but forced to base64.
        assert_eq!(
            decode("abcd", Some(Encoding::Base64)).unwrap().1,
            vec![0x69, 0xb7, 0x1d]
        );
    }

    #[test]
    fn names_the_problem() {
        let e = decode("abc", None).unwrap_err();
        assert!(
            e.to_string().contains("odd number of hex digits (3)"),
            "{e}"
        );
        let e = decode("01zz", Some(Encoding::Hex)).unwrap_err();
        assert!(e.to_string().contains("'z' at position 2"), "{e}");
        let e = decode("aGVsbG8*", None).unwrap_err();
        assert!(e.to_string().contains("position 7"), "{e}");
        assert!(decode("aGVsbG9=", None).is_err()); // non-zero unused bits
    }
}
