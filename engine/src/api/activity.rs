//! `GET /v1/admin/activity` (superadmin): this engine's traffic over the
//! last hour, per minute (see `crate::activity`). Kept in this engine's
//! memory since it started: with several engines on one PostgreSQL
//! database, each answers its own.

use axum::Json;

use super::extract::Superadmin;
use super::types::{Activity, wire};
use crate::activity::{global, minute_now};

/// `GET /v1/admin/activity`: events, delivery attempts, successes and
/// failures of the last 60 minutes, oldest first.
#[utoipa::path(get, path = "/v1/admin/activity", operation_id = "engine_activity",
    responses((status = 200, body = Activity)))]
pub async fn activity(_: Superadmin) -> Json<Activity> {
    Json(Activity { minutes: wire(global().last_hour(minute_now())) })
}
