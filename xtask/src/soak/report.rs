//! What the soak counts as it runs ([`Tally`]), and the final report:
//! the figures, the targets and whether each was met.

use std::collections::BTreeMap;
use std::time::Duration;

use super::calls::{Answer, ToolCall};
use super::causes::{Cause, named_cause};
use super::memory::{FLAT_TOLERANCE, Verdict};
use crate::bench_mcp::{mib, print_table, row};
use crate::fake_api::FaultCounts;

/// Most distinct texts a [`Listing`] keeps.
const MAX_LISTED: usize = 40;

/// Texts counted by how often each came, keeping at most [`MAX_LISTED`]
/// distinct ones (the rest are only counted).
#[derive(Debug, Default)]
pub struct Listing {
    counts: BTreeMap<String, u64>,
    /// Occurrences of texts not kept.
    others: u64,
}

impl Listing {
    fn add(&mut self, text: String) {
        if let Some(count) = self.counts.get_mut(&text) {
            *count += 1;
        } else if self.counts.len() < MAX_LISTED {
            self.counts.insert(text, 1);
        } else {
            self.others += 1;
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum::<u64>() + self.others
    }

    /// The texts, most frequent first, then a line for those not kept.
    fn lines(&self) -> Vec<String> {
        let mut kept: Vec<(&String, &u64)> = self.counts.iter().collect();
        kept.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let mut lines: Vec<String> = kept
            .into_iter()
            .map(|(text, count)| format!("{count:>7} × {text}"))
            .collect();
        if self.others > 0 {
            lines.push(format!(
                "{:>7} × (other texts, not kept: the list holds {MAX_LISTED})",
                self.others
            ));
        }
        lines
    }
}

/// Every call's outcome, counted.
#[derive(Debug, Default)]
pub struct Tally {
    pub calls: u64,
    pub succeeded: u64,
    /// Tool results with `isError`, and JSON-RPC errors.
    pub errors: u64,
    pub unanswered: u64,
    /// Errors by the cause they name: count and the first text.
    by_cause: BTreeMap<Cause, (u64, String)>,
    /// Errors that name no cause, as `tool: text`.
    pub uncaused: Listing,
    /// Why calls got no answer.
    unanswered_reasons: Listing,
    /// Calls and errors by tool.
    by_tool: BTreeMap<String, (u64, u64)>,
}

impl Tally {
    /// Counts one call's outcome.
    pub fn record(&mut self, call: &ToolCall, outcome: Result<Answer, String>) {
        self.calls += 1;
        let per_tool = self.by_tool.entry(call.tool.clone()).or_default();
        per_tool.0 += 1;
        let error = match outcome {
            Err(reason) => {
                self.unanswered += 1;
                self.unanswered_reasons
                    .add(format!("{}: {reason}", call.tool));
                return;
            }
            Ok(Answer::Result {
                is_error: false, ..
            }) => {
                self.succeeded += 1;
                return;
            }
            Ok(Answer::Result { text, .. }) => text,
            Ok(Answer::RpcError { code, message }) => format!("JSON-RPC error {code}: {message}"),
        };
        per_tool.1 += 1;
        self.errors += 1;
        match named_cause(&error) {
            Some(cause) => {
                let entry = self.by_cause.entry(cause).or_insert((0, error));
                entry.0 += 1;
            }
            None => self.uncaused.add(format!("{}: {error:?}", call.tool)),
        }
    }

    /// Counts a client task that failed (a bug of the soak itself).
    pub fn client_failed(&mut self, why: String) {
        self.unanswered += 1;
        self.unanswered_reasons.add(why);
    }
}

/// Everything the final report shows.
#[derive(Debug)]
pub struct Report<'a> {
    pub elapsed: Duration,
    pub clients: usize,
    pub tally: &'a Tally,
    pub warm_up: Duration,
    pub memory: Option<Verdict>,
    /// The server's stderr lines that say it panicked.
    pub panics: Vec<String>,
    pub alive: bool,
    pub server_cpu: Duration,
    pub api_requests: u64,
    pub faults: FaultCounts,
}

impl Report<'_> {
    /// The targets missed, each as a sentence; empty when all were met.
    pub fn missed(&self) -> Vec<String> {
        let t = self.tally;
        let mut missed = Vec::new();
        if !self.panics.is_empty() {
            missed.push(format!("{} panics", self.panics.len()));
        }
        if !self.alive {
            missed.push("the server was not running at the end".to_owned());
        }
        if t.unanswered > 0 {
            missed.push(format!("{} calls without an answer", t.unanswered));
        }
        if t.uncaused.total() > 0 {
            missed.push(format!("{} errors name no cause", t.uncaused.total()));
        }
        match &self.memory {
            Some(memory) if memory.flat() => {}
            Some(memory) => missed.push(format!(
                "RSS not flat: a sample {:.1}% from the mean after the warm-up",
                memory.deviation * 100.0
            )),
            None => missed.push("no RSS samples after the warm-up".to_owned()),
        }
        if t.calls == 0 {
            missed.push("no calls were made".to_owned());
        }
        missed
    }

    /// Prints the tables and lists.
    pub fn print(&self) {
        let t = self.tally;
        let seconds = self.elapsed.as_secs_f64().max(1e-9);
        let share = |n: u64| format!("{:.2}%", 100.0 * n as f64 / t.calls.max(1) as f64);
        let met = |ok: bool| if ok { "yes" } else { "NO" }.to_owned();
        let answered = t.calls - t.unanswered;
        let caused = t.errors - t.uncaused.total();
        let mut rows = vec![
            row(["figure", "result", "target", "met"]),
            row([
                "duration".to_owned(),
                format!("{:.0} s", seconds),
                String::new(),
                String::new(),
            ]),
            row([
                "clients".to_owned(),
                self.clients.to_string(),
                String::new(),
                String::new(),
            ]),
            row([
                "calls (calls/s)".to_owned(),
                format!("{} ({:.1}/s)", t.calls, t.calls as f64 / seconds),
                String::new(),
                String::new(),
            ]),
            row([
                "answered".to_owned(),
                format!("{answered} ({})", share(answered)),
                "100%".to_owned(),
                met(t.unanswered == 0),
            ]),
            row([
                "succeeded".to_owned(),
                format!("{} ({})", t.succeeded, share(t.succeeded)),
                String::new(),
                String::new(),
            ]),
            row([
                "tool errors".to_owned(),
                format!("{} ({})", t.errors, share(t.errors)),
                String::new(),
                String::new(),
            ]),
            row([
                "errors naming their cause".to_owned(),
                format!("{caused} of {}", t.errors),
                "all".to_owned(),
                met(t.uncaused.total() == 0),
            ]),
            row([
                "panics (server stderr)".to_owned(),
                self.panics.len().to_string(),
                "0".to_owned(),
                met(self.panics.is_empty()),
            ]),
            row([
                "server running at the end".to_owned(),
                met(self.alive).to_lowercase(),
                "yes".to_owned(),
                met(self.alive),
            ]),
        ];
        match &self.memory {
            Some(m) => {
                rows.push(row([
                    format!(
                        "RSS at the warm-up's end ({:.0} s)",
                        self.warm_up.as_secs_f64()
                    ),
                    mib(m.warm),
                    String::new(),
                    String::new(),
                ]));
                rows.push(row([
                    format!("RSS after it: min / mean / max ({} samples)", m.samples),
                    format!("{} / {} / {}", mib(m.min), mib(m.mean as u64), mib(m.max)),
                    String::new(),
                    String::new(),
                ]));
                rows.push(row([
                    "RSS after it: first → last".to_owned(),
                    format!("{} → {}", mib(m.first), mib(m.last)),
                    String::new(),
                    String::new(),
                ]));
                rows.push(row([
                    "RSS: largest distance from that mean".to_owned(),
                    format!("{:.1}%", m.deviation * 100.0),
                    format!("≤ {:.0}%", FLAT_TOLERANCE * 100.0),
                    met(m.flat()),
                ]));
            }
            None => rows.push(row([
                "RSS after the warm-up".to_owned(),
                "no samples".to_owned(),
                format!("±{:.0}%", FLAT_TOLERANCE * 100.0),
                "NO".to_owned(),
            ])),
        }
        rows.push(row([
            "server CPU time (share of one core)".to_owned(),
            format!(
                "{:.0} s ({:.0}%)",
                self.server_cpu.as_secs_f64(),
                100.0 * self.server_cpu.as_secs_f64() / seconds
            ),
            String::new(),
            String::new(),
        ]));
        let injected: u64 = self.faults.kinds.iter().map(|k| k.injected).sum();
        rows.push(row([
            "API requests (per call)".to_owned(),
            format!(
                "{} ({:.2})",
                self.api_requests,
                self.api_requests as f64 / t.calls.max(1) as f64
            ),
            String::new(),
            String::new(),
        ]));
        rows.push(row([
            "faults injected (of answers that drew)".to_owned(),
            format!(
                "{injected} of {} ({:.1}%)",
                self.faults.answers,
                percent(injected, self.faults.answers)
            ),
            String::new(),
            String::new(),
        ]));
        print_table(&rows);

        println!();
        println!("tool errors by the cause they name:");
        println!();
        let mut causes = vec![row(["cause", "errors"])];
        for (cause, (count, _)) in &t.by_cause {
            causes.push(row([cause.name().to_owned(), count.to_string()]));
        }
        if t.uncaused.total() > 0 {
            causes.push(row([
                "NONE (listed below)".to_owned(),
                t.uncaused.total().to_string(),
            ]));
        }
        print_table(&causes);
        println!();
        println!("the first error of each cause:");
        for (cause, (_, example)) in &t.by_cause {
            println!("  {}: {}", cause.name(), shorten(example, 600));
        }

        println!();
        println!(
            "faults by kind, of the {} API answers that drew one (a body fault is not injected into an answer without a JSON body):",
            self.faults.answers
        );
        println!();
        let mut faults = vec![row(["fault", "drawn", "injected", "injected %"])];
        for kind in &self.faults.kinds {
            faults.push(row([
                kind.fault.name().to_owned(),
                kind.drawn.to_string(),
                kind.injected.to_string(),
                format!("{:.2}%", percent(kind.injected, self.faults.answers)),
            ]));
        }
        print_table(&faults);

        println!();
        println!("calls and errors by tool:");
        let tools: Vec<String> = t
            .by_tool
            .iter()
            .map(|(tool, (calls, errors))| format!("{tool} {calls}/{errors}"))
            .collect();
        println!("  {}", tools.join(", "));

        for (title, listing) in [
            ("errors that name no cause", &t.uncaused),
            ("calls without an answer, by why", &t.unanswered_reasons),
        ] {
            if listing.total() > 0 {
                println!();
                println!("{title}:");
                for line in listing.lines() {
                    println!("{line}");
                }
            }
        }
        if !self.panics.is_empty() {
            println!();
            println!("panics in the server's stderr:");
            for line in self.panics.iter().take(20) {
                println!("  {line}");
            }
        }
    }
}

/// `part` as a percentage of `whole`.
fn percent(part: u64, whole: u64) -> f64 {
    100.0 * part as f64 / whole.max(1) as f64
}

/// At most `max` characters of `text`, marked when cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(tool: &str) -> ToolCall {
        ToolCall {
            tool: tool.to_owned(),
            arguments: json!({}),
        }
    }

    fn report(tally: &Tally) -> Report<'_> {
        Report {
            elapsed: Duration::from_secs(60),
            clients: 2,
            tally,
            warm_up: Duration::from_secs(30),
            memory: Some(Verdict {
                warm: 10,
                first: 10,
                last: 10,
                min: 10,
                max: 10,
                mean: 10.0,
                deviation: 0.0,
                samples: 3,
            }),
            panics: Vec::new(),
            alive: true,
            server_cpu: Duration::from_secs(1),
            api_requests: 10,
            faults: FaultCounts::default(),
        }
    }

    #[test]
    fn outcomes_are_counted_and_targets_judged() {
        let mut tally = Tally::default();
        tally.record(
            &call("get_build"),
            Ok(Answer::Result {
                is_error: false,
                text: "{}".into(),
            }),
        );
        tally.record(
            &call("get_build"),
            Ok(Answer::Result {
                is_error: true,
                text: "Could not get the build: GET /x: 503 Service Unavailable: down.".into(),
            }),
        );
        assert_eq!((tally.calls, tally.succeeded, tally.errors), (2, 1, 1));
        assert!(report(&tally).missed().is_empty());

        tally.record(
            &call("tail_logs"),
            Ok(Answer::Result {
                is_error: true,
                text: String::new(),
            }),
        );
        tally.record(&call("tail_logs"), Err("no answer within 30 s".into()));
        let missed = report(&tally).missed();
        assert_eq!(
            missed,
            ["1 calls without an answer", "1 errors name no cause"],
            "{missed:?}"
        );
        assert_eq!(tally.uncaused.lines(), ["      1 × tail_logs: \"\""]);
        assert_eq!(tally.by_tool["tail_logs"], (2, 1));
    }

    #[test]
    fn a_listing_keeps_a_bounded_number_of_texts() {
        let mut listing = Listing::default();
        for n in 0..MAX_LISTED + 5 {
            listing.add(format!("text {n}"));
        }
        listing.add("text 0".to_owned());
        assert_eq!(listing.total(), MAX_LISTED as u64 + 6);
        let lines = listing.lines();
        assert_eq!(lines.len(), MAX_LISTED + 1);
        assert!(lines[0].ends_with("× text 0"), "{}", lines[0]);
        assert!(lines[MAX_LISTED].contains("not kept"));
    }
}
