//! Tests for pipelines (to be written).
