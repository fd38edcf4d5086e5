//! One cache entry: the parsed log of one job, on disk.
//!
//! Layout (little-endian):
//!
//! ```text
//! header  128 B   magic, format version, section lengths, table CRC, header CRC
//! body            checksummed in 16 KiB chunks (see `checked`)
//!   text          every row's visible text, each followed by '\n'
//!   index         8 B per row: u32 text offset, i32 timestamp delta (ms)
//!   meta          JSON: job state, times, counts (small; read on open)
//!   groups        JSON: the groups (read only when asked for)
//! table           one CRC32 per body chunk
//! ```
//!
//! Keeping the text contiguous lets a search run one regex over large
//! buffers (as grep does) instead of once per row; the index costs 8 bytes
//! per row. An entry is written to a temporary file and renamed into place,
//! so readers only ever see complete entries.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::checked::{CHUNK_SIZE, CheckedReader, ChunkedWriter};
use crate::error::{Error, Result};
use crate::parse::{GroupStyle, Row, RowKind, RowSink, group_name};

const MAGIC: &[u8; 8] = b"BKLOGIDX";
/// Version of the on-disk format; entries of any other version are rebuilt.
pub const FORMAT_VERSION: u32 = 2;
pub(crate) const HEADER_LEN: u64 = 128;
/// Bytes per row in the index.
pub(crate) const INDEX_ENTRY: u64 = 8;
/// Index value for a row without a timestamp.
const NO_TS: i32 = i32::MIN;

/// A group (section) of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Title, without the `--- ` prefix.
    pub name: String,
    /// How the header was written.
    pub style: GroupStyle,
    /// Row of the header.
    pub header_row: u64,
    /// Rows in the group, the header included.
    pub row_count: u64,
    /// First timestamp in the group.
    pub first_ts: Option<i64>,
    /// Last timestamp in the group.
    pub last_ts: Option<i64>,
    /// Expanded by a `+++` header or a later `^^^ +++`.
    pub expanded: bool,
}

/// Facts about an entry, stored in its meta section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryMeta {
    /// The cache key the entry was written for.
    pub key: String,
    /// Job state when the log was fetched, if known.
    pub job_state: Option<String>,
    /// Whether the job had finished: its log can no longer change.
    pub terminal: bool,
    /// When the entry was written (ms since the epoch).
    pub cached_at_ms: i64,
    /// Raw log bytes parsed.
    pub raw_bytes: u64,
    /// Base of the timestamp deltas in the index.
    pub ts_base: i64,
    /// First timestamp in the log.
    pub first_ts: Option<i64>,
    /// Last timestamp in the log.
    pub last_ts: Option<i64>,
    /// Lines cut at the line limit.
    pub truncated_lines: u64,
    /// Timestamps that did not fit the index (over ±24 days from the first).
    pub dropped_timestamps: u64,
    /// Number of groups (the groups themselves are a separate section).
    pub group_count: usize,
}

/// The fixed-size header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) row_count: u64,
    pub(crate) text_len: u64,
    pub(crate) meta_len: u64,
    pub(crate) groups_len: u64,
    pub(crate) table_crc: u32,
}

impl Header {
    pub(crate) fn index_len(&self) -> u64 {
        self.row_count * INDEX_ENTRY
    }

    pub(crate) fn body_len(&self) -> u64 {
        self.groups_offset() + self.groups_len
    }

    pub(crate) fn meta_offset(&self) -> u64 {
        self.text_len + self.index_len()
    }

    pub(crate) fn groups_offset(&self) -> u64 {
        self.meta_offset() + self.meta_len
    }

    fn table_entries(&self) -> u64 {
        self.body_len().div_ceil(CHUNK_SIZE)
    }

    fn encode(&self) -> [u8; HEADER_LEN as usize] {
        let mut out = [0u8; HEADER_LEN as usize];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[12..16].copy_from_slice(&(CHUNK_SIZE as u32).to_le_bytes());
        out[16..24].copy_from_slice(&self.row_count.to_le_bytes());
        out[24..32].copy_from_slice(&self.text_len.to_le_bytes());
        out[32..40].copy_from_slice(&self.meta_len.to_le_bytes());
        out[40..44].copy_from_slice(&self.table_crc.to_le_bytes());
        out[44..52].copy_from_slice(&self.groups_len.to_le_bytes());
        let crc = crc32fast::hash(&out[..124]);
        out[124..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8; HEADER_LEN as usize]) -> Result<Self> {
        if &bytes[..8] != MAGIC {
            return Err(Error::Corrupt("not a log cache entry".into()));
        }
        let u32_at = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let u64_at = |at: usize| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(word)
        };
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(Error::Version {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        if crc32fast::hash(&bytes[..124]) != u32_at(124) {
            return Err(Error::Corrupt("header checksum mismatch".into()));
        }
        if u64::from(u32_at(12)) != CHUNK_SIZE {
            return Err(Error::Corrupt("unexpected chunk size".into()));
        }
        let header = Header {
            row_count: u64_at(16),
            text_len: u64_at(24),
            meta_len: u64_at(32),
            groups_len: u64_at(44),
            table_crc: u32_at(40),
        };
        // Guard the arithmetic below against absurd values.
        if header.row_count > 1 << 40
            || header.text_len > 1 << 42
            || header.meta_len > 1 << 36
            || header.groups_len > 1 << 36
        {
            return Err(Error::Corrupt("header sizes are out of range".into()));
        }
        Ok(header)
    }
}

/// Builds an entry from parsed rows. Create it with [`EntryWriter::new`],
/// feed it rows (it is a [`RowSink`]), then call [`EntryWriter::finish`].
#[derive(Debug)]
pub(crate) struct EntryWriter {
    /// The entry file; text is written to it as rows arrive.
    text: ChunkedWriter,
    /// Scratch file for the index, appended after the text at the end, so
    /// memory stays flat whatever the log size.
    index: BufWriter<File>,
    text_len: u64,
    rows: u64,
    ts_base: Option<i64>,
    first_ts: Option<i64>,
    last_ts: Option<i64>,
    dropped_timestamps: u64,
    groups: Vec<GroupInfo>,
}

impl EntryWriter {
    /// Starts an entry in `file` (empty), with a scratch file in `scratch_dir`.
    pub(crate) fn new(mut file: File, scratch_dir: &Path) -> Result<Self> {
        file.write_all(&[0u8; HEADER_LEN as usize])?;
        let index = tempfile::tempfile_in(scratch_dir)?;
        Ok(EntryWriter {
            text: ChunkedWriter::new(file),
            index: BufWriter::with_capacity(64 * 1024, index),
            text_len: 0,
            rows: 0,
            ts_base: None,
            first_ts: None,
            last_ts: None,
            dropped_timestamps: 0,
            groups: Vec::new(),
        })
    }

    /// Writes the index, meta, checksum table and header. `meta` gives the
    /// job facts; the counts and groups are filled in here.
    pub(crate) fn finish(mut self, mut meta: EntryMeta) -> Result<(File, Header, EntryMeta)> {
        let mut index = self.index.into_inner().map_err(|e| e.into_error())?;
        index.seek(SeekFrom::Start(0))?;
        let copied = io::copy(
            &mut (&mut index).take(self.rows * INDEX_ENTRY),
            &mut self.text,
        )?;
        if copied != self.rows * INDEX_ENTRY {
            return Err(Error::Corrupt("index scratch file is short".into()));
        }
        meta.ts_base = self.ts_base.unwrap_or(0);
        meta.first_ts = self.first_ts;
        meta.last_ts = self.last_ts;
        meta.dropped_timestamps = self.dropped_timestamps;
        meta.group_count = self.groups.len();
        let meta_bytes = serde_json::to_vec(&meta)
            .map_err(|e| Error::Corrupt(format!("cannot encode entry meta: {e}")))?;
        self.text.write_all(&meta_bytes)?;
        let groups_bytes = serde_json::to_vec(&self.groups)
            .map_err(|e| Error::Corrupt(format!("cannot encode the groups: {e}")))?;
        self.text.write_all(&groups_bytes)?;
        let (mut file, table) = self.text.finish()?;
        let mut table_bytes = Vec::with_capacity(table.len() * 4);
        for crc in &table {
            table_bytes.extend_from_slice(&crc.to_le_bytes());
        }
        file.write_all(&table_bytes)?;
        let header = Header {
            row_count: self.rows,
            text_len: self.text_len,
            meta_len: meta_bytes.len() as u64,
            groups_len: groups_bytes.len() as u64,
            table_crc: crc32fast::hash(&table_bytes),
        };
        file.write_all_at(&header.encode(), 0)?;
        Ok((file, header, meta))
    }
}

impl RowSink for EntryWriter {
    fn row(&mut self, row: &Row<'_>) -> io::Result<()> {
        let start = u32::try_from(self.text_len).map_err(|_| {
            io::Error::other("the log's text passed 4 GiB, the most one entry can index")
        })?;
        let delta = match row.ts {
            None => NO_TS,
            Some(ts) => {
                let base = *self.ts_base.get_or_insert(ts);
                self.first_ts.get_or_insert(ts);
                self.last_ts = Some(ts);
                match i32::try_from(ts - base) {
                    Ok(delta) if delta != NO_TS => delta,
                    _ => {
                        self.dropped_timestamps += 1;
                        NO_TS
                    }
                }
            }
        };
        let mut entry = [0u8; INDEX_ENTRY as usize];
        entry[..4].copy_from_slice(&start.to_le_bytes());
        entry[4..].copy_from_slice(&delta.to_le_bytes());
        self.index.write_all(&entry)?;
        self.text.write_all(row.content.as_bytes())?;
        self.text.write_all(b"\n")?;
        self.text_len += row.content.len() as u64 + 1;
        self.rows += 1;

        match row.kind {
            RowKind::GroupHeader(style) => {
                let name = group_name(&row.content).map_or("", |(_, name)| name);
                self.groups.push(GroupInfo {
                    name: name.to_owned(),
                    style,
                    header_row: row.number,
                    row_count: 0,
                    first_ts: None,
                    last_ts: None,
                    expanded: style == GroupStyle::Expanded,
                });
            }
            RowKind::ReopenGroup => {
                if let Some(group) = self.groups.last_mut() {
                    group.expanded = true;
                }
            }
            RowKind::Text => {}
        }
        if let Some(group) = self.groups.last_mut() {
            group.row_count += 1;
            if let Some(ts) = row.ts {
                group.first_ts.get_or_insert(ts);
                group.last_ts = Some(ts);
            }
        }
        Ok(())
    }
}

/// An opened, validated entry.
#[derive(Debug)]
pub(crate) struct OpenEntry {
    pub(crate) header: Header,
    pub(crate) meta: EntryMeta,
    pub(crate) body: CheckedReader,
}

/// Opens and validates an entry: header, checksum table and meta. The text
/// and index are verified chunk by chunk as they are read.
pub(crate) fn open_entry(file: File) -> Result<OpenEntry> {
    let file_len = file.metadata()?.len();
    let mut header_bytes = [0u8; HEADER_LEN as usize];
    if file_len < HEADER_LEN {
        return Err(Error::Corrupt(
            "the entry is shorter than its header".into(),
        ));
    }
    file.read_exact_at(&mut header_bytes, 0)?;
    let header = Header::decode(&header_bytes)?;
    let table_len = header.table_entries() * 4;
    if file_len != HEADER_LEN + header.body_len() + table_len {
        return Err(Error::Corrupt(format!(
            "the entry is {file_len} bytes, its header says {}",
            HEADER_LEN + header.body_len() + table_len
        )));
    }
    let mut table_bytes = vec![0u8; table_len as usize];
    file.read_exact_at(&mut table_bytes, HEADER_LEN + header.body_len())?;
    if crc32fast::hash(&table_bytes) != header.table_crc {
        return Err(Error::Corrupt("checksum table mismatch".into()));
    }
    let table = table_bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let body = CheckedReader::new(file, HEADER_LEN, header.body_len(), table)?;
    let mut buffer = Vec::new();
    let meta_bytes = body.read(header.meta_offset(), header.meta_len, &mut buffer)?;
    let meta: EntryMeta = serde_json::from_slice(meta_bytes)
        .map_err(|e| Error::Corrupt(format!("entry meta does not decode: {e}")))?;
    Ok(OpenEntry { header, meta, body })
}

/// Opens an entry and checks every chunk of it, not only those a read
/// touches.
pub(crate) fn open_entry_verified(file: File) -> Result<OpenEntry> {
    let entry = open_entry(file)?;
    entry.body.verify_all()?;
    Ok(entry)
}

/// Reads and decodes an entry's groups section.
pub(crate) fn read_groups(entry: &OpenEntry) -> Result<Vec<GroupInfo>> {
    let mut buffer = Vec::new();
    let bytes = entry.body.read(
        entry.header.groups_offset(),
        entry.header.groups_len,
        &mut buffer,
    )?;
    serde_json::from_slice(bytes).map_err(|e| Error::Corrupt(format!("groups do not decode: {e}")))
}

/// Decodes one index entry: (text offset, timestamp).
pub(crate) fn decode_index(entry: &[u8], ts_base: i64) -> (u64, Option<i64>) {
    let start = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
    let delta = i32::from_le_bytes([entry[4], entry[5], entry[6], entry[7]]);
    let ts = (delta != NO_TS).then(|| ts_base + i64::from(delta));
    (u64::from(start), ts)
}
