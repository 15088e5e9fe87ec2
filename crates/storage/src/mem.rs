//! The in-memory [`Store`] for tests and simulations.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::{Commit, Heads, LoadedDocument, Store, StoreError};

/// A [`Store`] in memory with the same semantics as [`crate::SledStore`], durability included:
/// it keeps the state as of the last [`Store::flush`] beside the current one, and
/// [`MemStore::simulate_crash`] goes back to it.
///
/// Clones share the same data, so a test can drop a node and start another over a clone of its
/// store, as after a (clean) restart.
#[derive(Clone)]
pub struct MemStore {
    inner: Arc<Mutex<Inner>>,
    epoch: u64,
}

impl Default for MemStore {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        MemStore {
            inner: Arc::default(),
            epoch: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }
}

impl std::fmt::Debug for MemStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemStore")
            .field("documents", &inner.current.docs.len())
            .field("feed_head", &inner.current.feed.len())
            .field("unflushed_writes", &inner.pending.len())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    /// What readers see.
    current: Data,
    /// The state as of the last flush.
    durable: Data,
    /// Writes since the last flush, applied to `current` already and to `durable` on flush.
    pending: Vec<Op>,
}

/// Byte strings are shared between `current`, `durable` and `pending`.
type Bytes = Arc<[u8]>;

#[derive(Clone, Default)]
struct Data {
    docs: BTreeMap<String, Doc>,
    /// Event with sequence `n` is at index `n - 1` (pruned ones are empty).
    feed: Vec<Bytes>,
    /// Events up to here were pruned.
    floor: u64,
    sync: BTreeMap<(String, String), Bytes>,
    meta: BTreeMap<String, Bytes>,
}

#[derive(Clone, Default)]
struct Doc {
    snapshot: Option<Bytes>,
    chunks: Vec<Bytes>,
    heads: Heads,
}

enum Op {
    Commit {
        doc: String,
        chunk: Bytes,
        heads: Heads,
        events: Vec<Bytes>,
        meta: Option<(String, Bytes)>,
    },
    Compact {
        doc: String,
        snapshot: Bytes,
        heads: Heads,
    },
    SyncState {
        peer: String,
        doc: String,
        state: Bytes,
    },
    Meta {
        key: String,
        value: Bytes,
    },
    Prune {
        up_to: u64,
    },
}

impl Data {
    fn apply(&mut self, op: &Op) {
        match op {
            Op::Commit {
                doc,
                chunk,
                heads,
                events,
                meta,
            } => {
                let entry = self.docs.entry(doc.clone()).or_default();
                entry.chunks.push(chunk.clone());
                entry.heads.clone_from(heads);
                self.feed.extend(events.iter().cloned());
                if let Some((key, value)) = meta {
                    self.apply(&Op::Meta {
                        key: key.clone(),
                        value: value.clone(),
                    });
                }
            }
            Op::Compact {
                doc,
                snapshot,
                heads,
            } => {
                let entry = self.docs.entry(doc.clone()).or_default();
                entry.snapshot = Some(snapshot.clone());
                entry.chunks.clear();
                entry.heads.clone_from(heads);
            }
            Op::SyncState { peer, doc, state } => {
                self.sync.insert((peer.clone(), doc.clone()), state.clone());
            }
            Op::Meta { key, value } => {
                self.meta.insert(key.clone(), value.clone());
            }
            Op::Prune { up_to } => {
                for seq in self.floor..*up_to {
                    if let Some(event) = self.feed.get_mut(seq as usize) {
                        *event = Bytes::from(&[][..]);
                    }
                }
                self.floor = self.floor.max(*up_to);
            }
        }
    }
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every write since the last [`Store::flush`], as a crash of a disk-backed store
    /// may. Affects every clone. Whole commits and compactions are kept or lost, never parts.
    pub fn simulate_crash(&self) {
        let mut inner = self.lock();
        inner.current = inner.durable.clone();
        inner.pending.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding the lock, and `apply` leaves `Data` whole anyway.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies a write; returns the feed head after it.
    fn write(&self, op: Op) -> u64 {
        let mut inner = self.lock();
        inner.current.apply(&op);
        inner.pending.push(op);
        inner.current.feed.len() as u64
    }
}

impl Store for MemStore {
    fn documents(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.lock().current.docs.keys().cloned().collect())
    }

    fn load_document(&self, doc: &str) -> Result<Option<LoadedDocument>, StoreError> {
        let inner = self.lock();
        Ok(inner.current.docs.get(doc).map(|d| {
            let chunks: Vec<Vec<u8>> = d.chunks.iter().map(|c| c.to_vec()).collect();
            LoadedDocument {
                snapshot: d.snapshot.as_ref().map(|s| s.to_vec()),
                chunk_bytes: chunks.iter().map(|c| c.len() as u64).sum(),
                chunks,
                heads: d.heads.clone(),
            }
        }))
    }

    fn commit(&self, commit: Commit<'_>) -> Result<Vec<u64>, StoreError> {
        let count = commit.feed_events.len() as u64;
        let head = self.write(Op::Commit {
            doc: commit.doc.to_owned(),
            chunk: commit.chunk.into(),
            heads: commit.heads.to_vec(),
            events: commit.feed_events.iter().map(|e| e[..].into()).collect(),
            meta: commit.meta.map(|(k, v)| (k.to_owned(), v.into())),
        });
        Ok((head - count + 1..=head).collect())
    }

    fn compact(&self, doc: &str, snapshot: &[u8], heads: &[[u8; 32]]) -> Result<(), StoreError> {
        self.write(Op::Compact {
            doc: doc.to_owned(),
            snapshot: snapshot.into(),
            heads: heads.to_vec(),
        });
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let Inner {
            durable, pending, ..
        } = &mut *inner;
        for op in pending.drain(..) {
            durable.apply(&op);
        }
        Ok(())
    }

    fn feed_head(&self) -> u64 {
        self.lock().current.feed.len() as u64
    }

    fn flushed_feed_head(&self) -> u64 {
        self.lock().durable.feed.len() as u64
    }

    fn feed_epoch(&self) -> u64 {
        self.epoch
    }

    fn feed_floor(&self) -> u64 {
        self.lock().current.floor
    }

    fn prune_feed(&self, up_to: u64) -> Result<u64, StoreError> {
        let (floor, flushed) = {
            let inner = self.lock();
            (inner.current.floor, inner.durable.feed.len() as u64)
        };
        let up_to = up_to.min(flushed);
        if up_to <= floor {
            return Ok(0);
        }
        self.write(Op::Prune { up_to });
        Ok(up_to - floor)
    }

    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let inner = self.lock();
        if after < inner.current.floor {
            return Err(StoreError::FeedPruned {
                floor: inner.current.floor,
            });
        }
        let feed = &inner.current.feed;
        let start = match usize::try_from(after) {
            Ok(start) if start < feed.len() => start,
            _ => return Ok(Vec::new()),
        };
        Ok(feed[start..]
            .iter()
            .take(limit)
            .zip(after + 1..)
            .map(|(e, seq)| (seq, e.to_vec()))
            .collect())
    }

    fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .current
            .sync
            .get(&(peer.to_owned(), doc.to_owned()))
            .map(|s| s.to_vec()))
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> Result<(), StoreError> {
        self.write(Op::SyncState {
            peer: peer.to_owned(),
            doc: doc.to_owned(),
            state: state.into(),
        });
        Ok(())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().current.meta.get(key).map(|v| v.to_vec()))
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(Op::Meta {
            key: key.to_owned(),
            value: value.into(),
        });
        Ok(())
    }

    fn size_on_disk(&self) -> u64 {
        0
    }
}
