//! What an export reads, and the export itself.

use super::{hook, queued};
use crate::model::{EventSpec, LimitOverrides, Role, Sha256};
use crate::store::contract::Store;
use crate::store::transfer::{Counts, Reader, Record, export};

/// A store's setup and queue, as `wasmhook store export` finds them: two
/// tokens (after a revoked one), a catalogue addition, an active plugin
/// version with limits, two hooks (after a deleted one), and three jobs,
/// two sharing a payload. What it put there is what the export carries.
pub(crate) async fn fill(store: &dyn Store) {
    let revoked = store.create_token([9; 32], "revoked".into(), Role::Service).await.unwrap();
    store.revoke_token(revoked.id).await.unwrap();
    store.create_token([1; 32], "one".into(), Role::Service).await.unwrap();
    store.create_token([2; 32], "two".into(), Role::Academy { academy: "a".into() }).await.unwrap();
    store.save_catalog_event(spec("custom.added")).await.unwrap();
    let bytes = b"a component".to_vec();
    let sha256 = hex::encode(Sha256::of(&bytes).0);
    store.add_plugin_version("p", sha256, bytes).await.unwrap();
    store.activate_plugin_version("p", 1).await.unwrap().unwrap();
    let limits = LimitOverrides { deadline_ms: Some(5), ..LimitOverrides::default() };
    store.set_plugin_limits("p", limits).await.unwrap();
    let deleted = hook(store, None).await;
    store.delete_hook(&crate::model::Scope::All, deleted.id).await.unwrap();
    let (a, global) = (hook(store, Some("a")).await, hook(store, None).await);
    let late = queued(store, a.id, 3_000).await;
    let mut shared = late.clone();
    (shared.hook_id, shared.due_ms) = (global.id, 2_000);
    store.enqueue(vec![shared]).await.unwrap();
    queued(store, a.id, 2_000).await;
}

fn spec(name: &str) -> EventSpec {
    EventSpec {
        name: name.into(),
        action: "app.Model.created+".into(),
        category: None,
        description: "added at run time".into(),
        serializer: Some("p".into()),
        sample: None,
        auto_register: false,
        signal: None,
        sender: None,
    }
}

pub(crate) async fn an_export_carries_the_setup_and_every_queued_job(store: &dyn Store) {
    fill(store).await;
    let tokens = store.tokens_with_hashes().await.unwrap();
    let hashes: Vec<[u8; 32]> = tokens.iter().map(|(hash, _)| *hash).collect();
    assert_eq!(hashes, [[1; 32], [2; 32]], "by id, each with its hash");
    assert_eq!(tokens[1].1, store.token([2; 32]).await.unwrap().unwrap());

    // The queue in pages, every job once, whatever the hook, in the
    // backend's order (by due time on redb, by id on PostgreSQL).
    let first = store.queued_jobs(None, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = store.queued_jobs(first.last(), 2).await.unwrap();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(store.queued_jobs(rest.last(), 2).await.unwrap(), []);
    let queued = [first, rest].concat();
    let mut keys: Vec<_> = queued.iter().map(|job| (job.due_ms, job.id)).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.iter().map(|(due, _)| *due).collect::<Vec<_>>(), [2_000, 2_000, 3_000], "none twice: {keys:?}");

    let mut file = Vec::new();
    let counts = export(store, "test", &mut file).await.unwrap();
    let expected = Counts {
        components: 1,
        tokens: 2,
        catalog_events: 1,
        plugin_versions: 1,
        plugin_limits: 1,
        hooks: 2,
        payloads: 2,
        jobs: 3,
    };
    assert_eq!(counts, expected);
    let mut reader = Reader::new(&file[..]);
    let records: Vec<Record> = reader.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(reader.counts(), expected, "the file reads back whole");
    let hooks: Vec<_> =
        records.iter().filter_map(|r| if let Record::Hook { hook, .. } = r { Some(hook) } else { None }).collect();
    assert_eq!(hooks.iter().map(|hook| hook.id).collect::<Vec<_>>(), [2, 3], "the hooks with their ids");
    assert_eq!(hooks[0].secret, "whsec_x", "secrets in the clear: the import seals them");
    let jobs: Vec<_> =
        records.iter().filter_map(|r| if let Record::Job { job } = r { Some(job) } else { None }).collect();
    let exported: Vec<_> = jobs.iter().map(|job| (job.id, job.hook_id, job.due_ms, job.payload)).collect();
    let stored: Vec<_> = queued.iter().map(|job| (job.id, job.hook_id, job.due_ms, job.payload.id())).collect();
    assert_eq!(exported, stored, "every queued job, in the pages' order, naming its payload");
}
