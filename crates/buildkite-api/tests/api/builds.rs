//! Tests for builds (to be written).
