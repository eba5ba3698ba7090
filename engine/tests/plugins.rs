//! Plugins at run time, end to end against the real binary: per-version
//! counts, rebinding an event, deletion, limits, the circuit breaker under
//! hostile uploads, dry runs of transformers, oversized uploads and the
//! `wasmhook plugin` commands.

use std::process::Command;

use serde_json::{Value, json};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Client, hostile_wasm, start, token};

fn fixture() -> Value {
    let path = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The version `version` of a `GET /v1/plugins/{name}` answer.
fn version(plugin: &Value, version: u64) -> Value {
    plugin["versions"].as_array().unwrap().iter().find(|v| v["version"] == version).cloned().unwrap_or(Value::Null)
}

async fn upload(admin: &Client, name: &str, bytes: Vec<u8>) -> Value {
    let reply = admin.post_raw(&format!("/v1/plugins/{name}"), "application/wasm", bytes).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

/// An uploaded serializer shows its versions with counts after traffic; an
/// event is rebound to it and back (at once, and across a restart); it
/// cannot be deleted while an event uses it, then it can.
#[tokio::test]
async fn plugin_details_rebinding_and_deletion() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let fixture = fixture();
    let mut engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let service_token = token(&admin, json!({"name": "s", "role": "service"})).await;
    let academy = engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown"})).await);
    let hook = json!({"event": "form_entry.won_or_lost", "target": format!("{}/h", receiver.url)});
    assert_eq!(academy.post("/v1/notify/hook/subscribe", &hook).await.status, 201);
    let event = |n: u32| json!({"event": "form_entry.won_or_lost", "academy": "downtown", "data": fixture["source"], "id": format!("e{n}")});

    let missing = admin.get("/v1/plugins/nope").await;
    assert_eq!((missing.status, missing.body["slug"].clone()), (404, json!("not-found")), "{missing:?}");
    assert_eq!(academy.get("/v1/plugins/marketing").await.status, 403);

    upload(&admin, "echo", hostile_wasm()).await;
    let echo = admin.get("/v1/plugins/echo").await;
    assert_eq!(echo.status, 200, "{echo:?}");
    assert_eq!((echo.body["bundled"].clone(), echo.body["active_version"].clone()), (json!(false), Value::Null));
    assert_eq!(version(&echo.body, 1)["calls"], 0);

    // Rebinding to a plugin that is not active is refused.
    let rebind = |serializer: Value| json!({"serializer": serializer});
    let refused = admin.put("/v1/catalog/events/form_entry.won_or_lost", &rebind(json!("echo"))).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert!(refused.body["detail"].as_str().unwrap().contains("Unknown serializer plugin echo"), "{refused:?}");
    assert_eq!(admin.put("/v1/catalog/events/nope.nope", &rebind(json!("echo"))).await.status, 404);
    assert_eq!(academy.put("/v1/catalog/events/form_entry.won_or_lost", &rebind(json!("echo"))).await.status, 403);
    let unknown_field = admin.put("/v1/catalog/events/form_entry.won_or_lost", &json!({"action": "a.B.c"})).await;
    assert_eq!(unknown_field.status, 400, "the action is the event's identity: {unknown_field:?}");

    assert_eq!(admin.post("/v1/plugins/echo/activate", &json!({"version": 1})).await.status, 200);
    let rebound = admin.put("/v1/catalog/events/form_entry.won_or_lost", &rebind(json!("echo"))).await;
    assert_eq!((rebound.status, rebound.body["serializer"].clone()), (200, json!("echo")), "{rebound:?}");
    let service = engine.client(&service_token);
    for n in 1..=2 {
        assert_eq!(service.post("/v1/events", &event(n)).await.status, 202);
    }
    let got = receiver.wait_for("/h", 2).await;
    assert_eq!(got[1].json(), fixture["source"], "the rebound event goes through echo, no restart");

    let echo = admin.get("/v1/plugins/echo").await.body;
    let v1 = version(&echo, 1);
    assert_eq!((v1["active"].clone(), v1["calls"].clone(), v1["errors"].clone()), (json!(true), json!(2), json!(0)));
    let bucketed: u64 = v1["durations"].as_array().unwrap().iter().map(|b| b["count"].as_u64().unwrap()).sum();
    assert_eq!(bucketed, 2, "{v1}");
    assert_eq!(v1["breaker"]["open"], false);
    let marketing = admin.get("/v1/plugins/marketing").await.body;
    assert_eq!(version(&marketing, 0)["active"], true, "{marketing}");

    let in_use = admin.delete("/v1/plugins/echo").await;
    assert_eq!((in_use.status, in_use.body["slug"].clone()), (409, json!("plugin-in-use")), "{in_use:?}");
    assert!(in_use.body["detail"].as_str().unwrap().contains("form_entry.won_or_lost"), "{in_use:?}");

    // The binding survives a restart.
    drop(engine);
    engine = start(dir.path(), &[]);
    let (admin, service) = (engine.client(ADMIN), engine.client(&service_token));
    assert_eq!(service.post("/v1/events", &event(3)).await.status, 202);
    // e2 may be delivered again after the kill (at least once): look for e3.
    let mut e3 = None;
    for _ in 0..200 {
        e3 = receiver.on("/h").into_iter().find(|r| r.header("webhook-id").starts_with("msg_e3_"));
        if e3.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(e3.expect("e3 delivered").json(), fixture["source"], "still echo after a restart");

    let back = admin.put("/v1/catalog/events/form_entry.won_or_lost", &rebind(json!("marketing"))).await;
    assert_eq!(back.status, 200, "{back:?}");
    let deleted = admin.delete("/v1/plugins/echo").await;
    assert_eq!(deleted.status, 204, "{deleted:?}");
    assert_eq!(admin.get("/v1/plugins/echo").await.status, 404);
    assert_eq!(admin.delete("/v1/plugins/echo").await.status, 404);
    assert_eq!(admin.put("/v1/catalog/events/form_entry.won_or_lost", &rebind(json!("echo"))).await.status, 400);
    let bundled = admin.delete("/v1/plugins/marketing").await;
    assert_eq!(bundled.status, 409, "{bundled:?}");
}

/// A bundled plugin no event uses still cannot be deleted: version 0 is
/// part of the binary.
#[tokio::test]
async fn a_bundled_plugin_cannot_be_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalog.toml");
    std::fs::write(
        &file,
        "[events.\"orders.order_paid\"]\naction = \"orders.Order.order_paid\"\ndescription = \"d\"\n",
    )
    .unwrap();
    let engine = start(&dir.path().join("data"), &["--catalog", file.to_str().unwrap(), "--catalog-mode", "replace"]);
    let refused = engine.client(ADMIN).delete("/v1/plugins/payments").await;
    assert_eq!((refused.status, refused.body["slug"].clone()), (409, json!("bundled-plugin")), "{refused:?}");
    assert!(refused.body["detail"].as_str().unwrap().contains("version 0 cannot be deleted"), "{refused:?}");
}

/// An infinite loop and a memory bomb uploaded and bound to events fail
/// those events with a recorded error, then trip the breaker, which refuses
/// further calls at once; another event is delivered all along. Limits are
/// set per plugin within the operator's maxima.
#[tokio::test]
async fn hostile_plugins_trip_the_breaker_while_other_events_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let Hostile { engine: _engine, admin, service, academy } =
        with_hostile(dir.path(), &["--plugin-breaker-failures", "2", "--plugin-max-deadline-ms", "500"]).await;
    for name in ["loop", "memory_bomb"] {
        let spec = json!({"name": format!("hostile.{name}"), "action": format!("hostile.Thing.{name}"), "description": "d", "serializer": "hostile"});
        assert_eq!(admin.post("/v1/catalog/events", &spec).await.status, 201);
        let hook = json!({"event": format!("hostile.{name}"), "target": format!("{}/hostile", receiver.url)});
        assert_eq!(academy.post("/v1/notify/hook/subscribe", &hook).await.status, 201);
    }
    let hook = json!({"event": "form_entry.won_or_lost", "target": format!("{}/ok", receiver.url)});
    assert_eq!(academy.post("/v1/notify/hook/subscribe", &hook).await.status, 201);

    // Limits: within the maxima, else refused.
    let too_long = admin.put("/v1/plugins/hostile/limits", &json!({"deadline_ms": 5000})).await;
    assert_eq!((too_long.status, too_long.body["slug"].clone()), (400, json!("limit-too-high")), "{too_long:?}");
    assert!(too_long.body["detail"].as_str().unwrap().contains("maximum of 500"), "{too_long:?}");
    let limited = admin.put("/v1/plugins/hostile/limits", &json!({"deadline_ms": 20, "max_memory": 16 << 20})).await;
    assert_eq!(limited.status, 200, "{limited:?}");
    assert_eq!(limited.body["limits"]["deadline_ms"], 20);
    assert_eq!(limited.body["limit_overrides"]["max_memory"], 16 << 20);
    assert_eq!(admin.put("/v1/plugins/nope/limits", &json!({})).await.status, 404);

    let post =
        |event: &str, id: &str| json!({"event": event, "academy": "downtown", "id": id, "data": fixture()["source"]});
    let bomb = service.post("/v1/events", &post("hostile.memory_bomb", "bomb")).await;
    assert_eq!((bomb.status, bomb.body["status"].clone()), (202, json!("failed")), "{bomb:?}");
    assert!(bomb.body["error"].as_str().unwrap().contains("more than 16777216 bytes of memory"), "{bomb:?}");
    assert_eq!(service.post("/v1/events", &post("form_entry.won_or_lost", "ok1")).await.status, 202);
    let spin = service.post("/v1/events", &post("hostile.loop", "loop")).await;
    assert_eq!(spin.body["status"], "failed", "{spin:?}");
    assert!(spin.body["error"].as_str().unwrap().contains("deadline"), "{spin:?}");

    // Two consecutive faults: the breaker is open and refuses at once.
    let refused = service.post("/v1/events", &post("hostile.loop", "refused")).await;
    assert_eq!((refused.status, refused.body["status"].clone()), (202, json!("failed")), "{refused:?}");
    let error = refused.body["error"].as_str().unwrap();
    assert!(error.contains("plugin hostile version 1 is switched off by its circuit breaker"), "{error}");
    assert_eq!(service.post("/v1/events", &post("form_entry.won_or_lost", "ok2")).await.status, 202);
    assert_eq!(receiver.wait_for("/ok", 2).await.len(), 2, "the other event is delivered meanwhile");
    assert!(receiver.on("/hostile").is_empty());

    let errors = academy.get("/v1/notify/hook/errors").await.body;
    let messages: Vec<&str> =
        errors["results"].as_array().unwrap().iter().filter_map(|e| e["message"].as_str()).collect();
    assert!(messages.iter().any(|m| m.contains("circuit breaker") && m.contains("hostile version 1")), "{errors}");
    assert_eq!(messages.len(), 3, "{errors}");

    let shown = admin.get("/v1/plugins/hostile").await.body;
    let v1 = version(&shown, 1);
    assert_eq!(
        (v1["calls"].clone(), v1["errors"].clone(), v1["refused"].clone(), v1["breaker"]["open"].clone()),
        (json!(2), json!(2), json!(1), json!(true)),
        "{shown}"
    );
    // A dry run is not refused: it shows what the plugin does.
    let dry = admin.post("/v1/plugins/hostile/test", &json!({"event": "hostile.loop", "data": {}})).await;
    assert!(dry.body["outcome"]["error"].as_str().unwrap().contains("20ms deadline"), "{dry:?}");
    // Activating (here: the same version again, as a rollback would) closes it.
    assert_eq!(admin.post("/v1/plugins/hostile/activate", &json!({"version": 1})).await.status, 200);
    assert_eq!(version(&admin.get("/v1/plugins/hostile").await.body, 1)["breaker"]["open"], false);
}

/// The hook's transformer run on a payload (or the hook's sample): the
/// request it would send, or the cancellation; nothing is delivered; only
/// the hook's academy may run it.
#[tokio::test]
async fn transformer_dry_runs() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let mine = engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown"})).await);
    let theirs = engine.client(&token(&admin, json!({"name": "b", "role": "academy", "academy": "uptown"})).await);
    let hook = json!({"event": "asset.asset_status_updated", "target": format!("{}/slack", receiver.url), "headers": {"X-Team": "ops"}});
    let hook = mine.post("/v1/notify/hook/subscribe", &hook).await.body;
    let test = format!("/v1/notify/hook/subscribe/{}/transformer/test", hook["id"]);

    let none = mine.post(&test, &json!({})).await;
    assert_eq!(none.status, 404, "no transformer attached yet: {none:?}");
    let slack = wasmhook::bundled::find("slack-transformer").unwrap().wasm.to_vec();
    let attach = mine.put_bytes(&format!("/v1/notify/hook/subscribe/{}/transformer", hook["id"]), slack).await;
    assert_eq!(attach.status, 200, "{attach:?}");

    let sent = mine.post(&test, &json!({"payload": {"id": 5, "status": "PUBLISHED"}})).await;
    assert_eq!(sent.status, 200, "{sent:?}");
    let outcome = &sent.body["outcome"];
    assert_eq!(outcome["decision"], "send", "{sent:?}");
    assert_eq!(
        outcome["request"]["body"],
        json!({"text": "*asset.asset_status_updated*\n• id: 5\n• status: PUBLISHED"})
    );
    assert_eq!(outcome["request"]["url"], format!("{}/slack", receiver.url));
    assert_eq!(outcome["request"]["method"], "POST");
    assert!(sent.body["duration_us"].is_u64() && sent.body["peak_memory"].as_u64().unwrap() > 0, "{sent:?}");
    assert_eq!(sent.body["plugin"]["sha256"], attach.body["sha256"]);

    let cancelled = mine.post(&test, &json!({"payload": [1, 2]})).await;
    assert_eq!(cancelled.body["outcome"]["decision"], "cancel", "{cancelled:?}");
    assert!(cancelled.body["logs"][0]["message"].as_str().unwrap().contains("not a JSON object"), "{cancelled:?}");

    let sample = mine.post(&test, &json!({})).await;
    assert_eq!(sample.body["outcome"]["decision"], "send", "the event's sample is an object: {sample:?}");

    assert_eq!(theirs.post(&test, &json!({})).await.status, 404, "another academy's hook");
    assert_eq!(admin.post(&test, &json!({})).await.status, 200, "superadmins see every hook");
    assert!(receiver.received().is_empty(), "dry runs deliver nothing");
}

/// A 50 MB upload is refused with 413 (or the connection is closed under the
/// client still writing it: the engine answers before reading the body).
#[tokio::test]
async fn a_50_mb_upload_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
    bytes.resize(50 << 20, 0);
    if let Some(reply) = admin.try_post_raw("/v1/plugins/huge", "application/wasm", bytes).await {
        assert_eq!((reply.status, reply.body["slug"].clone()), (413, json!("payload-too-large")), "{reply:?}");
    }
    assert_eq!(admin.get("/v1/plugins/huge").await.status, 404, "nothing stored");
    assert_eq!(admin.get("/healthz").await.status, 200, "the engine goes on");
}

/// `wasmhook plugin …` with `--json`: its stdout, parsed.
fn cli(engine: &wasmhook_testkit::Engine, args: &[&str]) -> (bool, Value, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .arg("plugin")
        .args(args)
        .args(["--url", &engine.url, "--json"])
        .env("WASMHOOK_TOKEN", ADMIN)
        .output()
        .expect("run wasmhook");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (output.status.success(), json, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[tokio::test]
async fn the_plugin_commands_talk_to_a_running_engine() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let wasm = dir.path().join("echo.wasm");
    std::fs::write(&wasm, hostile_wasm()).unwrap();

    let (ok, uploaded, err) = cli(&engine, &["upload", "marketing", wasm.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!((uploaded["version"].clone(), uploaded["active"].clone()), (json!(1), json!(false)));

    let (ok, listed, err) = cli(&engine, &["list"]);
    assert!(ok, "{err}");
    let marketing = listed.as_array().unwrap().iter().find(|p| p["name"] == "marketing").unwrap();
    assert_eq!(marketing["versions"][0]["sha256"], uploaded["sha256"]);

    let (ok, tested, err) = cli(&engine, &["test", "marketing", "--event", "form_entry.won_or_lost", "--version", "1"]);
    assert!(ok, "{err}");
    assert_eq!(tested["outcome"]["payload"], fixture()["source"], "v1 echoes the sample");

    let (ok, activated, err) = cli(&engine, &["activate", "marketing", "1"]);
    assert!(ok, "{err}");
    assert_eq!(activated["active_version"], 1);
    let (ok, shown, err) = cli(&engine, &["show", "marketing"]);
    assert!(ok, "{err}");
    assert_eq!(shown["active_version"], 1);

    let (ok, _, err) = cli(&engine, &["activate", "marketing", "9"]);
    assert!(!ok);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("Version 9 of plugin marketing not found (404 not-found)"), "{err}");

    // Human output (no --json) reads as sentences.
    let output = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(["plugin", "activate", "marketing", "0", "--url", &engine.url, "--token", ADMIN])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "marketing: version 0 is active");
}

/// Limits set for a plugin survive a restart; a restart under lower
/// operator maxima falls back to the defaults rather than exceed them.
#[tokio::test]
async fn plugin_limits_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let set = admin.put("/v1/plugins/marketing/limits", &json!({"deadline_ms": 20, "max_memory": 16 << 20})).await;
    assert_eq!(set.status, 200, "{set:?}");
    let defaults = set.body["limits"]["max_output"].clone();
    drop(engine);

    let engine = start(dir.path(), &[]);
    let shown = engine.client(ADMIN).get("/v1/plugins/marketing").await.body;
    let overrides = &shown["limit_overrides"];
    assert_eq!((overrides["deadline_ms"].clone(), overrides["max_memory"].clone()), (json!(20), json!(16 << 20)));
    assert_eq!(
        (shown["limits"]["deadline_ms"].clone(), shown["limits"]["max_memory"].clone()),
        (json!(20), json!(16 << 20))
    );
    assert_eq!(shown["limits"]["max_output"], defaults, "fields not set keep the default");
    drop(engine);

    let engine = start(dir.path(), &["--plugin-max-deadline-ms", "10"]);
    let shown = engine.client(ADMIN).get("/v1/plugins/marketing").await.body;
    assert_eq!(shown["limit_overrides"]["deadline_ms"], 20, "still stored: {shown}");
    assert_ne!(shown["limits"]["deadline_ms"], 20, "above the new maximum: the defaults apply: {shown}");
}

fn lead() -> Value {
    let path = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.added.json");
    serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["source"].clone()
}

/// A running engine with its admin, a service and a `downtown` academy
/// client, and the hostile test plugin uploaded and active as `hostile`.
struct Hostile {
    engine: wasmhook_testkit::Engine,
    admin: Client,
    service: Client,
    academy: Client,
}

async fn with_hostile(dir: &std::path::Path, args: &[&str]) -> Hostile {
    let engine = start(dir, args);
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "s", "role": "service"})).await);
    let academy = engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown"})).await);
    upload(&admin, "hostile", hostile_wasm()).await;
    assert_eq!(admin.post("/v1/plugins/hostile/activate", &json!({"version": 1})).await.status, 200);
    Hostile { engine, admin, service, academy }
}

/// Adds catalogue event `hostile.{name}` serialized by `plugin`, and a hook
/// of academy `downtown` on it, at `{receiver}/{name}`.
async fn hostile_event(admin: &Client, academy: &Client, receiver: &Receiver, plugin: &str, name: &str) {
    let spec = json!({"name": format!("hostile.{name}"), "action": format!("hostile.Thing.{name}"), "description": "d", "serializer": plugin});
    assert_eq!(admin.post("/v1/catalog/events", &spec).await.status, 201);
    let hook = json!({"event": format!("hostile.{name}"), "target": format!("{}/{name}", receiver.url)});
    assert_eq!(academy.post("/v1/notify/hook/subscribe", &hook).await.status, 201);
}

/// Posts event `hostile.{name}` with id `id`: its record.
async fn post_hostile(service: &Client, name: &str, id: &str) -> Value {
    let event = json!({"event": format!("hostile.{name}"), "academy": "downtown", "id": id, "data": lead()});
    let reply = service.post("/v1/events", &event).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reply.body
}

/// The `GET /v1/plugins/{name}` answer once its `parked` count is `n`.
async fn parked(admin: &Client, name: &str, n: u64) -> Value {
    let shown = admin.poll(&format!("/v1/plugins/{name}"), |body| body["parked"] == n).await;
    assert_eq!(shown["parked"], n, "{shown}");
    shown
}

/// The event ids of the deliveries a receiver got (`msg_<event>_<hook>`).
fn event_ids(received: &[wasmhook_testkit::receiver::Received]) -> Vec<String> {
    let mut ids: Vec<String> = received
        .iter()
        .map(|r| r.header("webhook-id").rsplit_once('_').unwrap().0["msg_".len()..].to_owned())
        .collect();
    ids.sort();
    ids
}

/// A version that loops is activated: its events fail and are parked; the
/// rollback to the bundled version delivers every one of them, with the
/// good payload, under the same ids, whose records turn accepted.
/// `retry-failed` runs them again while the plugin is still broken.
#[tokio::test]
async fn events_failed_by_a_broken_version_are_delivered_after_the_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "s", "role": "service"})).await);
    let academy = engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown"})).await);
    hostile_event(&admin, &academy, &receiver, "marketing", "loop").await;
    let good =
        admin.post("/v1/plugins/marketing/test?version=0", &json!({"event": "hostile.loop", "data": lead()})).await;
    let good = good.body["outcome"]["payload"].clone();
    assert!(good["first_name"].is_string(), "the bundled version serializes the lead: {good}");

    upload(&admin, "marketing", hostile_wasm()).await;
    assert_eq!(admin.put("/v1/plugins/marketing/limits", &json!({"deadline_ms": 20})).await.status, 200);
    assert_eq!(admin.post("/v1/plugins/marketing/activate", &json!({"version": 1})).await.status, 200);
    for id in ["t1", "t2", "t3"] {
        let record = post_hostile(&service, "loop", id).await;
        assert_eq!(record["status"], "failed", "{record}");
        let error = record["error"].as_str().unwrap();
        assert!(error.contains("serializer marketing version 1: the plugin ran past its 20ms deadline"), "{error}");
    }
    assert_eq!(post_hostile(&service, "loop", "t1").await["status"], "failed", "idempotent meanwhile");
    parked(&admin, "marketing", 3).await;
    assert_eq!(admin.post("/v1/plugins/nope/retry-failed", &json!({})).await.status, 404);
    assert_eq!(academy.post("/v1/plugins/marketing/retry-failed", &json!({})).await.status, 403);

    // Rollback: every parked event is delivered, through version 0.
    assert_eq!(admin.post("/v1/plugins/marketing/activate", &json!({"version": 0})).await.status, 200);
    let got = receiver.wait_for("/loop", 3).await;
    assert_eq!(event_ids(&got), ["t1", "t2", "t3"]);
    assert!(got.iter().all(|r| r.json() == good), "{got:?}");
    parked(&admin, "marketing", 0).await;
    let again = post_hostile(&service, "loop", "t2").await;
    assert_eq!((again["status"].clone(), again["deliveries"].clone()), (json!("accepted"), json!(1)), "{again}");
    assert_eq!(receiver.on("/loop").len(), 3, "each delivered once");

    // Broken again: retry-failed runs the parked events now; they fail again
    // (a second hook error each) and stay parked.
    assert_eq!(admin.post("/v1/plugins/marketing/activate", &json!({"version": 1})).await.status, 200);
    assert_eq!(post_hostile(&service, "loop", "t4").await["status"], "failed");
    parked(&admin, "marketing", 1).await;
    let queued = admin.post("/v1/plugins/marketing/retry-failed", &json!({})).await;
    assert_eq!((queued.status, queued.body.clone()), (202, json!({"plugin": "marketing", "queued": 1})));
    let errors = academy
        .poll("/v1/notify/hook/errors", |body| {
            body["results"].as_array().unwrap().iter().filter(|e| e["event_id"] == "t4").count() == 2
        })
        .await;
    let t4 = errors["results"].as_array().unwrap().iter().filter(|e| e["event_id"] == "t4").count();
    assert_eq!(t4, 2, "run again and failed again: {errors}");
    parked(&admin, "marketing", 1).await;
    assert_eq!(receiver.on("/loop").len(), 3);
}

/// Events refused by an open breaker are parked and survive a restart; a
/// restart does not run them, `retry-failed` does: those the plugin handles
/// are delivered, the one that trips it stays parked.
#[tokio::test]
async fn retry_failed_delivers_events_refused_by_the_breaker() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let args = ["--plugin-breaker-failures", "1", "--plugin-breaker-cooldown-secs", "3600"];
    let Hostile { engine, admin, service, academy } = with_hostile(dir.path(), &args).await;
    hostile_event(&admin, &academy, &receiver, "hostile", "loop").await;
    hostile_event(&admin, &academy, &receiver, "hostile", "echo").await;

    assert_eq!(post_hostile(&service, "loop", "x").await["status"], "failed");
    for id in ["e1", "e2"] {
        let refused = post_hostile(&service, "echo", id).await;
        assert!(refused["error"].as_str().unwrap().contains("circuit breaker"), "{refused}");
    }
    parked(&admin, "hostile", 3).await;
    drop(engine);

    let engine = start(dir.path(), &args);
    let admin = engine.client(ADMIN);
    parked(&admin, "hostile", 3).await;
    assert!(receiver.on("/echo").is_empty(), "a restart alone runs nothing");
    let queued = admin.post("/v1/plugins/hostile/retry-failed", &json!({})).await;
    assert_eq!((queued.status, queued.body["queued"].clone()), (202, json!(3)), "{queued:?}");
    let got = receiver.wait_for("/echo", 2).await;
    assert_eq!(event_ids(&got), ["e1", "e2"]);
    assert!(got.iter().all(|r| r.json() == lead()), "echoed: {got:?}");
    let shown = parked(&admin, "hostile", 1).await;
    assert_eq!(version(&shown, 1)["breaker"]["open"], true, "x tripped it again: {shown}");
    assert!(receiver.on("/loop").is_empty());
}

/// Events refused while the breaker is open are run again when its
/// cool-down ends, without anyone asking.
#[tokio::test]
async fn parked_events_run_again_when_the_breaker_closes() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let Hostile { engine: _engine, admin, service, academy } =
        with_hostile(dir.path(), &["--plugin-breaker-failures", "1", "--plugin-breaker-cooldown-secs", "1"]).await;
    hostile_event(&admin, &academy, &receiver, "hostile", "loop").await;
    hostile_event(&admin, &academy, &receiver, "hostile", "echo").await;

    assert_eq!(post_hostile(&service, "loop", "l").await["status"], "failed");
    let refused = post_hostile(&service, "echo", "e").await;
    assert!(refused["error"].as_str().unwrap().contains("circuit breaker"), "within the 1 s cool-down: {refused}");
    let got = receiver.wait_for("/echo", 1).await;
    assert_eq!(event_ids(&got), ["e"]);
    assert_eq!(got[0].json(), lead());
}

/// Rebinding an event runs its parked events through the new serializer.
#[tokio::test]
async fn rebinding_an_event_runs_its_parked_events() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let Hostile { engine: _engine, admin, service, academy } = with_hostile(dir.path(), &[]).await;
    hostile_event(&admin, &academy, &receiver, "hostile", "loop").await;
    assert_eq!(post_hostile(&service, "loop", "r").await["status"], "failed");
    parked(&admin, "hostile", 1).await;

    let rebound = admin.put("/v1/catalog/events/hostile.loop", &json!({"serializer": null})).await;
    assert_eq!(rebound.status, 200, "{rebound:?}");
    let got = receiver.wait_for("/loop", 1).await;
    assert_eq!((event_ids(&got), got[0].json()), (vec!["r".to_owned()], lead()), "the raw object, no serializer");
    parked(&admin, "hostile", 0).await;
}

/// A plugin that panics (its message is written through WASI) when parked
/// events are run again fails them again without stopping later re-runs.
#[tokio::test]
async fn a_plugin_panicking_on_a_rerun_does_not_stop_later_reruns() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let Hostile { engine: _engine, admin, service, academy } = with_hostile(dir.path(), &[]).await;
    upload(&admin, "hostile2", hostile_wasm()).await;
    assert_eq!(admin.post("/v1/plugins/hostile2/activate", &json!({"version": 1})).await.status, 200);
    hostile_event(&admin, &academy, &receiver, "hostile", "trap").await;
    hostile_event(&admin, &academy, &receiver, "hostile", "loop").await;
    // One batch: every event fails and is parked.
    let events: Vec<Value> = ["trap", "trap", "trap", "loop", "loop"]
        .iter()
        .enumerate()
        .map(|(n, name)| json!({"event": format!("hostile.{name}"), "academy": "downtown", "id": format!("p{n}"), "data": lead()}))
        .collect();
    let batch = service.post("/v1/events/batch", &json!({"events": events, "session": false})).await;
    assert_eq!(batch.status, 202, "{batch:?}");
    assert!(batch.body["events"].as_array().unwrap().iter().all(|e| e["status"] == "failed"), "{batch:?}");
    parked(&admin, "hostile", 5).await;

    // Rebound to the same component under another name: the three panic
    // again (a re-run of a few events).
    assert_eq!(admin.put("/v1/catalog/events/hostile.trap", &json!({"serializer": "hostile2"})).await.status, 200);
    parked(&admin, "hostile2", 3).await;
    parked(&admin, "hostile", 2).await;
    assert_eq!(admin.put("/v1/catalog/events/hostile.trap", &json!({"serializer": null})).await.status, 200);
    let got = receiver.wait_for("/trap", 3).await;
    assert_eq!(event_ids(&got), ["p0", "p1", "p2"]);
    parked(&admin, "hostile2", 0).await;
}

/// A plugin that panics or prints makes WASI calls (stderr, stdout), which
/// block: on a single-event request they must not take the request down.
/// The event is answered (failed, or skipped with what it printed
/// captured) and the engine goes on serving.
#[tokio::test]
async fn a_plugin_that_panics_or_prints_on_a_single_event_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let Hostile { engine, admin, service, academy } = with_hostile(dir.path(), &[]).await;
    for name in ["trap", "stdout"] {
        hostile_event(&admin, &academy, &receiver, "hostile", name).await;
    }

    let trapped = post_hostile(&service, "trap", "t1").await;
    assert_eq!(trapped["status"], "failed", "{trapped}");
    assert!(trapped["error"].as_str().unwrap().contains("the plugin trapped"), "{trapped}");
    let printed = post_hostile(&service, "stdout", "s1").await;
    assert_eq!(
        (printed["status"].clone(), printed["reason"].clone()),
        (json!("skipped"), json!("printed")),
        "{printed}"
    );
    assert_eq!(engine.client(ADMIN).get("/healthz").await.status, 200);
}
