//! [`SyncCore`]: the state machine. Inputs in, outputs out; see the crate documentation for the
//! protocol and `peer` for the per-connection state.
//!
//! Two rules make the outputs complete and small:
//! - **A `Persist` chunk is exactly what one input added**: the changes that are not ancestors of
//!   the heads before it (`save_after(before)`), so storage holds each change once, whatever
//!   the shell does with the document's own save cursor. (One exception: a whole document that
//!   replaces a new replica is stored as it came — it holds only the genesis change twice, which
//!   loading ignores.)
//! - **At most one sync message per (peer, document) per input.** Automerge's protocol is a
//!   ping-pong; the next message goes out when the peer answers (or when a tick finds the
//!   exchange stalled).
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;
use automerge::sync::{ChunkList, Message, SyncDoc};
use kreisnetz_document::DistrictDocument;
use kreisnetz_identity::DistrictKey;
use kreisnetz_model::{DistrictId, NodeId};

use crate::frame::{Frame, Input, Limits, Output, PROTOCOL_VERSION, RejectKind, Tuning};
use crate::held::{Coverage, Held};
use crate::peer::{Hello, Peer, PeerDoc};
use crate::signed::SignedHeads;
use crate::status::{DocumentSigning, PeerDocumentStatus, PeerStatus};

/// How many documents of untrusted districts a peer's hello and offers are remembered for.
const MAX_REMEMBERED_UNTRUSTED: usize = 1024;

/// The most Bloom filters (`have` entries) a sync message may carry; Automerge sends one.
const MAX_BLOOM_FILTERS: usize = 8;

/// The most probes per hash a received Bloom filter may ask for; Automerge uses 7.
const MAX_BLOOM_PROBES: u32 = 64;

/// Checks what Automerge 0.12 takes on trust in a peer's sync message: the parameters of its
/// Bloom filters, which `Message::decode` accepts as they come and `generate_sync_message` then
/// uses to test every change we hold. A filter that claims entries but has 0 bits per entry has
/// no bits, and testing a hash against it divides by zero (a panic that took down the sync thread:
/// found by the `sync_message` fuzz target); its probe count sizes an allocation and a loop per
/// tested change, and every filter is tested for every change, so both are bounded here.
fn check_bloom_filters(message: &Message) -> Result<(), String> {
    if message.have.len() > MAX_BLOOM_FILTERS {
        return Err(format!(
            "{} bloom filters, more than {MAX_BLOOM_FILTERS}",
            message.have.len()
        ));
    }
    for have in &message.have {
        // The wire form: nothing for an empty filter, else LEB128 entries, bits per entry and
        // probes, then the bits.
        let bytes = have.bloom.to_bytes();
        let mut rest = bytes.as_slice();
        let mut field = || -> Result<u32, String> {
            let mut value: u64 = 0;
            for shift in (0..35).step_by(7) {
                let (&byte, tail) = rest.split_first().ok_or("a truncated bloom filter")?;
                rest = tail;
                value |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    return u32::try_from(value)
                        .map_err(|_| "a bloom filter field over 32 bits".into());
                }
            }
            Err("a bloom filter field over 32 bits".into())
        };
        if bytes.is_empty() {
            continue;
        }
        let entries = field()?;
        let bits_per_entry = field()?;
        let probes = field()?;
        if entries > 0 && bits_per_entry == 0 {
            return Err(format!("a bloom filter of {entries} entries without bits"));
        }
        if probes > MAX_BLOOM_PROBES {
            return Err(format!(
                "a bloom filter with {probes} probes per hash, more than {MAX_BLOOM_PROBES}"
            ));
        }
    }
    Ok(())
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
    /// The own district's key, to sign the own document's heads.
    key: Option<DistrictKey>,
    /// Outputs made while building the core (a signature made at start), for
    /// [`SyncCore::take_start_outputs`].
    pending: Vec<Output>,
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
            key: None,
            pending: Vec::new(),
        }
    }

    /// The signed-heads records loaded from storage (each is checked again; a record that does
    /// not verify is dropped with a log line).
    pub fn with_signed(mut self, records: Vec<SignedHeads>) -> Self {
        for r in records {
            let doc = r.doc;
            let Some(held) = self.docs.get_mut(&doc) else {
                continue;
            };
            if let Err(e) = held.take_records(doc, vec![r]) {
                tracing::warn!(%doc, error = %e, "dropping a stored signed-heads record that does not verify");
            }
        }
        self
    }

    /// What the node knows about the owner's signatures over `doc`.
    pub fn signing(&self, doc: &DistrictId) -> Option<DocumentSigning> {
        let held = self.docs.get(doc)?;
        let newest = held.newest_held();
        let mut heads = held.heads.clone();
        heads.sort();
        Some(DocumentSigning {
            seq: newest.map(|r| r.seq),
            time_ms: newest.map(|r| r.time_ms),
            newest_seen_seq: held.newest_seq(),
            covered: held.signed.iter().any(|r| r.heads == heads) || held.signed.len() > 1,
            quarantined_changes: held.quarantine.len(),
            quarantined_bytes: held.quarantined_bytes,
        })
    }

    /// The signed-heads records that cover `doc` as held now.
    pub fn signed(&self, doc: &DistrictId) -> Vec<SignedHeads> {
        self.docs
            .get(doc)
            .map(|h| h.signed.clone())
            .unwrap_or_default()
    }

    /// The key of the own district: the core signs the own document's heads after each local
    /// change (and now, if what is stored is not covered by a stored record — data from before
    /// signing existed, or a crash between a write and its signature). Without it (tests of other
    /// parts), the own changes go out unsigned and peers quarantine them.
    pub fn with_district_key(mut self, key: DistrictKey, now_ms: u64) -> Self {
        if key.id() != self.own_district {
            tracing::error!(district = %self.own_district, key = %key.id(), "the district key is not the key of this node's district; not signing");
            return self;
        }
        self.key = Some(key);
        self.advance(now_ms);
        let own = self.own_district;
        let covered = self.signing(&own).is_some_and(|s| s.covered);
        if !covered {
            let mut out = Vec::new();
            self.sign_own(&mut out);
            self.pending.extend(out);
        }
        self
    }

    /// What the shell is to do before the first input: persist a signature made at start (see
    /// [`SyncCore::with_district_key`]).
    pub fn take_start_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.pending)
    }

    /// Signs the own document's current heads with the next sequence number.
    fn sign_own(&mut self, out: &mut Vec<Output>) {
        let own = self.own_district;
        let (Some(key), Some(held)) = (&self.key, self.docs.get_mut(&own)) else {
            return;
        };
        let seq = held.newest_seq().map_or(1, |s| s + 1);
        let record = SignedHeads::sign(key, &held.heads, seq, self.now_ms);
        held.take_own_record(record);
        out.push(Output::PersistSigned {
            doc: own,
            signed: held.kept_records(),
        });
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
                        let their_signed_seq = pd.and_then(|pd| pd.their_seq);
                        let newest = self.docs.get(&doc).and_then(Held::newest_seq);
                        PeerDocumentStatus {
                            their_signed_seq,
                            behind_signed: match (their_signed_seq, newest) {
                                (Some(theirs), Some(ours)) => theirs < ours,
                                _ => false,
                            },
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
                    bad_signatures: p.bad_signatures,
                    unsigned_changes: p.unsigned_changes,
                    stale_records: p.stale_records,
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
            signed: self
                .docs
                .iter()
                .filter(|(d, _)| self.trusted.contains(d))
                .flat_map(|(_, h)| h.signed.iter().cloned())
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
                signed,
            } => self.hello(
                peer,
                node,
                district,
                protocol_version,
                documents,
                signed,
                out,
            ),
            Frame::Sync { .. } if p.hello.is_none() => {
                self.disconnect(peer, "a sync frame before the hello".into(), out)
            }
            Frame::Sync {
                doc,
                message,
                signed,
                signed_seq,
            } => self.sync(peer, doc, &message, signed, signed_seq, out),
            Frame::Signed { .. } if p.hello.is_none() => {
                self.disconnect(peer, "a signed-heads frame before the hello".into(), out)
            }
            Frame::Signed { doc, signed } => {
                if signed.len() > crate::signed::MAX_SIGNED_HEADS {
                    let reason = format!("{} signed-heads records in one frame", signed.len());
                    return self.disconnect(peer, reason, out);
                }
                if !self.trusted.contains(&doc) {
                    return;
                }
                if let Entry::Vacant(e) = self.docs.entry(doc) {
                    // Like a sync message about it: a trusted document we lack is started.
                    let Some(held) = Held::genesis(doc) else {
                        return;
                    };
                    tracing::info!(%peer, %doc, "starting a replica of a document a peer signed for");
                    e.insert(held);
                    self.relay_except(doc, peer, out);
                }
                self.take_records_alone(peer, doc, signed, out);
            }
            Frame::Notice { doc, reason } => {
                tracing::warn!(%peer, doc = ?doc, %reason, "the peer refused something of ours");
                out.push(Output::PeerNotice { peer, doc, reason });
            }
        }
    }

    // The hello's fields, one by one: a struct for them would only be unpacked again here.
    #[allow(clippy::too_many_arguments)]
    fn hello(
        &mut self,
        peer: NodeId,
        node: NodeId,
        district: DistrictId,
        protocol_version: u32,
        documents: Vec<(DistrictId, Vec<ChangeHash>)>,
        signed: Vec<SignedHeads>,
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
        // The owners' signatures it holds, before anything is sent: the first messages about
        // the new documents carry them on.
        self.hello_records(peer, signed, out);
        if self.peers.get(&peer).is_none_or(|p| p.hello.is_none()) {
            return;
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

    /// The records a peer's hello carried: verified and kept like those of a sync frame.
    fn hello_records(&mut self, peer: NodeId, signed: Vec<SignedHeads>, out: &mut Vec<Output>) {
        let mut by_doc: BTreeMap<DistrictId, Vec<SignedHeads>> = BTreeMap::new();
        for r in signed {
            if self.trusted.contains(&r.doc) && self.docs.contains_key(&r.doc) {
                let list = by_doc.entry(r.doc).or_default();
                if list.len() < crate::signed::MAX_SIGNED_HEADS {
                    list.push(r);
                }
            }
        }
        for (doc, records) in by_doc {
            if !self.take_records_alone(peer, doc, records, out) {
                return;
            }
        }
    }

    /// Records that came without changes (a hello, a `Signed` frame): taken and stored; if they
    /// are new, the quarantined changes they cover are applied and they go on to the peers.
    fn take_records_alone(
        &mut self,
        peer: NodeId,
        doc: DistrictId,
        records: Vec<SignedHeads>,
        out: &mut Vec<Output>,
    ) -> bool {
        let before = self.docs.get(&doc).map(Held::record_signatures);
        if !self.take_records(peer, doc, records, true, out) {
            return false;
        }
        if self.docs.get(&doc).map(Held::record_signatures) != before {
            self.release_quarantine(doc, out);
            self.relay_signed(doc, out);
        }
        true
    }

    /// Verifies and keeps records of `doc` from `peer`. A bad one is an offence: the peer is
    /// told, the caller drops what came with it. Returns whether the caller may go on (the
    /// records were good and the peer is still connected).
    fn take_records(
        &mut self,
        peer: NodeId,
        doc: DistrictId,
        records: Vec<SignedHeads>,
        persist_records: bool,
        out: &mut Vec<Output>,
    ) -> bool {
        if records.is_empty() {
            return true;
        }
        let max_offences = self.tuning.max_offences;
        let (Some(held), Some(p)) = (self.docs.get_mut(&doc), self.peers.get_mut(&peer)) else {
            return false;
        };
        let before = held.record_signatures();
        match held.take_records(doc, records) {
            Ok(taken) => {
                if persist_records && held.record_signatures() != before {
                    out.push(Output::PersistSigned {
                        doc,
                        signed: held.kept_records(),
                    });
                }
                let pd = p.doc(doc);
                pd.their_seq = pd.their_seq.max(taken.max_seq);
                // An older signed state than ours: not taken. A relay that is behind sends one
                // on every new connection, so this is no offence; the peer's status shows it
                // (and a peer that stays behind while others are not holds the newest back).
                for (seq, newest) in taken.stale {
                    p.stale_records += 1;
                    tracing::info!(%peer, %doc, seq, newest, "a peer showed an older signed state than one we hold");
                    out.push(Output::Stale {
                        peer,
                        doc,
                        seq,
                        newest,
                    });
                }
                true
            }
            Err(e) => {
                p.offences += 1;
                p.bad_signatures += 1;
                let too_many = p.offences > max_offences;
                let reason = format!(
                    "a signed-heads record of {doc} was refused: {e}; the whole message was dropped"
                );
                tracing::warn!(%peer, %doc, error = %e, "refusing a message with a bad signature");
                refuse(peer, doc, RejectKind::BadSignature, 0, reason, out);
                if too_many {
                    self.disconnect(peer, format!("more than {max_offences} offences"), out);
                }
                false
            }
        }
    }

    fn sync(
        &mut self,
        peer: NodeId,
        doc: DistrictId,
        message: &[u8],
        signed: Vec<SignedHeads>,
        signed_seq: u64,
        out: &mut Vec<Output>,
    ) {
        let len = message.len();
        if len > self.limits.max_message_bytes {
            let reason = format!(
                "a sync message of {len} bytes for {doc} exceeds the limit of {} bytes",
                self.limits.max_message_bytes
            );
            out.push(Output::Rejected {
                peer,
                doc: Some(doc),
                kind: RejectKind::Protocol,
                changes: 0,
                reason: reason.clone(),
            });
            return self.disconnect(peer, reason, out);
        }
        let mut message = match Message::decode(message) {
            Ok(m) => m,
            Err(e) => {
                let reason = format!("an undecodable sync message for {doc}: {e}");
                return self.disconnect(peer, reason, out);
            }
        };
        if let Err(e) = check_bloom_filters(&message) {
            let reason = format!("a sync message for {doc} that Automerge cannot take: {e}");
            return self.disconnect(peer, reason, out);
        }
        if signed.len() > crate::signed::MAX_SIGNED_HEADS {
            let reason = format!("{} signed-heads records in one frame", signed.len());
            return self.disconnect(peer, reason, out);
        }
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
                kind: RejectKind::Untrusted,
                changes: 0,
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
        let now = self.now_ms;
        let reset = message
            .flags
            .is_some_and(|f| f.contains(automerge::sync::MessageFlags::SYNC_RESET));
        if let Some(p) = self.peers.get_mut(&peer) {
            p.bytes_received += len as u64;
            let pd = p.doc(doc);
            if reset {
                // The peer starts over (it may have dropped what we sent): so do the records.
                pd.signed_sent.clear();
            }
            if signed_seq > 0 {
                pd.their_seq = Some(signed_seq);
            }
            pd.heard = true;
            pd.resends = 0;
            pd.bytes_received += len as u64;
            pd.messages_received += 1;
            pd.last_received_ms = Some(now);
        }
        // 1. The owner's signatures that came with it: one bad record refuses the whole
        //    message.
        let came_with_records = !signed.is_empty();
        let sent_with_it: Vec<[u8; 64]> = signed.iter().map(|r| r.signature).collect();
        let records_before = self
            .docs
            .get(&doc)
            .map(Held::record_signatures)
            .unwrap_or_default();
        if !self.take_records(peer, doc, signed, false, out) {
            return;
        }
        let max_offences = self.tuning.max_offences;
        let max_document_bytes = self.limits.max_document_bytes;
        let (max_q_changes, max_q_bytes) = (
            self.tuning.max_quarantined_changes,
            self.tuning.max_quarantined_bytes,
        );
        let (Some(held), Some(p)) = (self.docs.get_mut(&doc), self.peers.get_mut(&peer)) else {
            return;
        };
        let incoming: usize = message.changes.iter().map(<[u8]>::len).sum();
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
                    kind: RejectKind::TooLarge,
                    changes: 0,
                    reason: format!(
                        "document {doc} would grow to about {size} bytes, over the limit of {max_document_bytes} bytes"
                    ),
                });
                return;
            }
        }
        // 2. Which of its changes the signatures cover. (Quarantined changes are looked at
        //    again whenever new records arrive.)
        let before = held.heads.clone();
        let coverage = if incoming > 0 || (came_with_records && !held.quarantine.is_empty()) {
            let chunks: Vec<Vec<u8>> = message.changes.iter().map(<[u8]>::to_vec).collect();
            held.cover(chunks, max_q_changes, max_q_bytes)
        } else {
            Coverage::All
        };
        let mut offence = None;
        let mut replacement = None;
        match coverage {
            Coverage::All => {}
            Coverage::Replace { doc: loaded, bytes } => {
                replacement = Some((loaded, bytes));
                message.changes = ChunkList::empty();
            }
            Coverage::Some {
                chunks,
                unsigned,
                dropped,
                repeated,
            } => {
                message.changes = ChunkList::from(chunks);
                if unsigned > 0 {
                    // An honest sender attaches the records that cover what it sends, and the
                    // changes that prove coverage can still be missing now and then (a bloom
                    // filter false positive made the sender skip one; it comes when we ask):
                    // those are quarantined, reported and told. What counts as an offence
                    // towards closing the stream: changes without any record, changes sent again
                    // that still nothing covers, and more than the quarantine holds.
                    if !came_with_records || repeated > 0 || dropped > 0 {
                        p.offences += 1;
                    }
                    p.unsigned_changes += unsigned as u64;
                    offence = Some((unsigned, dropped));
                }
            }
            Coverage::Invalid(reason) => {
                let reason = format!("cannot take a sync message for {doc}: {reason}");
                return self.disconnect(peer, reason, out);
            }
        }
        let pd = p.doc(doc);
        let message_heads = message.heads.clone();
        // (A replacing document takes the message's protocol part on the old document, and
        // replaces it after: applied to the new one, Automerge would see its heads equal to the
        // sender's and never tell the sender that we have them now.)
        let result = held
            .doc
            .automerge()
            .sync()
            .receive_sync_message(&mut pd.state, message);
        // A replacing document is stored as it came: it holds everything we held (only the
        // genesis, normally, which storage never holds) and more, and it is already encoded —
        // re-encoding it with `save_after` cost a quarter of an initial sync.
        let mut replaced_bytes = None;
        if let Some((loaded, bytes)) = replacement {
            let queued = held.accepted_chunk();
            held.doc = *loaded;
            held.size = Some(bytes.len() as u64);
            if !queued.is_empty()
                && let Err(e) = held.doc.automerge().load_incremental(&queued)
            {
                tracing::warn!(%doc, error = %e, "cannot hand queued changes to a replacing document");
            }
            if message_heads.iter().all(|h| held.has(h)) {
                pd.state.shared_heads = sorted(&message_heads);
            }
            // With queued changes added, the document is more than the bytes that came.
            if queued.is_empty() {
                replaced_bytes = Some(bytes);
            }
        }
        pd.forget_lost_needs();
        held.heads = held.doc.heads();
        held.forget_applied();
        let changed = held.heads != before;
        let mut applied = 0;
        if changed || came_with_records {
            held.settle_records();
        }
        let records_moved = held.record_signatures() != records_before;
        // The peer sent the records that now cover the document: no need to send them back.
        if !sent_with_it.is_empty()
            && !held.signed.is_empty()
            && held
                .signed
                .iter()
                .all(|r| sent_with_it.contains(&r.signature))
        {
            pd.signed_sent = held.cover_signatures();
        }
        if changed {
            let replaced = replaced_bytes.is_some();
            let chunk = match replaced_bytes {
                Some(bytes) => bytes,
                None => held.doc.automerge().save_after(&before),
            };
            applied = chunk.len();
            if !replaced {
                held.grew(applied);
            }
            tracing::debug!(%peer, %doc, bytes = chunk.len(), "applied changes from a peer");
            out.push(Output::Persist {
                doc,
                chunk,
                heads: held.heads.clone(),
                signed: held.kept_records(),
            });
        } else if records_moved {
            out.push(Output::PersistSigned {
                doc,
                signed: held.kept_records(),
            });
        }
        if changed {
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
        let too_many = p.offences > max_offences;
        if let Some((unsigned, dropped)) = offence {
            let reason = if dropped > 0 {
                format!(
                    "{unsigned} changes to {doc} carry no valid signature of its owner: not applied ({dropped} dropped, the quarantine is full)"
                )
            } else {
                format!(
                    "{unsigned} changes to {doc} carry no valid signature of its owner: quarantined, not applied"
                )
            };
            tracing::warn!(%peer, %doc, unsigned, dropped, "quarantined unsigned changes");
            let kind = if dropped > 0 {
                RejectKind::QuarantineFull
            } else {
                RejectKind::Unsigned
            };
            refuse(peer, doc, kind, unsigned as u64, reason, out);
        }
        if let Err(e) = result {
            let reason = format!("cannot apply a sync message for {doc}: {e}");
            return self.disconnect(peer, reason, out);
        }
        if too_many {
            return self.disconnect(peer, format!("more than {max_offences} offences"), out);
        }
        if changed || created {
            self.relay(doc, out);
        } else {
            self.send_one(peer, doc, out);
            if records_moved {
                self.relay_signed(doc, out);
            }
        }
        self.answer_claim(peer, doc, signed_seq, out);
    }

    /// The peer's newest signed state of `doc` is older than ours: send it our records (once
    /// per claim).
    fn answer_claim(&mut self, peer: NodeId, doc: DistrictId, claim: u64, out: &mut Vec<Output>) {
        let (Some(held), Some(p)) = (self.docs.get(&doc), self.peers.get_mut(&peer)) else {
            return;
        };
        let ours = held.newest_held().map_or(0, |r| r.seq);
        if ours <= claim {
            return;
        }
        let pd = p.doc(doc);
        if pd.answered_claim == Some(claim) {
            return;
        }
        pd.answered_claim = Some(claim);
        send_records(peer, doc, held, pd, out);
    }

    /// New records arrived without changes: quarantined changes they cover are applied now.
    fn release_quarantine(&mut self, doc: DistrictId, out: &mut Vec<Output>) {
        let (max_changes, max_bytes) = (
            self.tuning.max_quarantined_changes,
            self.tuning.max_quarantined_bytes,
        );
        let Some(held) = self.docs.get_mut(&doc) else {
            return;
        };
        if held.quarantine.is_empty() {
            return;
        }
        let Coverage::Some { chunks, .. } = held.cover(Vec::new(), max_changes, max_bytes) else {
            return;
        };
        if chunks.is_empty() {
            return;
        }
        let before = held.heads.clone();
        if let Err(e) = held.doc.automerge().load_incremental(&chunks.concat()) {
            tracing::warn!(%doc, error = %e, "cannot apply changes released from quarantine");
        }
        held.heads = held.doc.heads();
        held.forget_applied();
        if held.heads == before {
            return;
        }
        held.settle_records();
        let chunk = held.doc.automerge().save_after(&before);
        held.grew(chunk.len());
        tracing::info!(%doc, bytes = chunk.len(), "applied changes released from quarantine");
        out.push(Output::Persist {
            doc,
            chunk,
            heads: held.heads.clone(),
            signed: held.kept_records(),
        });
        out.push(Output::DocumentChanged {
            doc,
            before,
            after: held.heads.clone(),
        });
        self.relay(doc, out);
    }

    /// Sends the records that cover `doc` to every peer that syncs it and has not got them on
    /// this connection.
    fn relay_signed(&mut self, doc: DistrictId, out: &mut Vec<Output>) {
        let Some(held) = self.docs.get(&doc) else {
            return;
        };
        let signatures = held.cover_signatures();
        if signatures.is_empty() {
            return;
        }
        for (id, p) in self.peers.iter_mut() {
            // Every peer that syncs the document or was offered it (a peer that does not trust
            // it ignores the frame).
            if p.hello.is_none() || !(p.announced(&doc) || p.docs.contains_key(&doc)) {
                continue;
            }
            let pd = p.doc(doc);
            if pd.signed_sent != signatures {
                send_records(*id, doc, held, pd, out);
            }
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
        // The writer stored the chunk before handing it to us; the signature over the new
        // heads is stored before anything is sent.
        held.grew(chunk.len());
        held.heads = heads;
        self.sign_own(out);
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
                        p.doc(doc).heard = true;
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

    /// Restarts exchanges that stalled: the peer is not known to be in sync and our message got
    /// no answer (a frame was lost). The wait doubles with each restart that gets no answer.
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
                let Some(held) = self.docs.get(doc) else {
                    continue;
                };
                let theirs = pd.state.their_heads.as_ref();
                if theirs.is_some_and(|t| sorted(t) == held.heads) {
                    continue;
                }
                if !pd.state.in_flight {
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
        let (Some(held), Some(p)) = (self.docs.get_mut(&doc), self.peers.get_mut(&peer)) else {
            return;
        };
        let pd = p.doc(doc);
        let Some(message) = held
            .doc
            .automerge()
            .sync()
            .generate_sync_message(&mut pd.state)
        else {
            return;
        };
        let carries_changes = !message.changes.is_empty();
        let message = message.encode();
        let len = message.len() as u64;
        // The records that cover what we hold go along with every message that carries changes
        // (the peer may have dropped earlier ones: it did not trust the document then, it
        // restarted), and whenever they changed since the last ones this peer got.
        let signatures = held.cover_signatures();
        let signed = if signatures != pd.signed_sent || carries_changes {
            pd.signed_sent = signatures;
            held.signed.clone()
        } else {
            Vec::new()
        };
        pd.offered = true;
        pd.last_sent_ms = Some(self.now_ms);
        pd.bytes_sent += len;
        pd.messages_sent += 1;
        p.bytes_sent += len;
        out.push(Output::Send {
            peer,
            frame: Frame::Sync {
                doc,
                message,
                signed,
                signed_seq: held.newest_seq().unwrap_or(0),
            },
        });
    }
}

/// Sends the records that cover `doc` to `peer` in a records-only frame, and notes them as sent.
fn send_records(
    peer: NodeId,
    doc: DistrictId,
    held: &Held,
    pd: &mut PeerDoc,
    out: &mut Vec<Output>,
) {
    pd.signed_sent = held.cover_signatures();
    out.push(Output::Send {
        peer,
        frame: Frame::Signed {
            doc,
            signed: held.signed.clone(),
        },
    });
}

/// An offence about `doc`: reported to the shell and told to the peer (the stream stays open).
fn refuse(
    peer: NodeId,
    doc: DistrictId,
    kind: RejectKind,
    changes: u64,
    reason: String,
    out: &mut Vec<Output>,
) {
    out.push(Output::Rejected {
        peer,
        doc: Some(doc),
        kind,
        changes,
        reason: reason.clone(),
    });
    out.push(Output::Send {
        peer,
        frame: Frame::Notice {
            doc: Some(doc),
            reason,
        },
    });
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
