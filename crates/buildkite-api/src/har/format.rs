//! The parts of the HAR 1.2 format that are written and read
//! (<http://www.softwareishard.com/blog/har-12-spec/>).
//!
//! Reading is lenient: fields other producers leave out get their defaults,
//! and fields this crate does not use are ignored.

use serde::{Deserialize, Serialize};

/// A whole HAR file.
#[derive(Debug, Deserialize)]
pub(crate) struct HarFile {
    pub log: HarLog,
}

/// The `log` object; only its entries matter when reading.
#[derive(Debug, Deserialize)]
pub(crate) struct HarLog {
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// One HTTP exchange.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    #[serde(default)]
    pub started_date_time: String,
    /// Total time in milliseconds.
    #[serde(default)]
    pub time: f64,
    pub request: Request,
    pub response: Response,
    #[serde(default)]
    pub cache: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub timings: Timings,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Request {
    pub method: String,
    pub url: String,
    #[serde(default = "http_1_1")]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub query_string: Vec<NameValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_data: Option<PostData>,
    #[serde(default = "unknown_size")]
    pub headers_size: i64,
    #[serde(default = "unknown_size")]
    pub body_size: i64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Response {
    pub status: u16,
    #[serde(default)]
    pub status_text: String,
    #[serde(default = "http_1_1")]
    pub http_version: String,
    #[serde(default)]
    pub cookies: Vec<serde_json::Value>,
    #[serde(default)]
    pub headers: Vec<NameValue>,
    #[serde(default)]
    pub content: Content,
    #[serde(default, rename = "redirectURL")]
    pub redirect_url: String,
    #[serde(default = "unknown_size")]
    pub headers_size: i64,
    #[serde(default = "unknown_size")]
    pub body_size: i64,
}

/// A header or query parameter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostData {
    #[serde(default)]
    pub mime_type: String,
    #[serde(default)]
    pub text: String,
}

/// A response body: text, or base64 when `encoding` says so.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Content {
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub mime_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Phase timings in milliseconds; only the wait is measured.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Timings {
    #[serde(default)]
    pub send: f64,
    #[serde(default)]
    pub wait: f64,
    #[serde(default)]
    pub receive: f64,
}

fn http_1_1() -> String {
    "HTTP/1.1".to_owned()
}

fn unknown_size() -> i64 {
    -1
}
