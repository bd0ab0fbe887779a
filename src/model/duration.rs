//! Go's `time.Duration` text form (`1h30m`, `5m0s`, `90s`, `500ms`), as Flux specs use it.

use std::fmt;

use serde::Serialize;

/// A span of time, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Duration(pub u64);

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub fn from_secs(s: u64) -> Duration {
        Duration(s * 1000)
    }

    pub fn as_secs(self) -> u64 {
        self.0 / 1000
    }

    pub fn saturating_sub(self, other: Duration) -> Duration {
        Duration(self.0.saturating_sub(other.0))
    }

    /// Parses Go's duration syntax: a sequence of decimal numbers with units
    /// `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`. `None` for anything else.
    pub fn parse(text: &str) -> Option<Duration> {
        let text = text.trim();
        if text == "0" {
            return Some(Duration::ZERO);
        }
        let mut rest = text;
        let mut total_ms = 0f64;
        if rest.is_empty() {
            return None;
        }
        while !rest.is_empty() {
            let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            if num_len == 0 {
                return None;
            }
            let number: f64 = rest[..num_len].parse().ok()?;
            rest = &rest[num_len..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
            let factor = match &rest[..unit_len] {
                "h" => 3_600_000.0,
                "m" => 60_000.0,
                "s" => 1000.0,
                "ms" => 1.0,
                "us" | "µs" => 0.001,
                "ns" => 0.000_001,
                _ => return None,
            };
            total_ms += number * factor;
            rest = &rest[unit_len..];
        }
        Some(Duration(total_ms.round() as u64))
    }
}

impl fmt::Display for Duration {
    /// Short human form: `1h30m`, `5m`, `45s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / 1000;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if secs == 0 {
            return write!(f, "{}ms", self.0);
        }
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        if s > 0 {
            write!(f, "{s}s")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (text, ms) in [("5m", 300_000), ("1h30m", 5_400_000), ("5m0s", 300_000), ("90s", 90_000), ("500ms", 500), ("1.5h", 5_400_000), ("0", 0)] {
            assert_eq!(Duration::parse(text), Some(Duration(ms)), "{text}");
        }
        for bad in ["", "5", "m", "5x", "-1m"] {
            assert_eq!(Duration::parse(bad), None, "{bad}");
        }
        assert_eq!(Duration::from_secs(5400).to_string(), "1h30m");
    }
}
