//! One timestamp format for everything Portico stores: RFC 3339 in UTC, ending in `Z`, with
//! exactly six fractional digits. Fixed width makes text order time order, so stored stamps
//! compare as strings (conditions, index sort keys, a stream consumer's "newer than").

use chrono::{DateTime, SecondsFormat, Utc};

/// `at` in the stored format, e.g. `2026-12-02T04:13:34.000000Z`.
pub fn format(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses any RFC 3339 instant (older items may carry another precision or offset).
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// The current instant at the stored precision, so a value read back equals the one written.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// `#[serde(with = "crate::time::rfc3339")]` for stored `DateTime<Utc>` fields.
pub mod rfc3339 {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(*at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 instant"))
    }
}

/// `#[serde(default, with = "crate::time::rfc3339_option")]` for optional stored instants.
pub mod rfc3339_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&super::format(*at)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|text| {
                super::parse(&text).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 instant"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_have_one_width_and_sort_as_text_in_time_order() {
        let instants = ["2026-01-09T23:59:59Z", "2026-01-09T23:59:59.5Z", "2026-01-10T00:00:00.000001+00:00"];
        let stamps: Vec<String> = instants.iter().map(|text| format(parse(text).expect("instant"))).collect();
        assert!(stamps.iter().all(|stamp| stamp.len() == 27 && stamp.ends_with('Z')), "{stamps:?}");
        assert!(stamps.windows(2).all(|pair| pair[0] < pair[1]), "{stamps:?}");
        assert_eq!(stamps[1], "2026-01-09T23:59:59.500000Z");
        let now = now();
        assert_eq!(parse(&format(now)), Some(now));
    }
}
