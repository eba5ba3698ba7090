//! Ingestion: an event posted by a source application becomes, durably and
//! before it is acknowledged, an event record plus one delivery job per
//! subscribed hook.
//!
//! Stages: resolve (catalogue) → serialize (the event's plugin, on a
//! blocking thread) → fan out (active hooks of the event for the academy,
//! or the plugin's academy override, plus superadmin hooks) → follow-up
//! events (bounded depth) → one group commit → acknowledge.

pub mod idempotency;
pub mod parked;
pub mod session;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::catalog::{Catalog, EventDef, SharedCatalog};
use crate::model::{
    EventOutcome, EventRecord, Hook, HookErrorRecord, HookIndex, IngestItem, Job, Payload, Seen, Sha256, StoredEvent,
};
use crate::runtime::{self, Decision, Runtime};
use crate::store::{Judge, Store, StoreError};
use crate::time::Time;
pub use session::Item;

/// How deep follow-up events may nest (an event's follow-up's follow-up…).
pub const MAX_FOLLOW_UP_DEPTH: u32 = 4;

/// Most events of a request prepared on the runtime's worker, when none
/// calls a plugin or reads the store (see `Ingest::run`): a few
/// microseconds each, so a larger batch goes to the blocking pool rather
/// than hold the worker.
const MAX_INLINE: usize = 16;

/// Why an event was refused. Nothing is stored for a refused event.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("Unexpected event {0}")]
    UnknownEvent(String),
    #[error("{0}")]
    Invalid(String),
    /// The id was ingested before, in the same academy, with other content.
    #[error(
        "id {id:?} was already used in academy {academy:?} for an event with other content (another event or other data): post the same content again to get the first result, or use a new id"
    )]
    Conflict { index: usize, academy: String, id: String },
    /// Two items of one request share an academy and an id.
    #[error(
        "id {id:?} of academy {academy:?} is already used by events[{first}] of this batch: an id is ingested once per academy"
    )]
    Repeated { index: usize, first: usize, academy: String, id: String },
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// The item of the request the error is about, if it is about one.
    pub fn index(&self) -> Option<usize> {
        match self {
            IngestError::Conflict { index, .. } | IngestError::Repeated { index, .. } => Some(*index),
            _ => None,
        }
    }
}

/// The ingestion pipeline, shared by the API handlers.
pub struct Ingest {
    pub store: Arc<dyn Store>,
    pub runtime: Arc<Runtime>,
    pub catalog: Arc<SharedCatalog>,
    /// Woken after every commit that queued jobs.
    pub queued: Arc<Notify>,
    /// Operator switch: record events, deliver nothing.
    pub webhooks_disabled: bool,
}

/// One event to ingest, resolved.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub item: Item,
    pub academy: String,
    pub disable_webhooks: bool,
}

/// An event of an ingest request, after its plugins ran.
enum Staged {
    /// Its id was ingested before: this is the first result.
    Known(EventRecord),
    /// New: to commit.
    New(IngestItem),
}

impl Ingest {
    /// The catalogue as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.get()
    }

    /// Resolves a catalogue event by name or by action
    /// (`app.Model.created+` and friends resolve to their catalogue event).
    pub fn resolve(&self, name: Option<&str>, action: Option<&str>) -> Result<Arc<EventDef>, IngestError> {
        let catalog = self.catalog();
        match (name, action) {
            (Some(name), _) => catalog.get(name).cloned().ok_or_else(|| IngestError::UnknownEvent(name.to_owned())),
            (None, Some(action)) => {
                catalog.by_action(action).cloned().ok_or_else(|| IngestError::UnknownEvent(action.to_owned()))
            }
            (None, None) => Err(IngestError::Invalid("give the event's name (`event`) or its `action`".into())),
        }
    }

    /// Ingests events, all committed in one transaction; returns their
    /// records in order. An event whose id was seen before is not ingested
    /// again: its first record is returned.
    pub async fn ingest(self: &Arc<Self>, events: Vec<NewEvent>) -> Result<Vec<EventRecord>, IngestError> {
        self.run(events, false).await
    }

    /// As [`ingest`](Self::ingest), for parked events run again: an event
    /// whose record is still `failed` is ingested anew and its record
    /// replaced; any other record is kept.
    pub async fn rerun(self: &Arc<Self>, events: Vec<NewEvent>) -> Result<Vec<EventRecord>, IngestError> {
        self.run(events, true).await
    }

    async fn run(self: &Arc<Self>, events: Vec<NewEvent>, rerun: bool) -> Result<Vec<EventRecord>, IngestError> {
        check_unique_ids(&events)?;
        // Refused before the plugins run when the store would refuse it.
        self.store.room()?;
        let inline = events.len() <= MAX_INLINE
            && events.iter().all(|event| event.item.id.is_none() && event.item.event.serializer.is_none());
        let this = self.clone();
        // The idempotency check reads the store from the blocking thread:
        // a backend's read may await (a network round trip for a
        // networked one; nothing for redb).
        let runtime = tokio::runtime::Handle::current();
        let run_plugins = move || {
            // One snapshot of the hooks serves the whole batch.
            let hooks = this.store.hook_index();
            let mut staged = Vec::with_capacity(events.len());
            for event in events {
                // Already ingested (the common retry case) skips the plugins.
                let content = match &event.item.id {
                    None => None,
                    Some(id) => {
                        let content = idempotency::content_digest(&event.item.event.name, &event.item.data);
                        let stored = runtime.block_on(this.store.event(&event.academy, id.as_str()))?;
                        match idempotency::judge(stored, &content, rerun) {
                            Seen::New => Some(content),
                            Seen::Known(record) => {
                                staged.push(Staged::Known(record));
                                continue;
                            }
                            Seen::Conflict => return Err(conflict(event.item.index, &event.academy, id.as_str())),
                        }
                    }
                };
                staged.push(Staged::New(this.prepare(&hooks, event, content)));
            }
            Ok::<Vec<Staged>, IngestError>(staged)
        };
        // Plugins run on the blocking pool, never on a runtime worker: a
        // plugin that panics or prints makes WASI calls that block on their
        // own, and blocking on a worker panics. (Running a single event's
        // plugin inline, in `block_in_place`, measured slower: 21k against
        // 24k single-event ingests/s, and twice the memory.) The store reads
        // and content digests of the idempotency check go there too. A few
        // events that need neither are prepared here: the hand-off to the
        // pool and back cost more than their preparation.
        let prepared = if inline {
            run_plugins()?
        } else {
            tokio::task::spawn_blocking(run_plugins)
                .await
                .map_err(|e| IngestError::Internal(format!("the plugins did not finish: {e}")))??
        };

        let queued =
            prepared.iter().any(|s| matches!(s, Staged::New(p) if p.events.iter().any(|(_, jobs)| !jobs.is_empty())));
        // The new items are recorded in one operation; the known ones are
        // answered their first record, in the request's order.
        let mut new = Vec::with_capacity(prepared.len());
        let mut answers = Vec::with_capacity(prepared.len());
        for staged in prepared {
            match staged {
                Staged::Known(record) => answers.push(Some(record)),
                Staged::New(item) => {
                    new.push(item);
                    answers.push(None);
                }
            }
        }
        let judge: Judge =
            Box::new(move |stored: Option<StoredEvent>, content: &Sha256| idempotency::judge(stored, content, rerun));
        let recorded = self.store.record_ingest(new, judge, parked::MAX_PER_PLUGIN).await?;
        let mut recorded = recorded.map_err(|c| conflict(c.index, &c.academy, &c.id))?.into_iter();
        let records = answers.into_iter().map(|known| known.or_else(|| recorded.next())).collect::<Option<Vec<_>>>();
        let records = records.ok_or_else(|| IngestError::Internal("the store answered too few records".into()))?;
        if queued {
            self.queued.notify_one();
        }
        Ok(records)
    }

    /// Runs the plugins for one event and its follow-ups (CPU work, on a
    /// blocking thread).
    fn prepare(&self, hooks: &HookIndex, event: NewEvent, content: Option<Sha256>) -> IngestItem {
        let mut prepared = IngestItem { index: event.item.index, ..IngestItem::default() };
        // UUIDv7 ids sort by time, so the events table grows at its end
        // rather than dirtying a random page per event in each commit.
        let item = event.item;
        let id = match item.id {
            Some(id) => id.into_string(),
            None => format!("evt_{}", uuid::Uuid::now_v7().simple()),
        };
        let suppress = event.disable_webhooks || self.webhooks_disabled;
        self.prepare_one(&mut prepared, hooks, id, item.event, event.academy, item.data.get().to_owned(), suppress, 0);
        prepared.events.iter().for_each(|(stored, _)| crate::metrics::event_ingested(&stored.record.outcome));
        crate::activity::events_ingested(prepared.events.len() as u64);
        prepared.content = content;
        if let Some((top, _)) = prepared.events.first_mut() {
            top.content = content;
        }
        prepared
    }

    #[allow(clippy::too_many_arguments)]
    fn prepare_one(
        &self,
        prepared: &mut IngestItem,
        hooks: &HookIndex,
        id: String,
        def: Arc<EventDef>,
        academy: String,
        data: String,
        suppress: bool,
        depth: u32,
    ) {
        let index = prepared.events.len();
        let record = |outcome, deliveries| StoredEvent {
            record: EventRecord {
                id: id.clone(),
                event: def.name.clone(),
                academy: academy.clone(),
                received_at: Time::now(),
                deliveries,
                outcome,
                follow_ups: Vec::new(),
            },
            content: None,
        };
        if suppress {
            prepared.events.push((record(EventOutcome::Suppressed, 0), Vec::new()));
            return;
        }
        let (payload, target_academy, follow_ups) = match self.serialize(&def, &id, &academy, data) {
            Ok(delivery) => delivery,
            Err((outcome, data)) => {
                if let EventOutcome::Failed { error } = &outcome {
                    prepared.parked.extend(parked::failed(&def, &id, &academy, data, error));
                    prepared.errors.push(HookErrorRecord {
                        id: 0,
                        at: Time::now(),
                        message: error.clone(),
                        event: def.name.clone(),
                        event_id: Some(id.clone()),
                        hook_id: None,
                        academy: Some(academy.clone()),
                    });
                }
                prepared.events.push((record(outcome, 0), Vec::new()));
                return;
            }
        };
        let jobs = fan_out(hooks, &def, (&academy, &id), &target_academy, payload);
        let deliveries = u32::try_from(jobs.len()).unwrap_or(u32::MAX);
        prepared.events.push((record(EventOutcome::Accepted, deliveries), jobs));

        for (n, follow_up) in follow_ups.into_iter().enumerate() {
            let follow_id = format!("{id}.{n}");
            prepared.events[index].0.record.follow_ups.push(follow_id.clone());
            let academy = follow_up.academy.unwrap_or_else(|| target_academy.clone());
            let catalog = self.catalog();
            let failure = if depth + 1 > MAX_FOLLOW_UP_DEPTH {
                Some(format!(
                    "follow-up {} of {} is nested deeper than {MAX_FOLLOW_UP_DEPTH} levels",
                    follow_up.name, def.name
                ))
            } else if catalog.get(&follow_up.name).is_none() {
                Some(format!("follow-up event {} of {} is not in the catalogue", follow_up.name, def.name))
            } else {
                None
            };
            match (failure, catalog.get(&follow_up.name)) {
                (None, Some(next)) => {
                    self.prepare_one(
                        prepared,
                        hooks,
                        follow_id,
                        next.clone(),
                        academy,
                        follow_up.data,
                        false,
                        depth + 1,
                    );
                }
                (failure, _) => prepared.errors.push(HookErrorRecord {
                    id: 0,
                    at: Time::now(),
                    message: failure.unwrap_or_default(),
                    event: follow_up.name,
                    event_id: Some(follow_id),
                    hook_id: None,
                    academy: Some(academy),
                }),
            }
        }
    }

    /// The payload, the academy whose hooks get it, and the follow-ups; or
    /// the outcome that ends the event here (skipped, failed), with the
    /// source data back (a failed event is parked with it).
    #[allow(clippy::type_complexity)]
    fn serialize(
        &self,
        def: &EventDef,
        id: &str,
        academy: &str,
        data: String,
    ) -> Result<(String, String, Vec<runtime::FollowUp>), (EventOutcome, String)> {
        let Some(plugin_name) = &def.serializer else { return Ok((data, academy.to_owned(), Vec::new())) };
        let Some(plugin) = self.runtime.serializer(plugin_name) else {
            return Err((EventOutcome::Failed { error: format!("serializer {plugin_name} is not loaded") }, data));
        };
        let input = runtime::Event {
            id: id.to_owned(),
            name: def.name.clone(),
            action: def.action.clone(),
            academy: Some(academy.to_owned()),
            occurred_at: Time::now().to_string(),
            data,
        };
        match self.runtime.serialize(&plugin, &input).result {
            Ok(Decision::Deliver(d)) => {
                Ok((d.payload, d.academy_override.unwrap_or_else(|| academy.to_owned()), d.follow_ups))
            }
            Ok(Decision::Skip { reason }) => Err((EventOutcome::Skipped { reason }, input.data)),
            Err(error) => {
                let version = plugin.version().map(|v| format!(" version {v}")).unwrap_or_default();
                Err((EventOutcome::Failed { error: format!("serializer {plugin_name}{version}: {error}") }, input.data))
            }
        }
    }
}

fn conflict(index: usize, academy: &str, id: &str) -> IngestError {
    IngestError::Conflict { index, academy: academy.to_owned(), id: id.to_owned() }
}

/// Refuses a request in which two items share an academy and an id: one
/// of them would be dropped. (The API checks a batch before coalescing it;
/// this guards every caller.)
pub fn check_unique_ids(events: &[NewEvent]) -> Result<(), IngestError> {
    let mut seen: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
    for event in events {
        let Some(id) = &event.item.id else { continue };
        if let Some(&first) = seen.get(&(event.academy.as_str(), id.as_str())) {
            return Err(IngestError::Repeated {
                index: event.item.index,
                first,
                academy: event.academy.clone(),
                id: id.to_string(),
            });
        }
        seen.insert((event.academy.as_str(), id.as_str()), event.item.index);
    }
    Ok(())
}

/// One job per active hook of the event for `academy`, and per active
/// superadmin hook of the event, all holding one copy of `payload`.
/// `event` is the event's own academy and id.
fn fan_out(hooks: &HookIndex, def: &EventDef, event: (&str, &str), academy: &str, payload: String) -> Vec<Job> {
    let now_ms = crate::time::now_ms();
    let subscribed: Vec<&Arc<Hook>> = hooks
        .for_event(&def.name)
        .iter()
        .filter(|hook| hook.settings.is_active)
        .filter(|hook| hook.academy.as_deref().is_none_or(|own| own == academy))
        .collect();
    if subscribed.is_empty() {
        return Vec::new();
    }
    let payload = Payload::new(payload);
    subscribed
        .into_iter()
        .map(|hook| Job {
            id: 0,
            due_ms: now_ms,
            event_id: event.1.to_owned(),
            event: def.name.clone(),
            hook_id: hook.id,
            webhook_id: webhook_id(event, hook),
            payload: payload.clone(),
            attempts: 0,
        })
        .collect()
}

/// The Standard Webhooks `webhook-id` of an event (its academy and id) at
/// `hook`: unique per event and hook, the same on every attempt, so
/// receivers de-duplicate on it. `msg_<event id>_<hook id>` when the event
/// is of the hook's academy. A hook that also gets other academies'
/// events (a superadmin hook without an academy, or an event its
/// serializer sent to another academy's hooks) gets
/// `msg.<academy>.<event id>_<hook id>` for those: ids are unique only
/// within an academy, so the id alone could repeat. The two forms start
/// differently and slugs have no `.`, so no two events share one.
fn webhook_id((academy, id): (&str, &str), hook: &Hook) -> String {
    if hook.academy.as_deref() == Some(academy) {
        format!("msg_{id}_{}", hook.id)
    } else {
        format!("msg.{academy}.{id}_{}", hook.id)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod fan_out_tests {
    use super::*;
    use crate::model::EventSpec;
    use crate::store::tests::new_hook;

    fn hook(id: u64, academy: Option<&str>, event: &str, is_active: bool) -> Hook {
        let mut settings = new_hook(academy).settings;
        settings.event = event.into();
        settings.target = format!("https://example.com/{id}");
        settings.is_active = is_active;
        let now = Time::now();
        let (secret, previous_secret, transformer) = ("whsec_x".to_owned(), None, None);
        Hook {
            id,
            academy: academy.map(str::to_owned),
            settings,
            secret,
            previous_secret,
            created_at: now,
            updated_at: now,
            transformer,
        }
    }

    #[test]
    fn an_event_fans_out_to_the_active_hooks_of_its_academy_and_to_superadmin_hooks() {
        let hooks = HookIndex::new([
            hook(1, Some("downtown"), "e", true),
            hook(2, Some("uptown"), "e", true),
            hook(3, Some("downtown"), "e", false),
            hook(4, None, "e", true),
            hook(5, Some("downtown"), "other", true),
            hook(6, Some("downtown"), "e", true),
        ]);
        let def = EventDef::derive(EventSpec::for_test("e", "app.Model.e")).unwrap();
        let jobs = fan_out(&hooks, &def, ("downtown", "evt_1"), "downtown", r#"{"n":1}"#.into());
        let summary: Vec<_> = jobs.iter().map(|job| (job.hook_id, job.webhook_id.as_str())).collect();
        assert_eq!(summary, [(1, "msg_evt_1_1"), (4, "msg.downtown.evt_1_4"), (6, "msg_evt_1_6")]);
        assert!(
            jobs.iter().all(|job| job.payload.body() == r#"{"n":1}"# && job.attempts == 0 && job.event_id == "evt_1")
        );
    }

    #[test]
    fn a_serializer_that_sends_an_event_to_another_academy_reaches_that_academy_s_hooks_under_distinct_ids() {
        let hooks = HookIndex::new([hook(1, Some("downtown"), "e", true), hook(2, Some("uptown"), "e", true)]);
        let def = EventDef::derive(EventSpec::for_test("e", "app.Model.e")).unwrap();
        let jobs = fan_out(&hooks, &def, ("downtown", "evt_1"), "uptown", "{}".into());
        let summary: Vec<_> = jobs.iter().map(|job| (job.hook_id, job.webhook_id.as_str())).collect();
        assert_eq!(summary, [(2, "msg.downtown.evt_1_2")], "the id names the event's own academy");
    }
}
