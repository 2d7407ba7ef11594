//! The text encodings a selection file or extract may come in, and the decoding of one field.
//!
//! UTF-8 (with or without a byte-order mark) is the default. Windows-1252 is what French
//! spreadsheet software writes when it exports "CSV (séparateur : point-virgule)"; it is decoded
//! with `encoding_rs`. A byte that is not valid in the chosen encoding, or a NUL byte, rejects the
//! field (and so the record), never the file.

use std::fmt;
use std::str::FromStr;

/// The byte-order mark UTF-8 editors put at the start of a file.
pub(crate) const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes Windows-1252 leaves undefined. The WHATWG mapping that `encoding_rs` follows turns
/// them into C1 control characters; no spreadsheet writes them, so they are rejected as invalid.
const WINDOWS_1252_UNDEFINED: [u8; 5] = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

/// The encoding of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8, with or without a byte-order mark.
    #[default]
    Utf8,
    /// Windows-1252 (the "ANSI" code page of French Windows).
    Windows1252,
}

impl Encoding {
    /// The `encoding_rs` encoding, for writers that must answer in the input's encoding.
    pub fn encoding_rs(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Windows1252 => encoding_rs::WINDOWS_1252,
        }
    }

    /// The name the command line uses, e.g. `windows-1252`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }

    /// Decodes one field and appends it to `out`. On error `out` is left as it was.
    pub(crate) fn decode_field(self, bytes: &[u8], out: &mut String) -> Result<(), DecodeError> {
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(DecodeError::Nul { offset });
        }
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => out.push_str(text),
                Err(e) => {
                    let offset = e.valid_up_to();
                    return Err(DecodeError::Invalid { encoding: self, offset, byte: bytes[offset] });
                }
            },
            Encoding::Windows1252 => {
                if bytes.is_ascii() {
                    // Every ASCII byte is the same character in Windows-1252.
                    out.push_str(std::str::from_utf8(bytes).expect("ASCII is UTF-8"));
                    return Ok(());
                }
                if let Some(offset) = bytes.iter().position(|b| WINDOWS_1252_UNDEFINED.contains(b)) {
                    return Err(DecodeError::Invalid { encoding: self, offset, byte: bytes[offset] });
                }
                let text = encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling_and_without_replacement(bytes)
                    .expect("every defined Windows-1252 byte decodes");
                out.push_str(&text);
            }
        }
        Ok(())
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Windows1252 => "Windows-1252",
        })
    }
}

impl FromStr for Encoding {
    type Err = UnknownEncoding;

    /// `utf-8` (or `utf8`) and `windows-1252` (or `cp1252`), any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "windows-1252" | "cp1252" | "win1252" => Ok(Encoding::Windows1252),
            _ => Err(UnknownEncoding(s.to_owned())),
        }
    }
}

/// An encoding name that is neither UTF-8 nor Windows-1252.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown encoding `{0}`: expected utf-8 or windows-1252")]
pub struct UnknownEncoding(pub String);

/// Why a field could not be decoded. The message locates the byte but never shows the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("byte 0x{byte:02X} at position {position} is not valid {encoding}{hint}",
        position = offset + 1,
        hint = if *encoding == Encoding::Utf8 {
            " (if the file was saved as Windows-1252 by a spreadsheet, use --encoding windows-1252)"
        } else { "" })]
    Invalid { encoding: Encoding, offset: usize, byte: u8 },
    #[error("contains a NUL byte at position {position}", position = offset + 1)]
    Nul { offset: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_windows_1252_decode_the_same_name() {
        let mut out = String::new();
        Encoding::Utf8.decode_field("Hélène Çağ".as_bytes(), &mut out).unwrap();
        assert_eq!(out, "Hélène Çağ");
        let mut out = String::new();
        Encoding::Windows1252.decode_field(b"H\xE9l\xE8ne \x80", &mut out).unwrap();
        assert_eq!(out, "Hélène €");
    }

    #[test]
    fn invalid_bytes_are_located_not_shown() {
        let mut out = String::from("kept");
        let err = Encoding::Utf8.decode_field(b"H\xE9l\xE8ne", &mut out).unwrap_err();
        assert_eq!(err, DecodeError::Invalid { encoding: Encoding::Utf8, offset: 1, byte: 0xE9 });
        assert!(err.to_string().contains("byte 0xE9 at position 2 is not valid UTF-8"), "{err}");
        assert!(err.to_string().contains("--encoding windows-1252"));
        assert_eq!(out, "kept");
        let err = Encoding::Windows1252.decode_field(b"ab\x81", &mut out).unwrap_err();
        assert_eq!(err.to_string(), "byte 0x81 at position 3 is not valid Windows-1252");
        let err = Encoding::Utf8.decode_field(b"a\0b", &mut out).unwrap_err();
        assert_eq!(err, DecodeError::Nul { offset: 1 });
        assert!(Encoding::Windows1252.decode_field(b"\0", &mut out).is_err());
    }

    #[test]
    fn names_parse() {
        assert_eq!("UTF-8".parse::<Encoding>().unwrap(), Encoding::Utf8);
        assert_eq!("cp1252".parse::<Encoding>().unwrap(), Encoding::Windows1252);
        assert!("latin-9".parse::<Encoding>().is_err());
    }
}
