//! Proptest strategies for criteria, records and evaluation contexts.
//!
//! Compiled for this module's tests and, with the `testing` cargo feature, for other crates
//! (for instance a property test that checks [`pushdown_with`](super::pushdown_with) against a
//! real DynamoDB endpoint: evaluate the full criteria in Rust, and compare with the items a
//! scan with the filter returns, then filtered by the residual).
//!
//! Generated criteria are always valid for [`GenOptions::schema`] under
//! [`GenOptions::validation_context`]. Values are drawn from small pools so that conditions
//! hold often enough to be interesting, including case variants, multi-byte texts, decimals
//! with trailing zeros and date bounds with a fraction of a millisecond.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value as Json;

use super::ast::{Criteria, Leaf, Op};
use super::eval::EvalContext;
use super::number::Number;
use super::schema::{FieldSchema, FieldType, Fields, Kind};
use super::validate::{ValidationContext, op_allowed, ref_compatible};
use super::value::Value;

/// Texts used for record values and constants.
pub const TEXTS: &[&str] =
    &["", "a", "A", "ab", "aB", "abc", "b", "Approved", "approved", "ä", "Äb", "straße", "x y"];
/// Numbers used for record values and constants (as decimal text).
pub const NUMBERS: &[&str] = &["-2", "-1.5", "0", "0.1", "1", "1.50", "2", "10", "100000000000000000000"];
/// The options of the sample `stage` select field.
pub const STAGES: &[&str] = &["Draft", "Approved", "Negotiation", "Closed"];

/// Hours of the day that generated date-times fall on (few, so values coincide often).
const HOURS: &[i64] = &[0, 6, 12, 18];

/// Offsets (minutes) from `now` at which date-time fields of generated records may sit
/// exactly, so that boundaries of relative dates are exercised.
/// These are exactly the offsets of generated `m` and `h` relative dates.
const ANCHOR_MINUTES: &[i64] = &[-1440, -120, -90, -60, -30, 0, 30, 60, 90, 120];

/// Midnight UTC, 2024-01-01: dates are generated around it.
pub fn base_instant() -> DateTime<Utc> {
    DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default()
}

/// A record map as used by the strategies.
pub type TestRecord = BTreeMap<String, Value>;

/// A module with every field type.
pub fn sample_schema() -> Fields {
    Fields::new()
        .with("stage", FieldType::select(STAGES.iter().copied()))
        .with("name", FieldType::Text)
        .with("region", FieldType::Text)
        .with("email", FieldType::Email)
        .with("phone", FieldType::Phone)
        .with("amount", FieldType::Number)
        .with("probability", FieldType::Number)
        .with("active", FieldType::Bool)
        .with("close_date", FieldType::Date)
        .with("created_at", FieldType::DateTime)
        .with("contact_id", FieldType::lookup("contacts"))
        .with("tags", FieldType::List)
}

/// A portal user's primary record (`contacts`).
pub fn sample_user_schema() -> Fields {
    Fields::new()
        .with("billing_country", FieldType::Text)
        .with("segment", FieldType::select(STAGES.iter().copied()))
        .with("credit", FieldType::Number)
        .with("vip", FieldType::Bool)
        .with("since", FieldType::Date)
        .with("last_seen", FieldType::DateTime)
        .with("regions", FieldType::List)
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// The module's fields.
    pub schema: Fields,
    /// The portal user's fields; enables `$user.` references when set.
    pub user_schema: Option<Fields>,
    /// Whether to generate `changed`, `changed_to` and `$old.` references.
    pub triggers: bool,
    /// Whether records may hold values of another type than their field's (schema drift),
    /// and explicit nulls. Date fields never drift: a stored date must follow its encoding
    /// for pushdown to be exact.
    pub drift: bool,
    /// Probability that a date-time field of a generated record sits exactly on a
    /// whole-millisecond offset from `now` that relative dates also use (boundary cases).
    pub anchor_dates: f64,
}

impl GenOptions {
    /// Portal criteria over [`sample_schema`] with [`sample_user_schema`] references.
    pub fn portal() -> GenOptions {
        GenOptions {
            schema: sample_schema(),
            user_schema: Some(sample_user_schema()),
            triggers: false,
            drift: true,
            anchor_dates: 0.3,
        }
    }

    /// Trigger conditions over [`sample_schema`].
    pub fn trigger() -> GenOptions {
        GenOptions {
            schema: sample_schema(),
            user_schema: None,
            triggers: true,
            drift: true,
            anchor_dates: 0.3,
        }
    }

    /// The validation context the generated criteria are valid in.
    pub fn validation_context(&self) -> ValidationContext<'_> {
        ValidationContext {
            user_schema: self.user_schema.as_ref().map(|schema| schema as &dyn FieldSchema),
            allow_triggers: self.triggers,
        }
    }
}

/// Everything an evaluation reads, owned.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The record (new image).
    pub record: TestRecord,
    /// The old image, for triggers.
    pub old: Option<TestRecord>,
    /// The portal user's primary record.
    pub user: Option<TestRecord>,
    /// The evaluation instant.
    pub now: DateTime<Utc>,
}

impl Scenario {
    /// The evaluation context over this scenario.
    pub fn context(&self) -> EvalContext<'_> {
        EvalContext {
            record: &self.record,
            old: self.old.as_ref().map(|old| old as _),
            user: self.user.as_ref().map(|user| user as _),
            now: self.now,
        }
    }
}

fn number(text: &str) -> Number {
    text.parse().unwrap_or(Number::ZERO)
}

/// An evaluation instant around [`base_instant`] + 10 days, sometimes with a fraction of a
/// millisecond.
pub fn arb_now() -> BoxedStrategy<DateTime<Utc>> {
    let day_ms: i64 = 24 * 3600 * 1000;
    (-2 * day_ms..2 * day_ms, prop_oneof![Just(0i64), Just(500_000i64), Just(1i64)])
        .prop_map(|(ms, nanos)| {
            base_instant() + Duration::days(10) + Duration::milliseconds(ms) + Duration::nanoseconds(nanos)
        })
        .boxed()
}

/// A value of `field_type`'s own type (never null).
pub fn arb_typed_value(field_type: &FieldType) -> BoxedStrategy<Value> {
    match field_type {
        FieldType::Select { options } => {
            let mut pool: Vec<String> = options.clone();
            pool.extend(options.iter().map(|option| option.to_lowercase()));
            select(pool).prop_map(Value::String).boxed()
        }
        FieldType::Text | FieldType::Email | FieldType::Phone | FieldType::Lookup { .. } => {
            select(TEXTS).prop_map(Value::from).boxed()
        }
        FieldType::Number => select(NUMBERS).prop_map(|text| Value::Number(number(text))).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldType::Date => {
            (0i64..20).prop_map(|days| Value::DateTime(base_instant() + Duration::days(days))).boxed()
        }
        FieldType::DateTime => (0i64..20, select(HOURS), select(&[0i64, 0, 1, 999][..]))
            .prop_map(|(days, hours, ms)| {
                let offset = Duration::days(days) + Duration::hours(hours) + Duration::milliseconds(ms);
                Value::DateTime(base_instant() + offset)
            })
            .boxed(),
        FieldType::List => {
            prop::collection::vec(select(TEXTS).prop_map(Value::from), 0..4).prop_map(Value::List).boxed()
        }
    }
}

/// A value for a field of `field_type`: mostly its own type, with `drift` also nulls and
/// values of other types (except for date fields).
pub fn arb_value(field_type: &FieldType, drift: bool) -> BoxedStrategy<Value> {
    let typed = arb_typed_value(field_type);
    if !drift || field_type.kind() == Kind::Date {
        return typed;
    }
    let other = prop_oneof![
        select(TEXTS).prop_map(Value::from),
        select(NUMBERS).prop_map(|text| Value::Number(number(text))),
        any::<bool>().prop_map(Value::Bool),
        prop::collection::vec(select(TEXTS).prop_map(Value::from), 0..3).prop_map(Value::List),
    ];
    prop_oneof![8 => typed, 1 => Just(Value::Null), 1 => other].boxed()
}

/// A record of `schema`: each field present (85 %) or missing.
pub fn arb_record(schema: &Fields, drift: bool) -> BoxedStrategy<TestRecord> {
    let entries: Vec<BoxedStrategy<Option<(String, Value)>>> = schema
        .iter()
        .map(|(name, field_type)| {
            let name = name.to_owned();
            prop::option::weighted(0.85, arb_value(field_type, drift))
                .prop_map(move |value| value.map(|value| (name.clone(), value)))
                .boxed()
        })
        .collect();
    entries.prop_map(|entries| entries.into_iter().flatten().collect()).boxed()
}

/// A record, its old image (sharing some values, for triggers), the user and `now`.
pub fn arb_scenario(options: &GenOptions) -> BoxedStrategy<Scenario> {
    let record = arb_record(&options.schema, options.drift);
    let old = if options.triggers {
        let other = arb_record(&options.schema, options.drift);
        let keep = prop::collection::vec(any::<bool>(), options.schema.iter().count());
        prop::option::weighted(0.9, (other, keep)).boxed()
    } else {
        Just(None).boxed()
    };
    let user = match &options.user_schema {
        Some(schema) => prop::option::weighted(0.9, arb_record(schema, options.drift)).boxed(),
        None => Just(None).boxed(),
    };
    let names: Vec<String> = options.schema.iter().map(|(name, _)| name.to_owned()).collect();
    let date_times: Vec<String> = options
        .schema
        .iter()
        .filter(|(_, field_type)| **field_type == FieldType::DateTime)
        .map(|(name, _)| name.to_owned())
        .collect();
    let anchors = prop::collection::vec(
        prop::option::weighted(options.anchor_dates, select(ANCHOR_MINUTES)),
        date_times.len(),
    );
    (record, old, user, arb_now(), anchors)
        .prop_map(move |(mut record, old, user, now, anchors)| {
            // Some date-times sit at whole-millisecond offsets from `now`.
            let now_millis = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
            for (name, anchor) in date_times.iter().zip(anchors) {
                if let Some(minutes) = anchor {
                    record.insert(name.clone(), Value::DateTime(now_millis + Duration::minutes(minutes)));
                }
            }
            // The old image keeps the new value of some fields, so `changed` goes both ways.
            let old = old.map(|(other, keep)| {
                let mut old = other;
                for (name, keep) in names.iter().zip(keep) {
                    if keep {
                        match record.get(name) {
                            Some(value) => old.insert(name.clone(), value.clone()),
                            None => old.remove(name),
                        };
                    }
                }
                old
            });
            Scenario { record, old, user, now }
        })
        .boxed()
}

/// Valid criteria (up to 3 levels of groups around leaves, so at most 27 leaves).
pub fn arb_criteria(options: &GenOptions) -> BoxedStrategy<Criteria> {
    arb_leaf(options)
        .prop_recursive(3, 24, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::All),
                prop::collection::vec(inner.clone(), 1..4).prop_map(Criteria::Any),
                inner.prop_map(|child| Criteria::Not(Box::new(child))),
            ]
        })
        .boxed()
}

/// A valid leaf on any field of the schema.
pub fn arb_leaf(options: &GenOptions) -> BoxedStrategy<Criteria> {
    let leaves: Vec<BoxedStrategy<Criteria>> =
        options.schema.iter().map(|(name, field_type)| arb_leaf_on(options, name, field_type)).collect();
    select_strategy(leaves)
}

/// Picks one of the strategies uniformly (there is always at least one: every field type
/// allows some operators).
fn select_strategy<T: std::fmt::Debug + 'static>(strategies: Vec<BoxedStrategy<T>>) -> BoxedStrategy<T> {
    proptest::strategy::Union::new(strategies).boxed()
}

/// A valid leaf on `field` with any operator its type allows.
pub fn arb_leaf_on(options: &GenOptions, field: &str, field_type: &FieldType) -> BoxedStrategy<Criteria> {
    let ops: Vec<Op> = Op::ALL
        .into_iter()
        .filter(|op| op_allowed(*op, field_type) && (options.triggers || !op.is_trigger_only()))
        .collect();
    let leaves: Vec<BoxedStrategy<Criteria>> =
        ops.into_iter().map(|op| arb_leaf_with(options, field, field_type, op)).collect();
    select_strategy(leaves)
}

/// A valid leaf `field op …`.
pub fn arb_leaf_with(
    options: &GenOptions,
    field: &str,
    field_type: &FieldType,
    op: Op,
) -> BoxedStrategy<Criteria> {
    let kind = field_type.kind();
    let field = field.to_owned();
    if matches!(op, Op::IsEmpty | Op::IsNotEmpty | Op::Changed) {
        return Just(Criteria::Leaf(Leaf::unary(field, op))).boxed();
    }
    let ci_applies = matches!(op, Op::Eq | Op::Ne | Op::In | Op::NotIn | Op::Contains | Op::StartsWith)
        && matches!(kind, Kind::Text | Kind::List);
    let ci = if ci_applies { any::<bool>().boxed() } else { Just(false).boxed() };
    let value = value_for(field_type, op);
    let refs = ref_candidates(options, &field, kind, op);
    let with_value = {
        let field = field.clone();
        (value, ci).prop_map(move |(value, ci)| Leaf {
            case_insensitive: ci,
            ..Leaf::value(field.clone(), op, value)
        })
    };
    if refs.is_empty() {
        return with_value.prop_map(Criteria::Leaf).boxed();
    }
    let with_ref = (select(refs), any::<bool>()).prop_map(move |(target, ci)| Leaf {
        case_insensitive: ci && ci_applies,
        ..Leaf::field_ref(field.clone(), op, target)
    });
    prop_oneof![3 => with_value, 1 => with_ref].prop_map(Criteria::Leaf).boxed()
}

/// The references a leaf may use under `options`.
fn ref_candidates(options: &GenOptions, field: &str, kind: Kind, op: Op) -> Vec<String> {
    if matches!(op, Op::Between | Op::ChangedTo) {
        return Vec::new();
    }
    let compatible = |schema: &Fields, prefix: &str| -> Vec<String> {
        schema
            .iter()
            .filter(|(_, target)| ref_compatible(op, kind, target.kind()))
            .map(|(name, _)| format!("{prefix}{name}"))
            .collect()
    };
    let mut refs = compatible(&options.schema, "");
    if let Some(user_schema) = &options.user_schema {
        refs.extend(compatible(user_schema, "$user."));
    }
    if options.triggers {
        let own = format!("$old.{field}");
        refs.extend(compatible(&options.schema, "$old.").into_iter().filter(|r| *r == own));
    }
    refs
}

/// A JSON constant for `op` on a field of `field_type`.
fn value_for(field_type: &FieldType, op: Op) -> BoxedStrategy<Json> {
    match op {
        Op::Eq | Op::Ne | Op::ChangedTo => {
            let value = if field_type.kind() == Kind::List {
                prop::collection::vec(text_json(), 0..3).prop_map(Json::Array).boxed()
            } else {
                scalar_json(field_type)
            };
            prop_oneof![9 => value, 1 => Just(Json::Null)].boxed()
        }
        Op::In | Op::NotIn => {
            prop::collection::vec(scalar_json(field_type), 1..4).prop_map(Json::Array).boxed()
        }
        Op::Contains | Op::StartsWith => {
            select(TEXTS.iter().copied().filter(|text| !text.is_empty()).collect::<Vec<_>>())
                .prop_map(Json::from)
                .boxed()
        }
        Op::Between => between_json(field_type),
        _ => scalar_json(field_type),
    }
}

fn text_json() -> BoxedStrategy<Json> {
    select(TEXTS).prop_map(Json::from).boxed()
}

/// Numbers used for constants (JSON numbers are read as `f64` by serde_json).
const JSON_NUMBERS: &[f64] = &[-2.0, -1.5, 0.0, 0.1, 1.0, 1.5, 2.0, 10.0, 1e20];

fn number_json() -> BoxedStrategy<Json> {
    select(JSON_NUMBERS).prop_map(Json::from).boxed()
}

fn scalar_json(field_type: &FieldType) -> BoxedStrategy<Json> {
    match field_type {
        FieldType::Select { options } => select(options.clone()).prop_map(Json::from).boxed(),
        FieldType::Number => number_json(),
        FieldType::Bool => any::<bool>().prop_map(Json::from).boxed(),
        FieldType::Date => arb_date_spec(true).prop_map(|spec| spec.to_json(true)).boxed(),
        FieldType::DateTime => arb_date_spec(false).prop_map(|spec| spec.to_json(false)).boxed(),
        FieldType::Text
        | FieldType::Email
        | FieldType::Phone
        | FieldType::Lookup { .. }
        | FieldType::List => text_json(),
    }
}

/// `[low, high]`, ascending whenever the bounds can be compared before evaluation.
fn between_json(field_type: &FieldType) -> BoxedStrategy<Json> {
    match field_type.kind() {
        Kind::Date => {
            let whole_day = *field_type == FieldType::Date;
            (arb_date_spec(whole_day), arb_date_spec(whole_day))
                .prop_map(move |(a, b)| {
                    let (low, high) = if a.comparable_after(&b) { (b, a) } else { (a, b) };
                    Json::Array(vec![low.to_json(whole_day), high.to_json(whole_day)])
                })
                .boxed()
        }
        Kind::Number => (number_json(), number_json())
            .prop_map(|(a, b)| {
                let (low, high) = if a.as_f64() > b.as_f64() { (b, a) } else { (a, b) };
                Json::Array(vec![low, high])
            })
            .boxed(),
        _ => (text_json(), text_json())
            .prop_map(|(a, b)| {
                let (low, high) = if a.as_str() > b.as_str() { (b, a) } else { (a, b) };
                Json::Array(vec![low, high])
            })
            .boxed(),
    }
}

/// A date constant: fixed (minutes after [`base_instant`]) or relative.
#[derive(Debug, Clone)]
enum DateSpec {
    Fixed { minutes: i64, as_date: bool },
    Relative { amount: i64, unit: char },
}

impl DateSpec {
    fn offset_minutes(&self) -> i64 {
        match self {
            DateSpec::Fixed { minutes, .. } => *minutes,
            DateSpec::Relative { amount, unit } => {
                amount
                    * match unit {
                        'm' => 1,
                        'h' => 60,
                        'd' => 1440,
                        _ => 7 * 1440,
                    }
            }
        }
    }

    /// Whether `self` is certainly after `other` whatever `now` is.
    fn comparable_after(&self, other: &DateSpec) -> bool {
        let same_kind = matches!(
            (self, other),
            (DateSpec::Fixed { .. }, DateSpec::Fixed { .. })
                | (DateSpec::Relative { .. }, DateSpec::Relative { .. })
        );
        same_kind && self.offset_minutes() > other.offset_minutes()
    }

    fn to_json(&self, whole_day: bool) -> Json {
        match self {
            DateSpec::Fixed { minutes, as_date } => {
                let instant = base_instant() + Duration::minutes(*minutes);
                if whole_day || *as_date {
                    Json::from(instant.format("%Y-%m-%d").to_string())
                } else {
                    Json::from(instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                }
            }
            DateSpec::Relative { amount: 0, .. } => Json::from("now"),
            DateSpec::Relative { amount, unit } => {
                let sign = if *amount < 0 { '-' } else { '+' };
                Json::from(format!("now{sign}{}{unit}", amount.unsigned_abs()))
            }
        }
    }
}

fn arb_date_spec(whole_day: bool) -> BoxedStrategy<DateSpec> {
    let fixed = if whole_day {
        (0i64..20).prop_map(|days| DateSpec::Fixed { minutes: days * 1440, as_date: true }).boxed()
    } else {
        (0i64..20, select(HOURS), any::<bool>())
            .prop_map(|(days, hours, as_date)| DateSpec::Fixed {
                minutes: days * 1440 + if as_date { 0 } else { hours * 60 },
                as_date,
            })
            .boxed()
    };
    let days = (-12i64..12).prop_map(|amount| DateSpec::Relative { amount, unit: 'd' });
    let weeks = (-2i64..2).prop_map(|amount| DateSpec::Relative { amount, unit: 'w' });
    let relative = if whole_day {
        prop_oneof![days, weeks].boxed()
    } else {
        // Amounts from the same pool as the anchored record values of `arb_scenario`, so
        // that records fall exactly on relative bounds.
        let minutes =
            select(&[-90i64, -30, 0, 30, 90][..]).prop_map(|amount| DateSpec::Relative { amount, unit: 'm' });
        let hours =
            select(&[-24i64, -2, -1, 1, 2][..]).prop_map(|amount| DateSpec::Relative { amount, unit: 'h' });
        prop_oneof![minutes, hours, days, weeks].boxed()
    };
    prop_oneof![fixed, relative].boxed()
}
