//! The compiled form: validated criteria with every constant already parsed for its field's
//! type, case-folded and sorted, so that evaluation only compares and never allocates.
//!
//! Only [`validate`](super::validate) (and [`pushdown`](super::pushdown), which keeps parts
//! of an existing tree) build these types, so holding a [`CompiledCriteria`] proves the
//! criteria were valid for the module they were validated against.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value as Json;

use super::ast::Op;
use super::number::Number;
use super::reldate::RelativeDate;
use super::schema::FieldType;

/// Criteria ready to be evaluated, explained or pushed down to DynamoDB.
#[derive(Debug, Clone)]
pub struct CompiledCriteria {
    pub(crate) root: Node,
}

impl CompiledCriteria {
    pub(crate) fn new(root: Node) -> CompiledCriteria {
        CompiledCriteria { root }
    }

    /// The fields of the evaluated record that the criteria read (the tested fields and
    /// same-record `field_ref`s): what a DynamoDB projection must fetch for evaluation.
    pub fn record_fields(&self) -> BTreeSet<&str> {
        let mut fields = BTreeSet::new();
        self.root.collect_record_fields(&mut fields);
        fields
    }

    /// Number of leaf conditions.
    pub fn leaf_count(&self) -> usize {
        self.root.leaf_count()
    }

    /// What an `eq` on `field` that the whole criteria need (the root leaf, or a leaf child of
    /// a root `all`) compares it with, when that is a text or a `$user.` field: what an index
    /// keyed by the field can look up. Constants of case-insensitive leaves come folded.
    pub fn required_equality(&self, field: &str) -> Option<EqualityOperand<'_>> {
        let conjuncts: &[Node] = match &self.root {
            Node::All(children) => children,
            node => std::slice::from_ref(node),
        };
        conjuncts.iter().find_map(|node| match node {
            Node::Leaf(leaf) if &*leaf.field == field => match &leaf.test {
                Test::Eq { operand: Operand::Const(Constant::Text(text)), negate: false } => {
                    Some(EqualityOperand::Text(text))
                }
                Test::Eq { operand: Operand::Ref(FieldRef { scope: Scope::User, field }), negate: false } => {
                    Some(EqualityOperand::User(field))
                }
                _ => None,
            },
            _ => None,
        })
    }
}

/// The other side of an equality the criteria need (`required_equality`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EqualityOperand<'a> {
    /// A text constant.
    Text(&'a str),
    /// A field of the portal user's primary record (`$user.<field>`).
    User(&'a str),
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    All(Box<[Node]>),
    Any(Box<[Node]>),
    Not(Box<Node>),
    Leaf(Box<CompiledLeaf>),
}

impl Node {
    fn collect_record_fields<'a>(&'a self, fields: &mut BTreeSet<&'a str>) {
        match self {
            Node::All(children) | Node::Any(children) => {
                children.iter().for_each(|child| child.collect_record_fields(fields));
            }
            Node::Not(child) => child.collect_record_fields(fields),
            Node::Leaf(leaf) => {
                fields.insert(&leaf.field);
                if let Some(FieldRef { scope: Scope::Record, field }) = leaf.test.field_ref() {
                    fields.insert(field);
                }
            }
        }
    }

    fn leaf_count(&self) -> usize {
        match self {
            Node::All(children) | Node::Any(children) => children.iter().map(Node::leaf_count).sum(),
            Node::Not(child) => child.leaf_count(),
            Node::Leaf(_) => 1,
        }
    }
}

/// One condition, with what explain needs to show it as the admin wrote it.
#[derive(Debug, Clone)]
pub(crate) struct CompiledLeaf {
    pub(crate) field: Box<str>,
    pub(crate) field_type: FieldType,
    pub(crate) test: Test,
    /// Text constants are stored folded; the record's text is folded while comparing.
    pub(crate) case_insensitive: bool,
    pub(crate) source: LeafSource,
}

/// The leaf as written, for explanations.
#[derive(Debug, Clone)]
pub(crate) struct LeafSource {
    pub(crate) path: Box<str>,
    pub(crate) op: Op,
    pub(crate) value: Option<Json>,
    pub(crate) field_ref: Option<Box<str>>,
}

/// What a leaf checks. Negated operators (`ne`, `not_in`, `is_not_empty`) share their
/// positive variant with `negate` set, which makes "exactly the negation" true by
/// construction.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    IsEmpty {
        negate: bool,
    },
    Eq {
        operand: Operand,
        negate: bool,
    },
    Order {
        cmp: Cmp,
        operand: Operand,
    },
    Between {
        low: Constant,
        high: Constant,
    },
    /// `any_element`: the field is a list and holds when any element is in the set.
    In {
        set: SetOperand,
        any_element: bool,
        negate: bool,
    },
    Contains(Operand),
    StartsWith(Operand),
    Changed,
    ChangedTo(Constant),
}

impl Test {
    pub(crate) fn field_ref(&self) -> Option<&FieldRef> {
        match self {
            Test::Eq { operand: Operand::Ref(r), .. }
            | Test::Order { operand: Operand::Ref(r), .. }
            | Test::Contains(Operand::Ref(r))
            | Test::StartsWith(Operand::Ref(r))
            | Test::In { set: SetOperand::Ref(r), .. } => Some(r),
            _ => None,
        }
    }
}

/// An ordering comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Gt,
    Gte,
}

impl Cmp {
    pub(crate) fn from_op(op: Op) -> Option<Cmp> {
        match op {
            Op::Lt => Some(Cmp::Lt),
            Op::Lte => Some(Cmp::Lte),
            Op::Gt => Some(Cmp::Gt),
            Op::Gte => Some(Cmp::Gte),
            _ => None,
        }
    }

    /// Whether `actual <op> expected` given `actual.cmp(expected)`.
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Lt => ordering.is_lt(),
            Cmp::Lte => ordering.is_le(),
            Cmp::Gt => ordering.is_gt(),
            Cmp::Gte => ordering.is_ge(),
        }
    }
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Const(Constant),
    Ref(FieldRef),
}

/// A reference to another record's field, resolved at evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldRef {
    pub(crate) scope: Scope,
    pub(crate) field: Box<str>,
}

/// Which record a [`FieldRef`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The record being evaluated.
    Record,
    /// The portal user's primary record (`$user.`).
    User,
    /// The old image of the record (`$old.`).
    Old,
}

/// A constant parsed for its field's type.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Constant {
    Null,
    Bool(bool),
    Number(Number),
    Text(Box<str>),
    Date(DateConst),
    TextList(Box<[Box<str>]>),
}

/// A date constant: fixed, or relative to the evaluation's `now`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DateConst {
    Fixed(DateTime<Utc>),
    /// `whole_day`: for date fields, the resolved instant is truncated to midnight UTC, so
    /// `now-30d` on a date field means "the day 30 days ago".
    Relative {
        date: RelativeDate,
        whole_day: bool,
    },
}

const SECONDS_PER_DAY: i64 = 86_400;

impl DateConst {
    /// The instant at `now`, for explanations and pushdown.
    pub(crate) fn resolve(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            DateConst::Fixed(instant) => instant,
            DateConst::Relative { .. } => {
                let (seconds, nanos) = self.key(now);
                DateTime::from_timestamp(seconds, nanos).unwrap_or(if seconds < 0 {
                    DateTime::<Utc>::MIN_UTC
                } else {
                    DateTime::<Utc>::MAX_UTC
                })
            }
        }
    }

    /// The instant at `now` as an [`InstantKey`]: plain integer arithmetic, several times
    /// cheaper than calendar arithmetic on `DateTime`, which matters per evaluation.
    pub(crate) fn key(&self, now: DateTime<Utc>) -> InstantKey {
        match *self {
            DateConst::Fixed(instant) => instant_key(&instant),
            DateConst::Relative { date, whole_day } => {
                let seconds = now.timestamp().saturating_add(date.offset_seconds());
                if whole_day {
                    (seconds.div_euclid(SECONDS_PER_DAY) * SECONDS_PER_DAY, 0)
                } else {
                    (seconds, now.timestamp_subsec_nanos())
                }
            }
        }
    }
}

/// An instant as (seconds since the Unix epoch, nanoseconds), ordered exactly like the
/// `DateTime<Utc>` it comes from.
pub(crate) type InstantKey = (i64, u32);

pub(crate) fn instant_key(instant: &DateTime<Utc>) -> InstantKey {
    (instant.timestamp(), instant.timestamp_subsec_nanos())
}

pub(crate) fn start_of_day(instant: DateTime<Utc>) -> DateTime<Utc> {
    instant.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// The set of an `in` / `not_in`.
#[derive(Debug, Clone)]
pub(crate) enum SetOperand {
    /// Sorted and deduplicated (folded first when case-insensitive), for binary search.
    Texts(Box<[Box<str>]>),
    /// Sorted and deduplicated.
    Numbers(Box<[Number]>),
    /// A list field of another record.
    Ref(FieldRef),
}
