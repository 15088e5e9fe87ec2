//! The sync thread: runs the sync core and carries out its outputs.
//!
//! Inputs arrive on one bounded channel. The thread takes what is waiting (up to a batch),
//! hands each to the core, and collects the outputs. Received changes are persisted per
//! document as one storage commit together with the change-feed events they cause, and the
//! whole batch is flushed once, before the read view and the durable feed head move and before
//! anything is sent on: a relayed change is on our disk before another node learns it from us.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use kreisnetz_document::DistrictDocument;
use kreisnetz_document::automerge::ChangeHash;
use kreisnetz_model::{DistrictId, NodeId, RecordKind, Timestamp};
use kreisnetz_proto::{convert, v1};
use kreisnetz_storage::{Commit, Store};
use kreisnetz_sync::signed::encode_list;
use kreisnetz_sync::{Frame, Input, Output, RejectKind, SignedHeads, SyncCore};
use prost::Message;
use tokio::sync::{mpsc, oneshot};

use crate::view::{DistrictView, RegionView};
use crate::writer::{district_view, doc_key};

/// What the sync thread is told.
pub enum ShellInput {
    /// A stream to `peer` is up. `accepted` answers whether it is kept (one stream per pair).
    Register {
        peer: NodeId,
        dialed_by_us: bool,
        conn: u64,
        frames: mpsc::Sender<Frame>,
        accepted: oneshot::Sender<bool>,
    },
    /// A stream ended.
    Unregister {
        peer: NodeId,
        conn: u64,
        error: Option<String>,
    },
    /// A frame arrived on stream `conn`.
    Received {
        peer: NodeId,
        conn: u64,
        frame: Frame,
        bytes: usize,
    },
    /// The own document changed (from the writer, after its flush).
    LocalChange { chunk: Vec<u8> },
    /// The trusted districts changed.
    SetTrusted(Vec<DistrictId>),
    /// The own document's writer is running (changes of the own district from its other
    /// nodes are merged there).
    Writer(crate::writer::WeakWriterHandle),
    /// Close the stream to a removed peer.
    DropPeer(NodeId),
    /// Periodic: lets the core retry and refreshes the status.
    Tick,
}

/// What the admin API shows about one peer.
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    pub connected: bool,
    pub district: Option<DistrictId>,
    pub connected_since: Option<SystemTime>,
    pub last_sync: Option<SystemTime>,
    pub documents_behind: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub rejected: u64,
    pub last_error: String,
    /// Offences on the current connection (bad signatures, unsigned changes, ...).
    pub offences: u32,
    /// Since the node started, over all connections: signed-heads records from this peer that
    /// did not verify (each refused a whole message)...
    pub bad_signatures: u32,
    /// ... changes no owner's signature covered (quarantined, never applied) ...
    pub unsigned_changes: u64,
    /// ... and older signed states than ones we held (a replay, or a relay that is behind).
    pub stale_records: u32,
    /// Documents for which the peer shows an older signed state than the newest we know: it is
    /// behind, or holds the owner's newest state back.
    pub behind_signed: Vec<DistrictId>,
    /// What the peer last told us it refused from us.
    pub last_notice: String,
}

/// What the admin API shows about one document.
#[derive(Clone, Debug, Default)]
pub struct DocumentInfo {
    pub heads: Vec<ChangeHash>,
    pub changes: u64,
    pub size_bytes: u64,
    pub last_change: Option<SystemTime>,
    /// The newest signed-heads record of the owner whose changes this node holds.
    pub signed_seq: Option<u64>,
    pub signed_at: Option<SystemTime>,
    /// The newest sequence number seen verified (from any peer); above `signed_seq`: this node
    /// lacks the owner's newest signed state.
    pub newest_signed_seq: Option<u64>,
    /// Every change held is covered by a verified signature of the owner.
    pub covered: bool,
    /// Unsigned changes waiting in quarantine.
    pub quarantined_changes: usize,
}

/// Published by the sync thread after each batch.
#[derive(Clone, Debug, Default)]
pub struct FederationStatus {
    pub peers: HashMap<NodeId, PeerInfo>,
    pub documents: BTreeMap<DistrictId, DocumentInfo>,
}

struct Conn {
    id: u64,
    dialed_by_us: bool,
    frames: mpsc::Sender<Frame>,
}

/// The sync thread's state.
pub struct Shell {
    own_node: NodeId,
    own_district: DistrictId,
    core: SyncCore,
    store: Arc<dyn Store>,
    view: Arc<RwLock<RegionView>>,
    published: Arc<crate::writer::Published>,
    status: Arc<RwLock<FederationStatus>>,
    conns: HashMap<NodeId, Conn>,
    info: HashMap<NodeId, PeerInfo>,
    trusted_names: Arc<RwLock<HashMap<DistrictId, String>>>,
    max_batch: usize,
    /// Per document: the heads and change count last published (counted incrementally).
    doc_info: HashMap<DistrictId, DocumentInfo>,
    /// Per replica: bytes of its stored snapshot and of the chunks appended since.
    stored: HashMap<DistrictId, (u64, u64)>,
    compact_min_bytes: u64,
    metrics: crate::metrics::Metrics,
    /// The own document's writer: changes another node of the district made go there, to be
    /// merged and stored (see `Command::Merge`).
    writer: Option<crate::writer::WeakWriterHandle>,
    /// Set when the node stops (see [`Shell::with_shutdown`]).
    shutdown: Option<tokio::sync::watch::Receiver<bool>>,
}

/// A pending persist of one document within a batch.
struct Pending {
    chunks: Vec<u8>,
    heads: Vec<ChangeHash>,
    before: Vec<ChangeHash>,
    after: Vec<ChangeHash>,
    signed: Vec<SignedHeads>,
}

/// The metadata key under which the signed-heads records covering a document are stored.
pub fn signed_key(doc: &DistrictId) -> String {
    format!("signed/{doc}")
}

fn now_ms() -> u64 {
    Timestamp::now().0.max(0) as u64
}

impl Shell {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        own_node: NodeId,
        own_district: DistrictId,
        core: SyncCore,
        store: Arc<dyn Store>,
        view: Arc<RwLock<RegionView>>,
        published: Arc<crate::writer::Published>,
        status: Arc<RwLock<FederationStatus>>,
        trusted_names: Arc<RwLock<HashMap<DistrictId, String>>>,
    ) -> Self {
        Shell {
            own_node,
            own_district,
            core,
            store,
            view,
            published,
            status,
            conns: HashMap::new(),
            info: HashMap::new(),
            trusted_names,
            max_batch: 256,
            doc_info: HashMap::new(),
            stored: HashMap::new(),
            compact_min_bytes: 1 << 20,
            metrics: crate::metrics::Metrics::default(),
            writer: None,
            shutdown: None,
        }
    }

    /// Stop after the current batch once `shutdown` is set, instead of draining the queue: what
    /// waits there is either stored already (the own document's changes, signed again at the
    /// next start) or synced again from the peers later, so a backlog never holds up a stop.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> Self {
        self.shutdown = Some(shutdown);
        self
    }

    /// Where the shell counts applied and refused changes.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// What storage holds for each document at start (snapshot bytes, chunk bytes), and when
    /// to compact a replica.
    pub fn with_stored_sizes(
        mut self,
        sizes: HashMap<DistrictId, (u64, u64)>,
        compact_min_bytes: u64,
    ) -> Self {
        self.stored = sizes;
        self.compact_min_bytes = compact_min_bytes;
        self
    }

    /// Replicas grow by appended chunks like the own document; compact them the same way (the
    /// writer compacts the own document).
    fn maybe_compact(&mut self, doc: DistrictId) {
        let (snapshot, chunks) = self.stored.get(&doc).copied().unwrap_or_default();
        if chunks < self.compact_min_bytes.max(snapshot) {
            return;
        }
        let Some(document) = self.core.document(&doc) else {
            return;
        };
        let bytes = document.save();
        let heads: Vec<[u8; 32]> = document.heads().iter().map(|h| h.0).collect();
        match self
            .store
            .compact(&doc_key(&doc), &bytes, &heads)
            .and_then(|()| self.store.flush())
        {
            Ok(()) => {
                tracing::info!(%doc, snapshot_bytes = bytes.len(), "compacted a replica");
                self.stored.insert(doc, (bytes.len() as u64, 0));
            }
            Err(e) => tracing::warn!(%doc, error = %e, "compacting a replica failed; will retry"),
        }
    }

    /// Runs until every sender of `rx` is gone.
    pub fn spawn(mut self, mut rx: mpsc::Receiver<ShellInput>) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("sync".into())
            .spawn(move || {
                let span = tracing::info_span!("sync", node = %self.own_node);
                let _enter = span.enter();
                let mut batch = Vec::new();
                // A signature the core made at start (the own document was not covered).
                let start = self.core.take_start_outputs();
                self.carry_out(start);
                self.publish_status();
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while batch.len() < self.max_batch {
                        match rx.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    self.process(std::mem::take(&mut batch));
                    if self.shutdown.as_ref().is_some_and(|s| *s.borrow()) {
                        let left = rx.len();
                        if left > 0 {
                            tracing::info!(
                                queued = left,
                                "stopping without the queued sync work (stored, or synced again later)"
                            );
                        }
                        break;
                    }
                }
                tracing::info!("sync thread stopped");
            })
            .unwrap_or_else(|e| panic!("cannot start the sync thread: {e}"))
    }

    fn process(&mut self, batch: Vec<ShellInput>) {
        let mut outputs = Vec::new();
        for input in batch {
            let now = now_ms();
            match input {
                ShellInput::Register {
                    peer,
                    dialed_by_us,
                    conn,
                    frames,
                    accepted,
                } => {
                    let keep = self.register(peer, dialed_by_us, conn, frames, &mut outputs);
                    let _ = accepted.send(keep);
                }
                ShellInput::Unregister { peer, conn, error } => {
                    if self.conns.get(&peer).is_some_and(|c| c.id == conn) {
                        self.conns.remove(&peer);
                        let info = self.info.entry(peer).or_default();
                        info.connected = false;
                        info.connected_since = None;
                        if let Some(e) = error {
                            info.last_error = e;
                        }
                        tracing::info!(%peer, "peer disconnected");
                        outputs.extend(self.core.handle(Input::Disconnected { peer, now_ms: now }));
                    }
                }
                ShellInput::Received {
                    peer,
                    conn,
                    frame,
                    bytes,
                } => {
                    if self.conns.get(&peer).is_some_and(|c| c.id == conn) {
                        let info = self.info.entry(peer).or_default();
                        info.bytes_received += bytes as u64;
                        if let Frame::Hello { district, .. } = &frame {
                            info.district = Some(*district);
                        }
                        info.last_sync = Some(SystemTime::now());
                        outputs.extend(self.core.handle(Input::Received {
                            peer,
                            frame,
                            now_ms: now,
                        }));
                    }
                }
                ShellInput::LocalChange { chunk } => {
                    outputs.extend(self.core.handle(Input::LocalChange {
                        doc: self.own_district,
                        chunk,
                        now_ms: now,
                    }));
                }
                ShellInput::Writer(handle) => self.writer = Some(handle),
                ShellInput::SetTrusted(districts) => {
                    outputs.extend(self.core.handle(Input::SetTrusted { districts }));
                }
                ShellInput::DropPeer(peer) => {
                    if self.conns.remove(&peer).is_some() {
                        outputs.extend(self.core.handle(Input::Disconnected { peer, now_ms: now }));
                    }
                    self.info.remove(&peer);
                }
                ShellInput::Tick => outputs.extend(self.core.handle(Input::Tick { now_ms: now })),
            }
        }
        self.carry_out(outputs);
        self.publish_status();
    }

    /// One stream per peer pair: when both nodes dial each other, both keep the stream dialed
    /// by the node with the smaller ID, so they agree without talking about it.
    fn register(
        &mut self,
        peer: NodeId,
        dialed_by_us: bool,
        conn: u64,
        frames: mpsc::Sender<Frame>,
        outputs: &mut Vec<Output>,
    ) -> bool {
        let preferred = |dialed_by_us: bool| dialed_by_us == (self.own_node < peer);
        if let Some(existing) = self.conns.get(&peer) {
            let replaces = preferred(dialed_by_us) && !preferred(existing.dialed_by_us);
            if !replaces {
                tracing::debug!(%peer, "refusing a second stream to a connected peer");
                return false;
            }
            self.conns.remove(&peer);
            outputs.extend(self.core.handle(Input::Disconnected {
                peer,
                now_ms: now_ms(),
            }));
        }
        let mut sync_states = Vec::new();
        for doc in self.core.documents() {
            if let Ok(Some(state)) = self.store.sync_state(&peer.to_string(), &doc_key(&doc)) {
                sync_states.push((doc, state));
            }
        }
        self.conns.insert(
            peer,
            Conn {
                id: conn,
                dialed_by_us,
                frames,
            },
        );
        let info = self.info.entry(peer).or_default();
        info.connected = true;
        info.connected_since = Some(SystemTime::now());
        info.last_error.clear();
        tracing::info!(%peer, dialed_by_us, "peer connected");
        outputs.extend(self.core.handle(Input::Connected {
            peer,
            sync_states,
            now_ms: now_ms(),
        }));
        true
    }

    fn carry_out(&mut self, outputs: Vec<Output>) {
        let mut pending: BTreeMap<DistrictId, Pending> = BTreeMap::new();
        let mut sync_states = Vec::new();
        let mut signed_only = Vec::new();
        let mut sends = Vec::new();
        for out in outputs {
            match out {
                Output::Send { peer, frame } => sends.push((peer, frame)),
                Output::Persist {
                    doc,
                    chunk,
                    heads,
                    signed,
                } => {
                    let p = pending.entry(doc).or_insert_with(|| Pending {
                        chunks: Vec::new(),
                        heads: Vec::new(),
                        before: Vec::new(),
                        after: Vec::new(),
                        signed: Vec::new(),
                    });
                    p.chunks.extend_from_slice(&chunk);
                    p.heads = heads;
                    p.signed = signed;
                }
                Output::PersistSigned { doc, signed } => match pending.get_mut(&doc) {
                    Some(p) => p.signed = signed,
                    None => signed_only.push((doc, signed)),
                },
                Output::Stale {
                    peer,
                    doc,
                    seq,
                    newest,
                } => {
                    tracing::info!(%peer, %doc, seq, newest, "a peer showed an older signed state than one this node holds");
                    self.info.entry(peer).or_default().stale_records += 1;
                    self.metrics.rejected(
                        &peer.to_string(),
                        &doc.to_string(),
                        crate::metrics::RejectReason::Stale,
                    );
                }
                Output::PeerNotice { peer, doc, reason } => {
                    tracing::warn!(%peer, doc = ?doc.map(|d| d.to_string()), %reason, "a peer refused something of ours");
                    self.info.entry(peer).or_default().last_notice = reason;
                }
                Output::PersistSyncState { peer, doc, state } => {
                    sync_states.push((peer, doc, state))
                }
                Output::DocumentChanged { doc, before, after } => {
                    if let Some(p) = pending.get_mut(&doc) {
                        if p.before.is_empty() {
                            p.before = before;
                        }
                        p.after = after;
                    }
                }
                Output::Disconnect { peer, reason } => {
                    tracing::warn!(%peer, %reason, "disconnecting peer");
                    if let Some(conn) = self.conns.remove(&peer) {
                        let _ = conn.frames.try_send(Frame::Goodbye {
                            reason: reason.clone(),
                        });
                    }
                    let info = self.info.entry(peer).or_default();
                    info.connected = false;
                    info.last_error = reason;
                    let more = self.core.handle(Input::Disconnected {
                        peer,
                        now_ms: now_ms(),
                    });
                    // Disconnecting produces no frames to send to that peer; anything else
                    // (none today) is dropped rather than recursing.
                    drop(more);
                }
                Output::Rejected {
                    peer,
                    doc,
                    kind,
                    changes,
                    reason,
                } => {
                    tracing::warn!(%peer, doc = ?doc.map(|d| d.to_string()), kind = kind.as_str(), %reason, "refused data from a peer");
                    self.metrics.rejected(
                        &peer.to_string(),
                        &doc.map(|d| d.to_string()).unwrap_or_default(),
                        reject_reason(kind),
                    );
                    let info = self.info.entry(peer).or_default();
                    info.rejected += 1;
                    // Kept here, over connections (the core forgets a peer it disconnects).
                    match kind {
                        RejectKind::BadSignature => info.bad_signatures += 1,
                        RejectKind::Unsigned | RejectKind::QuarantineFull => {
                            info.unsigned_changes += changes
                        }
                        _ => {}
                    }
                    info.last_error = reason;
                }
            }
        }
        if !pending.is_empty() || !sync_states.is_empty() || !signed_only.is_empty() {
            self.persist(pending, sync_states, signed_only);
        }
        for (peer, frame) in sends {
            let Some(conn) = self.conns.get(&peer) else {
                continue;
            };
            let bytes = wire_len(&frame);
            match conn.frames.try_send(frame) {
                Ok(()) => self.info.entry(peer).or_default().bytes_sent += bytes,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(%peer, "peer does not keep up; disconnecting it");
                    self.conns.remove(&peer);
                    let info = self.info.entry(peer).or_default();
                    info.connected = false;
                    info.last_error = "too slow: its outgoing queue was full".into();
                    drop(self.core.handle(Input::Disconnected {
                        peer,
                        now_ms: now_ms(),
                    }));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
    }

    /// Stores received changes with their feed events, flushes once, then refreshes the view.
    fn persist(
        &mut self,
        pending: BTreeMap<DistrictId, Pending>,
        sync_states: Vec<(NodeId, DistrictId, Vec<u8>)>,
        mut signed_only: Vec<(DistrictId, Vec<SignedHeads>)>,
    ) {
        let mut refreshed: Vec<(DistrictId, Vec<ViewChange>)> = Vec::new();
        let mut last_seq = None;
        for (doc, p) in pending {
            if doc == self.own_district {
                // Another node of our district wrote (the core checked its signature): the
                // writer merges it and stores it with its feed events, like a write; the read
                // view and compaction of the own document are the writer's too. Only the
                // records are stored here.
                match &self.writer {
                    Some(writer) if writer.try_merge(p.chunks.clone()) => {}
                    _ => tracing::error!(
                        "the writer cannot take the changes of another node of the district now; they are fetched again after a restart"
                    ),
                }
                signed_only.push((doc, p.signed));
                continue;
            }
            let Some(document) = self.core.document(&doc) else {
                continue;
            };
            let (events, fresh) = feed_events(document, &self.view, doc, &p, &self.trusted_names);
            let heads: Vec<[u8; 32]> = p.heads.iter().map(|h| h.0).collect();
            let key = doc_key(&doc);
            let records = encode_list(&p.signed);
            let records_key = signed_key(&doc);
            match self.store.commit(Commit {
                doc: &key,
                chunk: &p.chunks,
                heads: &heads,
                feed_events: &events,
                meta: Some((&records_key, &records)),
            }) {
                Ok(seqs) => {
                    self.metrics.applied(&doc.to_string(), fresh.len() as u64);
                    if let Some(s) = seqs.last() {
                        last_seq = Some(*s);
                    }
                    self.stored.entry(doc).or_default().1 += p.chunks.len() as u64;
                    refreshed.push((doc, fresh));
                }
                Err(e) => {
                    tracing::error!(%doc, error = %e, "cannot store changes received from peers")
                }
            }
        }
        for (doc, signed) in signed_only {
            if let Err(e) = self
                .store
                .put_meta(&signed_key(&doc), &encode_list(&signed))
            {
                tracing::warn!(%doc, error = %e, "cannot store signed-heads records");
            }
        }
        for (peer, doc, state) in sync_states {
            if let Err(e) = self
                .store
                .put_sync_state(&peer.to_string(), &doc_key(&doc), &state)
            {
                tracing::warn!(%peer, error = %e, "cannot store sync state");
            }
        }
        let started = std::time::Instant::now();
        if let Err(e) = self.store.flush() {
            tracing::error!(error = %e, "flush failed; received changes will be fetched again after a restart");
            return;
        }
        self.metrics.observe_flush(started.elapsed().as_secs_f64());
        let docs: Vec<DistrictId> = refreshed.iter().map(|(d, _)| *d).collect();
        if let Ok(mut view) = self.view.write() {
            for (doc, changes) in refreshed {
                apply_view_changes(view.districts.entry(doc).or_default(), changes);
            }
        }
        if let Some(seq) = last_seq {
            self.published.feed_head.send_modify(|h| *h = (*h).max(seq));
        }
        for doc in docs {
            self.maybe_compact(doc);
        }
    }

    fn publish_status(&mut self) {
        for doc in self.core.documents() {
            let Some(d) = self.core.document(&doc) else {
                continue;
            };
            let heads = d.heads();
            let info = self.doc_info.entry(doc).or_default();
            if info.heads != heads {
                let am = d.automerge();
                let new = am.get_changes_meta(&info.heads);
                info.changes += new.len() as u64;
                if let Some(t) = new.iter().map(|c| c.timestamp).max()
                    && t > 0
                {
                    info.last_change =
                        Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(t as u64));
                }
                info.heads = heads;
            }
            if doc == self.own_district {
                // The writer stores and compacts the own document.
                info.size_bytes = self
                    .published
                    .stored_bytes
                    .load(std::sync::atomic::Ordering::Relaxed);
            } else if let Some((snapshot, chunks)) = self.stored.get(&doc) {
                info.size_bytes = snapshot + chunks;
            }
            if let Some(signing) = self.core.signing(&doc) {
                info.signed_seq = signing.seq;
                info.signed_at = signing
                    .time_ms
                    .map(|t| SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(t));
                info.newest_signed_seq = signing.newest_seen_seq;
                info.covered = signing.covered;
                info.quarantined_changes = signing.quarantined_changes;
                self.metrics
                    .set_quarantined(&doc.to_string(), signing.quarantined_changes as u64);
            }
        }
        let statuses: HashMap<NodeId, kreisnetz_sync::PeerStatus> = self
            .core
            .peer_status()
            .into_iter()
            .map(|p| (p.peer, p))
            .collect();
        for (peer, info) in self.info.iter_mut() {
            let Some(p) = statuses.get(peer) else {
                info.documents_behind = 0;
                info.behind_signed.clear();
                continue;
            };
            info.documents_behind = p.documents_behind;
            info.offences = p.offences;
            info.behind_signed = p
                .documents
                .iter()
                .filter(|d| d.behind_signed)
                .map(|d| d.doc)
                .collect();
        }
        if let Ok(mut status) = self.status.write() {
            status.peers = self.info.clone();
            status.documents = self.doc_info.iter().map(|(k, v)| (*k, v.clone())).collect();
        }
    }
}

fn reject_reason(kind: RejectKind) -> crate::metrics::RejectReason {
    use crate::metrics::RejectReason as R;
    match kind {
        RejectKind::Untrusted => R::Untrusted,
        RejectKind::TooLarge => R::TooLarge,
        RejectKind::BadSignature => R::BadSignature,
        RejectKind::Unsigned | RejectKind::QuarantineFull => R::Unsigned,
        RejectKind::Protocol => R::Protocol,
    }
}

fn wire_len(frame: &Frame) -> u64 {
    match frame {
        Frame::Sync { message, .. } => message.len() as u64 + 64,
        Frame::Hello { documents, .. } => 128 + documents.len() as u64 * 100,
        Frame::Goodbye { reason } => reason.len() as u64 + 8,
        Frame::Signed { signed, .. } => 64 + signed.len() as u64 * 200,
        Frame::Notice { reason, .. } => reason.len() as u64 + 64,
    }
}

/// A change to apply to the read view once the batch is durable.
enum ViewChange {
    Name(String),
    Offering(kreisnetz_model::RecordId, Option<kreisnetz_model::Offering>),
    Contact(kreisnetz_model::RecordId, Option<kreisnetz_model::Contact>),
    /// Rebuild the whole district (first sight of a document).
    All(DistrictView),
}

/// The change-feed events for what `p` changed in `doc`, and the view changes that go with them.
fn feed_events(
    document: &mut DistrictDocument,
    view: &Arc<RwLock<RegionView>>,
    doc: DistrictId,
    p: &Pending,
    names: &Arc<RwLock<HashMap<DistrictId, String>>>,
) -> (Vec<Vec<u8>>, Vec<ViewChange>) {
    use v1::change_event::{Kind, Resource};
    let (name, _) = document.metadata();
    let name = if name.is_empty() {
        names
            .read()
            .ok()
            .and_then(|n| n.get(&doc).cloned())
            .unwrap_or_default()
    } else {
        name
    };
    let mut changes = vec![ViewChange::Name(name.clone())];
    if p.before.is_empty() && p.after.is_empty() {
        // No diff bounds (should not happen): rebuild, announce nothing.
        changes.push(ViewChange::All(district_view(document, &name)));
        return (Vec::new(), changes);
    }
    let Ok(current) = view.read() else {
        return (Vec::new(), changes);
    };
    let known = current.districts.get(&doc);
    let first_sight = known.is_none_or(|d| d.offerings.is_empty() && d.contacts.is_empty());
    let changed = if first_sight {
        // Nothing of this district is known yet (typically the initial sync of a whole
        // document): every record is new, and reading them all beats diffing every op.
        document.mark_read();
        let mut all: Vec<(RecordKind, kreisnetz_model::RecordId)> = document
            .ids(RecordKind::Contact)
            .into_iter()
            .map(|id| (RecordKind::Contact, id))
            .collect();
        all.extend(
            document
                .ids(RecordKind::Offering)
                .into_iter()
                .map(|id| (RecordKind::Offering, id)),
        );
        all
    } else {
        document.changed_records(&p.before, &p.after)
    };
    let had_offering =
        |id: &kreisnetz_model::RecordId| known.is_some_and(|d| d.offerings.contains_key(id));
    let had_contact =
        |id: &kreisnetz_model::RecordId| known.is_some_and(|d| d.contacts.contains_key(id));
    let now = convert::timestamp(Timestamp::now());
    let mut events = Vec::with_capacity(changed.len());
    for (kind, id) in changed {
        let name = kreisnetz_model::resource_name(&doc, kind, &id);
        let (event_kind, resource) = match kind {
            RecordKind::Offering => match document.offering(&id).ok().flatten() {
                Some(o) => {
                    let k = if had_offering(&id) {
                        Kind::OfferingUpdated
                    } else {
                        Kind::OfferingCreated
                    };
                    let wire = convert::offering_to_proto(&o);
                    changes.push(ViewChange::Offering(id, Some(o)));
                    (k, Some(Resource::Offering(wire)))
                }
                None if had_offering(&id) => {
                    changes.push(ViewChange::Offering(id, None));
                    (Kind::OfferingDeleted, None)
                }
                None => continue,
            },
            RecordKind::Contact => match document.contact(&id).ok().flatten() {
                Some(c) => {
                    let k = if had_contact(&id) {
                        Kind::ContactUpdated
                    } else {
                        Kind::ContactCreated
                    };
                    let wire = convert::contact_to_proto(&c);
                    changes.push(ViewChange::Contact(id, Some(c)));
                    (k, Some(Resource::Contact(wire)))
                }
                None if had_contact(&id) => {
                    changes.push(ViewChange::Contact(id, None));
                    (Kind::ContactDeleted, None)
                }
                None => continue,
            },
        };
        events.push(
            v1::ChangeEvent {
                sequence: 0,
                epoch: 0,
                kind: event_kind as i32,
                name,
                district_id: doc.to_string(),
                time: Some(now),
                resource,
            }
            .encode_to_vec(),
        );
    }
    (events, changes)
}

fn apply_view_changes(view: &mut DistrictView, changes: Vec<ViewChange>) {
    for change in changes {
        match change {
            ViewChange::Name(name) => view.name = name,
            ViewChange::Offering(id, Some(o)) => {
                view.offerings.insert(id, o);
            }
            ViewChange::Offering(id, None) => {
                view.offerings.remove(&id);
            }
            ViewChange::Contact(id, Some(c)) => {
                view.contacts.insert(id, c);
            }
            ViewChange::Contact(id, None) => {
                view.contacts.remove(&id);
            }
            ViewChange::All(all) => *view = all,
        }
    }
}
