//! Durations (`"30s"`, `"1m30s"`, `"500ms"`) and clock marks (`"next-minute"`).

use std::time::Duration;

/// Parses a duration written as numbers with units, largest first: `ms`, `s`, `m`, `h`, `d`
/// (`"1m30s"`, `"500ms"`, `"2h"`). Zero is allowed; callers that need more say so.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(&str, u64); 5] = [
        ("ms", 1),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    let bad = || {
        format!(
            "`{text}` is not a duration: write a number and a unit, e.g. \"500ms\", \"30s\", \"1m30s\", \"2h\""
        )
    };
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut millis: u64 = 0;
    let mut last_unit = u64::MAX;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        // `ms` before `m`: the longest unit name that matches.
        let Some((name, unit)) = UNITS.iter().find(|(name, _)| rest.starts_with(name)) else {
            return Err(bad());
        };
        if *unit >= last_unit {
            return Err(format!(
                "`{text}`: write units largest first, each once (e.g. \"1m30s\")"
            ));
        }
        last_unit = *unit;
        rest = &rest[name.len()..];
        millis = number
            .checked_mul(*unit)
            .and_then(|m| millis.checked_add(m))
            .ok_or_else(|| format!("`{text}` is too long a duration"))?;
    }
    Ok(Duration::from_millis(millis))
}

/// A point on the (virtual) clock that `advance = { to = "…" }` moves to: the next boundary of
/// a second, minute, hour or day. Throttling windows are fixed windows aligned on these
/// boundaries, so "next-minute" starts a fresh window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClockMark {
    NextSecond,
    NextMinute,
    NextHour,
    NextDay,
}

impl ClockMark {
    pub(crate) const ALL: [(&'static str, Self); 4] = [
        ("next-second", Self::NextSecond),
        ("next-minute", Self::NextMinute),
        ("next-hour", Self::NextHour),
        ("next-day", Self::NextDay),
    ];

    pub fn name(self) -> &'static str {
        crate::model::spelling(&Self::ALL, self)
    }

    fn period_millis(self) -> i64 {
        match self {
            Self::NextSecond => 1_000,
            Self::NextMinute => 60_000,
            Self::NextHour => 3_600_000,
            Self::NextDay => 86_400_000,
        }
    }

    /// The wall-clock time (Unix milliseconds) of the next boundary strictly after `now`.
    pub fn after(self, now_millis: i64) -> i64 {
        let period = self.period_millis();
        (now_millis.div_euclid(period) + 1) * period
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_combine_units_largest_first() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1d2h"), Ok(Duration::from_secs(93_600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_without_units_or_in_the_wrong_order_are_refused() {
        for bad in ["", "30", "s", "1.5s", "30 seconds", "30s1m", "1m1m", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn next_minute_is_the_next_boundary_even_on_a_boundary() {
        assert_eq!(ClockMark::NextMinute.after(60_000), 120_000);
        assert_eq!(ClockMark::NextMinute.after(61_500), 120_000);
        assert_eq!(ClockMark::NextSecond.after(1), 1_000);
    }
}
