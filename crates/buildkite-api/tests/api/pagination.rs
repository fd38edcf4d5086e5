//! Tests for pagination (to be written).
