//! CPU time by component, read from /proc: where the time of a step went.

use serde::Serialize;

/// Clock ticks per second of /proc's counters (USER_HZ).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds used so far by the core, the edges, PostgreSQL (every
/// backend) and this load generator.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuSplit {
    pub core: f64,
    pub edge: f64,
    pub postgres: f64,
    pub load_generator: f64,
}

impl CpuSplit {
    pub fn now(core: u32, edges: &[u32]) -> Self {
        Self {
            core: seconds(core),
            edge: edges.iter().map(|&pid| seconds(pid)).sum(),
            postgres: postgres_seconds(),
            load_generator: seconds(std::process::id()),
        }
    }

    /// CPU milliseconds per message between `self` and a later `after`.
    pub fn per_message(&self, after: &Self, messages: u64) -> Self {
        let ms = |before: f64, after: f64| (after - before) * 1000.0 / messages.max(1) as f64;
        Self {
            core: ms(self.core, after.core),
            edge: ms(self.edge, after.edge),
            postgres: ms(self.postgres, after.postgres),
            load_generator: ms(self.load_generator, after.load_generator),
        }
    }
}

/// utime + stime of a process, in seconds (0 if it is gone).
fn seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| ticks(&stat))
        .map_or(0.0, |ticks| ticks as f64 / TICKS_PER_SEC)
}

/// Fields 14 and 15 of /proc/<pid>/stat, counted after the `(comm)` field.
fn ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn postgres_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .filter_map(|stat| ticks(&stat))
        .map(|ticks| ticks as f64 / TICKS_PER_SEC)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0";
        assert_eq!(ticks(stat), Some(300));
    }
}
