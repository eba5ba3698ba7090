//! Hooks: an academy's subscription of one endpoint to one event.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;

use redb::{ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use super::codec::{decode, encode};
use super::tables::{HOOK_SAMPLES, HOOK_STATS, HOOKS, PLUGIN_BLOBS, meta};
use super::{HookIndex, Scope, Store, StoreError, next_id};
use crate::runtime::Request;
use crate::time::Time;

/// How a hook's requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
}

/// A stored hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub id: u64,
    /// The academy whose events it receives; `None` (superadmin hooks):
    /// every academy's.
    pub academy: Option<String>,
    #[serde(flatten)]
    pub settings: HookSettings,
    /// Standard Webhooks signing secret, `whsec_…`.
    pub secret: String,
    pub created_at: Time,
    pub updated_at: Time,
    /// The integrator's hook transformer, if one is attached.
    #[serde(default)]
    pub transformer: Option<AttachedTransformer>,
}

impl Hook {
    /// The request a delivery of `body` to this hook starts from, before
    /// its transformer (if any) and the signature.
    pub fn request(&self, body: String) -> Request {
        let method = match self.settings.method {
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Patch => "PATCH",
        };
        Request {
            url: self.settings.target.clone(),
            method: method.to_owned(),
            headers: self.settings.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            body,
        }
    }
}

/// What the hook's owner chooses: the subscription and how it is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookSettings {
    pub event: String,
    pub target: String,
    pub service_id: Option<String>,
    pub method: HttpMethod,
    /// Extra request headers (never the signature headers).
    pub headers: BTreeMap<String, String>,
    pub is_active: bool,
    /// Retries after the first attempt; `None`: the engine's default.
    pub max_retries: Option<u32>,
    /// Seconds to wait for the receiver; `None`: the engine's default.
    pub timeout: Option<u32>,
    /// Consecutive failures that deactivate the hook; `None`: never.
    pub auto_disable_after_failures: Option<u32>,
    /// Attempts in flight at once to this hook; `None`: the engine's
    /// default. Never 0, which would stop its deliveries for good.
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub max_in_flight: Option<NonZeroU32>,
}

/// A hook transformer component attached to a hook; its bytes are in the
/// plugin blobs table under `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachedTransformer {
    pub sha256: String,
    pub size: usize,
    pub uploaded_at: Time,
}

/// What deliveries have done so far (kept apart from the hook, see
/// `tables::HOOK_STATS`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookStats {
    pub total_calls: u64,
    pub successes: u64,
    pub consecutive_failures: u32,
    pub last_call_at: Option<Time>,
    pub last_response_code: Option<u16>,
}

/// A hook to create, already validated.
#[derive(Debug, Clone)]
pub struct NewHook {
    pub academy: Option<String>,
    pub settings: HookSettings,
    pub secret: String,
}

/// Fields to change on a hook, already validated; `None` keeps a field.
/// The nullable fields take `Some(None)` to clear them.
#[derive(Debug, Clone, Default)]
pub struct HookChanges {
    pub event: Option<String>,
    pub target: Option<String>,
    pub service_id: Option<Option<String>>,
    pub method: Option<HttpMethod>,
    pub headers: Option<BTreeMap<String, String>>,
    pub is_active: Option<bool>,
    pub max_retries: Option<Option<u32>>,
    pub timeout: Option<Option<u32>>,
    pub auto_disable_after_failures: Option<Option<u32>>,
    pub max_in_flight: Option<Option<NonZeroU32>>,
    pub secret: Option<String>,
}

impl HookChanges {
    fn apply(self, hook: &mut Hook) {
        fn set<T>(field: &mut T, value: Option<T>) {
            if let Some(value) = value {
                *field = value;
            }
        }
        let settings = &mut hook.settings;
        set(&mut settings.event, self.event);
        set(&mut settings.target, self.target);
        set(&mut settings.service_id, self.service_id);
        set(&mut settings.method, self.method);
        set(&mut settings.headers, self.headers);
        set(&mut settings.is_active, self.is_active);
        set(&mut settings.max_retries, self.max_retries);
        set(&mut settings.timeout, self.timeout);
        set(&mut settings.auto_disable_after_failures, self.auto_disable_after_failures);
        set(&mut settings.max_in_flight, self.max_in_flight);
        set(&mut hook.secret, self.secret);
        hook.updated_at = Time::now();
    }
}

impl Store {
    pub fn create_hook(&self, new: NewHook) -> Result<Hook, StoreError> {
        let txn = self.db.begin_write()?;
        let now = Time::now();
        let hook = Hook {
            id: next_id(&txn, meta::NEXT_HOOK_ID)?,
            academy: new.academy,
            settings: new.settings,
            secret: new.secret,
            created_at: now,
            updated_at: now,
            transformer: None,
        };
        txn.open_table(HOOKS)?.insert(hook.id, encode(&hook).as_slice())?;
        txn.commit()?;
        self.reload_hooks()?;
        Ok(hook)
    }

    /// Every hook, from memory.
    pub fn hook_index(&self) -> Arc<HookIndex> {
        self.hooks.get()
    }

    /// Rebuilds the in-memory index of hooks from the store: after a commit
    /// that changed hooks outside this module (a delivery that deactivated
    /// its hook).
    pub fn reload_hooks(&self) -> Result<(), StoreError> {
        self.hooks.rebuild(&self.db)
    }

    /// Every hook visible in `scope`, by id.
    pub fn hooks(&self, scope: &Scope) -> Result<Vec<Hook>, StoreError> {
        Ok(self.hook_index().visible(scope).map(|hook| (**hook).clone()).collect())
    }

    /// Hook `id`, if it exists and is visible in `scope`.
    pub fn hook(&self, scope: &Scope, id: u64) -> Result<Option<Hook>, StoreError> {
        let index = self.hook_index();
        Ok(index.get(id).filter(|hook| scope.sees(hook.academy.as_deref())).map(|hook| (**hook).clone()))
    }

    /// What the deliveries to `hook` did so far.
    pub fn hook_stats(&self, hook: &Hook) -> Result<HookStats, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HOOK_STATS)?;
        let stats = table.get(hook.id)?.map(|bytes| decode("hook stats", bytes.value())).transpose()?;
        Ok(stats.unwrap_or_default())
    }

    /// Applies `changes` to hook `id` if it is visible in `scope`.
    pub fn update_hook(&self, scope: &Scope, id: u64, changes: HookChanges) -> Result<Option<Hook>, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut table = txn.open_table(HOOKS)?;
            let hook = match table.get(id)? {
                Some(bytes) => Some(decode::<Hook>("hook", bytes.value())?),
                None => None,
            };
            match hook {
                Some(mut hook) if scope.sees(hook.academy.as_deref()) => {
                    changes.apply(&mut hook);
                    table.insert(id, encode(&hook).as_slice())?;
                    Some(hook)
                }
                _ => None,
            }
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(updated)
    }

    /// Deletes hook `id` if it is visible in `scope`; whether it did.
    pub fn delete_hook(&self, scope: &Scope, id: u64) -> Result<bool, StoreError> {
        self.delete_hooks_where(scope, |hook| hook.id == id).map(|n| n == 1)
    }

    /// Deletes, in one transaction, every hook visible in `scope` that
    /// `matches`; how many.
    pub fn delete_hooks_where(&self, scope: &Scope, matches: impl Fn(&Hook) -> bool) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let deleted = {
            let mut hooks = txn.open_table(HOOKS)?;
            let mut doomed = Vec::new();
            for entry in hooks.iter()? {
                let (id, bytes) = entry?;
                let hook: Hook = decode("hook", bytes.value())?;
                if scope.sees(hook.academy.as_deref()) && matches(&hook) {
                    doomed.push(id.value());
                }
            }
            let mut samples = txn.open_table(HOOK_SAMPLES)?;
            let mut stats = txn.open_table(HOOK_STATS)?;
            for id in &doomed {
                hooks.remove(id)?;
                samples.remove(id)?;
                stats.remove(id)?;
            }
            doomed.len()
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(deleted)
    }

    /// The last payload delivered to hook `id` (already scope-checked by
    /// the caller through [`Store::hook`]).
    pub fn hook_sample(&self, hook: &Hook) -> Result<Option<String>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(HOOK_SAMPLES)?;
        let sample = table.get(hook.id)?.map(|bytes| String::from_utf8_lossy(bytes.value()).into_owned());
        Ok(sample)
    }
}

impl Store {
    /// Attaches (`Some`) or detaches (`None`) a transformer to hook `id`,
    /// storing its component; whether the hook exists in `scope`.
    pub fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, &[u8])>,
    ) -> Result<Option<Hook>, StoreError> {
        let txn = self.db.begin_write()?;
        let updated = {
            let mut hooks = txn.open_table(HOOKS)?;
            let hook = hooks.get(id)?.map(|bytes| decode::<Hook>("hook", bytes.value())).transpose()?;
            match hook {
                Some(mut hook) if scope.sees(hook.academy.as_deref()) => {
                    if let Some((attached, bytes)) = &transformer {
                        txn.open_table(PLUGIN_BLOBS)?.insert(attached.sha256.as_bytes(), *bytes)?;
                    }
                    hook.transformer = transformer.map(|(attached, _)| attached);
                    hook.updated_at = Time::now();
                    hooks.insert(id, encode(&hook).as_slice())?;
                    Some(hook)
                }
                _ => None,
            }
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(updated)
    }

    /// The component stored under `sha256`.
    pub fn plugin_blob(&self, sha256: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PLUGIN_BLOBS)?;
        Ok(table.get(sha256.as_bytes())?.map(|bytes| bytes.value().to_vec()))
    }
}
