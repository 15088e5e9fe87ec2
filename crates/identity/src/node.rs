use std::fmt;

use kreisnetz_model::NodeId;
use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::IdentityError;

/// The DNS names in every node certificate. Peers pin node IDs rather than check names, but a
/// TLS client still sends one: `kreisnetz-node` for peers, `localhost` for local tools.
pub(crate) const SUBJECT_ALT_NAMES: [&str; 2] = ["kreisnetz-node", "localhost"];

/// How long a node certificate is valid. Nobody trusts it for its dates: peers pin the node ID
/// (the public key), so the certificate must simply not expire under a running federation.
const VALIDITY_YEARS: i64 = 20;

/// A node's TLS identity: an ECDSA P-256 key pair and a self-signed certificate for it.
///
/// `Debug` shows the ID and the certificate's size, never the private key.
#[derive(Clone)]
pub struct NodeIdentity {
    /// The self-signed X.509 certificate, DER.
    pub certificate_der: Vec<u8>,
    /// The private key, PKCS#8 DER. This is the secret.
    pub private_key_der: Vec<u8>,
    /// The node's ID: the fingerprint of the certificate's SubjectPublicKeyInfo.
    pub id: NodeId,
}

impl NodeIdentity {
    /// A new key pair (ECDSA P-256) and a self-signed certificate for it with `common_name` as
    /// subject CN, SANs `kreisnetz-node` and `localhost`, usable for TLS server and client
    /// authentication, valid from yesterday for 20 years.
    pub fn generate(common_name: &str) -> Result<Self, IdentityError> {
        let key_pair = KeyPair::generate().map_err(cert_error)?;
        let names: Vec<String> = SUBJECT_ALT_NAMES.map(String::from).into();
        let mut params = CertificateParams::new(names).map_err(cert_error)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        params.distinguished_name = name;
        let now = time::OffsetDateTime::now_utc();
        // A day of slack for peers whose clocks run behind.
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(VALIDITY_YEARS * 365);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let certificate = params.self_signed(&key_pair).map_err(cert_error)?;
        let certificate_der = certificate.der().to_vec();
        let id = node_id_of_certificate(&certificate_der)?;
        Ok(NodeIdentity {
            certificate_der,
            private_key_der: key_pair.serialize_der(),
            id,
        })
    }

    /// The certificate as rustls takes it.
    pub fn certificate(&self) -> CertificateDer<'static> {
        CertificateDer::from(self.certificate_der.clone())
    }

    /// The private key as rustls takes it.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.private_key_der.clone()))
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`), the format of `node.crt`.
    pub fn certificate_pem(&self) -> String {
        pem_encode("CERTIFICATE", &self.certificate_der)
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the format of `node.key`.
    pub fn private_key_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.private_key_der)
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("id", &self.id)
            .field(
                "certificate_der",
                &format_args!("[{} bytes]", self.certificate_der.len()),
            )
            .field("private_key_der", &"[hidden]")
            .finish()
    }
}

/// The [`NodeId`] a certificate stands for: the SHA-256 fingerprint of its SubjectPublicKeyInfo
/// (DER), so it names the key, not the certificate. Fails with [`IdentityError::Malformed`] if
/// `certificate_der` is not an X.509 certificate that rustls could use.
pub fn node_id_of_certificate(certificate_der: &[u8]) -> Result<NodeId, IdentityError> {
    Ok(NodeId::from_public_key(&subject_public_key_info(
        certificate_der,
    )?))
}

/// The certificate's SubjectPublicKeyInfo, DER (the whole SEQUENCE).
pub(crate) fn subject_public_key_info(certificate_der: &[u8]) -> Result<Vec<u8>, IdentityError> {
    let der = CertificateDer::from(certificate_der);
    let cert = webpki::EndEntityCert::try_from(&der).map_err(|e| IdentityError::Malformed {
        what: "the certificate".into(),
        reason: format!("not a DER X.509 certificate ({e})"),
    })?;
    Ok(cert.subject_public_key_info().as_ref().to_vec())
}

/// The SubjectPublicKeyInfo of a PKCS#8 private key, to compare with a certificate's.
pub(crate) fn public_key_info_of_private_key(
    private_key_der: &[u8],
) -> Result<Vec<u8>, IdentityError> {
    use rcgen::PublicKeyData;
    let key = PrivatePkcs8KeyDer::from(private_key_der);
    let key_pair = KeyPair::try_from(&key).map_err(|e| IdentityError::Malformed {
        what: "the node key".into(),
        reason: format!("not a PKCS#8 ECDSA or Ed25519 private key ({e})"),
    })?;
    Ok(key_pair.subject_public_key_info())
}

fn cert_error(e: rcgen::Error) -> IdentityError {
    IdentityError::Certificate(e.to_string())
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use data_encoding::BASE64;
    let b64 = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // BASE64 output is ASCII.
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_id_is_sha256_of_the_keys_subject_public_key_info() {
        let node = NodeIdentity::generate("n").unwrap();
        let spki = public_key_info_of_private_key(&node.private_key_der).unwrap();
        assert_eq!(
            spki,
            subject_public_key_info(&node.certificate_der).unwrap()
        );
        assert_eq!(node.id, NodeId::from_public_key(&spki));
        // A SubjectPublicKeyInfo is a DER SEQUENCE naming id-ecPublicKey / P-256.
        assert_eq!(spki[0], 0x30);
    }

    #[test]
    fn a_reissued_certificate_for_the_same_key_keeps_the_id() {
        let node = NodeIdentity::generate("first name").unwrap();
        let key_pair =
            KeyPair::try_from(&PrivatePkcs8KeyDer::from(&node.private_key_der[..])).unwrap();
        let mut params = CertificateParams::new(vec!["elsewhere".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "second name");
        let reissued = params.self_signed(&key_pair).unwrap();
        assert_ne!(reissued.der().as_ref(), &node.certificate_der[..]);
        assert_eq!(node_id_of_certificate(reissued.der()).unwrap(), node.id);
    }

    #[test]
    fn pem_encoding_wraps_at_64_columns() {
        let pem = pem_encode("CERTIFICATE", &[0xab; 100]);
        let lines: Vec<_> = pem.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines.last().unwrap(), &"-----END CERTIFICATE-----");
    }
}
