//! Quotas and limits against the real binary: transformer components stored
//! once and freed with their last hook, per-academy quotas on hooks and on
//! transformer bytes (403), uploads in flight bounded per academy and in all
//! (429), per-token rate limits on ingest and on API writes (429 with
//! `Retry-After`), and all of it in `/metrics` and `config show`.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmhook_testkit::{ADMIN, Client, Engine, start, start_with, token, wasmhook};

/// The bundled example transformer: a real `hook-transformer` component.
fn slack() -> Vec<u8> {
    wasmhook::bundled::find("slack-transformer").unwrap().wasm.to_vec()
}

/// The transformer with a custom section of `extra` bytes of `tag`
/// appended: still a valid component, of another size and sha256.
fn padded(extra: usize, tag: u8) -> Vec<u8> {
    fn leb128(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let name = b"padding";
    let mut content = Vec::new();
    leb128(name.len(), &mut content);
    content.extend_from_slice(name);
    content.resize(content.len() + extra, tag);
    let mut bytes = slack();
    bytes.push(0); // a custom section
    leb128(content.len(), &mut bytes);
    bytes.extend(content);
    bytes
}

async fn hook(client: &Client, body: Value) -> u64 {
    let reply = client.post("/v1/notify/hook/subscribe", &body).await;
    assert_eq!(reply.status, 201, "{reply:?}");
    reply.body["id"].as_u64().unwrap()
}

fn subscription() -> Value {
    json!({"event": "form_entry.added", "target": "https://receiver.example/h"})
}

fn transformer(id: u64) -> String {
    format!("/v1/notify/hook/subscribe/{id}/transformer")
}

/// An answer with its headers (the test kit's client keeps the body only).
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

async fn send(request: reqwest::RequestBuilder, token: &str) -> Answer {
    let response = request.header("Authorization", format!("Token {token}")).send().await.expect("request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
    Answer { status, retry_after, body }
}

async fn put_wasm(engine: &Engine, token: &str, path: &str, bytes: Vec<u8>) -> Answer {
    let request = reqwest::Client::new().put(format!("{}{path}", engine.url)).body(bytes);
    send(request.header("content-type", "application/wasm"), token).await
}

async fn post_json(engine: &Engine, token: &str, path: &str, body: &Value) -> Answer {
    send(reqwest::Client::new().post(format!("{}{path}", engine.url)).json(body), token).await
}

/// The value of the sample `series` (its whole line up to the value, e.g.
/// `wasmhook_limit_refusals_total{limit="max_hooks_per_academy"}`).
async fn metric(engine: &Engine, series: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", engine.url)).await.unwrap().text().await.unwrap();
    let line = text.lines().find(|line| line.strip_prefix(series).is_some_and(|rest| rest.starts_with(' ')));
    let line = line.unwrap_or_else(|| panic!("no sample {series} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn refusals(limit: &str) -> String {
    format!("wasmhook_limit_refusals_total{{limit=\"{limit}\"}}")
}

fn store_size(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(wasmhook::store::RedbStore::FILE_NAME)).unwrap().len()
}

/// A transformer is stored once however many hooks use it, and freed with
/// the last of them; replacing transformers again and again does not grow
/// the store file, nor does uploading the same one repeatedly.
#[tokio::test]
async fn transformer_components_are_stored_once_and_freed_with_their_last_hook() {
    let dir = tempfile::tempdir().unwrap();
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let north_token = token(&admin, json!({"name": "n", "role": "academy", "academy": "north"})).await;
    let north = engine.client(&north_token);

    const PAD: usize = 2 << 20;
    let component = padded(PAD, 1);
    let (first, second) = (hook(&north, subscription()).await, hook(&north, subscription()).await);
    let attached = north.put_bytes(&transformer(first), component.clone()).await;
    assert_eq!(attached.status, 200, "{attached:?}");
    let sha = attached.body["sha256"].as_str().unwrap().to_owned();
    assert_eq!(north.put_bytes(&transformer(second), component.clone()).await.body["sha256"], sha.as_str());
    let quota = north.get("/v1/notify/hook/quota").await.body;
    assert_eq!(quota["transformer_bytes"]["used"], component.len(), "counted once: {quota}");
    assert_eq!(metric(&engine, "wasmhook_components_stored").await, 1.0, "stored once");
    assert_eq!(metric(&engine, "wasmhook_component_bytes_stored").await, component.len() as f64);

    assert_eq!(north.delete(&format!("/v1/notify/hook/subscribe/{first}")).await.status, 204);
    assert_eq!(metric(&engine, "wasmhook_components_stored").await, 1.0, "the second hook still uses it");
    assert_eq!(north.delete(&format!("/v1/notify/hook/subscribe/{second}")).await.status, 204);
    assert_eq!(metric(&engine, "wasmhook_components_stored").await, 0.0, "freed with its last hook");
    assert_eq!(metric(&engine, "wasmhook_component_bytes_stored").await, 0.0);
    assert_eq!(north.get("/v1/notify/hook/quota").await.body["transformer_bytes"]["used"], 0);

    // Six different 2 MiB transformers, each on a hook deleted after: the
    // file keeps about one of them (redb reuses the freed pages).
    let mut shas = vec![sha];
    let mut sizes = Vec::new();
    for round in 0..6u8 {
        let id = hook(&north, subscription()).await;
        let attached = north.put_bytes(&transformer(id), padded(PAD, round + 2)).await;
        assert_eq!(attached.status, 200, "{attached:?}");
        shas.push(attached.body["sha256"].as_str().unwrap().to_owned());
        assert_eq!(north.delete(&format!("/v1/notify/hook/subscribe/{id}")).await.status, 204);
        sizes.push(store_size(dir.path()));
    }
    assert!(sizes[5] <= sizes[0] + 2 * PAD as u64, "the store file grew with deleted transformers: {sizes:?}");

    // The same transformer uploaded again and again is written once.
    let id = hook(&north, subscription()).await;
    let mut sizes = Vec::new();
    for _ in 0..5 {
        assert_eq!(north.put_bytes(&transformer(id), component.clone()).await.status, 200);
        sizes.push(store_size(dir.path()));
    }
    assert!(sizes[4] <= sizes[0] + (PAD as u64) / 4, "the same component rewritten: {sizes:?}");
    assert_eq!(metric(&engine, "wasmhook_components_stored").await, 1.0);

    // In the store itself: only the component still attached.
    let mut engine = engine;
    assert!(engine.terminate().success());
    let keys = wasmhook::secrets::LoadedKeys::load(None, &[], dir.path()).unwrap();
    assert!(!keys.generated(), "the engine's key file");
    let store = wasmhook::store::RedbStore::open(dir.path(), keys.keyring).unwrap();
    assert!(store.plugin_blob(&shas[0]).unwrap().is_some(), "attached to the last hook");
    for sha in &shas[1..] {
        assert_eq!(store.plugin_blob(sha).unwrap(), None, "{sha} outlived its hook");
    }
}

/// Over the hook quota or the transformer bytes quota: 403
/// `quota-exceeded` naming the quota and its limit, nothing stored; other
/// academies and superadmins' own hooks are not affected.
#[tokio::test]
async fn academy_quotas_answer_403_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let max_bytes = slack().len() + 100_000;
    let envs = [
        ("WASMHOOK_QUOTAS_MAX_HOOKS_PER_ACADEMY", "2".to_owned()),
        ("WASMHOOK_QUOTAS_MAX_TRANSFORMER_BYTES_PER_ACADEMY", max_bytes.to_string()),
    ];
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let engine = start_with(dir.path(), &[], &envs, false);
    let admin = engine.client(ADMIN);
    let north = engine.client(&token(&admin, json!({"name": "n", "role": "academy", "academy": "north"})).await);
    let south = engine.client(&token(&admin, json!({"name": "s", "role": "academy", "academy": "south"})).await);

    let (first, second) = (hook(&north, subscription()).await, hook(&north, subscription()).await);
    let refused = north.post("/v1/notify/hook/subscribe", &subscription()).await;
    assert_eq!((refused.status, refused.body["slug"].as_str()), (403, Some("quota-exceeded")), "{refused:?}");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("quotas.max_hooks_per_academy") && detail.contains("the most allowed is 2"), "{detail}");
    let for_north = json!({"event": "form_entry.added", "target": "https://r.example/h", "academy": "north"});
    assert_eq!(admin.post("/v1/notify/hook/subscribe", &for_north).await.status, 403, "a superadmin's too");
    assert_eq!(north.get("/v1/notify/hook/subscribe").await.body["count"], 2, "nothing stored");
    hook(&south, subscription()).await;
    for _ in 0..3 {
        hook(&admin, subscription()).await; // without an academy: no quota
    }

    let slack_sha = north.put_bytes(&transformer(first), slack()).await.body["sha256"].clone();
    assert_eq!(north.put_bytes(&transformer(second), slack()).await.status, 200, "the same component counts once");
    let refused = north.put_bytes(&transformer(second), padded(200_000, 7)).await;
    assert_eq!((refused.status, refused.body["slug"].as_str()), (403, Some("quota-exceeded")), "{refused:?}");
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(detail.contains("quotas.max_transformer_bytes_per_academy") && detail.contains(&max_bytes.to_string()));
    assert_eq!(north.get(&transformer(second)).await.body["sha256"], slack_sha, "the hook keeps its transformer");
    let quota = north.get("/v1/notify/hook/quota").await.body;
    assert_eq!(quota["hooks"], json!({"used": 2, "limit": 2}));
    assert_eq!(quota["transformer_bytes"], json!({"used": slack().len(), "limit": max_bytes}));
    assert_eq!(metric(&engine, "wasmhook_components_stored").await, 1.0, "the refused component is not stored");

    assert_eq!(north.delete(&format!("/v1/notify/hook/subscribe/{second}")).await.status, 204);
    hook(&north, subscription()).await;
    assert_eq!(metric(&engine, &refusals("max_hooks_per_academy")).await, 2.0);
    assert_eq!(metric(&engine, &refusals("max_transformer_bytes_per_academy")).await, 1.0);
}

/// An upload whose body is sent in two halves, with a pause between.
struct SlowUpload {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowUpload {
    /// Sends the headers and the first half of `bytes`.
    async fn start(engine: &Engine, token: &str, method: &str, path: &str, bytes: &[u8]) -> SlowUpload {
        let mut stream = TcpStream::connect(engine.url.strip_prefix("http://").unwrap()).await.unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Token {token}\r\nContent-Type: application/wasm\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            bytes.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let half = bytes.len() / 2;
        stream.write_all(&bytes[..half]).await.unwrap();
        SlowUpload { stream, rest: bytes[half..].to_vec() }
    }

    /// Sends the rest: the answer's status line.
    async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = String::new();
        self.stream.read_to_string(&mut answer).await.unwrap();
        answer.lines().next().unwrap_or_default().to_owned()
    }
}

/// Waits (up to 10 s) until `n` uploads are in flight.
async fn uploads_in_flight(engine: &Engine, n: f64) {
    for _ in 0..200 {
        if metric(engine, "wasmhook_uploads_in_flight").await == n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never {n} uploads in flight");
}

/// Uploads over the in-flight bounds are refused (not queued) before their
/// body is kept: 429 `too-many-uploads` with `Retry-After`, per academy and
/// in all; superadmins count in the total.
#[tokio::test]
async fn uploads_over_the_in_flight_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let envs =
        [("WASMHOOK_QUOTAS_MAX_UPLOADS_IN_FLIGHT_PER_ACADEMY", "1"), ("WASMHOOK_QUOTAS_MAX_UPLOADS_IN_FLIGHT", "2")];
    let engine = start_with(dir.path(), &[], &envs, false);
    let admin = engine.client(ADMIN);
    let mut academies = Vec::new();
    for name in ["north", "south", "west"] {
        let token = token(&admin, json!({"name": name, "role": "academy", "academy": name})).await;
        let id = hook(&engine.client(&token), subscription()).await;
        academies.push((token, id));
    }
    let [(north, north_hook), (south, south_hook), (west, west_hook)] = academies.try_into().unwrap();

    let north_slow = SlowUpload::start(&engine, &north, "PUT", &transformer(north_hook), &slack()).await;
    uploads_in_flight(&engine, 1.0).await;
    let refused = put_wasm(&engine, &north, &transformer(north_hook), slack()).await;
    assert_eq!((refused.status, refused.body["slug"].as_str()), (429, Some("too-many-uploads")), "{:?}", refused.body);
    assert_eq!(refused.retry_after.as_deref(), Some("1"));
    assert!(refused.body["detail"].as_str().unwrap().contains("quotas.max_uploads_in_flight_per_academy"));

    let south_slow = SlowUpload::start(&engine, &south, "PUT", &transformer(south_hook), &slack()).await;
    uploads_in_flight(&engine, 2.0).await;
    let refused = put_wasm(&engine, &west, &transformer(west_hook), slack()).await;
    assert_eq!((refused.status, refused.body["slug"].as_str()), (429, Some("too-many-uploads")));
    assert!(refused.body["detail"].as_str().unwrap().contains("(quotas.max_uploads_in_flight)"));
    let plugin = post_json(&engine, ADMIN, "/v1/plugins/mine", &json!({})).await;
    assert_eq!(plugin.status, 429, "superadmins' uploads count in the total: {:?}", plugin.body);

    assert!(north_slow.finish().await.starts_with("HTTP/1.1 200"), "a held upload completes");
    assert!(south_slow.finish().await.starts_with("HTTP/1.1 200"));
    uploads_in_flight(&engine, 0.0).await;
    assert_eq!(put_wasm(&engine, &west, &transformer(west_hook), slack()).await.status, 200);
    assert_eq!(put_wasm(&engine, &north, &transformer(north_hook), slack()).await.status, 200);
    assert_eq!(metric(&engine, &refusals("max_uploads_in_flight_per_academy")).await, 1.0);
    assert_eq!(metric(&engine, &refusals("max_uploads_in_flight")).await, 2.0);
}

fn event(id: &str) -> Value {
    json!({"event": "asset.asset_status_updated", "academy": "north", "data": {"id": 1}, "id": id})
}

/// Posts `body` to `path` until refused (at most `attempts` times): how
/// many were accepted (202 or 201), and the refusal.
async fn until_refused(engine: &Engine, token: &str, path: &str, body: impl Fn(usize) -> Value) -> (usize, Answer) {
    for n in 0..20 {
        let answer = post_json(engine, token, path, &body(n)).await;
        if answer.status != 202 && answer.status != 201 {
            return (n, answer);
        }
    }
    panic!("{path}: 20 requests in a row were accepted");
}

/// A token posting faster than its rate gets 429 `rate-limited` with
/// `Retry-After`, and passes again after it; another token is not affected.
/// A batch counts its events; API writes have their own rate; reads none.
#[tokio::test]
async fn a_token_faster_than_its_rate_gets_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    // Tokens made first, without limits: the admin token is rate-limited too.
    let engine = start(dir.path(), &[]);
    let admin = engine.client(ADMIN);
    let fast = token(&admin, json!({"name": "fast", "role": "service"})).await;
    let other = token(&admin, json!({"name": "other", "role": "service"})).await;
    let north = token(&admin, json!({"name": "n", "role": "academy", "academy": "north"})).await;
    let south = token(&admin, json!({"name": "s", "role": "academy", "academy": "south"})).await;
    let mut engine = engine;
    assert!(engine.terminate().success());
    let envs = [
        ("WASMHOOK_RATE_LIMITS_INGEST_EVENTS_PER_SECOND", "1"),
        ("WASMHOOK_RATE_LIMITS_INGEST_BURST", "5"),
        ("WASMHOOK_RATE_LIMITS_API_WRITES_PER_SECOND", "1"),
        ("WASMHOOK_RATE_LIMITS_API_WRITES_BURST", "3"),
    ];
    let engine = start_with(dir.path(), &[], &envs, false);

    let (accepted, refused) = until_refused(&engine, &fast, "/v1/events", |n| event(&format!("fast-{n}"))).await;
    assert!((5..10).contains(&accepted), "the burst passes, then the rate applies: {accepted} accepted");
    assert_eq!((refused.status, refused.body["slug"].as_str()), (429, Some("rate-limited")), "{:?}", refused.body);
    assert!(refused.body["detail"].as_str().unwrap().contains("rate_limits.ingest_events_per_second"));
    assert_eq!(refused.retry_after.as_deref(), Some("1"), "one event at 1/s, rounded up");
    assert_eq!(post_json(&engine, &other, "/v1/events", &event("other-1")).await.status, 202, "another token");

    // A batch needs all its events: 4 at 1/s.
    let batch = json!({"events": [event("b1"), event("b2"), event("b3"), event("b4")]});
    let refused = post_json(&engine, &fast, "/v1/events/batch", &batch).await;
    assert_eq!(refused.status, 429, "{:?}", refused.body);
    let wait: u64 = refused.retry_after.unwrap().parse().unwrap();
    assert!((1..=4).contains(&wait), "{wait}");
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let accepted = post_json(&engine, &fast, "/v1/events/batch", &batch).await;
    assert_eq!(accepted.status, 202, "after Retry-After: {:?}", accepted.body);

    // API writes: their own buckets; a refused write stores nothing.
    let (created, refused) = until_refused(&engine, &north, "/v1/notify/hook/subscribe", |_| subscription()).await;
    assert!((3..6).contains(&created), "{created} created");
    assert_eq!((refused.status, refused.body["slug"].as_str()), (429, Some("rate-limited")));
    assert!(refused.body["detail"].as_str().unwrap().contains("rate_limits.api_writes_per_second"));
    assert!(refused.retry_after.is_some());
    let north_client = engine.client(&north);
    assert_eq!(north_client.get("/v1/notify/hook/subscribe").await.body["count"], created, "reads are not limited");
    assert_eq!(post_json(&engine, &south, "/v1/notify/hook/subscribe", &subscription()).await.status, 201);

    assert!(metric(&engine, &refusals("ingest_events_per_second")).await >= 2.0);
    assert!(metric(&engine, &refusals("api_writes_per_second")).await >= 1.0);
}

/// `config show` lists the quotas and limits with their defaults, and what
/// the environment sets.
#[test]
fn config_show_lists_quotas_and_rate_limits() {
    let output = wasmhook(&["config", "show", "--json"], &[("WASMHOOK_QUOTAS_MAX_HOOKS_PER_ACADEMY", "7")]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let config: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        config["quotas"],
        json!({
            "max_hooks_per_academy": 7,
            "max_transformer_bytes_per_academy": 32 << 20,
            "max_uploads_in_flight_per_academy": 2,
            "max_uploads_in_flight": 4,
        })
    );
    assert_eq!(
        config["rate_limits"],
        json!({
            "ingest_events_per_second": 200_000,
            "ingest_burst": 20_000,
            "api_writes_per_second": 20,
            "api_writes_burst": 100,
        })
    );
    let refused = wasmhook(&["config", "show"], &[("WASMHOOK_RATE_LIMITS_INGEST_BURST", "0")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("rate_limits.ingest_burst: must be at least 1"));
}
