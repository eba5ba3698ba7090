//! The ingest pipeline's rules, run through `Ingest` with a real plugin
//! (the hostile test serializer) on the memory store: the idempotency of client ids,
//! the follow-up depth, fan-out into queued jobs, and the parking of an
//! event whose serializer failed.

use std::sync::{Arc, OnceLock};

use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::session::Item;
use super::{Ingest, IngestError, MAX_FOLLOW_UP_DEPTH, NewEvent};
use crate::catalog::{Catalog, EventDef, SharedCatalog};
use crate::model::{EventOutcome, EventSpec, Scope};
use crate::names::EventId;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::Store;
use crate::store::tests::{memory, new_hook};

const ACADEMY: &str = "downtown";

/// One runtime for every test: compiling the plugin is the slow part.
fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
            let hostile = runtime.load_serializer("hostile", &wasmhook_testkit::hostile_wasm()).unwrap();
            runtime.activate("hostile", 1, &hostile);
            Arc::new(runtime)
        })
        .clone()
}

/// An ingest pipeline on `store` whose catalogue has `hostile.<mode>`
/// events, each serialized by the hostile plugin.
fn ingest(store: Arc<dyn Store>) -> Arc<Ingest> {
    let mut catalog = Catalog::load(None).unwrap();
    catalog.extend(["echo", "recurse", "trap"].map(|mode| {
        let mut spec = EventSpec::for_test(&format!("hostile.{mode}"), &format!("hostile.Thing.{mode}"));
        spec.serializer = Some("hostile".into());
        EventDef::derive(spec).unwrap()
    }));
    Arc::new(Ingest {
        store,
        runtime: runtime(),
        catalog: Arc::new(SharedCatalog::new(catalog)),
        queued: Arc::new(Notify::new()),
        webhooks_disabled: false,
    })
}

fn event(ingest: &Ingest, name: &str, id: Option<&str>, data: &str) -> NewEvent {
    let item = Item {
        event: ingest.catalog().get(name).unwrap().clone(),
        data: RawValue::from_string(data.to_owned()).unwrap(),
        id: id.map(|id| EventId::parse(id).unwrap()),
        index: 0,
    };
    NewEvent { item, academy: ACADEMY.into(), disable_webhooks: false }
}

#[tokio::test]
async fn a_client_id_seen_before_answers_its_first_record_and_other_content_is_a_conflict() {
    let store = memory();
    let ingest = ingest(store.clone());
    let first = ingest.ingest(vec![event(&ingest, "hostile.echo", Some("a"), r#"{"n":1}"#)]).await.unwrap();
    let again = ingest.ingest(vec![event(&ingest, "hostile.echo", Some("a"), r#"{"n":1}"#)]).await.unwrap();
    assert_eq!(first, again, "the same content answers the first record");
    let other = ingest.ingest(vec![event(&ingest, "hostile.echo", Some("a"), r#"{"n":2}"#)]).await;
    assert!(matches!(other, Err(IngestError::Conflict { .. })), "{other:?}");
    let stored = store.event(ACADEMY, "a").await.unwrap().unwrap();
    assert_eq!(stored.record, first[0]);
}

#[tokio::test]
async fn follow_ups_nest_only_so_deep_and_the_one_past_the_limit_is_a_hook_error() {
    let store = memory();
    let ingest = ingest(store.clone());
    let records = ingest.ingest(vec![event(&ingest, "hostile.recurse", Some("r"), "{}")]).await.unwrap();
    assert_eq!(records[0].follow_ups, ["r.0"]);
    let deepest = format!("r{}", ".0".repeat(MAX_FOLLOW_UP_DEPTH as usize));
    let deepest = store.event(ACADEMY, &deepest).await.unwrap().expect("the deepest follow-up allowed is recorded");
    assert_eq!(deepest.record.follow_ups, [format!("{}.0", deepest.record.id)], "it emitted one more");
    let past = format!("{}.0", deepest.record.id);
    assert_eq!(store.event(ACADEMY, &past).await.unwrap(), None, "one level deeper is not ingested");
    let errors = store.hook_errors(&Scope::All).await.unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].event_id.as_deref(), Some(past.as_str()));
    assert!(errors[0].message.contains(&format!("nested deeper than {MAX_FOLLOW_UP_DEPTH} levels")), "{errors:?}");
}

#[tokio::test]
async fn an_event_is_queued_for_the_active_hooks_of_its_academy_and_for_superadmin_hooks() {
    let store = memory();
    let ingest = ingest(store.clone());
    let mut ids = Vec::new();
    for (academy, active) in [(Some(ACADEMY), true), (Some("uptown"), true), (Some(ACADEMY), false), (None, true)] {
        let mut hook = new_hook(academy);
        hook.settings.event = "hostile.echo".into();
        hook.settings.is_active = active;
        ids.push(store.create_hook(hook, Default::default()).await.unwrap().id);
    }
    let records = ingest.ingest(vec![event(&ingest, "hostile.echo", None, r#"{"n":1}"#)]).await.unwrap();
    assert_eq!(records[0].deliveries, 2);
    let due = crate::store::tests::queued_jobs(store.as_ref()).await;
    let mut hooks: Vec<u64> = due.iter().map(|job| job.hook_id).collect();
    hooks.sort();
    assert_eq!(hooks, [ids[0], ids[3]], "its academy's active hook and the superadmin's");
    assert!(due.iter().all(|job| job.payload.body() == r#"{"n":1}"#));
}

#[tokio::test]
async fn an_event_whose_serializer_fails_is_recorded_failed_parked_and_reported() {
    let store = memory();
    let ingest = ingest(store.clone());
    let records = ingest.ingest(vec![event(&ingest, "hostile.trap", Some("t"), "{}")]).await.unwrap();
    assert!(matches!(records[0].outcome, EventOutcome::Failed { .. }), "{:?}", records[0].outcome);
    assert_eq!(store.parked_count("hostile").await.unwrap(), 1, "parked for a re-run once the plugin is fixed");
    let errors = store.hook_errors(&Scope::All).await.unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].event_id.as_deref(), Some("t"));
}
