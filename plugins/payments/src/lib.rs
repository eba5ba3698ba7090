//! Serializer for the payments family: `subscription.subscription_created`
//! (`payments.Subscription`) and `planfinancing.planfinancing_created`
//! (`payments.PlanFinancing`). Stripe ids, card data and internal notes on
//! the source rows never reach a receiver.

use serde::{Deserialize, Serialize};
use wasmhook_plugin_shapes::{SlugRef, UserContact};
use wasmhook_sdk::{Decision, Error, Event, Result};

#[derive(Deserialize, Serialize)]
struct Invoice {
    id: u64,
    amount: f64,
    currency: String,
    status: String,
    paid_at: Option<String>,
}

#[derive(Deserialize, Serialize)]
struct Subscription {
    id: u64,
    status: String,
    paid_at: String,
    valid_until: Option<String>,
    is_refundable: bool,
    next_payment_at: String,
    user: UserContact,
    academy: SlugRef,
    selected_cohort: Option<SlugRef>,
    plans: Vec<SlugRef>,
    invoices: Vec<Invoice>,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize, Serialize)]
struct PlanFinancing {
    id: u64,
    status: String,
    monthly_price: f64,
    plan_expires_at: Option<String>,
    valid_until: String,
    next_payment_at: String,
    user: UserContact,
    academy: SlugRef,
    selected_cohort: Option<SlugRef>,
    plans: Vec<SlugRef>,
    created_at: String,
    updated_at: String,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    match event.name.as_str() {
        "subscription.subscription_created" => Decision::deliver(&event.data::<Subscription>()?),
        "planfinancing.planfinancing_created" => Decision::deliver(&event.data::<PlanFinancing>()?),
        other => Err(Error::msg(format!("the payments serializer does not know event {other}"))),
    }
}
