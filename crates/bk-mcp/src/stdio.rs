//! MCP's stdio framing: one JSON-RPC message per line, and an answer for
//! every line that cannot be one.
//!
//! rmcp's own stdio transport drops a line that is not JSON without a word.
//! JSON-RPC 2.0 asks for a `-32700` parse error (with a null id), and a
//! client that sent a request on such a line would otherwise wait for it
//! forever. This transport answers:
//! - a line that is not UTF-8 or not JSON: `-32700`, id null;
//! - a batch (MCP has none since 2025-06-18), or JSON that is not a
//!   message: `-32600`, with the request's id when it has one;
//! - a line longer than [`MAX_LINE_BYTES`]: `-32600`, id null (it is
//!   skipped unread, so its id is unknown).
//!
//! An unknown notification is ignored, as JSON-RPC says. Answers never echo
//! the line; they name the byte or column where it went wrong.
//!
//! Every outgoing message goes through one writer task, so an answer written
//! here can never interleave with one rmcp sends.

use std::io;

use rmcp::RoleServer;
use rmcp::model::{ClientJsonRpcMessage, ErrorCode, ErrorData, ServerJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::json;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::malformed::parse_message;

/// The longest line read: longer lines are skipped and answered `-32600`.
/// Tool arguments are small; 4 MiB leaves room for any real request.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// Messages queued for stdout before a sender waits.
const OUTGOING_QUEUE: usize = 64;

/// One line to write: a message from rmcp, or an answer made here.
#[derive(Debug)]
enum Outgoing {
    Message(Box<ServerJsonRpcMessage>),
    /// A JSON-RPC error with a null id, which rmcp's types cannot express
    /// (they omit the id instead).
    NullIdError {
        code: i32,
        message: String,
    },
}

/// What one input line turned out to be.
#[derive(Debug)]
enum Incoming {
    Message(Box<ClientJsonRpcMessage>),
    Answer(Outgoing),
    Ignore,
}

/// The stdio transport: reads lines from `input`, writes lines to `output`.
pub struct LineTransport<R> {
    input: R,
    /// The line being read; kept across cancelled reads (rmcp polls
    /// `receive` inside `select!`), so no partial line is lost.
    line: Vec<u8>,
    /// Inside a line longer than [`MAX_LINE_BYTES`], skipping to its end.
    skipping: bool,
    /// An answer to write before reading on.
    pending: Option<Outgoing>,
    outgoing: Option<mpsc::Sender<Outgoing>>,
    writer: Option<JoinHandle<()>>,
}

impl<R> std::fmt::Debug for LineTransport<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineTransport")
            .field("buffered", &self.line.len())
            .field("skipping", &self.skipping)
            .field("closed", &self.outgoing.is_none())
            .finish_non_exhaustive()
    }
}

impl<R: AsyncBufRead + Unpin + Send> LineTransport<R> {
    /// A transport over `input` and `output`. Call inside a tokio runtime:
    /// it starts the writer task.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn new<W: AsyncWrite + Unpin + Send + 'static>(input: R, output: W) -> Self {
        let (outgoing, queue) = mpsc::channel(OUTGOING_QUEUE);
        Self {
            input,
            line: Vec::new(),
            skipping: false,
            pending: None,
            outgoing: Some(outgoing),
            writer: Some(tokio::spawn(write_lines(queue, output))),
        }
    }

    /// The next whole line, without its `\n`, or why there is none.
    /// Cancel-safe: bytes taken from the reader are kept in `self.line`.
    async fn next_line(&mut self) -> io::Result<Option<LineRead>> {
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                // End of input: a last line without a newline still counts.
                if self.skipping {
                    self.skipping = false;
                    return Ok(Some(LineRead::TooLong));
                }
                if self.line.is_empty() {
                    return Ok(None);
                }
                return Ok(Some(LineRead::Line(std::mem::take(&mut self.line))));
            }
            let newline = available.iter().position(|&b| b == b'\n');
            let take = newline.unwrap_or(available.len());
            if !self.skipping {
                if self.line.len() + take > MAX_LINE_BYTES {
                    self.skipping = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(&available[..take]);
                }
            }
            let consumed = newline.map_or(take, |at| at + 1);
            self.input.consume(consumed);
            if newline.is_some() {
                if std::mem::take(&mut self.skipping) {
                    return Ok(Some(LineRead::TooLong));
                }
                return Ok(Some(LineRead::Line(std::mem::take(&mut self.line))));
            }
        }
    }
}

/// A line read, or the note that one was too long to read.
enum LineRead {
    Line(Vec<u8>),
    TooLong,
}

/// Writes each queued message as one line, flushing after each.
async fn write_lines<W: AsyncWrite + Unpin>(mut queue: mpsc::Receiver<Outgoing>, mut output: W) {
    while let Some(item) = queue.recv().await {
        let mut line = match &item {
            Outgoing::Message(message) => match serde_json::to_vec(message) {
                Ok(line) => line,
                Err(error) => {
                    tracing::error!(%error, "an outgoing message could not be serialised");
                    continue;
                }
            },
            Outgoing::NullIdError { code, message } => json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": {"code": code, "message": message},
            })
            .to_string()
            .into_bytes(),
        };
        line.push(b'\n');
        if let Err(error) = async {
            output.write_all(&line).await?;
            output.flush().await
        }
        .await
        {
            tracing::debug!(%error, "stdout closed; no more messages are written");
            return;
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the stdio transport is closed")
}

impl<R: AsyncBufRead + Unpin + Send> Transport<RoleServer> for LineTransport<R> {
    type Error = io::Error;

    fn send(
        &mut self,
        item: ServerJsonRpcMessage,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let outgoing = self.outgoing.clone();
        async move {
            let outgoing = outgoing.ok_or_else(closed)?;
            outgoing
                .send(Outgoing::Message(Box::new(item)))
                .await
                .map_err(|_| closed())
        }
    }

    async fn receive(&mut self) -> Option<ClientJsonRpcMessage> {
        loop {
            if self.pending.is_some() {
                // Reserve first, so a cancelled wait loses nothing.
                let permit = self.outgoing.as_ref()?.reserve().await.ok()?;
                if let Some(answer) = self.pending.take() {
                    permit.send(answer);
                }
            }
            let incoming = match self.next_line().await {
                Ok(Some(LineRead::Line(line))) => classify(&line),
                Ok(Some(LineRead::TooLong)) => {
                    tracing::warn!(limit = MAX_LINE_BYTES, "skipped an over-long stdin line");
                    Incoming::Answer(Outgoing::NullIdError {
                        code: ErrorCode::INVALID_REQUEST.0,
                        message: format!(
                            "Invalid request: the line is longer than {MAX_LINE_BYTES} bytes and was skipped"
                        ),
                    })
                }
                Ok(None) => return None,
                Err(error) => {
                    tracing::error!(%error, "reading stdin failed");
                    return None;
                }
            };
            match incoming {
                Incoming::Message(message) => return Some(*message),
                Incoming::Answer(answer) => self.pending = Some(answer),
                Incoming::Ignore => {}
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        // Dropping the last sender ends the writer once the queue is written.
        drop(self.outgoing.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.await;
        }
        Ok(())
    }
}

/// What a line is, and the answer it needs if it is not a message.
fn classify(line: &[u8]) -> Incoming {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return Incoming::Ignore;
    }
    match parse_message(line, "line") {
        Ok(message) => Incoming::Message(Box::new(message)),
        // A notification the server doesn't know: JSON-RPC says no answer.
        Err(refused) if refused.is_notification => {
            tracing::debug!("ignored a notification that is not a valid message");
            Incoming::Ignore
        }
        Err(refused) => Incoming::Answer(match refused.id {
            Some(id) => Outgoing::Message(Box::new(ServerJsonRpcMessage::error(
                ErrorData::new(refused.code, refused.message, None),
                Some(id),
            ))),
            None => Outgoing::NullIdError {
                code: refused.code.0,
                message: refused.message,
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn answer(line: &[u8]) -> Value {
        match classify(line) {
            Incoming::Answer(Outgoing::NullIdError { code, message }) => {
                json!({"id": null, "code": code, "message": message})
            }
            Incoming::Answer(Outgoing::Message(message)) => {
                let v = serde_json::to_value(&message).unwrap();
                json!({"id": v["id"], "code": v["error"]["code"], "message": v["error"]["message"]})
            }
            other => panic!("expected an answer, got {other:?}"),
        }
    }

    #[test]
    fn a_line_that_is_not_json_is_a_parse_error_with_a_null_id() {
        let a = answer(b"{\"jsonrpc\": \"2.0\", \"id\": 1, ");
        assert_eq!(a["code"], -32700, "{a}");
        assert_eq!(a["id"], Value::Null);
        assert!(a["message"].as_str().unwrap().contains("not JSON"), "{a}");
    }

    #[test]
    fn invalid_utf8_is_a_parse_error_naming_the_byte() {
        let a = answer(b"{\"id\": 1, \"x\": \"\xff\"}");
        assert_eq!(a["code"], -32700, "{a}");
        assert!(a["message"].as_str().unwrap().contains("byte 16"), "{a}");
    }

    #[test]
    fn json_that_is_not_a_message_is_an_invalid_request_with_its_id() {
        let a = answer(br#"{"jsonrpc": "2.0", "id": 7, "params": {}}"#);
        assert_eq!(a["code"], -32600, "{a}");
        assert_eq!(a["id"], 7, "{a}");
        let a = answer(br#"[{"jsonrpc": "2.0", "id": 1, "method": "ping"}]"#);
        assert_eq!(a["code"], -32600, "{a}");
        assert!(a["message"].as_str().unwrap().contains("batches"), "{a}");
    }

    #[test]
    fn answers_never_echo_the_line() {
        let secret = "bkua_0123456789abcdef";
        let a = answer(format!("{{\"token\": \"{secret}\" oops").as_bytes());
        assert!(!a.to_string().contains(secret), "{a}");
    }

    #[test]
    fn blank_lines_and_unknown_notifications_are_ignored() {
        assert!(matches!(classify(b"  \r"), Incoming::Ignore));
        // No answer to a notification, known or not.
        assert!(!matches!(
            classify(br#"{"jsonrpc": "2.0", "method": "$/lsp-thing"}"#),
            Incoming::Answer(_)
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc": "2.0", "method": "notifications/cancelled", "params": 3}"#),
            Incoming::Ignore
        ));
        // A method that is not a string makes no notification: it is answered.
        assert!(matches!(
            classify(br#"{"yd": 4, "method": {}}"#),
            Incoming::Answer(_)
        ));
        assert!(matches!(
            classify(br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#),
            Incoming::Message(_)
        ));
    }

    #[tokio::test]
    async fn lines_are_read_whole_across_reads_and_over_long_ones_are_skipped() {
        let ping = br#"{"jsonrpc": "2.0", "id": 1, "method": "ping"}"#;
        let mut input = Vec::new();
        input.extend_from_slice(&vec![b'x'; MAX_LINE_BYTES + 10]);
        input.push(b'\n');
        input.extend_from_slice(ping);
        input.push(b'\n');
        input.extend_from_slice(b"not json");
        // A small buffer, so lines span many reads.
        let reader = tokio::io::BufReader::with_capacity(7, &input[..]);
        let (output, mut sink) = tokio::io::duplex(1 << 16);
        let mut transport = LineTransport::new(reader, output);
        let message = transport.receive().await.expect("the ping");
        assert!(
            serde_json::to_string(&message).unwrap().contains("ping"),
            "{message:?}"
        );
        assert!(transport.receive().await.is_none(), "end of input");
        transport.close().await.unwrap();
        let mut written = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut sink, &mut written)
            .await
            .unwrap();
        let lines: Vec<Value> = written
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{written}");
        assert_eq!(lines[0]["error"]["code"], -32600, "{written}");
        assert!(
            lines[0]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("longer than")
        );
        assert_eq!(lines[1]["error"]["code"], -32700, "{written}");
        assert!(
            lines
                .iter()
                .all(|l| l["id"].is_null() && l["jsonrpc"] == "2.0")
        );
    }
}
