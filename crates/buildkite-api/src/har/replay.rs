//! [`HarReplay`]: answers API requests from a HAR file.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, ResponseBuilderExt, StatusCode};
use url::Url;

use super::format::{Entry, HarFile};
use super::request_key;
use crate::error::{Error, Result};

/// Headers that described the recorded transfer, not the body as stored.
const TRANSFER_HEADERS: [&str; 4] = [
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Serves recorded responses instead of calling the API: no network, no
/// token.
///
/// Requests are matched as described in the [module docs](crate::har). A
/// request nothing matches fails with [`Error::Replay`], naming the call.
///
/// Give it to [`ClientBuilder::replay`](crate::ClientBuilder::replay).
pub struct HarReplay {
    responses: Mutex<HashMap<String, VecDeque<Recorded>>>,
    entries: usize,
    latency: Duration,
}

impl std::fmt::Debug for HarReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HarReplay")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

/// One recorded response.
#[derive(Debug, Clone)]
struct Recorded {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl HarReplay {
    /// Reads a HAR file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<HarReplay> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::Config(format!("cannot read the HAR file {}: {e}", path.display()))
        })?;
        HarReplay::from_slice(&bytes).map_err(|e| match e {
            Error::Config(message) => Error::Config(format!("{}: {message}", path.display())),
            other => other,
        })
    }

    /// Reads HAR JSON from memory (e.g. a recording embedded in a binary).
    pub fn from_slice(bytes: &[u8]) -> Result<HarReplay> {
        let file: HarFile = serde_json::from_slice(bytes)
            .map_err(|e| Error::Config(format!("not a HAR 1.2 file: {e}")))?;
        let mut responses: HashMap<String, VecDeque<Recorded>> = HashMap::new();
        let mut entries = 0;
        for entry in file.log.entries {
            // Status 0 marks a request that got no response.
            if let Some((key, recorded)) = recorded(entry) {
                responses.entry(key).or_default().push_back(recorded);
                entries += 1;
            }
        }
        Ok(HarReplay {
            responses: Mutex::new(responses),
            entries,
            latency: Duration::ZERO,
        })
    }

    /// Answers each request only after `latency`, as a network would (so a
    /// demo shows progress as it goes). No delay by default.
    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The delay before each answer.
    pub(crate) fn latency(&self) -> Duration {
        self.latency
    }

    /// How many recorded responses the file held.
    pub fn len(&self) -> usize {
        self.entries
    }

    /// Whether the file held no usable response.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The recorded response for a request: the oldest one not yet served,
    /// or the last one again when it is the only one left. `url` is the URL
    /// as recorded (without the query off the API's origin).
    pub(crate) fn respond(
        &self,
        method: &Method,
        url: &Url,
        range: Option<&str>,
        body: Option<&[u8]>,
    ) -> Option<reqwest::Response> {
        let key = request_key(method, url, range, body);
        let recorded = {
            let mut responses = self.responses.lock().ok()?;
            let queue = responses.get_mut(&key)?;
            if queue.len() > 1 {
                queue.pop_front()?
            } else {
                queue.front()?.clone()
            }
        };
        let mut builder = http::Response::builder()
            .status(recorded.status)
            .url(url.clone());
        if let Some(headers) = builder.headers_mut() {
            *headers = recorded.headers;
        }
        builder
            .body(recorded.body)
            .ok()
            .map(reqwest::Response::from)
    }
}

/// The body as the client would have seen it: recorders that store the
/// bytes on the wire leave gzip or deflate compression in place. A body that
/// does not decompress is kept as it is.
fn decompressed(encoding: Option<&str>, body: Vec<u8>) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    let decoded = match encoding {
        Some("gzip" | "x-gzip") => {
            flate2::read::MultiGzDecoder::new(body.as_slice()).read_to_end(&mut out)
        }
        Some("deflate") => flate2::read::ZlibDecoder::new(body.as_slice()).read_to_end(&mut out),
        _ => return body,
    };
    match decoded {
        Ok(_) => out,
        Err(_) => body,
    }
}

/// The key and response of one entry, or `None` for an entry that cannot
/// be served (no response, or a URL that does not parse).
fn recorded(entry: Entry) -> Option<(String, Recorded)> {
    let status = StatusCode::from_u16(entry.response.status).ok()?;
    let method = Method::from_bytes(entry.request.method.to_ascii_uppercase().as_bytes()).ok()?;
    let url = Url::parse(&entry.request.url)
        .or_else(|_| Url::parse("http://replay.invalid/")?.join(&entry.request.url))
        .ok()?;
    let request_body = entry.request.post_data.as_ref().map(|p| p.text.as_bytes());
    let range = entry
        .request
        .headers
        .iter()
        .find(|h| h.name.trim().eq_ignore_ascii_case("range"))
        .map(|h| h.value.as_str());
    let key = request_key(&method, &url, range, request_body);
    let text = entry.response.content.text.unwrap_or_default();
    let body = match entry.response.content.encoding.as_deref() {
        Some(encoding) if encoding.eq_ignore_ascii_case("base64") => {
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .ok()?
        }
        _ => text.into_bytes(),
    };
    let content_encoding = entry
        .response
        .headers
        .iter()
        .find(|h| h.name.trim().eq_ignore_ascii_case("content-encoding"))
        .map(|h| h.value.trim().to_ascii_lowercase());
    let body = decompressed(content_encoding.as_deref(), body);
    let mut headers = HeaderMap::new();
    for header in &entry.response.headers {
        let Ok(name) = HeaderName::from_bytes(header.name.trim().as_bytes()) else {
            continue;
        };
        // The body is stored decoded, so its length is its own; a HEAD
        // response has no body and keeps the length it announced.
        let announced_length = name == reqwest::header::CONTENT_LENGTH && method == Method::HEAD;
        if TRANSFER_HEADERS.contains(&name.as_str()) && !announced_length {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(header.value.trim()) {
            headers.append(name, value);
        }
    }
    Some((
        key,
        Recorded {
            status,
            headers,
            body: Bytes::from(body),
        },
    ))
}
