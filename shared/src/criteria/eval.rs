//! Evaluation of compiled criteria against a record.
//!
//! Everything here only reads: constants were parsed, folded and sorted at compile time,
//! case-insensitive comparison folds the record's text lazily char by char, and relative
//! dates are resolved with plain arithmetic, so an evaluation performs no allocation.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::compile::{
    CompiledCriteria, CompiledLeaf, Constant, FieldRef, Node, Operand, Scope, SetOperand, Test, instant_key,
};
use super::value::{NULL, Record, Value};

/// Everything an evaluation may read.
#[derive(Clone, Copy)]
pub struct EvalContext<'a> {
    /// The record being tested (for triggers: the new image).
    pub record: &'a dyn Record,
    /// The old image (triggers); `None` for a created record, whose old values all read
    /// as null.
    pub old: Option<&'a dyn Record>,
    /// The portal user's primary record, read by `$user.` references.
    pub user: Option<&'a dyn Record>,
    /// The instant relative dates are resolved against (pure code never reads the clock).
    pub now: DateTime<Utc>,
}

impl<'a> EvalContext<'a> {
    /// A context for `record` at `now`, without old image or user.
    pub fn new(record: &'a dyn Record, now: DateTime<Utc>) -> EvalContext<'a> {
        EvalContext { record, old: None, user: None, now }
    }

    /// The same context with the record's old image.
    pub fn with_old(self, old: &'a dyn Record) -> EvalContext<'a> {
        EvalContext { old: Some(old), ..self }
    }

    /// The same context with the portal user's primary record.
    pub fn with_user(self, user: &'a dyn Record) -> EvalContext<'a> {
        EvalContext { user: Some(user), ..self }
    }

    /// The value a [`FieldRef`] points at (null when the record or field is absent).
    pub(crate) fn resolve(&self, field_ref: &FieldRef) -> &'a Value {
        let record = match field_ref.scope {
            Scope::Record => Some(self.record),
            Scope::User => self.user,
            Scope::Old => self.old,
        };
        record.and_then(|record| record.get(&field_ref.field)).unwrap_or(&NULL)
    }
}

impl CompiledCriteria {
    /// Whether the criteria hold for the context's record.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> bool {
        self.root.evaluate(ctx)
    }
}

impl Node {
    pub(crate) fn evaluate(&self, ctx: &EvalContext<'_>) -> bool {
        match self {
            Node::All(children) => children.iter().all(|child| child.evaluate(ctx)),
            Node::Any(children) => children.iter().any(|child| child.evaluate(ctx)),
            Node::Not(child) => !child.evaluate(ctx),
            Node::Leaf(leaf) => leaf.evaluate(ctx),
        }
    }
}

impl CompiledLeaf {
    /// The tested field's value (null when missing).
    pub(crate) fn actual<'a>(&self, ctx: &EvalContext<'a>) -> &'a Value {
        ctx.record.get(&self.field).unwrap_or(&NULL)
    }

    /// The tested field's value in the old image (null when missing or no old image).
    pub(crate) fn old<'a>(&self, ctx: &EvalContext<'a>) -> &'a Value {
        ctx.old.and_then(|old| old.get(&self.field)).unwrap_or(&NULL)
    }

    pub(crate) fn evaluate(&self, ctx: &EvalContext<'_>) -> bool {
        let actual = self.actual(ctx);
        let ci = self.case_insensitive;
        match &self.test {
            Test::IsEmpty { negate } => is_empty(actual) != *negate,
            Test::Eq { operand, negate } => {
                let equal = match operand {
                    Operand::Const(constant) => eq_const(actual, constant, ci, ctx.now),
                    Operand::Ref(field_ref) => eq_values(actual, ctx.resolve(field_ref), ci),
                };
                equal != *negate
            }
            Test::Order { cmp, operand } => {
                let ordering = match operand {
                    Operand::Const(constant) => cmp_const(actual, constant, ctx.now),
                    Operand::Ref(field_ref) => cmp_values(actual, ctx.resolve(field_ref)),
                };
                ordering.is_some_and(|ordering| cmp.holds(ordering))
            }
            Test::Between { low, high } => {
                cmp_const(actual, low, ctx.now).is_some_and(Ordering::is_ge)
                    && cmp_const(actual, high, ctx.now).is_some_and(Ordering::is_le)
            }
            Test::In { set, any_element, negate } => {
                let member = |value: &Value| in_set(value, set, ci, ctx);
                let found = match actual {
                    Value::List(items) if *any_element => items.iter().any(member),
                    _ if *any_element => false,
                    _ => member(actual),
                };
                found != *negate
            }
            Test::Contains(operand) => match needle(operand, ctx) {
                Some(needle) => contains(actual, needle, ci.then(|| ci_text(operand, needle))),
                None => false,
            },
            Test::StartsWith(operand) => match (actual, needle(operand, ctx)) {
                (Value::String(text), Some(prefix)) if ci => ci_starts_with(text, ci_text(operand, prefix)),
                (Value::String(text), Some(prefix)) => text.starts_with(prefix),
                _ => false,
            },
            Test::Changed => self.old(ctx) != actual,
            Test::ChangedTo(constant) => self.old(ctx) != actual && eq_const(actual, constant, ci, ctx.now),
        }
    }
}

/// The text searched for by contains / starts_with: the constant, or the referenced text.
fn needle<'a>(operand: &'a Operand, ctx: &EvalContext<'a>) -> Option<&'a str> {
    match operand {
        Operand::Const(Constant::Text(text)) => Some(text),
        Operand::Ref(field_ref) => match ctx.resolve(field_ref) {
            Value::String(text) => Some(text),
            _ => None,
        },
        Operand::Const(_) => None,
    }
}

/// A text compared ignoring case.
#[derive(Clone, Copy)]
enum CiText<'a> {
    /// A constant of a case-insensitive leaf, folded at compile time.
    Folded(&'a str),
    /// A referenced field's text, folded while comparing.
    Raw(&'a str),
}

impl<'a> CiText<'a> {
    fn as_str(self) -> &'a str {
        match self {
            CiText::Folded(text) | CiText::Raw(text) => text,
        }
    }
}

fn ci_text<'a>(operand: &Operand, text: &'a str) -> CiText<'a> {
    match operand {
        Operand::Const(_) => CiText::Folded(text),
        Operand::Ref(_) => CiText::Raw(text),
    }
}

/// Null, an empty text and an empty list are empty; a missing field reads as null.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.is_empty(),
        Value::List(items) => items.is_empty(),
        Value::Bool(_) | Value::Number(_) | Value::DateTime(_) => false,
    }
}

/// `text` folded as case-insensitive comparisons fold it, for keys that must agree with them.
pub fn fold_case(text: &str) -> String {
    fold(text).collect()
}

/// Case folding: the Unicode lowercase mapping of each char. Used for constants at compile
/// time and for record texts during comparison, so both sides fold identically.
pub(crate) fn fold(text: &str) -> impl Iterator<Item = char> + Clone + '_ {
    text.chars().flat_map(char::to_lowercase)
}

fn prefix_of(mut text: impl Iterator<Item = char>, prefix: impl Iterator<Item = char>) -> bool {
    for expected in prefix {
        if text.next() != Some(expected) {
            return false;
        }
    }
    true
}

// Case-insensitive comparison. When both texts are ASCII, folding is ASCII lowercasing and a
// byte comparison is exact; otherwise the record's text is folded char by char (a non-ASCII
// char may fold to ASCII, e.g. the Kelvin sign to `k`, so the fast path needs both sides ASCII).

/// `fold(text) == fold(other)`.
fn ci_eq(text: &str, other: CiText<'_>) -> bool {
    let other_text = other.as_str();
    if text.is_ascii() && other_text.is_ascii() {
        return text.eq_ignore_ascii_case(other_text);
    }
    match other {
        CiText::Folded(folded) => fold(text).eq(folded.chars()),
        CiText::Raw(raw) => fold(text).eq(fold(raw)),
    }
}

/// `fold(text)` starts with `fold(prefix)`.
fn ci_starts_with(text: &str, prefix: CiText<'_>) -> bool {
    let prefix_text = prefix.as_str();
    if text.is_ascii() && prefix_text.is_ascii() {
        let head = text.as_bytes().get(..prefix_text.len());
        return head.is_some_and(|head| head.eq_ignore_ascii_case(prefix_text.as_bytes()));
    }
    match prefix {
        CiText::Folded(folded) => prefix_of(fold(text), folded.chars()),
        CiText::Raw(raw) => prefix_of(fold(text), fold(raw)),
    }
}

/// `fold(text)` contains `fold(needle)`.
fn ci_contains(text: &str, needle: CiText<'_>) -> bool {
    let needle_text = needle.as_str();
    if needle_text.is_empty() {
        return true;
    }
    if text.is_ascii() && needle_text.is_ascii() {
        let needle_bytes = needle_text.as_bytes();
        return text
            .as_bytes()
            .windows(needle_bytes.len())
            .any(|window| window.eq_ignore_ascii_case(needle_bytes));
    }
    // Naive search from every char boundary: criteria texts are short.
    let starts = || text.char_indices().map(|(at, _)| fold(&text[at..]));
    match needle {
        CiText::Folded(folded) => starts().any(|rest| prefix_of(rest, folded.chars())),
        CiText::Raw(raw) => starts().any(|rest| prefix_of(rest, fold(raw))),
    }
}

fn text_eq(actual: &str, constant: &str, ci: bool) -> bool {
    // Constants of case-insensitive leaves are stored folded.
    if ci { ci_eq(actual, CiText::Folded(constant)) } else { actual == constant }
}

/// `contains`: a substring of a text, or an element of a list; `ci` carries the needle to
/// compare ignoring case.
fn contains(actual: &Value, needle: &str, ci: Option<CiText<'_>>) -> bool {
    match actual {
        Value::String(text) => match ci {
            Some(needle) => ci_contains(text, needle),
            None => text.contains(needle),
        },
        Value::List(items) => items.iter().any(|item| match (item, ci) {
            (Value::String(text), Some(needle)) => ci_eq(text, needle),
            (Value::String(text), None) => text == needle,
            _ => false,
        }),
        _ => false,
    }
}

/// Orders a folded constant against `fold(text)`, for binary search in folded sets.
fn cmp_folded(folded: &str, text: &str) -> Ordering {
    if text.is_ascii() {
        // UTF-8 byte order is char order, so comparing bytes equals comparing chars.
        folded.bytes().cmp(text.bytes().map(|byte| byte.to_ascii_lowercase()))
    } else {
        folded.chars().cmp(fold(text))
    }
}

fn in_set(value: &Value, set: &SetOperand, ci: bool, ctx: &EvalContext<'_>) -> bool {
    match (set, value) {
        (SetOperand::Texts(texts), Value::String(text)) if ci => {
            texts.binary_search_by(|candidate| cmp_folded(candidate, text)).is_ok()
        }
        (SetOperand::Texts(texts), Value::String(text)) => {
            texts.binary_search_by(|candidate| (**candidate).cmp(text.as_str())).is_ok()
        }
        (SetOperand::Numbers(numbers), Value::Number(number)) => numbers.binary_search(number).is_ok(),
        (SetOperand::Ref(field_ref), _) => match ctx.resolve(field_ref) {
            Value::List(items) => items.iter().any(|item| eq_values(value, item, ci)),
            _ => false,
        },
        _ => false,
    }
}

/// `eq` against a constant: same type and equal. Null equals only a null constant.
pub(crate) fn eq_const(actual: &Value, constant: &Constant, ci: bool, now: DateTime<Utc>) -> bool {
    match (actual, constant) {
        (Value::Null, Constant::Null) => true,
        (Value::Bool(a), Constant::Bool(b)) => a == b,
        (Value::Number(a), Constant::Number(b)) => a == b,
        (Value::String(a), Constant::Text(b)) => text_eq(a, b, ci),
        (Value::DateTime(a), Constant::Date(b)) => instant_key(a) == b.key(now),
        (Value::List(items), Constant::TextList(texts)) => {
            items.len() == texts.len()
                && items.iter().zip(texts.iter()).all(|(item, text)| match item {
                    Value::String(item) => text_eq(item, text, ci),
                    _ => false,
                })
        }
        _ => false,
    }
}

/// `eq` against a referenced field: same type and equal, and never when either side is
/// null, so two records that both lack a value are not "equal" (which would expose records
/// to portal users whose field is empty).
pub(crate) fn eq_values(a: &Value, b: &Value, ci: bool) -> bool {
    match (a, b) {
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a == b,
        (Value::String(a), Value::String(b)) if ci => ci_eq(a, CiText::Raw(b)),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::DateTime(a), Value::DateTime(b)) => a == b,
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| eq_values(a, b, ci))
        }
        _ => false,
    }
}

/// Ordering against a constant; `None` (no match) across types or with null.
pub(crate) fn cmp_const(actual: &Value, constant: &Constant, now: DateTime<Utc>) -> Option<Ordering> {
    match (actual, constant) {
        (Value::Number(a), Constant::Number(b)) => Some(a.cmp(b)),
        (Value::String(a), Constant::Text(b)) => Some(a.as_str().cmp(b)),
        (Value::DateTime(a), Constant::Date(b)) => Some(instant_key(a).cmp(&b.key(now))),
        _ => None,
    }
}

/// Ordering against a referenced field; `None` (no match) across types or with null.
pub(crate) fn cmp_values(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(a), Value::Number(b)) => Some(a.cmp(b)),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::DateTime(a), Value::DateTime(b)) => Some(a.cmp(b)),
        _ => None,
    }
}
