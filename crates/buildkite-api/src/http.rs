//! Sending requests: URL building, credential scoping, the read cache,
//! pacing, retries and redirects (what comes back is read in `response`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, Response, ResponseBuilderExt, StatusCode};
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::{Position, Url};

use crate::client::Client;
use crate::error::{Error, MAX_ECHO_CHARS, RequestInfo, Result, TransportKind, excerpt};
use crate::har::{self, Traffic};
use crate::pacing::{
    Admission, Limited, SharedAdmission, Windows, organization_of, reported_window,
};
use crate::page::{CursorPage, Page};
use crate::rate_limit::RateLimit;
use crate::read_cache::{CachedRead, Joined, ReadCache, ReadKey};
use crate::request::{ApiRequest, Target};
use crate::response::{
    decode, error_chain, error_from_response, rate_limited_unsent, read_body, transport_kind,
};

/// Most redirects followed for one call.
const MAX_REDIRECTS: usize = 5;

/// Longest request URL sent. Servers and proxies commonly refuse request
/// lines over 8 KiB; a longer URL means an argument is far too long, and
/// is refused here rather than sent.
pub(crate) const MAX_URL_BYTES: usize = 8000;

/// The least time an attempt gets, however little of the budget is left.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);

/// What one attempt came to.
enum Outcome {
    /// A response to hand back (success, or a redirect to follow).
    Done(Response),
    /// A failure that another attempt may fix after `wait`; `announced`
    /// when the server said how long (`Retry-After`, a window's reset).
    Retryable {
        error: Error,
        wait: Duration,
        announced: Option<Duration>,
    },
    /// A failure to give up with.
    Failed(Error),
}

impl Client {
    fn url_for(&self, request: &ApiRequest) -> Result<Url> {
        let mut url = match &request.target {
            Target::Path(path) => self.inner.base_url.join(path.as_str()).map_err(|e| {
                Error::InvalidArgument(format!(
                    "cannot build a URL for {}: {e}",
                    excerpt(path.as_str(), MAX_ECHO_CHARS)
                ))
            })?,
            Target::Url(url) => url.clone(),
        };
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &request.query {
                pairs.append_pair(name, value);
            }
        }
        if url.as_str().len() > MAX_URL_BYTES {
            return Err(Error::InvalidArgument(format!(
                "not sent: the request URL would be {} bytes, more than the {MAX_URL_BYTES} servers accept, so an argument is far too long; the path starts {}",
                url.as_str().len(),
                excerpt(url.path(), MAX_ECHO_CHARS)
            )));
        }
        Ok(url)
    }

    /// Whether `url` is on the API's origin, the only place credentials and
    /// configured headers may be sent.
    pub(crate) fn is_api_origin(&self, url: &Url) -> bool {
        url.origin() == self.inner.base_url.origin()
    }

    /// Sends a request with retries and redirects, and maps any unsuccessful
    /// status to an [`Error`]. Returns the successful response, unread.
    ///
    /// The call gets a `buildkite.api` span; its size is the response's
    /// `Content-Length` when it has one (streams are read by the caller).
    pub(crate) async fn send(&self, request: ApiRequest) -> Result<Response> {
        let span = self.api_span(&self.info(&request)?);
        let result = self.send_untraced(request).instrument(span.clone()).await;
        match &result {
            Ok(response) => {
                span.record("status", i64::from(response.status().as_u16()));
                if let Some(length) = response.content_length() {
                    span.record("bytes", i64::try_from(length).unwrap_or(i64::MAX));
                }
                span.record("error", false);
            }
            Err(error) => record_error(&span, error),
        }
        result
    }

    /// Sends a request and reads its whole body. A `GET` is answered from
    /// this call's earlier reads, then the shared read cache (unless the
    /// handle wants fresh data), and joins an identical read in flight; only
    /// then is it sent (see [`crate::read_cache`]).
    async fn send_and_read(&self, request: ApiRequest) -> Result<(RequestInfo, HeaderMap, Bytes)> {
        if request.method != Method::GET || request.body.is_some() {
            let write = !request.is_idempotent();
            let result = self
                .fetch_and_read(request)
                .await
                .map_err(|error| match error {
                    // Sent and answered, but the answer broke off while read.
                    Error::Transport {
                        request,
                        kind,
                        message,
                    } if write && kind != TransportKind::Connect => Error::MaybeApplied {
                        request,
                        reason: format!(
                            "the API answered, but reading the answer failed: {kind} ({message})"
                        ),
                    },
                    other => other,
                });
            if write {
                // Reads after a write see what it changed: no answer read
                // before it is reused (even when it failed: it may have
                // happened).
                self.inner.reads.forget_all();
                if let Some(scope) = &self.scope {
                    scope.forget();
                }
            }
            return result;
        }
        let info = self.info(&request)?;
        let url = self.url_for(&request)?.to_string();
        let key = ReadKey::new(
            self.credential_id(),
            &url,
            &request.headers,
            self.settled.as_deref(),
        );
        let settled = self.settled.is_some();
        // A fresh read (a poll, `force_refresh`) is sent whatever the call
        // or the cache already has.
        if !self.fresh
            && let Some(read) = self.scope.as_ref().and_then(|scope| scope.read(key.text()))
        {
            return Ok((info, read.headers.clone(), read.body.clone()));
        }
        let remember = |read: &Arc<CachedRead>| {
            if let Some(scope) = &self.scope {
                scope.remember(key.text(), read);
            }
        };
        let shared = self.inner.reads.enabled();
        if !shared {
            let result = self.fetch_and_read(request).await;
            if let Ok((_, headers, body)) = &result {
                remember(&Arc::new(CachedRead::new(headers, body.clone(), settled)));
            }
            return result;
        }
        // This caller sends it: as the leader of a flight, unless it wants
        // fresh data (a fresh read is not handed to callers that did not ask
        // for one, nor does it wait on theirs).
        let mut leader = None;
        if !self.fresh {
            if let Some(read) = self.inner.reads.get(&key).await {
                remember(&read);
                return Ok((info, read.headers.clone(), read.body.clone()));
            }
            match self.inner.reads.join(&key) {
                Joined::Follower(flight) => {
                    if let Some(read) = ReadCache::wait(flight).await {
                        remember(&read);
                        return Ok((info, read.headers.clone(), read.body.clone()));
                    }
                    // The leader failed: this caller asks for itself.
                }
                Joined::Leader(joined) => leader = Some(joined),
            }
        }
        let result = self.fetch_and_read(request).await;
        let read = result
            .as_ref()
            .ok()
            .map(|(_, headers, body)| Arc::new(CachedRead::new(headers, body.clone(), settled)));
        if let Some(read) = &read {
            remember(read);
        }
        match leader {
            Some(leader) => self.inner.reads.finish(leader, read).await,
            None => {
                if let Some(read) = read {
                    self.inner.reads.refresh(key, read).await;
                }
            }
        }
        result
    }

    /// Sends a request and reads its whole body, inside a `buildkite.api`
    /// span that records the status, the body's size and whether it failed.
    async fn fetch_and_read(&self, request: ApiRequest) -> Result<(RequestInfo, HeaderMap, Bytes)> {
        let info = self.info(&request)?;
        let span = self.api_span(&info);
        let result = async {
            let response = self.send_untraced(request).await?;
            span.record("status", i64::from(response.status().as_u16()));
            let headers = response.headers().clone();
            let body = read_body(&info, response).await?;
            Ok((headers, body))
        }
        .instrument(span.clone())
        .await;
        match result {
            Ok((headers, body)) => {
                span.record("bytes", i64::try_from(body.len()).unwrap_or(i64::MAX));
                span.record("error", false);
                Ok((info, headers, body))
            }
            Err(error) => {
                record_error(&span, &error);
                Err(error)
            }
        }
    }

    /// The span of one API call. It never holds credentials: off the API
    /// origin the query (a presigned URL's signature) is left out.
    fn api_span(&self, info: &RequestInfo) -> tracing::Span {
        tracing::info_span!(
            "buildkite.api",
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            method = %info.method,
            path = %info.path,
            tool = self.tool.as_deref().unwrap_or(""),
            status = tracing::field::Empty,
            bytes = tracing::field::Empty,
            error = tracing::field::Empty,
        )
    }

    async fn send_untraced(&self, request: ApiRequest) -> Result<Response> {
        let mut url = self.url_for(&request)?;
        let mut method = request.method.clone();
        let mut body = request.body.clone();
        for _ in 0..=MAX_REDIRECTS {
            let response = match self
                .send_with_retries(&request, &method, &url, body.clone())
                .await
            {
                Ok(response) => response,
                Err(error) => {
                    if let (Error::RateLimited { retry_after, .. }, Some(scope)) =
                        (&error, &self.scope)
                    {
                        scope.note_rate_limited(*retry_after);
                    }
                    return Err(error);
                }
            };
            let status = response.status();
            if !status.is_redirection() || request.keep_redirects {
                return Ok(response);
            }
            let info = self.describe(&method, &url);
            let location = redirect_target(&url, response.headers());
            // Following a redirect would send a write again, or turn it into
            // a GET: it is reported instead, with where it pointed.
            if !request.is_idempotent() {
                let pointed = location.as_ref().map_or_else(
                    || "nowhere valid".to_owned(),
                    |to| format!("{:?}", self.describe(&Method::GET, to).path),
                );
                return Err(Error::MaybeApplied {
                    request: info,
                    reason: format!(
                        "the API answered {status} with a redirect to {pointed}, which is not followed for a write"
                    ),
                });
            }
            let location = location.ok_or_else(|| Error::Http {
                request: info.clone(),
                status,
                message: "redirect without a valid Location header".into(),
            })?;
            // A 303 continues as a GET (reads only get here).
            if status == StatusCode::SEE_OTHER {
                method = Method::GET;
                body = None;
            }
            tracing::debug!(request = %info, cross_origin = !self.is_api_origin(&location), "following redirect");
            url = location;
        }
        Err(Error::Http {
            request: self.describe(&method, &url),
            status: StatusCode::LOOP_DETECTED,
            message: format!("more than {MAX_REDIRECTS} redirects"),
        })
    }

    async fn send_with_retries(
        &self,
        request: &ApiRequest,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
    ) -> Result<Response> {
        let policy = self.inner.retry;
        let started = Instant::now();
        // Attempts end by then, or [`MIN_ATTEMPT_TIME`] after they start:
        // a call, retries included, takes at most the budget plus that.
        // (A stream's body is bounded by the read timeout instead.)
        let deadline = started + policy.budget;
        let info = self.describe(method, url);
        let mut retry = 0;
        // A replay is not paced: its recorded rate-limit headers describe
        // a window long gone.
        let paced = self.is_api_origin(url) && !matches!(self.inner.traffic, Traffic::Replay(_));
        let organization = paced.then(|| organization_of(url.path())).flatten();
        loop {
            if let Some(org) = organization {
                // Never past the retry budget, nor the call's own deadline.
                let mut left = policy.budget.saturating_sub(started.elapsed());
                if let Some(deadline) = self.scope.as_ref().and_then(|scope| scope.deadline()) {
                    left = left.min(deadline.saturating_duration_since(Instant::now()));
                }
                self.pace(org, request, &info, left).await?;
            }
            let (error, wait, announced) = match self
                .attempt(request, method, url, body.clone(), &info, retry, deadline)
                .await
            {
                Outcome::Done(response) => return Ok(response),
                Outcome::Failed(error) => return Err(error),
                Outcome::Retryable {
                    error,
                    wait,
                    announced,
                } => (error, wait, announced),
            };
            // Never start a wait that would end after the budget: the call
            // fails now, with the error that caused the retry, and when the
            // API said to come back.
            if retry >= policy.max_retries || started.elapsed() + wait > policy.budget {
                return Err(match announced {
                    Some(announced) => error.with_retry_after(announced),
                    None => error,
                });
            }
            retry += 1;
            tracing::debug!(request = %info, retry, wait_ms = wait.as_millis() as u64, %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Waits, within `left`, until the organization's rate-limit window has
    /// room for this request (see [`crate::pacing`]).
    async fn pace(
        &self,
        org: &str,
        request: &ApiRequest,
        info: &RequestInfo,
        left: Duration,
    ) -> Result<()> {
        let started = Instant::now();
        loop {
            let left = left.saturating_sub(started.elapsed());
            let token = self.credential_id().as_text();
            let windows = Windows { org, token: &token };
            match self
                .inner
                .pacer
                .admit(windows, self.caller_key(), !request.is_idempotent(), left)
            {
                Admission::Go => {
                    let Some(shared) = &self.inner.shared_budget else {
                        return Ok(());
                    };
                    match shared.take(org, !request.is_idempotent()).await {
                        SharedAdmission::Go | SharedAdmission::Unknown => return Ok(()),
                        SharedAdmission::Wait(wait) => {
                            let wait = wait + Duration::from_millis(fastrand::u64(20..250));
                            let left = left.saturating_sub(started.elapsed());
                            if wait > left {
                                return Err(rate_limited_unsent(
                                    info,
                                    org,
                                    wait,
                                    Limited::Organization,
                                ));
                            }
                            tracing::debug!(request = %info, wait_ms = wait.as_millis() as u64, "pacing: the replicas have spent the organization's rate-limit window");
                            tokio::time::sleep(wait).await;
                        }
                    }
                }
                Admission::Wait(wait) => {
                    tracing::debug!(request = %info, wait_ms = wait.as_millis() as u64, "pacing: waiting for a rate-limit window");
                    tokio::time::sleep(wait).await;
                }
                Admission::TooLong(wait, limited) => {
                    return Err(rate_limited_unsent(info, org, wait, limited));
                }
            }
        }
    }

    /// Sends one attempt, ending by `deadline`, and classifies what came
    /// back.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        request: &ApiRequest,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
        info: &RequestInfo,
        retry: u32,
        deadline: Instant,
    ) -> Outcome {
        let policy = self.inner.retry;
        let sent = Instant::now();
        let timeout = self
            .inner
            .request_timeout
            .min(deadline.saturating_duration_since(sent))
            .max(MIN_ATTEMPT_TIME);
        let response = match self
            .exchange(request, method, url, body, info, timeout)
            .await
        {
            Ok(response) => response,
            Err(Exchanged::Failed(error)) => return Outcome::Failed(error),
            Err(Exchanged::Transport(error)) if error.is_builder() => {
                // Made here, before anything was sent: another try fails alike.
                return Outcome::Failed(Error::InvalidArgument(format!(
                    "the request could not be built: {}",
                    error_chain(error)
                )));
            }
            Err(Exchanged::Transport(error)) => {
                let kind = transport_kind(&error);
                let message = error_chain(error);
                if !request.is_idempotent() && kind != TransportKind::Connect {
                    // The write was sent (or partly sent): it may have run.
                    return Outcome::Failed(Error::MaybeApplied {
                        request: info.clone(),
                        reason: format!("{kind} after the request was sent ({message})"),
                    });
                }
                let error = Error::Transport {
                    request: info.clone(),
                    kind,
                    message,
                };
                // A timed-out request may still be running on the server, and
                // waiting for it again would double the time the caller waits.
                return if request.is_idempotent() && kind != TransportKind::Timeout {
                    Outcome::Retryable {
                        error,
                        wait: policy.backoff(retry),
                        announced: None,
                    }
                } else {
                    Outcome::Failed(error)
                };
            }
        };
        let status = response.status();
        let rate_limit = RateLimit::from_headers(response.headers());
        if !rate_limit.is_empty()
            && let Ok(mut last) = self.inner.last_rate_limit.lock()
        {
            *last = rate_limit;
        }
        if !rate_limit.is_empty()
            && self.is_api_origin(url)
            && !matches!(self.inner.traffic, Traffic::Replay(_))
            && let Some(org) = organization_of(url.path())
        {
            let token = self.credential_id().as_text();
            self.inner
                .pacer
                .observe(Windows { org, token: &token }, &rate_limit);
            if let (Some(shared), Some((limit, remaining, reset))) =
                (&self.inner.shared_budget, reported_window(&rate_limit))
            {
                shared.observe(org, limit, remaining, reset).await;
            }
        }
        tracing::debug!(
            request = %info,
            status = status.as_u16(),
            elapsed_ms = sent.elapsed().as_millis() as u64,
            "api response"
        );
        if status.is_success() || status.is_redirection() {
            return Outcome::Done(response);
        }
        // The wait the server announced, else backoff. A 429 was not
        // processed, so every method retries; a 5xx only for reads.
        let announced = if status == StatusCode::TOO_MANY_REQUESTS {
            rate_limit.wait_hint()
        } else {
            rate_limit.announced_wait()
        };
        let retryable = status == StatusCode::TOO_MANY_REQUESTS
            || (matches!(
                status,
                StatusCode::BAD_GATEWAY
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ) && request.is_idempotent());
        let error = error_from_response(info.clone(), response, rate_limit).await;
        if retryable {
            Outcome::Retryable {
                error,
                wait: policy.rate_limit_wait(announced, retry),
                announced,
            }
        } else {
            Outcome::Failed(error)
        }
    }

    /// Does one HTTP exchange: over the network, recorded to a HAR file
    /// as well, or answered from one.
    async fn exchange(
        &self,
        request: &ApiRequest,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
        info: &RequestInfo,
        timeout: Duration,
    ) -> std::result::Result<Response, Exchanged> {
        if let Some(scope) = &self.scope {
            scope.count_request();
        }
        match &self.inner.traffic {
            Traffic::Live => self
                .build(request, method, url, body, timeout)
                .send()
                .await
                .map_err(Exchanged::Transport),
            Traffic::Replay(replay) => {
                if !replay.latency().is_zero() {
                    tokio::time::sleep(replay.latency()).await;
                }
                let recorded_url = self.recorded_url(url);
                replay
                    .respond(method, &recorded_url, range(request), body.as_deref())
                    .ok_or_else(|| Exchanged::Failed(replay_miss(info, replay.len())))
            }
            Traffic::Record(recorder) => {
                let started = chrono::Utc::now();
                let clock = Instant::now();
                let response = self
                    .build(request, method, url, body.clone(), timeout)
                    .send()
                    .await
                    .map_err(Exchanged::Transport)?;
                // The body is read here so it can be written down, then
                // handed on as if it came from the network.
                let status = response.status();
                let headers = response.headers().clone();
                let content = response.bytes().await.map_err(Exchanged::Transport)?;
                recorder.append(
                    &har::Exchange {
                        method,
                        url: &self.recorded_url(url),
                        request_headers: &own_headers(request),
                        request_body: body.as_deref(),
                        status,
                        response_headers: &headers,
                        response_body: &content,
                        started,
                        elapsed: clock.elapsed(),
                    }
                    .to_entry(),
                );
                let mut rebuilt = http::Response::builder().status(status).url(url.clone());
                if let Some(slot) = rebuilt.headers_mut() {
                    *slot = headers;
                }
                rebuilt.body(content).map(Response::from).map_err(|e| {
                    Exchanged::Failed(Error::Transport {
                        request: info.clone(),
                        kind: TransportKind::Other,
                        message: format!("could not pass on the recorded response: {e}"),
                    })
                })
            }
        }
    }

    fn build(
        &self,
        request: &ApiRequest,
        method: &Method,
        url: &Url,
        body: Option<Bytes>,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut builder = self.inner.http.request(method.clone(), url.clone());
        if !request.streaming {
            builder = builder.timeout(timeout);
        }
        if self.is_api_origin(url) {
            let mut headers = self.inner.default_headers.clone();
            for (name, value) in self.call_headers.iter() {
                headers.insert(name.clone(), value.clone());
            }
            if let Some(token) = &self.token {
                headers.insert(AUTHORIZATION, token.authorization());
            } else {
                headers.remove(AUTHORIZATION);
            }
            builder = builder.headers(headers);
        }
        builder = builder.headers(own_headers(request));
        match body {
            Some(body) => builder = builder.body(body),
            // An empty body makes the length explicit (`Content-Length: 0`):
            // some proxies refuse a body-less POST or PUT with 411.
            None if !matches!(*method, Method::GET | Method::HEAD) => {
                builder = builder
                    .header(CONTENT_LENGTH, HeaderValue::from_static("0"))
                    .body(Bytes::new());
            }
            None => {}
        }
        builder
    }

    /// Decodes a JSON response body.
    pub(crate) async fn json<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<T> {
        let write = !request.is_idempotent();
        let (info, _, body) = self.send_and_read(request).await?;
        decode(&info, &body).map_err(|error| match error {
            // The API said yes, then something unreadable: the change happened.
            Error::Decode {
                request,
                message,
                excerpt,
            } if write => Error::MaybeApplied {
                request,
                reason: if body.is_empty() {
                    "the API answered success with an empty body instead of the expected JSON"
                        .to_owned()
                } else {
                    format!(
                        "the API answered success, but the body is not the expected JSON ({message}; it starts {excerpt:?})"
                    )
                },
            },
            other => other,
        })
    }

    /// Decodes a numbered list page.
    pub(crate) async fn page<T: DeserializeOwned>(&self, request: ApiRequest) -> Result<Page<T>> {
        let (info, headers, body) = self.send_and_read(request).await?;
        // Some endpoints answer an empty list with `null`.
        let items: Option<Vec<T>> = decode(&info, &body)?;
        Ok(Page::from_response(items.unwrap_or_default(), &headers))
    }

    /// Decodes a cursor-paged list.
    pub(crate) async fn cursor_page<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<CursorPage<T>> {
        let (info, headers, body) = self.send_and_read(request).await?;
        let mut page: CursorPage<T> = decode(&info, &body)?;
        page.rate_limit = RateLimit::from_headers(&headers);
        Ok(page)
    }

    /// Describes a request for errors, before it is sent.
    pub(crate) fn info(&self, request: &ApiRequest) -> Result<RequestInfo> {
        Ok(self.describe(&request.method, &self.url_for(request)?))
    }
}

impl Client {
    /// Describes a call for errors and logs: method, path and query, except
    /// that the query of a URL off the API origin (a presigned storage URL,
    /// whose query is a credential) is left out.
    pub(crate) fn describe(&self, method: &Method, url: &Url) -> RequestInfo {
        let end = if self.is_api_origin(url) {
            Position::AfterQuery
        } else {
            Position::AfterPath
        };
        RequestInfo {
            method: method.clone(),
            path: excerpt(&url[Position::BeforePath..end], MAX_ECHO_CHARS),
        }
    }
}

/// Why an exchange produced no response.
enum Exchanged {
    /// The HTTP stack failed (connection, TLS, timeout): maybe retryable.
    Transport(reqwest::Error),
    /// A failure no retry can fix (e.g. nothing recorded for a replay).
    Failed(Error),
}

impl Client {
    /// A URL as a HAR file holds it: off the API's origin without its query,
    /// which for a presigned storage URL is a credential.
    fn recorded_url(&self, url: &Url) -> Url {
        let mut url = url.clone();
        if !self.is_api_origin(&url) {
            url.set_query(None);
        }
        url
    }
}

/// The error for a request a replay has no response for.
fn replay_miss(info: &RequestInfo, recorded: usize) -> Error {
    Error::Replay {
        request: info.clone(),
        message: format!(
            "the HAR file has no response for this request (it has {recorded} responses to other requests)"
        ),
    }
}

/// A request's `Range` header (a log tail), if it has one.
fn range(request: &ApiRequest) -> Option<&str> {
    request
        .headers
        .get(reqwest::header::RANGE)
        .and_then(|value| value.to_str().ok())
}

/// A request's own headers, as sent and as recorded: never `Authorization`,
/// and `Accept: application/json` unless the request chose another.
fn own_headers(request: &ApiRequest) -> HeaderMap {
    let mut own = request.headers.clone();
    own.remove(AUTHORIZATION);
    if !own.contains_key(ACCEPT) {
        own.insert(ACCEPT, HeaderValue::from_static("application/json"));
    }
    own
}

fn record_error(span: &tracing::Span, error: &Error) {
    if let Some(status) = error.status() {
        span.record("status", i64::from(status.as_u16()));
    }
    span.record("error", true);
    span.record("otel.status_code", "error");
}

fn redirect_target(current: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(LOCATION)?.to_str().ok()?;
    let next = current.join(location).ok()?;
    matches!(next.scheme(), "http" | "https").then_some(next)
}
