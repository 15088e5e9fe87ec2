//! Starting, stopping and killing real node processes, and talking to them.
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kreisnetz_proto::v1;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub use kreisnetz_proto::{AuthedChannel as Authed, Bearer};

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_kreisnetz");
pub const CTL_BIN: &str = env!("CARGO_BIN_EXE_kreisnetzctl");

/// A node process with its own data directory, removed when the node is dropped.
pub struct TestNode {
    pub district: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub addr: String,
    /// host:port of the federation service.
    pub federation_addr: String,
    /// The admin token the node created on first start.
    pub token: String,
    /// Extra environment variables of the node process (e.g. `KREISNETZ_API__TLS_CERT`).
    env: Vec<(String, String)>,
    /// Extra arguments of `serve` for the next launch only.
    once_args: Vec<String>,
}

impl TestNode {
    /// Starts a fresh node for a district, on a free loopback port.
    pub fn start(district: &str) -> TestNode {
        TestNode::launched(district, tempfile::tempdir().expect("temp dir"))
    }

    /// Starts a fresh node for a district with extra environment variables, e.g. configuration
    /// keys (`KREISNETZ_API__TLS_CERT`); a restart keeps them.
    pub fn start_with_env(district: &str, env: &[(&str, &str)]) -> TestNode {
        let mut node = TestNode {
            district: district.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
            child: None,
            addr: String::new(),
            federation_addr: String::new(),
            token: String::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            once_args: Vec::new(),
        };
        node.launch();
        node
    }

    /// Starts a node of `district` on `dir` (initialised there first if it is empty).
    pub fn launched(district: &str, dir: tempfile::TempDir) -> TestNode {
        let mut node = TestNode {
            district: district.to_string(),
            dir,
            child: None,
            addr: String::new(),
            federation_addr: String::new(),
            token: String::new(),
            env: Vec::new(),
            once_args: Vec::new(),
        };
        node.launch();
        node
    }

    /// A further node of `first`'s district (for availability): `kreisnetz init --district-key`
    /// with a copy of the district key, a node identity of its own.
    pub fn start_joining(first: &TestNode) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let status = Command::new(NODE_BIN)
            .args(["init", "--district", &first.district, "--data-dir"])
            .arg(dir.path())
            .arg("--district-key")
            .arg(first.dir.path().join("district.key"))
            .stdout(Stdio::null())
            .status()
            .expect("kreisnetz init");
        assert!(status.success(), "kreisnetz init --district-key failed");
        TestNode::launched(&first.district, dir)
    }

    fn launch(&mut self) {
        let addr_file = self.dir.path().join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
        // A restarted node keeps its federation port, so peers find it again at the same address.
        let federation_listen = if self.federation_addr.is_empty() {
            "127.0.0.1:0".to_string()
        } else {
            self.federation_addr.clone()
        };
        let log = std::fs::File::create(self.dir.path().join("node.log")).expect("log file");
        let child = Command::new(NODE_BIN)
            .args([
                "serve",
                "--api-listen",
                "127.0.0.1:0",
                "--district",
                &self.district,
                "--data-dir",
            ])
            .arg(self.dir.path())
            .args(["--federation-listen", &federation_listen])
            .args(std::mem::take(&mut self.once_args))
            .env("RUST_LOG", "info")
            .env("KREISNETZ_API__SHUTDOWN_GRACE_SECS", "3")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kreisnetz");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(text) = std::fs::read_to_string(&addr_file)
                && text.ends_with('\n')
            {
                self.addr = format!("http://{}", text.trim());
                let fed = std::fs::read_to_string(self.dir.path().join("federation.addr"))
                    .expect("federation.addr");
                self.federation_addr = fed.trim().to_string();
                let token = std::fs::read_to_string(self.dir.path().join("admin.token"))
                    .expect("admin.token");
                self.token = token.trim().to_string();
                return;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "node exited during start-up with {status}; log:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "node did not start within 60 s; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The API address as `https://host:port`, for a node started with `api.tls_cert` and
    /// `api.tls_key` (`addr` is always `http://`).
    pub fn https_addr(&self) -> String {
        self.addr.replacen("http://", "https://", 1)
    }

    /// The node process's ID, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// The node's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// The node's configuration file.
    pub fn config_path(&self) -> std::path::PathBuf {
        self.dir.path().join("kreisnetz.toml")
    }

    /// Sends SIGHUP (reload peers and trusted districts from the configuration file).
    pub fn hangup(&self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-HUP", &c.id().to_string()])
                .status();
        }
    }

    /// SIGKILL: no shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for a clean exit. Async, so that this test's own open connections keep
    /// being served while the node shuts down (as a real client's would).
    pub async fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let pid = c.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            // A graceful stop is bounded: a node that hangs in shutdown fails the test (and is
            // killed) instead of hanging the suite.
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                match c.try_wait().expect("wait for node") {
                    Some(status) => break status,
                    None if Instant::now() > deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        panic!(
                            "node did not stop within 60 s of SIGTERM; log:\n{}",
                            self.log()
                        );
                    }
                    None => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            };
            assert!(
                status.success(),
                "node did not stop cleanly ({status}); log:\n{}",
                self.log()
            );
        }
    }

    /// Starts the node again on the same data directory.
    pub fn restart(&mut self) {
        self.launch();
    }

    /// Starts the node again with extra `serve` arguments (this start only).
    pub fn restart_with(&mut self, args: &[&str]) {
        self.once_args = args.iter().map(|a| a.to_string()).collect();
        self.launch();
    }

    /// The node's data directory.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Runs `kreisnetz serve` on the (stopped) node's data directory and expects it to refuse
    /// to start: returns its stderr. Panics if it starts serving instead.
    pub fn serve_refused(&self, args: &[&str]) -> String {
        assert!(self.child.is_none(), "stop the node first");
        let err_file = self.dir.path().join("refused.log");
        let mut child = Command::new(NODE_BIN)
            .args(["serve", "--api-listen", "127.0.0.1:0", "--data-dir"])
            .arg(self.dir.path())
            .args(["--federation-listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&err_file).expect("log file"))
            .spawn()
            .expect("run kreisnetz serve");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline || self.dir.path().join("api.addr").exists() {
                let _ = child.kill();
                let _ = child.wait();
                let _ = std::fs::remove_file(self.dir.path().join("api.addr"));
                panic!(
                    "kreisnetz serve should have refused to start; stderr:\n{}",
                    std::fs::read_to_string(&err_file).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = std::fs::read_to_string(&err_file).unwrap_or_default();
        assert!(!status.success(), "{stderr}");
        stderr
    }

    /// Sends SIGTERM and returns how long the node took to exit, and whether it exited 0.
    pub async fn stop_timed(&mut self) -> (Duration, bool) {
        let mut c = self.child.take().expect("running");
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        loop {
            if let Some(status) = c.try_wait().expect("wait for node") {
                return (started.elapsed(), status.success());
            }
            if started.elapsed() > Duration::from_secs(120) {
                let _ = c.kill();
                let _ = c.wait();
                return (started.elapsed(), false);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.addr.clone())
            .expect("uri")
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect to node")
    }

    /// A channel that sends this node's admin token with every call.
    pub async fn authed(&self) -> Authed {
        self.authed_as(&self.token).await
    }

    /// A channel that sends `token` with every call.
    pub async fn authed_as(&self, token: &str) -> Authed {
        InterceptedService::new(
            self.channel().await,
            Bearer::new(token).expect("ASCII token"),
        )
    }

    pub async fn offerings(&self) -> v1::offering_service_client::OfferingServiceClient<Authed> {
        v1::offering_service_client::OfferingServiceClient::new(self.authed().await)
    }

    pub async fn contacts(&self) -> v1::contact_service_client::ContactServiceClient<Authed> {
        v1::contact_service_client::ContactServiceClient::new(self.authed().await)
    }

    pub async fn feed(&self) -> v1::change_feed_service_client::ChangeFeedServiceClient<Authed> {
        v1::change_feed_service_client::ChangeFeedServiceClient::new(self.authed().await)
    }

    pub async fn status(&self) -> v1::NodeStatus {
        v1::node_service_client::NodeServiceClient::new(self.authed().await)
            .get_node_status(v1::GetNodeStatusRequest {})
            .await
            .expect("status")
            .into_inner()
    }

    pub async fn node_client(&self) -> v1::node_service_client::NodeServiceClient<Authed> {
        v1::node_service_client::NodeServiceClient::new(self.authed().await)
    }

    /// Makes `other` a peer this node dials, and trusts `other`'s district.
    pub async fn dial(&self, other: &TestNode) {
        let theirs = other.status().await;
        let mut admin = self.node_client().await;
        admin
            .add_peer(v1::AddPeerRequest {
                node_id: theirs.node_id.clone(),
                address: other.federation_addr.clone(),
            })
            .await
            .expect("add peer");
        admin
            .trust_district(v1::TrustDistrictRequest {
                district_id: theirs.district_id,
                name: other.district.clone(),
            })
            .await
            .expect("trust district");
    }

    /// Makes `other` a peer this node accepts (without dialing it).
    pub async fn accept(&self, other: &TestNode) {
        let theirs = other.status().await;
        let mut admin = self.node_client().await;
        admin
            .add_peer(v1::AddPeerRequest {
                node_id: theirs.node_id,
                address: String::new(),
            })
            .await
            .expect("add peer");
    }

    /// Trusts a district by ID.
    pub async fn trust(&self, district_id: &str, name: &str) {
        self.node_client()
            .await
            .trust_district(v1::TrustDistrictRequest {
                district_id: district_id.into(),
                name: name.into(),
            })
            .await
            .expect("trust district");
    }

    pub async fn peers(&self) -> Vec<v1::Peer> {
        self.node_client()
            .await
            .list_peers(v1::ListPeersRequest {})
            .await
            .expect("peers")
            .into_inner()
            .peers
    }

    pub async fn documents(&self) -> Vec<v1::Document> {
        self.node_client()
            .await
            .list_documents(v1::ListDocumentsRequest {})
            .await
            .expect("documents")
            .into_inner()
            .documents
    }

    /// Runs `kreisnetzctl --node <this node> ARGS`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(CTL_BIN)
            .arg("--node")
            .arg(&self.addr)
            .arg("--token")
            .arg(&self.token)
            .args(args)
            .output()
            .expect("run kreisnetzctl")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Creates `language_course(title)` on `node` (the node picks the ID); the refusal if any.
pub async fn try_create(node: &TestNode, title: &str) -> Result<v1::Offering, tonic::Status> {
    node.offerings()
        .await
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course(title)),
            offering_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

/// A valid language course in Vechta.
pub fn language_course(title: &str) -> v1::Offering {
    v1::Offering {
        title: title.into(),
        description: "Deutsch für Pflegeberufe mit Praktikum".into(),
        category: v1::Category::LanguageCourse as i32,
        target_groups: vec![
            v1::TargetGroup::Refugees as i32,
            v1::TargetGroup::Women as i32,
        ],
        provider: "BBS Vechta".into(),
        provider_kind: v1::ProviderKind::School as i32,
        municipality: "Vechta".into(),
        languages: vec!["de".into()],
        start_date: "2027-02-01".into(),
        end_date: "2027-07-31".into(),
        places_total: Some(16),
        places_free: Some(5),
        status: v1::OfferingStatus::Planned as i32,
        ..Default::default()
    }
}

pub fn counsellor(name: &str) -> v1::Contact {
    v1::Contact {
        display_name: name.into(),
        organisation: "Jobcenter Vechta".into(),
        role: "Integrationscoach".into(),
        email: "coach@jobcenter-vechta.example.org".into(),
        ..Default::default()
    }
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

pub async fn list_all(node: &TestNode) -> Vec<v1::Offering> {
    let mut client = node.offerings().await;
    let mut out = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_offerings(v1::ListOfferingsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        out.extend(page.offerings);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// Polls `check` until it returns true; panics with `what` after a generous deadline. Not a
/// timing assertion: the deadline only turns a hang into a failure.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Titles of every offering a node lists, with the district each belongs to.
pub async fn titles_by_district(node: &TestNode) -> std::collections::BTreeSet<(String, String)> {
    list_all(node)
        .await
        .into_iter()
        .map(|o| (o.district_id, o.title))
        .collect()
}

/// A TCP proxy on loopback that the test can cut (drop every connection, refuse new ones) and
/// heal: a link failure injected on purpose.
pub struct FaultProxy {
    pub addr: String,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    generation: std::sync::Arc<std::sync::atomic::AtomicU64>,
    live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(target: &str) -> FaultProxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let cut = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let generation = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let target = target.to_string();
        let live = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (c, g, l) = (cut.clone(), generation.clone(), live.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if c.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let (c, g, l) = (c.clone(), g.clone(), l.clone());
                let born = g.load(Ordering::SeqCst);
                l.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    struct Live(std::sync::Arc<std::sync::atomic::AtomicUsize>);
                    impl Drop for Live {
                        fn drop(&mut self) {
                            self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                    let _live = Live(l);
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut inbound, &mut outbound);
                    tokio::pin!(copy);
                    loop {
                        tokio::select! {
                            _ = &mut copy => return,
                            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                                if c.load(Ordering::SeqCst) || g.load(Ordering::SeqCst) != born {
                                    return; // cut: both sockets are dropped
                                }
                            }
                        }
                    }
                });
            }
        });
        FaultProxy {
            addr,
            cut,
            generation,
            live,
            task,
        }
    }

    /// Cuts the link: returns once every open connection through the proxy is closed.
    pub async fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        while self.live.load(std::sync::atomic::Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub fn heal(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
