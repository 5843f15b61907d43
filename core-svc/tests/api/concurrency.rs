//! Concurrent senders in one room: every subscriber sees the same gapless order.

use std::collections::HashMap;

use chat_proto::v1 as pb;

use crate::helpers::{Subscription, TestCore, kind, message_id, within};

const PER_MEMBER: usize = 200;

async fn drain(stream: &mut Subscription, count: usize) -> Vec<pb::RoomEvent> {
    within(stream.events(count)).await
}

#[tokio::test]
async fn concurrent_senders_produce_one_gapless_order_for_every_subscriber() {
    let core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut alices = alice.subscribe(room).await.unwrap();
    let mut bobs = bob.subscribe(room).await.unwrap();
    alices.snapshot().await;
    bobs.snapshot().await;

    let senders = [alice.clone(), bob.clone()].map(|client| {
        tokio::spawn(async move {
            for i in 0..PER_MEMBER {
                client
                    .send(room, &format!("{} #{i}", client.id))
                    .await
                    .unwrap();
            }
        })
    });
    // Both members are subscribed: every message is created, delivered, read.
    let total = 2 * PER_MEMBER * 3;
    let (seen_by_alice, seen_by_bob) =
        tokio::join!(drain(&mut alices, total), drain(&mut bobs, total));
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(seen_by_alice, seen_by_bob, "both subscribers see one order");
    let seqs: Vec<i64> = seen_by_alice.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=total as i64).collect::<Vec<_>>(),
        "gapless, no duplicates"
    );
    for receipt in seen_by_alice.chunks(3) {
        let kinds: Vec<&str> = receipt.iter().map(kind).collect();
        assert_eq!(
            kinds,
            ["created", "delivered", "read"],
            "a message's events are consecutive"
        );
        assert!(
            receipt
                .iter()
                .all(|e| message_id(e) == message_id(&receipt[0]))
        );
    }
    let mut per_sender: HashMap<i64, usize> = HashMap::new();
    for event in &seen_by_alice {
        if let Some(pb::room_event::Kind::MessageCreated(m)) = &event.kind {
            *per_sender.entry(m.sender_id).or_default() += 1;
        }
    }
    assert_eq!(per_sender[&alice.id], PER_MEMBER);
    assert_eq!(per_sender[&bob.id], PER_MEMBER);

    // A third subscriber resuming from the middle sees exactly the rest.
    let middle = (total / 2) as i64;
    let mut resumed = alice
        .subscribe_with(pb::SubscribeRequest {
            room_id: room,
            history_limit: None,
            after_seq: Some(middle),
        })
        .await
        .unwrap();
    assert!(resumed.snapshot().await.resumed);
    let rest = drain(&mut resumed, total - total / 2).await;
    let expected: Vec<i64> = (middle + 1..=total as i64).collect();
    assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), expected);
    let kinds: Vec<&str> = rest.iter().map(kind).collect();
    let live: Vec<&str> = seen_by_alice[total / 2..].iter().map(kind).collect();
    assert_eq!(kinds, live);
    resumed.assert_quiet().await;
}
