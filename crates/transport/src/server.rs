use std::fmt;
use std::future::Future;
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
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
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
/// descriptors), so that such a failure does not turn into a busy loop: the first pause, doubled
/// after each further failure up to [`ACCEPT_ERROR_PAUSE_MAX`], back to the first after a
/// connection was accepted.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
const ACCEPT_ERROR_PAUSE_MAX: Duration = Duration::from_secs(1);

/// At most one warning per this interval about failing accepts; the ones in between are counted
/// and the count is in the next warning.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of [`tls_incoming_with`] and [`incoming_with`].
#[derive(Debug, Clone, Copy)]
pub struct IncomingOptions {
    /// See [`DEFAULT_HANDSHAKE_TIMEOUT`].
    pub handshake_timeout: Duration,
    /// See [`DEFAULT_MAX_PENDING_HANDSHAKES`]; at least 1 is used.
    pub max_pending_handshakes: usize,
    /// Most connections open at once (handshaking or served); at the limit the listener stops
    /// accepting (the kernel's backlog holds the rest) until one closes. `None`: no limit.
    pub max_connections: Option<usize>,
}

impl Default for IncomingOptions {
    fn default() -> Self {
        IncomingOptions {
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_pending_handshakes: DEFAULT_MAX_PENDING_HANDSHAKES,
            max_connections: None,
        }
    }
}

/// One of the places a listener with [`IncomingOptions::max_connections`] has: held by an
/// accepted connection for as long as it lives (keep it in the connection type), freed on drop.
#[derive(Debug)]
pub struct ConnectionSlot(#[allow(dead_code)] Option<OwnedSemaphorePermit>);

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
    _slot: ConnectionSlot,
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

/// The stream of connections of one listener that passed their handshake; see [`incoming_with`]
/// and [`tls_incoming`].
///
/// It never yields an error: failed handshakes and failed accepts are logged and dropped.
/// Dropping it closes the listening socket and drops the handshakes under way.
pub struct Incoming<C> {
    connections: mpsc::Receiver<C>,
    accept_task: AbortHandle,
    local_addr: Option<SocketAddr>,
}

/// The authenticated federation connections of one listener; see [`tls_incoming`].
pub type TlsIncoming = Incoming<TlsConn>;

impl<C> Incoming<C> {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }
}

impl<C> Stream for Incoming<C> {
    type Item = Result<C, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.connections.poll_recv(cx).map(|conn| conn.map(Ok))
    }
}

impl<C> Drop for Incoming<C> {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

impl<C> fmt::Debug for Incoming<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
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
    let acceptor = TlsAcceptor::from(config);
    incoming_with(listener, options, move |tcp, remote, slot| {
        let span = tracing::info_span!("tls_accept", remote = %remote);
        handshake(tcp, remote, acceptor.clone(), slot).instrument(span)
    })
}

/// The accept loop of every listener of a node: accepts TCP connections on `listener` and runs
/// `handshake` on each in its own task (so a slow or hostile client holds up no one), with
/// `options.handshake_timeout`; yields what the handshakes return (`None`: refused, dropped).
///
/// What it guards against:
/// - **failing accepts** (out of file descriptors: `EMFILE`/`ENFILE`, out of memory): it pauses,
///   100 ms doubling up to 1 s, instead of trying again at once — a failing `accept` returns
///   immediately, so retrying without a pause burns a core and starves every other task — and
///   warns at most every 10 s with the number of failures;
/// - **slow handshakes**: dropped after `handshake_timeout`; at most `max_pending_handshakes`
///   at once;
/// - **too many connections**: with `max_connections`, it stops accepting at the limit until a
///   connection closes; each connection holds its [`ConnectionSlot`].
///
/// Must be called within a tokio runtime.
pub fn incoming_with<C, H, F>(
    listener: TcpListener,
    options: IncomingOptions,
    handshake: H,
) -> Incoming<C>
where
    C: Send + 'static,
    H: Fn(TcpStream, SocketAddr, ConnectionSlot) -> F + Send + 'static,
    F: Future<Output = Option<C>> + Send + 'static,
{
    let local_addr = listener.local_addr().ok();
    let (tx, rx) = mpsc::channel(32);
    let accept_task = tokio::spawn(accept_loop(listener, handshake, options, tx)).abort_handle();
    Incoming {
        connections: rx,
        accept_task,
        local_addr,
    }
}

/// Waits for a free place among `limit` connections (at once if there is no limit).
async fn connection_slot(limit: Option<Arc<Semaphore>>) -> Option<ConnectionSlot> {
    match limit {
        None => Some(ConnectionSlot(None)),
        Some(limit) => limit
            .acquire_owned()
            .await
            .ok()
            .map(|p| ConnectionSlot(Some(p))),
    }
}

/// Failing accepts: how long to pause, and when to say so.
struct AcceptFailures {
    pause: Duration,
    last_warning: Option<Instant>,
    unreported: u64,
}

impl AcceptFailures {
    fn new() -> Self {
        AcceptFailures {
            pause: ACCEPT_ERROR_PAUSE,
            last_warning: None,
            unreported: 0,
        }
    }

    fn succeeded(&mut self) {
        self.pause = ACCEPT_ERROR_PAUSE;
    }

    /// Logs (rate-limited) and returns how long to pause.
    fn failed(&mut self, e: &io::Error) -> Duration {
        self.unreported += 1;
        let now = Instant::now();
        if self
            .last_warning
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            let hint = match e.raw_os_error() {
                Some(24 | 23) => {
                    "the process is out of file descriptors: raise its limit (ulimit -n, \
                     systemd LimitNOFILE) or lower the connection limit"
                }
                _ => "accepting resumes by itself once the cause is gone",
            };
            tracing::warn!(
                error = %e,
                failures = self.unreported,
                pause_ms = self.pause.as_millis() as u64,
                "accepting connections fails; pausing between tries ({hint})"
            );
            self.last_warning = Some(now);
            self.unreported = 0;
        }
        let pause = self.pause;
        self.pause = (self.pause * 2).min(ACCEPT_ERROR_PAUSE_MAX);
        pause
    }
}

async fn accept_loop<C, H, F>(
    listener: TcpListener,
    handshake: H,
    options: IncomingOptions,
    connections: mpsc::Sender<C>,
) where
    C: Send + 'static,
    H: Fn(TcpStream, SocketAddr, ConnectionSlot) -> F + Send + 'static,
    F: Future<Output = Option<C>> + Send + 'static,
{
    let max_pending = options.max_pending_handshakes.max(1);
    let limit = options
        .max_connections
        .map(|n| Arc::new(Semaphore::new(n.clamp(1, Semaphore::MAX_PERMITS))));
    let timeout = options.handshake_timeout;
    let mut failures = AcceptFailures::new();
    // A place for the next connection, taken before accepting it.
    let mut slot: Option<ConnectionSlot> = None;
    // Dropped with this task, which aborts the handshakes under way.
    let mut handshakes = JoinSet::new();
    loop {
        tokio::select! {
            () = connections.closed() => break,
            Some(done) = handshakes.join_next(), if !handshakes.is_empty() => {
                if let Err(e) = done
                    && e.is_panic()
                {
                    tracing::error!(error = %e, "a handshake task panicked");
                }
            }
            free = connection_slot(limit.clone()), if slot.is_none() => match free {
                Some(free) => slot = Some(free),
                None => break,
            },
            accepted = listener.accept(), if slot.is_some() && handshakes.len() < max_pending => match accepted {
                Ok((tcp, remote)) => {
                    failures.succeeded();
                    let Some(taken) = slot.take() else { continue };
                    let shaking = handshake(tcp, remote, taken);
                    let connections = connections.clone();
                    handshakes.spawn(async move {
                        match tokio::time::timeout(timeout, shaking).await {
                            // Fails only if the server has stopped accepting; then the
                            // connection is just dropped.
                            Ok(Some(conn)) => {
                                let _ = connections.send(conn).await;
                            }
                            Ok(None) => {}
                            Err(_) => tracing::info!(
                                %remote,
                                ?timeout,
                                "handshake timed out; connection dropped"
                            ),
                        }
                    });
                }
                Err(e) if is_connection_error(&e) => {
                    tracing::debug!(error = %e, "a connection went away before it was accepted");
                }
                Err(e) => {
                    let pause = failures.failed(&e);
                    tokio::time::sleep(pause).await;
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
    slot: ConnectionSlot,
) -> Option<TlsConn> {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot turn off Nagle's algorithm");
    }
    let local_addr = match tcp.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            tracing::debug!(error = %e, "connection went away before its handshake");
            return None;
        }
    };
    // The accept loop drops the handshake after its timeout.
    let stream = match acceptor.accept(tcp).await {
        Ok(stream) => stream,
        Err(e) => {
            match refusal_in(&e) {
                // The verifier has warned already, with the node ID, in this span.
                Some(refusal) => tracing::debug!(%refusal, "TLS handshake refused"),
                None => tracing::info!(error = %e, "TLS handshake failed; connection dropped"),
            }
            return None;
        }
    };
    // The verifier accepted this certificate, so it has a node ID.
    let node_id = match stream.get_ref().1.peer_certificates() {
        Some([certificate, ..]) => match node_id_of_certificate(certificate) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!(error = %e, "accepted a certificate without a node ID; dropped");
                return None;
            }
        },
        _ => {
            tracing::error!("a TLS handshake succeeded without a client certificate; dropped");
            return None;
        }
    };
    tracing::debug!(peer = %node_id, "TLS peer authenticated");
    Some(TlsConn {
        stream,
        peer: PeerInfo {
            node_id,
            remote_addr: remote,
            local_addr,
        },
        _slot: slot,
    })
}
