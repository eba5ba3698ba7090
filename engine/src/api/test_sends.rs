//! `POST /v1/notify/hook/subscribe/{id}/test`: one signed test request to a
//! hook's target, made now and answered with the exchange (see
//! `delivery/test_send.rs`: as a delivery is made, within the target
//! policy, recorded nowhere). Academies test their own hooks only (another
//! academy's id answers 404).
//!
//! The target's failure is the test's result, not the API's: a refused
//! target, a refused connection or no answer in time answers 200 with
//! `error` set.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::ScopedHook;
use super::types::TestSendResult;

/// `POST /v1/notify/hook/subscribe/{id}/test`: sends the test message and
/// waits for the answer (up to the hook's timeout).
#[utoipa::path(post, path = "/v1/notify/hook/subscribe/{id}/test", operation_id = "test_hook",
    params(("id" = u64, Path)), responses((status = 200, body = TestSendResult)))]
pub async fn send(State(state): State<AppState>, ScopedHook(hook): ScopedHook) -> Json<TestSendResult> {
    Json(state.sender.test(&hook).await.into())
}
