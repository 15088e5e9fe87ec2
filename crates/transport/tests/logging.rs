//! What the log says about a refused peer. In a test binary of its own: `tracing` caches which
//! call sites are enabled per process, so a subscriber set by one test among many that run in
//! parallel would miss events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kreisnetz_identity::NodeIdentity;
use kreisnetz_transport::{PinnedPeers, TransportError, connect, server_config, tls_incoming};
use tokio::net::TcpListener;

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_refusal_is_logged_with_the_presented_node_id_and_the_address() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .init();

    let server = NodeIdentity::generate("Oldenburg").unwrap();
    let stranger = NodeIdentity::generate("stranger").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let _incoming = tls_incoming(
        listener,
        server_config(&server, PinnedPeers::default()).unwrap(),
    );

    let err = connect(addr, &stranger, server.id, Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::RefusedByPeer { .. }),
        "{err:?}"
    );

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("refused a TLS peer that is not configured"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains(&format!("presented={}", stranger.id)),
        "{line}"
    );
    // The handshake's span names the address the connection came from.
    assert!(line.contains("tls_accept{remote=127.0.0.1:"), "{line}");
}
