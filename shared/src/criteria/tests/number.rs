//! Exact decimals.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::proptest_config;
use crate::criteria::{Number, NumberError};

fn num(text: &str) -> Number {
    text.parse().expect("test number")
}

#[test]
fn parses_and_normalises() {
    let cases = [
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0"),
        ("1.50", "1.5"),
        ("+007", "7"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1e3", "1000"),
        ("1.25E-2", "0.0125"),
        ("-12.340e1", "-123.4"),
        ("100", "100"),
        ("1E125", &format!("1{}", "0".repeat(125))),
        ("1e-130", &format!("0.{}1", "0".repeat(129))),
    ];
    for (input, display) in cases {
        assert_eq!(num(input).to_string(), display, "{input}");
    }
    assert_eq!(num("1.50"), num("1.5"));
    assert_eq!(num("100"), num("1e2"));
}

#[test]
fn refuses_what_dynamodb_cannot_store() {
    for bad in ["", "-", ".", "1.2.3", "abc", "1e", "1e+", "0x10", " 1", "1 ", "NaN", "inf", "1_000"] {
        assert!(matches!(bad.parse::<Number>(), Err(NumberError::Invalid(_))), "{bad:?}");
    }
    let digits39 = "1".repeat(39);
    assert_eq!(digits39.parse::<Number>(), Err(NumberError::TooPrecise));
    assert!(format!("{}000", "1".repeat(38)).parse::<Number>().is_ok(), "trailing zeros are not precision");
    assert_eq!("1e126".parse::<Number>(), Err(NumberError::OutOfRange));
    assert_eq!("1e-131".parse::<Number>(), Err(NumberError::OutOfRange));
    assert_eq!("1e99999999999".parse::<Number>(), Err(NumberError::OutOfRange));
    assert_eq!(Number::try_from(f64::NAN), Err(NumberError::NotFinite));
}

#[test]
fn orders_numerically() {
    let ordered = [
        "-1e20", "-10", "-1.5", "-0.001", "0", "1e-130", "0.1", "0.11", "1", "1.000001", "9.9", "10", "1e38",
    ];
    for pair in ordered.windows(2) {
        assert_eq!(num(pair[0]).cmp(&num(pair[1])), Ordering::Less, "{} < {}", pair[0], pair[1]);
        assert_eq!(num(pair[1]).cmp(&num(pair[0])), Ordering::Greater, "{} > {}", pair[1], pair[0]);
    }
    assert_eq!(num("2.50").cmp(&num("2.5")), Ordering::Equal);
}

#[test]
fn converts_from_and_to_primitives() {
    assert_eq!(Number::from(-42i64).to_string(), "-42");
    assert_eq!(Number::from(i64::MIN).to_i64(), Some(i64::MIN));
    assert_eq!(Number::try_from(0.1).expect("finite"), num("0.1"));
    assert_eq!(num("1.5").to_i64(), None);
    assert_eq!(num("1e30").to_i64(), None);
    assert_eq!(num("0.1").to_exact_f64(), Some(0.1));
    assert_eq!(num("0.1000000000000000000001").to_exact_f64(), None);
}

#[test]
fn serialises_exactly() {
    let json = |text: &str| serde_json::to_string(&num(text)).expect("serialise");
    assert_eq!(json("12"), "12");
    assert_eq!(json("1.5"), "1.5");
    assert_eq!(json("12345678901234567890.123"), "\"12345678901234567890.123\"");
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn order_agrees_with_integers(a in any::<i64>(), b in any::<i64>(), scale in 0u32..20) {
        // a / 10^scale vs b / 10^scale must order like a vs b.
        let shift = |v: i64| format!("{v}e-{scale}").parse::<Number>().expect("in range");
        prop_assert_eq!(shift(a).cmp(&shift(b)), a.cmp(&b));
        prop_assert_eq!(shift(a) == shift(b), a == b);
    }

    #[test]
    fn display_round_trips(coefficient in any::<i64>(), exponent in -60i32..60) {
        let number = format!("{coefficient}e{exponent}").parse::<Number>().expect("in range");
        prop_assert_eq!(number.to_string().parse::<Number>().expect("own output parses"), number);
    }
}
