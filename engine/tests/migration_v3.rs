//! A data directory written by schema version 3 opens and goes on:
//! `fixtures/v3-store/wasmhook.redb` was written by wasmhook at schema
//! version 3 (see `fixtures/make-v3-store.sh`), its hook secrets sealed
//! with `fixtures/v3-store/secret.key`: three hooks (raw, with the
//! slack transformer, a superadmin's), one event delivered to each, two
//! more queued for each after a failed attempt. `fixtures/v3-store/before/`
//! holds the API's views of it taken just before that engine stopped: the
//! records written before the upgrade must read the same after it, and the
//! queued deliveries must go out as version 3 would have sent them.

use serde_json::{Value, json};
use wasmhook_testkit::receiver::{Received, Receiver, verify};
use wasmhook_testkit::{ADMIN, Client, start};

/// Retries soon (the queued jobs were due long ago, and the attempts after
/// the start go to the fixture's dead target until the hooks are pointed at
/// the receiver), over about 9 s: the checks made before that must not
/// outlast the jobs' retries on a loaded machine.
const RETRIES: &[&str] = &["--retry-schedule", "100ms,100ms,200ms,400ms,800ms,1s,1s,1s,1s,1s,1s,1s"];

/// The fixture's hooks and the receiver path each is pointed at.
const HOOKS: [(u64, &str); 3] = [(1, "/marketing"), (2, "/slack"), (3, "/all")];

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-store").join(name)
}

/// A view saved by the fixture's script before the upgrade.
fn before(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(&format!("before/{name}.json"))).unwrap()).unwrap()
}

/// What the `marketing` serializer makes of the fixture's event `v3-<n>`:
/// the plugin's own fixture payload, with the id the script gave it.
fn marketing(n: u64) -> Value {
    let path = wasmhook_testkit::workspace_root().join("plugins/marketing/fixtures/form_entry.won_or_lost.json");
    let mut payload =
        serde_json::from_str::<Value>(&std::fs::read_to_string(path).unwrap()).unwrap()["payload"].clone();
    payload["id"] = json!(3000 + n);
    payload
}

/// What the slack transformer makes of [`marketing`]`(n)`, once.
fn slack(n: u64) -> Value {
    let id = 3000 + n;
    let text = format!(
        "*form_entry.won_or_lost*\n• deal_status: WON\n• email: john.smith@example.com\n• first_name: John\n\
         • id: {id}\n• last_name: Smith\n• updated_at: 2025-01-22T14:30:00Z"
    );
    json!({"text": text})
}

/// What `hook` must receive for the queued event `v3-<n>`: the webhook id
/// and the body.
fn queued(hook: u64, n: u64) -> (String, Value) {
    match hook {
        1 => (format!("msg_v3-{n}_1"), marketing(n)),
        // Transformed once, from the queued payload: not the transformer's
        // output transformed again.
        2 => (format!("msg_v3-{n}_2"), slack(n)),
        // The superadmin's hook: ids name the academy.
        _ => (format!("msg.downtown-campus.v3-{n}_3"), marketing(n)),
    }
}

/// The records of `hook`'s delivery log that existed before the upgrade,
/// newest first, as the API shows them now: those whose attempt id the
/// saved view lists (the attempts made since the start have new ids).
async fn old_records(admin: &Client, hook: u64, saved: &[Value]) -> Vec<Value> {
    let ids: Vec<&Value> = saved.iter().map(|attempt| &attempt["id"]).collect();
    let now = admin.get(&format!("/v1/notify/hook/{hook}/deliveries")).await;
    assert_eq!(now.status, 200, "{now:?}");
    now.body["results"].as_array().unwrap().iter().filter(|attempt| ids.contains(&&attempt["id"])).cloned().collect()
}

/// The saved attempt of `hook` with `webhook_id`: the body it sent.
fn saved_payload(saved: &[Value], webhook_id: &str) -> String {
    let attempt = saved.iter().find(|attempt| attempt["webhook_id"] == webhook_id);
    attempt.unwrap_or_else(|| panic!("no saved attempt {webhook_id}"))["payload"].as_str().unwrap().to_owned()
}

/// The requests `path` got, by webhook id.
fn by_webhook_id(mut got: Vec<Received>) -> Vec<Received> {
    got.sort_by(|a, b| a.header("webhook-id").cmp(b.header("webhook-id")));
    got
}

#[tokio::test]
async fn a_version_3_store_is_migrated_its_records_kept_and_its_queued_deliveries_sent() {
    let dir = tempfile::tempdir().unwrap();
    // The store and the key its hook secrets are sealed with.
    for file in ["wasmhook.redb", "secret.key"] {
        std::fs::copy(fixture(file), dir.path().join(file)).unwrap();
    }
    let engine = start(dir.path(), RETRIES);
    let admin = engine.client(ADMIN);
    let saved: Vec<Vec<Value>> = HOOKS
        .iter()
        .map(|(hook, _)| before(&format!("deliveries-{hook}"))["results"].as_array().unwrap().clone())
        .collect();

    // The samples first: the first success after the start replaces them
    // (none can happen before the hooks are pointed at the receiver).
    for (hook, _) in HOOKS {
        let sample = admin.get(&format!("/v1/notify/hook/{hook}/sample")).await;
        assert_eq!((sample.status, sample.body), (200, before(&format!("sample-{hook}"))), "hook {hook}'s sample");
    }

    // Every record of version 3 reads as it did: ids, bodies (hook 2's are
    // the transformer's output, not the event's payload), headers, outcomes.
    for ((hook, _), records) in HOOKS.iter().zip(&saved) {
        assert_eq!(records.len(), 3, "the fixture's attempts of hook {hook}");
        assert_eq!(&old_records(&admin, *hook, records).await, records, "hook {hook}'s records of version 3");
    }

    // The hooks pointed at the receiver: the queued deliveries arrive,
    // signed with each hook's version 3 secret, each body the one its
    // failed attempt recorded.
    let receiver = Receiver::ok().await;
    let mut secrets = Vec::new();
    for (hook, path) in HOOKS {
        let target = json!({"target": format!("{}{path}", receiver.url)});
        let reply = admin.put(&format!("/v1/notify/hook/subscribe/{hook}"), &target).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        let secret = admin.get(&format!("/v1/notify/hook/subscribe/{hook}/secret")).await;
        secrets.push(secret.body["secret"].as_str().unwrap().to_owned());
    }
    for (((hook, path), records), secret) in HOOKS.iter().zip(&saved).zip(&secrets) {
        let got = by_webhook_id(receiver.wait_for(path, 2).await);
        let (ids, bodies): (Vec<String>, Vec<Value>) = [2, 3].map(|n| queued(*hook, n)).into_iter().unzip();
        let got_ids: Vec<&str> = got.iter().map(|request| request.header("webhook-id")).collect();
        assert_eq!(got_ids, ids, "hook {hook}");
        for ((request, id), body) in got.iter().zip(&ids).zip(bodies) {
            assert_eq!(request.json(), body, "hook {hook}, {id}");
            assert_eq!(request.body, saved_payload(records, id), "hook {hook}: the body its attempt recorded");
            verify(secret, request);
        }
    }

    // A replay of hook 1's delivery that succeeded before the upgrade: the
    // same body, the same webhook id.
    let succeeded = saved[0].iter().find(|attempt| attempt["outcome"] == "succeeded").unwrap();
    let replay =
        admin.post(&format!("/v1/notify/hook/1/deliveries/{}/retry", succeeded["delivery_id"]), &json!({})).await;
    assert_eq!(replay.status, 202, "{replay:?}");
    let got = receiver.wait_for("/marketing", 3).await;
    let replayed = got.iter().find(|request| request.header("webhook-id") == "msg_v3-1_1").expect("the replay");
    assert_eq!(replayed.body, succeeded["payload"].as_str().unwrap());
    assert_eq!(replayed.json(), marketing(1));
    verify(&secrets[0], replayed);

    // A replay of hook 2's delivery of `v3-2` (queued when the store was
    // migrated, delivered since): the transformer runs once more on the
    // event's payload, not on what it made of it. (The migration's own
    // choice for the attempts of version 3 is unit-tested in
    // `store/redb/migrate/v4_payloads.rs`: here the attempts made since the
    // start are the delivery's latest.)
    let failed = saved[1].iter().find(|attempt| attempt["webhook_id"] == "msg_v3-2_2").unwrap();
    let replay = admin.post(&format!("/v1/notify/hook/2/deliveries/{}/retry", failed["delivery_id"]), &json!({})).await;
    assert_eq!(replay.status, 202, "{replay:?}");
    let got = receiver.wait_for("/slack", 3).await;
    let replayed: Vec<&Received> = got.iter().filter(|request| request.header("webhook-id") == "msg_v3-2_2").collect();
    assert_eq!(replayed.len(), 2, "the queued delivery, then its replay");
    assert_eq!(replayed[1].json(), slack(2), "transformed once");
    verify(&secrets[1], replayed[1]);
}
