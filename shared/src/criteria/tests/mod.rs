//! Tests of the criteria language. Shared helpers live here.

mod alloc;
mod eval_ops;
mod explain;
mod form;
mod number;
mod props;
mod pushdown;
mod reldate;
mod validation;

use chrono::{DateTime, Utc};
use proptest::test_runner::{Config as ProptestConfig, FileFailurePersistence};
use serde_json::Value as Json;

use super::testing::{TestRecord, sample_schema, sample_user_schema};
use super::{CompiledCriteria, Criteria, CriteriaError, EvalContext, FieldSchema, ValidationContext, Value};

/// The instant relative dates resolve against in example tests: Thursday 2024-01-11 12:00 UTC.
pub(super) fn now() -> DateTime<Utc> {
    instant("2024-01-11T12:00:00Z")
}

pub(super) fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("test instant").with_timezone(&Utc)
}

pub(super) fn criteria(json: Json) -> Criteria {
    serde_json::from_value(json).expect("criteria JSON has a valid shape")
}

/// Validates against the sample schema with `$user.` and triggers allowed.
pub(super) fn try_compile(json: Json) -> Result<CompiledCriteria, Vec<CriteriaError>> {
    let user_schema = sample_user_schema();
    let ctx = ValidationContext { user_schema: Some(&user_schema as &dyn FieldSchema), allow_triggers: true };
    super::compile(&criteria(json), &sample_schema(), &ctx)
}

pub(super) fn compiled(json: Json) -> CompiledCriteria {
    match try_compile(json.clone()) {
        Ok(compiled) => compiled,
        Err(errors) => panic!("{json} should be valid, got {errors:?}"),
    }
}

pub(super) fn record(entries: &[(&str, Value)]) -> TestRecord {
    entries.iter().map(|(name, value)| ((*name).to_owned(), value.clone())).collect()
}

/// Evaluates `json` for a record, old image and user at [`now`].
pub(super) fn holds(
    json: Json,
    record: &TestRecord,
    old: Option<&TestRecord>,
    user: Option<&TestRecord>,
) -> bool {
    let compiled = compiled(json);
    let ctx =
        EvalContext { record, old: old.map(|old| old as _), user: user.map(|user| user as _), now: now() };
    compiled.evaluate(&ctx)
}

/// Proptest settings: failing cases are kept beside the test file (`props.regressions`),
/// inside this module, and replayed first on the next run.
pub(super) fn proptest_config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}
