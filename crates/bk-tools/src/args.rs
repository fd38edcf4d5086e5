//! Parsing tool arguments strictly, and the argument types tools share.
//!
//! Arguments are deserialised into each tool's typed struct with
//! `deny_unknown_fields`; any failure becomes [`ToolError::InvalidArgument`]
//! naming the parameter and what it accepts. The types here carry their own
//! validation and schema: [`NonEmpty`] strings, the [`OrgSlug`],
//! [`Bounded`] integers, [`BuildNumber`]s and the [`DetailLevel`] enum.

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::error::ToolError;

/// Parses `args` (JSON object, or null for none) into `T`.
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    let args = if args.is_null() {
        Value::Object(Default::default())
    } else {
        args
    };
    if !args.is_object() {
        return Err(ToolError::invalid("arguments", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(args).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        describe(&path, &message)
    })
}

/// Turns a serde error into a message a model can act on.
fn describe(path: &str, message: &str) -> ToolError {
    // Inside a nested value the path says where (`environment[0]`): keep it,
    // so the model fixes the item, not a top-level argument.
    let nested = |field: &str| {
        if path.is_empty() || path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return ToolError::invalid(nested(field), "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // Here the path already ends with the unknown field's name.
        let name = rest.split('`').next().unwrap_or(rest);
        let field = if path.is_empty() || path == "." {
            name
        } else {
            path
        };
        let accepted = rest
            .split_once("expected one of ")
            .or_else(|| rest.split_once("expected "))
            .map_or("none", |(_, list)| list);
        let what = if field.contains(['.', '[']) {
            "is not a field of this item"
        } else {
            "is not an argument of this tool"
        };
        return ToolError::invalid(
            field,
            format!("{what}; accepted: {}", accepted.replace('`', "")),
        );
    }
    let param = if path.is_empty() || path == "." {
        "arguments"
    } else {
        path
    };
    let message = message.replace("unknown variant", "unknown value");
    ToolError::invalid(param, message)
}

/// The input schema of `T`: an inline JSON Schema object with
/// `additionalProperties: false` and no `$schema` or `title` noise.
pub fn schema_for<T: JsonSchema>() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = serde_json::to_value(schema).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = value.as_object_mut() {
        object.remove("title");
        // The tool's own description says what the arguments are for.
        object.remove("description");
        object.remove("$schema");
        object.remove("$defs");
        object
            .entry("properties")
            .or_insert_with(|| Value::Object(Default::default()));
        object.insert("additionalProperties".into(), Value::Bool(false));
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            properties.values_mut().for_each(drop_null_type);
            for (name, property) in properties.iter_mut() {
                if SELF_DESCRIBING.contains(&name.as_str())
                    && let Some(property) = property.as_object_mut()
                {
                    property.remove("description");
                }
            }
        }
    }
    crate::arg_bounds::annotate(&mut value);
    value
}

/// Parameters whose name, type and bounds say everything: their
/// descriptions are left out of the schema, since every session pays for
/// them (`docs/tools.md` explains them once).
pub const SELF_DESCRIBING: &[&str] = &["org_slug", "pipeline_slug", "page", "per_page"];

/// An optional argument is simply not required: leave `null` out of its
/// type, so schemas stay plain (`"type": "string"`, not `["string","null"]`).
fn drop_null_type(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            object.insert("type".into(), only);
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = object.get(key).cloned() {
            let kept: Vec<Value> = options
                .into_iter()
                .filter(|o| o.get("type") != Some(&Value::String("null".into())))
                .collect();
            if kept.len() == 1 {
                object.remove(key);
                if let Value::Object(inner) = kept[0].clone() {
                    for (k, v) in inner {
                        object.entry(k).or_insert(v);
                    }
                }
            } else {
                object.insert(key.into(), Value::Array(kept));
            }
        }
    }
}

/// A string that must not be empty or blank.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NonEmpty(pub String);

impl NonEmpty {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for NonEmpty {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NonEmpty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("must not be empty"));
        }
        Ok(NonEmpty(text))
    }
}

impl JsonSchema for NonEmpty {
    fn schema_name() -> Cow<'static, str> {
        "NonEmptyString".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "minLength": 1 })
    }
}

/// The organization's slug, as in `buildkite.com/<org_slug>`: the
/// `org_slug` argument of every tool that takes one.
///
/// Parsed and checked as a [`NonEmpty`] string. Its schema carries no
/// description, because the parameter's name says what it is: leave the
/// `org_slug` fields undocumented too, since a field's doc comment would
/// become one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrgSlug(pub String);

impl OrgSlug {
    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for OrgSlug {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgSlug {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        NonEmpty::deserialize(deserializer).map(|NonEmpty(slug)| OrgSlug(slug))
    }
}

impl JsonSchema for OrgSlug {
    fn schema_name() -> Cow<'static, str> {
        "OrgSlug".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        NonEmpty::json_schema(generator)
    }
}

/// An integer in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bounded<const MIN: i64, const MAX: i64>(pub i64);

impl<const MIN: i64, const MAX: i64> Bounded<MIN, MAX> {
    /// The value.
    pub fn get(self) -> i64 {
        self.0
    }

    /// The value as `u32` (the bounds of every use are non-negative).
    pub fn as_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }

    /// The value as `usize`.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }
}

impl<'de, const MIN: i64, const MAX: i64> Deserialize<'de> for Bounded<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        if !(MIN..=MAX).contains(&value) {
            return Err(serde::de::Error::custom(format!(
                "must be between {MIN} and {MAX} (got {value})"
            )));
        }
        Ok(Bounded(value))
    }
}

impl<const MIN: i64, const MAX: i64> JsonSchema for Bounded<MIN, MAX> {
    fn schema_name() -> Cow<'static, str> {
        format!("Integer{MIN}To{MAX}").into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": MIN, "maximum": MAX })
    }
}

/// `page`: 1 or more.
pub type PageNumber = Bounded<1, 100_000>;
/// `per_page`: 1 to 100.
pub type PerPage = Bounded<1, 100>;

/// A build number, given as a string of digits (`"42"`), never the UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BuildNumber(pub u64);

impl BuildNumber {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl<'de> Deserialize<'de> for BuildNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let text = match &raw {
            // A JSON number is accepted too: models often send one.
            Value::Number(n) => match n.as_u64() {
                Some(number) => return Ok(BuildNumber(number)),
                None => n.to_string(),
            },
            Value::String(text) => text.clone(),
            // Named, not echoed: an object or array can be any size.
            Value::Object(_) => {
                return Err(serde::de::Error::custom(
                    "must be the build's number, e.g. \"42\" (got an object)",
                ));
            }
            Value::Array(_) => {
                return Err(serde::de::Error::custom(
                    "must be the build's number, e.g. \"42\" (got an array)",
                ));
            }
            other => other.to_string(),
        };
        let trimmed = text.trim().trim_start_matches('#');
        trimmed.parse::<u64>().map(BuildNumber).map_err(|_| {
            let hint = if trimmed.len() == 36 && trimmed.matches('-').count() == 4 {
                "this looks like a build UUID; build_number is the build's number, e.g. \"42\""
            } else {
                "must be the build's number, e.g. \"42\""
            };
            serde::de::Error::custom(format!("{hint} (got {text})"))
        })
    }
}

impl JsonSchema for BuildNumber {
    fn schema_name() -> Cow<'static, str> {
        "BuildNumber".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "string", "pattern": "^#?[0-9]+$" })
    }
}

/// How much of each resource to return: `summary` (ids, state and the
/// essentials: smallest), `detailed` (plus timing, configuration and
/// relations) or `full` (every field the API returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DetailLevel {
    #[default]
    Summary,
    Detailed,
    Full,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Example {
        org_slug: OrgSlug,
        /// The build.
        build_number: BuildNumber,
        /// Items per page.
        per_page: Option<PerPage>,
        /// How much to return.
        #[serde(default)]
        detail_level: DetailLevel,
        /// How much to return, optionally.
        level: Option<DetailLevel>,
    }

    fn error(args: Value) -> String {
        parse_args::<Example>(args).unwrap_err().to_string()
    }

    #[test]
    fn good_arguments_parse() {
        let parsed: Example =
            parse_args(json!({"org_slug": "acme", "build_number": "#42", "per_page": 5})).unwrap();
        assert_eq!(parsed.build_number, BuildNumber(42));
        assert_eq!(parsed.detail_level, DetailLevel::Summary);
    }

    #[test]
    fn a_build_number_of_the_wrong_shape_is_named_not_echoed() {
        // Found by the tool_args fuzz target: an object was echoed whole.
        let big = json!({"org_slug": "a", "build_number": {"x".repeat(5000): [1, 2, 3]}});
        assert_eq!(
            error(big),
            "invalid argument `build_number`: must be the build's number, e.g. \"42\" (got an object)"
        );
        let list = error(json!({"org_slug": "a", "build_number": ["4", "2"]}));
        assert!(list.ends_with("(got an array)"), "{list}");
        let uuid =
            error(json!({"org_slug": "a", "build_number": "0190f3a2-5c1d-4e8b-9a7f-2d6c8e4b1a93"}));
        assert!(uuid.contains("looks like a build UUID"), "{uuid}");
    }

    #[test]
    fn every_bad_argument_names_the_parameter() {
        assert_eq!(
            error(json!({"build_number": "1"})),
            "invalid argument `org_slug`: is required"
        );
        assert_eq!(
            error(json!({"org_slug": " ", "build_number": "1"})),
            "invalid argument `org_slug`: must not be empty"
        );
        assert!(
            error(json!({"org_slug": "a", "build_number": "1", "per_page": 500}))
                .contains("`per_page`: must be between 1 and 100 (got 500)")
        );
        assert!(
            error(json!({"org_slug": "a", "build_number": "1", "per_page": "x"}))
                .starts_with("invalid argument `per_page`: invalid type")
        );
        let unknown = error(json!({"org_slug": "a", "build_number": "1", "colour": 1}));
        assert!(
            unknown.starts_with(
                "invalid argument `colour`: is not an argument of this tool; accepted: org_slug"
            ),
            "{unknown}"
        );
        let uuid =
            error(json!({"org_slug": "a", "build_number": "89c02425-7712-4ee5-a694-c94b56b4d54c"}));
        assert!(uuid.contains("looks like a build UUID"), "{uuid}");
        let level = error(json!({"org_slug": "a", "build_number": "1", "detail_level": "huge"}));
        assert!(level.contains("`detail_level`: unknown value `huge`, expected one of `summary`, `detailed`, `full`"), "{level}");
        assert_eq!(
            error(json!([1])),
            "invalid argument `arguments`: must be a JSON object"
        );
    }

    #[test]
    fn schema_is_strict_and_described() {
        let schema = schema_for::<Example>();
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["org_slug", "build_number"]));
        assert_eq!(
            schema["properties"]["org_slug"],
            json!({"type": "string", "minLength": 1, "maxLength": 255}),
            "org_slug is described by its name alone"
        );
        assert_eq!(schema["properties"]["per_page"]["maximum"], json!(100));
        assert!(
            schema["properties"]["per_page"]
                .get("description")
                .is_none(),
            "per_page is self-describing"
        );
        assert_eq!(
            schema["properties"]["detail_level"]["enum"],
            json!(["summary", "detailed", "full"])
        );
        assert_eq!(
            schema["properties"]["level"]["enum"],
            json!(["summary", "detailed", "full"]),
            "an optional enum lists no null"
        );
        assert_eq!(schema["properties"]["level"]["type"], json!("string"));
    }
}
