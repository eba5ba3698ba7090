//! The engine across starts: persistence, one process per data directory,
//! operator catalogues, and catalogue events added at run time.

mod support;

use serde_json::json;
use support::{ADMIN, start, start_failing, token};

#[tokio::test]
async fn hooks_tokens_and_added_events_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (academy_token, hook_id) = {
        let engine = start(dir.path(), &[]);
        let admin = engine.client(ADMIN);
        let added = admin
            .post(
                "/v1/catalog/events",
                &json!({"name": "orders.order_paid", "action": "orders.Order.order_paid", "category": "payments",
                        "description": "Triggered when an order is paid", "sample": {"id": 1}}),
            )
            .await;
        assert_eq!(added.status, 201, "{added:?}");
        assert_eq!(added.body["label"], "Order Paid");
        assert_eq!(added.body["signal"], "breathecode.orders.signals.order_paid");
        let academy_token = token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await;
        let academy = engine.client(&academy_token);
        let hook = academy
            .post("/v1/notify/hook/subscribe", &json!({"event": "orders.order_paid", "target": "https://x.io"}))
            .await;
        assert_eq!(hook.status, 201, "subscribing to an event added at run time works at once: {hook:?}");
        (academy_token, hook.body["id"].as_u64().unwrap())
    };

    let engine = start(dir.path(), &[]);
    let academy = engine.client(&academy_token);
    let hook = academy.get(&format!("/v1/notify/hook/subscribe/{hook_id}")).await;
    assert_eq!((hook.status, hook.body["event"].clone()), (200, json!("orders.order_paid")));
    let events = academy.get("/v1/notify/hook/event?like=order_paid").await;
    assert_eq!(events.body.as_array().unwrap().len(), 1, "{:?}", events.body);
    assert!(
        engine.data_dir.join("plugin-cache").read_dir().unwrap().count() >= 6,
        "plugins were cached on the first start"
    );
}

#[tokio::test]
async fn adding_events_is_for_superadmins_with_valid_specs() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let academy = engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "x"})).await);
    let spec = json!({"name": "orders.order_paid", "action": "orders.Order.order_paid", "description": "d"});
    assert_eq!(academy.post("/v1/catalog/events", &spec).await.status, 403);
    for (body, why) in [
        (
            json!({"name": "o.p", "action": "orders.order_paid", "description": "d"}),
            "must have the form app.Model.event_action",
        ),
        (
            json!({"name": "o.p", "action": "o.O.p", "description": "d", "serializer": "nope"}),
            "Unknown serializer plugin nope",
        ),
        (json!({"name": "form_entry.added", "action": "o.O.p", "description": "d"}), "already exists"),
        (json!({"name": "o.p", "action": "o.O.p"}), "missing field `description`"),
    ] {
        let reply = admin.post("/v1/catalog/events", &body).await;
        assert_eq!((reply.status, reply.body["slug"].clone()), (400, json!("validation-error")), "{body}");
        assert!(reply.body["detail"].as_str().unwrap().contains(why), "{body}: {}", reply.body["detail"]);
    }
    let bound = admin
        .post(
            "/v1/catalog/events",
            &json!({"name": "o.p", "action": "o.O.p", "description": "d", "serializer": "marketing"}),
        )
        .await;
    assert_eq!(bound.status, 201, "a bundled serializer can be named: {bound:?}");
}

#[test]
fn a_second_server_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = start(dir.path(), &[]);
    let second = start_failing(dir.path(), &[]);
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("is in use by another wasmhook process"), "{stderr}");
}

#[tokio::test]
async fn an_operator_catalogue_extends_or_replaces_the_built_in_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.toml");
    std::fs::write(
        &file,
        "[events.\"orders.order_paid\"]\naction = \"orders.Order.order_paid\"\ndescription = \"Paid\"\nsample = '{\"id\": 1}'\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    for (mode, expected) in [("extend", 25), ("replace", 1)] {
        let engine = start(&dir.path().join(mode), &["--catalog", path, "--catalog-mode", mode]);
        let events = engine.client(ADMIN).get("/v1/notify/hook/event").await;
        assert_eq!(events.body.as_array().unwrap().len(), expected, "{mode}");
    }
}

#[test]
fn a_malformed_catalogue_stops_the_start_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ops.toml");
    std::fs::write(&file, "# ops\n[events.\"a.b\"]\naction = \"x.Y.z\"\ndescription = 3\n").unwrap();
    let output = start_failing(&dir.path().join("data"), &["--catalog", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = stderr.lines().find(|l| l.starts_with("wasmhook:")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains(&format!("{}:4:", file.display())), "{line}");
    assert!(line.contains("invalid type"), "{line}");

    std::fs::write(&file, "[events.\"a.b\"]\naction = \"x.Y.z\"\ndescription = \"d\"\nserializer = \"nope\"\n")
        .unwrap();
    let output = start_failing(&dir.path().join("data"), &["--catalog", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("catalogue event \"a.b\" uses serializer \"nope\", which is not loaded"), "{stderr}");
}
