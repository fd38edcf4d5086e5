//! One lazily opened, self-healing connection to Redis, shared by the
//! leases and the session store of a replica.
//!
//! The connection is made on first use (so a replica starts while Redis is
//! down), every attempt and every command has a time limit, and a failed
//! connection is dropped so the next use reconnects.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisError};

use crate::FleetError;

/// A Redis server, reached on demand.
pub struct RedisLink {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    timeout: Duration,
    url: String,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink").field("url", &self.url).finish()
    }
}

impl RedisLink {
    /// A link to `url` (`redis://host:port/db` or `rediss://…`), with
    /// `timeout` on connecting and on each command. Nothing is sent yet.
    pub fn open(url: &str, timeout: Duration) -> Result<Self, FleetError> {
        let url = url.trim();
        let scheme = url.split_once("://").map(|(s, _)| s);
        if !matches!(scheme, Some("redis" | "rediss")) {
            return Err(FleetError::config(format!(
                "{} is not a Redis URL: use redis://host:6379 or rediss://host:6380",
                describe_url(url)
            )));
        }
        let client = redis::Client::open(url)
            .map_err(|e| FleetError::config(format!("{}: {e}", describe_url(url))))?;
        Ok(RedisLink {
            client,
            connection: tokio::sync::Mutex::new(None),
            timeout,
            url: describe_url(url),
        })
    }

    /// The URL without its password, for logs and reports.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// A connection: the open one, or a new one.
    pub async fn connection(&self) -> Result<MultiplexedConnection, RedisError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout));
        let connection = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    /// Runs `command` on a connection; a connection that failed is dropped
    /// so the next call reconnects.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, RedisError> {
        let mut connection = self.connection().await?;
        let outcome = command.query_async(&mut connection).await;
        if let Err(error) = &outcome
            && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped())
        {
            self.connection.lock().await.take();
        }
        outcome
    }

    /// Runs `script` with `keys` and `args`, as [`RedisLink::run`] does.
    pub async fn run_script<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, RedisError> {
        let mut connection = self.connection().await?;
        let mut invocation = script.prepare_invoke();
        for key in keys {
            invocation.key(*key);
        }
        for arg in args {
            invocation.arg(*arg);
        }
        let outcome = invocation.invoke_async(&mut connection).await;
        if let Err(error) = &outcome
            && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped())
        {
            self.connection.lock().await.take();
        }
        outcome
    }
}

/// `url` with any password replaced by `***`.
pub fn describe_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            parsed.to_string()
        }
        Err(_) => "the Redis URL".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let link = RedisLink::open("redis://:hunter2@127.0.0.1:6379/0", Duration::from_secs(1))
            .expect("valid URL");
        assert!(!link.describe().contains("hunter2"), "{}", link.describe());
        assert!(!format!("{link:?}").contains("hunter2"));
        let error =
            RedisLink::open("http://:hunter2@host", Duration::from_secs(1)).expect_err("not Redis");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(error.to_string().contains("redis://host:6379"), "{error}");
    }

    #[tokio::test]
    async fn an_unreachable_server_fails_within_the_timeout() {
        // A port nothing listens on: refused at once, or timed out.
        let link =
            RedisLink::open("redis://127.0.0.1:1/", Duration::from_millis(300)).expect("valid URL");
        let started = std::time::Instant::now();
        let outcome: Result<String, _> = link.run(&redis::cmd("PING")).await;
        assert!(outcome.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
