//! Group commit: one thread applies every pending write operation in one
//! transaction and one fsync, then answers them all. Concurrent ingests and
//! delivery results share commits, so durability does not cost one fsync
//! per request.
//!
//! A commit waits for company: up to `redb.commit_delay` (2 ms by default)
//! after its first operation was submitted, while operations keep coming (a
//! quarter of the delay without one ends the wait). Under load the
//! operations have waited behind the previous commit longer than the delay,
//! and nothing waits more. A lightly loaded engine would otherwise commit
//! each operation alone, and each commit rewrites the copy-on-write path of
//! every table it touches (7 for an ingest, 9–10 for an attempt) and syncs
//! the file.
//!
//! Measured with the load benchmark (2 KB raw events, one run per delay, in
//! one series), at 1,000 events/s offered: no wait / 1 / 2 / 5 ms (waiting
//! to the deadline, without the lull rule) wrote 76 / 64 / 42 / 23 KB and
//! took 892 / 830 / 642 / 550 µs of engine CPU (commit thread 388 / 342 /
//! 250 / 166 µs) per event ingested and delivered, for an end-to-end p50 of
//! 2.9 / 3.3 / 3.5 / 6.2 ms; 5 ms slowed batched ingest by 8 closed-loop
//! clients from 87,000 to 67,000 events/s. A wait to the deadline costs a
//! client that posts one event at a time, and waits for each answer, the
//! whole delay per event: `bench/e2e` S (one h2load client) went from 620
//! to 258 events/s, API p50 1.5 → 3.8 ms. The lull rule keeps most of the
//! saving without most of that: `bench/e2e` L (1,000 events/s arriving
//! evenly) wrote 30.5 KB per event with no wait, 17.0 to the deadline, 18–19
//! with the lull, at API p50 3.7 / 4.7 / 3.6 ms; S 1.5 / 3.8 / 2.1–2.3 ms
//! (README, Benchmarks, has the series of the final rule).
//! `redb.commit_delay = "0s"` turns the wait off.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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

/// An operation and when it was submitted, which its commit's wait for
/// company counts from.
struct Submitted {
    at: Instant,
    op: Op,
}

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
    sender: mpsc::Sender<Option<Submitted>>,
    stats: Arc<CommitStats>,
    thread: Arc<Mutex<Option<JoinHandle<()>>>>,
}

impl Committer {
    /// Starts the commit thread; it ends at [`Committer::close`] or when
    /// every `Committer` is dropped. A commit waits for others to share it
    /// up to `delay` after its first operation was submitted, while they
    /// keep coming: a quarter of `delay` without one ends the wait.
    pub fn start(store: Arc<RedbStore>, delay: Duration) -> Committer {
        let (sender, receiver) = mpsc::channel::<Option<Submitted>>();
        let stats = Arc::new(CommitStats::default());
        let counters = stats.clone();
        let thread = std::thread::Builder::new()
            .name("wasmhook-commit".into())
            .spawn(move || {
                while let Ok(Some(first)) = receiver.recv() {
                    let mut batch = vec![first.op];
                    let closing = gather(&receiver, &mut batch, first.at + delay, delay / 4);
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
        self.sender.send(Some(Submitted { at: Instant::now(), op })).map_err(|_| closed())?;
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

/// Adds to `batch` the operations waiting, then those submitted until
/// `deadline` while they keep coming (none for `lull`: it stops), up to
/// [`MAX_BATCH`]; whether the store is closing (the operations before the
/// request to close are in `batch`).
fn gather(
    receiver: &mpsc::Receiver<Option<Submitted>>,
    batch: &mut Vec<Op>,
    deadline: Instant,
    lull: Duration,
) -> bool {
    while batch.len() < MAX_BATCH {
        let now = Instant::now();
        let wait = deadline.min(now + lull).saturating_duration_since(now);
        let next = if wait.is_zero() { receiver.try_recv().ok() } else { receiver.recv_timeout(wait).ok() };
        match next {
            Some(Some(submitted)) => batch.push(submitted.op),
            Some(None) => return true,
            None => return false,
        }
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Submits a no-op to `committer` every `every`, `count` times, and
    /// waits until each is committed; the commits they took.
    async fn commits_for(committer: &Committer, count: usize, every: Duration) -> u64 {
        let before = committer.stats().commits.load(Ordering::Relaxed);
        let mut answers = Vec::new();
        for _ in 0..count {
            let committer = committer.clone();
            answers.push(tokio::spawn(async move { committer.sync().await }));
            tokio::time::sleep(every).await;
        }
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        committer.stats().commits.load(Ordering::Relaxed) - before
    }

    fn committer(dir: &std::path::Path, delay: Duration) -> Committer {
        Committer::start(Arc::new(RedbStore::open(dir, crate::store::tests::keyring()).unwrap()), delay)
    }

    /// Writes that keep coming within the delay share one commit; without
    /// a delay each has its own. (The margins are wide, 10 times the gap
    /// between two writes, so a slow machine does not change the count.)
    #[tokio::test]
    async fn writes_that_keep_coming_within_the_delay_share_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let waiting = committer(dir.path(), Duration::from_secs(2));
        assert_eq!(commits_for(&waiting, 3, Duration::from_millis(50)).await, 1, "a lull is 500 ms");
        waiting.close();

        let eager = committer(dir.path(), Duration::ZERO);
        assert_eq!(commits_for(&eager, 3, Duration::from_millis(50)).await, 3);
        eager.close();
    }

    /// A commit stops waiting after a quarter of the delay without a new
    /// write, before its deadline: a lone write is not held the whole delay.
    #[tokio::test]
    async fn a_lull_of_a_quarter_of_the_delay_ends_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let committer = committer(dir.path(), Duration::from_millis(1200));
        // 600 ms apart: within the 1.2 s deadline, after the 300 ms lull.
        assert_eq!(commits_for(&committer, 2, Duration::from_millis(600)).await, 2);
        committer.close();
    }
}
