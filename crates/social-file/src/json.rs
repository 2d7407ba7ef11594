//! Reading a field's value from JSON, by the catalogue's type: a boolean is `true`, a date
//! `"2024-03-01"`, a code `"spouse"`, a list of records an array of objects whose keys are the
//! protobuf field names. `null` clears the field. A value of another type is refused naming
//! the field (with its list index) and the type expected; an unknown key of a record is refused
//! by name, with the closest key when one is near.

use passerelle_protocol::v1;
use passerelle_protocol::value::parse_date;
use serde_json::{Map, Value};

use crate::catalogue::{closest, FieldInfo, FieldType, RecordKind};
use crate::enums::EnumKind;
use crate::records;
use crate::update::{FieldValue, UpdateError};

fn wrong(path: impl Into<String>, expected: impl Into<String>) -> UpdateError {
    UpdateError::WrongType { path: path.into(), expected: expected.into() }
}

/// The typed value of a field from its JSON form.
pub(crate) fn decode(field: &'static FieldInfo, json: &Value) -> Result<FieldValue, UpdateError> {
    if json.is_null() {
        return Ok(FieldValue::Absent);
    }
    let path = field.path;
    let expected = field.field_type.expected();
    let whole = || wrong(path, expected.clone());
    Ok(match field.field_type {
        FieldType::Nir | FieldType::Text(_) => FieldValue::Text(json.as_str().ok_or_else(whole)?.to_owned()),
        FieldType::Bool => FieldValue::Bool(json.as_bool().ok_or_else(whole)?),
        FieldType::Date => FieldValue::Date(date(json).ok_or_else(whole)?),
        FieldType::GirLevel | FieldType::Percent => FieldValue::Number(number(json).ok_or_else(whole)?),
        FieldType::Enum(kind) => FieldValue::Enum(code(json, kind).ok_or_else(whole)?),
        FieldType::TextList(kind) => {
            let items = json.as_array().ok_or_else(whole)?;
            let each = |(i, v): (usize, &Value)| {
                v.as_str().map(str::to_owned).ok_or_else(|| wrong(format!("{path}[{i}]"), kind.describe()))
            };
            FieldValue::TextList(items.iter().enumerate().map(each).collect::<Result<_, _>>()?)
        }
        FieldType::EnumList(kind) => {
            let items = json.as_array().ok_or_else(whole)?;
            let each =
                |(i, v): (usize, &Value)| code(v, kind).ok_or_else(|| wrong(format!("{path}[{i}]"), kind.expected()));
            FieldValue::EnumList(items.iter().enumerate().map(each).collect::<Result<_, _>>()?)
        }
        FieldType::Records(kind) => records::decode(path, kind, json.as_array().ok_or_else(whole)?)?,
    })
}

fn date(json: &Value) -> Option<v1::Date> {
    json.as_str().and_then(parse_date)
}

fn number(json: &Value) -> Option<u32> {
    json.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn code(json: &Value, kind: &EnumKind) -> Option<i32> {
    json.as_str().and_then(|c| kind.number(c))
}

/// One record of a list: a JSON object whose keys are all the record's.
pub(crate) struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    /// Checks the object's keys: the first unknown one is refused by name.
    pub(crate) fn new(path: String, json: &'a Value, kind: RecordKind) -> Result<Obj<'a>, UpdateError> {
        let Some(map) = json.as_object() else {
            return Err(wrong(
                path,
                format!("one of the {}, an object with {}", kind.plural(), kind.keys().join(", ")),
            ));
        };
        if let Some(key) = map.keys().find(|k| !kind.keys().contains(&k.as_str())) {
            return Err(UpdateError::UnknownField {
                path: shown(&format!("{path}.{key}")),
                suggestion: closest(key, kind.keys()).map(|k| format!("{path}.{k}")),
            });
        }
        Ok(Obj { path, map })
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn typed<T>(
        &self,
        key: &str,
        read: impl Fn(&Value) -> Option<T>,
        expected: &str,
    ) -> Result<Option<T>, UpdateError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => read(v).map(Some).ok_or_else(|| wrong(format!("{}.{key}", self.path), expected)),
        }
    }

    pub(crate) fn text(&self, key: &str) -> Result<Option<String>, UpdateError> {
        self.typed(key, |v| v.as_str().map(str::to_owned), "a text")
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<u32>, UpdateError> {
        self.typed(key, number, "a whole number")
    }

    pub(crate) fn amount(&self, key: &str) -> Result<Option<i64>, UpdateError> {
        self.typed(key, Value::as_i64, "an amount in euro cents (a whole number)")
    }

    pub(crate) fn date(&self, key: &str) -> Result<Option<v1::Date>, UpdateError> {
        self.typed(key, date, "a date \"YYYY-MM-DD\"")
    }

    /// A code of a closed list; absent is the zero value (which the validation calls missing).
    pub(crate) fn code(&self, key: &str, kind: &EnumKind) -> Result<i32, UpdateError> {
        Ok(self.typed(key, |v| code(v, kind), &kind.expected())?.unwrap_or(0))
    }
}

/// A path as the caller typed it, bounded: it is echoed in a refusal.
pub(crate) fn shown(path: &str) -> String {
    const MAX: usize = 120;
    let mut s: String = path.chars().filter(|c| !c.is_control()).take(MAX).collect();
    if path.chars().count() > MAX {
        s.push('…');
    }
    s
}
