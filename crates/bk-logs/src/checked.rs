//! Files whose body is checksummed in fixed-size chunks.
//!
//! The writer computes a CRC32 per [`CHUNK_SIZE`] bytes of body as it
//! streams; the table of checksums goes at the end. A reader verifies only
//! the chunks a read touches, so reading 50 rows of a 1 GiB entry checks a
//! few KiB, and any corruption is caught before a byte of it is served.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result};

/// Bytes per checksummed chunk.
pub const CHUNK_SIZE: u64 = 16 * 1024;

/// Writes a body and records one CRC32 per chunk.
#[derive(Debug)]
pub(crate) struct ChunkedWriter {
    out: BufWriter<File>,
    crc: crc32fast::Hasher,
    fill: u64,
    written: u64,
    table: Vec<u32>,
}

impl ChunkedWriter {
    /// Starts writing at the file's current position.
    pub(crate) fn new(file: File) -> Self {
        ChunkedWriter {
            out: BufWriter::with_capacity(256 * 1024, file),
            crc: crc32fast::Hasher::new(),
            fill: 0,
            written: 0,
            table: Vec::new(),
        }
    }

    /// Body bytes written so far.
    #[cfg(test)]
    pub(crate) fn position(&self) -> u64 {
        self.written
    }

    /// Finishes the last chunk; returns the file and the checksum table.
    pub(crate) fn finish(mut self) -> io::Result<(File, Vec<u32>)> {
        if self.fill > 0 {
            let crc = std::mem::take(&mut self.crc).finalize();
            self.table.push(crc);
        }
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok((file, self.table))
    }
}

impl Write for ChunkedWriter {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            let room = (CHUNK_SIZE - self.fill) as usize;
            let take = room.min(data.len());
            self.crc.update(&data[..take]);
            self.out.write_all(&data[..take])?;
            self.fill += take as u64;
            self.written += take as u64;
            data = &data[take..];
            if self.fill == CHUNK_SIZE {
                let crc = std::mem::take(&mut self.crc).finalize();
                self.table.push(crc);
                self.fill = 0;
            }
        }
        Ok(total)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Reads body ranges of a file, checking every chunk it touches.
#[derive(Debug)]
pub(crate) struct CheckedReader {
    file: File,
    /// File offset where the body starts.
    body_start: u64,
    /// Length of the checksummed body.
    body_len: u64,
    table: Vec<u32>,
}

impl CheckedReader {
    pub(crate) fn new(file: File, body_start: u64, body_len: u64, table: Vec<u32>) -> Result<Self> {
        if table.len() as u64 != body_len.div_ceil(CHUNK_SIZE) {
            return Err(Error::Corrupt(
                "checksum table does not match the body size".into(),
            ));
        }
        Ok(CheckedReader {
            file,
            body_start,
            body_len,
            table,
        })
    }

    /// Reads `len` body bytes from `offset` (relative to the body start),
    /// using `buffer` as storage, and returns them. The buffer is reused
    /// without being cleared, so repeated reads neither zero nor shift it.
    pub(crate) fn read<'b>(
        &self,
        offset: u64,
        len: u64,
        buffer: &'b mut Vec<u8>,
    ) -> Result<&'b [u8]> {
        if len == 0 {
            return Ok(&[]);
        }
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= self.body_len)
            .ok_or_else(|| Error::Corrupt("a read points past the end of the entry".into()))?;
        let first = offset / CHUNK_SIZE;
        let last = (end - 1) / CHUNK_SIZE;
        let span_start = first * CHUNK_SIZE;
        let span_end = ((last + 1) * CHUNK_SIZE).min(self.body_len);
        let span = usize::try_from(span_end - span_start)
            .map_err(|_| Error::Corrupt("read too large".into()))?;
        if buffer.len() < span {
            buffer.resize(span, 0);
        }
        let chunks = &mut buffer[..span];
        self.file
            .read_exact_at(chunks, self.body_start + span_start)?;
        for (i, chunk) in chunks.chunks(CHUNK_SIZE as usize).enumerate() {
            let index = first as usize + i;
            if crc32fast::hash(chunk) != self.table[index] {
                return Err(Error::Corrupt(format!(
                    "checksum mismatch in chunk {index}"
                )));
            }
        }
        let skip = (offset - span_start) as usize;
        Ok(&buffer[skip..skip + len as usize])
    }

    /// The underlying file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Checks every chunk of the body, reading it in blocks: what an entry
    /// that arrived from elsewhere (the shared tier) must pass before it is
    /// served.
    pub(crate) fn verify_all(&self) -> Result<()> {
        const BLOCK: u64 = 64 * CHUNK_SIZE;
        let mut buffer = Vec::new();
        let mut offset = 0;
        while offset < self.body_len {
            let len = BLOCK.min(self.body_len - offset);
            self.read(offset, len, &mut buffer)?;
            offset += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Seek, SeekFrom};

    fn write_body(body: &[u8]) -> (File, Vec<u32>) {
        let file = tempfile::tempfile().unwrap();
        let mut writer = ChunkedWriter::new(file);
        for piece in body.chunks(1000) {
            writer.write_all(piece).unwrap();
        }
        assert_eq!(writer.position(), body.len() as u64);
        writer.finish().unwrap()
    }

    #[test]
    fn reads_any_range_and_verifies_it() {
        let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let (file, table) = write_body(&body);
        assert_eq!(table.len(), 19);
        let reader = CheckedReader::new(file, 0, body.len() as u64, table).unwrap();
        let mut out = Vec::new();
        for (offset, len) in [(0, 10), (65_530, 20), (200_000, 100_000), (299_999, 1)] {
            let got = reader.read(offset, len, &mut out).unwrap();
            assert_eq!(got, &body[offset as usize..(offset + len) as usize]);
        }
        assert!(reader.read(299_999, 2, &mut out).is_err());
    }

    #[test]
    fn a_flipped_byte_is_detected() {
        let body = vec![7u8; 200_000];
        let (mut file, table) = write_body(&body);
        file.seek(SeekFrom::Start(150_000)).unwrap();
        file.write_all(&[8]).unwrap();
        let reader = CheckedReader::new(file, 0, body.len() as u64, table).unwrap();
        let mut out = Vec::new();
        reader.read(0, 1000, &mut out).unwrap();
        let error = reader.read(140_000, 20_000, &mut out).unwrap_err();
        assert!(matches!(error, Error::Corrupt(_)), "{error:?}");
    }
}
