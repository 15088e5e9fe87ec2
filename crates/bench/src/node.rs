//! Real node processes: finding the binary, starting a node on a temporary data directory,
//! waiting for its API, reading its memory, stopping it.
use std::fs::OpenOptions;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use kreisnetz_proto::v1::offering_service_client::OfferingServiceClient;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::report::note;

/// How long a node may take to write its `api.addr`.
const START_LIMIT: Duration = Duration::from_secs(120);
/// How long a node may take to exit after SIGTERM.
const STOP_LIMIT: Duration = Duration::from_secs(60);
/// The longest any single call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Where a started node writes its API address, in its data directory.
const API_ADDR_FILE: &str = "api.addr";
/// Where a node writes its first admin token on its first start, in its data directory.
const ADMIN_TOKEN_FILE: &str = "admin.token";
/// The sample district the benchmark nodes serve.
pub const DISTRICT_KEY: &str = "vechta";

/// What every benchmark needs: the node binary and where to put data directories.
pub struct Env {
    node_bin: PathBuf,
    work_dir: PathBuf,
    rust_log: String,
    keep: bool,
}

impl Env {
    pub fn new(
        node_bin: Option<PathBuf>,
        work_dir: Option<PathBuf>,
        rust_log: String,
        keep: bool,
    ) -> Result<Env> {
        let node_bin = match node_bin {
            Some(path) => path,
            None => std::env::current_exe()
                .context("cannot find this executable's path")?
                .parent()
                .context("this executable has no parent directory")?
                .join("kreisnetz"),
        };
        ensure!(
            node_bin.is_file(),
            "the node binary {} does not exist: run `cargo build --release --bins` first, \
             or pass --node-bin PATH",
            node_bin.display()
        );
        if node_bin.components().any(|c| c.as_os_str() == "debug") {
            note(format!(
                "warning: {} looks like a debug build; benchmark the release build",
                node_bin.display()
            ));
        }
        let work_dir = work_dir.unwrap_or_else(std::env::temp_dir);
        if let Some(fs) = filesystem_type(&work_dir)
            && fs == "tmpfs"
        {
            note(format!(
                "warning: {} is on tmpfs: flushes cost nothing there, so the write figures \
                 are too good; pass --work-dir on a real disk",
                work_dir.display()
            ));
        }
        Ok(Env {
            node_bin,
            work_dir,
            rust_log,
            keep,
        })
    }

    /// A new, empty temporary site (data directory plus log), removed when dropped unless
    /// `--keep` was given.
    pub fn site(&self) -> Result<Site> {
        let dir = tempfile::Builder::new()
            .prefix("kreisnetz-bench-")
            .disable_cleanup(self.keep)
            .tempdir_in(&self.work_dir)
            .with_context(|| format!("cannot create a temp dir in {}", self.work_dir.display()))?;
        std::fs::create_dir(dir.path().join("data"))?;
        if self.keep {
            note(format!("keeping {}", dir.path().display()));
        }
        Ok(Site { dir })
    }

    /// Spawns a node on the site's data directory and returns at once, without waiting for it.
    pub fn spawn(&self, site: &Site) -> Result<Node> {
        let data_dir = site.data_dir();
        let _ = std::fs::remove_file(data_dir.join(API_ADDR_FILE));
        let district = kreisnetz_sample::find_district(DISTRICT_KEY)
            .context("the sample district is missing")?
            .name;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(site.log())?;
        let spawned = Instant::now();
        let child = Command::new(&self.node_bin)
            .args([
                "serve",
                "--api-listen",
                "127.0.0.1:0",
                "--district",
                district,
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("RUST_LOG", &self.rust_log)
            // The federation service is not measured; a free loopback port keeps it from
            // clashing with another node on the default port.
            .env("KREISNETZ_FEDERATION__LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", self.node_bin.display()))?;
        Ok(Node {
            child: Some(child),
            data_dir,
            log: site.log(),
            spawned,
        })
    }

    /// Spawns a node and waits until it has written its API address.
    pub async fn start(&self, site: &Site) -> Result<(Node, Endpoint)> {
        let mut node = self.spawn(site)?;
        let endpoint = node.wait_for_endpoint().await?;
        Ok((node, endpoint))
    }
}

/// A temporary directory holding a node's data directory (`data/`) and its log (`node.log`,
/// outside the data directory so it does not count towards its size).
pub struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("node.log")
    }
}

/// A running node process; killed if dropped without [`Node::stop`].
pub struct Node {
    child: Option<Child>,
    data_dir: PathBuf,
    log: PathBuf,
    spawned: Instant,
}

impl Node {
    /// When the process was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    fn pid(&self) -> Result<u32> {
        Ok(self.child.as_ref().context("the node was stopped")?.id())
    }

    /// How to reach the API, once the node has written all of `api.addr` (it writes its admin
    /// token before that).
    pub fn read_endpoint(&self) -> Result<Option<Endpoint>> {
        let Ok(text) = std::fs::read_to_string(self.data_dir.join(API_ADDR_FILE)) else {
            return Ok(None);
        };
        let Some(line) = text.strip_suffix('\n') else {
            return Ok(None);
        };
        let addr: SocketAddr = line
            .parse()
            .with_context(|| format!("api.addr holds {line:?}, not an address"))?;
        ensure!(
            addr.ip().is_loopback(),
            "the node listens on {addr}, not on loopback; refusing to send traffic there"
        );
        let token_file = self.data_dir.join(ADMIN_TOKEN_FILE);
        let token = std::fs::read_to_string(&token_file)
            .with_context(|| format!("cannot read the admin token {}", token_file.display()))?;
        Ok(Some(Endpoint {
            addr,
            token: token.trim().to_string(),
        }))
    }

    /// Fails, with the end of the node's log, if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        let child = self.child.as_mut().context("the node was stopped")?;
        if let Some(status) = child.try_wait()? {
            self.child = None;
            bail!(
                "the node exited with {status}; its log ends:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Polls for `api.addr` every 10 ms, up to [`START_LIMIT`].
    pub async fn wait_for_endpoint(&mut self) -> Result<Endpoint> {
        while self.spawned.elapsed() < START_LIMIT {
            if let Some(endpoint) = self.read_endpoint()? {
                return Ok(endpoint);
            }
            self.check_running()?;
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        bail!(
            "the node did not write api.addr within {} s; its log ends:\n{}",
            START_LIMIT.as_secs(),
            self.log_tail()
        )
    }

    /// The process's peak resident set size so far (`VmHWM`), in bytes.
    pub fn peak_rss_bytes(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?))?;
        let kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .context("no VmHWM in /proc/PID/status")?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()?;
        Ok(kib * 1024)
    }

    /// CPU time (user + system) the process has used so far, in seconds.
    pub fn cpu_secs(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()?))?;
        // Fields after the command name (which is in parentheses and may hold spaces):
        // state is the 3rd field of the line, utime the 14th and stime the 15th.
        let after_comm = stat.rsplit_once(')').context("malformed /proc/PID/stat")?.1;
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64> {
            Ok(fields
                .get(i)
                .context("short /proc/PID/stat")?
                .parse::<f64>()?)
        };
        // /proc reports clock ticks of USER_HZ, which is 100 on Linux.
        Ok((ticks(11)? + ticks(12)?) / 100.0)
    }

    /// SIGTERM, then waits (bounded) for a clean exit; returns how long stopping took.
    pub async fn stop(mut self) -> Result<Duration> {
        let pid = self.pid()?.to_string();
        let started = Instant::now();
        let sent = Command::new("kill").args(["-TERM", &pid]).status()?;
        ensure!(sent.success(), "kill -TERM {pid} failed");
        let child = self.child.as_mut().context("the node was stopped")?;
        while started.elapsed() < STOP_LIMIT {
            if let Some(status) = child.try_wait()? {
                self.child = None;
                ensure!(
                    status.success(),
                    "the node did not stop cleanly ({status}); its log ends:\n{}",
                    self.log_tail()
                );
                return Ok(started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!(
            "the node did not exit within {} s of SIGTERM (it will be killed)",
            STOP_LIMIT.as_secs()
        )
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// How to reach a started node's API: its loopback address and the admin token every call
/// must carry.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    token: String,
}

/// Adds `authorization: Bearer <admin token>` to every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A connection that authenticates with the node's admin token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// A new connection (its own TCP connection) to a node's API.
pub async fn connect(endpoint: &Endpoint) -> Result<Authed> {
    let bearer = format!("Bearer {}", endpoint.token)
        .parse()
        .context("the admin token is not ASCII")?;
    Ok(InterceptedService::new(
        connect_plain(endpoint.addr).await?,
        Bearer(bearer),
    ))
}

async fn connect_plain(addr: SocketAddr) -> Result<Channel> {
    ensure!(
        addr.ip().is_loopback(),
        "refusing to connect to {addr}: not loopback"
    );
    Channel::from_shared(format!("http://{addr}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(RPC_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("cannot connect to the node at {addr}"))
}

/// An offering client on a new connection.
pub async fn offerings(endpoint: &Endpoint) -> Result<OfferingServiceClient<Authed>> {
    Ok(OfferingServiceClient::new(connect(endpoint).await?))
}

/// Bytes a directory tree takes: allocated on disk (blocks) and apparent (file lengths).
pub fn dir_size(dir: &Path) -> Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let (mut on_disk, mut apparent) = (0, 0);
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.path().symlink_metadata()?;
        if meta.is_dir() {
            let (d, a) = dir_size(&entry.path())?;
            on_disk += d;
            apparent += a;
        } else if meta.is_file() {
            on_disk += meta.blocks() * 512;
            apparent += meta.len();
        }
    }
    Ok((on_disk, apparent))
}

/// The type of the filesystem `path` is on, from the longest matching mount point.
fn filesystem_type(path: &Path) -> Option<String> {
    let path = path.canonicalize().ok()?;
    let mounts = std::fs::read_to_string("/proc/mounts").ok()?;
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_, mount_point, fs) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), fs.to_string()))
        })
        .max()
        .map(|(_, fs)| fs)
}
