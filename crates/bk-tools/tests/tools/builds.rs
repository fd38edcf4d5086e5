//! Tests for the `builds` toolset (to be written).
