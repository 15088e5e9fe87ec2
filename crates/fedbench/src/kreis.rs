//! The kreisnetz side: in-process nodes (`kreisnetz_node::start`) on temporary data directories
//! on local disk, real pinned mutual TLS over 127.0.0.1, driven only through the public gRPC API
//! (authenticated with the admin token each node writes into its data directory) and the run-time
//! admin (`RunningNode::admin`, what `kreisnetzctl peer add` / `district trust` call).
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use kreisnetz_node::{Config, RunningNode};
use kreisnetz_proto::v1;
use kreisnetz_proto::v1::change_feed_service_client::ChangeFeedServiceClient;
use kreisnetz_proto::v1::node_service_client::NodeServiceClient;
use kreisnetz_proto::v1::offering_service_client::OfferingServiceClient;
use serde_json::{Map, Value, json};
use tonic::Streaming;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::Options;
use crate::stats::{Samples, emit, ms, note, peak_rss_mib, reset_peak_rss, rss_mib};
use crate::wire::{Snapshot, on_ports};
use crate::workload;

const SYSTEM: &str = "kreisnetz";
/// Concurrent API clients loading the first node.
const LOADERS: usize = 16;

/// An API connection that sends the node's admin token with every call.
type Authed = InterceptedService<Channel, Bearer>;

#[derive(Clone)]
struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

struct Node {
    name: &'static str,
    run: RunningNode,
    api: Authed,
    bearer: Bearer,
}

impl Node {
    fn fed_port(&self) -> u16 {
        self.run.federation_addr.port()
    }

    fn offerings(&self) -> OfferingServiceClient<Authed> {
        OfferingServiceClient::new(self.api.clone())
    }

    fn admin_api(&self) -> NodeServiceClient<Authed> {
        NodeServiceClient::new(self.api.clone())
    }

    async fn status(&self) -> Result<v1::NodeStatus> {
        Ok(self
            .admin_api()
            .get_node_status(v1::GetNodeStatusRequest {})
            .await?
            .into_inner())
    }

    /// How many offerings of `district` this node lists.
    async fn count(&self, district: &str) -> Result<usize> {
        let page = self
            .offerings()
            .list_offerings(v1::ListOfferingsRequest {
                page_size: 1,
                district_id: district.to_string(),
                ..Default::default()
            })
            .await?
            .into_inner();
        Ok(page.total_size.max(0) as usize)
    }

    /// The node's change feed from its current head on.
    async fn watch_from_now(&self) -> Result<Streaming<v1::ChangeEvent>> {
        let after = self.status().await?.feed_sequence;
        Ok(ChangeFeedServiceClient::new(self.api.clone())
            .watch(v1::WatchRequest {
                after_sequence: after,
                stop_at_head: false,
                ..Default::default()
            })
            .await?
            .into_inner())
    }
}

async fn start_node(root: &Path, i: usize) -> Result<Node> {
    let region = workload::region(i);
    let dir = root.join(region.key);
    let mut config = Config::default();
    config.district.name = region.name.to_string();
    config.district.ags = region.ags.to_string();
    config.api.listen = ([127, 0, 0, 1], 0).into();
    config.api.shutdown_grace_secs = 2;
    config.federation.listen = ([127, 0, 0, 1], 0).into();
    config.federation.backoff_min_ms = 50;
    config.federation.backoff_max_ms = 2_000;
    let run = kreisnetz_node::start(&dir, config)
        .await
        .map_err(|e| anyhow!("cannot start the node of {}: {e}", region.name))?;
    // The first admin token, which the node wrote into its data directory on first start.
    let token = std::fs::read_to_string(dir.join(kreisnetz_node::auth::ADMIN_TOKEN_FILE))
        .context("the node's admin token")?;
    let bearer = Bearer(
        format!("Bearer {}", token.trim())
            .parse()
            .context("the admin token")?,
    );
    let channel = Channel::from_shared(format!("http://{}", run.api_addr))?
        .connect()
        .await
        .context("connecting to the node's API")?;
    Ok(Node {
        name: region.name,
        run,
        api: InterceptedService::new(channel, bearer.clone()),
        bearer,
    })
}

/// `from` dials `to`; `to` accepts `from`. Trust is set up separately.
async fn link(from: &Node, to: &Node) -> Result<()> {
    to.run
        .admin
        .add_peer(from.run.node_id, String::new())
        .await?;
    from.run
        .admin
        .add_peer(to.run.node_id, to.run.federation_addr.to_string())
        .await?;
    Ok(())
}

async fn trust(node: &Node, other: &Node) -> Result<()> {
    node.run
        .admin
        .trust(other.run.district, other.name.to_string())
        .await?;
    Ok(())
}

/// Creates the offerings on `node` through the API, `LOADERS` clients each on its own
/// connection; returns their resource names in order.
async fn load(node: &Node, n: usize) -> Result<Vec<String>> {
    let offerings = workload::offerings(node.run.district, n);
    let per = n.div_ceil(LOADERS).max(1);
    let mut tasks = Vec::new();
    for (k, part) in offerings.chunks(per).enumerate() {
        let part: Vec<v1::CreateOfferingRequest> = part
            .iter()
            .map(|o| v1::CreateOfferingRequest {
                offering: Some(kreisnetz_proto::convert::offering_to_proto(o)),
                offering_id: o.id.to_string(),
            })
            .collect();
        let addr = format!("http://{}", node.run.api_addr);
        let bearer = node.bearer.clone();
        tasks.push(tokio::spawn(async move {
            let channel = Channel::from_shared(addr)?.connect().await?;
            let mut client = OfferingServiceClient::with_interceptor(channel, bearer);
            let mut names = Vec::with_capacity(part.len());
            for req in part {
                names.push(client.create_offering(req).await?.into_inner().name);
            }
            anyhow::Ok((k, names))
        }));
    }
    let mut parts = Vec::new();
    for t in tasks {
        parts.push(t.await??);
    }
    parts.sort_by_key(|(k, _)| *k);
    Ok(parts.into_iter().flat_map(|(_, names)| names).collect())
}

async fn update_title(
    client: &mut OfferingServiceClient<Authed>,
    name: &str,
    title: &str,
) -> Result<()> {
    client
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name: name.to_string(),
                title: title.to_string(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await?;
    Ok(())
}

/// Reads `stream` until it yields the update of `name` to `title`.
async fn arrival(stream: &mut Streaming<v1::ChangeEvent>, name: &str, title: &str) -> Result<()> {
    loop {
        let Some(event) = stream.message().await? else {
            bail!("the change feed ended");
        };
        if event.name == name
            && let Some(v1::change_event::Resource::Offering(o)) = &event.resource
            && o.title == title
        {
            return Ok(());
        }
    }
}

/// Polls `until` every millisecond until it holds, for at most `limit`.
async fn wait_for<F, Fut>(what: &str, limit: Duration, mut until: F) -> Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let started = Instant::now();
    loop {
        if until().await? {
            return Ok(started.elapsed());
        }
        if started.elapsed() > limit {
            bail!("{what}: not within {} s", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Runs edits on `editor` and waits each time until every stream in `watchers` has it.
async fn edits(
    editor: &Node,
    names: &[String],
    watchers: &mut [Streaming<v1::ChangeEvent>],
    opts: &Options,
    offset: usize,
) -> Result<Samples> {
    let (count, warmup) = (opts.edits, opts.warmup);
    let limit = Duration::from_secs(opts.timeout_secs);
    let budget = Duration::from_secs(opts.max_secs);
    let mut client = editor.offerings();
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
        let name = &names[k % names.len()];
        let title = workload::edited_title(k);
        let started = Instant::now();
        update_title(&mut client, name, &title).await?;
        for w in watchers.iter_mut() {
            tokio::time::timeout(limit, arrival(w, name, &title))
                .await
                .map_err(|_| anyhow!("edit {k} did not arrive within {} s", limit.as_secs()))??;
        }
        if i >= warmup {
            samples.push(started.elapsed());
        }
    }
    Ok(samples)
}

/// Whether `path` is on a tmpfs (where fsync costs nothing).
fn on_tmpfs(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path and `st` a zeroed statfs the call fills.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type == libc::TMPFS_MAGIC
    }
}

fn base(opts: &Options, storage: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("n".into(), json!(opts.offerings));
    m.insert(
        "variant".into(),
        json!(if storage.contains("tmpfs") {
            "tmpfs"
        } else {
            "disk"
        }),
    );
    m.insert(
        "transport".into(),
        json!("gRPC bidi stream, pinned mutual TLS (rustls), TCP 127.0.0.1, in-process nodes"),
    );
    m.insert("storage".into(), json!(storage));
    m
}

fn rss(m: &mut Map<String, Value>) {
    m.insert("rss_peak_mib".into(), json!(peak_rss_mib()));
    m.insert("rss_now_mib".into(), json!(rss_mib()));
}

pub async fn run(opts: &Options) -> Result<()> {
    let limit = Duration::from_secs(opts.timeout_secs);
    let mut temp = tempfile::Builder::new();
    temp.prefix("kreisnetz-fedbench-");
    let root = match &opts.kreisnetz_dir {
        Some(dir) => temp.tempdir_in(dir),
        None => temp.tempdir(),
    }
    .context("temporary directory")?;
    let storage = format!(
        "sled on {} under {}, flushed before acknowledging",
        if on_tmpfs(root.path()) {
            "tmpfs (fsync is free: the federation without disk latency)"
        } else {
            "local disk"
        },
        root.path()
            .parent()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    note(format!(
        "kreisnetz: data directories under {}",
        root.path().display()
    ));
    reset_peak_rss();

    // (1) Initial sync: A holds N offerings, a fresh B is linked to it.
    let a = start_node(root.path(), 0).await?;
    let loading = Instant::now();
    let names = load(&a, opts.offerings).await?;
    note(format!(
        "kreisnetz: loaded {} offerings into node A through the API in {:.1} s",
        names.len(),
        loading.elapsed().as_secs_f64()
    ));
    let a_district = a.run.district.to_string();
    let docs = a
        .admin_api()
        .list_documents(v1::ListDocumentsRequest {})
        .await?
        .into_inner()
        .documents;
    let doc_bytes = docs
        .iter()
        .find(|d| d.own)
        .map(|d| d.size_bytes)
        .unwrap_or(0);
    let b = start_node(root.path(), 1).await?;
    reset_peak_rss();
    let wire_before = Snapshot::take(on_ports(&[a.fed_port(), b.fed_port()]));
    let started = Instant::now();
    trust(&b, &a).await?;
    trust(&a, &b).await?;
    link(&a, &b).await?;
    wait_for("B lists all of A's offerings", limit, || {
        let (b, d) = (&b, &a_district);
        async move { Ok(b.count(d).await? == opts.offerings) }
    })
    .await?;
    let took = started.elapsed();
    let b_port = b.fed_port();
    let b_received = Snapshot::take(|s| s.local.port() == b_port).total();
    let all_wire = Snapshot::take(on_ports(&[a.fed_port(), b.fed_port()])).since(&wire_before);
    // The node publishes its peer counters after the batch that made the offerings visible.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let peers = b
        .admin_api()
        .list_peers(v1::ListPeersRequest {})
        .await?
        .into_inner()
        .peers;
    let frames = peers
        .iter()
        .find(|p| p.node_id == a.run.node_id.to_string())
        .map(|p| p.bytes_received)
        .unwrap_or(0);
    let mut m = base(opts, &storage);
    m.insert("ms".into(), json!(ms(took)));
    m.insert("bytes".into(), json!(b_received));
    m.insert("bytes_both_ways".into(), json!(all_wire));
    m.insert("bytes_frames_node_counted".into(), json!(frames));
    if doc_bytes > 0 {
        // The node's own estimate (compacted size plus every chunk appended since), not a save.
        m.insert("doc_size_bytes_reported".into(), json!(doc_bytes));
    }
    m.insert(
        "measured".into(),
        json!("from the first trust/add_peer call until B's ListOfferings(district=A).total_size == n, polled every 1 ms; bytes = TCP payload B received on the link (TLS included)"),
    );
    rss(&mut m);
    emit(SYSTEM, "initial_sync", m);

    // (2) One hop: edits on A until B's change feed yields them.
    reset_peak_rss();
    let mut watch_b = vec![b.watch_from_now().await?];
    let before = Snapshot::take(on_ports(&[a.fed_port(), b.fed_port()]));
    let samples = edits(&a, &names, &mut watch_b, opts, 0).await?;
    let wire = Snapshot::take(on_ports(&[a.fed_port(), b.fed_port()])).since(&before);
    let mut m = base(opts, &storage);
    m.insert("edits".into(), json!(opts.edits));
    samples.summary(&mut m);
    m.insert("bytes".into(), json!(wire));
    m.insert(
        "bytes_per_edit".into(),
        json!(wire / (samples.len() + opts.warmup).max(1) as u64),
    );
    m.insert(
        "measured".into(),
        json!("from just before UpdateOffering(title) on A until B's Watch stream yields the event; bytes = TCP payload both ways on the A-B link over all edits (warm-up included)"),
    );
    rss(&mut m);
    emit(SYSTEM, "one_hop", m);
    drop(watch_b);
    if opts.no_nine {
        return finish(vec![a, b]).await;
    }

    // (3) Nine nodes: B is the hub, A and seven new nodes are its leaves; every node trusts
    // every district. Then the remaining links make it a full mesh.
    let setup = Instant::now();
    let mut nodes = vec![a, b];
    for i in 2..9 {
        nodes.push(start_node(root.path(), i).await?);
    }
    for (i, n) in nodes.iter().enumerate() {
        for (j, other) in nodes.iter().enumerate() {
            if i != j && !(i < 2 && j < 2) {
                trust(n, other).await?;
            }
        }
    }
    for leaf in &nodes[2..] {
        link(leaf, &nodes[1]).await?;
    }
    converge(&nodes, 1, opts.offerings, &a_district, limit).await?;
    note(format!(
        "kreisnetz: star of nine set up and converged in {:.1} s (each new leaf got A's {} offerings through the hub)",
        setup.elapsed().as_secs_f64(),
        opts.offerings
    ));
    let fed_ports: Vec<u16> = nodes.iter().map(Node::fed_port).collect();
    for (bench, links) in [("nine_star", 8), ("nine_mesh", 36)] {
        if bench == "nine_mesh" {
            for i in 0..9 {
                for j in (i + 1)..9 {
                    let star_link = i == 1 || j == 1;
                    if !star_link {
                        link(&nodes[i], &nodes[j]).await?;
                    }
                }
            }
            converge(&nodes, 8, opts.offerings, &a_district, limit).await?;
        }
        reset_peak_rss();
        let mut watchers = Vec::new();
        for n in &nodes[1..] {
            watchers.push(n.watch_from_now().await?);
        }
        let before = Snapshot::take(on_ports(&fed_ports));
        let offset = if bench == "nine_star" { 10_000 } else { 20_000 };
        let samples = edits(&nodes[0], &names, &mut watchers, opts, offset).await?;
        let wire = Snapshot::take(on_ports(&fed_ports)).since(&before);
        let mut m = base(opts, &storage);
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
                "edit on leaf A (whose document holds the n offerings); from just before UpdateOffering until all eight other nodes' Watch streams yielded it (hub + 7 leaves via the hub); bytes = TCP payload on all links, all edits"
            } else {
                "full mesh (36 links); edit on A until all eight other nodes' Watch streams yielded it; bytes = TCP payload on all links, all edits"
            }),
        );
        m.insert(
            "note".into(),
            json!("all nine nodes run in this one process on the machine's cores"),
        );
        rss(&mut m);
        emit(SYSTEM, bench, m);
    }

    finish(nodes).await
}

/// The memory line, then every node stops.
async fn finish(nodes: Vec<Node>) -> Result<()> {
    let mut m = Map::new();
    m.insert("nodes".into(), json!(nodes.len()));
    m.insert("rss_peak_mib_last_phase".into(), json!(peak_rss_mib()));
    m.insert("rss_now_mib".into(), json!(rss_mib()));
    m.insert(
        "note".into(),
        json!("one process holding all nodes, their sled databases, the tokio runtime and the benchmark clients"),
    );
    emit(SYSTEM, "memory", m);
    for n in nodes {
        if let Err(e) = n.run.shutdown().await {
            note(format!("kreisnetz: a node did not stop cleanly: {e}"));
        }
    }
    Ok(())
}

/// Waits until every node lists A's offerings and is connected to `peers` peers with nothing
/// behind.
async fn converge(
    nodes: &[Node],
    peers: u32,
    n: usize,
    a_district: &str,
    limit: Duration,
) -> Result<()> {
    wait_for("the nine nodes converge", limit, || async move {
        for (i, node) in nodes.iter().enumerate() {
            let s = node.status().await?;
            let want_peers = if i == 1 { 8 } else { peers };
            if s.peers_connected < want_peers
                || s.documents < 9
                || s.documents_behind > 0
                || node.count(a_district).await? != n
            {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    Ok(())
}
