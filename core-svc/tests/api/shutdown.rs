//! SIGTERM to a real `core-svc` process during traffic: open streams end with
//! UNAVAILABLE, the process exits 0 within the grace period, and every send
//! it acknowledged is in the database.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use tonic::Code;

use crate::{
    core_process::CoreProcess,
    helpers::{SECRET, TestCore, within},
};

/// The core's shutdown grace (10 s) plus time to start and stop.
const EXIT_WITHIN: Duration = Duration::from_secs(20);
const SENDERS: usize = 4;

#[tokio::test]
async fn sigterm_during_sends_loses_nothing_acknowledged_and_exits_zero() {
    let database = TestCore::start().await;
    let mut process = CoreProcess::spawn(&database.url, SECRET).await;
    let core = TestCore::remote(&process.addr).await;
    let (alice, bob, room) = core.pair().await;
    let mut stream = bob.subscribe(room).await.unwrap();
    stream.snapshot().await;

    let acked = Arc::new(Mutex::new(Vec::new()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (alice, acked) = (alice.clone(), acked.clone());
            tokio::spawn(async move {
                for i in 0.. {
                    let key = format!("{sender}-{i}");
                    match alice.send_keyed(room, &key, &key).await {
                        Ok(sent) => acked.lock().unwrap().push(sent.message.unwrap().message_id),
                        Err(_) => return i,
                    }
                }
                unreachable!("the loop ends with the first refused send")
            })
        })
        .collect();
    within(async {
        while acked.lock().unwrap().len() < 40 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;

    let status = process.terminate(EXIT_WITHIN).await;
    assert!(status.success(), "exit status {status:?}");
    for sender in senders {
        within(sender).await.unwrap();
    }
    let ended = loop {
        match within(stream.stream.message()).await {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("the stream ended without a status"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unavailable);

    let acked = acked.lock().unwrap().clone();
    let stored: i64 = database
        .sql()
        .await
        .query_one(
            "SELECT count(*) FROM messages WHERE id = ANY($1)",
            &[&acked],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        acked.len() as i64,
        "every acknowledged send is stored"
    );
}

#[tokio::test]
async fn a_subscriber_that_stopped_reading_still_ends_with_unavailable() {
    let mut core = TestCore::start().await;
    let (alice, bob, room) = core.pair().await;
    let mut stream = bob.subscribe(room).await.unwrap();
    stream.snapshot().await;
    // None of these events is read before shutdown, so the stream's buffer
    // may be full when it comes (the race that once lost the status).
    for i in 0..100 {
        alice.send(room, &format!("unread {i}")).await.unwrap();
    }
    core.stop().await;
    let mut events = 0;
    let ended = loop {
        match within(stream.stream.message()).await {
            Ok(Some(_)) => events += 1,
            Ok(None) => panic!("the stream ended without a status after {events} events"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), Code::Unavailable);
}
