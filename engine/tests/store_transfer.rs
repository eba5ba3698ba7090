//! A single node moving to PostgreSQL (issue 12): `wasmhook store export`
//! of its data directory, `wasmhook store import` into a new database, and
//! an engine on that database serving what the node had — its tokens, its
//! hooks under their ids and secrets, its plugins and catalogue additions —
//! and delivering what it had queued.
//!
//! Needs a PostgreSQL server (`wasmhook_testkit::postgres`: skipped with a
//! notice without one, unless `WASMHOOK_TEST_REQUIRE_POSTGRES=1`).

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::{Client, Tenants, hostile_wasm, start, start_with, wasmhook};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_moves_to_postgres_with_its_setup_and_its_queue() {
    let Some(url) = wasmhook_testkit::postgres::database() else { return };
    // The first request hangs (the node is killed meanwhile); the others
    // are answered at once.
    let receiver = Receiver::scripted(Arc::new(|_, n| {
        (StatusCode::OK, if n == 0 { Duration::from_secs(30) } else { Duration::ZERO })
    }))
    .await;
    let node_dir = tempfile::tempdir().unwrap();
    let node = start(node_dir.path(), &["--delivery-concurrency", "1"]);
    let Tenants { admin, a, service, .. } = Tenants::of(&node).await;
    let uploaded = admin.post_raw("/v1/plugins/echo", "application/wasm", hostile_wasm()).await;
    assert_eq!(uploaded.status, 201, "{uploaded:?}");
    assert_eq!(admin.post("/v1/plugins/echo/activate", &json!({"version": 1})).await.status, 200);
    let spec = json!({"name": "asset.echoed", "action": "registry.Asset.echoed", "description": "As posted", "serializer": "echo"});
    assert_eq!(admin.post("/v1/catalog/events", &spec).await.status, 201);
    let target = format!("{}/moved", receiver.url);
    let hook = a.post("/v1/notify/hook/subscribe", &json!({"event": "asset.echoed", "target": target})).await;
    assert_eq!(hook.status, 201, "{hook:?}");
    let (hook_id, secret) = (hook.body["id"].as_u64().unwrap(), hook.body["secret"].as_str().unwrap().to_owned());
    let ids: Vec<String> = (0..5).map(|i| format!("m-{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        let event = json!({"event": "asset.echoed", "academy": "downtown-campus", "data": {"n": i}, "id": id});
        assert_eq!(service.post("/v1/events", &event).await.status, 202);
    }
    // One delivery in flight, four queued behind it: then the node dies.
    receiver.wait_for("/moved", 1).await;
    node.kill9();

    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("node.jsonl");
    let data_dir = node_dir.path().to_str().unwrap();
    let exported = wasmhook(&["store", "export", "--data-dir", data_dir, "--output", file.to_str().unwrap()], &[]);
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert!(exported.status.success(), "{stderr}");
    assert!(stderr.contains("1 hooks, 3 tokens, 1 catalogue events, 1 plugin versions"), "{stderr}");
    assert!(stderr.contains("5 queued deliveries"), "{stderr}");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the file holds the hooks' secrets");
    let mistyped = wasmhook(&["store", "export", "--data-dir", work.path().join("nothing").to_str().unwrap()], &[]);
    assert!(String::from_utf8_lossy(&mistyped.stderr).contains("no store at"), "{mistyped:?}");

    // Imported with the node's key, which the engines on the database use.
    let key = std::fs::read_to_string(node_dir.path().join("secret.key")).unwrap();
    let engine_dir = tempfile::tempdir().unwrap();
    let envs = [("WASMHOOK_STORE", "postgres"), ("WASMHOOK_POSTGRES_URL", &url), ("WASMHOOK_SECRET_KEY", key.trim())];
    let import = ["store", "import", file.to_str().unwrap(), "--data-dir", engine_dir.path().to_str().unwrap()];
    let imported = wasmhook(&import, &envs);
    let stderr = String::from_utf8_lossy(&imported.stderr);
    assert!(imported.status.success(), "{stderr}");
    assert!(stderr.contains("5 queued deliveries"), "{stderr}");
    let again = wasmhook(&import, &envs);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && stderr.contains("is not empty (1 rows in hooks, 3 rows in tokens"), "{stderr}");

    let engine = start_with(engine_dir.path(), &[], &envs, false);
    let (admin, a) = (Client::rebind(&admin, &engine), Client::rebind(&a, &engine));
    let listed = a.get(&format!("/v1/notify/hook/subscribe/{hook_id}")).await;
    assert_eq!(listed.status, 200, "the academy's token and its hook, under its id: {listed:?}");
    assert_eq!(admin.get("/v1/plugins/echo").await.body["active_version"], 1);
    assert_eq!(admin.get("/v1/notify/hook/event?like=asset.echoed").await.body.as_array().map(Vec::len), Some(1));
    receiver.wait_for_events("/moved", &ids).await;
    for request in receiver.on("/moved").iter().skip(1) {
        verify(&secret, request);
        let id = request.header("webhook-id");
        let n: usize = id.trim_start_matches("msg_m-").split('_').next().unwrap().parse().unwrap();
        assert_eq!(id, format!("msg_m-{n}_{hook_id}"));
        assert_eq!(request.json(), json!({"n": n}), "the queued payload");
    }
}
