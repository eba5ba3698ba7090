//! Who may do what: API token roles, and the scope of a request's reads.

use serde::{Deserialize, Serialize};

use crate::time::Time;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Everything, across academies.
    Superadmin,
    /// Manage this academy's hooks.
    Academy { academy: String },
    /// Post events (source applications).
    Service,
}

/// A stored token (without the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub id: u64,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
    pub created_at: Time,
}

/// Whose data a request may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One academy: its own hooks only.
    Academy(String),
    /// Superadmin: every hook, including those not tied to an academy.
    All,
}

impl Scope {
    /// Whether a record of `academy` is visible in this scope.
    pub fn sees(&self, academy: Option<&str>) -> bool {
        match self {
            Scope::All => true,
            Scope::Academy(own) => academy == Some(own.as_str()),
        }
    }
}
