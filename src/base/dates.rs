//! Calendar dates from days since 1970-01-01 and back (Howard Hinnant's algorithms), for the
//! stats' days, date filters and the Chevereto answer's timestamps.

/// `(year, month, day)` of a day since the epoch.
pub fn civil(day: u64) -> (i64, i64, i64) {
    let z = day as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a day since the epoch.
pub fn iso_date(day: u64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since the epoch of `YYYY-MM-DD` (years 1970 to 9999).
pub fn parse_iso_day(s: &str) -> Option<u64> {
    let mut parts = s.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (parts.next()??, parts.next()??, parts.next()??);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    u64::try_from(era * 146_097 + doe - 719_468).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for day in [0, 1, 59, 365, 11_016, 20_000, 20_778] {
            assert_eq!(parse_iso_day(&iso_date(day)), Some(day));
        }
        assert_eq!(iso_date(20_000), "2024-10-04");
        assert_eq!(parse_iso_day("2026-13-01"), None);
        assert_eq!(parse_iso_day("yesterday"), None);
    }
}
