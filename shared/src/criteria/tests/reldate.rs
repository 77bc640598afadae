//! Relative dates.

use chrono::TimeDelta;

use super::{instant, now};
use crate::criteria::{DateUnit, RelativeDate, RelativeDateError};

fn parse(text: &str) -> Result<RelativeDate, RelativeDateError> {
    text.parse()
}

#[test]
fn parses_offsets_in_every_unit() {
    let cases = [
        ("now", TimeDelta::zero()),
        ("now-30d", TimeDelta::days(-30)),
        ("now+2h", TimeDelta::hours(2)),
        ("now-15m", TimeDelta::minutes(-15)),
        ("now+1w", TimeDelta::weeks(1)),
        ("now-0d", TimeDelta::zero()),
        ("now+100000d", TimeDelta::days(100_000)),
    ];
    for (text, offset) in cases {
        assert_eq!(parse(text).expect(text).offset(), offset, "{text}");
    }
    assert_eq!(parse("now-3w").expect("valid").unit(), DateUnit::Weeks);
}

#[test]
fn resolves_against_the_given_now() {
    assert_eq!(parse("now-30d").expect("valid").resolve(now()), instant("2023-12-12T12:00:00Z"));
    assert_eq!(parse("now+2h").expect("valid").resolve(now()), instant("2024-01-11T14:00:00Z"));
    assert_eq!(parse("now").expect("valid").resolve(now()), now());
}

#[test]
fn displays_canonically() {
    for text in ["now", "now-30d", "now+2h", "now-15m", "now+1w"] {
        assert_eq!(parse(text).expect(text).to_string(), text);
    }
}

#[test]
fn refuses_malformed_texts() {
    for bad in [
        "now-",
        "now-d",
        "now30d",
        "now - 30d",
        "now-30",
        "now-30y",
        "now-30M",
        "now-+3d",
        "now-3.5d",
        "now+-3d",
        "NOW",
        "nowadays",
        "now-3dd",
        "now-٣d",
    ] {
        assert!(matches!(parse(bad), Err(RelativeDateError::Malformed(_))), "{bad:?} -> {:?}", parse(bad));
    }
    assert!(matches!(parse("now-100001d"), Err(RelativeDateError::TooLarge(_))));
    assert!(matches!(parse("now-99999999999999999999d"), Err(RelativeDateError::TooLarge(_))));
}

#[test]
fn saturates_instead_of_overflowing() {
    let far = parse("now+100000w").expect("valid");
    let end_of_time = chrono::DateTime::<chrono::Utc>::MAX_UTC;
    assert_eq!(far.resolve(end_of_time), end_of_time);
}
