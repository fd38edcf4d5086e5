//! The `user` toolset: who the token belongs to, its scopes, and its
//! organizations.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::args::{PageNumber, PerPage};
use crate::error::{ApiResultExt, ToolError};
use crate::shape::ToolOutput;
use crate::shape::project::{pick, to_object};
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::tools::common::{page_params, paged};
use crate::toolset::Toolset;

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        tool(CurrentUser),
        tool(UserTokenOrganization),
        tool(AccessToken),
        tool(ListOrganizations),
    ]
}

/// No arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

const ORG_FIELDS: &[&str] = &["id", "slug", "name", "web_url", "url", "created_at"];

/// `current_user`.
#[derive(Debug)]
pub struct CurrentUser;

#[async_trait]
impl Handler for CurrentUser {
    type Args = NoArgs;
    const META: ToolMeta = ToolMeta {
        name: "current_user",
        title: "Get Current User",
        description: "The Buildkite user who owns the API token: id, name, email.",
        details: "Also returns when the user was created.",
        toolset: Toolset::User,
        access: Access::Read,
        scopes: &["read_user"],
    };

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<ToolOutput, ToolError> {
        let user = ctx
            .client
            .current_user()
            .await
            .context("the current user", Self::META.scopes)?;
        Ok(ToolOutput::json(pick(
            &to_object(&user),
            &["id", "name", "email", "created_at"],
        )))
    }
}

/// `user_token_organization`.
#[derive(Debug)]
pub struct UserTokenOrganization;

#[async_trait]
impl Handler for UserTokenOrganization {
    type Args = NoArgs;
    const META: ToolMeta = ToolMeta {
        name: "user_token_organization",
        title: "Get Organization for User Token",
        description: "The token's organization, whose slug is the org_slug other tools take; the first one if there are several (see list_organizations).",
        details: "Returns id, slug, name, web URL and creation time. When the token can access several organizations, the answer also counts the others and points to list_organizations.",
        toolset: Toolset::User,
        access: Access::Read,
        scopes: &["read_organizations"],
    };

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<ToolOutput, ToolError> {
        let page = ctx
            .client
            .list_organizations(&page_params(None, None, 100))
            .await
            .context("the token's organizations", Self::META.scopes)?;
        let count = page.items.len();
        let first = page.items.into_iter().next().ok_or_else(|| {
            ToolError::Other("no organization found for this API token: check the token belongs to a user in a Buildkite organization".into())
        })?;
        let mut org = pick(&to_object(&first), ORG_FIELDS);
        if count > 1 {
            org.insert("other_organizations".into(), json!(count - 1));
            org.insert(
                "note".into(),
                json!(
                    "the token can access several organizations: list_organizations lists them all"
                ),
            );
        }
        Ok(ToolOutput::json(org))
    }
}

/// `access_token`.
#[derive(Debug)]
pub struct AccessToken;

#[async_trait]
impl Handler for AccessToken {
    type Args = NoArgs;
    const META: ToolMeta = ToolMeta {
        name: "access_token",
        title: "Get Access Token",
        description: "The API token in use: UUID, scopes, description, expiry and owner. Use it to check whether a 403 is a missing scope.",
        details: "Also returns the token's creation time.",
        toolset: Toolset::User,
        access: Access::Read,
        scopes: &["read_user"],
    };

    async fn run(&self, ctx: &ToolContext, _: NoArgs) -> Result<ToolOutput, ToolError> {
        let token = ctx
            .client
            .access_token()
            .await
            .context("the access token", Self::META.scopes)?;
        Ok(ToolOutput::json(pick(
            &to_object(&token),
            &[
                "uuid",
                "scopes",
                "description",
                "created_at",
                "expires_at",
                "user",
            ],
        )))
    }
}

/// Arguments of `list_organizations`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListOrganizationsArgs {
    /// Page number, from 1 (default 1).
    pub page: Option<PageNumber>,
    /// Organizations per page, 1–100 (default 30).
    pub per_page: Option<PerPage>,
}

/// `list_organizations`.
#[derive(Debug)]
pub struct ListOrganizations;

#[async_trait]
impl Handler for ListOrganizations {
    type Args = ListOrganizationsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_organizations",
        title: "List Organizations",
        description: "Every organization the token can access, with the slug other tools take as org_slug.",
        details: "",
        toolset: Toolset::User,
        access: Access::Read,
        scopes: &["read_organizations"],
    };

    async fn run(
        &self,
        ctx: &ToolContext,
        args: ListOrganizationsArgs,
    ) -> Result<ToolOutput, ToolError> {
        let params = page_params(args.page, args.per_page, 30);
        let (page_no, per_page) = (params.page.unwrap_or(1), params.per_page.unwrap_or(30));
        let page = ctx
            .client
            .list_organizations(&params)
            .await
            .context("the organizations", Self::META.scopes)?;
        let items = page
            .items
            .iter()
            .map(|o| pick(&to_object(o), ORG_FIELDS).into())
            .collect();
        Ok(paged(&page, page_no, per_page, items))
    }
}
