//! Group commit: one thread applies every pending write operation in one
//! transaction and one fsync, then answers them all. Concurrent ingests and
//! delivery results share commits, so durability does not cost one fsync
//! per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

use redb::WriteTransaction;
use tokio::sync::oneshot;

use super::group_tables::GroupTables;
use super::payloads::Uses;
use super::queue::QueueWriter;
use super::{RedbStore, StoreError, Unavailable};

/// Most operations one transaction carries.
const MAX_BATCH: usize = 4096;

type Finish = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;
/// An operation runs inside the group transaction and hands back how to
/// answer once the commit is known, with the storage failure it met, if
/// any; without a transaction it is answered the error at once.
type Op = Box<dyn FnOnce(Result<&mut Batch<'_>, &StoreError>) -> (Finish, Option<Unavailable>) + Send>;

/// What the operations of one group transaction share: the transaction,
/// the queue's tables and the records' (`group_tables.rs`), each opened
/// once for all of them, and the changes of payload uses, applied once
/// before the commit (a job recorded in the commit that queued it nets
/// out). Each operation opening and applying its own cost five table opens
/// and a map per operation, on the one thread every write waits for.
pub(super) struct Batch<'txn> {
    pub txn: &'txn WriteTransaction,
    pub queue: QueueWriter<'txn>,
    pub tables: GroupTables<'txn>,
    pub uses: Uses,
}

/// Counters of what the committer did.
#[derive(Debug, Default)]
pub struct CommitStats {
    pub commits: AtomicU64,
    pub operations: AtomicU64,
}

/// Submits write operations to the commit thread.
#[derive(Clone)]
pub struct Committer {
    /// `None` asks the thread to stop once what came before is committed.
    sender: mpsc::Sender<Option<Op>>,
    stats: Arc<CommitStats>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Committer {
    /// Starts the commit thread; it ends at [`Committer::close`] or when
    /// every `Committer` is dropped.
    pub fn start(store: Arc<RedbStore>) -> Committer {
        let (sender, receiver) = mpsc::channel::<Option<Op>>();
        let stats = Arc::new(CommitStats::default());
        let counters = stats.clone();
        let thread = std::thread::Builder::new()
            .name("wasmhook-commit".into())
            .spawn(move || {
                while let Ok(Some(first)) = receiver.recv() {
                    let mut batch = vec![first];
                    let mut closing = false;
                    while batch.len() < MAX_BATCH {
                        match receiver.try_recv() {
                            Ok(Some(op)) => batch.push(op),
                            Ok(None) => {
                                closing = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    counters.commits.fetch_add(1, Ordering::Relaxed);
                    counters.operations.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    apply(&store, batch);
                    if closing {
                        break;
                    }
                }
            })
            .expect("spawn the commit thread");
        Committer { sender, stats, thread: Arc::new(Mutex::new(Some(thread))) }
    }

    /// Commits what was submitted, stops the commit thread and waits until
    /// it has let go of the store, so the file can be closed cleanly.
    /// Operations submitted afterwards are answered that the store is
    /// closed.
    pub fn close(&self) {
        let _ = self.sender.send(None);
        let thread = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Runs `op` inside the next group transaction and returns its result
    /// once that transaction is durable. `op` must check before it writes:
    /// its writes are committed even if it returns an error (but for a
    /// storage failure, which gives up the whole transaction).
    pub(super) async fn commit<R, F>(&self, op: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Batch<'_>) -> Result<R, StoreError> + Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let op: Op = Box::new(move |batch| {
            let result = match batch {
                Ok(batch) => op(batch),
                Err(error) => Err(error.clone()),
            };
            let failed = match &result {
                Err(StoreError::Unavailable(why @ Unavailable::Io(_))) => Some(why.clone()),
                _ => None,
            };
            let finish: Finish = Box::new(move |committed: Result<(), &StoreError>| {
                let _ = done.send(committed.map_err(Clone::clone).and(result));
            });
            (finish, failed)
        });
        // Only at shutdown: the store is closing.
        let closed = || StoreError::from(Unavailable::Closed);
        self.sender.send(Some(op)).map_err(|_| closed())?;
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

/// One group transaction. When the storage fails under one operation, the
/// whole transaction is given up (redb has poisoned it anyway) and every
/// operation is answered that failure: none is half-written, and none is
/// acknowledged.
fn apply(store: &RedbStore, ops: Vec<Op>) {
    let txn = match store.db.begin_write() {
        Ok(txn) => txn,
        Err(error) => return refuse(ops, &error),
    };
    let (finishers, counted) = {
        let mut batch = match QueueWriter::open(&txn) {
            Ok(queue) => Batch { txn: &txn, queue, tables: GroupTables::new(&txn), uses: Uses::default() },
            Err(error) => return refuse(ops, &error),
        };
        let mut finishers: Vec<Finish> = Vec::with_capacity(ops.len());
        let mut failed = None;
        for op in ops {
            let (finish, unavailable) = op(Ok(&mut batch));
            finishers.push(finish);
            failed = failed.or(unavailable);
        }
        // Every table is closed before the commit.
        let Batch { queue, tables, uses, .. } = batch;
        drop((queue, tables));
        // Without its payload counts the transaction would leave bodies
        // unreferenced or delete one still used: it is given up whole.
        let counted = match failed {
            Some(why) => Err(StoreError::from(why)),
            None => uses.apply(&txn),
        };
        (finishers, counted)
    };
    let committed = match counted {
        Ok(()) => txn.commit(),
        Err(error) => {
            match error.unavailable() {
                Some(why) => txn.abort(why),
                None => drop(txn),
            }
            Err(error)
        }
    };
    if let Err(error) = &committed {
        log_failure(error, finishers.len());
    }
    for finish in finishers {
        finish(committed.as_ref().map(|_| ()));
    }
}

/// Answers every operation `error`: there is no transaction to run them in.
fn refuse(ops: Vec<Op>, error: &StoreError) {
    log_failure(error, ops.len());
    for op in ops {
        let (finish, _) = op(Err(error));
        finish(Err(error));
    }
}

/// An outage is logged once, when it starts (see `health.rs`); each failed
/// commit during it is only a debug line.
fn log_failure(error: &StoreError, operations: usize) {
    match error {
        StoreError::Unavailable(_) => tracing::debug!(%error, operations, "group commit refused"),
        _ => tracing::error!(%error, operations, "group commit failed"),
    }
}
