//! Validation errors, each pointing at the node that caused it.

use serde::Serialize;

use super::ast::Op;
use super::number::NumberError;
use super::reldate::RelativeDateError;

/// One problem found by [`validate`](super::validate), with the path of the offending node.
///
/// Paths follow the JSON: `all[2].value`, `any[0].not.field`, `all[1].value[0]`; an error
/// about the criteria as a whole has the empty path. They map directly onto the
/// `{field, message}` entries of a validation problem response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{}{}", path_prefix(.path), .kind)]
pub struct CriteriaError {
    /// Where: `all[2].value`; empty for the whole criteria.
    pub path: String,
    /// What.
    #[serde(rename = "message", serialize_with = "serialize_display")]
    pub kind: ErrorKind,
}

fn serialize_display<S: serde::Serializer>(kind: &ErrorKind, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(kind)
}

impl CriteriaError {
    pub(crate) fn new(path: &str, kind: ErrorKind) -> CriteriaError {
        CriteriaError { path: path.to_owned(), kind }
    }
}

fn path_prefix(path: &str) -> String {
    if path.is_empty() { String::new() } else { format!("{path}: ") }
}

/// What is wrong with a criteria node; the `Display` text is the message shown to admins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    /// The module has no such field.
    #[error("unknown field `{0}` (field names are case-sensitive)")]
    UnknownField(String),
    /// The operator makes no sense for the field's type.
    #[error("operator `{op}` cannot be used on {field_type} field `{field}`")]
    OperatorNotValid {
        /// The operator.
        op: Op,
        /// The field.
        field: String,
        /// The field's type name.
        field_type: &'static str,
    },
    /// `changed` / `changed_to` outside a trigger condition.
    #[error(
        "operator `{0}` compares a record's old and new values and is only allowed in trigger conditions"
    )]
    TriggerOnly(Op),
    /// A JSON value of the wrong type.
    #[error("expected {expected}, found {found}")]
    WrongValueType {
        /// What the field needs (`a number`).
        expected: &'static str,
        /// What was given (`a string`).
        found: &'static str,
    },
    /// A select value that is not one of the field's options.
    #[error("`{value}` is not an option of this field (options: {options})")]
    NotAnOption {
        /// The value given.
        value: String,
        /// The options, comma-separated.
        options: String,
    },
    /// A number that DynamoDB could not store.
    #[error("invalid number: {0}")]
    InvalidNumber(NumberError),
    /// A date that is neither absolute nor relative.
    #[error("`{value}` is not a {expected}, nor a relative date such as `now-30d`")]
    InvalidDate {
        /// The text given.
        value: String,
        /// `date (YYYY-MM-DD)` or `date-time (RFC 3339)`.
        expected: &'static str,
    },
    /// A relative date that does not parse.
    #[error(transparent)]
    InvalidRelativeDate(RelativeDateError),
    /// A minutes/hours offset on a date field, which has no time of day.
    #[error("date fields have no time of day: use a relative date in days or weeks (`now-30d`, `now+2w`)")]
    SubDayOffsetOnDate,
    /// Neither `value` nor `field_ref` for an operator that needs one.
    #[error("operator `{0}` needs a `value` or a `field_ref`")]
    MissingValue(Op),
    /// A `value` or `field_ref` for an operator that takes none.
    #[error("operator `{0}` takes no `value` or `field_ref`")]
    UnexpectedValue(Op),
    /// Both `value` and `field_ref`.
    #[error("give either `value` or `field_ref`, not both")]
    ValueAndFieldRef,
    /// `null` with an operator other than eq, ne, changed_to.
    #[error("`null` can only be used with eq, ne and changed_to; use is_empty / is_not_empty")]
    NullNotAllowed,
    /// An empty text for contains / starts_with, which would match everything.
    #[error("operator `{0}` needs a non-empty text")]
    EmptyText(Op),
    /// `between` without exactly two bounds.
    #[error("`between` needs a list of exactly 2 values [low, high], found {0}")]
    BetweenArity(usize),
    /// `between` bounds in the wrong order.
    #[error("`between` bounds must be in ascending order [low, high]")]
    BetweenOrder,
    /// An empty `in` / `not_in` list.
    #[error("operator `{0}` needs at least one value")]
    EmptyList(Op),
    /// Too many `in` / `not_in` values.
    #[error("operator `{op}` takes at most {max} values")]
    TooManyValues {
        /// The operator.
        op: Op,
        /// The limit.
        max: usize,
    },
    /// A field_ref on an operator that cannot take one.
    #[error("operator `{0}` cannot compare with a `field_ref`")]
    FieldRefNotAllowed(Op),
    /// A field_ref that is neither `$user.x`, `$old.x` nor a plain field name.
    #[error("`{0}` is not a field reference: use `$user.<field>`, `$old.<field>` or `<field>`")]
    BadFieldRef(String),
    /// `$user.` where no portal user exists.
    #[error("`{0}`: `$user.` references are only available in portal criteria")]
    UserRefUnavailable(String),
    /// `$old.` outside a trigger condition.
    #[error("`{0}`: `$old.` references are only allowed in trigger conditions")]
    OldRefUnavailable(String),
    /// A field_ref to a field that does not exist.
    #[error("`{0}` refers to an unknown field (field names are case-sensitive)")]
    UnknownRefField(String),
    /// A field_ref whose type cannot be compared with the field's.
    #[error(
        "`{field_ref}` is a {ref_type} field and cannot be compared with {field_type} field `{field}` using `{op}`"
    )]
    IncompatibleRef {
        /// The reference.
        field_ref: String,
        /// The referenced field's type name.
        ref_type: &'static str,
        /// The field.
        field: String,
        /// The field's type name.
        field_type: &'static str,
        /// The operator.
        op: Op,
    },
    /// `case_insensitive` where it has no meaning.
    #[error(
        "`case_insensitive` applies only to eq, ne, in, not_in, contains and starts_with on text and list fields"
    )]
    CaseInsensitiveNotApplicable,
    /// An `all` / `any` without children.
    #[error("`{0}` needs at least one condition")]
    EmptyGroup(&'static str),
    /// Nesting beyond the limit.
    #[error("criteria are nested deeper than {0} levels")]
    TooDeep(usize),
    /// More leaves than the limit.
    #[error("criteria have {found} conditions; at most {max} are allowed")]
    TooManyLeaves {
        /// Leaves found.
        found: usize,
        /// The limit.
        max: usize,
    },
}
