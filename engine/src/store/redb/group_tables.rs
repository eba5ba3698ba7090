//! The tables the operations of one group transaction share
//! (`committer.rs`): each opened at its first use and closed once, before
//! the commit, however many operations write to it.
//!
//! In a redb write transaction, opening a table looks it up in the
//! transaction's table tree and closing it writes its root back. Opened and
//! closed by each operation (and `META` once per id taken), the opens and
//! closes were a third of recording an attempt on the commit thread, the
//! one thread every write waits for (`perf` of `bench/e2e` A, 2026-12-07).
//! The queue's tables are the [`QueueWriter`](super::queue::QueueWriter)'s;
//! a table used by one rare operation (parked events) is opened by it.
//! An operation must not open one of these itself: redb refuses a table
//! open twice in one transaction.

use redb::{Key, Table, TableDefinition, Value, WriteTransaction};

use super::StoreError;
use super::tables::{ATTEMPTS, EVENTS, HOOK_ERRORS, HOOK_SAMPLES, HOOK_STATS, HOOKS, META};

/// A table of the group transaction, opened at its first use.
pub(super) struct LazyTable<'txn, K: Key + 'static, V: Value + 'static> {
    txn: &'txn WriteTransaction,
    definition: TableDefinition<'static, K, V>,
    table: Option<Table<'txn, K, V>>,
}

impl<'txn, K: Key + 'static, V: Value + 'static> LazyTable<'txn, K, V> {
    fn new(txn: &'txn WriteTransaction, definition: TableDefinition<'static, K, V>) -> Self {
        LazyTable { txn, definition, table: None }
    }

    /// The table, opened now if it was not yet.
    pub(super) fn open(&mut self) -> Result<&mut Table<'txn, K, V>, StoreError> {
        if self.table.is_none() {
            self.table = Some(self.txn.open_table(self.definition)?);
        }
        Ok(self.table.as_mut().expect("opened above"))
    }
}

/// The records the delivery pipeline's writes touch besides the queue and
/// the payloads (see `tables.rs` for each).
pub(super) struct GroupTables<'txn> {
    pub events: LazyTable<'txn, (&'static str, &'static str), &'static [u8]>,
    pub hooks: LazyTable<'txn, u64, &'static [u8]>,
    pub stats: LazyTable<'txn, u64, &'static [u8]>,
    pub samples: LazyTable<'txn, u64, &'static [u8]>,
    pub attempts: LazyTable<'txn, (u64, u64), &'static [u8]>,
    pub errors: LazyTable<'txn, (u64, u64), &'static [u8]>,
    /// The counters ids are taken from (`super::take_id`).
    pub meta: LazyTable<'txn, &'static str, u64>,
}

impl<'txn> GroupTables<'txn> {
    /// Nothing opened yet.
    pub(super) fn new(txn: &'txn WriteTransaction) -> Self {
        GroupTables {
            events: LazyTable::new(txn, EVENTS),
            hooks: LazyTable::new(txn, HOOKS),
            stats: LazyTable::new(txn, HOOK_STATS),
            samples: LazyTable::new(txn, HOOK_SAMPLES),
            attempts: LazyTable::new(txn, ATTEMPTS),
            errors: LazyTable::new(txn, HOOK_ERRORS),
            meta: LazyTable::new(txn, META),
        }
    }
}
