//! `kreisnetz`: the district node.
//!
//! `kreisnetz init` creates a data directory (keys, configuration) and prints the IDs to hand to
//! other districts; `kreisnetz serve` runs the node until SIGINT/SIGTERM and then shuts down
//! gracefully. `serve` on an empty data directory initialises it first, so one command gives a
//! working node on loopback.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use kreisnetz_identity::Identity;
use kreisnetz_node::Config;
use kreisnetz_node::config::CONFIG_FILE;

/// The file in the data directory that holds the address the API is listening on while the
/// node runs (useful with port 0).
const API_ADDR_FILE: &str = "api.addr";
/// Likewise for the federation service.
const FEDERATION_ADDR_FILE: &str = "federation.addr";

#[derive(Parser)]
#[command(
    name = "kreisnetz",
    version,
    about = "A kreisnetz district node: offerings and contacts of a district, synced with the region"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory: the district's signing key, the node's TLS identity and a
    /// configuration file. Prints the district ID and node ID to hand to other districts.
    Init {
        #[arg(long, env = "KREISNETZ_DATA_DIR", default_value = "./kreisnetz-data")]
        data_dir: PathBuf,
        /// The district's official name, e.g. "Landkreis Vechta".
        #[arg(long)]
        district: String,
        /// The district's official municipality key (AGS), e.g. 03460.
        #[arg(long, default_value = "")]
        ags: String,
        /// Where the API listens (default 127.0.0.1:7700).
        #[arg(long)]
        api_listen: Option<SocketAddr>,
        /// Where the federation port listens (default 127.0.0.1:7701); other districts' nodes
        /// dial this address.
        #[arg(long)]
        federation_listen: Option<SocketAddr>,
        /// Join an existing district as a further node (for availability): the district's
        /// signing key, copied from its first node's data directory (`district.key`). Both
        /// nodes write the district's document; their changes merge.
        #[arg(long, value_name = "FILE")]
        district_key: Option<PathBuf>,
    },
    /// Start a local federation of the Weser-Ems districts with sample data, report how long
    /// it took until every node had everything, and keep running until Ctrl-C.
    Demo {
        /// Keep the nodes' data here (default: a temporary directory, removed afterwards).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Node i listens on base-port + 2i (API) and base-port + 2i + 1 (federation).
        #[arg(long, default_value_t = 7710)]
        base_port: u16,
        /// How many districts (2 to 9).
        #[arg(long, default_value_t = 9)]
        districts: usize,
        /// Stop once the federation has converged instead of waiting for Ctrl-C.
        #[arg(long)]
        exit: bool,
    },
    /// Run the node until SIGINT or SIGTERM. Initialises an empty data directory first.
    Serve {
        #[arg(long, env = "KREISNETZ_DATA_DIR", default_value = "./kreisnetz-data")]
        data_dir: PathBuf,
        /// Overrides api.listen from the configuration.
        #[arg(long)]
        api_listen: Option<SocketAddr>,
        /// Overrides federation.listen from the configuration.
        #[arg(long)]
        federation_listen: Option<SocketAddr>,
        /// The district's name, e.g. "Landkreis Vechta": required when the data directory is
        /// new (it is initialised now), ignored afterwards.
        #[arg(long)]
        district: Option<String>,
        /// Start with a new, empty database although the data directory holds keys (after
        /// the database was lost or damaged). The old database, if any, is moved aside to
        /// `db.old-<time>`; the district's own data comes back from peers that hold it;
        /// change-feed clients are told to start over; API tokens must be created anew.
        #[arg(long)]
        recreate_database: bool,
    },
    /// Verify a stopped node's data directory offline: keys, every stored value's checksum,
    /// every document (chunks, recorded heads), the change feed. Exits 0 if all is well, 1
    /// with what is damaged otherwise.
    Check {
        #[arg(long, env = "KREISNETZ_DATA_DIR", default_value = "./kreisnetz-data")]
        data_dir: PathBuf,
    },
}

mod demo;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init {
            data_dir,
            district,
            ags,
            api_listen,
            federation_listen,
            district_key,
        } => init(
            &data_dir,
            &district,
            &ags,
            (api_listen, federation_listen),
            district_key.as_deref(),
        ),
        Command::Demo {
            data_dir,
            base_port,
            districts,
            exit,
        } => {
            init_logging(&Config::default());
            demo::run(demo::DemoOptions {
                data_dir,
                base_port,
                districts,
                exit,
            })
        }
        Command::Serve {
            data_dir,
            api_listen,
            federation_listen,
            district,
            recreate_database,
        } => serve(
            &data_dir,
            api_listen,
            federation_listen,
            district,
            kreisnetz_node::StartOptions { recreate_database },
        ),
        Command::Check { data_dir } => check(&data_dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init(
    data_dir: &Path,
    district: &str,
    ags: &str,
    (api_listen, federation_listen): (Option<SocketAddr>, Option<SocketAddr>),
    district_key: Option<&Path>,
) -> Result<()> {
    if district.trim().is_empty() {
        bail!("--district must name the district, e.g. --district \"Landkreis Vechta\"");
    }
    let mut config = Config::default();
    config.district.name = district.trim().to_string();
    config.district.ags = ags.trim().to_string();
    if let Some(addr) = api_listen {
        config.api.listen = addr;
    }
    if let Some(addr) = federation_listen {
        config.federation.listen = addr;
    }
    config.check().map_err(anyhow::Error::msg)?;
    let config_path = data_dir.join(CONFIG_FILE);
    if config_path.exists() {
        bail!(
            "{} already exists: this data directory is initialised",
            config_path.display()
        );
    }
    let identity = match district_key {
        None => Identity::create(data_dir, &config.district.name),
        Some(path) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the district key {}", path.display()))?;
            let key = kreisnetz_identity::DistrictKey::from_pkcs8_pem(&pem)
                .with_context(|| format!("{} is not a district key", path.display()))?;
            Identity::create_with_district(data_dir, &config.district.name, key)
        }
    }
    .with_context(|| format!("cannot create the identity in {}", data_dir.display()))?;
    config.write_new(data_dir)?;
    kreisnetz_node::auth::init_admin_token(data_dir)
        .context("cannot create the first admin token")?;
    print_ids(data_dir, &config, &identity);
    Ok(())
}

fn print_ids(data_dir: &Path, config: &Config, identity: &Identity) {
    println!("Initialised a kreisnetz node in {}", data_dir.display());
    println!("  District:     {}", config.district.name);
    println!("  District ID:  {}", identity.district.id());
    println!("  Node ID:      {}", identity.node.id);
    println!("  API:          {}", config.api.listen);
    println!(
        "  Federation:   {} (mutual TLS with configured peers only)",
        config.federation.listen
    );
    let token = data_dir.join(kreisnetz_node::auth::ADMIN_TOKEN_FILE);
    if data_dir == Path::new("./kreisnetz-data") || data_dir == Path::new("kreisnetz-data") {
        println!(
            "  Admin token:  {} (mode 0600; kreisnetzctl run in this directory finds it)",
            token.display()
        );
    } else {
        println!(
            "  Admin token:  {} (mode 0600; for kreisnetzctl: export KREISNETZ_DATA_DIR={})",
            token.display(),
            data_dir.display()
        );
    }
    println!();
    println!("Give the district ID and node ID to the districts you federate with, and compare");
    println!(
        "them on the phone. Start the node with: kreisnetz serve --data-dir {}",
        data_dir.display()
    );
}

fn serve(
    data_dir: &Path,
    api_listen: Option<SocketAddr>,
    federation_listen: Option<SocketAddr>,
    district: Option<String>,
    options: kreisnetz_node::StartOptions,
) -> Result<()> {
    if !data_dir.join(CONFIG_FILE).exists()
        && !data_dir
            .join(kreisnetz_identity::DISTRICT_KEY_FILE)
            .exists()
    {
        let name = district.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            bail!(
                "{} is a new data directory: name the district this node serves, e.g. \
                 `kreisnetz serve --district \"Landkreis Vechta\"` (needed only the first time; \
                 it is shown to the other districts)",
                data_dir.display()
            );
        }
        let mut config = Config::default();
        config.district.name = name.to_string();
        let identity = Identity::create(data_dir, &config.district.name)?;
        config.write_new(data_dir)?;
        kreisnetz_node::auth::init_admin_token(data_dir)
            .context("cannot create the first admin token")?;
        print_ids(data_dir, &config, &identity);
    }
    let mut config = Config::load(data_dir)?;
    if let Some(addr) = api_listen {
        config.api.listen = addr;
    }
    if let Some(addr) = federation_listen {
        config.federation.listen = addr;
    }
    config.check().map_err(anyhow::Error::msg)?;
    init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kreisnetz")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(run(data_dir, config, options));
    // Blocking tasks still running (a peer's backlog being stored) must not hold the exit:
    // everything acknowledged is flushed, and what is not yet sent is synced again later.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// `kreisnetz check`: the start-up verification of a node, run alone and reported.
fn check(data_dir: &Path) -> Result<()> {
    use kreisnetz_storage::Store;
    let identity = Identity::load(data_dir).with_context(|| {
        format!(
            "cannot read the keys in {} (is it a kreisnetz data directory?)",
            data_dir.display()
        )
    })?;
    let district = identity.district.id();
    let db = data_dir.join(kreisnetz_node::node::DB_DIR);
    let store = kreisnetz_node::node::open_store(
        data_dir,
        district,
        false,
        &kreisnetz_node::StartOptions::default(),
    )
    .map_err(|e| match e {
        kreisnetz_node::StartError::Storage { cause, .. } if cause.to_string().contains("lock") => {
            anyhow::anyhow!(
                "{} is in use: stop the node first (`kreisnetz check` reads the database alone)",
                db.display()
            )
        }
        kreisnetz_node::StartError::Damaged { cause, .. } => anyhow::anyhow!(
            "DAMAGED: {cause}\nThe node refuses to start on this database. Restore the data \
             directory from a backup, or start with `kreisnetz serve --recreate-database` (the \
             damaged database is moved aside) to fetch the district's data again from peers."
        ),
        other => anyhow::Error::new(other),
    })?;
    let values = store.verify()?;
    println!("Data directory {}: OK", data_dir.display());
    println!("  District ID:   {district}");
    println!("  Node ID:       {}", identity.node.id);
    println!("  Values:        {values} verified (checksums)");
    for doc in store.documents()? {
        let Ok(id) = doc.parse::<kreisnetz_model::DistrictId>() else {
            println!("  Document {doc}: not a district ID (ignored by the node)");
            continue;
        };
        let (document, snapshot, chunks) = kreisnetz_node::writer::open_document(&store, id)
            .with_context(|| format!("document {doc} does not load"))?;
        let (name, _) = document.metadata();
        println!(
            "  Document {doc}{}: {} offerings, {} contacts, {} bytes stored, heads verified",
            if name.is_empty() {
                String::new()
            } else {
                format!(" ({name})")
            },
            document.offerings().len(),
            document.contacts().len(),
            snapshot + chunks
        );
    }
    println!(
        "  Change feed:   epoch {}, events {}..={} kept",
        store.feed_epoch(),
        store.feed_floor() + 1,
        store.feed_head()
    );
    println!("  Size on disk:  {} bytes", store.size_on_disk());
    Ok(())
}

async fn run(data_dir: &Path, config: Config, options: kreisnetz_node::StartOptions) -> Result<()> {
    let node = kreisnetz_node::start_with(data_dir, config, options).await?;
    // The federation address first: a watcher of api.addr may rely on both being there.
    let fed_file = data_dir.join(FEDERATION_ADDR_FILE);
    std::fs::write(&fed_file, format!("{}\n", node.federation_addr))
        .with_context(|| format!("cannot write {}", fed_file.display()))?;
    let addr_file = data_dir.join(API_ADDR_FILE);
    std::fs::write(&addr_file, format!("{}\n", node.api_addr))
        .with_context(|| format!("cannot write {}", addr_file.display()))?;
    wait_for_signal(&node).await?;
    tracing::info!("shutting down");
    let result = node.shutdown().await;
    let _ = std::fs::remove_file(&addr_file);
    let _ = std::fs::remove_file(&fed_file);
    result.map_err(anyhow::Error::msg)?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Waits for SIGINT or SIGTERM; on SIGHUP re-reads peers and trusted districts from the
/// configuration file and goes on.
async fn wait_for_signal(node: &kreisnetz_node::RunningNode) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    loop {
        tokio::select! {
            r = tokio::signal::ctrl_c() => return r.context("cannot listen for SIGINT"),
            _ = term.recv() => return Ok(()),
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading peers and trusted districts");
                if let Err(e) = node.admin.reload().await {
                    tracing::error!(error = %e, "reload failed; the previous configuration stays in force");
                }
            }
        }
    }
}

fn init_logging(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}
