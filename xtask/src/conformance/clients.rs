//! The official Python MCP client (`xtask/conformance/mcp_client_check.py`)
//! against `bk-mcp-stdio` and against `bk-mcp-http` with Authorization
//! passthrough, both backed by the shared fake Buildkite API, whose record
//! then shows what each server asked upstream and with which token.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::command::{Output, run_timed, scrub_env};
use super::{COMMAND_TIMEOUT, Context, Tally, read_json, tail};
use crate::fake_api::{Accept, Data, FakeApi, Request, Setup};

/// The Python client's own overall limit (below [`COMMAND_TIMEOUT`]).
const CLIENT_TIMEOUT_SECS: &str = "60";
/// Dummy tokens: the fake API accepts any bearer token and records it.
const STDIO_TOKEN: &str = "bkua_conformance_stdio";
const HTTP_TOKEN: &str = "bkua_conformance_http";

/// Runs the client over stdio, then over HTTP, and checks the fake API's
/// record after each.
pub(super) fn run(ctx: &Context, python: &Path, sdk_version: &str, tally: &mut Tally) {
    let user_fixture = ctx.fixtures.join("user.json");
    let name = read_json(&user_fixture).and_then(|user| {
        user["name"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "no \"name\" in the fixture".to_owned())
    });
    let name = match name {
        Ok(name) => name,
        Err(error) => return tally.record(false, &user_fixture.display().to_string(), &error),
    };
    // The fake API runs on this runtime's worker while this thread waits
    // for the client and servers.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return tally.record(false, "fake Buildkite API", &error.to_string()),
    };
    let data = match Data::fixtures(&ctx.fixtures) {
        Ok(data) => data,
        Err(error) => return tally.record(false, "fake Buildkite API", &error),
    };
    let api = runtime.block_on(FakeApi::start(Setup {
        data,
        accept: Accept::AnyBearer,
        record: true,
        delay: std::time::Duration::ZERO,
        faults: None,
    }));
    let api = match api {
        Ok(api) => api,
        Err(error) => return tally.record(false, "fake Buildkite API", &error),
    };
    let script = ctx.dir.join("mcp_client_check.py");
    let client = |transport: &str| {
        let mut command = Command::new(python);
        command.arg(&script).args([
            "--timeout",
            CLIENT_TIMEOUT_SECS,
            "--expect-user",
            &name,
            transport,
        ]);
        command
    };

    println!(
        "==> official Python MCP client (mcp {sdk_version}) over stdio: bk-mcp-stdio, fake API at {}",
        api.url
    );
    let mut stdio = client("stdio");
    stdio
        .arg("--env")
        .arg(format!("BUILDKITE_API_TOKEN={STDIO_TOKEN}"))
        .arg("--env")
        .arg(format!("BUILDKITE_BASE_URL={}", api.url))
        .arg("--env")
        .arg(format!("BKLOG_CACHE_URL={}", ctx.log_cache().display()))
        .arg("--")
        .arg(&ctx.stdio_bin);
    run_client(ctx, &mut stdio, "stdio", tally);
    check_upstream(&api.take(), STDIO_TOKEN, "stdio", tally);

    let server = ctx.start_http(
        "bk-mcp-http-passthrough.log",
        &["--passthrough-http-header", "Authorization"],
        &[("BUILDKITE_BASE_URL", &api.url)],
    );
    let server = match server {
        Ok(server) => server,
        Err(error) => {
            return tally.record(false, "bk-mcp-http (Authorization passthrough)", &error);
        }
    };
    println!(
        "==> official Python MCP client (mcp {sdk_version}) over HTTP: bk-mcp-http at {} with Authorization passthrough",
        server.url
    );
    let mut http = client("http");
    http.args([&server.url, "-H"])
        .arg(format!("Authorization: Bearer {HTTP_TOKEN}"));
    run_client(ctx, &mut http, "http", tally);
    check_upstream(&api.take(), HTTP_TOKEN, "http", tally);
    drop(server);
}

/// Runs the client script and records each JSON line it prints as a check.
fn run_client(ctx: &Context, client: &mut Command, transport: &str, tally: &mut Tally) {
    scrub_env(client);
    client
        .current_dir(&ctx.dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1");
    let done = match run_timed(client, COMMAND_TIMEOUT, Output::Capture) {
        Ok(done) => done,
        Err(error) => return tally.record(false, &format!("python client ({transport})"), &error),
    };
    let log = ctx.work.join(format!("python-{transport}.log"));
    let _ = std::fs::write(&log, format!("{}{}", done.stdout, done.stderr));
    let mut all_ok = true;
    let mut seen = 0;
    for line in done.stdout.lines() {
        let Ok(report) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let Some(check) = report["check"].as_str() else {
            continue;
        };
        let ok = report["ok"] == true;
        let detail = report["detail"].as_str().unwrap_or("");
        all_ok &= ok;
        seen += 1;
        tally.record(ok, &format!("{check} ({transport})"), detail);
    }
    if seen == 0 || (all_ok && !done.success()) {
        let output = tail(&done.stderr, 8);
        tally.record(
            false,
            &format!("python client ({transport})"),
            &format!("{}; see {}: {output}", done.describe(), log.display()),
        );
    }
}

/// The fake API must have seen `GET /v2/user`, and only the caller's token.
fn check_upstream(seen: &[Request], token: &str, transport: &str, tally: &mut Tally) {
    let wanted = format!("Bearer {token}");
    let got_user = seen
        .iter()
        .any(|r| r.method == "GET" && r.path() == "/v2/user");
    let wrong: Vec<String> = seen
        .iter()
        .filter(|r| r.authorization.as_deref() != Some(wanted.as_str()))
        .map(ToString::to_string)
        .collect();
    let requests: Vec<String> = seen.iter().map(ToString::to_string).collect();
    let ok = got_user && wrong.is_empty();
    let detail = if ok {
        format!("{} with {wanted}", requests.join(", "))
    } else if !got_user {
        format!("no GET /v2/user; requests: {requests:?}")
    } else {
        format!("requests without {wanted}: {wrong:?}")
    };
    tally.record(ok, &format!("fake API request ({transport})"), &detail);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, target: &str, authorization: Option<&str>) -> Request {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            authorization: authorization.map(str::to_owned),
        }
    }

    /// (passed, failed) after checking `seen` for `token`.
    fn judged(seen: &[Request], token: &str) -> (usize, usize) {
        let mut tally = Tally::default();
        check_upstream(seen, token, "test", &mut tally);
        (tally.passed, tally.failed)
    }

    #[test]
    fn upstream_needs_get_user_and_only_the_callers_token() {
        let user = request("GET", "/v2/user", Some("Bearer t1"));
        assert_eq!(judged(std::slice::from_ref(&user), "t1"), (1, 0));
        assert_eq!(judged(std::slice::from_ref(&user), "t2"), (0, 1));
        assert_eq!(judged(&[], "t1"), (0, 1));
        let with_query = request("GET", "/v2/user?x=1", Some("Bearer t1"));
        assert_eq!(judged(&[with_query], "t1"), (1, 0));
        let anonymous = request("GET", "/v2/organizations", None);
        assert_eq!(judged(&[user, anonymous], "t1"), (0, 1));
        let post = request("POST", "/v2/user", Some("Bearer t1"));
        assert_eq!(judged(&[post], "t1"), (0, 1));
    }
}
