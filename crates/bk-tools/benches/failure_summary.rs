//! Benchmark of `get_build_failure_summary` on a realistic red build.
//!
//! Run it with `cargo bench -p bk-tools --bench failure_summary`.
//!
//! A wiremock API adds 50 ms of latency to every response and serves one red
//! build (acme/web #4812, 32 jobs): 12 failing jobs of every kind (four test
//! jobs with ~5,000-line logs, a lint job repeating one warning a thousand
//! times, a failed Terraform plan, a soft-failed audit, a timed-out job, a
//! canceled job, two broken downstream jobs and a flaky attempt that passed
//! on retry), 6 annotations (errors, warnings, infos, real HTML) and two
//! Test Engine runs with 30 failed executions. Logs are in Buildkite's raw
//! format: `\x1b_bk;t=<ms>\x07` timestamp markers, CRLF line ends, ANSI
//! colour, `~~~`/`---`/`+++` groups and `\r` progress redraws, written
//! with the workspace's log generator (`bk-loggen`). The JSON is built from
//! the REST client's fixtures (crates/buildkite-api/tests/fixtures).
//!
//! Printed:
//! - the summary's size against the raw API responses it replaces: what an
//!   agent would otherwise fetch (the build with its jobs and pipeline, the
//!   full raw log of every failing job the summary reads, all annotations
//!   with their HTML, each Test Engine run's failed executions);
//! - the API requests of one call (counted by the mock server, and checked
//!   against the count the call reports itself), cold and warm: what
//!   spends the organization's budget of 200 requests a minute;
//! - its wall time, cold (a fresh client and log cache per run: the
//!   realistic first call; median of 5) and warm (logs cached: with the
//!   API read cache still fresh, after it expired, and for another token),
//!   against an in-run sequential reference of calls × 50 ms, and the
//!   request timeline of a cold run, which shows which calls overlap
//!   (requests arriving less than 20 ms apart form one "wave"; under CPU
//!   load a wave can split in two, so the wave count is approximate).
//!
//! The build is served as the real API does, shaped by the query: with
//! `include_retried_jobs=true`, its jobs include the retried attempts (the
//! summary finds failing, canceled, downstream and flaky jobs in it, with no
//! job list or job request of its own).
//!
//! Each run checks the answer covers the scenario (a digest of every log,
//! no warning, the error and warning annotations, all 30 failed tests, the
//! flaky job). `FAILURE_SUMMARY_OUT=<file>` writes a cold run's summary.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bk_loggen::{BOLD_RED, GREEN, GREY, Log, RED, RESET, YELLOW};
use bk_tools::{Registry, Selection, ToolContext};
use buildkite_api::{Client, RetryPolicy};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Latency the fake API adds to every response.
const LATENCY: Duration = Duration::from_millis(50);
/// Cold runs (fresh log cache each).
const COLD_RUNS: usize = 5;

const ORG: &str = "acme";
const PIPELINE: &str = "web";
const NUMBER: u64 = 4812;
const BUILD_UUID: &str = "0198a3f2-5c1d-4e8b-9a7f-2d6c8e4b1a93";
const BRANCH: &str = "feature/discount-codes";
const COMMIT: &str = "9f3b2c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c";
const TOKEN: &str = "bkua_benchmark0123456789abcdefghijkl";
/// Another caller's token, for a warm call that must check its own access.
const OTHER_TOKEN: &str = "bkua_benchmarkOther456789abcdefghijkl";

fn build_path() -> String {
    format!("/v2/organizations/{ORG}/pipelines/{PIPELINE}/builds/{NUMBER}")
}

fn analytics_path() -> String {
    format!("/v2/analytics/organizations/{ORG}")
}

// ------------------------------------------------------------------ fixtures

fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/../buildkite-api/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {path}: {e}"))
}

/// A fixture moved to this build: its URLs point at acme/web #4812.
fn fixture(name: &str) -> Value {
    let text = fixture_text(name)
        .replace(
            "organizations/acme/pipelines/app/builds/42",
            &format!("organizations/{ORG}/pipelines/{PIPELINE}/builds/{NUMBER}"),
        )
        .replace(
            "buildkite.com/acme/app/builds/42",
            &format!("buildkite.com/{ORG}/{PIPELINE}/builds/{NUMBER}"),
        )
        .replace(
            "organizations/acme/pipelines/app",
            "organizations/acme/pipelines/web",
        );
    serde_json::from_str(&text).unwrap()
}

/// The first element of a fixture that is a list.
fn first(name: &str) -> Value {
    fixture(name).as_array().unwrap()[0].clone()
}

fn uuid(prefix: u32, n: u64) -> String {
    format!(
        "0198a{prefix:03x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        n & 0xffff,
        (n * 7) & 0xfff,
        (n * 13) & 0xfff,
        n.wrapping_mul(0x9e37_79b9) & 0xffff_ffff_ffff
    )
}

// ---------------------------------------------------------------------- logs

const NOUNS: &[&str] = &[
    "order",
    "cart",
    "discount",
    "coupon",
    "invoice",
    "payment",
    "refund",
    "user",
    "session",
    "address",
    "shipment",
    "product",
    "variant",
    "price",
    "tax rate",
    "gift card",
    "webhook",
    "subscription",
    "report",
    "search index",
];
const VERBS: &[&str] = &[
    "creates",
    "updates",
    "rejects",
    "returns",
    "computes",
    "validates",
    "renders",
    "serialises",
    "enqueues",
    "expires",
    "caches",
    "redirects to",
    "emails",
    "archives",
    "reconciles",
];
const QUALIFIERS: &[&str] = &[
    "when the user is signed in",
    "with an expired token",
    "for a guest checkout",
    "with multiple currencies",
    "when the stock runs out",
    "with a 100% discount",
    "in the EU region",
    "after a partial refund",
    "with a blank address line",
    "when the payment gateway is slow",
];

/// The log of the build's job `seed` (from 1): it starts `seed` seconds
/// after the build, and `seed` drives its random choices.
fn new_log(seed: u64) -> Log {
    Log::new(1_755_162_720_000 + seed * 1_000, seed)
}

/// A test's description: a verb, a noun and a qualifier.
fn words(log: &Log) -> String {
    format!(
        "{} the {} {}",
        log.pick(VERBS),
        log.pick(NOUNS),
        log.pick(QUALIFIERS)
    )
}

/// What the agent prints before the command: hooks, checkout (with its
/// progress redraws), a docker pull and a dependency install of
/// `deps` lines.
fn prelude(log: &mut Log, agent: &str, command: &str, deps: usize) {
    log.line("~~~ Running global environment hook");
    log.cmd("/buildkite/hooks/environment");
    log.line("~~~ Preparing working directory");
    log.line(&format!(
        "# Creating \"/var/lib/buildkite-agent/builds/{agent}/acme/web\""
    ));
    log.cmd(&format!(
        "cd /var/lib/buildkite-agent/builds/{agent}/acme/web"
    ));
    log.line("# Host \"github.com\" already in list of known hosts at \"/var/lib/buildkite-agent/.ssh/known_hosts\"");
    log.cmd("git clone -v -- git@github.com:acme/web.git .");
    log.line("Cloning into '.'...");
    log.progress("remote: Counting objects", 48_213, ", done.");
    log.progress("remote: Compressing objects", 17_842, ", done.");
    log.progress(
        "Receiving objects",
        48_213,
        ", 61.20 MiB | 48.31 MiB/s, done.",
    );
    log.progress("Resolving deltas", 31_077, ", done.");
    log.cmd("git clean -ffxdq");
    log.cmd(&format!("git fetch -v --prune -- origin {COMMIT}"));
    log.line(&format!(" * branch            {COMMIT} -> FETCH_HEAD"));
    log.cmd("git checkout -f 9f3b2c1d8e7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c");
    log.line("HEAD is now at 9f3b2c1 Add discount codes to checkout");
    log.line("# Cleaning again to catch any post-checkout changes");
    log.line("~~~ Running plugin docker-compose pre-command hook");
    log.cmd("docker compose -f docker-compose.ci.yml pull app");
    for layer in 0..12 {
        let id = format!("{:012x}", log.next() & 0xffff_ffff_ffff);
        let size = 5 + log.below(120);
        let mut text = String::new();
        for done in [0, size / 5, size / 3, size / 2, size * 3 / 4, size] {
            let bar = "=".repeat(usize::try_from(done * 50 / size).unwrap());
            let _ = write!(
                text,
                "{id}: Downloading [{bar:<50}]  {done}.{layer}MB/{size}.{layer}MB\r"
            );
        }
        let _ = write!(text, "{id}: Pull complete");
        log.line(&text);
    }
    log.line("Digest: sha256:4b1f2a9c8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c");
    log.line("~~~ Running commands");
    log.cmd(command);
    log.line("--- :package: Installing dependencies");
    for _ in 0..deps {
        let name = format!(
            "{}-{}",
            log.pick(NOUNS).replace(' ', "_"),
            log.pick(&["rails", "core", "client", "rb", "ext", "support", "js"])
        );
        let version = format!("{}.{}.{}", log.below(8), log.below(20), log.below(12));
        log.line(&format!("Using {name} {version}"));
    }
    log.line("Bundle complete! 212 Gemfile dependencies, 389 gems now installed.");
}

/// An RSpec job of ~5,000 lines (documentation format, groups per spec
/// directory) whose `failures` examples fail.
fn rspec_log(seed: u64, agent: &str, shard: &str, failures: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(
        &mut log,
        agent,
        &format!("bin/ci/rspec --shard {shard}"),
        180,
    );
    log.line("--- :database: Preparing the database");
    log.cmd("bin/rails db:create db:schema:load");
    log.line("Created database 'web_test'");
    let dirs = [
        "models",
        "requests",
        "services",
        "jobs",
        "mailers",
        "policies",
        "serializers",
        "lib",
    ];
    let mut failed = 0;
    let mut examples = 0;
    for (d, dir) in dirs.iter().enumerate() {
        log.line(&format!("--- :rspec: spec/{dir}"));
        for _ in 0..55 {
            let noun = log.pick(NOUNS);
            log.line(&format!(
                "{}{}",
                capitalise(noun),
                if d % 2 == 0 { "" } else { "Controller" }
            ));
            for _ in 0..9 {
                examples += 1;
                let words = words(&log);
                if failed < failures.len() && log.below(400) == 0 {
                    failed += 1;
                    log.line(&format!("  {RED}{words} (FAILED - {failed}){RESET}"));
                } else if log.below(60) == 0 {
                    log.line(&format!(
                        "  {YELLOW}{words} (PENDING: Not yet implemented){RESET}"
                    ));
                } else {
                    log.line(&format!("  {GREEN}{words}{RESET}"));
                }
            }
        }
    }
    log.line("+++ :rspec: Failures");
    log.line("");
    log.line("Failures:");
    log.line("");
    for (i, (name, location, reason)) in failures.iter().enumerate() {
        log.line(&format!("  {}) {name}", i + 1));
        log.line(&format!(
            "     {RED}Failure/Error: expect(response).to have_http_status(:ok){RESET}"
        ));
        for reason_line in reason.lines() {
            log.line(&format!("       {RED}{reason_line}{RESET}"));
        }
        for frame in 0..6 {
            log.line(&format!(
                "     {GREY}# ./{location}:in `block ({} levels) in <top (required)>'{RESET}",
                frame + 2
            ));
        }
        log.line("");
    }
    log.line("Finished in 6 minutes 12 seconds (files took 9.42 seconds to load)");
    log.line(&format!(
        "{RED}{examples} examples, {} failures, 31 pending{RESET}",
        failures.len()
    ));
    log.line("");
    log.line("Failed examples:");
    log.line("");
    for (name, location, _) in failures {
        log.line(&format!(
            "{RED}rspec ./{location}{RESET} {GREY}# {name}{RESET}"
        ));
    }
    log.line("");
    log.line("Randomized with seed 48213");
    log.agent_error(1);
    log.into_bytes()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_uppercase().collect::<String>() + &chars.as_str().replace(' ', "")
    })
}

/// A Jest job of ~5,000 lines: PASS/FAIL per file, console noise, a
/// failure with its diff and stack, the summary.
fn jest_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(
        &mut log,
        "ci-web-12",
        "yarn jest --ci --reporters=default --reporters=buildkite-test-collector/jest/reporter",
        60,
    );
    log.line("--- :jest: Running tests");
    let mut failed = 0;
    for file in 0..420 {
        let noun = capitalise(log.pick(NOUNS));
        let fail = file % 60 == 59;
        let status = if fail {
            failed += 1;
            format!("\x1b[1;41m FAIL {RESET}")
        } else {
            format!("\x1b[1;42m PASS {RESET}")
        };
        log.line(&format!(
            "{status} src/components/{noun}/{noun}{file}.test.tsx ({}.{} s)",
            log.below(9),
            log.below(10)
        ));
        if file % 7 == 0 {
            log.line(&format!("  {GREY}console.warn{RESET}"));
            log.line("    Warning: Each child in a list should have a unique \"key\" prop.");
            log.line(&format!(
                "      at {noun}List (src/components/{noun}/{noun}List.tsx:31:7)"
            ));
        }
        for _ in 0..9 {
            let words = words(&log);
            if fail && log.below(4) == 0 {
                log.line(&format!("    {RED}✕{RESET} {words} (12 ms)"));
            } else {
                log.line(&format!(
                    "    {GREEN}✓{RESET} {words} ({} ms)",
                    log.below(80)
                ));
            }
        }
        if fail {
            log.line("");
            log.line(&format!(
                "  {RED}● {noun} › applies the discount to the total{RESET}"
            ));
            log.line("");
            log.line(&format!("    expect({RED}received{RESET}).toBe({GREEN}expected{RESET}) // Object.is equality"));
            log.line("");
            log.line(&format!("    Expected: {GREEN}4150{RESET}"));
            log.line(&format!("    Received: {RED}4200{RESET}"));
            log.line("");
            for frame in 0..5 {
                log.line(&format!(
                    "      at Object.<anonymous> (src/components/{noun}/{noun}{file}.test.tsx:{}:{})",
                    40 + frame,
                    9 + frame
                ));
            }
            log.line("");
        }
    }
    log.line("+++ :jest: Summary of all failing tests");
    log.line(&format!(
        "{RED}Test Suites: {failed} failed{RESET}, {GREEN}{} passed{RESET}, 420 total",
        420 - failed
    ));
    log.line(&format!(
        "{RED}Tests:       13 failed{RESET}, 17 skipped, {GREEN}3750 passed{RESET}, 3780 total"
    ));
    log.line("Snapshots:   212 passed, 212 total");
    log.line("Time:        412.774 s");
    log.line("Ran all test suites.");
    log.line("error Command failed with exit code 1.");
    log.agent_error(1);
    log.into_bytes()
}

/// A Go test job of ~5,000 lines: `-v` output for many packages, two
/// failing.
fn go_test_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(&mut log, "ci-web-3", "go test -v -race ./...", 40);
    log.line("--- :go: go test");
    for pkg in 0..60 {
        let package = format!(
            "github.com/acme/web/internal/{}",
            log.pick(NOUNS).replace(' ', "")
        );
        let fail = pkg == 23 || pkg == 47;
        for test in 0..38 {
            let name = format!("Test{}{test}", capitalise(log.pick(NOUNS)));
            log.line(&format!("=== RUN   {name}"));
            if fail && test == 17 {
                log.line(&format!(
                    "    {}_test.go:{}: expected status 200, got 500",
                    name.to_lowercase(),
                    40 + test
                ));
                log.line(&format!(
                    "{RED}--- FAIL: {name} (0.{:02}s){RESET}",
                    log.below(100)
                ));
            } else {
                log.line(&format!(
                    "{GREEN}--- PASS: {name} (0.{:02}s){RESET}",
                    log.below(100)
                ));
            }
        }
        if fail {
            log.line(&format!("{RED}FAIL{RESET}"));
            log.line(&format!(
                "{RED}FAIL{RESET}\t{package}\t{}.{:03}s",
                log.below(9),
                log.below(1000)
            ));
        } else {
            log.line("PASS");
            log.line(&format!(
                "ok  \t{package}\t{}.{:03}s",
                log.below(9),
                log.below(1000)
            ));
        }
    }
    log.line("FAIL");
    log.agent_error(1);
    log.into_bytes()
}

/// ESLint (stylish format): one warning repeated over many files, then the
/// one error.
fn eslint_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(&mut log, "ci-web-4", "yarn lint --max-warnings=-1", 60);
    log.line("--- :eslint: Linting");
    for file in 0..160 {
        let noun = capitalise(log.pick(NOUNS));
        log.line("");
        log.line(&format!(
            "/var/lib/buildkite-agent/builds/ci-web-4/acme/web/app/javascript/components/{noun}{file}.tsx"
        ));
        for _ in 0..8 {
            let (line, col) = (log.below(300) + 1, log.below(40) + 1);
            if log.below(3) == 0 {
                log.line(&format!("  {GREY}{line}:{col}{RESET}  {YELLOW}warning{RESET}  Unexpected any. Specify a different type  {GREY}@typescript-eslint/no-explicit-any{RESET}"));
            } else {
                log.line(&format!("  {GREY}{line}:{col}{RESET}  {YELLOW}warning{RESET}  Unexpected console statement  {GREY}no-console{RESET}"));
            }
        }
    }
    log.line("");
    log.line(
        "/var/lib/buildkite-agent/builds/ci-web-4/acme/web/app/javascript/components/Checkout.tsx",
    );
    log.line(&format!("  {GREY}88:15{RESET}  {RED}error{RESET}  React Hook \"useEffect\" is called conditionally. React Hooks must be called in the exact same order in every component render  {GREY}react-hooks/rules-of-hooks{RESET}"));
    log.line("");
    log.line(&format!(
        "{BOLD_RED}✖ 1281 problems (1 error, 1280 warnings){RESET}"
    ));
    log.line("error Command failed with exit code 1.");
    log.agent_error(1);
    log.into_bytes()
}

/// A Terraform plan that cannot take the state lock.
fn terraform_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(
        &mut log,
        "ci-infra-1",
        "terraform plan -input=false -lock-timeout=60s",
        0,
    );
    log.line("--- :terraform: terraform plan");
    for i in 0..380 {
        let noun = log.pick(NOUNS).replace(' ', "_");
        log.line(&format!(
            "module.{noun}.aws_iam_role_policy.{noun}_{i}: Refreshing state... [id={noun}-{:08x}]",
            log.next() & 0xffff_ffff
        ));
    }
    log.line("");
    log.line(&format!("{RED}╷{RESET}"));
    log.line(&format!(
        "{RED}│{RESET} {BOLD_RED}Error: {RESET}Error acquiring the state lock"
    ));
    log.line(&format!("{RED}│{RESET}"));
    log.line(&format!("{RED}│{RESET} Error message: ConditionalCheckFailedException: The conditional request failed"));
    log.line(&format!("{RED}│{RESET} Lock Info:"));
    log.line(&format!(
        "{RED}│{RESET}   ID:        0b8f6c1e-2a4d-4f7e-9c3b-5d1a7e9f2c4b"
    ));
    log.line(&format!(
        "{RED}│{RESET}   Path:      acme-terraform-state/web/preview.tfstate"
    ));
    log.line(&format!("{RED}│{RESET}   Operation: OperationTypeApply"));
    log.line(&format!("{RED}│{RESET}   Who:       buildkite@ci-infra-2"));
    log.line(&format!("{RED}╵{RESET}"));
    log.agent_error(1);
    log.into_bytes()
}

/// bundler-audit finding vulnerable gems (the step may soft-fail).
fn audit_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(
        &mut log,
        "ci-web-9",
        "bundle exec bundle-audit check --update",
        20,
    );
    log.line("--- :bundler: bundle-audit");
    log.line("Updating ruby-advisory-db ...");
    log.progress(
        "Receiving objects",
        6_214,
        ", 2.81 MiB | 11.02 MiB/s, done.",
    );
    log.line("ruby-advisory-db:");
    log.line("  advisories:\t1012 advisories");
    for (name, version, cve) in [
        ("nokogiri", "1.15.4", "CVE-2024-25062"),
        ("rack", "2.2.7", "CVE-2024-26146"),
        ("rails-html-sanitizer", "1.6.0", "CVE-2024-53985"),
    ] {
        log.line(&format!("{RED}Name: {RESET}{name}"));
        log.line(&format!("{RED}Version: {RESET}{version}"));
        log.line(&format!("{RED}CVE: {RESET}{cve}"));
        log.line(&format!("{RED}Criticality: {RESET}High"));
        log.line(&format!(
            "{RED}URL: {RESET}https://github.com/advisories/{cve}"
        ));
        log.line(&format!(
            "{RED}Title: {RESET}{name} denial of service via crafted input"
        ));
        log.line(&format!("{RED}Solution: {RESET}upgrade to '>= {version}1'"));
        log.line("");
    }
    log.line(&format!("{RED}Vulnerabilities found!{RESET}"));
    log.agent_error(1);
    log.into_bytes()
}

/// System specs that ran until the step's timeout.
fn system_specs_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(&mut log, "ci-web-2", "bin/ci/rspec spec/system", 180);
    log.line("--- :capybara: System specs");
    log.line("Capybara starting Puma...");
    log.line("* Version 6.4.2, codename: The Eagle of Durango");
    log.line("* Min threads: 0, max threads: 4");
    log.line("* Listening on http://127.0.0.1:41823");
    for _ in 0..260 {
        let noun = capitalise(log.pick(NOUNS));
        log.line(&format!("{noun} flows"));
        for _ in 0..8 {
            let words = words(&log);
            log.line(&format!("  {GREEN}{words}{RESET}"));
        }
        if log.below(5) == 0 {
            log.line(&format!(
                "{GREY}[Screenshot Image]: tmp/capybara/failures_r_spec_example_groups_{}.png{RESET}",
                log.below(10_000)
            ));
        }
    }
    log.line("  Checkout with a discount code");
    for _ in 0..40 {
        log.line("Capybara::Cuprite::Browser waiting for network idle: 12 pending connections");
    }
    log.line("# Timeout reached: the step's timeout_in_minutes (30) was exceeded");
    log.line("# Received cancellation signal, interrupting");
    log.line(&format!(
        "{BOLD_RED}🚨 Error: The command was interrupted by a signal: signal: terminated{RESET}"
    ));
    log.into_bytes()
}

/// Playwright end-to-end tests canceled halfway.
fn e2e_log(seed: u64) -> Vec<u8> {
    let mut log = new_log(seed);
    prelude(
        &mut log,
        "ci-web-6",
        "yarn playwright test --reporter=line",
        50,
    );
    log.line("--- :playwright: Playwright");
    log.line("Running 1640 tests using 4 workers");
    for n in 1..=1300 {
        let words = words(&log);
        let spec = log.pick(NOUNS).replace(' ', "-");
        log.line(&format!(
            "  {GREEN}✓{RESET}  {n} [chromium] › {spec}.spec.ts:{}:5 › {words} ({}.{}s)",
            log.below(200) + 1,
            log.below(9),
            log.below(10)
        ));
    }
    log.line("# Received cancellation signal, interrupting");
    log.line("  1300 passed (6.1m)");
    log.line("  340 did not run");
    log.into_bytes()
}

// ---------------------------------------------------------------------- jobs

/// One job of the build.
struct JobSpec {
    id: String,
    name: &'static str,
    key: &'static str,
    state: &'static str,
    exit: Option<i64>,
    soft: bool,
    signal_reason: Option<&'static str>,
    agent: Option<&'static str>,
    command: &'static str,
    kind: &'static str,
    parallel: Option<(u64, u64)>,
    retried_in: Option<String>,
    retries_count: Option<u64>,
    log: Option<Vec<u8>>,
}

impl JobSpec {
    fn new(n: u64, name: &'static str, key: &'static str, state: &'static str) -> Self {
        JobSpec {
            id: uuid(0xa21, n),
            name,
            key,
            state,
            exit: match state {
                "passed" => Some(0),
                "failed" => Some(1),
                "timed_out" | "canceled" => Some(-1),
                _ => None,
            },
            soft: false,
            signal_reason: None,
            agent: Some("ci-web-1"),
            command: "bin/ci/step",
            kind: "script",
            parallel: None,
            retried_in: None,
            retries_count: None,
            log: None,
        }
    }

    fn ran(&self) -> bool {
        self.exit.is_some()
    }

    fn json(&self, template: &Value) -> Value {
        let old_id = template["id"].as_str().unwrap().to_owned();
        let text = serde_json::to_string(template)
            .unwrap()
            .replace(&old_id, &self.id);
        let mut job: Value = serde_json::from_str(&text).unwrap();
        job["graphql_id"] = json!(format!("Sm9iVHlwZUNvbW1hbmQtLS0{}", &self.id[..18]));
        job["type"] = json!(self.kind);
        job["name"] = json!(self.name);
        job["label"] = json!(self.name);
        job["step_key"] = json!(self.key);
        job["step"]["id"] = json!(uuid(0x5e9, self.id.len() as u64 + self.key.len() as u64));
        job["state"] = json!(self.state);
        job["command"] = json!(self.command);
        job["exit_status"] = json!(self.exit);
        job["soft_failed"] = json!(self.soft);
        job["signal_reason"] = json!(self.signal_reason);
        job["signal"] = json!(self.signal_reason.map(|_| "SIGTERM"));
        job["retried"] = json!(self.retried_in.is_some());
        job["retried_in_job_id"] = json!(self.retried_in);
        job["retries_count"] = json!(self.retries_count);
        if self.retries_count.is_some() {
            job["retry_type"] = json!("automatic");
        }
        if let Some((index, total)) = self.parallel {
            job["parallel_group_index"] = json!(index);
            job["parallel_group_total"] = json!(total);
        }
        match self.agent {
            Some(agent) => {
                job["agent"]["name"] = json!(agent);
                job["agent"]["hostname"] = json!(agent);
            }
            None => job["agent"] = Value::Null,
        }
        if !self.ran() {
            for key in ["started_at", "finished_at", "runnable_at", "scheduled_at"] {
                job[key] = Value::Null;
            }
        }
        if self.kind == "trigger" {
            let object = job.as_object_mut().unwrap();
            for key in [
                "command",
                "agent",
                "log_url",
                "raw_log_url",
                "artifacts_url",
                "exit_status",
                "artifact_paths",
                "agent_query_rules",
            ] {
                object.remove(key);
            }
            object.insert("async".into(), json!(false));
            object.insert("triggered_build".into(), Value::Null);
        }
        job
    }
}

/// Rspec failures: (example, location, reason).
const RSPEC_FAILURES_1: &[(&str, &str, &str)] = &[
    (
        "Checkout with a discount code applies the discount",
        "spec/requests/checkout_spec.rb:42",
        "expected the response to have status code :ok (200) but it was :internal_server_error (500)",
    ),
    (
        "Checkout with a discount code rejects an expired code",
        "spec/requests/checkout_spec.rb:58",
        "expected the response to have status code :ok (200) but it was :internal_server_error (500)",
    ),
    (
        "Order#total subtracts the discount",
        "spec/models/order_spec.rb:41",
        "expected: 4150\n     got: 4200\n\n(compared using ==)",
    ),
];
const RSPEC_FAILURES_2: &[(&str, &str, &str)] = &[
    (
        "Api::OrdersController POST /api/orders with a coupon",
        "spec/requests/api/orders_spec.rb:18",
        "expected the response to have status code :ok (200) but it was :internal_server_error (500)",
    ),
    (
        "DiscountCalculator stacks percentage and fixed discounts",
        "spec/services/discount_calculator_spec.rb:77",
        "expected: 3735\n     got: 3800\n\n(compared using ==)",
    ),
];

/// The 32 jobs of the build: 12 failing and 20 that passed.
fn jobs() -> Vec<JobSpec> {
    let mut jobs = Vec::new();
    let mut n = 0u64;
    let mut next = |name, key, state| {
        n += 1;
        JobSpec::new(n, name, key, state)
    };

    let mut rspec1 = next(":rspec: RSpec 1/3", "rspec", "failed");
    rspec1.parallel = Some((0, 3));
    rspec1.agent = Some("ci-web-7");
    rspec1.command = "bin/ci/rspec --shard 1/3";
    rspec1.log = Some(rspec_log(1, "ci-web-7", "1/3", RSPEC_FAILURES_1));
    jobs.push(rspec1);

    let mut rspec2 = next(":rspec: RSpec 2/3", "rspec", "failed");
    rspec2.parallel = Some((1, 3));
    rspec2.agent = Some("ci-web-8");
    rspec2.command = "bin/ci/rspec --shard 2/3";
    rspec2.log = Some(rspec_log(2, "ci-web-8", "2/3", RSPEC_FAILURES_2));
    jobs.push(rspec2);

    let mut jest = next(":jest: Jest", "jest", "failed");
    jest.agent = Some("ci-web-12");
    jest.command = "yarn jest --ci";
    jest.log = Some(jest_log(3));
    jobs.push(jest);

    let mut go = next(":go: Go tests", "go-test", "failed");
    go.agent = Some("ci-web-3");
    go.command = "go test -v -race ./...";
    go.log = Some(go_test_log(4));
    jobs.push(go);

    let mut eslint = next(":eslint: Lint", "eslint", "failed");
    eslint.agent = Some("ci-web-4");
    eslint.command = "yarn lint --max-warnings=-1";
    eslint.log = Some(eslint_log(5));
    jobs.push(eslint);

    let mut terraform = next(":terraform: Plan preview", "terraform-plan", "failed");
    terraform.agent = Some("ci-infra-1");
    terraform.command = "terraform plan -input=false -lock-timeout=60s";
    terraform.log = Some(terraform_log(6));
    jobs.push(terraform);

    let mut audit = next(":bundler: Audit gems", "bundle-audit", "failed");
    audit.soft = true;
    audit.agent = Some("ci-web-9");
    audit.command = "bundle exec bundle-audit check --update";
    audit.log = Some(audit_log(7));
    jobs.push(audit);

    let mut system = next(":capybara: System specs", "system-specs", "timed_out");
    system.signal_reason = Some("cancel");
    system.agent = Some("ci-web-2");
    system.command = "bin/ci/rspec spec/system";
    system.log = Some(system_specs_log(8));
    jobs.push(system);

    let mut e2e = next(":playwright: End-to-end", "e2e", "canceled");
    e2e.signal_reason = Some("cancel");
    e2e.agent = Some("ci-web-6");
    e2e.command = "yarn playwright test";
    e2e.log = Some(e2e_log(9));
    jobs.push(e2e);

    // The flaky attempt and its retry, which passed.
    let mut docker_retry = next(":docker: Build image", "docker-build", "passed");
    docker_retry.agent = Some("ci-docker-2");
    docker_retry.command = "docker buildx bake --push app";
    docker_retry.retries_count = Some(1);
    let mut docker = next(":docker: Build image", "docker-build", "failed");
    docker.agent = Some("ci-docker-1");
    docker.command = "docker buildx bake --push app";
    docker.retried_in = Some(docker_retry.id.clone());
    jobs.push(docker);

    let mut deploy = next(":rocket: Deploy staging", "deploy-staging", "broken");
    deploy.agent = None;
    deploy.command = "bin/deploy staging";
    jobs.push(deploy);

    let mut trigger = next(
        ":shipit: Trigger acme/web-deploy",
        "trigger-deploy",
        "broken",
    );
    trigger.agent = None;
    trigger.kind = "trigger";
    jobs.push(trigger);

    jobs.push(docker_retry);
    let mut rspec3 = next(":rspec: RSpec 3/3", "rspec", "passed");
    rspec3.parallel = Some((2, 3));
    jobs.push(rspec3);
    for (name, key) in [
        (":pipeline: Upload pipeline", "pipeline-upload"),
        (":ruby: Rubocop", "rubocop"),
        (":typescript: Typecheck", "tsc"),
        (":stylelint: Stylelint", "stylelint"),
        (":brakeman: Brakeman", "brakeman"),
        (":yarn: Yarn audit", "yarn-audit"),
        (":docker: Build worker image", "docker-worker"),
        (":graphql: Schema check", "graphql-schema"),
        (":database: Migrations", "migrations"),
        (":books: Storybook", "storybook"),
        (":lock: Secrets scan", "secrets-scan"),
        (":package: Assets precompile", "assets"),
        (":sidekiq: Worker specs", "worker-specs"),
        (":python: ML scoring tests", "pytest"),
        (":helm: Helm lint", "helm-lint"),
        (":swagger: OpenAPI diff", "openapi-diff"),
        (":chart_with_upwards_trend: Bundle size", "bundle-size"),
        (":earth_asia: i18n check", "i18n"),
    ] {
        jobs.push(next(name, key, "passed"));
    }
    jobs
}

// ----------------------------------------------------------- the other JSON

fn annotations(job_ids: &[String]) -> Value {
    let template = first("annotations.json");
    let bodies: [(&str, &str, &str, Option<usize>); 6] = [
        (
            "rspec",
            "error",
            "<h3>:rspec: 5 failures in 2 shards</h3>\n<table>\n<thead><tr><th>Example</th><th>Failure</th><th>Shard</th></tr></thead>\n<tbody>\n<tr><td><code>./spec/requests/checkout_spec.rb:42</code></td><td>expected the response to have status code :ok (200) but it was :internal_server_error (500)</td><td>1/3</td></tr>\n<tr><td><code>./spec/requests/checkout_spec.rb:58</code></td><td>expected the response to have status code :ok (200) but it was :internal_server_error (500)</td><td>1/3</td></tr>\n<tr><td><code>./spec/models/order_spec.rb:41</code></td><td>expected: 4150 got: 4200 (compared using ==)</td><td>1/3</td></tr>\n<tr><td><code>./spec/requests/api/orders_spec.rb:18</code></td><td>expected the response to have status code :ok (200) but it was :internal_server_error (500)</td><td>2/3</td></tr>\n<tr><td><code>./spec/services/discount_calculator_spec.rb:77</code></td><td>expected: 3735 got: 3800 (compared using ==)</td><td>2/3</td></tr>\n</tbody>\n</table>\n<details>\n<summary>Backtrace of the first failure</summary>\n<pre class=\"term\"><code><span class=\"term-fg31\">NoMethodError: undefined method `discount_cents' for nil</span>\n  app/services/discount_calculator.rb:31:in `apply'\n  app/models/order.rb:88:in `total_cents'\n  app/controllers/checkouts_controller.rb:24:in `create'\n  actionpack (7.1.3) lib/action_controller/metal/basic_implicit_render.rb:6:in `send_action'\n  actionpack (7.1.3) lib/abstract_controller/base.rb:224:in `process_action'\n</code></pre>\n</details>\n<p>See <a href=\"https://buildkite.com/organizations/acme/analytics/suites/web-rspec\">Test Engine</a> for the history of these tests.</p>\n",
            None,
        ),
        (
            "jest",
            "error",
            "<h3>:jest: 13 failed tests</h3>\n<ul>\n<li><code>src/components/Order/Order59.test.tsx</code> › applies the discount to the total</li>\n<li><code>src/components/Cart/Cart119.test.tsx</code> › applies the discount to the total</li>\n<li><code>src/components/Coupon/Coupon179.test.tsx</code> › TypeError: Cannot read properties of undefined (reading 'discount')</li>\n<li><code>src/components/Payment/Payment239.test.tsx</code> › thrown: \"Exceeded timeout of 5000 ms for a test.\"</li>\n<li>… and 9 more</li>\n</ul>\n<details><summary>First failure</summary>\n<pre class=\"term\"><code>expect(received).toBe(expected) // Object.is equality\n\nExpected: <span class=\"term-fg32\">4150</span>\nReceived: <span class=\"term-fg31\">4200</span>\n\n  at Object.&lt;anonymous&gt; (src/components/Order/Order59.test.tsx:40:9)</code></pre>\n</details>\n",
            None,
        ),
        (
            "eslint",
            "warning",
            "<h4>ESLint: 1280 warnings, 1 error</h4>\n<details>\n<summary>Warnings by rule</summary>\n<ul>\n<li><code>no-console</code> &times; 854</li>\n<li><code>@typescript-eslint/no-explicit-any</code> &times; 426</li>\n</ul>\n</details>\n<p>Error: <code>react-hooks/rules-of-hooks</code> in <code>app/javascript/components/Checkout.tsx:88:15</code></p>\n",
            Some(4),
        ),
        (
            "bundle-audit",
            "warning",
            "<p><strong>3 vulnerable gems</strong> (this step may soft-fail)</p>\n<table>\n<thead><tr><th>Gem</th><th>Version</th><th>Advisory</th><th>Fix</th></tr></thead>\n<tbody>\n<tr><td>nokogiri</td><td>1.15.4</td><td><a href=\"https://github.com/advisories/CVE-2024-25062\">CVE-2024-25062</a></td><td>&gt;= 1.16.2</td></tr>\n<tr><td>rack</td><td>2.2.7</td><td><a href=\"https://github.com/advisories/CVE-2024-26146\">CVE-2024-26146</a></td><td>&gt;= 2.2.8.1</td></tr>\n<tr><td>rails-html-sanitizer</td><td>1.6.0</td><td><a href=\"https://github.com/advisories/CVE-2024-53985\">CVE-2024-53985</a></td><td>&gt;= 1.6.1</td></tr>\n</tbody>\n</table>\n",
            Some(6),
        ),
        (
            "coverage",
            "info",
            "<p>Line coverage: <strong>87.2%</strong> (+0.4%) · Branch coverage: <strong>74.9%</strong> (-0.2%)</p>\n<details><summary>Files with the largest change</summary>\n<table>\n<tr><td><code>app/services/discount_calculator.rb</code></td><td>62.5% (-21.4%)</td></tr>\n<tr><td><code>app/models/order.rb</code></td><td>91.3% (+1.2%)</td></tr>\n<tr><td><code>app/controllers/checkouts_controller.rb</code></td><td>88.0% (+0.0%)</td></tr>\n</table></details>\n",
            None,
        ),
        (
            "bundle-size",
            "info",
            "<p><img src=\"https://buildkite.com/assets/emoji/chart_with_upwards_trend.png\" alt=\":chart_with_upwards_trend:\" class=\"emoji\"> JS bundle: <strong>1.82 MB</strong> (+14.2 kB, +0.8%) against <code>main</code></p>\n<table>\n<tr><th>Chunk</th><th>Size</th><th>Change</th></tr>\n<tr><td>application.js</td><td>1.21 MB</td><td>+12.9 kB</td></tr>\n<tr><td>checkout.js</td><td>402 kB</td><td>+1.3 kB</td></tr>\n<tr><td>vendor.js</td><td>214 kB</td><td>0 B</td></tr>\n</table>\n",
            None,
        ),
    ];
    Value::Array(
        bodies
            .iter()
            .enumerate()
            .map(|(i, (context, style, html, job))| {
                let mut a = template.clone();
                a["id"] = json!(uuid(0xd10, i as u64 + 1));
                a["context"] = json!(context);
                a["style"] = json!(style);
                a["body_html"] = json!(html);
                a["priority"] = json!(if *style == "error" { 5 } else { 3 });
                match job {
                    Some(index) => {
                        a["scope"] = json!("job");
                        a["job_id"] = json!(job_ids[*index]);
                    }
                    None => {
                        a["scope"] = json!("build");
                        a["job_id"] = Value::Null;
                    }
                }
                a
            })
            .collect(),
    )
}

/// A seeded choice of one of `items`.
fn pick<'a>(rng: &mut fastrand::Rng, items: &[&'a str]) -> &'a str {
    items[rng.usize(..items.len())]
}

/// A Test Engine run of the build.
struct Run {
    id: String,
    suite: &'static str,
    /// (test name, location, failure reason).
    failures: Vec<(String, String, String)>,
}

fn runs() -> [Run; 2] {
    let mut rng = fastrand::Rng::with_seed(0x51_7e57);
    let rspec_reasons = [
        (
            6,
            "expected the response to have status code :ok (200) but it was :internal_server_error (500)",
        ),
        (4, "expected: {a}\n     got: {b}\n\n(compared using ==)"),
        (3, "Net::ReadTimeout with #<TCPSocket:(closed)>"),
        (2, "undefined method `discount_cents' for nil"),
        (
            2,
            "Capybara::ElementNotFound: Unable to find button \"Apply code\" that is not disabled",
        ),
    ];
    let jest_reasons = [
        (
            5,
            "expect(received).toBe(expected) // Object.is equality\n\nExpected: {a}\nReceived: {b}",
        ),
        (
            4,
            "TypeError: Cannot read properties of undefined (reading 'discount')",
        ),
        (2, "thrown: \"Exceeded timeout of 5000 ms for a test.\""),
        (
            2,
            "expect(jest.fn()).toHaveBeenCalledTimes(expected)\n\nExpected number of calls: 1\nReceived number of calls: 0",
        ),
    ];
    let mut failures = |reasons: &[(usize, &str)], rspec: bool| {
        let mut out = Vec::new();
        for (count, reason) in reasons {
            for _ in 0..*count {
                let noun = pick(&mut rng, NOUNS);
                let words = format!(
                    "{} the {} {}",
                    pick(&mut rng, VERBS),
                    pick(&mut rng, NOUNS),
                    pick(&mut rng, QUALIFIERS)
                );
                let a = 1000 + rng.u64(..9000);
                let reason = reason
                    .replace("{a}", &a.to_string())
                    .replace("{b}", &(a + 50).to_string());
                let line = rng.u64(..200) + 1;
                let (name, location) = if rspec {
                    (
                        format!("{} {words}", capitalise(noun)),
                        format!("./spec/models/{}_spec.rb:{line}", noun.replace(' ', "_")),
                    )
                } else {
                    (
                        format!("{} › {words}", capitalise(noun)),
                        format!("src/components/{0}/{0}.test.tsx:{line}", capitalise(noun)),
                    )
                };
                out.push((name, location, reason));
            }
        }
        out
    };
    [
        Run {
            id: uuid(0xc41, 1),
            suite: "web-rspec",
            failures: failures(&rspec_reasons, true),
        },
        Run {
            id: uuid(0xc41, 2),
            suite: "web-jest",
            failures: failures(&jest_reasons, false),
        },
    ]
}

fn test_id(run: usize, index: usize) -> String {
    uuid(0x7e5, (run * 100 + index) as u64 + 1)
}

fn failed_executions(run_index: usize, run: &Run) -> Value {
    let template = first("failed_executions.json");
    let base = format!(
        "https://buildkite.com/organizations/{ORG}/analytics/suites/{}",
        run.suite
    );
    Value::Array(
        run.failures
            .iter()
            .enumerate()
            .map(|(i, (name, location, reason))| {
                let mut e = template.clone();
                let execution = uuid(0xe8e, (run_index * 100 + i) as u64 + 1);
                let test = test_id(run_index, i);
                e["execution_id"] = json!(execution);
                e["run_id"] = json!(run.id);
                e["run_name"] = json!(run.id);
                e["test_id"] = json!(test);
                e["commit_sha"] = json!(COMMIT);
                e["branch"] = json!(BRANCH);
                e["failure_reason"] = json!(reason);
                e["duration"] = json!(0.1 + i as f64 * 0.37);
                e["location"] = json!(location);
                e["test_name"] = json!(name);
                e["run_url"] = json!(format!("{base}/runs/{}", run.id));
                e["test_url"] = json!(format!("{base}/tests/{test}"));
                e["test_execution_url"] =
                    json!(format!("{base}/tests/{test}?execution_id={execution}"));
                e["tags"] = json!({
                    "language.name": if run.suite == "web-rspec" { "ruby" } else { "javascript" },
                    "build.id": BUILD_UUID,
                });
                e
            })
            .collect(),
    )
}

/// The build's tests (a page of 100): the failed ones, two of which also
/// passed on a retry (flaky), and tests that passed.
fn build_tests(runs: &[Run; 2]) -> Value {
    let template: Value = serde_json::from_str(&fixture_text("test.json")).unwrap();
    let mut tests = Vec::new();
    for (r, run) in runs.iter().enumerate() {
        for (i, (name, location, _)) in run.failures.iter().enumerate() {
            let mut t = template.clone();
            t["id"] = json!(test_id(r, i));
            t["name"] = json!(name);
            t["location"] = json!(location);
            t["file_name"] = json!(location.split(':').next());
            let flaky = (r, i) == (0, 7) || (r, i) == (1, 3);
            t["executions_count_by_result"] = if flaky {
                json!({"failed": 1, "passed": 1})
            } else {
                json!({"failed": 1})
            };
            tests.push(t);
        }
    }
    for i in tests.len()..100 {
        let mut t = template.clone();
        t["id"] = json!(uuid(0x7e6, i as u64));
        t["labels"] = json!([]);
        t["executions_count_by_result"] = json!({"passed": 1});
        tests.push(t);
    }
    Value::Array(tests)
}

// -------------------------------------------------------------- the fake API

/// One request as the mock saw it arrive.
#[derive(Clone)]
struct Hit {
    at: Instant,
    label: String,
    body_bytes: usize,
}

/// A response that records when each request arrived, and the size of the
/// body it answers with.
struct Recorded {
    label: String,
    template: ResponseTemplate,
    body_bytes: usize,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Respond for Recorded {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.hits.lock().unwrap().push(Hit {
            at: Instant::now(),
            label: self.label.clone(),
            body_bytes: self.body_bytes,
        });
        self.template.clone()
    }
}

/// `GET …/builds/{n}`: the build as the real API shapes it by the query
/// (`exclude_jobs`, `exclude_pipeline`, `include_retried_jobs`,
/// `include_test_engine`), recording each request.
struct BuildResponder {
    /// The build with every job, retried attempts included, its pipeline
    /// and its Test Engine runs.
    build: Value,
    hits: Arc<Mutex<Vec<Hit>>>,
}

impl Respond for BuildResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let flag = |name: &str| {
            request
                .url
                .query_pairs()
                .any(|(key, value)| key == name && value == "true")
        };
        let mut build = self.build.clone();
        let object = build.as_object_mut().unwrap();
        if flag("exclude_jobs") {
            object.remove("jobs");
        } else if !flag("include_retried_jobs")
            && let Some(Value::Array(jobs)) = object.get_mut("jobs")
        {
            jobs.retain(|job| job["retried"] != true);
        }
        if flag("exclude_pipeline") {
            object.remove("pipeline");
        }
        if !flag("include_test_engine") {
            object.remove("test_engine");
        }
        let body = serde_json::to_vec(&build).unwrap();
        self.hits.lock().unwrap().push(Hit {
            at: Instant::now(),
            label: "GET build".into(),
            body_bytes: body.len(),
        });
        ResponseTemplate::new(200)
            .set_body_raw(body, "application/json")
            .set_delay(LATENCY)
    }
}

/// The red build, served, and what an agent would fetch without the summary.
struct Scenario {
    server: MockServer,
    hits: Arc<Mutex<Vec<Hit>>>,
    /// (what, bytes) of the raw responses the summary replaces.
    raw: Vec<(String, usize)>,
    log_rows: usize,
    failing: usize,
    total_jobs: usize,
    logs: usize,
}

impl Scenario {
    async fn mount(&self, mock: Mock) {
        mock.mount(&self.server).await;
    }

    fn respond(&self, label: &str, body: Vec<u8>, content_type: &str) -> Recorded {
        Recorded {
            label: label.to_owned(),
            body_bytes: body.len(),
            template: ResponseTemplate::new(200)
                .set_body_raw(body, content_type)
                .set_delay(LATENCY),
            hits: Arc::clone(&self.hits),
        }
    }

    fn json(&self, label: &str, value: &Value) -> Recorded {
        self.respond(
            label,
            serde_json::to_vec(value).unwrap(),
            "application/json",
        )
    }
}

async fn scenario() -> Scenario {
    let server = MockServer::start().await;
    let mut s = Scenario {
        server,
        hits: Arc::default(),
        raw: Vec::new(),
        log_rows: 0,
        failing: 0,
        total_jobs: 0,
        logs: 0,
    };
    let build_path = build_path();
    let template = fixture("job.json");
    let specs = jobs();
    let job_json: Vec<Value> = specs.iter().map(|j| j.json(&template)).collect();
    let runs = runs();

    // The build, as get_build returns it by default (jobs and pipeline
    // included); the summary asks for it with the retried attempts and
    // without the pipeline.
    let mut build = fixture("build.json");
    build["id"] = json!(BUILD_UUID);
    build["graphql_id"] = json!("QnVpbGQtLS0wMTk4YTNmMi01YzFkLTRlOGItOWE3Zi0yZDZjOGU0YjFhOTM=");
    build["number"] = json!(NUMBER);
    build["branch"] = json!(BRANCH);
    build["commit"] = json!(COMMIT);
    build["message"] = json!(
        "Add discount codes to checkout\n\nStacks percentage and fixed discounts; adds the Apply code button."
    );
    build["pipeline"]["slug"] = json!(PIPELINE);
    build["pipeline"]["name"] = json!("Web");
    build["jobs"] = json!(job_json);
    let mut states: BTreeMap<&str, u64> = BTreeMap::new();
    for job in &specs {
        *states.entry(job.state).or_default() += 1;
    }
    build["job_state_counts"] = json!({"total": specs.len(), "states": states});
    build["test_engine"] = json!({"runs": runs.iter().map(|r| json!({
        "id": r.id,
        "suite": {"id": uuid(0x5a1, r.suite.len() as u64), "slug": r.suite},
    })).collect::<Vec<_>>()});
    s.raw.push((
        "the build with its jobs (GET build)".into(),
        serde_json::to_vec(&build).unwrap().len(),
    ));
    s.mount(
        Mock::given(method("GET"))
            .and(path(&build_path))
            .respond_with(BuildResponder {
                build: build.clone(),
                hits: Arc::clone(&s.hits),
            }),
    )
    .await;

    // Logs: the log, the access check on a cached log (HEAD, with the
    // size) and the job (which the summary needs not ask for: its state is
    // in the build).
    for (spec, job) in specs.iter().zip(&job_json) {
        if spec.state != "passed" {
            s.failing += 1;
        }
        let Some(log) = &spec.log else { continue };
        s.logs += 1;
        let rows = log.iter().filter(|&&b| b == b'\n').count();
        s.log_rows += rows;
        s.raw
            .push((format!("log of {} ({rows} rows)", spec.name), log.len()));
        let job_path = format!("{build_path}/jobs/{}", spec.id);
        let head = Recorded {
            label: format!("HEAD log {}", spec.key),
            body_bytes: 0,
            template: ResponseTemplate::new(200)
                .insert_header("content-length", log.len().to_string().as_str())
                .set_delay(LATENCY),
            hits: Arc::clone(&s.hits),
        };
        s.mount(
            Mock::given(method("HEAD"))
                .and(path(format!("{job_path}/log")))
                .respond_with(head),
        )
        .await;
        let got = s.json(&format!("GET job {}", spec.key), job);
        s.mount(
            Mock::given(method("GET"))
                .and(path(&job_path))
                .respond_with(got),
        )
        .await;
        let got = s.respond(&format!("GET log {}", spec.key), log.clone(), "text/plain");
        s.mount(
            Mock::given(method("GET"))
                .and(path(format!("{job_path}/log")))
                .respond_with(got),
        )
        .await;
    }
    s.total_jobs = specs.len();

    // Annotations, all six (the summary keeps errors and warnings).
    let job_ids: Vec<String> = specs.iter().map(|j| j.id.clone()).collect();
    let annotations = annotations(&job_ids);
    s.raw.push((
        "annotations (GET annotations)".into(),
        serde_json::to_vec(&annotations).unwrap().len(),
    ));
    let listed = s.json("GET annotations", &annotations);
    s.mount(
        Mock::given(method("GET"))
            .and(path(format!("{build_path}/annotations")))
            .and(query_param("scope", "all"))
            .respond_with(listed),
    )
    .await;

    // Test Engine: each run's failed executions, and the build's tests.
    let analytics = analytics_path();
    for (r, run) in runs.iter().enumerate() {
        let body = failed_executions(r, run);
        s.raw.push((
            format!("failed executions of run {} ({})", r + 1, run.suite),
            serde_json::to_vec(&body).unwrap().len(),
        ));
        let listed = s.json(&format!("GET failed_executions {}", run.suite), &body);
        s.mount(
            Mock::given(method("GET"))
                .and(path(format!(
                    "{analytics}/suites/{}/runs/{}/failed_executions",
                    run.suite, run.id
                )))
                .respond_with(listed),
        )
        .await;
    }
    let tests = s.json("GET tests (build)", &build_tests(&runs));
    s.mount(
        Mock::given(method("GET"))
            .and(path(format!("{analytics}/builds/{BUILD_UUID}/tests")))
            .respond_with(tests),
    )
    .await;
    s
}

// ------------------------------------------------------------------- the run

/// A fresh client for `token`, with its own, empty API read cache (kept
/// as long as the server keeps it by default).
fn client(server: &MockServer, token: &str) -> Client {
    Client::builder()
        .token(token)
        .base_url(server.uri())
        .read_cache_ttl(buildkite_api::DEFAULT_READ_CACHE_TTL)
        .retry_policy(RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap()
}

/// A context with a fresh client and its own, empty log cache.
fn context(server: &MockServer) -> (ToolContext, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let cache = bk_logs::LogCache::new(dir.path(), 1 << 30).unwrap();
    let logs = Arc::new(bk_logs::Engine::new(
        cache,
        bk_logs::EngineOptions::default(),
    ));
    (ToolContext::new(client(server, TOKEN), logs), dir)
}

/// One call's figures.
struct Measured {
    wall: Duration,
    calls: usize,
    summary: String,
    hits: Vec<Hit>,
    started: Instant,
}

async fn measure(s: &Scenario, registry: &Registry, ctx: &ToolContext, args: &Value) -> Measured {
    let before = s.server.received_requests().await.unwrap().len();
    let hits_before = s.hits.lock().unwrap().len();
    let started = Instant::now();
    let result = registry
        .call(
            &Selection::all(),
            ctx,
            "get_build_failure_summary",
            args.clone(),
        )
        .await;
    let wall = started.elapsed();
    assert!(!result.is_error, "the summary failed: {}", result.text);
    let calls = s.server.received_requests().await.unwrap().len() - before;
    let hits = s.hits.lock().unwrap()[hits_before..].to_vec();
    assert_eq!(hits.len(), calls, "every request matched a mock");
    assert_eq!(
        result.api_requests, calls as u64,
        "the call counts the requests the API received"
    );
    Measured {
        wall,
        calls,
        summary: result.text,
        hits,
        started,
    }
}

/// Checks the summary covers the scenario, so the figures are for a real
/// answer.
fn check(summary: &Value, logs: usize) {
    let jobs = summary["jobs"].as_array().unwrap();
    let with_log = jobs.iter().filter(|j| j.get("log").is_some()).count();
    assert_eq!(with_log, logs, "a digest of every log: {summary:#}");
    for job in jobs {
        assert!(job.get("log_error").is_none(), "{job:#}");
    }
    assert!(summary.get("warnings").is_none(), "{summary:#}");
    assert_eq!(summary["annotations"].as_array().unwrap().len(), 4);
    let flaky = summary["flaky_tests"].as_array().map_or(0, Vec::len);
    assert_eq!(
        summary["failed_test_count"].as_u64().unwrap() as usize + flaky,
        30
    );
    assert_eq!(summary["flaky_jobs"].as_array().unwrap().len(), 1);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn kib(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.2} MiB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
            .map_or_else(|| "?".to_owned(), |v| v.trim().to_owned())
    };
    let virtualised = if info.contains(" hypervisor") {
        ", virtualised"
    } else {
        ""
    };
    format!(
        "{cpus} CPUs (nproc), {} (family {}, model {}, {} MHz{virtualised})",
        field("model name"),
        field("cpu family"),
        field("model"),
        field("cpu MHz"),
    )
}

/// Prints a table with columns padded to their widest cell.
fn table(rows: &[Vec<String>]) {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, width))| {
                let pad = " ".repeat(width - cell.chars().count());
                if c == 0 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        println!("| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("|-{}-|", rule.join("-|-"));
        }
    }
}

/// One line per job of the summary: state, name, log digest size, error
/// line.
fn print_jobs(summary: &Value) {
    for job in summary["jobs"].as_array().unwrap() {
        let lines = job["log"].as_array().map_or(0, Vec::len);
        let total = job["log_total_rows"].as_u64().unwrap_or(0);
        let error: String = job["error_line"]
            .as_str()
            .unwrap_or("-")
            .chars()
            .take(100)
            .collect();
        println!(
            "  {:<9} {:<34} {:>3} of {:>4} rows  {error}",
            job["state"].as_str().unwrap_or("?"),
            job["name"].as_str().unwrap_or("?"),
            lines,
            total
        );
    }
    for key in ["jobs_truncated", "content_truncated"] {
        if summary.get(key).is_some() {
            println!("  ({key}: {})", summary[key]);
        }
    }
}

/// Requests by kind (`GET log`, `HEAD log`, …, from their labels), counted.
fn kinds<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for label in labels {
        let kind = label
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        *counts.entry(kind).or_default() += 1;
    }
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .into_iter()
        .map(|(k, n)| if n > 1 { format!("{n}× {k}") } else { k })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Requests grouped by when they arrived (requests less than 20 ms apart
/// are one wave).
fn timeline(m: &Measured) -> Vec<(f64, Vec<String>)> {
    let mut hits = m.hits.clone();
    hits.sort_by_key(|h| h.at);
    let mut waves: Vec<(f64, Vec<String>)> = Vec::new();
    let mut last: Option<Instant> = None;
    for hit in hits {
        let new_wave = last.is_none_or(|l| hit.at.duration_since(l) > Duration::from_millis(20));
        if new_wave {
            waves.push((ms(hit.at.duration_since(m.started)), Vec::new()));
        }
        waves.last_mut().unwrap().1.push(hit.label);
        last = Some(hit.at);
    }
    waves
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let s = scenario().await;
    let registry = Registry::new();
    let args =
        json!({"org_slug": ORG, "pipeline_slug": PIPELINE, "build_number": NUMBER.to_string()});
    let raw_total: usize = s.raw.iter().map(|(_, b)| b).sum();
    let log_bytes: usize = s
        .raw
        .iter()
        .filter(|(what, _)| what.starts_with("log of"))
        .map(|(_, b)| b)
        .sum();

    println!("get_build_failure_summary benchmark");
    println!("machine: {}", machine());
    println!(
        "fake API: wiremock on 127.0.0.1, {} ms added to every response",
        LATENCY.as_millis()
    );
    println!(
        "build {ORG}/{PIPELINE} #{NUMBER}: {} jobs, {} failing (failed, soft-failed, timed out, canceled, 2 broken downstream, 1 flaky attempt); {} logs read ({} rows, {}); 6 annotations; 2 Test Engine runs, 30 failed executions",
        s.total_jobs,
        s.failing,
        s.logs,
        s.log_rows,
        kib(log_bytes)
    );
    println!(
        "call: get_build_failure_summary {args} (default limits; server response budget 64 KiB)"
    );
    println!();

    // Cold: a fresh client and an empty log cache each run.
    let mut cold = Vec::new();
    let mut last_ctx = None;
    for _ in 0..COLD_RUNS {
        let (ctx, dir) = context(&s.server);
        let m = measure(&s, &registry, &ctx, &args).await;
        check(&serde_json::from_str(&m.summary).unwrap(), s.logs);
        cold.push(m);
        last_ctx = Some((ctx, dir));
    }
    // Warm: the last cold run's log cache holds every log. Right after it,
    // on the same client (its API read cache still fresh, the access checks
    // reused); then on a new client for the same token (the read cache
    // expired), and for another token (which must check its own access to
    // each cached log).
    let (ctx, _dir) = last_ctx.unwrap();
    let warm = measure(&s, &registry, &ctx, &args).await;
    check(&serde_json::from_str(&warm.summary).unwrap(), s.logs);
    let expired = ToolContext::new(client(&s.server, TOKEN), Arc::clone(&ctx.logs));
    let warm_expired = measure(&s, &registry, &expired, &args).await;
    check(
        &serde_json::from_str(&warm_expired.summary).unwrap(),
        s.logs,
    );
    let other = ToolContext::new(client(&s.server, OTHER_TOKEN), Arc::clone(&ctx.logs));
    let warm_other = measure(&s, &registry, &other, &args).await;
    check(&serde_json::from_str(&warm_other.summary).unwrap(), s.logs);

    let first_run = &cold[0];
    println!("request timeline of cold run 1 (requests <20 ms apart grouped):");
    for (at, labels) in timeline(first_run) {
        println!(
            "  +{at:>6.1} ms  {:>2} requests: {}",
            labels.len(),
            kinds(labels.iter().map(String::as_str))
        );
    }
    let waves = timeline(first_run).len();
    println!();
    println!("API requests per call (each counted by the mock API and by the call itself):");
    for (case, m) in [
        ("cold", first_run),
        ("warm, same client (read cache fresh)", &warm),
        ("warm, new client (read cache expired)", &warm_expired),
        ("warm, another token", &warm_other),
    ] {
        let labels = m.hits.iter().map(|hit| hit.label.as_str());
        println!("  {:>3}  {case}: {}", m.calls, kinds(labels));
    }
    println!();
    println!("the summary's jobs (state, name, digest lines of log rows, error line):");
    print_jobs(&serde_json::from_str(&first_run.summary).unwrap());
    println!();

    println!("raw API responses the summary replaces:");
    for (what, bytes) in &s.raw {
        println!("  {bytes:>10}  {what}");
    }
    println!("  {raw_total:>10}  total ({})", kib(raw_total));
    let downloaded: usize = first_run.hits.iter().map(|h| h.body_bytes).sum();
    println!(
        "bytes the summary itself downloaded (cold): {downloaded} ({}); warm: {}",
        kib(downloaded),
        kib(warm.hits.iter().map(|h| h.body_bytes).sum())
    );
    println!();

    let mut walls: Vec<Duration> = cold.iter().map(|m| m.wall).collect();
    println!(
        "cold runs: {}",
        walls
            .iter()
            .map(|w| format!("{:.0} ms", ms(*w)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    walls.sort();
    let median = walls[walls.len() / 2];
    let calls = first_run.calls;
    assert!(
        cold.iter().all(|m| m.calls == calls),
        "the same calls each cold run"
    );
    let summary_bytes = first_run.summary.len();
    println!("warm run: {:.0} ms", ms(warm.wall));
    println!();

    let floor = LATENCY * 3;
    let row = |case: &str, summary: usize, calls: usize, wall: Duration, waves: usize| {
        let reference = LATENCY * u32::try_from(calls).unwrap();
        let (reference, speed_up) = if calls == 0 {
            ("-".to_owned(), "-".to_owned())
        } else {
            (
                format!("{:.0} ms", ms(reference)),
                format!("{:.2}×", reference.as_secs_f64() / wall.as_secs_f64()),
            )
        };
        vec![
            case.to_owned(),
            summary.to_string(),
            raw_total.to_string(),
            format!("{:.1}×", raw_total as f64 / summary as f64),
            calls.to_string(),
            waves.to_string(),
            format!("{:.0} ms", ms(wall)),
            reference,
            speed_up,
        ]
    };
    table(&[
        [
            "case",
            "summary bytes",
            "raw bytes",
            "ratio",
            "API calls",
            "request waves",
            "wall",
            "sequential ref (calls × 50 ms)",
            "speed-up",
        ]
        .map(str::to_owned)
        .to_vec(),
        row("cold (median of 5)", summary_bytes, calls, median, waves),
        row(
            "warm (logs cached)",
            warm.summary.len(),
            warm.calls,
            warm.wall,
            timeline(&warm).len(),
        ),
        row(
            "warm, read cache expired",
            warm_expired.summary.len(),
            warm_expired.calls,
            warm_expired.wall,
            timeline(&warm_expired).len(),
        ),
        row(
            "warm, another token",
            warm_other.summary.len(),
            warm_other.calls,
            warm_other.wall,
            timeline(&warm_other).len(),
        ),
    ]);
    println!();
    println!(
        "ratio = raw bytes / summary bytes; sequential ref = API calls × {} ms, what a client making one call at a time would take; speed-up = sequential ref / wall;",
        LATENCY.as_millis()
    );
    println!(
        "request waves = groups of requests sent together (<20 ms apart, approximate); critical-path floor of a cold call = {:.0} ms (3 dependent round trips: the build with its jobs → the logs, annotations and Test Engine failed executions → the build's tests, to tell flaky tests).",
        ms(floor)
    );
    if let Ok(out) = std::env::var("FAILURE_SUMMARY_OUT") {
        std::fs::write(&out, &first_run.summary).unwrap();
        println!("summary written to {out}");
    }
}
