//! `cargo xtask conformance`: not written yet.

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("conformance: not implemented yet".to_owned())
}
