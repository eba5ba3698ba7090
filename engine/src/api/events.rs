//! Ingestion: source applications post events (service or superadmin
//! tokens). `202` means the event and all its delivery jobs are on disk.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::extract::{Body, Producer};
use super::types::{EventRecord, wire};
use super::{ApiError, AppState};
use crate::ingest::{IngestError, Item, NewEvent, check_unique_ids, session};
use crate::names::EventId;
use crate::names::is_slug;

/// An event as an application reports it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// The catalogue name…
    event: Option<String>,
    /// …or the action, e.g. `admissions.CohortUser.created+`.
    action: Option<String>,
    academy: Option<String>,
    /// The source object, any JSON value.
    #[schema(value_type = Object)]
    data: Box<RawValue>,
    /// Idempotency key, unique per academy: 1 to 200 visible ASCII
    /// characters. The same id with the same content is ingested once; with
    /// other content it is refused (409).
    id: Option<String>,
    /// Record the event, deliver nothing (seed 002's `disable_webhooks`).
    #[serde(default)]
    disable_webhooks: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    events: Vec<EventInput>,
    /// Coalesce changes of one object (seed 003's session); default on.
    #[serde(default = "yes")]
    session: bool,
    #[serde(default)]
    disable_webhooks: bool,
}

fn yes() -> bool {
    true
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BatchReply {
    events: Vec<EventRecord>,
}

/// Most events one batch may carry.
pub const MAX_BATCH: usize = 10_000;

/// The item at `index` of its request, resolved and checked.
fn resolve(state: &AppState, input: EventInput, index: usize, disable_webhooks: bool) -> Result<NewEvent, ApiError> {
    let event = state.ingest.resolve(input.event.as_deref(), input.action.as_deref()).map_err(ingest_error)?;
    let Some(academy) = input.academy.filter(|a| !a.is_empty()) else {
        return Err(ApiError::validation("academy is required"));
    };
    if !is_slug(&academy) {
        return Err(ApiError::validation(format!("{academy:?} is not an academy slug")));
    }
    let id = input.id.map(EventId::parse).transpose().map_err(|why| ApiError::validation(format!("id {why}")))?;
    Ok(NewEvent {
        item: Item { event, data: input.data, id, index },
        academy,
        disable_webhooks: disable_webhooks || input.disable_webhooks,
    })
}

/// An error about one item of a batch names it: `events[3]: …`.
fn in_batch(index: usize, error: ApiError) -> ApiError {
    ApiError { detail: format!("events[{index}]: {}", error.detail), ..error }
}

fn ingest_error(error: IngestError) -> ApiError {
    match error {
        IngestError::UnknownEvent(event) => ApiError::invalid_event(&event),
        IngestError::Invalid(detail) => ApiError::validation(detail),
        conflict @ IngestError::Conflict { .. } => {
            ApiError::new(StatusCode::CONFLICT, "idempotency-conflict", conflict.to_string())
        }
        repeated @ IngestError::Repeated { .. } => ApiError::validation(repeated.to_string()),
        IngestError::Internal(detail) => {
            tracing::error!(%detail, "ingestion failed");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "ingest-error", "Ingestion failed; nothing was stored.")
        }
        IngestError::Store(error) => error.into(),
    }
}

/// `POST /v1/events`: one event of the token's ingest rate.
#[utoipa::path(post, path = "/v1/events", request_body = EventInput, responses((status = 202, body = EventRecord)))]
pub async fn ingest(
    State(state): State<AppState>,
    producer: Producer,
    Body(input): Body<EventInput>,
) -> Result<(StatusCode, Json<EventRecord>), ApiError> {
    producer.spend(&state, 1)?;
    let event = resolve(&state, input, 0, false)?;
    let mut records = state.ingest.ingest(vec![event]).await.map_err(ingest_error)?;
    Ok((StatusCode::ACCEPTED, Json(records.remove(0).into())))
}

/// `POST /v1/events/batch`: every event of the batch in one commit; with
/// `session`, changes of one object coalesce first. A batch that uses an
/// id twice in one academy is refused (400), session or not: it is never
/// coalesced, nor half ingested. An error about one item names it. Each
/// event it carries counts against the token's ingest rate.
#[utoipa::path(post, path = "/v1/events/batch", request_body = BatchInput, responses((status = 202, body = BatchReply)))]
pub async fn ingest_batch(
    State(state): State<AppState>,
    producer: Producer,
    Body(batch): Body<BatchInput>,
) -> Result<(StatusCode, Json<BatchReply>), ApiError> {
    if batch.events.len() > MAX_BATCH {
        return Err(ApiError::validation(format!("at most {MAX_BATCH} events per batch")));
    }
    producer.spend(&state, batch.events.len())?;
    let events = batch
        .events
        .into_iter()
        .enumerate()
        .map(|(index, input)| resolve(&state, input, index, batch.disable_webhooks).map_err(|e| in_batch(index, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let batch_error = |error: IngestError| match error.index() {
        Some(index) => in_batch(index, ingest_error(error)),
        None => ingest_error(error),
    };
    check_unique_ids(&events).map_err(batch_error)?;
    let events = if batch.session { coalesce(events) } else { events };
    let records = state.ingest.ingest(events).await.map_err(batch_error)?;
    Ok((StatusCode::ACCEPTED, Json(BatchReply { events: wire(records) })))
}

/// Session coalescing, per academy; what remains is in the batch's order
/// (each event where its kept item was).
fn coalesce(events: Vec<NewEvent>) -> Vec<NewEvent> {
    let mut out = Vec::with_capacity(events.len());
    let mut academies: Vec<(String, bool)> = Vec::new();
    for event in &events {
        let key = (event.academy.clone(), event.disable_webhooks);
        if !academies.contains(&key) {
            academies.push(key);
        }
    }
    for (academy, disable_webhooks) in academies {
        let items: Vec<Item> = events
            .iter()
            .filter(|e| e.academy == academy && e.disable_webhooks == disable_webhooks)
            .map(|e| e.item.clone())
            .collect();
        out.extend(session::coalesce(items).into_iter().map(|item| NewEvent {
            item,
            academy: academy.clone(),
            disable_webhooks,
        }));
    }
    out.sort_by_key(|event| event.item.index);
    out
}
