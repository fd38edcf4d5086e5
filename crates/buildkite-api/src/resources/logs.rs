//! Job logs: size (HEAD), the raw log as a stream, and the last N bytes.
//!
//! The raw log is fetched with `Accept: text/plain` and is never held whole
//! in memory here: [`LogStream`] hands it over chunk by chunk. Responses
//! compressed with gzip are decompressed transparently.

use bytes::{Buf, Bytes, BytesMut};
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, HeaderValue, RANGE};
use reqwest::{Method, Response, StatusCode};

use super::jobs::JobRef;
use crate::client::Client;
use crate::error::{Error, RequestInfo, Result};
use crate::request::ApiRequest;
use crate::response::next_chunk;

/// A job's raw log, arriving in chunks.
#[derive(Debug)]
pub struct LogStream {
    request: RequestInfo,
    response: Response,
    content_length: Option<u64>,
}

impl LogStream {
    /// The size the server announced, if any (absent when compressed).
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The next chunk of raw bytes, or `None` at the end of the log.
    pub async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        next_chunk(&self.request, &mut self.response).await
    }

    /// Reads the whole log into memory, failing with [`Error::TooLarge`] past
    /// `limit` bytes. Prefer [`LogStream::next_chunk`] for large logs.
    pub async fn collect(mut self, limit: u64) -> Result<Bytes> {
        let mut body = BytesMut::new();
        while let Some(chunk) = self.next_chunk().await? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Error::TooLarge {
                    request: self.request,
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }
}

/// The end of a job's log, from [`Client::get_job_log_tail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogTail {
    /// The last bytes of the raw log. Unless `start` is 0 they may begin in
    /// the middle of a line (or of a UTF-8 character).
    pub bytes: Bytes,
    /// Offset of `bytes` within the whole log.
    pub start: u64,
    /// Size of the whole log in bytes.
    pub total_size: u64,
}

impl LogTail {
    /// Whether `bytes` is the entire log.
    pub fn is_complete(&self) -> bool {
        self.start == 0
    }
}

impl Client {
    /// `HEAD …/jobs/{job}/log`: the stored log's size in bytes.
    ///
    /// This is also the cheapest check that the token may read the log: a
    /// job without a log, or without access, gives [`Error::NotFound`].
    pub async fn get_job_log_size(&self, job: &JobRef) -> Result<Option<u64>> {
        let request = ApiRequest::new(Method::HEAD, job.path()?.lit("log"))
            .header(ACCEPT, HeaderValue::from_static("text/plain"));
        let response = self.send(request).await?;
        Ok(response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()))
    }

    /// `GET …/jobs/{job}/log` as raw text, streamed (scope `read_build_logs`).
    pub async fn get_job_log(&self, job: &JobRef) -> Result<LogStream> {
        let request = ApiRequest::get(job.path()?.lit("log"))
            .header(ACCEPT, HeaderValue::from_static("text/plain"))
            .streaming();
        let info = self.info(&request)?;
        let response = self.send(request).await?;
        let content_length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        Ok(LogStream {
            request: info,
            response,
            content_length,
        })
    }

    /// The last `max_bytes` bytes of a job's log, with `Range: bytes=-N`, so a
    /// tail of a 1 GiB log downloads only what it needs. An empty log gives
    /// an empty tail.
    pub async fn get_job_log_tail(&self, job: &JobRef, max_bytes: u64) -> Result<LogTail> {
        if max_bytes == 0 {
            return Err(Error::InvalidArgument(
                "a log tail needs at least 1 byte".into(),
            ));
        }
        let request = ApiRequest::get(job.path()?.lit("log"))
            .header(ACCEPT, HeaderValue::from_static("text/plain"))
            // Ranges count stored bytes; compression would shift them.
            .header(ACCEPT_ENCODING, HeaderValue::from_static("identity"))
            .header(RANGE, range_header(max_bytes))
            .streaming();
        let info = self.info(&request)?;
        let response = match self.send(request).await {
            Ok(response) => response,
            Err(Error::Http { status, .. }) if status == StatusCode::RANGE_NOT_SATISFIABLE => {
                return Ok(LogTail {
                    bytes: Bytes::new(),
                    start: 0,
                    total_size: 0,
                });
            }
            Err(error) => return Err(error),
        };
        let partial = response.status() == StatusCode::PARTIAL_CONTENT;
        let range = response
            .headers()
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);
        let stream = LogStream {
            request: info,
            response,
            content_length: None,
        };
        match (partial, range) {
            (true, Some((start, total))) => {
                let bytes = stream.collect(max_bytes).await?;
                Ok(LogTail {
                    bytes,
                    start,
                    total_size: total,
                })
            }
            // The server ignored the range and sent the whole log: keep only
            // the last `max_bytes`, never more in memory.
            _ => keep_last(stream, max_bytes).await,
        }
    }
}

fn range_header(max_bytes: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("bytes=-{max_bytes}"))
        .unwrap_or_else(|_| HeaderValue::from_static("bytes=-1"))
}

/// Parses `bytes 900-999/1000` into (start, total).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, _end) = range.split_once('-')?;
    Some((start.trim().parse().ok()?, total.trim().parse().ok()?))
}

async fn keep_last(mut stream: LogStream, max_bytes: u64) -> Result<LogTail> {
    let cap = usize::try_from(max_bytes).unwrap_or(usize::MAX);
    let mut window = BytesMut::new();
    let mut total: u64 = 0;
    while let Some(chunk) = stream.next_chunk().await? {
        total += chunk.len() as u64;
        window.extend_from_slice(&chunk);
        if window.len() > cap.saturating_mul(2).max(64 * 1024) {
            let excess = window.len() - cap;
            window.advance(excess);
        }
    }
    if window.len() > cap {
        let excess = window.len() - cap;
        window.advance(excess);
    }
    Ok(LogTail {
        start: total - window.len() as u64,
        bytes: window.freeze(),
        total_size: total,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_is_parsed() {
        assert_eq!(parse_content_range("bytes 900-999/1000"), Some((900, 1000)));
        assert_eq!(parse_content_range("bytes */1000"), None);
        assert_eq!(parse_content_range("garbage"), None);
    }
}
