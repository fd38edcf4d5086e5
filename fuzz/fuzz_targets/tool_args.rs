//! Fuzzes every tool's argument parsing, with arguments generated from the
//! tool's own input schema.
//!
//! The first byte picks the tool; the rest drives a generator that walks
//! the schema: values of the right type (enum members, bounds and one past
//! them, numbers that match a pattern, dates), of the wrong type, `null`,
//! huge strings, missing and unknown fields (also in nested objects), and
//! arguments that are not an object at all. The tool is called as the
//! registry calls it (`Tool::call`: parse, then run) with a client that
//! replays an empty recording, so an input that parses fails at its first
//! request, at once and without a network.
//!
//! Properties: no panic; an invalid-argument error names a parameter of
//! the schema (or `arguments`, or the unknown field given) and its message
//! is non-empty and at most 2,000 bytes; an input the schema certainly
//! refuses (a required field missing, an unknown field, arguments that are
//! not an object) is refused while parsing.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bk_tools::{Registry, ToolContext, ToolError};
use buildkite_api::har::HarReplay;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use tokio::runtime::Runtime;

/// The longest invalid-argument error accepted.
const MAX_ERROR_BYTES: usize = 2_000;

/// A known issue, reported and not fixed here (`bk-tools/src/args.rs` and
/// the tools belong to other work): serde's messages quote the argument
/// they refuse whole (`invalid type: string "…"`, `unknown field `…``),
/// and so does `resolve_url` (`"…" is not a URL`, and the host it
/// parsed), so an error echoes a huge argument in full, up to the
/// response budget. While this is `true`, an error may be longer than
/// [`MAX_ERROR_BYTES`] by two quoted copies of each long argument (see
/// [`echo_allowance`]), and no more. Set it to `false` once the messages
/// cut what they quote.
const TOLERATE_ECHOED_ARGUMENTS: bool = true;

/// Strings in the arguments (keys and values) long enough that an error
/// quoting one would be too long.
fn long_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() >= 64 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| long_strings(v, out)),
        Value::Object(map) => {
            for (key, value) in map {
                if key.len() >= 64 {
                    out.push(key.clone());
                }
                long_strings(value, out);
            }
        }
        _ => {}
    }
}

/// What echoing `strings` may add to an error: each twice (as given,
/// and as a tool parsed it), quoted with `{:?}`.
fn echo_allowance(strings: &[String]) -> usize {
    strings.iter().map(|s| 2 * format!("{s:?}").len()).sum()
}

struct Setup {
    runtime: Runtime,
    registry: Registry,
    ctx: ToolContext,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime");
        let replay =
            HarReplay::from_slice(br#"{"log": {"entries": []}}"#).expect("an empty recording");
        let client = buildkite_api::Client::builder()
            .token("bkua_fuzz0123456789abcdefghijklmnopqrstu")
            .replay(replay)
            .build()
            .expect("a replaying client");
        // Nothing is written there: no download succeeds.
        let dir = std::env::temp_dir().join("bk-mcp-fuzz-tools");
        let cache = bk_logs::LogCache::new(&dir, 1 << 20).expect("a log cache directory");
        let logs = Arc::new(bk_logs::Engine::new(cache, Default::default()));
        let mut ctx = ToolContext::new(client, logs);
        ctx.limits.wait_for_build_timeout = Duration::from_millis(50);
        ctx.limits.wait_for_build_interval = Duration::from_millis(10);
        Setup {
            runtime,
            registry: Registry::new(),
            ctx,
        }
    })
}

/// What the generator did that the schema certainly refuses, and the
/// unknown fields it added (an error may name them).
#[derive(Debug, Default)]
struct Made {
    refused: bool,
    unknown: Vec<String>,
}

fn schema_type(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(t) => t,
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("any"),
        _ => "any",
    }
}

/// A string of `len` copies of a fuzzer-chosen character or word.
fn huge_string(u: &mut Unstructured<'_>) -> Result<Value> {
    let unit = match u.int_in_range(0..=3)? {
        0 => "x".to_owned(),
        1 => "\u{e9}".to_owned(),
        2 => "\u{1f600}\u{202e}".to_owned(),
        _ => u.arbitrary::<String>()?,
    };
    let unit = if unit.is_empty() {
        "y".to_owned()
    } else {
        unit
    };
    // Past the bound, and well past it. (Longer costs time, not coverage:
    // `search_logs` compiles its pattern while validating it.)
    let len = *u.choose(&[2_001usize, 4_096])?;
    let mut text = unit.repeat(len / unit.len() + 1);
    let mut cut = len.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    Ok(Value::String(text))
}

fn any_json(u: &mut Unstructured<'_>, depth: u32) -> Result<Value> {
    let limit = if depth > 2 { 5 } else { 7 };
    Ok(match u.int_in_range(0..=limit)? {
        0 => Value::Null,
        1 => json!(u.arbitrary::<bool>()?),
        2 => json!(u.arbitrary::<i64>()?),
        3 => json!(u.arbitrary::<f64>()?),
        4 => json!(u.arbitrary::<u64>()?),
        5 => json!(u.arbitrary::<String>()?),
        6 => {
            let len = u.int_in_range(0..=3)?;
            Value::Array(
                (0..len)
                    .map(|_| any_json(u, depth + 1))
                    .collect::<Result<_>>()?,
            )
        }
        _ => {
            let mut map = Map::new();
            for _ in 0..u.int_in_range(0..=3)? {
                map.insert(u.arbitrary()?, any_json(u, depth + 1)?);
            }
            Value::Object(map)
        }
    })
}

/// A value of another type than `schema` asks for.
fn wrong_type(u: &mut Unstructured<'_>, schema: &Value) -> Result<Value> {
    let candidates = [
        json!("not-the-right-type"),
        json!(true),
        json!(7),
        json!(-1.5),
        json!([1, "two"]),
        json!({"nested": {}}),
    ];
    let wanted = schema_type(schema);
    let others: Vec<&Value> = candidates
        .iter()
        .filter(|v| match wanted {
            "string" => !v.is_string(),
            "integer" | "number" => !v.is_number(),
            "boolean" => !v.is_boolean(),
            "array" => !v.is_array(),
            "object" => !v.is_object(),
            _ => true,
        })
        .collect();
    Ok((*u.choose(&others)?).clone())
}

fn integer(u: &mut Unstructured<'_>, schema: &Value) -> Result<Value> {
    let min = schema["minimum"].as_i64();
    let max = schema["maximum"].as_i64();
    Ok(match u.int_in_range(0..=11)? {
        0 => json!(min.unwrap_or(0)),
        1 => json!(max.unwrap_or(100)),
        2 => json!(min.map_or(-1, |m| m.saturating_sub(1))),
        3 => json!(max.map_or(1_000_000, |m| m.saturating_add(1))),
        4 => json!(u.arbitrary::<i64>()?),
        5 => json!(u64::MAX),
        6 => json!(i64::MIN),
        7 => json!(1.5),
        8 => json!(1e300),
        9 => json!(format!("{}", u.arbitrary::<u8>()?)),
        _ => {
            let low = min.unwrap_or(0);
            let high = max.unwrap_or(low.saturating_add(1000)).max(low);
            json!(u.int_in_range(low..=high)?)
        }
    })
}

fn string(u: &mut Unstructured<'_>, schema: &Value) -> Result<Value> {
    if schema.get("pattern").is_some() && u.ratio(3, 4)? {
        // The patterns in use are numbers (`^#?[0-9]+$`).
        let hash = if u.ratio(1, 4)? { "#" } else { "" };
        let digits = match u.int_in_range(0..=3)? {
            0 => "9".repeat(u.int_in_range(1..=40)?),
            1 => "0".to_owned(),
            _ => u.arbitrary::<u64>()?.to_string(),
        };
        return Ok(json!(format!("{hash}{digits}")));
    }
    if schema["format"] == "date-time" && u.ratio(3, 4)? {
        return Ok(json!(*u.choose(&[
            "2026-08-01T00:00:00Z",
            "2026-08-01T12:30:45.123456+02:00",
            "2026-08-01 00:00:00",
            "2026-13-45T99:99:99Z",
            "-262144-01-01T00:00:00Z",
            "+262143-12-31T23:59:59Z",
            "9999999999-01-01T00:00:00Z",
            "1970-01-01T00:00:00-23:59",
            "yesterday",
            "",
        ])?));
    }
    Ok(match u.int_in_range(0..=5)? {
        0 => json!(""),
        1 => json!(" \t"),
        2 => json!("acme"),
        3 => json!("https://buildkite.com/acme/app/builds/42#0190-abc"),
        _ => json!(u.arbitrary::<String>()?),
    })
}

/// A value of the right type for `schema` (within the schema or just
/// outside its bounds).
fn right_type(
    u: &mut Unstructured<'_>,
    schema: &Value,
    depth: u32,
    made: &mut Made,
) -> Result<Value> {
    if let Some(values) = schema["enum"].as_array().filter(|v| !v.is_empty()) {
        let value = u.choose(values)?.clone();
        return Ok(match (u.int_in_range(0..=5)?, value.as_str()) {
            (0, Some(s)) => json!(s.to_ascii_uppercase()),
            (1, Some(s)) => json!(format!(" {s}")),
            _ => value,
        });
    }
    Ok(match schema_type(schema) {
        "integer" => integer(u, schema)?,
        "number" => json!(u.arbitrary::<f64>()?),
        "boolean" => json!(u.arbitrary::<bool>()?),
        "string" => string(u, schema)?,
        "array" => {
            let len = u.int_in_range(0..=4)?;
            let items = &schema["items"];
            Value::Array(
                (0..len)
                    .map(|_| value(u, items, depth + 1, made))
                    .collect::<Result<_>>()?,
            )
        }
        "object" if depth < 4 => Value::Object(object(u, schema, depth + 1, made)?),
        _ => any_json(u, depth)?,
    })
}

fn value(u: &mut Unstructured<'_>, schema: &Value, depth: u32, made: &mut Made) -> Result<Value> {
    Ok(match u.int_in_range(0..=15)? {
        0 => wrong_type(u, schema)?,
        1 => huge_string(u)?,
        2 => any_json(u, depth)?,
        3 => Value::Null,
        _ => right_type(u, schema, depth, made)?,
    })
}

/// An object for an object schema: each property present or not, and now
/// and then a field the schema does not have.
fn object(
    u: &mut Unstructured<'_>,
    schema: &Value,
    depth: u32,
    made: &mut Made,
) -> Result<Map<String, Value>> {
    let empty = Map::new();
    let properties = schema["properties"].as_object().unwrap_or(&empty);
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let closed = schema["additionalProperties"] == false;
    let mut map = Map::new();
    for (name, property) in properties {
        let is_required = required.contains(&name.as_str());
        let present = if is_required {
            !u.ratio(1, 16)?
        } else {
            u.ratio(1, 2)?
        };
        if present {
            map.insert(name.clone(), value(u, property, depth, made)?);
        } else if is_required {
            made.refused = true;
        }
    }
    for _ in 0..3 {
        if !u.ratio(1, 12)? {
            break;
        }
        let key = match u.int_in_range(0..=4)? {
            0 => String::new(),
            1 => huge_string(u)?.as_str().unwrap_or_default().to_owned(),
            2 => properties
                .keys()
                .next()
                .map_or_else(|| "X".to_owned(), |k| k.to_ascii_uppercase()),
            _ => u.arbitrary::<String>()?,
        };
        if properties.contains_key(&key) || map.contains_key(&key) {
            continue;
        }
        if closed {
            made.refused = true;
        }
        made.unknown.push(key.clone());
        map.insert(key, any_json(u, depth)?);
    }
    Ok(map)
}

/// The whole arguments value.
fn arguments(u: &mut Unstructured<'_>, schema: &Value, made: &mut Made) -> Result<Value> {
    Ok(match u.int_in_range(0..=40)? {
        0 => {
            made.refused = schema["required"].as_array().is_some_and(|r| !r.is_empty());
            Value::Null
        }
        1 => {
            made.refused = true;
            u.choose(&[json!([]), json!("{}"), json!(1), json!(false)])?
                .clone()
        }
        _ => Value::Object(object(u, schema, 0, made)?),
    })
}

/// Whether an error's parameter is one the caller can find: a property,
/// a path into one, `arguments`, or a field the caller gave (which may be
/// named `""`).
fn names_known_parameter(param: &str, schema: &Value, made: &Made) -> bool {
    let head = param.split(['.', '[']).next().unwrap_or(param);
    param == "arguments"
        || schema["properties"].get(head).is_some()
        || made.unknown.iter().any(|k| k == param || k == head)
}

/// At most 300 bytes of `text`, for assertion messages.
fn cut(text: &str) -> &str {
    let mut end = text.len().min(300);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let setup = setup();
    let tools = setup.registry.all_tools();
    let tool = &tools[usize::from(pick) % tools.len()];
    let schema = tool.input_schema();
    let mut made = Made::default();
    let Ok(args) = arguments(&mut Unstructured::new(rest), schema, &mut made) else {
        return;
    };
    // The arguments again, made from the same bytes (the generator is
    // deterministic), for the rare checks that need them after the call:
    // keeping a copy of every input costs time.
    let again = || {
        arguments(&mut Unstructured::new(rest), schema, &mut Made::default()).unwrap_or_default()
    };
    let shown = || cut(&again().to_string()).to_owned();
    let outcome = setup.runtime.block_on(tool.call(&setup.ctx, args));
    let name = tool.meta().name;
    match outcome {
        Err(error @ ToolError::InvalidArgument { .. }) => {
            let text = error.to_string();
            let ToolError::InvalidArgument { param, message } = &error else {
                unreachable!()
            };
            assert!(!message.is_empty(), "{name}: {text}");
            let allowance = if TOLERATE_ECHOED_ARGUMENTS && text.len() > MAX_ERROR_BYTES {
                let mut strings = Vec::new();
                long_strings(&again(), &mut strings);
                echo_allowance(&strings)
            } else {
                0
            };
            assert!(
                text.len() <= MAX_ERROR_BYTES + allowance,
                "{name}: a {}-byte error for {}: {}…",
                text.len(),
                shown(),
                cut(&text)
            );
            assert!(
                names_known_parameter(param, schema, &made),
                "{name}: the error names `{param}`, not a parameter: {} ({})",
                cut(&text),
                shown()
            );
        }
        other => assert!(
            !made.refused,
            "{name} took arguments its schema refuses: {} → {}",
            shown(),
            cut(&format!("{other:?}"))
        ),
    }
});
