//! The stored JSON form of criteria, exactly as admins write it.
//!
//! This layer only checks shape (which keys a node may have); meaning (fields, operators,
//! value types) is checked by [`validate`](super::validate) against a module's fields,
//! because the same JSON value means different things for different field types
//! (`"2024-05-01"` is a date for a date field and plain text for a text field).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value as Json;

/// A criteria tree: groups (`all`, `any`), negation (`not`) and leaf conditions.
///
/// JSON: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`, or a leaf such as
/// `{"field": "stage", "op": "eq", "value": "Approved"}` or
/// `{"field": "region", "op": "eq", "field_ref": "$user.billing_country"}`.
/// Unknown keys and nodes mixing group and leaf keys are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawNode", into = "RawNode")]
pub enum Criteria {
    /// Holds when every child holds.
    All(Vec<Criteria>),
    /// Holds when at least one child holds.
    Any(Vec<Criteria>),
    /// Holds when the child does not.
    Not(Box<Criteria>),
    /// A single condition on one field.
    Leaf(Leaf),
}

/// A leaf condition: `field op (value | field_ref)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The field of the record being tested (case-sensitive).
    pub field: String,
    /// The operator.
    pub op: Op,
    /// The constant to compare with; `Some(Json::Null)` is an explicit `null`.
    pub value: Option<Json>,
    /// Another field to compare with: `$user.<field>`, `$old.<field>` or `<field>`.
    pub field_ref: Option<String>,
    /// Compare texts ignoring case (eq, ne, in, not_in, contains, starts_with).
    pub case_insensitive: bool,
}

impl Leaf {
    /// A leaf comparing `field` with a constant.
    pub fn value(field: impl Into<String>, op: Op, value: Json) -> Leaf {
        Leaf { field: field.into(), op, value: Some(value), field_ref: None, case_insensitive: false }
    }

    /// A leaf comparing `field` with another field (`$user.x`, `$old.x` or `x`).
    pub fn field_ref(field: impl Into<String>, op: Op, field_ref: impl Into<String>) -> Leaf {
        Leaf {
            field: field.into(),
            op,
            value: None,
            field_ref: Some(field_ref.into()),
            case_insensitive: false,
        }
    }

    /// A leaf whose operator takes no operand (`is_empty`, `is_not_empty`, `changed`).
    pub fn unary(field: impl Into<String>, op: Op) -> Leaf {
        Leaf { field: field.into(), op, value: None, field_ref: None, case_insensitive: false }
    }

    /// The same leaf, comparing texts ignoring case.
    pub fn ignoring_case(self) -> Leaf {
        Leaf { case_insensitive: true, ..self }
    }
}

impl From<Leaf> for Criteria {
    fn from(leaf: Leaf) -> Criteria {
        Criteria::Leaf(leaf)
    }
}

/// Comparison operators. Their exact typed semantics are in the [module docs](super).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal.
    Eq,
    /// Not equal (exactly the negation of `eq`).
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// One of a list of values (for list fields: any element is one of them).
    In,
    /// Exactly the negation of `in`.
    NotIn,
    /// Substring of a text, or element of a list.
    Contains,
    /// Prefix of a text.
    StartsWith,
    /// Null, missing, empty text or empty list.
    IsEmpty,
    /// Exactly the negation of `is_empty`.
    IsNotEmpty,
    /// Inclusive range `[low, high]`.
    Between,
    /// Trigger only: the field differs between the old and the new image.
    Changed,
    /// Trigger only: changed, and the new value equals the given one.
    ChangedTo,
}

impl Op {
    /// Every operator, in declaration order.
    pub const ALL: [Op; 15] = [
        Op::Eq,
        Op::Ne,
        Op::Lt,
        Op::Lte,
        Op::Gt,
        Op::Gte,
        Op::In,
        Op::NotIn,
        Op::Contains,
        Op::StartsWith,
        Op::IsEmpty,
        Op::IsNotEmpty,
        Op::Between,
        Op::Changed,
        Op::ChangedTo,
    ];

    /// The JSON name (`not_in`).
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Contains => "contains",
            Op::StartsWith => "starts_with",
            Op::IsEmpty => "is_empty",
            Op::IsNotEmpty => "is_not_empty",
            Op::Between => "between",
            Op::Changed => "changed",
            Op::ChangedTo => "changed_to",
        }
    }

    /// Whether the operator compares the old and new image (trigger conditions only).
    pub fn is_trigger_only(self) -> bool {
        matches!(self, Op::Changed | Op::ChangedTo)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every key a node may carry; [`Criteria`] is converted from and into it so that the
/// JSON shape stays flat (`{"field": .., "op": ..}`) while the Rust type stays an enum.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    all: Option<Vec<Criteria>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    any: Option<Vec<Criteria>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not: Option<Box<Criteria>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    op: Option<Op>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    value: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    field_ref: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    case_insensitive: bool,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// Keeps an explicit `"value": null` apart from an absent `value` (plain `Option<Json>`
/// would read both as `None`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Json>, D::Error> {
    Json::deserialize(deserializer).map(Some)
}

/// Why a JSON object is not a criteria node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// None of `all`, `any`, `not`, `field`.
    #[error("a criteria node needs one of `all`, `any`, `not`, or `field` with `op`")]
    Empty,
    /// More than one of `all`, `any`, `not`, `field`.
    #[error("a criteria node takes only one of `all`, `any`, `not`, `field`; found {0}")]
    Mixed(String),
    /// Leaf keys (`op`, `value`, ...) on a group node.
    #[error("`{0}` is only allowed in a leaf (a node with `field`)")]
    LeafKeyOnGroup(&'static str),
    /// A leaf without `op`.
    #[error("the condition on `{0}` has no `op`")]
    MissingOp(String),
}

impl TryFrom<RawNode> for Criteria {
    type Error = ShapeError;

    fn try_from(raw: RawNode) -> Result<Criteria, ShapeError> {
        let kinds: Vec<&str> = [
            raw.all.as_ref().map(|_| "`all`"),
            raw.any.as_ref().map(|_| "`any`"),
            raw.not.as_ref().map(|_| "`not`"),
            raw.field.as_ref().map(|_| "`field`"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            return Err(ShapeError::Mixed(kinds.join(" and ")));
        }
        if raw.field.is_none() {
            let leaf_key = [
                (raw.op.is_some(), "op"),
                (raw.value.is_some(), "value"),
                (raw.field_ref.is_some(), "field_ref"),
                (raw.case_insensitive, "case_insensitive"),
            ]
            .into_iter()
            .find_map(|(found, key)| found.then_some(key));
            if let Some(key) = leaf_key {
                return Err(ShapeError::LeafKeyOnGroup(key));
            }
        }
        match (raw.all, raw.any, raw.not, raw.field) {
            (Some(children), ..) => Ok(Criteria::All(children)),
            (_, Some(children), ..) => Ok(Criteria::Any(children)),
            (_, _, Some(child), _) => Ok(Criteria::Not(child)),
            (_, _, _, Some(field)) => {
                let op = raw.op.ok_or_else(|| ShapeError::MissingOp(field.clone()))?;
                Ok(Criteria::Leaf(Leaf {
                    field,
                    op,
                    value: raw.value,
                    field_ref: raw.field_ref,
                    case_insensitive: raw.case_insensitive,
                }))
            }
            (None, None, None, None) => Err(ShapeError::Empty),
        }
    }
}

impl From<Criteria> for RawNode {
    fn from(criteria: Criteria) -> RawNode {
        let empty = RawNode {
            all: None,
            any: None,
            not: None,
            field: None,
            op: None,
            value: None,
            field_ref: None,
            case_insensitive: false,
        };
        match criteria {
            Criteria::All(children) => RawNode { all: Some(children), ..empty },
            Criteria::Any(children) => RawNode { any: Some(children), ..empty },
            Criteria::Not(child) => RawNode { not: Some(child), ..empty },
            Criteria::Leaf(leaf) => RawNode {
                field: Some(leaf.field),
                op: Some(leaf.op),
                value: leaf.value,
                field_ref: leaf.field_ref,
                case_insensitive: leaf.case_insensitive,
                ..empty
            },
        }
    }
}
