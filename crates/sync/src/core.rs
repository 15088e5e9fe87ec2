//! [`SyncCore`]: the state machine. Inputs in, outputs out; see the crate documentation for the
//! protocol and `peer` for the per-connection state.
//!
//! Two rules make the outputs complete and small:
//! - **A `Persist` chunk is exactly what one input added**: the changes that are not ancestors of
//!   the heads before it (`save_after(before)`), so storage holds each change once, whatever
//!   the shell does with the document's own save cursor.
//! - **At most one sync message per (peer, document) per input.** Automerge's protocol is a
//!   ping-pong; the next message goes out when the peer answers (or when a tick finds the
//!   exchange stalled).
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;
use automerge::sync::{Message, SyncDoc};
use kreisnetz_document::DistrictDocument;
use kreisnetz_model::{DistrictId, NodeId};

use crate::frame::{Frame, Input, Limits, Output, PROTOCOL_VERSION, Tuning};
use crate::peer::{Hello, Peer, PeerDoc};
use crate::status::{PeerDocumentStatus, PeerStatus};

/// How many documents of untrusted districts a peer's hello and offers are remembered for.
const MAX_REMEMBERED_UNTRUSTED: usize = 1024;

/// A document the core holds.
struct Held {
    doc: DistrictDocument,
    /// The current heads (kept so that read-only calls need no `&mut`).
    heads: Vec<ChangeHash>,
    /// The saved-size estimate: the compact size when first needed, plus every chunk since.
    size: Option<u64>,
    /// Change bytes received but not applied yet (Automerge queues changes whose dependencies
    /// are missing), so that a document cannot outgrow its limit in pieces.
    queued: u64,
}

impl Held {
    /// Takes a document whose content is already persisted.
    fn new(mut doc: DistrictDocument) -> Self {
        let heads = doc.heads();
        Held {
            doc,
            heads,
            size: None,
            queued: 0,
        }
    }

    /// A new replica of `district`'s document: its deterministic genesis, identical to the one
    /// every other node starts from (and that loading from storage starts from).
    fn genesis(district: DistrictId) -> Option<Self> {
        match DistrictDocument::new(district) {
            Ok(doc) => Some(Held::new(doc)),
            Err(e) => {
                tracing::error!(doc = %district, error = %e, "cannot create a document");
                None
            }
        }
    }

    fn size(&mut self) -> u64 {
        match self.size {
            Some(size) => size,
            None => {
                let size = self.doc.save().len() as u64;
                self.size = Some(size);
                size
            }
        }
    }

    /// Records that `bytes` of changes were applied.
    fn grew(&mut self, bytes: usize) {
        if let Some(size) = &mut self.size {
            *size = size.saturating_add(bytes as u64);
        }
    }
}

/// The federation sync state machine of one node. See the crate documentation.
pub struct SyncCore {
    own_node: NodeId,
    own_district: DistrictId,
    limits: Limits,
    tuning: Tuning,
    trusted: BTreeSet<DistrictId>,
    docs: BTreeMap<DistrictId, Held>,
    peers: BTreeMap<NodeId, Peer>,
    /// The latest time an input brought.
    now_ms: u64,
}

impl std::fmt::Debug for SyncCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncCore")
            .field("own_node", &self.own_node)
            .field("own_district", &self.own_district)
            .field("documents", &self.docs.len())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl SyncCore {
    /// A core for node `own_node` of district `own_district`. `documents`: the documents loaded
    /// from storage, including the own one (created from genesis if missing); their content counts
    /// as persisted. `trusted`: districts whose documents are accepted (the own district always
    /// is).
    pub fn new(
        own_node: NodeId,
        own_district: DistrictId,
        documents: Vec<DistrictDocument>,
        trusted: Vec<DistrictId>,
        limits: Limits,
    ) -> Self {
        let mut trusted: BTreeSet<DistrictId> = trusted.into_iter().collect();
        trusted.insert(own_district);
        let mut docs = BTreeMap::new();
        for doc in documents {
            let district = doc.district();
            if docs.insert(district, Held::new(doc)).is_some() {
                tracing::warn!(doc = %district, "a document was handed in twice; keeping the last");
            }
        }
        if !docs.contains_key(&own_district)
            && let Some(held) = Held::genesis(own_district)
        {
            docs.insert(own_district, held);
        }
        SyncCore {
            own_node,
            own_district,
            limits,
            tuning: Tuning::default(),
            trusted,
            docs,
            peers: BTreeMap::new(),
            now_ms: 0,
        }
    }

    /// The same core with other timing and tolerance.
    pub fn with_tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Handles one input; returns what the shell is to do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Connected {
                peer,
                sync_states,
                now_ms,
            } => {
                self.advance(now_ms);
                self.connected(peer, sync_states, &mut out);
            }
            Input::Disconnected { peer, now_ms } => {
                self.advance(now_ms);
                if self.peers.remove(&peer).is_some() {
                    tracing::debug!(%peer, "peer state dropped");
                }
            }
            Input::Received {
                peer,
                frame,
                now_ms,
            } => {
                self.advance(now_ms);
                self.received(peer, frame, &mut out);
            }
            Input::LocalChange { doc, chunk, now_ms } => {
                self.advance(now_ms);
                self.local_change(doc, &chunk, &mut out);
            }
            Input::SetTrusted { districts } => self.set_trusted(districts, &mut out),
            Input::Tick { now_ms } => {
                self.advance(now_ms);
                self.tick(&mut out);
            }
        }
        out
    }

    /// A document, for reading (e.g. the records a [`Output::DocumentChanged`] names).
    /// The caller must not change it (nor take its unsaved changes): the core's outputs depend
    /// on its copy being exactly what it applied.
    pub fn document(&mut self, doc: &DistrictId) -> Option<&mut DistrictDocument> {
        self.docs.get_mut(doc).map(|h| &mut h.doc)
    }

    /// Every document the core holds (also those of districts no longer trusted).
    pub fn documents(&self) -> Vec<DistrictId> {
        self.docs.keys().copied().collect()
    }

    /// The current heads of a document.
    pub fn heads(&self, doc: &DistrictId) -> Option<&[ChangeHash]> {
        self.docs.get(doc).map(|h| h.heads.as_slice())
    }

    /// The trusted districts (always including the own one).
    pub fn trusted(&self) -> Vec<DistrictId> {
        self.trusted.iter().copied().collect()
    }

    /// Per connected peer, per document: what we know about its state.
    pub fn peer_status(&self) -> Vec<PeerStatus> {
        self.peers
            .iter()
            .map(|(id, p)| {
                let mut docs: BTreeSet<DistrictId> = p.docs.keys().copied().collect();
                if let Some(h) = &p.hello {
                    docs.extend(h.documents.keys().copied());
                }
                let documents: Vec<PeerDocumentStatus> = docs
                    .into_iter()
                    .filter(|d| self.trusted.contains(d))
                    .map(|doc| {
                        let their_heads = p.their_heads(&doc).cloned();
                        let in_sync = match (&their_heads, self.docs.get(&doc)) {
                            (Some(theirs), Some(held)) => sorted(theirs) == held.heads,
                            _ => false,
                        };
                        let pd = p.docs.get(&doc);
                        PeerDocumentStatus {
                            doc,
                            their_heads,
                            in_sync,
                            active: p.announced(&doc) || pd.is_some_and(|pd| pd.heard),
                            awaiting_answer: pd.is_some_and(|pd| pd.state.in_flight),
                            bytes_sent: pd.map_or(0, |pd| pd.bytes_sent),
                            bytes_received: pd.map_or(0, |pd| pd.bytes_received),
                            messages_sent: pd.map_or(0, |pd| pd.messages_sent),
                            messages_received: pd.map_or(0, |pd| pd.messages_received),
                            last_sent_ms: pd.and_then(|pd| pd.last_sent_ms),
                            last_received_ms: pd.and_then(|pd| pd.last_received_ms),
                        }
                    })
                    .collect();
                PeerStatus {
                    peer: *id,
                    district: p.hello.as_ref().map(|h| h.district),
                    connected_since_ms: p.connected_ms,
                    documents_behind: documents.iter().filter(|d| d.active && !d.in_sync).count()
                        as u32,
                    bytes_sent: p.bytes_sent,
                    bytes_received: p.bytes_received,
                    offences: p.offences,
                    documents,
                }
            })
            .collect()
    }

    fn advance(&mut self, now_ms: u64) {
        self.now_ms = self.now_ms.max(now_ms);
    }

    /// The documents we sync: those of trusted districts that we hold.
    fn synced(&self) -> Vec<DistrictId> {
        self.docs
            .keys()
            .filter(|d| self.trusted.contains(d))
            .copied()
            .collect()
    }

    fn hello_frame(&self) -> Frame {
        Frame::Hello {
            node: self.own_node,
            district: self.own_district,
            protocol_version: PROTOCOL_VERSION,
            documents: self
                .docs
                .iter()
                .filter(|(d, _)| self.trusted.contains(d))
                .map(|(d, h)| (*d, h.heads.clone()))
                .collect(),
        }
    }

    fn connected(
        &mut self,
        peer: NodeId,
        sync_states: Vec<(DistrictId, Vec<u8>)>,
        out: &mut Vec<Output>,
    ) {
        if self
            .peers
            .insert(peer, Peer::new(sync_states, self.now_ms))
            .is_some()
        {
            tracing::debug!(%peer, "connected again without a disconnect; starting over");
        }
        tracing::debug!(%peer, "peer connected");
        out.push(Output::Send {
            peer,
            frame: self.hello_frame(),
        });
        for doc in self.synced() {
            self.send_one(peer, doc, out);
        }
    }

    /// Forgets `peer` and tells the shell to close its stream.
    fn disconnect(&mut self, peer: NodeId, reason: String, out: &mut Vec<Output>) {
        tracing::warn!(%peer, %reason, "closing the stream to a peer");
        self.peers.remove(&peer);
        out.push(Output::Disconnect { peer, reason });
    }

    fn received(&mut self, peer: NodeId, frame: Frame, out: &mut Vec<Output>) {
        let Some(p) = self.peers.get(&peer) else {
            tracing::debug!(%peer, "ignoring a frame from a peer that is not connected");
            return;
        };
        match frame {
            Frame::Goodbye { reason } => {
                self.disconnect(peer, format!("the peer said goodbye: {reason}"), out)
            }
            Frame::Hello {
                node,
                district,
                protocol_version,
                documents,
            } => self.hello(peer, node, district, protocol_version, documents, out),
            Frame::Sync { .. } if p.hello.is_none() => {
                self.disconnect(peer, "a sync frame before the hello".into(), out)
            }
            Frame::Sync { doc, message } => self.sync(peer, doc, &message, out),
        }
    }

    fn hello(
        &mut self,
        peer: NodeId,
        node: NodeId,
        district: DistrictId,
        protocol_version: u32,
        documents: Vec<(DistrictId, Vec<ChangeHash>)>,
        out: &mut Vec<Output>,
    ) {
        if node != peer {
            let reason =
                format!("the hello names node {node}, but the stream is authenticated as {peer}");
            return self.disconnect(peer, reason, out);
        }
        if protocol_version != PROTOCOL_VERSION {
            let reason = format!(
                "protocol version {protocol_version} is not supported; this node speaks version {PROTOCOL_VERSION}"
            );
            out.push(Output::Send {
                peer,
                frame: Frame::Goodbye {
                    reason: reason.clone(),
                },
            });
            return self.disconnect(peer, reason, out);
        }
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        if let Some(before) = &p.hello
            && before.district != district
        {
            let reason = format!(
                "the peer said it is of district {} and then of {district}",
                before.district
            );
            return self.disconnect(peer, reason, out);
        }
        // Documents of untrusted districts are remembered (to fetch them should the district be
        // trusted later), but only so many: the peer controls the list.
        let mut untrusted = 0;
        let documents: BTreeMap<DistrictId, Vec<ChangeHash>> = documents
            .into_iter()
            .filter(|(doc, _)| {
                self.trusted.contains(doc) || {
                    untrusted += 1;
                    untrusted <= MAX_REMEMBERED_UNTRUSTED
                }
            })
            .collect();
        let announced: Vec<DistrictId> = documents.keys().copied().collect();
        tracing::debug!(%peer, %district, documents = announced.len(), "hello");
        p.hello = Some(Hello {
            district,
            documents,
        });
        let mut created = Vec::new();
        for doc in announced {
            if !self.trusted.contains(&doc) || self.docs.contains_key(&doc) {
                continue;
            }
            let Some(held) = Held::genesis(doc) else {
                continue;
            };
            tracing::info!(%peer, %doc, "starting a replica of a document a peer announced");
            self.docs.insert(doc, held);
            created.push(doc);
        }
        // Start every exchange this peer wants: the documents it announced (those we had at
        // `Connected` already got their first message; this yields nothing new for them) and
        // those we started since.
        for doc in self.synced() {
            if self.peers.get(&peer).is_some_and(|p| p.wants(&doc)) {
                self.send_one(peer, doc, out);
            }
        }
        // A new document is offered to the other peers too: they may trust it and not have it.
        for doc in created {
            self.relay_except(doc, peer, out);
        }
    }

    fn sync(&mut self, peer: NodeId, doc: DistrictId, message: &[u8], out: &mut Vec<Output>) {
        let len = message.len();
        if len > self.limits.max_message_bytes {
            let reason = format!(
                "a sync message of {len} bytes for {doc} exceeds the limit of {} bytes",
                self.limits.max_message_bytes
            );
            out.push(Output::Rejected {
                peer,
                doc: Some(doc),
                reason: reason.clone(),
            });
            return self.disconnect(peer, reason, out);
        }
        let message = match Message::decode(message) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("an undecodable sync message for {doc}: {e}");
                return self.disconnect(peer, reason, out);
            }
        };
        if !self.trusted.contains(&doc) {
            if let Some(p) = self.peers.get_mut(&peer) {
                p.bytes_received += len as u64;
                if p.untrusted_offers.len() < MAX_REMEMBERED_UNTRUSTED {
                    p.untrusted_offers.insert(doc);
                }
            }
            tracing::debug!(%peer, %doc, "refusing a document of an untrusted district");
            out.push(Output::Rejected {
                peer,
                doc: Some(doc),
                reason: format!("document {doc} belongs to a district this node does not trust"),
            });
            return;
        }
        let created = !self.docs.contains_key(&doc);
        if created {
            let Some(held) = Held::genesis(doc) else {
                return;
            };
            tracing::info!(%peer, %doc, "starting a replica of a document a peer sent");
            self.docs.insert(doc, held);
        }
        let own = doc == self.own_district;
        let max_offences = self.tuning.max_offences;
        let max_document_bytes = self.limits.max_document_bytes;
        let now = self.now_ms;
        let (Some(held), Some(p)) = (self.docs.get_mut(&doc), self.peers.get_mut(&peer)) else {
            return;
        };
        p.bytes_received += len as u64;
        let pd = p.doc(doc, own);
        pd.heard = true;
        pd.resends = 0;
        pd.bytes_received += len as u64;
        pd.messages_received += 1;
        pd.last_received_ms = Some(now);
        let incoming: usize = message.changes.iter().map(<[u8]>::len).sum();

        if own {
            // Our own document: its sync state with every peer is read-only, so `receive`
            // takes the peer's heads and leaves any changes aside; we still answer.
            let mut offended = false;
            if incoming > 0 {
                p.offences += 1;
                offended = true;
                tracing::warn!(%peer, %doc, bytes = incoming, "refusing changes to the own document");
            }
            let pd = p.doc(doc, own);
            let result = held
                .doc
                .automerge()
                .sync()
                .receive_sync_message(&mut pd.state, message);
            pd.forget_lost_needs();
            persist_state(peer, doc, pd, out);
            let too_many = p.offences > max_offences;
            if offended {
                out.push(Output::Rejected {
                    peer,
                    doc: Some(doc),
                    reason: format!(
                        "only the owner writes its document: {incoming} bytes of changes to {doc} refused"
                    ),
                });
            }
            if let Err(e) = result {
                let reason = format!("cannot take a sync message for {doc}: {e}");
                return self.disconnect(peer, reason, out);
            }
            if too_many {
                let reason = format!("more than {max_offences} offences");
                return self.disconnect(peer, reason, out);
            }
            self.send_one(peer, doc, out);
            return;
        }

        if incoming > 0 {
            let size = held
                .size()
                .saturating_add(held.queued)
                .saturating_add(incoming as u64);
            if size > max_document_bytes {
                tracing::warn!(%peer, %doc, size, "document over its size limit");
                out.push(Output::Rejected {
                    peer,
                    doc: Some(doc),
                    reason: format!(
                        "document {doc} would grow to about {size} bytes, over the limit of {max_document_bytes} bytes"
                    ),
                });
                return;
            }
        }
        let before = held.heads.clone();
        let result = held
            .doc
            .automerge()
            .sync()
            .receive_sync_message(&mut pd.state, message);
        pd.forget_lost_needs();
        held.heads = held.doc.heads();
        let changed = held.heads != before;
        let mut applied = 0;
        if changed {
            let chunk = held.doc.automerge().save_after(&before);
            applied = chunk.len();
            held.grew(applied);
            tracing::debug!(%peer, %doc, bytes = chunk.len(), "applied changes from a peer");
            out.push(Output::Persist {
                doc,
                chunk,
                heads: held.heads.clone(),
            });
            out.push(Output::DocumentChanged {
                doc,
                before,
                after: held.heads.clone(),
            });
        }
        if incoming > 0 || held.queued > 0 {
            held.queued = if held.doc.automerge().get_missing_deps(&[]).is_empty() {
                0
            } else {
                (held.queued + incoming as u64).saturating_sub(applied as u64)
            };
        }
        persist_state(peer, doc, pd, out);
        if let Err(e) = result {
            let reason = format!("cannot apply a sync message for {doc}: {e}");
            self.disconnect(peer, reason, out);
        }
        if changed || created {
            self.relay(doc, out);
        } else {
            self.send_one(peer, doc, out);
        }
    }

    fn local_change(&mut self, doc: DistrictId, chunk: &[u8], out: &mut Vec<Output>) {
        if !self.trusted.contains(&doc) {
            tracing::error!(%doc, "a local change to a document of an untrusted district; ignored");
            return;
        }
        let held = match self.docs.entry(doc) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => match Held::genesis(doc) {
                Some(held) => e.insert(held),
                None => return,
            },
        };
        if let Err(e) = held.doc.automerge().load_incremental(chunk) {
            tracing::error!(%doc, error = %e, "cannot apply a local change; peers get it after a restart");
        }
        let heads = held.doc.heads();
        if heads == held.heads {
            return;
        }
        // The shell stored the chunk before handing it to us: nothing to persist.
        held.grew(chunk.len());
        held.heads = heads;
        self.relay(doc, out);
    }

    fn set_trusted(&mut self, districts: Vec<DistrictId>, out: &mut Vec<Output>) {
        let mut trusted: BTreeSet<DistrictId> = districts.into_iter().collect();
        trusted.insert(self.own_district);
        let removed: Vec<DistrictId> = self.trusted.difference(&trusted).copied().collect();
        let added: Vec<DistrictId> = trusted.difference(&self.trusted).copied().collect();
        self.trusted = trusted;
        for doc in removed {
            // The sync states stay (every path checks trust first), so that trusting the
            // district again resumes where it stopped.
            tracing::info!(%doc, "no longer syncing a document: its district is not trusted");
        }
        for doc in added {
            let a_peer_has_it = self
                .peers
                .values()
                .any(|p| p.announced(&doc) || p.untrusted_offers.contains(&doc));
            if !self.docs.contains_key(&doc) && a_peer_has_it {
                let Some(held) = Held::genesis(doc) else {
                    continue;
                };
                self.docs.insert(doc, held);
            }
            if self.docs.contains_key(&doc) {
                tracing::info!(%doc, "syncing a newly trusted district's document");
                for p in self.peers.values_mut() {
                    if p.untrusted_offers.remove(&doc) {
                        // It sent us messages about it: it syncs it. (Not our own document:
                        // that one is always trusted.)
                        p.doc(doc, false).heard = true;
                    }
                    // Whatever the peer sent while we refused it counts as sent on its side:
                    // start over, have the peer start over too, and offer the document afresh.
                    if let Some(pd) = p.docs.get_mut(&doc) {
                        pd.reset();
                        pd.offered = false;
                    }
                }
                self.relay(doc, out);
            }
        }
    }

    /// Restarts exchanges that stalled: the peer is not known to be in sync, and either our
    /// message got no answer, or (with a read-only state, which stays silent once it has
    /// nothing new to send) the peer is behind us and nothing moved — in both cases a frame was
    /// lost. The wait doubles with each restart that gets no answer.
    fn tick(&mut self, out: &mut Vec<Output>) {
        let now = self.now_ms;
        let mut due = Vec::new();
        for (id, p) in &mut self.peers {
            if p.hello.is_none() {
                continue;
            }
            for (doc, pd) in &mut p.docs {
                if !self.trusted.contains(doc) {
                    continue;
                }
                let Some(held) = self.docs.get_mut(doc) else {
                    continue;
                };
                let theirs = pd.state.their_heads.as_ref();
                if theirs.is_some_and(|t| sorted(t) == held.heads) {
                    continue;
                }
                let stalled = pd.state.in_flight
                    || (pd.state.read_only
                        && theirs.is_some_and(|t| {
                            t.iter()
                                .all(|h| held.doc.automerge().get_change_meta_by_hash(h).is_some())
                        }));
                if !stalled {
                    continue;
                }
                let backoff = self
                    .tuning
                    .resend_after_ms
                    .saturating_mul(1u64 << pd.resends.min(32))
                    .min(self.tuning.max_resend_interval_ms);
                let idle_since = pd.last_sent_ms.max(pd.last_received_ms).unwrap_or(0);
                if now.saturating_sub(idle_since) < backoff {
                    continue;
                }
                tracing::debug!(peer = %id, %doc, resends = pd.resends, "sync stalled; restarting the exchange");
                pd.reset();
                pd.resends = pd.resends.saturating_add(1);
                due.push((*id, *doc));
            }
        }
        for (peer, doc) in due {
            self.send_one(peer, doc, out);
        }
    }

    /// Sends changes of `doc` on to every peer that wants them (at most one message each).
    fn relay(&mut self, doc: DistrictId, out: &mut Vec<Output>) {
        self.relay_to(doc, None, out);
    }

    fn relay_except(&mut self, doc: DistrictId, except: NodeId, out: &mut Vec<Output>) {
        self.relay_to(doc, Some(except), out);
    }

    fn relay_to(&mut self, doc: DistrictId, except: Option<NodeId>, out: &mut Vec<Output>) {
        let peers: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(id, p)| Some(**id) != except && p.wants(&doc))
            .map(|(id, _)| *id)
            .collect();
        for peer in peers {
            self.send_one(peer, doc, out);
        }
    }

    /// Generates the next sync message of `doc` for `peer`, if the protocol has one.
    fn send_one(&mut self, peer: NodeId, doc: DistrictId, out: &mut Vec<Output>) {
        let own = doc == self.own_district;
        let (Some(held), Some(p)) = (self.docs.get_mut(&doc), self.peers.get_mut(&peer)) else {
            return;
        };
        let pd = p.doc(doc, own);
        let Some(message) = held
            .doc
            .automerge()
            .sync()
            .generate_sync_message(&mut pd.state)
        else {
            return;
        };
        let message = message.encode();
        let len = message.len() as u64;
        pd.offered = true;
        pd.last_sent_ms = Some(self.now_ms);
        pd.bytes_sent += len;
        pd.messages_sent += 1;
        p.bytes_sent += len;
        out.push(Output::Send {
            peer,
            frame: Frame::Sync { doc, message },
        });
    }
}

/// Hands the sync state to the shell if its persisted form changed.
fn persist_state(peer: NodeId, doc: DistrictId, pd: &mut PeerDoc, out: &mut Vec<Output>) {
    let state = pd.state.encode();
    if state != pd.persisted {
        pd.persisted.clone_from(&state);
        out.push(Output::PersistSyncState { peer, doc, state });
    }
}

fn sorted(heads: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut heads = heads.to_vec();
    heads.sort();
    heads
}
