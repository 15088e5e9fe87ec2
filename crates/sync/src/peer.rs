//! What the core knows about one connected peer: its hello, and per document the Automerge sync
//! state plus the bookkeeping for relaying, resending and the admin view.
//!
//! Everything here lives only as long as the connection. What outlives it is the encoded sync
//! state (only the heads both sides are known to share), which the shell persists and hands back
//! on the next `Connected`; decoding it drops all in-flight information, as Automerge advises for a
//! new connection.
use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;
use automerge::sync::{Capability, State};
use kreisnetz_model::DistrictId;

/// What a peer said in its hello.
pub(crate) struct Hello {
    pub district: DistrictId,
    /// The documents it announced, with the heads it had then.
    pub documents: BTreeMap<DistrictId, Vec<ChangeHash>>,
}

/// One connected peer.
pub(crate) struct Peer {
    pub connected_ms: u64,
    pub hello: Option<Hello>,
    /// Persisted sync states handed in with `Connected`, not yet turned into a [`PeerDoc`].
    pub restored: BTreeMap<DistrictId, Vec<u8>>,
    pub docs: BTreeMap<DistrictId, PeerDoc>,
    /// Untrusted documents the peer sent messages about (remembered so that trusting the district
    /// later can fetch the document from this peer).
    pub untrusted_offers: BTreeSet<DistrictId>,
    pub offences: u32,
    pub bad_signatures: u32,
    pub unsigned_changes: u64,
    pub stale_records: u32,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// The sync with one peer about one document.
pub(crate) struct PeerDoc {
    pub state: State,
    /// The encoding last handed to the shell (or restored); a state is persisted only when its
    /// encoding changes.
    pub persisted: Vec<u8>,
    /// We sent at least one message about this document on this connection.
    pub offered: bool,
    /// The peer sent at least one message about this document on this connection.
    pub heard: bool,
    pub last_sent_ms: Option<u64>,
    pub last_received_ms: Option<u64>,
    /// Resends since the peer last answered (for the back-off).
    pub resends: u32,
    /// What the peer's previous message asked for.
    pub last_need: Vec<ChangeHash>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    /// The newest signed-heads sequence number the peer showed us.
    pub their_seq: Option<u64>,
    /// The signatures of the records we last attached for this document: records go out again
    /// only when the set changes (or the exchange restarts).
    pub signed_sent: Vec<[u8; 64]>,
    /// The peer's claim (`signed_seq`) we last answered with our records.
    pub answered_claim: Option<u64>,
}

impl Peer {
    pub fn new(sync_states: Vec<(DistrictId, Vec<u8>)>, now_ms: u64) -> Self {
        Peer {
            connected_ms: now_ms,
            hello: None,
            restored: sync_states.into_iter().collect(),
            docs: BTreeMap::new(),
            untrusted_offers: BTreeSet::new(),
            offences: 0,
            bad_signatures: 0,
            unsigned_changes: 0,
            stale_records: 0,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// The peer announced `doc` in its hello.
    pub fn announced(&self, doc: &DistrictId) -> bool {
        self.hello
            .as_ref()
            .is_some_and(|h| h.documents.contains_key(doc))
    }

    /// Whether changes of `doc` are to be sent to this peer now: it said hello, and it either
    /// has shown interest in `doc` (announced it, or sent a message about it) or has not been
    /// offered it yet on this connection.
    pub fn wants(&self, doc: &DistrictId) -> bool {
        if self.hello.is_none() {
            return false;
        }
        match self.docs.get(doc) {
            None => true,
            Some(pd) => !pd.offered || pd.heard || self.announced(doc),
        }
    }

    /// The sync state for `doc`, created on first use from the restored bytes (or fresh).
    pub fn doc(&mut self, doc: DistrictId) -> &mut PeerDoc {
        let restored = &mut self.restored;
        self.docs.entry(doc).or_insert_with(|| {
            let (state, persisted) = match restored.remove(&doc) {
                Some(bytes) => match State::decode(&bytes) {
                    Ok(mut state) => {
                        // Bytes from disk: Automerge decodes the shared heads as they are but
                        // expects them sorted when it encodes a message from them (a debug
                        // assertion; release builds would send them unsorted). Found by the
                        // `sync_state` fuzz target.
                        state.shared_heads.sort();
                        state.shared_heads.dedup();
                        (state, bytes)
                    }
                    Err(e) => {
                        tracing::warn!(%doc, error = %e, "ignoring an undecodable persisted sync state");
                        (State::new(), Vec::new())
                    }
                },
                None => (State::new(), Vec::new()),
            };
            PeerDoc {
                state,
                persisted,
                offered: false,
                heard: false,
                last_sent_ms: None,
                last_received_ms: None,
                resends: 0,
                last_need: Vec::new(),
                bytes_sent: 0,
                bytes_received: 0,
                messages_sent: 0,
                messages_received: 0,
                their_seq: None,
                signed_sent: Vec::new(),
                answered_claim: None,
            }
        })
    }

    /// The heads the peer last told us for `doc` (its sync messages, else its hello).
    pub fn their_heads(&self, doc: &DistrictId) -> Option<&Vec<ChangeHash>> {
        self.docs
            .get(doc)
            .and_then(|pd| pd.state.their_heads.as_ref())
            .or_else(|| self.hello.as_ref().and_then(|h| h.documents.get(doc)))
    }
}

impl PeerDoc {
    /// Restarts a stalled exchange: forgets what is in flight and what was sent, keeps only the
    /// heads both sides share (as a reconnect would), and asks the peer to do the same — the
    /// next message carries Automerge's sync-reset flag, on which the peer clears its record of
    /// what it sent us. Without that, a change lost in transit (or refused by us) stays "sent"
    /// on the other side and is never sent again.
    ///
    /// Every peer that passed the hello speaks [`crate::PROTOCOL_VERSION`] 1, whose sync
    /// messages are Automerge 0.12's: it understands the flag (and the compressed whole-document
    /// message), also when we have not heard that from it yet. (Left unknown, Automerge would fall
    /// back to announcing empty heads, as if we had lost everything, while recording our real
    /// heads as sent — and a read-only state would then never tell the peer its real heads.)
    pub fn reset(&mut self) {
        let old = &self.state;
        let mut state = State::decode(&old.encode()).unwrap_or_default();
        state.read_only = old.read_only;
        state.peer_read_only = old.peer_read_only;
        state.their_capabilities = Some(vec![Capability::MessageV2, Capability::SyncReset]);
        state.needs_reset = true;
        self.state = state;
        self.signed_sent.clear();
    }

    /// After a message from the peer: a change it asks for in two messages in a row did not
    /// reach it, even if we sent it (a frame was lost), so it is sent again rather than filtered
    /// out as sent. (Asked for once, it may just have crossed our message that carries it.)
    pub fn forget_lost_needs(&mut self) {
        let need = self.state.their_need.clone().unwrap_or_default();
        for hash in &need {
            if self.last_need.contains(hash) {
                self.state.sent_hashes.remove(hash);
            }
        }
        self.last_need = need;
    }
}
