//! Tests for the `artifacts` toolset (to be written).
