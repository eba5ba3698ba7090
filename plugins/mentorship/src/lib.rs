//! Serializer for `session.mentorship_session_status`, a custom-logic event
//! ("manual receiver" in seed 000):
//!
//! * the payload goes to the **mentor's** academy (`mentor.academy`), not the
//!   academy the event was reported for;
//! * when the session has just `STARTED`, it also emits
//!   `session.mentorship_session_starting`, the event the notification
//!   ("your session is starting") hangs off.

use serde::{Deserialize, Serialize};
use wasmhook_plugin_shapes::{SlugRef, UserContact};
use wasmhook_sdk::{Decision, Delivery, Event, FollowUp, Result};

/// Name of the follow-up event emitted when a session starts.
pub const STARTING_EVENT: &str = "session.mentorship_session_starting";

#[derive(Deserialize)]
struct AcademySlug {
    slug: String,
}

/// The source row's mentor: their academy decides where the payload goes.
#[derive(Deserialize)]
struct MentorSource {
    id: u64,
    user: UserContact,
    services: Vec<SlugRef>,
    academy: AcademySlug,
}

#[derive(Deserialize, Serialize)]
struct Mentor {
    id: u64,
    user: UserContact,
    services: Vec<SlugRef>,
}

#[derive(Deserialize, Serialize)]
struct Service {
    id: u64,
    name: String,
    slug: String,
    duration: u64,
}

#[derive(Deserialize, Serialize)]
struct Bill {
    id: u64,
    status: String,
    total_duration_in_hours: f64,
    overtime_hours: f64,
}

/// `SessionHookSerializer`, generic over how the mentor is represented.
#[derive(Deserialize, Serialize)]
struct Session<M> {
    id: u64,
    status: String,
    started_at: Option<String>,
    ended_at: Option<String>,
    mentor: M,
    mentee: Option<UserContact>,
    service: Option<Service>,
    bill: Option<Bill>,
    created_at: String,
    updated_at: String,
}

/// Source object of the follow-up event.
#[derive(Serialize)]
struct Starting<'a> {
    session_id: u64,
    mentor: &'a UserContact,
    mentee: Option<&'a UserContact>,
    service: Option<&'a str>,
    started_at: Option<&'a str>,
}

#[wasmhook_sdk::serializer]
pub fn serialize(event: Event) -> Result<Decision> {
    let session: Session<MentorSource> = event.data()?;
    let MentorSource { id, user, services, academy } = session.mentor;
    let payload = Session {
        mentor: Mentor { id, user, services },
        id: session.id,
        status: session.status,
        started_at: session.started_at,
        ended_at: session.ended_at,
        mentee: session.mentee,
        service: session.service,
        bill: session.bill,
        created_at: session.created_at,
        updated_at: session.updated_at,
    };
    let mut delivery = Delivery::new(&payload)?.academy_override(academy.slug);
    if payload.status == "STARTED" {
        let starting = Starting {
            session_id: payload.id,
            mentor: &payload.mentor.user,
            mentee: payload.mentee.as_ref(),
            service: payload.service.as_ref().map(|s| s.slug.as_str()),
            started_at: payload.started_at.as_deref(),
        };
        delivery = delivery.emit(FollowUp::new(STARTING_EVENT, &starting)?);
    }
    Ok(delivery.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(status: &str) -> Event {
        let data = serde_json::json!({
            "id": 1, "status": status, "started_at": null, "ended_at": null,
            "mentor": {
                "id": 2, "academy": {"id": 4, "slug": "mentors-academy"}, "private_notes": "x",
                "user": {"id": 3, "first_name": "M", "last_name": "C", "email": "m@c.io"},
                "services": []
            },
            "mentee": null, "service": null, "bill": null,
            "created_at": "2025-01-20T14:00:00Z", "updated_at": "2025-01-20T15:00:00Z"
        });
        Event::new("session.mentorship_session_status", data.to_string()).with_academy("students-academy")
    }

    fn delivery(decision: Decision) -> Delivery {
        match decision {
            Decision::Deliver(delivery) => delivery,
            Decision::Skip(reason) => panic!("skipped: {reason}"),
        }
    }

    #[test]
    fn goes_to_the_mentors_academy() {
        let delivery = delivery(serialize(session("PENDING")).unwrap());
        assert_eq!(delivery.academy(), Some("mentors-academy"));
        assert!(!delivery.payload().contains("academy"), "{}", delivery.payload());
        assert!(!delivery.payload().contains("private_notes"));
    }

    #[test]
    fn a_started_session_emits_the_starting_event() {
        let delivery = delivery(serialize(session("STARTED")).unwrap());
        let names: Vec<_> = delivery.follow_ups().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, [STARTING_EVENT]);
        assert!(delivery.follow_ups()[0].data.contains(r#""session_id":1"#));
    }

    #[test]
    fn other_statuses_emit_nothing() {
        for status in ["PENDING", "COMPLETED", "FAILED", "IGNORED"] {
            assert!(delivery(serialize(session(status)).unwrap()).follow_ups().is_empty(), "{status}");
        }
    }
}
