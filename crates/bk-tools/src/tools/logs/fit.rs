//! What the log tools add to every answer: lists pre-fitted to the
//! response budget (with the truncation note the budget would write), and
//! the query's time.

use std::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};

/// Milliseconds since `started`, for `query_time_ms`.
pub(super) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Room for the truncation note in a pre-fitted result.
const NOTE_ALLOWANCE: usize = 400;

/// How many items (of the given serialised sizes, taken from the front)
/// fit in a `budget`-byte result whose other fields take `overhead` bytes.
/// Leaves a margin for what shaping may add; at least one item is kept
/// (the response budget then shortens its strings).
pub(super) fn items_that_fit(sizes: &[usize], budget: usize, overhead: usize) -> usize {
    let room = budget
        .saturating_sub(budget / 16)
        .saturating_sub(overhead + NOTE_ALLOWANCE);
    let mut used = 0usize;
    let mut kept = 0usize;
    for size in sizes {
        used += size + 1;
        if used > room {
            break;
        }
        kept += 1;
    }
    kept.max(1).min(sizes.len())
}

pub(super) fn size_of(value: &impl Serialize) -> usize {
    serde_json::to_string(value).map_or(0, |text| text.len())
}

/// The note a pre-fitted result carries, in the response budget's shape.
pub(super) fn truncation_note(budget: usize, kept: usize, dropped: usize, next: Value) -> Value {
    json!({
        "reason": format!("the result was larger than the {budget}-byte response budget"),
        "items_returned": kept,
        "items_dropped": dropped,
        "next": next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_fit_from_the_front_and_at_least_one_is_kept() {
        assert_eq!(items_that_fit(&[10; 100], 1_000_000, 0), 100);
        assert_eq!(items_that_fit(&[100_000], 1000, 0), 1);
        assert_eq!(items_that_fit(&[], 1000, 0), 0);
        let kept = items_that_fit(&[99; 100], 4000, 100);
        assert!(kept > 20 && kept < 40, "{kept}");
    }
}
