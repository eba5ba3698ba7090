//! Who a token is (`GET /v1/me`) on the wire.

use serde::{Deserialize, Serialize};

use super::RoleName;
use crate::model;

/// The caller's role and, for an academy token, its academy: what a client
/// such as the console needs to choose its views.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"role": "academy", "academy": "downtown-campus"}))]
pub struct Me {
    pub role: RoleName,
    /// The academy of an academy token; `null` for the others.
    pub academy: Option<String>,
}

impl From<model::Role> for Me {
    fn from(role: model::Role) -> Self {
        match role {
            model::Role::Superadmin => Me { role: RoleName::Superadmin, academy: None },
            model::Role::Academy { academy } => Me { role: RoleName::Academy, academy: Some(academy) },
            model::Role::Service => Me { role: RoleName::Service, academy: None },
        }
    }
}
