//! Projections: building smaller views of API objects, in a chosen order.

use serde::Serialize;
use serde_json::{Map, Value};

/// The JSON object of `value` (empty if it is not an object).
pub fn to_object(value: impl Serialize) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A new object with `fields` of `source`, in that order. Missing and null
/// fields are left out.
pub fn pick(source: &Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in fields {
        if let Some(value) = source.get(*field).filter(|v| !v.is_null()) {
            out.insert((*field).to_owned(), value.clone());
        }
    }
    out
}

/// `source` with `first` fields moved to the front (ids and state first),
/// everything else kept in its order.
pub fn reorder(mut source: Map<String, Value>, first: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for field in first {
        if let Some(value) = source.shift_remove(*field) {
            out.insert((*field).to_owned(), value);
        }
    }
    out.extend(source);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pick_and_reorder_keep_order() {
        let source = to_object(json!({"b": 1, "id": "x", "n": null, "state": "ok"}));
        assert_eq!(
            Value::Object(pick(&source, &["state", "id", "n", "zz"])),
            json!({"state": "ok", "id": "x"})
        );
        let ordered = reorder(source, &["id", "state"]);
        assert_eq!(
            ordered.keys().collect::<Vec<_>>(),
            ["id", "state", "b", "n"]
        );
    }
}
