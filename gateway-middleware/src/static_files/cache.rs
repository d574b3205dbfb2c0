//! What is known about each file served: validators and ready-made header
//! values for every variant, and the bytes of small ones.
//!
//! Entries are keyed by the decoded path below the root, so the many
//! spellings of one path (`/a.txt`, `/%61.txt`) share one entry. A file is
//! looked at on disk (one `stat`) at most once per `revalidate_after`; the
//! request that finds its entry due does it, the others keep serving the
//! entry meanwhile. Memory is bounded by a total byte budget and an entry
//! count; past them, arbitrary entries are dropped (a hostile client
//! asking for many files can make the cache less useful, never larger).

use std::collections::HashMap;
use std::fs::File;
use std::hash::BuildHasherDefault;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::encoding::{Available, Encoding};
use super::fnv::Fnv;
use super::headers::{Stamp, content_etag};
use super::path;

/// The encodings a file may have, in `FileEntry::variants` order.
pub(super) const ENCODINGS: [Encoding; 4] = [
    Encoding::Identity,
    Encoding::Brotli,
    Encoding::Zstd,
    Encoding::Gzip,
];

fn slot(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Identity => 0,
        Encoding::Brotli => 1,
        Encoding::Zstd => 2,
        Encoding::Gzip => 3,
    }
}

/// One file to serve: the original and its precompressed siblings.
#[derive(Debug)]
pub(super) struct FileEntry {
    /// When it was last compared with the disk, in nanoseconds since the
    /// cache's epoch.
    checked: AtomicU64,
    pub(super) content_type: HeaderValue,
    /// Which siblings exist; all false means no `Vary`.
    pub(super) available: Available,
    variants: [Option<Variant>; 4],
}

/// One representation of a file (the original, or a `.br`/`.zst`/`.gz`
/// sibling).
#[derive(Debug)]
pub(super) struct Variant {
    pub(super) path: PathBuf,
    pub(super) stamp: Stamp,
    pub(super) etag: HeaderValue,
    /// The whole content, for files up to the cache's file size limit.
    pub(super) data: Option<Bytes>,
    /// The header fields of a `200` for it, but `Content-Length`: cloned
    /// per request rather than built (and each name hashed) anew.
    pub(super) headers: HeaderMap,
}

impl Variant {
    /// Its validators, for preconditions and `If-Range`.
    pub(super) fn validators(&self) -> crate::conditional::Validators<'_> {
        crate::conditional::Validators {
            etag: Some(&self.etag),
            last_modified: Some(self.stamp.mtime),
        }
    }
}

/// The fields of a `200` for `variant`. `Content-Length` is left to the
/// body's exact size.
fn ready_headers(
    variant: &Variant,
    encoding: Encoding,
    content_type: &HeaderValue,
    cache_control: &HeaderValue,
    vary: bool,
) -> HeaderMap {
    use http::header::{
        ACCEPT_RANGES, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, LAST_MODIFIED, VARY,
        X_CONTENT_TYPE_OPTIONS,
    };
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(CONTENT_TYPE, content_type.clone());
    headers.insert(ETAG, variant.etag.clone());
    headers.insert(LAST_MODIFIED, variant.stamp.last_modified());
    headers.insert(CACHE_CONTROL, cache_control.clone());
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if vary {
        headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    }
    if let Some(coding) = encoding.content_encoding() {
        headers.insert(CONTENT_ENCODING, coding);
    }
    headers
}

impl FileEntry {
    /// The representation for `encoding`; the original when that one does
    /// not exist.
    pub(super) fn variant(&self, encoding: Encoding) -> &Variant {
        match &self.variants[slot(encoding)] {
            Some(v) => v,
            None => self.identity(),
        }
    }

    pub(super) fn identity(&self) -> &Variant {
        self.variants[0]
            .as_ref()
            .expect("every entry has its original")
    }

    pub(super) fn has_variants(&self) -> bool {
        self.available != Available::default()
    }

    /// Bytes held in memory.
    fn size(&self) -> u64 {
        self.variants
            .iter()
            .flatten()
            .filter_map(|v| v.data.as_ref())
            .map(|d| d.len() as u64)
            .sum()
    }
}

/// How to build an entry: the policy parts of the configuration.
pub(super) struct LoadOptions<'a> {
    pub(super) root: &'a Path,
    pub(super) symlinks_outside_root: bool,
    pub(super) precompressed: bool,
    pub(super) max_file: u64,
    /// For files that are neither HTML nor fingerprinted.
    pub(super) cache_control: &'a HeaderValue,
    pub(super) html_cache_control: &'a HeaderValue,
    pub(super) immutable_cache_control: &'a HeaderValue,
}

impl LoadOptions<'_> {
    fn cache_control(&self, name: &str, content_type: &HeaderValue) -> HeaderValue {
        if super::headers::is_fingerprinted(name) {
            self.immutable_cache_control.clone()
        } else if super::headers::is_html(content_type) {
            self.html_cache_control.clone()
        } else {
            self.cache_control.clone()
        }
    }
}

/// Builds the entry for the regular file at `path` (already resolved),
/// `rel` being its path below the root. Blocking.
pub(super) fn load(
    opts: &LoadOptions<'_>,
    rel: &str,
    path: PathBuf,
    now: SystemTime,
) -> io::Result<FileEntry> {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let content_type = super::headers::content_type(name);
    let cache_control = opts.cache_control(name, &content_type);
    let mut variants: [Option<Variant>; 4] = Default::default();
    variants[0] = Some(load_variant(path, opts.max_file, now)?);
    let mut available = Available::default();
    if opts.precompressed {
        let mut sibling = String::with_capacity(rel.len() + 4);
        for encoding in &ENCODINGS[1..] {
            sibling.clear();
            sibling.push_str(rel);
            sibling.push_str(encoding.extension());
            let Ok(path) = path::resolve(opts.root, &sibling, opts.symlinks_outside_root) else {
                continue;
            };
            // A sibling that is not a readable regular file is not offered.
            let Ok(v) = load_variant(path, opts.max_file, now) else {
                continue;
            };
            match encoding {
                Encoding::Brotli => available.br = true,
                Encoding::Zstd => available.zstd = true,
                Encoding::Gzip => available.gzip = true,
                Encoding::Identity => {}
            }
            variants[slot(*encoding)] = Some(v);
        }
    }
    let vary = available != Available::default();
    for (variant, encoding) in variants.iter_mut().zip(ENCODINGS) {
        if let Some(variant) = variant {
            variant.headers = ready_headers(variant, encoding, &content_type, &cache_control, vary);
        }
    }
    Ok(FileEntry {
        checked: AtomicU64::new(0),
        content_type,
        available,
        variants,
    })
}

fn load_variant(path: PathBuf, max_file: u64, now: SystemTime) -> io::Result<Variant> {
    // A file being rewritten while it is read is read again; one that
    // keeps changing is an error.
    for _ in 0..3 {
        let mut file = File::open(&path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::ErrorKind::NotFound.into());
        }
        let stamp = Stamp::of(&meta);
        let data = if stamp.len <= max_file {
            let mut buf = Vec::with_capacity(stamp.len as usize);
            (&mut file).take(stamp.len + 1).read_to_end(&mut buf)?;
            if buf.len() as u64 != stamp.len || Stamp::of(&file.metadata()?) != stamp {
                continue;
            }
            Some(Bytes::from(buf))
        } else {
            None
        };
        // Held in memory: tagged by its content. Streamed: by its size
        // and time stamp.
        let etag = match &data {
            Some(data) => content_etag(data),
            None => stamp.etag(now),
        };
        return Ok(Variant {
            headers: HeaderMap::new(),
            etag,
            path,
            stamp,
            data,
        });
    }
    Err(io::Error::other("file keeps changing while it is read"))
}

/// Opens a variant too large to be held in memory, checking it is still
/// the version its headers describe. Blocking.
pub(super) fn open_checked(path: &Path, stamp: Stamp) -> io::Result<Option<File>> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    Ok((meta.is_file() && Stamp::of(&meta) == stamp).then_some(file))
}

/// Whether the files behind `entry` are unchanged on disk: one `stat` of
/// each (the original and the precompressed siblings it has). A sibling
/// added later is found when the entry is next loaded, that is when any
/// of its files changes (siblings are usually built with the original).
///
/// An entry whose entity tags were weak only because its files had just
/// changed (streamed files; a file held in memory is tagged by its
/// content, strong at once) is reloaded once they have settled, so a file
/// served right after a deployment does not keep a weak tag (which
/// `If-Range` and `If-Match` never match) for as long as it stays
/// unchanged. Blocking.
pub(super) fn still_valid(entry: &FileEntry) -> bool {
    let now = SystemTime::now();
    let weak_until_now = entry.variants.iter().flatten().any(|v| {
        v.etag.as_bytes().starts_with(b"W/") && !v.stamp.etag(now).as_bytes().starts_with(b"W/")
    });
    !weak_until_now
        && entry.variants.iter().flatten().all(|v| {
            std::fs::metadata(&v.path).is_ok_and(|m| m.is_file() && Stamp::of(&m) == v.stamp)
        })
}

/// The longest path remembered as missing, in bytes: 16,384 of them are
/// then at most 16 MiB of keys.
const MAX_MISSING_KEY: usize = 1024;

/// The cache of entries. See the [module docs](self).
#[derive(Debug)]
pub(super) struct Cache {
    epoch: Instant,
    maps: RwLock<Maps>,
    /// Paths found missing, and when: a miss is remembered for
    /// `revalidate_after` too, so requests for the application behind a
    /// middleware at `/` do not each look at the disk. One map for file
    /// requests, one for directory requests (`usize::from(index)`), so a
    /// lookup borrows the key instead of building a tuple of it.
    missing: RwLock<[HashMap<Box<str>, u64>; 2]>,
    capacity: u64,
    max_entries: usize,
    revalidate_after: u64,
}

#[derive(Debug, Default)]
struct Maps {
    /// Files by their decoded path below the root. FNV-1a, not SipHash:
    /// only paths naming a file under the root become keys, so clients
    /// cannot choose colliding keys (the map of misses keeps SipHash).
    files: HashMap<Box<str>, Arc<FileEntry>, BuildHasherDefault<Fnv>>,
    /// Directory index files by the directory's decoded path.
    indexes: HashMap<Box<str>, Arc<FileEntry>, BuildHasherDefault<Fnv>>,
    bytes: u64,
}

impl Maps {
    fn map_mut(
        &mut self,
        index: bool,
    ) -> &mut HashMap<Box<str>, Arc<FileEntry>, BuildHasherDefault<Fnv>> {
        if index {
            &mut self.indexes
        } else {
            &mut self.files
        }
    }
}

/// What a lookup found.
pub(super) enum Lookup {
    /// Fresh: serve it.
    Fresh(Arc<FileEntry>),
    /// Due for a look at the disk, which this caller was chosen to take.
    Due(Arc<FileEntry>),
    Miss,
}

impl Cache {
    pub(super) fn new(capacity: u64, max_entries: usize, revalidate_after: Duration) -> Cache {
        Cache {
            epoch: Instant::now(),
            maps: RwLock::default(),
            missing: RwLock::default(),
            capacity,
            max_entries,
            revalidate_after: u64::try_from(revalidate_after.as_nanos()).unwrap_or(u64::MAX),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    pub(super) fn get(&self, key: &str, index: bool) -> Lookup {
        let entry = {
            let maps = self.maps.read().unwrap_or_else(|e| e.into_inner());
            let map = if index { &maps.indexes } else { &maps.files };
            match map.get(key) {
                Some(entry) => entry.clone(),
                None => return Lookup::Miss,
            }
        };
        let now = self.now();
        let checked = entry.checked.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < self.revalidate_after {
            return Lookup::Fresh(entry);
        }
        // One caller per period looks at the disk; the others serve what
        // is cached until it has.
        match entry
            .checked
            .compare_exchange(checked, now, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Lookup::Due(entry),
            Err(_) => Lookup::Fresh(entry),
        }
    }

    /// Stores `entry` (just loaded, so checked now) and returns it shared.
    pub(super) fn insert(&self, key: &str, index: bool, entry: FileEntry) -> Arc<FileEntry> {
        {
            let mut missing = self.missing.write().unwrap_or_else(|e| e.into_inner());
            missing[usize::from(index)].remove(key);
        }
        entry.checked.store(self.now(), Ordering::Relaxed);
        let size = entry.size();
        let entry = Arc::new(entry);
        if size > self.capacity || self.max_entries == 0 {
            return entry;
        }
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        let maps = &mut *maps;
        let map = maps.map_mut(index);
        if let Some(old) = map.insert(key.into(), entry.clone()) {
            maps.bytes -= old.size();
        }
        maps.bytes += size;
        // Over budget: drop others, in no particular order, until it fits.
        while maps.bytes > self.capacity || maps.files.len() + maps.indexes.len() > self.max_entries
        {
            let victim = maps
                .files
                .keys()
                .map(|k| (false, k))
                .chain(maps.indexes.keys().map(|k| (true, k)))
                .find(|&(i, k)| !(i == index && &**k == key))
                .map(|(i, k)| (i, k.clone()));
            let Some((i, k)) = victim else { break };
            let map = if i {
                &mut maps.indexes
            } else {
                &mut maps.files
            };
            if let Some(old) = map.remove(&k) {
                maps.bytes -= old.size();
            }
        }
        entry
    }

    /// Whether `key` was found missing less than `revalidate_after` ago.
    pub(super) fn known_missing(&self, key: &str, index: bool) -> bool {
        let missing = self.missing.read().unwrap_or_else(|e| e.into_inner());
        missing[usize::from(index)]
            .get(key)
            .is_some_and(|&at| self.now().saturating_sub(at) < self.revalidate_after)
    }

    /// Remembers that `key` is missing. Past `max_entries` misses, all are
    /// forgotten at once: random paths cannot grow the cache.
    pub(super) fn insert_missing(&self, key: &str, index: bool) {
        // Keys come from clients: a long one is not worth its memory (a
        // request target can be tens of kilobytes).
        if self.revalidate_after == 0 || self.max_entries == 0 || key.len() > MAX_MISSING_KEY {
            return;
        }
        let now = self.now();
        let mut missing = self.missing.write().unwrap_or_else(|e| e.into_inner());
        if missing[0].len() + missing[1].len() >= self.max_entries {
            missing.iter_mut().for_each(HashMap::clear);
        }
        missing[usize::from(index)].insert(Box::from(key), now);
    }

    pub(super) fn remove(&self, key: &str, index: bool) {
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        let maps = &mut *maps;
        let map = maps.map_mut(index);
        if let Some(old) = map.remove(key) {
            maps.bytes -= old.size();
        }
    }

    #[cfg(test)]
    fn stats(&self) -> (usize, u64) {
        let maps = self.maps.read().unwrap();
        (maps.files.len() + maps.indexes.len(), maps.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bytes: usize) -> FileEntry {
        let stamp = Stamp {
            len: bytes as u64,
            mtime: SystemTime::UNIX_EPOCH,
            inode: 1,
            device: 1,
        };
        let mut variants: [Option<Variant>; 4] = Default::default();
        variants[0] = Some(Variant {
            path: PathBuf::from("/nonexistent"),
            stamp,
            etag: HeaderValue::from_static("\"x\""),
            data: Some(Bytes::from(vec![0; bytes])),
            headers: HeaderMap::new(),
        });
        FileEntry {
            checked: AtomicU64::new(0),
            content_type: HeaderValue::from_static("text/plain"),
            available: Available::default(),
            variants,
        }
    }

    #[test]
    fn stays_within_its_byte_budget_and_entry_count() {
        let cache = Cache::new(1000, 5, Duration::from_secs(1));
        for i in 0..20 {
            cache.insert(&format!("f{i}"), false, entry(300));
            let (n, bytes) = cache.stats();
            assert!(bytes <= 1000 && n <= 5, "{n} entries, {bytes} bytes");
        }
        assert!(
            matches!(cache.get("f19", false), Lookup::Fresh(_)),
            "the newest stays"
        );
        cache.insert("big", false, entry(2000));
        assert!(
            matches!(cache.get("big", false), Lookup::Miss),
            "larger than the budget"
        );
        for i in 0..20 {
            cache.insert(&format!("d{i}"), true, entry(0));
            assert!(cache.stats().0 <= 5);
        }
        cache.remove("d19", true);
        assert!(matches!(cache.get("d19", true), Lookup::Miss));
        assert_eq!(cache.stats().1, 0);
    }

    #[test]
    fn long_or_many_misses_are_not_kept() {
        let cache = Cache::new(1000, 3, Duration::from_secs(60));
        cache.insert_missing("short", false);
        assert!(cache.known_missing("short", false));
        assert!(
            !cache.known_missing("short", true),
            "a directory request is another key"
        );
        let long = "x".repeat(MAX_MISSING_KEY + 1);
        cache.insert_missing(&long, false);
        assert!(!cache.known_missing(&long, false));
        for i in 0..10 {
            cache.insert_missing(&format!("m{i}"), false);
            let missing = cache.missing.read().unwrap();
            assert!(missing[0].len() + missing[1].len() <= 3);
        }
        // Found after all: no longer missing.
        cache.insert("m9", false, entry(1));
        assert!(!cache.known_missing("m9", false));
    }

    #[test]
    fn one_caller_per_period_revalidates() {
        let cache = Cache::new(1000, 5, Duration::from_millis(50));
        cache.insert("a", false, entry(1));
        assert!(matches!(cache.get("a", false), Lookup::Fresh(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(cache.get("a", false), Lookup::Due(_)));
        assert!(
            matches!(cache.get("a", false), Lookup::Fresh(_)),
            "someone is on it"
        );
        let zero = Cache::new(1000, 5, Duration::ZERO);
        zero.insert("a", false, entry(1));
        std::thread::sleep(Duration::from_millis(1));
        assert!(matches!(zero.get("a", false), Lookup::Due(_)));
    }
}
