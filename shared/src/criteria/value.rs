//! Typed record values and the [`Record`] access trait.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

use super::number::Number;

/// A typed field value as the evaluator sees it.
///
/// A record handed to the evaluator should be the faithful image of the stored item:
/// DynamoDB `N` → [`Value::Number`], `S` → [`Value::String`] (or [`Value::DateTime`] for
/// date and date-time fields), `BOOL` → [`Value::Bool`], `NULL` → [`Value::Null`],
/// `L`/`SS`/`NS` → [`Value::List`], and an absent attribute → no entry at all (which the
/// evaluator treats exactly like [`Value::Null`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// No value. A missing field reads as `Null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An exact decimal (see [`Number`]).
    Number(Number),
    /// A text (also e-mail addresses, phone numbers, select options and lookup ids).
    String(String),
    /// An instant; values of date fields are midnight UTC of their day.
    DateTime(DateTime<Utc>),
    /// A list (list fields hold texts).
    List(Vec<Value>),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::DateTime(_) => "date-time",
            Value::List(_) => "list",
        }
    }
}

/// The value every missing field reads as.
pub(crate) static NULL: Value = Value::Null;

impl Serialize for Value {
    /// Plain JSON: `null`, booleans, numbers (see [`Number`]'s serialisation), strings,
    /// RFC 3339 UTC date-times and arrays.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Number(n) => n.serialize(serializer),
            Value::String(s) => serializer.serialize_str(s),
            Value::DateTime(d) => serializer.collect_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::List(items) => items.serialize(serializer),
        }
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::Bool(value)
    }
}

impl From<Number> for Value {
    fn from(value: Number) -> Value {
        Value::Number(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Value {
        Value::Number(Number::from(value))
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Value {
        Value::Number(Number::from(value))
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::String(value.to_owned())
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::String(value)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(value: DateTime<Utc>) -> Value {
        Value::DateTime(value)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(values: Vec<T>) -> Value {
        Value::List(values.into_iter().map(Into::into).collect())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(value: Option<T>) -> Value {
        value.map_or(Value::Null, Into::into)
    }
}

/// Read access to a record's fields, so callers can evaluate criteria against their own
/// map type without copying it. Field names are case-sensitive.
pub trait Record {
    /// The value of `field`, or `None` when the record has no such field (read as null).
    fn get(&self, field: &str) -> Option<&Value>;
}

impl<S: BuildHasher> Record for HashMap<String, Value, S> {
    fn get(&self, field: &str) -> Option<&Value> {
        HashMap::get(self, field)
    }
}

impl Record for BTreeMap<String, Value> {
    fn get(&self, field: &str) -> Option<&Value> {
        BTreeMap::get(self, field)
    }
}

impl<R: Record + ?Sized> Record for &R {
    fn get(&self, field: &str) -> Option<&Value> {
        (**self).get(field)
    }
}

/// A record map with a fast hasher (foldhash): the fastest [`Record`] here for evaluation,
/// where looking fields up is most of the cost (std's SipHash alone takes longer than most
/// comparisons). foldhash is seeded per process, so it keeps basic resistance to crafted keys.
pub type FieldMap = HashMap<String, Value, foldhash::fast::RandomState>;
