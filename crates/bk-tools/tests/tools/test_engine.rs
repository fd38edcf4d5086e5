//! Tests for the `test_engine` toolset (to be written).
