//! Hooks: an academy's subscription of one endpoint to one event.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// How a hook's requests are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    #[default]
    Post,
    Put,
    Patch,
}

/// A hook. `S` is how its confidential values (signing secrets, custom
/// header values) are held: in the clear (`String`, the default) in memory
/// and in the API, `secrets::Sealed` in the store (see `store/redb/sealing.rs`), so a hook
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

impl NewHook {
    /// The hook it makes under `id`, created at `now`: no previous
    /// secret, no transformer. Every store creates hooks with it.
    pub fn into_hook(self, id: u64, now: Time) -> Hook {
        let NewHook { academy, settings, secret } = self;
        Hook {
            id,
            academy,
            settings,
            secret,
            previous_secret: None,
            created_at: now,
            updated_at: now,
            transformer: None,
        }
    }
}

impl Hook {
    /// The secrets that sign a delivery at `now`: the current one, and the
    /// previous one during its overlap.
    pub fn signing_secrets(&self, now: Time) -> impl Iterator<Item = &str> {
        let previous = self.previous_secret.as_ref().filter(|previous| now < previous.expires_at);
        std::iter::once(self.secret.as_str()).chain(previous.map(|previous| previous.secret.as_str()))
    }
}

/// The longest a hook may wait for its receiver, in seconds.
pub const MAX_TIMEOUT_SECS: u32 = 300;

/// What the hook's owner chooses: the subscription and how it is delivered.
/// `S` holds the custom header values, as in [`Hook`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookSettings<S = String> {
    pub event: String,
    pub target: String,
    pub service_id: Option<String>,
    pub method: HttpMethod,
    /// Extra request headers (never the signature headers).
    pub headers: BTreeMap<String, S>,
    pub is_active: bool,
    /// Retries after the first attempt; `None`: the engine's default.
    pub max_retries: Option<u32>,
    /// Seconds to wait for the receiver, at most [`MAX_TIMEOUT_SECS`];
    /// `None`: the engine's default.
    pub timeout: Option<u32>,
    /// Consecutive failures that deactivate the hook; `None`: never.
    pub auto_disable_after_failures: Option<u32>,
    /// Attempts in flight at once to this hook; `None`: the engine's
    /// default. Never 0, which would stop its deliveries for good.
    #[serde(default)]
    pub max_in_flight: Option<NonZeroU32>,
}

/// A hook transformer component attached to a hook; its bytes are in the
/// plugin blobs table under `sha256`, counted as one use (`blobs.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Which hooks a delete takes: a hook is taken when it has the given id
/// and each given list holds its value (`DELETE
/// /v1/notify/hook/subscribe?event=&service_id=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HookSelector {
    pub id: Option<u64>,
    pub events: Option<Vec<String>>,
    /// A hook without a service id has the empty one.
    pub service_ids: Option<Vec<String>>,
}

impl HookSelector {
    /// Whether `hook` is taken.
    pub fn takes<S>(&self, hook: &Hook<S>) -> bool {
        let passes =
            |list: &Option<Vec<String>>, value: &str| list.as_ref().is_none_or(|l| l.iter().any(|v| v == value));
        self.id.is_none_or(|id| id == hook.id)
            && passes(&self.events, &hook.settings.event)
            && passes(&self.service_ids, hook.settings.service_id.as_deref().unwrap_or(""))
    }
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
    /// Applies the changes to `hook`, stamping `updated_at`.
    pub fn apply(self, hook: &mut Hook) {
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
