//! The connection to one node: a tonic channel (plain http://, or https:// trusting the
//! certificates of `--ca-cert`), the bearer token, and the time limit that every call gets.
use std::future::Future;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use kreisnetz_proto::v1::change_feed_service_client::ChangeFeedServiceClient;
use kreisnetz_proto::v1::contact_service_client::ContactServiceClient;
use kreisnetz_proto::v1::node_service_client::NodeServiceClient;
use kreisnetz_proto::v1::offering_service_client::OfferingServiceClient;
use kreisnetz_proto::v1::report_service_client::ReportServiceClient;
use kreisnetz_proto::v1::token_service_client::TokenServiceClient;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Response, Status};

use crate::credentials::Secret;
use crate::errors::{TimedOut, Unreachable, Usage};

/// Adds `authorization: Bearer <token>` to every call when a token was given.
#[derive(Clone)]
pub struct Auth(Option<AsciiMetadataValue>);

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            Some(_) => "Auth(Bearer <redacted>)",
            None => "Auth(None)",
        })
    }
}

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(token) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", token.clone());
        }
        Ok(request)
    }
}

type Authed = InterceptedService<Channel, Auth>;

pub const CA_CERT_ENV: &str = "KREISNETZ_CA_CERT";

/// A CA file is a few certificates; more than this is not one (e.g. `--ca-cert /dev/zero`).
const MAX_CA_FILE_BYTES: u64 = 1 << 20;

/// What an https:// node's API certificate must chain to: the PEM certificates of `--ca-cert`
/// (the CA that issued it, or the node's self-signed certificate itself). tonic is built
/// without any root store, so nothing else is trusted.
#[derive(Debug, Clone)]
pub struct Trust {
    path: PathBuf,
    pem: Vec<u8>,
}

/// Checks `--node` against `--ca-cert` and reads the CA file: an https:// node needs one, an
/// http:// node takes none (it would be ignored), and the file must hold a PEM certificate.
/// Every refusal is a usage error that says what to pass; relative paths are taken from `cwd`.
pub fn trust(node: &str, ca_cert: Option<&Path>, cwd: &Path) -> Result<Option<Trust>, Usage> {
    let https = node.starts_with("https://");
    match (https, ca_cert) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(Usage(format!(
            "--ca-cert (or {CA_CERT_ENV}) is only for a node served over https://, and --node \
             {node} is plain http://: give the node's https:// address, or leave --ca-cert out"
        ))),
        (true, None) => Err(Usage(format!(
            "--node {node} is https://: pass --ca-cert PATH (or {CA_CERT_ENV}), a PEM file with \
             the certificate of the CA that issued the node's API certificate, or the node's \
             self-signed certificate itself (no certificate authority is trusted by default)"
        ))),
        (true, Some(path)) => {
            let path = cwd.join(path);
            let pem = read_ca_file(&path)
                .map_err(|e| Usage(format!("--ca-cert {}: {e}", path.display())))?;
            Ok(Some(Trust { path, pem }))
        }
    }
}

/// The file's bytes if it holds at least one PEM certificate. (Whether each block decodes is
/// checked by tonic when the connection is set up.)
fn read_ca_file(path: &Path) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CA_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| format!("cannot read it: {}", io_reason(&e)))?;
    if bytes.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(format!(
            "more than {MAX_CA_FILE_BYTES} bytes: not a PEM certificate file"
        ));
    }
    let text = String::from_utf8_lossy(&bytes);
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(
            "not a PEM certificate file (no -----BEGIN CERTIFICATE----- block in it)".into(),
        );
    }
    Ok(bytes)
}

/// `no such file` rather than `No such file or directory (os error 2)`.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => lowercase_first(&e.to_string()),
    }
}

/// The host of a node URL as TLS names it: `127.0.0.1`, `::1` (without brackets), `kreis.example`.
fn tls_host(endpoint: &Endpoint) -> Option<String> {
    let host = endpoint.uri().host()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some(host.to_string())
}

/// A connected node.
pub struct Node {
    channel: Channel,
    auth: Auth,
    timeout: Duration,
    https: bool,
}

impl Node {
    /// Connects to `url` (already checked by the argument parser), giving up after `timeout`.
    /// `token` was checked by [`crate::credentials::resolve`]; `trust` is given for an https://
    /// node (see [`trust`]). A failed TLS handshake (an untrusted certificate, or one for
    /// another name) makes the node [`Unreachable`], with rustls's reason.
    pub async fn connect(
        url: &str,
        token: Option<&Secret>,
        trust: Option<&Trust>,
        timeout: Duration,
    ) -> Result<Node> {
        let auth = match token {
            None => Auth(None),
            Some(t) => {
                let mut value = MetadataValue::try_from(format!("Bearer {}", t.expose()))
                    .map_err(|_| Usage("the token is not printable ASCII".into()))?;
                // Keeps it out of the HTTP/2 header compression table (and of any dump).
                value.set_sensitive(true);
                Auth(Some(value))
            }
        };
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| Usage(format!("--node: {e}")))?
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("kreisnetzctl/", env!("CARGO_PKG_VERSION")))
            .map_err(|e| Usage(format!("--node: {e}")))?;
        if let Some(trust) = trust {
            let host =
                tls_host(&endpoint).ok_or_else(|| Usage(format!("--node {url}: no host")))?;
            let tls = ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&trust.pem))
                .domain_name(host);
            endpoint = endpoint.tls_config(tls).map_err(|e| {
                let reason = innermost(&e);
                // tonic's own words for a PEM block it cannot decode.
                if reason.contains("certificate") {
                    Usage(format!("--ca-cert {}: {reason}", trust.path.display()))
                } else {
                    Usage(format!("--node {url}: {reason}"))
                }
            })?;
        }
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Err(_) => return Err(TimedOut { after: timeout }.into()),
            Ok(Err(e)) => {
                let reason = innermost(&e);
                let hint = trust.and_then(|t| tls_hint(&reason, t, url));
                return Err(Unreachable { reason, hint }.into());
            }
            Ok(Ok(channel)) => channel,
        };
        Ok(Node {
            channel,
            auth,
            timeout,
            https: trust.is_some(),
        })
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.auth.clone())
    }

    pub fn offerings(&self) -> OfferingServiceClient<Authed> {
        OfferingServiceClient::new(self.authed())
    }

    pub fn contacts(&self) -> ContactServiceClient<Authed> {
        ContactServiceClient::new(self.authed())
    }

    pub fn feed(&self) -> ChangeFeedServiceClient<Authed> {
        ChangeFeedServiceClient::new(self.authed())
    }

    pub fn admin(&self) -> NodeServiceClient<Authed> {
        NodeServiceClient::new(self.authed())
    }

    pub fn tokens(&self) -> TokenServiceClient<Authed> {
        TokenServiceClient::new(self.authed())
    }

    /// Reports over a whole region can exceed tonic's default 4 MiB answer (a stale report of
    /// tens of thousands of offerings): accept up to 256 MiB.
    pub fn reports(&self) -> ReportServiceClient<Authed> {
        ReportServiceClient::new(self.authed()).max_decoding_message_size(256 << 20)
    }

    /// A request that tells the node how long this CLI waits (`grpc-timeout`).
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        request
    }

    /// Waits for a call's answer, at most `--timeout`. The error is the node's status (or
    /// [`TimedOut`]), ready for [`crate::errors::report`].
    pub async fn call<T>(
        &self,
        call: impl Future<Output = Result<Response<T>, Status>>,
    ) -> Result<T> {
        let started = std::time::Instant::now();
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(TimedOut {
                after: self.timeout,
            }
            .into()),
            // tonic's channel enforces the request's grpc-timeout itself and reports it as
            // CANCELLED "Timeout expired"; that is our time limit, not a cancellation.
            Ok(Err(status))
                if status.code() == tonic::Code::Cancelled
                    && (status.message() == tonic::TimeoutExpired(()).to_string()
                        || started.elapsed() >= self.timeout) =>
            {
                Err(TimedOut {
                    after: self.timeout,
                }
                .into())
            }
            // tonic's status for a connection that failed under the call (e.g. plain http:// to
            // a node serving TLS, which closes it): not an answer of the node.
            Ok(Err(status)) if is_connection_failure(&status) => Err(Unreachable {
                reason: innermost(&status),
                hint: (!self.https).then(|| {
                    "the node closed the connection: if it serves its API over TLS (api.tls_cert), \
                     use --node https://... with --ca-cert"
                        .to_string()
                }),
            }
            .into()),
            Ok(Err(status)) => Err(status.into()),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }
}

/// What to check after a failed TLS handshake with an https:// node, from rustls's reason.
fn tls_hint(reason: &str, trust: &Trust, url: &str) -> Option<String> {
    let ca = trust.path.display();
    if reason.contains("CaUsedAsEndEntity") {
        Some(
            "the node's API certificate is a CA certificate (e.g. made by `openssl req -x509` \
             without `-addext basicConstraints=critical,CA:FALSE`), which TLS clients refuse as \
             a server's certificate: give the node a certificate issued by that CA, or a \
             self-signed one with CA:FALSE"
                .to_string(),
        )
    } else if reason.contains("certificate") {
        Some(format!(
            "the node's API certificate is not trusted by --ca-cert {ca}, or does not name the \
             host of {url}: --ca-cert must hold the certificate of the CA that issued it, or the \
             certificate itself if it is self-signed"
        ))
    } else if reason.contains("InvalidContentType") || reason.contains("corrupt message") {
        Some(format!(
            "the node does not answer TLS at {url}: does it serve its API over TLS \
             (api.tls_cert)? If not, use http://"
        ))
    } else {
        None
    }
}

/// Whether tonic made this status from a failed connection rather than received it from the
/// node (where the status code alone would say "internal" or "unknown").
fn is_connection_failure(status: &Status) -> bool {
    use std::error::Error;
    if !matches!(status.code(), Code::Internal | Code::Unknown) {
        return false;
    }
    let mut cause = status.source();
    while let Some(e) = cause {
        if e.is::<tonic::transport::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// The most specific cause of a transport error ("Connection refused (os error 111)" rather
/// than "transport error").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(source) = last.source() {
        last = source;
    }
    match lowercase_first(&last.to_string()) {
        t if t.is_empty() => "unknown transport error".into(),
        t => t,
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A PEM certificate (not parsed by `trust`, which only reads the file).
    fn self_signed(names: &[&str]) -> rcgen::CertifiedKey<rcgen::KeyPair> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        rcgen::generate_simple_self_signed(names).unwrap()
    }

    fn usage(r: Result<Option<Trust>, Usage>) -> String {
        r.unwrap_err().0
    }

    #[test]
    fn https_needs_a_ca_file_and_http_takes_none() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        std::fs::write(cwd.join("ca.crt"), self_signed(&["localhost"]).cert.pem()).unwrap();
        let ca = Path::new("ca.crt");

        assert!(trust("http://127.0.0.1:7700", None, cwd).unwrap().is_none());
        let t = trust("https://kreis.example.org:7700", Some(ca), cwd)
            .unwrap()
            .unwrap();
        assert_eq!(t.path, cwd.join("ca.crt"));

        let e = usage(trust("https://kreis.example.org:7700", None, cwd));
        assert!(
            e.contains("--ca-cert PATH") && e.contains(CA_CERT_ENV),
            "{e}"
        );
        let e = usage(trust("http://kreis.example.org:7700", Some(ca), cwd));
        assert!(
            e.starts_with("--ca-cert") && e.contains("http://kreis.example.org:7700"),
            "{e}"
        );
    }

    #[test]
    fn a_ca_file_that_cannot_be_used_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let cwd = dir.path();
        let key = self_signed(&["localhost"]).signing_key.serialize_pem();
        std::fs::write(cwd.join("api.key"), key).unwrap();
        std::fs::write(cwd.join("big.crt"), "a".repeat(2 << 20)).unwrap();
        for (file, reason) in [
            ("missing.crt", "cannot read it: no such file"),
            (".", "cannot read it"),
            ("api.key", "not a PEM certificate file"),
            ("big.crt", "not a PEM certificate file"),
        ] {
            let e = usage(trust("https://127.0.0.1:7700", Some(Path::new(file)), cwd));
            let named = format!("--ca-cert {}: ", cwd.join(file).display());
            assert!(e.starts_with(&named) && e.contains(reason), "{file}: {e}");
        }
    }

    /// A TLS gRPC server (health service only) on a loopback port with this certificate.
    async fn tls_server(cert_pem: &str, key_pem: &str) -> String {
        use tonic::transport::{Identity, Server, ServerTlsConfig};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (_, health) = tonic_health::server::health_reporter();
        let router = Server::builder()
            .tls_config(ServerTlsConfig::new().identity(Identity::from_pem(cert_pem, key_pem)))
            .unwrap()
            .add_service(health);
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(router.serve_with_incoming(incoming));
        format!("https://127.0.0.1:{port}")
    }

    fn trust_pem(pem: &str) -> Trust {
        Trust {
            path: PathBuf::from("ca.crt"),
            pem: pem.as_bytes().to_vec(),
        }
    }

    async fn connect(url: &str, trust: &Trust) -> Result<Node> {
        Node::connect(url, None, Some(trust), Duration::from_secs(10)).await
    }

    fn unreachable(r: Result<Node>) -> (String, String) {
        let Err(e) = r else { panic!("connected") };
        let u = e
            .downcast_ref::<Unreachable>()
            .unwrap_or_else(|| panic!("not unreachable: {e:#}"));
        (u.reason.clone(), u.hint.clone().unwrap_or_default())
    }

    #[tokio::test]
    async fn the_node_certificate_must_chain_to_the_ca_file_and_name_the_host() {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};

        // A node certificate issued by a CA: trusting the CA is enough.
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let node_key = KeyPair::generate().unwrap();
        let node_cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&node_key, &ca)
            .unwrap();
        let url = tls_server(&node_cert.pem(), &node_key.serialize_pem()).await;
        connect(&url, &trust_pem(&ca.pem())).await.unwrap();

        // Another CA: refused, with rustls's reason and what --ca-cert must hold.
        let other = self_signed(&["127.0.0.1"]);
        let (reason, hint) = unreachable(connect(&url, &trust_pem(&other.cert.pem())).await);
        assert!(reason.contains("invalid peer certificate"), "{reason}");
        assert!(hint.contains("--ca-cert ca.crt"), "{hint}");

        // A self-signed certificate trusted as itself, but for another name.
        let elsewhere = self_signed(&["kreis.example.org"]);
        let url = tls_server(
            &elsewhere.cert.pem(),
            &elsewhere.signing_key.serialize_pem(),
        )
        .await;
        let (reason, hint) = unreachable(connect(&url, &trust_pem(&elsewhere.cert.pem())).await);
        assert!(
            reason.contains("not valid for name \"127.0.0.1\""),
            "{reason}"
        );
        assert!(hint.contains("does not name the host"), "{hint}");

        // A CA certificate used as the server's own (what `openssl req -x509` makes by
        // default): refused by rustls; the hint says how to make one that works.
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let url = tls_server(&cert.pem(), &key.serialize_pem()).await;
        let (reason, hint) = unreachable(connect(&url, &trust_pem(&cert.pem())).await);
        assert!(reason.contains("CaUsedAsEndEntity"), "{reason}");
        assert!(hint.contains("CA:FALSE"), "{hint}");
    }

    #[tokio::test]
    async fn a_ca_file_with_a_broken_certificate_block_is_a_usage_error() {
        let broken = "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        let Err(e) = connect("https://127.0.0.1:9", &trust_pem(broken)).await else {
            panic!("connected")
        };
        let u = e.downcast_ref::<Usage>().expect("a usage error");
        assert!(u.0.starts_with("--ca-cert ca.crt: "), "{u}");
    }
}
