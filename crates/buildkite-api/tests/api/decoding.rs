//! Tests for decoding (to be written).
