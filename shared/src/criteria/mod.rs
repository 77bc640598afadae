//! The criteria language (SPEC §7): one JSON form and one evaluator for portal exposure
//! (§4), OTP rule triggers (§3), workflow rules (§5) and lifecycle rules (§1).
//!
//! Pure: no I/O, no clock, no AWS types. The life of a criteria:
//!
//! 1. **Form** — [`Criteria`] is the stored JSON: `{"all": [...]}`, `{"any": [...]}`,
//!    `{"not": {...}}` and leaves such as `{"field": "stage", "op": "eq", "value": "Approved"}`
//!    or `{"field": "region", "op": "eq", "field_ref": "$user.billing_country"}`. Unknown
//!    keys are refused.
//! 2. **Validate** — [`validate`] checks it against the module's fields ([`FieldSchema`]) when
//!    it is saved, collecting every [`CriteriaError`] with its path (`all[2].value`).
//! 3. **Evaluate** — the resulting [`ValidatedCriteria`] / [`CompiledCriteria`] evaluates a
//!    [`Record`] in an [`EvalContext`] without allocating: constants are parsed, folded and
//!    sorted once, and relative dates resolve against the context's `now`. Field lookup is
//!    most of an evaluation's cost; [`FieldMap`] is the fastest record map here.
//! 4. **Explain** — [`explain`] gives the evaluation tree with actual values (portal preview).
//! 5. **Push down** — [`pushdown_with`] splits the criteria into a DynamoDB filter
//!    expression and a residual evaluated in Rust, with
//!    `full ⇔ filter ∧ residual`.
//!
//! # References (`field_ref`)
//!
//! `$user.<field>` reads the portal user's primary record, `$old.<field>` the old image of
//! the record (trigger conditions only), and a plain `<field>` another field of the same
//! record. A comparison with a referenced value that is null or missing never holds
//! (`ne` / `not_in`, being negations, then hold): two records that both lack a value are not
//! a match, so an empty `billing_country` exposes nothing.
//!
//! # Typed comparison rules
//!
//! * **Numbers** are exact decimals ([`Number`]: up to 38 significant digits, as in
//!   DynamoDB); `1.50` equals `1.5`. **Texts** compare by their bytes (code point order),
//!   case-sensitively unless the leaf says `"case_insensitive": true` (available for eq, ne,
//!   in, not_in, contains, starts_with; folding is Unicode lowercase, char by char).
//!   **Date-times** compare chronologically; values of date fields are midnight UTC.
//! * **No coercion.** A value of another type than the constant never matches: `"5"` is not
//!   `5`, and `lt` between a number and a text is false. The negated operators `ne`,
//!   `not_in` and `is_not_empty` are *exactly* the negation of `eq`, `in` and `is_empty`, so
//!   they hold on such mismatches.
//! * **Missing is null.** A field absent from the record reads as null. Null matches only
//!   `is_empty` and `eq null` (and so `ne`/`not_in`/… with non-null operands); every ordering
//!   operator, `between`, `contains` and `starts_with` is false on null.
//! * **`is_empty`** holds for null, a missing field, the empty text and the empty list.
//! * **Ordering** (`lt`, `lte`, `gt`, `gte`, `between`) is numeric for numbers, by bytes for
//!   texts (text fields only), chronological for dates; `between` is inclusive and its bounds
//!   must be ascending.
//! * **`contains`** is substring on a text and element membership on a list (whatever the
//!   record actually holds). **`starts_with`** is a text prefix. Their constant may not be
//!   empty.
//! * **`in` / `not_in`** take a list of 1..=100 constants (or a `field_ref` to a list field).
//!   On a list field, `in` holds when *any* element is in the set. **`eq` on a list field**
//!   compares the whole list, in order.
//! * **Relative dates** (`now`, `now-30d`, `now+2h`; units m, h, d, w) are allowed wherever a
//!   date value is; on date fields they are truncated to the day (and only d, w are allowed).
//! * **Triggers**: `changed` holds when the field's value differs between the old and new
//!   image (a created record has no old image: every old value is null); `changed_to`
//!   additionally requires the new value to equal the constant.
//!
//! # Limits
//!
//! At most [`MAX_DEPTH`] nested levels, [`MAX_LEAVES`] leaves, and [`MAX_LIST_VALUES`]
//! values in an `in` list; `all` / `any` need at least one child.

mod ast;
mod compile;
mod error;
mod eval;
mod explain;
mod number;
mod pushdown;
mod reldate;
mod schema;
mod validate;
mod value;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

#[cfg(test)]
mod tests;

pub use ast::{Criteria, Leaf, Op, ShapeError};
pub use compile::{CompiledCriteria, EqualityOperand};
pub use error::{CriteriaError, ErrorKind};
pub use eval::{EvalContext, fold_case};
pub use explain::{Explanation, LeafExplanation, explain};
pub use number::{Number, NumberError};
pub use pushdown::{
    AttributeValue, DateEncoding, FilterExpression, Pushdown, PushdownOptions, pushdown, pushdown_with,
};
pub use reldate::{DateUnit, MAX_RELATIVE_AMOUNT, RelativeDate, RelativeDateError};
pub use schema::{FieldSchema, FieldType, Fields};
pub use validate::{
    MAX_DEPTH, MAX_LEAVES, MAX_LIST_VALUES, ValidatedCriteria, ValidationContext, compile, validate,
};
pub use value::{FieldMap, Record, Value};
