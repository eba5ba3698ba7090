//! Durations as settings, flags and messages write them: `250ms`, `30s`,
//! `5m`, `1h`, and schedules of them (`1m,5m,15m,1h`). A leaf module, so
//! that every module owning a settings section can use the same forms
//! without importing the layering in `config` or each other.

use std::time::Duration;

/// Parses `1m,5m,15m,1h` (units `ms`, `s`, `m`, `h`).
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_duration).collect()
}

/// Parses `250ms`, `30s`, `5m` or `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| format!("{text:?} is not a duration like 250ms, 30s, 5m or 1h"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("{text:?} is not a duration like 250ms, 30s, 5m or 1h")),
    }
}

/// Writes a duration as `250ms`, `30s`, `5m` or `1h` (the largest exact unit).
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0 => "0s".to_owned(),
        ms if ms % 3_600_000 == 0 => format!("{}h", ms / 3_600_000),
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1000 == 0 => format!("{}s", ms / 1000),
        ms => format!("{ms}ms"),
    }
}

/// Serde for a duration as text: `250ms`, `30s`, `5m`, `1h`.
pub mod duration {
    use std::time::Duration;

    use serde::Serializer;
    use serde::de::{self, Deserialize, Deserializer};

    use super::{format_duration, parse_duration};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(*value))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map_err(de::Error::custom)
    }
}

/// Serde for a list of durations: `["1m", "5m"]`, or as text `"1m,5m"`.
pub mod schedule {
    use std::fmt;
    use std::time::Duration;

    use serde::Serializer;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    use super::{format_duration, parse_duration, parse_schedule};

    pub fn serialize<S: Serializer>(value: &[Duration], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(value.iter().map(|d| format_duration(*d)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
        struct Schedule;
        impl<'de> Visitor<'de> for Schedule {
            type Value = Vec<Duration>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#"a list of durations like ["1m", "5m"] or "1m,5m""#)
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                parse_schedule(text).map_err(E::custom)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut delays = Vec::new();
                while let Some(text) = seq.next_element::<String>()? {
                    delays.push(parse_duration(&text).map_err(de::Error::custom)?);
                }
                Ok(delays)
            }
        }
        deserializer.deserialize_any(Schedule)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_schedules() {
        assert_eq!(
            parse_schedule("10ms, 1s,2m,1h").unwrap(),
            [10, 1_000, 120_000, 3_600_000].map(Duration::from_millis)
        );
        assert!(parse_schedule("soon").is_err());
    }

    #[test]
    fn durations_are_written_in_their_largest_exact_unit() {
        for (ms, text) in
            [(0, "0s"), (250, "250ms"), (1500, "1500ms"), (30_000, "30s"), (300_000, "5m"), (7_200_000, "2h")]
        {
            assert_eq!(format_duration(Duration::from_millis(ms)), text);
            assert_eq!(parse_duration(text).unwrap(), Duration::from_millis(ms));
        }
    }
}
