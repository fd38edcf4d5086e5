//! Fuzzes the stdio framing (`bk_mcp::stdio::LineTransport`), driven as
//! rmcp drives it, over in-memory pipes on one current-thread runtime.
//!
//! Bytes in, and the transport must never panic and never go silent:
//! - a line that is blank gets nothing;
//! - a notification (an object with a string `method` and no `id`) gets
//!   no answer line; it may come out of `receive()` as a notification;
//! - every other line gets exactly one thing: a message from `receive()`,
//!   or one answer line: a JSON-RPC 2.0 error with a code and a message,
//!   `-32700` with a null id when the line is not JSON, and the line's own
//!   id when it has a usable one (a string, or an integer);
//! - an answer never echoes the line's longer strings;
//! - input ends once, after the last line (one without a newline counts).
//!
//! The first byte picks the reader's buffer size (so lines span reads) and
//! the mode: lines fed one at a time (whole, in two pieces, or byte by
//! byte, checking nothing comes out before the newline), each answer told
//! apart by a marker the test sends after it; or everything at once, with
//! the totals checked.

#![no_main]

use std::future::Future;
use std::sync::OnceLock;
use std::task::Poll;

use bk_mcp::stdio::LineTransport;
use libfuzzer_sys::fuzz_target;
use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// What a line must produce, judged from the line alone.
#[derive(Debug)]
enum Expect {
    /// Blank: nothing.
    Nothing,
    /// A notification: no answer line.
    NoAnswer,
    /// Anything else: one message or one answer line.
    One,
}

/// The line as the framing reads it: one trailing `\r` and a leading
/// byte-order mark are not part of the message.
fn payload(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line)
}

fn parsed(line: &[u8]) -> Option<Value> {
    serde_json::from_slice(payload(line)).ok()
}

fn expect(line: &[u8]) -> Expect {
    if payload(line).iter().all(u8::is_ascii_whitespace) {
        return Expect::Nothing;
    }
    match parsed(line) {
        Some(Value::Object(object))
            if object.get("method").is_some_and(Value::is_string) && !object.contains_key("id") =>
        {
            Expect::NoAnswer
        }
        _ => Expect::One,
    }
}

/// The id an answer must carry: the line's, when it is usable.
fn usable_id(line: &[u8]) -> Option<Value> {
    match parsed(line)?.get("id")? {
        id @ Value::String(_) => Some(id.clone()),
        id @ Value::Number(n) if n.as_i64().is_some() => Some(id.clone()),
        _ => None,
    }
}

/// Strings in `value` long enough that an answer containing one echoes
/// the line (the `jsonrpc`, `id` and `method` members excepted).
fn long_strings(value: &Value, top: bool, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.len() >= 24 => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| long_strings(v, false, out)),
        Value::Object(object) => {
            for (key, value) in object {
                if top && matches!(key.as_str(), "jsonrpc" | "id" | "method") {
                    continue;
                }
                if key.len() >= 24 {
                    out.push(key.clone());
                }
                long_strings(value, false, out);
            }
        }
        _ => {}
    }
}

fn check_answer(line: &[u8], answer: &str) {
    let value: Value = serde_json::from_str(answer).expect("an answer is JSON");
    assert_eq!(value["jsonrpc"], "2.0", "{answer}");
    let error = &value["error"];
    let code = error["code"].as_i64().expect("an error code");
    let message = error["message"].as_str().expect("an error message");
    assert!(!message.is_empty(), "{answer}");
    assert!(
        value.as_object().is_some_and(|o| o.contains_key("id")),
        "an answer without an id: {answer}"
    );
    let parsed = parsed(line);
    if parsed.is_none() {
        assert_eq!(code, i64::from(ErrorCode::PARSE_ERROR.0), "{answer}");
        assert!(value["id"].is_null(), "{answer}");
    }
    match usable_id(line) {
        Some(id) if parsed.as_ref().is_some_and(Value::is_object) => {
            assert_eq!(value["id"], id, "{answer}")
        }
        _ => assert!(
            value["id"].is_null(),
            "an id the line did not have: {answer}"
        ),
    }
    let mut strings = Vec::new();
    if let Some(parsed) = &parsed {
        long_strings(parsed, true, &mut strings);
    }
    // A string is echoed only if the answer has it beyond the server's own
    // wording (an input may happen to quote that wording).
    let own_wording = [
        "Invalid request: not a JSON-RPC 2.0 message",
        "Invalid request: batches are not part of MCP; send one message per line",
        "Invalid request: the line is longer than",
        "Parse error: the line is not JSON",
        "Parse error: the line is not valid UTF-8",
        "unrecognized JSON-RPC message",
    ];
    let mut rest = message.to_owned();
    for wording in own_wording {
        rest = rest.replace(wording, " ");
    }
    for s in strings {
        assert!(!rest.contains(&s), "the answer echoes {s:?}: {answer}");
    }
}

fn check_message(line: &[u8], message: &ClientJsonRpcMessage) {
    let is_notification = matches!(message, ClientJsonRpcMessage::Notification(_));
    assert_eq!(
        is_notification,
        matches!(expect(line), Expect::NoAnswer),
        "{message:?} from {:?}",
        String::from_utf8_lossy(line)
    );
    if let ClientJsonRpcMessage::Request(request) = message {
        let id = serde_json::to_value(&request.id).expect("an id serialises");
        // rmcp also takes an integral number written with an exponent
        // (`2803e8`) as a numeric id; the model reads only plain integers.
        if let Some(expected) = usable_id(line) {
            assert_eq!(id, expected, "{message:?}");
        }
    }
}

/// Polls `future` once, outside tokio's cooperative budget (a budget spent
/// mid-line would look like a line that produced nothing).
async fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    let mut future = std::pin::pin!(tokio::task::unconstrained(future));
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// What the test sends after a line: the answers written before it are
/// that line's.
fn marker() -> ServerJsonRpcMessage {
    ServerJsonRpcMessage::error(ErrorData::new(ErrorCode(-1), "fuzz marker", None), None)
}

struct Harness {
    transport: LineTransport<BufReader<DuplexStream>>,
    feed: Option<DuplexStream>,
    answers: BufReader<DuplexStream>,
    marker: String,
}

impl Harness {
    fn new(input: &[u8], capacity: usize) -> Harness {
        let (feed, input_side) = tokio::io::duplex(input.len() + 64);
        let (output, answers) = tokio::io::duplex((1 << 20) + 4 * input.len());
        let reader = BufReader::with_capacity(capacity, input_side);
        Harness {
            transport: LineTransport::new(reader, output),
            feed: Some(feed),
            answers: BufReader::new(answers),
            marker: serde_json::to_string(&marker()).expect("the marker serialises"),
        }
    }

    async fn write(&mut self, bytes: &[u8]) {
        let feed = self.feed.as_mut().expect("the feed is open");
        feed.write_all(bytes).await.expect("the pipe has room");
    }

    /// The answer lines written since the last call: everything before the
    /// marker this sends through the transport's own queue.
    async fn answers(&mut self) -> Vec<String> {
        <LineTransport<_> as Transport<RoleServer>>::send(&mut self.transport, marker())
            .await
            .expect("the transport takes the marker");
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            let read = self
                .answers
                .read_line(&mut line)
                .await
                .expect("answers are UTF-8");
            assert!(read > 0, "the writer ended before the marker");
            let line = line.strip_suffix('\n').expect("answers end with a newline");
            if line == self.marker {
                return lines;
            }
            lines.push(line.to_owned());
        }
    }

    /// Feeds one line (with its newline) in pieces, and checks what came of it.
    async fn line(&mut self, line: &[u8], pieces: usize) {
        let mut rest = line;
        for _ in 1..pieces.min(line.len() + 1) {
            let (piece, after) = rest.split_at(rest.len().min(line.len() / pieces + 1));
            self.write(piece).await;
            rest = after;
            let polled = poll_once(self.transport.receive()).await;
            assert!(
                polled.is_pending(),
                "a message before its newline: {polled:?}"
            );
        }
        self.write(rest).await;
        self.write(b"\n").await;
        let message = match poll_once(self.transport.receive()).await {
            Poll::Ready(Some(message)) => Some(message),
            Poll::Ready(None) => panic!("input ended while open"),
            Poll::Pending => None,
        };
        let answers = self.answers().await;
        judge(line, message.as_ref(), &answers);
    }

    /// Ends input after `last` (a line without a newline, maybe empty).
    async fn end(mut self, last: &[u8]) {
        self.write(last).await;
        drop(self.feed.take());
        let message = self.transport.receive().await;
        if message.is_some() {
            assert!(self.transport.receive().await.is_none(), "input ends once");
        }
        let answers = self.answers().await;
        if last.is_empty() {
            assert!(
                message.is_none() && answers.is_empty(),
                "{message:?} {answers:?}"
            );
        } else {
            judge(last, message.as_ref(), &answers);
        }
        let _ = self.transport.close().await;
    }
}

fn judge(line: &[u8], message: Option<&ClientJsonRpcMessage>, answers: &[String]) {
    let shown = String::from_utf8_lossy(line);
    match expect(line) {
        Expect::Nothing => assert!(
            message.is_none() && answers.is_empty(),
            "{shown:?} is blank, yet: {message:?} {answers:?}"
        ),
        Expect::NoAnswer => assert!(
            answers.is_empty(),
            "{shown:?} is a notification: {answers:?}"
        ),
        Expect::One => assert_eq!(
            usize::from(message.is_some()) + answers.len(),
            1,
            "{shown:?} must get one message or one answer: {message:?} {answers:?}"
        ),
    }
    if let Some(message) = message {
        check_message(line, message);
    }
    for answer in answers {
        check_answer(line, answer);
    }
}

async fn one_line_at_a_time(input: &[u8], capacity: usize, pieces: usize) {
    let mut harness = Harness::new(input, capacity);
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let last = lines.pop().unwrap_or_default();
    for line in lines {
        harness.line(line, pieces).await;
    }
    harness.end(last).await;
}

/// Everything at once: the totals.
async fn all_at_once(input: &[u8], capacity: usize) {
    let mut harness = Harness::new(input, capacity);
    harness.write(input).await;
    drop(harness.feed.take());
    let Harness {
        mut transport,
        mut answers,
        ..
    } = harness;
    let receiving = async {
        let mut messages = Vec::new();
        while let Some(message) = transport.receive().await {
            messages.push(message);
        }
        let _ = transport.close().await;
        messages
    };
    let reading = async {
        let mut written = String::new();
        answers
            .read_to_string(&mut written)
            .await
            .expect("answers are UTF-8");
        written
    };
    let (messages, written) = tokio::join!(receiving, reading);
    let (mut must, mut may) = (0, 0);
    for line in input.split(|&b| b == b'\n') {
        match expect(line) {
            Expect::Nothing => {}
            Expect::NoAnswer => may += 1,
            Expect::One => must += 1,
        }
    }
    let notifications = messages
        .iter()
        .filter(|m| matches!(m, ClientJsonRpcMessage::Notification(_)))
        .count();
    let answered = written.lines().count();
    assert!(
        notifications <= may,
        "{notifications} notifications from {may} lines"
    );
    assert_eq!(
        messages.len() - notifications + answered,
        must,
        "{} messages and {answered} answers for {must} lines: {written}",
        messages.len()
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, input)) = data.split_first() else {
        return;
    };
    let capacity = 1 + usize::from(knobs & 0x3f);
    runtime().block_on(async {
        match knobs >> 6 {
            0 => one_line_at_a_time(input, capacity, 1).await,
            1 => one_line_at_a_time(input, capacity, 2).await,
            2 => one_line_at_a_time(input, capacity, usize::MAX).await,
            _ => all_at_once(input, capacity).await,
        }
    });
});
