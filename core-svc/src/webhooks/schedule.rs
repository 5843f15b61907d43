//! When a failed delivery is tried again: after the base delay, doubling
//! each time up to [`MAX_DOUBLINGS`] doublings, until the delivery is
//! [`GIVE_UP_AFTER`] old.

use std::time::Duration;

/// The longest wait is the base delay times 2^9 (8.5 minutes for 1 s).
pub const MAX_DOUBLINGS: u32 = 9;
/// Deliveries older than this are dropped (with a warning) instead of tried
/// again: far beyond the hour of retries the contract promises.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The wait after failed attempt number `attempt` (from 1).
pub fn retry_delay(base: Duration, attempt: i32) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0);
    base.saturating_mul(1 << doublings.min(MAX_DOUBLINGS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap() {
        let base = Duration::from_secs(1);
        let delays: Vec<u64> = (1..=12)
            .map(|attempt| retry_delay(base, attempt).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 512, 512]);
    }

    #[test]
    fn retries_go_on_for_more_than_an_hour() {
        let base = Duration::from_secs(1);
        let mut waited = Duration::ZERO;
        let mut attempts = 0;
        while waited < GIVE_UP_AFTER {
            attempts += 1;
            waited += retry_delay(base, attempts);
        }
        assert!(GIVE_UP_AFTER >= Duration::from_secs(3600));
        assert!(attempts > 100, "{attempts} attempts in a day");
    }
}
