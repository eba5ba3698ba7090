//! Ingestion and delivery against the real binary and a real receiver on
//! 127.0.0.1: payloads, Standard Webhooks signatures checked independently,
//! tenant routing, retries, 410, timeouts, replay, idempotency, sessions,
//! follow-up events, and a `kill -9` in the middle of it all.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::traffic::{Producers, slow_receiver};
use wasmhook_testkit::{ADMIN, Client, Engine, Tenants, start, token};

struct Setup {
    dir: tempfile::TempDir,
    _engine: Engine,
    admin: Client,
    a: Client,
    b: Client,
    service: Client,
}

/// Millisecond retries, so the tests do not wait minutes.
const FAST: &[&str] = &["--retry-schedule", "50ms,50ms,50ms"];

async fn setup(args: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), args);
    let Tenants { admin, a, b, service } = Tenants::of(&engine).await;
    Setup { dir, _engine: engine, admin, a, b, service }
}

fn fixture(plugin: &str, event: &str) -> Value {
    let path = wasmhook_testkit::workspace_root().join(format!("plugins/{plugin}/fixtures/{event}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn subscribe(client: &Client, body: Value) -> Value {
    let reply = client.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

async fn post_event(client: &Client, body: Value) -> Value {
    let reply = client.post("/v1/events", &body).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reply.body
}

#[tokio::test]
async fn a_subscribed_hook_receives_the_serialized_payload_signed() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    let hook = subscribe(&s.a, json!({"event": "form_entry.won_or_lost", "target": format!("{}/won", receiver.url), "headers": {"X-Team": "sales"}})).await;
    let fixture = fixture("marketing", "form_entry.won_or_lost");

    let reply = post_event(&s.service, json!({"event": "form_entry.won_or_lost", "academy": "downtown-campus", "data": fixture["source"], "id": "lead-9876-won"})).await;
    assert_eq!(
        (reply["id"].clone(), reply["event"].clone(), reply["deliveries"].clone()),
        (json!("lead-9876-won"), json!("form_entry.won_or_lost"), json!(1))
    );

    let got = receiver.wait_for("/won", 1).await;
    let request = &got[0];
    assert_eq!(request.json(), fixture["payload"], "exactly the seed's payload");
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("content-type"), "application/json");
    assert!(request.header("user-agent").starts_with("Wasmhook/"), "{request:?}");
    assert_eq!(request.header("x-team"), "sales");
    assert_eq!(request.header("webhook-id"), format!("msg_lead-9876-won_{}", hook["id"]));
    verify(hook["secret"].as_str().unwrap(), request);

    // Stats, the attempt log and the hook's sample follow.
    let path = format!("/v1/notify/hook/subscribe/{}", hook["id"]);
    let stats = s.a.poll(&path, |hook| hook["total_calls"] == 1).await;
    assert_eq!((stats["total_calls"].clone(), stats["last_response_code"].clone()), (json!(1), json!(200)), "{stats}");
    assert!(stats["last_call_at"].is_string());
    let attempts = s.a.get(&format!("/v1/notify/hook/{}/deliveries", hook["id"])).await.body;
    assert_eq!(attempts["count"], 1);
    let attempt = &attempts["results"][0];
    assert_eq!(
        (attempt["attempt"].clone(), attempt["outcome"].clone(), attempt["response_status"].clone()),
        (json!(1), json!("succeeded"), json!(200))
    );
    assert_eq!(attempt["response_body"], "{\"ok\": true}");
    assert!(attempt["duration_ms"].is_u64());
    let sample = s.a.get(&format!("/v1/notify/hook/{}/sample", hook["id"])).await.body;
    assert_eq!(sample, fixture["payload"], "the last payload delivered");
}

#[tokio::test]
async fn events_reach_their_academys_hooks_and_superadmin_hooks_only() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/a", receiver.url)})).await;
    subscribe(&s.b, json!({"event": "asset.asset_status_updated", "target": format!("{}/b", receiver.url)})).await;
    subscribe(&s.admin, json!({"event": "asset.asset_status_updated", "target": format!("{}/all", receiver.url)}))
        .await;
    subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/inactive", receiver.url), "is_active": false})).await;

    let reply = post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}}),
    )
    .await;
    assert_eq!(reply["deliveries"], 2, "a's hook and the superadmin's");
    post_event(&s.admin, json!({"event": "asset.asset_status_updated", "academy": "uptown", "data": {"id": 2}})).await;
    let all = receiver.wait_for("/all", 2).await;
    let mut ids: Vec<Value> = all.iter().map(|r| r.json()["id"].clone()).collect();
    ids.sort_by_key(|v| v.as_u64());
    assert_eq!(ids, [json!(1), json!(2)]);
    assert_eq!(
        receiver.wait_for("/a", 1).await[0].json(),
        json!({"id": 1}),
        "events without a serializer send their source object"
    );
    assert_eq!(receiver.wait_for("/b", 1).await[0].json(), json!({"id": 2}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((receiver.on("/a").len(), receiver.on("/b").len(), receiver.on("/inactive").len()), (1, 1, 0));

    // Producers only; bad events are refused with the seed's errors.
    assert_eq!(
        s.a.post("/v1/events", &json!({"event": "asset.asset_status_updated", "academy": "x", "data": {}}))
            .await
            .status,
        403
    );
    let unknown = s.service.post("/v1/events", &json!({"event": "nope.nope", "academy": "x", "data": {}})).await;
    assert_eq!(
        unknown.body,
        json!({"detail": "Unexpected event nope.nope", "slug": "invalid-event", "status_code": 400})
    );
    let no_academy = s.service.post("/v1/events", &json!({"event": "asset.asset_status_updated", "data": {}})).await;
    assert_eq!((no_academy.status, no_academy.body["detail"].clone()), (400, json!("academy is required")));
    let by_action = post_event(
        &s.service,
        json!({"action": "registry.Asset.asset_status_updated", "academy": "uptown", "data": {"id": 3}}),
    )
    .await;
    assert_eq!(by_action["event"], "asset.asset_status_updated");
}

#[tokio::test]
async fn failures_are_retried_with_the_same_webhook_id_and_recorded() {
    let s = setup(FAST).await;
    let receiver = Receiver::scripted(Arc::new(|_, n| {
        (if n < 2 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }, Duration::ZERO)
    }))
    .await;
    let hook =
        subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/flaky", receiver.url)}))
            .await;
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 7}}),
    )
    .await;

    let got = receiver.wait_for("/flaky", 3).await;
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids, [ids[0]; 3], "one webhook-id for every attempt");
    for request in &got {
        verify(hook["secret"].as_str().unwrap(), request);
    }
    let attempts = s.a.poll(&format!("/v1/notify/hook/{}/deliveries", hook["id"]), |a| a["count"] == 3).await;
    let outcomes: Vec<(Value, Value, Value)> = attempts["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["attempt"].clone(), a["outcome"].clone(), a["response_status"].clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!(3), json!("succeeded"), json!(200)),
            (json!(2), json!("failed"), json!(503)),
            (json!(1), json!("failed"), json!(503))
        ]
    );
    let errors = s.a.get("/v1/notify/hook/errors").await.body;
    assert_eq!(errors["count"], 2, "{errors}");
    assert_eq!(errors["results"][0]["message"], "the receiver answered 503");
    assert_eq!(s.b.get("/v1/notify/hook/errors").await.body["count"], 0, "errors are the academy's own");

    // A replay delivers the same payload, with the same webhook-id.
    let delivery_id = attempts["results"][0]["delivery_id"].as_u64().unwrap();
    let replay = s.a.post(&format!("/v1/notify/hook/{}/deliveries/{delivery_id}/retry", hook["id"]), &json!({})).await;
    assert_eq!(replay.status, 202, "{replay:?}");
    let got = receiver.wait_for("/flaky", 4).await;
    assert_eq!((got[3].header("webhook-id"), got[3].body.as_str()), (ids[0], got[0].body.as_str()));
    assert_eq!(
        s.b.post(&format!("/v1/notify/hook/{}/deliveries/{delivery_id}/retry", hook["id"]), &json!({})).await.status,
        404
    );
}

#[tokio::test]
async fn gone_disables_the_hook_and_timeouts_and_max_retries_end_deliveries() {
    let s = setup(FAST).await;
    let receiver = Receiver::scripted(Arc::new(|path, _| match path {
        "/gone" => (StatusCode::GONE, Duration::ZERO),
        "/slow" => (StatusCode::OK, Duration::from_secs(3)),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO),
    }))
    .await;
    let gone =
        subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/gone", receiver.url)}))
            .await;
    let slow = subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/slow", receiver.url), "timeout": 1, "max_retries": 0})).await;
    let broken = subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/broken", receiver.url), "max_retries": 1, "auto_disable_after_failures": 2})).await;
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}}),
    )
    .await;

    receiver.wait_for("/gone", 1).await;
    receiver.wait_for("/slow", 1).await;
    receiver.wait_for("/broken", 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        (receiver.on("/gone").len(), receiver.on("/slow").len(), receiver.on("/broken").len()),
        (1, 1, 2),
        "no retries past the limits"
    );
    let hook = |h: &Value| format!("/v1/notify/hook/subscribe/{}", h["id"]);
    assert_eq!(s.a.get(&hook(&gone)).await.body["is_active"], false, "410 Gone deactivates");
    assert_eq!(s.a.get(&hook(&broken)).await.body["is_active"], false, "auto-disabled after 2 failures");
    assert_eq!(s.a.get(&hook(&slow)).await.body["is_active"], true);
    let slow_attempt = &s.a.get(&format!("/v1/notify/hook/{}/deliveries", slow["id"])).await.body["results"][0];
    assert!(slow_attempt["error"].as_str().unwrap().contains("no answer within 1 s"), "{slow_attempt}");

    let reply = post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 2}}),
    )
    .await;
    assert_eq!(reply["deliveries"], 1, "inactive hooks receive nothing");
}

#[tokio::test]
async fn the_same_event_id_is_ingested_once_and_webhooks_can_be_suppressed() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/once", receiver.url)})).await;
    let event =
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}, "id": "evt-1"});
    let first = post_event(&s.service, event.clone()).await;
    let second = post_event(&s.service, event).await;
    assert_eq!(first, second, "the first result, again");
    receiver.wait_for("/once", 1).await;

    let suppressed = post_event(&s.service, json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 2}, "disable_webhooks": true})).await;
    assert_eq!((suppressed["status"].clone(), suppressed["deliveries"].clone()), (json!("suppressed"), json!(0)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.on("/once").len(), 1);
    drop(s.dir);
}

#[tokio::test]
async fn the_operator_switch_suppresses_every_webhook() {
    let s = setup(&["--disable-webhooks"]).await;
    let receiver = Receiver::ok().await;
    subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/off", receiver.url)})).await;
    let reply = post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}}),
    )
    .await;
    assert_eq!((reply["status"].clone(), reply["deliveries"].clone()), (json!("suppressed"), json!(0)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_session_batch_coalesces_changes_of_one_object() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    let deleted = s.admin.post("/v1/catalog/events", &json!({"name": "asset.deleted", "action": "registry.Asset.deleted+", "description": "An asset was deleted"})).await;
    assert_eq!(deleted.status, 201);
    let created = s.admin.post("/v1/catalog/events", &json!({"name": "asset.created", "action": "registry.Asset.created+", "description": "An asset was created"})).await;
    assert_eq!(created.status, 201);
    let updated = s.admin.post("/v1/catalog/events", &json!({"name": "asset.updated", "action": "registry.Asset.updated+", "description": "An asset was updated"})).await;
    assert_eq!(updated.status, 201);
    for event in ["asset.created", "asset.updated", "asset.deleted"] {
        subscribe(&s.a, json!({"event": event, "target": format!("{}/{event}", receiver.url)})).await;
    }
    let change = |action: &str, data: Value| json!({"action": action, "academy": "downtown-campus", "data": data});
    let batch = json!({"events": [
        change("registry.Asset.created+", json!({"id": 1, "title": "v1"})),
        change("registry.Asset.updated+", json!({"id": 1, "title": "v2"})),
        change("registry.Asset.created+", json!({"id": 2})),
        change("registry.Asset.deleted+", json!({"id": 2})),
        change("registry.Asset.updated+", json!({"id": 3, "title": "a"})),
        change("registry.Asset.updated+", json!({"id": 3, "title": "b"})),
    ]});
    let reply = s.service.post("/v1/events/batch", &batch).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let events: Vec<(Value, Value)> = reply.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["event"].clone(), e["deliveries"].clone()))
        .collect();
    assert_eq!(events, [(json!("asset.created"), json!(1)), (json!("asset.updated"), json!(1))]);
    assert_eq!(receiver.wait_for("/asset.created", 1).await[0].json(), json!({"id": 1, "title": "v2"}));
    assert_eq!(receiver.wait_for("/asset.updated", 1).await[0].json(), json!({"id": 3, "title": "b"}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 2, "nothing for the object created and deleted");

    let plain = json!({"session": false, "events": batch["events"]});
    let reply = s.service.post("/v1/events/batch", &plain).await;
    assert_eq!(reply.body["events"].as_array().unwrap().len(), 6, "without a session every change counts");
}

#[tokio::test]
async fn the_mentorship_plugin_routes_to_the_mentors_academy_and_emits_the_starting_event() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    // The mentor belongs to downtown-campus; the session is reported for uptown.
    subscribe(
        &s.a,
        json!({"event": "session.mentorship_session_status", "target": format!("{}/status", receiver.url)}),
    )
    .await;
    subscribe(
        &s.a,
        json!({"event": "session.mentorship_session_starting", "target": format!("{}/starting", receiver.url)}),
    )
    .await;
    subscribe(
        &s.b,
        json!({"event": "session.mentorship_session_status", "target": format!("{}/uptown", receiver.url)}),
    )
    .await;
    let fixture = fixture("mentorship", "session.mentorship_session_status");
    let reply = post_event(&s.service, json!({"event": "session.mentorship_session_status", "academy": "uptown", "data": fixture["source"], "id": "session-889"})).await;
    assert_eq!((reply["deliveries"].clone(), reply["follow_ups"].clone()), (json!(1), json!(["session-889.0"])));

    assert_eq!(receiver.wait_for("/status", 1).await[0].json(), fixture["payload"]);
    let starting = receiver.wait_for("/starting", 1).await[0].json();
    assert_eq!((starting["session_id"].clone(), starting["service"].clone()), (json!(889), json!("code-review")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.on("/uptown").is_empty(), "the reporting academy's hooks do not get it");
}

#[tokio::test]
async fn records_past_the_retention_period_are_pruned() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    let hook =
        subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/r", receiver.url)})).await;
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}, "id": "old"}),
    )
    .await;
    receiver.wait_for("/r", 1).await;
    let deliveries = format!("/v1/notify/hook/{}/deliveries", hook["id"]);
    assert_eq!(s.a.poll(&deliveries, |d| d["count"] == 1).await["count"], 1);
    let Setup { dir, _engine: engine, a, service, .. } = s;
    drop(engine);
    tokio::time::sleep(Duration::from_millis(1100)).await; // make "now" strictly later

    // Retention 0 days: everything before this start goes.
    let engine = start(dir.path(), &["--retention-days", "0"]);
    let a = Client::rebind(&a, &engine);
    let count = a.poll(&deliveries, |d| d["count"] == 0).await["count"].clone();
    assert_eq!(count, 0, "the attempt was pruned");
    let again = post_event(
        &Client::rebind(&service, &engine),
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 1}, "id": "old"}),
    )
    .await;
    assert_eq!(again["deliveries"], 1, "the pruned event's id is new again");
}

#[tokio::test]
async fn an_academys_transformer_reshapes_only_its_own_hooks_deliveries() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    let mine =
        subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/slack", receiver.url)}))
            .await;
    let theirs =
        subscribe(&s.b, json!({"event": "asset.asset_status_updated", "target": format!("{}/raw", receiver.url)}))
            .await;
    let slack = wasmhook::bundled::find("slack-transformer").unwrap().wasm;
    let path = |hook: &Value| format!("/v1/notify/hook/subscribe/{}/transformer", hook["id"]);

    let attached = s.a.put_bytes(&path(&mine), slack.to_vec()).await;
    assert_eq!(attached.status, 200, "{attached:?}");
    assert_eq!(attached.body["size"], slack.len());
    assert_eq!(s.a.get(&path(&mine)).await.body["sha256"], attached.body["sha256"]);
    assert_eq!(s.b.put_bytes(&path(&mine), slack.to_vec()).await.status, 404, "not b's hook");
    for (bytes, why) in [
        (b"not wasm at all".to_vec(), "not a WebAssembly component"),
        (wasmhook::bundled::find("events").unwrap().wasm.to_vec(), "does not implement the `hook-transformer` world"),
    ] {
        let refused = s.b.put_bytes(&path(&theirs), bytes).await;
        assert_eq!((refused.status, refused.body["slug"].clone()), (400, json!("invalid-plugin")), "{refused:?}");
        assert!(refused.body["detail"].as_str().unwrap().contains(why), "{refused:?}");
    }
    assert_eq!(s.b.get(&path(&theirs)).await.status, 404, "nothing attached by refused uploads");

    post_event(&s.service, json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 5, "status": "PUBLISHED"}})).await;
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "uptown", "data": {"id": 6, "status": "DRAFT"}}),
    )
    .await;
    let slacked = &receiver.wait_for("/slack", 1).await[0];
    assert_eq!(slacked.json(), json!({"text": "*asset.asset_status_updated*\n• id: 5\n• status: PUBLISHED"}));
    verify(mine["secret"].as_str().unwrap(), slacked);
    assert_eq!(
        receiver.wait_for("/raw", 1).await[0].json(),
        json!({"id": 6, "status": "DRAFT"}),
        "b's hook is untouched"
    );

    // The transformer cancels payloads that are not objects: recorded, not sent.
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": [1, 2]}),
    )
    .await;
    let deliveries = format!("/v1/notify/hook/{}/deliveries", mine["id"]);
    let cancelled = s.a.poll(&deliveries, |d| d["results"][0]["outcome"] == "cancelled").await["results"][0].clone();
    assert_eq!(cancelled["error"], "the hook's transformer cancelled the delivery", "{cancelled}");
    assert_eq!(receiver.on("/slack").len(), 1);

    assert_eq!(s.a.delete(&path(&mine)).await.status, 204);
    post_event(
        &s.service,
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 7}}),
    )
    .await;
    assert_eq!(receiver.wait_for("/slack", 2).await[1].json(), json!({"id": 7}), "detached: raw again");
}

#[tokio::test]
async fn a_replay_of_a_transformed_delivery_transforms_the_event_s_payload_once() {
    let s = setup(FAST).await;
    let receiver = Receiver::ok().await;
    let hook =
        subscribe(&s.a, json!({"event": "asset.asset_status_updated", "target": format!("{}/slack", receiver.url)}))
            .await;
    let slack = wasmhook::bundled::find("slack-transformer").unwrap().wasm.to_vec();
    let attached = s.a.put_bytes(&format!("/v1/notify/hook/subscribe/{}/transformer", hook["id"]), slack).await;
    assert_eq!(attached.status, 200, "{attached:?}");
    post_event(&s.service, json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 5, "status": "PUBLISHED"}})).await;
    let slacked = receiver.wait_for("/slack", 1).await.remove(0);
    assert_eq!(slacked.json(), json!({"text": "*asset.asset_status_updated*\n• id: 5\n• status: PUBLISHED"}));

    // The log shows the body sent; the replay starts from the event's
    // payload, not from what the transformer made of it.
    let deliveries = format!("/v1/notify/hook/{}/deliveries", hook["id"]);
    let logged = s.a.poll(&deliveries, |d| d["results"][0]["outcome"] == "succeeded").await["results"][0].clone();
    assert_eq!(serde_json::from_str::<Value>(logged["payload"].as_str().unwrap()).unwrap(), slacked.json());
    let replay = s.a.post(&format!("{deliveries}/{}/retry", logged["delivery_id"]), &json!({})).await;
    assert_eq!(replay.status, 202, "{replay:?}");
    let replayed = receiver.wait_for("/slack", 2).await.remove(1);
    assert_eq!((replayed.json(), replayed.header("webhook-id")), (slacked.json(), slacked.header("webhook-id")));
    verify(hook["secret"].as_str().unwrap(), &replayed);
}

/// `kill -9` while events are ingested and delivered: every acknowledged
/// event is delivered after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_acknowledged_is_lost_to_a_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    // A slow receiver and few workers before the kill, so deliveries are
    // pending when it comes; a fast one after.
    let (receiver, slow) = slow_receiver().await;
    let engine = start(dir.path(), &["--retry-schedule", "50ms", "--delivery-concurrency", "2"]);
    let admin = engine.client(ADMIN);
    let service_token = token(&admin, json!({"name": "app", "role": "service"})).await;
    subscribe(
        &engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await),
        json!({"event": "asset.asset_status_updated", "target": format!("{}/k", receiver.url)}),
    )
    .await;

    // The producers post until the engine dies; the ids they got 202 for
    // are the acknowledged ones.
    let producers = Producers::start(&engine, &service_token, "asset.asset_status_updated", "downtown-campus", "");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    engine.kill9();
    let acknowledged = producers.acknowledged().await;
    assert!(acknowledged.len() > 50, "the test must kill the engine mid-traffic: {} acknowledged", acknowledged.len());
    let delivered_before = receiver.on("/k").len();
    assert!(
        delivered_before < acknowledged.len(),
        "deliveries were still pending at the kill ({delivered_before} of {})",
        acknowledged.len()
    );

    slow.store(false, std::sync::atomic::Ordering::Relaxed);
    let _engine = start(dir.path(), FAST);
    receiver.wait_for_events("/k", &acknowledged).await;
}
