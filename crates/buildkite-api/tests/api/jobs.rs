//! Tests for jobs (to be written).
