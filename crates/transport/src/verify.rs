//! The two certificate verifiers: one node ID out of a set (server side), one expected node ID
//! (client side). Neither looks at issuers, names or dates: the pin is the trust.

use kreisnetz_identity::node_id_of_certificate;
use kreisnetz_model::NodeId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::PinnedPeers;
use crate::error::Refusal;

/// The server side: requires a client certificate and accepts it only if its node ID (the
/// fingerprint of its public key, [`node_id_of_certificate`]) is in a [`PinnedPeers`] set, looked
/// up at the moment of the handshake. The client's handshake signature is then checked against
/// that certificate's key, which proves the client holds the private key.
#[derive(Debug)]
pub struct PinnedClientVerifier {
    peers: PinnedPeers,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedClientVerifier {
    /// Accepts the node IDs in `peers`, checking signatures with `algorithms` (a crypto
    /// provider's `signature_verification_algorithms`).
    pub fn new(peers: PinnedPeers, algorithms: WebPkiSupportedAlgorithms) -> Self {
        PinnedClientVerifier { peers, algorithms }
    }
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No CA to name: a client sends its one certificate anyway.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let presented = node_id_of(end_entity)?;
        if self.peers.contains(&presented) {
            tracing::trace!(presented = %presented, "TLS peer is configured");
            Ok(ClientCertVerified::assertion())
        } else {
            tracing::warn!(presented = %presented, "refused a TLS peer that is not configured");
            Err(Refusal::NotConfigured { presented }.into_rustls())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Unreachable with our TLS 1.3-only configurations; correct if that ever changes.
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The client side: accepts only the certificate of one expected node (by node ID), and checks
/// the server's handshake signature against that certificate's key. The server name is ignored.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    expected: NodeId,
    algorithms: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// Accepts only `expected`, checking signatures with `algorithms` (a crypto provider's
    /// `signature_verification_algorithms`).
    pub fn new(expected: NodeId, algorithms: WebPkiSupportedAlgorithms) -> Self {
        PinnedServerVerifier {
            expected,
            algorithms,
        }
    }
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = node_id_of(end_entity)?;
        if presented == self.expected {
            Ok(ServerCertVerified::assertion())
        } else {
            tracing::warn!(
                expected = %self.expected,
                presented = %presented,
                "refused a TLS server that is not the expected node"
            );
            Err(Refusal::Unexpected {
                expected: self.expected,
                presented,
            }
            .into_rustls())
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn node_id_of(certificate: &CertificateDer<'_>) -> Result<NodeId, rustls::Error> {
    node_id_of_certificate(certificate).map_err(|e| {
        tracing::warn!(error = %e, "refused a TLS peer whose certificate cannot be read");
        rustls::Error::InvalidCertificate(CertificateError::BadEncoding)
    })
}
