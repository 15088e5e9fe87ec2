use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use kreisnetz_identity::NodeIdentity;
use kreisnetz_model::NodeId;
use rustls::AlertDescription;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tracing::Instrument;

use crate::error::{alert_in, chain_text, is_timeout, refusal_in};
use crate::{Refusal, SERVER_NAME, TransportError, client_config};

/// The URI of every channel built here. Only its scheme and authority matter (they go into each
/// request's `:scheme` and `:authority`); where the connection goes is the connector's address.
/// `http`, not `https`: the TLS is the connector's, and tonic must not add its own.
pub const ENDPOINT_URI: &str = "http://kreisnetz-node";

/// A connector for `tonic::transport::Endpoint::connect_with_connector`: dials one address
/// (TCP, Nagle off) and completes a TLS handshake that succeeds only if the server presents the
/// certificate of the expected node, then waits until the server has accepted ours (its first
/// HTTP/2 frame arrives). A `Channel` calls it again for each reconnect, so every connection is
/// checked.
///
/// [`connect`] covers the common case; use this to build a channel with other endpoint settings
/// (keep-alive, lazy connecting).
#[derive(Clone)]
pub struct PinnedConnector {
    addr: Arc<str>,
    expected: NodeId,
    tls: TlsConnector,
    server_name: ServerName<'static>,
}

impl PinnedConnector {
    /// Dials `addr` (`host:port`; a name is resolved at each connect) as `identity`, accepting
    /// only the node `expected`.
    pub fn new(
        addr: impl fmt::Display,
        identity: &NodeIdentity,
        expected: NodeId,
    ) -> Result<Self, TransportError> {
        let config = client_config(identity, expected)?;
        Ok(PinnedConnector {
            addr: addr.to_string().into(),
            expected,
            tls: TlsConnector::from(config),
            server_name: ServerName::try_from(SERVER_NAME)
                .expect("SERVER_NAME is a valid DNS name"),
        })
    }

    /// The address dialed.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The node accepted at that address.
    pub fn expected(&self) -> NodeId {
        self.expected
    }
}

impl fmt::Debug for PinnedConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinnedConnector")
            .field("addr", &self.addr)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

type ConnectFuture = Pin<Box<dyn Future<Output = io::Result<TokioIo<ClientConn>>> + Send>>;

impl tower::Service<Uri> for PinnedConnector {
    type Response = TokioIo<ClientConn>;
    type Error = io::Error;
    type Future = ConnectFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let this = self.clone();
        let span =
            tracing::debug_span!("tls_connect", addr = %this.addr, expected = %this.expected);
        Box::pin(
            async move {
                let tcp = TcpStream::connect(&*this.addr).await?;
                tcp.set_nodelay(true)?;
                let mut tls = this.tls.connect(this.server_name, tcp).await?;
                // In TLS 1.3 our side of the handshake is done before the server has checked our
                // certificate. An HTTP/2 server's first frame (SETTINGS) comes unasked; wait for
                // it, so that a server refusing us fails the connect with its alert rather than
                // the first call.
                let mut first = vec![0; FIRST_READ];
                let n = tls.read(&mut first).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection right after the TLS handshake",
                    ));
                }
                first.truncate(n);
                tracing::debug!("TLS connection to the expected node established");
                Ok(TokioIo::new(ClientConn {
                    stream: tls,
                    first,
                    pos: 0,
                }))
            }
            .instrument(span),
        )
    }
}

/// How much the connector reads while waiting for the server's first bytes: enough for the
/// server's SETTINGS frame and whatever else came with it.
const FIRST_READ: usize = 16 * 1024;

/// A dialed connection, as [`PinnedConnector`] hands it to tonic: the TLS stream, with the bytes
/// the connector read while waiting for the server to speak first put back in front.
pub struct ClientConn {
    stream: TlsStream<TcpStream>,
    first: Vec<u8>,
    pos: usize,
}

impl ClientConn {
    /// The TLS stream (for session details; bytes already read are not in it).
    pub fn get_ref(&self) -> &TlsStream<TcpStream> {
        &self.stream
    }
}

impl fmt::Debug for ClientConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConn")
            .field("unread_first_bytes", &(self.first.len() - self.pos))
            .finish_non_exhaustive()
    }
}

impl AsyncRead for ClientConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos < this.first.len() {
            let n = (this.first.len() - this.pos).min(buf.remaining());
            buf.put_slice(&this.first[this.pos..this.pos + n]);
            this.pos += n;
            if this.pos == this.first.len() {
                this.first = Vec::new();
                this.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ClientConn {
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

/// How often a channel from [`connect`] pings the server (HTTP/2 PING), also while no call is
/// open: a peer that vanished without closing its connections is noticed within
/// `KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT`, and the channel reconnects.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);

/// How long a channel from [`connect`] waits for the answer to a ping before it drops the
/// connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How a channel pings its server: every `interval` (also while idle), and how long it waits for
/// the answer before it drops the connection. A peer that vanished without closing its
/// connections (a black-holed link) is noticed within `interval + timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    pub interval: Duration,
    pub timeout: Duration,
}

impl Default for Keepalive {
    fn default() -> Self {
        Keepalive {
            interval: KEEPALIVE_INTERVAL,
            timeout: KEEPALIVE_TIMEOUT,
        }
    }
}

/// A gRPC channel to the node `expected` at `addr` (`host:port`), as `identity`. The channel is
/// only established if the server presents `expected`'s certificate (and accepts ours); it
/// reconnects by itself, checking the certificate again each time. `timeout` bounds the TCP
/// connect plus TLS handshake, here and on each reconnect. The channel pings the server every
/// [`KEEPALIVE_INTERVAL`], so a dead peer does not leave a call hanging.
///
/// Fails with [`TransportError::UnexpectedPeer`] if the server is another node, and with
/// [`TransportError::RefusedByPeer`] if the server does not accept this node. (In TLS 1.3 the
/// server checks the client's certificate after the client has finished its side of the
/// handshake; the connector waits for the server's first HTTP/2 frame, so that this refusal
/// fails the connect and not the first call.)
pub async fn connect(
    addr: impl fmt::Display,
    identity: &NodeIdentity,
    expected: NodeId,
    timeout: Duration,
) -> Result<Channel, TransportError> {
    connect_with_keepalive(addr, identity, expected, timeout, Keepalive::default()).await
}

/// [`connect`] with its own [`Keepalive`] instead of the default.
pub async fn connect_with_keepalive(
    addr: impl fmt::Display,
    identity: &NodeIdentity,
    expected: NodeId,
    timeout: Duration,
    keepalive: Keepalive,
) -> Result<Channel, TransportError> {
    let connector = PinnedConnector::new(addr, identity, expected)?;
    let addr = connector.addr().to_owned();
    let endpoint = Endpoint::from_static(ENDPOINT_URI)
        .connect_timeout(timeout)
        .http2_keep_alive_interval(keepalive.interval)
        .keep_alive_timeout(keepalive.timeout)
        .keep_alive_while_idle(true);
    match tokio::time::timeout(timeout, endpoint.connect_with_connector(connector)).await {
        Ok(Ok(channel)) => Ok(channel),
        Ok(Err(e)) => Err(connect_error(&e, addr, timeout)),
        Err(_) => Err(TransportError::Timeout { addr, timeout }),
    }
}

fn connect_error(
    err: &(dyn std::error::Error + 'static),
    addr: String,
    timeout: Duration,
) -> TransportError {
    if let Some(Refusal::Unexpected {
        expected,
        presented,
    }) = refusal_in(err)
    {
        return TransportError::UnexpectedPeer {
            addr,
            expected,
            presented,
        };
    }
    // The alerts a server sends when it does not accept a client's certificate.
    if let Some(
        alert @ (AlertDescription::CertificateUnknown
        | AlertDescription::BadCertificate
        | AlertDescription::AccessDenied
        | AlertDescription::CertificateRequired),
    ) = alert_in(err)
    {
        return TransportError::RefusedByPeer { addr, alert };
    }
    if is_timeout(err) {
        return TransportError::Timeout { addr, timeout };
    }
    TransportError::Connect {
        addr,
        reason: chain_text(err),
    }
}
