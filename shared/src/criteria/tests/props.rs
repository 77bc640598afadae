//! Properties over generated criteria and records.

use proptest::prelude::*;

use super::proptest_config;
use super::pushdown::{assert_only_placeholders, item, simulate};
use crate::criteria::FieldType;
use crate::criteria::pushdown::plan;
use crate::criteria::testing::{GenOptions, Scenario, arb_criteria, arb_leaf, arb_leaf_on, arb_scenario};
use crate::criteria::{
    CompiledCriteria, Criteria, DateEncoding, Explanation, Op, PushdownOptions, Record, pushdown_with,
    validate,
};

fn compile(criteria: &Criteria, options: &GenOptions) -> CompiledCriteria {
    match validate(criteria, &options.schema, &options.validation_context()) {
        Ok(validated) => validated.into_compiled(),
        Err(errors) => panic!("generated criteria must be valid: {errors:?}\n{}", json(criteria)),
    }
}

fn json(criteria: &Criteria) -> String {
    serde_json::to_string(criteria).unwrap_or_default()
}

fn not(criteria: &Criteria) -> Criteria {
    Criteria::Not(Box::new(criteria.clone()))
}

/// Whether every group's `held` follows from its children's.
fn consistent(explanation: &Explanation) -> bool {
    match explanation {
        Explanation::All { held, children } => {
            *held == children.iter().all(Explanation::held) && children.iter().all(consistent)
        }
        Explanation::Any { held, children } => {
            *held == children.iter().any(Explanation::held) && children.iter().all(consistent)
        }
        Explanation::Not { held, child } => *held != child.held() && consistent(child),
        Explanation::Leaf(_) => true,
    }
}

fn leaves(explanation: &Explanation) -> usize {
    match explanation {
        Explanation::All { children, .. } | Explanation::Any { children, .. } => {
            children.iter().map(leaves).sum()
        }
        Explanation::Not { child, .. } => leaves(child),
        Explanation::Leaf(_) => 1,
    }
}

fn laws(options: &GenOptions, a: &Criteria, b: &Criteria, scenario: &Scenario) -> Result<(), TestCaseError> {
    let ctx = scenario.context();
    let evaluate = |criteria: &Criteria| compile(criteria, options).evaluate(&ctx);
    let (held_a, held_b) = (evaluate(a), evaluate(b));
    prop_assert_eq!(evaluate(&not(a)), !held_a);
    prop_assert_eq!(evaluate(&not(&not(a))), held_a);
    prop_assert_eq!(evaluate(&Criteria::All(vec![a.clone(), b.clone()])), held_a && held_b);
    prop_assert_eq!(evaluate(&Criteria::Any(vec![a.clone(), b.clone()])), held_a || held_b);
    prop_assert_eq!(evaluate(&Criteria::All(vec![a.clone()])), held_a);
    prop_assert_eq!(
        evaluate(&not(&Criteria::All(vec![a.clone(), b.clone()]))),
        evaluate(&Criteria::Any(vec![not(a), not(b)]))
    );

    let compiled = compile(a, options);
    let explanation = compiled.explain(&ctx);
    prop_assert_eq!(explanation.held(), held_a);
    prop_assert!(consistent(&explanation));
    prop_assert_eq!(leaves(&explanation), compiled.leaf_count());
    Ok(())
}

/// `ne`, `not_in`, `is_not_empty` are exactly the negations of `eq`, `in`, `is_empty`.
fn negated_operators(
    options: &GenOptions,
    leaf: &Criteria,
    scenario: &Scenario,
) -> Result<(), TestCaseError> {
    let Criteria::Leaf(leaf) = leaf else { return Ok(()) };
    let flipped = match leaf.op {
        Op::Eq => Op::Ne,
        Op::Ne => Op::Eq,
        Op::In => Op::NotIn,
        Op::NotIn => Op::In,
        Op::IsEmpty => Op::IsNotEmpty,
        Op::IsNotEmpty => Op::IsEmpty,
        _ => return Ok(()),
    };
    let ctx = scenario.context();
    let original = compile(&Criteria::Leaf(leaf.clone()), options).evaluate(&ctx);
    let negation = Criteria::Leaf(crate::criteria::Leaf { op: flipped, ..leaf.clone() });
    prop_assert_eq!(compile(&negation, options).evaluate(&ctx), !original);
    Ok(())
}

/// Split criteria = DynamoDB filter (modelled) ∧ residual, for any options.
fn pushdown_is_exact(
    options: &GenOptions,
    criteria: &Criteria,
    scenario: &Scenario,
    dates: Option<DateEncoding>,
    pass_now: bool,
    pass_user: bool,
    hide_tags: bool,
) -> Result<(), TestCaseError> {
    let compiled = compile(criteria, options);
    let ctx = scenario.context();
    let user = scenario.user.as_ref().map(|user| user as &dyn Record);
    let pushdown_options =
        PushdownOptions { now: pass_now.then_some(scenario.now), user: user.filter(|_| pass_user), dates };
    let path_for = |field: &str| (!(hide_tags && field == "tags")).then(|| field.to_owned());

    let split = plan(&compiled, &pushdown_options, &path_for);
    let stored = item(&scenario.record, dates.unwrap_or(DateEncoding::Iso8601));
    let filter_holds = split.filter.as_ref().is_none_or(|filter| simulate(filter, &stored));
    let residual_holds = split.residual.as_ref().is_none_or(|residual| residual.evaluate(&ctx));
    prop_assert_eq!(
        compiled.evaluate(&ctx),
        filter_holds && residual_holds,
        "criteria {} filter {:?}",
        json(criteria),
        split.filter
    );

    // The rendered form keeps the split, or (over DynamoDB's limits) falls back to Rust only.
    let rendered = pushdown_with(&compiled, &pushdown_options, path_for);
    match &rendered.filter {
        Some(filter) => {
            assert_only_placeholders(&filter.expression);
            prop_assert_eq!(rendered.residual_holds(&ctx), residual_holds);
        }
        None => prop_assert_eq!(rendered.residual_holds(&ctx), compiled.evaluate(&ctx)),
    }
    Ok(())
}

fn encodings() -> impl Strategy<Value = Option<DateEncoding>> {
    prop_oneof![Just(None), Just(Some(DateEncoding::EpochMillis)), Just(Some(DateEncoding::Iso8601))]
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn generated_criteria_are_valid_and_round_trip(criteria in arb_criteria(&GenOptions::portal())) {
        let text = serde_json::to_string(&criteria).expect("serialise");
        let back: Criteria = serde_json::from_str(&text).expect("parse own output");
        prop_assert_eq!(&back, &criteria);
        compile(&criteria, &GenOptions::portal());
    }

    #[test]
    fn boolean_laws_and_explain_hold_for_portal_criteria(
        a in arb_criteria(&GenOptions::portal()),
        b in arb_criteria(&GenOptions::portal()),
        scenario in arb_scenario(&GenOptions::portal()),
    ) {
        laws(&GenOptions::portal(), &a, &b, &scenario)?;
    }

    #[test]
    fn boolean_laws_and_explain_hold_for_triggers(
        a in arb_criteria(&GenOptions::trigger()),
        b in arb_criteria(&GenOptions::trigger()),
        scenario in arb_scenario(&GenOptions::trigger()),
    ) {
        laws(&GenOptions::trigger(), &a, &b, &scenario)?;
    }

    #[test]
    fn negated_operators_are_exact_negations(
        leaf in arb_leaf(&GenOptions::portal()),
        scenario in arb_scenario(&GenOptions::portal()),
    ) {
        negated_operators(&GenOptions::portal(), &leaf, &scenario)?;
    }

    #[test]
    fn pushdown_filter_and_residual_equal_the_criteria(
        criteria in arb_criteria(&GenOptions::portal()),
        scenario in arb_scenario(&GenOptions::portal()),
        dates in encodings(),
        pass_now in any::<bool>(),
        pass_user in any::<bool>(),
        hide_tags in any::<bool>(),
    ) {
        pushdown_is_exact(&GenOptions::portal(), &criteria, &scenario, dates, pass_now, pass_user, hide_tags)?;
    }

    #[test]
    fn pushdown_keeps_trigger_conditions_exact(
        criteria in arb_criteria(&GenOptions::trigger()),
        scenario in arb_scenario(&GenOptions::trigger()),
        dates in encodings(),
    ) {
        pushdown_is_exact(&GenOptions::trigger(), &criteria, &scenario, dates, true, false, false)?;
    }
}

/// Date leaves only, on records that often sit exactly on relative bounds: the rounding of
/// sub-millisecond bounds must keep pushdown exact.
fn date_criteria(options: &GenOptions) -> impl Strategy<Value = Criteria> {
    let leaf = prop_oneof![
        arb_leaf_on(options, "created_at", &FieldType::DateTime),
        arb_leaf_on(options, "close_date", &FieldType::Date),
    ];
    (prop::collection::vec(leaf, 1..4), any::<bool>())
        .prop_map(|(leaves, all)| if all { Criteria::All(leaves) } else { Criteria::Any(leaves) })
}

fn date_options() -> GenOptions {
    GenOptions { anchor_dates: 0.9, ..GenOptions::portal() }
}

proptest! {
    #![proptest_config(proptest_config(1024))]

    #[test]
    fn pushdown_is_exact_on_date_boundaries(
        criteria in date_criteria(&date_options()),
        scenario in arb_scenario(&date_options()),
        millis in any::<bool>(),
    ) {
        let dates = Some(if millis { DateEncoding::EpochMillis } else { DateEncoding::Iso8601 });
        pushdown_is_exact(&date_options(), &criteria, &scenario, dates, true, true, false)?;
    }
}
