//! Configuration, logs and readiness, through the real binary: defaults <
//! file < environment < flags as `wasmhook config show` reports them, bad
//! keys and values refused at start with one line naming them, `/readyz`,
//! JSON log lines, request ids, and the README's reference of every key.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};
use wasmhook::config::Config;
use wasmhook_testkit::{ADMIN, start, start_failing, start_failing_with, start_with, wasmhook};

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `wasmhook config show --json` with `args` and only `envs`.
fn show(args: &[&str], envs: &[(&str, &str)]) -> Value {
    let output = wasmhook(&[&["config", "show", "--json"], args].concat(), envs);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Standard error of a run that must fail: exactly one line.
fn one_line_error(output: &std::process::Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn defaults_then_file_then_environment_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "wasmhook.toml",
        r#"
delivery_concurrency = 8
retention_days = 7
retry_schedule = ["1s", "2s"]
admin_token = "from-the-file"

[targets]
allowed_networks = ["10.0.0.0/8"]
require_https = true
"#,
    );

    let defaults = show(&[], &[]);
    assert_eq!(defaults["listen"], "127.0.0.1:8080");
    assert_eq!(defaults["data_dir"], "./wasmhook-data");
    assert_eq!(defaults["retention_days"], 30);
    assert_eq!(defaults["retry_schedule"], json!(["1m", "5m", "15m", "1h"]));
    assert_eq!(defaults["shutdown_grace"], "10s");
    assert_eq!(defaults["log_format"], "human");
    assert_eq!(defaults["admin_token"], Value::Null);
    assert_eq!(defaults["targets"], json!({"allowed_networks": [], "denied_networks": [], "require_https": false}));

    let from_file = show(&["--config", &file], &[]);
    assert_eq!(from_file["listen"], "127.0.0.1:8080", "not in the file: the default");
    assert_eq!(from_file["delivery_concurrency"], 8);
    assert_eq!(from_file["retention_days"], 7);
    assert_eq!(from_file["retry_schedule"], json!(["1s", "2s"]));
    assert_eq!(from_file["targets"]["allowed_networks"], json!(["10.0.0.0/8"]));
    assert_eq!(from_file["targets"]["require_https"], true);
    assert_eq!(from_file["admin_token"], "<redacted>");

    let env = [
        ("WASMHOOK_CONFIG", file.as_str()),
        ("WASMHOOK_RETENTION_DAYS", "9"),
        ("WASMHOOK_RETRY_SCHEDULE", "3s,4s"),
        ("WASMHOOK_TARGETS_DENIED_NETWORKS", "192.168.0.0/16,fd00::/8"),
        ("WASMHOOK_ADMIN_TOKEN", "from-the-environment"),
    ];
    let from_env = show(&[], &env);
    assert_eq!(from_env["delivery_concurrency"], 8, "the file (named by WASMHOOK_CONFIG) still applies");
    assert_eq!(from_env["retention_days"], 9, "the environment over the file");
    assert_eq!(from_env["retry_schedule"], json!(["3s", "4s"]));
    assert_eq!(from_env["targets"]["denied_networks"], json!(["192.168.0.0/16", "fd00::/8"]));

    let from_flags = show(&["--retry-schedule", "5s", "--listen", "127.0.0.1:9999"], &env);
    assert_eq!(from_flags["retry_schedule"], json!(["5s"]), "the flag over the environment");
    assert_eq!(from_flags["listen"], "127.0.0.1:9999");
    assert_eq!(from_flags["retention_days"], 9);
    assert_eq!(from_flags["delivery_concurrency"], 8);

    // The TOML form says the same, and neither form shows the token.
    let output = wasmhook(&["config", "show"], &env);
    let text = String::from_utf8(output.stdout).unwrap();
    let toml: Value = serde_json::to_value(toml::from_str::<toml::Table>(&text).unwrap()).unwrap();
    assert_eq!(toml["retention_days"], 9);
    assert_eq!(toml["targets"], from_env["targets"]);
    for shown in [text, from_env.to_string(), from_file.to_string()] {
        assert!(!shown.contains("from-the-"), "a secret is printed: {shown}");
    }
}

#[test]
fn an_unknown_key_or_a_bad_value_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let file = write(dir.path(), "unknown.toml", "retention_days = 3\n\n[targets]\nallow_all = true\n");
    let stderr = one_line_error(&start_failing(&data, &["--config", &file]));
    assert_eq!(stderr, format!("wasmhook: configuration: {file}:4: unknown key `targets.allow_all`"));
    assert_eq!(one_line_error(&wasmhook(&["config", "show", "--config", &file], &[])), stderr);

    let file = write(dir.path(), "bad.toml", "# wasmhook\ndelivery_concurrency = \"lots\"\n");
    let stderr = one_line_error(&start_failing(&data, &["--config", &file]));
    assert_eq!(
        stderr,
        format!(
            "wasmhook: configuration: {file}:2: delivery_concurrency: invalid type: string \"lots\", expected usize"
        )
    );

    let file = write(dir.path(), "cidr.toml", "[targets]\ndenied_networks = [\"10.0.0.0/40\"]\n");
    let stderr = one_line_error(&start_failing(&data, &["--config", &file]));
    assert_eq!(
        stderr,
        format!("wasmhook: configuration: {file}:2: targets.denied_networks: invalid IP address syntax")
    );

    // `serve` itself, so that a configuration wrongly accepted fails the
    // test rather than hanging it.
    let output = start_failing_with(&data, &[], &[("WASMHOOK_SHUTDOWN_GRACE", "soon")]);
    assert_eq!(
        one_line_error(&output),
        "wasmhook: configuration: environment variable WASMHOOK_SHUTDOWN_GRACE: shutdown_grace: \
         \"soon\" is not a duration like 250ms, 30s, 5m or 1h"
    );
    let output = start_failing_with(&data, &[], &[("WASMHOOK_DELIVERY_CONCURENCY", "8")]);
    assert_eq!(
        one_line_error(&output),
        "wasmhook: configuration: environment variable WASMHOOK_DELIVERY_CONCURENCY: not a setting"
    );
    let output = start_failing(&data, &["--delivery-concurrency", "0"]);
    assert_eq!(
        one_line_error(&output),
        "wasmhook: configuration: flag --delivery-concurrency: delivery_concurrency: must be at least 1"
    );
    let output = start_failing_with(&data, &[], &[("WASMHOOK_REDB_COMMIT_DELAY", "5s")]);
    assert_eq!(
        one_line_error(&output),
        "wasmhook: configuration: environment variable WASMHOOK_REDB_COMMIT_DELAY: redb.commit_delay: \
         must be at most 1s (every write may wait that long)"
    );
    let output = wasmhook(&["config", "show", "--config", &dir.path().join("missing.toml").display().to_string()], &[]);
    assert!(one_line_error(&output).contains("missing.toml: No such file"));
    assert!(!data.join(wasmhook::store::RedbStore::FILE_NAME).exists(), "nothing was started");
}

#[tokio::test]
async fn readyz_answers_ready_and_healthz_stays_the_liveness_probe() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let anyone = engine.client("");
    let ready = anyone.get("/readyz").await;
    assert_eq!(ready.status, 200, "{ready:?}");
    assert_eq!(ready.body, json!({"status": "ready", "serving": true, "store": "ok", "runtime": "ok"}));
    let health = anyone.get("/healthz").await;
    assert_eq!((health.status, &health.body["status"]), (200, &json!("ok")));
}

/// Text log lines written to a pipe (a service manager's journal, a log
/// file) carry no terminal colour codes.
#[tokio::test]
async fn text_logs_off_a_terminal_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = start_with(dir.path(), &[], &[("RUST_LOG", "info")], true);
    let health = reqwest::get(format!("{}/healthz", engine.url)).await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(engine.terminate().success());
    let lines = engine.logs_once("stopped").await;
    assert!(lines.iter().any(|line| line.contains("listening")), "{lines:?}");
    assert!(lines.iter().all(|line| !line.contains('\u{1b}')), "{lines:?}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_and_tie_a_request_together() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = start_with(dir.path(), &[], &[("WASMHOOK_LOG_FORMAT", "json"), ("RUST_LOG", "info")], true);
    let response = reqwest::Client::new()
        .get(format!("{}/v1/plugins", engine.url))
        .header("Authorization", format!("Token {ADMIN}"))
        .header("x-request-id", "req-config-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-config-test-1", "the id goes back to the caller");
    let generated = reqwest::get(format!("{}/healthz", engine.url)).await.unwrap();
    let generated = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 36, "a UUID when the caller sends none: {generated}");

    assert!(engine.terminate().success());
    let lines: Vec<Value> = engine
        .logs_once("\"stopped\"")
        .await
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    for expected in ["listening", "shutting down: finishing the requests and deliveries in flight", "stopped"] {
        assert!(messages.contains(&expected), "{expected:?} in {messages:?}");
    }
    let of_request: Vec<&Value> = lines.iter().filter(|l| l["span"]["request_id"] == "req-config-test-1").collect();
    assert!(
        of_request.iter().any(|l| l["message"] == "finished processing request" && l["status"] == 200),
        "the access line carries the request id: {lines:?}"
    );
    assert!(lines.iter().any(|l| l["span"]["request_id"] == generated.as_str()), "{lines:?}");
    assert!(lines.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string()), "{lines:?}");
}

/// The README's configuration reference: one row per key, with its
/// environment variable, its flag (where `serve` has one) and its default,
/// exactly as the binary has them.
#[test]
fn the_readme_documents_every_key() {
    let readme = std::fs::read_to_string(wasmhook_testkit::workspace_root().join("README.md")).unwrap();
    let start = readme.find("### Configuration reference").expect("the README has a configuration reference");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n#").map_or(section.len(), |end| end + 3)];
    let rows: BTreeMap<String, Vec<String>> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<String> = line.trim_matches('|').split(" | ").map(|c| c.trim().to_owned()).collect();
            (cells[0].trim_matches('`').to_owned(), cells)
        })
        .collect();
    let keys = Config::keys();
    let documented: Vec<&String> = rows.keys().collect();
    assert_eq!(documented, keys.iter().collect::<Vec<_>>(), "the reference's keys and the configuration's");

    let help = String::from_utf8(wasmhook(&["serve", "--help"], &[]).stdout).unwrap();
    let defaults = serde_json::to_value(Config::default()).unwrap();
    for key in &keys {
        let cells = &rows[key];
        assert_eq!(cells.len(), 5, "{key}: key | environment | flag | default | what");
        assert_eq!(cells[1], format!("`{}`", Config::env_var(key)), "{key}: environment variable");
        let flag = format!("--{}", key.replace('_', "-"));
        let has_flag = help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}["));
        assert_eq!(cells[2], if has_flag { format!("`{flag}`") } else { "—".to_owned() }, "{key}: flag");
        let default = key.split('.').fold(&defaults, |node, part| &node[part]);
        let expected = match default {
            Value::Null => "unset".to_owned(),
            value => format!("`{}`", serde_json::from_value::<toml::Value>(value.clone()).unwrap()),
        };
        assert_eq!(cells[3], expected, "{key}: default");
    }
}
