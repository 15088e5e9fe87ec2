//! Real sockets on 127.0.0.1: a tonic server behind `tls_incoming`, serving `grpc.health.v1`
//! behind an interceptor that records who called, and clients that are or are not pinned.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kreisnetz_identity::NodeIdentity;
use kreisnetz_model::NodeId;
use kreisnetz_transport::{
    IncomingOptions, PinnedClientVerifier, PinnedPeers, PinnedServerVerifier, TransportError,
    client_config, connect, peer_node_id, server_config, tls_incoming, tls_incoming_with,
};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const TIMEOUT: Duration = Duration::from_secs(5);

fn identity(name: &str) -> NodeIdentity {
    NodeIdentity::generate(name).unwrap()
}

/// A node serving Health over pinned mTLS. `calls` holds the caller's node ID for every request
/// that got past TLS and HTTP/2 to the service (before `PinnedPeers::authorize`).
struct TestServer {
    addr: SocketAddr,
    calls: Arc<Mutex<Vec<Option<NodeId>>>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    async fn start(identity: &NodeIdentity, peers: PinnedPeers) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tls_incoming(listener, server_config(identity, peers.clone()).unwrap());
        let (_reporter, health) = tonic_health::server::health_reporter();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let seen = calls.clone();
        let service = InterceptedService::new(health, move |req: tonic::Request<()>| {
            seen.lock().unwrap().push(peer_node_id(&req));
            peers.authorize(&req)?;
            Ok(req)
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        TestServer {
            addr,
            calls,
            stop: Some(stop),
            task,
        }
    }

    fn calls(&self) -> Vec<Option<NodeId>> {
        self.calls.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.abort();
    }
}

async fn check(channel: Channel) -> Result<ServingStatus, tonic::Status> {
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?;
    Ok(response.into_inner().status())
}

/// Dials `server` as `client` expecting `expected`, and makes one Health call. `Err` with a
/// description if either failed.
async fn dial_and_check(
    server: SocketAddr,
    client: &NodeIdentity,
    expected: NodeId,
) -> Result<ServingStatus, String> {
    let channel = connect(server, client, expected, TIMEOUT)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    check(channel).await.map_err(|e| format!("call: {e}"))
}

#[tokio::test]
async fn configured_nodes_connect_and_the_handler_sees_the_callers_node_id() {
    let server_id = identity("Ammerland");
    let client_id = identity("Vechta");
    let server = TestServer::start(&server_id, PinnedPeers::new([client_id.id])).await;

    let channel = connect(server.addr, &client_id, server_id.id, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        check(channel.clone()).await.unwrap(),
        ServingStatus::Serving
    );
    // The same connection carries more calls.
    assert_eq!(check(channel).await.unwrap(), ServingStatus::Serving);

    assert_eq!(server.calls(), vec![Some(client_id.id); 2]);
}

#[tokio::test]
async fn a_client_that_is_not_configured_is_refused_in_the_handshake() {
    let server_id = identity("Friesland");
    let configured = identity("Wesermarsch");
    let stranger = identity("stranger");
    let server = TestServer::start(&server_id, PinnedPeers::new([configured.id])).await;

    // TLS 1.3: the client finishes its side before the server refuses its certificate, but
    // `connect` waits for the server's first frame, so the refusal shows here.
    let err = connect(server.addr, &stranger, server_id.id, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::RefusedByPeer {
                alert: rustls::AlertDescription::CertificateUnknown,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.calls(), vec![], "nothing may reach the service");

    // The configured node still gets in.
    assert_eq!(
        dial_and_check(server.addr, &configured, server_id.id).await,
        Ok(ServingStatus::Serving)
    );
    assert_eq!(server.calls(), vec![Some(configured.id)]);
}

#[tokio::test]
async fn a_server_that_presents_another_certificate_is_refused_by_the_client() {
    let impostor = identity("impostor");
    let expected = identity("Cloppenburg");
    let client_id = identity("Oldenburg");
    // The impostor even accepts the client: the client must still refuse it.
    let server = TestServer::start(&impostor, PinnedPeers::new([client_id.id])).await;

    let err = connect(server.addr, &client_id, expected.id, TIMEOUT)
        .await
        .unwrap_err();
    match &err {
        TransportError::UnexpectedPeer {
            expected: e,
            presented,
            addr,
        } => {
            assert_eq!(*e, expected.id);
            assert_eq!(*presented, impostor.id);
            assert_eq!(*addr, server.addr.to_string());
        }
        other => panic!("expected UnexpectedPeer, got {other}"),
    }
    assert!(err.to_string().contains(&impostor.id.to_string()), "{err}");
    assert_eq!(server.calls(), vec![]);
}

/// A raw rustls client (no tonic) that pins the server correctly; `client_cert` decides whether
/// it presents a certificate, `tls12_only` whether it offers only TLS 1.2.
fn raw_client(
    server: &NodeIdentity,
    client_cert: Option<&NodeIdentity>,
    tls12_only: bool,
) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedServerVerifier::new(
        server.id,
        provider.signature_verification_algorithms,
    ));
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match client_cert {
        Some(id) => builder
            .with_client_auth_cert(vec![id.certificate()], id.private_key())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn server_name() -> ServerName<'static> {
    ServerName::try_from(kreisnetz_transport::SERVER_NAME).unwrap()
}

/// Binds a listener and returns it as an incoming stream with its address.
async fn incoming_for(
    server: &NodeIdentity,
    peers: PinnedPeers,
) -> (kreisnetz_transport::TlsIncoming, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (
        tls_incoming(listener, server_config(server, peers).unwrap()),
        addr,
    )
}

/// Asserts that `incoming` yields no connection within a short while.
async fn assert_nothing_accepted(incoming: &mut kreisnetz_transport::TlsIncoming) {
    let next = tokio::time::timeout(Duration::from_millis(300), incoming.next()).await;
    assert!(next.is_err(), "a connection got through: {next:?}");
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused() {
    let server_id = identity("Delmenhorst");
    let would_be = identity("would-be");
    let (mut incoming, addr) = incoming_for(&server_id, PinnedPeers::new([would_be.id])).await;

    let tcp = TcpStream::connect(addr).await.unwrap();
    let outcome = match raw_client(&server_id, None, false)
        .connect(server_name(), tcp)
        .await
    {
        // Its side of the handshake may complete; the server's alert then ends the stream.
        Ok(mut tls) => {
            let mut buf = [0u8; 1];
            match tls.read(&mut buf).await {
                Ok(0) => "closed".to_string(),
                Ok(_) => panic!("the server sent data to a client without a certificate"),
                Err(e) => e.to_string(),
            }
        }
        Err(e) => e.to_string(),
    };
    assert!(
        outcome.contains("CertificateRequired") || outcome == "closed",
        "{outcome}"
    );
    assert_nothing_accepted(&mut incoming).await;

    // Through tonic: the call fails too.
    let server = TestServer::start(&server_id, PinnedPeers::new([would_be.id])).await;
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let refused = raw_client(&server_id, None, false)
        .connect(server_name(), tcp)
        .await;
    if let Ok(mut tls) = refused {
        let _ = tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        let mut buf = [0u8; 64];
        assert!(!matches!(tls.read(&mut buf).await, Ok(n) if n > 0));
    }
    assert_eq!(server.calls(), vec![]);
}

#[tokio::test]
async fn a_peer_removed_at_run_time_is_refused_on_its_next_connection() {
    let server_id = identity("Wilhelmshaven");
    let a = identity("a");
    let b = identity("b");
    let peers = PinnedPeers::new([a.id, b.id]);
    let server = TestServer::start(&server_id, peers.clone()).await;

    let open_a = connect(server.addr, &a, server_id.id, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(check(open_a.clone()).await.unwrap(), ServingStatus::Serving);

    assert!(peers.remove(&a.id));

    // A new connection from a is refused in the handshake.
    let fresh = connect(server.addr, &a, server_id.id, TIMEOUT).await;
    assert!(
        matches!(fresh, Err(TransportError::RefusedByPeer { .. })),
        "{fresh:?}"
    );
    // On the connection a opened before, `authorize` refuses its next call.
    let status = check(open_a).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    // b is not affected.
    assert_eq!(
        dial_and_check(server.addr, &b, server_id.id).await,
        Ok(ServingStatus::Serving)
    );

    // Added back, a gets in again, without a restart.
    assert!(peers.insert(a.id));
    assert_eq!(
        dial_and_check(server.addr, &a, server_id.id).await,
        Ok(ServingStatus::Serving)
    );

    // Calls that reached the service: a, a (refused by authorize), b, a.
    assert_eq!(
        server.calls(),
        vec![Some(a.id), Some(a.id), Some(b.id), Some(a.id)]
    );
}

#[tokio::test]
async fn garbage_and_silence_do_not_disturb_a_good_connection() {
    let server_id = identity("Oldenburg (Oldb)");
    let client_id = identity("Ammerland");
    let server = TestServer::start(&server_id, PinnedPeers::new([client_id.id])).await;

    // One connection sends plain HTTP instead of a ClientHello, one sends nothing at all, and
    // both stay open while the good connection is made.
    let mut garbage = TcpStream::connect(server.addr).await.unwrap();
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: kreisnetz\r\n\r\n\x00\xff\x16\x03\x01garbage")
        .await
        .unwrap();
    let silent = TcpStream::connect(server.addr).await.unwrap();

    assert_eq!(
        dial_and_check(server.addr, &client_id, server_id.id).await,
        Ok(ServingStatus::Serving)
    );

    // The server dropped the garbage connection: at most an alert comes back, then the end.
    let mut received = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, garbage.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "the garbage connection is still open");
    assert!(received.len() < 16, "{received:?}");
    assert_eq!(server.calls(), vec![Some(client_id.id)]);
    drop(silent);
}

#[tokio::test]
async fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let server_id = identity("Vechta");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _incoming = tls_incoming_with(
        listener,
        server_config(&server_id, PinnedPeers::default()).unwrap(),
        IncomingOptions {
            handshake_timeout: Duration::from_millis(200),
            ..IncomingOptions::default()
        },
    );
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(TIMEOUT, silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "still open: {read:?}"
    );
}

#[tokio::test]
async fn a_tls_1_2_only_client_is_refused() {
    let server_id = identity("Cloppenburg");
    let old = identity("old");
    let (mut incoming, addr) = incoming_for(&server_id, PinnedPeers::new([old.id])).await;

    let tcp = TcpStream::connect(addr).await.unwrap();
    let err = raw_client(&server_id, Some(&old), true)
        .connect(server_name(), tcp)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("ProtocolVersion"), "{err}");
    assert_nothing_accepted(&mut incoming).await;

    // The same client with TLS 1.3 gets in, so it was the version that was refused.
    let tcp = TcpStream::connect(addr).await.unwrap();
    let tls = raw_client(&server_id, Some(&old), false)
        .connect(server_name(), tcp)
        .await
        .unwrap();
    let conn = tokio::time::timeout(TIMEOUT, incoming.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(conn.peer().node_id, old.id);
    assert_eq!(
        conn.peer().remote_addr,
        tls.get_ref().0.local_addr().unwrap()
    );
    assert_eq!(conn.get_ref().get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}

/// A certificate paired with a key that is not its own: what someone holds who copied a
/// configured node's certificate (it is public) but not its private key.
#[derive(Debug)]
struct StolenCertificate(Arc<rustls::sign::CertifiedKey>);

impl StolenCertificate {
    fn new(victim: &NodeIdentity, thief: &NodeIdentity) -> Self {
        let provider = rustls::crypto::ring::default_provider();
        let key = provider
            .key_provider
            .load_private_key(thief.private_key())
            .unwrap();
        // `CertifiedKey::new` does not check that the key belongs to the certificate.
        StolenCertificate(Arc::new(rustls::sign::CertifiedKey::new(
            vec![victim.certificate()],
            key,
        )))
    }
}

impl rustls::client::ResolvesClientCert for StolenCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl rustls::server::ResolvesServerCert for StolenCertificate {
    fn resolve(
        &self,
        _client_hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[tokio::test]
async fn a_client_with_a_copied_certificate_but_another_key_is_refused() {
    let server_id = identity("Ammerland");
    let configured = identity("configured");
    let thief = identity("thief");
    let (mut incoming, addr) = incoming_for(&server_id, PinnedPeers::new([configured.id])).await;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedServerVerifier::new(
        server_id.id,
        provider.signature_verification_algorithms,
    ));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_cert_resolver(Arc::new(StolenCertificate::new(&configured, &thief)));
    let tcp = TcpStream::connect(addr).await.unwrap();
    if let Ok(mut tls) = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name(), tcp)
        .await
    {
        let mut buf = [0u8; 1];
        let read = tls.read(&mut buf).await;
        // The server could not verify the handshake signature.
        let err = read.unwrap_err();
        assert!(err.to_string().contains("DecryptError"), "{err}");
    }
    // The node ID matched; the handshake signature did not.
    assert_nothing_accepted(&mut incoming).await;

    // rustls does not even build a client configuration from such a pair.
    let mixed = NodeIdentity {
        private_key_der: thief.private_key_der.clone(),
        ..configured.clone()
    };
    assert!(matches!(
        client_config(&mixed, server_id.id),
        Err(TransportError::Config(_))
    ));
}

#[tokio::test]
async fn a_server_with_a_copied_certificate_but_another_key_is_refused() {
    let expected = identity("Friesland");
    let thief = identity("thief");
    let client_id = identity("Vechta");

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinnedClientVerifier::new(
        PinnedPeers::new([client_id.id]),
        provider.signature_verification_algorithms,
    ));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(StolenCertificate::new(&expected, &thief)));
    config.alpn_protocols = vec![b"h2".to_vec()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = tls_incoming(listener, Arc::new(config));

    let err = connect(addr, &client_id, expected.id, TIMEOUT)
        .await
        .unwrap_err();
    // Not an UnexpectedPeer: the certificate is the expected one, its signature is not.
    assert!(
        matches!(&err, TransportError::Connect { reason, .. } if reason.contains("BadSignature")),
        "{err:?}"
    );
    assert_nothing_accepted(&mut incoming).await;
}

#[tokio::test]
async fn connecting_to_nothing_fails_with_the_address() {
    // Bind and drop to get a port nobody listens on.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let me = identity("me");
    let err = connect(addr, &me, identity("them").id, TIMEOUT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Connect { addr: a, .. } if *a == addr.to_string()),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_server_that_accepts_but_never_speaks_times_out() {
    let server_id = identity("Wesermarsch");
    let client_id = identity("Ammerland");
    let (mut incoming, addr) = incoming_for(&server_id, PinnedPeers::new([client_id.id])).await;
    // Complete the handshakes but never serve HTTP/2 on them.
    let held = tokio::spawn(async move {
        let mut conns = Vec::new();
        while let Some(conn) = incoming.next().await {
            conns.push(conn.unwrap());
        }
    });

    let timeout = Duration::from_millis(500);
    let err = connect(addr, &client_id, server_id.id, timeout)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Timeout { timeout: t, .. } if *t == timeout),
        "{err:?}"
    );
    held.abort();
}
