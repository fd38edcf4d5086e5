//! The `bk-tools` tools in the formats model APIs take, and the glue of an
//! agent loop: parse the model's tool call, dispatch it, wrap the result.
//!
//! The input is the tool list as [`bk_tools::Registry::list`] gives it (MCP
//! `tools/list` entries: `name`, `description`, `inputSchema`, …).
//!
//! - OpenAI function calling: `{"type": "function", "function": {"name",
//!   "description", "parameters", "strict"}}`. In strict mode every object
//!   must list all its properties in `required` and set
//!   `additionalProperties: false`, so optional properties become nullable
//!   (the model sends `null` for "not given"; [`strip_nulls`] turns that back
//!   into an absent argument), and keywords strict mode does not accept
//!   (`default`, `minLength`, …) are dropped. A schema with a free-form map
//!   (`additionalProperties: {…}`, such as `list_builds`' `meta_data`) cannot
//!   be strict; such a tool is exported with `strict: false`.
//! - Anthropic: `{"name", "description", "input_schema"}`.

use std::fmt;
use std::str::FromStr;

use bk_tools::CallResult;
use serde_json::{Map, Value, json};

/// A model provider's tool format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// OpenAI (Chat Completions function calling).
    OpenAi,
    /// Anthropic (Messages API tool use).
    Anthropic,
}

impl FromStr for Provider {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "openai" => Ok(Provider::OpenAi),
            "anthropic" => Ok(Provider::Anthropic),
            other => Err(format!(
                "unknown provider {other:?} (use openai or anthropic)"
            )),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
        })
    }
}

/// Keywords OpenAI's strict mode accepts; the others are dropped.
const STRICT_KEYWORDS: &[&str] = &[
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

fn field<'a>(tool: &'a Value, name: &str) -> &'a Value {
    tool.get(name).unwrap_or(&Value::Null)
}

/// Tools in the Anthropic format.
pub fn anthropic_tools(listed: &[Value]) -> Vec<Value> {
    listed
        .iter()
        .map(|tool| {
            json!({
                "name": field(tool, "name"),
                "description": field(tool, "description"),
                "input_schema": field(tool, "inputSchema"),
            })
        })
        .collect()
}

/// Tools in the OpenAI function-calling format. With `strict`, each tool
/// whose schema can be strict is converted and marked `strict: true`; the
/// others keep their schema and `strict: false`.
pub fn openai_tools(listed: &[Value], strict: bool) -> Vec<Value> {
    listed
        .iter()
        .map(|tool| {
            let schema = field(tool, "inputSchema");
            let (parameters, is_strict) = match strict.then(|| strict_schema(schema)).flatten() {
                Some(converted) => (converted, true),
                None => (schema.clone(), false),
            };
            json!({
                "type": "function",
                "function": {
                    "name": field(tool, "name"),
                    "description": field(tool, "description"),
                    "parameters": parameters,
                    "strict": is_strict,
                },
            })
        })
        .collect()
}

/// The tools (by name) whose schema cannot be made strict.
pub fn non_strict_tools(listed: &[Value]) -> Vec<String> {
    listed
        .iter()
        .filter(|tool| strict_schema(field(tool, "inputSchema")).is_none())
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect()
}

/// `schema` rewritten for OpenAI's strict mode, or `None` when it has a
/// free-form map, which strict mode cannot express.
pub fn strict_schema(schema: &Value) -> Option<Value> {
    let Value::Object(object) = schema else {
        return Some(schema.clone());
    };
    let mut out = Map::new();
    for (key, value) in object {
        if !STRICT_KEYWORDS.contains(&key.as_str()) {
            continue;
        }
        let value = match key.as_str() {
            "additionalProperties" if value != &Value::Bool(false) => return None,
            "items" => strict_schema(value)?,
            "anyOf" => Value::Array(
                value
                    .as_array()?
                    .iter()
                    .map(strict_schema)
                    .collect::<Option<Vec<_>>>()?,
            ),
            "$defs" => Value::Object(
                value
                    .as_object()?
                    .iter()
                    .map(|(name, def)| Some((name.clone(), strict_schema(def)?)))
                    .collect::<Option<Map<_, _>>>()?,
            ),
            "properties" | "required" => continue,
            _ => value.clone(),
        };
        out.insert(key.clone(), value);
    }
    let is_object =
        object.get("type") == Some(&json!("object")) || object.contains_key("properties");
    if is_object {
        let required: Vec<&str> = object
            .get("required")
            .and_then(Value::as_array)
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut properties = Map::new();
        if let Some(Value::Object(listed)) = object.get("properties") {
            for (name, property) in listed {
                let converted = strict_schema(property)?;
                let converted = if required.contains(&name.as_str()) {
                    converted
                } else {
                    nullable(converted)
                };
                properties.insert(name.clone(), converted);
            }
        }
        let names: Vec<Value> = properties.keys().cloned().map(Value::String).collect();
        out.insert("properties".into(), Value::Object(properties));
        out.insert("required".into(), Value::Array(names));
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    Some(out.into())
}

/// A schema that also accepts `null`.
fn nullable(schema: Value) -> Value {
    let Value::Object(mut object) = schema else {
        return schema;
    };
    match object.get_mut("type") {
        Some(Value::String(name)) => {
            let name = std::mem::take(name);
            object.insert("type".into(), json!([name, "null"]));
        }
        Some(Value::Array(names)) => {
            if !names.contains(&json!("null")) {
                names.push(json!("null"));
            }
        }
        _ => {
            return json!({"anyOf": [Value::Object(object), {"type": "null"}]});
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    Value::Object(object)
}

/// Arguments with every `null` member removed (at any depth): a strict-mode
/// model sends `null` for an optional argument it does not give, and the
/// tools take "absent", not `null`, for "not given".
pub fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .into_iter()
                .filter(|(_, value)| !value.is_null())
                .map(|(key, value)| (key, strip_nulls(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A tool call a model asked for, whatever its provider.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The provider's id of the call, echoed back with the result.
    pub id: String,
    /// The tool.
    pub name: String,
    /// Its arguments, `null` members removed.
    pub arguments: Value,
}

/// Reads one entry of an OpenAI assistant message's `tool_calls`:
/// `{"id", "type": "function", "function": {"name", "arguments": "<JSON text>"}}`.
pub fn parse_openai_tool_call(call: &Value) -> Result<ToolCall, String> {
    let id = call["id"].as_str().ok_or("tool call without an id")?;
    let function = &call["function"];
    let name = function["name"]
        .as_str()
        .ok_or("tool call without a function name")?;
    let arguments = match &function["arguments"] {
        Value::String(text) if text.trim().is_empty() => json!({}),
        Value::String(text) => serde_json::from_str(text)
            .map_err(|e| format!("arguments of {name} are not JSON: {e}"))?,
        Value::Null => json!({}),
        other => other.clone(),
    };
    Ok(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments: strip_nulls(arguments),
    })
}

/// Reads an Anthropic `tool_use` content block:
/// `{"type": "tool_use", "id", "name", "input": {…}}`.
pub fn parse_anthropic_tool_use(block: &Value) -> Result<ToolCall, String> {
    if block["type"] != "tool_use" {
        return Err(format!("not a tool_use block: {}", block["type"]));
    }
    let id = block["id"].as_str().ok_or("tool_use without an id")?;
    let name = block["name"].as_str().ok_or("tool_use without a name")?;
    let input = match &block["input"] {
        Value::Null => json!({}),
        other => other.clone(),
    };
    Ok(ToolCall {
        id: id.to_owned(),
        name: name.to_owned(),
        arguments: strip_nulls(input),
    })
}

/// The tool calls of a model turn in `provider`'s format: an OpenAI
/// assistant message (`tool_calls`) or an Anthropic assistant message
/// (`tool_use` blocks in `content`).
pub fn tool_calls(provider: Provider, message: &Value) -> Result<Vec<ToolCall>, String> {
    match provider {
        Provider::OpenAi => message["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
            .map(parse_openai_tool_call)
            .collect(),
        Provider::Anthropic => message["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|block| block["type"] == "tool_use")
            .map(parse_anthropic_tool_use)
            .collect(),
    }
}

/// The message that gives a tool's result back to the model: an OpenAI
/// `tool` message, or an Anthropic `user` message with a `tool_result`
/// block (`is_error` set for failed calls, so the model can correct itself).
pub fn tool_result_message(provider: Provider, call: &ToolCall, result: &CallResult) -> Value {
    match provider {
        Provider::OpenAi => json!({
            "role": "tool",
            "tool_call_id": call.id,
            "content": result.text,
        }),
        Provider::Anthropic => json!({
            "role": "user",
            "content": [{
                "type": "tool_result",
                "tool_use_id": call.id,
                "content": result.text,
                "is_error": result.is_error,
            }],
        }),
    }
}

/// The whole tool list in `provider`'s format.
pub fn export(provider: Provider, listed: &[Value], strict: bool) -> Vec<Value> {
    match provider {
        Provider::OpenAi => openai_tools(listed, strict),
        Provider::Anthropic => anthropic_tools(listed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_properties_become_nullable_and_required() {
        let schema = json!({
            "type": "object",
            "description": "Args.",
            "properties": {
                "org_slug": {"type": "string", "minLength": 1},
                "state": {"type": "string", "enum": ["passed", "failed"]},
                "tail": {"type": "integer", "minimum": 1, "default": 50},
                "env": {"type": "array", "items": {
                    "type": "object",
                    "properties": {"key": {"type": "string"}, "value": {"type": "string"}},
                    "required": ["key"],
                    "additionalProperties": false
                }}
            },
            "required": ["org_slug"],
            "additionalProperties": false
        });
        let strict = strict_schema(&schema).expect("convertible");
        assert_eq!(
            strict,
            json!({
                "type": "object",
                "description": "Args.",
                "properties": {
                    "org_slug": {"type": "string"},
                    "state": {"type": ["string", "null"], "enum": ["passed", "failed", null]},
                    "tail": {"type": ["integer", "null"], "minimum": 1},
                    "env": {"type": ["array", "null"], "items": {
                        "type": "object",
                        "properties": {
                            "key": {"type": "string"},
                            "value": {"type": ["string", "null"]}
                        },
                        "required": ["key", "value"],
                        "additionalProperties": false
                    }}
                },
                "required": ["org_slug", "state", "tail", "env"],
                "additionalProperties": false
            })
        );
    }

    #[test]
    fn free_form_maps_cannot_be_strict() {
        let schema = json!({
            "type": "object",
            "properties": {"meta_data": {"type": "object", "additionalProperties": {"type": "string"}}},
            "additionalProperties": false
        });
        assert_eq!(strict_schema(&schema), None);
        let listed =
            vec![json!({"name": "list_builds", "description": "d", "inputSchema": schema})];
        let exported = openai_tools(&listed, true);
        assert_eq!(exported[0]["function"]["strict"], false);
        assert_eq!(exported[0]["function"]["parameters"], schema);
        assert_eq!(non_strict_tools(&listed), vec!["list_builds"]);
    }

    #[test]
    fn untyped_optional_properties_use_any_of() {
        let schema = json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/X"}}});
        let strict = strict_schema(&schema).expect("convertible");
        assert_eq!(
            strict["properties"]["x"],
            json!({"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}]})
        );
    }

    #[test]
    fn strip_nulls_removes_null_members_at_any_depth() {
        assert_eq!(
            strip_nulls(json!({"a": 1, "b": null, "c": [{"d": null, "e": "x"}], "f": {"g": null}})),
            json!({"a": 1, "c": [{"e": "x"}], "f": {}})
        );
    }

    #[test]
    fn tool_calls_are_read_from_both_formats() {
        let openai = json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_build", "arguments": "{\"org_slug\":\"acme\",\"detail_level\":null}"}
            }]
        });
        let anthropic = json!({
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_build", "input": {"org_slug": "acme"}}
            ]
        });
        let expected = |id: &str| ToolCall {
            id: id.into(),
            name: "get_build".into(),
            arguments: json!({"org_slug": "acme"}),
        };
        assert_eq!(
            tool_calls(Provider::OpenAi, &openai),
            Ok(vec![expected("call_1")])
        );
        assert_eq!(
            tool_calls(Provider::Anthropic, &anthropic),
            Ok(vec![expected("toolu_1")])
        );
        let bad = json!({"tool_calls": [{"id": "c", "function": {"name": "x", "arguments": "{"}}]});
        assert!(tool_calls(Provider::OpenAi, &bad).is_err());
    }

    #[test]
    fn results_are_wrapped_per_provider() {
        let call = ToolCall {
            id: "id-1".into(),
            name: "get_build".into(),
            arguments: json!({}),
        };
        let result = CallResult {
            text: "boom".into(),
            is_error: true,
            unauthorized: false,
            api_requests: 0,
            replay_miss: false,
            links: Vec::new(),
        };
        assert_eq!(
            tool_result_message(Provider::OpenAi, &call, &result),
            json!({"role": "tool", "tool_call_id": "id-1", "content": "boom"})
        );
        assert_eq!(
            tool_result_message(Provider::Anthropic, &call, &result)["content"][0],
            json!({"type": "tool_result", "tool_use_id": "id-1", "content": "boom", "is_error": true})
        );
    }

    #[test]
    fn providers_parse_and_print() {
        assert_eq!("OpenAI".parse::<Provider>(), Ok(Provider::OpenAi));
        assert_eq!("anthropic".parse::<Provider>(), Ok(Provider::Anthropic));
        assert!("gemini".parse::<Provider>().is_err());
        assert_eq!(Provider::OpenAi.to_string(), "openai");
    }
}
