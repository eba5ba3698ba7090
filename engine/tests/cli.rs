//! The operator's CLI against a running engine: every command, its `--json`
//! output parsed and checked against what the API answers, and its errors
//! (one line, nonzero exit).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::{ADMIN, Client, Engine, start};

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    json: Value,
    stdout: String,
    stderr: String,
}

/// `wasmhook ARGS` with `token` in `WASMHOOK_TOKEN`.
fn wasmhook(token: &str, args: &[&str]) -> Run {
    let output =
        Command::new(env!("CARGO_BIN_EXE_wasmhook")).args(args).env("WASMHOOK_TOKEN", token).output().expect("run");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    Run {
        code: output.status.code(),
        json: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A remote command against `engine` with `--json`; it must succeed.
fn remote(engine: &Engine, token: &str, args: &[&str]) -> Value {
    let run = wasmhook(token, &[args, &["--url", engine.url.as_str(), "--json"][..]].concat());
    assert_eq!(run.code, Some(0), "wasmhook {args:?}: {run:?}");
    run.json
}

/// `/ok` answers 200, `/bad` 500.
async fn receiver() -> Receiver {
    Receiver::scripted(Arc::new(|path, _| {
        let status = if path == "/bad" { StatusCode::INTERNAL_SERVER_ERROR } else { StatusCode::OK };
        (status, Duration::ZERO)
    }))
    .await
}

async fn subscribe(client: &Client, body: Value) -> u64 {
    let reply = client.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["id"].as_u64().unwrap()
}

fn ids(values: &Value) -> Vec<u64> {
    values.as_array().unwrap().iter().map(|v| v["id"].as_u64().unwrap()).collect()
}

/// Tokens, hooks, a manual send, then status, stats, errors and cleanup
/// over the deliveries it caused, each compared with the API.
#[tokio::test]
async fn every_remote_command_matches_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = receiver().await;
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);

    // token create | list | revoke
    let academy =
        remote(&engine, ADMIN, &["token", "create", "downtown", "--role", "academy", "--academy", "downtown"]);
    assert!(academy["token"].as_str().unwrap().starts_with("whk_"), "{academy}");
    assert_eq!(academy["academy"], "downtown");
    let service = remote(&engine, ADMIN, &["token", "create", "app", "--role", "service"]);
    let doomed = remote(&engine, ADMIN, &["token", "create", "doomed", "--role", "service"]);
    assert_eq!(remote(&engine, ADMIN, &["token", "list"]), admin.get("/v1/admin/tokens").await.body);
    let doomed_id = doomed["id"].to_string();
    assert_eq!(remote(&engine, ADMIN, &["token", "revoke", &doomed_id])["revoked"], true);
    assert_eq!(
        ids(&admin.get("/v1/admin/tokens").await.body),
        [academy["id"].as_u64().unwrap(), service["id"].as_u64().unwrap()]
    );
    assert_eq!(engine.client(doomed["token"].as_str().unwrap()).get("/v1/notify/hook/event").await.status, 401);

    // hooks list: two of downtown's hooks and one of uptown's
    let downtown = engine.client(academy["token"].as_str().unwrap());
    let hook = |path: &str| json!({"event": "form_entry.won_or_lost", "target": format!("{}{path}", receiver.url)});
    let ok = subscribe(&downtown, hook("/ok")).await;
    let bad = subscribe(&downtown, hook("/bad")).await;
    let uptown = subscribe(
        &admin,
        json!({"academy": "uptown", "event": "form_entry.won_or_lost", "target": format!("{}/ok", receiver.url)}),
    )
    .await;
    let all = remote(&engine, ADMIN, &["hooks", "list"]);
    assert_eq!(all, admin.get("/v1/notify/hook/subscribe").await.body["results"]);
    assert_eq!(ids(&all), [ok, bad, uptown]);
    assert_eq!(ids(&remote(&engine, ADMIN, &["hooks", "list", "--academy", "downtown"])), [ok, bad]);
    let academy_token = academy["token"].as_str().unwrap();
    assert_eq!(ids(&remote(&engine, academy_token, &["hooks", "list"])), [ok, bad], "an academy sees its own");

    // send: one event, a delivery to each of downtown's hooks
    let fixture = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let data = dir.path().join("lead.json");
    std::fs::write(&data, fixture["source"].to_string()).unwrap();
    let service_token = service["token"].as_str().unwrap();
    let data_arg = data.to_str().unwrap();
    let sent = remote(
        &engine,
        service_token,
        &["send", "form_entry.won_or_lost", "--academy", "downtown", "--data", data_arg, "--id", "lead-1"],
    );
    assert_eq!(
        (sent["id"].clone(), sent["status"].clone(), sent["deliveries"].clone()),
        (json!("lead-1"), json!("accepted"), json!(2)),
        "{sent}"
    );
    receiver.wait_for("/ok", 1).await;
    let attempted = |body: &Value| body["count"] == 1;
    for id in [ok, bad] {
        admin.poll(&format!("/v1/notify/hook/{id}/deliveries"), attempted).await;
    }
    let again = remote(
        &engine,
        service_token,
        &["send", "form_entry.won_or_lost", "--academy", "downtown", "--data", data_arg, "--id", "lead-1"],
    );
    assert_eq!(again, sent, "the same id answers the first result");

    // status: the failed delivery waits for its retry (1 min away)
    let status = remote(&engine, ADMIN, &["status", "--detailed"]);
    let api = admin.get("/v1/admin/status").await.body;
    assert_eq!(status, api);
    assert_eq!(status["queue"]["depth"], 1, "{status}");
    assert_eq!(status["queue"]["oldest_wait_seconds"], 0, "the retry is not due yet: {status}");
    assert!(status["queue"]["oldest_due_at"].is_string(), "{status}");
    let health: Vec<(u64, Value, Value)> = status["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["id"].as_u64().unwrap(), h["health"].clone(), h["success_rate"].clone()))
        .collect();
    assert_eq!(
        health,
        [
            (ok, json!("healthy"), json!(100.0)),
            (bad, json!("critical"), json!(0.0)),
            (uptown, json!("unknown"), Value::Null)
        ]
    );
    assert_eq!(
        status["hooks"],
        json!({"total": 3, "active": 3, "healthy": 1, "warning": 0, "critical": 1, "unknown": 1})
    );
    let human = wasmhook(ADMIN, &["status", "--detailed", "--url", &engine.url]);
    assert!(human.stdout.contains("1 pending") && human.stdout.contains("critical"), "{human:?}");

    // logs stats
    let stats = remote(&engine, ADMIN, &["logs", "stats", "--days", "1"]);
    let mut api = admin.get("/v1/admin/logs/stats?days=1").await.body;
    api["since"] = stats["since"].clone(); // computed per call
    assert_eq!(stats, api);
    assert_eq!(
        (stats["attempts"].clone(), stats["succeeded"].clone(), stats["failed"].clone()),
        (json!(2), json!(1), json!(1))
    );
    assert_eq!(stats["by_status_class"], json!({"2xx": 1, "5xx": 1}));
    assert_eq!(stats["success_rate"], 50.0);
    assert_eq!(ids(&stats["by_hook"]), [ok, bad]);

    // logs errors
    let errors = remote(&engine, ADMIN, &["logs", "errors", "--limit", "5"]);
    assert_eq!(errors, admin.get("/v1/notify/hook/errors?limit=5").await.body);
    assert_eq!((errors["count"].clone(), errors["results"][0]["hook_id"].clone()), (json!(1), json!(bad)), "{errors}");

    // logs cleanup: nothing is a day old; everything is older than "now"
    // once the clock has passed the second it was recorded in.
    let kept = remote(&engine, ADMIN, &["logs", "cleanup", "--days", "1"]);
    assert_eq!(
        (kept["events"].clone(), kept["attempts"].clone(), kept["hook_errors"].clone()),
        (json!(0), json!(0), json!(0))
    );
    assert_eq!(admin.get(&format!("/v1/notify/hook/{ok}/deliveries")).await.body["count"], 1);
    let mut pruned = json!({"attempts": 0});
    let (mut events, mut attempts, mut hook_errors) = (0, 0, 0);
    for _ in 0..50 {
        pruned = remote(&engine, ADMIN, &["logs", "cleanup", "--days", "0"]);
        events += pruned["events"].as_u64().unwrap();
        attempts += pruned["attempts"].as_u64().unwrap();
        hook_errors += pruned["hook_errors"].as_u64().unwrap();
        if attempts == 2 && hook_errors == 1 && events == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!((events, attempts, hook_errors), (1, 2, 1), "last answer {pruned}");
    assert_eq!(admin.get(&format!("/v1/notify/hook/{ok}/deliveries")).await.body["count"], 0);
    assert_eq!(admin.get("/v1/notify/hook/errors").await.body["count"], 0);
    assert_eq!(admin.get("/v1/admin/status").await.body["queue"]["depth"], 1, "queued deliveries are kept");
    let human = wasmhook(ADMIN, &["logs", "cleanup", "--days", "0", "--url", &engine.url]);
    assert!(human.stdout.starts_with("deleted 0 events, 0 attempts, 0 hook errors"), "{human:?}");
}

/// A signed test webhook straight from the CLI: the receiver checks the
/// signature with the secret given; a 500 is shown and exits nonzero. The
/// receiver runs on the test's runtime while the CLI blocks its thread: a
/// second worker serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_endpoint_sends_a_signed_webhook_and_shows_the_answer() {
    let receiver = receiver().await;
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let url = format!("{}/ok", receiver.url);
    let run = wasmhook("", &["test-endpoint", &url, "--secret", secret, "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let got = receiver.wait_for("/ok", 1).await;
    verify(secret, &got[0]);
    assert_eq!(got[0].json()["type"], "wasmhook.test");
    assert_eq!(
        (run.json["status"].clone(), run.json["body"].clone()),
        (json!(200), json!("{\"ok\": true}")),
        "{run:?}"
    );
    assert_eq!(run.json["request"]["headers"]["webhook-id"], got[0].header("webhook-id"));
    assert_eq!(run.json["secret"], Value::Null, "a given secret is not echoed");
    assert!(run.json["headers"]["content-length"].is_string(), "{run:?}");

    let failing = wasmhook("", &["test-endpoint", &format!("{}/bad", receiver.url)]);
    assert_eq!(failing.code, Some(1), "{failing:?}");
    assert!(failing.stdout.contains("→ 500 Internal Server Error"), "{failing:?}");
    assert!(failing.stdout.starts_with("signed with a new secret whsec_"), "{failing:?}");
    verify(failing.stdout.split_whitespace().nth(5).unwrap(), &receiver.wait_for("/bad", 1).await[0]);
}

/// A bad token, an unreachable engine, a bad secret: one line on stderr,
/// nothing on stdout, a nonzero exit.
#[tokio::test]
async fn errors_are_one_line_and_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let cases = [
        (wasmhook("whk_wrong", &["status", "--url", &engine.url]), "Invalid token. (401 invalid-token)"),
        (wasmhook(ADMIN, &["logs", "stats", "--days", "9999", "--url", &engine.url]), "days must be at most 3650"),
        (wasmhook(ADMIN, &["token", "revoke", "42", "--url", &engine.url]), "Token not found (404 not-found)"),
        (wasmhook(ADMIN, &["hooks", "list", "--url", "http://127.0.0.1:9"]), "cannot reach http://127.0.0.1:9"),
        (wasmhook("", &["test-endpoint", &engine.url, "--secret", "whsec_***"]), "--secret is not a whsec_ key"),
    ];
    for (run, message) in cases {
        assert_eq!(run.code, Some(2), "{run:?}");
        assert_eq!(run.stdout, "", "{run:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{run:?}");
        assert!(run.stderr.starts_with("wasmhook: ") && run.stderr.contains(message), "{message}: {run:?}");
    }
}
