//! The subcommands both binaries share: `tools`, `check` and `config`.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use bk_tools::Registry;
use serde_json::{Value, json};

use crate::config::{ConfigError, ServerArgs, TokenSource};
use crate::server::Core;

/// A shared subcommand.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Print the enabled tools as JSON (the `tools/list` result); needs no token. With one,
    /// the tools it has no scope for are left out and named under `left_out`.
    Tools,
    /// Read the token's scopes and say which enabled tools they leave out.
    Check,
    /// Print the configuration snippet for an MCP client.
    Config {
        /// The client to configure.
        #[arg(value_enum)]
        client: ClientKind,
    },
}

/// MCP clients we can print a configuration for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ClientKind {
    /// Claude Desktop (`claude_desktop_config.json`).
    ClaudeDesktop,
    /// Claude Code (a `claude mcp add` command).
    ClaudeCode,
    /// Cursor (`.cursor/mcp.json`).
    Cursor,
    /// VS Code (`.vscode/mcp.json`).
    Vscode,
    /// Windsurf (`~/.codeium/windsurf/mcp_config.json`).
    Windsurf,
    /// Zed (`settings.json`).
    Zed,
    /// Goose (`~/.config/goose/config.yaml`).
    Goose,
}

/// How a client reaches the server, for `config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Starts `command` with `args` and speaks over stdio.
    Stdio {
        /// The program.
        command: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// Connects to a Streamable HTTP URL.
    Http {
        /// e.g. `http://localhost:3000/mcp`.
        url: String,
    },
}

/// What a command printed and how the process should exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Text for stdout.
    pub stdout: String,
    /// Exit status: 0 when all is well, 1 when `check` found problems.
    pub status: u8,
}

/// Runs a shared subcommand.
pub async fn run(
    command: &Command,
    args: &ServerArgs,
    endpoint: &Endpoint,
) -> Result<Outcome, ConfigError> {
    let registry = Registry::new();
    match command {
        Command::Tools => tools(args, &registry).await,
        Command::Check => check(args, &registry).await,
        Command::Config { client } => Ok(Outcome {
            stdout: client_config(*client, endpoint),
            status: 0,
        }),
    }
}

fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).unwrap_or_default();
    text.push('\n');
    text
}

/// The enabled tools as `tools/list` gives them: with a token (and without
/// `--list-all-tools`), the tools it has no scope for are left out, and
/// listed under `left_out` with the scopes they need.
async fn tools(args: &ServerArgs, registry: &Registry) -> Result<Outcome, ConfigError> {
    let mut selection = args.selection(registry)?;
    let mut left_out = Vec::new();
    if !args.list_all_tools {
        let settings = args.resolve(registry, TokenSource::Fixed).await?;
        if settings.reads_token_scopes() {
            let core = Core::new(settings)?;
            if let Some(scopes) = crate::scopes::read(core.client()).await {
                left_out = crate::scopes::left_out(registry, &selection, &scopes);
                selection.token_scopes = Some(scopes);
            }
        }
    }
    let mut list = json!({ "tools": registry.list(&selection) });
    if !left_out.is_empty() {
        list["left_out"] = left_out
            .iter()
            .map(|(name, needs)| json!({"name": name, "needs": needs}))
            .collect();
    }
    Ok(Outcome {
        stdout: pretty(&list),
        status: 0,
    })
}

async fn check(args: &ServerArgs, registry: &Registry) -> Result<Outcome, ConfigError> {
    let settings = args.resolve(registry, TokenSource::Fixed).await?;
    if settings.token.is_none() && !settings.traffic.is_replay() {
        return Err(ConfigError::new(
            "check needs a token: set BUILDKITE_API_TOKEN (or --api-token, or --api-token-from-1password)",
        ));
    }
    let selection = settings.selection.clone();
    let core = Core::new(settings)?;
    let token = match core.client().access_token().await {
        Ok(token) => token,
        Err(error) => {
            let hint = if matches!(error, buildkite_api::Error::Unauthorized { .. }) {
                "the token is invalid, expired or revoked: create a new one at https://buildkite.com/user/api-access-tokens"
            } else {
                "check --base-url and the network, then retry"
            };
            return Ok(Outcome {
                stdout: format!("Could not read the token's scopes: {error}\nNext: {hint}\n"),
                status: 1,
            });
        }
    };
    let granted: BTreeSet<String> = token.scopes.iter().cloned().collect();
    let report = crate::scopes::left_out(registry, &selection, &granted);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Token {} ({}) has scopes: {}",
        token.uuid,
        token.description.as_deref().unwrap_or("no description"),
        if granted.is_empty() {
            "none".to_owned()
        } else {
            granted
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        }
    );
    let enabled = registry.select(&selection).len();
    if report.is_empty() {
        let _ = writeln!(
            out,
            "All {enabled} enabled tools have the scopes they need."
        );
        return Ok(Outcome {
            stdout: out,
            status: 0,
        });
    }
    let _ = writeln!(
        out,
        "{} of {enabled} enabled tools need a scope the token lacks, so they are not listed (--list-all-tools lists them):",
        report.len()
    );
    let mut missing_all = BTreeSet::new();
    for (tool, missing) in &report {
        let _ = writeln!(out, "  {tool}: needs {}", missing.join(" "));
        missing_all.extend(missing.iter().copied());
    }
    let _ = writeln!(
        out,
        "Next: add {} to the token at https://buildkite.com/user/api-access-tokens, or disable those tools (--enabled-toolsets, --read-only, --tools).",
        missing_all.into_iter().collect::<Vec<_>>().join(" ")
    );
    Ok(Outcome {
        stdout: out,
        status: 1,
    })
}

const TOKEN_PLACEHOLDER: &str = "<your Buildkite API token>";

/// The configuration snippet for a client. Never contains a real token.
pub fn client_config(client: ClientKind, endpoint: &Endpoint) -> String {
    let env = json!({ "BUILDKITE_API_TOKEN": TOKEN_PLACEHOLDER });
    let auth = json!({ "Authorization": format!("Bearer {TOKEN_PLACEHOLDER}") });
    match (client, endpoint) {
        (ClientKind::ClaudeCode, Endpoint::Stdio { command, args }) => {
            let mut line = format!(
                "claude mcp add buildkite --env BUILDKITE_API_TOKEN='{TOKEN_PLACEHOLDER}' -- {}",
                shell_quote(command)
            );
            for arg in args {
                line.push(' ');
                line.push_str(&shell_quote(arg));
            }
            line + "\n"
        }
        (ClientKind::ClaudeCode, Endpoint::Http { url }) => format!(
            "claude mcp add --transport http buildkite {url} --header 'Authorization: Bearer {TOKEN_PLACEHOLDER}'\n"
        ),
        (ClientKind::Goose, Endpoint::Stdio { command, args }) => {
            format!(
                "extensions:\n  buildkite:\n    name: buildkite\n    type: stdio\n    enabled: true\n    timeout: 300\n    cmd: {}\n    args: [{}]\n    envs:\n      BUILDKITE_API_TOKEN: \"{TOKEN_PLACEHOLDER}\"\n",
                yaml_quote(command),
                args.iter()
                    .map(|a| yaml_quote(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        (ClientKind::Goose, Endpoint::Http { url }) => format!(
            "extensions:\n  buildkite:\n    name: buildkite\n    type: streamable_http\n    enabled: true\n    timeout: 300\n    uri: {}\n    headers:\n      Authorization: \"Bearer {TOKEN_PLACEHOLDER}\"\n",
            yaml_quote(url)
        ),
        (ClientKind::Vscode, Endpoint::Stdio { command, args }) => pretty(&json!({
            "inputs": [vscode_token_input()],
            "servers": { "buildkite": {
                "type": "stdio", "command": command, "args": args,
                "env": { "BUILDKITE_API_TOKEN": "${input:buildkite-api-token}" }
            }}
        })),
        (ClientKind::Vscode, Endpoint::Http { url }) => pretty(&json!({
            "inputs": [vscode_token_input()],
            "servers": { "buildkite": {
                "type": "http", "url": url,
                "headers": { "Authorization": "Bearer ${input:buildkite-api-token}" }
            }}
        })),
        (ClientKind::Zed, Endpoint::Stdio { command, args }) => pretty(&json!({
            "context_servers": { "buildkite": { "command": command, "args": args, "env": env } }
        })),
        (ClientKind::Zed, Endpoint::Http { url }) => pretty(&json!({
            "context_servers": { "buildkite": { "url": url, "headers": auth } }
        })),
        (ClientKind::Windsurf, Endpoint::Http { url }) => pretty(&json!({
            "mcpServers": { "buildkite": { "serverUrl": url, "headers": auth } }
        })),
        (ClientKind::ClaudeDesktop, Endpoint::Http { url }) => pretty(&json!({
            // Claude Desktop starts local servers only; mcp-remote bridges to HTTP.
            "mcpServers": { "buildkite": {
                "command": "npx",
                "args": ["-y", "mcp-remote", url, "--header", format!("Authorization: Bearer {TOKEN_PLACEHOLDER}")]
            }}
        })),
        // Cursor stops at 40 tools: the essentials profile fits.
        (ClientKind::Cursor, Endpoint::Http { url }) => {
            let url = match url.strip_suffix("/mcp") {
                Some(base) => format!("{base}/mcp/x/{}", bk_tools::ESSENTIALS),
                None => url.clone(),
            };
            pretty(&json!({
                "mcpServers": { "buildkite": { "url": url, "headers": auth } }
            }))
        }
        (ClientKind::Cursor, Endpoint::Stdio { command, args }) => {
            let mut args = args.clone();
            if !args.iter().any(|a| a.starts_with("--enabled-toolsets")) {
                args.push(format!("--enabled-toolsets={}", bk_tools::ESSENTIALS));
            }
            pretty(&json!({
                "mcpServers": { "buildkite": { "command": command, "args": args, "env": env } }
            }))
        }
        (ClientKind::ClaudeDesktop | ClientKind::Windsurf, Endpoint::Stdio { command, args }) => {
            pretty(&json!({
                "mcpServers": { "buildkite": { "command": command, "args": args, "env": env } }
            }))
        }
    }
}

/// Where a client's snippet goes, as an instruction for stderr.
pub fn config_location(client: ClientKind) -> &'static str {
    match client {
        ClientKind::ClaudeDesktop => {
            "put this in claude_desktop_config.json (Settings > Developer > Edit Config), merged into mcpServers"
        }
        ClientKind::ClaudeCode => "run this command in your project's directory",
        ClientKind::Cursor => "put this in .cursor/mcp.json in the project, or ~/.cursor/mcp.json",
        ClientKind::Vscode => "put this in .vscode/mcp.json in the workspace",
        ClientKind::Windsurf => "put this in ~/.codeium/windsurf/mcp_config.json",
        ClientKind::Zed => "put this in Zed's settings.json, merged into context_servers",
        ClientKind::Goose => "put this in ~/.config/goose/config.yaml, merged into extensions",
    }
}

fn vscode_token_input() -> Value {
    json!({
        "type": "promptString",
        "id": "buildkite-api-token",
        "description": "Buildkite API token",
        "password": true
    })
}

fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@".contains(c))
    {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn yaml_quote(word: &str) -> String {
    serde_json::to_string(word).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stdio() -> Endpoint {
        Endpoint::Stdio {
            command: "/opt/bk mcp/bk-mcp-stdio".into(),
            args: vec!["--read-only".into()],
        }
    }

    fn http() -> Endpoint {
        Endpoint::Http {
            url: "http://localhost:3000/mcp".into(),
        }
    }

    #[test]
    fn cursor_gets_the_profile_that_fits_its_40_tools() {
        let local: Value =
            serde_json::from_str(&client_config(ClientKind::Cursor, &stdio())).unwrap();
        let args = &local["mcpServers"]["buildkite"]["args"];
        assert!(
            args.as_array()
                .unwrap()
                .contains(&json!("--enabled-toolsets=essentials")),
            "{local}"
        );
        let remote: Value =
            serde_json::from_str(&client_config(ClientKind::Cursor, &http())).unwrap();
        assert_eq!(
            remote["mcpServers"]["buildkite"]["url"],
            "http://localhost:3000/mcp/x/essentials"
        );
        // Other clients keep every tool.
        let desktop = client_config(ClientKind::ClaudeDesktop, &stdio());
        assert!(!desktop.contains("essentials"), "{desktop}");
    }

    #[test]
    fn every_client_has_a_snippet_for_both_transports_and_no_token() {
        use clap::ValueEnum;
        for client in ClientKind::value_variants() {
            for endpoint in [stdio(), http()] {
                let snippet = client_config(*client, &endpoint);
                assert!(
                    snippet.contains(TOKEN_PLACEHOLDER) || snippet.contains("${input:"),
                    "{client:?}: {snippet}"
                );
                match &endpoint {
                    Endpoint::Stdio { .. } => {
                        assert!(snippet.contains("bk-mcp-stdio"), "{snippet}")
                    }
                    Endpoint::Http { url } => assert!(snippet.contains(url.as_str()), "{snippet}"),
                }
                if snippet.starts_with('{') {
                    serde_json::from_str::<Value>(&snippet).expect("valid JSON");
                }
            }
        }
    }

    #[test]
    fn claude_code_command_quotes_paths() {
        let line = client_config(ClientKind::ClaudeCode, &stdio());
        assert!(
            line.contains("-- '/opt/bk mcp/bk-mcp-stdio' --read-only"),
            "{line}"
        );
    }

    #[test]
    fn vscode_prompts_for_the_token() {
        let v: Value = serde_json::from_str(&client_config(ClientKind::Vscode, &http())).unwrap();
        assert_eq!(v["inputs"][0]["password"], true);
        assert_eq!(v["servers"]["buildkite"]["type"], "http");
    }

    #[test]
    fn scope_report_names_missing_scopes() {
        let registry = Registry::new();
        let selection = bk_tools::Selection::all();
        let granted: BTreeSet<String> = ["read_builds".into(), "read_pipelines".into()].into();
        let report = crate::scopes::left_out(&registry, &selection, &granted);
        let get_build = report.iter().find(|(n, _)| *n == "get_build");
        assert!(
            get_build.is_none(),
            "get_build needs only read_builds: {report:?}"
        );
        let (_, missing) = report.iter().find(|(n, _)| *n == "tail_logs").unwrap();
        assert_eq!(missing, &vec!["read_build_logs"]);
        assert!(!report.iter().any(|(n, _)| *n == "list_skills"));
    }

    #[tokio::test]
    async fn tools_lists_the_selection_without_a_token() {
        let args = ServerArgs {
            read_only: true,
            ..ServerArgs::default()
        };
        let out = run(&Command::Tools, &args, &stdio()).await.unwrap();
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        let tools = v["tools"].as_array().unwrap();
        assert!(
            tools
                .iter()
                .all(|t| t["annotations"]["readOnlyHint"] == true)
        );
        assert!(tools.iter().any(|t| t["name"] == "get_build"));
        assert!(tools.iter().all(|t| t["inputSchema"]["type"] == "object"));
    }
}
