//! Hooks: an academy's subscription of one endpoint to one event.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::codec::decode;
use super::tables::{HOOK_SAMPLES, HOOK_STATS, HOOKS, meta};
use super::usage::{Ledger, Quotas};
use super::{HookIndex, Scope, Store, StoreError, next_id, sealing};
use crate::runtime::Request;
use crate::secrets::Sealed;
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

/// A hook. `S` is how its confidential values (signing secrets, custom
/// header values) are held: in the clear (`String`, the default) in memory
/// and in the API, [`Sealed`] in the store (see `sealing.rs`), so a hook
/// with plaintext secrets cannot be written by mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "S: Deserialize<'de>"))] // `default` would ask S: Default
pub struct Hook<S = String> {
    pub id: u64,
    /// The academy whose events it receives; `None` (superadmin hooks):
    /// every academy's.
    pub academy: Option<String>,
    #[serde(flatten)]
    pub settings: HookSettings<S>,
    /// Standard Webhooks signing secret, `whsec_…`.
    pub secret: S,
    /// The secret before the last rotation, signing beside the new one
    /// until it expires, so receivers can switch over.
    #[serde(default)]
    pub previous_secret: Option<PreviousSecret<S>>,
    pub created_at: Time,
    pub updated_at: Time,
    /// The integrator's hook transformer, if one is attached.
    #[serde(default)]
    pub transformer: Option<AttachedTransformer>,
}

/// A rotated-out signing secret and when it stops signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret<S = String> {
    pub secret: S,
    pub expires_at: Time,
}

/// Where a confidential value sits in its hook. Bound into its sealing, so
/// a sealed value copied to another hook or field does not open.
#[derive(Debug, Clone, Copy)]
pub enum Place<'a> {
    Secret,
    PreviousSecret,
    Header(&'a str),
}

impl Place<'_> {
    /// The sealing's associated data: `hook/{id}/secret`, …
    pub fn label(self, hook_id: u64) -> String {
        match self {
            Place::Secret => format!("hook/{hook_id}/secret"),
            Place::PreviousSecret => format!("hook/{hook_id}/previous_secret"),
            Place::Header(name) => format!("hook/{hook_id}/header/{name}"),
        }
    }
}

impl std::fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Secret => f.write_str("secret"),
            Place::PreviousSecret => f.write_str("previous secret"),
            Place::Header(name) => write!(f, "header {name:?}"),
        }
    }
}

impl<S> Hook<S> {
    /// The same hook with each confidential value passed through `f`
    /// (sealing, opening), with its place.
    pub fn try_map_confidential<T, E>(self, mut f: impl FnMut(Place<'_>, S) -> Result<T, E>) -> Result<Hook<T>, E> {
        let Hook { id, academy, settings, secret, previous_secret, created_at, updated_at, transformer } = self;
        let HookSettings {
            event,
            target,
            service_id,
            method,
            headers,
            is_active,
            max_retries,
            timeout,
            auto_disable_after_failures,
            max_in_flight,
        } = settings;
        let headers = headers
            .into_iter()
            .map(|(name, value)| f(Place::Header(&name), value).map(|value| (name, value)))
            .collect::<Result<_, E>>()?;
        let secret = f(Place::Secret, secret)?;
        let previous_secret = match previous_secret {
            Some(PreviousSecret { secret, expires_at }) => {
                Some(PreviousSecret { secret: f(Place::PreviousSecret, secret)?, expires_at })
            }
            None => None,
        };
        let settings = HookSettings {
            event,
            target,
            service_id,
            method,
            headers,
            is_active,
            max_retries,
            timeout,
            auto_disable_after_failures,
            max_in_flight,
        };
        Ok(Hook { id, academy, settings, secret, previous_secret, created_at, updated_at, transformer })
    }
}

impl Hook {
    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one during its overlap.
    pub fn signing_secrets(&self, now: Time) -> impl Iterator<Item = &str> {
        let previous = self.previous_secret.as_ref().filter(|previous| now < previous.expires_at);
        std::iter::once(self.secret.as_str()).chain(previous.map(|previous| previous.secret.as_str()))
    }

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
/// `S` holds the custom header values, as in [`Hook`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookSettings<S = String> {
    pub event: String,
    pub target: String,
    pub service_id: Option<String>,
    pub method: HttpMethod,
    /// Extra request headers (never the signature headers).
    #[schema(value_type = BTreeMap<String, String>)] // the API shows them opened
    pub headers: BTreeMap<String, S>,
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
/// plugin blobs table under `sha256`, counted as one use (`blobs.rs`).
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
    pub secret: Option<Rotation>,
}

/// A new signing secret; the old one keeps signing beside it for
/// `overlap` (not at all when zero), replacing any earlier previous secret.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub secret: String,
    pub overlap: Duration,
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
        let now = Time::now();
        if let Some(Rotation { secret, overlap }) = self.secret {
            let old = std::mem::replace(&mut hook.secret, secret);
            // Whole seconds, rounded up: an overlap is never cut short.
            let overlap = i64::try_from(overlap.as_millis().div_ceil(1000)).unwrap_or(i64::MAX);
            hook.previous_secret = (overlap > 0).then(|| PreviousSecret {
                secret: old,
                expires_at: Time::from_second(now.as_second().saturating_add(overlap)),
            });
        }
        hook.updated_at = now;
    }
}

impl Store {
    /// Creates a hook, unless its academy has as many as `quotas` allow.
    pub fn create_hook(&self, new: NewHook, quotas: Quotas) -> Result<Hook, StoreError> {
        self.room()?;
        let txn = self.db.begin_write()?;
        let now = Time::now();
        let hook = Hook {
            id: next_id(&txn, meta::NEXT_HOOK_ID)?,
            academy: new.academy,
            settings: new.settings,
            secret: new.secret,
            previous_secret: None,
            created_at: now,
            updated_at: now,
            transformer: None,
        };
        Ledger::open(&txn, quotas)?.change(None, Some(&hook), None)?;
        txn.open_table(HOOKS)?.insert(hook.id, sealing::seal(&hook, &self.keyring).as_slice())?;
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
        self.hooks.rebuild(&self.db, &self.keyring)
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
        self.room()?;
        let txn = self.db.begin_write()?;
        let updated = {
            let mut table = txn.open_table(HOOKS)?;
            let hook = table.get(id)?.map(|bytes| sealing::open(bytes.value(), &self.keyring)).transpose()?;
            match hook {
                Some(mut hook) if scope.sees(hook.academy.as_deref()) => {
                    changes.apply(&mut hook);
                    table.insert(id, sealing::seal(&hook, &self.keyring).as_slice())?;
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
    /// `matches`, and the transformer components no other hook or plugin
    /// version uses; how many hooks. `matches` sees the hook as stored,
    /// its confidential values sealed.
    pub fn delete_hooks_where(
        &self,
        scope: &Scope,
        matches: impl Fn(&Hook<Sealed>) -> bool,
    ) -> Result<usize, StoreError> {
        let txn = self.db.begin_write()?;
        let deleted = {
            let mut hooks = txn.open_table(HOOKS)?;
            let mut doomed = Vec::new();
            for entry in hooks.iter()? {
                let hook = sealing::decode_sealed(entry?.1.value())?;
                if scope.sees(hook.academy.as_deref()) && matches(&hook) {
                    doomed.push(hook);
                }
            }
            let mut samples = txn.open_table(HOOK_SAMPLES)?;
            let mut stats = txn.open_table(HOOK_STATS)?;
            let mut ledger = Ledger::open(&txn, Quotas::default())?;
            for hook in &doomed {
                hooks.remove(hook.id)?;
                samples.remove(hook.id)?;
                stats.remove(hook.id)?;
                ledger.change(Some(hook), None, None)?;
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
    /// storing its component unless it is already stored and freeing the
    /// one it replaces if nothing else uses it; refused when the academy's
    /// transformers would take more bytes than `quotas` allow. `None` when
    /// the hook does not exist in `scope`.
    pub fn set_transformer(
        &self,
        scope: &Scope,
        id: u64,
        transformer: Option<(AttachedTransformer, &[u8])>,
        quotas: Quotas,
    ) -> Result<Option<Hook>, StoreError> {
        if transformer.is_some() {
            self.room()?;
        }
        let txn = self.db.begin_write()?;
        let updated = {
            let mut hooks = txn.open_table(HOOKS)?;
            let hook = hooks.get(id)?.map(|bytes| sealing::open(bytes.value(), &self.keyring)).transpose()?;
            match hook {
                Some(before) if scope.sees(before.academy.as_deref()) => {
                    let (attached, bytes) =
                        transformer.map_or((None, None), |(attached, bytes)| (Some(attached), Some(bytes)));
                    let after = Hook { transformer: attached, updated_at: Time::now(), ..before.clone() };
                    Ledger::open(&txn, quotas)?.change(Some(&before), Some(&after), bytes)?;
                    hooks.insert(id, sealing::seal(&after, &self.keyring).as_slice())?;
                    Some(after)
                }
                _ => None,
            }
        };
        txn.commit()?;
        self.reload_hooks()?;
        Ok(updated)
    }
}
