//! Names and headers that clients choose, checked at the door against the
//! real binary: token names and roles, hooks' `service_id`, and the
//! connection and framing headers a hook may not set. Each refusal is a
//! 400 that says what is wrong, and stores nothing.

use serde_json::{Value, json};
use wasmhook_testkit::{ADMIN, Client, Reply, start, token};

fn assert_refused(reply: &Reply, detail: &str) {
    assert_eq!((reply.status, reply.body["slug"].as_str()), (400, Some("validation-error")), "{reply:?}");
    assert_eq!(reply.body["detail"], detail, "{reply:?}");
}

#[tokio::test]
async fn token_names_and_roles_are_checked_together() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let create = |body: Value| {
        let admin = &admin;
        async move { admin.post("/v1/admin/tokens", &body).await }
    };
    for (name, detail) in [
        ("a\0b", "name must not contain control characters ('\\0' at byte 1)"),
        ("line\nbreak", "name must not contain control characters ('\\n' at byte 4)"),
        ("   ", "name must not be blank"),
        ("", "name must not be empty"),
    ] {
        assert_refused(&create(json!({"name": name, "role": "service"})).await, detail);
    }
    assert_refused(
        &create(json!({"name": "x".repeat(201), "role": "service"})).await,
        "name must be at most 200 bytes",
    );

    // `academy` belongs to the academy role only: never silently dropped.
    assert_refused(
        &create(json!({"name": "ops", "role": "superadmin", "academy": "a1"})).await,
        "a superadmin token has no academy: leave `academy` out, or create an `academy` token",
    );
    assert_refused(
        &create(json!({"name": "app", "role": "service", "academy": "a1"})).await,
        "a service token has no academy: leave `academy` out, or create an `academy` token",
    );
    assert_refused(&create(json!({"name": "a", "role": "academy"})).await, "an academy token needs its `academy`");
    assert_refused(
        &create(json!({"name": "a", "role": "academy", "academy": null})).await,
        "an academy token needs its `academy`",
    );
    assert_refused(
        &create(json!({"name": "a", "role": "academy", "academy": "Not A Slug"})).await,
        "\"Not A Slug\" is not an academy slug",
    );
    for (body, part) in [
        (json!({"name": "a", "role": "root"}), "unknown variant `root`"),
        (json!({"name": "a", "role": "service", "scope": "all"}), "unknown field `scope`"),
        (json!({"name": "a"}), "missing field `role`"),
    ] {
        let reply = create(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert!(reply.body["detail"].as_str().unwrap().contains(part), "{body}: {reply:?}");
    }
    assert_eq!(admin.get("/v1/admin/tokens").await.body, json!([]), "nothing was created");

    // What is right passes; `"academy": null` is how the CLI leaves it out.
    for body in [
        json!({"name": "Équipe ventes", "role": "academy", "academy": "a1"}),
        json!({"name": "app", "role": "service", "academy": null}),
        json!({"name": "ops", "role": "superadmin"}),
    ] {
        token(&admin, body).await;
    }
    let roles: Vec<Value> = admin
        .get("/v1/admin/tokens")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json!([t["role"], t["academy"]]))
        .collect();
    assert_eq!(roles, [json!(["academy", "a1"]), json!(["service", null]), json!(["superadmin", null])]);
}

async fn academy(engine: &wasmhook_testkit::Engine) -> Client {
    let admin = engine.client(ADMIN);
    engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "a1"})).await)
}

#[tokio::test]
async fn service_ids_must_be_printable_and_not_blank() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let a = academy(&engine).await;
    let hook =
        |service_id: &str| json!({"event": "form_entry.added", "target": "https://x.io/h", "service_id": service_id});
    for (service_id, detail) in [
        ("prod\0", "service_id must not contain control characters ('\\0' at byte 4)"),
        ("a\r\nb", "service_id must not contain control characters ('\\r' at byte 1)"),
        ("  ", "service_id must not be blank"),
        ("", "service_id must not be empty"),
        (&"s".repeat(101), "service_id must be at most 100 bytes"),
    ] {
        assert_refused(&a.post("/v1/notify/hook/subscribe", &hook(service_id)).await, detail);
    }
    assert_eq!(a.get("/v1/notify/hook/subscribe").await.body["count"], 0, "nothing was created");

    let created = a.post("/v1/notify/hook/subscribe", &hook("production-v2")).await;
    assert_eq!(created.status, 201, "{created:?}");
    let path = format!("/v1/notify/hook/subscribe/{}", created.body["id"]);
    assert_refused(
        &a.put(&path, &json!({"service_id": "\0"})).await,
        "service_id must not contain control characters ('\\0' at byte 0)",
    );
    assert_eq!(a.get(&path).await.body["service_id"], "production-v2", "unchanged");
    assert_eq!(a.put(&path, &json!({"service_id": null})).await.body["service_id"], Value::Null, "null clears it");
}

#[tokio::test]
async fn connection_and_framing_headers_are_refused_on_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let a = academy(&engine).await;
    let hook = |name: &str| json!({"event": "form_entry.added", "target": "https://x.io/h", "headers": {name: "x"}});
    for name in [
        "Connection",
        "Keep-Alive",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Upgrade",
        "Expect",
        "Transfer-Encoding",
        "Host",
        "Content-Length",
    ] {
        let detail =
            format!("header {name:?} is a connection or framing header, which only the engine's HTTP client sets");
        assert_refused(&a.post("/v1/notify/hook/subscribe", &hook(name)).await, &detail);
    }
    assert_refused(
        &a.post("/v1/notify/hook/subscribe", &hook("Webhook-Id")).await,
        "header \"Webhook-Id\" is set by the engine and cannot be overridden",
    );
    assert_eq!(a.get("/v1/notify/hook/subscribe").await.body["count"], 0, "nothing was created");

    let created = a.post("/v1/notify/hook/subscribe", &hook("X-Team")).await;
    assert_eq!(created.status, 201, "{created:?}");
    let path = format!("/v1/notify/hook/subscribe/{}", created.body["id"]);
    assert_refused(
        &a.put(&path, &json!({"headers": {"upgrade": "h2c"}})).await,
        "header \"upgrade\" is a connection or framing header, which only the engine's HTTP client sets",
    );
    assert_eq!(a.get(&path).await.body["headers"], json!({"X-Team": "x"}), "unchanged");
}
