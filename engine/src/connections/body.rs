//! The request-side middleware of every API request: it marks the request
//! as being served on its connection (so the connection's header and idle
//! deadlines pause, see [`super::stream`]), and gives the request body a
//! deadline of its own: the whole body must arrive within the body timeout
//! of the head, or the request is answered 408 and the connection closed.
//! A per-read timeout (nginx's) would let a client trickle one byte at a
//! time forever; a whole-body deadline does not.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use super::listener::ConnectionActivity;
use crate::metrics::{self, HttpTimeout};

/// How long a request's body may take to arrive, and the 408 answered when
/// it does not: the transport's caller (the API) owns the error format, so
/// this layer does not depend on it.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout {
    pub timeout: Duration,
    /// The answer to a body late by `timeout`; its `Connection: close` is
    /// added here.
    pub late: fn(Duration) -> Response,
}

/// Middleware: see the module's documentation.
pub async fn guard(
    State(BodyTimeout { timeout, late: answer }): State<BodyTimeout>,
    request: Request,
    next: Next,
) -> Response {
    let _serving = request.extensions().get::<ConnectInfo<ConnectionActivity>>().map(|info| info.0.0.serving());
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let late = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(DeadlineBody { body, deadline: Instant::now() + timeout, timer: None, late: late.clone() })
    });
    let response = next.run(request).await;
    if !late.load(Ordering::Acquire) {
        return response;
    }
    metrics::http_timeout(HttpTimeout::Body);
    let mut response = answer(timeout);
    // The rest of the body may still come: the connection cannot be reused.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that fails once its deadline passes, and says so in
/// `late` (the handler turns the failure into whatever error it reports:
/// the middleware answers 408 instead).
struct DeadlineBody {
    body: Body,
    deadline: Instant,
    /// Made when the body first has to wait: most bodies arrive with their
    /// head and never need one.
    timer: Option<Pin<Box<Sleep>>>,
    late: Arc<AtomicBool>,
}

/// The error a late body fails with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct LateBody;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.body).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.late.store(true, Ordering::Release);
        Poll::Ready(Some(Err(axum::Error::new(LateBody))))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
