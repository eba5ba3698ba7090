//! Records of ingestion and delivery: events, the job queue, attempts and
//! hook errors. The write functions take a transaction so the committer can
//! batch them; reads open their own.

use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::queue::QueueWriter;
use super::tables::{ATTEMPTS, EVENTS, HOOK_ERRORS, HOOK_SAMPLES, HOOK_STATS, HOOKS, meta};
use super::{Hook, HookStats, Scope, Store, StoreError, next_id, sealing};
use crate::secrets::{REDACTED, Sealed};
use crate::time::Time;

/// An ingested event and what came of it, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventRecord {
    /// Unique within its academy.
    pub id: String,
    pub event: String,
    pub academy: String,
    pub received_at: Time,
    /// Delivery jobs queued for it.
    pub deliveries: u32,
    #[serde(flatten)]
    pub outcome: EventOutcome,
    /// Ids of the follow-up events it produced.
    pub follow_ups: Vec<String>,
}

/// The idempotency record of an event: what the API answers, and for an
/// event whose id the client chose, the digest of what it was posted with,
/// so that a reuse of the id with other content is told apart from a
/// retry. Records written before the digest existed (schema version 2),
/// and those of generated ids and follow-ups, have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    #[serde(flatten)]
    pub record: EventRecord,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<ContentDigest>,
}

/// A sha256 of what identifies a request's content (see
/// `ingest/idempotency.rs`), stored as hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDigest(pub [u8; 32]);

impl Serialize for ContentDigest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for ContentDigest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(ContentDigest(bytes))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum EventOutcome {
    /// Queued for every subscribed hook (possibly none).
    Accepted,
    /// The serializer decided not to deliver it.
    Skipped { reason: String },
    /// Webhooks were disabled for it (globally or by the request).
    Suppressed,
    /// The serializer failed; a hook error was recorded.
    Failed { error: String },
}

/// One delivery of one event to one hook, waiting for its next attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The delivery id: stable across attempts.
    pub id: u64,
    /// When the next attempt is due, ms since the epoch.
    pub due_ms: u64,
    pub event_id: String,
    pub event: String,
    pub hook_id: u64,
    /// Standard Webhooks `webhook-id`: the same on every attempt.
    pub webhook_id: String,
    pub payload: String,
    /// Attempts already made.
    pub attempts: u32,
}

/// One attempt to deliver, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    pub id: u64,
    pub delivery_id: u64,
    pub hook_id: u64,
    pub event_id: String,
    pub event: String,
    pub webhook_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub scheduled_at: Time,
    pub sent_at: Time,
    /// The headers sent, as [`log_headers`] keeps them.
    pub request_headers: Vec<(String, String)>,
    pub payload: String,
    pub response_status: Option<u16>,
    /// Truncated.
    pub response_body: Option<String>,
    pub duration_ms: u64,
    pub error: Option<String>,
    pub outcome: AttemptOutcome,
    /// When the next attempt is due, if one will be made.
    pub next_attempt_at: Option<Time>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AttemptOutcome {
    Succeeded,
    Failed,
    /// The hook's transformer cancelled the delivery.
    Cancelled,
}

/// The headers the engine sets on every request, whose values an attempt
/// record keeps.
pub const ENGINE_HEADERS: [&str; 3] = ["content-type", "webhook-id", "webhook-timestamp"];

/// The signature header: never recorded (it is worthless after the fact,
/// and one less thing to leak).
pub const SIGNATURE_HEADER: &str = "webhook-signature";

/// The headers of a request as its attempt record keeps them: the engine's
/// with their values, the others (the hook's custom headers, those its
/// transformer set), which often carry credentials, by name only, the
/// signature not at all.
pub fn log_headers(headers: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    headers
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .map(|(name, value)| {
            if ENGINE_HEADERS.iter().any(|engine| name.eq_ignore_ascii_case(engine)) {
                (name, value)
            } else {
                (name, REDACTED.to_owned())
            }
        })
        .collect()
}

/// A failure to show integrators (seed 001's `HookError`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookErrorRecord {
    pub id: u64,
    pub at: Time,
    pub message: String,
    pub event: String,
    pub event_id: Option<String>,
    pub hook_id: Option<u64>,
    pub academy: Option<String>,
}

/// What to do with a job after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Done (delivered, cancelled or out of retries).
    Finish,
    /// Try again at this time (ms since the epoch).
    Retry { due_ms: u64 },
}

/// How an attempt changes its hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEffect {
    None,
    /// `410 Gone` or too many consecutive failures.
    Deactivate,
}

/// When a failed attempt deactivates its hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deactivation {
    /// The receiver answered `410 Gone`.
    pub gone: bool,
    /// The hook's `auto_disable_after_failures`.
    pub after_failures: Option<u32>,
}

impl Store {
    /// The event `academy` ingested with id `id`.
    pub fn event(&self, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(EVENTS)?;
        let record = table.get((academy, id))?.map(|bytes| decode("event", bytes.value())).transpose()?;
        Ok(record)
    }

    /// A hook's attempts, newest first.
    pub fn attempts(&self, hook: &Hook) -> Result<Vec<Attempt>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(ATTEMPTS)?;
        let mut attempts = Vec::new();
        for entry in table.range((hook.id, 0)..=(hook.id, u64::MAX))?.rev() {
            attempts.push(decode("attempt", entry?.1.value())?);
        }
        Ok(attempts)
    }

    /// Hook errors visible in `scope`, newest first: an academy sees the
    /// errors of its own hooks and events.
    pub fn hook_errors(&self, scope: &Scope) -> Result<Vec<HookErrorRecord>, StoreError> {
        let mut errors: Vec<HookErrorRecord> = self.scan(HOOK_ERRORS, "hook error")?;
        errors.retain(|e| scope.sees(e.academy.as_deref()));
        errors.reverse();
        Ok(errors)
    }
}

/// Writes an event record (the idempotency record) and its jobs.
pub fn insert_event(txn: &WriteTransaction, event: &StoredEvent, jobs: &mut [Job]) -> Result<(), StoreError> {
    let key = (event.record.academy.as_str(), event.record.id.as_str());
    txn.open_table(EVENTS)?.insert(key, encode(event).as_slice())?;
    let mut queue = QueueWriter::open(txn)?;
    for job in jobs {
        job.id = next_id(txn, meta::NEXT_JOB_ID)?;
        queue.push(job)?;
    }
    Ok(())
}

/// The event record of (`academy`, `id`), inside a write transaction
/// (idempotency check).
pub fn find_event(txn: &WriteTransaction, academy: &str, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let table = txn.open_table(EVENTS)?;
    let record = table.get((academy, id))?.map(|bytes| decode("event", bytes.value())).transpose()?;
    Ok(record)
}

/// Queues `job` again (a replay), with a new delivery id.
pub fn enqueue(txn: &WriteTransaction, job: &mut Job) -> Result<(), StoreError> {
    job.id = next_id(txn, meta::NEXT_JOB_ID)?;
    QueueWriter::open(txn)?.push(job)
}

/// Records a hook error.
pub fn insert_hook_error(txn: &WriteTransaction, mut error: HookErrorRecord) -> Result<(), StoreError> {
    error.id = next_id(txn, meta::NEXT_ERROR_ID)?;
    let key = (u64::try_from(error.at.as_second()).unwrap_or(0), error.id);
    txn.open_table(HOOK_ERRORS)?.insert(key, encode(&error).as_slice())?;
    Ok(())
}

/// Records an attempt and its consequences, all at once: the hook's stats,
/// its deactivation (`410 Gone`, or too many consecutive failures: then no
/// retry), the attempt, the job's removal or rescheduling, the hook's
/// sample on success, a hook error on failure. Returns whether the hook was
/// deactivated: the caller reloads the hook index once this is committed.
pub fn record_attempt(
    txn: &WriteTransaction,
    job: &Job,
    mut attempt: Attempt,
    mut next: NextStep,
    deactivation: Deactivation,
) -> Result<HookEffect, StoreError> {
    let mut queue = QueueWriter::open(txn)?;
    queue.remove(job)?;
    let mut hooks = txn.open_table(HOOKS)?;
    if hooks.get(job.hook_id)?.is_none() {
        return Ok(HookEffect::None); // deleted meanwhile: nothing to record
    }
    let effect = update_stats(txn, job.hook_id, &attempt, deactivation)?;
    if effect == HookEffect::Deactivate {
        next = NextStep::Finish;
        attempt.next_attempt_at = None;
        attempt.error.get_or_insert_with(|| {
            if deactivation.gone {
                "the receiver answered 410 Gone: the hook is now inactive".into()
            } else {
                "too many consecutive failures: the hook is now inactive".into()
            }
        });
    }
    if let NextStep::Retry { due_ms } = next {
        queue.push(&Job { due_ms, attempts: job.attempts + 1, ..job.clone() })?;
    }
    attempt.id = next_id(txn, meta::NEXT_ATTEMPT_ID)?;
    txn.open_table(ATTEMPTS)?.insert((job.hook_id, attempt.id), encode(&attempt).as_slice())?;

    // The hook record itself is read only when it changes or a hook error
    // needs its academy: recording a success does not decode it.
    // Neither needs the hook's secrets: the record stays sealed.
    let hook = |hooks: &redb::Table<u64, &[u8]>| -> Result<Hook<Sealed>, StoreError> {
        let bytes = hooks
            .get(job.hook_id)?
            .ok_or_else(|| StoreError::Corrupt { what: "hook", message: "vanished inside the transaction".into() })?;
        sealing::decode_sealed(bytes.value())
    };
    if effect == HookEffect::Deactivate {
        let mut changed = hook(&hooks)?;
        changed.settings.is_active = false;
        hooks.insert(changed.id, sealing::encode_sealed(&changed).as_slice())?;
    }
    match attempt.outcome {
        AttemptOutcome::Succeeded => {
            txn.open_table(HOOK_SAMPLES)?.insert(job.hook_id, attempt.payload.as_bytes())?;
        }
        AttemptOutcome::Failed => {
            let message = match (&attempt.error, attempt.response_status) {
                (Some(error), _) => error.clone(),
                (None, Some(status)) => format!("the receiver answered {status}"),
                (None, None) => "delivery failed".to_owned(),
            };
            let error = HookErrorRecord {
                id: 0,
                at: attempt.sent_at,
                message,
                event: job.event.clone(),
                event_id: Some(job.event_id.clone()),
                hook_id: Some(job.hook_id),
                academy: hook(&hooks)?.academy,
            };
            drop(hooks);
            insert_hook_error(txn, error)?;
        }
        AttemptOutcome::Cancelled => {}
    }
    Ok(effect)
}

/// Counts `attempt` in its hook's stats; whether the hook is to be
/// deactivated.
fn update_stats(
    txn: &WriteTransaction,
    hook_id: u64,
    attempt: &Attempt,
    deactivation: Deactivation,
) -> Result<HookEffect, StoreError> {
    if attempt.outcome == AttemptOutcome::Cancelled {
        return Ok(HookEffect::None);
    }
    let mut table = txn.open_table(HOOK_STATS)?;
    let mut stats: HookStats =
        table.get(hook_id)?.map(|bytes| decode("hook stats", bytes.value())).transpose()?.unwrap_or_default();
    stats.total_calls += 1;
    stats.last_call_at = Some(attempt.sent_at);
    stats.last_response_code = attempt.response_status;
    let effect = if attempt.outcome == AttemptOutcome::Succeeded {
        stats.successes += 1;
        stats.consecutive_failures = 0;
        HookEffect::None
    } else {
        stats.consecutive_failures += 1;
        let worn_out = deactivation.after_failures.is_some_and(|limit| stats.consecutive_failures >= limit);
        if deactivation.gone || worn_out { HookEffect::Deactivate } else { HookEffect::None }
    };
    table.insert(hook_id, encode(&stats).as_slice())?;
    Ok(effect)
}

/// What one pruning pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: usize,
    pub attempts: usize,
    pub hook_errors: usize,
}

impl Store {
    /// Deletes events, attempts and hook errors recorded before `cutoff`,
    /// in one transaction. Queued jobs are kept whatever their age: they
    /// still have to be delivered.
    pub fn prune(&self, cutoff: Time) -> Result<Pruned, StoreError> {
        let txn = self.db.begin_write()?;
        let mut pruned = Pruned::default();
        {
            let mut events = txn.open_table(EVENTS)?;
            let old = old_keys(
                &events,
                "event",
                |e: &StoredEvent| e.record.received_at < cutoff,
                |(academy, id): (&str, &str)| (academy.to_owned(), id.to_owned()),
            )?;
            for (academy, id) in &old {
                events.remove((academy.as_str(), id.as_str()))?;
            }
            pruned.events = old.len();

            let mut attempts = txn.open_table(ATTEMPTS)?;
            let old = old_keys(&attempts, "attempt", |a: &Attempt| a.sent_at < cutoff, |k: (u64, u64)| k)?;
            for key in &old {
                attempts.remove(key)?;
            }
            pruned.attempts = old.len();

            let mut errors = txn.open_table(HOOK_ERRORS)?;
            let cutoff_key = (u64::try_from(cutoff.as_second()).unwrap_or(0), 0);
            pruned.hook_errors = errors.extract_from_if(..cutoff_key, |_, _| true)?.count();
        }
        txn.commit()?;
        Ok(pruned)
    }
}

/// Keys of the records of `table` that `is_old`.
fn old_keys<K, R, O>(
    table: &impl ReadableTable<K, &'static [u8]>,
    what: &'static str,
    is_old: impl Fn(&R) -> bool,
    owned: impl Fn(K::SelfType<'_>) -> O,
) -> Result<Vec<O>, StoreError>
where
    K: redb::Key + 'static,
    R: serde::de::DeserializeOwned,
{
    let mut old = Vec::new();
    for entry in table.iter()? {
        let (key, bytes) = entry?;
        if is_old(&decode::<R>(what, bytes.value())?) {
            old.push(owned(key.value()));
        }
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_logs_keep_engine_header_values_and_custom_header_names() {
        let sent = [
            ("Authorization", "Bearer hunter2"),
            ("X-Api-Key", "k"),
            ("content-type", "application/json"),
            ("webhook-id", "msg_1_2"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", "v1,abc"),
        ];
        let logged = log_headers(sent.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())));
        let logged: Vec<(&str, &str)> = logged.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(
            logged,
            [
                ("Authorization", REDACTED),
                ("X-Api-Key", REDACTED),
                ("content-type", "application/json"),
                ("webhook-id", "msg_1_2"),
                ("webhook-timestamp", "1700000000"),
            ]
        );
    }
}
