//! Ingests, all or nothing, and parked events.

use crate::model::{
    EventOutcome, EventRecord, HookErrorRecord, IngestItem, ParkedEvent, ParkedKey, Scope, Seen, Sha256, StoredEvent,
};
use crate::store::contract::{Judge, Store};
use crate::store::tests::job;
use crate::time::Time;

/// What `ingest/idempotency.rs` decides, reduced to the digest: the same
/// content is a retry, other content a conflict.
pub(crate) fn judge() -> Judge {
    Box::new(|stored: Option<StoredEvent>, content: &Sha256| match stored {
        None => Seen::New,
        Some(stored) if stored.content.as_ref() == Some(content) => Seen::Known(stored.record),
        Some(_) => Seen::Conflict,
    })
}

/// Item `index`: event `id` of academy `a` posted with content `digest`,
/// queued for hook 1, parking `parked`.
pub(crate) fn item(index: usize, id: &str, digest: u8, parked: Vec<ParkedEvent>) -> IngestItem {
    let record = EventRecord {
        id: id.into(),
        event: "e".into(),
        academy: "a".into(),
        received_at: Time::now(),
        deliveries: 1,
        outcome: EventOutcome::Accepted,
        follow_ups: Vec::new(),
    };
    let content = Sha256([digest; 32]);
    let event = StoredEvent { record, content: Some(content) };
    IngestItem { index, content: Some(content), events: vec![(event, vec![job(1, 100)])], errors: Vec::new(), parked }
}

fn parked(plugin: &str, id: &str) -> ParkedEvent {
    ParkedEvent {
        event_id: id.into(),
        event: "e".into(),
        academy: "a".into(),
        data: "{}".into(),
        plugin: plugin.into(),
        error: "trap".into(),
        parked_at: Time::now(),
        failures: 0,
    }
}

pub(crate) async fn a_known_id_answers_the_stored_record_and_a_conflict_writes_nothing(store: &dyn Store) {
    let first = store.record_ingest(vec![item(0, "x", 1, Vec::new())], judge(), 10).await.unwrap().unwrap();
    assert_eq!(store.event("a", "x").await.unwrap().unwrap().record, first[0]);
    assert_eq!(store.queue_summary().await.unwrap().depth, 1);

    let mut retry = item(0, "x", 1, Vec::new());
    retry.events[0].0.record.received_at = Time::from_second(5);
    let again = store.record_ingest(vec![retry, item(1, "y", 1, Vec::new())], judge(), 10).await.unwrap().unwrap();
    assert_eq!(again[0], first[0], "the stored record, not the new one");
    assert_eq!(again[1].id, "y");
    assert_eq!(store.queue_summary().await.unwrap().depth, 2, "only the new item's job");

    let conflict = vec![item(0, "z", 1, vec![parked("p", "z")]), item(1, "x", 2, Vec::new())];
    let refused = store.record_ingest(conflict, judge(), 10).await.unwrap().unwrap_err();
    assert_eq!((refused.index, refused.academy.as_str(), refused.id.as_str()), (1, "a", "x"));
    assert_eq!(store.event("a", "z").await.unwrap(), None, "nothing written");
    assert_eq!(store.queue_summary().await.unwrap().depth, 2);
    assert_eq!(store.parked_count("p").await.unwrap(), 0);
    assert_eq!(store.event("a", "x").await.unwrap().unwrap().record, first[0]);
}

pub(crate) async fn an_ingest_records_follow_ups_jobs_and_hook_errors_and_answers_the_top_event(store: &dyn Store) {
    let mut with_follow_up = item(0, "top", 1, Vec::new());
    let mut follow_up = item(0, "follow", 1, Vec::new()).events.remove(0);
    follow_up.1.push(job(2, 300));
    with_follow_up.events.push(follow_up);
    let error = |message: &str, academy: &str| HookErrorRecord {
        id: 0,
        at: Time::now(),
        message: message.into(),
        event: "e".into(),
        event_id: Some("top".into()),
        hook_id: None,
        academy: Some(academy.into()),
    };
    with_follow_up.errors = vec![error("first", "a"), error("second", "a"), error("theirs", "b")];
    let records = store.record_ingest(vec![with_follow_up], judge(), 10).await.unwrap().unwrap();
    assert_eq!(records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["top"], "one record per item");
    assert!(store.event("a", "follow").await.unwrap().is_some(), "the follow-up is recorded");
    assert_eq!(store.event("b", "top").await.unwrap(), None, "ids are per academy");
    assert_eq!(store.queue_summary().await.unwrap().depth, 3, "every event's jobs");
    let errors = store.hook_errors(&Scope::Academy("a".into())).await.unwrap();
    assert_eq!(errors.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["second", "first"], "newest first");
    assert!(errors[0].id > errors[1].id, "ids from a counter");
}

pub(crate) async fn parking_is_capped_per_plugin_and_unparks_only_unchanged_failures(store: &dyn Store) {
    let park = |index: usize, events: Vec<ParkedEvent>| item(index, &format!("i{index}"), 0, events);
    let items = vec![
        park(0, vec![parked("p", "1"), parked("p", "2")]),
        park(1, vec![parked("p", "3"), parked("q", "3")]),
        park(2, vec![parked("p", "1")]),
    ];
    let records = store.record_ingest(items, judge(), 2).await.unwrap().unwrap();
    assert_eq!(records.len(), 3, "a failure past the cap is still recorded");
    assert_eq!(store.parked_counts().await.unwrap(), [("p".to_owned(), 2), ("q".to_owned(), 1)]);

    let page = store.parked("p", None, 1).await.unwrap();
    assert_eq!((page[0].event_id.as_str(), page[0].failures), ("1", 2), "parked again: one more failure");
    let rest = store.parked("p", Some(page[0].key()), 10).await.unwrap();
    assert_eq!(rest.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["2"]);

    let key = |id: &str| ParkedKey { academy: "a".into(), event_id: id.into() };
    store.unpark("p".into(), vec![(key("1"), 1), (key("2"), 1)]).await.unwrap();
    let left = store.parked("p", None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["1"], "failed again since read");
    store.unpark("p".into(), vec![(key("1"), 2)]).await.unwrap();
    assert_eq!(store.parked_count("p").await.unwrap(), 0);
    assert_eq!(store.parked_counts().await.unwrap(), [("q".to_owned(), 1)]);

    let room = store.record_ingest(vec![park(3, vec![parked("p", "3")])], judge(), 2).await.unwrap().unwrap();
    assert_eq!(room.len(), 1);
    assert_eq!(store.parked_count("p").await.unwrap(), 1, "unparking made room");
}

/// Requests at once, as a backend that writes concurrent ingests together
/// gets them: one id posted four times is written once — the requests with
/// its stored content answer its record, the others are refused — and a
/// refusal refuses its own request only.
pub(crate) async fn concurrent_ingests_of_one_id_write_it_once_and_refuse_only_the_conflicting(store: &dyn Store) {
    let post = |id: &str, digest: u8| store.record_ingest(vec![item(0, id, digest, Vec::new())], judge(), 10);
    let (a, b, c, d, e, f) = tokio::join!(
        post("same", 1),
        post("other-1", 1),
        post("same", 1),
        post("same", 2),
        post("other-2", 1),
        post("same", 1)
    );
    let stored = store.event("a", "same").await.unwrap().unwrap();
    let written = stored.content.unwrap().0[0];
    for (answer, digest) in [a, c, d, f].into_iter().zip([1, 1, 2, 1]) {
        match answer.unwrap() {
            Ok(records) => assert_eq!((digest, &records[0]), (written, &stored.record)),
            Err(conflict) => assert!(digest != written && conflict.id == "same", "{conflict:?}"),
        }
    }
    assert!(b.unwrap().is_ok() && e.unwrap().is_ok(), "a conflict refuses its own request only");
    assert_eq!(store.queue_summary().await.unwrap().depth, 3, "one job for `same`, one for each other id");
}
