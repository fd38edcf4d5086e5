//! Fitting a result into the response budget.

use serde_json::{Map, Value, json};

/// Shortest a string is cut to while fitting.
const MIN_STRING: usize = 256;

/// Continuation fields a trimmed list makes stale: following them would skip
/// the dropped items, so they go, and `truncated.next` says how to continue.
const STALE_WHEN_TRIMMED: &[&str] = &[
    "next_page",
    "next_cursor",
    "next_seek",
    "next_seek_start",
    "last_page",
];

type Hint<'a> = Option<&'a (dyn Fn(usize) -> Value + Send + Sync)>;

/// Serialises `value` compactly, trimming it to at most `budget` bytes.
///
/// The list at `list_key` loses items from its end (the largest count that
/// fits is found by bisection); if not even one item fits, long strings are
/// shortened first, by the real excess, then by halving. What was cut is
/// said in `truncated` (merged with any note the tool wrote), with the
/// arguments that fetch the rest. When nothing fits, the error says how to
/// ask for less.
pub fn fit_json(
    value: Value,
    budget: usize,
    list_key: Option<&str>,
    hint: Hint<'_>,
) -> Result<String, String> {
    let text = to_text(&value);
    if text.len() <= budget {
        return Ok(text);
    }
    let excess = text.len() - budget;
    let mut note = value
        .get("truncated")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    note.insert(
        "reason".into(),
        json!(format!(
            "the result was larger than the {budget}-byte response budget"
        )),
    );
    let list = list_key.filter(|key| value.get(*key).is_some_and(Value::is_array));
    if let Some(key) = list
        && let Some(text) = trim_list(value.clone(), key, budget, &note, hint)
    {
        return Ok(text);
    }
    let longest = longest_string(&value);
    let mut cap = longest.saturating_sub(excess + 256).max(MIN_STRING);
    loop {
        let mut candidate = value.clone();
        let shortened = shorten_strings(&mut candidate, cap);
        let mut candidate_note = note.clone();
        if shortened > 0 {
            candidate_note.insert("strings_shortened".into(), json!(shortened));
            candidate_note.insert("string_limit_chars".into(), json!(cap));
        }
        if let Some(key) = list {
            if let Some(text) = trim_list(candidate, key, budget, &candidate_note, hint) {
                return Ok(text);
            }
        } else if candidate.is_object() {
            candidate["truncated"] = Value::Object(candidate_note);
            let text = to_text(&candidate);
            if text.len() <= budget {
                return Ok(text);
            }
        }
        if cap <= MIN_STRING {
            return Err(format!(
                "The result is larger than the {budget}-byte response budget even when shortened. Ask for less: a smaller per_page or limit, a narrower filter, or detail_level \"summary\"."
            ));
        }
        cap = (cap / 2).max(MIN_STRING);
    }
}

/// Keeps the largest prefix of the list at `key` (at least one item) that
/// fits, with the note; `None` when not even one item fits.
fn trim_list(
    mut value: Value,
    key: &str,
    budget: usize,
    note: &Map<String, Value>,
    hint: Hint<'_>,
) -> Option<String> {
    let items = value.get(key)?.as_array()?.clone();
    let total = items.len();
    if let Some(object) = value.as_object_mut() {
        for stale in STALE_WHEN_TRIMMED {
            object.remove(*stale);
        }
        object.insert("has_more".into(), Value::Bool(true));
    }
    let mut render = |kept: usize| -> String {
        let mut candidate_note = note.clone();
        candidate_note.insert("items_returned".into(), json!(kept));
        candidate_note.insert("items_dropped".into(), json!(total - kept));
        if let Some(hint) = hint {
            candidate_note.insert("next".into(), hint(kept));
        }
        value[key] = Value::Array(items[..kept].to_vec());
        value["truncated"] = Value::Object(candidate_note);
        to_text(&value)
    };
    if total == 0 {
        return None;
    }
    // Largest `kept` in 1..=total that fits.
    let (mut low, mut high) = (1usize, total);
    while low < high {
        let mid = (low + high).div_ceil(2);
        if render(mid).len() <= budget {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Some(render(low)).filter(|text| text.len() <= budget)
}

fn longest_string(value: &Value) -> usize {
    match value {
        Value::String(text) => text.chars().count(),
        Value::Array(items) => items.iter().map(longest_string).max().unwrap_or(0),
        Value::Object(map) => map.values().map(longest_string).max().unwrap_or(0),
        _ => 0,
    }
}

/// Cuts a text result to the budget, on a character boundary, with a note.
pub fn fit_text(text: String, budget: usize) -> String {
    if text.len() <= budget {
        return text;
    }
    let note = "\n\n[… truncated: the text was larger than the response budget]";
    let mut cut = budget.saturating_sub(note.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{note}", &text[..cut])
}

fn to_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Shortens every string over `cap` characters; returns how many.
fn shorten_strings(value: &mut Value, cap: usize) -> usize {
    match value {
        Value::String(text) if text.chars().count() > cap => {
            let total = text.chars().count();
            let kept: String = text.chars().take(cap).collect();
            *text = format!("{kept}… [{} more characters]", total - cap);
            1
        }
        Value::Array(items) => items.iter_mut().map(|v| shorten_strings(v, cap)).sum(),
        Value::Object(map) => map.values_mut().map(|v| shorten_strings(v, cap)).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_results_are_untouched_and_compact() {
        let text = fit_json(
            json!({"id": "b", "a": "Vec<String> && <stdin>"}),
            1000,
            None,
            None,
        )
        .unwrap();
        assert_eq!(text, r#"{"id":"b","a":"Vec<String> && <stdin>"}"#);
    }

    #[test]
    fn lists_lose_items_from_the_end_and_say_how_to_continue() {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"id": i, "pad": "x".repeat(50)}))
            .collect();
        let hint = |kept: usize| json!({"seek": kept});
        let page = json!({"items": items, "page": 1, "next_page": 2, "has_more": true, "truncated": {"by_tool": true}});
        let text = fit_json(page, 2000, Some("items"), Some(&hint)).unwrap();
        assert!(text.len() <= 2000);
        let value: Value = serde_json::from_str(&text).unwrap();
        let kept = value["items"].as_array().unwrap().len();
        assert!(kept > 10 && kept < 100, "{kept}");
        assert_eq!(value["items"][0]["id"], 0, "kept from the start");
        assert_eq!(value["truncated"]["items_returned"], kept);
        assert_eq!(value["truncated"]["items_dropped"], 100 - kept);
        assert_eq!(value["truncated"]["next"]["seek"], kept);
        assert_eq!(
            value["truncated"]["by_tool"], true,
            "the tool's own note is kept"
        );
        assert!(
            value.get("next_page").is_none(),
            "a stale next_page would skip the dropped items"
        );
        assert_eq!(value["has_more"], true);
    }

    #[test]
    fn a_last_page_that_is_trimmed_still_has_more() {
        let items: Vec<Value> = (0..50)
            .map(|i| json!({"id": i, "pad": "x".repeat(50)}))
            .collect();
        let text = fit_json(
            json!({"items": items, "has_more": false}),
            1500,
            Some("items"),
            None,
        )
        .unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["has_more"], true);
    }

    #[test]
    fn one_huge_item_is_shortened_not_dropped() {
        let text = fit_json(
            json!({"items": [{"content": "y".repeat(70_000)}]}),
            65_536,
            Some("items"),
            None,
        )
        .unwrap();
        assert!(text.len() <= 65_536);
        let value: Value = serde_json::from_str(&text).unwrap();
        let content = value["items"][0]["content"].as_str().unwrap();
        assert!(
            content.len() > 60_000,
            "shortened by the excess, not to 4 KiB: {}",
            content.len()
        );
    }

    #[test]
    fn a_result_that_cannot_fit_is_an_error() {
        let keys: serde_json::Map<String, Value> =
            (0..5000).map(|i| (format!("key{i}"), json!(i))).collect();
        let error = fit_json(Value::Object(keys), 1000, None, None).unwrap_err();
        assert!(error.contains("Ask for less"), "{error}");
    }

    #[test]
    fn long_strings_are_shortened_when_there_is_no_list() {
        let text = fit_json(json!({"log": "é".repeat(50_000)}), 3000, None, None).unwrap();
        assert!(text.len() <= 3000, "{}", text.len());
        let value: Value = serde_json::from_str(&text).unwrap();
        assert!(value["log"].as_str().unwrap().ends_with("more characters]"));
        assert!(value["truncated"]["strings_shortened"].as_u64().unwrap() >= 1);
    }

    #[test]
    fn text_is_cut_on_a_character_boundary() {
        let text = fit_text("é".repeat(1000), 500);
        assert!(text.len() <= 500);
        assert!(text.ends_with("response budget]"));
    }
}
