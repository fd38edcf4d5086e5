//! Sessions any replica can continue (`--stateful` with `--redis-url`):
//! rmcp's `SessionStore` and `EventStore` kept in Redis.
//!
//! - A session's `initialize` parameters are stored under
//!   `bk-mcp:session:{id}`; a replica that does not know a session restores
//!   it from there, so the client never notices which replica answers.
//! - SSE events are appended to `bk-mcp:events:{stream}`; an event's id is
//!   `{stream}#{position}`, so `Last-Event-ID` resumes the stream on any
//!   replica.
//!
//! Redis failing must not fail calls. A session that cannot be stored
//! lives on its replica only; an event that cannot be stored gets a local
//! id and is kept in this replica's memory, so resuming works here but not
//! elsewhere. One warning per outage ([`DependencyHealth`]).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bk_fleet::DependencyHealth;
use bk_fleet::{REDIS_NAMESPACE, RedisLink};
use rmcp::model::ServerJsonRpcMessage;
use rmcp::transport::streamable_http_server::session::ServerSseMessage;
use rmcp::transport::streamable_http_server::session::store::{
    EventId, EventStore, EventStoreError, EventStream, SessionState, SessionStore,
    SessionStoreError,
};

/// How long an idle session is remembered.
const SESSION_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a stream's events are kept after its last event.
const EVENTS_TTL: Duration = Duration::from_secs(3600);
/// Longest wait for Redis per operation.
const LIMIT: Duration = Duration::from_millis(1500);
/// Events kept in memory when Redis cannot take them.
const LOCAL_EVENTS: usize = 1024;

/// Sessions in Redis.
#[derive(Debug, Clone)]
pub struct RedisSessions {
    link: Arc<RedisLink>,
    health: Arc<DependencyHealth>,
}

impl RedisSessions {
    /// Sessions kept through `link`, reporting to `health`.
    pub fn new(link: Arc<RedisLink>, health: Arc<DependencyHealth>) -> Self {
        RedisSessions { link, health }
    }

    fn key(id: &str) -> String {
        format!("{REDIS_NAMESPACE}session:{id}")
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisSessions {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let stored: Option<Option<String>> = self
            .health
            .run(
                LIMIT,
                self.link.run(redis::cmd("GET").arg(Self::key(session_id))),
            )
            .await;
        // Unreadable or unreachable: the session is unknown here, and the
        // client starts a new one.
        Ok(stored
            .flatten()
            .and_then(|json| serde_json::from_str(&json).ok()))
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        let _: Option<()> = self
            .health
            .run(
                LIMIT,
                self.link.run(
                    redis::cmd("SET")
                        .arg(Self::key(session_id))
                        .arg(json)
                        .arg("EX")
                        .arg(SESSION_TTL.as_secs()),
                ),
            )
            .await;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let _: Option<i64> = self
            .health
            .run(
                LIMIT,
                self.link.run(redis::cmd("DEL").arg(Self::key(session_id))),
            )
            .await;
        Ok(())
    }
}

/// An event as stored: the message and the retry hint.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<ServerJsonRpcMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_ms: Option<u64>,
}

impl StoredEvent {
    fn of(event: &ServerSseMessage) -> Self {
        StoredEvent {
            message: event.message.as_deref().cloned(),
            retry_ms: event
                .retry
                .map(|r| u64::try_from(r.as_millis()).unwrap_or(u64::MAX)),
        }
    }

    fn into_message(self, id: String) -> ServerSseMessage {
        let mut event = ServerSseMessage::default();
        event.event_id = Some(id);
        event.message = self.message.map(Arc::new);
        event.retry = self.retry_ms.map(Duration::from_millis);
        event
    }
}

/// SSE events in Redis, with a local fallback.
#[derive(Debug, Clone)]
pub struct RedisEvents {
    link: Arc<RedisLink>,
    health: Arc<DependencyHealth>,
    local: Arc<Mutex<LocalEvents>>,
}

/// Events this replica could not store in Redis, newest last.
#[derive(Debug, Default)]
struct LocalEvents {
    next: u64,
    events: VecDeque<(u64, String, ServerSseMessage)>,
}

impl RedisEvents {
    /// Events kept through `link`, reporting to `health`.
    pub fn new(link: Arc<RedisLink>, health: Arc<DependencyHealth>) -> Self {
        RedisEvents {
            link,
            health,
            local: Arc::default(),
        }
    }

    fn key(stream: &str) -> String {
        format!("{REDIS_NAMESPACE}events:{stream}")
    }

    fn store_locally(&self, stream: &str, event: &ServerSseMessage) -> EventId {
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local.next += 1;
        let seq = local.next;
        if local.events.len() == LOCAL_EVENTS {
            local.events.pop_front();
        }
        local
            .events
            .push_back((seq, stream.to_owned(), event.clone()));
        format!("local-{seq}")
    }

    fn replay_locally(&self, after: u64) -> Vec<ServerSseMessage> {
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        let Some(stream) = local
            .events
            .iter()
            .find(|(seq, _, _)| *seq == after)
            .map(|(_, stream, _)| stream.clone())
        else {
            return Vec::new();
        };
        local
            .events
            .iter()
            .filter(|(seq, s, _)| *seq > after && *s == stream)
            .map(|(seq, _, event)| {
                let mut event = event.clone();
                event.event_id = Some(format!("local-{seq}"));
                event
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl EventStore for RedisEvents {
    async fn store_event(
        &self,
        stream_id: &str,
        event: &ServerSseMessage,
    ) -> Result<EventId, EventStoreError> {
        let json = serde_json::to_string(&StoredEvent::of(event))?;
        let key = Self::key(stream_id);
        let mut pipe = redis::pipe();
        pipe.cmd("RPUSH")
            .arg(&key)
            .arg(json)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(EVENTS_TTL.as_secs())
            .ignore();
        let link = Arc::clone(&self.link);
        let pushed: Option<(u64,)> = self
            .health
            .run(LIMIT, async move {
                let mut connection = link.connection().await?;
                pipe.query_async::<(u64,)>(&mut connection).await
            })
            .await;
        Ok(match pushed {
            Some((position,)) => format!("{stream_id}#{position}"),
            None => self.store_locally(stream_id, event),
        })
    }

    async fn replay_events_after(
        &self,
        last_event_id: &str,
    ) -> Result<EventStream, EventStoreError> {
        if let Some(seq) = last_event_id.strip_prefix("local-") {
            let after: u64 = seq.parse()?;
            let events = self.replay_locally(after);
            return Ok(Box::pin(futures_util::stream::iter(events)));
        }
        let Some((stream, position)) = last_event_id.rsplit_once('#') else {
            return Err(format!("{:.80} is not an event id of this server", last_event_id).into());
        };
        let position: u64 = position.parse()?;
        let stored: Vec<String> = self
            .health
            .run(
                LIMIT,
                self.link.run(
                    redis::cmd("LRANGE")
                        .arg(Self::key(stream))
                        .arg(position)
                        .arg(-1),
                ),
            )
            .await
            .ok_or("the event store (Redis) is unavailable; reconnect without Last-Event-ID")?;
        let events: Vec<ServerSseMessage> = stored
            .into_iter()
            .zip(position + 1..)
            .filter_map(|(json, at)| {
                let event: StoredEvent = serde_json::from_str(&json).ok()?;
                Some(event.into_message(format!("{stream}#{at}")))
            })
            .collect();
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

#[cfg(test)]
mod tests {
    //! Against a real `redis-server` on 127.0.0.1 (skipped loudly without
    //! one, a failure in CI), then with it gone.

    use super::*;
    use bk_fleet::testing::RedisServer;
    use rmcp::model::InitializeRequestParams;

    fn link(url: &str) -> Arc<RedisLink> {
        Arc::new(RedisLink::open(url, Duration::from_millis(500)).expect("a Redis URL"))
    }

    fn notification(n: u32) -> ServerSseMessage {
        let message: ServerJsonRpcMessage = serde_json::from_value(serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": {"progressToken": "t", "progress": n, "total": 3}
        }))
        .expect("a server notification");
        ServerSseMessage::from_message(message)
    }

    fn progress_of(event: &ServerSseMessage) -> Option<f64> {
        let message = serde_json::to_value(event.message.as_deref()?).ok()?;
        message["params"]["progress"].as_f64()
    }

    #[tokio::test]
    async fn sessions_and_events_live_in_redis_and_survive_its_loss() {
        let Some(redis) = RedisServer::start("the Redis session store tests") else {
            return;
        };
        let health = Arc::new(DependencyHealth::new("redis", Duration::from_millis(100)));
        // Two replicas: two stores over two links to one Redis.
        let first = RedisSessions::new(link(&redis.url()), Arc::clone(&health));
        let second = RedisSessions::new(link(&redis.url()), Arc::clone(&health));
        let params: InitializeRequestParams = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}
        }))
        .expect("initialize params");
        first
            .store("s-1", &SessionState::new(params))
            .await
            .expect("store");
        let loaded = second.load("s-1").await.expect("load").expect("found");
        assert_eq!(loaded.initialize_params.client_info.name, "e2e");
        assert!(second.load("s-unknown").await.expect("load").is_none());
        second.delete("s-1").await.expect("delete");
        assert!(first.load("s-1").await.expect("load").is_none());

        let writer = RedisEvents::new(link(&redis.url()), Arc::clone(&health));
        let reader = RedisEvents::new(link(&redis.url()), Arc::clone(&health));
        let mut ids = Vec::new();
        for n in 1..=3 {
            ids.push(
                writer
                    .store_event("stream-a", &notification(n))
                    .await
                    .expect("store"),
            );
        }
        writer
            .store_event("stream-b", &notification(9))
            .await
            .expect("store");
        assert_eq!(ids, ["stream-a#1", "stream-a#2", "stream-a#3"]);
        // Resumed on the other replica: only the later events of that stream,
        // with their ids.
        let replayed: Vec<ServerSseMessage> = futures_util::StreamExt::collect(
            reader
                .replay_events_after("stream-a#1")
                .await
                .expect("replay"),
        )
        .await;
        let seen: Vec<(Option<String>, Option<f64>)> = replayed
            .iter()
            .map(|e| (e.event_id.clone(), progress_of(e)))
            .collect();
        assert_eq!(
            seen,
            [
                (Some("stream-a#2".to_owned()), Some(2.0)),
                (Some("stream-a#3".to_owned()), Some(3.0))
            ]
        );
        assert!(reader.replay_events_after("no-hash").await.is_err());

        // Redis goes away: nothing fails. Sessions are unknown, events get
        // local ids and replay on this replica.
        drop(redis);
        let state = loaded;
        first
            .store("s-2", &state)
            .await
            .expect("a failed store is not an error");
        assert!(second.load("s-2").await.expect("load").is_none());
        let local_1 = writer
            .store_event("stream-c", &notification(1))
            .await
            .expect("local id");
        let local_2 = writer
            .store_event("stream-c", &notification(2))
            .await
            .expect("local id");
        assert!(
            local_1.starts_with("local-") && local_2.starts_with("local-"),
            "{local_1} {local_2}"
        );
        let replayed: Vec<ServerSseMessage> = futures_util::StreamExt::collect(
            writer.replay_events_after(&local_1).await.expect("replay"),
        )
        .await;
        assert_eq!(replayed.len(), 1);
        assert_eq!(replayed[0].event_id.as_deref(), Some(local_2.as_str()));
        assert_eq!(health.report().state, "down");
    }
}
