//! The target policy (SSRF protection) against the real binary: literal
//! IPs refused at subscribe time, host names judged on the address they
//! resolve to when the delivery connects, `allowed_networks`,
//! `denied_networks` and `require_https`. The engine is started without the
//! test suite's default `WASMHOOK_TARGETS_ALLOWED_NETWORKS=127.0.0.0/8`
//! where a test needs loopback refused.

use serde_json::{Value, json};
use wasmhook_testkit::receiver::Receiver;
use wasmhook_testkit::{ADMIN, Client, Engine, start_with, token};

const LOOPBACK_REFUSED: &str = "is in a denied network (loopback); allow it with targets.allowed_networks";

struct Setup {
    _dir: tempfile::TempDir,
    _engine: Engine,
    academy: Client,
    service: Client,
}

/// An engine with the given `WASMHOOK_TARGETS_*` variables, and one retry
/// an hour away, so a refused delivery is one failed attempt.
async fn setup(envs: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let engine = start_with(dir.path(), &["--retry-schedule", "1h"], envs, false);
    let admin = engine.client(ADMIN);
    let academy =
        engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    Setup { _dir: dir, _engine: engine, academy, service }
}

/// Nothing allowed: the engine's own defaults.
const DEFAULTS: &[(&str, &str)] = &[("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "")];

async fn subscribe(client: &Client, target: &str) -> (u16, Value) {
    let reply =
        client.post("/v1/notify/hook/subscribe", &json!({"event": "form_entry.won_or_lost", "target": target})).await;
    (reply.status, reply.body)
}

/// Posts an event to the hooks of `downtown-campus`; the ingest's answer.
async fn post_event(service: &Client) -> Value {
    let fixture = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    let event = json!({"event": "form_entry.won_or_lost", "academy": "downtown-campus", "data": fixture["source"]});
    let reply = service.post("/v1/events", &event).await;
    assert_eq!(reply.status, 202, "{reply:?}");
    reply.body
}

/// Posts an event; returns the hook's first recorded attempt.
async fn first_attempt(client: &Client, service: &Client, hook: &Value) -> Value {
    assert_eq!(post_event(service).await["deliveries"], 1);
    let path = format!("/v1/notify/hook/{}/deliveries", hook["id"]);
    let attempts = client.poll(&path, |body| body["count"].as_u64().is_some_and(|n| n > 0)).await;
    assert_eq!(attempts["count"], 1, "{attempts}");
    attempts["results"][0].clone()
}

fn assert_refused(reply: &(u16, Value), detail: &str) {
    assert_eq!(reply.0, 400, "{reply:?}");
    assert_eq!(reply.1["slug"], "target-not-allowed", "{reply:?}");
    assert_eq!(reply.1["status_code"], 400, "{reply:?}");
    assert_eq!(reply.1["detail"], detail, "{reply:?}");
}

#[tokio::test]
async fn by_default_literal_non_global_ips_are_refused_at_subscribe_time() {
    let s = setup(DEFAULTS).await;
    let receiver = Receiver::ok().await;
    assert_refused(
        &subscribe(&s.academy, &format!("{}/hook", receiver.url)).await,
        &format!("target 127.0.0.1 {LOOPBACK_REFUSED}"),
    );
    assert_refused(
        &subscribe(&s.academy, "http://169.254.169.254/latest/meta-data/").await,
        "target 169.254.169.254 is in a denied network (link-local, cloud metadata); allow it with targets.allowed_networks",
    );
    assert_refused(&subscribe(&s.academy, "http://[::1]:9000/").await, &format!("target ::1 {LOOPBACK_REFUSED}"));
    assert_refused(
        &subscribe(&s.academy, "http://[::ffff:127.0.0.1]:9000/").await,
        &format!("target ::ffff:127.0.0.1 {LOOPBACK_REFUSED}"),
    );
    assert_refused(
        &subscribe(&s.academy, "https://10.1.2.3/").await,
        "target 10.1.2.3 is in a denied network (private); allow it with targets.allowed_networks",
    );

    // A host name is judged when the delivery connects; a change of target
    // to a literal IP is judged at once.
    let (status, hook) = subscribe(&s.academy, "https://hooks.example.com/x").await;
    assert_eq!(status, 201, "{hook}");
    let path = format!("/v1/notify/hook/subscribe/{}", hook["id"]);
    let reply = s.academy.put(&path, &json!({"target": "http://192.168.1.1/"})).await;
    assert_refused(
        &(reply.status, reply.body),
        "target 192.168.1.1 is in a denied network (private); allow it with targets.allowed_networks",
    );
    assert_eq!(s.academy.get(&path).await.body["target"], "https://hooks.example.com/x", "unchanged");
}

#[tokio::test]
async fn a_host_name_resolving_to_loopback_is_a_failed_attempt_by_default() {
    let s = setup(DEFAULTS).await;
    let receiver = Receiver::ok().await;
    let port = receiver.url.rsplit(':').next().unwrap();
    let (status, hook) = subscribe(&s.academy, &format!("http://localhost:{port}/hook")).await;
    assert_eq!(status, 201, "{hook}");

    let attempt = first_attempt(&s.academy, &s.service, &hook).await;
    assert_eq!(attempt["outcome"], "failed", "{attempt}");
    assert_eq!(attempt["response_status"], Value::Null, "{attempt}");
    let error = attempt["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("target localhost (") && error.ends_with(LOOPBACK_REFUSED), "{attempt}");
    let errors = s.academy.get("/v1/notify/hook/errors").await.body;
    assert!(errors.to_string().contains(LOOPBACK_REFUSED), "the hook error names the refusal: {errors}");
    assert!(receiver.received().is_empty(), "the receiver got nothing");
}

#[tokio::test]
async fn allowed_networks_let_loopback_through() {
    let s = setup(&[("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "127.0.0.0/8")]).await;
    let receiver = Receiver::ok().await;
    let port = receiver.url.rsplit(':').next().unwrap();
    let (status, by_name) = subscribe(&s.academy, &format!("http://localhost:{port}/by-name")).await;
    assert_eq!(status, 201, "{by_name}");
    let (status, by_ip) = subscribe(&s.academy, &format!("{}/by-ip", receiver.url)).await;
    assert_eq!(status, 201, "{by_ip}");
    assert_refused(&subscribe(&s.academy, "http://[::1]:9000/").await, &format!("target ::1 {LOOPBACK_REFUSED}"));

    assert_eq!(post_event(&s.service).await["deliveries"], 2);
    receiver.wait_for("/by-name", 1).await;
    receiver.wait_for("/by-ip", 1).await;
}

#[tokio::test]
async fn denied_networks_win_over_allowed_networks() {
    let s = setup(&[
        ("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "127.0.0.0/8"),
        ("WASMHOOK_TARGETS_DENIED_NETWORKS", "127.0.0.1/32,::1/128"),
    ])
    .await;
    let receiver = Receiver::ok().await;
    assert_refused(
        &subscribe(&s.academy, &format!("{}/hook", receiver.url)).await,
        "target 127.0.0.1 is in targets.denied_networks (127.0.0.1/32)",
    );
    let port = receiver.url.rsplit(':').next().unwrap();
    let (status, hook) = subscribe(&s.academy, &format!("http://localhost:{port}/hook")).await;
    assert_eq!(status, 201, "{hook}");
    let attempt = first_attempt(&s.academy, &s.service, &hook).await;
    assert_eq!(attempt["outcome"], "failed", "{attempt}");
    let error = attempt["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("target localhost (") && error.contains("is in targets.denied_networks"), "{attempt}");
    assert!(receiver.received().is_empty(), "the receiver got nothing");
}

#[tokio::test]
async fn require_https_refuses_http_targets() {
    let s = setup(&[("WASMHOOK_TARGETS_REQUIRE_HTTPS", "true")]).await;
    assert_refused(
        &subscribe(&s.academy, "http://hooks.example.com/x").await,
        "target is http, and targets.require_https refuses it: use https",
    );
    let (status, hook) = subscribe(&s.academy, "https://hooks.example.com/x").await;
    assert_eq!(status, 201, "{hook}");
}

/// A hook whose literal-IP target was allowed when it was created, after
/// the operator stops allowing it: the check before sending refuses it (as
/// it refuses a literal IP a transformer sets).
#[tokio::test]
async fn a_literal_ip_is_checked_again_at_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let hook = {
        let engine = wasmhook_testkit::start(dir.path(), &[]);
        let admin = engine.client(ADMIN);
        let (status, hook) = subscribe(&admin, &format!("{}/hook", receiver.url)).await;
        assert_eq!(status, 201, "{hook}");
        hook
    };
    let engine = start_with(dir.path(), &["--retry-schedule", "1h"], DEFAULTS, false);
    let admin = engine.client(ADMIN);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    let attempt = first_attempt(&admin, &service, &hook).await;
    assert_eq!(attempt["error"], format!("target 127.0.0.1 {LOOPBACK_REFUSED}"), "{attempt}");
    assert!(receiver.received().is_empty(), "the receiver got nothing");
}

/// IPv6 addresses that carry an IPv4 address (NAT64, 6to4, Teredo) reach
/// that address: judged as it. They were accepted, though the first two
/// reach the cloud metadata service.
#[tokio::test]
async fn nat64_6to4_and_teredo_forms_of_internal_addresses_are_refused_at_subscribe_time() {
    let s = setup(DEFAULTS).await;
    let metadata = "is in a denied network (link-local, cloud metadata); allow it with targets.allowed_networks";
    for (host, shown, detail) in [
        ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe (NAT64, for 169.254.169.254)", metadata),
        ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1 (NAT64, for 127.0.0.1)", LOOPBACK_REFUSED),
        ("[2002:a9fe:a9fe::1]", "2002:a9fe:a9fe::1 (6to4, for 169.254.169.254)", metadata),
        ("[2002:7f00:1::1]", "2002:7f00:1::1 (6to4, for 127.0.0.1)", LOOPBACK_REFUSED),
    ] {
        let reply = subscribe(&s.academy, &format!("http://{host}/latest/meta-data/")).await;
        assert_refused(&reply, &format!("target {shown} {detail}"));
    }
    // Teredo (2001::/32) is not global itself; allowed, its server and
    // client addresses are judged too.
    let teredo = "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/";
    assert_refused(
        &subscribe(&s.academy, teredo).await,
        "target 2001:0:4136:e378:8000:63bf:80ff:fffe is in a denied network (IETF protocol assignments); allow it with targets.allowed_networks",
    );
    let allowed = setup(&[("WASMHOOK_TARGETS_ALLOWED_NETWORKS", "2001::/32")]).await;
    assert_refused(
        &subscribe(&allowed.academy, teredo).await,
        &format!("target 2001:0:4136:e378:8000:63bf:80ff:fffe (Teredo client 127.0.0.1) {LOOPBACK_REFUSED}"),
    );
    let (status, hook) = subscribe(&allowed.academy, "http://[2001:0:808:808::f7f7:f7f7]/").await;
    assert_eq!(status, 201, "server and client 8.8.8.8: {hook}");
    // The NAT64 form of a global address is global.
    let (status, hook) = subscribe(&s.academy, "https://[64:ff9b::808:808]/hook").await;
    assert_eq!(status, 201, "{hook}");
}
