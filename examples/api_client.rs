//! Investigates a pipeline's latest failed build with the `buildkite-api`
//! crate alone: the recent builds (of a branch), the latest failed one's
//! failed jobs, the end of the first failed job's log, and the build's
//! annotations.
//!
//! ```sh
//! # No account, no network: the bundled demo recording (organization acme).
//! cargo run --example api_client
//!
//! # The live API: a token with read_builds, read_build_logs (and read_user).
//! BUILDKITE_API_TOKEN=bkua_… cargo run --example api_client -- my-org my-pipeline --branch main
//! BUILDKITE_API_TOKEN=bkua_… BUILDKITE_ORG=my-org BUILDKITE_PIPELINE=my-pipeline \
//!     cargo run --example api_client -- --build 4242
//! ```
//!
//! `BUILDKITE_BASE_URL` points it at another API root. The demo recording
//! answers exactly the requests this program makes for `acme/web` and the
//! branch `feature/discount-codes` (the demo's defaults): replay matches
//! method, path and query.

use std::process::ExitCode;

use bk_examples::demo::{self, Mode};
use bk_examples::text::{html_to_text, log_tail, truncate};
use buildkite_api::{
    BuildState, Client, GetBuildParams, Job, JobRef, JobState, ListAnnotationsParams,
    ListBuildsParams,
};

/// Log lines shown from the failed job.
const TAIL_LINES: usize = 15;

/// What the command line asked for.
#[derive(Debug)]
struct Options {
    org: String,
    pipeline: String,
    build: Option<u64>,
    branch: Option<String>,
}

const USAGE: &str = "usage: api_client [ORG [PIPELINE]] [--branch BRANCH] [--build NUMBER]
  ORG, PIPELINE    default: $BUILDKITE_ORG, $BUILDKITE_PIPELINE (demo: acme, web)
  --branch BRANCH  look for the latest failed build of this branch only
                   (default: every branch; demo: feature/discount-codes)
  --build N        investigate build N instead of the latest failed one
Without BUILDKITE_API_TOKEN it replays the bundled demo recording.";

fn parse_args(mode: &Mode) -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut build = None;
    let mut branch = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--build" => {
                let value = args.next().ok_or("--build needs a number")?;
                let number = value
                    .trim_start_matches('#')
                    .parse()
                    .map_err(|_| format!("--build: {value:?} is not a build number"))?;
                build = Some(number);
            }
            "--branch" => branch = Some(args.next().ok_or("--branch needs a name")?),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    if positional.len() > 2 {
        return Err("too many arguments".into());
    }
    let mut positional = positional.into_iter();
    let (default_org, default_pipeline) = match mode {
        Mode::Demo => (
            Some(demo::DEMO_ORG.to_owned()),
            Some(demo::DEMO_PIPELINE.to_owned()),
        ),
        Mode::Live => (
            demo::env_any(&["BUILDKITE_ORG", "BUILDKITE_ORGANIZATION_SLUG"]),
            demo::env_any(&["BUILDKITE_PIPELINE", "BUILDKITE_PIPELINE_SLUG"]),
        ),
    };
    let org = positional
        .next()
        .or(default_org)
        .ok_or("no organization: pass ORG or set BUILDKITE_ORG")?;
    let pipeline = positional
        .next()
        .or(default_pipeline)
        .ok_or("no pipeline: pass PIPELINE or set BUILDKITE_PIPELINE")?;
    if *mode == Mode::Demo && branch.is_none() && org == demo::DEMO_ORG {
        branch = Some("feature/discount-codes".to_owned());
    }
    Ok(Options {
        org,
        pipeline,
        build,
        branch,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let (client, mode) = match demo::client_from_env() {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    let options = match parse_args(&mode) {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match mode {
        Mode::Demo => println!(
            "Replaying the demo recording {} (no token, no network).\n",
            demo::demo_har_path().display()
        ),
        Mode::Live => println!("Using the Buildkite API at {}.\n", client.base_url()),
    }
    match investigate(&client, &options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn investigate(client: &Client, options: &Options) -> buildkite_api::Result<()> {
    let (org, pipeline) = (options.org.as_str(), options.pipeline.as_str());
    // Who the token belongs to (a token without read_user is fine).
    match client.current_user().await {
        Ok(user) => println!("Signed in as {} <{}>", user.name, user.email),
        Err(error) => println!("(could not read the token's user: {error})"),
    }

    let number = match options.build {
        Some(number) => number,
        None => {
            match latest_failed_build(client, org, pipeline, options.branch.as_deref()).await? {
                Some(number) => number,
                None => {
                    println!("No failed build among them; pass --build N to pick one.");
                    return Ok(());
                }
            }
        }
    };

    // The build with its jobs, retried attempts included (the same request
    // the investigation tools make); `is_failure` sets the attempts aside:
    // the last attempt of each step is what decided the build.
    let build = client
        .get_build(
            org,
            pipeline,
            number,
            &GetBuildParams {
                include_retried_jobs: Some(true),
                include_test_engine: Some(true),
                ..GetBuildParams::default()
            },
        )
        .await?;
    println!(
        "\n== {org}/{pipeline} #{} — {} on {}",
        build.number,
        build.state,
        build.branch.as_deref().unwrap_or("?")
    );
    if let Some(message) = build.message.as_deref().and_then(|m| m.lines().next()) {
        println!("   {message}");
    }
    if let Some(url) = &build.web_url {
        println!("   {url}");
    }

    let failed: Vec<&Job> = build.jobs.iter().filter(|job| is_failure(job)).collect();
    println!(
        "\n== Failed jobs ({} of {})",
        failed.len(),
        build.jobs.len()
    );
    for job in &failed {
        println!(
            "   {:<10} exit {:<4} {}  ({})",
            job.state.as_ref().map_or("?", JobState::as_str),
            job.exit_status.map_or("-".into(), |s| s.to_string()),
            job_label(job),
            job.id
        );
    }

    if let Some(job) = failed.iter().find(|job| job.kind == "script") {
        let log = client
            .get_job_log(&JobRef::in_build(org, pipeline, number, &job.id))
            .await?
            .collect(64 << 20)
            .await?;
        println!(
            "\n== Last {TAIL_LINES} lines of {:?} ({} bytes of log)",
            job_label(job),
            log.len()
        );
        for line in log_tail(&log, TAIL_LINES) {
            println!("   | {}", truncate(&line, 160));
        }
    }

    let annotations = client
        .list_build_annotations(
            org,
            pipeline,
            number,
            &ListAnnotationsParams {
                scope: Some("all".into()),
                page: Some(1),
                per_page: Some(100),
                ..ListAnnotationsParams::default()
            },
        )
        .await?;
    println!("\n== Annotations ({})", annotations.items.len());
    for annotation in &annotations.items {
        println!(
            "   [{}] {}",
            annotation
                .style
                .as_ref()
                .map_or_else(|| "default".to_owned(), |s| s.to_string()),
            annotation.context.as_deref().unwrap_or("default")
        );
        let text = html_to_text(annotation.body_html.as_deref().unwrap_or(""));
        for line in text.lines().take(6) {
            println!("      {}", truncate(line, 150));
        }
        if text.lines().count() > 6 {
            println!("      …");
        }
    }
    if let Some(window) = client.last_rate_limit().organization
        && let (Some(remaining), Some(limit)) = (window.remaining, window.limit)
    {
        println!("\n(rate limit: {remaining} of {limit} requests left)");
    }
    Ok(())
}

/// Lists the pipeline's recent builds (of `branch`, if given) and gives the
/// latest failed one's number.
async fn latest_failed_build(
    client: &Client,
    org: &str,
    pipeline: &str,
    branch: Option<&str>,
) -> buildkite_api::Result<Option<u64>> {
    let params = ListBuildsParams {
        branch: branch.map(str::to_owned).into_iter().collect(),
        exclude_jobs: Some(true),
        exclude_pipeline: Some(true),
        per_page: Some(30),
        ..ListBuildsParams::default()
    };
    let page = client.list_pipeline_builds(org, pipeline, &params).await?;
    match branch {
        Some(branch) => println!("\n== Recent builds of {org}/{pipeline} on {branch}"),
        None => println!("\n== Recent builds of {org}/{pipeline}"),
    }
    for build in page.items.iter().take(10) {
        println!(
            "   #{:<6} {:<9} {:<24} {}",
            build.number,
            build.state,
            truncate(build.branch.as_deref().unwrap_or("-"), 24),
            truncate(
                build
                    .message
                    .as_deref()
                    .and_then(|m| m.lines().next())
                    .unwrap_or(""),
                60
            ),
        );
    }
    if page.items.len() > 10 {
        println!("   … and {} more", page.items.len() - 10);
    }
    Ok(page
        .items
        .iter()
        .find(|build| build.state == BuildState::Failed)
        .map(|build| build.number))
}

/// A job that made the build fail (soft failures do not).
fn is_failure(job: &Job) -> bool {
    let failed = matches!(
        job.state,
        Some(JobState::Failed | JobState::TimedOut | JobState::Broken | JobState::Expired)
    );
    // A retried attempt did not decide the build; its retry did.
    failed && job.soft_failed != Some(true) && job.retried != Some(true)
}

fn job_label(job: &Job) -> &str {
    job.label
        .as_deref()
        .or(job.name.as_deref())
        .unwrap_or(job.kind.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The recording answers every call this program makes with the demo's
    /// defaults (a re-recording that lost one fails here).
    #[tokio::test]
    async fn the_demo_recording_answers_every_call() {
        let client = demo::demo_client().expect("the demo recording loads");
        let options = Options {
            org: demo::DEMO_ORG.into(),
            pipeline: demo::DEMO_PIPELINE.into(),
            build: None,
            branch: Some("feature/discount-codes".into()),
        };
        investigate(&client, &options)
            .await
            .expect("every call replays");
        assert_eq!(
            latest_failed_build(&client, "acme", "web", Some("feature/discount-codes"))
                .await
                .expect("replays"),
            Some(demo::DEMO_BUILD)
        );
    }
}
