//! CPU time by component, read from /proc: where the time of a step went.

use serde::Serialize;

use crate::system::System;

/// Clock ticks per second of /proc's counters (USER_HZ).
const TICKS_PER_SEC: f64 = 100.0;

/// CPU seconds used so far by the core, the edges, the system's PostgreSQL
/// (every backend) and this load generator.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CpuSplit {
    pub core: f64,
    pub edge: f64,
    pub postgres: f64,
    pub load_generator: f64,
}

impl CpuSplit {
    pub fn now(system: &System) -> Self {
        Self {
            core: seconds(system.core.pid()),
            edge: system.edges.iter().map(|edge| seconds(edge.pid())).sum(),
            postgres: postgres_seconds(system.postmaster_pid()),
            load_generator: seconds(std::process::id()),
        }
    }

    /// Adds the CPU time of other load-generator processes (`pids`).
    pub fn with_generators(mut self, pids: &[u32]) -> Self {
        self.load_generator += pids.iter().map(|&pid| seconds(pid)).sum::<f64>();
        self
    }

    /// Percent of one core used between `self` and `after`, `seconds` later.
    pub fn percent(&self, after: &Self, seconds: f64) -> Self {
        let percent = |before: f64, after: f64| (after - before) * 100.0 / seconds.max(0.001);
        Self {
            core: percent(self.core, after.core),
            edge: percent(self.edge, after.edge),
            postgres: percent(self.postgres, after.postgres),
            load_generator: percent(self.load_generator, after.load_generator),
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
    stat(pid)
        .and_then(|fields| Some(tick(&fields, UTIME)? + tick(&fields, STIME)?))
        .map_or(0.0, |ticks| ticks as f64 / TICKS_PER_SEC)
}

/// Fields of /proc/<pid>/stat after the `(comm)` field, which may hold spaces.
fn stat(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(fields(&stat))
}

fn fields(stat: &str) -> Vec<String> {
    let rest = stat.rfind(')').map_or("", |end| &stat[end + 1..]);
    rest.split_whitespace().map(str::to_owned).collect()
}

/// Indexes into [`fields`]: the parent, user and system time, and the
/// user and system time of children the process has waited for.
const PPID: usize = 1;
const UTIME: usize = 11;
const STIME: usize = 12;
const CUTIME: usize = 13;
const CSTIME: usize = 14;

fn tick(fields: &[String], index: usize) -> Option<u64> {
    fields.get(index)?.parse().ok()
}

/// This system's PostgreSQL: the server process, its backends that have
/// exited (its children's time) and those still running. Other clusters
/// on the box do not count, and a backend that exits keeps counting.
fn postgres_seconds(postmaster: u32) -> f64 {
    let Some(server) = stat(postmaster) else {
        return 0.0;
    };
    let own: u64 = [UTIME, STIME, CUTIME, CSTIME]
        .iter()
        .filter_map(|&index| tick(&server, index))
        .sum();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return own as f64 / TICKS_PER_SEC;
    };
    let children: u64 = entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .filter(|fields| tick(fields, PPID) == Some(u64::from(postmaster)))
        .filter_map(|fields| Some(tick(&fields, UTIME)? + tick(&fields, STIME)?))
        .sum();
    (own + children) as f64 / TICKS_PER_SEC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let fields = fields("42 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 7 3");
        assert_eq!(tick(&fields, PPID), Some(1));
        assert_eq!(tick(&fields, UTIME), Some(250));
        assert_eq!(tick(&fields, STIME), Some(50));
        assert_eq!(tick(&fields, CSTIME), Some(3));
    }
}
