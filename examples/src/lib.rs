//! Holds the workspace examples; see `examples/*.rs`.
