//! Plugin versions, their limits, and components counted by their uses.

use super::hook;
use crate::model::{AttachedTransformer, HookSelector, LimitOverrides, PluginVersion, Scope};
use crate::quota::Quotas;
use crate::store::ComponentTotals;
use crate::store::contract::Store;
use crate::time::Time;

fn numbers(versions: &[PluginVersion]) -> Vec<(&str, u32, bool)> {
    versions.iter().map(|v| (v.name.as_str(), v.version, v.active)).collect()
}

pub(crate) async fn versions_are_numbered_per_name_and_one_is_active(store: &dyn Store) {
    store.add_plugin_version("q", "q1".into(), b"q".to_vec()).await.unwrap();
    let first = store.add_plugin_version("p", "p1".into(), b"one".to_vec()).await.unwrap();
    assert_eq!((first.version, first.size, first.active), (1, 3, false), "not active yet");
    store.add_plugin_version("p", "p2".into(), b"two".to_vec()).await.unwrap();
    let all = store.plugin_versions().await.unwrap();
    assert_eq!(numbers(&all), [("p", 1, false), ("p", 2, false), ("q", 1, false)], "by name then version");

    let active = store.activate_plugin_version("p", 2).await.unwrap().unwrap();
    assert_eq!(numbers(&active), [("p", 1, false), ("p", 2, true)]);
    store.activate_plugin_version("p", 1).await.unwrap().unwrap();
    assert_eq!(numbers(&store.plugin_versions_of("p").await.unwrap()), [("p", 1, true), ("p", 2, false)]);
    assert_eq!(store.activate_plugin_version("p", 3).await.unwrap(), None, "no such version");
    assert_eq!(numbers(&store.plugin_versions_of("p").await.unwrap())[0], ("p", 1, true), "unchanged");
    let bundled = store.activate_plugin_version("p", 0).await.unwrap().unwrap();
    assert!(bundled.iter().all(|v| !v.active), "version 0, the bundled plugin: no upload active");
    assert!(store.plugin_versions_of("q").await.unwrap().iter().all(|v| !v.active), "another name untouched");

    let limits = LimitOverrides { deadline_ms: Some(5), ..LimitOverrides::default() };
    store.set_plugin_limits("p", limits).await.unwrap();
    store.set_plugin_limits("q", limits).await.unwrap();
    store.set_plugin_limits("q", LimitOverrides::default()).await.unwrap();
    let stored = store.plugin_limits().await.unwrap();
    assert_eq!(stored.iter().map(|l| (l.name.as_str(), l.limits)).collect::<Vec<_>>(), [("p", limits)]);

    let deleted = store.delete_plugin("p").await.unwrap();
    assert_eq!(numbers(&deleted), [("p", 1, false), ("p", 2, false)]);
    assert!(store.plugin_limits().await.unwrap().is_empty(), "its limits go with it");
    assert_eq!(numbers(&store.plugin_versions().await.unwrap()), [("q", 1, false)]);
    let again = store.add_plugin_version("p", "p3".into(), b"three".to_vec()).await.unwrap();
    assert_eq!(again.version, 1, "a name deleted starts over");
}

pub(crate) async fn a_component_is_stored_once_and_freed_with_its_last_use(store: &dyn Store) {
    let none = Quotas::default();
    let attach = |sha256: &str, bytes: &[u8]| {
        Some((
            AttachedTransformer { sha256: sha256.into(), size: bytes.len(), uploaded_at: Time::now() },
            bytes.to_vec(),
        ))
    };
    store.add_plugin_version("p", "shared".into(), b"12345".to_vec()).await.unwrap();
    store.add_plugin_version("p", "shared".into(), b"12345".to_vec()).await.unwrap();
    store.add_plugin_version("r", "own".into(), b"123".to_vec()).await.unwrap();
    let a = hook(store, Some("a")).await;
    let global = hook(store, None).await;
    store.set_transformer(&Scope::All, a.id, attach("shared", b"12345"), none).await.unwrap();
    store.set_transformer(&Scope::All, global.id, attach("shared", b"12345"), none).await.unwrap();
    assert_eq!(store.component_totals().await.unwrap(), ComponentTotals { count: 2, bytes: 8 }, "stored once");

    store.delete_plugin("p").await.unwrap();
    assert_eq!(store.plugin_blob("shared").await.unwrap().as_deref(), Some(&b"12345"[..]), "hooks still use it");
    store.set_transformer(&Scope::All, a.id, attach("shared", b"12345"), none).await.unwrap();
    store.set_transformer(&Scope::All, a.id, None, none).await.unwrap();
    assert!(store.plugin_blob("shared").await.unwrap().is_some(), "replaced by itself, then detached: one use left");
    store.delete_hooks(&Scope::All, &HookSelector::default()).await.unwrap();
    assert_eq!(store.plugin_blob("shared").await.unwrap(), None, "freed with its last use");
    assert_eq!(store.component_totals().await.unwrap(), ComponentTotals { count: 1, bytes: 3 });
    store.delete_plugin("r").await.unwrap();
    assert_eq!(store.component_totals().await.unwrap(), ComponentTotals::default());
}
