//! Tests for the `annotations` toolset (to be written).
