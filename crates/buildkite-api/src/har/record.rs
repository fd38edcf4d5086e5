//! [`HarRecorder`]: appends API exchanges to a HAR 1.2 file.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{CONTENT_TYPE, HeaderMap, SET_COOKIE};
use reqwest::{Method, StatusCode};
use url::Url;

use super::format::{Content, Entry, NameValue, PostData, Request, Response, Timings};
use crate::error::{Error, Result};

/// What ends the file after the last entry. Each new entry is written over
/// it, so the file is valid HAR between any two requests and each request
/// costs one small write, whatever the size of the file.
const TAIL: &[u8] = b"\n]}}\n";

/// Writes every API exchange of a client to a HAR 1.2 file.
///
/// The file is created (or truncated) with mode 0600 when the recorder is
/// made, so a bad path fails at startup. Requests are recorded with their own
/// headers only (`Accept`, `Content-Type`): the token, passthrough headers and
/// configured headers are never written. Response headers are kept, except
/// `Set-Cookie`. Failures to connect are not recorded.
///
/// Give it to [`ClientBuilder::record`](crate::ClientBuilder::record).
#[derive(Debug)]
pub struct HarRecorder {
    path: PathBuf,
    state: Mutex<Writer>,
}

#[derive(Debug)]
struct Writer {
    file: File,
    entries: usize,
    /// The file's length after the last complete entry.
    valid_len: u64,
    /// Set when a failed write could not be undone: nothing more is written.
    stopped: bool,
}

impl HarRecorder {
    /// Creates or truncates `path` and writes an empty HAR log to it.
    pub fn create(path: impl AsRef<Path>) -> Result<HarRecorder> {
        let path = path.as_ref().to_path_buf();
        let fail = |e: std::io::Error| {
            Error::Config(format!(
                "cannot write the HAR recording {}: {e}",
                path.display()
            ))
        };
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(fail)?;
        // `mode` applies only to new files: an existing file is narrowed too.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(fail)?;
        }
        let head = serde_json::json!({
            "name": "bk-mcp buildkite-api",
            "version": env!("CARGO_PKG_VERSION"),
        });
        write!(
            file,
            "{{\"log\":{{\"version\":\"1.2\",\"creator\":{head},\"entries\":["
        )
        .and_then(|()| file.write_all(TAIL))
        .and_then(|()| file.flush())
        .map_err(fail)?;
        let valid_len = file.stream_position().map_err(fail)?;
        Ok(HarRecorder {
            path,
            state: Mutex::new(Writer {
                valid_len,
                file,
                entries: 0,
                stopped: false,
            }),
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many entries have been written so far.
    pub fn entries(&self) -> usize {
        self.state.lock().map(|state| state.entries).unwrap_or(0)
    }

    /// Appends one entry. Recording must never break the call being
    /// recorded, so a failed write is logged and the file is put back as it
    /// was before the entry (still valid HAR); if even that fails, recording
    /// stops.
    pub(crate) fn append(&self, entry: &Entry) {
        let Ok(json) = serde_json::to_vec(entry) else {
            return;
        };
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if state.stopped {
            return;
        }
        let separator: &[u8] = if state.entries == 0 { b"\n" } else { b",\n" };
        let file = &mut state.file;
        let written = file
            .seek(SeekFrom::End(-(TAIL.len() as i64)))
            .and_then(|start| {
                file.write_all(separator)?;
                file.write_all(&json)?;
                file.write_all(TAIL)?;
                file.flush()?;
                Ok(start)
            });
        match written {
            Ok(_) => state.entries += 1,
            Err(error) => {
                // Cut the partial entry off and close the log again.
                let valid_len = state.valid_len;
                let stopped = restore(&mut state.file, valid_len).is_err();
                state.stopped = stopped;
                tracing::warn!(
                    path = %self.path.display(),
                    %error,
                    stopped,
                    "could not append to the HAR recording: this exchange is missing from it"
                );
            }
        }
        if let Ok(length) = state.file.stream_position() {
            state.valid_len = length;
        }
    }
}

/// Truncates `file` to `valid_len` (its length after the last complete
/// entry, tail included) and rewrites the tail.
fn restore(file: &mut File, valid_len: u64) -> std::io::Result<()> {
    let body = valid_len.saturating_sub(TAIL.len() as u64);
    file.set_len(body)?;
    file.seek(SeekFrom::End(0))?;
    file.write_all(TAIL)?;
    file.flush()
}

/// One exchange as it went over the wire, ready to be turned into an entry.
pub(crate) struct Exchange<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    /// The request's own headers (never the token or passthrough headers).
    pub request_headers: &'a HeaderMap,
    pub request_body: Option<&'a [u8]>,
    pub status: StatusCode,
    pub response_headers: &'a HeaderMap,
    pub response_body: &'a [u8],
    pub started: chrono::DateTime<chrono::Utc>,
    pub elapsed: Duration,
}

impl Exchange<'_> {
    /// The HAR entry for this exchange.
    pub(crate) fn to_entry(&self) -> Entry {
        let millis = self.elapsed.as_secs_f64() * 1000.0;
        let (text, encoding) = match std::str::from_utf8(self.response_body) {
            Ok(text) => (text.to_owned(), None),
            Err(_) => (
                base64::engine::general_purpose::STANDARD.encode(self.response_body),
                Some("base64".to_owned()),
            ),
        };
        let request_mime = header_text(self.request_headers, CONTENT_TYPE);
        Entry {
            started_date_time: self
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            time: millis,
            request: Request {
                method: self.method.as_str().to_owned(),
                url: self.url.to_string(),
                http_version: "HTTP/1.1".to_owned(),
                cookies: Vec::new(),
                headers: name_values(self.request_headers),
                query_string: self
                    .url
                    .query_pairs()
                    .map(|(name, value)| NameValue {
                        name: name.into_owned(),
                        value: value.into_owned(),
                    })
                    .collect(),
                post_data: self.request_body.map(|body| PostData {
                    mime_type: request_mime,
                    text: String::from_utf8_lossy(body).into_owned(),
                }),
                headers_size: -1,
                body_size: self.request_body.map_or(0, |body| body.len() as i64),
            },
            response: Response {
                status: self.status.as_u16(),
                status_text: self.status.canonical_reason().unwrap_or("").to_owned(),
                http_version: "HTTP/1.1".to_owned(),
                cookies: Vec::new(),
                headers: name_values(self.response_headers),
                content: Content {
                    size: self.response_body.len() as i64,
                    mime_type: header_text(self.response_headers, CONTENT_TYPE),
                    text: Some(text),
                    encoding,
                },
                redirect_url: header_text(self.response_headers, reqwest::header::LOCATION),
                headers_size: -1,
                body_size: self.response_body.len() as i64,
            },
            cache: serde_json::Map::new(),
            timings: Timings {
                send: 0.0,
                wait: millis,
                receive: 0.0,
            },
        }
    }
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> String {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Headers as HAR name/value pairs, without cookies and without anything
/// marked sensitive.
fn name_values(headers: &HeaderMap) -> Vec<NameValue> {
    headers
        .iter()
        .filter(|(name, value)| **name != SET_COOKIE && !value.is_sensitive())
        .map(|(name, value)| NameValue {
            name: name.as_str().to_owned(),
            value: String::from_utf8_lossy(value.as_bytes()).into_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_append_is_cut_off_and_the_file_stays_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traffic.har");
        let recorder = HarRecorder::create(&path).unwrap();
        let valid_len = recorder.state.lock().unwrap().valid_len;
        // What a write that failed half-way leaves: the tail overwritten by
        // part of an entry.
        let mut file = recorder.state.lock().unwrap().file.try_clone().unwrap();
        file.seek(SeekFrom::End(-(TAIL.len() as i64))).unwrap();
        file.write_all(b"\n{\"startedDateTime\":\"2026-").unwrap();
        assert!(
            serde_json::from_slice::<serde_json::Value>(&std::fs::read(&path).unwrap()).is_err()
        );

        restore(&mut file, valid_len).unwrap();
        let text = std::fs::read(&path).unwrap();
        let har: serde_json::Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(har["log"]["entries"], serde_json::json!([]));
        assert_eq!(text.len() as u64, valid_len);
    }
}
