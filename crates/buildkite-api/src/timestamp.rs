//! Timestamps as the Buildkite API writes them.
//!
//! Most fields are ISO 8601 (`2015-05-09T21:05:59.874Z`), but some, such as a
//! pipeline's `created_at` or the access token's `created_at`, use
//! `2013-09-03 13:24:38 UTC`. [`Timestamp`] accepts both and always writes
//! ISO 8601 with milliseconds.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// A point in time from the API, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses either of the API's two timestamp forms.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
            return Some(Timestamp(parsed.with_timezone(&Utc)));
        }
        let naive = text
            .strip_suffix(" UTC")
            .or_else(|| text.strip_suffix(" Z"))?;
        NaiveDateTime::parse_from_str(naive, "%Y-%m-%d %H:%M:%S%.f")
            .ok()
            .map(|n| Timestamp(n.and_utc()))
    }

    /// The wrapped `chrono` value.
    pub fn as_datetime(&self) -> DateTime<Utc> {
        self.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Timestamp(value)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid timestamp {text:?}: expected ISO 8601 or \"YYYY-MM-DD HH:MM:SS UTC\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_parse_to_the_same_instant() {
        let iso: Timestamp = serde_json::from_str("\"2013-09-03T13:24:38.000Z\"").unwrap();
        let legacy: Timestamp = serde_json::from_str("\"2013-09-03 13:24:38 UTC\"").unwrap();
        assert_eq!(iso, legacy);
        assert_eq!(iso.to_string(), "2013-09-03T13:24:38.000Z");
    }

    #[test]
    fn offsets_and_fractions_are_kept() {
        let t = Timestamp::parse("2015-05-09T23:05:59.874+02:00").unwrap();
        assert_eq!(t.to_string(), "2015-05-09T21:05:59.874Z");
    }

    #[test]
    fn garbage_is_a_decode_error_naming_both_forms() {
        let err = serde_json::from_str::<Timestamp>("\"yesterday\"").unwrap_err();
        assert!(err.to_string().contains("YYYY-MM-DD HH:MM:SS UTC"), "{err}");
    }

    #[test]
    fn round_trips_through_json() {
        let t = Timestamp::parse("2025-07-16 06:07:42 UTC").unwrap();
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, "\"2025-07-16T06:07:42.000Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    }
}
