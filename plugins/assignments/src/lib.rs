//! Serializer for `assignments.Task` events: `assignment.assignment_created`,
//! `assignment.assignment_status_updated` (the full task) and
//! `assignment.assignment_revision_status_updated` (the review summary).
//!
//! The input is the task row with its relations; each payload struct lists
//! the fields receivers get, so anything else on the row (the student's
//! password hash, the teacher's private notes…) never leaves.

use serde::{Deserialize, Serialize};
use wasmhook_plugin_shapes::{SlugRef, UserName};
use wasmhook_sdk::{Decision, Event, Result};

#[derive(Deserialize, Serialize)]
struct Telemetry {
    session_duration: u64,
    percentage: u32,
    completed_at: Option<String>,
}

/// `TaskHookSerializer`: the whole task.
#[derive(Deserialize, Serialize)]
struct Task {
    id: u64,
    title: String,
    task_status: String,
    associated_slug: String,
    description: String,
    revision_status: String,
    github_url: Option<String>,
    live_url: Option<String>,
    task_type: String,
    user: UserName,
    opened_at: Option<String>,
    read_at: Option<String>,
    reviewed_at: Option<String>,
    delivered_at: Option<String>,
    cohort: Option<SlugRef>,
    assignment_telemetry: Option<Telemetry>,
    created_at: String,
    updated_at: String,
}

/// What a reviewer's verdict changes, for revision events.
#[derive(Deserialize, Serialize)]
struct Revision {
    id: u64,
    title: String,
    task_status: String,
    revision_status: String,
    github_url: Option<String>,
    live_url: Option<String>,
    reviewed_at: Option<String>,
    user: UserName,
    cohort: Option<SlugRef>,
    created_at: String,
    updated_at: String,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    match event.name.as_str() {
        "assignment.assignment_revision_status_updated" => Decision::deliver(&event.data::<Revision>()?),
        _ => Decision::deliver(&event.data::<Task>()?),
    }
}
