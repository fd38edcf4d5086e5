//! How long a string argument may be: one table by kind of parameter
//! (slugs, ids, branches, patterns, free text), written into every input
//! schema as `maxLength` and checked before a tool runs, so a 2 MiB slug is
//! refused with the parameter's name and limit before any request, and no
//! error echoes it.
//!
//! An explicit `maxLength` in a schema wins over the table. Strings limited
//! to an enum are checked against the longest value, without adding to the
//! schema (the enum already says it).

use serde_json::Value;

use crate::error::ToolError;

/// The most characters a string parameter named `name` may have. Items of
/// an array parameter take the array's name.
pub fn max_chars(name: &str) -> usize {
    match name {
        // Room for a pasted UUID, which gets its own hint when parsed.
        "build_number" | "base_build_number" => 64,
        "after" | "before" | "created_from" | "created_to" | "finished_from" | "min_timestamp"
        | "max_timestamp" | "period" | "cache_ttl" => 64,
        "branch" | "default_branch" | "commit" => 255,
        "pattern" | "query" => 1_000,
        "url" | "repository" | "repository_url" => 2_048,
        "path" => 4_096,
        // Free text: notes, block-step fields, env and meta-data values.
        "note" | "description" | "fields" | "value" => 10_000,
        "message" => 65_536,
        // An annotation's body and a pipeline's YAML are documents.
        "body" | "configuration" => 1 << 20,
        _ if name.ends_with("_slug") => 255,
        _ if name.ends_with("_id") || name.ends_with("_uuid") || name.ends_with("_uuids") => 128,
        _ => DEFAULT_MAX_CHARS,
    }
}

/// The limit of a string parameter of no kind the table names.
const DEFAULT_MAX_CHARS: usize = 255;

/// Adds `maxLength` to every string property of a tool's input schema
/// (nested objects and array items included) that has neither one nor an
/// enum.
pub fn annotate(schema: &mut Value) {
    let Some(Value::Object(properties)) = schema.get_mut("properties") else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        annotate_property(name, property);
    }
}

fn annotate_property(name: &str, property: &mut Value) {
    let Some(object) = property.as_object_mut() else {
        return;
    };
    let is_string = match object.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "string"),
        _ => false,
    };
    if is_string && !object.contains_key("enum") && !object.contains_key("maxLength") {
        object.insert("maxLength".into(), Value::from(max_chars(name)));
    }
    if let Some(items) = object.get_mut("items") {
        annotate_property(name, items);
    }
    if let Some(values @ Value::Object(_)) = object.get_mut("additionalProperties") {
        annotate_property(name, values);
    }
    if object.contains_key("properties") {
        annotate(property);
    }
}

/// Checks every string in `args` against its schema's `maxLength` (or its
/// enum's longest value), before the arguments are parsed.
pub fn check(schema: &Value, args: &Value) -> Result<(), ToolError> {
    let (Some(properties), Some(args)) = (schema.get("properties"), args.as_object()) else {
        return Ok(());
    };
    for (name, value) in args {
        if let Some(property) = properties.get(name) {
            check_value(name, property, value)?;
        }
    }
    Ok(())
}

fn check_value(path: &str, schema: &Value, value: &Value) -> Result<(), ToolError> {
    match value {
        Value::String(text) => check_text(path, schema, text),
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| check_value(&format!("{path}[{i}]"), item_schema, item)),
            None => Ok(()),
        },
        Value::Object(fields) => fields.iter().try_for_each(|(name, field)| {
            let field_schema = schema
                .get("properties")
                .and_then(|properties| properties.get(name))
                .or_else(|| schema.get("additionalProperties").filter(|s| s.is_object()));
            match field_schema {
                Some(field_schema) => check_value(&format!("{path}.{name}"), field_schema, field),
                None => Ok(()),
            }
        }),
        _ => Ok(()),
    }
}

fn check_text(path: &str, schema: &Value, text: &str) -> Result<(), ToolError> {
    let limit = match (schema.get("maxLength"), schema.get("enum")) {
        (Some(max), _) => max.as_u64().and_then(|m| usize::try_from(m).ok()),
        // A wrong value is best told with the values it may take, so only
        // an absurd one stops here.
        (None, Some(Value::Array(values))) => values
            .iter()
            .filter_map(Value::as_str)
            .map(|v| v.chars().count())
            .max()
            .map(|longest| longest.max(DEFAULT_MAX_CHARS)),
        _ => None,
    };
    let Some(limit) = limit else {
        return Ok(());
    };
    // Characters never outnumber bytes: most texts need no count.
    if text.len() <= limit {
        return Ok(());
    }
    let length = text.chars().count();
    if length <= limit {
        return Ok(());
    }
    Err(ToolError::invalid(
        path,
        format!("is {length} characters long; its limit is {limit}: shorten it"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        let mut schema = json!({"type": "object", "properties": {
            "org_slug": {"type": "string", "minLength": 1},
            "job_id": {"type": "string"},
            "state": {"type": "string", "enum": ["passed", "failed"]},
            "message": {"type": ["string", "null"]},
            "pattern": {"type": "string", "maxLength": 10},
            "tags": {"type": "array", "items": {"type": "string"}},
            "environment": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}}}},
            "per_page": {"type": "integer"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}}
        }});
        annotate(&mut schema);
        schema
    }

    #[test]
    fn every_free_string_gets_a_limit_by_its_kind() {
        let schema = schema();
        let p = &schema["properties"];
        assert_eq!(p["org_slug"]["maxLength"], 255);
        assert_eq!(p["job_id"]["maxLength"], 128);
        assert_eq!(p["message"]["maxLength"], 65_536);
        assert_eq!(p["pattern"]["maxLength"], 10, "an explicit limit wins");
        assert_eq!(p["tags"]["items"]["maxLength"], 255);
        assert_eq!(
            p["environment"]["items"]["properties"]["name"]["maxLength"],
            255
        );
        assert!(p["state"].get("maxLength").is_none(), "the enum says it");
        assert!(p["per_page"].get("maxLength").is_none());
        assert_eq!(p["fields"]["additionalProperties"]["maxLength"], 10_000);
    }

    #[test]
    fn a_too_long_argument_names_the_parameter_and_its_limit_without_echoing_it() {
        let schema = schema();
        let slug = "s".repeat(2 << 20);
        let error = check(&schema, &json!({"org_slug": slug}))
            .unwrap_err()
            .to_string();
        assert!(error.contains("`org_slug`"), "{error}");
        assert!(
            error.contains("2097152 characters") && error.contains("limit is 255"),
            "{error}"
        );
        assert!(error.len() < 200, "{error}");
        let error = check(&schema, &json!({"tags": ["ok", "t".repeat(300)]})).unwrap_err();
        assert!(error.to_string().contains("`tags[1]`"), "{error}");
        let error = check(
            &schema,
            &json!({"environment": [{"name": "n".repeat(256)}]}),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("`environment[0].name`"),
            "{error}"
        );
        let error =
            check(&schema, &json!({"fields": {"release": "r".repeat(10_001)}})).unwrap_err();
        assert!(error.to_string().contains("`fields.release`"), "{error}");
        let error = check(&schema, &json!({"state": "x".repeat(10_000)})).unwrap_err();
        assert!(error.to_string().contains("limit is 255"), "{error}");
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        let schema = schema();
        assert!(check(&schema, &json!({"pattern": "éééééééééé"})).is_ok());
        assert!(check(&schema, &json!({"pattern": "éééééééééééé"})).is_err());
        assert!(check(&schema, &json!({"org_slug": "acme", "per_page": 5})).is_ok());
    }
}
