//! Embeds the `bk-tools` tools in an agent loop of your own, without MCP:
//! export their schemas in the format of your model's API, dispatch the tool
//! calls the model makes, and hand the results back.
//!
//! ```sh
//! # The tool list for a model API (all tools; --read-only for the safe ones).
//! cargo run --example custom_agent -- --export anthropic
//! cargo run --example custom_agent -- --export openai --strict
//!
//! # A scripted agent loop (no model, no network: the demo recording).
//! cargo run --example custom_agent
//! cargo run --example custom_agent -- --provider openai --strict --full
//!
//! # The same loop on the live API.
//! BUILDKITE_API_TOKEN=bkua_… cargo run --example custom_agent -- --build my-org/my-pipeline/4242
//! ```
//!
//! The "model" here is a script that makes the calls a model would: first
//! `get_build_failure_summary`, then `tail_logs` on the first failing job it
//! read about, then a final answer. Swap `ScriptedModel` for a request to
//! your model's API, with the exported tools and the transcript.
//!
//! With `--provider openai --strict` the tools are offered in OpenAI's
//! strict mode, where the model must send every property, `null` for those
//! it does not mean to give; the scripted model does the same, and the
//! dispatch drops the `null`s before the tool sees them.

use std::process::ExitCode;

use bk_examples::demo::{self, Mode};
use bk_examples::schemas::{self, Provider};
use bk_examples::text::truncate;
use bk_tools::{Registry, Selection, ToolContext};
use serde_json::{Value, json};

const USAGE: &str = "usage: custom_agent [--provider openai|anthropic] [--strict] [--build ORG/PIPELINE/NUMBER] [--full]
       custom_agent --export openai|anthropic [--strict] [--read-only]
Without BUILDKITE_API_TOKEN the loop replays the bundled demo recording (acme/web/1234).";

/// What the command line asked for.
#[derive(Debug)]
struct Options {
    export: Option<Provider>,
    provider: Provider,
    strict: bool,
    read_only: bool,
    full: bool,
    target: Option<(String, String, String)>,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        export: None,
        provider: Provider::Anthropic,
        strict: false,
        read_only: false,
        full: false,
        target: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| args.next().ok_or(format!("{flag} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Err(String::new()),
            "--export" => options.export = Some(value("--export")?.parse()?),
            "--provider" => options.provider = value("--provider")?.parse()?,
            "--strict" => options.strict = true,
            "--read-only" => options.read_only = true,
            "--full" => options.full = true,
            "--build" => {
                let text = value("--build")?;
                let parts: Vec<&str> = text.split('/').collect();
                let [org, pipeline, number] = parts.as_slice() else {
                    return Err(format!("--build: {text:?} is not ORG/PIPELINE/NUMBER"));
                };
                options.target = Some((
                    (*org).to_owned(),
                    (*pipeline).to_owned(),
                    number.trim_start_matches('#').to_owned(),
                ));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let registry = Registry::new();
    let selection = Selection {
        read_only: options.read_only,
        ..Selection::all()
    };
    if let Some(provider) = options.export {
        return export(&registry, &selection, provider, options.strict);
    }
    let (client, mode) = match demo::client_from_env() {
        Ok(found) => found,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run_loop(&registry, &options, client, mode).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the whole tool list in `provider`'s format.
fn export(
    registry: &Registry,
    selection: &Selection,
    provider: Provider,
    strict: bool,
) -> ExitCode {
    let listed = registry.list(selection);
    let tools = schemas::export(provider, &listed, strict);
    match serde_json::to_string_pretty(&tools) {
        Ok(text) => println!("{text}"),
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    if provider == Provider::OpenAi && strict {
        let loose = schemas::non_strict_tools(&listed);
        if !loose.is_empty() {
            eprintln!(
                "note: {} of {} tools take free-form maps, which strict mode cannot express; they are exported with \"strict\": false: {}",
                loose.len(),
                listed.len(),
                loose.join(", ")
            );
        }
    }
    ExitCode::SUCCESS
}

/// Plays the scripted conversation and gives its transcript.
async fn run_loop(
    registry: &Registry,
    options: &Options,
    client: buildkite_api::Client,
    mode: Mode,
) -> Result<Vec<Value>, String> {
    let target = match (&options.target, &mode) {
        (Some(target), _) => target.clone(),
        (None, Mode::Demo) => (
            demo::DEMO_ORG.to_owned(),
            demo::DEMO_PIPELINE.to_owned(),
            demo::DEMO_BUILD.to_string(),
        ),
        (None, Mode::Live) => {
            return Err(
                "with BUILDKITE_API_TOKEN set, say which build: --build ORG/PIPELINE/NUMBER".into(),
            );
        }
    };
    // The log engine caches logs on disk; a temporary directory will do.
    let (logs, _cache_dir) = demo::temporary_log_engine().map_err(|e| e.to_string())?;
    let ctx = ToolContext::new(client, logs);
    // An agent that investigates needs no tool that changes anything.
    let selection = Selection {
        read_only: true,
        ..Selection::all()
    };
    let provider = options.provider;
    let strict = options.strict && provider == Provider::OpenAi;
    let tools = schemas::export(provider, &registry.list(&selection), strict);
    let size = serde_json::to_string(&tools).map_or(0, |text| text.len());
    match mode {
        Mode::Demo => println!("(replaying the demo recording: no token, no network)"),
        Mode::Live => println!("(live API: {})", ctx.client.base_url()),
    }
    println!(
        "Offering the model {} read-only tools in the {provider} format{} ({size} bytes of JSON).\n",
        tools.len(),
        if strict { ", strict mode" } else { "" }
    );

    let (org, pipeline, number) = target;
    let question = format!("Why did build {org}/{pipeline}#{number} fail?");
    let mut transcript = vec![json!({"role": "user", "content": question})];
    println!("user: {question}\n");
    let mut model = ScriptedModel::new(provider, &org, &pipeline, &number);
    if strict {
        model.strict_tools = tools;
    }
    for turn in 1.. {
        let message = model.next_turn(&transcript);
        let calls = schemas::tool_calls(provider, &message)?;
        println!("── model turn {turn}");
        println!("{}", pretty(&message));
        transcript.push(message);
        if calls.is_empty() {
            break;
        }
        for call in &calls {
            let result = registry
                .call(&selection, &ctx, &call.name, call.arguments.clone())
                .await;
            let reply = schemas::tool_result_message(provider, call, &result);
            println!(
                "── tool {} -> {}{}",
                call.name,
                if result.is_error { "error" } else { "ok" },
                if result.unauthorized {
                    " (the token was refused)"
                } else {
                    ""
                }
            );
            println!("{}", pretty(&shortened(&reply, options.full)));
            transcript.push(reply);
        }
    }
    Ok(transcript)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The message with long tool results cut, for the terminal (the model gets
/// them whole).
fn shortened(message: &Value, full: bool) -> Value {
    let mut message = message.clone();
    if full {
        return message;
    }
    let cut = |text: &mut Value| {
        if let Some(content) = text.as_str()
            && content.chars().count() > 1200
        {
            *text = json!(format!(
                "{} [{} bytes in all; --full prints everything]",
                truncate(content, 1200),
                content.len()
            ));
        }
    };
    match message.get_mut("content") {
        Some(Value::Array(blocks)) => {
            for block in blocks {
                if let Some(content) = block.get_mut("content") {
                    cut(content);
                }
            }
        }
        Some(content) => cut(content),
        None => {}
    }
    message
}

/// Stands in for a model: the calls a model investigating a red build
/// makes, in the provider's message format.
struct ScriptedModel {
    provider: Provider,
    org: String,
    pipeline: String,
    number: String,
    turn: usize,
    /// The tools as offered in OpenAI's strict mode (empty otherwise): a
    /// strict model sends every property, `null` for those it leaves out.
    strict_tools: Vec<Value>,
}

impl ScriptedModel {
    fn new(provider: Provider, org: &str, pipeline: &str, number: &str) -> Self {
        ScriptedModel {
            provider,
            org: org.to_owned(),
            pipeline: pipeline.to_owned(),
            number: number.to_owned(),
            turn: 0,
            strict_tools: Vec::new(),
        }
    }

    /// The next assistant message, given the transcript so far.
    fn next_turn(&mut self, transcript: &[Value]) -> Value {
        self.turn += 1;
        let build = json!({
            "org_slug": self.org,
            "pipeline_slug": self.pipeline,
            "build_number": self.number,
        });
        match self.turn {
            1 => self.call("get_build_failure_summary", build),
            2 => match first_failing_job(self.provider, transcript) {
                Some((job_id, label)) => {
                    let mut arguments = build;
                    arguments["job_id"] = json!(job_id);
                    arguments["tail"] = json!(30);
                    self.say_and_call(
                        &format!(
                            "The summary points at {label:?}; let me read the end of its log."
                        ),
                        "tail_logs",
                        arguments,
                    )
                }
                None => self.answer("I could not find a failing job in the summary."),
            },
            _ => {
                let jobs = failing_jobs(self.provider, transcript);
                self.answer(&format!(
                    "Build #{} failed in {} job(s): {}. The log tail above shows the first one's error.",
                    self.number,
                    jobs.len(),
                    jobs.join(", ")
                ))
            }
        }
    }

    fn call(&self, name: &str, arguments: Value) -> Value {
        self.say_and_call("", name, arguments)
    }

    fn say_and_call(&self, text: &str, name: &str, mut arguments: Value) -> Value {
        let id = format!("call_{}", self.turn);
        let strict = self
            .strict_tools
            .iter()
            .find(|tool| tool["function"]["name"] == name && tool["function"]["strict"] == true);
        if let (Some(tool), Some(given)) = (strict, arguments.as_object_mut()) {
            for property in tool["function"]["parameters"]["properties"]
                .as_object()
                .into_iter()
                .flat_map(|properties| properties.keys())
            {
                given.entry(property.clone()).or_insert(Value::Null);
            }
        }
        match self.provider {
            Provider::OpenAi => json!({
                "role": "assistant",
                "content": if text.is_empty() { Value::Null } else { json!(text) },
                "tool_calls": [{
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": arguments.to_string()},
                }],
            }),
            Provider::Anthropic => {
                let mut content = Vec::new();
                if !text.is_empty() {
                    content.push(json!({"type": "text", "text": text}));
                }
                content.push(json!({
                    "type": "tool_use",
                    "id": format!("toolu_{}", self.turn),
                    "name": name,
                    "input": arguments,
                }));
                json!({"role": "assistant", "content": content})
            }
        }
    }

    fn answer(&self, text: &str) -> Value {
        match self.provider {
            Provider::OpenAi => json!({"role": "assistant", "content": text}),
            Provider::Anthropic => {
                json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
            }
        }
    }
}

/// The parsed JSON of the first tool result in the transcript.
fn first_result(provider: Provider, transcript: &[Value]) -> Option<Value> {
    let text = transcript.iter().find_map(|message| match provider {
        Provider::OpenAi => (message["role"] == "tool")
            .then(|| message["content"].as_str())
            .flatten(),
        Provider::Anthropic => message["content"]
            .as_array()?
            .iter()
            .find(|block| block["type"] == "tool_result")?["content"]
            .as_str(),
    })?;
    serde_json::from_str(text).ok()
}

/// The failing jobs of the failure summary, in its priority order:
/// `(id, name, whether it has a log excerpt)`.
fn summary_jobs(provider: Provider, transcript: &[Value]) -> Vec<(String, String, bool)> {
    let Some(summary) = first_result(provider, transcript) else {
        return Vec::new();
    };
    summary["jobs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|job| {
            let id = job["id"].as_str()?;
            let name = job["name"].as_str().unwrap_or(id);
            let has_log = job.get("log").is_some() || job.get("log_tail").is_some();
            Some((id.to_owned(), name.to_owned(), has_log))
        })
        .collect()
}

/// The first failing job with a log: the one to read further.
fn first_failing_job(provider: Provider, transcript: &[Value]) -> Option<(String, String)> {
    summary_jobs(provider, transcript)
        .into_iter()
        .find(|(_, _, has_log)| *has_log)
        .map(|(id, name, _)| (id, name))
}

fn failing_jobs(provider: Provider, transcript: &[Value]) -> Vec<String> {
    summary_jobs(provider, transcript)
        .into_iter()
        .map(|(_, name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(provider: Provider, strict: bool) -> Options {
        Options {
            export: None,
            provider,
            strict,
            read_only: false,
            full: false,
            target: None,
        }
    }

    /// The tool results of a transcript, whichever the provider.
    fn results(transcript: &[Value]) -> Vec<&Value> {
        transcript
            .iter()
            .filter_map(|message| match message["role"].as_str() {
                Some("tool") => Some(message),
                Some("user") => message["content"]
                    .as_array()
                    .and_then(|blocks| blocks.iter().find(|b| b["type"] == "tool_result")),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn the_scripted_loop_runs_on_the_demo_recording() {
        let registry = Registry::new();
        for (provider, strict) in [
            (Provider::Anthropic, false),
            (Provider::OpenAi, false),
            (Provider::OpenAi, true),
        ] {
            let client = demo::demo_client().expect("the demo recording loads");
            let transcript = run_loop(&registry, &options(provider, strict), client, Mode::Demo)
                .await
                .expect("the loop runs");
            let results = results(&transcript);
            assert_eq!(results.len(), 2, "{provider}: summary, then a log tail");
            for result in &results {
                assert_ne!(result["is_error"], true, "{provider}: {result}");
                let text = result["content"].as_str().expect("text content");
                let parsed: Value = serde_json::from_str(text).expect("JSON results");
                assert!(parsed.is_object(), "{provider}: {text}");
            }
            let last = transcript.last().expect("a final answer");
            assert!(
                last.to_string().contains(":rspec: RSpec"),
                "{provider}: {last}"
            );
        }
    }
}
