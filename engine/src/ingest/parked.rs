//! Events whose serializer failed are parked, then ingested again when the
//! plugin may have been fixed: a version of it is activated (an upload, a
//! rollback), the event is rebound to another serializer, the plugin's
//! circuit breaker closes after its cool-down, or a superadmin asks
//! (`POST /v1/plugins/{name}/retry-failed`).
//!
//! Every `failed` outcome of a serializer is parked — a trap, a timeout, a
//! memory bomb, a refusal by the open breaker, and also an error the plugin
//! returned or an invalid output: a new version or another binding fixes
//! those as well. A `skip` is the plugin's decision and is not parked. At
//! most [`MAX_PER_PLUGIN`] events are parked per plugin; later failures are
//! not (they stay failed, with their hook error, and a warning is logged):
//! the oldest failures are the ones an operator is already looking at.
//!
//! A re-run goes through the normal pipeline under the event's id, in
//! batches on a background task, never in an API request. Its record is
//! replaced only while it is still `failed`, so an event is delivered once
//! even if two re-runs race. An event that fails again stays parked (its
//! failures counted), under the plugin that failed this time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::value::RawValue;
use tokio::sync::Notify;

use super::{Ingest, IngestError, Item, NewEvent};
use crate::catalog::EventDef;
use crate::model::{ParkedEvent, ParkedKey};
use crate::names::EventId;
use crate::time::Time;

/// Most events parked per plugin.
pub const MAX_PER_PLUGIN: u64 = 10_000;

/// Events ingested again per commit.
const BATCH: usize = 100;

/// How often the breakers of plugins with parked events are looked at: a
/// breaker's cool-down is a whole number of seconds, so none is missed.
const BREAKER_POLL: Duration = Duration::from_millis(500);

/// The event to park for a serializer failure of `def`, if it has one.
pub(super) fn failed(def: &EventDef, id: &str, academy: &str, data: String, error: &str) -> Option<ParkedEvent> {
    Some(ParkedEvent {
        event_id: id.to_owned(),
        event: def.name.clone(),
        academy: academy.to_owned(),
        data,
        plugin: def.serializer.clone()?,
        error: error.to_owned(),
        parked_at: Time::now(),
        failures: 0,
    })
}

/// A re-run to do: the events parked under `plugin`, or only those of
/// catalogue event `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    plugin: String,
    event: Option<String>,
}

/// Re-runs parked events on a background task ([`Retrier::run`]).
pub struct Retrier {
    ingest: Arc<Ingest>,
    requests: Mutex<Vec<Request>>,
    wake: Notify,
}

impl Retrier {
    pub fn new(ingest: Arc<Ingest>) -> Arc<Retrier> {
        Arc::new(Retrier { ingest, requests: Mutex::default(), wake: Notify::new() })
    }

    /// Queues a re-run of the events parked under `plugin` (only those of
    /// catalogue event `event`, if given); returns at once.
    pub fn request(&self, plugin: &str, event: Option<&str>) {
        let request = Request { plugin: plugin.to_owned(), event: event.map(str::to_owned) };
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if !requests.contains(&request) {
            requests.push(request);
        }
        drop(requests);
        self.wake.notify_one();
    }

    /// Serves requests, and re-runs a plugin's parked events when its
    /// breaker closes after a cool-down, until the task is dropped.
    pub async fn run(self: Arc<Self>) {
        let mut poll = tokio::time::interval(BREAKER_POLL);
        let mut open = HashSet::new();
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                _ = poll.tick() => self.watch_breakers(&mut open).await,
            }
            let requests = std::mem::take(&mut *self.requests.lock().unwrap_or_else(|e| e.into_inner()));
            for request in requests {
                match self.rerun(&request).await {
                    Ok(0) => {}
                    Ok(events) => {
                        tracing::info!(plugin = %request.plugin, event = ?request.event, events, "parked events ingested again")
                    }
                    Err(error) => {
                        tracing::error!(plugin = %request.plugin, %error, "parked events could not be ingested again")
                    }
                }
            }
        }
    }

    /// Requests a re-run for each plugin with parked events whose breaker
    /// was open at the last look and is closed now.
    async fn watch_breakers(&self, open: &mut HashSet<String>) {
        let counts = match self.ingest.store.parked_counts().await {
            Ok(counts) => counts,
            Err(error) => return tracing::error!(%error, "cannot read the parked events"),
        };
        open.retain(|plugin| counts.iter().any(|(p, _)| p == plugin));
        for (plugin, _) in counts {
            if self.breaker_open(&plugin) {
                open.insert(plugin);
            } else if open.remove(&plugin) {
                self.request(&plugin, None);
            }
        }
    }

    fn breaker_open(&self, plugin: &str) -> bool {
        let runtime = &self.ingest.runtime;
        let version = runtime.serializer(plugin).and_then(|p| p.version());
        version.and_then(|v| runtime.health(plugin, v)).is_some_and(|health| health.breaker.open)
    }

    /// Ingests the events of `request` again, batch by batch; stops early
    /// when the plugin's breaker opens (its closing resumes). Answers how
    /// many were run.
    async fn rerun(&self, request: &Request) -> Result<usize, IngestError> {
        let mut after: Option<ParkedKey> = None;
        let mut total = 0;
        loop {
            let page = self.ingest.store.parked(&request.plugin, after.clone(), BATCH).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.key());
            let catalog = self.ingest.catalog();
            let mut events = Vec::with_capacity(page.len());
            let mut done = Vec::with_capacity(page.len());
            for parked in page.into_iter().filter(|p| request.event.as_ref().is_none_or(|e| *e == p.event)) {
                done.push((parked.key(), parked.failures));
                // An id parked before ids were checked at ingest could not
                // be delivered anyway (it is invalid in a header).
                let id = EventId::parse(parked.event_id.as_str());
                match (catalog.get(&parked.event), RawValue::from_string(parked.data), id) {
                    (Some(def), Ok(data), Ok(id)) => events.push(NewEvent {
                        item: Item { event: def.clone(), data, id: Some(id), index: events.len() },
                        academy: parked.academy,
                        disable_webhooks: false,
                    }),
                    (def, data, id) => tracing::warn!(
                        event_id = %parked.event_id, event = %parked.event, in_catalog = def.is_some(), valid_json = data.is_ok(),
                        valid_id = id.is_ok(), "parked event dropped: it cannot be ingested again"
                    ),
                }
            }
            total += events.len();
            if !events.is_empty() {
                self.ingest.rerun(events).await?;
            }
            let plugin = request.plugin.clone();
            self.ingest.store.unpark(plugin, done).await?;
            if self.breaker_open(&request.plugin) {
                tracing::warn!(plugin = %request.plugin, "re-run of parked events paused: the plugin's breaker is open again");
                break;
            }
        }
        Ok(total)
    }
}
