//! Organizations, and the token's own identity (`/v2/user`,
//! `/v2/access-token`).

use serde::{Deserialize, Serialize};

use super::Extra;
use crate::timestamp::Timestamp;

/// An organization (`GET /v2/organizations/{org}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    /// UUID.
    pub id: String,
    /// URL slug, used in every other path.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// API URL.
    #[serde(default)]
    pub url: Option<String>,
    /// Web URL.
    #[serde(default)]
    pub web_url: Option<String>,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Fields not modelled here (pipelines_url, agents_url, …).
    #[serde(flatten)]
    pub extra: Extra,
}

/// The user who owns the token (`GET /v2/user`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// UUID.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// GraphQL id.
    #[serde(default)]
    pub graphql_id: Option<String>,
    /// Avatar image URL.
    #[serde(default)]
    pub avatar_url: Option<String>,
    /// When the account was created.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The token in use and its scopes (`GET /v2/access-token`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessToken {
    /// Token UUID (not the secret).
    pub uuid: String,
    /// Granted scopes, e.g. `read_builds`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The token's description.
    #[serde(default)]
    pub description: Option<String>,
    /// When it was created (often `YYYY-MM-DD HH:MM:SS UTC`).
    #[serde(default)]
    pub created_at: Option<Timestamp>,
    /// When it expires, if it does.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// Its owner.
    #[serde(default)]
    pub user: Option<super::UserSummary>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}

impl AccessToken {
    /// Whether the token has `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}
