//! Tests for test_engine (to be written).
