//! Graceful shutdown against the real binary and a slow receiver on
//! 127.0.0.1: SIGTERM while a delivery is in flight and events are being
//! posted exits 0; after a restart every acknowledged event is delivered,
//! and the delivery that was in flight was either finished before the exit
//! (within the grace period) or is sent again (past it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Client, Engine, start, token};

const EVENT: &str = "asset.asset_status_updated";

struct Setup {
    engine: Engine,
    service: Client,
    academy: Client,
    hook_id: u64,
}

async fn setup(dir: &std::path::Path, args: &[&str], receiver: &Receiver) -> Setup {
    let engine = start(dir, args);
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    let academy =
        engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await);
    let hook = academy
        .post("/v1/notify/hook/subscribe", &json!({"event": EVENT, "target": format!("{}/s", receiver.url)}))
        .await;
    assert_eq!(hook.status, 201, "{hook:?}");
    let hook_id = hook.body["id"].as_u64().unwrap();
    Setup { engine, service, academy, hook_id }
}

fn event(id: &str) -> Value {
    json!({"event": EVENT, "academy": "downtown-campus", "data": {"id": 1}, "id": id})
}

/// A receiver whose first request takes `first`; every later one is
/// answered at once.
async fn slow_first(first: Duration) -> Receiver {
    Receiver::scripted(Arc::new(move |_, n| (StatusCode::OK, if n == 0 { first } else { Duration::ZERO }))).await
}

/// Events posted around the SIGTERM.
struct Traffic {
    producers: Vec<tokio::task::JoinHandle<()>>,
    acknowledged: Arc<std::sync::Mutex<Vec<String>>>,
}

/// Posts `e0` and waits until its delivery reaches the receiver; then
/// producers post events until the engine stops answering.
async fn traffic(s: &Setup, receiver: &Receiver) -> Traffic {
    assert_eq!(s.service.post("/v1/events", &event("e0")).await.status, 202);
    receiver.wait_for("/s", 1).await;
    let acknowledged = Arc::new(std::sync::Mutex::new(vec!["e0".to_owned()]));
    let mut producers = Vec::new();
    for producer in 0..4 {
        let client = Client::rebind(&s.service, &s.engine);
        let acknowledged = acknowledged.clone();
        producers.push(tokio::spawn(async move {
            for n in 0..100 {
                let id = format!("p{producer}-{n}");
                match tokio::time::timeout(Duration::from_secs(5), client.try_post("/v1/events", &event(&id))).await {
                    Ok(Some(202)) => acknowledged.lock().unwrap().push(id),
                    _ => break,
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }));
    }
    // The SIGTERM comes while they post (and well before the receiver
    // answers e0).
    for _ in 0..40 {
        if acknowledged.lock().unwrap().len() > 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Traffic { producers, acknowledged }
}

impl Traffic {
    /// The ids acknowledged (202), `e0` first, once the producers stopped.
    async fn acknowledged(self) -> Vec<String> {
        for producer in self.producers {
            producer.await.unwrap();
        }
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        assert!(acknowledged.len() > 1, "events were posted around the SIGTERM: {acknowledged:?}");
        acknowledged
    }
}

/// SIGTERM; the exit status and how long the engine took to exit.
fn terminate(engine: &mut Engine) -> (std::process::ExitStatus, Duration) {
    let sent = Instant::now();
    let status = tokio::task::block_in_place(|| engine.terminate());
    (status, sent.elapsed())
}

/// Every attempt recorded for the hook: event id → outcomes.
async fn outcomes(academy: &Client, hook_id: u64) -> HashMap<String, Vec<String>> {
    let page = academy.get(&format!("/v1/notify/hook/{hook_id}/deliveries?limit=1000")).await;
    assert_eq!(page.status, 200, "{page:?}");
    let mut outcomes = HashMap::<String, Vec<String>>::new();
    for attempt in page.body["results"].as_array().unwrap() {
        outcomes
            .entry(attempt["event_id"].as_str().unwrap().to_owned())
            .or_default()
            .push(attempt["outcome"].as_str().unwrap().to_owned());
    }
    outcomes
}

/// After the restart: waits until every acknowledged event has a succeeded
/// attempt; the attempts by event.
async fn all_delivered(academy: &Client, hook_id: u64, acknowledged: &[String]) -> HashMap<String, Vec<String>> {
    let mut last = Default::default();
    for _ in 0..300 {
        last = outcomes(academy, hook_id).await;
        if acknowledged.iter().all(|id| last.get(id).is_some_and(|o| o.iter().any(|o| o == "succeeded"))) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<&String> =
        acknowledged.iter().filter(|id| !last.get(*id).is_some_and(|o| o.contains(&"succeeded".to_owned()))).collect();
    panic!("acknowledged events never delivered: {missing:?}");
}

fn webhook_ids(receiver: &Receiver) -> Vec<String> {
    receiver.on("/s").iter().map(|r| r.header("webhook-id").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_the_delivery_in_flight_finish_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = slow_first(Duration::from_secs(5)).await;
    // One worker: e0 holds it, everything posted after waits in the queue.
    let mut s = setup(dir.path(), &["--delivery-concurrency", "1", "--shutdown-grace", "20s"], &receiver).await;
    let traffic = traffic(&s, &receiver).await;
    let (status, took) = terminate(&mut s.engine);
    let acknowledged = traffic.acknowledged().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(took >= Duration::from_millis(1000), "the shutdown waited for e0's answer: {took:?}");
    let before = webhook_ids(&receiver);
    assert_eq!(before.len(), 1, "nothing else was claimed once the shutdown began: {before:?}");

    let engine = start(dir.path(), &[]);
    let academy = Client::rebind(&s.academy, &engine);
    let attempts = all_delivered(&academy, s.hook_id, &acknowledged).await;
    assert_eq!(attempts["e0"], ["succeeded"], "e0 finished before the exit and was recorded then");
    let e0 = webhook_ids(&receiver).iter().filter(|w| w.starts_with("msg_e0_")).count();
    assert_eq!(e0, 1, "e0 was not sent again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_past_the_grace_leaves_the_delivery_queued_for_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = slow_first(Duration::from_secs(60)).await;
    let mut s = setup(dir.path(), &["--delivery-concurrency", "1", "--shutdown-grace", "300ms"], &receiver).await;
    let traffic = traffic(&s, &receiver).await;
    let (status, took) = terminate(&mut s.engine);
    let acknowledged = traffic.acknowledged().await;
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(10), "the grace bounds the shutdown: {took:?}");

    let engine = start(dir.path(), &[]);
    let academy = Client::rebind(&s.academy, &engine);
    let attempts = all_delivered(&academy, s.hook_id, &acknowledged).await;
    assert_eq!(attempts["e0"], ["succeeded"], "the dropped attempt was not recorded; the next one was");
    let e0 = webhook_ids(&receiver).iter().filter(|w| w.starts_with("msg_e0_")).count();
    assert_eq!(e0, 2, "e0 was sent again after the restart");
}

/// A SIGTERM as soon as the engine says it listens stops it cleanly: its
/// signal handlers are in place before it prints that line. (When they were
/// installed after it, 13 of 30 starts killed at that line died of the
/// signal instead.)
#[test]
fn a_sigterm_at_the_listening_line_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    for start_number in 1..=8 {
        let mut engine = start(dir.path(), &[]);
        let status = engine.terminate();
        assert!(status.success(), "start {start_number}: {status:?} (a signal's exit has no code)");
    }
}
