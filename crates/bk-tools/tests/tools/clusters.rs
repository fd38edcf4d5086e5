//! Tests for the `clusters` toolset (to be written).
