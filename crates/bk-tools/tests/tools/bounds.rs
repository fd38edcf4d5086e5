//! Every string argument of every tool has a length limit in its schema,
//! and a value one character over it is refused, naming the parameter and
//! the limit, before any request and without echoing the value.

use serde_json::{Map, Value, json};

use crate::common::harness;

/// Each tool's string parameters and their limits, from the schemas.
fn bounded_parameters() -> Vec<(String, String, usize)> {
    let registry = bk_tools::Registry::new();
    let mut found = Vec::new();
    for tool in registry.all_tools() {
        let schema = tool.input_schema();
        let Some(properties) = schema["properties"].as_object() else {
            continue;
        };
        for (name, property) in properties {
            if property["type"] != "string" || property.get("enum").is_some() {
                continue;
            }
            let limit = property["maxLength"]
                .as_u64()
                .unwrap_or_else(|| panic!("{}: `{name}` has no maxLength", tool.meta().name));
            found.push((
                tool.meta().name.to_owned(),
                name.clone(),
                usize::try_from(limit).unwrap(),
            ));
        }
    }
    found
}

#[tokio::test]
async fn a_string_one_character_over_its_limit_is_refused_before_any_request() {
    let h = harness().await;
    let parameters = bounded_parameters();
    assert!(
        parameters.len() > 150,
        "{} string parameters",
        parameters.len()
    );
    for (tool, name, limit) in parameters {
        let mut args = Map::new();
        args.insert(name.clone(), json!("x".repeat(limit + 1)));
        let error = h.err(&tool, Value::Object(args)).await;
        assert!(
            error.contains(&format!("`{name}`")) && error.contains(&format!("limit is {limit}")),
            "{tool}.{name}: {error}"
        );
        assert!(
            error.len() < 300,
            "{tool}.{name} echoes the value: {error:.300}"
        );
    }
    assert!(h.requests().await.is_empty(), "no request was sent");
}
