//! Lists a pipeline's most recent failed builds with the `buildkite-api` crate.
//!
//! ```sh
//! BUILDKITE_API_TOKEN=bkua_… cargo run --example list_failed_builds -- acme app [branch]
//! ```
//!
//! `BUILDKITE_BASE_URL` points it at another API root (a proxy, or a fake).

use std::process::ExitCode;

use buildkite_api::{BuildState, Client, ListBuildsParams};

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (org, pipeline, branch) = match args.as_slice() {
        [org, pipeline] => (org, pipeline, None),
        [org, pipeline, branch] => (org, pipeline, Some(branch.clone())),
        _ => {
            eprintln!("usage: list_failed_builds <org-slug> <pipeline-slug> [branch]");
            return ExitCode::from(2);
        }
    };
    match run(org, pipeline, branch).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(org: &str, pipeline: &str, branch: Option<String>) -> buildkite_api::Result<()> {
    let token = std::env::var("BUILDKITE_API_TOKEN").unwrap_or_default();
    if token.is_empty() {
        eprintln!("note: BUILDKITE_API_TOKEN is not set; the API will answer 401");
    }
    let mut builder = Client::builder().token(token);
    if let Ok(base_url) = std::env::var("BUILDKITE_BASE_URL") {
        builder = builder.base_url(base_url);
    }
    let client = builder.build()?;

    let params = ListBuildsParams {
        state: vec![BuildState::Failed],
        branch: branch.into_iter().collect(),
        exclude_jobs: Some(true),
        per_page: Some(20),
        ..ListBuildsParams::default()
    };
    let page = client.list_pipeline_builds(org, pipeline, &params).await?;
    if page.items.is_empty() {
        println!("no failed builds in {org}/{pipeline}");
    }
    for build in &page.items {
        println!(
            "#{:<6} {:<8} {:<24} {}  {}",
            build.number,
            build.state,
            build.branch.as_deref().unwrap_or("-"),
            build
                .message
                .as_deref()
                .and_then(|m| m.lines().next())
                .unwrap_or(""),
            build.web_url.as_deref().unwrap_or(""),
        );
    }
    if let Some(next) = page.next_page {
        println!("(more failed builds on page {next})");
    }
    Ok(())
}
