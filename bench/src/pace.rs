//! Open-loop pacing: each of `count` senders sends at `rate` per second,
//! the senders spread evenly over one period, so the offered load is a
//! steady stream rather than every sender firing at the same instant.

use std::time::{Duration, Instant};

use tokio::time::{Interval, MissedTickBehavior};

/// The send ticks of sender `index` of `count`, from `epoch` on. A late
/// tick still fires (open loop: overload shows as latency, not as a slower
/// sender).
pub fn ticks(epoch: Instant, rate: f64, index: usize, count: usize) -> Interval {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let phase = index as f64 / count.max(1) as f64;
    let mut ticks = tokio::time::interval_at((epoch + period.mul_f64(phase)).into(), period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn senders_are_spread_over_one_period() {
        let epoch = Instant::now();
        let mut firsts = Vec::new();
        for index in 0..4 {
            let mut ticks = ticks(epoch, 10.0, index, 4);
            firsts.push(ticks.tick().await.into_std().duration_since(epoch));
        }
        let expected: Vec<Duration> = [0, 25, 50, 75].map(Duration::from_millis).into();
        assert_eq!(firsts, expected);
    }
}
