//! Prometheus metrics: the [`Metrics`] handle the node's parts record into, and a small HTTP
//! server that serves them at `GET /metrics`.
//!
//! The registry and the text formats come from `prometheus-client`, the Prometheus project's
//! Rust client; the server is a bare HTTP/1 server on hyper (which tonic already brings in).
//! A scrape is answered in the OpenMetrics text format when the scraper asks for it (Prometheus
//! does), otherwise in the classic Prometheus text format (curl, older scrapers).
//!
//! Labels carry only district IDs, node IDs and fixed words ([`RejectReason`]) — never a token, a
//! key or anything a client wrote. Because a misbehaving peer can make the node refuse data for
//! made-up document IDs, label values that do not look like an ID become `invalid`, and once
//! [`MAX_LABEL_VALUES`] distinct peers or documents have been seen, further ones are counted as
//! `other`: the number of series stays bounded whatever peers send.
//!
//! Where the values come from:
//! - `kreisnetz_peers_connected` and `kreisnetz_peer_documents_behind` are read from the
//!   federation status at every scrape ([`Metrics::sample_federation`]); the sync thread may also
//!   set them directly.
//! - the other metrics are recorded by the component that sees the event: the sync thread
//!   ([`Metrics::applied`], [`Metrics::rejected`], [`Metrics::set_quarantined`]) and the flushes
//!   of the writer and the sync thread ([`Metrics::observe_flush`]).
use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ACCEPT, ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::federation::FederationStatus;

/// While the metrics endpoint runs, the data directory holds its address in this file.
pub const ADDR_FILE: &str = "metrics.addr";

/// The content type of the OpenMetrics text format.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// The content type of the classic Prometheus text format.
pub const PROMETHEUS_TEXT_CONTENT_TYPE: &str =
    prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Most distinct peers, and most distinct documents, that get series of their own.
pub const MAX_LABEL_VALUES: usize = 1024;
/// Longest label value kept (a district or node ID is 66 characters).
const MAX_LABEL_LEN: usize = 80;
/// Most scrapes served at once; further connections are closed at once.
const MAX_CONNECTIONS: usize = 32;
/// A scraper must send its request headers within this time.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why data from a peer was refused: the `reason` label of `kreisnetz_sync_rejected_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// A change whose signature does not verify.
    BadSignature,
    /// A change without a signature where one is required.
    Unsigned,
    /// Data older than what the node already has (e.g. a replayed or superseded change).
    Stale,
    /// A document of a district this node does not trust.
    Untrusted,
    /// A change to this node's own district document, which only its writer may change.
    OwnDocument,
    /// A frame or document above the configured limits.
    TooLarge,
    /// A frame that breaks the federation protocol (undecodable, unexpected).
    Protocol,
}

impl RejectReason {
    pub const ALL: [RejectReason; 7] = [
        RejectReason::BadSignature,
        RejectReason::Unsigned,
        RejectReason::Stale,
        RejectReason::Untrusted,
        RejectReason::OwnDocument,
        RejectReason::TooLarge,
        RejectReason::Protocol,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::BadSignature => "bad_signature",
            RejectReason::Unsigned => "unsigned",
            RejectReason::Stale => "stale",
            RejectReason::Untrusted => "untrusted",
            RejectReason::OwnDocument => "own_document",
            RejectReason::TooLarge => "too_large",
            RejectReason::Protocol => "protocol",
        }
    }
}

impl std::fmt::Display for RejectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PeerLabels {
    peer: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DocLabels {
    doc: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RejectLabels {
    peer: String,
    doc: String,
    reason: &'static str,
}

/// The node's metrics. Cheap to clone (one `Arc`); every method takes `&self` and may be called
/// from any thread. Recording never blocks on a scrape for long and never fails.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    peers_connected: Gauge,
    documents_behind: Family<PeerLabels, Gauge>,
    applied: Family<DocLabels, Counter>,
    rejected: Family<RejectLabels, Counter>,
    quarantined: Family<DocLabels, Gauge>,
    flush: Histogram,
    storage_bytes: Gauge,
    document_bytes: Family<DocLabels, Gauge>,
    feed_events: Gauge,
    peers_seen: Mutex<HashSet<String>>,
    docs_seen: Mutex<HashSet<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered (at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kreisnetz");
        let peers_connected = Gauge::default();
        registry.register(
            "peers_connected",
            "Peers with an open federation stream",
            peers_connected.clone(),
        );
        let documents_behind = Family::<PeerLabels, Gauge>::default();
        registry.register(
            "peer_documents_behind",
            "Documents that a peer has not yet caught up with, per peer",
            documents_behind.clone(),
        );
        let applied = Family::<DocLabels, Counter>::default();
        registry.register(
            // Encoded with the suffix `_total`, as OpenMetrics requires of counters.
            "sync_changes_applied",
            "Changes received from peers and applied, per document",
            applied.clone(),
        );
        let rejected = Family::<RejectLabels, Counter>::default();
        registry.register(
            "sync_rejected",
            "Data from peers that was refused, per peer, document and reason",
            rejected.clone(),
        );
        let quarantined = Family::<DocLabels, Gauge>::default();
        registry.register(
            "sync_quarantined_changes",
            "Changes held back until the changes they depend on arrive, per document",
            quarantined.clone(),
        );
        // 100 µs to about 6.5 s.
        let flush = Histogram::new(exponential_buckets(0.0001, 2.0, 17));
        registry.register(
            "storage_flush_seconds",
            "Time a storage flush (group commit) took",
            flush.clone(),
        );
        let storage_bytes = Gauge::default();
        registry.register(
            "storage_bytes",
            "Bytes the node's database takes on disk (documents, change feed, sync states)",
            storage_bytes.clone(),
        );
        let document_bytes = Family::<DocLabels, Gauge>::default();
        registry.register(
            "storage_document_bytes",
            "Bytes of Automerge data stored for a document (snapshot and chunks), per document",
            document_bytes.clone(),
        );
        let feed_events = Gauge::default();
        registry.register(
            "storage_feed_events",
            "Change-feed events kept (see storage.feed_retention_events)",
            feed_events.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            peers_connected,
            documents_behind,
            applied,
            rejected,
            quarantined,
            flush,
            storage_bytes,
            document_bytes,
            feed_events,
            peers_seen: Mutex::new(HashSet::new()),
            docs_seen: Mutex::new(HashSet::new()),
        }))
    }

    /// `kreisnetz_peers_connected`: how many peers have an open stream now.
    pub fn set_peers_connected(&self, n: usize) {
        self.0.peers_connected.set(saturating_i64(n as u64));
    }

    /// `kreisnetz_peer_documents_behind{peer}`: how many documents `peer` is behind on.
    pub fn set_documents_behind(&self, peer: &str, n: u64) {
        let peer = self.peer_label(peer);
        self.0
            .documents_behind
            .get_or_create(&PeerLabels { peer })
            .set(saturating_i64(n));
    }

    /// Drops the series of a peer that was removed, so it does not linger at its last value.
    pub fn forget_peer(&self, peer: &str) {
        let peer = self.peer_label(peer);
        self.0.documents_behind.remove(&PeerLabels { peer });
    }

    /// `kreisnetz_sync_changes_applied_total{doc}`: `n` more changes from peers were applied to
    /// the document `doc` (a district ID).
    pub fn applied(&self, doc: &str, n: u64) {
        let doc = self.doc_label(doc);
        self.0.applied.get_or_create(&DocLabels { doc }).inc_by(n);
    }

    /// `kreisnetz_sync_rejected_total{peer, doc, reason}`: data from `peer` (a node ID) for `doc`
    /// (a district ID; empty if the data named no document) was refused.
    pub fn rejected(&self, peer: &str, doc: &str, reason: RejectReason) {
        let labels = RejectLabels {
            peer: self.peer_label(peer),
            doc: if doc.is_empty() {
                String::new()
            } else {
                self.doc_label(doc)
            },
            reason: reason.as_str(),
        };
        self.0.rejected.get_or_create(&labels).inc();
    }

    /// `kreisnetz_sync_quarantined_changes{doc}`: changes of `doc` held back now.
    pub fn set_quarantined(&self, doc: &str, n: u64) {
        let doc = self.doc_label(doc);
        self.0
            .quarantined
            .get_or_create(&DocLabels { doc })
            .set(saturating_i64(n));
    }

    /// `kreisnetz_storage_flush_seconds`: one flush took `secs` seconds.
    pub fn observe_flush(&self, secs: f64) {
        self.0.flush.observe(secs);
    }

    /// `kreisnetz_storage_bytes` and `kreisnetz_storage_feed_events`.
    pub fn set_storage(&self, bytes_on_disk: u64, feed_events: u64) {
        self.0.storage_bytes.set(saturating_i64(bytes_on_disk));
        self.0.feed_events.set(saturating_i64(feed_events));
    }

    /// Sets the peer gauges from the federation status the sync thread publishes: peers
    /// connected, and documents behind for exactly the peers the status lists; and the bytes
    /// stored per document.
    pub fn sample_federation(&self, status: &FederationStatus) {
        let connected = status.peers.values().filter(|p| p.connected).count();
        self.set_peers_connected(connected);
        self.0.documents_behind.clear();
        for (peer, info) in &status.peers {
            self.set_documents_behind(&peer.to_string(), u64::from(info.documents_behind));
        }
        for (doc, info) in &status.documents {
            let doc = self.doc_label(&doc.to_string());
            self.0
                .document_bytes
                .get_or_create(&DocLabels { doc })
                .set(saturating_i64(info.size_bytes));
        }
    }

    /// Every metric in the OpenMetrics text format (ends with `# EOF`).
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; the encoder only passes the writer's errors on.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.0.registry);
        out
    }

    /// Every metric in the classic Prometheus text format (version 0.0.4).
    pub fn render_prometheus_text(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry);
        out
    }

    fn peer_label(&self, value: &str) -> String {
        bounded_label(&self.0.peers_seen, value)
    }

    fn doc_label(&self, value: &str) -> String {
        bounded_label(&self.0.docs_seen, value)
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// `value` if it looks like an ID and is already known or there is room for it; otherwise
/// `invalid` or `other`.
fn bounded_label(seen: &Mutex<HashSet<String>>, value: &str) -> String {
    let looks_like_id = !value.is_empty()
        && value.len() <= MAX_LABEL_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if !looks_like_id {
        return "invalid".into();
    }
    let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.contains(value) {
        return value.to_string();
    }
    if seen.len() >= MAX_LABEL_VALUES {
        return "other".into();
    }
    seen.insert(value.to_string());
    value.to_string()
}

/// The running metrics endpoint.
pub struct MetricsServer {
    /// Where it actually listens (useful with port 0).
    pub addr: SocketAddr,
    addr_file: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the metrics endpoint as `config` says, or none (removing a stale `metrics.addr`).
pub async fn start(
    config: &crate::Config,
    data_dir: &Path,
    metrics: Metrics,
    federation: Arc<RwLock<FederationStatus>>,
    shutdown: watch::Receiver<bool>,
) -> Result<Option<MetricsServer>, String> {
    if !config.metrics.enabled {
        remove_addr_file(data_dir);
        return Ok(None);
    }
    let listen = config.metrics_listen().ok_or_else(|| {
        "metrics.listen is not set and cannot be derived from api.listen; set it".to_string()
    })?;
    serve(listen, data_dir, metrics, Some(federation), shutdown)
        .await
        .map(Some)
        .map_err(|e| {
            format!(
                "metrics endpoint on {listen}: {e} (set metrics.listen, or metrics.enabled = \
                 false)"
            )
        })
}

/// Binds `listen`, writes the bound address to `<data_dir>/metrics.addr` and serves `/metrics`
/// until `shutdown` is set. `federation`, if given, is sampled at every scrape.
pub async fn serve(
    listen: SocketAddr,
    data_dir: &Path,
    metrics: Metrics,
    federation: Option<Arc<RwLock<FederationStatus>>>,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<MetricsServer> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let addr_file = data_dir.join(ADDR_FILE);
    std::fs::write(&addr_file, format!("{addr}\n"))?;
    let scrape = Arc::new(Scrape {
        metrics,
        federation,
    });
    let task = tokio::spawn(accept_loop(listener, scrape, shutdown));
    tracing::info!(metrics = %addr, "serving Prometheus metrics at /metrics");
    Ok(MetricsServer {
        addr,
        addr_file,
        task,
    })
}

/// Removes a `metrics.addr` left behind by an earlier run (when metrics are disabled now).
pub fn remove_addr_file(data_dir: &Path) {
    let _ = std::fs::remove_file(data_dir.join(ADDR_FILE));
}

impl MetricsServer {
    /// Waits (at most `grace`) until the server has stopped after the shutdown signal, then
    /// removes `metrics.addr`.
    pub async fn stop(self, grace: Duration) {
        let mut task = self.task;
        if tokio::time::timeout(grace, &mut task).await.is_err() {
            tracing::warn!("the metrics endpoint did not stop within the grace period");
            task.abort();
        }
        let _ = std::fs::remove_file(&self.addr_file);
    }
}

struct Scrape {
    metrics: Metrics,
    federation: Option<Arc<RwLock<FederationStatus>>>,
}

async fn accept_loop(listener: TcpListener, scrape: Arc<Scrape>, shutdown: watch::Receiver<bool>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut connections = JoinSet::new();
    let stop = crate::stopped(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::debug!("too many metrics connections; closing one");
                        continue;
                    };
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(
                        stream,
                        scrape.clone(),
                        shutdown.clone(),
                        slot,
                    ));
                }
                Err(e) => {
                    // E.g. out of file descriptors: wait a little instead of spinning.
                    tracing::debug!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
    drop(listener);
    // Open connections finish the request they are answering and close.
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    scrape: Arc<Scrape>,
    shutdown: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let response = respond(&scrape, &request);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let stop = crate::stopped(shutdown);
    tokio::pin!(stop);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = &mut stop => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "metrics connection ended with an error");
    }
}

fn respond(scrape: &Scrape, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.uri().path() != "/metrics" {
        return plain(
            StatusCode::NOT_FOUND,
            "not found; metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    if let Some(status) = &scrape.federation
        && let Ok(status) = status.read()
    {
        scrape.metrics.sample_federation(&status);
    }
    let openmetrics = request
        .headers()
        .get_all(ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    let (body, content_type) = if openmetrics {
        (
            scrape.metrics.render_openmetrics(),
            OPENMETRICS_CONTENT_TYPE,
        )
    } else {
        (
            scrape.metrics.render_prometheus_text(),
            PROMETHEUS_TEXT_CONTENT_TYPE,
        )
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use kreisnetz_model::{DistrictId, NodeId};

    fn ids() -> (String, String) {
        (
            NodeId::from_public_key(b"peer").to_string(),
            DistrictId::from_public_key(b"district").to_string(),
        )
    }

    #[test]
    fn metrics_without_labels_are_there_from_the_start() {
        let text = Metrics::new().render_openmetrics();
        for name in [
            "# TYPE kreisnetz_peers_connected gauge",
            "# TYPE kreisnetz_storage_flush_seconds histogram",
        ] {
            assert!(text.contains(name), "{name} missing in:\n{text}");
        }
        // A family with labels shows once it has a series.
        assert!(!text.contains("kreisnetz_sync_rejected"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn recorded_values_appear_with_their_labels() {
        let (peer, doc) = ids();
        let m = Metrics::new();
        m.set_peers_connected(3);
        m.set_documents_behind(&peer, 2);
        m.applied(&doc, 5);
        m.applied(&doc, 1);
        m.rejected(&peer, &doc, RejectReason::BadSignature);
        m.rejected(&peer, &doc, RejectReason::BadSignature);
        m.rejected(&peer, "", RejectReason::Protocol);
        m.set_quarantined(&doc, 4);
        m.observe_flush(0.003);
        let clone = m.clone();
        clone.observe_flush(0.5);
        for text in [m.render_openmetrics(), m.render_prometheus_text()] {
            for line in [
                "# TYPE kreisnetz_peer_documents_behind gauge".to_string(),
                "# TYPE kreisnetz_sync_changes_applied".to_string(),
                "# TYPE kreisnetz_sync_rejected".to_string(),
                "# TYPE kreisnetz_sync_quarantined_changes gauge".to_string(),
                "kreisnetz_peers_connected 3".to_string(),
                format!("kreisnetz_peer_documents_behind{{peer=\"{peer}\"}} 2"),
                format!("kreisnetz_sync_changes_applied_total{{doc=\"{doc}\"}} 6"),
                format!(
                    "kreisnetz_sync_rejected_total{{peer=\"{peer}\",doc=\"{doc}\",reason=\"bad_signature\"}} 2"
                ),
                format!(
                    "kreisnetz_sync_rejected_total{{peer=\"{peer}\",doc=\"\",reason=\"protocol\"}} 1"
                ),
                format!("kreisnetz_sync_quarantined_changes{{doc=\"{doc}\"}} 4"),
                "kreisnetz_storage_flush_seconds_count 2".to_string(),
                "kreisnetz_storage_flush_seconds_bucket{le=\"0.0032\"} 1".to_string(),
            ] {
                assert!(text.contains(&line), "{line} missing in:\n{text}");
            }
        }
        m.forget_peer(&peer);
        assert!(
            !m.render_openmetrics()
                .contains("kreisnetz_peer_documents_behind{")
        );
    }

    #[test]
    fn reject_reasons_are_short_snake_case_words() {
        let words: HashSet<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(words.len(), RejectReason::ALL.len());
        for w in words {
            assert!(
                w.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{w}"
            );
        }
    }

    #[test]
    fn odd_or_too_many_label_values_cannot_grow_the_series_without_bound() {
        let m = Metrics::new();
        let (peer, _) = ids();
        m.applied("x\"}\nkreisnetz_fake 1", 1);
        m.applied(&"D".repeat(1000), 1);
        for i in 0..MAX_LABEL_VALUES + 10 {
            m.rejected(&peer, &format!("D-{i}"), RejectReason::Untrusted);
        }
        let text = m.render_openmetrics();
        assert!(text.contains("kreisnetz_sync_changes_applied_total{doc=\"invalid\"} 2"));
        assert!(!text.contains("kreisnetz_fake"));
        assert!(text.contains(&format!(
            "kreisnetz_sync_rejected_total{{peer=\"{peer}\",doc=\"other\",reason=\"untrusted\"}} 10"
        )));
        // The two invalid documents took no slots; the known peer keeps its own label.
        m.set_documents_behind(&peer, 1);
        assert!(m.render_openmetrics().contains(&format!(
            "kreisnetz_peer_documents_behind{{peer=\"{peer}\"}} 1"
        )));
    }

    #[test]
    fn the_federation_status_sets_the_peer_gauges() {
        use crate::federation::PeerInfo;
        let m = Metrics::new();
        let gone = NodeId::from_public_key(b"gone").to_string();
        m.set_documents_behind(&gone, 7);
        let mut status = FederationStatus::default();
        let a = NodeId::from_public_key(b"a");
        let b = NodeId::from_public_key(b"b");
        status.peers.insert(
            a,
            PeerInfo {
                connected: true,
                documents_behind: 1,
                ..PeerInfo::default()
            },
        );
        status.peers.insert(b, PeerInfo::default());
        m.sample_federation(&status);
        let text = m.render_openmetrics();
        assert!(text.contains("kreisnetz_peers_connected 1"), "{text}");
        assert!(text.contains(&format!(
            "kreisnetz_peer_documents_behind{{peer=\"{a}\"}} 1"
        )));
        assert!(text.contains(&format!(
            "kreisnetz_peer_documents_behind{{peer=\"{b}\"}} 0"
        )));
        assert!(!text.contains(&gone), "{text}");
    }
}
