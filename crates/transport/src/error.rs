use std::error::Error as StdError;
use std::io;
use std::time::Duration;

use kreisnetz_model::NodeId;
use rustls::{AlertDescription, CertificateError, OtherError};

/// What went wrong building a TLS configuration or dialing a peer. Each message names the
/// address and, where known, the node IDs involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// rustls refused this node's certificate or key (for instance, a key that does not belong
    /// to the certificate).
    #[error("cannot build the TLS configuration from this node's identity: {0}")]
    Config(#[from] rustls::Error),

    /// The peer at `addr` presented another node's certificate than the one pinned for it. The
    /// connection was closed during the handshake; nothing was sent.
    #[error(
        "{addr} presented the certificate of node {presented}, not of the expected node \
         {expected}; the connection was refused. Check the peer's address and node ID in the \
         configuration"
    )]
    UnexpectedPeer {
        addr: String,
        expected: NodeId,
        presented: NodeId,
    },

    /// The peer at `addr` refused this node's certificate during the handshake: most likely it
    /// does not list this node's ID among its peers.
    #[error(
        "{addr} refused this node's certificate ({alert:?}); ask its operator to add this \
         node's ID to its peers"
    )]
    RefusedByPeer {
        addr: String,
        alert: AlertDescription,
    },

    /// TCP connect and TLS handshake together took longer than `timeout`.
    #[error("connecting to {addr} timed out after {timeout:?}")]
    Timeout { addr: String, timeout: Duration },

    /// Any other failure to connect (refused TCP connection, unresolvable name, TLS error).
    /// `reason` is the whole chain of causes.
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
}

/// Why a pinning verifier refused a certificate. Travels inside the rustls error
/// (`CertificateError::Other`), so the side that sees the failed handshake can name the node.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("the peer presented node {presented}, which is not configured")]
    NotConfigured { presented: NodeId },
    #[error("the peer presented node {presented}, not the expected node {expected}")]
    Unexpected { expected: NodeId, presented: NodeId },
}

impl Refusal {
    pub(crate) fn into_rustls(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(std::sync::Arc::new(
            self,
        ))))
    }
}

/// Walks an error chain, also into the errors that `io::Error` wraps (its `source()` skips
/// them), and returns the first one `pick` recognises.
pub(crate) fn find_in_chain<T>(
    err: &(dyn StdError + 'static),
    pick: &dyn Fn(&(dyn StdError + 'static)) -> Option<T>,
) -> Option<T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = pick(e) {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref)
            && let Some(found) = find_in_chain(inner, pick)
        {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// The refusal of one of our verifiers somewhere in `err`'s chain.
pub(crate) fn refusal_in(err: &(dyn StdError + 'static)) -> Option<Refusal> {
    find_in_chain(err, &|e| {
        if let Some(r) = e.downcast_ref::<Refusal>() {
            return Some(r.clone());
        }
        match e.downcast_ref::<rustls::Error>() {
            Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner)))) => {
                inner.downcast_ref::<Refusal>().cloned()
            }
            _ => None,
        }
    })
}

/// The TLS alert the peer sent, if the chain holds one.
pub(crate) fn alert_in(err: &(dyn StdError + 'static)) -> Option<AlertDescription> {
    find_in_chain(err, &|e| match e.downcast_ref::<rustls::Error>() {
        Some(rustls::Error::AlertReceived(alert)) => Some(*alert),
        _ => None,
    })
}

/// Whether the chain holds a timeout.
pub(crate) fn is_timeout(err: &(dyn StdError + 'static)) -> bool {
    find_in_chain(err, &|e| {
        e.downcast_ref::<io::Error>()
            .filter(|io| io.kind() == io::ErrorKind::TimedOut)
            .map(|_| ())
    })
    .is_some()
}

/// The messages of `err` and all its causes, joined by ": ", without repeats (tonic and
/// io::Error often print their cause as part of their own message).
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            let text = chain_text(inner);
            if !parts.iter().any(|p| p.contains(&text)) {
                parts.push(text);
            }
        }
        next = e.source();
    }
    parts.join(": ")
}
