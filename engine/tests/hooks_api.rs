//! The hooks API of seed 001 against the real binary: every endpoint, the
//! seed's filters and error bodies, tokens and tenant isolation.

use serde_json::{Value, json};
use wasmhook_testkit::{Client, Engine, Tenants, start};

const SEED_EVENTS: [&str; 23] = [
    "profile_academy.added",
    "profile_academy.changed",
    "cohort_user.added",
    "cohort_user.changed",
    "cohort_user.edu_status_updated",
    "cohort.cohort_stage_updated",
    "assignment.assignment_created",
    "assignment.assignment_status_updated",
    "assignment.assignment_revision_status_updated",
    "user_invite.invite_status_updated",
    "asset.asset_status_updated",
    "UserAssessment.userassessment_status_updated",
    "event.event_status_updated",
    "event.event_rescheduled",
    "event.new_event_order",
    "event.new_event_attendee",
    "form_entry.added",
    "form_entry.changed",
    "form_entry.won_or_lost",
    "form_entry.new_deal",
    "planfinancing.planfinancing_created",
    "subscription.subscription_created",
    "session.mentorship_session_status",
];

struct Setup {
    _dir: tempfile::TempDir,
    engine: Engine,
    admin: Client,
    /// Academy `downtown-campus`.
    a: Client,
    /// Academy `uptown`.
    b: Client,
    service: Client,
}

async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let Tenants { admin, a, b, service } = Tenants::of(&engine).await;
    Setup { _dir: dir, engine, admin, a, b, service }
}

fn names(body: &Value, key: &str) -> Vec<String> {
    body.as_array().unwrap().iter().map(|e| e[key].as_str().unwrap().to_owned()).collect()
}

fn error(status: u16, slug: &str, detail: &str) -> Value {
    json!({"detail": detail, "slug": slug, "status_code": status})
}

async fn subscribe(client: &Client, event: &str, target: &str, service_id: Option<&str>) -> Value {
    let reply = client
        .post("/v1/notify/hook/subscribe", &json!({"event": event, "target": target, "service_id": service_id}))
        .await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

#[tokio::test]
async fn lists_every_seed_event_with_derived_fields_and_filters() {
    let s = setup().await;
    let all = s.a.get("/v1/notify/hook/event").await;
    assert_eq!(all.status, 200);
    let listed = names(&all.body, "event");
    for event in SEED_EVENTS {
        assert!(listed.contains(&event.to_owned()), "{event} missing");
    }
    let created = all.body.as_array().unwrap().iter().find(|e| e["event"] == "assignment.assignment_created").unwrap();
    assert_eq!(
        created,
        &json!({
            "event": "assignment.assignment_created",
            "label": "Assignment Created",
            "description": "Triggered when a new assignment is created for a student",
            "app": "assignments",
            "model": "assignments.Task",
            "category": "assignments",
        })
    );

    let by_app = s.a.get("/v1/notify/hook/event?app=assignments").await;
    assert_eq!(names(&by_app.body, "event").len(), 3);
    let by_apps = s.a.get("/v1/notify/hook/event?app=assignments,admissions").await;
    assert_eq!(names(&by_apps.body, "event").len(), 7);
    let by_category = s.a.get("/v1/notify/hook/event?category=payments").await;
    assert_eq!(
        names(&by_category.body, "event"),
        ["planfinancing.planfinancing_created", "subscription.subscription_created"]
    );
    let like = s.a.get("/v1/notify/hook/event?like=assignment").await;
    assert_eq!(names(&like.body, "event").len(), 3);
    // Any valid token may read the catalogue; no token may not.
    assert_eq!(s.service.get("/v1/notify/hook/event").await.status, 200);
    let anonymous = s.engine.client("").get("/v1/notify/hook/event").await;
    assert_eq!(anonymous.body, error(401, "not-authenticated", "Authentication credentials were not provided."));
    let wrong = s.engine.client("whk_nope").get("/v1/notify/hook/event").await;
    assert_eq!(wrong.body, error(401, "invalid-token", "Invalid token."));
}

#[tokio::test]
async fn subscribe_answers_the_seed_fields_and_a_secret() {
    let s = setup().await;
    let body = subscribe(
        &s.a,
        "assignment.assignment_created",
        "https://your-app.com/webhooks/assignment-created",
        Some("production-v2"),
    )
    .await;
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "id",
        "event",
        "target",
        "service_id",
        "created_at",
        "updated_at",
        "total_calls",
        "last_call_at",
        "last_response_code",
    ] {
        assert!(keys.contains(&key), "{key} missing from {body}");
    }
    assert_eq!(body["event"], "assignment.assignment_created");
    assert_eq!(body["service_id"], "production-v2");
    assert_eq!(
        (body["total_calls"].clone(), body["last_call_at"].clone(), body["last_response_code"].clone()),
        (json!(0), Value::Null, Value::Null)
    );
    assert_eq!(body["created_at"], body["updated_at"]);
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    let secret = body["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");

    let id = body["id"].as_u64().unwrap();
    let fetched = s.a.get(&format!("/v1/notify/hook/subscribe/{id}")).await;
    assert_eq!(fetched.status, 200);
    assert!(fetched.body.get("secret").is_none(), "the secret is shown at creation and on its own endpoint only");
    let shown = s.a.get(&format!("/v1/notify/hook/subscribe/{id}/secret")).await;
    assert_eq!(shown.body["secret"], secret);
    let rotated = s.a.post(&format!("/v1/notify/hook/subscribe/{id}/secret/rotate"), &json!({})).await;
    assert_ne!(rotated.body["secret"], secret);
    assert_eq!(s.a.get(&format!("/v1/notify/hook/subscribe/{id}/secret")).await.body, rotated.body);
}

#[tokio::test]
async fn bad_input_gets_the_seeds_errors_and_stores_nothing() {
    let s = setup().await;
    let post = |body: Value| {
        let a = &s.a;
        async move { a.post("/v1/notify/hook/subscribe", &body).await }
    };
    let reply = post(json!({"event": "unknown.event", "target": "https://x.io/h"})).await;
    assert_eq!((reply.status, reply.body), (400, error(400, "invalid-event", "Unexpected event unknown.event")));
    let reply = s
        .service
        .post("/v1/notify/hook/subscribe", &json!({"event": "form_entry.added", "target": "https://x.io"}))
        .await;
    assert_eq!((reply.status, reply.body), (400, error(400, "invalid-academy-token", "No valid academy token found")));

    for (body, why) in [
        (json!({"event": "form_entry.added", "target": "ftp://x.io/h"}), "only http and https"),
        (json!({"event": "form_entry.added", "target": "not a url"}), "not a valid URL"),
        (json!({"event": "form_entry.added", "target": "https://"}), "not a valid URL"),
        (json!({"event": "form_entry.added"}), "event and target are required"),
        (json!({"event": "form_entry.added", "target": "https://x.io", "colour": "red"}), "unknown field `colour`"),
        (json!({"event": "form_entry.added", "target": "https://x.io", "timeout": "soon"}), "invalid type"),
        (
            json!({"event": "form_entry.added", "target": "https://x.io", "timeout": 0}),
            "timeout must be between 1 and 300",
        ),
        (json!({"event": "form_entry.added", "target": "https://x.io", "method": "GET"}), "unknown variant `GET`"),
        (
            json!({"event": "form_entry.added", "target": "https://x.io", "headers": {"webhook-signature": "x"}}),
            "set by the engine",
        ),
        (
            json!({"event": "form_entry.added", "target": "https://x.io", "headers": {"bad header": "x"}}),
            "not a valid HTTP header",
        ),
        (json!({"event": "form_entry.added", "target": "https://x.io", "academy": "uptown"}), "only superadmins"),
        (json!(["not", "an", "object"]), "expected struct HookInput"),
    ] {
        let reply = post(body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {reply:?}");
        assert_eq!(reply.body["slug"], "validation-error", "{body}");
        assert_eq!(reply.body["status_code"], 400);
        assert!(reply.body["detail"].as_str().unwrap().contains(why), "{body}: {}", reply.body["detail"]);
    }
    let malformed = s.a.post_raw("/v1/notify/hook/subscribe", "application/json", "{\"event\": ").await;
    assert_eq!((malformed.status, malformed.body["slug"].clone()), (400, json!("validation-error")));
    let not_json = s.a.post_raw("/v1/notify/hook/subscribe", "text/plain", "event=x").await;
    assert_eq!((not_json.status, not_json.body["slug"].clone()), (415, json!("unsupported-media-type")));
    let huge = format!(
        "{{\"event\": \"form_entry.added\", \"target\": \"https://x.io\", \"service_id\": \"{}\"}}",
        "x".repeat((1 << 20) + 1)
    );
    // The engine answers 413 from the Content-Length, without reading the
    // body; a client still writing may see the connection close instead.
    if let Some(too_large) = s.a.try_post_raw("/v1/notify/hook/subscribe", "application/json", huge).await {
        assert_eq!((too_large.status, too_large.body["slug"].clone()), (413, json!("payload-too-large")));
    }

    let listed = s.a.get("/v1/notify/hook/subscribe").await;
    assert_eq!(listed.body["count"], 0, "nothing was stored: {}", listed.body);
    let missing = s.a.get("/v1/notify/hook/subscribe/not-a-number").await;
    assert_eq!((missing.status, missing.body["slug"].clone()), (404, json!("not-found")));
    let unknown_route = s.a.get("/v1/nothing/here").await;
    assert_eq!(unknown_route.status, 404);
    let wrong_method = s.a.put("/v1/notify/hook/subscribe", &json!({})).await;
    assert_eq!((wrong_method.status, wrong_method.body["slug"].clone()), (405, json!("method-not-allowed")));
}

#[tokio::test]
async fn list_filters_and_pagination_follow_the_seed() {
    let s = setup().await;
    subscribe(
        &s.a,
        "assignment.assignment_created",
        "https://your-app.com/webhooks/assignment-created",
        Some("my-service-v1"),
    )
    .await;
    subscribe(&s.a, "cohort_user.added", "https://your-app.com/webhooks/student-added", None).await;
    subscribe(&s.a, "assignment.assignment_status_updated", "https://other.io/status", Some("staging")).await;
    subscribe(&s.a, "form_entry.added", "https://crm-sync.com/webhooks/new-lead", Some("staging")).await;

    let events = |path: &'static str| {
        let a = &s.a;
        async move {
            let reply = a.get(path).await;
            assert_eq!(reply.status, 200, "{path}: {reply:?}");
            let mut events: Vec<String> = reply.body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["event"].as_str().unwrap().to_owned())
                .collect();
            events.sort();
            events
        }
    };
    assert_eq!(
        events("/v1/notify/hook/subscribe?event=assignment.assignment_created").await,
        ["assignment.assignment_created"]
    );
    assert_eq!(
        events("/v1/notify/hook/subscribe?event=assignment.assignment_created,cohort_user.added").await,
        ["assignment.assignment_created", "cohort_user.added"]
    );
    assert_eq!(
        events("/v1/notify/hook/subscribe?app=assignments").await,
        ["assignment.assignment_created", "assignment.assignment_status_updated"]
    );
    assert_eq!(
        events("/v1/notify/hook/subscribe?app=assignments,admissions").await,
        ["assignment.assignment_created", "assignment.assignment_status_updated", "cohort_user.added"]
    );
    assert_eq!(events("/v1/notify/hook/subscribe?signal=assignment_created").await, ["assignment.assignment_created"]);
    assert_eq!(
        events("/v1/notify/hook/subscribe?signal=breathecode.assignments.signals.assignment_created").await,
        ["assignment.assignment_created"]
    );
    assert_eq!(
        events("/v1/notify/hook/subscribe?service_id=staging").await,
        ["assignment.assignment_status_updated", "form_entry.added"]
    );
    assert_eq!(events("/v1/notify/hook/subscribe?like=crm-sync").await, ["form_entry.added"]);
    assert_eq!(events("/v1/notify/hook/subscribe?app=assignments&event=assignment.assignment_created,assignment.assignment_status_updated").await, ["assignment.assignment_created", "assignment.assignment_status_updated"]);

    let page = s.a.get("/v1/notify/hook/subscribe?limit=3").await.body;
    assert_eq!(
        (page["count"].clone(), page["results"].as_array().unwrap().len(), page["previous"].clone()),
        (json!(4), 3, Value::Null)
    );
    let next = page["next"].as_str().unwrap();
    assert_eq!(next, "/v1/notify/hook/subscribe?limit=3&offset=3", "relative (no public_url)");
    let second = s.a.get(next).await.body;
    assert_eq!((second["results"].as_array().unwrap().len(), second["next"].clone()), (1, Value::Null));
    assert_eq!(second["previous"], "/v1/notify/hook/subscribe?limit=3&offset=0");
    let bad = s.a.get("/v1/notify/hook/subscribe?limit=many").await;
    assert_eq!((bad.status, bad.body["slug"].clone()), (400, json!("validation-error")));
}

#[tokio::test]
async fn update_and_delete_by_id_and_by_filter() {
    let s = setup().await;
    let hook = subscribe(&s.a, "assignment.assignment_created", "https://your-app.com/a", Some("production-v2")).await;
    let id = hook["id"].as_u64().unwrap();
    let path = format!("/v1/notify/hook/subscribe/{id}");
    let updated = s.a.put(&path, &json!({"event": "assignment.assignment_status_updated", "target": "https://your-app.com/webhooks/assignment-updated", "service_id": "production-v2"})).await;
    assert_eq!(updated.status, 200, "{updated:?}");
    assert_eq!(updated.body["event"], "assignment.assignment_status_updated");
    assert_eq!(updated.body["target"], "https://your-app.com/webhooks/assignment-updated");
    assert_eq!(updated.body["created_at"], hook["created_at"]);
    let partial = s.a.put(&path, &json!({"is_active": false, "service_id": null, "timeout": 10})).await.body;
    assert_eq!(
        (partial["is_active"].clone(), partial["service_id"].clone(), partial["timeout"].clone()),
        (json!(false), Value::Null, json!(10))
    );
    assert_eq!(partial["event"], "assignment.assignment_status_updated", "absent fields are kept");
    let rejected = s.a.put(&path, &json!({"event": "unknown.event"})).await;
    assert_eq!(rejected.body, error(400, "invalid-event", "Unexpected event unknown.event"));
    assert_eq!(
        s.a.get(&path).await.body["event"],
        "assignment.assignment_status_updated",
        "a refused update changes nothing"
    );

    assert_eq!(s.a.delete(&path).await.status, 204);
    assert_eq!(s.a.get(&path).await.status, 404);
    assert_eq!(s.a.delete(&path).await.status, 404);

    for (event, service) in [
        ("assignment.assignment_created", "staging"),
        ("assignment.assignment_status_updated", "staging"),
        ("form_entry.added", "staging"),
        ("assignment.assignment_created", "production"),
    ] {
        subscribe(&s.a, event, "https://x.io/h", Some(service)).await;
    }
    let none = s.a.delete("/v1/notify/hook/subscribe").await;
    assert_eq!(
        (none.status, none.body),
        (400, error(400, "validation-error", "Please include some filter in the URL"))
    );
    let both = s.a.delete("/v1/notify/hook/subscribe?event=assignment.assignment_created,assignment.assignment_status_updated&service_id=staging").await;
    assert_eq!(both.body, json!({"details": "Unsubscribed from 2 hooks"}));
    let by_service = s.a.delete("/v1/notify/hook/subscribe?service_id=staging").await;
    assert_eq!(by_service.body, json!({"details": "Unsubscribed from 1 hooks"}));
    let by_event = s.a.delete("/v1/notify/hook/subscribe?event=assignment.assignment_created").await;
    assert_eq!(by_event.body, json!({"details": "Unsubscribed from 1 hooks"}));
    assert_eq!(s.a.get("/v1/notify/hook/subscribe").await.body["count"], 0);
}

#[tokio::test]
async fn academies_only_ever_see_their_own_hooks() {
    let s = setup().await;
    let hook_a = subscribe(&s.a, "form_entry.added", "https://a.io/h", Some("svc")).await;
    let hook_b = subscribe(&s.b, "form_entry.added", "https://b.io/h", Some("svc")).await;
    let (id_a, id_b) = (hook_a["id"].as_u64().unwrap(), hook_b["id"].as_u64().unwrap());

    let listed = s.b.get("/v1/notify/hook/subscribe").await.body;
    assert_eq!(listed["count"], 1);
    assert_eq!(listed["results"][0]["id"], id_b);
    for path in [
        format!("/v1/notify/hook/subscribe/{id_a}"),
        format!("/v1/notify/hook/subscribe/{id_a}/secret"),
        format!("/v1/notify/hook/{id_a}/sample"),
    ] {
        assert_eq!(s.b.get(&path).await.status, 404, "{path}");
    }
    assert_eq!(
        s.b.put(&format!("/v1/notify/hook/subscribe/{id_a}"), &json!({"target": "https://evil.io"})).await.status,
        404
    );
    assert_eq!(s.b.post(&format!("/v1/notify/hook/subscribe/{id_a}/secret/rotate"), &json!({})).await.status, 404);
    assert_eq!(s.b.delete(&format!("/v1/notify/hook/subscribe/{id_a}")).await.status, 404);
    let bulk = s.b.delete("/v1/notify/hook/subscribe?service_id=svc").await;
    assert_eq!(bulk.body, json!({"details": "Unsubscribed from 1 hooks"}));
    let still = s.a.get(&format!("/v1/notify/hook/subscribe/{id_a}")).await;
    assert_eq!(
        (still.status, still.body["target"].clone()),
        (200, json!("https://a.io/h")),
        "b's calls left a's hook untouched"
    );

    // Superadmins see every academy's hooks and may subscribe across them.
    let all = s.admin.get("/v1/notify/hook/subscribe").await.body;
    assert_eq!(all["count"], 1);
    let for_b = s
        .admin
        .post(
            "/v1/notify/hook/subscribe",
            &json!({"event": "form_entry.added", "target": "https://ops.io", "academy": "uptown"}),
        )
        .await;
    assert_eq!((for_b.status, for_b.body["academy"].clone()), (201, json!("uptown")));
    let global = s
        .admin
        .post("/v1/notify/hook/subscribe", &json!({"event": "form_entry.added", "target": "https://ops.io/all"}))
        .await;
    assert_eq!((global.status, global.body["academy"].clone()), (201, Value::Null));
    assert_eq!(s.b.get("/v1/notify/hook/subscribe").await.body["count"], 1, "b sees the hook made for it");
    assert_eq!(s.admin.get("/v1/notify/hook/subscribe").await.body["count"], 3);
}

/// What the console reads beside the seed's routes: the caller's hooks'
/// health, the hook list by academy, the catalogue whole.
#[tokio::test]
async fn health_the_academy_filter_and_the_whole_catalogue_are_scoped() {
    let s = setup().await;
    let id_a = subscribe(&s.a, "form_entry.added", "https://a.io/h", None).await["id"].as_u64().unwrap();
    let id_b = subscribe(&s.b, "form_entry.added", "https://b.io/h", None).await["id"].as_u64().unwrap();
    let ids = |body: &Value| -> Vec<u64> {
        body["results"].as_array().unwrap().iter().map(|h| h["id"].as_u64().unwrap()).collect()
    };

    assert_eq!(ids(&s.a.get("/v1/notify/hook/health").await.body), vec![id_a], "an academy: its own hooks");
    let all = s.admin.get("/v1/notify/hook/health").await.body;
    assert_eq!(ids(&all), vec![id_a, id_b]);
    assert_eq!(
        (all["results"][0]["health"].clone(), all["health_rule"]["window"].clone()),
        (json!("unknown"), json!(20))
    );
    assert_eq!(s.service.get("/v1/notify/hook/health").await.status, 400, "a service token manages no hooks");

    assert_eq!(ids(&s.admin.get("/v1/notify/hook/subscribe?academy=uptown").await.body), vec![id_b]);
    assert_eq!(
        ids(&s.admin.get("/v1/notify/hook/subscribe?academy=uptown,downtown-campus").await.body),
        vec![id_a, id_b]
    );
    assert_eq!(ids(&s.a.get("/v1/notify/hook/subscribe?academy=uptown").await.body), Vec::<u64>::new());

    let events = s.a.get("/v1/catalog/events").await.body;
    let won = events.as_array().unwrap().iter().find(|e| e["name"] == "form_entry.won_or_lost").unwrap();
    assert_eq!((won["serializer"].clone(), won["sample"]["id"].clone()), (json!("marketing"), json!(9876)), "{won}");
}

#[tokio::test]
async fn samples_run_the_catalogue_sample_through_the_serializer() {
    let s = setup().await;
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(
            wasmhook_testkit::workspace_root().join("plugins/assignments/fixtures/assignment.assignment_created.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let by_event = s.a.get("/v1/notify/hook/sample?event=assignment.assignment_created").await;
    assert_eq!(
        (by_event.status, &by_event.body),
        (200, &fixture["payload"]),
        "the seed's payload, before any subscription"
    );

    let hook = subscribe(&s.a, "assignment.assignment_created", "https://x.io", None).await;
    let by_hook = s.a.get(&format!("/v1/notify/hook/{}/sample", hook["id"])).await;
    assert_eq!(by_hook.body, fixture["payload"]);
    let raw = s.a.get("/v1/notify/hook/sample?event=asset.asset_status_updated").await;
    assert_eq!(raw.status, 200, "events without a serializer sample their raw source");
    let none = s.a.get("/v1/notify/hook/sample").await;
    assert_eq!((none.status, none.body["slug"].clone()), (400, json!("validation-error")));
    let unknown = s.a.get("/v1/notify/hook/sample?event=unknown.event").await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn tokens_are_administered_by_superadmins_and_revocable() {
    let s = setup().await;
    assert_eq!(
        s.a.get("/v1/admin/tokens").await.body,
        error(403, "permission-denied", "You do not have permission to perform this action.")
    );
    assert_eq!(s.service.post("/v1/admin/tokens", &json!({"name": "x", "role": "superadmin"})).await.status, 403);
    let listed = s.admin.get("/v1/admin/tokens").await.body;
    assert_eq!(names(&listed, "name"), ["a", "b", "app"]);
    assert!(listed.as_array().unwrap().iter().all(|t| t.get("token").is_none()), "tokens are never shown again");
    assert_eq!(listed[0]["academy"], "downtown-campus");

    let bad_role = s.admin.post("/v1/admin/tokens", &json!({"name": "x", "role": "root"})).await;
    assert_eq!(bad_role.status, 400);
    let no_academy = s.admin.post("/v1/admin/tokens", &json!({"name": "x", "role": "academy"})).await;
    assert_eq!(no_academy.status, 400);

    let id = listed[0]["id"].as_u64().unwrap();
    assert_eq!(s.admin.delete(&format!("/v1/admin/tokens/{id}")).await.status, 204);
    assert_eq!(s.a.get("/v1/notify/hook/subscribe").await.body, error(401, "invalid-token", "Invalid token."));
    assert_eq!(s.admin.delete(&format!("/v1/admin/tokens/{id}")).await.status, 404);
}
