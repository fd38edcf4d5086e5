//! Tests for security (to be written).
