//! A serializer for a hypothetical `orders.Order` model. It shows the three
//! things a serializer does: pick the fields receivers get, skip events
//! that should not be delivered, and log.

use serde::{Deserialize, Serialize};
use wasmhook_sdk::{Decision, Event, Level, Result, log};

/// The payload. Deserializing the source row into it keeps exactly these
/// fields; everything else on the row (card data, notes…) is dropped.
#[derive(Deserialize, Serialize)]
struct Order {
    id: u64,
    status: String,
    total: f64,
    #[serde(default)]
    test_mode: bool,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    let order: Order = event.data()?;
    if order.test_mode {
        return Ok(Decision::skip("test-mode orders are not delivered"));
    }
    log!(Level::Info, "order {} is {}", order.id, order.status);
    Decision::deliver(&order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_declared_fields() {
        let event = Event::new("orders.order_paid", r#"{"id":1,"status":"PAID","total":9.5,"card":"4242"}"#);
        let Decision::Deliver(delivery) = serialize(event).unwrap() else { panic!("skipped") };
        let payload: serde_json::Value = serde_json::from_str(delivery.payload()).unwrap();
        assert_eq!(payload, serde_json::json!({"id": 1, "status": "PAID", "total": 9.5, "test_mode": false}));
    }

    #[test]
    fn skips_test_orders() {
        let event = Event::new("orders.order_paid", r#"{"id":1,"status":"PAID","total":1,"test_mode":true}"#);
        assert!(matches!(serialize(event).unwrap(), Decision::Skip(_)));
    }
}
