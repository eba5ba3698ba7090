//! Fair share across hooks, against the real binary and receivers on
//! 127.0.0.1: a hook whose receiver sleeps holds only its own cap of
//! attempts in flight, so another academy's delivery is not delayed; the
//! engine's cap and a hook's own hold at the receiver; the hook field is
//! validated; a queue stored before the per-hook index is still delivered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Client, Engine, Tenants, start};

const EVENT: &str = "asset.asset_status_updated";

struct Setup {
    _dir: tempfile::TempDir,
    engine: Engine,
    /// Academy `downtown-campus`.
    a: Client,
    /// Academy `uptown`.
    b: Client,
    service: Client,
}

async fn setup(args: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), args);
    let Tenants { a, b, service, .. } = Tenants::of(&engine).await;
    Setup { _dir: dir, engine, a, b, service }
}

async fn subscribe(client: &Client, body: Value) -> Value {
    let reply = client.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

/// `n` events for `academy`, in one batch: one delivery each per hook.
async fn post_events(service: &Client, academy: &str, n: usize) {
    let events: Vec<Value> = (0..n).map(|i| json!({"event": EVENT, "academy": academy, "data": {"id": i}})).collect();
    let reply = service.post("/v1/events/batch", &json!({"events": events, "session": false})).await;
    assert_eq!(reply.status, 202, "{reply:?}");
}

/// A receiver that answers every request after `delay`.
async fn sleeping(delay: Duration) -> Receiver {
    Receiver::scripted(Arc::new(move |_, _| (StatusCode::OK, delay))).await
}

#[tokio::test]
async fn a_hook_whose_receiver_sleeps_delays_only_itself() {
    // The defaults: 64 workers, 4 attempts in flight per hook.
    let s = setup(&[]).await;
    let slow = sleeping(Duration::from_secs(5)).await;
    let fast = Receiver::ok().await;
    subscribe(&s.a, json!({"event": EVENT, "target": format!("{}/slow", slow.url)})).await;
    subscribe(&s.b, json!({"event": EVENT, "target": format!("{}/fast", fast.url)})).await;

    post_events(&s.service, "downtown-campus", 100).await;
    slow.wait_for("/slow", 4).await;
    let started = Instant::now();
    post_events(&s.service, "uptown", 1).await;
    fast.wait_for("/fast", 1).await;
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(1), "uptown's delivery waited {waited:?} behind the sleeping receiver");
    assert_eq!(slow.on("/slow").len(), 4, "the sleeping receiver got its hook's cap, no more");
    assert_eq!(slow.peak_concurrency("/slow"), 4);
}

#[tokio::test]
async fn each_hook_stays_within_its_cap_the_engines_or_its_own() {
    let s = setup(&["--delivery-max-in-flight-per-hook", "2"]).await;
    let receiver = sleeping(Duration::from_millis(300)).await;
    let default = subscribe(&s.a, json!({"event": EVENT, "target": format!("{}/default", receiver.url)})).await;
    let own =
        subscribe(&s.a, json!({"event": EVENT, "target": format!("{}/own", receiver.url), "max_in_flight": 5})).await;
    assert_eq!((default["max_in_flight"].clone(), own["max_in_flight"].clone()), (Value::Null, json!(5)));

    post_events(&s.service, "downtown-campus", 15).await;
    receiver.wait_for("/own", 15).await;
    receiver.wait_for("/default", 15).await;
    assert_eq!(receiver.peak_concurrency("/default"), 2, "the engine's cap");
    assert_eq!(receiver.peak_concurrency("/own"), 5, "the hook's own");

    // A cap changed on a live hook applies to the next claims.
    let path = format!("/v1/notify/hook/subscribe/{}", own["id"]);
    let lowered = s.a.put(&path, &json!({"max_in_flight": 1})).await;
    assert_eq!((lowered.status, lowered.body["max_in_flight"].clone()), (200, json!(1)), "{lowered:?}");
    let later =
        subscribe(&s.a, json!({"event": EVENT, "target": format!("{}/later", receiver.url), "max_in_flight": 3})).await;
    assert_eq!(s.a.put(&path, &json!({"target": format!("{}/lowered", receiver.url)})).await.status, 200);
    post_events(&s.service, "downtown-campus", 6).await;
    receiver.wait_for("/lowered", 6).await;
    receiver.wait_for("/later", 6).await;
    assert_eq!((receiver.peak_concurrency("/lowered"), receiver.peak_concurrency("/later")), (1, 3));
    let cleared = s.a.put(&path, &json!({"max_in_flight": null})).await.body;
    assert_eq!(cleared["max_in_flight"], Value::Null, "null: the engine's cap again");
    let shown = s.a.get(&format!("/v1/notify/hook/subscribe/{}", later["id"])).await.body;
    assert_eq!(shown["max_in_flight"], 3);
}

#[tokio::test]
async fn max_in_flight_is_validated_and_documented() {
    let s = setup(&[]).await;
    for (value, why) in [
        (json!(0), "max_in_flight must be between 1 and 1000"),
        (json!(1001), "max_in_flight must be between 1 and 1000"),
        (json!(-1), "invalid value"),
        (json!("many"), "invalid type"),
    ] {
        let body = json!({"event": EVENT, "target": "https://x.io/h", "max_in_flight": value});
        let reply = s.a.post("/v1/notify/hook/subscribe", &body).await;
        assert_eq!((reply.status, reply.body["slug"].clone()), (400, json!("validation-error")), "{body}: {reply:?}");
        assert!(reply.body["detail"].as_str().unwrap().contains(why), "{body}: {reply:?}");
    }
    let hook = subscribe(&s.b, json!({"event": EVENT, "target": "https://x.io/h", "max_in_flight": 1000})).await;
    let path = format!("/v1/notify/hook/subscribe/{}", hook["id"]);
    let refused = s.b.put(&path, &json!({"max_in_flight": 0})).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(s.b.get(&path).await.body["max_in_flight"], 1000, "a refused update changes nothing");
    assert_eq!(s.b.get("/v1/notify/hook/subscribe").await.body["results"][0]["max_in_flight"], 1000);

    let openapi = s.engine.client("").get("/openapi.json").await.body;
    let schemas = &openapi["components"]["schemas"];
    for schema in ["HookInput", "HookSettings"] {
        assert!(schemas[schema]["properties"]["max_in_flight"].is_object(), "{schema}: {}", schemas[schema]);
    }
}

/// `tests/fixtures/schema-v2-queue.redb` was written by the engine before
/// the per-hook queue (store schema version 2): hook 1 (academy
/// `downtown-campus`, target `http://127.0.0.1:9/gone`, nothing listens
/// there) with 10 deliveries queued and none attempted.
#[tokio::test]
async fn a_queue_stored_before_the_per_hook_index_is_still_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let fixture = wasmhook_testkit::workspace_root().join("engine/tests/fixtures/schema-v2-queue.redb");
    std::fs::copy(fixture, dir.path().join("wasmhook.redb")).unwrap();
    let engine = start(dir.path(), &["--default-timeout", "1s", "--delivery-max-in-flight-per-hook", "10"]);
    let admin = engine.client(ADMIN);

    let attempts = admin.poll("/v1/notify/hook/1/deliveries", |body| body["count"] == 10).await;
    assert_eq!(attempts["count"], 10, "every queued delivery attempted: {attempts}");
    let mut deliveries: Vec<u64> =
        attempts["results"].as_array().unwrap().iter().map(|a| a["delivery_id"].as_u64().unwrap()).collect();
    deliveries.sort_unstable();
    deliveries.dedup();
    assert_eq!(deliveries.len(), 10, "{attempts}");
    let status = admin.poll("/v1/admin/status", |body| body["queue"]["depth"] == 10).await;
    assert_eq!(status["queue"]["depth"], 10, "each failed once and waits for its retry: {status}");
}
