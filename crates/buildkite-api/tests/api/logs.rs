//! Tests for logs (to be written).
