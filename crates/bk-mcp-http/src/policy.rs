//! Who may do what on one HTTP request: the tool selection a request asks
//! for (path and headers), narrowed within the operator's, and the
//! credentials it passes through to Buildkite.
//!
//! Everything here is a pure function of the request head, so the rules are
//! unit-tested without a server. The operator's settings are an upper
//! bound: a request can remove tools, never add any, and a refused widening
//! is an error, not silently ignored.

use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

use bk_mcp::{ConfigError, RequestScope};
use bk_tools::{ESSENTIALS, Registry, Selection, Toolset, parse_toolset_list, parse_toolsets};
use buildkite_api::{ApiToken, Client};
use http::{HeaderMap, HeaderName, HeaderValue, header};

/// The header naming the toolsets a request wants.
pub const TOOLSETS_HEADER: &str = "x-buildkite-toolsets";
/// The header naming tools a request leaves out.
pub const EXCLUDE_TOOLS_HEADER: &str = "x-mcp-exclude-tools";
/// Every tool, for checking the names a request gives.
static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::new);
/// The read-only headers (both spellings are in use).
pub const READ_ONLY_HEADERS: [&str; 2] = ["x-buildkite-read-only", "x-buildkite-readonly"];

/// Why a request is refused before it reaches the MCP service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a malformed selection (unknown toolset, unreadable header, unknown path).
    BadRequest(String),
    /// 403: a request tried to widen the operator's selection.
    Forbidden(String),
    /// 401: passthrough of `Authorization` is on and the request has no
    /// single bearer token.
    Unauthorized(String),
    /// 404: not an MCP path.
    NotFound,
}

/// Headers that belong to the connection and are never passed through.
const TRANSPORT_HEADERS: [&str; 11] = [
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The inbound headers copied onto Buildkite API calls (to the API's
/// origin only; the client never sends them elsewhere).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passthrough {
    /// `Authorization` is passed through: every request brings its token.
    pub authorization: bool,
    /// The other headers, lower-case, without duplicates.
    pub others: Vec<HeaderName>,
}

impl Passthrough {
    /// Validates the operator's list against the fixed headers.
    pub fn new(names: &[String], fixed: &[(String, String)]) -> Result<Self, ConfigError> {
        let mut passthrough = Passthrough::default();
        let mut seen = HashSet::new();
        for raw in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let name = HeaderName::from_bytes(raw.as_bytes()).map_err(|_| {
                ConfigError::new(format!(
                    "--passthrough-http-header / BUILDKITE_PASSTHROUGH_HTTP_HEADERS: {raw:?} is not a valid header name"
                ))
            })?;
            if TRANSPORT_HEADERS.contains(&name.as_str()) {
                return Err(ConfigError::new(format!(
                    "--passthrough-http-header: {raw} belongs to the connection and cannot be passed through"
                )));
            }
            if fixed.iter().any(|(f, _)| f.eq_ignore_ascii_case(raw)) {
                return Err(ConfigError::new(format!(
                    "--passthrough-http-header: {raw} cannot be both fixed (--http-header) and passed through"
                )));
            }
            if !seen.insert(name.clone()) {
                continue;
            }
            if name == header::AUTHORIZATION {
                passthrough.authorization = true;
            } else {
                passthrough.others.push(name);
            }
        }
        Ok(passthrough)
    }

    /// Whether anything is passed through.
    pub fn is_empty(&self) -> bool {
        !self.authorization && self.others.is_empty()
    }

    /// A client acting with the request's passed-through credentials, or
    /// `None` when nothing is passed through.
    pub fn client_for(
        &self,
        base: &Client,
        headers: &HeaderMap,
    ) -> Result<Option<Client>, Refusal> {
        if self.is_empty() {
            return Ok(None);
        }
        let mut client = base.clone();
        if self.authorization {
            let values: Vec<_> = headers.get_all(header::AUTHORIZATION).iter().collect();
            let token = match values.as_slice() {
                [one] => one
                    .to_str()
                    .ok()
                    .and_then(|v| ApiToken::from_authorization_header(v).ok()),
                _ => None,
            };
            let Some(token) = token else {
                return Err(Refusal::Unauthorized(if values.len() > 1 {
                    "send exactly one Authorization header".to_owned()
                } else {
                    "send your Buildkite API token as `Authorization: Bearer <token>`".to_owned()
                }));
            };
            client = client.with_token(Some(token));
        }
        let mut extra = HeaderMap::new();
        for name in &self.others {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if values.is_empty() {
                continue;
            }
            let mut value = HeaderValue::from_str(&values.join(", ")).map_err(|_| {
                Refusal::BadRequest(format!("the {name} header cannot be passed through"))
            })?;
            value.set_sensitive(true);
            extra.insert(name.clone(), value);
        }
        if !extra.is_empty() {
            client = client.with_headers(extra);
        }
        Ok(Some(client))
    }
}

/// What a request asks for, before narrowing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Asked {
    /// Toolsets named by the path and/or header (each list narrows).
    toolsets: Vec<BTreeSet<Toolset>>,
    /// Names the request gave, to report which are not enabled.
    named: BTreeSet<Toolset>,
    /// Something asked for read-only mode.
    read_only: bool,
    /// Something asked for read-only mode off.
    read_write: bool,
    /// Tools the request leaves out (`X-MCP-Exclude-Tools`).
    exclude: BTreeSet<String>,
}

/// The selection for a request: the operator's, narrowed by the path
/// (`/mcp`, `/mcp/readonly`, `/mcp/x/{toolsets}`, `/mcp/x/{toolsets}/readonly`)
/// and the `X-Buildkite-Toolsets` / `X-Buildkite-Read-Only` /
/// `X-MCP-Exclude-Tools` headers.
pub fn selection_for(
    operator: &Selection,
    path: &str,
    headers: &HeaderMap,
) -> Result<Selection, Refusal> {
    let mut asked = Asked::default();
    read_path(path, &mut asked)?;
    read_headers(headers, &mut asked)?;

    let widening: Vec<&str> = asked
        .named
        .iter()
        .filter(|t| !operator.toolsets.contains(t))
        .map(|t| t.name())
        .collect();
    if !widening.is_empty() {
        return Err(Refusal::Forbidden(format!(
            "toolset {} is not enabled on this server; enabled toolsets: {}",
            widening.join(", "),
            operator
                .toolsets
                .iter()
                .map(|t| t.name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if asked.read_write && operator.read_only {
        return Err(Refusal::Forbidden(
            "this server is read-only; a request cannot turn read-only mode off".to_owned(),
        ));
    }
    let mut selection = operator.clone();
    for toolsets in asked.toolsets {
        selection = selection.narrowed_by(&Selection {
            toolsets,
            ..Selection::all()
        });
    }
    // Of a `true` and a `false`, the narrower wins.
    selection.read_only |= asked.read_only;
    selection.exclude.extend(asked.exclude);
    Ok(selection)
}

fn read_path(path: &str, asked: &mut Asked) -> Result<(), Refusal> {
    let rest = path
        .strip_prefix("/mcp")
        .ok_or(Refusal::NotFound)?
        .trim_end_matches('/');
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [] => {}
        ["readonly"] => asked.read_only = true,
        ["x", toolsets] => ask_toolsets(asked, toolsets, "the path")?,
        ["x", toolsets, "readonly"] => {
            ask_toolsets(asked, toolsets, "the path")?;
            asked.read_only = true;
        }
        _ => return Err(Refusal::NotFound),
    }
    Ok(())
}

fn read_headers(headers: &HeaderMap, asked: &mut Asked) -> Result<(), Refusal> {
    // Repeated headers mean the same as one comma-separated list (RFC 9110).
    let mut lists = Vec::new();
    for value in headers.get_all(TOOLSETS_HEADER) {
        lists.push(value.to_str().map_err(|_| {
            Refusal::BadRequest("X-Buildkite-Toolsets is not readable text".to_owned())
        })?);
    }
    let list = lists.join(",");
    // An empty list (`""`, `" , "`) asks for nothing, as if absent.
    if list.split(',').any(|name| !name.trim().is_empty()) {
        ask_toolsets(asked, &list, "X-Buildkite-Toolsets")?;
    }
    for value in headers.get_all(EXCLUDE_TOOLS_HEADER) {
        let list = value.to_str().map_err(|_| {
            Refusal::BadRequest("X-MCP-Exclude-Tools is not readable text".to_owned())
        })?;
        for name in percent_decode(list).split(',').map(str::trim) {
            if name.is_empty() {
                continue;
            }
            if REGISTRY.get(name).is_none() {
                let valid: Vec<&str> = REGISTRY.all_tools().iter().map(|t| t.meta().name).collect();
                return Err(Refusal::BadRequest(format!(
                    "X-MCP-Exclude-Tools: unknown tool {:?}; valid tools: {}",
                    bk_mcp::malformed::excerpt(name),
                    valid.join(", ")
                )));
            }
            asked.exclude.insert(name.to_owned());
        }
    }
    for name in READ_ONLY_HEADERS {
        for value in headers.get_all(name) {
            let text = value.to_str().unwrap_or("\u{fffd}").trim();
            if text.is_empty() {
                continue;
            }
            match text.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => asked.read_only = true,
                "false" | "0" | "no" | "off" => asked.read_write = true,
                _ => {
                    return Err(Refusal::BadRequest(format!(
                        "{name}: {text:?} is not true or false"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn ask_toolsets(asked: &mut Asked, list: &str, source: &str) -> Result<(), Refusal> {
    let decoded = percent_decode(list);
    let (toolsets, left_by_profile) =
        parse_toolset_list(&decoded).map_err(|e| Refusal::BadRequest(format!("{source}: {e}")))?;
    asked.exclude.extend(left_by_profile);
    if toolsets.is_empty() {
        return Err(Refusal::BadRequest(format!("{source}: no toolset named")));
    }
    // Every toolset named is checked against the operator's, `all` or not.
    let named = parse_toolsets(
        &decoded
            .split(',')
            .filter(|n| {
                let n = n.trim();
                !n.eq_ignore_ascii_case("all") && !n.eq_ignore_ascii_case(ESSENTIALS)
            })
            .collect::<Vec<_>>()
            .join(","),
    )
    .map_err(|e| Refusal::BadRequest(format!("{source}: {e}")))?;
    asked.named.extend(named);
    let names_all = decoded
        .split(',')
        .any(|n| n.trim().eq_ignore_ascii_case("all"));
    if !names_all {
        asked.toolsets.push(toolsets);
    }
    Ok(())
}

fn percent_decode(text: &str) -> String {
    // Only `,` and spaces are expected escaped in a toolset list.
    text.replace("%2C", ",")
        .replace("%2c", ",")
        .replace("%20", " ")
}

/// The scope of one request: its selection and its client.
pub fn scope_for(
    operator: &Selection,
    passthrough: &Passthrough,
    base: &Client,
    path: &str,
    headers: &HeaderMap,
) -> Result<RequestScope, Refusal> {
    // Credentials first: an unauthenticated caller learns nothing about
    // the server's toolsets.
    let client = passthrough.client_for(base, headers)?;
    let selection = selection_for(operator, path, headers)?;
    Ok(RequestScope { selection, client })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operator(toolsets: &str, read_only: bool) -> Selection {
        Selection {
            toolsets: parse_toolsets(toolsets).unwrap(),
            read_only,
            ..Selection::all()
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn paths_narrow_the_selection() {
        let op = operator("all", false);
        let s = selection_for(&op, "/mcp", &HeaderMap::new()).unwrap();
        assert_eq!(s, op);
        let s = selection_for(&op, "/mcp/readonly", &HeaderMap::new()).unwrap();
        assert!(s.read_only);
        let s = selection_for(&op, "/mcp/x/builds", &HeaderMap::new()).unwrap();
        assert_eq!(s.toolsets, parse_toolsets("builds").unwrap());
        assert!(!s.read_only);
        let s = selection_for(&op, "/mcp/x/builds,logs/readonly/", &HeaderMap::new()).unwrap();
        assert_eq!(s.toolsets, parse_toolsets("builds,logs").unwrap());
        assert!(s.read_only);
        assert_eq!(
            selection_for(&op, "/mcp/x", &HeaderMap::new()),
            Err(Refusal::NotFound)
        );
        assert_eq!(
            selection_for(&op, "/mcp/x/builds/write", &HeaderMap::new()),
            Err(Refusal::NotFound)
        );
    }

    #[test]
    fn headers_narrow_and_combine_with_the_path() {
        let op = operator("builds,logs,pipelines", false);
        let h = headers(&[
            ("X-Buildkite-Toolsets", "logs, builds"),
            ("X-Buildkite-Readonly", "true"),
        ]);
        let s = selection_for(&op, "/mcp/x/builds", &h).unwrap();
        assert_eq!(s.toolsets, parse_toolsets("builds").unwrap());
        assert!(s.read_only);
        let h = headers(&[("X-Buildkite-Toolsets", "all")]);
        assert_eq!(selection_for(&op, "/mcp", &h).unwrap(), op);
        let h = headers(&[("X-Buildkite-Read-Only", "FALSE")]);
        assert!(!selection_for(&op, "/mcp", &h).unwrap().read_only);
    }

    #[test]
    fn widening_is_refused() {
        let op = operator("builds,logs", true);
        let h = headers(&[("X-Buildkite-Toolsets", "builds,pipelines")]);
        let Err(Refusal::Forbidden(message)) = selection_for(&op, "/mcp", &h) else {
            panic!("widening accepted")
        };
        assert!(
            message.contains("pipelines") && message.contains("builds, logs"),
            "{message}"
        );
        assert!(matches!(
            selection_for(&op, "/mcp/x/clusters", &HeaderMap::new()),
            Err(Refusal::Forbidden(_))
        ));
        for name in ["X-Buildkite-Read-Only", "X-Buildkite-Readonly"] {
            let h = headers(&[(name, "false")]);
            assert!(
                matches!(selection_for(&op, "/mcp", &h), Err(Refusal::Forbidden(_))),
                "{name}"
            );
        }
        // Disagreeing headers on a read-only server: the false is refused.
        let h = headers(&[
            ("X-Buildkite-Read-Only", "true"),
            ("X-Buildkite-Readonly", "false"),
        ]);
        assert!(matches!(
            selection_for(&op, "/mcp", &h),
            Err(Refusal::Forbidden(_))
        ));
    }

    #[test]
    fn bad_selections_are_400_listing_valid_names() {
        let op = operator("all", false);
        let narrow = operator("builds", false);
        let h = headers(&[("X-Buildkite-Toolsets", "all,clusters")]);
        assert!(
            matches!(
                selection_for(&narrow, "/mcp", &h),
                Err(Refusal::Forbidden(_))
            ),
            "a named toolset is checked even next to all"
        );
        let h = headers(&[("X-Buildkite-Toolsets", "builds,bilds")]);
        let Err(Refusal::BadRequest(message)) = selection_for(&op, "/mcp", &h) else {
            panic!("accepted")
        };
        assert!(
            message.contains("bilds") && message.contains("pipelines"),
            "{message}"
        );
        assert!(matches!(
            selection_for(&op, "/mcp/x/nope", &HeaderMap::new()),
            Err(Refusal::BadRequest(_))
        ));
        let h = headers(&[("X-Buildkite-Read-Only", "maybe")]);
        assert!(matches!(
            selection_for(&op, "/mcp", &h),
            Err(Refusal::BadRequest(_))
        ));
        let h = headers(&[("X-Buildkite-Toolsets", " , ")]);
        assert_eq!(selection_for(&op, "/mcp", &h).unwrap(), op);
    }

    #[test]
    fn passthrough_is_validated() {
        let p = Passthrough::new(
            &["Authorization".into(), "x-org".into(), "X-Org".into()],
            &[],
        )
        .unwrap();
        assert!(p.authorization);
        assert_eq!(p.others, vec![HeaderName::from_static("x-org")]);
        for bad in ["Host", "Transfer-Encoding", "bad name"] {
            assert!(Passthrough::new(&[bad.into()], &[]).is_err(), "{bad}");
        }
        let err =
            Passthrough::new(&["X-Team".into()], &[("x-team".into(), "a".into())]).unwrap_err();
        assert!(err.0.contains("both fixed"), "{err}");
    }

    #[test]
    fn authorization_passthrough_needs_exactly_one_bearer_token() {
        let base = Client::builder().token("").build().unwrap();
        let p = Passthrough::new(&["Authorization".into()], &[]).unwrap();
        let client = p
            .client_for(&base, &headers(&[("Authorization", "Bearer bkua_one")]))
            .unwrap()
            .unwrap();
        assert!(client.has_token());
        for bad in [
            vec![],
            vec![("Authorization", "")],
            vec![("Authorization", "Basic abc")],
            vec![("Authorization", "Bearer a"), ("Authorization", "Bearer b")],
        ] {
            assert!(
                matches!(
                    p.client_for(&base, &headers(&bad)),
                    Err(Refusal::Unauthorized(_))
                ),
                "{bad:?}"
            );
        }
        // No passthrough: the operator's client is used.
        assert!(
            Passthrough::default()
                .client_for(&base, &HeaderMap::new())
                .unwrap()
                .is_none()
        );
    }
}
