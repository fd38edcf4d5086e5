//! The HTTP binary's own settings (`HttpArgs`): where it listens, which
//! headers pass through, the Host and Origin allow-lists, body and time
//! limits; checked into the router's options.

use bk_mcp::ConfigError;

use crate::app::AppOptions;
use crate::policy::Passthrough;

/// HTTP-only settings.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Address to listen on (`host:port`; port 0 picks a free one).
    #[arg(
        long,
        env = "HTTP_LISTEN_ADDR",
        default_value = "localhost:3000",
        global = true
    )]
    pub listen: String,

    /// Inbound header copied onto Buildkite API calls (API origin only); repeatable or
    /// comma-separated. With `Authorization`, every request must bring its own token.
    #[arg(
        long = "passthrough-http-header",
        env = "BUILDKITE_PASSTHROUGH_HTTP_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    passthrough_http_headers: Vec<String>,

    /// Keep MCP sessions (`Mcp-Session-Id`) instead of serving each request alone.
    #[arg(
        long,
        env = "BK_MCP_STATEFUL",
        value_parser = bk_mcp::config::parse_switch,
        num_args = 0..=1,
        require_equals = true,
        default_value = "false",
        default_missing_value = "true",
        global = true
    )]
    stateful: bool,

    /// Accepted `Host` values, comma-separated (`*`: any). Default: loopback names and the listen host.
    #[arg(
        long,
        env = "BK_MCP_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_hosts: Vec<String>,

    /// Accepted browser `Origin` values, e.g. `https://app.example.com:443` (`*`: any).
    /// Default: localhost origins on any port. Requests without `Origin` are not affected.
    #[arg(
        long,
        env = "BK_MCP_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    allowed_origins: Vec<String>,

    /// Largest request body in bytes (413 above).
    #[arg(long, env = "BK_MCP_MAX_BODY_BYTES", default_value_t = 4 << 20, global = true)]
    max_body_bytes: usize,

    /// Longest a tool call may run, in seconds, before it is stopped with an error.
    #[arg(
        long,
        env = "BK_MCP_REQUEST_TIMEOUT",
        default_value_t = 120,
        value_name = "SECONDS",
        global = true
    )]
    pub request_timeout: u64,

    /// Time in-flight calls get to finish after SIGTERM/SIGINT, in seconds.
    #[arg(
        long,
        env = "BK_MCP_SHUTDOWN_GRACE",
        default_value_t = 30,
        value_name = "SECONDS",
        global = true
    )]
    pub shutdown_grace: u64,
}

impl HttpArgs {
    /// The host part of the listen address.
    pub fn host(&self) -> &str {
        let listen = self.listen.trim();
        match listen.rsplit_once(':') {
            Some((host, _)) => host.trim_matches(['[', ']']),
            None => listen,
        }
    }

    /// The URL clients use, for `config`.
    pub fn url(&self) -> String {
        let host = match self.host() {
            "" | "0.0.0.0" | "::" => "localhost",
            host => host,
        };
        let port = self.listen.rsplit_once(':').map_or("3000", |(_, p)| p);
        format!("http://{host}:{port}/mcp")
    }

    /// The router's options, checked: each error names its flag.
    pub fn options(&self, fixed_headers: &[(String, String)]) -> Result<AppOptions, ConfigError> {
        let passthrough = Passthrough::new(&self.passthrough_http_headers, fixed_headers)?;
        let listed = |list: &[String]| -> Vec<String> {
            list.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let mut allowed_hosts = listed(&self.allowed_hosts);
        if allowed_hosts.is_empty() {
            allowed_hosts = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
            let host = self.host();
            if !matches!(host, "" | "0.0.0.0" | "::") && !allowed_hosts.iter().any(|h| h == host) {
                allowed_hosts.push(host.to_owned());
            }
        } else if allowed_hosts.iter().any(|h| h == "*") {
            allowed_hosts.clear();
        }
        let mut allowed_origins = listed(&self.allowed_origins);
        if allowed_origins.is_empty() {
            allowed_origins = [
                "http://localhost:*",
                "https://localhost:*",
                "http://127.0.0.1:*",
                "https://127.0.0.1:*",
                "http://[::1]:*",
            ]
            .map(String::from)
            .to_vec();
        } else if allowed_origins.iter().any(|o| o == "*") {
            allowed_origins.clear();
        } else if let Some(bad) = allowed_origins
            .iter()
            .find(|o| !o.contains("://") && *o != "null")
        {
            return Err(ConfigError::new(format!(
                "--allowed-origins / BK_MCP_ALLOWED_ORIGINS: {bad:?} needs a scheme, e.g. https://{bad}"
            )));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::new(
                "--max-body-bytes / BK_MCP_MAX_BODY_BYTES: use at least 1024",
            ));
        }
        if self.request_timeout == 0 {
            return Err(ConfigError::new(
                "--request-timeout / BK_MCP_REQUEST_TIMEOUT: use at least 1 second",
            ));
        }
        Ok(AppOptions {
            stateful: self.stateful,
            allowed_hosts,
            allowed_origins,
            max_body_bytes: self.max_body_bytes,
            passthrough,
            scopes_per_caller: false,
        })
    }
}
