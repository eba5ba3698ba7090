//! Storage faults against the real binary: a data directory on a small
//! tmpfs filled up under the engine (writes answer 503, deliveries pause
//! without a redelivery storm, and the engine heals by itself once space
//! is back, delivering everything it acknowledged), and the disk-space
//! guard (growth refused below the floor while deliveries go on).
//!
//! Mounting a tmpfs needs root (CI runs as root); elsewhere the tmpfs test
//! is skipped with a notice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Received, Receiver};
use wasmhook_testkit::{ADMIN, Client, Engine, start_with, token};

/// An event without a serializer: its data is delivered as posted.
const EVENT: &str = "asset.asset_status_updated";

/// A tmpfs mounted for one test, unmounted when dropped (also when the
/// test panics: declare it before the engine, which is dropped first).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// A tmpfs of `size` (`40m`), or `None` (with a notice) when the test
    /// does not run as root.
    fn mount(size: &str) -> Option<Tmpfs> {
        let uid = Command::new("id").arg("-u").output().expect("run id");
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            eprintln!("NOTICE: skipped: mounting a tmpfs needs root (CI runs as root)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(status.success(), "mount -t tmpfs failed");
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (an engine not reaped yet): detach it now.
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Fills the volume of `path` with one file (created, or topped up) until
/// the disk is full, down to the last few KiB.
fn fill(path: &Path) {
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    let mut written = 0u64;
    for size in [1 << 20, 1 << 12] {
        let chunk = vec![0xa5u8; size];
        loop {
            match file.write_all(&chunk).and_then(|()| file.sync_data()) {
                Ok(()) => written += size as u64,
                Err(error) => {
                    assert_eq!(error.raw_os_error(), Some(28), "ENOSPC expected, got {error}");
                    break;
                }
            }
            assert!(written < 1 << 30, "the volume did not fill up with 1 GiB");
        }
    }
}

/// A POST whose answer's `Retry-After` header is wanted as well.
async fn post(engine: &Engine, token: &str, path: &str, body: &Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", engine.url))
        .header("Authorization", format!("Token {token}"))
        .json(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry_after, response.json().await.unwrap_or(Value::Null))
}

/// `GET /readyz`: its status and body.
async fn readyz(engine: &Engine) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", engine.url)).await.expect("readyz");
    (response.status().as_u16(), response.json().await.unwrap())
}

/// The value of an unlabelled series in a scrape of `/metrics`.
async fn metric(engine: &Engine, name: &str) -> f64 {
    let text = reqwest::get(format!("{}/metrics", engine.url)).await.unwrap().text().await.unwrap();
    let line = text.lines().find(|line| line.split(' ').next() == Some(name));
    line.and_then(|line| line.split(' ').nth(1)).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("no {name}"))
}

/// Posts 200 KB events (ids `{prefix}-N`) until one is refused, noting
/// the acknowledged ones; the refused one's id, status, `Retry-After`
/// and body.
async fn post_until_refused(
    engine: &Engine,
    prefix: &str,
    acknowledged: &mut Vec<String>,
) -> (String, u16, Option<String>, Value) {
    let big = "x".repeat(200_000);
    for i in 0..100 {
        let id = format!("{prefix}-{i}");
        let (status, retry_after, body) =
            post(engine, wasmhook_testkit::ADMIN, "/v1/events", &event(&id, json!({"blob": big}))).await;
        if status != 202 {
            return (id, status, retry_after, body);
        }
        acknowledged.push(id);
    }
    panic!("the full disk refused none of 100 events of 200 KB");
}

fn event(id: &str, data: Value) -> Value {
    json!({"event": EVENT, "academy": "downtown-campus", "id": id, "data": data})
}

/// How many requests the receiver got for each `webhook-id`.
fn per_webhook_id(received: &[Received]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in received {
        *counts.entry(request.header("webhook-id").to_owned()).or_default() += 1;
    }
    counts
}

/// The engine, a service client, and a hook of `downtown-campus` on
/// [`EVENT`] delivering to `receiver`, retried after `retry_schedule`; the
/// hook's id.
async fn engine_with_hook(
    data_dir: &Path,
    receiver: &Receiver,
    retry_schedule: &str,
    envs: &[(&str, &str)],
) -> (Engine, Client, u64) {
    let engine = start_with(data_dir, &["--retry-schedule", retry_schedule], envs, true);
    let admin = engine.client(ADMIN);
    let academy =
        engine.client(&token(&admin, json!({"name": "a", "role": "academy", "academy": "downtown-campus"})).await);
    let service = engine.client(&token(&admin, json!({"name": "app", "role": "service"})).await);
    let hook = academy
        .post("/v1/notify/hook/subscribe", &json!({"event": EVENT, "target": format!("{}/hook", receiver.url)}))
        .await;
    assert_eq!(hook.status, 201, "{hook:?}");
    (engine, service, hook.body["id"].as_u64().unwrap())
}

#[tokio::test]
async fn a_full_disk_answers_503_pauses_deliveries_and_the_engine_heals_when_space_is_back() {
    let Some(disk) = Tmpfs::mount("40m") else { return };
    // The guard off: the disk really fills up under redb.
    let hold = Arc::new(AtomicBool::new(false));
    let held = hold.clone();
    let receiver = Receiver::scripted(Arc::new(move |_, _| {
        let delay = if held.load(Ordering::SeqCst) { Duration::from_millis(1500) } else { Duration::ZERO };
        (StatusCode::OK, delay)
    }))
    .await;
    let envs = [("WASMHOOK_STORAGE_MIN_FREE_PERCENT", "0"), ("RUST_LOG", "wasmhook=info")];
    let (engine, service, hook) = engine_with_hook(&disk.path().join("data"), &receiver, "50ms,50ms,50ms", &envs).await;
    let webhook_id = |id: &str| format!("msg_{id}_{hook}");
    let mut acknowledged = Vec::new();

    // Before: delivered as usual.
    for i in 0..3 {
        let id = format!("before-{i}");
        assert_eq!(service.post("/v1/events", &event(&id, json!({"i": i}))).await.status, 202);
        acknowledged.push(id);
    }
    receiver.wait_for("/hook", 3).await;

    // Attempts in flight when the disk fills: the receiver holds them.
    hold.store(true, Ordering::SeqCst);
    for i in 0..5 {
        let id = format!("pending-{i}");
        assert_eq!(service.post("/v1/events", &event(&id, json!({"i": i}))).await.status, 202);
        acknowledged.push(id);
    }
    receiver.wait_for("/hook", 8).await;

    // The disk fills up; events are posted until the store refuses one.
    let filler = disk.path().join("filler");
    fill(&filler);
    let (refused_id, status, retry_after, body) = post_until_refused(&engine, "during", &mut acknowledged).await;
    assert_eq!(
        (status, body["slug"].as_str(), body["status_code"].as_u64()),
        (503, Some("storage-unavailable"), Some(503)),
        "{body}"
    );
    let retry_after: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    // The failed commit may have left more room than the re-open waits
    // for: the filler takes it back, so the outage lasts until the test
    // deletes the filler.
    // Should the watcher have re-opened the store before, the next event
    // that does not fit in the file fails again.
    fill(&filler);
    let (_, status, _, body) = post_until_refused(&engine, "refused-again", &mut acknowledged).await;
    assert_eq!((status, body["slug"].as_str()), (503, Some("storage-unavailable")), "{body}");
    fill(&filler);
    let (status, ready) = readyz(&engine).await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready["store"].as_str().unwrap().contains("refuses writes"), "{ready}");
    assert_eq!(metric(&engine, "wasmhook_store_available").await, 0.0);
    assert!(metric(&engine, "wasmhook_store_failed_commits_total").await >= 1.0);

    // The outage lasts a while; the held attempts are answered at once now.
    hold.store(false, Ordering::SeqCst);
    let outage_started = receiver.received().len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during_outage = receiver.received()[outage_started..].to_vec();

    // Space is back: the engine heals by itself.
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let mut healed = None;
    for _ in 0..200 {
        if readyz(&engine).await.0 == 200 {
            healed = Some(freed.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let healed = healed.expect("/readyz answers 200 within 10 s of space coming back");
    eprintln!("healed {healed:?} after the space came back");
    assert_eq!(metric(&engine, "wasmhook_store_available").await, 1.0);
    for i in 0..3 {
        let id = format!("after-{i}");
        assert_eq!(service.post("/v1/events", &event(&id, json!({"i": i}))).await.status, 202);
        acknowledged.push(id);
    }

    // Every acknowledged event is delivered (and recorded), none more than
    // twice: the attempt the full disk could not record, then one after
    // the recovery.
    let expected: BTreeSet<String> = acknowledged.iter().map(|id| webhook_id(id)).collect();
    let mut counts = BTreeMap::new();
    for _ in 0..400 {
        counts = per_webhook_id(&receiver.received());
        if expected.iter().all(|id| counts.contains_key(id)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let missing: Vec<&String> = expected.iter().filter(|id| !counts.contains_key(*id)).collect();
    assert!(missing.is_empty(), "acknowledged but never delivered: {missing:?}");
    let storm: Vec<(&String, &usize)> = counts.iter().filter(|(_, n)| **n > 2).collect();
    assert!(storm.is_empty(), "sent more than twice: {storm:?}");
    let in_outage = per_webhook_id(&during_outage);
    assert!(in_outage.values().all(|n| *n <= 2), "during the outage: {in_outage:?}");
    eprintln!(
        "{} events acknowledged ({refused_id} refused); {} requests during the 3 s outage; webhook-ids by sends: {:?}",
        acknowledged.len(),
        during_outage.len(),
        counts.values().copied().fold(BTreeMap::<usize, usize>::new(), |mut by, n| {
            *by.entry(n).or_default() += 1;
            by
        })
    );

    let academy = engine.client(
        &token(&engine.client(ADMIN), json!({"name": "b", "role": "academy", "academy": "downtown-campus"})).await,
    );
    let path = format!("/v1/notify/hook/{hook}/deliveries?limit=1000");
    let attempts = academy
        .poll(&path, |page| {
            let succeeded: BTreeSet<&str> = page["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["outcome"] == "succeeded")
                .filter_map(|a| a["webhook_id"].as_str())
                .collect();
            expected.iter().all(|id| succeeded.contains(id.as_str()))
        })
        .await;
    let recorded = attempts["results"].as_array().unwrap().iter().filter(|a| a["outcome"] == "succeeded").count();
    assert!(recorded >= expected.len(), "every delivery is recorded: {recorded} of {}", expected.len());

    let logs = engine.logs().join("\n");
    assert!(logs.contains("the store refuses writes") && logs.contains("No space left on device"), "{logs}");
    assert!(logs.contains("the store takes writes again"), "{logs}");
}

/// Free space below the floor (here: a floor above the volume's free
/// space): ingest, new hooks and the catalogue answer 503 before the disk
/// is full, while a delivery queued before is still sent and recorded, and
/// deletions go through.
#[tokio::test]
async fn below_the_space_floor_growth_is_refused_while_deliveries_and_deletions_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The first attempt fails; its retry is due in 3 s.
    let receiver = Receiver::scripted(Arc::new(|_, n| {
        (if n == 0 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK }, Duration::ZERO)
    }))
    .await;
    let (mut engine, service, hook) = engine_with_hook(&data, &receiver, "3s", &[]).await;
    assert_eq!(service.post("/v1/events", &event("queued", json!({"n": 1}))).await.status, 202);
    receiver.wait_for("/hook", 1).await;
    let admin = engine.client(ADMIN);
    let path = format!("/v1/notify/hook/{hook}/deliveries");
    let first = admin.poll(&path, |page| page["count"] == 1).await;
    assert_eq!(first["results"][0]["outcome"], "failed", "{first}");
    assert_eq!(engine.terminate().code(), Some(0));

    // The same store, with a floor above the free space.
    let floor =
        [("WASMHOOK_STORAGE_MIN_FREE_PERCENT", "100"), ("WASMHOOK_STORAGE_MIN_FREE_BYTES", "18446744073709551615")];
    let engine = start_with(&data, &["--retry-schedule", "3s"], &floor, true);
    let admin = engine.client(ADMIN);

    let (status, ready) = readyz(&engine).await;
    assert_eq!(status, 503, "{ready}");
    assert!(ready["store"].as_str().unwrap().contains("below the floor"), "{ready}");
    assert_eq!(metric(&engine, "wasmhook_store_space_low").await, 1.0);
    assert!(metric(&engine, "wasmhook_store_free_bytes").await > 0.0);
    assert_eq!(metric(&engine, "wasmhook_store_available").await, 1.0, "the store itself works");

    let growth: [(&str, Value); 3] = [
        ("/v1/events", event("refused", json!({"n": 2}))),
        (
            "/v1/notify/hook/subscribe",
            json!({"event": EVENT, "target": format!("{}/other", receiver.url), "academy": "downtown-campus"}),
        ),
        (
            "/v1/catalog/events",
            json!({"name": "asset.lost", "action": "registry.Asset.lost", "description": "An asset was lost"}),
        ),
    ];
    for (path, body) in &growth {
        let (status, retry_after, body) = post(&engine, ADMIN, path, body).await;
        assert_eq!((status, body["slug"].as_str()), (503, Some("storage-unavailable")), "{path}: {body}");
        assert!(body["detail"].as_str().unwrap().contains("below the floor"), "{body}");
        assert!(retry_after.is_some_and(|s| s.parse::<u64>().is_ok()), "{path}: Retry-After");
    }

    // The delivery queued before is sent and recorded all the same.
    let got = receiver.wait_for("/hook", 2).await;
    assert_eq!(got[1].header("webhook-id"), format!("msg_queued_{hook}"));
    let attempts = admin.poll(&path, |page| page["count"] == 2).await;
    assert_eq!(attempts["results"][0]["outcome"], "succeeded", "{attempts}");
    // Deletions go through.
    assert_eq!(admin.delete(&format!("/v1/notify/hook/subscribe/{hook}")).await.status, 204);
    assert_eq!(admin.get(&format!("/v1/notify/hook/subscribe/{hook}")).await.status, 404);
    let logs = engine.logs().join("\n");
    assert!(logs.contains("free space is below the floor"), "{logs}");
}
