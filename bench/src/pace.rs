//! Open-loop pacing: each of `count` senders sends at `rate` per second,
//! the senders spread evenly over one period, so the offered load is a
//! steady stream rather than every sender firing at the same instant.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

/// The send ticks of sender `index` of `count`, from `epoch` on. A late
/// tick still fires (open loop: overload shows as latency, not as a slower
/// sender).
pub fn ticks(epoch: Instant, rate: f64, index: usize, count: usize) -> Interval {
    let (first, period) = schedule(rate, index, count);
    let mut ticks = tokio::time::interval_at((epoch + first).into(), period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    ticks
}

/// Sender `index`'s first send after the epoch, and its period.
fn schedule(rate: f64, index: usize, count: usize) -> (Duration, Duration) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let phase = index as f64 / count.max(1) as f64;
    (period.mul_f64(phase), period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn senders_are_spread_over_one_period() {
        let firsts: Vec<Duration> = (0..4).map(|index| schedule(10.0, index, 4).0).collect();
        let expected: Vec<Duration> = [0, 25, 50, 75].map(Duration::from_millis).into();
        assert_eq!(firsts, expected);
        assert_eq!(schedule(10.0, 3, 4).1, Duration::from_millis(100));
    }
}
