//! Secrets at rest and signatures across a secret rotation, through the
//! real binary: an owner-only data directory, hook secrets and custom
//! header values absent from the bytes of the store file, attempt logs that
//! name custom headers without their values, the generated key reused
//! after a restart, a key rotation, a wrong or missing key refused at start
//! in one line, a data directory of an engine before sealing opened and
//! sealed, and both signatures during a secret's rotation overlap.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use wasmhook::secrets::KEY_FILE;
use wasmhook::store::RedbStore;
use wasmhook_testkit::receiver::{Received, Receiver, signed_by, verify};
use wasmhook_testkit::{ADMIN, Client, Engine, start, start_failing_with, start_with};

const ACADEMY: &str = "downtown-campus";
const EVENT: &str = "form_entry.won_or_lost";

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every directory and file under `dir`, `dir` included.
fn tree(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = vec![dir.to_owned()];
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).unwrap() {
            found.extend(tree(&entry.unwrap().path()));
        }
    }
    found
}

/// Asserts `dir` is 0700 and everything in it 0700 (directories) or 0600.
fn assert_owner_only(dir: &Path) {
    for path in tree(dir) {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), expected, "{} is {:o}", path.display(), mode(&path));
    }
}

/// Whether the raw bytes of the store file contain `needle`.
fn store_holds(data_dir: &Path, needle: &str) -> bool {
    let bytes = std::fs::read(data_dir.join(RedbStore::FILE_NAME)).unwrap();
    bytes.windows(needle.len()).any(|window| window == needle.as_bytes())
}

/// The marketing serializer's source object: delivered as one payload.
fn lead() -> Value {
    let path = wasmhook_testkit::workspace_root().join(format!("plugins/marketing/fixtures/{EVENT}.json"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["source"].clone()
}

async fn subscribe(admin: &Client, target: String, headers: Value) -> Value {
    let body = json!({"event": EVENT, "target": target, "academy": ACADEMY, "headers": headers});
    let reply = admin.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body
}

async fn post_event(admin: &Client, id: &str) {
    let reply = admin.post("/v1/events", &json!({"event": EVENT, "academy": ACADEMY, "id": id, "data": lead()})).await;
    assert_eq!(reply.status, 202, "{reply:?}");
}

/// Posts event `id` and waits for it at `receiver`'s `path`: the request.
async fn deliver(admin: &Client, receiver: &Receiver, path: &str, id: &str) -> Received {
    post_event(admin, id).await;
    let webhook_id = |r: &Received| r.header("webhook-id").starts_with(&format!("msg_{id}_"));
    for _ in 0..400 {
        if let Some(request) = receiver.on(path).into_iter().find(webhook_id) {
            return request;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("event {id} did not arrive at {path}: {:?}", receiver.on(path));
}

/// SIGTERM and a clean exit, so the store file is complete on disk.
fn stop(mut engine: Engine) {
    assert!(engine.terminate().success());
}

/// Standard error of a start that must fail: exactly one line.
fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr
}

/// A key as the configuration takes it.
fn new_key() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn the_data_dir_is_owner_only_and_an_open_one_is_tightened_at_start() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let engine = start(&data, &[]);
    for name in [RedbStore::FILE_NAME, KEY_FILE, "plugin-cache"] {
        assert!(data.join(name).exists(), "{name} in {:?}", tree(&data));
    }
    assert!(std::fs::read_dir(data.join("plugin-cache")).unwrap().count() > 0, "compiled plugins are cached");
    assert_owner_only(&data);
    stop(engine);

    // As an older engine (or a copy) leaves it.
    for path in tree(&data) {
        let open = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(open)).unwrap();
    }
    let engine = start_with(&data, &[], &[], true);
    assert_owner_only(&data);
    let key_file = format!("{}", data.join(KEY_FILE).display());
    let logs = engine.logs_once(&key_file).await.join("\n");
    assert!(logs.contains("tightened permissions in the data directory"), "{logs}");
    assert!(logs.contains(&key_file), "each change is logged: {logs}");
}

#[tokio::test]
async fn secrets_and_header_values_never_reach_the_disk_and_the_key_is_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let header_value = "Bearer tok-4b1d9e0c7a";
    let headers = json!({"Authorization": header_value, "X-Team": "sales"});
    let hook = subscribe(&admin, format!("{}/sealed", receiver.url), headers).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    let id = hook["id"].as_u64().unwrap();

    // Delivered with the header and signed, as before.
    let request = deliver(&admin, &receiver, "/sealed", "sealed-1").await;
    verify(&secret, &request);
    assert_eq!(request.header("authorization"), header_value);

    // The attempt log names the custom headers, without their values.
    let path = format!("/v1/notify/hook/{id}/deliveries");
    let log = admin.poll(&path, |log| log["count"] == 1).await;
    let headers: Vec<(String, String)> = serde_json::from_value(log["results"][0]["request_headers"].clone()).unwrap();
    let value = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    assert_eq!(value("Authorization"), Some("<redacted>"), "{headers:?}");
    assert_eq!(value("X-Team"), Some("<redacted>"), "{headers:?}");
    assert_eq!(value("content-type"), Some("application/json"));
    assert_eq!(value("webhook-id"), Some(format!("msg_sealed-1_{id}").as_str()));
    assert!(value("webhook-timestamp").is_some());
    assert_eq!(value("webhook-signature"), None, "the signature stays out");

    // The owner still reads them through the API.
    let shown = admin.get(&format!("/v1/notify/hook/subscribe/{id}")).await.body;
    assert_eq!(shown["headers"]["Authorization"], header_value);
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{id}/secret")).await.body["secret"], secret);

    // A rotation writes the new secret and keeps the old one: sealed too.
    let rotated = admin.post(&format!("/v1/notify/hook/subscribe/{id}/secret/rotate"), &json!({})).await.body;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    stop(engine);
    let secret_part = |s: &str| s.strip_prefix("whsec_").unwrap().to_owned();
    for needle in [secret.clone(), secret_part(&secret), new_secret.clone(), secret_part(&new_secret)] {
        assert!(!store_holds(dir.path(), &needle), "{needle} is in the store file");
    }
    assert!(!store_holds(dir.path(), "tok-4b1d9e0c7a"), "the header value is in the store file");
    assert!(store_holds(dir.path(), "msg_sealed-1_"), "the check reads the file: other records are there");

    // The key generated at the first start is reused: deliveries are
    // still signed with the hook's secrets.
    let key = std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap();
    let engine = start(dir.path(), &[]);
    assert_eq!(std::fs::read_to_string(dir.path().join(KEY_FILE)).unwrap(), key);
    let admin = Client::rebind(&admin, &engine);
    let request = deliver(&admin, &receiver, "/sealed", "sealed-2").await;
    verify(&new_secret, &request);
    assert_eq!(request.header("authorization"), header_value);
}

#[tokio::test]
async fn a_key_rotation_keeps_secrets_readable_and_a_wrong_or_missing_key_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let (old_key, new_key) = (new_key(), new_key());
    let engine = start_with(dir.path(), &[], &[("WASMHOOK_SECRET_KEY", &old_key)], false);
    assert!(!dir.path().join(KEY_FILE).exists(), "a configured key writes no key file");
    let admin = engine.client(ADMIN);
    let hook = subscribe(&admin, format!("{}/rotated", receiver.url), json!({"Authorization": "Bearer k"})).await;
    let secret = hook["secret"].as_str().unwrap().to_owned();
    stop(engine);

    // The new key, the old one as previous: everything is re-sealed.
    let rotation = [("WASMHOOK_SECRET_KEY", new_key.as_str()), ("WASMHOOK_PREVIOUS_SECRET_KEYS", old_key.as_str())];
    let engine = start_with(dir.path(), &[], &rotation, true);
    let sealed = "sealed the store's hook secrets and header values with the current key";
    let logs = engine.logs_once(sealed).await.join("\n");
    assert!(logs.contains(sealed), "{logs}");
    stop(engine);

    // The old key is no longer needed.
    let engine = start_with(dir.path(), &[], &[("WASMHOOK_SECRET_KEY", &new_key)], false);
    let admin = Client::rebind(&admin, &engine);
    let id = hook["id"].as_u64().unwrap();
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{id}/secret")).await.body["secret"], secret);
    let request = deliver(&admin, &receiver, "/rotated", "rotated-1").await;
    verify(&secret, &request);
    assert_eq!(request.header("authorization"), "Bearer k");
    stop(engine);

    // The old key alone, or another one: refused, saying what to do.
    for wrong in [old_key.clone(), self::new_key()] {
        let output = start_failing_with(dir.path(), &[], &[("WASMHOOK_SECRET_KEY", &wrong)]);
        let error = one_line_error(&output);
        assert!(error.starts_with(&format!("wasmhook: hook {id}'s ")), "{error}");
        assert!(error.contains("is sealed with key") && error.contains("WASMHOOK_SECRET_KEY"), "{error}");
    }
    // No key at all: the store's key is missing; nothing is generated.
    let output = start_failing_with(dir.path(), &[], &[]);
    let error = one_line_error(&output);
    assert!(error.contains("no key is configured") && error.contains(KEY_FILE), "{error}");
    assert!(!dir.path().join(KEY_FILE).exists(), "the useless key is not kept: {error}");
    // Not a key: a configuration error naming the variable.
    let output = start_failing_with(dir.path(), &[], &[("WASMHOOK_SECRET_KEY", "hunter2")]);
    let error = one_line_error(&output);
    assert!(
        error
            .starts_with("wasmhook: configuration: environment variable WASMHOOK_SECRET_KEY: secret_key: is not a key")
    );
    assert!(!error.contains("hunter2"), "{error}");
}

#[tokio::test]
async fn a_data_dir_from_before_sealing_opens_and_is_sealed() {
    const SECRET: &str = "whsec_G9J4bCJE0tQSieQmzHnHI47Mf5KGfNqI";
    const HEADER: &str = "Bearer legacy-header-value-7f3a";
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data-dir-before-sealing");
    std::fs::copy(fixture.join(RedbStore::FILE_NAME), data.join(RedbStore::FILE_NAME)).unwrap();
    for (path, open) in [(data.clone(), 0o755), (data.join(RedbStore::FILE_NAME), 0o644)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(open)).unwrap();
    }
    assert!(store_holds(&data, SECRET) && store_holds(&data, HEADER), "the fixture holds them in plaintext");

    let receiver = Receiver::ok().await;
    // JSON logs: the counts are checked as fields.
    let engine = start_with(&data, &[], &[("WASMHOOK_LOG_FORMAT", "json")], true);
    assert_owner_only(&data);
    let admin = engine.client(ADMIN);
    assert_eq!(admin.get("/v1/notify/hook/subscribe/1/secret").await.body["secret"], SECRET);
    let hook = admin.get("/v1/notify/hook/subscribe/1").await.body;
    assert_eq!(hook["headers"]["Authorization"], HEADER);
    // The attempt recorded by the old engine no longer shows the value.
    let log = admin.get("/v1/notify/hook/1/deliveries").await.body;
    assert_eq!(log["count"], 1, "{log}");
    assert_eq!(log["results"][0]["request_headers"][0], json!(["Authorization", "<redacted>"]), "{log}");

    // It delivers, signed with its secret, with its header.
    let moved = admin.put("/v1/notify/hook/subscribe/1", &json!({"target": format!("{}/legacy", receiver.url)})).await;
    assert_eq!(moved.status, 200, "{moved:?}");
    let request = deliver(&admin, &receiver, "/legacy", "after-sealing").await;
    verify(SECRET, &request);
    assert_eq!(request.header("authorization"), HEADER);
    let logs = engine.logs_once("attempts_redacted").await.join("\n");
    assert!(logs.contains(r#""plaintext_values":2"#) && logs.contains(r#""attempts_redacted":1"#), "{logs}");
    stop(engine);
    for needle in [SECRET, SECRET.strip_prefix("whsec_").unwrap(), "legacy-header-value-7f3a"] {
        assert!(!store_holds(&data, needle), "{needle} is still in the store file");
    }
}

/// After `POST …/secret/rotate` the old secret signs beside the new one for
/// `signing_secret_overlap` (default 24 h), then only the new one does.
#[tokio::test]
async fn after_a_rotation_both_secrets_sign_until_the_overlap_ends() {
    let receiver = Receiver::ok().await;

    // The default overlap: a receiver with either secret verifies.
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let hook = subscribe(&admin, format!("{}/overlap", receiver.url), json!({})).await;
    let (id, old) = (hook["id"].as_u64().unwrap(), hook["secret"].as_str().unwrap().to_owned());
    let rotated = admin.post(&format!("/v1/notify/hook/subscribe/{id}/secret/rotate"), &json!({})).await.body;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    let expires: jiff::Timestamp = rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
    let overlap = expires.as_second() - jiff::Timestamp::now().as_second();
    assert!((86_390..=86_400).contains(&overlap), "24 h: {rotated}");
    let request = deliver(&admin, &receiver, "/overlap", "overlap-1").await;
    assert_eq!(request.header("webhook-signature").split(' ').count(), 2, "{request:?}");
    verify(&new, &request);
    verify(&old, &request);
    // A restart keeps the previous secret (sealed in the store).
    stop(engine);
    let engine = start(dir.path(), &[]);
    let admin = Client::rebind(&admin, &engine);
    let request = deliver(&admin, &receiver, "/overlap", "overlap-2").await;
    verify(&new, &request);
    verify(&old, &request);

    // A short overlap: after it, the new secret alone.
    let dir = tempfile::tempdir().unwrap();
    let engine = start_with(dir.path(), &[], &[("WASMHOOK_SIGNING_SECRET_OVERLAP", "1s")], false);
    let admin = engine.client(ADMIN);
    let hook = subscribe(&admin, format!("{}/short", receiver.url), json!({})).await;
    let (id, old) = (hook["id"].as_u64().unwrap(), hook["secret"].as_str().unwrap().to_owned());
    let rotated = admin.post(&format!("/v1/notify/hook/subscribe/{id}/secret/rotate"), &json!({})).await.body;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    let expires: jiff::Timestamp = rotated["previous_secret_expires_at"].as_str().unwrap().parse().unwrap();
    while jiff::Timestamp::now() < expires {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let request = deliver(&admin, &receiver, "/short", "short-1").await;
    verify(&new, &request);
    assert!(!signed_by(&old, &request), "the old secret no longer signs: {request:?}");
    assert_eq!(request.header("webhook-signature").split(' ').count(), 1);
    let shown = admin.get(&format!("/v1/notify/hook/subscribe/{id}/secret")).await.body;
    assert_eq!(shown, json!({"secret": new, "previous_secret_expires_at": null}));
}

/// `config show` names the key settings without ever printing a key.
#[test]
fn config_show_redacts_the_keys_and_shows_the_overlap() {
    let (key, previous) = (new_key(), new_key());
    let envs = [("WASMHOOK_SECRET_KEY", key.as_str()), ("WASMHOOK_PREVIOUS_SECRET_KEYS", previous.as_str())];
    let output = wasmhook_testkit::wasmhook(&["config", "show"], &envs);
    assert!(output.status.success(), "{output:?}");
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(shown.contains(r#"secret_key = "<redacted>""#), "{shown}");
    assert!(shown.contains(r#"previous_secret_keys = ["<redacted>"]"#), "{shown}");
    assert!(shown.contains(r#"signing_secret_overlap = "24h""#), "{shown}");
    assert!(!shown.contains(&key) && !shown.contains(&previous), "{shown}");
}
