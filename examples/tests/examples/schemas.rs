//! The exported tool lists: every tool, valid names, object schemas, and
//! OpenAI's strict-mode rules; and strict-mode calls dispatched for real.

use std::collections::BTreeSet;

use bk_examples::demo;
use bk_examples::schemas::{
    Provider, anthropic_tools, export, non_strict_tools, openai_tools, strict_schema, strip_nulls,
};
use bk_tools::{Registry, Selection, ToolContext};
use serde_json::{Value, json};

fn listed() -> Vec<Value> {
    Registry::new().list(&Selection::all())
}

/// Names both APIs accept: `^[a-zA-Z0-9_-]{1,64}$`.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A JSON-schema object node with sane `properties` and `required`.
fn assert_object_schema(schema: &Value, tool: &str) {
    assert_eq!(schema["type"], "object", "{tool}: {schema}");
    let properties = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{tool}: properties must be an object"));
    for (name, property) in properties {
        assert!(property.is_object(), "{tool}.{name}: {property}");
    }
    for required in schema["required"].as_array().into_iter().flatten() {
        let name = required.as_str().expect("required names are strings");
        assert!(
            properties.contains_key(name),
            "{tool}: required {name} is not a property"
        );
    }
}

/// Every object node, at any depth, follows strict mode's rules.
fn assert_strict(schema: &Value, path: &str) {
    const ALLOWED: &[&str] = &[
        "type",
        "description",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "anyOf",
        "$ref",
        "$defs",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
    ];
    let object = schema
        .as_object()
        .unwrap_or_else(|| panic!("{path}: {schema}"));
    for key in object.keys() {
        assert!(
            ALLOWED.contains(&key.as_str()),
            "{path}: keyword {key} in strict mode"
        );
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        assert_eq!(object["additionalProperties"], false, "{path}");
        let required: BTreeSet<&str> = object["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{path}: no required"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let names: BTreeSet<&str> = properties.keys().map(String::as_str).collect();
        assert_eq!(required, names, "{path}: every property must be required");
        for (name, property) in properties {
            assert_strict(property, &format!("{path}.{name}"));
        }
    }
    if let Some(items) = object.get("items") {
        assert_strict(items, &format!("{path}[]"));
    }
    for option in object
        .get("anyOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        assert_strict(option, &format!("{path}|"));
    }
    if let (Some(values), Some(types)) = (object.get("enum"), object.get("type")) {
        let nullable = types.as_array().is_some_and(|t| t.contains(&json!("null")));
        let has_null = values.as_array().is_some_and(|v| v.contains(&Value::Null));
        assert_eq!(nullable, has_null, "{path}: a nullable enum lists null");
    }
}

/// Whether a schema has a free-form map anywhere.
fn has_free_form_map(schema: &Value) -> bool {
    match schema {
        Value::Object(object) => object.iter().any(|(key, value)| {
            (key == "additionalProperties" && value != &Value::Bool(false))
                || has_free_form_map(value)
        }),
        Value::Array(items) => items.iter().any(has_free_form_map),
        _ => false,
    }
}

#[test]
fn the_anthropic_export_has_every_tool_with_an_object_schema() {
    let listed = listed();
    let tools = anthropic_tools(&listed);
    assert_eq!(tools.len(), listed.len());
    assert!(tools.len() >= 50, "only {} tools", tools.len());
    let mut names = BTreeSet::new();
    for (tool, source) in tools.iter().zip(&listed) {
        let keys: BTreeSet<&str> = tool
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["name", "description", "input_schema"])
        );
        let name = tool["name"].as_str().expect("a name");
        assert!(valid_name(name), "{name}");
        assert!(names.insert(name), "{name} twice");
        assert!(
            !tool["description"].as_str().unwrap_or("").is_empty(),
            "{name}"
        );
        assert_eq!(tool["input_schema"], source["inputSchema"], "{name}");
        assert_object_schema(&tool["input_schema"], name);
    }
}

#[test]
fn the_openai_export_has_every_tool_as_a_function() {
    let listed = listed();
    for strict in [false, true] {
        let tools = openai_tools(&listed, strict);
        assert_eq!(tools.len(), listed.len());
        let names: BTreeSet<&str> = tools
            .iter()
            .map(|tool| tool["function"]["name"].as_str().expect("a name"))
            .collect();
        assert_eq!(names.len(), listed.len(), "names are unique");
        for tool in &tools {
            assert_eq!(tool["type"], "function");
            let function = &tool["function"];
            let name = function["name"].as_str().expect("a name");
            assert!(valid_name(name), "{name}");
            assert!(
                !function["description"].as_str().unwrap_or("").is_empty(),
                "{name}"
            );
            assert_object_schema(&function["parameters"], name);
            if !strict {
                assert_eq!(function["strict"], false, "{name}");
            }
        }
    }
}

#[test]
fn strict_mode_covers_every_tool_without_a_free_form_map() {
    let listed = listed();
    let tools = openai_tools(&listed, true);
    let expected_loose: Vec<String> = listed
        .iter()
        .filter(|tool| has_free_form_map(&tool["inputSchema"]))
        .map(|tool| tool["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(non_strict_tools(&listed), expected_loose);
    assert!(
        expected_loose.len() < listed.len() / 4,
        "{expected_loose:?}"
    );
    for (tool, source) in tools.iter().zip(&listed) {
        let function = &tool["function"];
        let name = function["name"].as_str().expect("name");
        if expected_loose.iter().any(|loose| loose == name) {
            assert_eq!(function["strict"], false, "{name}");
            assert_eq!(function["parameters"], source["inputSchema"], "{name}");
            continue;
        }
        assert_eq!(function["strict"], true, "{name}");
        assert_strict(&function["parameters"], name);
        // Nothing was lost but keywords: the same properties, and those
        // that were optional now also take null.
        let original = &source["inputSchema"];
        let required: Vec<&Value> = original["required"]
            .as_array()
            .into_iter()
            .flatten()
            .collect();
        let before = original["properties"].as_object().expect("properties");
        let after = function["parameters"]["properties"]
            .as_object()
            .expect("properties");
        assert_eq!(
            before.keys().collect::<Vec<_>>(),
            after.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (property, schema) in after {
            let optional = !required.contains(&&json!(property));
            let takes_null = schema["type"]
                .as_array()
                .is_some_and(|types| types.contains(&json!("null")))
                || schema["anyOf"]
                    .as_array()
                    .is_some_and(|options| options.contains(&json!({"type": "null"})));
            assert_eq!(optional, takes_null, "{name}.{property}");
        }
    }
}

#[test]
fn export_follows_the_provider() {
    let listed = listed();
    assert_eq!(
        export(Provider::Anthropic, &listed, true),
        anthropic_tools(&listed)
    );
    assert_eq!(
        export(Provider::OpenAi, &listed, true),
        openai_tools(&listed, true)
    );
}

/// A strict-mode model sends `null` for every optional argument; once the
/// nulls are stripped the call is the plain one, and replays the same.
#[tokio::test]
async fn strict_mode_arguments_dispatch_like_plain_ones() {
    let registry = Registry::new();
    let selection = Selection::all();
    let plain = json!({"org_slug": "acme", "pipeline_slug": "web", "build_number": "1234"});
    let listed = listed();
    let summary = listed
        .iter()
        .find(|tool| tool["name"] == "get_build_failure_summary")
        .expect("the summary tool");
    let strict = strict_schema(&summary["inputSchema"]).expect("strict-compatible");
    let mut with_nulls = plain.clone();
    for name in strict["properties"].as_object().expect("properties").keys() {
        with_nulls
            .as_object_mut()
            .expect("object")
            .entry(name.clone())
            .or_insert(Value::Null);
    }
    assert!(with_nulls.as_object().expect("object").len() > 3);

    let mut texts = Vec::new();
    for arguments in [plain.clone(), strip_nulls(with_nulls.clone())] {
        let client = demo::demo_client().expect("the demo recording loads");
        let (logs, _dir) = demo::temporary_log_engine().expect("a log cache");
        let ctx = ToolContext::new(client, logs);
        let result = registry
            .call(&selection, &ctx, "get_build_failure_summary", arguments)
            .await;
        assert!(!result.is_error, "{}", result.text);
        texts.push(result.text);
    }
    assert_eq!(texts[0], texts[1]);

    // Unstripped, the nulls are refused by name (why the dispatch strips).
    let client = demo::demo_client().expect("the demo recording loads");
    let (logs, _dir) = demo::temporary_log_engine().expect("a log cache");
    let ctx = ToolContext::new(client, logs);
    let raw = registry
        .call(&selection, &ctx, "get_build_failure_summary", with_nulls)
        .await;
    assert!(raw.is_error, "{}", raw.text);
    assert!(raw.text.contains("null"), "{}", raw.text);
}
