//! Validation against a module's fields, producing the compiled form.
//!
//! Criteria are checked when they are saved, not when they run: every problem is collected
//! (not just the first) with the path of its node, so an admin can fix them all at once.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value as Json;

use super::ast::{Criteria, Leaf, Op};
use super::compile::{
    Cmp, CompiledCriteria, CompiledLeaf, Constant, DateConst, FieldRef, LeafSource, Node, Operand, Scope,
    SetOperand, Test,
};
use super::error::{CriteriaError, ErrorKind};
use super::eval::{EvalContext, fold};
use super::explain::Explanation;
use super::number::Number;
use super::reldate::RelativeDate;
use super::schema::{FieldSchema, FieldType, Kind};

/// Deepest nesting allowed, counting every node from the root (inclusive) to a leaf.
pub const MAX_DEPTH: usize = 8;
/// Most leaf conditions allowed in one criteria.
pub const MAX_LEAVES: usize = 100;
/// Most values in one `in` / `not_in` list (DynamoDB's `IN` limit too).
pub const MAX_LIST_VALUES: usize = 100;

/// Where the criteria will run, which decides what they may refer to.
#[derive(Clone, Copy, Default)]
pub struct ValidationContext<'a> {
    /// The fields of the portal user's primary record, when `$user.` references are allowed
    /// (portal exposure criteria).
    pub user_schema: Option<&'a dyn FieldSchema>,
    /// Whether `changed`, `changed_to` and `$old.` are allowed (trigger conditions of OTP and
    /// workflow rules).
    pub allow_triggers: bool,
}

impl<'a> ValidationContext<'a> {
    /// Plain record criteria: no `$user.`, no trigger operators.
    pub fn plain() -> ValidationContext<'a> {
        ValidationContext::default()
    }

    /// Portal exposure criteria, which may refer to the user's primary record.
    pub fn portal(user_schema: &'a dyn FieldSchema) -> ValidationContext<'a> {
        ValidationContext { user_schema: Some(user_schema), allow_triggers: false }
    }

    /// Trigger conditions, which may compare the old and new images.
    pub fn trigger() -> ValidationContext<'a> {
        ValidationContext { user_schema: None, allow_triggers: true }
    }
}

/// Criteria that passed validation, together with their compiled form. The only way to
/// evaluate criteria is through this (or the [`CompiledCriteria`] it holds), so invalid
/// criteria can never run.
#[derive(Debug, Clone)]
pub struct ValidatedCriteria {
    source: Criteria,
    compiled: CompiledCriteria,
}

impl ValidatedCriteria {
    /// The criteria as written (what to store).
    pub fn source(&self) -> &Criteria {
        &self.source
    }

    /// The compiled form.
    pub fn compiled(&self) -> &CompiledCriteria {
        &self.compiled
    }

    /// The compiled form, dropping the source.
    pub fn into_compiled(self) -> CompiledCriteria {
        self.compiled
    }

    /// Whether the criteria hold for the context's record.
    pub fn evaluate(&self, ctx: &EvalContext<'_>) -> bool {
        self.compiled.evaluate(ctx)
    }

    /// Why the criteria hold or not for the context's record.
    pub fn explain(&self, ctx: &EvalContext<'_>) -> Explanation {
        self.compiled.explain(ctx)
    }
}

/// Validates `criteria` against the fields of the module it filters.
///
/// Returns every problem found, each with the path of its node, or the validated criteria.
pub fn validate(
    criteria: &Criteria,
    schema: &dyn FieldSchema,
    ctx: &ValidationContext<'_>,
) -> Result<ValidatedCriteria, Vec<CriteriaError>> {
    let mut validator = Validator { schema, ctx, errors: Vec::new(), leaves: 0 };
    let root = validator.node(criteria, "", 1);
    if validator.leaves > MAX_LEAVES {
        validator.error("", ErrorKind::TooManyLeaves { found: validator.leaves, max: MAX_LEAVES });
    }
    match root {
        Some(root) if validator.errors.is_empty() => {
            Ok(ValidatedCriteria { source: criteria.clone(), compiled: CompiledCriteria::new(root) })
        }
        _ => Err(validator.errors),
    }
}

/// Validates and compiles in one step, for callers that do not keep the source.
pub fn compile(
    criteria: &Criteria,
    schema: &dyn FieldSchema,
    ctx: &ValidationContext<'_>,
) -> Result<CompiledCriteria, Vec<CriteriaError>> {
    validate(criteria, schema, ctx).map(ValidatedCriteria::into_compiled)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") }
}

fn index(path: &str, at: usize) -> String {
    format!("{path}[{at}]")
}

/// Article and name of a JSON value's type, for "expected …, found …".
fn json_type(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "true/false",
        Json::Number(_) => "a number",
        Json::String(_) => "a text",
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
    }
}

/// Whether `op` means something for a field of type `field_type`.
pub(crate) fn op_allowed(op: Op, field_type: &FieldType) -> bool {
    use Op::*;
    match op {
        Eq | Ne | IsEmpty | IsNotEmpty | Changed | ChangedTo => true,
        Lt | Lte | Gt | Gte | Between => {
            matches!(field_type, FieldType::Text | FieldType::Number | FieldType::Date | FieldType::DateTime)
        }
        In | NotIn => matches!(field_type.kind(), Kind::Text | Kind::Number | Kind::List),
        Contains => {
            matches!(field_type, FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::List)
        }
        StartsWith => matches!(field_type, FieldType::Text | FieldType::Email | FieldType::Phone),
    }
}

/// Whether a field of kind `field` can be compared with a referenced field of kind `target`.
pub(crate) fn ref_compatible(op: Op, field: Kind, target: Kind) -> bool {
    match op {
        Op::Eq | Op::Ne | Op::Lt | Op::Lte | Op::Gt | Op::Gte => field == target,
        Op::Contains => target == Kind::Text && matches!(field, Kind::Text | Kind::List),
        Op::StartsWith => field == Kind::Text && target == Kind::Text,
        Op::In | Op::NotIn => target == Kind::List && matches!(field, Kind::Text | Kind::List),
        Op::ChangedTo | Op::Between | Op::IsEmpty | Op::IsNotEmpty | Op::Changed => false,
    }
}

struct Validator<'a> {
    schema: &'a dyn FieldSchema,
    ctx: &'a ValidationContext<'a>,
    errors: Vec<CriteriaError>,
    leaves: usize,
}

impl Validator<'_> {
    fn error(&mut self, path: &str, kind: ErrorKind) {
        self.errors.push(CriteriaError::new(path, kind));
    }

    /// Validates one node; `None` when it (or a descendant) is invalid.
    fn node(&mut self, criteria: &Criteria, path: &str, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            // Report once, at the first node too deep, and do not descend any further.
            self.error(path, ErrorKind::TooDeep(MAX_DEPTH));
            return None;
        }
        match criteria {
            Criteria::All(children) => self.group("all", children, path, depth).map(Node::All),
            Criteria::Any(children) => self.group("any", children, path, depth).map(Node::Any),
            Criteria::Not(child) => {
                self.node(child, &join(path, "not"), depth + 1).map(|child| Node::Not(Box::new(child)))
            }
            Criteria::Leaf(leaf) => {
                self.leaves += 1;
                self.leaf(leaf, path).map(|leaf| Node::Leaf(Box::new(leaf)))
            }
        }
    }

    fn group(
        &mut self,
        key: &'static str,
        children: &[Criteria],
        path: &str,
        depth: usize,
    ) -> Option<Box<[Node]>> {
        let group_path = join(path, key);
        if children.is_empty() {
            self.error(&group_path, ErrorKind::EmptyGroup(key));
            return None;
        }
        // Validate every child (to collect all errors) before deciding.
        let compiled: Vec<Option<Node>> = children
            .iter()
            .enumerate()
            .map(|(at, child)| self.node(child, &index(&group_path, at), depth + 1))
            .collect();
        compiled.into_iter().collect::<Option<Vec<Node>>>().map(Vec::into_boxed_slice)
    }

    fn leaf(&mut self, leaf: &Leaf, path: &str) -> Option<CompiledLeaf> {
        let op = leaf.op;
        let mut valid = true;
        if op.is_trigger_only() && !self.ctx.allow_triggers {
            self.error(&join(path, "op"), ErrorKind::TriggerOnly(op));
            valid = false;
        }
        let Some(field_type) = self.schema.field_type(&leaf.field) else {
            self.error(&join(path, "field"), ErrorKind::UnknownField(leaf.field.clone()));
            return None;
        };
        if !op_allowed(op, field_type) {
            let kind =
                ErrorKind::OperatorNotValid { op, field: leaf.field.clone(), field_type: field_type.name() };
            self.error(&join(path, "op"), kind);
            return None;
        }
        let case_insensitive_applies =
            matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn | Op::Contains | Op::StartsWith)
                && matches!(field_type.kind(), Kind::Text | Kind::List);
        if leaf.case_insensitive && !case_insensitive_applies {
            self.error(&join(path, "case_insensitive"), ErrorKind::CaseInsensitiveNotApplicable);
            valid = false;
        }
        let test = LeafChecker { v: self, leaf, field_type, path }.test();
        let test = test.filter(|_| valid)?;
        Some(CompiledLeaf {
            field: leaf.field.as_str().into(),
            field_type: field_type.clone(),
            test,
            case_insensitive: leaf.case_insensitive,
            source: LeafSource {
                path: path.into(),
                op,
                value: leaf.value.clone(),
                field_ref: leaf.field_ref.as_deref().map(Into::into),
            },
        })
    }
}

/// The operator/operand checks of one leaf whose field exists and allows the operator.
struct LeafChecker<'v, 'a> {
    v: &'v mut Validator<'a>,
    leaf: &'v Leaf,
    field_type: &'v FieldType,
    path: &'v str,
}

/// A leaf's operand before it is checked against the operator.
enum RawOperand<'l> {
    Value(&'l Json),
    Ref(&'l str),
}

impl LeafChecker<'_, '_> {
    fn error(&mut self, key: &str, kind: ErrorKind) {
        let path = join(self.path, key);
        self.v.error(&path, kind);
    }

    fn op(&self) -> Op {
        self.leaf.op
    }

    fn test(&mut self) -> Option<Test> {
        let op = self.op();
        if matches!(op, Op::IsEmpty | Op::IsNotEmpty | Op::Changed) {
            return self.unary();
        }
        let operand = match (&self.leaf.value, &self.leaf.field_ref) {
            (Some(_), Some(_)) => {
                self.error("field_ref", ErrorKind::ValueAndFieldRef);
                return None;
            }
            (None, None) => {
                self.error("value", ErrorKind::MissingValue(op));
                return None;
            }
            (Some(value), None) => RawOperand::Value(value),
            (None, Some(field_ref)) => RawOperand::Ref(field_ref),
        };
        match (op, operand) {
            (Op::Between, RawOperand::Ref(_)) => {
                self.error("field_ref", ErrorKind::FieldRefNotAllowed(op));
                None
            }
            (Op::Between, RawOperand::Value(value)) => self.between(value),
            (_, RawOperand::Ref(text)) => self.with_ref(text),
            (_, RawOperand::Value(value)) => self.with_value(value),
        }
    }

    fn unary(&mut self) -> Option<Test> {
        let op = self.op();
        let mut valid = true;
        if self.leaf.value.is_some() {
            self.error("value", ErrorKind::UnexpectedValue(op));
            valid = false;
        }
        if self.leaf.field_ref.is_some() {
            self.error("field_ref", ErrorKind::UnexpectedValue(op));
            valid = false;
        }
        let test = match op {
            Op::IsEmpty => Test::IsEmpty { negate: false },
            Op::IsNotEmpty => Test::IsEmpty { negate: true },
            _ => Test::Changed,
        };
        valid.then_some(test)
    }

    fn with_ref(&mut self, text: &str) -> Option<Test> {
        let op = self.op();
        if op == Op::ChangedTo {
            // changed_to names the new value itself; comparing fields is `changed` + `eq`.
            self.error("field_ref", ErrorKind::FieldRefNotAllowed(op));
            return None;
        }
        let field_ref = self.field_ref(text)?;
        let operand = Operand::Ref(field_ref.clone());
        Some(match op {
            Op::Eq => Test::Eq { operand, negate: false },
            Op::Ne => Test::Eq { operand, negate: true },
            Op::Lt | Op::Lte | Op::Gt | Op::Gte => Test::Order { cmp: Cmp::from_op(op)?, operand },
            Op::Contains => Test::Contains(operand),
            Op::StartsWith => Test::StartsWith(operand),
            Op::In | Op::NotIn => Test::In {
                set: SetOperand::Ref(field_ref),
                any_element: self.field_type.kind() == Kind::List,
                negate: op == Op::NotIn,
            },
            Op::ChangedTo | Op::Between | Op::IsEmpty | Op::IsNotEmpty | Op::Changed => return None,
        })
    }

    /// Resolves and type-checks a `field_ref`.
    fn field_ref(&mut self, text: &str) -> Option<FieldRef> {
        let (scope, name) = if let Some(name) = text.strip_prefix("$user.") {
            (Scope::User, name)
        } else if let Some(name) = text.strip_prefix("$old.") {
            (Scope::Old, name)
        } else {
            (Scope::Record, text)
        };
        if name.is_empty() || name.starts_with('$') {
            self.error("field_ref", ErrorKind::BadFieldRef(text.to_owned()));
            return None;
        }
        let target_schema = match scope {
            Scope::User => match self.v.ctx.user_schema {
                Some(schema) => schema,
                None => {
                    self.error("field_ref", ErrorKind::UserRefUnavailable(text.to_owned()));
                    return None;
                }
            },
            Scope::Old if !self.v.ctx.allow_triggers => {
                self.error("field_ref", ErrorKind::OldRefUnavailable(text.to_owned()));
                return None;
            }
            Scope::Old | Scope::Record => self.v.schema,
        };
        let Some(target_type) = target_schema.field_type(name) else {
            self.error("field_ref", ErrorKind::UnknownRefField(text.to_owned()));
            return None;
        };
        if !ref_compatible(self.op(), self.field_type.kind(), target_type.kind()) {
            let kind = ErrorKind::IncompatibleRef {
                field_ref: text.to_owned(),
                ref_type: target_type.name(),
                field: self.leaf.field.clone(),
                field_type: self.field_type.name(),
                op: self.op(),
            };
            self.error("field_ref", kind);
            return None;
        }
        Some(FieldRef { scope, field: name.into() })
    }

    fn with_value(&mut self, value: &Json) -> Option<Test> {
        let op = self.op();
        if value.is_null() && !matches!(op, Op::Eq | Op::Ne | Op::ChangedTo) {
            self.error("value", ErrorKind::NullNotAllowed);
            return None;
        }
        Some(match op {
            Op::Eq | Op::Ne => {
                Test::Eq { operand: Operand::Const(self.equality_constant(value)?), negate: op == Op::Ne }
            }
            Op::ChangedTo => Test::ChangedTo(self.equality_constant(value)?),
            Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
                let constant = self.scalar(value, "value")?;
                Test::Order { cmp: Cmp::from_op(op)?, operand: Operand::Const(constant) }
            }
            Op::In | Op::NotIn => Test::In {
                set: self.set(value)?,
                any_element: self.field_type.kind() == Kind::List,
                negate: op == Op::NotIn,
            },
            Op::Contains => Test::Contains(Operand::Const(self.needle(value)?)),
            Op::StartsWith => Test::StartsWith(Operand::Const(self.needle(value)?)),
            Op::Between | Op::IsEmpty | Op::IsNotEmpty | Op::Changed => return None,
        })
    }

    /// The constant of eq / ne / changed_to: null, a list for list fields, else a scalar.
    fn equality_constant(&mut self, value: &Json) -> Option<Constant> {
        match value {
            Json::Null => Some(Constant::Null),
            _ if self.field_type.kind() == Kind::List => {
                let Json::Array(items) = value else {
                    self.error(
                        "value",
                        ErrorKind::WrongValueType { expected: "a list of texts", found: json_type(value) },
                    );
                    return None;
                };
                let texts = self.elements(items, |this, item, key| this.text(item, key))?;
                Some(Constant::TextList(texts.into_iter().map(Into::into).collect()))
            }
            _ => self.scalar(value, "value"),
        }
    }

    /// The text searched by contains / starts_with (an element for list fields).
    fn needle(&mut self, value: &Json) -> Option<Constant> {
        let text = self.text(value, "value")?;
        if text.is_empty() {
            self.error("value", ErrorKind::EmptyText(self.op()));
            return None;
        }
        Some(Constant::Text(text.into()))
    }

    fn set(&mut self, value: &Json) -> Option<SetOperand> {
        let op = self.op();
        let Json::Array(items) = value else {
            self.error(
                "value",
                ErrorKind::WrongValueType { expected: "a list of values", found: json_type(value) },
            );
            return None;
        };
        if items.is_empty() {
            self.error("value", ErrorKind::EmptyList(op));
            return None;
        }
        if items.len() > MAX_LIST_VALUES {
            self.error("value", ErrorKind::TooManyValues { op, max: MAX_LIST_VALUES });
            return None;
        }
        if self.field_type.kind() == Kind::Number {
            let mut numbers = self.elements(items, |this, item, key| match this.scalar(item, key)? {
                Constant::Number(number) => Some(number),
                _ => None,
            })?;
            numbers.sort_unstable();
            numbers.dedup();
            return Some(SetOperand::Numbers(numbers.into_boxed_slice()));
        }
        let mut texts = self.elements(items, |this, item, key| match this.scalar(item, key)? {
            Constant::Text(text) => Some(text),
            _ => None,
        })?;
        texts.sort_unstable();
        texts.dedup();
        Some(SetOperand::Texts(texts.into_boxed_slice()))
    }

    /// Checks every element of a list value (reporting each bad one) and collects them.
    fn elements<T>(
        &mut self,
        items: &[Json],
        mut check: impl FnMut(&mut Self, &Json, &str) -> Option<T>,
    ) -> Option<Vec<T>> {
        let checked: Vec<Option<T>> =
            items.iter().enumerate().map(|(at, item)| check(self, item, &index("value", at))).collect();
        checked.into_iter().collect()
    }

    fn between(&mut self, value: &Json) -> Option<Test> {
        let Json::Array(bounds) = value else {
            self.error(
                "value",
                ErrorKind::WrongValueType { expected: "a list [low, high]", found: json_type(value) },
            );
            return None;
        };
        let [low, high] = bounds.as_slice() else {
            self.error("value", ErrorKind::BetweenArity(bounds.len()));
            return None;
        };
        let low = self.scalar(low, "value[0]");
        let high = self.scalar(high, "value[1]");
        let (low, high) = (low?, high?);
        if bounds_descending(&low, &high) {
            self.error("value", ErrorKind::BetweenOrder);
            return None;
        }
        Some(Test::Between { low, high })
    }

    /// A single value for the field's type, reported at `key` (relative to the leaf).
    fn scalar(&mut self, value: &Json, key: &str) -> Option<Constant> {
        if value.is_null() {
            self.error(key, ErrorKind::NullNotAllowed);
            return None;
        }
        match self.field_type {
            FieldType::Number => match value {
                Json::Number(number) => match Number::try_from(number) {
                    Ok(number) => Some(Constant::Number(number)),
                    Err(err) => {
                        self.error(key, ErrorKind::InvalidNumber(err));
                        None
                    }
                },
                _ => {
                    self.error(
                        key,
                        ErrorKind::WrongValueType { expected: "a number", found: json_type(value) },
                    );
                    None
                }
            },
            FieldType::Bool => match value {
                Json::Bool(flag) => Some(Constant::Bool(*flag)),
                _ => {
                    self.error(
                        key,
                        ErrorKind::WrongValueType { expected: "true or false", found: json_type(value) },
                    );
                    None
                }
            },
            FieldType::Date | FieldType::DateTime => {
                let text = self.text(value, key)?;
                self.date(&text, key).map(Constant::Date)
            }
            FieldType::Select { options } => {
                let text = self.text(value, key)?;
                let matches = |option: &String| {
                    if self.leaf.case_insensitive { fold(option).eq(text.chars()) } else { *option == text }
                };
                if !options.iter().any(matches) {
                    let kind = ErrorKind::NotAnOption { value: text, options: options.join(", ") };
                    self.error(key, kind);
                    return None;
                }
                Some(Constant::Text(text.into()))
            }
            FieldType::Text
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Lookup { .. }
            | FieldType::List => self.text(value, key).map(|text| Constant::Text(text.into())),
        }
    }

    /// A JSON string, folded when the leaf is case-insensitive.
    fn text(&mut self, value: &Json, key: &str) -> Option<String> {
        match value {
            Json::String(text) if self.leaf.case_insensitive => Some(fold(text).collect()),
            Json::String(text) => Some(text.clone()),
            _ => {
                self.error(key, ErrorKind::WrongValueType { expected: "a text", found: json_type(value) });
                None
            }
        }
    }

    fn date(&mut self, text: &str, key: &str) -> Option<DateConst> {
        let whole_day = *self.field_type == FieldType::Date;
        if RelativeDate::looks_relative(text) {
            return match text.parse::<RelativeDate>() {
                Ok(date) if whole_day && date != RelativeDate::NOW && !date.unit().is_whole_days() => {
                    self.error(key, ErrorKind::SubDayOffsetOnDate);
                    None
                }
                Ok(date) => Some(DateConst::Relative { date, whole_day }),
                Err(err) => {
                    self.error(key, ErrorKind::InvalidRelativeDate(err));
                    None
                }
            };
        }
        let day =
            NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(|d| d.and_time(NaiveTime::MIN).and_utc());
        let instant = if whole_day {
            day
        } else {
            DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc)).or(day)
        };
        if instant.is_none() {
            let expected =
                if whole_day { "date (YYYY-MM-DD)" } else { "date-time (RFC 3339) or date (YYYY-MM-DD)" };
            self.error(key, ErrorKind::InvalidDate { value: text.to_owned(), expected });
        }
        instant.map(DateConst::Fixed)
    }
}

/// Whether `between` bounds are certainly in the wrong order. Fixed dates compare as
/// instants; two relative dates compare by offset (their order is the same for every
/// `now`); a fixed and a relative bound cannot be compared before evaluation.
fn bounds_descending(low: &Constant, high: &Constant) -> bool {
    match (low, high) {
        (Constant::Number(low), Constant::Number(high)) => low > high,
        (Constant::Text(low), Constant::Text(high)) => low > high,
        (Constant::Date(DateConst::Fixed(low)), Constant::Date(DateConst::Fixed(high))) => low > high,
        (
            Constant::Date(DateConst::Relative { date: low, .. }),
            Constant::Date(DateConst::Relative { date: high, .. }),
        ) => low.offset() > high.offset(),
        _ => false,
    }
}
