//! When a failed delivery is tried again: after the base delay, doubling
//! each time up to [`MAX_DOUBLINGS`] doublings, until the delivery is
//! [`GIVE_UP_AFTER`] old. Each wait is jittered between half and all of
//! its step, so deliveries that failed together (a receiver's outage) do
//! not come back together, while the waits still grow.

use std::time::Duration;

/// The longest wait is the base delay times 2^9 (8.5 minutes for 1 s).
pub const MAX_DOUBLINGS: u32 = 9;
/// Deliveries older than this are dropped (with a warning) instead of tried
/// again: far beyond the hour of retries the contract promises.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The step after failed attempt number `attempt` (from 1): the base
/// doubled `attempt - 1` times, capped.
pub fn retry_step(base: Duration, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    base.saturating_mul(1 << doublings.min(MAX_DOUBLINGS))
}

/// The wait after failed attempt number `attempt`: between half the step
/// (`unit` 0) and the whole step (`unit` towards 1); `unit` is a uniform
/// random number in [0, 1), outside it is clamped.
pub fn retry_delay(base: Duration, attempt: i32, unit: f64) -> Duration {
    let step = retry_step(base, attempt);
    let half = step / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// [`retry_delay`] with a fresh random `unit`.
pub fn jittered_retry_delay(base: Duration, attempt: i32) -> Duration {
    retry_delay(base, attempt, fastrand::f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let steps: Vec<u64> = (1..=12)
            .map(|attempt| retry_step(base, attempt).as_secs())
            .collect();
        assert_eq!(steps, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512]);
    }

    #[test]
    fn a_delay_lies_between_half_its_step_and_the_whole_step() {
        let base = Duration::from_secs(1);
        for attempt in 1..=12 {
            let step = retry_step(base, attempt);
            assert_eq!(retry_delay(base, attempt, 0.0), step / 2);
            assert_eq!(retry_delay(base, attempt, 0.5), step * 3 / 4);
            assert!(retry_delay(base, attempt, 0.999_999) <= step);
            assert_eq!(retry_delay(base, attempt, -3.0), step / 2, "clamped");
            assert_eq!(retry_delay(base, attempt, 7.0), step, "clamped");
        }
    }

    #[test]
    fn jittered_delays_spread_over_the_window_and_still_grow() {
        let base = Duration::from_secs(1);
        for attempt in 1..=12 {
            let step = retry_step(base, attempt);
            let delays: Vec<Duration> = (0..200)
                .map(|_| jittered_retry_delay(base, attempt))
                .collect();
            assert!(delays.iter().all(|d| *d >= step / 2 && *d <= step));
            let distinct: std::collections::HashSet<_> = delays.iter().collect();
            assert!(distinct.len() > 100, "attempt {attempt}: little spread");
        }
        // The longest wait of one attempt never exceeds the shortest of the
        // attempt after the next: the waits grow whatever the draws.
        for attempt in 1..=8 {
            assert!(retry_delay(base, attempt, 1.0) <= retry_delay(base, attempt + 2, 0.0));
        }
    }

    #[test]
    fn retries_go_on_all_day_and_often_in_the_first_hour() {
        let base = Duration::from_secs(1);
        let mut waited = Duration::ZERO;
        let mut attempts = 0;
        while waited < GIVE_UP_AFTER {
            attempts += 1;
            waited += retry_delay(base, attempts, 1.0);
        }
        assert!(GIVE_UP_AFTER >= Duration::from_secs(3600));
        assert!(attempts > 100, "{attempts} attempts in a day at most");
        let mut first_hour = 0;
        let mut waited = Duration::ZERO;
        while waited < Duration::from_secs(3600) {
            first_hour += 1;
            waited += retry_delay(base, first_hour, 0.0);
        }
        assert!(first_hour > 10, "{first_hour} attempts in the first hour");
    }
}
