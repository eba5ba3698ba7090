//! One accepted connection, with the deadlines that close it when the
//! client stalls *outside* a request: the request head must arrive within
//! the header timeout (counted from the head's first byte, or from the
//! accept for a new connection), and a kept-alive connection may sit idle
//! between requests for the keep-alive timeout. hyper has a header-read
//! timeout of its own, but it starts as soon as a connection is idle, so it
//! cannot tell an idle connection from a trickled head; this stream sees
//! both the bytes arriving and the requests being served (through
//! [`Activity`], which the body middleware updates), and so can.
//!
//! A deadline that passes makes the next read fail with `TimedOut`: hyper
//! then drops the connection, which releases its slot under the cap.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::Timeouts;
use crate::metrics::{self, HttpTimeout};

/// The requests a connection has started and finished serving, shared by
/// its stream (which reads it) and the middleware (which counts them).
#[derive(Debug, Default)]
pub struct Activity {
    started: AtomicU64,
    finished: AtomicU64,
}

impl Activity {
    /// A request reached the API; it is finished when the guard drops (its
    /// answer is ready, or it was abandoned).
    pub fn serving(self: &Arc<Self>) -> Serving {
        self.started.fetch_add(1, Ordering::AcqRel);
        Serving(self.clone())
    }

    /// The requests started so far, if none is being served now.
    fn between_requests(&self) -> Option<u64> {
        let finished = self.finished.load(Ordering::Acquire);
        let started = self.started.load(Ordering::Acquire);
        (started == finished).then_some(started)
    }
}

/// A request being served; see [`Activity::serving`].
#[derive(Debug)]
pub struct Serving(Arc<Activity>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// Where the connection is between requests, and so which deadline holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the rest of a request head, due by `deadline`.
    Head { deadline: Instant },
    /// A request is being served: its body has its own deadline, and the
    /// engine's own work is not the client's stall.
    Busy,
    /// Kept alive between requests, until `deadline`.
    Idle { deadline: Instant },
}

/// An accepted TCP connection under the header and keep-alive deadlines,
/// holding its slot under the connection cap until it is dropped.
#[derive(Debug)]
pub struct Connection {
    stream: TcpStream,
    activity: Arc<Activity>,
    timeouts: Timeouts,
    phase: Phase,
    /// The requests started when the phase was last brought up to date: one
    /// more means a head arrived (and was answered) since.
    seen: u64,
    /// Set to the current deadline when a read has to wait.
    timer: Pin<Box<Sleep>>,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    pub(super) fn new(stream: TcpStream, timeouts: Timeouts, slot: OwnedSemaphorePermit) -> Connection {
        let deadline = Instant::now() + timeouts.header;
        metrics::http_connection_opened();
        Connection {
            stream,
            activity: Arc::default(),
            timeouts,
            phase: Phase::Head { deadline },
            seen: 0,
            timer: Box::pin(tokio::time::sleep_until(deadline)),
            _slot: slot,
        }
    }

    /// What the middleware updates for this connection.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// The phase, brought up to date with the requests served since the
    /// last read.
    fn observe(&mut self) {
        let Some(started) = self.activity.between_requests() else {
            self.phase = Phase::Busy;
            return;
        };
        if self.phase == Phase::Busy || started != self.seen {
            self.phase = Phase::Idle { deadline: Instant::now() + self.timeouts.keep_alive };
        }
        self.seen = started;
    }

    /// Bytes arrived: on an idle connection, they start the next head.
    fn received(&mut self) {
        if let Phase::Idle { .. } = self.phase {
            self.phase = Phase::Head { deadline: Instant::now() + self.timeouts.header };
        }
    }

    /// A read has to wait: pending until the phase's deadline, then
    /// `TimedOut`.
    fn wait(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (deadline, timeout) = match self.phase {
            Phase::Busy => return Poll::Pending,
            Phase::Head { deadline } => (deadline, HttpTimeout::Header),
            Phase::Idle { deadline } => (deadline, HttpTimeout::Idle),
        };
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        ready!(self.timer.as_mut().poll(cx));
        metrics::http_timeout(timeout);
        let peer = self.stream.peer_addr().ok();
        tracing::debug!(?peer, timeout = timeout.label(), "connection closed: the client stalled");
        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, timeout.label())))
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        metrics::http_connection_closed();
    }
}

impl AsyncRead for Connection {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.observe();
        let filled = buf.filled().len();
        match Pin::new(&mut this.stream).poll_read(cx, buf) {
            Poll::Pending => this.wait(cx),
            Poll::Ready(Ok(())) if buf.filled().len() > filled => {
                this.received();
                Poll::Ready(Ok(()))
            }
            ready => ready,
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}
