//! Event ids against the real binary: unique per academy (the same id in
//! two academies is two events, each delivered to its own hooks), a reuse
//! with other content refused (409) while a retry answers the first
//! result, a batch that repeats an id refused with its index, and ids that
//! could not be sent in a `webhook-id` header refused at ingest.

use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::{ADMIN, Client, Engine, start, token};

const EVENT: &str = "asset.asset_status_updated";

struct Setup {
    _dir: tempfile::TempDir,
    _engine: Engine,
    admin: Client,
    service: Client,
    a1: Client,
    a2: Client,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    let a1 = engine.client(&token(&admin, json!({"name": "a1", "role": "academy", "academy": "a1"})).await);
    let a2 = engine.client(&token(&admin, json!({"name": "a2", "role": "academy", "academy": "a2"})).await);
    Setup { _dir: dir, _engine: engine, admin, service, a1, a2 }
}

async fn subscribe(client: &Client, target: String) -> Value {
    let reply = client.post("/v1/notify/hook/subscribe", &json!({"event": EVENT, "target": target})).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

fn event(academy: &str, id: &str, data: Value) -> Value {
    json!({"event": EVENT, "academy": academy, "id": id, "data": data})
}

fn assert_error(reply: &wasmhook_testkit::Reply, status: u16, slug: &str, detail: &str) {
    assert_eq!(
        (reply.status, reply.body["slug"].as_str(), reply.body["status_code"].as_u64()),
        (status, Some(slug), Some(u64::from(status))),
        "{reply:?}"
    );
    assert_eq!(reply.body["detail"], detail, "{reply:?}");
}

/// The reported fault: a2 posts `xacad-1`, then a1 posts the same id; a1's
/// hooks got nothing. A hook without an academy, which gets both, sees two
/// different `webhook-id`s (receivers de-duplicate on them).
#[tokio::test]
async fn the_same_id_in_two_academies_is_two_events_each_delivered_to_its_own_hooks() {
    let s = setup().await;
    let receiver = Receiver::ok().await;
    let h1 = subscribe(&s.a1, format!("{}/a1", receiver.url)).await;
    let h2 = subscribe(&s.a2, format!("{}/a2", receiver.url)).await;
    let all = subscribe(&s.admin, format!("{}/all", receiver.url)).await;

    for academy in ["a2", "a1"] {
        let reply = s.service.post("/v1/events", &event(academy, "xacad-1", json!({"id": 7}))).await;
        assert_eq!(reply.status, 202, "{reply:?}");
        assert_eq!(
            (reply.body["id"].clone(), reply.body["academy"].clone(), reply.body["deliveries"].clone()),
            (json!("xacad-1"), json!(academy), json!(2)),
            "{reply:?}"
        );
    }

    for (path, hook) in [("/a1", &h1), ("/a2", &h2)] {
        let got = receiver.wait_for(path, 1).await;
        assert_eq!(got[0].header("webhook-id"), format!("msg_xacad-1_{}", hook["id"]));
        verify(hook["secret"].as_str().unwrap(), &got[0]);
    }
    let got = receiver.wait_for("/all", 2).await;
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    assert_eq!(ids, [format!("msg.a1.xacad-1_{}", all["id"]), format!("msg.a2.xacad-1_{}", all["id"])]);
    got.iter().for_each(|request| verify(all["secret"].as_str().unwrap(), request));
}

#[tokio::test]
async fn an_id_reused_with_other_content_is_a_conflict_and_a_retry_answers_the_first_result() {
    let s = setup().await;
    let first = s.service.post("/v1/events", &event("a1", "x-1", json!({"id": 1, "status": "OK"}))).await;
    assert_eq!(first.status, 202, "{first:?}");

    // The same content, serialized otherwise: a retry.
    let body = format!(r#"{{"id": "x-1", "academy": "a1", "data": {{"status":"OK","id":1}}, "event": "{EVENT}"}}"#);
    let retry = s.service.post_raw("/v1/events", "application/json", body).await;
    assert_eq!((retry.status, &retry.body), (202, &first.body), "the first result");

    let conflict = "id \"x-1\" was already used in academy \"a1\" for an event with other content (another event or other data): post the same content again to get the first result, or use a new id";
    let other_data = s.service.post("/v1/events", &event("a1", "x-1", json!({"id": 1, "status": "LOST"}))).await;
    assert_error(&other_data, 409, "idempotency-conflict", conflict);
    let other_event =
        json!({"event": "event.event_status_updated", "academy": "a1", "id": "x-1", "data": {"id": 1, "status": "OK"}});
    assert_error(&s.service.post("/v1/events", &other_event).await, 409, "idempotency-conflict", conflict);

    // In a batch, the conflict names its item and nothing of the batch is
    // stored: `y-1` is still free for other content afterwards.
    let batch = json!({"events": [event("a1", "y-1", json!({"id": 2})), event("a1", "x-1", json!({"id": 3}))]});
    let refused = s.service.post("/v1/events/batch", &batch).await;
    assert_error(&refused, 409, "idempotency-conflict", &format!("events[1]: {conflict}"));
    let y = s.service.post("/v1/events", &event("a1", "y-1", json!({"id": 4}))).await;
    assert_eq!((y.status, y.body["status"].clone()), (202, json!("accepted")), "{y:?}");
}

#[tokio::test]
async fn a_batch_that_repeats_an_id_in_an_academy_is_refused_with_its_index() {
    let s = setup().await;
    for session in [true, false] {
        let batch = json!({"session": session, "events": [
            event("a1", "r-1", json!({"id": 1})),
            event("a2", "r-1", json!({"id": 1})),
            event("a1", "r-2", json!({"id": 2})),
            event("a1", "r-1", json!({"id": 1})),
        ]});
        let reply = s.service.post("/v1/events/batch", &batch).await;
        assert_error(
            &reply,
            400,
            "validation-error",
            "events[3]: id \"r-1\" of academy \"a1\" is already used by events[0] of this batch: an id is ingested once per academy",
        );
    }
    // Nothing was stored: each id is free for any content.
    let batch = json!({"events": [
        event("a1", "r-1", json!({"id": 5})),
        event("a2", "r-1", json!({"id": 6})),
        event("a1", "r-2", json!({"id": 7})),
    ]});
    let reply = s.service.post("/v1/events/batch", &batch).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    let academies: Vec<&Value> = reply.body["events"].as_array().unwrap().iter().map(|e| &e["academy"]).collect();
    assert_eq!(academies, [&json!("a1"), &json!("a2"), &json!("a1")], "one id in two academies is two events");
}

/// Ids with `\n`, `\r` or NUL were accepted, then failed every delivery
/// ("failed to parse header value" for `webhook-id`) until given up.
#[tokio::test]
async fn ids_that_cannot_be_sent_in_a_header_are_refused_at_ingest() {
    let s = setup().await;
    let long = "x".repeat(201);
    let refused = [
        ("a\nb", "id must not contain control characters ('\\n' at byte 1)"),
        ("a\rb", "id must not contain control characters ('\\r' at byte 1)"),
        ("a\0b", "id must not contain control characters ('\\0' at byte 1)"),
        ("a\u{7f}", "id must not contain control characters ('\\u{7f}' at byte 1)"),
        ("", "id must not be empty"),
        (&long, "id must be at most 200 bytes"),
        ("order 42", "id must be visible ASCII characters, without spaces (' ' at byte 5)"),
        ("café", "id must be visible ASCII characters, without spaces ('é' at byte 3)"),
    ];
    for (id, detail) in refused {
        let reply = s.service.post("/v1/events", &event("a1", id, json!({"id": 1}))).await;
        assert_error(&reply, 400, "validation-error", detail);
    }
    let batch = json!({"events": [event("a1", "fine", json!({"id": 1})), event("a1", "bad\r\nid", json!({"id": 2}))]});
    assert_error(
        &s.service.post("/v1/events/batch", &batch).await,
        400,
        "validation-error",
        "events[1]: id must not contain control characters ('\\r' at byte 3)",
    );
    let ok = s.service.post("/v1/events", &event("a1", &"x".repeat(200), json!({"id": 1}))).await;
    assert_eq!(ok.status, 202, "200 bytes is the limit: {ok:?}");
}
