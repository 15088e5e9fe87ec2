//! The samod side: `samod` 0.16 repos in this process, connected over real TCP on 127.0.0.1
//! with samod's own tokio transport (`Transport::from_tokio_io`: length-delimited frames; the
//! dialing side is samod's `TcpDialer` unless `--samod-nodelay`), documents changed with
//! `DocHandle::with_document` and arrivals detected with `DocHandle::changes()` (samod's change
//! notification), no polling.
use std::convert::Infallible;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use automerge::transaction::Transactable;
use automerge::{AutomergeError, ObjType, ROOT, ReadDoc};
use futures::{FutureExt, Stream, StreamExt};
use samod::{BackoffConfig, DialError, Dialer, DocHandle, PeerId, Repo, Transport};
use serde_json::{Map, Value, json};
use tokio::net::{TcpListener, TcpStream};

use crate::stats::{Samples, emit, ms, note, peak_rss_mib, reset_peak_rss, rss_mib};
use crate::wire::{Snapshot, on_ports};
use crate::{Options, SamodStorage, workload};

const SYSTEM: &str = "samod";

/// A document's change notifications (samod's `DocumentChanged` is not re-exported; only the
/// fact of a change matters here).
type Changes = Pin<Box<dyn Stream<Item = ()> + Send>>;

fn changes(h: &DocHandle) -> Changes {
    Box::pin(h.changes().map(|_| ()))
}

struct Node {
    id: PeerId,
    repo: Repo,
    port: u16,
    accept: tokio::task::JoinHandle<()>,
}

async fn start_node(i: usize, opts: &Options, root: &Path) -> Result<Node> {
    let id = PeerId::from(format!("node{i}"));
    let builder = Repo::build_tokio().with_peer_id(id.clone());
    let repo = match opts.samod_storage {
        SamodStorage::Memory => builder.load().await,
        SamodStorage::Fs => {
            let dir = root.join(format!("node{i}"));
            std::fs::create_dir_all(&dir)?;
            builder
                .with_storage(samod::storage::TokioFilesystemStorage::new(dir))
                .load()
                .await
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let acceptor = repo
        .make_acceptor(samod::Url::parse(&format!("tcp://127.0.0.1:{port}"))?)
        .map_err(|_| anyhow!("samod repo stopped"))?;
    let nodelay = opts.samod_nodelay;
    let accept = tokio::spawn(async move {
        while let Ok((io, _)) = listener.accept().await {
            if nodelay {
                let _ = io.set_nodelay(true);
            }
            if acceptor.accept(Transport::from_tokio_io(io)).is_err() {
                return;
            }
        }
    });
    Ok(Node {
        id,
        repo,
        port,
        accept,
    })
}

/// samod's `TcpDialer` with `TCP_NODELAY` set (samod's own leaves Nagle on).
struct NodelayDialer {
    port: u16,
}

impl Dialer for NodelayDialer {
    type Error = Infallible;

    fn url(&self) -> samod::Url {
        samod::Url::parse(&format!("tcp://127.0.0.1:{}", self.port)).expect("a valid URL")
    }

    fn connect(
        &self,
    ) -> futures::future::BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let port = self.port;
        async move {
            let io = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(DialError::transient)?;
            io.set_nodelay(true).map_err(DialError::transient)?;
            Ok(Transport::from_tokio_io(io))
        }
        .boxed()
    }
}

/// `from` dials `to` and waits for the handshake on both sides.
async fn link(from: &Node, to: &Node, opts: &Options) -> Result<()> {
    let backoff = BackoffConfig {
        initial_delay: Duration::from_millis(50),
        max_delay: Duration::from_secs(2),
        max_retries: Some(20),
    };
    let established = if opts.samod_nodelay {
        from.repo
            .dial(backoff, Arc::new(NodelayDialer { port: to.port }))
            .map_err(|_| anyhow!("samod repo stopped"))?
            .established()
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("{e}"))
    } else {
        let url = samod::Url::parse(&format!("tcp://127.0.0.1:{}", to.port))?;
        from.repo
            .dial_tcp(url, backoff)
            .map_err(|e| anyhow!("{e}"))?
            .established()
            .await
            .map(|_| ())
            .map_err(|e| anyhow!("{e}"))
    };
    established?;
    to.repo
        .when_connected(from.id.clone())
        .await
        .map_err(|_| anyhow!("samod repo stopped"))?;
    Ok(())
}

/// The document: an `offerings` map of `n` records of eight strings, one change per record
/// (as kreisnetz's API writes make one change per create).
fn build_document(n: usize) -> Result<(automerge::Automerge, Vec<String>)> {
    let offerings = workload::offerings(workload::samod_district(), n);
    let mut doc = automerge::Automerge::new();
    let map = doc
        .transact::<_, _, AutomergeError>(|tx| tx.put_object(ROOT, "offerings", ObjType::Map))
        .map_err(|f| anyhow!("{}", f.error))?
        .result;
    let mut keys = Vec::with_capacity(n);
    for o in &offerings {
        let key = o.id.to_string();
        doc.transact::<_, _, AutomergeError>(|tx| {
            let rec = tx.put_object(&map, key.as_str(), ObjType::Map)?;
            for (field, value) in workload::eight_fields(o) {
                tx.put(&rec, field, value)?;
            }
            Ok(())
        })
        .map_err(|f| anyhow!("{}", f.error))?;
        keys.push(key);
    }
    Ok((doc, keys))
}

fn count(h: &DocHandle) -> usize {
    h.with_document(|d| match d.get(ROOT, "offerings") {
        Ok(Some((_, obj))) => d.length(&obj),
        _ => 0,
    })
}

fn record(d: &automerge::Automerge, key: &str) -> Option<automerge::ObjId> {
    let (_, offerings) = d.get(ROOT, "offerings").ok()??;
    let (_, rec) = d.get(&offerings, key).ok()??;
    Some(rec)
}

fn has_title(h: &DocHandle, key: &str, title: &str) -> bool {
    h.with_document(|d| {
        let Some(rec) = record(d, key) else {
            return false;
        };
        match d.get(&rec, "title") {
            Ok(Some((v, _))) => v.as_str() == Some(title),
            _ => false,
        }
    })
}

fn set_title(h: &DocHandle, key: &str, title: &str) -> Result<()> {
    h.with_document(|d| {
        let rec = record(d, key).ok_or_else(|| anyhow!("no record {key}"))?;
        d.transact::<_, _, AutomergeError>(|tx| tx.put(&rec, "title", title))
            .map_err(|f| anyhow!("{}", f.error))?;
        Ok(())
    })
}

/// Waits on `changes` until `check` holds (checked first, then after each notification).
async fn until(changes: &mut Changes, mut check: impl FnMut() -> bool) -> Result<()> {
    loop {
        if check() {
            return Ok(());
        }
        if changes.next().await.is_none() {
            bail!("the change stream ended");
        }
    }
}

async fn find(node: &Node, doc_id: &samod::DocumentId) -> Result<DocHandle> {
    node.repo
        .find(doc_id.clone())
        .await
        .map_err(|_| anyhow!("samod repo stopped"))?
        .ok_or_else(|| anyhow!("{} did not find the document", node.id))
}

/// Waits until `h` holds all `n` offerings.
async fn complete(h: &DocHandle, n: usize, limit: Duration) -> Result<()> {
    let mut stream = changes(h);
    tokio::time::timeout(limit, until(&mut stream, || count(h) == n))
        .await
        .map_err(|_| anyhow!("the document did not complete within {} s", limit.as_secs()))?
}

fn base(opts: &Options) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("n".into(), json!(opts.offerings));
    m.insert(
        "transport".into(),
        json!(if opts.samod_nodelay {
            "samod tokio_io length-delimited frames over TCP 127.0.0.1 with TCP_NODELAY (custom Dialer), no TLS"
        } else {
            "samod tokio_io length-delimited frames over TCP 127.0.0.1 (stock TcpDialer: Nagle on), no TLS"
        }),
    );
    m.insert(
        "storage".into(),
        json!(match opts.samod_storage {
            SamodStorage::Memory => "InMemoryStorage (samod's default)",
            SamodStorage::Fs => "TokioFilesystemStorage on local disk (no fsync)",
        }),
    );
    m.insert(
        "variant".into(),
        json!(if opts.samod_nodelay {
            "nodelay"
        } else {
            "stock"
        }),
    );
    m
}

fn rss(m: &mut Map<String, Value>) {
    m.insert("rss_peak_mib".into(), json!(peak_rss_mib()));
    m.insert("rss_now_mib".into(), json!(rss_mib()));
}

/// Edits on `editor` until every watcher has them; returns the latencies of the counted ones.
async fn edits(
    editor: &DocHandle,
    keys: &[String],
    watchers: &mut [(DocHandle, Changes)],
    opts: &Options,
    offset: usize,
) -> Result<Samples> {
    let (count, warmup) = (opts.edits, opts.warmup);
    let limit = Duration::from_secs(opts.timeout_secs);
    let budget = Duration::from_secs(opts.max_secs);
    let mut samples = Samples::with_capacity(count);
    let started_loop = Instant::now();
    for i in 0..warmup + count {
        if i > warmup && started_loop.elapsed() > budget {
            note(format!(
                "{SYSTEM}: stopped after {} of {count} edits: the loop's {} s budget is spent",
                i - warmup,
                budget.as_secs()
            ));
            break;
        }
        let k = offset + i;
        let key = &keys[k % keys.len()];
        let title = workload::edited_title(k);
        let started = Instant::now();
        set_title(editor, key, &title)?;
        for (h, changes) in watchers.iter_mut() {
            tokio::time::timeout(limit, until(changes, || has_title(h, key, &title)))
                .await
                .map_err(|_| anyhow!("edit {k} did not arrive within {} s", limit.as_secs()))??;
        }
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    Ok(samples)
}

pub async fn run(opts: &Options) -> Result<()> {
    let limit = Duration::from_secs(opts.timeout_secs);
    let root = tempfile::Builder::new()
        .prefix("samod-fedbench-")
        .tempdir()
        .context("temporary directory")?;
    reset_peak_rss();

    // (1) Initial sync.
    let a = start_node(0, opts, root.path()).await?;
    let building = Instant::now();
    let (doc, keys) = build_document(opts.offerings)?;
    let doc_bytes = doc.save().len();
    let handle_a = a
        .repo
        .create(doc)
        .await
        .map_err(|_| anyhow!("samod repo stopped"))?;
    let doc_id = handle_a.document_id().clone();
    note(format!(
        "samod: built the {}-offering document ({doc_bytes} bytes saved) and created it in repo A in {:.1} s",
        opts.offerings,
        building.elapsed().as_secs_f64()
    ));
    let b = start_node(1, opts, root.path()).await?;
    reset_peak_rss();
    let ports_ab = [a.port, b.port];
    let before = Snapshot::take(on_ports(&ports_ab));
    let started = Instant::now();
    link(&a, &b, opts).await?;
    let handle_b = find(&b, &doc_id).await?;
    complete(&handle_b, opts.offerings, limit).await?;
    let took = started.elapsed();
    let b_port = b.port;
    let b_received = Snapshot::take(|s| s.local.port() == b_port).total();
    let both = Snapshot::take(on_ports(&ports_ab)).since(&before);
    let mut m = base(opts);
    m.insert("ms".into(), json!(ms(took)));
    m.insert("bytes".into(), json!(b_received));
    m.insert("bytes_both_ways".into(), json!(both));
    m.insert("doc_bytes".into(), json!(doc_bytes));
    m.insert(
        "measured".into(),
        json!("from A dialing B until B's find() returned and its handle holds n offerings (change notifications); bytes = TCP payload B received on the link"),
    );
    rss(&mut m);
    emit(SYSTEM, "initial_sync", m);

    // (2) One hop.
    reset_peak_rss();
    let mut watch_b = vec![(handle_b.clone(), changes(&handle_b))];
    let before = Snapshot::take(on_ports(&ports_ab));
    let samples = edits(&handle_a, &keys, &mut watch_b, opts, 0).await?;
    let wire = Snapshot::take(on_ports(&ports_ab)).since(&before);
    let mut m = base(opts);
    m.insert("edits".into(), json!(opts.edits));
    samples.summary(&mut m);
    m.insert("bytes".into(), json!(wire));
    m.insert(
        "bytes_per_edit".into(),
        json!(wire / (samples.len() + opts.warmup).max(1) as u64),
    );
    m.insert(
        "measured".into(),
        json!("from just before with_document(put title) on A until B's changes() notification shows the new title; bytes = TCP payload both ways on the link over all edits (warm-up included)"),
    );
    rss(&mut m);
    emit(SYSTEM, "one_hop", m);
    drop(watch_b);
    if opts.no_nine {
        return finish(vec![a, b]).await;
    }

    // (3) Nine repos: B is the hub; A and seven new repos are its leaves. Then a full mesh.
    let setup = Instant::now();
    let mut nodes = vec![a, b];
    let mut handles = vec![handle_a.clone(), handle_b.clone()];
    for i in 2..9 {
        nodes.push(start_node(i, opts, root.path()).await?);
    }
    for i in 2..9 {
        link(&nodes[i], &nodes[1], opts).await?;
        let h = find(&nodes[i], &doc_id).await?;
        complete(&h, opts.offerings, limit).await?;
        handles.push(h);
    }
    note(format!(
        "samod: star of nine set up and converged in {:.1} s",
        setup.elapsed().as_secs_f64()
    ));
    let ports: Vec<u16> = nodes.iter().map(|n| n.port).collect();
    for (bench, links) in [("nine_star", 8), ("nine_mesh", 36)] {
        if bench == "nine_mesh" {
            for i in 0..9 {
                for j in (i + 1)..9 {
                    if i != 1 && j != 1 {
                        link(&nodes[i], &nodes[j], opts).await?;
                    }
                }
            }
            // Let the new connections finish their first exchange of the document.
            settle(&handles, 8, Duration::from_secs(5)).await;
        }
        reset_peak_rss();
        let mut watchers: Vec<(DocHandle, Changes)> = handles[1..]
            .iter()
            .map(|h| (h.clone(), changes(h)))
            .collect();
        let before = Snapshot::take(on_ports(&ports));
        let offset = if bench == "nine_star" { 10_000 } else { 20_000 };
        let samples = edits(&handle_a, &keys, &mut watchers, opts, offset).await?;
        let wire = Snapshot::take(on_ports(&ports)).since(&before);
        let mut m = base(opts);
        m.insert("nodes".into(), json!(9));
        m.insert("links".into(), json!(links));
        m.insert("edits".into(), json!(opts.edits));
        samples.summary(&mut m);
        m.insert("bytes".into(), json!(wire));
        m.insert(
            "bytes_per_edit".into(),
            json!(wire / (samples.len() + opts.warmup).max(1) as u64),
        );
        m.insert(
            "measured".into(),
            json!(if bench == "nine_star" {
                "edit on leaf A; from just before with_document until all eight other repos' changes() showed it (hub + 7 leaves via the hub); bytes = TCP payload on all links, all edits"
            } else {
                "full mesh (36 TCP links); edit on A until all eight other repos' changes() showed it; bytes = TCP payload on all links, all edits"
            }),
        );
        m.insert(
            "note".into(),
            json!("all nine repos run in this one process on one tokio runtime"),
        );
        rss(&mut m);
        emit(SYSTEM, bench, m);
    }

    finish(nodes).await
}

/// The memory line, then every repo stops.
async fn finish(nodes: Vec<Node>) -> Result<()> {
    let mut m = Map::new();
    m.insert("nodes".into(), json!(nodes.len()));
    m.insert("rss_peak_mib_last_phase".into(), json!(peak_rss_mib()));
    m.insert("rss_now_mib".into(), json!(rss_mib()));
    m.insert(
        "note".into(),
        json!("one process holding all repos, the tokio runtime and the benchmark"),
    );
    emit(SYSTEM, "memory", m);
    for n in nodes {
        n.accept.abort();
        n.repo.stop().await;
    }
    Ok(())
}

/// Waits (at most `limit`) until every handle knows `peers` connections for the document.
async fn settle(handles: &[DocHandle], peers: usize, limit: Duration) {
    let started = Instant::now();
    while started.elapsed() < limit {
        if handles.iter().all(|h| h.peers().0.len() >= peers) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    note("samod: not every repo reported all mesh connections for the document; going on");
}
