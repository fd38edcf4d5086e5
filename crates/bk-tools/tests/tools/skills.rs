//! The `skills` toolset (no API calls).

use serde_json::json;

use crate::common::harness;

#[tokio::test]
async fn list_skills_filters_by_every_word() {
    let h = harness().await;
    let all = h.ok("list_skills", json!({})).await;
    assert_eq!(all["skills"][0]["name"], "debug-logs-guide");
    insta::assert_json_snapshot!(all);
    let hit = h.ok("list_skills", json!({"query": "DEBUG logs"})).await;
    assert_eq!(hit["skills"].as_array().unwrap().len(), 1);
    let miss = h
        .ok("list_skills", json!({"query": "debug kubernetes"}))
        .await;
    assert_eq!(miss["skills"], json!([]));
    assert!(h.requests().await.is_empty());
}

#[tokio::test]
async fn load_skill_returns_markdown_or_lists_valid_names() {
    let h = harness().await;
    let guide = h
        .call("load_skill", json!({"skill_name": "debug-logs-guide"}))
        .await;
    assert!(!guide.is_error);
    assert!(
        guide
            .text
            .starts_with("# Debugging a failed Buildkite build")
    );
    insta::assert_snapshot!(guide.text);
    let error = h.err("load_skill", json!({"skill_name": "nope"})).await;
    assert_eq!(
        error,
        "invalid argument `skill_name`: unknown skill \"nope\"; valid skills: debug-logs-guide"
    );
}
