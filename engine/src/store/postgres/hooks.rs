//! Hooks, their stats and samples, the components their transformers use,
//! and what each academy holds against its quotas: derived from the hooks
//! in the transaction that changes them, under the academy's advisory
//! lock, so two racing requests cannot both slip under a quota (redb keeps
//! a ledger for the same reason, `redb/usage.rs`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;

use super::super::contract::{Hooks, Store};
use super::super::records::check;
use super::super::{Quotas, StoreError, Usage, sealing};
use super::notices::Notice;
use super::rows::{self, get, json, unsigned, unsigned32};
use super::{Lock, Postgres, payloads, plugins};
use crate::model::{AttachedTransformer, Hook, HookChanges, HookIndex, HookSelector, HookStats, NewHook, Scope};
use crate::secrets::{Keyring, Sealed};
use crate::time::Time;

/// The hook index, and the lock that orders its rebuilds: a rebuild reads
/// the hooks after taking it, so the last one reflects every commit made
/// before it started.
#[derive(Default)]
pub(super) struct HookCache {
    current: RwLock<Arc<HookIndex>>,
    rebuilding: tokio::sync::Mutex<()>,
}

/// The academy a scope restricts reads to (`None`: every hook).
pub(super) fn scope_academy(scope: &Scope) -> Option<&str> {
    match scope {
        Scope::All => None,
        Scope::Academy(academy) => Some(academy),
    }
}

/// What `academy`'s hooks hold now, in `txn`: its hooks, and the bytes of
/// the components their transformers use, each counted once.
async fn usage(txn: &impl GenericClient, academy: &str) -> Result<Usage, StoreError> {
    let sql = "SELECT count(*) AS hooks, coalesce((SELECT sum(c.size) FROM components c WHERE c.sha256 IN \
               (SELECT transformer_sha256 FROM hooks WHERE academy = $1)), 0)::bigint AS transformer_bytes \
               FROM hooks WHERE academy = $1";
    let row = txn.query_one(&txn.prepare_cached(sql).await?, &[&academy]).await?;
    Ok(Usage {
        hooks: unsigned(&row, "hooks", "academy usage")?,
        transformer_bytes: unsigned(&row, "transformer_bytes", "academy usage")?,
    })
}

/// Writes `hook` (a new one, or over the record of its id), its
/// confidential values sealed.
pub(super) async fn put(txn: &impl GenericClient, hook: &Hook, sealed: &Hook<Sealed>) -> Result<(), StoreError> {
    let sql = "INSERT INTO hooks (id, academy, transformer_sha256, record) VALUES ($1, $2, $3, $4) \
               ON CONFLICT (id) DO UPDATE SET academy = EXCLUDED.academy, \
               transformer_sha256 = EXCLUDED.transformer_sha256, record = EXCLUDED.record";
    let transformer = hook.transformer.as_ref().map(|t| t.sha256.as_str());
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&rows::id(hook.id), &hook.academy, &transformer, &Json(sealed)];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

/// Hook `id` as stored, sealed, locked until `txn` ends, if it is visible
/// in `scope`.
pub(super) async fn locked(
    txn: &impl GenericClient,
    scope: &Scope,
    id: u64,
) -> Result<Option<Hook<Sealed>>, StoreError> {
    let sql = "SELECT record FROM hooks WHERE id = $1 FOR UPDATE";
    let row = txn.query_opt(&txn.prepare_cached(sql).await?, &[&rows::id(id)]).await?;
    let hook = row.map(|row| json::<Hook<Sealed>>(&row, "record", "hook")).transpose()?;
    Ok(hook.filter(|hook| scope.sees(hook.academy.as_deref())))
}

impl HookCache {
    /// Rebuilds the index from the hooks table, their confidential values
    /// opened with `keyring` (deliveries sign with them; they stay in
    /// memory).
    pub(super) async fn reload(
        &self,
        client: &impl GenericClient,
        keyring: &Keyring,
        location: &str,
    ) -> Result<(), StoreError> {
        let _one_at_a_time = self.rebuilding.lock().await;
        let rows = client.query(&client.prepare_cached("SELECT record FROM hooks ORDER BY id").await?, &[]).await?;
        let hooks = rows.iter().map(|row| sealing::open(json(row, "record", "hook")?, keyring));
        let index = Arc::new(HookIndex::new(hooks.collect::<Result<Vec<Hook>, StoreError>>()?));
        tracing::debug!(store = %location, hooks = rows.len(), "hook index rebuilt");
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = index;
        Ok(())
    }
}

impl Postgres {
    /// Rebuilds the hook index after every write of this node that changed
    /// a hook, on the connection it committed on (a pool of one connection
    /// must not wait for a second); other engines' writes are announced
    /// (`notices.rs`).
    pub(super) async fn reload_hooks(&self, client: &impl GenericClient) -> Result<(), StoreError> {
        self.hooks.reload(client, &self.keyring, &self.location).await
    }

    /// Seals again with the current key every hook value sealed with a
    /// previous one (a key rotation), in one transaction at open, so the
    /// previous key is no longer needed (as redb does, `redb/reseal.rs`);
    /// how many hooks.
    pub(super) async fn reseal(&self, client: &mut deadpool_postgres::Client) -> Result<usize, StoreError> {
        let txn = client.transaction().await?;
        let rows =
            txn.query(&txn.prepare_cached("SELECT record FROM hooks ORDER BY id FOR UPDATE").await?, &[]).await?;
        let current = self.keyring.current();
        let mut resealed = 0;
        for row in &rows {
            let record: Hook<Sealed> = json(row, "record", "hook")?;
            let mut stale = false;
            let record = record.try_map_confidential(|_, sealed| {
                stale |= sealed.key() != current;
                Ok::<_, std::convert::Infallible>(sealed)
            });
            let Ok(record) = record;
            if stale {
                let hook = sealing::open(record, &self.keyring)?;
                put(&txn, &hook, &sealing::seal(&hook, &self.keyring)).await?;
                resealed += 1;
            }
        }
        if resealed > 0 {
            self.announce(&txn, Notice::Hooks).await?;
        }
        txn.commit().await?;
        if resealed > 0 {
            tracing::warn!(store = %self.location, hooks = resealed, key_id = %current, "sealed the hooks' secrets and header values with the current key");
        }
        Ok(resealed)
    }

    /// Writes `after` over hook `before` (both of `scope`), its
    /// transformer's component stored unless it is, the one it replaces
    /// freed if nothing uses it any more; refused when its academy grows
    /// past `quotas`.
    async fn change_hook(
        &self,
        txn: &impl GenericClient,
        before: &Hook,
        after: &Hook,
        bytes: Option<&[u8]>,
        quotas: Quotas,
    ) -> Result<(), StoreError> {
        let academy = after.academy.as_deref();
        let start = match academy {
            Some(academy) => {
                Lock::Quotas.take(txn, &[academy]).await?;
                Some(usage(txn, academy).await?)
            }
            None => None,
        };
        if let (Some(transformer), Some(bytes)) = (&after.transformer, bytes) {
            plugins::store_component(txn, &transformer.sha256, bytes).await?;
        }
        put(txn, after, &sealing::seal(after, &self.keyring)).await?;
        if let Some(replaced) = &before.transformer {
            plugins::free_components(txn, &[replaced.sha256.as_str()]).await?;
        }
        if let (Some(academy), Some(start)) = (academy, start) {
            check(&quotas, academy, start, usage(txn, academy).await?)?;
        }
        Ok(())
    }
}

#[async_trait]
impl Hooks for Postgres {
    fn hook_index(&self) -> Arc<HookIndex> {
        self.hooks.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError> {
        self.room()?;
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        // Checked before the id is taken: a refusal takes none. A new hook
        // has no transformer: it adds one hook and no bytes.
        if let Some(academy) = new.academy.as_deref() {
            Lock::Quotas.take(&txn, &[academy]).await?;
            let start = usage(&txn, academy).await?;
            check(&quotas, academy, start, Usage { hooks: start.hooks + 1, ..start })?;
        }
        // The id first: the seal is bound to it.
        let row = txn.query_one(&txn.prepare_cached("SELECT nextval('hooks_id_seq') AS id").await?, &[]).await?;
        let hook = new.into_hook(unsigned(&row, "id", "hook id")?, Time::now());
        put(&txn, &hook, &sealing::seal(&hook, &self.keyring)).await?;
        self.announce(&txn, Notice::Hooks).await?;
        txn.commit().await?;
        tracing::info!(store = %self.location, hook = hook.id, academy = ?hook.academy, "hook created");
        self.reload_hooks(&client).await?;
        Ok(hook)
    }

    async fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError> {
        self.room()?;
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let Some(sealed) = locked(&txn, scope, id).await? else { return Ok(None) };
        let mut hook = sealing::open(sealed, &self.keyring)?;
        changes.apply(&mut hook);
        put(&txn, &hook, &sealing::seal(&hook, &self.keyring)).await?;
        self.announce(&txn, Notice::Hooks).await?;
        txn.commit().await?;
        self.reload_hooks(&client).await?;
        Ok(Some(hook))
    }

    async fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, Vec<u8>)>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError> {
        if transformer.is_some() {
            self.room()?;
        }
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let Some(sealed) = locked(&txn, scope, id).await? else { return Ok(None) };
        let before = sealing::open(sealed, &self.keyring)?;
        let (attached, bytes) = transformer.map_or((None, None), |(attached, bytes)| (Some(attached), Some(bytes)));
        let after = Hook { transformer: attached, updated_at: Time::now(), ..before.clone() };
        // A refusal drops the transaction: nothing written.
        self.change_hook(&txn, &before, &after, bytes.as_deref(), quotas).await?;
        self.announce(&txn, Notice::Hooks).await?;
        txn.commit().await?;
        self.reload_hooks(&client).await?;
        Ok(Some(after))
    }

    async fn delete_hooks(&self, scope: &Scope, selector: &HookSelector) -> Result<usize, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let sql = "SELECT record FROM hooks WHERE ($1::text IS NULL OR academy = $1) ORDER BY id FOR UPDATE";
        let rows = txn.query(&txn.prepare_cached(sql).await?, &[&scope_academy(scope)]).await?;
        let mut doomed = Vec::new();
        for row in &rows {
            // The selector reads the settings as stored: no need to open them.
            let hook: Hook<Sealed> = json(row, "record", "hook")?;
            if scope.sees(hook.academy.as_deref()) && selector.takes(&hook) {
                doomed.push(rows::id(hook.id));
            }
        }
        if doomed.is_empty() {
            return Ok(0);
        }
        let sql = "DELETE FROM hook_samples WHERE hook_id = ANY($1) RETURNING payload_id";
        let samples = txn.query(&txn.prepare_cached(sql).await?, &[&doomed]).await?;
        let samples = samples.iter().map(|row| get(row, "payload_id", "hook sample")).collect::<Result<Vec<_>, _>>()?;
        // Their stats go with them (ON DELETE CASCADE).
        let sql = "DELETE FROM hooks WHERE id = ANY($1) RETURNING transformer_sha256";
        let deleted = txn.query(&txn.prepare_cached(sql).await?, &[&doomed]).await?;
        let mut components = Vec::new();
        for row in &deleted {
            components.extend(get::<Option<String>>(row, "transformer_sha256", "hook")?);
        }
        payloads::free(&txn, &samples).await?;
        plugins::free_components(&txn, &components.iter().map(String::as_str).collect::<Vec<_>>()).await?;
        self.announce(&txn, Notice::Hooks).await?;
        txn.commit().await?;
        tracing::info!(store = %self.location, hooks = deleted.len(), "hooks deleted");
        self.reload_hooks(&client).await?;
        Ok(deleted.len())
    }

    async fn hook_stats(&self, id: u64) -> Result<HookStats, StoreError> {
        let client = self.client().await?;
        Ok(stats(&client, &[rows::id(id)]).await?.remove(&id).unwrap_or_default())
    }

    /// Under the hook row's lock, the one the attempt recorder takes before
    /// it reads the stats it counts on (`recorder.rs`): a batch recording
    /// this hook's attempts commits before the reset or reads the stats
    /// after it, so the reset is never written over with counts from
    /// before it.
    async fn reset_hook_stats(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let txn = client.transaction().await?;
        let sql = "SELECT academy FROM hooks WHERE id = $1 FOR NO KEY UPDATE";
        let Some(row) = txn.query_opt(&txn.prepare_cached(sql).await?, &[&rows::id(id)]).await? else {
            return Ok(false);
        };
        if !scope.sees(get::<Option<String>>(&row, "academy", "hook")?.as_deref()) {
            return Ok(false);
        }
        let sql = "DELETE FROM hook_stats WHERE hook_id = $1";
        txn.execute(&txn.prepare_cached(sql).await?, &[&rows::id(id)]).await?;
        txn.commit().await?;
        Ok(true)
    }

    async fn hook_sample(&self, id: u64) -> Result<Option<String>, StoreError> {
        let client = self.client().await?;
        let sql = "SELECT p.body FROM hook_samples s JOIN payloads p ON p.id = s.payload_id WHERE s.hook_id = $1";
        let row = client.query_opt(&client.prepare_cached(sql).await?, &[&rows::id(id)]).await?;
        row.map(|row| get(&row, "body", "hook sample")).transpose()
    }

    async fn academy_usage(&self, academy: &str) -> Result<Usage, StoreError> {
        usage(&self.client().await?, academy).await
    }
}

/// The stats of those of hooks `ids` whose deliveries made any.
pub(super) async fn stats(txn: &impl GenericClient, ids: &[i64]) -> Result<HashMap<u64, HookStats>, StoreError> {
    const WHAT: &str = "hook stats";
    let sql = "SELECT hook_id, total_calls, successes, consecutive_failures, \
               extract(epoch FROM last_call_at)::bigint AS last_call_at, last_response_code \
               FROM hook_stats WHERE hook_id = ANY($1)";
    let rows = txn.query(&txn.prepare_cached(sql).await?, &[&ids]).await?;
    rows.iter()
        .map(|row| {
            let stats = HookStats {
                total_calls: unsigned(row, "total_calls", WHAT)?,
                successes: unsigned(row, "successes", WHAT)?,
                consecutive_failures: unsigned32(row, "consecutive_failures", WHAT)?,
                last_call_at: rows::optional_time(row, "last_call_at", WHAT)?,
                last_response_code: get::<Option<i32>>(row, "last_response_code", WHAT)?
                    .and_then(|c| u16::try_from(c).ok()),
            };
            Ok((unsigned(row, "hook_id", WHAT)?, stats))
        })
        .collect()
}

/// Writes the stats of each hook in `stats` (by hook id), in one statement.
pub(super) async fn put_stats(txn: &impl GenericClient, stats: &HashMap<u64, HookStats>) -> Result<(), StoreError> {
    if stats.is_empty() {
        return Ok(());
    }
    let (mut ids, mut calls, mut successes, mut failures, mut last_at, mut last_code) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (&id, stats) in stats {
        ids.push(rows::id(id));
        calls.push(rows::count(stats.total_calls));
        successes.push(rows::count(stats.successes));
        failures.push(i32::try_from(stats.consecutive_failures).unwrap_or(i32::MAX));
        last_at.push(stats.last_call_at.map(rows::seconds));
        last_code.push(stats.last_response_code.map(i32::from));
    }
    let sql = "INSERT INTO hook_stats (hook_id, total_calls, successes, consecutive_failures, last_call_at, \
               last_response_code) SELECT h, c, s, f, to_timestamp(t), r \
               FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::integer[], $5::bigint[], $6::integer[]) \
               AS n (h, c, s, f, t, r) \
               ON CONFLICT (hook_id) DO UPDATE SET total_calls = EXCLUDED.total_calls, \
               successes = EXCLUDED.successes, consecutive_failures = EXCLUDED.consecutive_failures, \
               last_call_at = EXCLUDED.last_call_at, last_response_code = EXCLUDED.last_response_code";
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&ids, &calls, &successes, &failures, &last_at, &last_code];
    txn.execute(&txn.prepare_cached(sql).await?, &params).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::task::JoinSet;

    use crate::model::{AttemptOutcome, Deactivation, Job, NextStep, Scope};
    use crate::secrets::{Keyring, SecretKey};
    use crate::store::contract_tests::hook;
    use crate::store::postgres::testing;
    use crate::store::tests::{attempt, job, new_hook};
    use crate::store::{Deliveries, Hooks, Quotas, StoreError};
    use crate::time::Time;

    /// Creations racing for an academy's last places, each on its own
    /// connection: its quota lock lets exactly the quota through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_creations_do_not_slip_under_a_quota() {
        let Some(database) = testing::database().await else { return };
        let store = Arc::new(database.open().await);
        let quotas = Quotas { max_hooks: Some(2), max_transformer_bytes: None };
        let creations: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.create_hook(new_hook(Some("a")), quotas).await })
            })
            .collect();
        let mut created = 0;
        for creation in creations {
            match creation.await.unwrap() {
                Ok(_) => created += 1,
                Err(error) => assert!(matches!(error, StoreError::Refused(_)), "{error}"),
            }
        }
        assert_eq!(created, 2);
        assert_eq!(store.academy_usage("a").await.unwrap().hooks, 2);
        drop(store);
        database.remove().await;
    }

    /// Resets while the hook's attempts are being recorded, in batches
    /// (`recorder.rs`) beside them: an attempt recorded before a reset no
    /// longer counts; none counted before it is written back over it. Each
    /// round records 50 failures, then 50 more with a reset among them:
    /// only those 50 may count after it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_reset_is_not_undone_by_attempts_recorded_beside_it() {
        let Some(database) = testing::database().await else { return };
        let store = Arc::new(database.open().await);
        let id = hook(&*store, Some("a")).await.id;
        let record_all = |jobs: Vec<Job>| {
            let mut recording = JoinSet::new();
            for job in jobs {
                let store = store.clone();
                recording.spawn(async move {
                    let made = attempt(&job, AttemptOutcome::Failed, Some(500), Time::now());
                    store.record_attempt(job, made, NextStep::Finish, Deactivation::NEVER).await.unwrap();
                });
            }
            recording
        };
        let queued = |count: u64| {
            let store = store.clone();
            async move {
                let jobs: Vec<Job> = (0..count).map(|n| job(id, n)).collect();
                let ids = store.enqueue(jobs.clone()).await.unwrap();
                jobs.into_iter().zip(ids).map(|(job, id)| Job { id, ..job }).collect::<Vec<_>>()
            }
        };
        for round in 0..10 {
            record_all(queued(50).await).join_all().await;
            assert!(store.hook_stats(id).await.unwrap().total_calls >= 50);
            let during = record_all(queued(50).await);
            tokio::time::sleep(std::time::Duration::from_millis(round)).await;
            assert!(store.reset_hook_stats(&Scope::All, id).await.unwrap());
            during.join_all().await;
            let stats = store.hook_stats(id).await.unwrap();
            assert!(
                stats.total_calls <= 50,
                "round {round}: {} counted, 50 recorded since the round began",
                stats.total_calls
            );
            assert_eq!(u64::from(stats.consecutive_failures), stats.total_calls);
        }
        assert_eq!(store.attempts(id).await.unwrap().len(), 1000, "every attempt logged");
        drop(store);
        database.remove().await;
    }

    #[tokio::test]
    async fn hooks_are_sealed_again_with_the_current_key_at_open() {
        let Some(database) = testing::database().await else { return };
        let (old, new) = (SecretKey::generate(), SecretKey::generate());
        let store = database.open_with(Arc::new(Keyring::new(&old, &[]))).await;
        let id = hook(&store, Some("a")).await.id;
        let client = store.client().await.unwrap();
        let row = client.query_one("SELECT record::text AS record FROM hooks", &[]).await.unwrap();
        let record: String = row.get("record");
        assert!(!record.contains("whsec_x"), "sealed: {record}");
        drop((client, store));

        let rotated = database.open_with(Arc::new(Keyring::new(&new, &[old]))).await;
        assert_eq!(rotated.hook(&Scope::All, id).unwrap().secret, "whsec_x");
        drop(rotated);
        let store = database.open_with(Arc::new(Keyring::new(&new, &[]))).await;
        assert_eq!(store.hook(&Scope::All, id).unwrap().secret, "whsec_x", "the previous key is no longer needed");
        drop(store);
        database.remove().await;
    }
}
