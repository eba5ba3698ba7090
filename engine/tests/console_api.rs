//! The API routes the console (issue 13) needs, against the real binary:
//! `GET /v1/me`, a hook's test send, and `GET /v1/admin/activity`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Receiver, signed_by, verify};
use wasmhook_testkit::{ADMIN, Client, Engine, Tenants, start, start_with};

const EVENT: &str = "form_entry.won_or_lost";

struct Setup {
    _dir: tempfile::TempDir,
    engine: Engine,
    tenants: Tenants,
}

/// An engine with one retry an hour away, so a failed delivery is one
/// attempt; `envs` replace the testkit's defaults.
async fn setup(envs: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = if envs.is_empty() {
        start(dir.path(), &["--retry-schedule", "1h"])
    } else {
        start_with(dir.path(), &["--retry-schedule", "1h"], envs, false)
    };
    let tenants = Tenants::of(&engine).await;
    Setup { _dir: dir, engine, tenants }
}

/// A hook of `client`'s academy (`downtown-campus` for tenant `a`) with
/// `extra` settings; the created hook, with its secret.
async fn subscribe(client: &Client, target: &str, extra: Value) -> Value {
    let mut body = json!({"event": EVENT, "target": target});
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    let reply = client.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

/// Posts one event to the hooks of `downtown-campus`.
async fn post_event(service: &Client) {
    let fixture = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let event = json!({"event": EVENT, "academy": "downtown-campus", "data": fixture["source"]});
    let reply = service.post("/v1/events", &event).await;
    assert_eq!(reply.status, 202, "{reply:?}");
}

async fn test_send(client: &Client, hook: &Value) -> (u16, Value) {
    let reply = client.post(&format!("/v1/notify/hook/subscribe/{}/test", hook["id"]), &json!({})).await;
    (reply.status, reply.body)
}

/// A header of a JSON list of `[name, value]` pairs.
fn header<'a>(headers: &'a Value, name: &str) -> Option<&'a str> {
    headers.as_array().unwrap().iter().find(|pair| pair[0] == name).and_then(|pair| pair[1].as_str())
}

async fn me(client: &Client) -> (u16, Value) {
    let reply = client.get("/v1/me").await;
    (reply.status, reply.body)
}

#[tokio::test]
async fn me_says_who_the_token_is() {
    let s = setup(&[]).await;
    let Tenants { admin, a, service, .. } = &s.tenants;
    assert_eq!(me(admin).await, (200, json!({"role": "superadmin", "academy": null})));
    assert_eq!(me(a).await, (200, json!({"role": "academy", "academy": "downtown-campus"})));
    assert_eq!(me(&s.tenants.b).await, (200, json!({"role": "academy", "academy": "uptown"})));
    assert_eq!(me(service).await, (200, json!({"role": "service", "academy": null})));
    // The bootstrap token, and one created through the API.
    assert_eq!(admin.token(), ADMIN);
    let created = wasmhook_testkit::token(admin, json!({"name": "ops", "role": "superadmin"})).await;
    assert_eq!(me(&s.engine.client(&created)).await, (200, json!({"role": "superadmin", "academy": null})));
    let (status, body) = me(&s.engine.client("whk_not-a-token")).await;
    assert_eq!((status, &body["slug"], &body["status_code"]), (401, &json!("invalid-token"), &json!(401)), "{body}");
    let (status, body) = me(&s.engine.client("")).await;
    assert_eq!((status, &body["slug"]), (401, &json!("not-authenticated")), "{body}");
}

#[tokio::test]
async fn a_test_send_is_signed_made_as_a_delivery_and_recorded_nowhere() {
    let s = setup(&[]).await;
    let Tenants { a, b, service, .. } = &s.tenants;
    let receiver = Receiver::scripted(Arc::new(|path, _| {
        (if path == "/teapot" { StatusCode::IM_A_TEAPOT } else { StatusCode::ACCEPTED }, Duration::ZERO)
    }))
    .await;
    let hook = subscribe(
        a,
        &format!("{}/hook", receiver.url),
        json!({"method": "PUT", "headers": {"x-api-key": "k-123"}, "is_active": false}),
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();

    let (status, sent) = test_send(a, &hook).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!((&sent["status"], &sent["error"]), (&json!(202), &Value::Null), "{sent}");
    assert_eq!(sent["response_body"], "{\"ok\": true}");
    assert!(header(&sent["response_headers"], "content-length").is_some(), "{sent}");
    assert!(sent["duration_ms"].is_u64());
    let webhook_id = sent["webhook_id"].as_str().unwrap();
    assert!(webhook_id.starts_with("msg_test_"), "{sent}");
    let body: Value = serde_json::from_str(sent["request"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["type"], "wasmhook.test");
    assert!(body["data"]["message"].is_string() && body["timestamp"].is_string(), "{body}");
    let headers = &sent["request"]["headers"];
    assert_eq!(header(headers, "webhook-id"), Some(webhook_id));
    assert_eq!(header(headers, "x-api-key"), Some("<redacted>"), "custom headers by name only: {headers}");
    assert_eq!(header(headers, "webhook-signature"), None, "the signature is not shown: {headers}");

    // The receiver got it, as a delivery: the hook's method, headers and
    // a signature by its secret (even though the hook is inactive).
    let got = receiver.wait_for("/hook", 1).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "PUT");
    assert_eq!(got[0].header("x-api-key"), "k-123");
    assert_eq!(got[0].header("webhook-id"), webhook_id);
    assert_eq!(got[0].body, sent["request"]["body"].as_str().unwrap());
    verify(secret, &got[0]);

    // Nothing recorded: no attempt, no stats.
    let path = format!("/v1/notify/hook/{}/deliveries", hook["id"]);
    let log = a.get(&path).await;
    assert_eq!((log.status, &log.body["count"]), (200, &json!(0)), "{log:?}");
    let view = a.get(&format!("/v1/notify/hook/subscribe/{}", hook["id"])).await.body;
    assert_eq!((&view["total_calls"], &view["last_response_code"]), (&json!(0), &Value::Null), "{view}");

    // During a rotation both secrets sign, as in deliveries.
    let rotated = a.post(&format!("/v1/notify/hook/subscribe/{}/secret/rotate", hook["id"]), &json!({})).await;
    assert_eq!(rotated.status, 200, "{rotated:?}");
    assert_eq!(test_send(a, &hook).await.0, 200);
    let got = receiver.wait_for("/hook", 2).await;
    assert!(signed_by(secret, &got[1]) && signed_by(rotated.body["secret"].as_str().unwrap(), &got[1]));

    // The target's own status is reported.
    let teapot = subscribe(a, &format!("{}/teapot", receiver.url), json!({})).await;
    let (status, sent) = test_send(a, &teapot).await;
    assert_eq!((status, &sent["status"], &sent["error"]), (200, &json!(418), &Value::Null), "{sent}");

    // A closed port: the test's result, not the API's failure.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let nowhere = subscribe(a, &format!("http://{closed}/gone"), json!({})).await;
    let (status, sent) = test_send(a, &nowhere).await;
    assert_eq!((status, &sent["status"]), (200, &Value::Null), "{sent}");
    assert!(sent["error"].as_str().is_some_and(|e| !e.is_empty()), "{sent}");

    // Another academy's hook is not found; a service token manages no hooks.
    let (status, body) = test_send(b, &hook).await;
    assert_eq!((status, &body["slug"]), (404, &json!("not-found")), "{body}");
    let (status, body) = test_send(service, &hook).await;
    assert_eq!((status, &body["slug"]), (400, &json!("invalid-academy-token")), "{body}");
    assert_eq!(receiver.on("/hook").len(), 2, "refused callers sent nothing");
    // The superadmin tests any academy's hook.
    assert_eq!(test_send(&s.tenants.admin, &hook).await.1["status"], 202);
}

#[tokio::test]
async fn a_test_send_keeps_to_the_target_policy() {
    // Loopback not allowed: the engine's own default.
    let s = setup(&[("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "")]).await;
    let receiver = Receiver::ok().await;
    let port = receiver.url.rsplit(':').next().unwrap();
    // A name is judged on the address it resolves to, when connecting.
    let hook = subscribe(&s.tenants.a, &format!("http://localhost:{port}/hook"), json!({})).await;
    let (status, sent) = test_send(&s.tenants.a, &hook).await;
    assert_eq!((status, &sent["status"], &sent["response_body"]), (200, &Value::Null, &Value::Null), "{sent}");
    let error = sent["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("target localhost (") && error.contains("is in a denied network (loopback)"), "{sent}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.received().is_empty(), "{:?}", receiver.received());
}

#[tokio::test]
async fn activity_counts_events_and_attempts_per_minute() {
    let s = setup(&[]).await;
    let Tenants { admin, a, service, .. } = &s.tenants;
    let receiver = Receiver::scripted(Arc::new(|path, _| {
        (if path == "/fail" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK }, Duration::ZERO)
    }))
    .await;
    let ok = subscribe(a, &format!("{}/ok", receiver.url), json!({})).await;
    let fail = subscribe(a, &format!("{}/fail", receiver.url), json!({})).await;

    let activity = admin.get("/v1/admin/activity").await;
    assert_eq!(activity.status, 200, "{activity:?}");
    let minutes = activity.body["minutes"].as_array().unwrap();
    assert_eq!(minutes.len(), 60);
    let at = |m: &Value| m["at"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_second();
    assert!(minutes.windows(2).all(|w| at(&w[1]) - at(&w[0]) == 60), "{minutes:?}");
    let now = jiff::Timestamp::now().as_second();
    let last = at(minutes.last().unwrap());
    assert!(last % 60 == 0 && (0..120).contains(&(now - last)), "the last entry is the current minute: {last} {now}");
    assert!(minutes.iter().all(|m| m["events"] == 0 && m["deliveries"] == 0), "a new engine: {minutes:?}");

    post_event(service).await;
    for hook in [&ok, &fail] {
        let path = format!("/v1/notify/hook/{}/deliveries", hook["id"]);
        let log = a.poll(&path, |body| body["count"] == 1).await;
        assert_eq!(log["count"], 1, "{log}");
    }
    let totals = |body: &Value| {
        let sum = |key: &str| body["minutes"].as_array().unwrap().iter().map(|m| m[key].as_u64().unwrap()).sum::<u64>();
        [sum("events"), sum("deliveries"), sum("delivered"), sum("failed")]
    };
    let body = admin.poll("/v1/admin/activity", |body| totals(body)[1] == 2).await;
    assert_eq!(totals(&body), [1, 2, 1, 1], "{body}");
    // In the current minute (or the one before, if it just turned).
    let minutes = body["minutes"].as_array().unwrap();
    let recent = [&minutes[58], &minutes[59]];
    assert_eq!(recent.iter().map(|m| m["deliveries"].as_u64().unwrap()).sum::<u64>(), 2, "{body}");

    // A test send is no delivery.
    assert_eq!(test_send(a, &ok).await.1["status"], 200);
    assert_eq!(totals(&admin.get("/v1/admin/activity").await.body), [1, 2, 1, 1]);

    // The operator's only.
    let refused = a.get("/v1/admin/activity").await;
    assert_eq!((refused.status, &refused.body["slug"]), (403, &json!("permission-denied")), "{refused:?}");
}
