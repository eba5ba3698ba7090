//! Which backend keeps the engine's data, and the PostgreSQL section: the
//! store's part of the configuration (`store`, `[postgres]`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secrets::Secret;
use crate::units::duration;

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
