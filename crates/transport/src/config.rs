use std::sync::Arc;

use kreisnetz_identity::NodeIdentity;
use kreisnetz_model::NodeId;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::server::NoServerSessionStorage;
use rustls::{ClientConfig, ServerConfig};

use crate::verify::{PinnedClientVerifier, PinnedServerVerifier};
use crate::{PinnedPeers, TransportError};

/// The server name a dialing node sends (SNI). Every node certificate carries it as a SAN, but
/// no one checks it: the pinned node ID is what counts.
pub const SERVER_NAME: &str = "kreisnetz-node";

/// The one application protocol spoken: HTTP/2, for gRPC.
pub const ALPN_H2: &[u8] = b"h2";

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configuration of a node's federation listener: TLS 1.3 only, ALPN `h2`, presents
/// `identity`'s certificate and requires a client certificate whose node ID is in `peers`
/// ([`PinnedClientVerifier`]), looked up at each handshake.
///
/// Session resumption is off: a resumed session would skip the certificate check, and so let a
/// peer removed from `peers` back in with a ticket from before.
pub fn server_config(
    identity: &NodeIdentity,
    peers: PinnedPeers,
) -> Result<Arc<ServerConfig>, TransportError> {
    let provider = provider();
    let verifier = Arc::new(PinnedClientVerifier::new(
        peers,
        provider.signature_verification_algorithms,
    ));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.certificate()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.session_storage = Arc::new(NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The TLS configuration for dialing the one node `expected`: TLS 1.3 only, ALPN `h2`,
/// `identity`'s certificate as client certificate, and a server certificate accepted only if
/// its node ID is `expected` ([`PinnedServerVerifier`]). Session resumption is off, so every
/// connection checks the certificate.
pub fn client_config(
    identity: &NodeIdentity,
    expected: NodeId,
) -> Result<Arc<ClientConfig>, TransportError> {
    let provider = provider();
    let verifier = Arc::new(PinnedServerVerifier::new(
        expected,
        provider.signature_verification_algorithms,
    ));
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.certificate()], identity.private_key())?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_does_not_belong_to_the_certificate_is_refused() {
        let a = NodeIdentity::generate("a").unwrap();
        let b = NodeIdentity::generate("b").unwrap();
        let mixed = NodeIdentity {
            private_key_der: b.private_key_der.clone(),
            ..a.clone()
        };
        assert!(matches!(
            server_config(&mixed, PinnedPeers::new([b.id])),
            Err(TransportError::Config(_))
        ));
        assert!(matches!(
            client_config(&mixed, b.id),
            Err(TransportError::Config(_))
        ));
        assert!(server_config(&a, PinnedPeers::new([b.id])).is_ok());
        assert!(client_config(&a, b.id).is_ok());
    }
}
