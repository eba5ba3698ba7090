//! The idempotency judgement every backend's `record_ingest` starts with,
//! inside its write: each item whose client id is stored already is asked
//! of the judge (`ingest/idempotency.rs`), before anything is written.

use crate::model::{EventRecord, IdConflict, IngestItem, Seen, Sha256, StoredEvent};

/// Judges the items of an ingest before anything is written: each item
/// whose client id is `stored` already is asked of `judge`. `Ok` an item to
/// write, `Err` the stored record a known one answers; or the conflict that
/// refuses the whole request. Every backend's `record_ingest` starts here.
pub(super) fn judge_items<E>(
    items: Vec<IngestItem>,
    judge: impl Fn(Option<StoredEvent>, &Sha256) -> Seen,
    mut stored: impl FnMut(&str, &str) -> Result<Option<StoredEvent>, E>,
) -> Result<Result<Vec<Result<IngestItem, EventRecord>>, IdConflict>, E> {
    let mut checked = Vec::with_capacity(items.len());
    for item in items {
        let Some(content) = &item.content else {
            checked.push(Ok(item));
            continue;
        };
        let top = &item.events[0].0.record;
        match judge(stored(&top.academy, &top.id)?, content) {
            Seen::New => checked.push(Ok(item)),
            Seen::Known(record) => checked.push(Err(record)),
            Seen::Conflict => {
                let (academy, id) = (top.academy.clone(), top.id.clone());
                return Ok(Err(IdConflict { index: item.index, academy, id }));
            }
        }
    }
    Ok(Ok(checked))
}
