//! Organizations, the current user and the access token.

use super::PageParams;
use crate::client::Client;
use crate::error::Result;
use crate::models::{AccessToken, Organization, User};
use crate::page::Page;
use crate::path::{self, ApiPath};
use crate::request::ApiRequest;

impl Client {
    /// `GET /v2/organizations`: the organizations the token can access.
    pub async fn list_organizations(&self, params: &PageParams) -> Result<Page<Organization>> {
        let request = ApiRequest::get(ApiPath::v2().lit("organizations"))
            .paging(params.page, params.per_page);
        self.page(request).await
    }

    /// `GET /v2/organizations/{org}`.
    pub async fn get_organization(&self, org: &str) -> Result<Organization> {
        self.json(ApiRequest::get(path::org(org)?)).await
    }

    /// `GET /v2/user`: the user who owns the token (scope `read_user`).
    pub async fn current_user(&self) -> Result<User> {
        self.json(ApiRequest::get(ApiPath::v2().lit("user"))).await
    }

    /// `GET /v2/access-token`: the token's UUID and scopes (no scope needed).
    pub async fn access_token(&self) -> Result<AccessToken> {
        self.json(ApiRequest::get(ApiPath::v2().lit("access-token")))
            .await
    }
}
