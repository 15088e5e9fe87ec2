//! Starting and stopping a node: open storage, load the document, start the writer, serve the
//! API; on shutdown stop accepting calls, let in-flight writes finish, flush, and return.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use kreisnetz_identity::Identity;
use kreisnetz_proto::v1::{
    change_feed_service_server::ChangeFeedServiceServer,
    contact_service_server::ContactServiceServer, node_service_server::NodeServiceServer,
    offering_service_server::OfferingServiceServer, report_service_server::ReportServiceServer,
};
use kreisnetz_storage::{SledStore, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;

use std::collections::HashMap;

use kreisnetz_model::DistrictId;
use kreisnetz_proto::v1::federation_service_server::FederationServiceServer;
use kreisnetz_proto::v1::token_service_server::TokenServiceServer;
use kreisnetz_transport::PinnedPeers;

use crate::api::{Api, ApiState};
use crate::config::Config;
use crate::federation::connection::{FederationService, Links};
use crate::federation::shell::Shell;
use crate::federation::{FederationAdmin, FederationStatus, ShellInput};
use crate::view::RegionView;
use crate::writer::{Published, Writer, district_view, open_document};

/// The sled database lives here inside the data directory.
pub const DB_DIR: &str = "db";

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("identity: {0}")]
    Identity(#[from] kreisnetz_identity::IdentityError),
    // `cause`, not `source`: the message already says it, and a `source` would print it twice.
    #[error("storage at {path}: {cause}")]
    Storage {
        path: PathBuf,
        cause: kreisnetz_storage::StoreError,
    },
    #[error(
        "the data directory {data_dir} holds this node's keys but no database ({db} is missing \
         or empty). If it was moved or lost, put it back or restore the data directory from a \
         backup. To start with an empty database on purpose, run `kreisnetz serve \
         --recreate-database`: the district's own data then comes back from peers that hold it, \
         change-feed clients are told to start over, and API tokens must be created anew"
    )]
    MissingDatabase { data_dir: PathBuf, db: PathBuf },
    #[error(
        "the database in {db} belongs to district {stored}, but district.key is the key of \
         district {key}: put back the district.key of {stored}, or use a data directory of \
         district {key}"
    )]
    WrongDistrict {
        db: PathBuf,
        stored: String,
        key: DistrictId,
    },
    #[error(
        "the database in {db} is damaged: {cause}. Nothing was served. `kreisnetz check \
         --data-dir {data_dir}` reports every damaged value. Restore the data directory from a \
         backup, or start with `kreisnetz serve --recreate-database` (the damaged database is \
         kept aside) to fetch the district's data again from peers"
    )]
    Damaged {
        data_dir: PathBuf,
        db: PathBuf,
        cause: kreisnetz_storage::StoreError,
    },
    #[error(transparent)]
    Open(#[from] crate::writer::OpenError),
    #[error("cannot listen on {addr}: {cause} (is another node running there? set {key})")]
    Bind {
        addr: SocketAddr,
        /// The configuration key of this address (`api.listen`, `federation.listen`, ...).
        key: &'static str,
        cause: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

/// A running node.
pub struct RunningNode {
    /// Where the API actually listens (useful with port 0).
    pub api_addr: SocketAddr,
    /// Where the federation service actually listens.
    pub federation_addr: SocketAddr,
    /// Run-time control of peers and trusted districts (also used for SIGHUP).
    pub admin: Arc<FederationAdmin>,
    /// The node's Prometheus metrics, and where they are served (`None`: disabled).
    pub metrics: crate::metrics::Metrics,
    pub metrics_addr: Option<SocketAddr>,
    metrics_server: Option<crate::metrics::MetricsServer>,
    fed_server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    sync: std::thread::JoinHandle<()>,
    pub district: kreisnetz_model::DistrictId,
    pub node_id: kreisnetz_model::NodeId,
    shutdown: watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    writer: std::thread::JoinHandle<()>,
    store: Arc<dyn Store>,
    published: Arc<Published>,
    tokens: Arc<crate::auth::Tokens>,
    grace: std::time::Duration,
}

/// How to start beyond the configuration.
#[derive(Clone, Debug, Default)]
pub struct StartOptions {
    /// Start with a new, empty database even though the data directory has keys (the old
    /// database, if any, is moved aside to `db.old-<unix time>`, never deleted).
    pub recreate_database: bool,
}

/// For tests: the path of a control file naming storage operations to fail (see
/// `kreisnetz_storage::faulty`). Never set it in production.
pub const STORAGE_FAULTS_ENV: &str = "KREISNETZ_STORAGE_FAULTS";

/// The meta key under which the database records the district it belongs to.
const META_DISTRICT: &str = "node.district";

/// Opens the node's database in `data_dir`, refusing one that is missing (while the keys are
/// there), damaged, or another district's. Everything a client could be served is verified
/// first: a damaged database is reported, never served.
pub fn open_store(
    data_dir: &Path,
    district: DistrictId,
    identity_created: bool,
    options: &StartOptions,
) -> Result<SledStore, StartError> {
    let db_path = data_dir.join(DB_DIR);
    let has_files = |p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some());
    if options.recreate_database && has_files(&db_path) {
        let secs = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let aside = data_dir.join(format!("{DB_DIR}.old-{secs}"));
        std::fs::rename(&db_path, &aside).map_err(|e| {
            StartError::Other(format!(
                "cannot move {} aside to {}: {e}",
                db_path.display(),
                aside.display()
            ))
        })?;
        tracing::warn!(old = %aside.display(), "--recreate-database: moved the old database aside");
    }
    let storage = |cause| StartError::Storage {
        path: db_path.clone(),
        cause,
    };
    let missing = || StartError::MissingDatabase {
        data_dir: data_dir.to_path_buf(),
        db: db_path.clone(),
    };
    if !identity_created && !options.recreate_database && !has_files(&db_path) {
        return Err(missing());
    }
    let store = SledStore::open(&db_path).map_err(|cause| match cause {
        kreisnetz_storage::StoreError::Corrupt { .. } => StartError::Damaged {
            data_dir: data_dir.to_path_buf(),
            db: db_path.clone(),
            cause,
        },
        other => storage(other),
    })?;
    let started = std::time::Instant::now();
    let values = store.verify().map_err(|cause| StartError::Damaged {
        data_dir: data_dir.to_path_buf(),
        db: db_path.clone(),
        cause,
    })?;
    tracing::info!(
        values,
        ms = started.elapsed().as_millis() as u64,
        "verified the database"
    );
    let own = district.to_string();
    match store.meta(META_DISTRICT).map_err(storage)? {
        Some(stored) if stored == own.as_bytes() => {}
        Some(stored) => {
            return Err(StartError::WrongDistrict {
                db: db_path.clone(),
                stored: String::from_utf8_lossy(&stored).into_owned(),
                key: district,
            });
        }
        None => {
            let documents = store.documents().map_err(storage)?;
            let fresh = store.created() || documents.is_empty();
            if !fresh && !documents.contains(&own) {
                // Written before databases recorded their district: one that lacks the own
                // document belongs to someone else.
                return Err(StartError::WrongDistrict {
                    db: db_path.clone(),
                    stored: "another district (it holds no document of this district)".into(),
                    key: district,
                });
            }
            if store.created() && !identity_created && !options.recreate_database {
                return Err(missing());
            }
            store
                .put_meta(META_DISTRICT, own.as_bytes())
                .and_then(|()| store.flush())
                .map_err(storage)?;
        }
    }
    Ok(store)
}

/// Starts a node on `data_dir` with `config`. Creates the identity on first start.
pub async fn start(data_dir: &Path, config: Config) -> Result<RunningNode, StartError> {
    start_with(data_dir, config, StartOptions::default()).await
}

/// [`start`] with [`StartOptions`].
pub async fn start_with(
    data_dir: &Path,
    config: Config,
    options: StartOptions,
) -> Result<RunningNode, StartError> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(data_dir)
            .map_err(|e| {
                StartError::Other(format!(
                    "cannot create data directory {}: {e}",
                    data_dir.display()
                ))
            })?;
    }
    crate::files::check_permissions(data_dir).map_err(StartError::Other)?;
    let node_name = if config.district.name.is_empty() {
        "kreisnetz node"
    } else {
        &config.district.name
    };
    let (identity, created) = Identity::load_or_create(data_dir, node_name)?;
    let district = identity.district.id();
    let node_id = identity.node.id;
    if created {
        tracing::info!(%district, node = %node_id, "created a new identity");
    }

    let db_path = data_dir.join(DB_DIR);
    let sled = open_store(data_dir, district, created, &options)?;
    let store: Arc<dyn Store> = match std::env::var_os(STORAGE_FAULTS_ENV) {
        Some(path) if !path.is_empty() => {
            tracing::warn!(
                control = %std::path::Path::new(&path).display(),
                "{STORAGE_FAULTS_ENV} is set: storage faults are injected from that file (tests only)"
            );
            Arc::new(kreisnetz_storage::FaultyStore::new(
                sled,
                kreisnetz_storage::FaultSwitch::from_file(path.into()),
            ))
        }
        _ => Arc::new(sled),
    };
    let tokens = Arc::new(
        crate::auth::Tokens::load(store.clone())
            .map_err(|e| StartError::Other(format!("API tokens: {e}")))?,
    );
    if let Some(path) = crate::auth::ensure_admin_token(&tokens, data_dir)
        .map_err(|e| StartError::Other(format!("API tokens: {e}")))?
    {
        tracing::info!(file = %path.display(), "created the first admin token");
    }
    let loaded = std::time::Instant::now();
    let (doc, snapshot_bytes, chunk_bytes) = open_document(store.as_ref(), district)?;
    let own = district_view(&doc, &config.district.name);
    tracing::info!(
        offerings = own.offerings.len(),
        contacts = own.contacts.len(),
        ms = loaded.elapsed().as_millis() as u64,
        "loaded the district document"
    );
    let view = Arc::new(RwLock::new(RegionView::default()));
    if let Ok(mut v) = view.write() {
        v.districts.insert(district, own);
    }
    let (feed_head, feed_rx) = watch::channel(store.feed_head());
    let (heads_tx, heads_rx) = watch::channel(Vec::new());
    let published = Arc::new(Published {
        view: view.clone(),
        feed_head,
        heads: heads_tx,
        stored_bytes: Default::default(),
        stopping: Default::default(),
    });
    let metrics = crate::metrics::Metrics::new();
    let mut writer = Writer::new(
        district,
        doc,
        store.clone(),
        published.clone(),
        config.storage.max_batch,
        config.storage.compact_min_bytes,
        snapshot_bytes,
        chunk_bytes,
    );
    if !config.district.name.is_empty() {
        writer
            .set_metadata(&config.district.name, &config.district.ags)
            .map_err(|e| StartError::Other(e.to_string()))?;
    } else {
        writer
            .persist_pending("genesis")
            .map_err(|e| StartError::Other(e.to_string()))?;
        tracing::warn!(
            "district.name is not set in the configuration; set it so other districts see who you are"
        );
    }
    // The federation: the sync core gets a copy of the own document and every replica.
    let (sync_tx, sync_rx) = tokio::sync::mpsc::channel(4096);
    let mut core_docs = vec![writer.fork_document()];
    let mut stored_sizes = HashMap::from([(district, (snapshot_bytes, chunk_bytes))]);
    let trusted_names: HashMap<DistrictId, String> = config
        .trusted
        .iter()
        .map(|t| (t.district_id, t.name.clone()))
        .collect();
    for key in store.documents().map_err(|cause| StartError::Storage {
        path: db_path.clone(),
        cause,
    })? {
        let Ok(other) = key.parse::<DistrictId>() else {
            tracing::warn!(document = %key, "skipping a stored document whose ID is not a district ID");
            continue;
        };
        if other == district {
            continue;
        }
        let (doc, other_snapshot, other_chunks) = open_document(store.as_ref(), other)?;
        stored_sizes.insert(other, (other_snapshot, other_chunks));
        let name = trusted_names.get(&other).cloned().unwrap_or_default();
        let mut replica = district_view(&doc, &name);
        let (doc_name, _) = doc.metadata();
        if !doc_name.is_empty() {
            replica.name = doc_name;
        }
        if let Ok(mut v) = view.write() {
            v.districts.insert(other, replica);
        }
        core_docs.push(doc);
    }
    let core = kreisnetz_sync::SyncCore::new(
        node_id,
        district,
        core_docs,
        config.trusted.iter().map(|t| t.district_id).collect(),
        kreisnetz_sync::Limits {
            max_message_bytes: config.federation.max_frame_bytes,
            max_document_bytes: config.federation.max_document_bytes,
        },
    );
    // The owners' signatures stored with each document (checked again by the core), and the
    // district key, with which the core signs the own document's heads after each change.
    let mut records = Vec::new();
    for doc in core.documents() {
        match store.meta(&crate::federation::shell::signed_key(&doc)) {
            Ok(Some(bytes)) => match kreisnetz_sync::signed::decode_list(&bytes) {
                Ok(list) => records.extend(list),
                Err(e) => {
                    tracing::warn!(%doc, error = %e, "ignoring unreadable signed-heads records")
                }
            },
            Ok(None) => {}
            Err(e) => tracing::warn!(%doc, error = %e, "cannot read signed-heads records"),
        }
    }
    let now_ms = kreisnetz_model::Timestamp::now().0.max(0) as u64;
    let core = core
        .with_signed(records)
        .with_district_key(identity.district.clone(), now_ms);
    let fed_status = Arc::new(RwLock::new(FederationStatus::default()));
    let trusted_names = Arc::new(RwLock::new(trusted_names));
    let shell = Shell::new(
        node_id,
        district,
        core,
        store.clone(),
        view.clone(),
        published.clone(),
        fed_status.clone(),
        trusted_names.clone(),
    );
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let sync_join = shell
        .with_stored_sizes(stored_sizes, config.storage.compact_min_bytes)
        .with_metrics(metrics.clone())
        .with_shutdown(shutdown_rx.clone())
        .spawn(sync_rx);
    let (writer_handle, writer_join) = writer
        .with_sync(sync_tx.clone())
        .with_metrics(metrics.clone())
        .spawn(4096);
    let _ = sync_tx
        .send(ShellInput::Writer(writer_handle.downgrade()))
        .await;

    let listener = TcpListener::bind(config.api.listen)
        .await
        .map_err(|cause| StartError::Bind {
            addr: config.api.listen,
            key: "api.listen",
            cause,
        })?;
    let api_addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let fed_listener = TcpListener::bind(config.federation.listen)
        .await
        .map_err(|cause| StartError::Bind {
            addr: config.federation.listen,
            key: "federation.listen",
            cause,
        })?;
    let federation_addr = fed_listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let metrics_server = crate::metrics::start(
        &config,
        data_dir,
        metrics.clone(),
        fed_status.clone(),
        shutdown_rx.clone(),
    )
    .await
    .map_err(StartError::Other)?;

    let node_identity = Arc::new(identity.node.clone());
    let pinned = PinnedPeers::new(config.peers.iter().map(|p| p.node_id));
    let links = Links {
        sync: sync_tx.clone(),
        max_frame_bytes: config.federation.max_frame_bytes,
        keepalive: config.federation.keepalive(),
        shutdown: shutdown_rx.clone(),
    };
    let admin = Arc::new(FederationAdmin::new(
        node_id,
        district,
        data_dir.to_path_buf(),
        config.clone(),
        pinned.clone(),
        sync_tx.clone(),
        links.clone(),
        node_identity.clone(),
        fed_status.clone(),
        trusted_names,
    ));
    let tls = kreisnetz_transport::server_config(&node_identity, pinned)
        .map_err(|e| StartError::Other(format!("federation TLS: {e}")))?;
    let fed_incoming = kreisnetz_transport::tls_incoming(fed_listener, tls);
    let fed_service = FederationServiceServer::new(FederationService { links })
        .max_decoding_message_size(config.federation.max_frame_bytes)
        .max_encoding_message_size(config.federation.max_frame_bytes);
    let mut fed_shutdown = shutdown_rx.clone();
    let fed_server = tokio::spawn(
        tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(config.federation.keepalive().interval))
            .http2_keepalive_timeout(Some(config.federation.keepalive().timeout))
            .add_service(fed_service)
            .serve_with_incoming_shutdown(fed_incoming, async move {
                let _ = fed_shutdown.wait_for(|stop| *stop).await;
            }),
    );
    admin.start();
    // Ticks let the sync core retry and keep the status fresh.
    let tick_tx = sync_tx;
    let tick_shutdown = shutdown_rx.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
        let stop = crate::stopped(tick_shutdown);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = every.tick() => if tick_tx.send(ShellInput::Tick).await.is_err() { return },
                _ = &mut stop => return,
            }
        }
    });

    // Feed retention and the storage gauges, every few seconds.
    {
        let store = store.clone();
        let metrics = metrics.clone();
        let keep = config.storage.feed_retention_events;
        let mut stop_rx = shutdown_rx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop_rx.wait_for(|stop| *stop) => return,
                }
                let store = store.clone();
                let metrics = metrics.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    let head = store.flushed_feed_head();
                    if keep > 0 && head > keep {
                        // At most 10,000 events a round, so that one batch stays small even
                        // when retention is first switched on for a long feed.
                        let up_to = (head - keep).min(store.feed_floor() + 10_000);
                        match store.prune_feed(up_to) {
                            Ok(0) => {}
                            Ok(n) => tracing::debug!(
                                pruned = n,
                                floor = store.feed_floor(),
                                "pruned the change feed"
                            ),
                            Err(e) => tracing::warn!(error = %e, "cannot prune the change feed"),
                        }
                    }
                    metrics.set_storage(
                        store.size_on_disk(),
                        store.feed_head().saturating_sub(store.feed_floor()),
                    );
                })
                .await;
            }
        });
    }

    let search = crate::search::start(
        view.clone(),
        store.clone(),
        feed_rx.clone(),
        shutdown_rx.clone(),
    )
    .map_err(|e| StartError::Other(format!("search index: {e}")))?;
    let state = ApiState {
        district,
        district_name: config.district.name.clone(),
        node_id,
        writer: writer_handle,
        view,
        store: store.clone(),
        feed_head: feed_rx,
        heads: heads_rx,
        shutdown: shutdown_rx.clone(),
        start_time: SystemTime::now(),
        api_address: api_addr.to_string(),
        federation_address: federation_addr.to_string(),
        federation: admin.clone(),
        tokens: tokens.clone(),
        search,
    };
    let api = Api(Arc::new(state));

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter
        .set_serving::<OfferingServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<ContactServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<ChangeFeedServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<NodeServiceServer<Api>>()
        .await;
    health_reporter
        .set_serving::<ReportServiceServer<Api>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(kreisnetz_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| StartError::Other(format!("reflection: {e}")))?;

    let api_tls = match (&config.api.tls_cert, &config.api.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::connections::tls_config(cert, key).map_err(StartError::Other)?)
        }
        _ => None,
    };
    let incoming = crate::connections::incoming(
        listener,
        api_tls,
        crate::connections::Limits::of(&config.api),
    );
    crate::auth::spawn_last_used_saver(tokens.clone(), shutdown_rx.clone());
    let auth = crate::auth::Authenticate(tokens.clone());
    let secs = std::time::Duration::from_secs;
    let mut builder = tonic::transport::Server::builder()
        .timeout(secs(config.api.request_timeout_secs))
        .http2_keepalive_interval(Some(secs(config.api.keepalive_interval_secs)))
        .http2_keepalive_timeout(Some(secs(config.api.keepalive_timeout_secs)))
        .max_concurrent_streams(config.api.max_concurrent_streams)
        // Headers carry a token and little else; hyper's default allows 16 MiB.
        .http2_max_header_list_size(64 << 10)
        .layer(crate::connections::TrackRequests);
    let mut shutdown_wait = shutdown_rx;
    // Health and reflection stay open; everything else needs a token.
    let router = builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(OfferingServiceServer::with_interceptor(
            api.clone(),
            auth.clone(),
        ))
        .add_service(ContactServiceServer::with_interceptor(
            api.clone(),
            auth.clone(),
        ))
        .add_service(ChangeFeedServiceServer::with_interceptor(
            api.clone(),
            auth.clone(),
        ))
        .add_service(TokenServiceServer::with_interceptor(
            api.clone(),
            auth.clone(),
        ))
        .add_service(ReportServiceServer::with_interceptor(
            api.clone(),
            auth.clone(),
        ))
        .add_service(NodeServiceServer::with_interceptor(api, auth));
    let server = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async move {
        let _ = shutdown_wait.wait_for(|stop| *stop).await;
    }));
    tracing::info!(api = %api_addr, federation = %federation_addr, %district, node = %node_id, "node is serving");
    Ok(RunningNode {
        api_addr,
        federation_addr,
        admin,
        metrics,
        metrics_addr: metrics_server.as_ref().map(|m| m.addr),
        metrics_server,
        fed_server,
        sync: sync_join,
        district,
        node_id,
        shutdown: shutdown_tx,
        server,
        writer: writer_join,
        store,
        published,
        tokens,
        grace: std::time::Duration::from_secs(config.api.shutdown_grace_secs),
    })
}

impl RunningNode {
    /// Stops gracefully: no new calls, in-flight writes finish and are flushed. Bounded: open
    /// calls get `api.shutdown_grace_secs`, everything after that at most 2 s more, whatever
    /// backlog the sync thread has (it is stored, or synced again from peers later).
    pub async fn shutdown(self) -> Result<(), String> {
        let started = tokio::time::Instant::now();
        let deadline = started + self.grace;
        let _ = self.shutdown.send(true);
        // Open calls finish and idle connections are told to go away; a client that does not
        // answer (dead peer, blocked process) must not keep the node from stopping.
        let mut server = self.server;
        let served = match tokio::time::timeout_at(deadline, &mut server).await {
            Ok(served) => served,
            Err(_) => {
                tracing::warn!(
                    grace_secs = self.grace.as_secs(),
                    "connections still open after the grace period; closing them"
                );
                server.abort();
                match server.await {
                    Err(e) if e.is_cancelled() => Ok(Ok(())),
                    other => other,
                }
            }
        };
        // No caller is left for writes still queued: the writer answers them without applying.
        self.published
            .stopping
            .store(true, std::sync::atomic::Ordering::Release);
        let after = tokio::time::Instant::now().max(deadline) + std::time::Duration::from_secs(2);
        let mut fed_server = self.fed_server;
        if tokio::time::timeout_at(deadline, &mut fed_server)
            .await
            .is_err()
        {
            fed_server.abort();
        }
        if let Some(metrics_server) = self.metrics_server {
            metrics_server
                .stop(deadline.saturating_duration_since(tokio::time::Instant::now()))
                .await;
        }
        drop(self.admin);
        // The servers owned the last writer and sync handles; both end after their current
        // batch.
        let writer = self.writer;
        let joined =
            tokio::time::timeout_at(after, tokio::task::spawn_blocking(move || writer.join()))
                .await;
        let sync = self.sync;
        if tokio::time::timeout_at(after, tokio::task::spawn_blocking(move || sync.join()))
            .await
            .is_err()
        {
            tracing::warn!(
                "the sync thread did not stop in time; its queued work is synced again later"
            );
        }
        // The tokens' last-used times since the last periodic save, flushed with the rest.
        if let Err(e) = self.tokens.save_last_used() {
            tracing::warn!(error = %e, "cannot save the tokens' last-used times");
        }
        let store = self.store;
        tokio::time::timeout_at(
            after + std::time::Duration::from_secs(1),
            tokio::task::spawn_blocking(move || store.flush()),
        )
        .await
        .map_err(|_| "the final flush did not finish in time".to_string())?
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("final flush failed: {e}"))?;
        tracing::debug!(ms = started.elapsed().as_millis() as u64, "shut down");
        match (served, joined) {
            (Ok(Ok(())), Ok(Ok(Ok(())))) => Ok(()),
            (Ok(Err(e)), _) => Err(format!("the API server failed: {e}")),
            (Err(e), _) => Err(format!("the API server task failed: {e}")),
            (_, Err(_)) => Err("the document writer did not stop in time".into()),
            (_, _) => Err("the document writer panicked".into()),
        }
    }

    /// Waits until the server ends by itself (it normally runs until shutdown).
    pub fn is_finished(&self) -> bool {
        self.server.is_finished()
    }
}
