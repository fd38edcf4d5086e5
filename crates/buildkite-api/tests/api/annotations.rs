//! Tests for annotations (to be written).
