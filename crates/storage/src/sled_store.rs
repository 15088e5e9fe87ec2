//! The sled-backed [`Store`].
//!
//! # Key layout
//!
//! Everything lives in **one sled tree** named `kreisnetz`, so that a commit and a compaction are
//! each one `Tree::apply_batch` (atomic on disk and for concurrent readers). The first byte of a
//! key says what it is; integers are big-endian so keys sort numerically; a variable-length
//! string that is followed by more key bytes is prefixed with its length (`u32` BE), so any
//! string, even one containing NUL or the other tags, maps to exactly one key.
//!
//! | key                                              | value payload                          |
//! |--------------------------------------------------|----------------------------------------|
//! | `V`                                              | layout version, `u32` BE (currently 1) |
//! | `F`                                              | highest feed sequence assigned, `u64` BE |
//! | `d` ‖ doc                                        | document record (below)                |
//! | `s` ‖ doc                                        | compacted snapshot                     |
//! | `c` ‖ len(doc) `u32` ‖ doc ‖ index `u64`         | one appended chunk                     |
//! | `f` ‖ seq `u64`                                  | one change-feed event                  |
//! | `y` ‖ len(peer) `u32` ‖ peer ‖ doc               | Automerge sync state of (peer, doc)    |
//! | `m` ‖ key                                        | named meta value                       |
//! | `E`                                              | feed epoch, `u64` BE (since layout 2)  |
//! | `G`                                              | feed floor: events up to it were pruned, `u64` BE |
//! | `p` ‖ len(key) `u32` ‖ key ‖ part `u32`          | one part of a large value (below)      |
//!
//! Every value is wrapped in the checksummed envelope of [`crate::codec`] (checksum over key and
//! payload), verified on every read.
//!
//! The **document record** is `first_chunk u64 ‖ next_chunk u64 ‖ chunk_bytes u64 ‖
//! has_snapshot u8 ‖ heads count u32 ‖ heads (32 bytes each)`. Chunk indexes are per document and
//! never reused: a commit writes chunk `next_chunk` and bumps it; a compaction removes chunks
//! `first_chunk..next_chunk`, writes the snapshot and sets `first_chunk = next_chunk`. A load
//! reads exactly the chunks the record names and reports any missing one (or a byte count that
//! does not add up) as corrupt, so sled losing a key inside a document is caught, not skipped.
//!
//! Feed events are numbered contiguously from 1; `F` is written in the same batch as the events,
//! so after a reopen the next commit continues after the highest sequence on disk. Events up to
//! `G` have been pruned by [`Store::prune_feed`] (retention); reading below it is
//! [`StoreError::FeedPruned`].
//!
//! # Large values are stored in parts
//!
//! sled writes a tree page larger than a quarter of its 512 KiB segment as a separate file under
//! `db/blobs`, and sled 0.34 does not remove such a file when the page is replaced: every
//! compaction of a document of a few hundred KiB left its old snapshot behind (measured: 191 MiB
//! of stale blobs after ~19,000 writes). So no value is ever that large: a payload over
//! [`PART_BYTES`] is stored as parts of at most that size under `p` keys, and the value under
//! its own key is a *parted envelope* (`[2][checksum of the whole payload][length u64][parts
//! u32]`). A leaf holds at most 17 values, so no page reaches the blob threshold, and replaced
//! pages are reclaimed by sled's ordinary segment cleaning. Parts are written and removed in the
//! same batch as the value they belong to.
//!
//! # Layout versions
//!
//! Layout 1 had no parts, no epoch and no floor; a layout-1 database is upgraded in place when
//! it is opened (it gains an epoch; its values stay readable as they are). A database of a newer
//! layout than this build knows is refused, never written.

use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::codec::{self, DocRecord, Reader};
use crate::{Commit, LoadedDocument, Store, StoreError};

/// Name of the sled tree holding everything.
pub(crate) const TREE_NAME: &str = "kreisnetz";
/// Version of the key layout above, stored under [`KEY_VERSION`].
const LAYOUT_VERSION: u32 = 2;
/// The oldest layout this build opens (and upgrades).
const OLDEST_LAYOUT_VERSION: u32 = 1;
/// Payloads longer than this are stored in parts of at most this size (see the module doc).
pub const PART_BYTES: usize = 4096;

const KEY_VERSION: &[u8] = b"V";
const KEY_FEED_COUNTER: &[u8] = b"F";
const KEY_EPOCH: &[u8] = b"E";
const KEY_FEED_FLOOR: &[u8] = b"G";
const TAG_PART: u8 = b'p';
const TAG_DOC: u8 = b'd';
const TAG_SNAPSHOT: u8 = b's';
const TAG_CHUNK: u8 = b'c';
const TAG_FEED: u8 = b'f';
const TAG_SYNC: u8 = b'y';
const TAG_META: u8 = b'm';

/// A [`Store`] in a sled database. See the module documentation for the key layout.
pub struct SledStore {
    dir: PathBuf,
    /// The open database. Replaced as a whole when a failed write makes the store reopen it.
    handle: RwLock<Option<Handle>>,
    /// Set when a write failed. sled keeps failing every call after an I/O error (a full disk,
    /// say) until it is opened again, so the next write reopens it first: a node recovers by
    /// itself once the cause is gone.
    broken: AtomicBool,
    /// Held for writing by commit and compact (so they see and update document records one at
    /// a time) and for reading by loads (so a load never mixes a snapshot from after a
    /// compaction with chunks from before it). Each holder only does in-memory sled work.
    docs: RwLock<()>,
    /// Highest feed sequence assigned and applied; events up to it are readable.
    feed_head: AtomicU64,
    /// Highest feed sequence made durable by a flush (or found on disk at open).
    flushed_head: AtomicU64,
    /// Events up to this sequence have been pruned.
    floor: AtomicU64,
    epoch: u64,
    created: bool,
}

/// One opened sled database and its tree (both cheap to clone: shared handles).
#[derive(Clone)]
struct Handle {
    db: sled::Db,
    tree: sled::Tree,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("feed_head", &self.feed_head())
            .field("flushed_feed_head", &self.flushed_feed_head())
            .finish_non_exhaustive()
    }
}

fn io(e: sled::Error) -> StoreError {
    match e {
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            what: format!("sled reports: {e}"),
        },
        other => StoreError::Io(other.to_string()),
    }
}

fn corrupt(what: String) -> StoreError {
    tracing::error!(what = %what, "stored data is inconsistent");
    StoreError::Corrupt { what }
}

/// `len(s) u32 BE ‖ s`, for strings followed by more key bytes.
fn push_sized(key: &mut Vec<u8>, s: &str) {
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    key.extend_from_slice(&len.to_be_bytes());
    key.extend_from_slice(s.as_bytes());
}

fn doc_key(doc: &str) -> Vec<u8> {
    let mut key = vec![TAG_DOC];
    key.extend_from_slice(doc.as_bytes());
    key
}

fn snapshot_key(doc: &str) -> Vec<u8> {
    let mut key = vec![TAG_SNAPSHOT];
    key.extend_from_slice(doc.as_bytes());
    key
}

fn chunk_key(doc: &str, index: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 4 + doc.len() + 8);
    key.push(TAG_CHUNK);
    push_sized(&mut key, doc);
    key.extend_from_slice(&index.to_be_bytes());
    key
}

fn feed_key(seq: u64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = TAG_FEED;
    key[1..].copy_from_slice(&seq.to_be_bytes());
    key
}

fn sync_key(peer: &str, doc: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + 4 + peer.len() + doc.len());
    key.push(TAG_SYNC);
    push_sized(&mut key, peer);
    key.extend_from_slice(doc.as_bytes());
    key
}

fn meta_key(name: &str) -> Vec<u8> {
    let mut key = vec![TAG_META];
    key.extend_from_slice(name.as_bytes());
    key
}

/// Index of a chunk from its full key (the last 8 bytes).
fn chunk_index(key: &[u8]) -> Option<u64> {
    let start = key.len().checked_sub(8)?;
    key[start..].try_into().ok().map(u64::from_be_bytes)
}

fn feed_seq(key: &[u8]) -> Option<u64> {
    match key {
        [TAG_FEED, rest @ ..] if rest.len() == 8 => rest.try_into().ok().map(u64::from_be_bytes),
        _ => None,
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A readable name for a key, for error messages.
fn describe(key: &[u8]) -> String {
    match key {
        b"V" => "layout version".to_owned(),
        b"F" => "feed counter".to_owned(),
        b"E" => "feed epoch".to_owned(),
        b"G" => "feed floor".to_owned(),
        [TAG_PART, rest @ ..] => {
            let mut reader = Reader(rest);
            let parsed = reader.u32().and_then(|len| {
                let key = reader.take(usize::try_from(len).ok()?)?;
                let part = reader.u32()?;
                reader.0.is_empty().then(|| (describe(key), part))
            });
            match parsed {
                Some((of, part)) => format!("part {part} of the {of}"),
                None => format!("part key {key:?}"),
            }
        }
        [TAG_DOC, doc @ ..] => format!("record of document {:?}", lossy(doc)),
        [TAG_SNAPSHOT, doc @ ..] => format!("snapshot of document {:?}", lossy(doc)),
        [TAG_FEED, ..] => match feed_seq(key) {
            Some(seq) => format!("feed event {seq}"),
            None => format!("feed key {key:?}"),
        },
        [TAG_META, name @ ..] => format!("meta value {:?}", lossy(name)),
        [TAG_CHUNK, rest @ ..] => {
            let mut reader = Reader(rest);
            let parsed = reader.u32().and_then(|len| {
                let doc = reader.take(usize::try_from(len).ok()?)?;
                let index = reader.u64()?;
                reader.0.is_empty().then(|| (lossy(doc), index))
            });
            match parsed {
                Some((doc, index)) => format!("chunk {index} of document {doc:?}"),
                None => format!("chunk key {key:?}"),
            }
        }
        [TAG_SYNC, rest @ ..] => {
            let mut reader = Reader(rest);
            let parsed = reader.u32().and_then(|len| {
                let peer = reader.take(usize::try_from(len).ok()?)?;
                Some((lossy(peer), lossy(reader.0)))
            });
            match parsed {
                Some((peer, doc)) => format!("sync state of peer {peer:?} for document {doc:?}"),
                None => format!("sync state key {key:?}"),
            }
        }
        _ => format!("unknown key {key:?}"),
    }
}

fn decode_u64(payload: &[u8], key: &[u8]) -> Result<u64, StoreError> {
    payload
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| corrupt(format!("{}: not an 8-byte integer", describe(key))))
}

/// How long [`SledStore::open`] waits for sled's lock on the directory.
pub const DEFAULT_LOCK_WAIT: Duration = Duration::from_secs(5);

/// Opens the sled database in `dir`, waiting up to `wait` for its directory lock.
///
/// sled locks the directory for as long as any of its background threads holds a reference to
/// the database, which goes on for a few milliseconds (measured: up to ~30 ms) after the last
/// handle is dropped. A restart within one process (tests, an in-process node restart) would
/// otherwise fail at random.
pub(crate) fn open_sled(dir: &Path, wait: Duration) -> sled::Result<sled::Db> {
    let start = Instant::now();
    let mut set_aside = false;
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && start.elapsed() < wait =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(sled::Error::Corruption { .. }) if !set_aside && set_aside_incomplete(dir) => {
                set_aside = true;
            }
            other => return other,
        }
    }
}

/// sled 0.34 writes a snapshot of its page table to `snap.<lsn>.generating` and renames it when
/// it is complete, but when it opens a database it takes *every* `snap.` file as a candidate,
/// so an incomplete one (a full disk, a crash while writing it) makes every later open fail as
/// corrupt. Such a file is never valid: move it aside (out of sled's way; an empty one is
/// removed) and say so. Returns whether there was one.
fn set_aside_incomplete(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut moved = false;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("snap.") && name.ends_with(".generating") {
            if entry.metadata().is_ok_and(|m| m.len() == 0) {
                // Nothing in it to keep (the usual case on a full disk).
                moved |= std::fs::remove_file(entry.path()).is_ok();
                continue;
            }
            let aside = dir.join(format!("incomplete-{name}"));
            match std::fs::rename(entry.path(), &aside) {
                Ok(()) => {
                    tracing::warn!(file = %aside.display(), "set aside an incomplete sled snapshot file that kept the database from opening");
                    moved = true;
                }
                Err(e) => {
                    tracing::error!(file = %name, error = %e, "cannot set aside an incomplete sled snapshot file")
                }
            }
        }
    }
    moved
}

/// What the on-disk counters say when a database is opened.
struct Counters {
    head: u64,
    floor: u64,
}

/// Runs `f`, turning a panic inside sled into [`StoreError::Corrupt`]. sled 0.34 panics on some
/// damaged files (a truncated segment, for instance) instead of returning an error; the node
/// must report that, never die with a backtrace.
fn guarded<T>(what: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_owned());
            Err(corrupt(format!(
                "the database failed while {what} (sled panicked: {message})"
            )))
        }
    }
}

fn read_u64_key(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, StoreError> {
    match tree.get(key).map_err(io)? {
        Some(value) => {
            let payload = codec::open(key, &value, || describe(key))?;
            decode_u64(payload, key).map(Some)
        }
        None => Ok(None),
    }
}

/// A fresh feed epoch: different for every database ever created (time, process, place).
fn new_epoch(dir: &Path) -> u64 {
    use sha2::{Digest, Sha256};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hasher = Sha256::new();
    hasher.update(now.to_be_bytes());
    hasher.update(std::process::id().to_be_bytes());
    hasher.update(dir.as_os_str().as_encoded_bytes());
    let digest = hasher.finalize();
    let mut out = [0u8; 8];
    out.copy_from_slice(&digest[..8]);
    // Never 0: clients send 0 for "no epoch known".
    u64::from_be_bytes(out).max(1)
}

impl SledStore {
    /// Opens (or creates) the sled database in `dir`, waiting up to [`DEFAULT_LOCK_WAIT`] for
    /// a previous handle on it (in this process) to let go.
    ///
    /// Fails with [`StoreError::Io`] if sled cannot open it (for instance because another
    /// process holds it) and with [`StoreError::Corrupt`] if it holds data in a layout this
    /// version does not know, or sled cannot read its files.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_lock_wait(dir, DEFAULT_LOCK_WAIT)
    }

    /// [`SledStore::open`], waiting up to `lock_wait` for sled's lock on the directory.
    pub fn open_with_lock_wait(dir: &Path, lock_wait: Duration) -> Result<Self, StoreError> {
        let (handle, counters, epoch, created) =
            guarded("opening", || Self::open_handle(dir, lock_wait))?;
        Ok(SledStore {
            dir: dir.to_path_buf(),
            handle: RwLock::new(Some(handle)),
            broken: AtomicBool::new(false),
            docs: RwLock::new(()),
            feed_head: AtomicU64::new(counters.head),
            flushed_head: AtomicU64::new(counters.head),
            floor: AtomicU64::new(counters.floor),
            epoch,
            created,
        })
    }

    fn open_handle(
        dir: &Path,
        lock_wait: Duration,
    ) -> Result<(Handle, Counters, u64, bool), StoreError> {
        let db = open_sled(dir, lock_wait).map_err(io)?;
        let tree = db.open_tree(TREE_NAME).map_err(io)?;

        let created = match tree.get(KEY_VERSION).map_err(io)? {
            Some(value) => {
                let payload = codec::open(KEY_VERSION, &value, || describe(KEY_VERSION))?;
                let version = <[u8; 4]>::try_from(payload)
                    .map(u32::from_be_bytes)
                    .map_err(|_| corrupt("layout version: not a 4-byte integer".to_owned()))?;
                if !(OLDEST_LAYOUT_VERSION..=LAYOUT_VERSION).contains(&version) {
                    return Err(StoreError::Corrupt {
                        what: format!(
                            "layout version {version} in {}, this build reads versions \
                             {OLDEST_LAYOUT_VERSION} to {LAYOUT_VERSION} (a newer kreisnetz wrote it?)",
                            dir.display()
                        ),
                    });
                }
                false
            }
            None => {
                if !tree.is_empty() {
                    return Err(corrupt(format!(
                        "{} holds data but no layout version",
                        dir.display()
                    )));
                }
                true
            }
        };
        let epoch = match read_u64_key(&tree, KEY_EPOCH)? {
            Some(epoch) => epoch,
            None => {
                // A new database, or one of layout 1: give it an epoch, and the current version.
                let epoch = new_epoch(dir);
                let mut batch = sled::Batch::default();
                batch.insert(KEY_EPOCH, codec::seal(KEY_EPOCH, &epoch.to_be_bytes()));
                batch.insert(
                    KEY_VERSION,
                    codec::seal(KEY_VERSION, &LAYOUT_VERSION.to_be_bytes()),
                );
                tree.apply_batch(batch).map_err(io)?;
                db.flush().map_err(io)?;
                if !created {
                    tracing::info!(
                        dir = %dir.display(),
                        from = OLDEST_LAYOUT_VERSION,
                        to = LAYOUT_VERSION,
                        "upgraded the database layout"
                    );
                }
                epoch
            }
        };
        let counters = Self::read_counters(&tree)?;
        Ok((Handle { db, tree }, counters, epoch, created))
    }

    fn read_counters(tree: &sled::Tree) -> Result<Counters, StoreError> {
        let counter = read_u64_key(tree, KEY_FEED_COUNTER)?.unwrap_or(0);
        let floor = read_u64_key(tree, KEY_FEED_FLOOR)?.unwrap_or(0);
        let last_event = match tree.scan_prefix([TAG_FEED]).next_back() {
            Some(entry) => {
                let (key, _) = entry.map_err(io)?;
                feed_seq(&key).ok_or_else(|| corrupt(describe(&key)))?
            }
            None => 0,
        };
        if last_event > counter {
            // Cannot happen with atomic batches; continue after the highest sequence seen so
            // none is handed out twice.
            tracing::warn!(
                counter,
                last_event,
                "feed counter is behind the stored feed events"
            );
        }
        Ok(Counters {
            head: counter.max(last_event),
            floor,
        })
    }

    /// Whether this open created the database (it did not exist or was empty).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Reads every value in the database and verifies its checksum, then loads every document
    /// (which checks that its chunks are complete). Returns how many values were checked. Meant
    /// for startup checks, admin commands and tests; it reads the whole database.
    pub fn verify(&self) -> Result<u64, StoreError> {
        guarded("verifying", || {
            let h = self.handle()?;
            let mut checked = 0u64;
            let mut expected_feed = self.floor.load(Ordering::Acquire) + 1;
            for entry in h.tree.iter() {
                let (key, value) = entry.map_err(io)?;
                match key.first() {
                    Some(&TAG_PART) => {
                        codec::open(&key, &value, || describe(&key))?;
                    }
                    Some(&TAG_FEED) => {
                        let seq = feed_seq(&key).ok_or_else(|| corrupt(describe(&key)))?;
                        if seq != expected_feed {
                            return Err(corrupt(format!("feed event {expected_feed} is missing")));
                        }
                        expected_feed += 1;
                        read_value(&h.tree, &key, &value)?;
                    }
                    Some(
                        b'V' | b'F' | b'E' | b'G' | &TAG_DOC | &TAG_SNAPSHOT | &TAG_CHUNK
                        | &TAG_SYNC | &TAG_META,
                    ) => {
                        read_value(&h.tree, &key, &value)?;
                    }
                    _ => return Err(corrupt(describe(&key))),
                }
                checked += 1;
            }
            for doc in self.documents()? {
                self.load_document(&doc)?;
            }
            Ok(checked)
        })
    }

    /// The open database, reopened first if a write failed since (see `broken`).
    fn handle(&self) -> Result<Handle, StoreError> {
        let guard = self.handle.read().unwrap_or_else(|e| e.into_inner());
        guard
            .clone()
            .ok_or_else(|| StoreError::Io("the database is closed after a failed reopen".into()))
    }

    /// Marks the store for a reopen before the next write if `result` is an I/O failure.
    fn note<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Io(e)) = &result
            && !self.broken.swap(true, Ordering::AcqRel)
        {
            tracing::error!(error = %e, "a storage write failed; the database is reopened before the next write");
        }
        result
    }

    /// Reopens the database if a write failed since it was opened: what was not flushed is
    /// gone (nobody was told it was stored), the counters are read again from disk.
    fn recover(&self) -> Result<(), StoreError> {
        if !self.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        let _docs = self.write_lock();
        let mut slot = self.handle.write().unwrap_or_else(|e| e.into_inner());
        if !self.broken.load(Ordering::Acquire) {
            return Ok(());
        }
        // Drop our handle first: sled's directory lock goes with the last one.
        *slot = None;
        let (handle, counters, _, _) = guarded("reopening", || {
            Self::open_handle(&self.dir, DEFAULT_LOCK_WAIT)
        })?;
        self.feed_head.store(counters.head, Ordering::Release);
        self.flushed_head.store(counters.head, Ordering::Release);
        self.floor.store(counters.floor, Ordering::Release);
        *slot = Some(handle);
        self.broken.store(false, Ordering::Release);
        tracing::info!(dir = %self.dir.display(), feed_head = counters.head, "reopened the database after a failed write");
        Ok(())
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let h = self.handle()?;
        match h.tree.get(key).map_err(io)? {
            Some(value) => read_value(&h.tree, key, &value).map(Some),
            None => Ok(None),
        }
    }

    fn record(&self, tree: &sled::Tree, doc: &str) -> Result<Option<DocRecord>, StoreError> {
        let key = doc_key(doc);
        match tree.get(&key).map_err(io)? {
            Some(value) => {
                let payload = codec::open(&key, &value, || describe(&key))?;
                DocRecord::decode(payload)
                    .map(Some)
                    .ok_or_else(|| corrupt(format!("{}: bad record layout", describe(&key))))
            }
            None => Ok(None),
        }
    }

    /// Writes one named value (meta, sync state) in a batch of its own.
    fn put_single(&self, key: &[u8], payload: &[u8]) -> Result<(), StoreError> {
        self.recover()?;
        let result = guarded("writing", || {
            let h = self.handle()?;
            let mut batch = sled::Batch::default();
            put_value(&h.tree, &mut batch, key, payload, true)?;
            h.tree.apply_batch(batch).map_err(io)
        });
        self.note(result)
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        // The lock guards no data, so a panic elsewhere cannot have left anything half-done.
        self.docs.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.docs.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn part_key(key: &[u8], part: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 4 + key.len() + 4);
    out.push(TAG_PART);
    out.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&part.to_be_bytes());
    out
}

/// Adds `payload` under `key` to `batch`, in parts if it is larger than [`PART_BYTES`]. If
/// `replaces`, the parts of the value it replaces (if that was parted) are removed in the same
/// batch.
fn put_value(
    tree: &sled::Tree,
    batch: &mut sled::Batch,
    key: &[u8],
    payload: &[u8],
    replaces: bool,
) -> Result<(), StoreError> {
    if replaces {
        remove_parts(tree, batch, key)?;
    }
    if payload.len() <= PART_BYTES {
        batch.insert(key, codec::seal(key, payload));
        return Ok(());
    }
    let mut parts = 0u32;
    for part in payload.chunks(PART_BYTES) {
        let part_key = part_key(key, parts);
        batch.insert(part_key.as_slice(), codec::seal(&part_key, part));
        parts += 1;
    }
    batch.insert(key, codec::seal_parted(key, payload, parts));
    Ok(())
}

/// Removes `key` and, if its value is parted, its parts.
fn remove_value(tree: &sled::Tree, batch: &mut sled::Batch, key: &[u8]) -> Result<(), StoreError> {
    remove_parts(tree, batch, key)?;
    batch.remove(key);
    Ok(())
}

fn remove_parts(tree: &sled::Tree, batch: &mut sled::Batch, key: &[u8]) -> Result<(), StoreError> {
    if let Some(old) = tree.get(key).map_err(io)?
        && let Ok(codec::Envelope::Parted { parts, .. }) =
            codec::open_envelope(key, &old, || describe(key))
    {
        for part in 0..parts {
            batch.remove(part_key(key, part));
        }
    }
    Ok(())
}

/// Verifies `value` (read from under `key`) and returns its payload, assembling it from its
/// parts if it is parted.
fn read_value(tree: &sled::Tree, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StoreError> {
    match codec::open_envelope(key, value, || describe(key))? {
        codec::Envelope::Whole(payload) => Ok(payload.to_vec()),
        codec::Envelope::Parted {
            checksum,
            len,
            parts,
        } => {
            let capacity = usize::try_from(len).unwrap_or(0).min(64 << 20);
            let mut payload = Vec::with_capacity(capacity);
            for part in 0..parts {
                let part_key = part_key(key, part);
                let Some(stored) = tree.get(&part_key).map_err(io)? else {
                    return Err(corrupt(format!(
                        "part {part} of the {} is missing",
                        describe(key)
                    )));
                };
                payload.extend_from_slice(codec::open(&part_key, &stored, || describe(&part_key))?);
                if payload.len() as u64 > len {
                    break;
                }
            }
            codec::check_parted(key, &checksum, len, &payload, || describe(key))?;
            Ok(payload)
        }
    }
}

impl Store for SledStore {
    fn documents(&self) -> Result<Vec<String>, StoreError> {
        guarded("listing documents", || {
            let h = self.handle()?;
            let mut docs = Vec::new();
            for entry in h.tree.scan_prefix([TAG_DOC]) {
                let (key, _) = entry.map_err(io)?;
                let doc = String::from_utf8(key[1..].to_vec())
                    .map_err(|_| corrupt(format!("{}: not UTF-8", describe(&key))))?;
                docs.push(doc);
            }
            // Byte order of the keys is the order of `String`s already; sort anyway so the
            // contract does not hang on that.
            docs.sort();
            Ok(docs)
        })
    }

    fn load_document(&self, doc: &str) -> Result<Option<LoadedDocument>, StoreError> {
        // After a failed write, what is read must be what is on disk: reopen first.
        self.recover()?;
        guarded("loading a document", || {
            let _guard = self.read_lock();
            let h = self.handle()?;
            let Some(record) = self.record(&h.tree, doc)? else {
                return Ok(None);
            };

            let snapshot = if record.has_snapshot {
                let key = snapshot_key(doc);
                match h.tree.get(&key).map_err(io)? {
                    Some(value) => Some(read_value(&h.tree, &key, &value)?),
                    None => return Err(corrupt(format!("{} is missing", describe(&key)))),
                }
            } else {
                None
            };

            let capacity = usize::try_from(record.next_chunk - record.first_chunk).unwrap_or(0);
            let mut chunks = Vec::with_capacity(capacity.min(1 << 16));
            let mut chunk_bytes = 0u64;
            let mut expected = record.first_chunk;
            let range = chunk_key(doc, record.first_chunk)..chunk_key(doc, record.next_chunk);
            for entry in h.tree.range(range) {
                let (key, value) = entry.map_err(io)?;
                let index = chunk_index(&key).ok_or_else(|| corrupt(describe(&key)))?;
                if index != expected {
                    return Err(corrupt(format!(
                        "chunk {expected} of document {doc:?} is missing"
                    )));
                }
                let chunk = read_value(&h.tree, &key, &value)?;
                chunk_bytes += chunk.len() as u64;
                chunks.push(chunk);
                expected += 1;
            }
            if expected != record.next_chunk {
                return Err(corrupt(format!(
                    "chunk {expected} of document {doc:?} is missing"
                )));
            }
            if chunk_bytes != record.chunk_bytes {
                return Err(corrupt(format!(
                    "chunks of document {doc:?} hold {chunk_bytes} bytes, its record says {}",
                    record.chunk_bytes
                )));
            }

            Ok(Some(LoadedDocument {
                snapshot,
                chunks,
                chunk_bytes,
                heads: record.heads,
            }))
        })
    }

    fn commit(&self, commit: Commit<'_>) -> Result<Vec<u64>, StoreError> {
        self.recover()?;
        let result = guarded("committing", || {
            let _guard = self.write_lock();
            let h = self.handle()?;
            let old = self.record(&h.tree, commit.doc)?.unwrap_or(DocRecord {
                first_chunk: 0,
                next_chunk: 0,
                chunk_bytes: 0,
                has_snapshot: false,
                heads: Vec::new(),
            });
            let record = DocRecord {
                first_chunk: old.first_chunk,
                next_chunk: old.next_chunk + 1,
                chunk_bytes: old.chunk_bytes + commit.chunk.len() as u64,
                has_snapshot: old.has_snapshot,
                heads: commit.heads.to_vec(),
            };

            let mut batch = sled::Batch::default();
            let key = chunk_key(commit.doc, old.next_chunk);
            put_value(&h.tree, &mut batch, &key, commit.chunk, false)?;
            let key = doc_key(commit.doc);
            batch.insert(key.as_slice(), codec::seal(&key, &record.encode()));

            if let Some((name, value)) = commit.meta {
                put_value(&h.tree, &mut batch, &meta_key(name), value, true)?;
            }

            let head = self.feed_head.load(Ordering::Acquire);
            let seqs: Vec<u64> = (1..=commit.feed_events.len() as u64)
                .map(|i| head + i)
                .collect();
            for (seq, event) in seqs.iter().zip(commit.feed_events) {
                put_value(&h.tree, &mut batch, &feed_key(*seq), event, false)?;
            }
            let new_head = seqs.last().copied().unwrap_or(head);
            if new_head != head {
                batch.insert(
                    KEY_FEED_COUNTER,
                    codec::seal(KEY_FEED_COUNTER, &new_head.to_be_bytes()),
                );
            }

            h.tree.apply_batch(batch).map_err(io)?;
            self.feed_head.store(new_head, Ordering::Release);
            Ok(seqs)
        });
        self.note(result)
    }

    fn compact(&self, doc: &str, snapshot: &[u8], heads: &[[u8; 32]]) -> Result<(), StoreError> {
        self.recover()?;
        let result = guarded("compacting", || {
            let _guard = self.write_lock();
            let h = self.handle()?;
            let old = self.record(&h.tree, doc)?;
            let (first, next) = old
                .as_ref()
                .map_or((0, 0), |r| (r.first_chunk, r.next_chunk));

            let mut batch = sled::Batch::default();
            for index in first..next {
                remove_value(&h.tree, &mut batch, &chunk_key(doc, index))?;
            }
            put_value(&h.tree, &mut batch, &snapshot_key(doc), snapshot, true)?;
            let record = DocRecord {
                first_chunk: next,
                next_chunk: next,
                chunk_bytes: 0,
                has_snapshot: true,
                heads: heads.to_vec(),
            };
            let key = doc_key(doc);
            batch.insert(key.as_slice(), codec::seal(&key, &record.encode()));
            h.tree.apply_batch(batch).map_err(io)
        });
        self.note(result)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.recover()?;
        let result = guarded("flushing", || {
            let h = self.handle()?;
            // Everything applied before this load is covered by the flush below.
            let head = self.feed_head.load(Ordering::Acquire);
            h.db.flush().map_err(io)?;
            self.flushed_head.fetch_max(head, Ordering::AcqRel);
            Ok(())
        });
        self.note(result)
    }

    fn feed_head(&self) -> u64 {
        self.feed_head.load(Ordering::Acquire)
    }

    fn flushed_feed_head(&self) -> u64 {
        self.flushed_head.load(Ordering::Acquire)
    }

    fn feed_epoch(&self) -> u64 {
        self.epoch
    }

    fn feed_floor(&self) -> u64 {
        self.floor.load(Ordering::Acquire)
    }

    fn prune_feed(&self, up_to: u64) -> Result<u64, StoreError> {
        self.recover()?;
        let result = guarded("pruning the feed", || {
            let _guard = self.write_lock();
            let h = self.handle()?;
            let floor = self.floor.load(Ordering::Acquire);
            // Never prune what is not durable yet: a crash could hand those numbers out again.
            let up_to = up_to.min(self.flushed_head.load(Ordering::Acquire));
            if up_to <= floor {
                return Ok(0);
            }
            let mut batch = sled::Batch::default();
            for seq in floor + 1..=up_to {
                remove_value(&h.tree, &mut batch, &feed_key(seq))?;
            }
            batch.insert(
                KEY_FEED_FLOOR,
                codec::seal(KEY_FEED_FLOOR, &up_to.to_be_bytes()),
            );
            h.tree.apply_batch(batch).map_err(io)?;
            self.floor.store(up_to, Ordering::Release);
            Ok(up_to - floor)
        });
        self.note(result)
    }

    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        guarded("reading the feed", || {
            let h = self.handle()?;
            let floor = self.floor.load(Ordering::Acquire);
            if after < floor {
                return Err(StoreError::FeedPruned { floor });
            }
            // Only events up to the published head: all of those are applied, so the range
            // below is contiguous unless something was lost.
            let head = self.feed_head.load(Ordering::Acquire);
            if limit == 0 || after >= head {
                return Ok(Vec::new());
            }
            let last = head.min(after.saturating_add(limit as u64));
            let mut events = Vec::with_capacity(usize::try_from(last - after).unwrap_or(0));
            let mut expected = after + 1;
            for entry in h.tree.range(feed_key(expected)..=feed_key(last)) {
                let (key, value) = entry.map_err(io)?;
                let seq = feed_seq(&key).ok_or_else(|| corrupt(describe(&key)))?;
                if seq != expected {
                    // Pruned while we read?
                    let floor = self.floor.load(Ordering::Acquire);
                    if expected <= floor {
                        return Err(StoreError::FeedPruned { floor });
                    }
                    return Err(corrupt(format!("feed event {expected} is missing")));
                }
                events.push((seq, read_value(&h.tree, &key, &value)?));
                expected += 1;
            }
            if expected != last + 1 {
                let floor = self.floor.load(Ordering::Acquire);
                if expected <= floor {
                    return Err(StoreError::FeedPruned { floor });
                }
                return Err(corrupt(format!("feed event {expected} is missing")));
            }
            Ok(events)
        })
    }

    fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, StoreError> {
        guarded("reading a sync state", || self.get(&sync_key(peer, doc)))
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> Result<(), StoreError> {
        self.put_single(&sync_key(peer, doc), state)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        guarded("reading a meta value", || self.get(&meta_key(key)))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.put_single(&meta_key(key), value)
    }

    fn size_on_disk(&self) -> u64 {
        self.handle()
            .ok()
            .and_then(|h| h.db.size_on_disk().ok())
            .unwrap_or(0)
    }
}
#[cfg(test)]
mod tests {
    //! Corruption tests: damage the raw sled tree through sled's own API, then check that the
    //! store reports it as `Corrupt`, naming what is damaged, and keeps serving the rest.

    use super::*;
    use tempfile::TempDir;

    const DOC_A: &str = "Landkreis Ammerland";
    const DOC_B: &str = "Stadt Delmenhorst";

    /// A store with: DOC_A = snapshot + chunks 1 and 2, DOC_B = chunk 0, feed events 1..=3,
    /// one meta value and one sync state; flushed and closed.
    fn setup() -> TempDir {
        let dir = TempDir::new().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let commit = |doc, chunk: &[u8], heads: &[[u8; 32]], events: &[Vec<u8>]| {
            store
                .commit(Commit {
                    doc,
                    chunk,
                    heads,
                    feed_events: events,
                    meta: None,
                })
                .unwrap()
        };
        commit(DOC_A, b"a0", &[[1; 32]], &[b"e1".to_vec()]);
        store.compact(DOC_A, b"snapshot-a", &[[1; 32]]).unwrap();
        commit(DOC_A, b"a1", &[[2; 32]], &[b"e2".to_vec()]);
        commit(DOC_A, b"a2", &[[3; 32]], &[]);
        commit(DOC_B, b"b0", &[[4; 32]], &[b"e3".to_vec()]);
        store.put_meta("schema", b"1").unwrap();
        store.put_sync_state("peer-1", DOC_A, b"state").unwrap();
        store.flush().unwrap();
        assert_eq!(store.verify().unwrap(), 14);
        drop(store);
        dir
    }

    /// Changes the raw tree with sled's own API, then reopens the store.
    fn damage(dir: &TempDir, f: impl FnOnce(&sled::Tree)) -> Result<SledStore, StoreError> {
        damage_at(dir.path(), f)
    }

    fn damage_at(dir: &Path, f: impl FnOnce(&sled::Tree)) -> Result<SledStore, StoreError> {
        {
            let db = open_sled(dir, DEFAULT_LOCK_WAIT).unwrap();
            let tree = db.open_tree(TREE_NAME).unwrap();
            f(&tree);
            db.flush().unwrap();
        }
        SledStore::open(dir)
    }

    fn flip_last_byte(tree: &sled::Tree, key: &[u8]) {
        let mut value = tree.get(key).unwrap().expect("key exists").to_vec();
        *value.last_mut().unwrap() ^= 0x20;
        tree.insert(key, value).unwrap();
    }

    #[track_caller]
    fn assert_corrupt<T: std::fmt::Debug>(result: Result<T, StoreError>, needle: &str) {
        match result {
            Err(StoreError::Corrupt { what }) => {
                assert!(what.contains(needle), "{what:?} should mention {needle:?}")
            }
            other => panic!("expected Corrupt mentioning {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn flipped_chunk_byte_is_corrupt_and_other_documents_still_load() {
        let dir = setup();
        let store = damage(&dir, |t| flip_last_byte(t, &chunk_key(DOC_A, 2))).unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "chunk 2 of document \"Landkreis Ammerland\"",
        );
        assert_eq!(
            store.load_document(DOC_B).unwrap().unwrap().chunks,
            vec![b"b0".to_vec()]
        );
        assert_corrupt(store.verify(), "chunk 2");
        // Writes go on; the damage stays reported.
        store.put_meta("x", b"y").unwrap();
        assert_corrupt(store.load_document(DOC_A), "checksum mismatch");
    }

    #[test]
    fn flipped_snapshot_byte_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| flip_last_byte(t, &snapshot_key(DOC_A))).unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "snapshot of document \"Landkreis Ammerland\"",
        );
    }

    #[test]
    fn flipped_record_byte_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| flip_last_byte(t, &doc_key(DOC_B))).unwrap();
        assert_corrupt(
            store.load_document(DOC_B),
            "record of document \"Stadt Delmenhorst\"",
        );
        // A commit must not build on a record it cannot read.
        assert_corrupt(
            store.commit(Commit {
                doc: DOC_B,
                chunk: b"b1",
                heads: &[],
                feed_events: &[b"e".to_vec()],
                meta: None,
            }),
            "record of document",
        );
        assert_eq!(store.feed_head(), 3, "a failed commit assigns no sequence");
    }

    #[test]
    fn record_with_valid_checksum_but_bad_layout_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            let key = doc_key(DOC_B);
            t.insert(key.as_slice(), codec::seal(&key, b"short"))
                .unwrap();
        })
        .unwrap();
        assert_corrupt(store.load_document(DOC_B), "bad record layout");
    }

    #[test]
    fn missing_chunk_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            t.remove(chunk_key(DOC_A, 1)).unwrap();
        })
        .unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "chunk 1 of document \"Landkreis Ammerland\" is missing",
        );
        let dir = setup();
        let store = damage(&dir, |t| {
            t.remove(chunk_key(DOC_A, 2)).unwrap();
        })
        .unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "chunk 2 of document \"Landkreis Ammerland\" is missing",
        );
    }

    #[test]
    fn missing_snapshot_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            t.remove(snapshot_key(DOC_A)).unwrap();
        })
        .unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "snapshot of document \"Landkreis Ammerland\" is missing",
        );
    }

    #[test]
    fn value_moved_to_another_key_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            let value = t.get(chunk_key(DOC_A, 1)).unwrap().unwrap();
            t.insert(chunk_key(DOC_A, 2), value).unwrap();
        })
        .unwrap();
        assert_corrupt(store.load_document(DOC_A), "chunk 2");
    }

    #[test]
    fn truncated_value_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            t.insert(chunk_key(DOC_B, 0), &[1u8, 2][..]).unwrap();
        })
        .unwrap();
        assert_corrupt(
            store.load_document(DOC_B),
            "shorter than its checksum header",
        );
    }

    #[test]
    fn flipped_or_missing_feed_event_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| flip_last_byte(t, &feed_key(2))).unwrap();
        assert_corrupt(store.feed_after(0, 10), "feed event 2");
        assert_corrupt(store.feed_after(1, 1), "feed event 2");
        assert_eq!(store.feed_after(0, 1).unwrap(), vec![(1, b"e1".to_vec())]);
        assert_eq!(store.feed_after(2, 10).unwrap(), vec![(3, b"e3".to_vec())]);

        let dir = setup();
        let store = damage(&dir, |t| {
            t.remove(&feed_key(2)[..]).unwrap();
        })
        .unwrap();
        assert_corrupt(store.feed_after(0, 10), "feed event 2 is missing");
        let dir = setup();
        let store = damage(&dir, |t| {
            t.remove(&feed_key(3)[..]).unwrap();
        })
        .unwrap();
        assert_corrupt(store.feed_after(1, 10), "feed event 3 is missing");
    }

    #[test]
    fn flipped_meta_and_sync_state_are_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            flip_last_byte(t, &meta_key("schema"));
            flip_last_byte(t, &sync_key("peer-1", DOC_A));
        })
        .unwrap();
        assert_corrupt(store.meta("schema"), "meta value \"schema\"");
        assert_corrupt(
            store.sync_state("peer-1", DOC_A),
            "sync state of peer \"peer-1\" for document \"Landkreis Ammerland\"",
        );
        // Overwriting a damaged value repairs it.
        store.put_meta("schema", b"2").unwrap();
        assert_eq!(store.meta("schema").unwrap(), Some(b"2".to_vec()));
    }

    #[test]
    fn damaged_feed_counter_or_layout_version_fails_open() {
        let dir = setup();
        assert_corrupt(
            damage(&dir, |t| flip_last_byte(t, KEY_FEED_COUNTER)),
            "feed counter",
        );
        let dir = setup();
        assert_corrupt(
            damage(&dir, |t| flip_last_byte(t, KEY_VERSION)),
            "layout version",
        );
        let dir = setup();
        let result = damage(&dir, |t| {
            t.insert(KEY_VERSION, codec::seal(KEY_VERSION, &3u32.to_be_bytes()))
                .unwrap();
        });
        assert_corrupt(result, "layout version 3");
        let dir = setup();
        let result = damage(&dir, |t| {
            t.remove(KEY_VERSION).unwrap();
        });
        assert_corrupt(result, "no layout version");
    }

    #[test]
    fn a_layout_1_database_is_upgraded_and_keeps_its_data() {
        let dir = setup();
        // What layout 1 had: no epoch, version 1.
        let store = damage(&dir, |t| {
            t.remove(KEY_EPOCH).unwrap();
            t.insert(KEY_VERSION, codec::seal(KEY_VERSION, &1u32.to_be_bytes()))
                .unwrap();
        })
        .unwrap();
        assert!(!store.created());
        assert_ne!(store.feed_epoch(), 0);
        assert_eq!(store.feed_head(), 3);
        assert_eq!(
            store.load_document(DOC_B).unwrap().unwrap().chunks,
            vec![b"b0".to_vec()]
        );
        assert_eq!(store.verify().unwrap(), 14);
        let epoch = store.feed_epoch();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.feed_epoch(), epoch, "the epoch is kept once given");
    }

    #[test]
    fn every_database_gets_its_own_epoch() {
        let (a, b) = (TempDir::new().unwrap(), TempDir::new().unwrap());
        let (a, b) = (
            SledStore::open(a.path()).unwrap(),
            SledStore::open(b.path()).unwrap(),
        );
        assert!(a.created() && b.created());
        assert_ne!(a.feed_epoch(), b.feed_epoch());
        assert_ne!(a.feed_epoch(), 0);
    }

    /// A value of `len` bytes that compresses badly (sled does not compress, but be safe).
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn dir_bytes(path: &Path) -> u64 {
        std::fs::read_dir(path)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| match e.metadata() {
                        Ok(m) if m.is_dir() => dir_bytes(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    #[test]
    fn large_values_are_stored_in_parts_and_replaced_ones_leave_no_blobs() {
        let dir = TempDir::new().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        // 60 compactions of a 600 KiB snapshot, a large chunk and meta value in between.
        for round in 0..60u64 {
            let snapshot = noise(600 * 1024 + round as usize, round);
            let big_chunk = noise(200 * 1024, round + 1000);
            store
                .commit(Commit {
                    doc: DOC_A,
                    chunk: &big_chunk,
                    heads: &[[round as u8; 32]],
                    feed_events: &[noise(300, round)],
                    meta: Some(("signed", &noise(9000, round))),
                })
                .unwrap();
            store
                .compact(DOC_A, &snapshot, &[[round as u8; 32]])
                .unwrap();
            store.flush().unwrap();
            let loaded = store.load_document(DOC_A).unwrap().unwrap();
            assert_eq!(loaded.snapshot.as_deref(), Some(&snapshot[..]));
            assert_eq!(store.meta("signed").unwrap(), Some(noise(9000, round)));
        }
        store.verify().unwrap();
        let blobs = dir_bytes(&dir.path().join("blobs"));
        assert_eq!(blobs, 0, "no value reaches sled's blob threshold");
        // Only the parts of the newest snapshot and meta value are left.
        let h = store.handle().unwrap();
        let parts = h.tree.scan_prefix([TAG_PART]).count();
        assert_eq!(
            parts,
            (600 * 1024 + 59usize).div_ceil(PART_BYTES) + 9000usize.div_ceil(PART_BYTES)
        );
        drop(h);
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.load_document(DOC_A).unwrap().unwrap().snapshot,
            Some(noise(600 * 1024 + 59, 59))
        );
    }

    #[test]
    fn a_missing_or_damaged_part_is_corrupt() {
        let dir = TempDir::new().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.compact(DOC_A, &noise(10_000, 1), &[[1; 32]]).unwrap();
            store.flush().unwrap();
        }
        let key = part_key(&snapshot_key(DOC_A), 1);
        let store = damage_at(dir.path(), |t| flip_last_byte(t, &key)).unwrap();
        assert_corrupt(
            store.load_document(DOC_A),
            "part 1 of the snapshot of document \"Landkreis Ammerland\"",
        );
        assert_corrupt(store.verify(), "part 1");
        drop(store);
        let store = damage_at(dir.path(), |t| {
            t.remove(key.as_slice()).unwrap();
        })
        .unwrap();
        assert_corrupt(store.load_document(DOC_A), "is missing");
    }

    #[test]
    fn pruned_feed_events_are_reported_and_numbers_never_reused() {
        let dir = setup();
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.prune_feed(2).unwrap(), 2);
        assert_eq!(store.feed_floor(), 2);
        assert!(matches!(
            store.feed_after(0, 10),
            Err(StoreError::FeedPruned { floor: 2 })
        ));
        assert_eq!(store.feed_after(2, 10).unwrap().len(), 1);
        store.flush().unwrap();
        store.verify().unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!((store.feed_floor(), store.feed_head()), (2, 3));
        // Nothing above the durable head is pruned.
        let seqs = store
            .commit(Commit {
                doc: DOC_B,
                chunk: b"b1",
                heads: &[],
                feed_events: &[b"e4".to_vec()],
                meta: None,
            })
            .unwrap();
        assert_eq!(seqs, vec![4]);
        assert_eq!(store.prune_feed(10).unwrap(), 1);
        assert_eq!(store.feed_floor(), 3);
    }

    #[test]
    fn non_utf8_document_key_is_corrupt() {
        let dir = setup();
        let store = damage(&dir, |t| {
            let key = [TAG_DOC, 0xff, 0xfe];
            t.insert(&key[..], codec::seal(&key, b"")).unwrap();
        })
        .unwrap();
        assert_corrupt(store.documents(), "not UTF-8");
    }

    #[test]
    fn unknown_key_fails_verify() {
        let dir = setup();
        let store = damage(&dir, |t| {
            t.insert(&b"zzz"[..], &b"?"[..]).unwrap();
        })
        .unwrap();
        assert_corrupt(store.verify(), "unknown key");
    }

    #[test]
    fn feed_counter_behind_events_never_reuses_a_sequence() {
        let dir = setup();
        let store = damage(&dir, |t| {
            t.insert(
                KEY_FEED_COUNTER,
                codec::seal(KEY_FEED_COUNTER, &1u64.to_be_bytes()),
            )
            .unwrap();
        })
        .unwrap();
        assert_eq!(store.feed_head(), 3);
    }

    #[test]
    fn keys_describe_themselves() {
        assert_eq!(
            describe(&chunk_key("a\0b", 7)),
            "chunk 7 of document \"a\\0b\""
        );
        assert_eq!(describe(&feed_key(42)), "feed event 42");
        assert_eq!(
            describe(&sync_key("p", "d")),
            "sync state of peer \"p\" for document \"d\""
        );
        assert_eq!(chunk_index(&chunk_key("x", u64::MAX)), Some(u64::MAX));
        // Length prefixes keep documents whose names extend each other apart.
        assert!(!chunk_key("ab", 0).starts_with(&chunk_key("a", 0)[..6]));
    }
}
