//! Tests for errors (to be written).
