//! API tokens on the wire (never the token itself, but once at creation).

use serde::{Deserialize, Serialize};

use crate::model;
use crate::time::Time;

/// What a token may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum Role {
    /// Everything, across academies.
    Superadmin,
    /// Manage this academy's hooks.
    Academy { academy: String },
    /// Post events (source applications).
    Service,
}

impl From<model::Role> for Role {
    fn from(role: model::Role) -> Self {
        match role {
            model::Role::Superadmin => Role::Superadmin,
            model::Role::Academy { academy } => Role::Academy { academy },
            model::Role::Service => Role::Service,
        }
    }
}

/// A stored token (without the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TokenRecord {
    pub id: u64,
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
    pub created_at: Time,
}

impl From<model::TokenRecord> for TokenRecord {
    fn from(model::TokenRecord { id, name, role, created_at }: model::TokenRecord) -> Self {
        TokenRecord { id, name, role: role.into(), created_at }
    }
}

/// A token to create. `academy` goes with the `academy` role only: given
/// with another role it is refused rather than ignored, so a caller who
/// meant to limit a token to one academy does not get a wider one.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: RoleName,
    pub academy: Option<String>,
}

/// The role of a token to create.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleName {
    Superadmin,
    Academy,
    Service,
}

/// A new token, with the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: TokenRecord,
    /// The token itself: shown this once.
    pub token: String,
}
