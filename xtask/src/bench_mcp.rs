//! `cargo xtask bench-mcp`: not written yet.

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("bench-mcp: not implemented yet".to_owned())
}
