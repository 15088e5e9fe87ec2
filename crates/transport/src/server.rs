use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use kreisnetz_identity::node_id_of_certificate;
use kreisnetz_model::NodeId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::Stream;
use tonic::transport::server::Connected;
use tracing::Instrument;

use crate::error::refusal_in;

/// How long a connection may take for its TLS handshake before it is dropped.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be under way at once; beyond that, the listener stops accepting
/// (the kernel's backlog holds the rest) until one ends.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;

/// How long to wait before accepting again after `accept` failed (for instance, out of file
/// descriptors), so that such a failure does not turn into a busy loop.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Settings of [`tls_incoming_with`].
#[derive(Debug, Clone, Copy)]
pub struct IncomingOptions {
    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`DEFAULT_MAX_PENDING_HANDSHAKES`]; at least 1 is used.
    pub max_pending_handshakes: usize,
}

impl Default for IncomingOptions {
    fn default() -> Self {
        IncomingOptions {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
        }
    }
}

/// Who is on the other end of an accepted connection: the connection info of a [`TlsConn`],
/// which tonic puts into the extensions of every request that arrives over it. Read it with
/// [`peer_info`] or [`peer_node_id`].
///
/// (tonic's own `Request::remote_addr()` and `Request::peer_certs()` know only tonic's connection
/// types and return `None` for these connections; use `remote_addr` here instead.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    /// The peer's node ID, authenticated in the TLS handshake.
    pub node_id: NodeId,
    /// The peer's address.
    pub remote_addr: SocketAddr,
    /// The address it connected to.
    pub local_addr: SocketAddr,
}

/// The authenticated node ID of the peer that sent `request`, if it came over a connection from
/// [`tls_incoming`].
pub fn peer_node_id<T>(request: &tonic::Request<T>) -> Option<NodeId> {
    peer_info(request).map(|info| info.node_id)
}

/// Who sent `request` (node ID and addresses), if it came over a connection from
/// [`tls_incoming`].
pub fn peer_info<T>(request: &tonic::Request<T>) -> Option<&PeerInfo> {
    request.extensions().get::<PeerInfo>()
}

/// An accepted connection whose TLS handshake succeeded: the peer presented the certificate of
/// a configured node and proved it holds its key. Hand these to tonic's
/// `Server::serve_with_incoming`; its [`Connected`] info is a [`PeerInfo`].
pub struct TlsConn {
    stream: TlsStream<TcpStream>,
    peer: PeerInfo,
}

impl TlsConn {
    /// Who is on the other end.
    pub fn peer(&self) -> &PeerInfo {
        &self.peer
    }

    /// The TLS stream (for the negotiated protocol or other session details).
    pub fn get_ref(&self) -> &TlsStream<TcpStream> {
        &self.stream
    }

    /// The TLS stream, for use without tonic.
    pub fn into_inner(self) -> TlsStream<TcpStream> {
        self.stream
    }
}

impl fmt::Debug for TlsConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConn")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Connected for TlsConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.peer
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The stream of authenticated connections of one listener; see [`tls_incoming`].
///
/// It never yields an error: failed handshakes and failed accepts are logged and dropped.
/// Dropping it closes the listening socket and drops the handshakes under way.
pub struct TlsIncoming {
    connections: mpsc::Receiver<TlsConn>,
    accept_task: AbortHandle,
    local_addr: Option<SocketAddr>,
}

impl TlsIncoming {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl Stream for TlsIncoming {
    type Item = Result<TlsConn, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx).map(|conn| conn.map(Ok))
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl fmt::Debug for TlsIncoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

/// Accepts TCP connections on `listener` (Nagle off), runs each TLS handshake with `config` in
/// its own task (so a slow or hostile client holds up no one) with a timeout of
/// [`DEFAULT_HANDSHAKE_TIMEOUT`], and yields the connections whose handshake succeeded, for
/// `tonic::transport::Server::serve_with_incoming[_shutdown]`. Failed handshakes are logged
/// with the peer's address (the span `tls_accept`) and, if it presented a certificate of an
/// unconfigured node, that node's ID; then the connection is dropped.
///
/// Must be called within a tokio runtime.
pub fn tls_incoming(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> TlsIncoming {
    tls_incoming_with(listener, config, IncomingOptions::default())
}

/// [`tls_incoming`] with other settings.
pub fn tls_incoming_with(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    options: IncomingOptions,
) -> TlsIncoming {
    let local_addr = listener.local_addr().ok();
    let (tx, rx) = mpsc::channel(32);
    let acceptor = TlsAcceptor::from(config);
    let accept_task = tokio::spawn(accept_loop(listener, acceptor, options, tx)).abort_handle();
    TlsIncoming {
        connections: rx,
        accept_task,
        local_addr,
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    options: IncomingOptions,
    connections: mpsc::Sender<TlsConn>,
) {
    let max_pending = options.max_pending_handshakes.max(1);
    // Dropped with this task, which aborts the handshakes under way.
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            () = connections.closed() => break,
            Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a TLS handshake task panicked");
                }
            }
            accepted = listener.accept(), if handshakes.len() < max_pending => match accepted {
                Ok((tcp, remote)) => {
                    let span = tracing::info_span!("tls_accept", remote = %remote);
                    handshakes.spawn(
                        handshake(
                            tcp,
                            remote,
                            acceptor.clone(),
                            options.handshake_timeout,
                            connections.clone(),
                        )
                        .instrument(span),
                    );
                }
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "a connection went away before it was accepted");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a TCP connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
        }
    }
}

/// Errors of one connection, not of the listener.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

async fn handshake(
    tcp: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    timeout: Duration,
    connections: mpsc::Sender<TlsConn>,
) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot turn off Nagle's algorithm");
    }
    let local_addr = match tcp.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            tracing::debug!(error = %e, "connection went away before its handshake");
            return;
        }
    };
    let stream = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            match refusal_in(&e) {
                // The verifier has warned already, with the node ID, in this span.
                Some(refusal) => tracing::debug!(%refusal, "TLS handshake refused"),
                None => tracing::info!(error = %e, "TLS handshake failed; connection dropped"),
            }
            return;
        }
        Err(_) => {
            tracing::info!(?timeout, "TLS handshake timed out; connection dropped");
            return;
        }
    };
    // The verifier accepted this certificate, so it has a node ID.
    let node_id = match stream.get_ref().1.peer_certificates() {
        Some([certificate, ..]) => match node_id_of_certificate(certificate) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "accepted a certificate without a node ID; dropped");
                return;
            }
        },
        _ => {
            tracing::error!("a TLS handshake succeeded without a client certificate; dropped");
            return;
        }
    };
    tracing::debug!(peer = %node_id, "TLS peer authenticated");
    let conn = TlsConn {
        stream,
        peer: PeerInfo {
            node_id,
            remote_addr: remote,
            local_addr,
        },
    };
    // Fails only if the server has stopped accepting; then the connection is just dropped.
    let _ = connections.send(conn).await;
}
