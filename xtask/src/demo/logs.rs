//! `cargo xtask demo-logs <org dir>`: the demo organisation's scripted job
//! logs, written with the workspace's log generator (`bk_loggen::Log`).
//!
//! `examples/demo/generate.py` decides which job has which log and runs
//! this with their descriptions on stdin: a JSON array of
//! `{path, kind, start_ms, commit, subject, …}`, `path` relative to the
//! org directory. The kinds: `docker` (the image build; `fail`: it dies on
//! a TLS handshake timeout pulling the base image), `upload` (the pipeline
//! upload; `steps`), and the passing `rspec`, `eslint` and `system-specs`
//! runs. Every line's time is given, so the same description always gives
//! the same bytes. (The red build's failing RSpec, lint and system-spec
//! logs are the investigation test fixtures, copied by the script.)

use std::io::Read;
use std::path::{Component, Path};

use bk_loggen::{GREEN, Log, RESET, YELLOW};
use serde_json::Value;

/// The demo's organisation slug, in the agents' checkout paths.
const ORG: &str = "acme";
/// ANSI cyan, as RSpec prints a pending example.
const CYAN: &str = "\x1b[36m";
/// ANSI red, as BuildKit prints its failure.
const RED: &str = "\x1b[31m";

/// Reads the descriptions on stdin and writes each log under `args[0]`.
pub fn run(args: &[String]) -> Result<(), String> {
    let [dir] = args else {
        return Err("usage: cargo xtask demo-logs <org dir> < descriptions.json".to_owned());
    };
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| format!("demo-logs: stdin: {e}"))?;
    let specs: Value =
        serde_json::from_str(&input).map_err(|e| format!("demo-logs: stdin: {e}"))?;
    let specs = specs
        .as_array()
        .ok_or("demo-logs: stdin is not a JSON array")?;
    for spec in specs {
        let relative = field(spec, "path")?;
        if !Path::new(relative)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(format!(
                "demo-logs: {relative:?} is not a path inside the org directory"
            ));
        }
        let path = Path::new(dir).join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, log(spec)?).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    eprintln!("wrote {} logs under {dir}", specs.len());
    Ok(())
}

fn field<'a>(spec: &'a Value, name: &str) -> Result<&'a str, String> {
    spec[name]
        .as_str()
        .ok_or_else(|| format!("demo-logs: a log without a string `{name}`: {spec}"))
}

/// The log a description asks for.
fn log(spec: &Value) -> Result<Vec<u8>, String> {
    let start = spec["start_ms"]
        .as_u64()
        .ok_or_else(|| format!("demo-logs: a log without `start_ms`: {spec}"))?;
    let job = Job {
        commit: field(spec, "commit")?,
        subject: field(spec, "subject")?,
    };
    let mut log = Log::new(start, 0);
    match field(spec, "kind")? {
        "docker" => job.docker(&mut log, spec["fail"] == true),
        "upload" => job.upload(&mut log, spec["steps"].as_u64().unwrap_or(1)),
        "rspec" => job.rspec(&mut log),
        "eslint" => job.eslint(&mut log),
        "system-specs" => job.system_specs(&mut log),
        other => return Err(format!("demo-logs: unknown kind {other:?}")),
    }
    Ok(log.into_bytes())
}

/// What every log of a build shares: the commit the agent checks out.
struct Job<'a> {
    commit: &'a str,
    subject: &'a str,
}

impl Job<'_> {
    /// The commit's first `n` characters.
    fn short(&self, n: usize) -> &str {
        self.commit.get(..n).unwrap_or(self.commit)
    }

    /// The agent's hooks and the checkout, on `agent`.
    fn checkout(&self, log: &mut Log, agent: &str) {
        log.line_after(0, "~~~ Running global environment hook");
        log.cmd_after(2, "/etc/buildkite-agent/hooks/environment");
        log.line_after(41, "~~~ Preparing working directory");
        log.cmd_after(
            1,
            &format!("cd /var/lib/buildkite-agent/builds/{agent}/{ORG}/web"),
        );
        log.cmd_after(
            2,
            &format!("git fetch -v --prune -- origin {}", self.commit),
        );
        log.line_after(180, "remote: Enumerating objects: 41, done.");
        log.line_after(
            12,
            "remote: Counting objects:   2% (1/41)\rremote: Counting objects:  51% (21/41)\rremote: Counting objects: 100% (41/41), done.",
        );
        log.line_after(
            60,
            "Receiving objects:   4% (2/41)\rReceiving objects:  51% (21/41)\rReceiving objects: 100% (41/41), 18.20 KiB | 4.55 MiB/s, done.\r",
        );
        log.cmd_after(400, &format!("git checkout -f {}", self.commit));
        log.line_after(
            35,
            &format!("HEAD is now at {} {}", self.short(7), self.subject),
        );
        log.line_after(8, "~~~ Running commands");
    }

    /// The image build; with `fail`, the base image's metadata never comes.
    fn docker(&self, log: &mut Log, fail: bool) {
        const RUBY: &str = "docker.io/library/ruby:3.3.5-slim-bookworm";
        const HEAD: &str = "failed to do request: Head \"https://registry-1.docker.io/v2/library/ruby/manifests/3.3.5-slim-bookworm\": net/http: TLS handshake timeout";
        let image = format!("registry.acme.example/web:{}", self.short(12));
        self.checkout(log, "ci-docker-1");
        log.cmd_after(2, "docker buildx build --push --tag \"$IMAGE\" .");
        log.line_after(40, &format!("--- :docker: Building {image}"));
        log.line_after(
            212,
            "#0 building with \"ci\" instance using docker-container driver",
        );
        log.line_after(4, "#1 [internal] load build definition from Dockerfile");
        log.line_after(11, "#1 transferring dockerfile: 2.31kB done");
        log.line_after(1, "#1 DONE 0.0s");
        log.line_after(3, &format!("#2 [internal] load metadata for {RUBY}"));
        if fail {
            for attempt in 1..=3u64 {
                log.line_after(
                    10_000 + attempt * 2_000,
                    &format!(
                        "{YELLOW}#2 retrying in {}s: TLS handshake timeout{RESET}",
                        attempt * 2
                    ),
                );
            }
            log.line_after(10_012, &format!("#2 ERROR: {HEAD}"));
            log.line_after(2, "------");
            log.line_after(1, &format!(" > [internal] load metadata for {RUBY}:"));
            log.line_after(1, "------");
            log.line_after(1, "Dockerfile:1");
            log.line_after(1, "--------------------");
            log.line_after(1, "   1 | >>> FROM ruby:3.3.5-slim-bookworm AS base");
            log.line_after(1, "   2 |     WORKDIR /app");
            log.line_after(1, "--------------------");
            log.line_after(
                2,
                &format!(
                    "{RED}ERROR: failed to solve: ruby:3.3.5-slim-bookworm: failed to resolve source metadata for {RUBY}: {HEAD}{RESET}"
                ),
            );
            log.line_after(95, "^^^ +++");
            log.line_after(
                1,
                &format!("{RED}🚨 Error: The command exited with status 1{RESET}"),
            );
            return;
        }
        log.line_after(1204, "#2 DONE 1.2s");
        log.line_after(2, "#3 [internal] load .dockerignore");
        log.line_after(8, "#3 DONE 0.0s");
        let steps = [
            (
                "[base 1/6] FROM docker.io/library/ruby:3.3.5-slim-bookworm@sha256:6d4e7c1bb0a55e1a8f2f9d3c4b5a6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f",
                "CACHED",
            ),
            ("[base 2/6] WORKDIR /app", "CACHED"),
            (
                "[deps 3/6] COPY Gemfile Gemfile.lock package.json yarn.lock ./",
                "DONE 0.1s",
            ),
            (
                "[deps 4/6] RUN bundle install --jobs 8 && yarn install --frozen-lockfile",
                "DONE 71.8s",
            ),
            ("[app 5/6] COPY . .", "DONE 0.4s"),
            ("[app 6/6] RUN bin/rails assets:precompile", "DONE 38.2s"),
        ];
        for (index, (step, done)) in (4..).zip(steps) {
            log.line_after(9, &format!("#{index} {step}"));
            if step.contains("bundle install") {
                log.line_after(
                    12_400,
                    &format!(
                        "#{index} 12.40 Fetching gem metadata from https://rubygems.org/........."
                    ),
                );
                log.line_after(
                    46_510,
                    &format!(
                        "#{index} 58.91 Bundle complete! 148 Gemfile dependencies, 291 gems now installed."
                    ),
                );
                log.line_after(11_210, &format!("#{index} 70.12 Done in 10.93s."));
            }
            if step.contains("precompile") {
                log.line_after(
                    37_800,
                    &format!("#{index} 37.80 Compiled all packs in /app/public/packs"),
                );
            }
            log.line_after(400, &format!("#{index} {done}"));
        }
        log.line_after(3, "#10 exporting to image");
        log.line_after(
            6_200,
            "#10 pushing layers  12% 3.1MB/25.6MB\r#10 pushing layers  57% 14.6MB/25.6MB\r#10 pushing layers 100% 25.6MB/25.6MB",
        );
        log.line_after(
            12_011,
            &format!(
                "#10 pushing manifest for {image}@sha256:9b2f0c4e6a8d1f3b5c7e9a0d2f4b6c8e1a3c5e7f9b0d2e4f6a8c1e3b5d7f9a0c done"
            ),
        );
        log.line_after(2, "#10 DONE 18.2s");
        log.cmd_after(30, &format!("buildkite-agent meta-data set image {image}"));
    }

    /// The pipeline upload of `steps` steps.
    fn upload(&self, log: &mut Log, steps: u64) {
        self.checkout(log, "ci-web-6");
        log.cmd_after(2, "buildkite-agent pipeline upload");
        log.line_after(
            120,
            "2026-08-14 09:12:05 INFO   Searching for pipeline config...",
        );
        log.line_after(
            2,
            "2026-08-14 09:12:05 INFO   Found config file \".buildkite/pipeline.yml\"",
        );
        log.line_after(
            441,
            &format!(
                "2026-08-14 09:12:05 INFO   Successfully parsed and uploaded pipeline #1 ({steps} steps)"
            ),
        );
    }

    /// A green RSpec run with one pending example.
    fn rspec(&self, log: &mut Log) {
        self.checkout(log, "ci-web-7");
        log.cmd_after(2, "bin/ci/rspec");
        log.line_after(5, "--- :bundler: Installing gems");
        log.line_after(
            2110,
            "Bundle complete! 148 Gemfile dependencies, 291 gems now installed.",
        );
        log.line_after(12, "--- :rspec: Running specs");
        log.line_after(4210, "Randomized with seed 20611");
        let dots = |n: usize| format!("{GREEN}{}{RESET}", ".".repeat(n));
        for _ in 0..6 {
            log.line_after(9000, &dots(60));
        }
        log.line_after(7000, &format!("{}{YELLOW}*{RESET}", dots(51)));
        log.line_after(3, "");
        log.line_after(
            1,
            "Pending: (Failures listed here are expected and do not affect your suite's status)",
        );
        log.line_after(1, "");
        log.line_after(1, "  1) Order#export writes a CSV");
        log.line_after(1, &format!("{CYAN}     # Not yet implemented{RESET}"));
        log.line_after(
            1,
            &format!("{CYAN}     # ./spec/models/order_spec.rb:102{RESET}"),
        );
        log.line_after(1, "");
        log.line_after(
            1,
            "Finished in 1 minute 9.87 seconds (files took 4.18 seconds to load)",
        );
        log.line_after(
            1,
            &format!("{GREEN}412 examples, 0 failures, 1 pending{RESET}"),
        );
        log.line_after(1, "");
        log.line_after(
            310,
            "Coverage report generated for RSpec to /var/lib/buildkite-agent/builds/ci-web-7/acme/web/coverage. 8412 / 9647 LOC (87.2%) covered.",
        );
    }

    /// A clean lint run.
    fn eslint(&self, log: &mut Log) {
        self.checkout(log, "ci-web-4");
        log.cmd_after(2, "yarn install --frozen-lockfile");
        log.line_after(300, "yarn install v1.22.22");
        log.line_after(40, "[1/4] Resolving packages...");
        log.line_after(900, "success Already up-to-date.");
        log.line_after(80, "Done in 1.02s.");
        log.line_after(20, "--- :eslint: Lint");
        log.cmd_after(
            2,
            "node_modules/.bin/eslint --format compact --max-warnings 0 app/javascript",
        );
        log.line_after(6100, "");
    }

    /// A green system-spec run.
    fn system_specs(&self, log: &mut Log) {
        self.checkout(log, "ci-web-5");
        log.cmd_after(2, "bin/ci/system-specs");
        log.line_after(5, "--- :capybara: Running system specs");
        log.line_after(4300, "Randomized with seed 5120");
        log.line_after(900, "Capybara starting Puma...");
        log.line_after(1, "* Version 6.4.2, codename: The Eagle of Durango");
        log.line_after(1, "* Min threads: 0, max threads: 4");
        log.line_after(1, "* Listening on http://127.0.0.1:40977");
        log.line_after(181_000, &format!("{GREEN}{}{RESET}", ".".repeat(27)));
        log.line_after(2, "");
        log.line_after(
            1,
            "Finished in 3 minutes 2.4 seconds (files took 4.02 seconds to load)",
        );
        log.line_after(1, &format!("{GREEN}27 examples, 0 failures{RESET}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_docker_failure_is_timed_as_described() {
        let spec = json!({
            "path": "x/log.txt", "kind": "docker", "start_ms": 1_000u64,
            "commit": "5d8e3a1c9b7f2e4d6a8c0b1e3f5a7d9c2b4e6f80",
            "subject": "Add discount codes", "fail": true,
        });
        let bytes = log(&spec).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("\x1b_bk;t=1000\x07~~~ Running global environment hook\r\n"));
        assert!(text.contains("HEAD is now at 5d8e3a1 Add discount codes\r\n"));
        assert!(text.contains("TLS handshake timeout"));
        assert!(text.ends_with("🚨 Error: The command exited with status 1\x1b[0m\r\n"));
        assert_eq!(
            log(&spec).unwrap(),
            text.into_bytes(),
            "the same bytes every time"
        );
    }

    #[test]
    fn unknown_kinds_and_missing_fields_are_errors() {
        let spec = json!({"kind": "nope", "start_ms": 0, "commit": "c", "subject": "s"});
        assert!(log(&spec).is_err());
        let spec = json!({"kind": "rspec", "commit": "c", "subject": "s"});
        assert!(log(&spec).is_err());
        let short = json!({"kind": "rspec", "start_ms": 0, "commit": "c", "subject": "s"});
        assert!(log(&short).is_ok(), "a short commit is not a panic");
    }
}
