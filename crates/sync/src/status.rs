//! What the admin view shows about the peers: per connected peer and document, what we know.
use automerge::ChangeHash;
use kreisnetz_model::{DistrictId, NodeId};

/// One connected peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerStatus {
    pub peer: NodeId,
    /// The district the peer named in its hello (`None` before the hello).
    pub district: Option<DistrictId>,
    pub connected_since_ms: u64,
    /// Documents we sync with this peer whose heads, as far as we know, differ from ours.
    pub documents_behind: u32,
    /// Sync message bytes sent and received on this connection.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Offences on this connection (see [`crate::Tuning::max_offences`]).
    pub offences: u32,
    /// Signed-heads records from this peer that did not verify (each refused a whole message).
    pub bad_signatures: u32,
    /// Changes from this peer that no verified signature covered (quarantined, not applied).
    pub unsigned_changes: u64,
    /// Signed states older than ones we held (rollback attempts, or a relay that is behind).
    pub stale_records: u32,
    pub documents: Vec<PeerDocumentStatus>,
}

/// One document with one peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerDocumentStatus {
    pub doc: DistrictId,
    /// The heads the peer last told us (its last sync message, else its hello).
    pub their_heads: Option<Vec<ChangeHash>>,
    /// Their last known heads equal ours.
    pub in_sync: bool,
    /// The peer has shown it syncs this document (announced it or sent a message about it).
    pub active: bool,
    /// We sent a message the peer has not answered yet.
    pub awaiting_answer: bool,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub last_sent_ms: Option<u64>,
    pub last_received_ms: Option<u64>,
    /// The newest signed-heads sequence number the peer has shown us for this document.
    pub their_signed_seq: Option<u64>,
    /// The peer shows an older signed state of this document than the newest we know of: it is
    /// behind, or it holds the newest state back.
    pub behind_signed: bool,
}

/// What a node knows about the owner's signatures over one document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocumentSigning {
    /// The newest signed-heads record whose changes this node holds: its sequence number and
    /// signing time.
    pub seq: Option<u64>,
    pub time_ms: Option<u64>,
    /// The newest sequence number this node has seen verified (from any peer), also if it lacks
    /// the changes yet. Above `seq`: the node is behind the owner's newest signed state.
    pub newest_seen_seq: Option<u64>,
    /// Every head of the document is covered by a verified record (false for data stored before
    /// signing existed, until the owner signs again).
    pub covered: bool,
    /// Unsigned changes waiting in quarantine.
    pub quarantined_changes: usize,
    pub quarantined_bytes: usize,
}
