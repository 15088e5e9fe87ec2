//! The federation shell: the IO around the sans-IO sync core (`kreisnetz-sync`).
//!
//! - [`shell`]: the sync thread. It owns the [`SyncCore`](kreisnetz_sync::SyncCore), feeds it
//!   inputs (frames from peers, local changes from the writer, connects and disconnects), and
//!   carries out what it asks for: persist received changes together with their change-feed
//!   events and flush (one flush per batch of inputs), refresh the read view of changed
//!   districts, and hand frames to the connections.
//! - [`connection`]: one task pair per peer stream, in either direction (the federation gRPC
//!   service accepts, the dialers dial with exponential backoff and jitter). They only move
//!   frames between the stream and the sync thread, through bounded channels; a peer that does
//!   not keep up is disconnected rather than buffered without bound.
//! - [`admin`]: peers and trusted districts changed at run time (API calls, SIGHUP), saved to the
//!   configuration file.
//!
//! Only authenticated peers get here: the TLS layer (`kreisnetz-transport`) refuses, during the
//! handshake, any certificate whose fingerprint is not a configured peer's node ID.

pub mod admin;
pub mod connection;
pub mod shell;
pub mod wire;

pub use admin::FederationAdmin;
pub use shell::{FederationStatus, PeerInfo, ShellInput};
