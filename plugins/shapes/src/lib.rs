//! Nested shapes that several bundled serializers embed in their payloads
//! (seed 001 uses the same `user`, `cohort`, `academy` summaries across
//! families). Each struct is an allow-list: deserializing a richer source
//! object into it keeps these fields and nothing else.

use serde::{Deserialize, Serialize};

/// A user by name: `{id, first_name, last_name}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserName {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
}

/// A user with the email to reach them: `{id, first_name, last_name, email}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct UserContact {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// Any slugged record by reference: `{id, name, slug}` (cohorts, academies,
/// plans, mentorship services).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SlugRef {
    pub id: u64,
    pub name: String,
    pub slug: String,
}
