//! Deterministic zip writing and bounded zip reading (DESIGN invariant 7).
//!
//! Writer: entries sorted by name, every timestamp 1980-01-01 00:00:00, mode 0644 (0755 when asked),
//! system "Unix", one deflate backend (zlib-rs) at one level ([`DEFLATE_LEVEL`]), compression settings
//! that depend on an entry's length alone ([`deflate_config`]). The same entries give the same bytes on
//! every machine. Large archives are compressed in parallel, then appended in name order. The
//! container (local headers, central directory, end record; no data descriptors, no zip64, no extra
//! fields) is written here: it is the small, fixed subset gait needs, and the `zip` crate's writer
//! could not take entries compressed with settings of our choosing.
//!
//! Reader: the whole archive is held in memory (bounded by [`ZipLimits::max_archive_bytes`]) and
//! nothing is ever extracted to disk. It rejects duplicate names, absolute paths, `..`, backslashes,
//! directories, symlinks, encrypted entries and methods other than stored/deflate; every entry is
//! inflated under a byte cap (declared sizes are not trusted) and its CRC is checked.
//!
//! The writer enforces the reader's limits, so gait never writes an archive it would refuse to read.

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read};
use std::sync::Arc;
use zip::{CompressionMethod, ZipArchive};
use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Status};

/// The one deflate level gait writes with. Measured on the 100,000-record benchmark run (64 MB of
/// entries, zlib-rs): level 1 writes a 15.4 MB runpack, level 6 a 9.5 MB one for 7.5% more CPU in
/// `gait run record` (2.13 vs 2.29 CPU-seconds); inflating either costs the same in `gait verify`.
/// Recording is the hot path with a hard budget, so level 1. Changing it changes every zip gait writes.
pub const DEFLATE_LEVEL: i64 = 1;

/// Entries larger than this are compressed on the rayon pool; smaller archives stay on one thread
/// (spawning workers costs more than compressing a few kilobytes, and `gait demo` must start fast).
const PARALLEL_THRESHOLD: usize = 256 * 1024;

/// Reader caps. The defaults follow the reference (entries above 100 MiB are refused).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZipLimits {
    pub max_archive_bytes: u64,
    pub max_entries: usize,
    pub max_entry_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_archive_bytes: 576 * 1024 * 1024,
            max_entries: 64,
            max_entry_bytes: 100 * 1024 * 1024,
            max_total_bytes: 512 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ZipxError {
    #[error("not a valid zip archive: {0}")]
    NotZip(String),
    #[error("zip archive is {size} bytes, above the {limit}-byte limit")]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error("zip archive has {count} entries, above the limit of {limit}")]
    TooManyEntries { count: usize, limit: usize },
    #[error("zip archive contains duplicate entry names")]
    Duplicate,
    #[error("zip entry name {name:?} is unsafe: {reason}")]
    UnsafeName { name: String, reason: &'static str },
    #[error("zip entry {0:?} is a symlink; symlinks are not allowed")]
    Symlink(String),
    #[error("zip entry {0:?} is encrypted; encrypted entries are not allowed")]
    Encrypted(String),
    #[error("zip entry {name:?} uses unsupported compression method {method}")]
    Method { name: String, method: String },
    #[error("zip entry {name:?} is larger than the {limit}-byte entry limit")]
    EntryTooLarge { name: String, limit: u64 },
    #[error("zip entries total more than the {limit}-byte limit")]
    TotalTooLarge { limit: u64 },
    #[error("zip entry {name:?} is corrupt: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("write zip: {0}")]
    Write(String),
}

impl ZipxError {
    /// A stable snake_case code for the error envelope.
    pub fn code(&self) -> &'static str {
        match self {
            ZipxError::Duplicate => "zip_duplicate_entries",
            ZipxError::UnsafeName { .. } | ZipxError::Symlink(_) | ZipxError::Encrypted(_) => {
                "zip_unsafe_entry"
            }
            ZipxError::ArchiveTooLarge { .. }
            | ZipxError::TooManyEntries { .. }
            | ZipxError::EntryTooLarge { .. }
            | ZipxError::TotalTooLarge { .. } => "zip_limit_exceeded",
            ZipxError::Write(_) => "zip_write_failed",
            ZipxError::NotZip(_) | ZipxError::Method { .. } | ZipxError::Corrupt { .. } => {
                "zip_invalid"
            }
        }
    }
}

/// Checks an entry name: relative, `/`-separated, no empty, `.` or `..` segments, no backslash,
/// no drive letter, no control characters, not a directory.
pub fn check_entry_name(name: &str) -> Result<(), ZipxError> {
    let bad = |reason| {
        Err(ZipxError::UnsafeName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("empty name");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    if name.contains('\\') {
        return bad("backslash in path");
    }
    if name.contains(':') {
        return bad("drive letter or colon in path");
    }
    if name.chars().any(char::is_control) {
        return bad("control character in path");
    }
    if name.ends_with('/') {
        return bad("directory entries are not allowed");
    }
    for segment in name.split('/') {
        match segment {
            "" => return bad("empty path segment"),
            "." => return bad("'.' path segment"),
            ".." => return bad("'..' path segment escapes the archive"),
            _ => {}
        }
    }
    Ok(())
}

/// One file to write.
pub struct Entry<'a> {
    pub name: String,
    pub data: &'a [u8],
    pub executable: bool,
}

/// One file to write, held as consecutive chunks (written as if concatenated).
pub struct ChunkedEntry<'a> {
    pub name: String,
    pub chunks: Vec<&'a [u8]>,
    pub executable: bool,
}

impl ChunkedEntry<'_> {
    fn len(&self) -> usize {
        self.chunks.iter().map(|c| c.len()).sum()
    }
}

/// Bytes handed to the compressor per call. zlib-rs's fast level emits blocks according to how input
/// arrives, so the compressed bytes would depend on how an entry happens to be chunked in memory;
/// feeding fixed-size pieces makes them depend on the content alone.
const FEED: usize = 64 * 1024;

/// Entries up to this many bytes are compressed with a 4 KiB window and small buffers: the window
/// still spans the whole entry (plus zlib's 262-byte lookahead), so nothing is lost, and the
/// compressor's memory drops from ~380 KB to ~150 KB. For `gait demo` that is ~60 fresh pages fewer
/// to fault in, ~0.1 ms of its run.
const SMALL_ENTRY: usize = (1 << SMALL_WINDOW_BITS) - 262;
const SMALL_WINDOW_BITS: i32 = 12;

/// The compression settings of an entry, `small` when it has at most [`SMALL_ENTRY`] bytes: raw
/// deflate at [`DEFLATE_LEVEL`], zlib's standard 32 KiB window and memory level for larger ones. Changing this changes every zip
/// gait writes.
fn deflate_config(small: bool) -> DeflateConfig {
    DeflateConfig {
        level: DEFLATE_LEVEL as i32,
        window_bits: if small { -SMALL_WINDOW_BITS } else { -15 },
        mem_level: if small { 5 } else { 8 },
        ..DeflateConfig::default()
    }
}

/// One compressor per distinct setting, reused (reset) across the entries of one archive.
#[derive(Default)]
struct Compressors {
    small: Option<Deflate>,
    standard: Option<Deflate>,
}

impl Compressors {
    fn for_len(&mut self, len: usize) -> &mut Deflate {
        let small = len <= SMALL_ENTRY;
        let slot = if small {
            &mut self.small
        } else {
            &mut self.standard
        };
        match slot {
            Some(d) => {
                d.reset();
                d
            }
            None => slot.insert(Deflate::new_with_config(deflate_config(small))),
        }
    }
}

/// An entry compressed and described, ready to be laid out.
struct Compressed {
    name: String,
    data: Vec<u8>,
    crc32: u32,
    size: u64,
    executable: bool,
}

fn compress(
    entry: &ChunkedEntry<'_>,
    compressors: &mut Compressors,
) -> Result<Compressed, ZipxError> {
    let len = entry.len();
    let deflate = compressors.for_len(len);
    let mut crc = crc32fast::Hasher::new();
    let mut out: Vec<u8> = Vec::with_capacity(len / 2 + 64);
    let mut stage: Vec<u8> = Vec::new();
    let mut feed = |piece: &[u8], out: &mut Vec<u8>| -> Result<(), ZipxError> {
        crc.update(piece);
        run_deflate(deflate, piece, out, DeflateFlush::NoFlush, &entry.name)
    };
    for chunk in &entry.chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            if stage.is_empty() && rest.len() >= FEED {
                feed(&rest[..FEED], &mut out)?;
                rest = &rest[FEED..];
                continue;
            }
            let take = (FEED - stage.len()).min(rest.len());
            stage.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if stage.len() == FEED {
                feed(&stage, &mut out)?;
                stage.clear();
            }
        }
    }
    if !stage.is_empty() {
        feed(&stage, &mut out)?;
    }
    run_deflate(deflate, &[], &mut out, DeflateFlush::Finish, &entry.name)?;
    Ok(Compressed {
        name: entry.name.clone(),
        data: out,
        crc32: crc.finalize(),
        size: len as u64,
        executable: entry.executable,
    })
}

/// Feeds all of `input` (and, with `Finish`, ends the stream), appending what comes out to `out`.
fn run_deflate(
    deflate: &mut Deflate,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: DeflateFlush,
    name: &str,
) -> Result<(), ZipxError> {
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let (before_in, before_out) = (deflate.total_in(), deflate.total_out());
        let spare = out.spare_capacity_mut();
        let status = deflate
            .compress_uninit(input, spare, flush)
            .map_err(|e| ZipxError::Write(format!("{name}: deflate: {e:?}")))?;
        let produced = (deflate.total_out() - before_out) as usize;
        // SAFETY: the compressor initialised exactly `produced` bytes of the spare capacity.
        unsafe { out.set_len(out.len() + produced) };
        input = &input[(deflate.total_in() - before_in) as usize..];
        let done = match flush {
            DeflateFlush::Finish => status == Status::StreamEnd,
            _ => input.is_empty(),
        };
        if done {
            return Ok(());
        }
    }
}

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_CENTRAL_DIRECTORY: u32 = 0x0605_4b50;
/// Version 2.0 (deflate), made on Unix.
const VERSION_NEEDED: u16 = 20;
const VERSION_MADE_BY: u16 = (3 << 8) | VERSION_NEEDED;
const METHOD_DEFLATE: u16 = 8;
/// MS-DOS date of 1980-01-01 (time 00:00:00 is 0).
const DOS_DATE_1980: u16 = (1 << 5) | 1;
/// General-purpose flag: the name is UTF-8.
const FLAG_UTF8: u16 = 1 << 11;

/// Lays the compressed entries out as a zip archive, in the given (name) order.
fn layout(entries: &[Compressed], capacity: usize) -> Result<Vec<u8>, ZipxError> {
    let too_large = || ZipxError::Write("archive exceeds the 4 GiB zip format limit".into());
    let u32_of = |n: u64| u32::try_from(n).map_err(|_| too_large());
    let mut out: Vec<u8> = Vec::with_capacity(capacity);
    let put16 = |out: &mut Vec<u8>, v: u16| out.extend_from_slice(&v.to_le_bytes());
    let put32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
    // The fields a local header and its central-directory record share, from "version needed" to
    // "name length", followed by a zero extra-field length.
    let mut shared: Vec<Vec<u8>> = Vec::with_capacity(entries.len());
    for e in entries {
        let mut f = Vec::with_capacity(28);
        put16(&mut f, VERSION_NEEDED);
        put16(&mut f, if e.name.is_ascii() { 0 } else { FLAG_UTF8 });
        put16(&mut f, METHOD_DEFLATE);
        put16(&mut f, 0);
        put16(&mut f, DOS_DATE_1980);
        put32(&mut f, e.crc32);
        put32(&mut f, u32_of(e.data.len() as u64)?);
        put32(&mut f, u32_of(e.size)?);
        put16(
            &mut f,
            u16::try_from(e.name.len()).map_err(|_| too_large())?,
        );
        put16(&mut f, 0); // extra field length
        shared.push(f);
    }
    let mut offsets = Vec::with_capacity(entries.len());
    for (e, fields) in entries.iter().zip(&shared) {
        offsets.push(u32_of(out.len() as u64)?);
        put32(&mut out, LOCAL_HEADER);
        out.extend_from_slice(fields);
        out.extend_from_slice(e.name.as_bytes());
        out.extend_from_slice(&e.data);
    }
    let central_start = out.len();
    for ((e, fields), offset) in entries.iter().zip(&shared).zip(offsets) {
        let mode: u32 = 0o100_000 | if e.executable { 0o755 } else { 0o644 };
        put32(&mut out, CENTRAL_HEADER);
        put16(&mut out, VERSION_MADE_BY);
        out.extend_from_slice(fields);
        put16(&mut out, 0); // comment length
        put16(&mut out, 0); // disk number
        put16(&mut out, 0); // internal attributes
        put32(&mut out, mode << 16);
        put32(&mut out, offset);
        out.extend_from_slice(e.name.as_bytes());
    }
    let count = u16::try_from(entries.len()).map_err(|_| too_large())?;
    let central_size = u32_of((out.len() - central_start) as u64)?;
    let central_start = u32_of(central_start as u64)?;
    put32(&mut out, END_OF_CENTRAL_DIRECTORY);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk of the central directory
    put16(&mut out, count);
    put16(&mut out, count);
    put32(&mut out, central_size);
    put32(&mut out, central_start);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// Writes `entries` as a deterministic zip archive, refusing anything `limits` would refuse to read.
pub fn write_deterministic(
    entries: Vec<Entry<'_>>,
    limits: &ZipLimits,
) -> Result<Vec<u8>, ZipxError> {
    write_deterministic_chunked(
        entries
            .into_iter()
            .map(|e| ChunkedEntry {
                name: e.name,
                chunks: vec![e.data],
                executable: e.executable,
            })
            .collect(),
        limits,
    )
}

/// [`write_deterministic`] for entries held in chunks (no concatenation needed).
pub fn write_deterministic_chunked(
    mut entries: Vec<ChunkedEntry<'_>>,
    limits: &ZipLimits,
) -> Result<Vec<u8>, ZipxError> {
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    if entries.len() > limits.max_entries {
        return Err(ZipxError::TooManyEntries {
            count: entries.len(),
            limit: limits.max_entries,
        });
    }
    let mut total: u64 = 0;
    for (i, e) in entries.iter().enumerate() {
        check_entry_name(&e.name)?;
        if i > 0 && entries[i - 1].name == e.name {
            return Err(ZipxError::Duplicate);
        }
        if e.len() as u64 > limits.max_entry_bytes {
            return Err(ZipxError::EntryTooLarge {
                name: e.name.clone(),
                limit: limits.max_entry_bytes,
            });
        }
        total += e.len() as u64;
    }
    if total > limits.max_total_bytes {
        return Err(ZipxError::TotalTooLarge {
            limit: limits.max_total_bytes,
        });
    }
    let capacity = entries
        .iter()
        .map(|e| 2 * e.name.len() + 128)
        .sum::<usize>()
        + (total as usize / 3).min(64 * 1024 * 1024);
    let compressed: Vec<Compressed> = if entries.iter().any(|e| e.len() >= PARALLEL_THRESHOLD) {
        // Compress on the pool, lay out in name order: the bytes never depend on thread timing.
        entries
            .par_iter()
            .map(|e| compress(e, &mut Compressors::default()))
            .collect::<Result<_, _>>()?
    } else {
        // Small archives (the demo): compressors reused across entries, on this thread. Same bytes
        // as the parallel path (a reset compressor is a fresh one; a test holds them equal).
        let mut compressors = Compressors::default();
        entries
            .iter()
            .map(|e| compress(e, &mut compressors))
            .collect::<Result<_, _>>()?
    };
    let bytes = layout(&compressed, capacity)?;
    if bytes.len() as u64 > limits.max_archive_bytes {
        return Err(ZipxError::ArchiveTooLarge {
            size: bytes.len() as u64,
            limit: limits.max_archive_bytes,
        });
    }
    Ok(bytes)
}

/// Shared archive bytes that the zip reader can clone cheaply across threads.
#[derive(Clone)]
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// One entry's metadata as checked at open time.
#[derive(Clone, Debug)]
pub struct EntryInfo {
    pub name: String,
    /// Uncompressed size as declared by the archive (not trusted: reads are capped).
    pub declared_size: u64,
    pub compressed_size: u64,
    pub unix_mode: Option<u32>,
    index: usize,
}

/// A zip archive that passed the structural checks, held in memory.
pub struct Archive {
    zip: ZipArchive<Cursor<Shared>>,
    entries: Vec<EntryInfo>,
    limits: ZipLimits,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("entries", &self.entries)
            .finish()
    }
}

fn not_zip(e: zip::result::ZipError) -> ZipxError {
    ZipxError::NotZip(e.to_string())
}

impl Archive {
    /// Parses and checks an archive held in memory.
    pub fn open(bytes: Vec<u8>, limits: ZipLimits) -> Result<Self, ZipxError> {
        if bytes.len() as u64 > limits.max_archive_bytes {
            return Err(ZipxError::ArchiveTooLarge {
                size: bytes.len() as u64,
                limit: limits.max_archive_bytes,
            });
        }
        let mut zip = ZipArchive::new(Cursor::new(Shared(Arc::new(bytes)))).map_err(not_zip)?;
        if zip.len() > limits.max_entries {
            return Err(ZipxError::TooManyEntries {
                count: zip.len(),
                limit: limits.max_entries,
            });
        }
        if zip.has_duplicate_names() {
            return Err(ZipxError::Duplicate);
        }
        let mut entries = Vec::with_capacity(zip.len());
        let mut total: u64 = 0;
        for index in 0..zip.len() {
            let file = zip.by_index_raw(index).map_err(not_zip)?;
            let name = std::str::from_utf8(file.name_raw())
                .map_err(|_| ZipxError::UnsafeName {
                    name: String::from_utf8_lossy(file.name_raw()).into_owned(),
                    reason: "name is not UTF-8",
                })?
                .to_string();
            check_entry_name(&name)?;
            if file.is_symlink() {
                return Err(ZipxError::Symlink(name));
            }
            if file.is_dir() {
                return Err(ZipxError::UnsafeName {
                    name,
                    reason: "directory entries are not allowed",
                });
            }
            if file.encrypted() {
                return Err(ZipxError::Encrypted(name));
            }
            match file.compression() {
                CompressionMethod::Stored | CompressionMethod::Deflated => {}
                other => {
                    return Err(ZipxError::Method {
                        name,
                        method: format!("{other:?}"),
                    });
                }
            }
            if file.size() > limits.max_entry_bytes {
                return Err(ZipxError::EntryTooLarge {
                    name,
                    limit: limits.max_entry_bytes,
                });
            }
            total = total.saturating_add(file.size());
            if total > limits.max_total_bytes {
                return Err(ZipxError::TotalTooLarge {
                    limit: limits.max_total_bytes,
                });
            }
            entries.push(EntryInfo {
                name,
                declared_size: file.size(),
                compressed_size: file.compressed_size(),
                unix_mode: file.unix_mode(),
                index,
            });
        }
        Ok(Archive {
            zip,
            entries,
            limits,
        })
    }

    /// Entries in archive order.
    pub fn entries(&self) -> &[EntryInfo] {
        &self.entries
    }

    pub fn contains(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name)
    }

    fn info(&self, name: &str) -> Option<&EntryInfo> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Streams one entry's bytes into `sink`, capped at the entry limit; checks the CRC.
    fn stream(
        &self,
        info: &EntryInfo,
        sink: &mut dyn FnMut(&[u8]),
        total_budget: &mut u64,
    ) -> Result<u64, ZipxError> {
        let corrupt = |reason: String| ZipxError::Corrupt {
            name: info.name.clone(),
            reason,
        };
        let mut zip = self.zip.clone();
        let file = zip
            .by_index(info.index)
            .map_err(|e| corrupt(e.to_string()))?;
        let cap = self.limits.max_entry_bytes.min(*total_budget);
        let mut reader = file.take(cap + 1);
        // Sized to the entry (small entries are the common case; a fresh 64 KiB buffer per entry
        // showed up as page faults in `gait verify run_demo`).
        let mut buf = vec![0u8; (info.declared_size as usize).clamp(512, 64 * 1024)];
        let mut n_total: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(corrupt(e.to_string())),
            };
            n_total += n as u64;
            if n_total > cap {
                return Err(if cap == self.limits.max_entry_bytes {
                    ZipxError::EntryTooLarge {
                        name: info.name.clone(),
                        limit: self.limits.max_entry_bytes,
                    }
                } else {
                    ZipxError::TotalTooLarge {
                        limit: self.limits.max_total_bytes,
                    }
                });
            }
            sink(&buf[..n]);
        }
        *total_budget -= n_total;
        Ok(n_total)
    }

    /// Reads one entry fully; `None` when the archive has no such entry.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>, ZipxError> {
        let Some(info) = self.info(name) else {
            return Ok(None);
        };
        let mut out =
            Vec::with_capacity(info.declared_size.min(self.limits.max_entry_bytes) as usize);
        let mut budget = self.limits.max_total_bytes;
        self.stream(info, &mut |chunk| out.extend_from_slice(chunk), &mut budget)?;
        Ok(Some(out))
    }

    /// sha256 hex of one entry's bytes, computed while inflating; `None` when absent.
    pub fn sha256(&self, name: &str) -> Result<Option<String>, ZipxError> {
        let Some(info) = self.info(name) else {
            return Ok(None);
        };
        let mut hasher = Sha256::new();
        let mut budget = self.limits.max_total_bytes;
        self.stream(info, &mut |chunk| hasher.update(chunk), &mut budget)?;
        Ok(Some(hex::encode(hasher.finalize())))
    }

    /// sha256 of several entries, in parallel when the archive is big enough to be worth it.
    pub fn sha256_many(&self, names: &[&str]) -> Vec<Result<Option<String>, ZipxError>> {
        let declared: u64 = names
            .iter()
            .filter_map(|n| self.info(n))
            .map(|i| i.declared_size)
            .sum();
        if declared >= PARALLEL_THRESHOLD as u64 * 4 {
            names.par_iter().map(|n| self.sha256(n)).collect()
        } else {
            names.iter().map(|n| self.sha256(n)).collect()
        }
    }

    /// Reads several entries, in parallel when big enough.
    pub fn read_many(&self, names: &[&str]) -> Vec<Result<Option<Vec<u8>>, ZipxError>> {
        let declared: u64 = names
            .iter()
            .filter_map(|n| self.info(n))
            .map(|i| i.declared_size)
            .sum();
        if declared >= PARALLEL_THRESHOLD as u64 * 4 {
            names.par_iter().map(|n| self.read(n)).collect()
        } else {
            names.iter().map(|n| self.read(n)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    use zip::{DateTime, System, ZipWriter};

    fn entries<'a>(items: &[(&str, &'a [u8])]) -> Vec<Entry<'a>> {
        items
            .iter()
            .map(|(n, d)| Entry {
                name: n.to_string(),
                data: d,
                executable: false,
            })
            .collect()
    }

    #[test]
    fn writes_sorted_fixed_metadata_and_is_deterministic() {
        let big = vec![b'x'; PARALLEL_THRESHOLD + 10];
        let make = || {
            write_deterministic(
                entries(&[("run.json", b"{}"), ("big.txt", &big), ("a.jsonl", b"")]),
                &ZipLimits::default(),
            )
            .unwrap()
        };
        let bytes = make();
        assert_eq!(bytes, make(), "same entries, same bytes");
        let mut zip = ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
        let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
        assert_eq!(names, ["a.jsonl", "big.txt", "run.json"]);
        for i in 0..zip.len() {
            let f = zip.by_index(i).unwrap();
            assert_eq!(f.compression(), CompressionMethod::Deflated);
            assert_eq!(f.last_modified(), Some(DateTime::default()));
            assert_eq!(f.unix_mode(), Some(0o100644));
        }
        let archive = Archive::open(bytes, ZipLimits::default()).unwrap();
        assert_eq!(archive.read("big.txt").unwrap().unwrap(), big);
        assert_eq!(archive.read("a.jsonl").unwrap().unwrap(), b"");
        assert_eq!(archive.read("missing").unwrap(), None);
        assert_eq!(
            archive.sha256("run.json").unwrap().unwrap(),
            crate::canon::sha256_hex(b"{}")
        );
    }

    #[test]
    fn sequential_and_parallel_paths_write_the_same_bytes() {
        // Sizes on both sides of SMALL_ENTRY, so both compressors are reused (reset) in sequence.
        let data: Vec<(String, Vec<u8>)> = (0..6)
            .map(|i| {
                (
                    format!("e{i}.json"),
                    format!(
                        "{{\"i\":{i},\"text\":\"{}\"}}",
                        "abcd".repeat(700 * (i % 3))
                    )
                    .into_bytes(),
                )
            })
            .collect();
        assert!(data.iter().any(|(_, d)| d.len() <= SMALL_ENTRY));
        assert!(data.iter().any(|(_, d)| d.len() > SMALL_ENTRY));
        let items: Vec<(&str, &[u8])> = data
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let sequential = write_deterministic(entries(&items), &ZipLimits::default()).unwrap();
        // Each entry alone with a fresh compressor and in odd chunks, as a pool thread would.
        let fresh: Vec<Compressed> = entries(&items)
            .into_iter()
            .map(|e| {
                let chunked = ChunkedEntry {
                    name: e.name,
                    chunks: e.data.chunks(7).collect(),
                    executable: false,
                };
                compress(&chunked, &mut Compressors::default()).unwrap()
            })
            .collect();
        assert_eq!(sequential, layout(&fresh, 0).unwrap());
    }

    /// The zip crate's writer, which gait used before it laid archives out itself, with the
    /// settings it was given (level 1, raw deflate, standard window, fixed metadata).
    fn zip_crate_archive(name: &str, data: &[u8]) -> Vec<u8> {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .compression_level(Some(DEFLATE_LEVEL))
            .last_modified_time(DateTime::default())
            .system(System::Unix)
            .unix_permissions(0o644)
            .large_file(false);
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        w.start_file(name, options).unwrap();
        for piece in data.chunks(FEED) {
            w.write_all(piece).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn large_entries_are_the_bytes_earlier_gait_wrote() {
        let text: Vec<u8> = (0..20_000u32)
            .flat_map(|i| format!("{{\"n\":{i},\"w\":\"{}\"}}\n", i % 97).into_bytes())
            .collect();
        assert!(text.len() > 3 * FEED);
        let ours = write_deterministic(entries(&[("a.jsonl", &text)]), &ZipLimits::default());
        assert_eq!(ours.unwrap(), zip_crate_archive("a.jsonl", &text));
    }

    #[test]
    fn small_entries_use_small_settings_and_read_back_everywhere() {
        let json = br#"{"schema_id":"gait.runpack.run","run_id":"run_demo","timeline":[{"event":"run_started"},{"event":"run_started"}]}"#;
        let bytes = write_deterministic(
            entries(&[("run.json", json), ("x/\u{e9}.txt", b"")]),
            &ZipLimits::default(),
        )
        .unwrap();
        // The zip crate's reader agrees on names, methods, modes and content.
        let mut zip = ZipArchive::new(Cursor::new(bytes.clone())).unwrap();
        for i in 0..zip.len() {
            let mut f = zip.by_index(i).unwrap();
            assert_eq!(f.compression(), CompressionMethod::Deflated);
            assert_eq!(f.unix_mode(), Some(0o100644));
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            if f.name().unwrap() == "run.json" {
                assert_eq!(content, json);
            } else {
                assert_eq!(f.name().unwrap(), "x/\u{e9}.txt");
                assert!(content.is_empty());
            }
        }
        // The small window changes nothing for the reader and still compresses repetition.
        let archive = Archive::open(bytes, ZipLimits::default()).unwrap();
        assert_eq!(archive.read("run.json").unwrap().unwrap(), json);
        let small = compress(
            &ChunkedEntry {
                name: "r".into(),
                chunks: vec![&b"abcdefgh".repeat(200)],
                executable: false,
            },
            &mut Compressors::default(),
        )
        .unwrap();
        assert!(small.data.len() < 100, "{} bytes", small.data.len());
    }

    #[test]
    fn bytes_depend_on_content_not_on_chunking() {
        let text: Vec<u8> = (0..400_000u32)
            .flat_map(|i| format!("{{\"n\":{i},\"w\":\"{}\"}}\n", i % 97).into_bytes())
            .collect();
        let whole = write_deterministic_chunked(
            vec![ChunkedEntry {
                name: "a.jsonl".into(),
                chunks: vec![&text],
                executable: false,
            }],
            &ZipLimits::default(),
        )
        .unwrap();
        for size in [1000, 65_536, 100_003] {
            let chunked = write_deterministic_chunked(
                vec![ChunkedEntry {
                    name: "a.jsonl".into(),
                    chunks: text.chunks(size).collect(),
                    executable: false,
                }],
                &ZipLimits::default(),
            )
            .unwrap();
            assert_eq!(whole, chunked, "chunks of {size}");
        }
    }

    #[test]
    fn writer_refuses_what_the_reader_refuses() {
        let limits = ZipLimits {
            max_entry_bytes: 4,
            ..ZipLimits::default()
        };
        assert!(matches!(
            write_deterministic(entries(&[("a", b"12345")]), &limits),
            Err(ZipxError::EntryTooLarge { .. })
        ));
        assert_eq!(
            write_deterministic(entries(&[("a", b"1"), ("a", b"2")]), &ZipLimits::default()),
            Err(ZipxError::Duplicate)
        );
        for bad in [
            "../x", "/abs", "a/../b", "a\\b", "c:x", "dir/", "a//b", "./a", "",
        ] {
            assert!(
                matches!(
                    write_deterministic(entries(&[(bad, b"1")]), &ZipLimits::default()),
                    Err(ZipxError::UnsafeName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    /// Builds an archive with the zip crate directly, bypassing our writer's checks.
    fn raw_zip(build: impl FnOnce(&mut ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
        let mut w = ZipWriter::new(Cursor::new(Vec::new()));
        build(&mut w);
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn reader_rejects_unsafe_archives() {
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let traversal = raw_zip(|w| {
            w.start_file("../escape.txt", opts).unwrap();
            w.write_all(b"x").unwrap();
        });
        assert!(matches!(
            Archive::open(traversal, ZipLimits::default()),
            Err(ZipxError::UnsafeName { .. })
        ));
        let symlink = raw_zip(|w| {
            w.add_symlink("link", "/etc/passwd", opts).unwrap();
        });
        assert!(matches!(
            Archive::open(symlink, ZipLimits::default()),
            Err(ZipxError::Symlink(_))
        ));
        let many = raw_zip(|w| {
            for i in 0..3 {
                w.start_file(format!("f{i}"), opts).unwrap();
            }
        });
        let limits = ZipLimits {
            max_entries: 2,
            ..ZipLimits::default()
        };
        assert!(matches!(
            Archive::open(many, limits),
            Err(ZipxError::TooManyEntries { count: 3, limit: 2 })
        ));
        assert!(matches!(
            Archive::open(b"not a zip".to_vec(), ZipLimits::default()),
            Err(ZipxError::NotZip(_))
        ));
        let good = write_deterministic(entries(&[("a", b"hello")]), &ZipLimits::default()).unwrap();
        for cut in [1, 10, good.len() / 2, good.len() - 1] {
            assert!(
                Archive::open(good[..cut].to_vec(), ZipLimits::default()).is_err(),
                "truncated at {cut}"
            );
        }
    }

    #[test]
    fn duplicate_names_are_rejected() {
        // Two central-directory records with the same name: write two distinct names, then rename.
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let mut bytes = raw_zip(|w| {
            w.start_file("aa.json", opts).unwrap();
            w.write_all(b"1").unwrap();
            w.start_file("ab.json", opts).unwrap();
            w.write_all(b"2").unwrap();
        });
        replace_all(&mut bytes, b"ab.json", b"aa.json");
        assert_eq!(
            Archive::open(bytes, ZipLimits::default()).unwrap_err(),
            ZipxError::Duplicate
        );
    }

    fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
        let mut i = 0;
        while i + from.len() <= bytes.len() {
            if &bytes[i..i + from.len()] == from {
                bytes[i..i + from.len()].copy_from_slice(to);
            }
            i += 1;
        }
    }

    #[test]
    fn lying_sizes_and_bombs_are_capped() {
        let data = vec![0u8; 10_000];
        let bytes =
            write_deterministic(entries(&[("zeros", &data)]), &ZipLimits::default()).unwrap();
        let limits = ZipLimits {
            max_entry_bytes: 20_000,
            max_total_bytes: 5_000,
            ..ZipLimits::default()
        };
        // The declared size already exceeds the total: refused at open.
        assert!(matches!(
            Archive::open(bytes.clone(), limits),
            Err(ZipxError::TotalTooLarge { .. })
        ));
        // Patch the declared sizes down (local and central headers): inflating still stops at the cap.
        let mut patched = bytes.clone();
        let declared = (data.len() as u32).to_le_bytes();
        let small = 100u32.to_le_bytes();
        replace_all(&mut patched, &declared, &small);
        let limits = ZipLimits {
            max_entry_bytes: 1_000,
            ..ZipLimits::default()
        };
        let archive = Archive::open(patched, limits).unwrap();
        assert!(matches!(
            archive.read("zeros"),
            Err(ZipxError::EntryTooLarge { .. }) | Err(ZipxError::Corrupt { .. })
        ));
    }

    #[test]
    fn corrupted_data_fails_the_crc() {
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        let mut bytes = raw_zip(|w| {
            w.start_file("a.txt", opts).unwrap();
            w.write_all(b"hello world").unwrap();
        });
        replace_all(&mut bytes, b"hello world", b"hello World");
        let archive = Archive::open(bytes, ZipLimits::default()).unwrap();
        assert!(matches!(
            archive.read("a.txt"),
            Err(ZipxError::Corrupt { .. })
        ));
    }
}
