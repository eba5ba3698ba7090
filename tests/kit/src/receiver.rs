//! A webhook receiver on 127.0.0.1 for the tests and the load benchmark:
//! records every request and answers as the test scripts it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::any;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub method: String,
    pub headers: HashMap<String, String>,
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }
}

/// How the receiver answers the n-th request (0-based) on a path.
pub type Script = Arc<dyn Fn(&str, usize) -> (StatusCode, Duration) + Send + Sync>;

#[derive(Clone)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    script: Script,
    concurrency: Arc<Mutex<HashMap<String, Concurrency>>>,
}

/// Requests being answered on one path: now, and the most at once.
#[derive(Debug, Clone, Copy, Default)]
struct Concurrency {
    now: usize,
    peak: usize,
}

pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    concurrency: Arc<Mutex<HashMap<String, Concurrency>>>,
}

impl Receiver {
    /// A receiver answering 200 to everything.
    pub async fn ok() -> Receiver {
        Receiver::scripted(Arc::new(|_, _| (StatusCode::OK, Duration::ZERO))).await
    }

    pub async fn scripted(script: Script) -> Receiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let concurrency = Arc::new(Mutex::new(HashMap::new()));
        let shared = Shared { received: received.clone(), script, concurrency: concurrency.clone() };
        #[allow(clippy::disallowed_methods, reason = "a test receiver, not the API")]
        let app = Router::new().route("/{*path}", any(handle)).with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, received, concurrency }
    }

    /// The most requests `path` was answering at once so far.
    pub fn peak_concurrency(&self, path: &str) -> usize {
        self.concurrency.lock().unwrap().get(path).map_or(0, |c| c.peak)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// How many requests `path` got so far, without copying them: the load
    /// benchmark polls it while tens of thousands arrive.
    pub fn count(&self, path: &str) -> usize {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).count()
    }

    pub fn on(&self, path: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path == path).collect()
    }

    /// Waits (up to 20 s) until `path` got `n` requests; returns them.
    pub async fn wait_for(&self, path: &str, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let got = self.on(path);
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{path}: expected {n} requests, got {:?}", self.on(path));
    }
}

async fn handle(
    State(shared): State<Shared>,
    Path(path): Path<String>,
    method: axum::http::Method,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let path = format!("/{path}");
    let n = {
        let mut received = shared.received.lock().unwrap();
        let n = received.iter().filter(|r| r.path == path).count();
        received.push(Received {
            path: path.clone(),
            method: method.to_string(),
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned())).collect(),
            body: String::from_utf8_lossy(&body).into_owned(),
            at: Instant::now(),
        });
        n
    };
    let (status, delay) = (shared.script)(&path, n);
    let _answering = Answering::start(&shared, &path);
    tokio::time::sleep(delay).await;
    (status, "{\"ok\": true}")
}

/// A request being answered, counted on its path until dropped (also when
/// the client gives up on it).
struct Answering {
    concurrency: Arc<Mutex<HashMap<String, Concurrency>>>,
    path: String,
}

impl Answering {
    fn start(shared: &Shared, path: &str) -> Answering {
        let mut concurrency = shared.concurrency.lock().unwrap();
        let on_path = concurrency.entry(path.to_owned()).or_default();
        on_path.now += 1;
        on_path.peak = on_path.peak.max(on_path.now);
        Answering { concurrency: shared.concurrency.clone(), path: path.to_owned() }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        if let Some(on_path) = self.concurrency.lock().unwrap().get_mut(&self.path) {
            on_path.now -= 1;
        }
    }
}

/// The Standard Webhooks check a receiver would write, independently of the
/// engine's code: one of the space-separated signatures is `secret`'s.
pub fn verify(secret: &str, request: &Received) {
    assert!(signed_by(secret, request), "signature of {request:?} by {secret}");
    let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - timestamp).abs() < 60);
}

/// Whether one of the request's signatures is `secret`'s.
pub fn signed_by(secret: &str, request: &Received) -> bool {
    let key = STANDARD.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    let signed = format!("{}.{}.{}", request.header("webhook-id"), request.header("webhook-timestamp"), request.body);
    mac.update(signed.as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    request.header("webhook-signature").split(' ').any(|signature| signature == expected)
}
