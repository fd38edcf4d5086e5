//! The on-disk cache: one entry per job, bounded in size.
//!
//! - Entries are written to a temporary file in the cache directory and
//!   renamed into place, so a reader (in this or another process) sees a
//!   complete old entry or a complete new one, never a mix.
//! - An entry that fails any check (header, checksums, version) is deleted
//!   and reported as missing, so the caller rebuilds it.
//! - Opening an entry marks it used (its modification time); when the
//!   directory grows past its bound, the least recently used entries go.
//!   An open entry stays readable after eviction (Unix semantics).

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::entry::{EntryMeta, EntryWriter, FORMAT_VERSION, open_entry, open_entry_verified};
use crate::error::{Error, Result};
use crate::parse::{ParseSummary, Parser, ParserOptions};
use crate::query::LogFile;

/// Default bound on the cache directory's size: 2 GiB.
pub const DEFAULT_MAX_CACHE_BYTES: u64 = 2 << 30;
const ENTRY_SUFFIX: &str = ".bklog";
const TEMP_PREFIX: &str = ".tmp-";
/// Temporary files older than this are leftovers of a crashed writer.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// Identifies one job's log. Job UUIDs are unique across Buildkite, so the
/// key is the organization and job only: a build given by number or by UUID
/// maps to the same entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EntryKey {
    /// Organization slug.
    pub org: String,
    /// Job UUID.
    pub job_id: String,
}

impl EntryKey {
    /// A key for `org` and `job_id`.
    pub fn new(org: impl Into<String>, job_id: impl Into<String>) -> Self {
        EntryKey {
            org: org.into(),
            job_id: job_id.into(),
        }
    }

    /// The key as text, stored in the entry to detect mix-ups.
    pub fn as_text(&self) -> String {
        format!("{}/{}", self.org, self.job_id)
    }

    /// The entry's name in a shared store: the format version, then the
    /// local file name, so an entry written by another format version is
    /// never even looked up (`v2/acme-0190…-1a2b….bklog`).
    pub fn shared_name(&self) -> String {
        format!("v{FORMAT_VERSION}/{}", self.file_name())
    }

    /// A file name that is safe whatever the key holds: readable characters
    /// kept, the rest replaced, plus a hash of the exact key.
    fn file_name(&self) -> String {
        let readable: String = format!("{}-{}", self.org, self.job_id)
            .chars()
            .take(80)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{readable}-{:016x}{ENTRY_SUFFIX}",
            fnv1a(self.as_text().as_bytes())
        )
    }
}

/// 64-bit FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Current time in ms since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A cache directory.
#[derive(Debug, Clone)]
pub struct LogCache {
    dir: PathBuf,
    max_bytes: u64,
    parser: ParserOptions,
}

impl LogCache {
    /// A cache in `dir` (created if needed), bounded to `max_bytes`.
    pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(LogCache {
            dir,
            max_bytes,
            parser: ParserOptions::default(),
        })
    }

    /// A cache at a `file://` URL (as in `BKLOG_CACHE_URL`) or a plain path.
    pub fn from_url(url: &str, max_bytes: u64) -> Result<Self> {
        let path = match url.split_once("://") {
            Some(("file", rest)) => rest,
            Some((scheme, _)) => {
                return Err(Error::InvalidArgument(format!(
                    "unsupported cache URL scheme {scheme:?}: use file:///path or a plain path"
                )));
            }
            None => url,
        };
        if path.is_empty() {
            return Err(Error::InvalidArgument("the cache path is empty".into()));
        }
        LogCache::new(expand_home(path), max_bytes)
    }

    /// The default directory: the user's cache directory, `bk-mcp/logs`.
    pub fn default_dir() -> PathBuf {
        dirs::cache_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("bk-mcp")
            .join("logs")
    }

    /// Sets the parser options used for new entries.
    pub fn with_parser_options(mut self, options: ParserOptions) -> Self {
        self.parser = options;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `key`'s entry.
    pub fn path_for(&self, key: &EntryKey) -> PathBuf {
        self.dir.join(key.file_name())
    }

    /// Opens `key`'s entry if it exists and passes every check. A corrupt,
    /// old-format or mismatched entry is deleted and `None` returned.
    pub fn open(&self, key: &EntryKey) -> Result<Option<LogFile>> {
        let path = self.path_for(key);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let checked = open_entry(file.try_clone()?).and_then(|entry| {
            if entry.meta.key == key.as_text() {
                Ok(entry)
            } else {
                Err(Error::Corrupt("entry belongs to another key".into()))
            }
        });
        match checked {
            Ok(entry) => {
                // Mark as recently used for eviction; failure is harmless.
                let _ = file.set_modified(SystemTime::now());
                Ok(Some(LogFile::new(entry)))
            }
            Err(Error::Io(e)) => Err(Error::Io(e)),
            Err(problem) => {
                tracing::warn!(path = %path.display(), %problem, "discarding a bad log cache entry");
                let _ = fs::remove_file(&path);
                Ok(None)
            }
        }
    }

    /// A new temporary file in the cache directory, for an entry arriving
    /// from elsewhere; see [`LogCache::install`].
    pub(crate) fn temp_file(&self) -> Result<tempfile::NamedTempFile> {
        Ok(tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?)
    }

    /// Moves a complete entry written elsewhere (the shared tier) into place,
    /// after checking every chunk of it and that it is `key`'s. A file that
    /// fails is deleted and the reason returned; nothing is installed.
    pub(crate) fn install(&self, key: &EntryKey, temp: tempfile::NamedTempFile) -> Result<LogFile> {
        let entry = open_entry_verified(temp.as_file().try_clone()?)?;
        if entry.meta.key != key.as_text() {
            return Err(Error::Corrupt("entry belongs to another key".into()));
        }
        if !entry.meta.terminal {
            return Err(Error::Corrupt(
                "a shared entry must be of a finished job".into(),
            ));
        }
        drop(entry);
        let persisted = temp
            .persist(self.path_for(key))
            .map_err(|e| Error::Io(e.error))?;
        let entry = open_entry(persisted)?;
        if let Err(error) = self.evict() {
            tracing::warn!(%error, "log cache eviction failed");
        }
        Ok(LogFile::new(entry))
    }

    /// Starts writing a new entry for `key`.
    pub fn begin(&self, key: &EntryKey) -> Result<Ingest> {
        let temp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(&self.dir)?;
        let file = temp.as_file().try_clone()?;
        Ok(Ingest {
            cache: self.clone(),
            key: key.clone(),
            writer: EntryWriter::new(file, &self.dir)?,
            parser: Parser::new(self.parser),
            temp,
        })
    }

    /// Parses a whole log from `reader` into a new entry.
    pub fn ingest_reader(
        &self,
        key: &EntryKey,
        mut reader: impl Read,
        job_state: Option<String>,
        terminal: bool,
    ) -> Result<LogFile> {
        let mut ingest = self.begin(key)?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => ingest.feed(&buffer[..n])?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        ingest.finish(job_state, terminal)
    }

    /// Deletes `key`'s entry, if any.
    pub fn remove(&self, key: &EntryKey) -> Result<()> {
        match fs::remove_file(self.path_for(key)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Total size of the entries, in bytes.
    pub fn size(&self) -> Result<u64> {
        Ok(self.entries()?.iter().map(|e| e.1).sum())
    }

    /// Deletes least recently used entries until the cache fits its bound,
    /// and temporary files left by crashed writers. Returns bytes freed.
    pub fn evict(&self) -> Result<u64> {
        let mut entries = self.entries()?;
        let mut total: u64 = entries.iter().map(|e| e.1).sum();
        let mut freed = 0;
        entries.sort_by_key(|e| e.2);
        for (path, size, _) in entries {
            if total <= self.max_bytes {
                break;
            }
            if fs::remove_file(&path).is_ok() {
                total -= size;
                freed += size;
            }
        }
        self.remove_stale_temps();
        Ok(freed)
    }

    /// (path, size, last used) of each entry.
    fn entries(&self) -> Result<Vec<(PathBuf, u64, SystemTime)>> {
        let mut entries = Vec::new();
        for item in fs::read_dir(&self.dir)? {
            let Ok(item) = item else { continue };
            let name = item.file_name();
            if !name.to_string_lossy().ends_with(ENTRY_SUFFIX) {
                continue;
            }
            if let Ok(meta) = item.metadata() {
                let used = meta.modified().unwrap_or(UNIX_EPOCH);
                entries.push((item.path(), meta.len(), used));
            }
        }
        Ok(entries)
    }

    fn remove_stale_temps(&self) {
        let Ok(items) = fs::read_dir(&self.dir) else {
            return;
        };
        for item in items.flatten() {
            let stale = item
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_TEMP);
            if stale && item.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(item.path());
            }
        }
    }
}

fn expand_home(path: &str) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => dirs::home_dir().map_or_else(|| PathBuf::from(path), |home| home.join(rest)),
        None => PathBuf::from(path),
    }
}

/// An entry being written: feed it raw log bytes, then [`Ingest::finish`].
/// Dropping it unfinished leaves no trace.
#[derive(Debug)]
pub struct Ingest {
    cache: LogCache,
    key: EntryKey,
    writer: EntryWriter,
    parser: Parser,
    temp: tempfile::NamedTempFile,
}

impl Ingest {
    /// Parses the next chunk of raw log.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        self.parser
            .feed(chunk, &mut self.writer)
            .map_err(write_error)
    }

    /// Completes the entry, moves it into place and returns it opened.
    pub fn finish(self, job_state: Option<String>, terminal: bool) -> Result<LogFile> {
        let Ingest {
            cache,
            key,
            mut writer,
            parser,
            temp,
        } = self;
        let summary: ParseSummary = parser.finish(&mut writer).map_err(write_error)?;
        let meta = EntryMeta {
            key: key.as_text(),
            job_state,
            terminal,
            cached_at_ms: now_ms(),
            raw_bytes: summary.raw_bytes,
            ts_base: 0,
            first_ts: None,
            last_ts: None,
            truncated_lines: summary.truncated_lines,
            dropped_timestamps: 0,
            group_count: 0,
        };
        let (file, _, _) = writer.finish(meta)?;
        drop(file);
        let path = cache.path_for(&key);
        let persisted = temp.persist(&path).map_err(|e| Error::Io(e.error))?;
        let entry = open_entry(persisted)?;
        if let Err(error) = cache.evict() {
            tracing::warn!(%error, "log cache eviction failed");
        }
        Ok(LogFile::new(entry))
    }
}

/// Turns a sink error back into the engine's error (the 4 GiB limit is the
/// only error the entry writer raises itself).
fn write_error(error: io::Error) -> Error {
    if error.kind() == io::ErrorKind::Other && error.to_string().contains("4 GiB") {
        Error::TooLarge(error.to_string())
    } else {
        Error::Io(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_distinct() {
        let a = EntryKey::new("acme", "../../etc/passwd").file_name();
        assert!(!a.contains('/') && a.ends_with(ENTRY_SUFFIX), "{a}");
        let b = EntryKey::new("acme-x", "y").file_name();
        let c = EntryKey::new("acme", "x-y").file_name();
        assert_ne!(b, c, "same readable part, different keys");
    }

    #[test]
    fn open_file_urls_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().join("c").display());
        let cache = LogCache::from_url(&url, 1 << 20).unwrap();
        assert!(cache.dir().ends_with("c"));
        assert!(LogCache::from_url("s3://bucket/x", 1).is_err());
        assert!(LogCache::from_url("file://", 1).is_err());
    }
}
