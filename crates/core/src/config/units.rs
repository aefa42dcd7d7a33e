//! Human-friendly units in the config file: durations (`30s`, `1h`) and sizes (`2MiB`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// A size in bytes, written as a number of bytes or with a unit (`512KiB`, `2MiB`, `1GB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// Parse `2MiB`, `2 MB`, `512k`, `1048576`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a size such as 2MiB or 1048576"))?;
        let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" => 1_000,
            "kib" => 1 << 10,
            "m" | "mb" => 1_000_000,
            "mib" => 1 << 20,
            "g" | "gb" => 1_000_000_000,
            "gib" => 1 << 30,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` (use B, KiB, MiB, GiB, KB, MB, GB)"
                ))
            }
        };
        Ok(Self((number * multiplier as f64).round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(n) => Ok(Self(n)),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// Read an optional duration written as `30s`, `1h 30m`, `250ms`, or a number of seconds.
pub fn opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(f64),
        Text(String),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Seconds(s)) => Duration::try_from_secs_f64(s).map(Some).map_err(|_| {
            serde::de::Error::custom(format!("`{s}` is not a valid number of seconds"))
        }),
        Some(Raw::Text(t)) => humantime::parse_duration(&t).map(Some).map_err(|e| {
            serde::de::Error::custom(format!("`{t}` is not a duration such as 30s or 1h: {e}"))
        }),
    }
}

/// Read a required duration written as `30s`, `1h 30m`, or a number of seconds.
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    opt_duration(d)?.ok_or_else(|| serde::de::Error::custom("a duration is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_and_without_units() {
        assert_eq!(ByteSize::parse("2MiB"), Ok(ByteSize(2 * 1024 * 1024)));
        assert_eq!(ByteSize::parse("2 MB"), Ok(ByteSize(2_000_000)));
        assert_eq!(ByteSize::parse("512KiB"), Ok(ByteSize(512 * 1024)));
        assert_eq!(ByteSize::parse("1048576"), Ok(ByteSize(1_048_576)));
        assert!(ByteSize::parse("2 parsecs").is_err());
        assert!(ByteSize::parse("MiB").is_err());
    }
}
