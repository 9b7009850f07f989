//! Opening hours of teams, in the team's time zone: is the team open now, and when does it open
//! next. The time zone database is compiled in (no file reads).

use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// One opening rule: on these weekdays, from `open` to `close` local time.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    pub days: [bool; 7],
    pub open: Time,
    pub close: Time,
}

/// A team's weekly hours.
#[derive(Debug, Clone)]
pub struct Hours {
    pub timezone: TimeZone,
    pub timezone_name: String,
    pub openings: Vec<Opening>,
    /// The hours as written, for customer-facing text.
    pub text: String,
}

/// Why opening hours do not parse; each names what was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("unknown time zone `{0}`")]
    UnknownTimeZone(String),
    #[error("at least one opening rule is needed")]
    NoRules,
    #[error("`{0}` should look like `mon-fri 09:00-18:00`")]
    BadRule(String),
    #[error("unknown day `{0}` (mon..sun)")]
    UnknownDay(String),
    #[error("`{0}` should look like 09:00-18:00")]
    BadRange(String),
    #[error("`{0}` is not HH:MM")]
    NotHhMm(String),
    #[error("`{0}` is not a time of day")]
    NotATime(String),
    #[error("`{0}` closes before it opens")]
    ClosesBeforeOpening(String),
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Monday),
    ("tue", Weekday::Tuesday),
    ("wed", Weekday::Wednesday),
    ("thu", Weekday::Thursday),
    ("fri", Weekday::Friday),
    ("sat", Weekday::Saturday),
    ("sun", Weekday::Sunday),
];

fn day_index(s: &str) -> Option<usize> {
    DAYS.iter().position(|(n, _)| *n == s)
}

fn parse_time(s: &str) -> Result<Time, ScheduleError> {
    let not_hh_mm = || ScheduleError::NotHhMm(s.to_string());
    let (h, m) = s.split_once(':').ok_or_else(not_hh_mm)?;
    let h: i8 = h.parse().map_err(|_| not_hh_mm())?;
    let m: i8 = m.parse().map_err(|_| not_hh_mm())?;
    if h == 24 && m == 0 {
        return Ok(Time::constant(23, 59, 59, 999_999_999));
    }
    Time::new(h, m, 0, 0).map_err(|_| ScheduleError::NotATime(s.to_string()))
}

/// Parses `"mon-fri 09:00-18:00"` or `"sat,sun 10:00-16:00"` or `"daily 00:00-24:00"`.
pub fn parse_opening(rule: &str) -> Result<Opening, ScheduleError> {
    let mut parts = rule.split_whitespace();
    let (days_s, times_s) = match (parts.next(), parts.next(), parts.next()) {
        (Some(d), Some(t), None) => (d.to_ascii_lowercase(), t),
        _ => return Err(ScheduleError::BadRule(rule.to_string())),
    };
    let mut days = [false; 7];
    if days_s == "daily" {
        days = [true; 7];
    } else {
        for piece in days_s.split(',') {
            match piece.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        day_index(a).ok_or_else(|| ScheduleError::UnknownDay(a.to_string()))?,
                        day_index(b).ok_or_else(|| ScheduleError::UnknownDay(b.to_string()))?,
                    );
                    let mut i = a;
                    loop {
                        days[i] = true;
                        if i == b {
                            break;
                        }
                        i = (i + 1) % 7;
                    }
                }
                None => {
                    days[day_index(piece)
                        .ok_or_else(|| ScheduleError::UnknownDay(piece.to_string()))?] = true
                }
            }
        }
    }
    let (o, c) = times_s
        .split_once('-')
        .ok_or_else(|| ScheduleError::BadRange(times_s.to_string()))?;
    let (open, close) = (parse_time(o)?, parse_time(c)?);
    if close <= open {
        return Err(ScheduleError::ClosesBeforeOpening(times_s.to_string()));
    }
    Ok(Opening { days, open, close })
}

impl Hours {
    /// Builds hours from rules and an IANA time zone name.
    pub fn new(timezone: &str, rules: &[String]) -> Result<Hours, ScheduleError> {
        let tz = TimeZone::get(timezone)
            .map_err(|_| ScheduleError::UnknownTimeZone(timezone.to_string()))?;
        let openings = rules
            .iter()
            .map(|r| parse_opening(r))
            .collect::<Result<Vec<_>, _>>()?;
        if openings.is_empty() {
            return Err(ScheduleError::NoRules);
        }
        Ok(Hours {
            timezone: tz,
            timezone_name: timezone.to_string(),
            openings,
            text: format!("{} ({timezone})", rules.join(", ")),
        })
    }

    /// True if the team is open at `t`.
    pub fn is_open(&self, t: Timestamp) -> bool {
        let local = t.to_zoned(self.timezone.clone());
        let day = local.weekday().to_monday_zero_offset() as usize;
        let time = local.time();
        self.openings
            .iter()
            .any(|o| o.days[day] && time >= o.open && time < o.close)
    }

    /// The next moment at or after `t` when the team is open (within two weeks).
    pub fn next_opening(&self, t: Timestamp) -> Option<Timestamp> {
        if self.is_open(t) {
            return Some(t);
        }
        let local = t.to_zoned(self.timezone.clone());
        let today = local.date();
        let mut best: Option<Timestamp> = None;
        for offset in 0..15 {
            let date = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            let day = date.weekday().to_monday_zero_offset() as usize;
            for o in &self.openings {
                if !o.days[day] {
                    continue;
                }
                let start = date
                    .to_datetime(o.open)
                    .to_zoned(self.timezone.clone())
                    .ok()?
                    .timestamp();
                if start >= t && best.is_none_or(|b| start < b) {
                    best = Some(start);
                }
            }
            if best.is_some() {
                return best;
            }
        }
        best
    }
}

/// `t` in the customer's time zone, for text: "Tue 09:00" (or with the date when not within a
/// week). Falls back to UTC for an unknown zone.
pub fn local_text(t: Timestamp, timezone: Option<&str>) -> String {
    let (tz, name) = match timezone.and_then(|n| TimeZone::get(n).ok().map(|z| (z, n))) {
        Some((z, n)) => (z, n.to_string()),
        None => (TimeZone::UTC, "UTC".to_string()),
    };
    let z = t.to_zoned(tz);
    format!("{} ({name})", z.strftime("%A %-d %B at %H:%M"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_closed_and_next_opening() {
        let h = Hours::new("Europe/London", &["mon-fri 09:00-18:00".into()]).unwrap();
        // Friday 2026-11-27 17:00 UTC = 17:00 London: open.
        let fri_5pm: Timestamp = "2026-11-27T17:00:00Z".parse().unwrap();
        assert!(h.is_open(fri_5pm));
        let fri_7pm: Timestamp = "2026-11-27T19:00:00Z".parse().unwrap();
        assert!(!h.is_open(fri_7pm));
        let next = h.next_opening(fri_7pm).unwrap();
        assert_eq!(next.to_string(), "2026-11-30T09:00:00Z");
        assert!(parse_opening("mon-fri 18:00-09:00").is_err());
        assert!(parse_opening("funday 09:00-10:00").is_err());
        assert!(Hours::new("Mars/Olympus", &["daily 00:00-24:00".into()]).is_err());
        let every = Hours::new("Asia/Tokyo", &["daily 00:00-24:00".into()]).unwrap();
        assert!(every.is_open(fri_7pm));
    }

    #[test]
    fn local_time_for_the_customer() {
        let t: Timestamp = "2026-11-30T09:00:00Z".parse().unwrap();
        assert_eq!(
            local_text(t, Some("America/Chicago")),
            "Monday 30 November at 03:00 (America/Chicago)"
        );
    }
}
