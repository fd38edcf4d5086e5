//! Tests for the `agents` toolset (to be written).
