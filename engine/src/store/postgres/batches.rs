//! What the two writers that commit in groups share — the attempts'
//! recorder (`recorder.rs`) and the ingests' writers (`ingests.rs`):
//! callers hand in a request and wait for its answer; a writer takes every
//! request waiting, writes them in one transaction, and answers each, or
//! all of them the batch's error.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc, oneshot};

use super::super::{StoreError, Unavailable};

type Request<T, A> = (T, oneshot::Sender<Result<A, StoreError>>);

/// The callers' side: requests `T`, each answered `A`.
pub(super) struct Batches<T, A> {
    sender: mpsc::UnboundedSender<Request<T, A>>,
}

/// The writers' side: the requests waiting, taken by one writer at a time
/// (another may be writing the batch it took meanwhile).
pub(super) struct Taker<T, A> {
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Request<T, A>>>>,
    max: usize,
}

impl<T, A> Clone for Taker<T, A> {
    fn clone(&self) -> Self {
        Taker { receiver: self.receiver.clone(), max: self.max }
    }
}

/// The waiters of a batch taken, in the order of its requests.
pub(super) struct Answers<A>(Vec<oneshot::Sender<Result<A, StoreError>>>);

/// A queue of requests for writers taking up to `max` at a time.
pub(super) fn channel<T, A>(max: usize) -> (Batches<T, A>, Taker<T, A>) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (Batches { sender }, Taker { receiver: Arc::new(Mutex::new(receiver)), max })
}

impl<T, A> Batches<T, A> {
    /// Hands `request` to the writers; its answer, once its batch is
    /// committed.
    pub(super) async fn submit(&self, request: T) -> Result<A, StoreError> {
        let (answer, answered) = oneshot::channel();
        let closed = || StoreError::from(Unavailable::Closed);
        self.sender.send((request, answer)).map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }
}

impl<T, A> Taker<T, A> {
    /// Every request waiting, up to `max` (waiting for one); `None` once the
    /// callers' side is dropped and nothing waits.
    pub(super) async fn take(&self) -> Option<(Vec<T>, Answers<A>)> {
        let mut waiting = Vec::with_capacity(self.max);
        if self.receiver.lock().await.recv_many(&mut waiting, self.max).await == 0 {
            return None;
        }
        let (batch, answers) = waiting.into_iter().unzip();
        Some((batch, Answers(answers)))
    }
}

impl<A> Answers<A> {
    /// Answers each request what `written` says of it, or every one its
    /// error; `what` the requests are, for the log.
    pub(super) fn send(self, written: Result<Vec<A>, StoreError>, location: &str, what: &'static str) {
        let size = self.0.len();
        match written {
            Ok(answers) => {
                tracing::trace!(store = %location, what, size, "batch written");
                for (waiter, answer) in self.0.into_iter().zip(answers) {
                    let _ = waiter.send(Ok(answer));
                }
            }
            Err(error) => {
                tracing::warn!(store = %location, what, size, %error, "batch not written");
                for waiter in self.0 {
                    let _ = waiter.send(Err(error.clone()));
                }
            }
        }
    }
}
