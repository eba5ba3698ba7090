//! The API's connections, guarded against clients that hold them without
//! finishing a request (slowloris): a new connection's first request head
//! and every later head must arrive within `http.header_timeout`, a
//! kept-alive connection may stay idle for `http.keepalive_timeout`, a
//! request body must arrive within `http.body_timeout` (else 408), and at
//! most `http.max_connections` are open at once, a cap sized under the
//! open-files limit, which is raised at start. `axum::serve` still runs the
//! connections, keep-alive and the graceful shutdown.

mod body;
mod listener;
mod open_files;
mod stream;

use std::time::Duration;

use tokio::net::TcpListener;

pub use body::{BodyTimeout, guard};
pub use listener::{CappedListener, ConnectionActivity};

use serde::{Deserialize, Serialize};

use crate::units::duration;

/// The `[http]` settings section: the API's connections, guarded against
/// clients that stall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// How long a request head may take, from its first byte (from the
    /// accept, for a connection's first request).
    #[serde(with = "duration")]
    pub header_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    #[serde(with = "duration")]
    pub keepalive_timeout: Duration,
    /// How long a request body may take, from its head (then 408).
    #[serde(with = "duration")]
    pub body_timeout: Duration,
    /// Connections open at once, at most; lowered at start to fit the
    /// open-files limit.
    pub max_connections: usize,
}

impl Default for Http {
    /// nginx's keep-alive (75 s) and body (60 s) timeouts; a header timeout
    /// shorter than its 60 s, as a head comes in a packet or two; a cap of
    /// a few thousand connections, which a raised open-files limit allows.
    fn default() -> Self {
        Http {
            header_timeout: Duration::from_secs(20),
            keepalive_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

impl Http {
    /// What the types alone do not check.
    pub fn check(&self) -> Result<(), String> {
        if [self.header_timeout, self.keepalive_timeout, self.body_timeout].iter().any(Duration::is_zero) {
            return Err("must be longer than 0 ms".into());
        }
        if self.max_connections == 0 {
            return Err("must be at least 1".into());
        }
        Ok(())
    }
}

/// The deadlines a connection enforces itself (the body's is the
/// middleware's).
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    header: Duration,
    keep_alive: Duration,
}

/// `listener` under `settings`, after raising the open-files limit and
/// sizing the connection cap under it (both logged).
pub fn guarded(listener: TcpListener, settings: &Http, delivery_concurrency: usize) -> CappedListener {
    let files = open_files::raise();
    let cap = open_files::connection_cap(settings.max_connections, files.now, delivery_concurrency);
    tracing::info!(
        open_files_before = files.before,
        open_files = files.now,
        max_connections = cap,
        "open-files limit and connection cap"
    );
    if cap < settings.max_connections {
        tracing::warn!(
            open_files = files.now,
            max_connections = cap,
            wanted = settings.max_connections,
            "the open-files limit leaves room for fewer connections than http.max_connections: raise the hard limit (LimitNOFILE=, ulimit -Hn)"
        );
    }
    let timeouts = Timeouts { header: settings.header_timeout, keep_alive: settings.keepalive_timeout };
    CappedListener::new(listener, cap, timeouts)
}
