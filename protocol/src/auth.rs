//! Who may do what: every API request carries a bearer token, and each token has a role.

use serde::{Deserialize, Serialize};

/// What a token lets its holder do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    /// The operator: everything, across tenants, including issuing tokens.
    Admin,
    /// A tenant's user: submits, sees, cancels, downloads and is invoiced for that tenant's
    /// jobs only.
    Submitter,
    /// A provider's machine: announces itself, claims tasks, fetches the scenes of the tasks it
    /// holds.
    Worker,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Submitter, Role::Worker];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Submitter => "submitter",
            Role::Worker => "worker",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Which workers may render a job: any, or only those the operator verified (their tokens were
/// issued as verified), the farm's dedicated pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Trust {
    #[default]
    Any,
    Verified,
}

impl Trust {
    pub fn as_str(self) -> &'static str {
        match self {
            Trust::Any => "any",
            Trust::Verified => "verified",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [Trust::Any, Trust::Verified]
            .into_iter()
            .find(|t| t.as_str() == name)
    }

    pub fn is_any(&self) -> bool {
        *self == Trust::Any
    }
}

/// A token to issue (`POST /api/tokens`). What a worker token states about its machine bounds
/// what the machine is paid: its device class and threads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewToken {
    pub role: Role,
    /// A submitter's tenant.
    pub tenant: Option<String>,
    /// Who holds it: a person, or for a worker the name its work is billed under.
    pub name: String,
    /// A worker's device class (the price table's key).
    pub device_class: Option<String>,
    /// A worker's threads (CPU workers are paid per core).
    pub threads: Option<u32>,
    /// A worker the operator vouches for: it may render jobs that take verified workers only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub verified: bool,
}

/// A token just issued: the secret is shown once and stored only as a hash.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedToken {
    pub id: i64,
    pub token: String,
}

/// A token as the operator lists it, without its secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: i64,
    pub role: Role,
    pub tenant: Option<String>,
    pub name: String,
    pub device_class: Option<String>,
    pub threads: Option<u32>,
    pub verified: bool,
    pub created_at: f64,
    pub revoked: bool,
}
