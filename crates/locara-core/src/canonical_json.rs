//! Canonical JSON: the one byte string that Locara signs for a JSON document.
//!
//! Locara uses the integer-only subset of RFC 8785, the JSON Canonicalization Scheme (JCS):
//!
//! - object members sorted by their names compared as UTF-16 code units, each name at most once;
//! - no whitespace outside strings;
//! - strings written as JCS (ECMAScript `JSON.stringify`) writes them: `"` and `\` escaped, U+0008,
//!   U+0009, U+000A, U+000C and U+000D as `\b \t \n \f \r`, other control characters below U+0020 as
//!   `\u00xx` (lower-case hex), everything else — including non-ASCII and U+007F — as literal UTF-8;
//! - numbers are integers between −(2⁵³−1) and 2⁵³−1, written in plain decimal. Fractions, exponents and
//!   `-0` are refused rather than normalised, so every number in a signed document has exactly one
//!   spelling and every JCS implementation (which treats numbers as IEEE doubles) prints it identically.
//!
//! Invariants: for every document the subset accepts, [`to_vec`] equals what an RFC 8785 implementation
//! produces; [`to_vec`] of [`parse_value`] of canonical bytes returns the same bytes; parsing refuses
//! duplicate member names (a classic source of parser disagreement) and out-of-subset numbers with an error
//! that names them. [`from_canonical_slice`] accepts only bytes that are already canonical, so a signed
//! payload has exactly one byte representation.
//!
//! This relies on `serde_json` being built without its `arbitrary_precision` feature (numbers then reach the
//! visitor as `u64`/`i64`/`f64`); a unit test below fails if that ever changes.

use std::cell::RefCell;
use std::fmt;

use serde::Serialize;
use serde::de::{DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The largest integer magnitude allowed in canonical JSON: 2⁵³−1, the largest exactly representable in
/// an IEEE double (and so in every JCS implementation).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why bytes or a value are not (or cannot become) canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalJsonError {
    /// The bytes are not JSON at all.
    #[error("not valid JSON: {reason}")]
    Syntax {
        /// What the JSON parser objected to, with line and column.
        reason: String,
    },
    /// An object names the same member twice.
    #[error(
        "JSON object has the member {key:?} more than once; signed documents must name each member once"
    )]
    DuplicateKey {
        /// The repeated member name.
        key: String,
    },
    /// A number has a fraction or an exponent, or lies outside ±(2⁵³−1).
    #[error(
        "JSON number {found} is not allowed: numbers in signed documents must be integers between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}, written without fraction or exponent"
    )]
    Number {
        /// The number as it was read.
        found: String,
    },
    /// The bytes are valid JSON in the subset but not in canonical form.
    #[error(
        "JSON is not in canonical form (first difference at byte {offset} of {length}); sign exactly the bytes that canonical_json::to_vec produces"
    )]
    NotCanonical {
        /// Offset of the first byte that differs from the canonical form.
        offset: usize,
        /// Length of the bytes that were given.
        length: usize,
    },
    /// The JSON is fine but does not have the shape of the expected document.
    #[error("JSON does not match the expected document: {reason}")]
    Schema {
        /// What the typed decoder objected to.
        reason: String,
    },
}

/// Parses JSON strictly: refuses duplicate member names and numbers outside the integer subset.
pub fn parse_value(bytes: &[u8]) -> Result<Value, CanonicalJsonError> {
    let violation = RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictSeed {
        violation: &violation,
    }
    .deserialize(&mut deserializer)
    .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(error) => Err(violation
            .into_inner()
            .unwrap_or(CanonicalJsonError::Syntax {
                reason: error.to_string(),
            })),
    }
}

/// The canonical bytes of any serialisable value.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalJsonError> {
    let value = serde_json::to_value(value).map_err(|error| CanonicalJsonError::Schema {
        reason: error.to_string(),
    })?;
    value_to_vec(&value)
}

/// The canonical bytes of a JSON value.
pub fn value_to_vec(value: &Value) -> Result<Vec<u8>, CanonicalJsonError> {
    let mut out = Vec::new();
    write_value(value, &mut out)?;
    Ok(out)
}

/// Decodes a typed document from bytes that must already be canonical JSON.
pub fn from_canonical_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CanonicalJsonError> {
    let value = parse_value(bytes)?;
    let canonical = value_to_vec(&value)?;
    if canonical != bytes {
        let offset = canonical
            .iter()
            .zip(bytes)
            .position(|(a, b)| a != b)
            .unwrap_or(canonical.len().min(bytes.len()));
        return Err(CanonicalJsonError::NotCanonical {
            offset,
            length: bytes.len(),
        });
    }
    from_value(value)
}

/// Decodes a typed document from an already parsed value.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, CanonicalJsonError> {
    serde_json::from_value(value).map_err(|error| CanonicalJsonError::Schema {
        reason: error.to_string(),
    })
}

fn check_integer(number: &serde_json::Number) -> Result<(), CanonicalJsonError> {
    let in_range = match (number.as_u64(), number.as_i64()) {
        (Some(unsigned), _) => unsigned <= MAX_SAFE_INTEGER,
        (None, Some(signed)) => signed.unsigned_abs() <= MAX_SAFE_INTEGER,
        (None, None) => false,
    };
    if in_range {
        Ok(())
    } else {
        Err(CanonicalJsonError::Number {
            found: number.to_string(),
        })
    }
}

fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalJsonError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            check_integer(number)?;
            out.extend_from_slice(number.to_string().as_bytes());
        }
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
            sorted.sort_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
            out.push(b'{');
            for (index, (name, member)) in sorted.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_string(name, out);
                out.push(b':');
                write_value(member, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn write_string(text: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for character in text.chars() {
        match character {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            '\r' => out.extend_from_slice(b"\\r"),
            control if u32::from(control) < 0x20 => {
                let code = u32::from(control) as usize;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[code >> 4]);
                out.push(HEX[code & 0xf]);
            }
            other => {
                let mut buffer = [0u8; 4];
                out.extend_from_slice(other.encode_utf8(&mut buffer).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Builds a [`Value`] while refusing what the subset forbids; the first violation is kept in `violation`
/// so that the caller gets a typed error rather than a parser message.
#[derive(Clone, Copy)]
struct StrictSeed<'a> {
    violation: &'a RefCell<Option<CanonicalJsonError>>,
}

impl StrictSeed<'_> {
    fn refuse<E: serde::de::Error>(self, error: CanonicalJsonError) -> E {
        let message = error.to_string();
        self.violation.borrow_mut().get_or_insert(error);
        E::custom(message)
    }
}

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Value, E> {
        let number = serde_json::Number::from(value);
        check_integer(&number).map_err(|error| self.refuse(error))?;
        Ok(Value::Number(number))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Value, E> {
        let number = serde_json::Number::from(value);
        check_integer(&number).map_err(|error| self.refuse(error))?;
        Ok(Value::Number(number))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Err(self.refuse(CanonicalJsonError::Number {
            found: value.to_string(),
        }))
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(self.refuse(CanonicalJsonError::DuplicateKey { key: name }));
            }
            let member = map.next_value_seed(self)?;
            members.insert(name, member);
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_json_reports_integers_as_integers() {
        // Guards the assumption in the module docs: without `arbitrary_precision`, integers parse as such.
        assert_eq!(parse_value(b"[1,-1]").unwrap(), serde_json::json!([1, -1]));
        assert!(parse_value(b"1").unwrap().is_u64());
    }
}
