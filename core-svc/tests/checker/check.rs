//! The verdict over all clients' reports: for every subscriber and every
//! acknowledged message, nothing lost, nothing duplicated, nothing reordered.

use std::collections::{BTreeMap, HashMap};

use crate::client::{Observed, Report};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Room events a subscriber never saw, plus acknowledged messages whose
    /// `chat_message` a subscriber never saw.
    pub lost: usize,
    /// Events seen twice, and messages created twice.
    pub duplicated: usize,
    /// Events out of sequence, subscribers whose views disagree, and
    /// resumes that fell back to a history frame.
    pub reordered: usize,
    /// Acknowledgements that disagree for one `client_msg_id`.
    pub conflicting_acks: usize,
}

/// Checks `reports` against each room's final sequence number in `heads`.
pub fn check(reports: &[Report], heads: &HashMap<i64, i64>) -> Verdict {
    let mut verdict = Verdict::default();
    let mut acked_by_room: HashMap<i64, Vec<i64>> = HashMap::new();
    for report in reports {
        verdict.conflicting_acks += report.conflicting_acks;
        verdict.reordered += report.resets;
        acked_by_room
            .entry(report.member.room)
            .or_default()
            .extend(report.acked.values().copied());
    }
    let mut views: HashMap<i64, BTreeMap<i64, &Observed>> = HashMap::new();
    for report in reports {
        let room = report.member.room;
        check_sequence(&report.log, heads[&room], &mut verdict);
        check_messages(&report.log, &acked_by_room[&room], &mut verdict);
        let view = views.entry(room).or_default();
        for event in &report.log {
            match view.get(&event.seq) {
                Some(&seen) if seen != event => verdict.reordered += 1,
                Some(_) => {}
                None => {
                    view.insert(event.seq, event);
                }
            }
        }
    }
    verdict
}

/// The log must be exactly 1, 2, …, head.
fn check_sequence(log: &[Observed], head: i64, verdict: &mut Verdict) {
    let mut last = 0;
    for event in log {
        match event.seq {
            seq if seq == last + 1 => last = seq,
            seq if seq > last + 1 => {
                verdict.lost += (seq - last - 1) as usize;
                last = seq;
            }
            seq if seq == last => verdict.duplicated += 1,
            _ => verdict.reordered += 1,
        }
    }
    verdict.lost += (head - last).max(0) as usize;
}

/// Every acknowledged message is created exactly once in the log.
fn check_messages(log: &[Observed], acked: &[i64], verdict: &mut Verdict) {
    let mut created: HashMap<i64, usize> = HashMap::new();
    for event in log.iter().filter(|event| event.kind == "chat_message") {
        *created.entry(event.message_id).or_default() += 1;
    }
    let mut acked: Vec<i64> = acked.to_vec();
    acked.sort_unstable();
    acked.dedup();
    for message in &acked {
        if !created.contains_key(message) {
            verdict.lost += 1;
        }
    }
    verdict.duplicated += created.values().filter(|&&count| count > 1).count();
}
