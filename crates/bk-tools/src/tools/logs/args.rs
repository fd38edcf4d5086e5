//! The log tools' arguments: the fields every log tool takes (the job,
//! the cache policy, `include_group`), written once in `log_args!`, and
//! `cache_ttl`'s duration syntax.

use std::borrow::Cow;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer};

use crate::args::Bounded;

/// A row number (the engine indexes at most 4 GiB of text, so fewer rows).
pub(super) type RowNumber = Bounded<0, 4_294_967_295>;

/// Defines a log tool's arguments: the job, the cache policy, the tool's own
/// parameters, then `include_group`. Every field is documented here, once.
/// (Paths are written out: the macro is used in the tools' modules.)
macro_rules! log_args {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$field_meta:meta])* pub $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, ::serde::Deserialize, ::schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub org_slug: $crate::args::OrgSlug,
            /// Pipeline slug, as in the Buildkite URL (e.g. `web-app`).
            pub pipeline_slug: $crate::args::NonEmpty,
            // The build's number (e.g. "42"), not its UUID: the schema's pattern says so.
            pub build_number: $crate::args::BuildNumber,
            /// Job UUID, from get_build or list_jobs.
            pub job_id: $crate::args::NonEmpty,
            /// How long a running job's cached log is reused, e.g. "30s" (default), "5m".
            pub cache_ttl: Option<$crate::tools::logs::args::CacheTtl>,
            // Download the log again even when the cached copy is fresh.
            #[serde(default)]
            pub force_refresh: bool,
            $( $(#[$field_meta])* pub $field: $ty, )*
            /// Add to each row its log section (`---`, `+++`, `~~~`) as `group`.
            #[serde(default)]
            pub include_group: bool,
        }

        impl $name {
            /// The job, as the arguments name it.
            #[allow(dead_code)]
            fn job(&self) -> ::buildkite_api::JobRef {
                ::buildkite_api::JobRef::in_build(
                    self.org_slug.to_string(),
                    self.pipeline_slug.to_string(),
                    self.build_number.get(),
                    self.job_id.to_string(),
                )
            }

            /// The job's log, read as this call asks.
            fn log<'a>(
                &self,
                ctx: &'a $crate::tool::ToolContext,
            ) -> $crate::tools::logs::job::JobLog<'a> {
                let job = self.job();
                let policy = ::bk_logs::FetchPolicy {
                    cache_ttl: self
                        .cache_ttl
                        .map_or(::bk_logs::DEFAULT_CACHE_TTL, |ttl| ttl.0),
                    force_refresh: self.force_refresh,
                };
                $crate::tools::logs::job::JobLog::new(ctx, job, policy)
            }
        }
    };
}

pub(super) use log_args;

/// What `docs/tools.md` says about the arguments and rows every log tool
/// shares (a literal, for `concat!` in each tool's `details`).
macro_rules! shared_details {
    () => {
        " Rows are {ts, c, rn}: ts is unix ms (when the line has one), c the text as a terminal shows it (colour removed, progress redraws resolved), rn the 0-based row number. build_number is the build's number (e.g. \"42\"), not its UUID. The log is downloaded and indexed once, then served from the cache: a finished job's log is always reused, a running job's for cache_ttl (default 30s; e.g. \"500ms\", \"5m\", \"1h30m\" or a number of seconds; at most 7 days), and answers then say job_state and log_may_grow. force_refresh downloads the log again even when the cached copy is fresh. include_group adds to each row the name of the log group (the `---`, `+++` or `~~~` section) it belongs to."
    };
}

pub(super) use shared_details;

/// `cache_ttl`: a duration, parsed strictly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtl(pub Duration);

impl<'de> Deserialize<'de> for CacheTtl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = CacheTtl;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration string such as \"30s\", \"5m\" or \"1h\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<CacheTtl, E> {
                parse_duration(text).map(CacheTtl).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

impl JsonSchema for CacheTtl {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string" })
    }
}

/// Longest `cache_ttl` accepted.
const MAX_CACHE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Parses "30s", "5m", "1h30m", "500ms", "1.5h" (Go's duration syntax) or a
/// plain number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let invalid = || {
        format!(
            "{text:?} is not a duration; use e.g. \"30s\", \"5m\", \"1h\", \"500ms\" or a number of seconds"
        )
    };
    if trimmed.is_empty() {
        return Err(
            "must not be empty; leave it out for the default (30s), or give e.g. \"30s\", \"5m\", \"1h\""
                .into(),
        );
    }
    let mut seconds = 0f64;
    let mut rest = trimmed;
    if rest.parse::<f64>().is_ok() && rest.chars().all(|c| c.is_ascii_digit() || c == '.') {
        seconds = rest.parse::<f64>().map_err(|_| invalid())?;
        rest = "";
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        seconds += number * scale;
        rest = &rest[unit_len..];
    }
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| invalid())?;
    if duration > MAX_CACHE_TTL {
        return Err(format!(
            "{text:?} is longer than the 7-day maximum; a finished job's log is reused anyway, so a long TTL only matters for running jobs"
        ));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go_or_as_seconds() {
        let ok = |text: &str| parse_duration(text).unwrap();
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5m"), Duration::from_secs(90));
        assert_eq!(ok("45"), Duration::from_secs(45));
        assert_eq!(ok(" 0 "), Duration::ZERO);
        for bad in ["", "5 minutes", "-5s", "5x", "s", "1e3", "10d", "1..5s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(
            parse_duration("200h")
                .unwrap_err()
                .contains("7-day maximum")
        );
    }
}
