//! One API call described before it is sent, so it can be sent again on
//! retry: method, target (a path under the base URL, or an absolute URL),
//! query, body and headers. `http` sends it.

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde::Serialize;
use url::Url;

use crate::error::{Error, Result};
use crate::path::ApiPath;

/// Where a request goes: an API path under the base URL, or an absolute URL
/// (a pagination link, an artifact's storage location).
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Path(ApiPath),
    Url(Url),
}

/// One API call, described before it is sent so it can be re-sent on retry.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub(crate) method: Method,
    pub(crate) target: Target,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: Option<Bytes>,
    pub(crate) headers: HeaderMap,
    /// Streams (logs, artifacts) have no total timeout, only a read timeout.
    pub(crate) streaming: bool,
    /// Return 3xx responses instead of following them.
    pub(crate) keep_redirects: bool,
}

impl ApiRequest {
    fn with_target(method: Method, target: Target) -> Self {
        ApiRequest {
            method,
            target,
            query: Vec::new(),
            body: None,
            headers: HeaderMap::new(),
            streaming: false,
            keep_redirects: false,
        }
    }

    /// A request to an API path under the base URL.
    pub(crate) fn new(method: Method, path: ApiPath) -> Self {
        ApiRequest::with_target(method, Target::Path(path))
    }

    pub(crate) fn get(path: ApiPath) -> Self {
        ApiRequest::new(Method::GET, path)
    }

    /// A request to an absolute URL (e.g. artifact storage).
    pub(crate) fn to_url(method: Method, url: Url) -> Self {
        ApiRequest::with_target(method, Target::Url(url))
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Adds a query parameter when `value` is `Some`.
    pub(crate) fn query_opt(self, name: &str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    /// Adds `name[]=value` for each value (Rails-style arrays).
    pub(crate) fn query_list<T: ToString>(mut self, name: &str, values: &[T]) -> Self {
        let key = format!("{name}[]");
        for value in values {
            self.query.push((key.clone(), value.to_string()));
        }
        self
    }

    /// Adds `name=true` when the flag is `Some(true)`, `name=false` for
    /// `Some(false)`, nothing for `None`.
    pub(crate) fn flag(self, name: &str, value: Option<bool>) -> Self {
        self.query_opt(name, value)
    }

    pub(crate) fn header(mut self, name: reqwest::header::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    pub(crate) fn json<B: Serialize + ?Sized>(mut self, body: &B) -> Result<Self> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidArgument(format!("request body cannot be encoded: {e}")))?;
        self.body = Some(Bytes::from(bytes));
        self.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(self)
    }

    pub(crate) fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    pub(crate) fn keep_redirects(mut self) -> Self {
        self.keep_redirects = true;
        self
    }

    /// Safe methods may be repeated after a 5xx or a broken connection.
    pub(crate) fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}
