//! API tokens: random secrets, stored only as their SHA-256, each with a role; issued and revoked
//! by the operator.

use sha2::{Digest, Sha256};
use tessera_protocol::auth::{NewToken, Role, TokenView};

use super::database::{DbError, params};
use super::{Store, StoreError, now};
use crate::untrusted::{LABEL_RULE, is_label};

pub(super) const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'submitter', 'worker')),
    tenant TEXT,
    name TEXT NOT NULL,
    device_class TEXT,
    threads INTEGER CHECK (threads >= 1),
    -- A worker the operator vouches for (Trust::Verified jobs).
    verified INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    revoked_at REAL
);
"#;

/// Prefix of every token, so a leaked one is easy to recognise (and to scan for).
const PREFIX: &str = "tsr_";

/// Who a valid token says its holder is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    Admin {
        name: String,
    },
    Submitter {
        name: String,
        tenant: String,
    },
    /// A worker is paid for at most these, whatever its results claim.
    Worker {
        name: String,
        device_class: String,
        threads: u32,
        /// The operator vouches for it: it may render jobs that take verified workers only.
        verified: bool,
    },
}

impl Principal {
    /// Who holds the token: a person, or a worker's billing name.
    pub fn name(&self) -> &str {
        match self {
            Principal::Admin { name }
            | Principal::Submitter { name, .. }
            | Principal::Worker { name, .. } => name,
        }
    }

    pub fn role(&self) -> Role {
        match self {
            Principal::Admin { .. } => Role::Admin,
            Principal::Submitter { .. } => Role::Submitter,
            Principal::Worker { .. } => Role::Worker,
        }
    }

    /// Whether the holder may see a job of `tenant`.
    pub fn sees_tenant(&self, tenant: &str) -> bool {
        match self {
            Principal::Admin { .. } => true,
            Principal::Submitter { tenant: own, .. } => own == tenant,
            Principal::Worker { .. } => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("unknown or revoked token")]
    Invalid,
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `bytes` random bytes from the operating system, in hex.
pub(crate) fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::getrandom(&mut buf).expect("the operating system's random number generator");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_label(what: &str, value: &str) -> Result<(), TokenError> {
    if is_label(value) {
        Ok(())
    } else {
        Err(TokenError::BadRequest(format!(
            "{what} must be {LABEL_RULE}"
        )))
    }
}

impl Store {
    /// Issues a token; returns its id and the secret, which is not kept.
    pub fn issue_token(&self, t: &NewToken) -> Result<(i64, String), TokenError> {
        check_label("name", &t.name)?;
        let bad = |m: &str| Err(TokenError::BadRequest(m.into()));
        match (t.role, &t.tenant) {
            (Role::Submitter, None) => return bad("a submitter token needs a tenant"),
            (Role::Submitter, Some(tenant)) => check_label("tenant", tenant)?,
            (_, Some(_)) => return bad("only submitter tokens belong to a tenant"),
            _ => {}
        }
        let (class, threads) = match t.role {
            Role::Worker => {
                let class = t.device_class.clone().unwrap_or_else(|| "cpu".into());
                check_label("device class", &class)?;
                let threads = t.threads.unwrap_or(1);
                if !(1..=4096).contains(&threads) {
                    return bad("threads must be between 1 and 4096");
                }
                (Some(class.to_lowercase()), Some(threads))
            }
            _ if t.device_class.is_some() || t.threads.is_some() || t.verified => {
                return bad("only worker tokens state a device class and threads, or are verified");
            }
            _ => (None, None),
        };
        let secret = format!("{PREFIX}{}", random_hex(24));
        let id: i64 = self
            .db()
            .query_row(
                "INSERT INTO tokens (hash, role, tenant, name, device_class, threads, verified,
                                     created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                params![
                    hash(&secret),
                    t.role.as_str(),
                    t.tenant,
                    t.name,
                    class,
                    threads,
                    t.verified,
                    now()
                ],
                |r| r.get(0),
            )
            .map_err(StoreError::from)?;
        self.sync()?;
        Ok((id, secret))
    }

    /// Who holds `secret`, if it is a valid token.
    pub fn authenticate(&self, secret: &str) -> Result<Principal, TokenError> {
        if !secret.starts_with(PREFIX) || secret.len() > 128 {
            return Err(TokenError::Invalid);
        }
        let row = self
            .reader()
            .query_opt(
                "SELECT role, tenant, name, device_class, threads, verified FROM tokens
                 WHERE hash = ?1 AND revoked_at IS NULL",
                params![hash(secret)],
                |r| {
                    Ok((
                        r.get::<String>(0)?,
                        r.get::<Option<String>>(1)?,
                        r.get::<String>(2)?,
                        r.get::<Option<String>>(3)?,
                        r.get::<Option<u32>>(4)?,
                        r.get::<bool>(5)?,
                    ))
                },
            )
            .map_err(StoreError::from)?;
        let Some((role, tenant, name, class, threads, verified)) = row else {
            return Err(TokenError::Invalid);
        };
        let corrupt = || TokenError::Store(StoreError::Corrupt(format!("token of '{name}'")));
        Ok(match Role::from_name(&role).ok_or_else(corrupt)? {
            Role::Admin => Principal::Admin { name },
            Role::Submitter => Principal::Submitter {
                tenant: tenant.ok_or_else(corrupt)?,
                name,
            },
            Role::Worker => Principal::Worker {
                device_class: class.ok_or_else(corrupt)?,
                threads: threads.ok_or_else(corrupt)?,
                verified,
                name,
            },
        })
    }

    pub fn tokens(&self) -> Result<Vec<TokenView>, StoreError> {
        let rows = self
            .reader()
            .query_map("SELECT * FROM tokens ORDER BY id", params![], |r| {
                let role: String = r.get("role")?;
                Ok(TokenView {
                    id: r.get("id")?,
                    // The table's CHECK allows no other role.
                    role: Role::from_name(&role).ok_or_else(|| DbError::Type {
                        column: "role".into(),
                        wanted: "a role",
                        found: "text",
                    })?,
                    tenant: r.get("tenant")?,
                    name: r.get("name")?,
                    device_class: r.get("device_class")?,
                    threads: r.get("threads")?,
                    verified: r.get("verified")?,
                    created_at: r.get("created_at")?,
                    revoked: r.get::<Option<f64>>("revoked_at")?.is_some(),
                })
            })?;
        Ok(rows)
    }

    /// Revokes a token; false when there is no such token or it was revoked already.
    pub fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        let changed = self.db().execute(
            "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now()],
        )?;
        self.sync()?;
        Ok(changed == 1)
    }
}
