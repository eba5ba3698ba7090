//! Serializer for `marketing.FormEntry` events: `form_entry.added` (and
//! `changed`, `new_deal`: the whole lead) and `form_entry.won_or_lost` (the
//! verdict only). The CRM's internal ids, sales notes and the visitor's IP
//! stay behind.

use serde::{Deserialize, Serialize};
use wasmhook_sdk::{Decision, Event, Result};

/// The lead as the form captured it.
#[derive(Deserialize, Serialize)]
struct FormEntry {
    id: u64,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    course: Option<String>,
    deal_status: Option<String>,
    location: Option<String>,
    language: String,
    utm_source: Option<String>,
    utm_medium: Option<String>,
    utm_campaign: Option<String>,
    utm_content: Option<String>,
    gclid: Option<String>,
    tags: String,
    country: Option<String>,
    city: Option<String>,
    storage_status: String,
    created_at: String,
    updated_at: String,
}

/// Whether the lead converted.
#[derive(Deserialize, Serialize)]
struct WonOrLost {
    id: u64,
    first_name: String,
    last_name: String,
    email: Option<String>,
    deal_status: Option<String>,
    updated_at: String,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    match event.name.as_str() {
        "form_entry.won_or_lost" => Decision::deliver(&event.data::<WonOrLost>()?),
        _ => Decision::deliver(&event.data::<FormEntry>()?),
    }
}
