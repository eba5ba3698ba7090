//! Serializer for `events.EventCheckin` events (`event.new_event_attendee`,
//! `event.new_event_order`): the check-in with its event and attendee. The
//! host's account and the private stream key stay behind.

use serde::{Deserialize, Serialize};
use wasmhook_plugin_shapes::UserContact;
use wasmhook_sdk::{Decision, Event, Result};

#[derive(Deserialize, Serialize)]
struct EventSummary {
    id: u64,
    title: String,
    slug: String,
    event_type: Option<String>,
    starting_at: String,
    ending_at: String,
    capacity: u32,
    online_event: bool,
    venue: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Checkin {
    id: u64,
    status: String,
    attended_at: Option<String>,
    event: EventSummary,
    attendee: Option<UserContact>,
    created_at: String,
    updated_at: String,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    Decision::deliver(&event.data::<Checkin>()?)
}
