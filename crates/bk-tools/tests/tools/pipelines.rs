//! Tests for the `pipelines` toolset (to be written).
