//! The console's actions on a hook, against the real binary and a receiver
//! on 127.0.0.1 that fails on demand: resetting its counters, and
//! replaying its failed deliveries in a time range.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{Client, Engine, Tenants, start};

const EVENT: &str = "asset.asset_status_updated";

struct Setup {
    _dir: tempfile::TempDir,
    _engine: Engine,
    admin: Client,
    /// Academy `downtown-campus`, which owns the hook.
    a: Client,
    /// Academy `uptown`.
    b: Client,
    service: Client,
    receiver: Receiver,
    /// While set, the receiver answers 503.
    failing: Arc<AtomicBool>,
    hook: Value,
}

/// An engine, and a hook of academy a on `/flaky` that is never retried
/// (so every failure is final).
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let Tenants { admin, a, b, service } = Tenants::of(&engine).await;
    let failing = Arc::new(AtomicBool::new(false));
    let fails = failing.clone();
    let receiver = Receiver::scripted(Arc::new(move |_, _| {
        let status = if fails.load(Ordering::SeqCst) { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
        (status, Duration::ZERO)
    }))
    .await;
    let body = json!({"event": EVENT, "target": format!("{}/flaky", receiver.url), "max_retries": 0});
    let reply = a.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    Setup { _dir: dir, _engine: engine, admin, a, b, service, receiver, failing, hook: reply.body }
}

impl Setup {
    fn path(&self, rest: &str) -> String {
        format!("/v1/notify/hook/{}", rest.replace("{id}", &self.hook["id"].to_string()))
    }

    /// Posts event `id` for academy a; waits until the receiver got
    /// `requests` requests in all.
    async fn deliver(&self, id: &str, requests: usize) {
        let body = json!({"event": EVENT, "academy": "downtown-campus", "data": {"id": requests}, "id": id});
        let reply = self.service.post("/v1/events", &body).await;
        assert_eq!((reply.status, &reply.body["deliveries"]), (202, &json!(1)), "{reply:?}");
        self.receiver.wait_for("/flaky", requests).await;
    }

    /// The hook's attempts, newest first, once there are `count`.
    async fn attempts(&self, count: usize) -> Vec<Value> {
        let deliveries = self.a.poll(&self.path("{id}/deliveries"), |d| d["count"] == count).await;
        deliveries["results"].as_array().unwrap().clone()
    }

    async fn retry_failed(&self, client: &Client, body: Value) -> (u16, Value) {
        let reply = client.post(&self.path("{id}/deliveries/retry-failed"), &body).await;
        (reply.status, reply.body)
    }
}

fn counters(hook: &Value) -> Value {
    json!([
        hook["total_calls"],
        hook["successes"],
        hook["consecutive_failures"],
        hook["last_call_at"].is_null(),
        hook["last_response_code"]
    ])
}

#[tokio::test]
async fn a_reset_clears_the_hook_s_counters_and_keeps_its_deliveries() {
    let s = setup().await;
    s.deliver("ok-1", 1).await;
    s.failing.store(true, Ordering::SeqCst);
    s.deliver("failing-2", 2).await;
    s.attempts(2).await;
    let hook = s.path("subscribe/{id}");
    let counted = s.a.poll(&hook, |h| h["total_calls"] == 2).await;
    assert_eq!(counters(&counted), json!([2, 1, 1, false, 503]), "{counted}");

    let reset = s.path("subscribe/{id}/stats/reset");
    let refused = s.b.post(&reset, &json!({})).await;
    assert_eq!((refused.status, &refused.body["slug"]), (404, &json!("not-found")), "another academy's hook");
    assert_eq!(s.service.post(&reset, &json!({})).await.status, 400, "a service token manages no hooks");
    assert_eq!(counters(&s.a.get(&hook).await.body), json!([2, 1, 1, false, 503]), "untouched");
    assert_eq!(s.a.post(&s.path("subscribe/999999/stats/reset"), &json!({})).await.status, 404);

    let reply = s.a.post(&reset, &json!({})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(counters(&reply.body), json!([0, 0, 0, true, null]), "{}", reply.body);
    let shown = s.a.get(&hook).await.body;
    assert_eq!(reply.body, shown, "answers the hook as GET shows it");
    assert_eq!((&shown["id"], &shown["is_active"]), (&s.hook["id"], &json!(true)));
    let log = s.attempts(2).await;
    assert_eq!(log.len(), 2, "the delivery log stays");

    // Counting goes on from zero; a superadmin resets any academy's hook.
    s.deliver("failing-3", 3).await;
    let counted = s.a.poll(&hook, |h| h["total_calls"] == 1).await;
    assert_eq!(counters(&counted), json!([1, 0, 1, false, 503]), "{counted}");
    let reply = s.admin.post(&reset, &json!({})).await;
    assert_eq!((reply.status, counters(&reply.body)), (200, json!([0, 0, 0, true, null])));
}

#[tokio::test]
async fn retry_failed_replays_exactly_the_failed_deliveries_in_range() {
    let s = setup().await;
    s.failing.store(true, Ordering::SeqCst);
    s.deliver("failing-1", 1).await;
    s.deliver("failing-2", 2).await;
    s.failing.store(false, Ordering::SeqCst);
    s.deliver("ok-3", 3).await;
    let attempts = s.attempts(3).await;
    let failed: Vec<&Value> = attempts.iter().filter(|a| a["outcome"] == "failed").collect();
    assert_eq!(failed.len(), 2, "{attempts:?}");
    let succeeded = attempts.iter().find(|a| a["outcome"] == "succeeded").unwrap();
    let failed_ids: Vec<&str> = failed.iter().map(|a| a["webhook_id"].as_str().unwrap()).collect();
    let first_failure = failed.iter().map(|a| a["sent_at"].as_str().unwrap()).min().unwrap();
    let last_sent = attempts.iter().map(|a| a["sent_at"].as_str().unwrap()).max().unwrap();

    // Ranges that hold no failure replay nothing.
    let none = json!({"replayed": 0, "delivery_ids": [], "more": false, "next_since": null});
    let before = s.retry_failed(&s.a, json!({"since": null, "until": first_failure})).await;
    assert_eq!(before, (202, none.clone()), "until is excluded");
    let after_last = last_sent.replace('Z', ".5Z");
    assert_eq!(s.retry_failed(&s.a, json!({"since": after_last})).await, (202, none.clone()));
    let (status, error) = s.retry_failed(&s.a, json!({"since": last_sent, "until": first_failure})).await;
    assert_eq!((status, &error["slug"]), (400, &json!("validation-error")), "{error}");
    let (status, error) = s.retry_failed(&s.b, json!({})).await;
    assert_eq!((status, &error["slug"]), (404, &json!("not-found")), "another academy's hook");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.receiver.count("/flaky"), 3, "nothing replayed yet");

    // Every failure (no bound): each once, under its webhook-id; not the success.
    let (status, replayed) = s.retry_failed(&s.a, json!({"since": first_failure, "until": null})).await;
    assert_eq!((status, &replayed["replayed"], &replayed["more"]), (202, &json!(2), &json!(false)), "{replayed}");
    let new_ids: Vec<u64> =
        replayed["delivery_ids"].as_array().unwrap().iter().map(|id| id.as_u64().unwrap()).collect();
    assert_eq!(new_ids.len(), 2);
    let got = s.receiver.wait_for("/flaky", 5).await;
    let mut again: Vec<&str> = got[3..].iter().map(|r| r.header("webhook-id")).collect();
    again.sort_unstable();
    let mut expected = failed_ids.clone();
    expected.sort_unstable();
    assert_eq!(again, expected, "the failed deliveries, not {}", succeeded["webhook_id"]);
    let originals: Vec<&str> = got[..2].iter().map(|r| r.body.as_str()).collect();
    assert!(got[3..].iter().all(|r| originals.contains(&r.body.as_str())), "the payloads sent the first time");
    let attempts = s.attempts(5).await;
    let mut replays: Vec<u64> = attempts[..2].iter().map(|a| a["delivery_id"].as_u64().unwrap()).collect();
    replays.sort_unstable();
    assert_eq!(replays, new_ids, "the answer names the new deliveries");
    assert!(attempts[..2].iter().all(|a| a["outcome"] == "succeeded"));

    // Once their replays succeeded, nothing is left to replay.
    assert_eq!(s.retry_failed(&s.a, json!({})).await, (202, none));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.receiver.count("/flaky"), 5, "no delivery replayed twice");
}
