//! A [`Store`] that fails on purpose, for tests of what a node does when its storage fails.
//!
//! [`FaultyStore`] wraps any store and makes chosen operations fail with
//! [`StoreError::Io`] *before* they reach the wrapped store (so a failed commit stored nothing,
//! as with a write refused by a full disk). Which operations fail is a [`Faults`] set, changed
//! in one of two ways:
//! - in-process, through the shared [`FaultSwitch`] (unit tests, simulations);
//! - from outside a running node, through a **control file**: the node started with the
//!   environment variable `KREISNETZ_STORAGE_FAULTS=<path>` wraps its database in a
//!   `FaultyStore` that re-reads `<path>` before every write. The file holds the names of the
//!   operations to fail, separated by white space (`commit`, `compact`, `flush`, `meta`,
//!   `sync_state`, `prune`, or `all`); a missing or empty file fails nothing. End-to-end tests
//!   drive a real node process this way, so they keep working whatever shape the node's
//!   insides take.
//!
//! Reads never fail on purpose: what is tested is that memory never runs ahead of disk.
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::{Commit, LoadedDocument, Store, StoreError};

/// The operations that fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    pub commit: bool,
    pub compact: bool,
    pub flush: bool,
    pub meta: bool,
    pub sync_state: bool,
    pub prune: bool,
}

impl Faults {
    /// Every write fails.
    pub const ALL: Faults = Faults {
        commit: true,
        compact: true,
        flush: true,
        meta: true,
        sync_state: true,
        prune: true,
    };

    /// Parses the control file's words; unknown words are an error naming them.
    pub fn parse(text: &str) -> Result<Faults, String> {
        let mut faults = Faults::default();
        for word in text.split_whitespace() {
            match word {
                "commit" => faults.commit = true,
                "compact" => faults.compact = true,
                "flush" => faults.flush = true,
                "meta" => faults.meta = true,
                "sync_state" => faults.sync_state = true,
                "prune" => faults.prune = true,
                "all" => faults = Faults::ALL,
                other => {
                    return Err(format!(
                        "unknown storage fault {other:?}; expected commit, compact, flush, \
                         meta, sync_state, prune or all"
                    ));
                }
            }
        }
        Ok(faults)
    }
}

/// Switches the faults of a [`FaultyStore`] while it runs. Clones share the switch.
#[derive(Clone, Debug, Default)]
pub struct FaultSwitch {
    set: Arc<Mutex<Faults>>,
    control: Option<PathBuf>,
}

impl FaultSwitch {
    /// A switch set in-process only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A switch that reads its faults from `path` before every write (see the module doc).
    pub fn from_file(path: PathBuf) -> Self {
        FaultSwitch {
            set: Arc::default(),
            control: Some(path),
        }
    }

    /// Sets the faults (in-process).
    pub fn set(&self, faults: Faults) {
        *self.set.lock().unwrap_or_else(|e| e.into_inner()) = faults;
    }

    /// The faults in force now.
    pub fn current(&self) -> Faults {
        if let Some(path) = &self.control {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            match Faults::parse(&text) {
                Ok(faults) => return faults,
                Err(e) => {
                    tracing::warn!(file = %path.display(), error = %e, "ignoring the storage fault file")
                }
            }
        }
        *self.set.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A store whose writes fail when its [`FaultSwitch`] says so. See the module documentation.
pub struct FaultyStore<S> {
    inner: S,
    switch: FaultSwitch,
}

impl<S: Store> FaultyStore<S> {
    pub fn new(inner: S, switch: FaultSwitch) -> Self {
        FaultyStore { inner, switch }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn check(&self, failing: impl FnOnce(Faults) -> bool, what: &str) -> Result<(), StoreError> {
        if failing(self.switch.current()) {
            tracing::warn!(operation = what, "storage fault injected");
            return Err(StoreError::Io(format!("injected fault: {what} failed")));
        }
        Ok(())
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn documents(&self) -> Result<Vec<String>, StoreError> {
        self.inner.documents()
    }

    fn load_document(&self, doc: &str) -> Result<Option<LoadedDocument>, StoreError> {
        self.inner.load_document(doc)
    }

    fn commit(&self, commit: Commit<'_>) -> Result<Vec<u64>, StoreError> {
        self.check(|f| f.commit, "commit")?;
        self.inner.commit(commit)
    }

    fn compact(&self, doc: &str, snapshot: &[u8], heads: &[[u8; 32]]) -> Result<(), StoreError> {
        self.check(|f| f.compact, "compact")?;
        self.inner.compact(doc, snapshot, heads)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.check(|f| f.flush, "flush")?;
        self.inner.flush()
    }

    fn feed_head(&self) -> u64 {
        self.inner.feed_head()
    }

    fn flushed_feed_head(&self) -> u64 {
        self.inner.flushed_feed_head()
    }

    fn feed_epoch(&self) -> u64 {
        self.inner.feed_epoch()
    }

    fn feed_floor(&self) -> u64 {
        self.inner.feed_floor()
    }

    fn prune_feed(&self, up_to: u64) -> Result<u64, StoreError> {
        self.check(|f| f.prune, "prune")?;
        self.inner.prune_feed(up_to)
    }

    fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.inner.feed_after(after, limit)
    }

    fn sync_state(&self, peer: &str, doc: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.sync_state(peer, doc)
    }

    fn put_sync_state(&self, peer: &str, doc: &str, state: &[u8]) -> Result<(), StoreError> {
        self.check(|f| f.sync_state, "put_sync_state")?;
        self.inner.put_sync_state(peer, doc, state)
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta(key)
    }

    fn put_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.check(|f| f.meta, "put_meta")?;
        self.inner.put_meta(key, value)
    }

    fn size_on_disk(&self) -> u64 {
        self.inner.size_on_disk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemStore;

    fn commit(store: &impl Store, chunk: &[u8]) -> Result<Vec<u64>, StoreError> {
        store.commit(Commit {
            doc: "d",
            chunk,
            heads: &[],
            feed_events: &[chunk.to_vec()],
            meta: None,
        })
    }

    #[test]
    fn a_failed_commit_stores_nothing_and_writes_go_on_after() {
        let switch = FaultSwitch::new();
        let store = FaultyStore::new(MemStore::new(), switch.clone());
        assert_eq!(commit(&store, b"a").unwrap(), vec![1]);
        switch.set(Faults {
            commit: true,
            ..Faults::default()
        });
        assert!(matches!(commit(&store, b"b"), Err(StoreError::Io(_))));
        assert_eq!(store.feed_head(), 1);
        assert_eq!(store.load_document("d").unwrap().unwrap().chunks.len(), 1);
        switch.set(Faults::default());
        assert_eq!(commit(&store, b"c").unwrap(), vec![2]);
    }

    #[test]
    fn the_control_file_switches_faults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("faults");
        let store = FaultyStore::new(MemStore::new(), FaultSwitch::from_file(file.clone()));
        store.flush().unwrap();
        std::fs::write(&file, "flush commit\n").unwrap();
        assert!(store.flush().is_err());
        assert!(commit(&store, b"x").is_err());
        assert!(store.put_meta("k", b"v").is_ok());
        std::fs::write(&file, "all").unwrap();
        assert!(store.put_meta("k", b"v").is_err());
        std::fs::remove_file(&file).unwrap();
        assert!(store.flush().is_ok());
        assert_eq!(
            Faults::parse("commit bogus"),
            Err(
                "unknown storage fault \"bogus\"; expected commit, compact, flush, meta, \
                 sync_state, prune or all"
                    .into()
            )
        );
    }
}
