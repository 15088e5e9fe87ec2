//! The API's connections: who may connect, for how long, and how many at once.
//!
//! The API port faces clients the node does not know, so every connection is bounded in number
//! and time. Accepting is the federation's accept loop ([`kreisnetz_transport::incoming_with`]):
//! a pause with a rate-limited warning when `accept` fails (out of file descriptors), at most
//! `api.max_connections` open at once, and a timeout for the TLS handshake. What this module
//! adds is what only the API needs:
//!
//! - **TLS from PEM files** (`api.tls_cert`, `api.tls_key`), handshaken in the accept loop's
//!   tasks (so the handshake timeout applies to it), not in tonic's serve loop;
//! - **a first-request timeout**: a connection that has not started a request within
//!   `api.handshake_timeout_secs` of being accepted (after its TLS handshake) is closed;
//! - **an idle timeout**: a connection with no request in progress for `api.idle_timeout_secs`
//!   is closed. A request is in progress from its headers until its response body has ended,
//!   so a `Watch` stream that waits hours for the next event keeps its connection; pings do not
//!   count as activity.
//!
//! How: every connection carries an [`Activity`] record in its connect info, which tonic puts
//! into each request's extensions; the [`TrackRequests`] layer counts requests in progress on
//! it. The connection's read side ([`ApiConn`]) holds a timer and, once the connection has been
//! idle (or waiting for its first request) for too long, reports the end of the stream to
//! hyper, which then closes the connection and frees its file descriptor and its place among
//! `max_connections`.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use kreisnetz_transport::rustls;
use kreisnetz_transport::{ConnectionSlot, Incoming, IncomingOptions};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use crate::config::ApiConfig;

/// The limits of the API's connections, from `[api]`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
    pub tcp_keepalive: Duration,
}

impl Limits {
    pub fn of(config: &ApiConfig) -> Limits {
        Limits {
            max_connections: config.max_connections,
            handshake_timeout: Duration::from_secs(config.handshake_timeout_secs),
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            tcp_keepalive: Duration::from_secs(config.tcp_keepalive_secs),
        }
    }
}

/// The TLS configuration of the API from PEM files: the certificate chain and its private key,
/// ALPN `h2`, TLS 1.2 and 1.3 (clients of the API are not only kreisnetz nodes).
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("api TLS: cannot read {}: {e}", p.display()))
    };
    let cert_pem = read(cert)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            format!(
                "api TLS: {} is not a PEM certificate chain: {e}",
                cert.display()
            )
        })?;
    if certs.is_empty() {
        return Err(format!(
            "api TLS: {} holds no PEM certificate",
            cert.display()
        ));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&read(key)?)
        .map_err(|e| format!("api TLS: {} is not a PEM private key: {e}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("api TLS: {e}"))?
    .with_no_client_auth()
    .with_single_cert(certs, key_der)
    .map_err(|e| format!("api TLS: {e}"))?;
    config.alpn_protocols = vec![kreisnetz_transport::ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The API's listener: accepted connections within [`Limits`], over TLS if `tls` is given, for
/// `Server::serve_with_incoming_shutdown`. Serve them with the [`TrackRequests`] layer.
pub fn incoming(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: Limits,
) -> Incoming<ApiConn> {
    let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
    let options = IncomingOptions {
        handshake_timeout: limits.handshake_timeout,
        max_connections: Some(limits.max_connections),
        ..IncomingOptions::default()
    };
    kreisnetz_transport::incoming_with(listener, options, move |tcp, remote, slot| {
        let acceptor = acceptor.clone();
        async move {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%remote, error = %e, "cannot turn off Nagle's algorithm");
            }
            let keepalive = socket2::TcpKeepalive::new().with_time(limits.tcp_keepalive);
            if let Err(e) = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive) {
                tracing::debug!(%remote, error = %e, "cannot turn on TCP keepalive");
            }
            let stream = match acceptor {
                None => ApiStream::Plain(tcp),
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => ApiStream::Tls(Box::new(tls)),
                    Err(e) => {
                        tracing::debug!(%remote, error = %e, "API TLS handshake failed");
                        return None;
                    }
                },
            };
            Some(ApiConn::new(stream, remote, slot, limits))
        }
    })
}

/// What happens on one connection, shared by the connection and its requests.
#[derive(Debug)]
pub struct Activity {
    /// Requests in progress (headers received, response body not yet ended).
    in_progress: AtomicUsize,
    /// Whether a request ever began.
    began: AtomicBool,
    /// When the connection became idle: milliseconds after `since`.
    idle_since_ms: AtomicU64,
    since: Instant,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            in_progress: AtomicUsize::new(0),
            began: AtomicBool::new(false),
            idle_since_ms: AtomicU64::new(0),
            since: Instant::now(),
        }
    }

    fn begin(self: &Arc<Self>) -> RequestInProgress {
        self.began.store(true, Ordering::Release);
        self.in_progress.fetch_add(1, Ordering::AcqRel);
        RequestInProgress(self.clone())
    }

    /// When the connection is to be closed if nothing happens before: `None` while a request
    /// is in progress.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if self.in_progress.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.began.load(Ordering::Acquire) {
            return Some(self.since + limits.handshake_timeout);
        }
        let idle_since =
            self.since + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
        Some(idle_since + limits.idle_timeout)
    }
}

/// Marks a request in progress on its connection until dropped (with the response body).
#[derive(Debug)]
struct RequestInProgress(Arc<Activity>);

impl Drop for RequestInProgress {
    fn drop(&mut self) {
        let since = self.0.since.elapsed().as_millis() as u64;
        self.0.idle_since_ms.fetch_max(since, Ordering::AcqRel);
        self.0.in_progress.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The connect info of an API connection (in every request's extensions).
#[derive(Debug, Clone)]
pub struct ApiConnInfo {
    pub remote_addr: SocketAddr,
    activity: Arc<Activity>,
}

/// A TCP or TLS stream.
pub enum ApiStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// An accepted API connection; closes itself when idle (see the module docs).
pub struct ApiConn {
    stream: ApiStream,
    info: ApiConnInfo,
    limits: Limits,
    timer: Pin<Box<Sleep>>,
    closed: bool,
    _slot: ConnectionSlot,
}

impl ApiConn {
    fn new(stream: ApiStream, remote: SocketAddr, slot: ConnectionSlot, limits: Limits) -> Self {
        let activity = Arc::new(Activity::new());
        let first = activity.since + limits.handshake_timeout;
        ApiConn {
            stream,
            info: ApiConnInfo {
                remote_addr: remote,
                activity,
            },
            limits,
            timer: Box::pin(tokio::time::sleep_until(first)),
            closed: false,
            _slot: slot,
        }
    }

    /// True once the connection has been idle too long; else arms the timer for the next check.
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            if self.timer.as_mut().poll(cx).is_pending() {
                return false;
            }
            let now = Instant::now();
            match self.info.activity.deadline(&self.limits) {
                Some(deadline) if deadline <= now => return true,
                Some(deadline) => self.timer.as_mut().reset(deadline),
                // Busy: look again once an idle period could have passed.
                None => self.timer.as_mut().reset(now + self.limits.idle_timeout),
            }
        }
    }
}

impl Connected for ApiConn {
    type ConnectInfo = ApiConnInfo;

    fn connect_info(&self) -> ApiConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for ApiConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closed || self.expired(cx) {
            if !self.closed {
                self.closed = true;
                let began = self.info.activity.began.load(Ordering::Acquire);
                tracing::debug!(
                    remote = %self.info.remote_addr,
                    "closing an API connection: {}",
                    if began { "idle" } else { "no request in time" }
                );
            }
            // The end of the stream: hyper closes the connection.
            return Poll::Ready(Ok(()));
        }
        match &mut self.stream {
            ApiStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ApiStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ApiConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            ApiStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ApiStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            ApiStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            ApiStream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            ApiStream::Plain(s) => s.is_write_vectored(),
            ApiStream::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            ApiStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ApiStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            ApiStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ApiStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The tower layer that marks each request in progress on its connection's [`Activity`] until
/// its response body has ended (`Server::builder().layer(TrackRequests)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackRequests;

impl<S> tower::Layer<S> for TrackRequests {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked(inner)
    }
}

/// See [`TrackRequests`].
#[derive(Debug, Clone)]
pub struct Tracked<S>(S);

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<hyper::Request<B>> for Tracked<S>
where
    S: tower::Service<hyper::Request<B>, Response = hyper::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = hyper::Response<TrackedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: hyper::Request<B>) -> Self::Future {
        let guard = req
            .extensions()
            .get::<ApiConnInfo>()
            .map(|info| info.activity.begin());
        let response = self.0.call(req);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody { inner: body, guard }))
        })
    }
}

/// A response body that keeps its request in progress until it ends or is dropped.
pub struct TrackedBody<B> {
    inner: B,
    guard: Option<RequestInProgress>,
}

impl<B> hyper::body::Body for TrackedBody<B>
where
    B: hyper::body::Body + Unpin,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.guard.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
