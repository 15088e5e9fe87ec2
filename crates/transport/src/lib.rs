//! Mutual TLS 1.3 between kreisnetz nodes, authenticated by pinned node IDs.
//!
//! # Why pinning instead of a CA
//!
//! The federation has no central authority: no district runs the others' infrastructure, and
//! none should be able to let a node into everyone's network by signing a certificate. So there
//! is no CA. Each node has a self-signed certificate, and its
//! [`NodeId`](kreisnetz_model::NodeId) is the SHA-256 fingerprint of that certificate's public
//! key ([`kreisnetz_identity::node_id_of_certificate`]). Operators exchange node IDs out of band
//! (on the phone, in the configuration), and each node trusts exactly the IDs configured for it.
//! A certificate's issuer, names and dates are not looked at; a re-issued certificate for the
//! same key keeps its ID.
//!
//! # What is checked where
//!
//! - **The listener** ([`server_config`], [`tls_incoming`]) speaks TLS 1.3 only and requires a
//!   client certificate. [`PinnedClientVerifier`] computes the presented certificate's node ID
//!   and refuses it unless it is in the node's [`PinnedPeers`] at that moment (a warning names
//!   the presented ID); the client's handshake signature must then verify with that
//!   certificate's key, which proves the client holds the private key, not just a copy of a
//!   certificate. Handshakes run in their own tasks with a timeout; failures are logged and
//!   dropped, and only authenticated connections reach tonic. Each request carries the peer's
//!   [`PeerInfo`] in its extensions ([`peer_node_id`], [`peer_info`]).
//! - **The dialer** ([`client_config`], [`connect`], [`PinnedConnector`]) presents its own
//!   certificate and accepts the server only if the certificate's node ID is the one expected
//!   at that address ([`PinnedServerVerifier`]), again with the handshake signature checked.
//!   A mismatch is [`TransportError::UnexpectedPeer`].
//! - **Both**: no session resumption (a resumed session would skip the certificate check, so a
//!   peer removed at run time could come back with an old ticket), no early data, ALPN `h2`.
//!
//! A connection whose certificate does not match a configured node ID is refused **during the
//! handshake, before any application data** is exchanged: no HTTP/2 frame is read from it and
//! no gRPC service sees it. Changes to [`PinnedPeers`] apply to the next handshake; connections
//! already open stay open, and a service that must cut off a removed peer at once checks each
//! call with [`PinnedPeers::authorize`].
//!
//! # Use
//!
//! ```no_run
//! # async fn run(identity: kreisnetz_identity::NodeIdentity, peer: kreisnetz_model::NodeId)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use kreisnetz_transport::{PinnedPeers, connect, server_config, tls_incoming};
//!
//! // Serving: only the configured peers get through.
//! let peers = PinnedPeers::new([peer]);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:7443").await?;
//! let incoming = tls_incoming(listener, server_config(&identity, peers.clone())?);
//! let (_, health) = tonic_health::server::health_reporter();
//! tokio::spawn(
//!     tonic::transport::Server::builder()
//!         .add_service(health)
//!         .serve_with_incoming(incoming),
//! );
//!
//! // Dialing: the channel exists only if the server is `peer`.
//! let channel = connect(
//!     "district-b.example:7443",
//!     &identity,
//!     peer,
//!     std::time::Duration::from_secs(5),
//! )
//! .await?;
//! # drop(channel);
//! # Ok(())
//! # }
//! ```

mod client;
mod config;
mod error;
mod peers;
mod server;
mod verify;

pub use client::{
    ClientConn, ENDPOINT_URI, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, Keepalive, PinnedConnector,
    connect, connect_with_keepalive,
};
pub use config::{ALPN_H2, SERVER_NAME, client_config, server_config};
pub(crate) use error::Refusal;
pub use error::TransportError;
pub use peers::PinnedPeers;
pub use server::{
    ConnectionSlot, DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES, Incoming,
    IncomingOptions, PeerInfo, TlsConn, TlsIncoming, incoming_with, peer_info, peer_node_id,
    tls_incoming, tls_incoming_with,
};
pub use verify::{PinnedClientVerifier, PinnedServerVerifier};

/// The rustls this crate builds its configurations with, for callers that need its types.
pub use rustls;
