//! Fitting a result into the response budget.

use serde_json::{Value, json};

/// Shortest a string is cut to while fitting.
const MIN_STRING: usize = 256;

/// Serialises `value` compactly, trimming it to at most `budget` bytes.
///
/// First the list at `list_key` loses items from its end (the largest count
/// that fits is found by bisection), then long strings are shortened. When
/// anything was cut, a `truncated` object says what and how to get the rest.
pub fn fit_json(
    mut value: Value,
    budget: usize,
    list_key: Option<&str>,
    hint: Option<&(dyn Fn(usize) -> Value + Send + Sync)>,
) -> String {
    let text = to_text(&value);
    if text.len() <= budget {
        return text;
    }
    let mut note = serde_json::Map::new();
    note.insert(
        "reason".into(),
        json!(format!(
            "the result was larger than the {budget}-byte response budget"
        )),
    );
    if let Some(key) = list_key
        && let Some(items) = value.get(key).and_then(Value::as_array).cloned()
    {
        let total = items.len();
        let fits = |kept: usize, value: &mut Value, note: &serde_json::Map<String, Value>| {
            let mut candidate_note = note.clone();
            candidate_note.insert("items_returned".into(), json!(kept));
            candidate_note.insert("items_dropped".into(), json!(total - kept));
            if let Some(hint) = hint {
                candidate_note.insert("next".into(), hint(kept));
            }
            value[key] = Value::Array(items[..kept].to_vec());
            value["truncated"] = Value::Object(candidate_note);
            to_text(value).len() <= budget
        };
        // Largest `kept` that fits (0 always "fits" the list part).
        let (mut low, mut high) = (0usize, total);
        while low < high {
            let mid = (low + high).div_ceil(2);
            if fits(mid, &mut value, &note) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        if low > 0 && fits(low, &mut value, &note) {
            return to_text(&value);
        }
        // Not even one item fits whole: keep them all and shorten strings.
        value[key] = Value::Array(items);
        if let Some(object) = value.as_object_mut() {
            object.remove("truncated");
        }
    }
    // Shorten long strings, halving the cap until the result fits.
    let mut cap = 4096;
    loop {
        let mut candidate = value.clone();
        let shortened = shorten_strings(&mut candidate, cap);
        if shortened > 0 {
            note.insert("strings_shortened".into(), json!(shortened));
            note.insert("string_limit_chars".into(), json!(cap));
        }
        if candidate.is_object() {
            candidate["truncated"] = Value::Object(note.clone());
        }
        let text = to_text(&candidate);
        if text.len() <= budget {
            return text;
        }
        if cap <= MIN_STRING {
            return json!({
                "truncated": note,
                "error": "the result does not fit the response budget even when shortened: ask for less (a smaller per_page or limit, or detail_level=summary)"
            })
            .to_string();
        }
        cap /= 2;
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
        );
        assert_eq!(text, r#"{"id":"b","a":"Vec<String> && <stdin>"}"#);
    }

    #[test]
    fn lists_lose_items_from_the_end_and_say_how_to_continue() {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"id": i, "pad": "x".repeat(50)}))
            .collect();
        let hint = |kept: usize| json!({"seek": kept});
        let text = fit_json(json!({"items": items}), 2000, Some("items"), Some(&hint));
        assert!(text.len() <= 2000);
        let value: Value = serde_json::from_str(&text).unwrap();
        let kept = value["items"].as_array().unwrap().len();
        assert!(kept > 10 && kept < 100, "{kept}");
        assert_eq!(value["items"][0]["id"], 0, "kept from the start");
        assert_eq!(value["truncated"]["items_returned"], kept);
        assert_eq!(value["truncated"]["items_dropped"], 100 - kept);
        assert_eq!(value["truncated"]["next"]["seek"], kept);
    }

    #[test]
    fn long_strings_are_shortened_when_there_is_no_list() {
        let text = fit_json(json!({"log": "é".repeat(50_000)}), 3000, None, None);
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
