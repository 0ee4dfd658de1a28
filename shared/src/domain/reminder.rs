//! Token-expiry reminders: which warning is due on a day.
//!
//! A HipChat personal token dies one year after it was made. Warnings go out at thresholds
//! (days before `expires_on`, by default 30, 14, 7, 3 and 1); on each daily run the warning
//! due is the one for the *nearest* threshold reached, so a partner whose reminder did not
//! run for a while gets one warning, not a burst. Whether it was sent already is the
//! reminder record's business (one per token expiry date and threshold).

/// The default warning thresholds, in days before expiry.
pub const DEFAULT_THRESHOLDS: [u32; 5] = [30, 14, 7, 3, 1];
/// The largest threshold accepted (a token lives a year).
pub const THRESHOLD_MAX: u32 = 365;

/// Reads thresholds like `30,14,7,3,1` (blanks allowed): each a whole number of days from 1 to
/// [`THRESHOLD_MAX`]; the result is sorted from the largest and without repeats.
pub fn parse_thresholds(s: &str) -> Result<Vec<u32>, String> {
    let mut days = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<u32>() {
            Ok(d) if (1..=THRESHOLD_MAX).contains(&d) => days.push(d),
            _ => return Err(format!("{part:?} is not a number of days from 1 to {THRESHOLD_MAX}")),
        }
    }
    if days.is_empty() {
        return Err("no thresholds given (e.g. 30,14,7,3,1)".into());
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    days.dedup();
    Ok(days)
}

/// The warning due `days_left` days before expiry: the smallest threshold that is at least
/// `days_left`. `None` once the token has expired (`days_left` ≤ 0) or before the largest
/// threshold is reached.
pub fn due_threshold(days_left: i64, thresholds: &[u32]) -> Option<u32> {
    if days_left <= 0 {
        return None;
    }
    thresholds.iter().copied().filter(|t| i64::from(*t) >= days_left).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_threshold_reached_is_due() {
        let t = DEFAULT_THRESHOLDS;
        let due: Vec<(i64, Option<u32>)> =
            [31, 30, 29, 15, 14, 8, 7, 4, 3, 2, 1, 0, -1].iter().map(|d| (*d, due_threshold(*d, &t))).collect();
        assert_eq!(
            due,
            [
                (31, None),
                (30, Some(30)),
                (29, Some(30)),
                (15, Some(30)),
                (14, Some(14)),
                (8, Some(14)),
                (7, Some(7)),
                (4, Some(7)),
                (3, Some(3)),
                (2, Some(3)),
                (1, Some(1)),
                (0, None),
                (-1, None),
            ]
        );
    }

    #[test]
    fn thresholds_from_the_environment() {
        assert_eq!(parse_thresholds("30,14,7,3,1").unwrap(), DEFAULT_THRESHOLDS);
        assert_eq!(parse_thresholds(" 1, 7 ,30,7 ").unwrap(), [30, 7, 1]);
        assert_eq!(parse_thresholds("60").unwrap(), [60]);
        for bad in ["", " , ", "0", "-3", "366", "seven", "7;3"] {
            assert!(parse_thresholds(bad).is_err(), "{bad:?}");
        }
    }
}
