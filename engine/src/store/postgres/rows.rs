//! Conversions between the model's values and PostgreSQL's: ids are
//! `bigint` (the model's `u64` ids come from sequences, never past
//! `i64::MAX`), times whole seconds (`to_timestamp` when written, the
//! epoch when read), payload ids `uuid`, whole records `jsonb`. A value
//! that does not decode is a corrupt record, named.

use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, Json};

use super::super::StoreError;
use crate::model::{Attempt, AttemptOutcome, Job, Payload, PayloadId};
use crate::time::Time;

/// A model id as a `bigint`.
pub(super) fn id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// A count or size as a `bigint`.
pub(super) fn count(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// Seconds since the epoch, for `to_timestamp($n::bigint)`.
pub(super) fn seconds(time: Time) -> i64 {
    time.as_second()
}

pub(super) fn uuid(id: PayloadId) -> uuid::Uuid {
    uuid::Uuid::from_bytes(id.0)
}

/// Column `column` of `row`, or the record named `what` is corrupt.
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str, what: &'static str) -> Result<T, StoreError> {
    row.try_get(column).map_err(|e| StoreError::Corrupt { what, message: format!("{column}: {e}") })
}

/// A non-negative `bigint` column as a model number.
pub(super) fn unsigned<T: TryFrom<i64>>(row: &Row, column: &str, what: &'static str) -> Result<T, StoreError> {
    let value: i64 = get(row, column, what)?;
    T::try_from(value).map_err(|_| StoreError::Corrupt { what, message: format!("{column}: {value} out of range") })
}

/// A non-negative `integer` column as a model number.
pub(super) fn unsigned32<T: TryFrom<i32>>(row: &Row, column: &str, what: &'static str) -> Result<T, StoreError> {
    let value: i32 = get(row, column, what)?;
    T::try_from(value).map_err(|_| StoreError::Corrupt { what, message: format!("{column}: {value} out of range") })
}

/// A time column read as `extract(epoch FROM …)::bigint`.
pub(super) fn time(row: &Row, column: &str, what: &'static str) -> Result<Time, StoreError> {
    Ok(Time::from_second(get(row, column, what)?))
}

pub(super) fn optional_time(row: &Row, column: &str, what: &'static str) -> Result<Option<Time>, StoreError> {
    Ok(get::<Option<i64>>(row, column, what)?.map(Time::from_second))
}

/// A `jsonb` column as the record it holds.
pub(super) fn json<T: DeserializeOwned>(row: &Row, column: &str, what: &'static str) -> Result<T, StoreError> {
    Ok(get::<Json<T>>(row, column, what)?.0)
}

/// The payload of columns `id` and `body`.
pub(super) fn payload(row: &Row, id: &str, body: &str, what: &'static str) -> Result<Payload, StoreError> {
    let id: uuid::Uuid = get(row, id, what)?;
    let body: String = get(row, body, what)?;
    Ok(Payload::stored(PayloadId(id.into_bytes()), body.into()))
}

/// The columns of a job with its payload, for [`job`].
pub(super) const JOB_COLUMNS: &str = "j.id, j.due_ms, j.event_id, j.event, j.hook_id, j.webhook_id, j.attempts, \
                                      j.payload_id, p.body AS payload_body";

/// A job of a row of [`JOB_COLUMNS`] (`jobs j JOIN payloads p`).
pub(super) fn job(row: &Row) -> Result<Job, StoreError> {
    const WHAT: &str = "job";
    Ok(Job {
        id: unsigned(row, "id", WHAT)?,
        due_ms: unsigned(row, "due_ms", WHAT)?,
        event_id: get(row, "event_id", WHAT)?,
        event: get(row, "event", WHAT)?,
        hook_id: unsigned(row, "hook_id", WHAT)?,
        webhook_id: get(row, "webhook_id", WHAT)?,
        payload: payload(row, "payload_id", "payload_body", WHAT)?,
        attempts: unsigned32(row, "attempts", WHAT)?,
    })
}

/// The columns of an attempt, for [`attempt`] (`attempts a`).
pub(super) const ATTEMPT_COLUMNS: &str = "a.id, a.delivery_id, a.hook_id, a.event_id, a.event, a.webhook_id, \
     a.attempt, extract(epoch FROM a.scheduled_at)::bigint AS scheduled_at, \
     extract(epoch FROM a.sent_at)::bigint AS sent_at, a.request_headers, a.payload_id, a.transformed_id, \
     a.response_status, a.response_body, a.duration_ms, a.error, a.outcome, \
     extract(epoch FROM a.next_attempt_at)::bigint AS next_attempt_at";

/// The columns of an attempt's bodies, for [`attempt`]
/// (`JOIN payloads p ON p.id = a.payload_id LEFT JOIN payloads t ON t.id = a.transformed_id`).
pub(super) const ATTEMPT_BODIES: &str = "p.body AS payload_body, t.body AS transformed_body";

/// An attempt of a row of [`ATTEMPT_COLUMNS`], its payloads as `payloads`
/// reads them from the same row.
pub(super) fn attempt<P>(
    row: &Row,
    payloads: impl Fn(&Row, &str) -> Result<P, StoreError>,
) -> Result<Attempt<P>, StoreError> {
    const WHAT: &str = "attempt";
    let outcome: String = get(row, "outcome", WHAT)?;
    let outcome = match outcome.as_str() {
        "succeeded" => AttemptOutcome::Succeeded,
        "failed" => AttemptOutcome::Failed,
        "cancelled" => AttemptOutcome::Cancelled,
        other => return Err(StoreError::Corrupt { what: WHAT, message: format!("outcome {other:?}") }),
    };
    let transformed = match get::<Option<uuid::Uuid>>(row, "transformed_id", WHAT)? {
        Some(_) => Some(payloads(row, "transformed")?),
        None => None,
    };
    Ok(Attempt {
        id: unsigned(row, "id", WHAT)?,
        delivery_id: unsigned(row, "delivery_id", WHAT)?,
        hook_id: unsigned(row, "hook_id", WHAT)?,
        event_id: get(row, "event_id", WHAT)?,
        event: get(row, "event", WHAT)?,
        webhook_id: get(row, "webhook_id", WHAT)?,
        attempt: unsigned32(row, "attempt", WHAT)?,
        scheduled_at: time(row, "scheduled_at", WHAT)?,
        sent_at: time(row, "sent_at", WHAT)?,
        request_headers: json(row, "request_headers", WHAT)?,
        payload: payloads(row, "payload")?,
        transformed,
        response_status: get::<Option<i32>>(row, "response_status", WHAT)?.and_then(|s| u16::try_from(s).ok()),
        response_body: get(row, "response_body", WHAT)?,
        duration_ms: unsigned(row, "duration_ms", WHAT)?,
        error: get(row, "error", WHAT)?,
        outcome,
        next_attempt_at: optional_time(row, "next_attempt_at", WHAT)?,
    })
}

/// An attempt's payload `which` ("payload", "transformed") with its body,
/// from a row with [`ATTEMPT_BODIES`].
pub(super) fn attempt_body(row: &Row, which: &str) -> Result<Payload, StoreError> {
    payload(row, &format!("{which}_id"), &format!("{which}_body"), "attempt")
}

/// The name an outcome is stored under.
pub(super) fn outcome(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Succeeded => "succeeded",
        AttemptOutcome::Failed => "failed",
        AttemptOutcome::Cancelled => "cancelled",
    }
}
