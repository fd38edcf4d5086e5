//! Tests for agents (to be written).
