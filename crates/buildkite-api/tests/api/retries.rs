//! Tests for retries (to be written).
