//! The API's wire types: what requests carry and responses answer, with
//! their OpenAPI schemas. They mirror the domain model (`crate::model`)
//! field for field today and convert at the edge, so the model can change
//! (a new backend, a new field kept internal) without changing the wire,
//! and the wire is one place: the handlers answer these types and the CLI
//! reads them back.

mod activity;
mod catalog;
mod deliveries;
mod events;
mod hooks;
mod logs;
mod me;
mod page;
mod plugins;
mod status;
mod test_sends;
mod tokens;

pub use activity::{Activity, ActivityMinute};
pub use catalog::{EventDef, EventKind, EventSpec};
pub use deliveries::{Attempt, AttemptOutcome, FailedReplayed, HookErrorRecord, RetryFailed};
pub use events::{EventOutcome, EventRecord};
pub use hooks::{AttachedTransformer, HookSettings, HookView, HttpMethod};
pub use logs::{AttemptSummary, CleanedUp, HookAttempts, LogStats};
pub use me::Me;
pub use page::Page;
pub use plugins::{
    Breaker, Bucket, LimitOverrides, Limits, PluginDetail, PluginVersion, PluginView, RetryQueued, VersionDetail,
    VersionHealth,
};
pub use status::{Health, HealthRule, HookCounts, HookHealth, HooksHealth, QueueStatus, Status};
pub use test_sends::{TestRequest, TestSendResult};
pub use tokens::{CreatedToken, NewToken, Role, RoleName, TokenRecord};

/// Records of the model as the API shows them.
pub fn wire<M, W: From<M>>(records: Vec<M>) -> Vec<W> {
    records.into_iter().map(W::from).collect()
}
