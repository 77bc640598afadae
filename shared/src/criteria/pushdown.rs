//! Splitting compiled criteria into a DynamoDB `FilterExpression` and a Rust residual.
//!
//! Guarantee: for every record (given as the faithful image of its item, see
//! [`Value`](super::Value)) and the same `now` and user as in [`PushdownOptions`],
//! `criteria holds ⇔ (the filter holds in DynamoDB) ∧ (the residual holds in Rust)`.
//! A missing filter or residual stands for "true".
//!
//! Only conditions that DynamoDB evaluates exactly like [`evaluate`](super::CompiledCriteria::evaluate)
//! are pushed as such:
//!
//! * `eq`, `lt`, `lte`, `gt`, `gte`, `between` with a number, bool or non-empty text constant
//!   (DynamoDB compares numbers as exact decimals and texts by UTF-8 bytes, as Rust does, and
//!   a missing attribute or another type never matches, as in Rust);
//! * `in` on a text or number field (`IN`, at most 100 values);
//! * `ne` / `not_in` as `NOT (#n = :v)` / `NOT (#n IN (...))`: evaluation defines them as the
//!   exact negation of `eq` / `in` (true for a missing field), and `NOT` of a comparison that
//!   is false for a missing attribute is true, whatever `<>` does with missing attributes;
//! * `contains` (substring of `S`, element of `L`/`SS`, like Rust) and `starts_with`
//!   (`begins_with`) with a non-empty text constant;
//! * `$user.` references, when the user record is passed, resolved to constants;
//! * dates, only when the caller states how they are stored ([`DateEncoding`]); relative
//!   dates need `now`. Stored instants have whole milliseconds, so a bound with a fraction of a
//!   millisecond is rounded in the direction that keeps the comparison exact.
//!
//! Everything else stays in the residual: case-insensitive comparisons, `is_empty` (null vs
//! `""` vs `[]`), `eq null`, same-record and `$old.` references, `changed*`, list fields'
//! `in`, list equality, and `any`/`not` over anything not pushed exactly. A leaf that is kept
//! but can only hold on a present value still contributes `attribute_exists(#n)` as a
//! necessary condition, which lets DynamoDB drop items early without changing the result.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::compile::{
    Cmp, CompiledCriteria, CompiledLeaf, Constant, DateConst, Node, Operand, Scope, SetOperand, Test,
};
use super::eval::EvalContext;
use super::number::Number;
use super::schema::{FieldType, Kind};
use super::value::{Record, Value};

/// DynamoDB's limit on an expression's length in bytes.
const MAX_EXPRESSION_BYTES: usize = 4096;
/// DynamoDB's limit on operators and functions in one expression.
const MAX_OPERATORS: usize = 300;

/// How date and date-time fields are stored, which decides whether date conditions can be
/// pushed down. Only state an encoding that *every* stored value of those fields follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateEncoding {
    /// `N`: milliseconds since the Unix epoch (date fields: midnight UTC).
    EpochMillis,
    /// `S`: date-times as `YYYY-MM-DDTHH:MM:SS.sssZ` (always UTC, always three fraction
    /// digits) and dates as `YYYY-MM-DD`, years 0000–9999, so that text order is time order.
    Iso8601,
}

/// What pushdown may resolve ahead of DynamoDB.
#[derive(Clone, Copy, Default)]
pub struct PushdownOptions<'a> {
    /// The `now` the residual will be evaluated with; needed to push relative dates.
    pub now: Option<DateTime<Utc>>,
    /// The portal user's primary record the residual will be evaluated with; needed to
    /// push `$user.` references.
    pub user: Option<&'a dyn Record>,
    /// How dates are stored; without it, date conditions stay in the residual.
    pub dates: Option<DateEncoding>,
}

/// The result of [`pushdown`]: run the filter in DynamoDB, then the residual in Rust.
#[derive(Debug, Clone)]
pub struct Pushdown {
    /// The DynamoDB filter, if any part could be pushed.
    pub filter: Option<FilterExpression>,
    /// What must still be evaluated in Rust, if anything. Evaluate it with the same `now`
    /// and user that were given to [`pushdown_with`].
    pub residual: Option<CompiledCriteria>,
}

impl Pushdown {
    /// Whether the residual holds for the context's record (true when there is none).
    pub fn residual_holds(&self, ctx: &EvalContext<'_>) -> bool {
        self.residual.as_ref().is_none_or(|residual| residual.evaluate(ctx))
    }
}

/// A DynamoDB filter expression with its placeholders. Attribute names and values never
/// appear in the expression text, only `#n0`-style and `:v0`-style placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterExpression {
    /// The `FilterExpression`.
    pub expression: String,
    /// The `ExpressionAttributeNames` (`#n0` → attribute name).
    pub names: BTreeMap<String, String>,
    /// The `ExpressionAttributeValues` (`:v0` → value).
    pub values: BTreeMap<String, AttributeValue>,
}

/// A DynamoDB attribute value, without depending on the AWS SDK. Serialises to DynamoDB's
/// JSON wire form (`{"S": "x"}`, `{"N": "1.5"}`, `{"BOOL": true}`, `{"NULL": true}`,
/// `{"L": [...]}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A string.
    S(String),
    /// A number, as decimal text.
    N(String),
    /// A boolean (`BOOL`).
    Bool(bool),
    /// Null (`NULL`).
    Null,
    /// A list.
    L(Vec<AttributeValue>),
}

impl Serialize for AttributeValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            AttributeValue::S(text) => map.serialize_entry("S", text)?,
            AttributeValue::N(number) => map.serialize_entry("N", number)?,
            AttributeValue::Bool(flag) => map.serialize_entry("BOOL", flag)?,
            AttributeValue::Null => map.serialize_entry("NULL", &true)?,
            AttributeValue::L(items) => map.serialize_entry("L", items)?,
        }
        map.end()
    }
}

impl AttributeValue {
    /// How a record value of a field of `field_type` is stored under `dates`: the inverse of
    /// the faithful mapping evaluation assumes. `None` for date-times that have a fraction of
    /// a millisecond or fall outside the encoding's range. For tests and writers.
    pub fn from_value(value: &Value, field_type: &FieldType, dates: DateEncoding) -> Option<AttributeValue> {
        Some(match value {
            Value::Null => AttributeValue::Null,
            Value::Bool(flag) => AttributeValue::Bool(*flag),
            Value::Number(number) => AttributeValue::N(number.to_string()),
            Value::String(text) => AttributeValue::S(text.clone()),
            Value::DateTime(instant) => encode_date(dates, field_type, *instant, Rounding::Exact)?,
            Value::List(items) => AttributeValue::L(
                items
                    .iter()
                    .map(|item| AttributeValue::from_value(item, field_type, dates))
                    .collect::<Option<_>>()?,
            ),
        })
    }
}

/// Splits `criteria` with default options (no `now`, no user, dates not pushed).
///
/// `attribute_path_for_field` maps a field to its attribute path (`"stage"`, or
/// `"data.stage"` for a nested map; no list indexes), or `None` to keep it in Rust. Return
/// `None` for the table's key attributes: a Query's filter may not name them. Placeholders
/// are `#n0, #n1, …` and `:v0, :v1, …`; a key condition in the same request must use other
/// names.
pub fn pushdown(
    criteria: &CompiledCriteria,
    attribute_path_for_field: impl Fn(&str) -> Option<String>,
) -> Pushdown {
    pushdown_with(criteria, &PushdownOptions::default(), attribute_path_for_field)
}

/// Splits `criteria` into a DynamoDB filter and a Rust residual (see the module docs).
pub fn pushdown_with(
    criteria: &CompiledCriteria,
    options: &PushdownOptions<'_>,
    attribute_path_for_field: impl Fn(&str) -> Option<String>,
) -> Pushdown {
    let split = plan(criteria, options, &attribute_path_for_field);
    let whole = || Pushdown { filter: None, residual: Some(criteria.clone()) };
    let residual = split.residual.map(CompiledCriteria::new);
    match split.filter {
        None => Pushdown { filter: None, residual },
        Some(expr) => match render(&expr) {
            Some(filter) => Pushdown { filter: Some(filter), residual },
            // Over DynamoDB's limits: evaluating everything in Rust is always correct.
            None => whole(),
        },
    }
}

/// A node split into `filter ∧ residual` (each `None` meaning true).
pub(crate) struct Split {
    pub(crate) filter: Option<Expr>,
    pub(crate) residual: Option<Node>,
}

pub(crate) fn plan(
    criteria: &CompiledCriteria,
    options: &PushdownOptions<'_>,
    path_for: &dyn Fn(&str) -> Option<String>,
) -> Split {
    Planner { options, path_for }.split(&criteria.root)
}

/// A filter expression tree, before placeholders are assigned.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Compare { path: Vec<String>, cmp: Comparator, value: AttributeValue },
    Between { path: Vec<String>, low: AttributeValue, high: AttributeValue },
    In { path: Vec<String>, values: Vec<AttributeValue> },
    BeginsWith { path: Vec<String>, value: AttributeValue },
    Contains { path: Vec<String>, value: AttributeValue },
    Exists(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparator {
    Eq,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Comparator {
    fn symbol(self) -> &'static str {
        match self {
            Comparator::Eq => "=",
            Comparator::Lt => "<",
            Comparator::Lte => "<=",
            Comparator::Gt => ">",
            Comparator::Gte => ">=",
        }
    }
}

impl From<Cmp> for Comparator {
    fn from(cmp: Cmp) -> Comparator {
        match cmp {
            Cmp::Lt => Comparator::Lt,
            Cmp::Lte => Comparator::Lte,
            Cmp::Gt => Comparator::Gt,
            Cmp::Gte => Comparator::Gte,
        }
    }
}

/// How a date bound with a fraction of a millisecond becomes a whole millisecond, given
/// that stored instants have whole milliseconds: `a < c ⇔ a < ⌈c⌉`, `a ≤ c ⇔ a ≤ ⌊c⌋`,
/// `a > c ⇔ a > ⌊c⌋`, `a ≥ c ⇔ a ≥ ⌈c⌉`; equality cannot be rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rounding {
    Exact,
    Floor,
    Ceil,
}

impl Rounding {
    fn for_cmp(cmp: Cmp) -> Rounding {
        match cmp {
            Cmp::Lt | Cmp::Gte => Rounding::Ceil,
            Cmp::Lte | Cmp::Gt => Rounding::Floor,
        }
    }
}

struct Planner<'o, 'a> {
    options: &'o PushdownOptions<'a>,
    path_for: &'o dyn Fn(&str) -> Option<String>,
}

impl Planner<'_, '_> {
    fn split(&self, node: &Node) -> Split {
        match node {
            Node::Leaf(leaf) => self.leaf(leaf, node),
            Node::All(children) => {
                let (mut filters, mut residuals) = (Vec::new(), Vec::new());
                for split in children.iter().map(|child| self.split(child)) {
                    filters.extend(split.filter);
                    residuals.extend(split.residual);
                }
                Split { filter: conjunction(filters), residual: all_node(residuals) }
            }
            Node::Any(children) => {
                let splits: Vec<Split> = children.iter().map(|child| self.split(child)).collect();
                if splits.iter().any(|split| split.filter.is_none() && split.residual.is_none()) {
                    // A child that always holds makes the group always hold.
                    return Split { filter: None, residual: None };
                }
                let exact = splits.iter().all(|split| split.residual.is_none());
                // Each child implies its filter, so the group implies their disjunction.
                let filters: Option<Vec<Expr>> = splits.into_iter().map(|split| split.filter).collect();
                match filters {
                    Some(filters) => {
                        Split { filter: disjunction(filters), residual: (!exact).then(|| node.clone()) }
                    }
                    None => Split { filter: None, residual: Some(node.clone()) },
                }
            }
            Node::Not(child) => match self.split(child) {
                Split { filter: Some(filter), residual: None } => {
                    Split { filter: Some(Expr::Not(Box::new(filter))), residual: None }
                }
                _ => Split { filter: None, residual: Some(node.clone()) },
            },
        }
    }

    fn leaf(&self, leaf: &CompiledLeaf, node: &Node) -> Split {
        let Some(path) = (self.path_for)(&leaf.field).and_then(|path| attribute_path(&path)) else {
            return Split { filter: None, residual: Some(node.clone()) };
        };
        if let Some(expr) = self.exact(leaf, &path) {
            return Split { filter: Some(expr), residual: None };
        }
        let filter = implies_present(&leaf.test).then_some(Expr::Exists(path));
        Split { filter, residual: Some(node.clone()) }
    }

    /// A filter equivalent to the leaf, if DynamoDB evaluates it identically.
    fn exact(&self, leaf: &CompiledLeaf, path: &[String]) -> Option<Expr> {
        if leaf.case_insensitive {
            return None;
        }
        let path = path.to_vec();
        match &leaf.test {
            Test::Eq { operand, negate } => {
                let value = self.operand(leaf, operand, Rounding::Exact)?;
                Some(negated(Expr::Compare { path, cmp: Comparator::Eq, value }, *negate))
            }
            Test::Order { cmp, operand } => {
                let value = self.operand(leaf, operand, Rounding::for_cmp(*cmp))?;
                Some(Expr::Compare { path, cmp: (*cmp).into(), value })
            }
            Test::Between { low, high } => {
                let low = self.constant(leaf, low, Rounding::Ceil)?;
                let high = self.constant(leaf, high, Rounding::Floor)?;
                // DynamoDB refuses BETWEEN with bounds in descending order.
                ascending(&low, &high).then_some(Expr::Between { path, low, high })
            }
            Test::In { set, any_element: false, negate } => {
                let values: Vec<AttributeValue> = match set {
                    SetOperand::Texts(texts) => {
                        texts.iter().map(|text| text_value(text)).collect::<Option<_>>()?
                    }
                    SetOperand::Numbers(numbers) => {
                        numbers.iter().map(|number| AttributeValue::N(number.to_string())).collect()
                    }
                    SetOperand::Ref(_) => return None,
                };
                Some(negated(Expr::In { path, values }, *negate))
            }
            Test::Contains(operand) => {
                let value = self.operand(leaf, operand, Rounding::Exact)?;
                matches!(value, AttributeValue::S(_)).then_some(Expr::Contains { path, value })
            }
            Test::StartsWith(operand) => {
                let value = self.operand(leaf, operand, Rounding::Exact)?;
                matches!(value, AttributeValue::S(_)).then_some(Expr::BeginsWith { path, value })
            }
            Test::In { any_element: true, .. }
            | Test::IsEmpty { .. }
            | Test::Changed
            | Test::ChangedTo(_) => None,
        }
    }

    fn operand(&self, leaf: &CompiledLeaf, operand: &Operand, rounding: Rounding) -> Option<AttributeValue> {
        match operand {
            Operand::Const(constant) => self.constant(leaf, constant, rounding),
            Operand::Ref(field_ref) if field_ref.scope == Scope::User => {
                let value = self.options.user?.get(&field_ref.field)?;
                self.user_value(leaf, value, rounding)
            }
            Operand::Ref(_) => None,
        }
    }

    fn constant(
        &self,
        leaf: &CompiledLeaf,
        constant: &Constant,
        rounding: Rounding,
    ) -> Option<AttributeValue> {
        match constant {
            Constant::Bool(flag) => Some(AttributeValue::Bool(*flag)),
            Constant::Number(number) => Some(AttributeValue::N(number.to_string())),
            Constant::Text(text) => text_value(text),
            Constant::Date(date) => {
                let instant = match date {
                    DateConst::Fixed(instant) => *instant,
                    DateConst::Relative { .. } => date.resolve(self.options.now?),
                };
                encode_date(self.options.dates?, &leaf.field_type, instant, rounding)
            }
            Constant::Null | Constant::TextList(_) => None,
        }
    }

    /// A `$user.` value as a constant, only when evaluation would compare it with the
    /// field's own value type (a text with a text field, …); across types evaluation never
    /// matches, which DynamoDB could not be trusted to mirror for encoded dates.
    fn user_value(&self, leaf: &CompiledLeaf, value: &Value, rounding: Rounding) -> Option<AttributeValue> {
        match (leaf.field_type.kind(), value) {
            (Kind::Text | Kind::List, Value::String(text)) => text_value(text),
            (Kind::Number, Value::Number(number)) => Some(AttributeValue::N(number.to_string())),
            (Kind::Bool, Value::Bool(flag)) => Some(AttributeValue::Bool(*flag)),
            (Kind::Date, Value::DateTime(instant)) => {
                encode_date(self.options.dates?, &leaf.field_type, *instant, rounding)
            }
            _ => None,
        }
    }
}

/// Empty strings are never sent (their treatment in expression values has changed over
/// DynamoDB's history, and they only arise from `$user.` values).
fn text_value(text: &str) -> Option<AttributeValue> {
    (!text.is_empty()).then(|| AttributeValue::S(text.to_owned()))
}

fn negated(expr: Expr, negate: bool) -> Expr {
    if negate { Expr::Not(Box::new(expr)) } else { expr }
}

/// Leaves that can only hold when the field has a (non-null) value.
fn implies_present(test: &Test) -> bool {
    match test {
        Test::Eq { negate: false, operand: Operand::Const(constant) } | Test::ChangedTo(constant) => {
            *constant != Constant::Null
        }
        Test::Eq { negate: false, operand: Operand::Ref(_) }
        | Test::Order { .. }
        | Test::Between { .. }
        | Test::In { negate: false, .. }
        | Test::Contains(_)
        | Test::StartsWith(_)
        | Test::IsEmpty { negate: true } => true,
        Test::Eq { negate: true, .. } | Test::In { negate: true, .. } | Test::IsEmpty { negate: false } => {
            false
        }
        Test::Changed => false,
    }
}

/// Whether `low <= high` for two encoded bounds of the same type.
fn ascending(low: &AttributeValue, high: &AttributeValue) -> bool {
    match (low, high) {
        (AttributeValue::N(low), AttributeValue::N(high)) => {
            matches!((low.parse::<Number>(), high.parse::<Number>()), (Ok(low), Ok(high)) if low <= high)
        }
        (AttributeValue::S(low), AttributeValue::S(high)) => low <= high,
        _ => false,
    }
}

fn encode_date(
    encoding: DateEncoding,
    field_type: &FieldType,
    instant: DateTime<Utc>,
    rounding: Rounding,
) -> Option<AttributeValue> {
    let floor = instant.timestamp_millis();
    let has_fraction = !instant.timestamp_subsec_nanos().is_multiple_of(1_000_000);
    let millis = match (rounding, has_fraction) {
        (_, false) | (Rounding::Floor, true) => floor,
        (Rounding::Ceil, true) => floor.checked_add(1)?,
        (Rounding::Exact, true) => return None,
    };
    match encoding {
        DateEncoding::EpochMillis => Some(AttributeValue::N(millis.to_string())),
        DateEncoding::Iso8601 => {
            let instant = DateTime::<Utc>::from_timestamp_millis(millis)?;
            if !(0..=9999).contains(&instant.year()) {
                return None;
            }
            if *field_type == FieldType::Date {
                // A day text only stands for midnight; other instants have no exact encoding.
                let midnight = super::compile::start_of_day(instant) == instant;
                midnight.then(|| AttributeValue::S(instant.format("%Y-%m-%d").to_string()))
            } else {
                Some(AttributeValue::S(instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()))
            }
        }
    }
}

/// Splits a dotted attribute path into names; `None` for empty segments or list indexes.
fn attribute_path(path: &str) -> Option<Vec<String>> {
    let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
    let valid = segments.iter().all(|segment| !segment.is_empty() && !segment.contains(['[', ']']));
    valid.then_some(segments)
}

fn conjunction(mut filters: Vec<Expr>) -> Option<Expr> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Expr::And(filters)),
    }
}

fn disjunction(mut filters: Vec<Expr>) -> Option<Expr> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(Expr::Or(filters)),
    }
}

fn all_node(mut residuals: Vec<Node>) -> Option<Node> {
    match residuals.len() {
        0 => None,
        1 => residuals.pop(),
        _ => Some(Node::All(residuals.into_boxed_slice())),
    }
}

/// Writes the expression with placeholders; `None` when it exceeds DynamoDB's limits.
fn render(expr: &Expr) -> Option<FilterExpression> {
    let mut renderer = Renderer::default();
    let mut expression = String::new();
    renderer.expr(expr, &mut expression);
    let within_limits = expression.len() <= MAX_EXPRESSION_BYTES && renderer.operators <= MAX_OPERATORS;
    within_limits.then_some(FilterExpression { expression, names: renderer.names, values: renderer.values })
}

#[derive(Default)]
struct Renderer {
    names: BTreeMap<String, String>,
    placeholders: HashMap<String, String>,
    values: BTreeMap<String, AttributeValue>,
    operators: usize,
}

impl Renderer {
    fn name(&mut self, name: &str) -> String {
        if let Some(placeholder) = self.placeholders.get(name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        self.placeholders.insert(name.to_owned(), placeholder.clone());
        placeholder
    }

    fn path(&mut self, path: &[String]) -> String {
        path.iter().map(|segment| self.name(segment)).collect::<Vec<_>>().join(".")
    }

    fn value(&mut self, value: &AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value.clone());
        placeholder
    }

    fn expr(&mut self, expr: &Expr, out: &mut String) {
        self.operators += 1;
        match expr {
            Expr::And(children) => self.join(children, " AND ", out),
            Expr::Or(children) => self.join(children, " OR ", out),
            Expr::Not(child) => {
                out.push_str("NOT (");
                self.expr(child, out);
                out.push(')');
            }
            Expr::Compare { path, cmp, value } => {
                let (path, value) = (self.path(path), self.value(value));
                let _ = write!(out, "{path} {} {value}", cmp.symbol());
            }
            Expr::Between { path, low, high } => {
                let (path, low, high) = (self.path(path), self.value(low), self.value(high));
                let _ = write!(out, "{path} BETWEEN {low} AND {high}");
            }
            Expr::In { path, values } => {
                let path = self.path(path);
                let values: Vec<String> = values.iter().map(|value| self.value(value)).collect();
                let _ = write!(out, "{path} IN ({})", values.join(", "));
            }
            Expr::BeginsWith { path, value } => {
                let (path, value) = (self.path(path), self.value(value));
                let _ = write!(out, "begins_with({path}, {value})");
            }
            Expr::Contains { path, value } => {
                let (path, value) = (self.path(path), self.value(value));
                let _ = write!(out, "contains({path}, {value})");
            }
            Expr::Exists(path) => {
                let path = self.path(path);
                let _ = write!(out, "attribute_exists({path})");
            }
        }
    }

    fn join(&mut self, children: &[Expr], separator: &str, out: &mut String) {
        for (at, child) in children.iter().enumerate() {
            if at > 0 {
                out.push_str(separator);
            }
            out.push('(');
            self.expr(child, out);
            out.push(')');
        }
    }
}
