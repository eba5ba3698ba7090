//! A webhook receiver on 127.0.0.1 that only counts, for the load
//! benchmark: [`receiver::Receiver`](crate::receiver::Receiver) keeps every
//! request (headers, body) and looks them over on each one, which is what
//! tests need and what makes it the bottleneck past a few hundred requests
//! a second. This one answers 200 at once and keeps an `AtomicU64` per
//! path; it keeps the arrival time of each `webhook-id` only while asked
//! to ([`CountingReceiver::record_arrivals`]), for the latency phase.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;

#[derive(Default)]
struct Shared {
    /// Path → requests it got.
    counts: RwLock<HashMap<String, Arc<AtomicU64>>>,
    recording: AtomicBool,
    /// `webhook-id` → when its last request arrived, while recording.
    arrivals: Mutex<HashMap<String, Instant>>,
}

impl Shared {
    fn counter(&self, path: &str) -> Arc<AtomicU64> {
        if let Some(counter) = self.counts.read().unwrap().get(path) {
            return counter.clone();
        }
        self.counts.write().unwrap().entry(path.to_owned()).or_default().clone()
    }
}

pub struct CountingReceiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl CountingReceiver {
    /// A receiver answering 200 to everything, on a free port.
    pub async fn start() -> CountingReceiver {
        let shared = Arc::new(Shared::default());
        #[allow(clippy::disallowed_methods, reason = "a benchmark receiver, not the API")]
        let app = Router::new().route("/{*path}", any(handle)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        CountingReceiver { url, shared }
    }

    /// How many requests `path` got so far.
    pub fn count(&self, path: &str) -> u64 {
        self.shared.counter(path).load(Ordering::Relaxed)
    }

    /// Waits until `path` got `n` requests or `deadline` passed, polling
    /// every 10 ms; the count then.
    pub async fn wait_for(&self, path: &str, n: u64, deadline: Duration) -> u64 {
        let counter = self.shared.counter(path);
        let started = Instant::now();
        loop {
            let got = counter.load(Ordering::Relaxed);
            if got >= n || started.elapsed() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// From now on (or no longer), keeps when each `webhook-id` last
    /// arrived (on any path).
    pub fn record_arrivals(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    /// `webhook-id` → when its last request arrived, while recording.
    pub fn arrivals(&self) -> HashMap<String, Instant> {
        self.shared.arrivals.lock().unwrap().clone()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, Path(path): Path<String>, headers: HeaderMap) -> StatusCode {
    let at = Instant::now();
    shared.counter(&format!("/{path}")).fetch_add(1, Ordering::Relaxed);
    if shared.recording.load(Ordering::Relaxed)
        && let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok())
    {
        shared.arrivals.lock().unwrap().insert(id.to_owned(), at);
    }
    StatusCode::OK
}
