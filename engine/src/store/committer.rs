//! Group commit: one thread applies every pending write operation in one
//! transaction and one fsync, then answers them all. Concurrent ingests and
//! delivery results share commits, so durability does not cost one fsync
//! per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use redb::WriteTransaction;
use tokio::sync::oneshot;

use super::{Store, StoreError};

/// Most operations one transaction carries.
const MAX_BATCH: usize = 4096;

type Finish = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
type Op = Box<dyn FnOnce(&WriteTransaction) -> Finish + Send>;

/// Counters of what the committer did.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub commits: AtomicU64,
    pub operations: AtomicU64,
}

/// Submits write operations to the commit thread.
#[derive(Clone)]
pub struct Committer {
    sender: mpsc::Sender<Op>,
    stats: Arc<CommitStats>,
}

impl Committer {
    /// Starts the commit thread; it ends when every `Committer` is dropped.
    pub fn start(store: Arc<Store>) -> Committer {
        let (sender, receiver) = mpsc::channel::<Op>();
        let stats = Arc::new(CommitStats::default());
        let counters = stats.clone();
        std::thread::Builder::new()
            .name("wasmhook-commit".into())
            .spawn(move || {
                while let Ok(first) = receiver.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match receiver.try_recv() {
                            Ok(op) => batch.push(op),
                            Err(_) => break,
                        }
                    }
                    counters.commits.fetch_add(1, Ordering::Relaxed);
                    counters.operations.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    apply(&store, batch);
                }
            })
            .expect("spawn the commit thread");
        Committer { sender, stats }
    }

    /// Runs `op` inside the next group transaction and returns its result
    /// once that transaction is durable. `op` must check before it writes:
    /// its writes are committed even if it returns an error.
    pub async fn commit<R, F>(&self, op: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<R, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let op: Op = Box::new(move |txn| {
            let result = op(txn);
            Box::new(move |committed: Result<(), &StoreError>| {
                let _ = done.send(committed.map_err(Clone::clone).and(result));
            })
        });
        let closed = || StoreError::Storage("the commit thread has stopped".into());
        self.sender.send(op).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Waits until every operation submitted before this call is committed
    /// (or has failed): the commit thread applies them in order.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.commit(|_| Ok(())).await
    }

    pub fn stats(&self) -> &CommitStats {
        &self.stats
    }
}

fn apply(store: &Store, batch: Vec<Op>) {
    let txn = match store.db.begin_write() {
        Ok(txn) => txn,
        Err(error) => {
            // Dropping the operations answers each with an error.
            tracing::error!(error = %StoreError::from(error), operations = batch.len(), "cannot begin a write transaction");
            return;
        }
    };
    let finishers: Vec<Finish> = batch.into_iter().map(|op| op(&txn)).collect();
    let committed = txn.commit().map_err(StoreError::from);
    if let Err(error) = &committed {
        tracing::error!(%error, "group commit failed");
    }
    for finish in finishers {
        finish(committed.as_ref().map(|_| ()));
    }
}
