//! Traffic for the `kill -9` tests: producers that post events until the
//! engine dies, and a receiver that is slow until told otherwise, so that
//! deliveries are pending when the kill comes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;

use crate::Engine;
use crate::receiver::Receiver;

/// Producers posting through an engine until it stops answering, or they
/// are stopped.
pub struct Producers {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    acknowledged: Arc<Mutex<Vec<String>>>,
    running: Arc<AtomicBool>,
}

impl Producers {
    /// 8 producers posting `event` for `academy` through `engine` as
    /// `token`, each event with an id of its own, until the engine stops
    /// answering within 5 s (10,000 events each at most). Ids start with
    /// `prefix`, so producers on several engines post different events.
    pub fn start(engine: &Engine, token: &str, event: &str, academy: &str, prefix: &str) -> Producers {
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(AtomicBool::new(true));
        let tasks = (0..8)
            .map(|producer| {
                let client = engine.client(token);
                let (acknowledged, running) = (acknowledged.clone(), running.clone());
                let (event, academy, prefix) = (event.to_owned(), academy.to_owned(), prefix.to_owned());
                tokio::spawn(async move {
                    for n in 0..10_000 {
                        if !running.load(Ordering::Relaxed) {
                            break;
                        }
                        let id = format!("{prefix}p{producer}-{n}");
                        let body = json!({"event": event, "academy": academy, "data": {"id": n}, "id": id});
                        match tokio::time::timeout(Duration::from_secs(5), client.try_post("/v1/events", &body)).await {
                            Ok(Some(202)) => acknowledged.lock().unwrap().push(id),
                            _ => break,
                        }
                    }
                })
            })
            .collect();
        Producers { tasks, acknowledged, running }
    }

    /// Stops the producers: the ids the engine answered 202 for.
    pub async fn stop(self) -> Vec<String> {
        self.running.store(false, Ordering::Relaxed);
        self.acknowledged().await
    }

    /// Waits for every producer to stop (the engine is gone): the ids the
    /// engine answered 202 for.
    pub async fn acknowledged(self) -> Vec<String> {
        for task in self.tasks {
            task.await.expect("a producer panicked");
        }
        self.acknowledged.lock().unwrap().clone()
    }
}

/// A receiver answering 200 after 100 ms while the switch is on, after
/// 1 ms once it is off; and the switch.
pub async fn slow_receiver() -> (Receiver, Arc<AtomicBool>) {
    let slow = Arc::new(AtomicBool::new(true));
    let is_slow = slow.clone();
    let receiver = Receiver::scripted(Arc::new(move |_, _| {
        let delay = if is_slow.load(Ordering::Relaxed) { 100 } else { 1 };
        (StatusCode::OK, Duration::from_millis(delay))
    }))
    .await;
    (receiver, slow)
}

impl Receiver {
    /// Waits until every event of `ids` was delivered on `path` (its
    /// `webhook-id` is `msg_{id}_{hook}`); panics after 60 s with how many
    /// never came.
    pub async fn wait_for_events(&self, path: &str, ids: &[String]) {
        let mut missing = ids.len();
        for _ in 0..600 {
            let delivered: std::collections::HashSet<String> =
                self.on(path).iter().map(|r| r.header("webhook-id").to_owned()).collect();
            missing = ids.iter().filter(|id| !delivered.iter().any(|w| w.starts_with(&format!("msg_{id}_")))).count();
            if missing == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{missing} of {} acknowledged events were never delivered on {path}", ids.len());
    }
}
