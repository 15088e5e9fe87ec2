//! Storage for a kreisnetz node: Automerge change chunks, compacted snapshots, the change feed,
//! per-peer sync state and small named values.
//!
//! # Why a trait
//!
//! The sync core never talks to a database directly; it talks to [`Store`]. The node runs on
//! [`SledStore`], while the sync core's tests and simulations run on [`MemStore`], which has the
//! same semantics (including "not durable until flushed": see [`MemStore::simulate_crash`]) but
//! needs no disk and no cleanup. A clone of a `MemStore` shares its data, so a test can drop a node
//! and start a new one over the same store, like a restart.
//!
//! # Why checksums
//!
//! sled 0.34 is pre-1.0, unmaintained since 2021 and has open reports of corrupted databases. We
//! keep it because nothing else embedded fits as well, but we do not trust it blindly: every value
//! the [`SledStore`] writes is wrapped in an envelope with a checksum over the key and the value
//! (the first 8 bytes of SHA-256), and every read verifies it. A mismatch, a value that does not
//! parse, or a chunk that the document record says must exist but does not, is reported as
//! [`StoreError::Corrupt`] naming what was affected, never a panic and never silently wrong data.
//! Automerge chunks carry their own hashes on top of that, which the document layer checks when it
//! loads them.
//!
//! # Durability and group commit
//!
//! [`Store::commit`], [`Store::compact`], [`Store::put_sync_state`] and [`Store::put_meta`] are
//! visible to readers at once but are **not durable until [`Store::flush`]** returns. The node
//! acknowledges a write to a client only after a flush that followed it, and it flushes once per
//! batch of writes (group commit): one fsync costs about as much as a thousand buffered writes.
//! If the process dies before a flush, writes since the previous flush may be lost, but each
//! commit and each compaction is lost or kept whole, never in part.
//!
//! Feed sequence numbers of commits lost this way are handed out again after the restart. They
//! were never durable, so nobody should have been shown them: serve the change feed only up to
//! [`Store::flushed_feed_head`] to make "never reused" hold for everything a client has seen.

use std::fmt;

mod codec;
pub mod faulty;
mod mem;
mod sled_store;

pub use faulty::{FaultSwitch, Faults, FaultyStore};
pub use mem::MemStore;
pub use sled_store::{DEFAULT_LOCK_WAIT, SledStore};

/// The heads of an Automerge document: the hashes of the changes nothing else depends on.
pub type Heads = Vec<[u8; 32]>;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be read or written (from sled errors etc.).
    #[error("storage I/O failed: {0}")]
    Io(String),
    /// Stored data failed verification: checksum mismatch, bad key or record layout, a missing
    /// chunk. `what` names the document or key affected.
    #[error("stored data is corrupt: {what}")]
    Corrupt { what: String },
    /// The change-feed events asked for were pruned (retention): events up to `floor` are no
    /// longer kept. A reader must start again from a snapshot of the current state.
    #[error("change-feed events up to {floor} are no longer kept")]
    FeedPruned { floor: u64 },
}

/// A stored document as last committed: the compacted snapshot (if any) and the chunks
/// appended after it, in append order, plus the heads recorded with the newest commit/compaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadedDocument {
    pub snapshot: Option<Vec<u8>>,
    pub chunks: Vec<Vec<u8>>,
    /// Sum of the lengths of `chunks` (what compaction decisions compare with the snapshot).
    pub chunk_bytes: u64,
    pub heads: Heads,
}

/// One atomic write: a chunk of Automerge changes for `doc`, the document heads after it, and
/// the change-feed events it caused (opaque bytes, may be empty).
#[derive(Clone, Copy)]
pub struct Commit<'a> {
    pub doc: &'a str,
    pub chunk: &'a [u8],
    pub heads: &'a [[u8; 32]],
    pub feed_events: &'a [Vec<u8>],
    /// A metadata entry (key, value) written in the same atomic batch: e.g. the signatures that
    /// cover the document as stored, which must never be older or newer than its chunks.
    pub meta: Option<(&'a str, &'a [u8])>,
}

impl fmt::Debug for Commit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Commit")
            .field("doc", &self.doc)
            .field("chunk_len", &self.chunk.len())
            .field("heads", &self.heads.len())
            .field("feed_events", &self.feed_events.len())
            .finish()
    }
}

/// What a node stores. All methods take `&self`: the node commits and flushes from one writer
/// thread while other threads load documents and read the feed.
pub trait Store: Send + Sync + 'static {
    /// IDs of all stored documents, sorted.
    fn documents(&self) -> Result<Vec<String>, StoreError>;
    /// The document, or None if never committed. Verifies checksums.
    fn load_document(&self, doc: &str) -> Result<Option<LoadedDocument>, StoreError>;
    /// Atomically appends the chunk, records the heads, appends the feed events with the next
    /// feed sequence numbers (strictly increasing from 1, never reused, even across restarts).
    /// Returns the sequence numbers assigned (empty vec if no events). Not durable until flush().
    fn commit(&self, commit: Commit<'_>) -> Result<Vec<u64>, StoreError>;
    /// Atomically replaces `doc`'s snapshot and drops every chunk appended to it so far.
    fn compact(&self, doc: &str, snapshot: &[u8], heads: &[[u8; 32]]) -> Result<(), StoreError>;
    /// Makes every write so far durable (one fsync).
    fn flush(&self) -> Result<(), StoreError>;
    /// The highest feed sequence assigned so far (0 if none).
    fn feed_head(&self) -> u64;
    /// A number that identifies this feed's numbering: chosen when the store was created, so a
    /// database created anew (its sequences start again at 1) has another epoch, and a client
    /// holding a cursor of the old one can be told to start over instead of silently waiting.
    fn feed_epoch(&self) -> u64;
    /// Events up to this sequence were pruned by [`Store::prune_feed`] (0: none).
    fn feed_floor(&self) -> u64;
    /// Removes the feed events with sequence ≤ `up_to` (at most up to
    /// [`Store::flushed_feed_head`]); returns how many were removed. Sequence numbers are never
    /// reused. Not durable until flush().
    fn prune_feed(&self, up_to: u64) -> Result<u64, StoreError>;
    /// Up to `limit` feed events with sequence > `after`, in order, checksums verified.
    /// [`StoreError::FeedPruned`] if `after` is below [`Store::feed_floor`].
    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError>;
    /// Persisted Automerge sync state per (peer, document).
    fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> Result<(), StoreError>;
    /// Small named values (schema version, signed heads records later, ...).
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Approximate bytes on disk (0 for memory).
    fn size_on_disk(&self) -> u64;

    /// The highest feed sequence known to be durable: assigned before a [`Store::flush`] that
    /// has returned (or found on disk when the store was opened). Events up to here survive a
    /// crash; events above it may be lost and their sequence numbers handed out again.
    ///
    /// The default is [`Store::feed_head`], right for a store whose writes are durable at once.
    fn flushed_feed_head(&self) -> u64 {
        self.feed_head()
    }
}
