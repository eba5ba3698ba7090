//! Which backend keeps the engine's data, and each backend's section: the
//! store's part of the configuration (`store`, `[redb]`, `[postgres]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secrets::Secret;
use crate::units::{duration, format_duration};

/// Which backend keeps the engine's data (the `store` key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// One embedded file in the data directory: one engine.
    #[default]
    Redb,
    /// A PostgreSQL database (`[postgres]`), which several engines can
    /// share.
    Postgres,
}

/// The `[redb]` settings section, read when `store = "redb"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedbSettings {
    /// How long a group commit waits, from the first write it carries,
    /// for others to share it, while they keep coming (a quarter of it
    /// without one ends the wait; `redb/committer.rs` has the
    /// measurements). When writes queue up behind a commit, their wait is
    /// over by the time the next one starts: only a lightly loaded engine
    /// waits.
    #[serde(with = "duration")]
    pub commit_delay: Duration,
}

impl Default for RedbSettings {
    fn default() -> Self {
        RedbSettings { commit_delay: Duration::from_millis(2) }
    }
}

impl RedbSettings {
    /// The longest `commit_delay`: every write may wait that long.
    const MAX_COMMIT_DELAY: Duration = Duration::from_secs(1);

    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if self.commit_delay > Self::MAX_COMMIT_DELAY {
            let max = format_duration(Self::MAX_COMMIT_DELAY);
            return Err(format!("must be at most {max} (every write may wait that long)"));
        }
        Ok(())
    }
}

/// The `[postgres]` settings section, read when `store = "postgres"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PostgresSettings {
    /// `postgres://user:password@host:port/database`. Never printed.
    pub url: Option<Secret>,
    /// Connections the engine keeps open to the database, at most.
    pub pool_size: usize,
    /// How long one statement may run before the server cancels it.
    #[serde(with = "duration")]
    pub statement_timeout: Duration,
    /// How long a job claimed by an engine stays its own without being
    /// renewed: the engine renews its claims every third of it while their
    /// attempts run, and once it is over, an engine that died has its jobs
    /// taken by the others.
    #[serde(with = "duration")]
    pub lease: Duration,
}

impl Default for PostgresSettings {
    /// A pool the size of the delivery workers' default concurrency (64)
    /// would mostly wait on the server's own limit of 100 connections,
    /// shared by every engine; 16 is what a group commit per call needs on
    /// a few cores.
    fn default() -> Self {
        PostgresSettings {
            url: None,
            pool_size: 16,
            statement_timeout: Duration::from_secs(30),
            lease: Duration::from_secs(30),
        }
    }
}

impl PostgresSettings {
    /// What the types alone do not check. Whether `url` is set is checked
    /// when the store opens: the file may name the backend before it.
    pub fn check(&self) -> Result<(), String> {
        if self.pool_size == 0 {
            return Err("must be at least 1".into());
        }
        if self.statement_timeout.is_zero() {
            return Err("must be longer than 0 ms".into());
        }
        // Renewed every third: shorter, a renewal would hardly be made in
        // time under a slow database.
        if self.lease < Duration::from_secs(3) {
            return Err("must be at least 3s".into());
        }
        if self.url.as_ref().is_some_and(|url| url.expose().is_empty()) {
            return Err("must not be empty (leave it out instead)".into());
        }
        Ok(())
    }
}
