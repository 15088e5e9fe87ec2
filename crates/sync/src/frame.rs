//! The core's vocabulary: what travels on a peer stream ([`Frame`]), what the shell tells the core
//! ([`Input`]), what the core asks the shell to do ([`Output`]), and the bounds it enforces.
use automerge::ChangeHash;
use kreisnetz_model::{DistrictId, NodeId};

use crate::signed::SignedHeads;

/// The federation protocol version this core speaks. A peer announcing another one is sent a
/// [`Frame::Goodbye`] and disconnected.
pub const PROTOCOL_VERSION: u32 = 2;

/// One message on a peer stream. The shell maps it 1:1 to the protobuf `FederationFrame`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// The first frame in each direction: who we are and which documents we sync, with their
    /// heads. Lists only documents of trusted districts. A peer may repeat it (same node, district
    /// and version) to announce documents again.
    Hello {
        node: NodeId,
        district: DistrictId,
        protocol_version: u32,
        documents: Vec<(DistrictId, Vec<ChangeHash>)>,
        /// Per document, the owner's signed-heads records that cover what the sender holds.
        signed: Vec<SignedHeads>,
    },
    /// One Automerge sync message (`automerge::sync::Message::encode`) about document `doc`,
    /// with the owner's signed-heads records that cover the changes in it (see
    /// [`crate::signed`]).
    Sync {
        doc: DistrictId,
        message: Vec<u8>,
        signed: Vec<SignedHeads>,
        /// The newest signed-heads sequence number the sender has verified for `doc` (0: none).
        /// A receiver that knows a newer one sends its records back, so records reach every
        /// node even when no changes travel (and a relay that stays behind shows).
        signed_seq: u64,
    },
    /// The owner's signed-heads records for `doc`, alone: sent on when a node learns newer
    /// records without new changes (the changes may have come another way), so that every node
    /// learns the newest state the owner signed.
    Signed {
        doc: DistrictId,
        signed: Vec<SignedHeads>,
    },
    /// Something the sender refused from us (a bad signature, changes no signature covers),
    /// so that the operator on our side can see why. The stream stays open.
    Notice {
        doc: Option<DistrictId>,
        reason: String,
    },
    /// The sender is closing the stream, and why.
    Goodbye { reason: String },
}

/// What happened, as the shell tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A stream to `peer` is up (the shell authenticated it: TLS pinned to the NodeId).
    /// `sync_states` are the persisted `automerge::sync::State` bytes per document for this peer
    /// (may be empty; undecodable bytes count as no state).
    Connected {
        peer: NodeId,
        sync_states: Vec<(DistrictId, Vec<u8>)>,
        now_ms: u64,
    },
    /// The stream to `peer` ended. Its in-memory state is dropped; persisted sync states stay
    /// with the shell.
    Disconnected { peer: NodeId, now_ms: u64 },
    /// A frame arrived from `peer`.
    Received {
        peer: NodeId,
        frame: Frame,
        now_ms: u64,
    },
    /// The own node committed local changes to `doc` (its own district document) and has
    /// already persisted them; `chunk` is what `DistrictDocument::take_unsaved` returned (or any
    /// Automerge change bytes). The core applies it to its copy and syncs it to the peers.
    LocalChange {
        doc: DistrictId,
        chunk: Vec<u8>,
        now_ms: u64,
    },
    /// The set of trusted districts changed at run time (the own district stays trusted).
    SetTrusted { districts: Vec<DistrictId> },
    /// Time passed: stalled exchanges are restarted.
    Tick { now_ms: u64 },
}

/// What the shell is to do, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send `frame` on the stream to `peer`.
    Send { peer: NodeId, frame: Frame },
    /// Changes received from peers for `doc` were applied: append `chunk` (exactly the new
    /// changes, in `save_incremental` format) to storage with the new heads. The shell persists and
    /// flushes before acting on anything that follows it.
    Persist {
        doc: DistrictId,
        chunk: Vec<u8>,
        heads: Vec<ChangeHash>,
        /// The signed-heads records to keep with it (replacing those stored before), in the
        /// same storage commit: what is stored is always covered by what is stored with it.
        signed: Vec<SignedHeads>,
    },
    /// Store these signed-heads records of `doc` (replacing those stored before) when no
    /// changes came with them: they cover what the document holds, and are sent with it after
    /// a restart.
    PersistSigned {
        doc: DistrictId,
        signed: Vec<SignedHeads>,
    },
    /// Store the sync state of (`peer`, `doc`) for the next connection. Always follows the
    /// `Persist` of the changes it covers.
    PersistSyncState {
        peer: NodeId,
        doc: DistrictId,
        state: Vec<u8>,
    },
    /// A document's content changed through sync (for the read view and the change feed).
    /// Follows the `Persist` of the same change.
    DocumentChanged {
        doc: DistrictId,
        before: Vec<ChangeHash>,
        after: Vec<ChangeHash>,
    },
    /// Close the stream to `peer` (protocol violation: bad hello, wrong version, node
    /// mismatch, undecodable or oversized message, repeated offences, or the peer said goodbye).
    /// The core has already forgotten the peer; a later `Disconnected` for it is a no-op.
    Disconnect { peer: NodeId, reason: String },
    /// Something from `peer` was refused but the peer stays connected (a document of an
    /// untrusted district, a write to our own district's document, a document over its size
    /// limit). For log and metrics.
    Rejected {
        peer: NodeId,
        doc: Option<DistrictId>,
        kind: RejectKind,
        /// How many changes were refused or quarantined (0 where that does not apply).
        changes: u64,
        reason: String,
    },
    /// The peer showed a signed state of `doc` older than the newest we hold (`seq` < `newest`):
    /// not taken, and no offence (a relay that is behind does this on every connection), but a
    /// replay or a relay holding the newest state back looks the same. For log, status and
    /// metrics.
    Stale {
        peer: NodeId,
        doc: DistrictId,
        seq: u64,
        newest: u64,
    },
    /// The peer told us it refused something of ours ([`Frame::Notice`]). For log and status.
    PeerNotice {
        peer: NodeId,
        doc: Option<DistrictId>,
        reason: String,
    },
}

/// What kind of thing was refused (a bounded label for metrics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectKind {
    /// A document of a district this node does not trust.
    Untrusted,
    /// A message would take a document over its size limit.
    TooLarge,
    /// A signed-heads record that does not verify (or names another document): the whole
    /// message was refused.
    BadSignature,
    /// Changes that no verified signature of the owner covers: quarantined, not applied.
    Unsigned,
    /// The quarantine of a document is full: unsigned changes were dropped.
    QuarantineFull,
    /// The peer broke the protocol (the stream is closed).
    Protocol,
}

impl RejectKind {
    /// A short stable name (metric label, log field).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectKind::Untrusted => "untrusted",
            RejectKind::TooLarge => "too_large",
            RejectKind::BadSignature => "bad_signature",
            RejectKind::Unsigned => "unsigned",
            RejectKind::QuarantineFull => "quarantine_full",
            RejectKind::Protocol => "protocol",
        }
    }
}

/// Bounds on what a peer can make us hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A sync message larger than this is refused and the stream closed. Default 16 MiB.
    pub max_message_bytes: usize,
    /// A document whose saved-size estimate (its compact size when first needed, plus every
    /// chunk applied since) would exceed this after applying a message does not get the
    /// message. Default 256 MiB.
    pub max_document_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 16 << 20,
            max_document_bytes: 256 << 20,
        }
    }
}

/// Timing and tolerance of the core ([`crate::SyncCore::with_tuning`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// An exchange with a peer that is not known to be in sync, in which nothing moved for this
    /// long (our message got no answer, or the peer stays behind us), is restarted on the next
    /// tick: our sync state is reset as for a reconnect and the peer is asked to reset its own.
    /// Each further restart without an answer doubles the wait. Default 30 s.
    pub resend_after_ms: u64,
    /// The longest wait between resends. Default 1 h.
    pub max_resend_interval_ms: u64,
    /// More offences than this (bad signatures, changes no signature covers) in one connection
    /// close the stream. Default 10.
    pub max_offences: u32,
    /// Unsigned changes held per document until a signature covers them (count). Default 4096.
    pub max_quarantined_changes: usize,
    /// … and their bytes. Default 8 MiB.
    pub max_quarantined_bytes: usize,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            resend_after_ms: 30_000,
            max_resend_interval_ms: 3_600_000,
            max_offences: 10,
            max_quarantined_changes: 4096,
            max_quarantined_bytes: 8 << 20,
        }
    }
}
