//! The shared log store over the `object_store` crate: S3 and S3-compatible
//! servers (and GCS, Azure behind the `gcs` and `azure` features), or
//! memory for tests.
//!
//! Credentials come from the standard variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, …), read by `object_store`
//! itself; this module never holds or prints them. `describe` shows the
//! URL only.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bk_logs::shared::{Published, SharedError, SharedStore};
use bk_logs::source::{LogChunks, SourceError, SourceErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use crate::FleetError;

/// Entries up to this size are written in one create-only request; larger
/// ones in parts.
const SINGLE_PUT_LIMIT: u64 = 16 << 20;
/// Bytes read from the entry file per upload part.
const PART_BYTES: usize = 8 << 20;

/// Finished logs' entries in an object store, under a prefix.
#[derive(Debug, Clone)]
pub struct ObjectTier {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    url: String,
}

impl ObjectTier {
    /// A tier at `url`: `s3://bucket/prefix`, `gs://…` or `az://…` (with
    /// their features), or `memory://` (this process only, for tests).
    pub fn from_url(url: &str) -> Result<Self, FleetError> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|e| FleetError::config(format!("{url:?} is not a URL: {e}")))?;
        let prefix = parsed.path().trim_matches('/').to_owned();
        let bucket_url = format!(
            "{}://{}",
            parsed.scheme(),
            parsed.host_str().unwrap_or_default()
        );
        let store: Arc<dyn ObjectStore> = match parsed.scheme() {
            "s3" | "s3a" => {
                if parsed.host_str().is_none_or(str::is_empty) {
                    return Err(FleetError::config(
                        "an s3:// URL needs a bucket: s3://bucket/prefix",
                    ));
                }
                let store = object_store::aws::AmazonS3Builder::from_env()
                    .with_url(&bucket_url)
                    .with_retry(quick_retries())
                    .build()
                    .map_err(|e| FleetError::config(format!("cannot use {bucket_url}: {e}")))?;
                Arc::new(store)
            }
            "gs" => gcs(&bucket_url)?,
            "az" | "azure" | "abfs" | "abfss" => azure(&bucket_url)?,
            "memory" => Arc::new(object_store::memory::InMemory::new()),
            other => {
                return Err(FleetError::config(format!(
                    "the {other}:// scheme is not a shared store: use s3://bucket/prefix (or gs://, az://)"
                )));
            }
        };
        Ok(ObjectTier::new(store, &prefix, url.trim()))
    }

    /// A tier over any `store`, with object names under `prefix`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, url: &str) -> Self {
        ObjectTier {
            store,
            prefix: prefix.trim_matches('/').to_owned(),
            url: url.to_owned(),
        }
    }

    /// The store underneath (tests and benchmarks look into it).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The object path of an entry's shared name.
    pub fn path(&self, name: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(name)
        } else {
            Path::from(format!("{}/{name}", self.prefix))
        }
    }

    async fn exists(&self, path: &Path) -> Result<bool, object_store::Error> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    async fn put_whole(
        &self,
        path: &Path,
        entry: File,
        len: u64,
    ) -> Result<Published, SharedError> {
        let bytes = tokio::task::spawn_blocking(move || read_all(&entry, len)).await??;
        let create = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(path, PutPayload::from(bytes.clone()), create)
            .await
        {
            Ok(_) => Ok(Published::Stored),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Published::AlreadyThere),
            // A store without conditional writes (`aws_conditional_put=disabled`):
            // entries are whole and immutable, so a plain write after a look is
            // safe, if not atomic.
            Err(object_store::Error::NotImplemented { .. }) => {
                if self.exists(path).await? {
                    return Ok(Published::AlreadyThere);
                }
                self.store.put(path, PutPayload::from(bytes)).await?;
                Ok(Published::Stored)
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn put_parts(
        &self,
        path: &Path,
        entry: File,
        len: u64,
    ) -> Result<Published, SharedError> {
        if self.exists(path).await? {
            return Ok(Published::AlreadyThere);
        }
        let upload = self.store.put_multipart(path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
        let entry = Arc::new(entry);
        let mut offset = 0;
        while offset < len {
            let want = PART_BYTES.min(usize::try_from(len - offset).unwrap_or(PART_BYTES));
            let file = Arc::clone(&entry);
            let part = tokio::task::spawn_blocking(move || {
                let mut buffer = vec![0u8; want];
                file.read_exact_at(&mut buffer, offset).map(|()| buffer)
            })
            .await??;
            offset += part.len() as u64;
            writer.wait_for_capacity(2).await?;
            writer.put(Bytes::from(part));
        }
        writer.finish().await?;
        Ok(Published::Stored)
    }
}

/// Few, quick retries: the cache is an optimisation, and a call must not
/// wait out a long back-off on a store that is down (the engine's time
/// limit and health tracking decide what happens next).
fn quick_retries() -> object_store::RetryConfig {
    object_store::RetryConfig {
        backoff: object_store::BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(300),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(1),
    }
}

/// The whole entry, read from its start whatever the handle's position.
fn read_all(entry: &File, len: u64) -> std::io::Result<Bytes> {
    let len = usize::try_from(len).map_err(std::io::Error::other)?;
    let mut bytes = vec![0u8; len];
    entry.read_exact_at(&mut bytes, 0)?;
    Ok(Bytes::from(bytes))
}

#[async_trait]
impl SharedStore for ObjectTier {
    async fn get(&self, name: &str) -> Result<Option<Box<dyn LogChunks>>, SharedError> {
        match self.store.get(&self.path(name)).await {
            Ok(found) => Ok(Some(Box::new(StreamChunks {
                stream: found.into_stream(),
            }))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    async fn put_new(&self, name: &str, entry: File, len: u64) -> Result<Published, SharedError> {
        let path = self.path(name);
        if len <= SINGLE_PUT_LIMIT {
            self.put_whole(&path, entry, len).await
        } else {
            self.put_parts(&path, entry, len).await
        }
    }

    async fn delete(&self, name: &str) -> Result<(), SharedError> {
        match self.store.delete(&self.path(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    fn describe(&self) -> String {
        self.url.clone()
    }
}

/// An object's bytes as the log engine's chunks.
struct StreamChunks {
    stream: BoxStream<'static, object_store::Result<Bytes>>,
}

#[async_trait]
impl LogChunks for StreamChunks {
    async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, SourceError> {
        match self.stream.next().await {
            None => Ok(None),
            Some(Ok(bytes)) => Ok(Some(bytes.to_vec())),
            Some(Err(error)) => Err(SourceError::new(SourceErrorKind::Other, error)),
        }
    }
}

#[cfg(feature = "gcs")]
fn gcs(bucket_url: &str) -> Result<Arc<dyn ObjectStore>, FleetError> {
    let store = object_store::gcp::GoogleCloudStorageBuilder::from_env()
        .with_url(bucket_url)
        .with_retry(quick_retries())
        .build()
        .map_err(|e| FleetError::config(format!("cannot use {bucket_url}: {e}")))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "gcs"))]
fn gcs(_: &str) -> Result<Arc<dyn ObjectStore>, FleetError> {
    Err(FleetError::config(
        "gs:// needs a build with the `gcs` feature (cargo install … --features gcs)",
    ))
}

#[cfg(feature = "azure")]
fn azure(bucket_url: &str) -> Result<Arc<dyn ObjectStore>, FleetError> {
    let store = object_store::azure::MicrosoftAzureBuilder::from_env()
        .with_url(bucket_url)
        .with_retry(quick_retries())
        .build()
        .map_err(|e| FleetError::config(format!("cannot use {bucket_url}: {e}")))?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "azure"))]
fn azure(_: &str) -> Result<Arc<dyn ObjectStore>, FleetError> {
    Err(FleetError::config(
        "az:// needs a build with the `azure` feature (cargo install … --features azure)",
    ))
}
