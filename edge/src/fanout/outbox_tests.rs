use super::*;
use crate::core_client::BearerToken;

fn opening(socket_id: u64) -> SocketOpening {
    SocketOpening {
        socket_id,
        room_id: 1,
        token: BearerToken::parse("abc.def.ghi").expect("a token"),
        after_seq: None,
    }
}

#[test]
fn a_full_queue_holds_the_rest_until_it_has_room_again() {
    let (up, mut queue) = LinkSender::for_tests(2);
    let mut outbox = Outbox::default();
    (1..=5_000).for_each(|id| outbox.close(id));
    (10_001..=10_003).for_each(|id| outbox.open(id));
    assert_eq!(outbox.flush(&up, |id| Some(opening(id))), Queued::Full);
    assert!(outbox.waiting());
    let (closes, opens) = queue.drain();
    assert_eq!(closes.iter().map(Vec::len).sum::<usize>(), 5_000);
    assert_eq!(closes.len(), 1, "5,000 closes are one item");
    assert_eq!(opens, [10_001]);

    assert_eq!(outbox.flush(&up, |id| Some(opening(id))), Queued::Yes);
    assert!(!outbox.waiting());
    assert_eq!(queue.drain(), (Vec::new(), vec![10_002, 10_003]));
}

#[test]
fn closes_go_before_openings_and_an_opening_that_closed_is_skipped() {
    let (up, mut queue) = LinkSender::for_tests(8);
    let mut outbox = Outbox::default();
    outbox.open(1);
    outbox.open(2);
    outbox.close(2);
    let state = |id: u64| (id != 2).then(|| opening(id));
    assert_eq!(outbox.flush(&up, state), Queued::Yes);
    assert_eq!(queue.drain(), (vec![vec![2]], vec![1]));
}

#[test]
fn a_batch_holds_at_most_its_share_of_ids() {
    let (up, mut queue) = LinkSender::for_tests(8);
    let total = CLOSES_PER_ITEM * 2 + 1;
    let mut outbox = Outbox::new((0..total as u64).collect(), []);
    assert_eq!(outbox.flush(&up, |_| None), Queued::Yes);
    let (closes, _) = queue.drain();
    assert_eq!(closes.len(), 3);
    assert!(closes.iter().all(|batch| batch.len() <= CLOSES_PER_ITEM));
    let mut all: Vec<u64> = closes.concat();
    all.sort_unstable();
    assert_eq!(all, (0..total as u64).collect::<Vec<_>>());
}

#[test]
fn a_gone_link_keeps_what_waits_for_the_next() {
    let (up, queue) = LinkSender::for_tests(8);
    drop(queue);
    let mut outbox = Outbox::default();
    outbox.close(9);
    assert_eq!(outbox.flush(&up, |_| None), Queued::Gone);
    assert_eq!(outbox.closes(), 1);
}
