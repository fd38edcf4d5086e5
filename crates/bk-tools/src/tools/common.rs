//! Pieces the tools share: list envelopes and page arguments.

use buildkite_api::{CursorPage, Page, PageParams};
use serde_json::{Map, Value, json};

use crate::args::{PageNumber, PerPage};
use crate::shape::ToolOutput;

/// Page arguments as the client takes them.
pub(crate) fn page_params(
    page: Option<PageNumber>,
    per_page: Option<PerPage>,
    default_per_page: u32,
) -> PageParams {
    PageParams {
        page: Some(page.map_or(1, PageNumber::as_u32)),
        per_page: Some(per_page.map_or(default_per_page, PerPage::as_u32)),
    }
}

/// `{"items": [...], "page": n, "next_page": m, "has_more": bool}`: a
/// numbered page, with plain instructions to continue.
pub(crate) fn page_envelope<T>(page: &Page<T>, current: u32, items: Vec<Value>) -> Value {
    let mut out = Map::new();
    out.insert("items".into(), Value::Array(items));
    out.insert("page".into(), json!(current));
    if let Some(next) = page.next_page {
        out.insert("next_page".into(), json!(next));
    }
    if let Some(last) = page.last_page {
        out.insert("last_page".into(), json!(last));
    }
    out.insert("has_more".into(), json!(page.has_more()));
    Value::Object(out)
}

/// `{"items": [...], "next_cursor": "...", "prev_cursor": "...", "has_more": bool}`.
pub(crate) fn cursor_envelope<T>(page: &CursorPage<T>, items: Vec<Value>) -> Value {
    let mut out = Map::new();
    out.insert("items".into(), Value::Array(items));
    if let Some(next) = page.next_cursor() {
        out.insert("next_cursor".into(), json!(next));
    }
    if let Some(prev) = page.prev_cursor() {
        out.insert("prev_cursor".into(), json!(prev));
    }
    out.insert("has_more".into(), json!(page.has_more()));
    Value::Object(out)
}

/// A numbered page as a tool result: the envelope, with its `items` marked
/// trimmable (the budget then says to fetch smaller pages).
pub(crate) fn paged<T>(
    page: &Page<T>,
    page_no: u32,
    per_page: u32,
    items: Vec<Value>,
) -> ToolOutput {
    ToolOutput::json(page_envelope(page, page_no, items))
        .trim_list("items", smaller_pages_hint(page_no, per_page))
}

/// The continuation hint for a trimmed numbered page: fetch smaller pages.
pub(crate) fn smaller_pages_hint(
    page: u32,
    per_page: u32,
) -> impl Fn(usize) -> Value + Send + Sync {
    move |kept| {
        let smaller = u32::try_from(kept.max(1)).unwrap_or(1);
        json!({
            "advice": "the page did not fit the response budget; ask for fewer items per page (or a smaller detail_level)",
            "per_page": smaller,
            "page_with_the_first_dropped_item": (u64::from(page - 1) * u64::from(per_page)) / u64::from(smaller) + 2,
        })
    }
}
