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
}
