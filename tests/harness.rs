//! Starting, stopping and killing real node processes, and talking to them.
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kreisnetz_proto::v1;
use tonic::transport::Channel;

pub const NODE_BIN: &str = env!("CARGO_BIN_EXE_kreisnetz");
pub const CTL_BIN: &str = env!("CARGO_BIN_EXE_kreisnetzctl");

/// A node process with its own data directory, removed when the node is dropped.
pub struct TestNode {
    pub district: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
    pub addr: String,
}

impl TestNode {
    /// Starts a fresh node for a district, on a free loopback port.
    pub fn start(district: &str) -> TestNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut node = TestNode {
            district: district.to_string(),
            dir,
            child: None,
            addr: String::new(),
        };
        node.launch();
        node
    }

    fn launch(&mut self) {
        let addr_file = self.dir.path().join("api.addr");
        let _ = std::fs::remove_file(&addr_file);
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
            .env("RUST_LOG", "info")
            .env("KREISNETZ_API__SHUTDOWN_GRACE_SECS", "3")
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

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
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
            let status = tokio::task::spawn_blocking(move || c.wait())
                .await
                .expect("join")
                .expect("wait for node");
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

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.addr.clone())
            .expect("uri")
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await
            .expect("connect to node")
    }

    pub async fn offerings(&self) -> v1::offering_service_client::OfferingServiceClient<Channel> {
        v1::offering_service_client::OfferingServiceClient::new(self.channel().await)
    }

    pub async fn contacts(&self) -> v1::contact_service_client::ContactServiceClient<Channel> {
        v1::contact_service_client::ContactServiceClient::new(self.channel().await)
    }

    pub async fn feed(&self) -> v1::change_feed_service_client::ChangeFeedServiceClient<Channel> {
        v1::change_feed_service_client::ChangeFeedServiceClient::new(self.channel().await)
    }

    pub async fn status(&self) -> v1::NodeStatus {
        v1::node_service_client::NodeServiceClient::new(self.channel().await)
            .get_node_status(v1::GetNodeStatusRequest {})
            .await
            .expect("status")
            .into_inner()
    }

    /// Runs `kreisnetzctl --node <this node> ARGS`.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new(CTL_BIN)
            .arg("--node")
            .arg(&self.addr)
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
