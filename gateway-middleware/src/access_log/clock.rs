//! The log's time stamp, `10/Oct/2000:13:55:36 +0000` (the common log
//! format's, in UTC), formatted once a second per thread.

use std::cell::Cell;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// `dd/Mon/yyyy:hh:mm:ss +0000`.
pub(crate) const LEN: usize = 26;

/// A formatted second and the instants it spans, `[from, until)`.
type Second = (Instant, Instant, [u8; LEN]);

thread_local! {
    /// The second last formatted on this thread.
    static CACHE: Cell<Option<Second>> = const { Cell::new(None) };
}

/// The wall-clock time at `now` (a reading just taken), formatted: from
/// this thread's cache while `now` is within the second last formatted,
/// so that most lines read no clock of their own.
pub(crate) fn at(now: Instant) -> [u8; LEN] {
    CACHE.with(|cache| match cache.get() {
        Some((from, until, text)) if from <= now && now < until => text,
        _ => {
            let second = second_of(now);
            cache.set(Some(second));
            second.2
        }
    })
}

/// The wall-clock second `now` falls in, read from the system clock.
#[cold]
fn second_of(now: Instant) -> Second {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let into = Duration::from_nanos(u64::from(since_epoch.subsec_nanos()));
    // The two clocks are read a moment apart: the second's bounds are off
    // by that moment, well below the millisecond.
    let from = now.checked_sub(into).unwrap_or(now);
    (
        from,
        from + Duration::from_secs(1),
        format(since_epoch.as_secs()),
    )
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Seconds since the Unix epoch as `dd/Mon/yyyy:hh:mm:ss +0000` (years
/// past 9999 are written as 9999).
pub(crate) fn format(secs: u64) -> [u8; LEN] {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let year = year.min(9999);
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    let mut out = *b"01/Jan/1970:00:00:00 +0000";
    two(&mut out[0..2], day);
    out[3..6].copy_from_slice(MONTHS[(month - 1) as usize]);
    two(&mut out[7..9], year / 100);
    two(&mut out[9..11], year % 100);
    two(&mut out[12..14], h);
    two(&mut out[15..17], m);
    two(&mut out[18..20], s);
    out
}

fn two(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Howard Hinnant's `civil_from_days` for days since 1970-01-01
/// (non-negative): (year, month 1–12, day 1–31).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(secs: u64) -> String {
        String::from_utf8(format(secs).to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        assert_eq!(text(0), "01/Jan/1970:00:00:00 +0000");
        // The CLF example's instant (13:55:36 -0700 is 20:55:36 UTC).
        assert_eq!(text(971_211_336), "10/Oct/2000:20:55:36 +0000");
        assert_eq!(text(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(text(4_107_542_399), "28/Feb/2100:23:59:59 +0000");
        assert_eq!(text(1_709_210_096), "29/Feb/2024:12:34:56 +0000");
    }

    #[test]
    fn agrees_with_a_day_by_day_count() {
        // Day by day over 200 years, against the day-of-month and year
        // counted the slow way.
        let (mut y, mut m, mut d) = (1970u64, 1u64, 1u64);
        for days in 0..73_000u64 {
            assert_eq!(civil_from_days(days), (y, m, d), "day {days}");
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            d += 1;
            if d > len[(m - 1) as usize] {
                d = 1;
                m += 1;
                if m > 12 {
                    m = 1;
                    y += 1;
                }
            }
        }
    }

    #[test]
    fn cached_within_the_second_and_well_formed() {
        let now = Instant::now();
        let a = at(now);
        assert_eq!(a[2], b'/');
        assert_eq!(&a[20..], b" +0000");
        let (from, until, text) = CACHE.with(Cell::get).unwrap();
        assert!(from <= now && now < until && text == a);
        assert_eq!(until - from, Duration::from_secs(1));
        // An instant past the second: the system clock is read again.
        at(until);
        let (from2, _, _) = CACHE.with(Cell::get).unwrap();
        assert!(from2 > from, "re-read");
    }
}
