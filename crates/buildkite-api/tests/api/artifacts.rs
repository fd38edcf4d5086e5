//! Tests for artifacts (to be written).
