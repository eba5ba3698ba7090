//! The real binary on PostgreSQL (`store = "postgres"`): deliveries signed
//! and sent from a database, by whichever engine has its key; nothing
//! acknowledged lost to a `kill -9`, of the only engine or of one of three
//! sharing the database; the refusals an operator meets at start (no URL,
//! another key, a database migrated by a newer engine).
//!
//! Each test gets a database of its own on the server named by
//! `WASMHOOK_TEST_POSTGRES_URL` (`scripts/postgres-test-cluster` starts a
//! throwaway one). Without it a test is skipped with a notice, unless
//! `WASMHOOK_TEST_REQUIRE_POSTGRES=1` (CI), which fails it. The e2e suites
//! run on PostgreSQL too, in `on_postgres.rs`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use wasmhook_testkit::postgres::{URL, database, server, sql};
use wasmhook_testkit::receiver::{Receiver, verify};
use wasmhook_testkit::traffic::{Producers, slow_receiver};
use wasmhook_testkit::{Client, Engine, Tenants, hostile_wasm, start_failing_with, start_with};

/// The settings of an engine on the database at `url`.
fn on(url: &str) -> [(&'static str, &str); 2] {
    [("WASMHOOK_STORE", "postgres"), ("WASMHOOK_POSTGRES_URL", url)]
}

/// An engine on `url`, with `dir` for its plugin cache and key file.
fn engine(dir: &tempfile::TempDir, url: &str, args: &[&str]) -> Engine {
    start_with(dir.path(), args, &on(url), false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_delivered_signed_from_postgres_by_any_engine_with_its_key() {
    let Some(url) = database() else { return };
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let engine = engine(&dir, &url, &[]);
    let Tenants { a, service, .. } = Tenants::of(&engine).await;
    let hook = a
        .post(
            "/v1/notify/hook/subscribe",
            &json!({"event": "asset.asset_status_updated", "target": format!("{}/pg", receiver.url)}),
        )
        .await;
    assert_eq!(hook.status, 201, "{hook:?}");
    let event =
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 7}, "id": "e-1"});
    let posted = service.post("/v1/events", &event).await;
    assert_eq!(posted.status, 202, "{posted:?}");
    let delivered = receiver.wait_for("/pg", 1).await.remove(0);
    verify(hook.body["secret"].as_str().unwrap(), &delivered);
    assert_eq!(delivered.header("webhook-id"), format!("msg_e-1_{}", hook.body["id"]));
    let log = format!("/v1/notify/hook/{}/deliveries", hook.body["id"]);
    a.poll(&log, |page| page["results"][0]["outcome"] == "succeeded").await;

    // Another engine, with a data directory of its own, on the same
    // database: it needs the key the first one sealed the hook's secret
    // with, and then sees the hook, its log and the event's id (the same id
    // is answered, not delivered again).
    drop(engine);
    let elsewhere = tempfile::tempdir().unwrap();
    let refused = start_failing_with(elsewhere.path(), &[], &on(&url));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("every engine on one database needs the key"), "{stderr}");
    let key = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    let [store, database] = on(&url);
    let engine = start_with(elsewhere.path(), &[], &[store, database, ("WASMHOOK_SECRET_KEY", key.trim())], false);
    let (a, service) = (Client::rebind(&a, &engine), Client::rebind(&service, &engine));
    assert_eq!(a.get(&log).await.body["results"].as_array().map(Vec::len), Some(1));
    assert_eq!(service.post("/v1/events", &event).await.status, 202);
    let again =
        json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {"id": 8}, "id": "e-2"});
    assert_eq!(service.post("/v1/events", &again).await.status, 202);
    let received = receiver.wait_for("/pg", 2).await;
    assert_eq!(received[1].header("webhook-id"), format!("msg_e-2_{}", hook.body["id"]));
    verify(hook.body["secret"].as_str().unwrap(), &received[1]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.count("/pg"), 2, "e-1 was delivered once");
}

/// `kill -9` while events are ingested and delivered: every acknowledged
/// event is delivered by the next engine on the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_acknowledged_is_lost_to_a_kill_9_on_postgres() {
    let Some(url) = database() else { return };
    let dir = tempfile::tempdir().unwrap();
    // A slow receiver and few workers before the kill, so deliveries are
    // pending when it comes; a fast one after.
    let (receiver, slow) = slow_receiver().await;
    // Leases of 3 s: the next engine attempts the jobs the killed one held
    // once they end.
    let [store, database] = on(&url);
    let envs = [store, database, ("WASMHOOK_POSTGRES_LEASE", "3s")];
    let engine = start_with(dir.path(), &["--retry-schedule", "50ms", "--delivery-concurrency", "2"], &envs, false);
    let Tenants { a, service, .. } = Tenants::of(&engine).await;
    let target = format!("{}/k", receiver.url);
    let hook =
        a.post("/v1/notify/hook/subscribe", &json!({"event": "asset.asset_status_updated", "target": target})).await;
    assert_eq!(hook.status, 201, "{hook:?}");

    let producers = Producers::start(&engine, service.token(), "asset.asset_status_updated", "downtown-campus", "");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    engine.kill9();
    let acknowledged = producers.acknowledged().await;
    assert!(acknowledged.len() > 50, "the test must kill the engine mid-traffic: {} acknowledged", acknowledged.len());
    let delivered_before = receiver.count("/k");
    assert!(delivered_before < acknowledged.len(), "deliveries were pending at the kill ({delivered_before})");

    slow.store(false, Ordering::Relaxed);
    let _engine = start_with(dir.path(), &["--retry-schedule", "50ms"], &envs, false);
    receiver.wait_for_events("/k", &acknowledged).await;
}

/// Engines after the first on `url` share its key (read from `first`'s
/// data directory), with leases of 3 s and the given `args`.
fn sharing(dir: &tempfile::TempDir, first: &tempfile::TempDir, url: &str, args: &[&str]) -> Engine {
    let key = std::fs::read_to_string(first.path().join("secret.key")).unwrap();
    let [store, database] = on(url);
    let envs = [store, database, ("WASMHOOK_SECRET_KEY", key.trim()), ("WASMHOOK_POSTGRES_LEASE", "3s")];
    start_with(dir.path(), args, &envs, false)
}

/// Polls `done` every 50 ms for at most 2 s (what an engine may take to
/// follow another's change).
async fn within_2s(what: &str, mut done: impl AsyncFnMut() -> bool) {
    for _ in 0..40 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not followed within 2 s: {what}");
}

/// Three engines on one database, as behind a load balancer: what one
/// changes (hooks, tokens, plugins, the catalogue) the others follow within
/// 2 s, and events posted to all three
/// while one is killed with `kill -9` are all delivered, by the others once
/// its leases end; a delivery sent twice (the killed engine sent it and
/// died before recording it) is sent again only after the lease, never by
/// two engines at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_engines_share_one_database_and_survive_a_kill_9() {
    let Some(url) = database() else { return };
    let dirs = [(); 3].map(|()| tempfile::tempdir().unwrap());
    let args = ["--retry-schedule", "50ms", "--delivery-concurrency", "4"];
    let [store, database] = on(&url);
    let first = start_with(dirs[0].path(), &args, &[store, database, ("WASMHOOK_POSTGRES_LEASE", "3s")], false);
    let engines = [first, sharing(&dirs[1], &dirs[0], &url, &args), sharing(&dirs[2], &dirs[0], &url, &args)];
    let Tenants { admin, a, service, .. } = Tenants::of(&engines[0]).await;

    // A hook created through the first engine is known to the others.
    let (receiver, slow) = slow_receiver().await;
    let target = format!("{}/k", receiver.url);
    let hook =
        a.post("/v1/notify/hook/subscribe", &json!({"event": "asset.asset_status_updated", "target": target})).await;
    assert_eq!(hook.status, 201, "{hook:?}");
    let path = format!("/v1/notify/hook/subscribe/{}", hook.body["id"]);
    for engine in &engines[1..] {
        let a = Client::rebind(&a, engine);
        within_2s("a hook created elsewhere", async || a.get(&path).await.status == 200).await;
    }

    // A token revoked through the second engine is refused by the first.
    let created = admin.post("/v1/admin/tokens", &json!({"name": "short-lived", "role": "service"})).await;
    assert_eq!(created.status, 201, "{created:?}");
    let short_lived = engines[0].client(created.body["token"].as_str().unwrap());
    let event = json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {}, "id": "t-1"});
    assert_eq!(short_lived.post("/v1/events", &event).await.status, 202, "the first engine knows it");
    let revoked = Client::rebind(&admin, &engines[1]).delete(&format!("/v1/admin/tokens/{}", created.body["id"])).await;
    assert_eq!(revoked.status, 204, "{revoked:?}");
    within_2s("a token revoked elsewhere", async || short_lived.post("/v1/events", &event).await.status == 401).await;

    // A plugin uploaded and activated through the first engine serves the
    // events of a catalogue event added with it, ingested by the third.
    let uploaded = admin.post_raw("/v1/plugins/echo", "application/wasm", hostile_wasm()).await;
    assert_eq!(uploaded.status, 201, "{uploaded:?}");
    assert_eq!(admin.post("/v1/plugins/echo/activate", &json!({"version": 1})).await.status, 200);
    let spec = json!({"name": "asset.echoed", "action": "registry.Asset.echoed", "description": "As posted", "serializer": "echo"});
    let added = admin.post("/v1/catalog/events", &spec).await;
    assert_eq!(added.status, 201, "{added:?}");
    let third = Client::rebind(&admin, &engines[2]);
    within_2s("a plugin activated elsewhere", async || {
        let listed = third.get("/v1/notify/hook/event?like=asset.echoed").await.body;
        third.get("/v1/plugins/echo").await.body["active_version"] == 1
            && listed.as_array().is_some_and(|e| e.len() == 1)
    })
    .await;
    let target = format!("{}/echo", receiver.url);
    let echoed = a.post("/v1/notify/hook/subscribe", &json!({"event": "asset.echoed", "target": target})).await;
    assert_eq!(echoed.status, 201, "{echoed:?}");
    let path = format!("/v1/notify/hook/subscribe/{}", echoed.body["id"]);
    let a_on_third = Client::rebind(&a, &engines[2]);
    within_2s("a second hook created elsewhere", async || a_on_third.get(&path).await.status == 200).await;
    let event = json!({"event": "asset.echoed", "academy": "downtown-campus", "data": {"grade": "A"}, "id": "g-1"});
    assert_eq!(Client::rebind(&service, &engines[2]).post("/v1/events", &event).await.status, 202);
    assert_eq!(receiver.wait_for("/echo", 1).await[0].json(), json!({"grade": "A"}), "echoed, as posted");

    // Events posted to all three, the second killed in the middle.
    let [first, second, third] = engines;
    let producers = [(&first, "a"), (&second, "b"), (&third, "c")].map(|(engine, prefix)| {
        Producers::start(engine, service.token(), "asset.asset_status_updated", "downtown-campus", prefix)
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    second.kill9();
    let [to_first, to_second, to_third] = producers;
    let mut acknowledged = to_second.acknowledged().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    acknowledged.extend(to_first.stop().await);
    acknowledged.extend(to_third.stop().await);
    acknowledged.push("t-1".into());
    assert!(acknowledged.len() > 100, "the kill must come mid-traffic: {} acknowledged", acknowledged.len());
    slow.store(false, Ordering::Relaxed);
    receiver.wait_for_events("/k", &acknowledged).await;

    // Sent twice only when the second engine had sent it and died before
    // recording it, each time after its lease of 3 s: at most what it had
    // in flight, never two at once.
    let mut sent: std::collections::HashMap<String, Vec<std::time::Instant>> = Default::default();
    for request in receiver.on("/k") {
        sent.entry(request.header("webhook-id").to_owned()).or_default().push(request.at);
    }
    let twice: Vec<_> = sent.iter().filter(|(_, at)| at.len() > 1).collect();
    eprintln!("{} events delivered, {} of them more than once", sent.len(), twice.len());
    let some: Vec<_> = twice.iter().take(3).collect();
    assert!(
        twice.len() <= 8,
        "at most the killed engine's attempts in flight: {} sent twice, e.g. {some:?}",
        twice.len()
    );
    for (id, at) in twice {
        let mut at = at.clone();
        at.sort();
        for pair in at.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_secs(1), "{id} was sent twice at once: {at:?}");
        }
    }
}

#[tokio::test]
async fn an_operator_is_told_what_is_missing_or_too_new() {
    let dir = tempfile::tempdir().unwrap();
    let output = start_failing_with(dir.path(), &[], &[("WASMHOOK_STORE", "postgres")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("postgres.url") && stderr.contains("WASMHOOK_POSTGRES_URL"), "{stderr}");

    let Some(url) = database() else { return };
    // A database an engine of a later schema migrated.
    let first = engine(&dir, &url, &[]);
    drop(first);
    sql(&url, "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')");
    let output = start_failing_with(dir.path(), &[], &on(&url));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("999"), "the database's schema is named: {stderr}");
    assert!(!stderr.contains("password"), "{stderr}");
}

/// A cluster of one test's own, which it may stop and start
/// (`scripts/postgres-test-cluster`); removed when dropped.
struct Cluster {
    url: String,
    /// `pg_ctl -D …` on it, as its owner.
    ctl: String,
    stop: String,
}

impl Cluster {
    /// A new cluster, when the tests are given a server (so PostgreSQL is
    /// installed); `None` as [`server`] says.
    fn start() -> Option<Cluster> {
        server()?;
        let script = wasmhook_testkit::workspace_root().join("scripts/postgres-test-cluster");
        let output = std::process::Command::new("bash").arg(script).output().expect("run postgres-test-cluster");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let exports = String::from_utf8(output.stdout).unwrap();
        let value = |name: &str| {
            let prefix = format!("export {name}='");
            let line = exports.lines().find_map(|line| line.strip_prefix(&prefix)).expect(name);
            line.strip_suffix('\'').expect("quoted").to_owned()
        };
        Some(Cluster {
            url: value(URL),
            ctl: value("WASMHOOK_TEST_POSTGRES_CTL"),
            stop: value("WASMHOOK_TEST_POSTGRES_STOP"),
        })
    }

    fn pg_ctl(&self, args: &str) {
        let status = std::process::Command::new("sh").arg("-c").arg(format!("{} {args}", self.ctl)).status().unwrap();
        assert!(status.success(), "pg_ctl {args}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::process::Command::new("sh").arg("-c").arg(&self.stop).status();
    }
}

/// The server stopped under a running engine: writes answer 503 with a
/// `Retry-After` and `/readyz` says not ready; once it is back, the engine
/// takes events and delivers again, without a restart, and follows other
/// engines' changes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_goes_away_is_answered_503_and_healed_without_a_restart() {
    let Some(cluster) = Cluster::start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::ok().await;
    let engine = start_with(dir.path(), &["--retry-schedule", "50ms"], &on(&cluster.url), false);
    let Tenants { a, service, .. } = Tenants::of(&engine).await;
    let target = format!("{}/back", receiver.url);
    let hook =
        a.post("/v1/notify/hook/subscribe", &json!({"event": "asset.asset_status_updated", "target": target})).await;
    assert_eq!(hook.status, 201, "{hook:?}");
    let event =
        |id: &str| json!({"event": "asset.asset_status_updated", "academy": "downtown-campus", "data": {}, "id": id});
    assert_eq!(service.post("/v1/events", &event("before")).await.status, 202);
    receiver.wait_for("/back", 1).await;

    cluster.pg_ctl("-m fast -w stop >/dev/null");
    let refused = service.post("/v1/events", &event("during")).await;
    assert_eq!((refused.status, refused.body["slug"].as_str()), (503, Some("storage-unavailable")), "{refused:?}");
    let readyz = reqwest::get(format!("{}/readyz", engine.url)).await.unwrap();
    assert_eq!(readyz.status(), 503);

    // The log in the cluster's own directory, which its owner may write.
    let data = cluster.ctl.rsplit_once("-D ").expect("pg_ctl -D DIR").1.to_owned();
    cluster.pg_ctl(&format!("-l {data}/restart.log -w start >/dev/null"));
    let mut status = 0;
    for _ in 0..100 {
        status = service.post("/v1/events", &event("after")).await.status;
        if status == 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 202, "the engine takes events again once the server is back");
    let received = receiver.wait_for("/back", 2).await;
    assert!(received[1].header("webhook-id").starts_with("msg_after_"), "{:?}", received[1].header("webhook-id"));
    let readyz = reqwest::get(format!("{}/readyz", engine.url)).await.unwrap();
    assert_eq!(readyz.status(), 200);

    // It hears other engines' changes again: a hook created through a
    // second engine is known to it.
    let elsewhere = tempfile::tempdir().unwrap();
    let second = sharing(&elsewhere, &dir, &cluster.url, &[]);
    let created = Client::rebind(&a, &second)
        .post("/v1/notify/hook/subscribe", &json!({"event": "asset.asset_status_updated", "target": target}))
        .await;
    assert_eq!(created.status, 201, "{created:?}");
    let path = format!("/v1/notify/hook/subscribe/{}", created.body["id"]);
    within_2s("a hook created after the restart", async || a.get(&path).await.status == 200).await;
}

/// A plugin's breaker trips on the engine whose calls failed; an operator
/// closing it through another engine (activating the version again, as a
/// rollback or an upload would) closes it there too within 2 s, not after
/// its cooldown (60 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_breaker_closed_through_one_engine_closes_on_the_others() {
    let Some(url) = database() else { return };
    let dirs = [(); 2].map(|()| tempfile::tempdir().unwrap());
    let args = ["--plugin-breaker-failures", "1", "--plugin-max-deadline-ms", "500"];
    let first = engine(&dirs[0], &url, &args);
    let second = sharing(&dirs[1], &dirs[0], &url, &args);
    let Tenants { admin, service, .. } = Tenants::of(&first).await;
    let uploaded = admin.post_raw("/v1/plugins/hostile", "application/wasm", hostile_wasm()).await;
    assert_eq!(uploaded.status, 201, "{uploaded:?}");
    assert_eq!(admin.post("/v1/plugins/hostile/activate", &json!({"version": 1})).await.status, 200);
    assert_eq!(admin.put("/v1/plugins/hostile/limits", &json!({"deadline_ms": 20})).await.status, 200);
    let spec =
        json!({"name": "hostile.loop", "action": "hostile.Thing.loop", "description": "d", "serializer": "hostile"});
    assert_eq!(admin.post("/v1/catalog/events", &spec).await.status, 201);

    let (admin_there, service_there) = (Client::rebind(&admin, &second), Client::rebind(&service, &second));
    let breaker_open = async |admin: &Client| {
        let shown = admin.get("/v1/plugins/hostile").await.body;
        shown["versions"].as_array().unwrap().iter().find(|v| v["version"] == 1).unwrap()["breaker"]["open"].clone()
    };
    let event = json!({"event": "hostile.loop", "academy": "downtown-campus", "id": "spin", "data": {}});
    within_2s("the plugin followed", async || {
        let failed = service_there.post("/v1/events", &event).await.body;
        failed["error"].as_str().is_some_and(|e| e.contains("deadline"))
    })
    .await;
    assert_eq!(breaker_open(&admin_there).await, true, "tripped where its call failed");
    assert_eq!(breaker_open(&admin).await, false, "not where none did");

    assert_eq!(admin.post("/v1/plugins/hostile/activate", &json!({"version": 1})).await.status, 200);
    within_2s("a breaker closed elsewhere", async || breaker_open(&admin_there).await == false).await;
}
