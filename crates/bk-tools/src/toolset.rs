//! [`Toolset`]: the groups tools are enabled by, their names and
//! descriptions, and parsing a toolset list (`BUILDKITE_TOOLSETS`). Every
//! tool's metadata names its toolset, so this sits below the tools.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// A group of related tools that can be enabled together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Toolset {
    /// Clusters and queues.
    Clusters,
    /// Agents.
    Agents,
    /// Pipelines and schedules.
    Pipelines,
    /// Builds, jobs and step uploads.
    Builds,
    /// Artifacts.
    Artifacts,
    /// Test Engine.
    Tests,
    /// Job logs.
    Logs,
    /// Annotations.
    Annotations,
    /// Failure investigation.
    Investigations,
    /// The user, token and organizations.
    User,
    /// Usage guides.
    Skills,
}

impl Toolset {
    /// Every toolset, in a stable order.
    pub const ALL: [Toolset; 11] = [
        Toolset::Clusters,
        Toolset::Agents,
        Toolset::Pipelines,
        Toolset::Builds,
        Toolset::Artifacts,
        Toolset::Tests,
        Toolset::Logs,
        Toolset::Annotations,
        Toolset::Investigations,
        Toolset::User,
        Toolset::Skills,
    ];

    /// The name used in configuration (`BUILDKITE_TOOLSETS`).
    pub fn name(self) -> &'static str {
        match self {
            Toolset::Clusters => "clusters",
            Toolset::Agents => "agents",
            Toolset::Pipelines => "pipelines",
            Toolset::Builds => "builds",
            Toolset::Artifacts => "artifacts",
            Toolset::Tests => "tests",
            Toolset::Logs => "logs",
            Toolset::Annotations => "annotations",
            Toolset::Investigations => "investigations",
            Toolset::User => "user",
            Toolset::Skills => "skills",
        }
    }

    /// What the toolset covers.
    pub fn description(self) -> &'static str {
        match self {
            Toolset::Clusters => {
                "Clusters and cluster queues: inspect, create, update, pause and resume dispatch"
            }
            Toolset::Agents => "Agents: list and inspect connected agents",
            Toolset::Pipelines => "Pipelines and pipeline schedules: inspect, create and update",
            Toolset::Builds => {
                "Builds, jobs and step uploads: list, inspect, wait, create, cancel, rebuild, retry, unblock"
            }
            Toolset::Artifacts => {
                "Build and job artifacts: list, and read small text artifacts inline"
            }
            Toolset::Tests => {
                "Test Engine: suites, runs, failed executions, tests and their reliability"
            }
            Toolset::Logs => "Job logs: tail, search and read, cached and indexed",
            Toolset::Annotations => "Build and job annotations: list and create",
            Toolset::Investigations => "Failure investigation across builds, jobs, logs and tests",
            Toolset::User => "The current user, token scopes and organizations",
            Toolset::Skills => "Usage guides for these tools",
        }
    }
}

impl fmt::Display for Toolset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Toolset {
    type Err = SelectionError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let name = name.trim().to_ascii_lowercase();
        Toolset::ALL
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or(SelectionError::UnknownToolset(name))
    }
}

/// Parses a comma-separated toolset list; `all` means every toolset.
pub fn parse_toolsets(list: &str) -> Result<BTreeSet<Toolset>, SelectionError> {
    Ok(parse_toolset_list(list)?.0)
}

/// The profile of what a coding agent needs to investigate CI, within
/// Cursor's 40 tools: investigating, builds and jobs, logs, artifacts,
/// reading pipelines, Test Engine and the user.
pub const ESSENTIALS: &str = "essentials";

/// The toolsets [`ESSENTIALS`] enables.
pub const ESSENTIALS_TOOLSETS: [Toolset; 7] = [
    Toolset::Investigations,
    Toolset::Builds,
    Toolset::Logs,
    Toolset::Artifacts,
    Toolset::Pipelines,
    Toolset::Tests,
    Toolset::User,
];

/// The tools of those toolsets [`ESSENTIALS`] leaves out: the pipeline
/// writes (unless the list also names `pipelines`).
pub const ESSENTIALS_LEAVE_OUT: [&str; 4] = [
    "create_pipeline",
    "update_pipeline",
    "create_pipeline_schedule",
    "update_pipeline_schedule",
];

/// Parses a toolset list (names, `all`, and the profile `essentials`):
/// the toolsets, and the tools the profile leaves out.
pub fn parse_toolset_list(
    list: &str,
) -> Result<(BTreeSet<Toolset>, BTreeSet<String>), SelectionError> {
    let mut set = BTreeSet::new();
    let mut essentials = false;
    let mut named = BTreeSet::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name.eq_ignore_ascii_case("all") {
            set.extend(Toolset::ALL);
            named.extend(Toolset::ALL);
        } else if name.eq_ignore_ascii_case(ESSENTIALS) {
            set.extend(ESSENTIALS_TOOLSETS);
            essentials = true;
        } else {
            let toolset = name.parse()?;
            set.insert(toolset);
            named.insert(toolset);
        }
    }
    let leave_out = if essentials && !named.contains(&Toolset::Pipelines) {
        ESSENTIALS_LEAVE_OUT.map(str::to_owned).into()
    } else {
        BTreeSet::new()
    };
    Ok((set, leave_out))
}

fn valid_toolsets() -> String {
    let mut names = vec!["all", ESSENTIALS];
    names.extend(Toolset::ALL.map(Toolset::name));
    names.join(", ")
}

/// Why a selection is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionError {
    /// A toolset name that does not exist.
    #[error("unknown toolset {0:?}; valid toolsets: {valid}", valid = valid_toolsets())]
    UnknownToolset(String),
    /// An allow-listed tool name that does not exist.
    #[error("unknown tool {0:?}; valid tools: {1}")]
    UnknownTool(String, String),
}
