//! Configuration shared by both binaries: flags and environment variables
//! (the reference server's names, plus ours), and their resolution into
//! [`Settings`].
//!
//! Resolution never panics: every problem is a [`ConfigError`] that reads as
//! one line and makes the binary exit with status 2.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use bk_tools::{Limits, Registry, Selection, parse_toolset_list};
use buildkite_api::ApiToken;
use buildkite_api::DEFAULT_BASE_URL;
use clap::builder::FalseyValueParser;

use crate::onepassword;

pub use crate::error::ConfigError;
pub use crate::settings::{ApiTraffic, Settings, TokenSource};

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The flags and environment variables both binaries accept.
///
/// Every flag is global: it may come before or after a subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Buildkite API access token.
    #[arg(
        long,
        env = "BUILDKITE_API_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub api_token: Option<String>,

    /// 1Password secret reference of the token (`op://vault/item/field`); read with `op read`.
    #[arg(
        long = "api-token-from-1password",
        visible_alias = "api-token-from-1-password",
        env = "BUILDKITE_API_TOKEN_FROM_1PASSWORD",
        value_name = "OP_REF",
        global = true
    )]
    pub api_token_from_1password: Option<String>,

    /// Buildkite REST API root (a path prefix is kept).
    #[arg(long, env = "BUILDKITE_BASE_URL", default_value = DEFAULT_BASE_URL, global = true)]
    pub base_url: String,

    /// Toolsets to enable, comma-separated, or `all`.
    #[arg(
        long = "enabled-toolsets",
        env = "BUILDKITE_TOOLSETS",
        value_delimiter = ',',
        default_value = "all",
        global = true
    )]
    pub enabled_toolsets: Vec<String>,

    /// Expose only tools that change nothing.
    #[arg(
        long,
        env = "BUILDKITE_READ_ONLY",
        value_parser = parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    pub read_only: bool,

    /// Only these tools (comma-separated names), within the enabled toolsets.
    #[arg(
        long = "tools",
        env = "BK_MCP_TOOLS",
        value_delimiter = ',',
        global = true
    )]
    pub tools: Vec<String>,

    /// Leave these tools out (comma-separated names), whatever the toolsets and --tools say.
    #[arg(
        long = "exclude-tools",
        env = "BUILDKITE_EXCLUDE_TOOLS",
        value_delimiter = ',',
        global = true
    )]
    pub exclude_tools: Vec<String>,

    /// List every enabled tool, even those the token has no scope for (by default they
    /// are left out: the token's scopes are read from the API).
    #[arg(
        long,
        env = "BK_MCP_LIST_ALL_TOOLS",
        value_parser = parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    pub list_all_tools: bool,

    /// Confirm destructive calls (cancel, rebuild, retry, unblock, updates, pausing and
    /// resuming dispatch) with the user, who types the build number, pipeline slug,
    /// cluster name or queue key: `auto` where the client can ask its user, `always`
    /// (refusing clients that cannot), or `never`. Requests for 2026-07-28 clients
    /// are sealed with BK_MCP_STATE_KEY (shared by replicas; set it where several run).
    #[arg(
        long,
        env = "BK_MCP_CONFIRM_DESTRUCTIVE",
        default_value = "auto",
        value_parser = parse_confirm_mode,
        global = true
    )]
    pub confirm_destructive: crate::confirm::ConfirmMode,

    /// Log cache: a directory (`file:///path` or a plain path), or a store shared by
    /// replicas (`s3://bucket/prefix`, configured by the AWS_* variables), read through
    /// the local directory --cache-dir.
    #[arg(long, env = "BKLOG_CACHE_URL", global = true)]
    pub cache_url: Option<String>,

    /// Local log cache directory when --cache-url names a shared store. Default: the
    /// user's cache directory, bk-mcp/logs.
    #[arg(long, env = "BKLOG_CACHE_DIR", value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,

    /// Redis for coordinating replicas (`redis://host:6379` or `rediss://…`): one
    /// download per log for the whole fleet, and with --stateful, sessions any replica serves.
    #[arg(long, env = "BK_MCP_REDIS_URL", value_name = "URL", global = true)]
    pub redis_url: Option<String>,

    /// Largest log downloaded whole, in bytes (0: no limit). Tails of larger logs use a ranged request.
    #[arg(long, env = "BKLOG_MAX_LOG_BYTES", global = true)]
    pub max_log_bytes: Option<u64>,

    /// Longest log line kept, in bytes; the rest of a longer line is cut and marked.
    #[arg(long, env = "BKLOG_MAX_LOG_LINE_BYTES", default_value_t = bk_logs::parse::ParserOptions::default().max_line_bytes, global = true)]
    pub max_log_line_bytes: usize,

    /// Most jobs get_build_failure_summary reports, whatever a call asks for (1–50).
    #[arg(
        long,
        env = "BUILDKITE_FAILURE_SUMMARY_MAX_JOBS",
        default_value_t = 50,
        global = true
    )]
    pub failure_summary_max_jobs: usize,

    /// OpenTelemetry trace protocol: `http/protobuf`, `http/json` or `noop` (`grpc` is accepted,
    /// not supported). Traces go to OTEL_EXPORTER_OTLP_ENDPOINT; needs a build with `--features otel`.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", global = true)]
    pub otel_exporter: Option<String>,

    /// Size of the log cache on disk before the least recently used entries are evicted, in bytes.
    #[arg(long, env = "BKLOG_CACHE_MAX_BYTES", default_value_t = bk_logs::DEFAULT_MAX_CACHE_BYTES, global = true)]
    pub log_cache_max_bytes: u64,

    /// Seconds a caller's access check on a job's log is reused before a cached copy is
    /// served to them again (0: check every read).
    #[arg(long, env = "BKLOG_ACCESS_RECHECK", default_value_t = bk_logs::DEFAULT_ACCESS_RECHECK.as_secs(), value_name = "SECONDS", global = true)]
    pub log_access_recheck: u64,

    /// Seconds an API read answer is reused for the same caller; identical concurrent
    /// reads are then merged into one request (0: both off).
    #[arg(long, env = "BK_MCP_API_CACHE_TTL", default_value_t = buildkite_api::DEFAULT_READ_CACHE_TTL.as_secs(), value_name = "SECONDS", global = true)]
    pub api_cache_ttl: u64,

    /// Seconds a finished build's annotations and Test Engine results are reused for the
    /// same caller, under the build's finish time (a retried job makes them new); never
    /// less than --api-cache-ttl, and off with it.
    #[arg(long, env = "BK_MCP_API_CACHE_SETTLED_TTL", default_value_t = buildkite_api::DEFAULT_SETTLED_READ_TTL.as_secs(), value_name = "SECONDS", global = true)]
    pub api_cache_settled_ttl: u64,

    /// Largest tool result, in bytes of JSON text; longer results are trimmed and say how to fetch the rest.
    #[arg(long, env = "BK_MCP_RESPONSE_BUDGET", default_value_t = Limits::default().response_budget, global = true)]
    pub response_budget: usize,

    /// Do not redact secret-looking values (env values, tokens) in results.
    #[arg(
        long,
        env = "BK_MCP_NO_REDACT",
        value_parser = parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    pub no_redact: bool,

    /// Extra header for every request to the Buildkite API (`Name: value`); repeatable.
    /// The variable holds a comma-separated list.
    #[arg(
        long = "http-header",
        env = "BUILDKITE_HTTP_HEADERS",
        value_name = "NAME: VALUE",
        global = true
    )]
    pub http_headers: Vec<String>,

    /// Also write all API traffic to this HAR 1.2 file (mode 0600; the token and
    /// passed-through or configured headers are left out).
    #[arg(long, env = "BUILDKITE_RECORD", value_name = "FILE", global = true)]
    pub record: Option<String>,

    /// Answer API calls from this HAR file instead of the API: no token, no network.
    #[arg(long, env = "BUILDKITE_REPLAY", value_name = "FILE", global = true)]
    pub replay: Option<String>,

    /// Serve the bundled demo organisation (`acme`) from its recording: no
    /// account, no token, no network.
    #[arg(
        long,
        env = "BK_MCP_DEMO",
        value_parser = parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    pub demo: bool,

    /// Log at debug level. (`DEBUG` is also used by other tools, so any value
    /// but a false one (`0`, `false`, `no`, `off`) turns it on rather than failing.)
    #[arg(
        long,
        env = "DEBUG",
        value_parser = FalseyValueParser::new(),
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    pub debug: bool,

    /// Log line format on stderr.
    #[arg(
        long,
        env = "BK_MCP_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

impl Default for ServerArgs {
    fn default() -> Self {
        ServerArgs {
            api_token: None,
            api_token_from_1password: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            enabled_toolsets: vec!["all".to_owned()],
            read_only: false,
            tools: Vec::new(),
            exclude_tools: Vec::new(),
            list_all_tools: false,
            confirm_destructive: crate::confirm::ConfirmMode::Auto,
            cache_url: None,
            cache_dir: None,
            redis_url: None,
            max_log_bytes: None,
            max_log_line_bytes: bk_logs::parse::ParserOptions::default().max_line_bytes,
            failure_summary_max_jobs: 50,
            otel_exporter: None,
            log_cache_max_bytes: bk_logs::DEFAULT_MAX_CACHE_BYTES,
            log_access_recheck: bk_logs::DEFAULT_ACCESS_RECHECK.as_secs(),
            api_cache_ttl: buildkite_api::DEFAULT_READ_CACHE_TTL.as_secs(),
            api_cache_settled_ttl: buildkite_api::DEFAULT_SETTLED_READ_TTL.as_secs(),
            response_budget: Limits::default().response_budget,
            no_redact: false,
            http_headers: Vec::new(),
            record: None,
            replay: None,
            demo: false,
            debug: false,
            log_format: LogFormat::Text,
        }
    }
}

/// The smallest response budget accepted: below it, even an error message
/// with its hint might not fit.
pub const MIN_RESPONSE_BUDGET: usize = 4 * 1024;

impl ServerArgs {
    /// The operator's selection: toolsets, read-only mode and allow-list,
    /// checked against the registry.
    pub fn selection(&self, registry: &Registry) -> Result<Selection, ConfigError> {
        let (toolsets, left_by_profile) = parse_toolset_list(&self.enabled_toolsets.join(","))
            .map_err(|e| {
                ConfigError::new(format!("--enabled-toolsets / BUILDKITE_TOOLSETS: {e}"))
            })?;
        let names = |list: &[String]| -> BTreeSet<String> {
            list.iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        };
        let allow = names(&self.tools);
        let mut exclude = names(&self.exclude_tools);
        let only_excluding = Selection {
            exclude,
            ..Selection::all()
        };
        registry.validate(&only_excluding).map_err(|e| {
            ConfigError::new(format!("--exclude-tools / BUILDKITE_EXCLUDE_TOOLS: {e}"))
        })?;
        exclude = only_excluding.exclude;
        exclude.extend(left_by_profile);
        let selection = Selection {
            toolsets,
            read_only: self.read_only,
            allow: (!allow.is_empty()).then_some(allow),
            exclude,
            token_scopes: None,
        };
        registry
            .validate(&selection)
            .map_err(|e| ConfigError::new(format!("--tools / BK_MCP_TOOLS: {e}")))?;
        Ok(selection)
    }

    /// The extra API headers, parsed from `Name: value` entries. The
    /// variable's comma-separated list is split only before a `Name:`, so a
    /// value that itself contains a comma survives.
    pub fn headers(&self) -> Result<Vec<(String, String)>, ConfigError> {
        let mut headers = Vec::new();
        for entry in self.http_headers.iter().flat_map(|e| split_header_list(e)) {
            let Some((name, value)) = entry.split_once(':') else {
                // The entry may hold a secret: it is not echoed.
                return Err(ConfigError::new(
                    "--http-header / BUILDKITE_HTTP_HEADERS: an entry is not `Name: value` (a colon separates the name from the value)",
                ));
            };
            let name = name.trim();
            if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                return Err(ConfigError::new(format!(
                    "--http-header / BUILDKITE_HTTP_HEADERS: {name:?} is not a valid header name"
                )));
            }
            if name.eq_ignore_ascii_case("authorization") {
                return Err(ConfigError::new(
                    "--http-header / BUILDKITE_HTTP_HEADERS: set the token with BUILDKITE_API_TOKEN, not an Authorization header",
                ));
            }
            let value = value.trim();
            if http::HeaderValue::from_str(value).is_err() {
                return Err(ConfigError::new(format!(
                    "--http-header / BUILDKITE_HTTP_HEADERS: the value of {name:?} cannot be sent in a header"
                )));
            }
            headers.push((name.to_owned(), value.to_owned()));
        }
        Ok(headers)
    }

    /// Live, recorded or replayed traffic, from `--record`, `--replay` and
    /// `--demo` (at most one of them).
    pub fn traffic(&self) -> Result<ApiTraffic, ConfigError> {
        let record = non_empty(self.record.as_deref());
        let replay = non_empty(self.replay.as_deref());
        match (record, replay, self.demo) {
            (None, None, false) => Ok(ApiTraffic::Live),
            (Some(path), None, false) => Ok(ApiTraffic::Record(PathBuf::from(path))),
            (None, Some(path), false) => Ok(ApiTraffic::Replay(PathBuf::from(path))),
            (None, None, true) => Ok(ApiTraffic::Demo),
            (Some(_), Some(_), _) => Err(ConfigError::new(
                "cannot use both --record (BUILDKITE_RECORD) and --replay (BUILDKITE_REPLAY): a replay makes no API calls to record",
            )),
            _ => Err(ConfigError::new(
                "--demo (BK_MCP_DEMO) replays the bundled recording: drop --record / --replay (BUILDKITE_RECORD / BUILDKITE_REPLAY)",
            )),
        }
    }

    /// Resolves the token (running `op read` for a 1Password reference) and
    /// checks every setting.
    pub async fn resolve(
        &self,
        registry: &Registry,
        source: TokenSource,
    ) -> Result<Settings, ConfigError> {
        let selection = self.selection(registry)?;
        let headers = self.headers()?;
        let traffic = self.traffic()?;
        let fixed = non_empty(self.api_token.as_deref());
        let op_ref = non_empty(self.api_token_from_1password.as_deref());
        let token = match (source, fixed, op_ref) {
            (TokenSource::PerRequest, None, None) => None,
            (TokenSource::PerRequest, _, _) => {
                return Err(ConfigError::new(
                    "cannot configure a fixed API token (BUILDKITE_API_TOKEN or 1Password) while Authorization is passed through: each caller must bring its own",
                ));
            }
            (TokenSource::Fixed, Some(_), Some(_)) => {
                return Err(ConfigError::new(
                    "set either --api-token (BUILDKITE_API_TOKEN) or --api-token-from-1password (BUILDKITE_API_TOKEN_FROM_1PASSWORD), not both",
                ));
            }
            (TokenSource::Fixed, Some(token), None) => Some(token.to_owned()),
            (TokenSource::Fixed, None, Some(reference)) => {
                Some(onepassword::read(reference).await?)
            }
            (TokenSource::Fixed, None, None) => None,
        };
        let token = token
            .map(|t| {
                ApiToken::new(t).map_err(|e| {
                    ConfigError::new(format!("--api-token / BUILDKITE_API_TOKEN: {e}"))
                })
            })
            .transpose()?;
        if self.response_budget < MIN_RESPONSE_BUDGET {
            return Err(ConfigError::new(format!(
                "--response-budget / BK_MCP_RESPONSE_BUDGET: {} bytes is too small; use at least {MIN_RESPONSE_BUDGET}",
                self.response_budget
            )));
        }
        let cache_url = non_empty(self.cache_url.as_deref());
        let shared_cache_url = cache_url
            .filter(|url| bk_fleet::is_shared_url(url))
            .map(str::to_owned);
        let cache_dir = match (cache_url, &self.cache_dir) {
            (Some(url), _) if shared_cache_url.is_none() => cache_dir_from_url(url)?,
            (_, Some(dir)) if !dir.as_os_str().is_empty() => dir.clone(),
            _ => bk_logs::LogCache::default_dir(),
        };
        if let Some(url) = &shared_cache_url {
            // Checked now, so a bad URL stops the start, not the first call.
            bk_fleet::ObjectTier::from_url(url)
                .map_err(|e| ConfigError::new(format!("--cache-url / BKLOG_CACHE_URL: {e}")))?;
        }
        let redis_url = non_empty(self.redis_url.as_deref()).map(str::to_owned);
        if let Some(url) = &redis_url {
            bk_fleet::RedisLink::open(url, Duration::from_secs(1))
                .map_err(|e| ConfigError::new(format!("--redis-url / BK_MCP_REDIS_URL: {e}")))?;
        }
        if !(1..=50).contains(&self.failure_summary_max_jobs) {
            return Err(ConfigError::new(format!(
                "--failure-summary-max-jobs / BUILDKITE_FAILURE_SUMMARY_MAX_JOBS: {} is not between 1 and 50",
                self.failure_summary_max_jobs
            )));
        }
        if self.max_log_line_bytes < 1024 {
            return Err(ConfigError::new(
                "--max-log-line-bytes / BKLOG_MAX_LOG_LINE_BYTES: use at least 1024",
            ));
        }
        // --otel-exporter is read by `logging::init` (see `telemetry`).
        let limits = Limits {
            response_budget: self.response_budget,
            redact_secrets: !self.no_redact,
            failure_summary_max_jobs: self.failure_summary_max_jobs,
            ..Limits::default()
        };
        Ok(Settings {
            token,
            base_url: self.base_url.trim().to_owned(),
            headers,
            selection,
            limits,
            cache_dir,
            shared_cache_url,
            redis_url,
            cache_max_bytes: self.log_cache_max_bytes,
            max_log_bytes: match self.max_log_bytes {
                Some(0) => u64::MAX,
                Some(n) => n,
                None => bk_logs::EngineOptions::default().max_log_bytes,
            },
            max_log_line_bytes: self.max_log_line_bytes,
            log_access_recheck: Duration::from_secs(self.log_access_recheck),
            api_cache_ttl: Duration::from_secs(self.api_cache_ttl),
            api_cache_settled_ttl: Duration::from_secs(self.api_cache_settled_ttl),
            traffic,
            list_all_tools: self.list_all_tools,
            confirmation: crate::confirm::Confirmation {
                mode: self.confirm_destructive,
                key: match std::env::var("BK_MCP_STATE_KEY") {
                    Ok(secret) if !secret.trim().is_empty() => {
                        crate::sealed_state::StateKey::from_secret(secret.trim())
                    }
                    _ => crate::sealed_state::StateKey::random(),
                },
            },
        })
    }
}

/// Parses `--confirm-destructive`.
fn parse_confirm_mode(value: &str) -> Result<crate::confirm::ConfirmMode, String> {
    value.parse()
}

/// Parses an on/off setting: `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`
/// (any case). An empty value (a variable set to nothing) means off.
pub fn parse_switch(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "false" | "0" | "no" | "off" | "n" | "f" => Ok(false),
        "true" | "1" | "yes" | "on" | "y" | "t" => Ok(true),
        other => Err(format!("{other:?} is not true or false")),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Splits `A: 1, B: 2` into its headers, keeping commas inside values: a
/// comma starts a new entry only if what follows looks like `Name:`.
fn split_header_list(list: &str) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for part in list.split(',') {
        let starts_header = part.split_once(':').is_some_and(|(name, _)| {
            let name = name.trim();
            !name.is_empty() && http::HeaderName::from_bytes(name.as_bytes()).is_ok()
        });
        match entries.last_mut() {
            Some(last) if !starts_header => {
                last.push(',');
                last.push_str(part);
            }
            _ => entries.push(part.to_owned()),
        }
    }
    entries.retain(|e| !e.trim().is_empty());
    entries
}

fn cache_dir_from_url(url: &str) -> Result<PathBuf, ConfigError> {
    let path = match url.split_once("://") {
        Some(("file", rest)) => rest,
        Some((scheme, _)) => {
            return Err(ConfigError::new(format!(
                "--cache-url / BKLOG_CACHE_URL: the {scheme}:// scheme is not supported; use file:///path, a plain path, or s3://bucket/prefix for a store shared by replicas"
            )));
        }
        None => url,
    };
    if path.is_empty() {
        return Err(ConfigError::new(
            "--cache-url / BKLOG_CACHE_URL: the path is empty",
        ));
    }
    Ok(match path.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(rest),
        None => PathBuf::from(path),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut ServerArgs)) -> ServerArgs {
        let mut a = ServerArgs::default();
        f(&mut a);
        a
    }

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
        rest: Vec<String>,
    }

    #[test]
    fn switches_take_a_value_only_with_equals() {
        use clap::Parser;
        let cli = Cli::try_parse_from(["x", "--read-only", "stdio"]).unwrap();
        assert!(cli.args.read_only);
        assert_eq!(cli.rest, ["stdio"]);
        let cli = Cli::try_parse_from(["x", "--read-only=off", "--no-redact=1"]).unwrap();
        assert!(!cli.args.read_only && cli.args.no_redact);
        assert!(Cli::try_parse_from(["x", "--read-only=maybe"]).is_err());
        let cli = Cli::try_parse_from(["x", "--enabled-toolsets", "builds,logs"]).unwrap();
        assert_eq!(cli.args.enabled_toolsets, ["builds", "logs"]);
    }

    #[tokio::test]
    async fn reference_only_flags_are_accepted_and_checked() {
        use clap::Parser;
        let registry = Registry::new();
        let cli = Cli::try_parse_from([
            "x",
            "--failure-summary-max-jobs",
            "20",
            "--max-log-line-bytes",
            "4096",
            "--otel-exporter",
            "noop",
        ])
        .unwrap();
        let settings = cli
            .args
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap();
        assert_eq!(settings.limits.failure_summary_max_jobs, 20);
        assert_eq!(settings.max_log_line_bytes, 4096);
        for bad in [0, 51] {
            let err = args(|a| a.failure_summary_max_jobs = bad)
                .resolve(&registry, TokenSource::Fixed)
                .await
                .unwrap_err();
            assert!(
                err.0.contains("BUILDKITE_FAILURE_SUMMARY_MAX_JOBS"),
                "{err}"
            );
        }
        let err = args(|a| a.max_log_line_bytes = 10)
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(err.0.contains("BKLOG_MAX_LOG_LINE_BYTES"), "{err}");
    }

    #[test]
    fn switch_values() {
        for on in ["true", "TRUE", "1", "yes", "on"] {
            assert_eq!(parse_switch(on), Ok(true), "{on}");
        }
        for off in ["", " ", "false", "0", "no", "Off"] {
            assert_eq!(parse_switch(off), Ok(false), "{off}");
        }
        assert!(parse_switch("maybe").unwrap_err().contains("maybe"));
    }

    #[test]
    fn header_lists_split_only_before_a_name() {
        assert_eq!(
            split_header_list("X-A: 1, X-B: two, three,X-C:4"),
            vec!["X-A: 1", " X-B: two, three", "X-C:4"]
        );
        assert_eq!(split_header_list(""), Vec::<String>::new());
    }

    #[test]
    fn headers_are_parsed_and_checked() {
        let a = args(|a| a.http_headers = vec!["X-Team: ci, infra".into(), "X-Env:prod".into()]);
        assert_eq!(
            a.headers().unwrap(),
            vec![
                ("X-Team".to_owned(), "ci, infra".to_owned()),
                ("X-Env".to_owned(), "prod".to_owned())
            ]
        );
        for bad in [
            "no colon",
            "bad name: v",
            "Authorization: Bearer x",
            "X-A: a\u{7f}",
        ] {
            let err = args(|a| a.http_headers = vec![bad.into()])
                .headers()
                .unwrap_err();
            assert!(err.0.contains("BUILDKITE_HTTP_HEADERS"), "{bad}: {err}");
            assert!(!err.0.contains("Bearer x"), "{err}");
        }
    }

    #[test]
    fn selection_rejects_unknown_names_listing_valid_ones() {
        let registry = Registry::new();
        let err = args(|a| a.enabled_toolsets = vec!["builds".into(), "nope".into()])
            .selection(&registry)
            .unwrap_err();
        assert!(
            err.0.contains("nope") && err.0.contains("pipelines"),
            "{err}"
        );
        let err = args(|a| a.tools = vec!["get_bild".into()])
            .selection(&registry)
            .unwrap_err();
        assert!(
            err.0.contains("get_bild") && err.0.contains("get_build"),
            "{err}"
        );
        let ok = args(|a| {
            a.enabled_toolsets = vec!["builds".into(), " logs ".into()];
            a.read_only = true;
        })
        .selection(&registry)
        .unwrap();
        assert!(ok.read_only);
        assert_eq!(ok.toolsets.len(), 2);
    }

    #[tokio::test]
    async fn token_sources_are_exclusive() {
        let registry = Registry::new();
        let both = args(|a| {
            a.api_token = Some("bkua_x".into());
            a.api_token_from_1password = Some("op://v/i/f".into());
        });
        let err = both
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(err.0.contains("not both"), "{err}");
        let fixed = args(|a| a.api_token = Some("bkua_secret".into()));
        let err = fixed
            .resolve(&registry, TokenSource::PerRequest)
            .await
            .unwrap_err();
        assert!(
            err.0.contains("passed through") && !err.0.contains("bkua_secret"),
            "{err}"
        );
        let none = ServerArgs::default()
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap();
        assert!(none.token.is_none());
        let bad = args(|a| a.api_token = Some("has space".into()));
        let err = bad
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(!err.0.contains("has space"), "{err}");
    }

    #[tokio::test]
    async fn limits_and_cache_are_checked() {
        let registry = Registry::new();
        let err = args(|a| a.response_budget = 100)
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(err.0.contains("BK_MCP_RESPONSE_BUDGET"), "{err}");
        let err = args(|a| a.cache_url = Some("ftp://bucket/x".into()))
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(
            err.0.contains("ftp://") && err.0.contains("s3://bucket/prefix"),
            "{err}"
        );
        // A shared store: the local tier is --cache-dir.
        let s = args(|a| {
            a.cache_url = Some("s3://bk-logs/fleet".into());
            a.cache_dir = Some(PathBuf::from("/tmp/bk-local"));
            a.redis_url = Some("redis://:pw@127.0.0.1:6379/0".into());
        })
        .resolve(&registry, TokenSource::Fixed)
        .await
        .unwrap();
        assert_eq!(s.shared_cache_url.as_deref(), Some("s3://bk-logs/fleet"));
        assert_eq!(s.cache_dir, PathBuf::from("/tmp/bk-local"));
        assert_eq!(s.redis_url.as_deref(), Some("redis://:pw@127.0.0.1:6379/0"));
        let err = args(|a| a.cache_url = Some("s3:///no-bucket".into()))
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(
            err.0.contains("BKLOG_CACHE_URL") && err.0.contains("bucket"),
            "{err}"
        );
        let err = args(|a| a.redis_url = Some("http://:hunter2@host:6379".into()))
            .resolve(&registry, TokenSource::Fixed)
            .await
            .unwrap_err();
        assert!(
            err.0.contains("BK_MCP_REDIS_URL") && !err.0.contains("hunter2"),
            "{err}"
        );
        let s = args(|a| {
            a.cache_url = Some("file:///tmp/bk-cache".into());
            a.max_log_bytes = Some(0);
            a.no_redact = true;
        })
        .resolve(&registry, TokenSource::Fixed)
        .await
        .unwrap();
        assert_eq!(s.cache_dir, PathBuf::from("/tmp/bk-cache"));
        assert_eq!(s.max_log_bytes, u64::MAX);
        assert!(!s.limits.redact_secrets);
    }
}
