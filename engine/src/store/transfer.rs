//! A store's setup and queue as one file: `wasmhook store export` and
//! `import`, the way a single node moves to PostgreSQL (issue 12) without
//! losing its hooks, tokens, catalogue additions, plugins or pending
//! deliveries.
//!
//! The file is JSON lines, in an order an import writes as it reads, so
//! neither side holds a large queue in memory: a header, the components
//! (plugin versions' and transformers' bytes, each once), tokens,
//! catalogue additions, plugin versions and limits, hooks with their
//! stats, then each payload once, before the first job that delivers it,
//! and a trailer with the counts, so a file cut short is refused.
//!
//! What keeps working after a move: hooks keep their ids (queued jobs and
//! `webhook-id`s name them), tokens their ids and hashes (the tokens
//! clients hold), jobs their ids, due times and attempts made. Hooks'
//! secrets are written in the clear (the importing store seals them with
//! its own keys), so the CLI creates the file readable by its owner only.
//! Not carried: the delivery log, hook errors, idempotency records and
//! parked events, which retention drops anyway.

use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::model::{EventSpec, Hook, HookStats, Job, PayloadId, PluginLimits, PluginVersion, Sha256, TokenRecord};
use crate::time::Time;

/// The version of the file's layout; an import refuses another.
pub const FORMAT: u32 = 1;

/// Jobs read from a store per call while exporting.
const PAGE: usize = 1_000;

/// One line of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Header {
        format: u32,
        from: String,
        exported_at: Time,
    },
    Component {
        sha256: String,
        bytes: Base64,
    },
    /// `sha256` is the token's, which requests are matched by.
    Token {
        sha256: Sha256,
        token: TokenRecord,
    },
    CatalogEvent {
        spec: EventSpec,
    },
    PluginVersion {
        version: PluginVersion,
    },
    PluginLimits {
        limits: PluginLimits,
    },
    Hook {
        hook: Box<Hook>,
        stats: HookStats,
    },
    Payload {
        id: PayloadId,
        body: String,
    },
    Job {
        job: Job<PayloadId>,
    },
    End {
        counts: Counts,
    },
}

/// How many records of each kind a file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub components: u64,
    pub tokens: u64,
    pub catalog_events: u64,
    pub plugin_versions: u64,
    pub plugin_limits: u64,
    pub hooks: u64,
    pub payloads: u64,
    pub jobs: u64,
}

impl Counts {
    /// Counts `record` (the header and the trailer count nothing).
    pub fn add(&mut self, record: &Record) {
        let count = match record {
            Record::Header { .. } | Record::End { .. } => return,
            Record::Component { .. } => &mut self.components,
            Record::Token { .. } => &mut self.tokens,
            Record::CatalogEvent { .. } => &mut self.catalog_events,
            Record::PluginVersion { .. } => &mut self.plugin_versions,
            Record::PluginLimits { .. } => &mut self.plugin_limits,
            Record::Hook { .. } => &mut self.hooks,
            Record::Payload { .. } => &mut self.payloads,
            Record::Job { .. } => &mut self.jobs,
        };
        *count += 1;
    }
}

/// Why an export or an import failed. An import writes in one transaction:
/// after a failure the store holds nothing of the file.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[source] std::io::Error),
    #[error("cannot read the export: {0}")]
    Read(#[source] std::io::Error),
    #[error("line {line} of the export: {source}")]
    Format { line: u64, source: serde_json::Error },
    #[error("line {line} of the export: {message}")]
    Layout { line: u64, message: String },
    #[error("the export ends at line {line} without its trailer: it was cut short")]
    Truncated { line: u64 },
    #[error("the store is not empty ({holds}): an import needs a new database")]
    NotEmpty { holds: String },
    #[error("the {store} store does not import (the way up is into PostgreSQL)")]
    Unsupported { store: &'static str },
}

/// Writes everything `store` holds that the file carries to `out`; what it
/// wrote. Meant for a store no engine writes to meanwhile (a stopped node:
/// redb's lock makes sure of it).
pub async fn export(store: &dyn Store, from: &str, out: &mut dyn Write) -> Result<Counts, TransferError> {
    let mut file = Writer { out, counts: Counts::default() };
    file.write(&Record::Header { format: FORMAT, from: from.to_owned(), exported_at: Time::now() })?;

    let (versions, hooks) = (store.plugin_versions().await?, store.hooks(&crate::model::Scope::All));
    let used = versions
        .iter()
        .map(|v| &v.sha256)
        .chain(hooks.iter().filter_map(|h| h.transformer.as_ref().map(|t| &t.sha256)));
    for sha256 in used.collect::<BTreeSet<&String>>() {
        let bytes = store.plugin_blob(sha256).await?.ok_or_else(|| StoreError::Corrupt {
            what: "component",
            message: format!("component {sha256} is used but not stored"),
        })?;
        file.write(&Record::Component { sha256: sha256.clone(), bytes: Base64(bytes) })?;
    }
    for (hash, token) in store.tokens_with_hashes().await? {
        file.write(&Record::Token { sha256: Sha256(hash), token })?;
    }
    for spec in store.catalog_additions().await? {
        file.write(&Record::CatalogEvent { spec })?;
    }
    for version in versions {
        file.write(&Record::PluginVersion { version })?;
    }
    for limits in store.plugin_limits().await? {
        file.write(&Record::PluginLimits { limits })?;
    }
    for hook in hooks {
        let stats = store.hook_stats(hook.id).await?;
        file.write(&Record::Hook { hook: Box::new(hook), stats })?;
    }

    let (mut after, mut written) = (None, HashSet::new());
    loop {
        let page = store.queued_jobs(after.as_ref(), PAGE).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.clone());
        for job in page {
            let payload = job.payload.clone();
            if written.insert(payload.id()) {
                file.write(&Record::Payload { id: payload.id(), body: payload.body().to_owned() })?;
            }
            file.write(&Record::Job { job: job.with_payload(payload.id()) })?;
        }
    }
    let counts = file.counts;
    file.write(&Record::End { counts })?;
    file.out.flush().map_err(TransferError::Write)?;
    Ok(counts)
}

/// Lines written, counted.
struct Writer<'a> {
    out: &'a mut dyn Write,
    counts: Counts,
}

impl Writer<'_> {
    fn write(&mut self, record: &Record) -> Result<(), TransferError> {
        let line = serde_json::to_string(record).map_err(|e| TransferError::Write(e.into()))?;
        writeln!(self.out, "{line}").map_err(TransferError::Write)?;
        self.counts.add(record);
        Ok(())
    }
}

/// The records of an export, checked as they are read: a header of this
/// format first, a trailer last whose counts match what came before it,
/// nothing after it.
pub struct Reader<R> {
    lines: std::io::Lines<R>,
    line: u64,
    counts: Counts,
    ended: bool,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader { lines: input.lines(), line: 0, counts: Counts::default(), ended: false }
    }

    /// What the records read so far hold.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    fn layout(&self, message: impl Into<String>) -> TransferError {
        TransferError::Layout { line: self.line, message: message.into() }
    }

    /// The next record; `None` after the trailer.
    fn read(&mut self) -> Result<Option<Record>, TransferError> {
        let Some(text) = self.lines.next().transpose().map_err(TransferError::Read)? else {
            return if self.ended { Ok(None) } else { Err(TransferError::Truncated { line: self.line }) };
        };
        self.line += 1;
        if self.ended {
            return Err(self.layout("a record after the trailer"));
        }
        let record: Record =
            serde_json::from_str(&text).map_err(|source| TransferError::Format { line: self.line, source })?;
        match (&record, self.line) {
            (Record::Header { format, .. }, 1) if *format == FORMAT => {}
            (Record::Header { format, .. }, 1) => {
                return Err(self.layout(format!("format {format}, this binary reads format {FORMAT}")));
            }
            (_, 1) => return Err(self.layout("not a wasmhook export (no header)")),
            (Record::Header { .. }, _) => return Err(self.layout("a second header")),
            (Record::End { counts }, _) if *counts != self.counts => {
                return Err(self.layout(format!("the trailer counts {counts:?}, the file holds {:?}", self.counts)));
            }
            (Record::End { .. }, _) => self.ended = true,
            (Record::Component { sha256, bytes }, _) if hex::encode(Sha256::of(&bytes.0).0) != *sha256 => {
                return Err(self.layout(format!("component {sha256}: its bytes have another sha256")));
            }
            _ => self.counts.add(&record),
        }
        Ok(Some(record))
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, TransferError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read().transpose()
    }
}

/// Bytes, as base64 in the file.
#[derive(Clone, PartialEq, Eq)]
pub struct Base64(pub Vec<u8>);

impl std::fmt::Debug for Base64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0.len())
    }
}

impl Serialize for Base64 {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        STANDARD.decode(text.as_bytes()).map(Base64).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(record: &Record) -> String {
        serde_json::to_string(record).unwrap() + "\n"
    }

    fn header() -> String {
        line(&Record::Header { format: FORMAT, from: "test".into(), exported_at: Time::from_second(0) })
    }

    fn component(bytes: &[u8], sha256: &str) -> String {
        line(&Record::Component { sha256: sha256.into(), bytes: Base64(bytes.to_vec()) })
    }

    fn end(counts: Counts) -> String {
        line(&Record::End { counts })
    }

    /// The error reading `file` ends with.
    fn error(file: &str) -> String {
        Reader::new(file.as_bytes()).find_map(Result::err).map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_file_is_read_only_whole_and_as_written() {
        let sha256 = hex::encode(Sha256::of(b"bytes").0);
        let one = Counts { components: 1, ..Counts::default() };
        let whole = header() + &component(b"bytes", &sha256) + &end(one);
        let records: Vec<Record> = Reader::new(whole.as_bytes()).collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 3);
        assert!(matches!(&records[1], Record::Component { bytes, .. } if bytes.0 == b"bytes"));

        assert_eq!(error(""), "the export ends at line 0 without its trailer: it was cut short");
        let cut = header() + &component(b"bytes", &sha256);
        assert_eq!(error(&cut), "the export ends at line 2 without its trailer: it was cut short");
        assert!(error(&(component(b"bytes", &sha256) + &end(one))).contains("line 1 of the export: not a wasmhook"));
        let newer =
            line(&Record::Header { format: FORMAT + 1, from: "test".into(), exported_at: Time::from_second(0) });
        assert!(error(&newer).contains("format 2, this binary reads format 1"));
        let miscounted = header() + &component(b"bytes", &sha256) + &end(Counts::default());
        assert!(error(&miscounted).contains("line 3 of the export: the trailer counts"), "{}", error(&miscounted));
        let after = whole.clone() + &end(one);
        assert_eq!(error(&after), "line 4 of the export: a record after the trailer");
        let altered = header() + &component(b"other", &sha256) + &end(one);
        assert!(error(&altered).contains("its bytes have another sha256"));
        let garbled = header() + "{\"record\": \"job\"}\n";
        assert!(error(&garbled).starts_with("line 2 of the export: missing field"), "{}", error(&garbled));
    }
}
