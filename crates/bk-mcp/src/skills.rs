//! The skills extension (SEP-2640): clients that load skills natively find
//! the usage guides through `skills/list` and `skills/get`, and read each
//! `SKILL.md` with `resources/read`. The `list_skills` and `load_skill`
//! tools serve the same guides to every other client.

use rmcp::model::{Skill, SkillFrontmatter, SkillResource, SkillResources};

/// Where the guides' `SKILL.md` files live: `buildkite://skills/<name>/SKILL.md`.
const URI_PREFIX: &str = "buildkite://skills/";

/// A guide's `SKILL.md` URI.
pub fn uri(guide: &bk_tools::tools::skills::Skill) -> String {
    format!("{URI_PREFIX}{}/SKILL.md", guide.name)
}

/// Every guide as a skill entry: its frontmatter, and its one file with
/// that file's size and digest.
pub fn list() -> Vec<Skill> {
    bk_tools::tools::skills::SKILLS.iter().map(entry).collect()
}

/// The guide whose `SKILL.md` is at `uri`, as a skill entry.
pub fn get(uri: &str) -> Option<Skill> {
    bk_tools::tools::skills::SKILLS
        .iter()
        .find(|guide| self::uri(guide) == uri)
        .map(entry)
}

/// The `SKILL.md` at `uri`, if it is one of the guides'.
pub fn read(uri: &str) -> Option<String> {
    bk_tools::tools::skills::SKILLS
        .iter()
        .find(|guide| self::uri(guide) == uri)
        .map(bk_tools::tools::skills::Skill::skill_md)
}

fn entry(guide: &bk_tools::tools::skills::Skill) -> Skill {
    let uri = uri(guide);
    let file = SkillResource::from_bytes(uri.clone(), guide.skill_md().as_bytes());
    Skill::new(
        uri,
        SkillFrontmatter::new(guide.name, guide.description),
        SkillResources::Files(vec![file]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_guide_is_a_valid_skill_whose_file_matches_its_manifest() {
        let skills = list();
        assert!(!skills.is_empty());
        for skill in &skills {
            skill
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", skill.uri));
            let text = read(&skill.uri).unwrap_or_else(|| panic!("{} is not served", skill.uri));
            let SkillResources::Files(files) = &skill.resources else {
                panic!("{}: a fixed manifest", skill.uri)
            };
            files[0]
                .verify(text.as_bytes())
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(text.starts_with(&format!("---\nname: {}\n", skill.name())));
            assert_eq!(get(&skill.uri).as_ref(), Some(skill));
        }
        assert!(get("buildkite://skills/nope/SKILL.md").is_none());
        assert!(read("buildkite://debug-logs-guide").is_none());
    }
}
