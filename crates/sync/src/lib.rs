//! The federation sync core: decides which Automerge sync messages go to which peer, what must be
//! persisted, and what a peer did wrong — and does nothing else.
//!
//! Every district runs a node that holds its own district document and a read-only replica of
//! every trusted district's document. Nodes exchange these documents peer to peer with
//! Automerge's sync protocol, one stream per peer pair carrying all documents, so that every node
//! ends up with every trusted district's document — also when the district itself is down or cut
//! off, because any node relays what it has.
//!
//! # Why sans-IO
//!
//! [`SyncCore`] is a plain state machine, in the style of raft-rs' `RawNode` and Automerge's own
//! `sync` module. The shell (tonic streams, sled, tokio timers) hands it an [`Input`] — a peer
//! connected or went away, a [`Frame`] arrived, the own node committed a change, the trust list
//! changed, time passed — and carries out the [`Output`]s it returns, **in order**: frames to
//! send, chunks and sync states to persist, events for the read view and the change feed, streams
//! to close, refusals to log. The core never touches a socket or the disk, never sleeps, spawns
//! or reads a clock (time arrives as `now_ms` in the inputs), and iterates only ordered maps, so
//! the same inputs give the same outputs. That is what makes the hard part — relaying through
//! third nodes, partitions, restarts, lost and duplicated frames — testable deterministically:
//! the `sim` test module runs whole federations of cores over a seeded, faulty network, hundreds
//! of schedules per second, no sockets, and a failing seed replays exactly.
//!
//! # Inputs and outputs
//!
//! - [`Input::Connected`] → a [`Frame::Hello`] announcing the documents we sync with their heads,
//!   then one sync message per document. The persisted sync states of that peer (only the heads
//!   both sides shared) let a reconnect send just what is missing.
//! - A [`Frame::Hello`] from the peer → its district and documents are recorded; documents of
//!   trusted districts we lack are started from their deterministic genesis (identical on every
//!   node, so no competing skeletons) and synced.
//! - A [`Frame::Sync`] → the message is applied to our copy of the document. If that changed the
//!   document: [`Output::Persist`] (exactly the new changes, to append to storage) and
//!   [`Output::DocumentChanged`]; then [`Output::PersistSyncState`] if the shared heads moved;
//!   then [`Output::Send`]s. The shell persists and flushes before it sends anything, so a change
//!   is on our disk before another node learns it from us. A `Persist` carries the signed-heads
//!   records that cover the document as stored, to keep in the same storage commit.
//! - [`Input::LocalChange`] → the own node's writer committed and stored a change: the core
//!   applies it to its copy, signs the new heads ([`Output::PersistSigned`]) and sends it on.
//! - [`Input::Tick`] → stalled exchanges are restarted (see below).
//!
//! # The relay
//!
//! When a message from peer A changes document D (or makes us start D), the core generates a
//! sync message for D for every connected peer that said hello, A included (for A it is the
//! protocol's answer). Automerge's protocol sends each peer only what it lacks (it compares bloom
//! filters of what each side has), so relaying to a peer that already has the change costs one
//! small message. The core sends **at most one message per (peer, document) per input**; the
//! exchange goes on when the peer answers. A peer that neither announced D in its hello nor ever
//! sent a message about it gets one offer per connection (it may trust D without having it yet)
//! and nothing more until it answers — so a peer that does not trust D is not pestered.
//!
//! # Trust
//!
//! - A document's ID is its district's ID; only documents of trusted districts (a set that always
//!   holds the own district, changeable at run time with [`Input::SetTrusted`]) are accepted. A
//!   message about any other document is refused with [`Output::Rejected`]: not applied, no
//!   document created, no answer. If the district is trusted later, the document is fetched from
//!   the peers that offered or announced it.
//! - **Only the owner writes its document** — enforced by signatures ([`signed`]): the core
//!   signs the own document's heads with the district key after every local change (and at
//!   start if what is stored is not covered), and takes a received change only if a verified
//!   signed-heads record of the document's owner covers it (the change is one of, or an
//!   ancestor of, the record's heads: Automerge hashes chain the history, so one signature
//!   authenticates everything below it). Records travel with the data — in sync frames, hellos
//!   and records-only [`Frame::Signed`] frames — whoever relays it. A record that does not
//!   verify refuses the whole message ([`RejectKind::BadSignature`]); changes no record covers
//!   wait in a bounded in-memory quarantine ([`RejectKind::Unsigned`]), are never stored,
//!   applied or relayed, and are applied when a record covering them arrives. The peer is told
//!   why ([`Frame::Notice`]). Offences (towards [`Tuning::max_offences`]): a bad record;
//!   changes that come without any record; changes sent again that still nothing covers; more
//!   than the quarantine holds. (One uncovered change next to valid records is not, at first:
//!   an honest sender's bloom-filter false positive leaves such a gap, which closes when the
//!   skipped change is asked for.) Every node of a district holds the district
//!   key, so the own document takes changes signed with it: a district can run several nodes,
//!   whose concurrent edits merge.
//! - Each sync frame carries the sender's newest verified sequence number for the document: a
//!   node that knows a newer one sends its records back, so the newest signed state reaches
//!   every node even when no changes travel, and a peer that shows an older one than we know is
//!   **behind** (or holds the newest state back) — [`PeerDocumentStatus::behind_signed`]. An
//!   older record than we hold is not taken ([`PeerStatus::stale_records`]); the document
//!   cannot roll back anyway (Automerge only merges).

//! # Limits and violations
//!
//! [`Limits`]: a message over `max_message_bytes` is refused and the stream closed; a message
//! that would take a document's saved-size estimate (its compact size, plus every chunk applied
//! since, plus changes waiting for missing dependencies) over `max_document_bytes` is refused and
//! not applied. A hello from another node than the authenticated one, a wrong protocol version
//! (answered with a [`Frame::Goodbye`]), a sync frame before the hello, an undecodable message,
//! a changed district, and more than [`Tuning::max_offences`] offences close the stream
//! ([`Output::Disconnect`]).
//!
//! # Lost frames
//!
//! Automerge's protocol assumes a stream that loses nothing while it lives; a broken stream is a
//! disconnect, and the reconnect starts from the persisted sync state. As a second line (a frame
//! dropped by a buggy shell, a transport without that guarantee), [`Input::Tick`] restarts an
//! exchange that is not in sync and got no answer for [`Tuning::resend_after_ms`] (doubling per
//! unanswered restart): it resets our sync state as a reconnect would and sets Automerge's
//! sync-reset flag, on which the peer forgets what it believes it sent us. And a change the
//! peer asks for in two messages in a row is sent again even if it was sent before.
//!
//! # Crash consistency
//!
//! What the core has the shell persist is enough to restart from: a document is its genesis (or
//! the shell's snapshot) plus every [`Output::Persist`] chunk (plus, for the own document, what
//! the writer stored), and a sync state is persisted only after the chunks it depends on. A core
//! rebuilt from storage after a crash — even one in the middle of carrying out the outputs of one
//! input — converges again after reconnecting; the simulation checks exactly that.

mod core;
mod frame;
mod held;
mod peer;
pub mod signed;
mod status;

pub use crate::core::SyncCore;
pub use crate::frame::{Frame, Input, Limits, Output, PROTOCOL_VERSION, RejectKind, Tuning};
pub use crate::signed::{SignatureError, SignedHeads};
pub use crate::status::{DocumentSigning, PeerDocumentStatus, PeerStatus};
pub use automerge::ChangeHash;

#[cfg(test)]
mod sim;
#[cfg(test)]
mod tests;
