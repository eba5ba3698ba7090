//! Hooks, quotas, tokens and the catalogue.

use super::{academy, attempt, hook, queued};
use crate::model::{AttachedTransformer, AttemptOutcome, Deactivation, HookChanges, HookSelector, NextStep, Role};
use crate::model::{EventSpec, Scope};
use crate::quota::{Limit, Quotas};
use crate::store::contract::Store;
use crate::store::tests::new_hook;
use crate::store::{StoreError, Usage};
use crate::time::Time;

fn ids(hooks: &[crate::model::Hook]) -> Vec<u64> {
    hooks.iter().map(|hook| hook.id).collect()
}

pub(crate) async fn an_academy_sees_and_changes_only_its_own_hooks(store: &dyn Store) {
    let a1 = hook(store, Some("a")).await;
    let a2 = hook(store, Some("a")).await;
    let b = hook(store, Some("b")).await;
    let global = hook(store, None).await;
    assert!(a1.id < a2.id && a2.id < b.id && b.id < global.id, "ids from a counter");
    assert_eq!(ids(&store.hooks(&academy("a"))), [a1.id, a2.id]);
    assert_eq!(ids(&store.hooks(&Scope::All)), [a1.id, a2.id, b.id, global.id]);
    assert_eq!(store.hook(&academy("b"), a1.id), None, "another academy's hook");
    assert_eq!(store.hook(&academy("a"), global.id), None, "a superadmin's hook");

    let moved = || HookChanges {
        event: Some("moved".into()),
        target: Some("https://example.com/moved".into()),
        ..HookChanges::default()
    };
    assert_eq!(store.update_hook(&academy("b"), a1.id, moved()).await.unwrap(), None);
    assert_eq!(store.hook(&Scope::All, a1.id).unwrap().settings.target, "https://example.com/h");
    let updated = store.update_hook(&academy("a"), a1.id, moved()).await.unwrap().unwrap();
    assert_eq!(updated.settings.target, "https://example.com/moved");
    let indexed = store.hook_index().get(a1.id).cloned().unwrap();
    assert_eq!(indexed.settings.target, "https://example.com/moved", "the index reflects the write");
    assert_eq!(indexed.secret, "whsec_x");
    let on_moved: Vec<u64> = store.hook_index().for_event("moved").iter().map(|hook| hook.id).collect();
    assert_eq!(on_moved, [a1.id], "indexed under its new event");
    assert!(store.hook_index().for_event("e").iter().all(|hook| hook.id != a1.id));

    let everything = HookSelector::default();
    assert_eq!(store.delete_hooks(&academy("b"), &everything).await.unwrap(), 1, "only its own");
    assert_eq!(ids(&store.hooks(&Scope::All)), [a1.id, a2.id, global.id]);
    assert!(store.hook_index().get(b.id).is_none());
    assert_eq!(store.academy_usage("b").await.unwrap(), Usage::default());
    assert_eq!(store.academy_usage("a").await.unwrap(), Usage { hooks: 2, transformer_bytes: 0 });
}

pub(crate) async fn a_selector_deletes_the_hooks_it_takes_with_their_stats_and_samples(store: &dyn Store) {
    let on = |event: &str, service: Option<&str>| {
        let mut new = new_hook(Some("a"));
        new.settings.event = event.into();
        new.settings.service_id = service.map(str::to_owned);
        new
    };
    let mut created = Vec::new();
    for new in [on("e1", None), on("e1", Some("s")), on("e2", None), on("e2", Some("s"))] {
        created.push(store.create_hook(new, Quotas::default()).await.unwrap().id);
    }
    let job = queued(store, created[1], 100).await;
    let success = attempt(&job, AttemptOutcome::Succeeded, Some(200), Time::now());
    store.record_attempt(job, success, NextStep::Finish, Deactivation::NEVER).await.unwrap();
    assert_eq!(store.hook_stats(created[1]).await.unwrap().successes, 1);

    #[allow(clippy::needless_update, reason = "the selector gains fields (an id on main)")]
    let e1_of_s = HookSelector {
        events: Some(vec!["e1".into()]),
        service_ids: Some(vec!["s".into()]),
        ..HookSelector::default()
    };
    assert_eq!(store.delete_hooks(&Scope::All, &e1_of_s).await.unwrap(), 1);
    assert_eq!(store.hook_stats(created[1]).await.unwrap(), Default::default(), "stats deleted");
    assert_eq!(store.hook_sample(created[1]).await.unwrap(), None, "sample deleted");
    let without_service = HookSelector { service_ids: Some(vec![String::new()]), ..HookSelector::default() };
    assert_eq!(store.delete_hooks(&academy("b"), &without_service).await.unwrap(), 0, "scoped");
    assert_eq!(store.delete_hooks(&academy("a"), &without_service).await.unwrap(), 2);
    assert_eq!(ids(&store.hooks(&Scope::All)), [created[3]]);
}

fn component(sha256: &str, bytes: &[u8]) -> Option<(AttachedTransformer, Vec<u8>)> {
    Some((AttachedTransformer { sha256: sha256.into(), size: bytes.len(), uploaded_at: Time::now() }, bytes.to_vec()))
}

pub(crate) async fn a_quota_refusal_writes_nothing(store: &dyn Store) {
    let quotas = Quotas { max_hooks: Some(2), max_transformer_bytes: Some(8) };
    let a = store.create_hook(new_hook(Some("a")), quotas).await.unwrap();
    let b = store.create_hook(new_hook(Some("a")), quotas).await.unwrap();
    let refused = store.create_hook(new_hook(Some("a")), quotas).await.unwrap_err();
    assert!(matches!(&refused, StoreError::Refused(r) if r.limit == Limit::HooksPerAcademy), "{refused}");
    assert_eq!(store.hooks(&academy("a")).len(), 2);
    let other = store.create_hook(new_hook(Some("b")), quotas).await.expect("another academy has its own quota");
    assert_eq!(other.id, b.id + 1, "the refusal took no id");
    store.create_hook(new_hook(None), quotas).await.expect("a superadmin's hook counts against none");

    let all = Scope::All;
    let theirs = store.set_transformer(&academy("b"), a.id, component("five", b"12345"), quotas).await.unwrap();
    assert_eq!(theirs, None, "another academy's hook");
    assert_eq!(store.plugin_blob("five").await.unwrap(), None, "nothing stored");
    store.set_transformer(&all, a.id, component("five", b"12345"), quotas).await.unwrap();
    store.set_transformer(&all, b.id, component("five", b"12345"), quotas).await.expect("one component counts once");
    let totals = store.component_totals().await.unwrap();
    let refused = store.set_transformer(&all, b.id, component("four", b"1234"), quotas).await.unwrap_err();
    assert!(matches!(&refused, StoreError::Refused(r) if r.limit == Limit::TransformerBytesPerAcademy));
    assert_eq!(store.hook(&all, b.id).unwrap().transformer.unwrap().sha256, "five", "the hook unchanged");
    assert_eq!(store.plugin_blob("four").await.unwrap(), None, "nothing stored");
    assert_eq!(store.component_totals().await.unwrap(), totals);
    assert_eq!(store.academy_usage("a").await.unwrap(), Usage { hooks: 2, transformer_bytes: 5 });

    store.set_transformer(&all, b.id, None, quotas).await.unwrap();
    store.set_transformer(&all, a.id, component("eight", b"12345678"), quotas).await.expect("a replacement");
    assert_eq!(store.plugin_blob("five").await.unwrap(), None, "freed with its last use");
    assert_eq!(store.academy_usage("a").await.unwrap(), Usage { hooks: 2, transformer_bytes: 8 });
    let lower = Quotas { max_hooks: Some(1), max_transformer_bytes: Some(1) };
    store
        .set_transformer(&all, a.id, component("eight", b"12345678"), lower)
        .await
        .expect("a quota lowered since does not refuse what does not grow");
}

pub(crate) async fn a_revoked_token_is_gone(store: &dyn Store) {
    let first = store.create_token([1; 32], "one".into(), Role::Service).await.unwrap();
    let role = Role::Academy { academy: "a".into() };
    let second = store.create_token([2; 32], "two".into(), role.clone()).await.unwrap();
    assert_ne!(first.id, second.id);
    assert_eq!(store.token([2; 32]).await.unwrap().unwrap().role, role);
    assert_eq!(store.token([3; 32]).await.unwrap(), None);

    assert!(store.revoke_token(first.id).await.unwrap());
    assert!(!store.revoke_token(first.id).await.unwrap(), "revoked already");
    assert_eq!(store.token([1; 32]).await.unwrap(), None, "no longer answered");
    assert_eq!(store.tokens().await.unwrap(), [second]);
}

pub(crate) async fn catalogue_additions_replace_by_name(store: &dyn Store) {
    let spec = |name: &str, description: &str| EventSpec {
        name: name.into(),
        action: "app.Model.created+".into(),
        category: None,
        description: description.into(),
        serializer: None,
        sample: None,
        auto_register: true,
        signal: None,
        sender: None,
    };
    store.save_catalog_event(spec("x", "first")).await.unwrap();
    store.save_catalog_event(spec("w", "other")).await.unwrap();
    store.save_catalog_event(spec("x", "second")).await.unwrap();
    let additions = store.catalog_additions().await.unwrap();
    let named: Vec<_> = additions.iter().map(|s| (s.name.as_str(), s.description.as_str())).collect();
    assert_eq!(named, [("w", "other"), ("x", "second")]);
}

pub(crate) async fn a_reset_clears_the_stats_and_keeps_the_attempts(store: &dyn Store) {
    let a = hook(store, Some("a")).await;
    let id = a.id;
    let record = |outcome, status, second| async move {
        let job = queued(store, id, 100).await;
        let attempt = attempt(&job, outcome, Some(status), Time::from_second(second));
        store.record_attempt(job, attempt, NextStep::Finish, Deactivation::NEVER).await.unwrap();
    };
    record(AttemptOutcome::Succeeded, 200, 1).await;
    record(AttemptOutcome::Failed, 500, 2).await;
    let counted = store.hook_stats(a.id).await.unwrap();
    assert_eq!((counted.total_calls, counted.successes, counted.consecutive_failures), (2, 1, 1));
    let sample = store.hook_sample(a.id).await.unwrap();
    assert!(sample.is_some());

    assert!(!store.reset_hook_stats(&academy("b"), a.id).await.unwrap(), "another academy's hook");
    assert!(!store.reset_hook_stats(&Scope::All, a.id + 100).await.unwrap(), "no such hook");
    assert_eq!(store.hook_stats(a.id).await.unwrap(), counted, "untouched");

    assert!(store.reset_hook_stats(&academy("a"), a.id).await.unwrap());
    assert_eq!(store.hook_stats(a.id).await.unwrap(), Default::default(), "every count cleared");
    assert_eq!(store.attempts(a.id).await.unwrap().len(), 2, "the log stays");
    assert_eq!(store.hook_sample(a.id).await.unwrap(), sample, "the sample stays");
    assert!(store.hook(&Scope::All, a.id).is_some());

    record(AttemptOutcome::Failed, 503, 3).await;
    let stats = store.hook_stats(a.id).await.unwrap();
    assert_eq!((stats.total_calls, stats.successes, stats.consecutive_failures), (1, 0, 1), "from zero");
    assert_eq!((stats.last_call_at, stats.last_response_code), (Some(Time::from_second(3)), Some(503)));
    assert!(store.reset_hook_stats(&Scope::All, a.id).await.unwrap(), "a superadmin resets any hook");
    assert_eq!(store.hook_stats(a.id).await.unwrap(), Default::default());
}
