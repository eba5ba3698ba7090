//! Component uploads being received: bounded per academy and in all, and
//! checked *before* the body is read, so parallel uploads cost memory only
//! up to the bounds (each may buffer up to `api::transformers::MAX_COMPONENT`
//! and is then compiled). Over a bound the upload is refused, not queued: a
//! queue would hold connections and give no answer to the client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{Limit, Refused};

/// The bounds (`None`: unbounded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadBounds {
    pub per_academy: Option<u64>,
    pub total: Option<u64>,
}

/// Uploads in flight, by academy (superadmins' count in the total only).
#[derive(Debug)]
pub struct UploadSlots {
    bounds: UploadBounds,
    in_flight: Mutex<InFlight>,
}

#[derive(Debug, Default)]
struct InFlight {
    total: u64,
    /// Only academies with an upload in flight: the map does not grow.
    by_academy: HashMap<String, u64>,
}

/// One upload's place, given back when dropped (the upload was stored,
/// refused or its connection lost).
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    academy: Option<String>,
}

impl UploadSlots {
    pub fn new(bounds: UploadBounds) -> Arc<UploadSlots> {
        Arc::new(UploadSlots { bounds, in_flight: Mutex::default() })
    }

    /// Uploads in flight now (the `/metrics` gauge).
    pub fn in_flight(&self) -> u64 {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// A place for an upload by `academy` (`None`: a superadmin), or the
    /// bound it would cross.
    pub fn acquire(self: &Arc<Self>, academy: Option<&str>) -> Result<UploadSlot, Refused> {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(total) = self.bounds.total.filter(|&total| in_flight.total >= total) {
            return Err(refused(Limit::UploadsInFlight, format!("{total} component uploads are being received")));
        }
        if let (Some(academy), Some(bound)) = (academy, self.bounds.per_academy) {
            let mine = in_flight.by_academy.get(academy).copied().unwrap_or(0);
            if mine >= bound {
                return Err(refused(
                    Limit::UploadsInFlightPerAcademy,
                    format!("academy {academy} has {mine} component uploads being received"),
                ));
            }
        }
        in_flight.total += 1;
        if let Some(academy) = academy {
            *in_flight.by_academy.entry(academy.to_owned()).or_default() += 1;
        }
        Ok(UploadSlot { slots: self.clone(), academy: academy.map(str::to_owned) })
    }
}

fn refused(limit: Limit, what: String) -> Refused {
    Refused {
        limit,
        detail: format!("Too many uploads in flight ({}): {what}; retry when one has finished.", limit.key()),
        retry_after: Some(Duration::from_secs(1)),
    }
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        let mut in_flight = self.slots.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        in_flight.total -= 1;
        if let Some(academy) = &self.academy
            && let Some(count) = in_flight.by_academy.get_mut(academy)
        {
            *count -= 1;
            if *count == 0 {
                in_flight.by_academy.remove(academy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_academy_and_in_all() {
        let slots = UploadSlots::new(UploadBounds { per_academy: Some(1), total: Some(2) });
        let a = slots.acquire(Some("a")).unwrap();
        assert_eq!(slots.acquire(Some("a")).unwrap_err().limit, Limit::UploadsInFlightPerAcademy);
        let b = slots.acquire(Some("b")).unwrap();
        assert_eq!(slots.acquire(None).unwrap_err().limit, Limit::UploadsInFlight, "superadmins count in the total");
        assert_eq!(slots.in_flight(), 2);
        drop(a);
        let _admin = slots.acquire(None).unwrap();
        drop(b);
        let _a = slots.acquire(Some("a")).unwrap();
        assert_eq!(slots.in_flight.lock().unwrap().by_academy.len(), 1, "finished academies are forgotten");
    }

    #[test]
    fn unbounded() {
        let slots = UploadSlots::new(UploadBounds::default());
        let held: Vec<UploadSlot> = (0..100).map(|_| slots.acquire(Some("a")).unwrap()).collect();
        assert_eq!(slots.in_flight(), 100);
        drop(held);
        assert_eq!(slots.in_flight(), 0);
    }
}
