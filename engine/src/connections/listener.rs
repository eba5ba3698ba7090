//! The API's listener: at most `max_connections` connections at once, each
//! under its deadlines ([`Connection`]). At the cap the listener stops
//! accepting, so new connections wait in the kernel's listen backlog (as
//! nginx does when its `worker_connections` are taken) and are served, in
//! order, as soon as a slot frees: with the timeouts, a stalled client holds
//! one for a bounded time. Refusing them instead would turn every client
//! away during a slow-client attack.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::Timeouts;
use super::stream::{Activity, Connection};
use crate::metrics;

/// How long accepting pauses after an error other than a failed handshake
/// (out of file descriptors, most likely: connections closing make room).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// A TCP listener that caps and guards its connections.
#[derive(Debug)]
pub struct CappedListener {
    listener: TcpListener,
    slots: Arc<Semaphore>,
    timeouts: Timeouts,
    /// Whether every slot was taken at the last accept: logged once per
    /// stretch at the cap, counted each time.
    at_cap: bool,
}

impl CappedListener {
    pub(super) fn new(listener: TcpListener, max_connections: usize, timeouts: Timeouts) -> CappedListener {
        metrics::http_connection_limit(max_connections);
        CappedListener { listener, slots: Arc::new(Semaphore::new(max_connections)), timeouts, at_cap: false }
    }
}

impl Listener for CappedListener {
    type Io = Connection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Connection, SocketAddr) {
        let slot = match self.slots.clone().try_acquire_owned() {
            Ok(slot) => {
                self.at_cap = false;
                slot
            }
            Err(_) => {
                metrics::http_connections_at_cap();
                if !self.at_cap {
                    tracing::warn!("every connection slot is taken: new connections wait in the listen backlog");
                }
                self.at_cap = true;
                self.slots.clone().acquire_owned().await.expect("the semaphore is never closed")
            }
        };
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => return (Connection::new(stream, self.timeouts, slot), peer),
                Err(error) if is_handshake_error(&error) => {}
                Err(error) => {
                    tracing::error!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

/// A connection that failed before it was accepted: nothing to wait for.
fn is_handshake_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// Each request's handle on its connection's [`Activity`] (axum's
/// `ConnectInfo`), for the middleware.
#[derive(Debug, Clone)]
pub struct ConnectionActivity(pub Arc<Activity>);

impl Connected<IncomingStream<'_, CappedListener>> for ConnectionActivity {
    fn connect_info(stream: IncomingStream<'_, CappedListener>) -> Self {
        ConnectionActivity(stream.io().activity())
    }
}
