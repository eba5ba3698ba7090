//! A data directory written by the previous schema version opens and goes
//! on: `fixtures/v2-store/wasmhook.redb` was written by wasmhook at schema
//! version 2 (see `fixtures/make-v2-store.sh`), with four deliveries queued
//! for two hooks whose target did not answer. The engine migrates it at
//! start and delivers them.

use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::{ADMIN, start};

/// Retries 100 ms apart: the queued jobs were due long ago, and the first
/// attempt after the start may still go to the fixture's dead target.
const RETRIES: &[&str] = &["--retry-schedule", "100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms"];

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-store/wasmhook.redb")
}

fn lead() -> Value {
    let path = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["source"].clone()
}

#[tokio::test]
async fn a_version_2_store_is_migrated_and_its_queued_deliveries_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture(), dir.path().join("wasmhook.redb")).unwrap();
    let engine = start(dir.path(), RETRIES);
    let admin = engine.client(ADMIN);
    let receiver = Receiver::ok().await;

    // The hooks of version 2, pointed at the receiver.
    for (hook, path) in [(1, "/v2"), (2, "/upgrade")] {
        let target = json!({"target": format!("{}{path}", receiver.url)});
        let reply = admin.put(&format!("/v1/notify/hook/subscribe/{hook}"), &target).await;
        assert_eq!(reply.status, 200, "{reply:?}");
    }

    // Hook 1 gets both queued events, signed with its version 2 secret.
    let got = receiver.wait_for("/v2", 2).await;
    let mut ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort();
    assert_eq!(ids, ["msg_v2-1_1", "msg_v2-2_1"]);
    let secret = admin.get("/v1/notify/hook/subscribe/1/secret").await.body["secret"].as_str().unwrap().to_owned();
    got.iter().for_each(|request| verify(&secret, request));

    // Hook 2 kept the `Upgrade` header version 2 accepted: its deliveries
    // are failed attempts that say why, and nothing is sent.
    let refused = |body: &Value| {
        body["results"].as_array().is_some_and(|attempts| {
            attempts
                .iter()
                .filter(|a| a["error"].as_str().is_some_and(|e| e.contains("\"Upgrade\" is a connection")))
                .count()
                >= 2
        })
    };
    let attempts = admin.poll("/v1/notify/hook/2/deliveries", refused).await;
    assert!(refused(&attempts), "{attempts}");
    assert!(receiver.on("/upgrade").is_empty(), "{:?}", receiver.on("/upgrade"));

    // The version 2 event records answer under their academy. They have no
    // content digest: the same id answers the first result, whatever the
    // content, as it did in version 2.
    let event = |academy: &str, data: Value| json!({"event": "form_entry.won_or_lost", "academy": academy, "id": "v2-1", "data": data});
    let again = admin.post("/v1/events", &event("downtown-campus", lead())).await;
    assert_eq!(again.status, 202, "{again:?}");
    assert_eq!(again.body["deliveries"], 2, "the record of version 2: {again:?}");
    let other = admin.post("/v1/events", &event("downtown-campus", json!({"id": 1}))).await;
    assert_eq!((other.status, &other.body), (202, &again.body), "no digest to compare with");
    // Another academy's `v2-1` is another event.
    let uptown = admin.post("/v1/events", &event("uptown", lead())).await;
    assert_eq!(uptown.status, 202, "{uptown:?}");
    assert_eq!((uptown.body["academy"].clone(), uptown.body["deliveries"].clone()), (json!("uptown"), json!(0)));
}
