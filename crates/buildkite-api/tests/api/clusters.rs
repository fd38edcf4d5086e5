//! Tests for clusters (to be written).
