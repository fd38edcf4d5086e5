//! Tests for the `logs` toolset (to be written).
