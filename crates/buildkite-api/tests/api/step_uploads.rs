//! Tests for step_uploads (to be written).
