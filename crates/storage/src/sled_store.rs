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
//! so after a reopen the next commit continues after the highest sequence on disk.

use std::path::Path;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::codec::{self, DocRecord, Reader};
use crate::{Commit, LoadedDocument, Store, StoreError};

/// Name of the sled tree holding everything.
pub(crate) const TREE_NAME: &str = "kreisnetz";
/// Version of the key layout above, stored under [`KEY_VERSION`].
const LAYOUT_VERSION: u32 = 1;

const KEY_VERSION: &[u8] = b"V";
const KEY_FEED_COUNTER: &[u8] = b"F";
const TAG_DOC: u8 = b'd';
const TAG_SNAPSHOT: u8 = b's';
const TAG_CHUNK: u8 = b'c';
const TAG_FEED: u8 = b'f';
const TAG_SYNC: u8 = b'y';
const TAG_META: u8 = b'm';

/// A [`Store`] in a sled database. See the module documentation for the key layout.
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Held for writing by commit and compact (so they see and update document records one at
    /// a time) and for reading by loads (so a load never mixes a snapshot from after a
    /// compaction with chunks from before it). Each holder only does in-memory sled work.
    docs: RwLock<()>,
    /// Highest feed sequence assigned and applied; events up to it are readable.
    feed_head: AtomicU64,
    /// Highest feed sequence made durable by a flush (or found on disk at open).
    flushed_head: AtomicU64,
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
    loop {
        match sled::Config::new().path(dir).open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && start.elapsed() < wait =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

impl SledStore {
    /// Opens (or creates) the sled database in `dir`, waiting up to [`DEFAULT_LOCK_WAIT`] for
    /// a previous handle on it (in this process) to let go.
    ///
    /// Fails with [`StoreError::Io`] if sled cannot open it (for instance because another
    /// process holds it) and with [`StoreError::Corrupt`] if it holds data in a layout this
    /// version does not know.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_lock_wait(dir, DEFAULT_LOCK_WAIT)
    }

    /// [`SledStore::open`], waiting up to `lock_wait` for sled's lock on the directory.
    pub fn open_with_lock_wait(dir: &Path, lock_wait: Duration) -> Result<Self, StoreError> {
        let db = open_sled(dir, lock_wait).map_err(io)?;
        let tree = db.open_tree(TREE_NAME).map_err(io)?;

        match tree.get(KEY_VERSION).map_err(io)? {
            Some(value) => {
                let payload = codec::open(KEY_VERSION, &value, || describe(KEY_VERSION))?;
                let version = <[u8; 4]>::try_from(payload)
                    .map(u32::from_be_bytes)
                    .map_err(|_| corrupt("layout version: not a 4-byte integer".to_owned()))?;
                if version != LAYOUT_VERSION {
                    return Err(StoreError::Corrupt {
                        what: format!(
                            "layout version {version} in {}, this build reads only {LAYOUT_VERSION}",
                            dir.display()
                        ),
                    });
                }
            }
            None => {
                if !tree.is_empty() {
                    return Err(corrupt(format!(
                        "{} holds data but no layout version",
                        dir.display()
                    )));
                }
                let payload = LAYOUT_VERSION.to_be_bytes();
                tree.insert(KEY_VERSION, codec::seal(KEY_VERSION, &payload))
                    .map_err(io)?;
            }
        }

        let counter = match tree.get(KEY_FEED_COUNTER).map_err(io)? {
            Some(value) => {
                let payload = codec::open(KEY_FEED_COUNTER, &value, || describe(KEY_FEED_COUNTER))?;
                decode_u64(payload, KEY_FEED_COUNTER)?
            }
            None => 0,
        };
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
        let head = counter.max(last_event);

        Ok(SledStore {
            db,
            tree,
            docs: RwLock::new(()),
            feed_head: AtomicU64::new(head),
            flushed_head: AtomicU64::new(head),
        })
    }

    /// Reads every value in the database and verifies its checksum, then loads every document
    /// (which checks that its chunks are complete). Returns how many values were checked. Meant
    /// for startup checks, admin commands and tests; it reads the whole database.
    pub fn verify(&self) -> Result<u64, StoreError> {
        let mut checked = 0u64;
        for entry in self.tree.iter() {
            let (key, value) = entry.map_err(io)?;
            match key.first() {
                Some(
                    b'V' | b'F' | &TAG_DOC | &TAG_SNAPSHOT | &TAG_CHUNK | &TAG_FEED | &TAG_SYNC
                    | &TAG_META,
                ) => {
                    codec::open(&key, &value, || describe(&key))?;
                }
                _ => return Err(corrupt(describe(&key))),
            }
            checked += 1;
        }
        for doc in self.documents()? {
            self.load_document(&doc)?;
        }
        Ok(checked)
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.tree.get(key).map_err(io)? {
            Some(value) => Ok(Some(codec::open(key, &value, || describe(key))?.to_vec())),
            None => Ok(None),
        }
    }

    fn record(&self, doc: &str) -> Result<Option<DocRecord>, StoreError> {
        let key = doc_key(doc);
        match self.tree.get(&key).map_err(io)? {
            Some(value) => {
                let payload = codec::open(&key, &value, || describe(&key))?;
                DocRecord::decode(payload)
                    .map(Some)
                    .ok_or_else(|| corrupt(format!("{}: bad record layout", describe(&key))))
            }
            None => Ok(None),
        }
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        // The lock guards no data, so a panic elsewhere cannot have left anything half-done.
        self.docs.write().unwrap_or_else(|e| e.into_inner())
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.docs.read().unwrap_or_else(|e| e.into_inner())
    }
}

impl Store for SledStore {
    fn documents(&self) -> Result<Vec<String>, StoreError> {
        let mut docs = Vec::new();
        for entry in self.tree.scan_prefix([TAG_DOC]) {
            let (key, _) = entry.map_err(io)?;
            let doc = String::from_utf8(key[1..].to_vec())
                .map_err(|_| corrupt(format!("{}: not UTF-8", describe(&key))))?;
            docs.push(doc);
        }
        // Byte order of the keys is the order of `String`s already; sort anyway so the
        // contract does not hang on that.
        docs.sort();
        Ok(docs)
    }

    fn load_document(&self, doc: &str) -> Result<Option<LoadedDocument>, StoreError> {
        let _guard = self.read_lock();
        let Some(record) = self.record(doc)? else {
            return Ok(None);
        };

        let snapshot = if record.has_snapshot {
            let key = snapshot_key(doc);
            match self.get(&key)? {
                Some(snapshot) => Some(snapshot),
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
        for entry in self.tree.range(range) {
            let (key, value) = entry.map_err(io)?;
            let index = chunk_index(&key).ok_or_else(|| corrupt(describe(&key)))?;
            if index != expected {
                return Err(corrupt(format!(
                    "chunk {expected} of document {doc:?} is missing"
                )));
            }
            let chunk = codec::open(&key, &value, || describe(&key))?;
            chunk_bytes += chunk.len() as u64;
            chunks.push(chunk.to_vec());
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
    }

    fn commit(&self, commit: Commit<'_>) -> Result<Vec<u64>, StoreError> {
        let _guard = self.write_lock();
        let old = self.record(commit.doc)?.unwrap_or(DocRecord {
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
        batch.insert(key.as_slice(), codec::seal(&key, commit.chunk));
        let key = doc_key(commit.doc);
        batch.insert(key.as_slice(), codec::seal(&key, &record.encode()));

        if let Some((name, value)) = commit.meta {
            let key = meta_key(name);
            batch.insert(key.as_slice(), codec::seal(&key, value));
        }

        let head = self.feed_head.load(Ordering::Acquire);
        let seqs: Vec<u64> = (1..=commit.feed_events.len() as u64)
            .map(|i| head + i)
            .collect();
        for (seq, event) in seqs.iter().zip(commit.feed_events) {
            let key = feed_key(*seq);
            batch.insert(&key[..], codec::seal(&key, event));
        }
        let new_head = seqs.last().copied().unwrap_or(head);
        if new_head != head {
            batch.insert(
                KEY_FEED_COUNTER,
                codec::seal(KEY_FEED_COUNTER, &new_head.to_be_bytes()),
            );
        }

        self.tree.apply_batch(batch).map_err(io)?;
        self.feed_head.store(new_head, Ordering::Release);
        Ok(seqs)
    }

    fn compact(&self, doc: &str, snapshot: &[u8], heads: &[[u8; 32]]) -> Result<(), StoreError> {
        let _guard = self.write_lock();
        let old = self.record(doc)?;
        let (first, next) = old
            .as_ref()
            .map_or((0, 0), |r| (r.first_chunk, r.next_chunk));

        let mut batch = sled::Batch::default();
        for index in first..next {
            batch.remove(chunk_key(doc, index));
        }
        let key = snapshot_key(doc);
        batch.insert(key.as_slice(), codec::seal(&key, snapshot));
        let record = DocRecord {
            first_chunk: next,
            next_chunk: next,
            chunk_bytes: 0,
            has_snapshot: true,
            heads: heads.to_vec(),
        };
        let key = doc_key(doc);
        batch.insert(key.as_slice(), codec::seal(&key, &record.encode()));
        self.tree.apply_batch(batch).map_err(io)
    }

    fn flush(&self) -> Result<(), StoreError> {
        // Everything applied before this load is covered by the flush below.
        let head = self.feed_head.load(Ordering::Acquire);
        self.db.flush().map_err(io)?;
        self.flushed_head.fetch_max(head, Ordering::AcqRel);
        Ok(())
    }

    fn feed_head(&self) -> u64 {
        self.feed_head.load(Ordering::Acquire)
    }

    fn flushed_feed_head(&self) -> u64 {
        self.flushed_head.load(Ordering::Acquire)
    }

    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        // Only events up to the published head: all of those are applied, so the range below
        // is contiguous unless something was lost.
        let head = self.feed_head.load(Ordering::Acquire);
        if limit == 0 || after >= head {
            return Ok(Vec::new());
        }
        let last = head.min(after.saturating_add(limit as u64));
        let mut events = Vec::with_capacity(usize::try_from(last - after).unwrap_or(0));
        let mut expected = after + 1;
        for entry in self.tree.range(feed_key(expected)..=feed_key(last)) {
            let (key, value) = entry.map_err(io)?;
            let seq = feed_seq(&key).ok_or_else(|| corrupt(describe(&key)))?;
            if seq != expected {
                return Err(corrupt(format!("feed event {expected} is missing")));
            }
            let event = codec::open(&key, &value, || describe(&key))?;
            events.push((seq, event.to_vec()));
            expected += 1;
        }
        if expected != last + 1 {
            return Err(corrupt(format!("feed event {expected} is missing")));
        }
        Ok(events)
    }

    fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(&sync_key(peer, doc))
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> Result<(), StoreError> {
        let key = sync_key(peer, doc);
        self.tree
            .insert(key.as_slice(), codec::seal(&key, state))
            .map_err(io)?;
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(&meta_key(key))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let key = meta_key(key);
        self.tree
            .insert(key.as_slice(), codec::seal(&key, value))
            .map_err(io)?;
        Ok(())
    }

    fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
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
        assert_eq!(store.verify().unwrap(), 13);
        drop(store);
        dir
    }

    /// Changes the raw tree with sled's own API, then reopens the store.
    fn damage(dir: &TempDir, f: impl FnOnce(&sled::Tree)) -> Result<SledStore, StoreError> {
        {
            let db = open_sled(dir.path(), DEFAULT_LOCK_WAIT).unwrap();
            let tree = db.open_tree(TREE_NAME).unwrap();
            f(&tree);
            db.flush().unwrap();
        }
        SledStore::open(dir.path())
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
            t.insert(KEY_VERSION, codec::seal(KEY_VERSION, &2u32.to_be_bytes()))
                .unwrap();
        });
        assert_corrupt(result, "layout version 2");
        let dir = setup();
        let result = damage(&dir, |t| {
            t.remove(KEY_VERSION).unwrap();
        });
        assert_corrupt(result, "no layout version");
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
