//! Hooks: subscribing endpoints, changing them, rotating their secrets and
//! unsubscribing, under the rules every transport keeps: who may choose a
//! hook's academy, what a hook's settings may be (its event in the
//! catalogue, its target allowed by the target policy, its headers ones the
//! engine will send), a new secret for every hook, and the overlap of a
//! rotated secret. Reads go to the store directly.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::generate_secret;
use crate::catalog::SharedCatalog;
use crate::headers::check_hook_header;
use crate::model::{
    Hook, HookChanges, HookSelector, HookSettings, HttpMethod, MAX_TIMEOUT_SECS, NewHook, Rotation, Scope,
};
use crate::names::{check_name, is_slug};
use crate::store::{Quotas, Store, StoreError};
use crate::targets::{TargetError, TargetPolicy};

/// Longest `service_id`, in bytes.
const MAX_SERVICE_ID: usize = 100;

#[derive(Debug, thiserror::Error)]
pub enum HooksError {
    /// A setting out of its bounds, a missing one, an academy not to be
    /// chosen.
    #[error("{0}")]
    Invalid(String),
    #[error("Unexpected event {0}")]
    UnknownEvent(String),
    /// The target policy refuses the target.
    #[error(transparent)]
    TargetRefused(#[from] TargetError),
    #[error("Hook not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A hook's settings as asked for, before they are checked: on a change,
/// `None` keeps a setting, and `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct HookRequest {
    pub event: Option<String>,
    pub target: Option<String>,
    pub service_id: Option<Option<String>>,
    pub method: Option<HttpMethod>,
    pub headers: Option<BTreeMap<String, String>>,
    pub is_active: Option<bool>,
    pub max_retries: Option<Option<u32>>,
    pub timeout: Option<Option<u32>>,
    pub auto_disable_after_failures: Option<Option<u32>>,
    pub max_in_flight: Option<Option<u32>>,
    /// At creation, for superadmins only: the hook's academy.
    pub academy: Option<String>,
}

pub struct HookService {
    store: Arc<dyn Store>,
    catalog: Arc<SharedCatalog>,
    targets: Arc<TargetPolicy>,
    quotas: Quotas,
    /// How long a rotated-out signing secret keeps signing.
    secret_overlap: Duration,
}

impl HookService {
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<SharedCatalog>,
        targets: Arc<TargetPolicy>,
        quotas: Quotas,
        secret_overlap: Duration,
    ) -> HookService {
        HookService { store, catalog, targets, quotas, secret_overlap }
    }

    /// Subscribes an endpoint: an academy's hook for an academy token, the
    /// academy a superadmin names, or none (every academy's events). Its
    /// signing secret is new; refused when the academy has as many hooks as
    /// its quota allows.
    pub async fn create(&self, scope: &Scope, mut request: HookRequest) -> Result<Hook, HooksError> {
        let academy = match (scope, request.academy.take()) {
            (Scope::Academy(own), None) => Some(own.clone()),
            (Scope::Academy(_), Some(_)) => return Err(invalid("only superadmins may choose the academy")),
            (Scope::All, Some(academy)) if !is_slug(&academy) => {
                return Err(invalid(format!("{academy:?} is not an academy slug")));
            }
            (Scope::All, academy) => academy,
        };
        let (Some(event), Some(target)) = (request.event.clone(), request.target.clone()) else {
            return Err(invalid("event and target are required"));
        };
        let changes = self.check(request)?;
        let settings = HookSettings {
            event,
            target,
            service_id: changes.service_id.flatten(),
            method: changes.method.unwrap_or_default(),
            headers: changes.headers.unwrap_or_default(),
            is_active: changes.is_active.unwrap_or(true),
            max_retries: changes.max_retries.flatten(),
            timeout: changes.timeout.flatten(),
            auto_disable_after_failures: changes.auto_disable_after_failures.flatten(),
            max_in_flight: changes.max_in_flight.flatten(),
        };
        let hook =
            self.store.create_hook(NewHook { academy, settings, secret: generate_secret() }, self.quotas).await?;
        tracing::info!(hook_id = hook.id, event = %hook.settings.event, academy = ?hook.academy, "hook created");
        Ok(hook)
    }

    /// Changes the settings `request` gives of hook `id`; its academy stays.
    pub async fn update(&self, scope: &Scope, id: u64, request: HookRequest) -> Result<Hook, HooksError> {
        if request.academy.is_some() {
            return Err(invalid("a hook's academy cannot change"));
        }
        let changes = self.check(request)?;
        self.store.update_hook(scope, id, changes).await?.ok_or(HooksError::NotFound)
    }

    /// Gives hook `id` a new signing secret, in force for its next delivery;
    /// the old one keeps signing beside it for the engine's overlap, so
    /// receivers can switch over.
    pub async fn rotate_secret(&self, scope: &Scope, id: u64) -> Result<Hook, HooksError> {
        let rotation = Rotation { secret: generate_secret(), overlap: self.secret_overlap };
        let changes = HookChanges { secret: Some(rotation), ..HookChanges::default() };
        let hook = self.store.update_hook(scope, id, changes).await?.ok_or(HooksError::NotFound)?;
        tracing::info!(hook_id = id, "hook secret rotated");
        Ok(hook)
    }

    /// Clears hook `id`'s counters (calls, successes, consecutive
    /// failures, the last call and its answer); the hook, as it is now. Its
    /// delivery log stays, and so does its health in `/v1/admin/status`,
    /// which is judged on the latest attempts in that log, not on these
    /// counters: a reset does not make a failing hook look healthy. A hook
    /// that its consecutive failures deactivated starts counting them from
    /// zero once reactivated.
    pub async fn reset_stats(&self, scope: &Scope, id: u64) -> Result<Hook, HooksError> {
        if !self.store.reset_hook_stats(scope, id).await? {
            return Err(HooksError::NotFound);
        }
        tracing::info!(hook_id = id, "hook stats reset");
        // Deleted since? As if it had not been there.
        self.store.hook(scope, id).ok_or(HooksError::NotFound)
    }

    /// Deletes hook `id`.
    pub async fn delete(&self, scope: &Scope, id: u64) -> Result<(), HooksError> {
        if self.store.delete_hook(scope, id).await? { Ok(()) } else { Err(HooksError::NotFound) }
    }

    /// Deletes the hooks `selector` takes, which must name events or
    /// services (it would take every hook otherwise); how many.
    pub async fn delete_matching(&self, scope: &Scope, selector: HookSelector) -> Result<usize, HooksError> {
        if selector.events.is_none() && selector.service_ids.is_none() {
            return Err(invalid("Please include some filter in the URL"));
        }
        Ok(self.store.delete_hooks(scope, &selector).await?)
    }

    /// Checks every setting `request` gives; the result changes a hook in
    /// one go.
    fn check(&self, request: HookRequest) -> Result<HookChanges, HooksError> {
        if let Some(event) = &request.event
            && self.catalog.get().get(event).is_none()
        {
            return Err(HooksError::UnknownEvent(event.clone()));
        }
        if let Some(target) = &request.target {
            self.check_target(target)?;
        }
        if let Some(Some(service_id)) = &request.service_id {
            check_name(service_id, MAX_SERVICE_ID).map_err(|why| invalid(format!("service_id {why}")))?;
        }
        if let Some(headers) = &request.headers {
            check_headers(headers)?;
        }
        check_range("max_retries", request.max_retries, 0, 20)?;
        check_range("timeout", request.timeout, 1, MAX_TIMEOUT_SECS)?;
        check_range("auto_disable_after_failures", request.auto_disable_after_failures, 1, 1000)?;
        check_range("max_in_flight", request.max_in_flight, 1, 1000)?;
        Ok(HookChanges {
            event: request.event,
            target: request.target,
            service_id: request.service_id,
            method: request.method,
            headers: request.headers,
            is_active: request.is_active,
            max_retries: request.max_retries,
            timeout: request.timeout,
            auto_disable_after_failures: request.auto_disable_after_failures,
            // In range, so never 0.
            max_in_flight: request.max_in_flight.map(|cap| cap.and_then(NonZeroU32::new)),
            secret: None,
        })
    }

    /// Only absolute `http`/`https` URLs with a host, that the target
    /// policy does not refuse already (a literal IP, or `http` when `https`
    /// is required; a host name is judged when a delivery connects).
    fn check_target(&self, target: &str) -> Result<(), HooksError> {
        let refused = |why: &str| invalid(format!("target {target:?} is not a valid URL: {why}"));
        if target.len() > 2000 {
            return Err(refused("longer than 2000 characters"));
        }
        let url = url::Url::parse(target).map_err(|e| refused(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(refused("only http and https are allowed"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refused("it has no host"));
        }
        Ok(self.targets.check_url(&url)?)
    }
}

fn invalid(why: impl Into<String>) -> HooksError {
    HooksError::Invalid(why.into())
}

fn check_range(name: &str, value: Option<Option<u32>>, min: u32, max: u32) -> Result<(), HooksError> {
    match value {
        Some(Some(v)) if !(min..=max).contains(&v) => Err(invalid(format!("{name} must be between {min} and {max}"))),
        _ => Ok(()),
    }
}

fn check_headers(headers: &BTreeMap<String, String>) -> Result<(), HooksError> {
    if headers.len() > 20 {
        return Err(invalid("at most 20 headers"));
    }
    for (name, value) in headers {
        check_hook_header(name, value).map_err(|refused| invalid(refused.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::store::tests::memory;
    use crate::targets::Targets;

    fn service(overlap: Duration) -> HookService {
        let catalog = Arc::new(SharedCatalog::new(Catalog::load(None).unwrap()));
        let targets = Arc::new(TargetPolicy::new(Targets::default()));
        HookService::new(memory(), catalog, targets, Quotas::default(), overlap)
    }

    fn request(academy: Option<&str>) -> HookRequest {
        HookRequest {
            event: Some("form_entry.added".into()),
            target: Some("https://example.com/hook".into()),
            academy: academy.map(str::to_owned),
            ..HookRequest::default()
        }
    }

    fn academy(name: &str) -> Scope {
        Scope::Academy(name.into())
    }

    #[tokio::test]
    async fn an_academy_s_hook_is_its_own_and_only_a_superadmin_chooses_one() {
        let hooks = service(Duration::ZERO);
        let own = hooks.create(&academy("a"), request(None)).await.unwrap();
        assert_eq!(own.academy.as_deref(), Some("a"));
        assert!(own.secret.starts_with("whsec_"));
        let chosen = hooks.create(&academy("a"), request(Some("b"))).await;
        assert!(matches!(chosen, Err(HooksError::Invalid(why)) if why.contains("only superadmins")));
        let theirs = hooks.create(&Scope::All, request(Some("b"))).await.unwrap();
        assert_eq!(theirs.academy.as_deref(), Some("b"));
        assert!(matches!(hooks.create(&Scope::All, request(Some("Not A Slug"))).await, Err(HooksError::Invalid(_))));
        assert_eq!(hooks.create(&Scope::All, request(None)).await.unwrap().academy, None, "every academy's events");
        assert!(matches!(hooks.update(&academy("a"), theirs.id, request(None)).await, Err(HooksError::NotFound)));
        let moved = HookRequest { academy: Some("b".into()), ..HookRequest::default() };
        assert!(matches!(hooks.update(&academy("a"), own.id, moved).await, Err(HooksError::Invalid(_))));
    }

    #[tokio::test]
    async fn settings_are_checked_before_anything_is_written() {
        let hooks = service(Duration::ZERO);
        let refused = [
            (HookRequest { event: Some("no.such_event".into()), ..request(None) }, "Unexpected event"),
            (HookRequest { target: Some("ftp://example.com".into()), ..request(None) }, "only http and https"),
            (HookRequest { target: Some("http://127.0.0.1/h".into()), ..request(None) }, ""),
            (HookRequest { max_in_flight: Some(Some(0)), ..request(None) }, "between 1 and 1000"),
            (HookRequest { timeout: Some(Some(301)), ..request(None) }, "between 1 and 300"),
            (HookRequest { service_id: Some(Some(" ".into())), ..request(None) }, "service_id"),
            (HookRequest { target: None, ..request(None) }, "event and target are required"),
        ];
        for (request, why) in refused {
            let error = hooks.create(&academy("a"), request).await.unwrap_err();
            assert!(error.to_string().contains(why), "{error}");
            if why.is_empty() {
                assert!(matches!(error, HooksError::TargetRefused(_)), "a loopback target: {error}");
            }
        }
        assert!(hooks.store.hooks(&Scope::All).is_empty(), "nothing written");
    }

    #[tokio::test]
    async fn a_rotated_secret_keeps_signing_for_the_overlap_and_deletes_need_a_filter() {
        let hooks = service(Duration::from_secs(3600));
        let hook = hooks.create(&academy("a"), request(None)).await.unwrap();
        let rotated = hooks.rotate_secret(&academy("a"), hook.id).await.unwrap();
        assert_ne!(rotated.secret, hook.secret);
        assert_eq!(rotated.previous_secret.map(|previous| previous.secret), Some(hook.secret));
        assert!(matches!(hooks.rotate_secret(&academy("b"), hook.id).await, Err(HooksError::NotFound)));

        let everything = HookSelector::default();
        assert!(matches!(hooks.delete_matching(&academy("a"), everything).await, Err(HooksError::Invalid(_))));
        let by_event = HookSelector { events: Some(vec!["form_entry.added".into()]), ..HookSelector::default() };
        assert_eq!(hooks.delete_matching(&academy("a"), by_event).await.unwrap(), 1);
        assert!(matches!(hooks.delete(&academy("a"), hook.id).await, Err(HooksError::NotFound)));
    }
}
