//! Hooks on the wire.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use serde::{Deserialize, Serialize};

use crate::model;
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

impl From<model::HttpMethod> for HttpMethod {
    fn from(method: model::HttpMethod) -> Self {
        match method {
            model::HttpMethod::Post => HttpMethod::Post,
            model::HttpMethod::Put => HttpMethod::Put,
            model::HttpMethod::Patch => HttpMethod::Patch,
        }
    }
}

impl From<HttpMethod> for model::HttpMethod {
    fn from(method: HttpMethod) -> Self {
        match method {
            HttpMethod::Post => model::HttpMethod::Post,
            HttpMethod::Put => model::HttpMethod::Put,
            HttpMethod::Patch => model::HttpMethod::Patch,
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

impl From<model::HookSettings> for HookSettings {
    fn from(settings: model::HookSettings) -> Self {
        let model::HookSettings {
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
        HookSettings {
            event,
            target,
            service_id,
            method: method.into(),
            headers,
            is_active,
            max_retries,
            timeout,
            auto_disable_after_failures,
            max_in_flight,
        }
    }
}

/// A hook transformer component attached to a hook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttachedTransformer {
    pub sha256: String,
    pub size: usize,
    pub uploaded_at: Time,
}

impl From<model::AttachedTransformer> for AttachedTransformer {
    fn from(model::AttachedTransformer { sha256, size, uploaded_at }: model::AttachedTransformer) -> Self {
        AttachedTransformer { sha256, size, uploaded_at }
    }
}

/// A hook as the API shows it: seed 001's fields, then ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HookView {
    pub id: u64,
    #[serde(flatten)]
    pub settings: HookSettings,
    pub created_at: Time,
    pub updated_at: Time,
    pub total_calls: u64,
    /// Of `total_calls`, those that succeeded (the others failed): the
    /// console's success rate.
    #[serde(default)]
    pub successes: u64,
    /// Failures since the last success (`auto_disable_after_failures`
    /// counts them).
    #[serde(default)]
    pub consecutive_failures: u32,
    pub last_call_at: Option<Time>,
    pub last_response_code: Option<u16>,
    pub academy: Option<String>,
    pub transformer: Option<AttachedTransformer>,
}
