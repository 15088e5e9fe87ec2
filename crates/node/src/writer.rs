//! The document writer: the one thread that changes the district's own document.
//!
//! Every write request goes through a bounded channel to this thread. It takes whatever requests
//! are waiting (up to `max_batch`), applies each to the Automerge document as its own change,
//! appends all of them to storage as one chunk with their change-feed events, flushes **once**,
//! and only then updates the read view, advances the durable feed head and answers the callers.
//! That is group commit: sixteen concurrent writers share one fsync, and a caller is never told
//! "done" before its write is on disk.
//!
//! A request that breaks a rule is rolled back on its own and answered with the reason; the
//! others in the batch go ahead. If storage fails, the document is reloaded from what is on disk
//! and every write of the batch is answered with the storage error, so memory never runs ahead
//! of disk.
use std::sync::{Arc, RwLock};

use kreisnetz_document::{DistrictDocument, DocumentError, automerge::ChangeHash};
use kreisnetz_model::{
    Contact, ContactField, DistrictId, Offering, OfferingField, RecordId, RecordKind, Timestamp,
    Violations,
};
use kreisnetz_proto::convert;
use kreisnetz_proto::v1;
use kreisnetz_storage::{Commit, Store, StoreError};
use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};

use crate::view::{DistrictView, RegionView};

/// What a caller asks the writer to do.
#[derive(Debug)]
pub enum Command {
    CreateOffering(Offering),
    /// Copy `fields` of `patch` onto the stored offering `patch.id`.
    UpdateOffering {
        patch: Offering,
        fields: Vec<OfferingField>,
        etag: Option<String>,
    },
    DeleteOffering {
        id: RecordId,
        etag: Option<String>,
    },
    CreateContact(Contact),
    UpdateContact {
        patch: Contact,
        fields: Vec<ContactField>,
        etag: Option<String>,
    },
    DeleteContact {
        id: RecordId,
        etag: Option<String>,
    },
    /// Changes to the own document made by another node of the same district, which the sync
    /// thread verified (signed with the district key): merged into the writer's document and
    /// stored with their feed events like a write. (Internal: the API never sends it.)
    Merge(Vec<u8>),
}

/// What a successful write produced.
#[derive(Debug, Clone)]
pub enum Outcome {
    Offering(Offering),
    Contact(Contact),
    Deleted,
}

/// Why a write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("invalid: {0}")]
    Invalid(Violations),
    #[error("{kind} {id} not found")]
    NotFound { kind: RecordKind, id: RecordId },
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: RecordKind, id: RecordId },
    /// A precondition of the stored state does not hold (stale etag, still referenced).
    #[error("{description}")]
    FailedPrecondition {
        kind: &'static str,
        subject: String,
        description: String,
    },
    #[error("storage failed: {0}")]
    Storage(String),
    #[error("the node is shutting down")]
    ShuttingDown,
}

type Reply = oneshot::Sender<Result<Outcome, WriteError>>;

/// A handle to send writes to the writer thread.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<(Command, Reply)>,
}

/// A handle that does not keep the writer running (the sync thread holds one: the writer holds
/// the sync thread's sender, so a strong handle would keep both alive at shutdown).
#[derive(Clone)]
pub struct WeakWriterHandle {
    tx: mpsc::WeakSender<(Command, Reply)>,
}

impl WeakWriterHandle {
    /// Hands the writer changes of another node of the district (see [`Command::Merge`]),
    /// without waiting. `false` if its queue is full or it is gone: they are then fetched from
    /// the other node again after a restart.
    pub fn try_merge(&self, chunk: Vec<u8>) -> bool {
        let Some(tx) = self.tx.upgrade() else {
            return false;
        };
        let (reply, _) = oneshot::channel();
        tx.try_send((Command::Merge(chunk), reply)).is_ok()
    }
}

impl WriterHandle {
    /// A handle that does not keep the writer running.
    pub fn downgrade(&self) -> WeakWriterHandle {
        WeakWriterHandle {
            tx: self.tx.downgrade(),
        }
    }

    /// Sends a write and waits until it is durable (or refused).
    pub async fn write(&self, command: Command) -> Result<Outcome, WriteError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send((command, reply))
            .await
            .map_err(|_| WriteError::ShuttingDown)?;
        rx.await.map_err(|_| WriteError::ShuttingDown)?
    }
}

/// Shared state the writer publishes.
pub struct Published {
    pub view: Arc<RwLock<RegionView>>,
    /// The newest feed sequence that is durable.
    pub feed_head: watch::Sender<u64>,
    /// Heads of the own document after the last durable write.
    pub heads: watch::Sender<Vec<ChangeHash>>,
    /// Bytes the own document takes in storage (its snapshot and the chunks after it), as the
    /// writer — which alone stores and compacts it — last left it.
    pub stored_bytes: std::sync::atomic::AtomicU64,
    /// Set by the shutdown once the API has stopped: writes still queued then have no caller
    /// left to tell, so the writer answers them `ShuttingDown` instead of applying them.
    pub stopping: std::sync::atomic::AtomicBool,
}

/// The writer's state, owned by its thread.
pub struct Writer {
    district: DistrictId,
    doc: DistrictDocument,
    store: Arc<dyn Store>,
    published: Arc<Published>,
    max_batch: usize,
    compact_min_bytes: u64,
    /// Set while storage cannot be read after a failed write (see `reload`).
    broken: Option<String>,
    snapshot_bytes: u64,
    chunk_bytes: u64,
    /// The writer's own copy of the district's records, current including writes of the batch
    /// in progress (the shared view only gets them once they are durable).
    local: DistrictView,
    /// Where durable local changes go on to the federation (none in tests without it).
    sync: Option<mpsc::Sender<crate::federation::ShellInput>>,
    metrics: crate::metrics::Metrics,
}

/// Storage key helper.
pub fn doc_key(district: &DistrictId) -> String {
    district.to_string()
}

/// Loads the own document from storage (or starts it), writes district metadata if it changed.
pub fn open_document(
    store: &dyn Store,
    district: DistrictId,
) -> Result<(DistrictDocument, u64, u64), OpenError> {
    let key = doc_key(&district);
    match store.load_document(&key)? {
        Some(loaded) => {
            let mut chunks = Vec::with_capacity(loaded.chunk_bytes as usize);
            for c in &loaded.chunks {
                chunks.extend_from_slice(c);
            }
            let heads: Vec<ChangeHash> = loaded.heads.iter().map(|h| ChangeHash(*h)).collect();
            let doc =
                DistrictDocument::load(district, loaded.snapshot.as_deref(), &chunks, &heads)?;
            let snapshot_bytes = loaded.snapshot.as_ref().map_or(0, |s| s.len() as u64);
            Ok((doc, snapshot_bytes, loaded.chunk_bytes))
        }
        None => Ok((DistrictDocument::new(district)?, 0, 0)),
    }
}

/// Why the node could not open its document.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored district document cannot be loaded: {0}")]
    Document(#[from] DocumentError),
}

/// Reads the whole document into a view.
pub fn district_view(doc: &DistrictDocument, name: &str) -> DistrictView {
    DistrictView {
        name: name.to_string(),
        offerings: doc.offerings().into_iter().map(|o| (o.id, o)).collect(),
        contacts: doc.contacts().into_iter().map(|c| (c.id, c)).collect(),
    }
}

struct Applied {
    outcome: Outcome,
    event: v1::ChangeEvent,
}

impl Writer {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        district: DistrictId,
        doc: DistrictDocument,
        store: Arc<dyn Store>,
        published: Arc<Published>,
        max_batch: usize,
        compact_min_bytes: u64,
        snapshot_bytes: u64,
        chunk_bytes: u64,
    ) -> Self {
        let local = district_view(&doc, "");
        let writer = Writer {
            district,
            doc,
            store,
            published,
            max_batch,
            compact_min_bytes,
            broken: None,
            snapshot_bytes,
            chunk_bytes,
            local,
            sync: None,
            metrics: crate::metrics::Metrics::default(),
        };
        writer.note_stored();
        writer
    }

    /// Publishes what the own document takes in storage (for the admin view).
    fn note_stored(&self) {
        self.published.stored_bytes.store(
            self.snapshot_bytes + self.chunk_bytes,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Where the writer reports its flush latency.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Merges changes another node of the district made (the sync thread verified their
    /// signature) into the writer's document, and returns them as applied writes — one per
    /// record they touched, read from the writer's document, which also has every write of this
    /// node — so that they are stored, published and announced in the feed like local writes.
    fn merge(&mut self, chunk: &[u8], now: Timestamp) -> Vec<Applied> {
        use v1::change_event::Kind;
        let before = self.doc.heads();
        if let Err(e) = self.doc.automerge().load_incremental(chunk) {
            tracing::error!(error = %e, "cannot merge changes of another node of the district");
        }
        let after = self.doc.heads();
        if before == after {
            return Vec::new();
        }
        let mut merged = Vec::new();
        for (kind, id) in self.doc.changed_records(&before, &after) {
            let applied = match kind {
                RecordKind::Offering => match self.doc.offering(&id).ok().flatten() {
                    Some(o) if self.local.offerings.contains_key(&id) => {
                        Applied::offering(Kind::OfferingUpdated, o, now)
                    }
                    Some(o) => Applied::offering(Kind::OfferingCreated, o, now),
                    None => Applied::deleted(
                        Kind::OfferingDeleted,
                        self.district,
                        RecordKind::Offering,
                        id,
                        now,
                    ),
                },
                RecordKind::Contact => match self.doc.contact(&id).ok().flatten() {
                    Some(c) if self.local.contacts.contains_key(&id) => {
                        Applied::contact(Kind::ContactUpdated, c, now)
                    }
                    Some(c) => Applied::contact(Kind::ContactCreated, c, now),
                    None => Applied::deleted(
                        Kind::ContactDeleted,
                        self.district,
                        RecordKind::Contact,
                        id,
                        now,
                    ),
                },
            };
            apply_to_view(&mut self.local, &applied);
            merged.push(applied);
        }
        tracing::debug!(
            records = merged.len(),
            "merged changes of another node of the district"
        );
        merged
    }

    /// A copy of the own document for the sync core, as it is now (call after start-up writes).
    pub fn fork_document(&mut self) -> DistrictDocument {
        self.doc.fork()
    }

    /// Sends every durable local change to the federation's sync thread from now on.
    pub fn with_sync(mut self, sync: mpsc::Sender<crate::federation::ShellInput>) -> Self {
        self.sync = Some(sync);
        self
    }

    fn announce(&self, chunk: &[u8]) {
        if let Some(sync) = &self.sync
            && sync
                .blocking_send(crate::federation::ShellInput::LocalChange {
                    chunk: chunk.to_vec(),
                })
                .is_err()
        {
            tracing::debug!("the sync thread is gone; local change not announced");
        }
    }

    /// Writes pending edits made at start-up (genesis, district metadata) durably.
    pub fn persist_pending(&mut self, message: &str) -> Result<(), WriteError> {
        self.doc.commit(message, now_secs());
        let chunk = self.doc.take_unsaved();
        if chunk.is_empty() {
            // Nothing new (a restart): the heads are still news to the status.
            let _ = self.published.heads.send(self.doc.heads());
            return Ok(());
        }
        let heads = self.heads_bytes();
        self.store
            .commit(Commit {
                doc: &doc_key(&self.district),
                chunk: &chunk,
                heads: &heads,
                feed_events: &[],
                meta: None,
            })
            .and_then(|_| self.store.flush())
            .map_err(|e| WriteError::Storage(e.to_string()))?;
        self.chunk_bytes += chunk.len() as u64;
        self.note_stored();
        let _ = self.published.heads.send(self.doc.heads());
        Ok(())
    }

    /// Sets the district's name and AGS in its document.
    pub fn set_metadata(&mut self, name: &str, ags: &str) -> Result<(), WriteError> {
        self.doc
            .set_metadata(name, ags)
            .map_err(|e| WriteError::Storage(e.to_string()))?;
        self.persist_pending("district metadata")
    }

    fn heads_bytes(&mut self) -> Vec<[u8; 32]> {
        self.doc.heads().iter().map(|h| h.0).collect()
    }

    /// Starts the writer thread; it ends when every handle is dropped.
    pub fn spawn(self, queue: usize) -> (WriterHandle, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(queue);
        let join = std::thread::Builder::new()
            .name("document-writer".into())
            .spawn(move || self.run(rx))
            .unwrap_or_else(|e| panic!("cannot start the document writer thread: {e}"));
        (WriterHandle { tx }, join)
    }

    fn run(mut self, mut rx: mpsc::Receiver<(Command, Reply)>) {
        let span = tracing::info_span!("writer", district = %self.district);
        let _enter = span.enter();
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Some(first) = rx.blocking_recv() {
            batch.push(first);
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.process(&mut batch);
            self.maybe_compact();
        }
        tracing::info!("document writer stopped");
    }

    fn process(&mut self, batch: &mut Vec<(Command, Reply)>) {
        if self
            .published
            .stopping
            .load(std::sync::atomic::Ordering::Acquire)
        {
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(WriteError::ShuttingDown));
            }
            return;
        }
        if self.broken.is_some() && !self.reload() {
            let msg = self.broken.clone().unwrap_or_default();
            for (_, reply) in batch.drain(..) {
                let _ = reply.send(Err(WriteError::Storage(format!(
                    "storage is unavailable: {msg}"
                ))));
            }
            return;
        }
        let now = Timestamp::now();
        // Merges first, then the writes; all stored in one commit.
        let mut merged = Vec::new();
        batch.retain(|(command, _)| match command {
            Command::Merge(chunk) => {
                merged.extend(self.merge(chunk, now));
                false
            }
            _ => true,
        });
        let mut results = Vec::with_capacity(batch.len());
        for (command, _) in batch.iter() {
            let result = self.apply(command, now);
            match &result {
                Ok(applied) => {
                    self.doc.commit(&applied.event_message(), now.0 / 1000);
                    apply_to_view(&mut self.local, applied);
                }
                Err(_) => self.doc.rollback(),
            }
            results.push(result);
        }
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok > 0 || !merged.is_empty() {
            let events: Vec<Vec<u8>> = merged
                .iter()
                .chain(results.iter().flatten())
                .map(|a| a.event.encode_to_vec())
                .collect();
            let chunk = self.doc.take_unsaved();
            let heads = self.heads_bytes();
            let started = std::time::Instant::now();
            let stored = self
                .store
                .commit(Commit {
                    doc: &doc_key(&self.district),
                    chunk: &chunk,
                    heads: &heads,
                    feed_events: &events,
                    meta: None,
                })
                .and_then(|seqs| {
                    let flushing = std::time::Instant::now();
                    self.store.flush().map(|()| {
                        self.metrics.observe_flush(flushing.elapsed().as_secs_f64());
                        seqs
                    })
                });
            match stored {
                Ok(seqs) => {
                    tracing::debug!(
                        writes = ok,
                        flush_ms = started.elapsed().as_secs_f64() * 1e3,
                        "batch durable"
                    );
                    self.chunk_bytes += chunk.len() as u64;
                    self.note_stored();
                    self.publish(merged.iter().chain(results.iter().flatten()));
                    self.announce(&chunk);
                    if let Some(last) = seqs.last() {
                        // The sync thread advances the same head: keep the larger.
                        self.published
                            .feed_head
                            .send_modify(|h| *h = (*h).max(*last));
                    }
                    let _ = self.published.heads.send(self.doc.heads());
                }
                Err(e) => {
                    tracing::error!(error = %e, "storing a batch failed; reloading the document from disk");
                    let msg = e.to_string();
                    self.reload();
                    results = results
                        .into_iter()
                        .map(|r| r.and_then(|_| Err(WriteError::Storage(msg.clone()))))
                        .collect();
                }
            }
        }
        for ((_, reply), result) in batch.drain(..).zip(results) {
            let _ = reply.send(result.map(|a| a.outcome));
        }
    }

    /// Reloads the document from what storage holds after a failed write (memory never runs
    /// ahead of disk). If storage cannot be read now (a full disk that sled cannot reopen on,
    /// say), the writer stays *broken*: it answers writes with `Storage` errors and tries again
    /// with every batch, so the node recovers by itself once the cause is gone.
    fn reload(&mut self) -> bool {
        match open_document(self.store.as_ref(), self.district) {
            Ok((doc, snapshot, chunks)) => {
                self.local = district_view(&doc, "");
                self.doc = doc;
                self.snapshot_bytes = snapshot;
                self.chunk_bytes = chunks;
                self.note_stored();
                if self.broken.take().is_some() {
                    tracing::info!("storage is back; the document is reloaded and writes go on");
                }
                true
            }
            Err(e) => {
                if self.broken.is_none() {
                    tracing::error!(error = %e, "cannot reload the document from storage; writes are refused until it can be");
                }
                self.broken = Some(e.to_string());
                false
            }
        }
    }

    fn publish<'a>(&self, applied: impl Iterator<Item = &'a Applied>) {
        let Ok(mut view) = self.published.view.write() else {
            return;
        };
        let own = view.districts.entry(self.district).or_default();
        for a in applied {
            apply_to_view(own, a);
        }
    }

    fn maybe_compact(&mut self) {
        if self.chunk_bytes < self.compact_min_bytes.max(self.snapshot_bytes) {
            return;
        }
        let started = std::time::Instant::now();
        let snapshot = self.doc.save();
        let heads = self.heads_bytes();
        let result = self
            .store
            .compact(&doc_key(&self.district), &snapshot, &heads)
            .and_then(|()| self.store.flush());
        match result {
            Ok(()) => {
                tracing::info!(
                    snapshot_bytes = snapshot.len(),
                    replaced_chunk_bytes = self.chunk_bytes,
                    ms = started.elapsed().as_millis() as u64,
                    "compacted the district document"
                );
                self.snapshot_bytes = snapshot.len() as u64;
                self.chunk_bytes = 0;
                self.note_stored();
            }
            Err(e) => {
                tracing::warn!(error = %e, "compaction failed; will retry after the next write")
            }
        }
    }

    fn view_offering(&self, id: &RecordId) -> Option<Offering> {
        self.local.offerings.get(id).cloned()
    }

    fn view_contact(&self, id: &RecordId) -> Option<Contact> {
        self.local.contacts.get(id).cloned()
    }

    fn check_contacts_exist(&self, o: &Offering) -> Result<(), WriteError> {
        let mut v = Violations::default();
        for (i, id) in o.contact_ids.iter().enumerate() {
            if !self.local.contacts.contains_key(id) {
                v.push(
                    format!("contact_ids[{i}]"),
                    format!("no contact {id} in this district; create the contact first"),
                );
            }
        }
        v.into_result().map_err(WriteError::Invalid)
    }

    fn apply(&mut self, command: &Command, now: Timestamp) -> Result<Applied, WriteError> {
        use v1::change_event::Kind;
        match command {
            // Handled before the writes of a batch (`process`); never reaches here.
            Command::Merge(_) => Err(WriteError::Storage(
                "a merge is not a write (internal error)".into(),
            )),
            Command::CreateOffering(o) => {
                let mut o = o.clone();
                o.district_id = self.district;
                o.create_time = now;
                o.update_time = now;
                o.validate().map_err(WriteError::Invalid)?;
                self.check_contacts_exist(&o)?;
                self.doc.create_offering(&o).map_err(doc_error)?;
                Ok(Applied::offering(Kind::OfferingCreated, o, now))
            }
            Command::UpdateOffering {
                patch,
                fields,
                etag,
            } => {
                let mut o = self.view_offering(&patch.id).ok_or(WriteError::NotFound {
                    kind: RecordKind::Offering,
                    id: patch.id,
                })?;
                check_etag(etag, || convert::offering_to_proto(&o).etag, &o.id)?;
                for f in fields {
                    f.copy(patch, &mut o);
                }
                o.update_time = now.max(Timestamp(o.update_time.0 + 1));
                o.validate().map_err(WriteError::Invalid)?;
                if fields.contains(&OfferingField::ContactIds) {
                    self.check_contacts_exist(&o)?;
                }
                self.doc.update_offering(&o, fields).map_err(doc_error)?;
                Ok(Applied::offering(Kind::OfferingUpdated, o, now))
            }
            Command::DeleteOffering { id, etag } => {
                let o = self.view_offering(id).ok_or(WriteError::NotFound {
                    kind: RecordKind::Offering,
                    id: *id,
                })?;
                check_etag(etag, || convert::offering_to_proto(&o).etag, id)?;
                self.doc.delete_offering(id).map_err(doc_error)?;
                Ok(Applied::deleted(
                    Kind::OfferingDeleted,
                    self.district,
                    RecordKind::Offering,
                    *id,
                    now,
                ))
            }
            Command::CreateContact(c) => {
                let mut c = c.clone();
                c.district_id = self.district;
                c.create_time = now;
                c.update_time = now;
                c.validate().map_err(WriteError::Invalid)?;
                self.doc.create_contact(&c).map_err(doc_error)?;
                Ok(Applied::contact(Kind::ContactCreated, c, now))
            }
            Command::UpdateContact {
                patch,
                fields,
                etag,
            } => {
                let mut c = self.view_contact(&patch.id).ok_or(WriteError::NotFound {
                    kind: RecordKind::Contact,
                    id: patch.id,
                })?;
                check_etag(etag, || convert::contact_to_proto(&c).etag, &c.id)?;
                for f in fields {
                    f.copy(patch, &mut c);
                }
                c.update_time = now.max(Timestamp(c.update_time.0 + 1));
                c.validate().map_err(WriteError::Invalid)?;
                self.doc.update_contact(&c, fields).map_err(doc_error)?;
                Ok(Applied::contact(Kind::ContactUpdated, c, now))
            }
            Command::DeleteContact { id, etag } => {
                let c = self.view_contact(id).ok_or(WriteError::NotFound {
                    kind: RecordKind::Contact,
                    id: *id,
                })?;
                check_etag(etag, || convert::contact_to_proto(&c).etag, id)?;
                let referenced: Vec<String> = self
                    .local
                    .offerings
                    .values()
                    .filter(|o| o.contact_ids.contains(id))
                    .map(|o| format!("{} ({})", o.title, o.id))
                    .collect();
                if !referenced.is_empty() {
                    return Err(WriteError::FailedPrecondition {
                        kind: "REFERENCED",
                        subject: kreisnetz_model::resource_name(
                            &self.district,
                            RecordKind::Contact,
                            id,
                        ),
                        description: format!(
                            "the contact is still referenced by {} offering(s): {}; remove it from them first",
                            referenced.len(),
                            referenced.join(", ")
                        ),
                    });
                }
                self.doc.delete_contact(id).map_err(doc_error)?;
                Ok(Applied::deleted(
                    Kind::ContactDeleted,
                    self.district,
                    RecordKind::Contact,
                    *id,
                    now,
                ))
            }
        }
    }
}

/// Applies a durable (or about to be) write to a view.
fn apply_to_view(view: &mut DistrictView, applied: &Applied) {
    match &applied.outcome {
        Outcome::Offering(o) => {
            view.offerings.insert(o.id, o.clone());
        }
        Outcome::Contact(c) => {
            view.contacts.insert(c.id, c.clone());
        }
        Outcome::Deleted => {
            let id = applied
                .event
                .name
                .rsplit('/')
                .next()
                .and_then(|s| s.parse::<RecordId>().ok());
            if let Some(id) = id {
                if applied.event.kind() == v1::change_event::Kind::OfferingDeleted {
                    view.offerings.remove(&id);
                } else {
                    view.contacts.remove(&id);
                }
            }
        }
    }
}

/// Compares a client's etag with the record's; the current etag (an encoding and a hash on the
/// writer thread) is computed only when the client sent one.
fn check_etag(
    wanted: &Option<String>,
    current: impl FnOnce() -> String,
    id: &RecordId,
) -> Result<(), WriteError> {
    let Some(e) = wanted.as_deref().filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let current = current();
    if e == current {
        return Ok(());
    }
    Err(WriteError::FailedPrecondition {
        kind: "ETAG",
        subject: id.to_string(),
        description: format!(
            "etag {e} is stale: the record changed since you read it (now {current}); read it again"
        ),
    })
}

fn doc_error(e: DocumentError) -> WriteError {
    match e {
        DocumentError::AlreadyExists { kind, id } => WriteError::AlreadyExists {
            kind: if kind == "offering" {
                RecordKind::Offering
            } else {
                RecordKind::Contact
            },
            id,
        },
        DocumentError::NotFound { kind, id } => WriteError::NotFound {
            kind: if kind == "offering" {
                RecordKind::Offering
            } else {
                RecordKind::Contact
            },
            id,
        },
        other => WriteError::Storage(other.to_string()),
    }
}

fn now_secs() -> i64 {
    Timestamp::now().0 / 1000
}

impl Applied {
    fn offering(kind: v1::change_event::Kind, o: Offering, now: Timestamp) -> Self {
        let p = convert::offering_to_proto(&o);
        Applied {
            event: v1::ChangeEvent {
                sequence: 0,
                epoch: 0,
                kind: kind as i32,
                name: p.name.clone(),
                district_id: o.district_id.to_string(),
                time: Some(convert::timestamp(now)),
                resource: Some(v1::change_event::Resource::Offering(p)),
            },
            outcome: Outcome::Offering(o),
        }
    }

    fn contact(kind: v1::change_event::Kind, c: Contact, now: Timestamp) -> Self {
        let p = convert::contact_to_proto(&c);
        Applied {
            event: v1::ChangeEvent {
                sequence: 0,
                epoch: 0,
                kind: kind as i32,
                name: p.name.clone(),
                district_id: c.district_id.to_string(),
                time: Some(convert::timestamp(now)),
                resource: Some(v1::change_event::Resource::Contact(p)),
            },
            outcome: Outcome::Contact(c),
        }
    }

    fn deleted(
        kind: v1::change_event::Kind,
        district: DistrictId,
        record: RecordKind,
        id: RecordId,
        now: Timestamp,
    ) -> Self {
        Applied {
            event: v1::ChangeEvent {
                sequence: 0,
                epoch: 0,
                kind: kind as i32,
                name: kreisnetz_model::resource_name(&district, record, &id),
                district_id: district.to_string(),
                time: Some(convert::timestamp(now)),
                resource: None,
            },
            outcome: Outcome::Deleted,
        }
    }

    /// The Automerge commit message: what happened, to what.
    fn event_message(&self) -> String {
        format!(
            "{} {}",
            self.event.kind().as_str_name().to_lowercase(),
            self.event.name
        )
    }
}
