//! The `skills` toolset: usage guides for these tools, bundled at build time.

use std::sync::Arc;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::args::NonEmpty;
use crate::error::ToolError;
use crate::shape::ToolOutput;
use crate::tool::{Access, Handler, Tool, ToolContext, ToolMeta, tool};
use crate::toolset::Toolset;

/// The debug-logs guide (also served as a resource).
pub const DEBUG_LOGS_GUIDE: &str = include_str!("../skills/debug-logs-guide.md");

/// A guide: name, one-line description, markdown. Besides the two tools,
/// MCP clients that load skills natively (the skills extension) get them as
/// `SKILL.md` files.
#[derive(Debug, Clone, Copy)]
pub struct Skill {
    /// Its name, e.g. `debug-logs-guide`.
    pub name: &'static str,
    /// What it is for, in one line.
    pub description: &'static str,
    /// The markdown.
    pub text: &'static str,
}

impl Skill {
    /// The guide as a `SKILL.md`: its name and description as frontmatter,
    /// then the markdown.
    pub fn skill_md(&self) -> String {
        format!(
            "---\nname: {}\ndescription: {}\n---\n\n{}",
            self.name, self.description, self.text
        )
    }
}

/// Every guide.
pub const SKILLS: &[Skill] = &[Skill {
    name: "debug-logs-guide",
    description: "How to debug build failures with tail, search and read logs; failed vs broken jobs; a token-efficient workflow",
    text: DEBUG_LOGS_GUIDE,
}];

pub(crate) fn tools() -> Vec<Arc<dyn Tool>> {
    vec![tool(ListSkills), tool(LoadSkill)]
}

/// Arguments of `list_skills`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListSkillsArgs {
    /// Words a guide's name or description must all contain (any case).
    pub query: Option<String>,
}

/// `list_skills`.
#[derive(Debug)]
pub struct ListSkills;

#[async_trait]
impl Handler for ListSkills {
    type Args = ListSkillsArgs;
    const META: ToolMeta = ToolMeta {
        name: "list_skills",
        title: "List Skill Guides",
        description: "Short guides to using these tools for common tasks (e.g. debugging a failed build). Cheap: call it early, then load_skill.",
        details: "Each guide has a name and a one-line description. Without a query, every guide is listed.",
        toolset: Toolset::Skills,
        access: Access::Read,
        scopes: &[],
    };

    async fn run(&self, _: &ToolContext, args: ListSkillsArgs) -> Result<ToolOutput, ToolError> {
        let query = args.query.unwrap_or_default().to_lowercase();
        let words: Vec<&str> = query.split_whitespace().collect();
        let found: Vec<_> = SKILLS
            .iter()
            .filter(|skill| {
                let haystack = format!("{} {}", skill.name, skill.description).to_lowercase();
                words.iter().all(|w| haystack.contains(w))
            })
            .map(|skill| json!({"name": skill.name, "description": skill.description}))
            .collect();
        Ok(ToolOutput::json(json!({ "skills": found })))
    }
}

/// Arguments of `load_skill`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSkillArgs {
    /// e.g. "debug-logs-guide"
    pub skill_name: NonEmpty,
}

/// `load_skill`.
#[derive(Debug)]
pub struct LoadSkill;

#[async_trait]
impl Handler for LoadSkill {
    type Args = LoadSkillArgs;
    const META: ToolMeta = ToolMeta {
        name: "load_skill",
        title: "Load Skill Guide",
        description: "A guide's markdown, by the name list_skills gives.",
        details: "An unknown name is refused with the list of valid names.",
        toolset: Toolset::Skills,
        access: Access::Read,
        scopes: &[],
    };

    async fn run(&self, _: &ToolContext, args: LoadSkillArgs) -> Result<ToolOutput, ToolError> {
        let name = args.skill_name.trim();
        SKILLS
            .iter()
            .find(|skill| skill.name == name)
            .map(|skill| ToolOutput::text(skill.text))
            .ok_or_else(|| {
                let valid = SKILLS.iter().map(|s| s.name).collect::<Vec<_>>().join(", ");
                ToolError::invalid(
                    "skill_name",
                    format!("unknown skill {name:?}; valid skills: {valid}"),
                )
            })
    }
}
