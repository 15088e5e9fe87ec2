//! `kreisnetz demo`: a local federation of the nine Weser-Ems districts.
//!
//! Starts one in-process node per district on loopback ports (each with its own data directory,
//! keys and database, exactly as `serve` would), loads each district's sample data through the
//! public API, links the nodes in a ring (each dials the next; every district trusts every
//! other), and measures how long it takes until every node lists every district's offerings.
//! Then it keeps running so a newcomer can try `kreisnetzctl` against any node, until Ctrl-C.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kreisnetz_model::Timestamp;
use kreisnetz_node::{Config, RunningNode};
use kreisnetz_proto::v1;
use kreisnetz_proto::v1::offering_service_client::OfferingServiceClient;
use kreisnetz_sample::{WESER_EMS, district_sample};

pub struct DemoOptions {
    pub data_dir: Option<PathBuf>,
    pub base_port: u16,
    pub districts: usize,
    pub exit: bool,
}

struct DemoNode {
    name: &'static str,
    /// Its data directory (kreisnetzctl finds the admin token there).
    dir: std::path::PathBuf,
    node: RunningNode,
    district_id: kreisnetz_model::DistrictId,
    token: String,
}

pub fn run(options: DemoOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("runtime")?;
    runtime.block_on(demo(options))
}

async fn demo(options: DemoOptions) -> Result<()> {
    let temp;
    let root: PathBuf = match &options.data_dir {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::tempdir().context("cannot create a temporary directory")?;
            temp.path().to_path_buf()
        }
    };
    let n = options.districts.clamp(2, WESER_EMS.len());
    println!(
        "Starting a local federation of {n} districts under {}",
        root.display()
    );
    let mut nodes = Vec::with_capacity(n);
    for (i, district) in WESER_EMS.iter().take(n).enumerate() {
        let dir = root.join(district.key);
        let mut config = if dir.join(kreisnetz_node::config::CONFIG_FILE).exists() {
            Config::load(&dir)?
        } else {
            Config::default()
        };
        config.district.name = district.name.to_string();
        config.district.ags = district.ags.to_string();
        let port = options
            .base_port
            .checked_add(2 * i as u16)
            .context("--base-port too high")?;
        config.api.listen = ([127, 0, 0, 1], port).into();
        config.federation.listen = ([127, 0, 0, 1], port + 1).into();
        // The default (API port + 2) is the next node's API port; any free port will do
        // (each node's data directory names it in metrics.addr).
        config.metrics.listen = Some(([127, 0, 0, 1], 0).into());
        config.federation.backoff_min_ms = 50;
        config.federation.backoff_max_ms = 2_000;
        write_config(&dir, &config)?;
        let node = kreisnetz_node::start(&dir, config)
            .await
            .with_context(|| format!("cannot start the node of {}", district.name))?;
        let token = std::fs::read_to_string(dir.join(kreisnetz_node::auth::ADMIN_TOKEN_FILE))
            .context("the node's admin token")?
            .trim()
            .to_string();
        nodes.push(DemoNode {
            name: district.name,
            dir: dir.clone(),
            district_id: node.district,
            node,
            token,
        });
    }

    // Sample data, through the API like any client.
    let mut expected = 0usize;
    for d in &nodes {
        let region = WESER_EMS
            .iter()
            .find(|r| r.name == d.name)
            .context("district")?;
        let sample = district_sample(region, d.district_id, 1, Timestamp::now());
        expected += load_sample(d, sample).await?;
    }

    // A ring: each node dials the next; every node accepts its two neighbours and trusts all.
    let started = Instant::now();
    for (i, d) in nodes.iter().enumerate() {
        let next = &nodes[(i + 1) % n];
        let prev = &nodes[(i + n - 1) % n];
        d.node
            .admin
            .add_peer(next.node.node_id, next.node.federation_addr.to_string())
            .await?;
        if n > 2 {
            d.node
                .admin
                .add_peer(prev.node.node_id, String::new())
                .await?;
        }
        for other in nodes.iter().filter(|o| o.district_id != d.district_id) {
            d.node
                .admin
                .trust(other.district_id, other.name.to_string())
                .await?;
        }
    }
    println!(
        "Linked in a ring; waiting until every node has all {expected} offerings of all {n} districts ..."
    );
    loop {
        let mut done = true;
        for d in &nodes {
            if count_offerings(d).await? < expected {
                done = false;
                break;
            }
        }
        if done {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            anyhow::bail!("the federation did not converge within 120 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    println!();
    println!(
        "Every node has every district's offerings: converged {:.0} ms after linking.",
        took.as_secs_f64() * 1e3
    );
    println!();
    println!("{:<28} {:<22} {:<22}", "DISTRICT", "API", "FEDERATION");
    for d in &nodes {
        println!(
            "{:<28} http://{:<15} {}",
            d.name, d.node.api_addr, d.node.federation_addr
        );
    }
    println!();
    // kreisnetzctl reads the admin token from $KREISNETZ_DATA_DIR/admin.token.
    println!(
        "Try: export KREISNETZ_DATA_DIR={} KREISNETZ_NODE=http://{}",
        nodes[0].dir.display(),
        nodes[0].node.api_addr
    );
    println!("     kreisnetzctl offering list --all");
    println!("     kreisnetzctl peers");
    println!("     kreisnetzctl documents");

    if !options.exit {
        println!("\nPress Ctrl-C to stop the demo.");
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
    }
    for d in nodes {
        d.node.shutdown().await.map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

fn write_config(dir: &Path, config: &Config) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    config.save(dir)?;
    Ok(())
}

async fn client(d: &DemoNode) -> Result<kreisnetz_proto::AuthedChannel> {
    let channel = tonic::transport::Channel::from_shared(format!("http://{}", d.node.api_addr))?
        .connect()
        .await?;
    let bearer = kreisnetz_proto::Bearer::new(&d.token).context("the admin token is not ASCII")?;
    Ok(tonic::service::interceptor::InterceptedService::new(
        channel, bearer,
    ))
}

/// Creates the sample's contacts and offerings (skipping what exists); returns the offerings count.
async fn load_sample(node: &DemoNode, sample: kreisnetz_sample::SampleSet) -> Result<usize> {
    let channel = client(node).await?;
    let mut contacts = v1::contact_service_client::ContactServiceClient::new(channel.clone());
    for c in &sample.contacts {
        let req = v1::CreateContactRequest {
            contact: Some(kreisnetz_proto::convert::contact_to_proto(c)),
            contact_id: c.id.to_string(),
        };
        if let Err(s) = contacts.create_contact(req).await
            && s.code() != tonic::Code::AlreadyExists
        {
            anyhow::bail!("sample contact refused: {}", s.message());
        }
    }
    let mut offerings = OfferingServiceClient::new(channel);
    for o in &sample.offerings {
        let req = v1::CreateOfferingRequest {
            offering: Some(kreisnetz_proto::convert::offering_to_proto(o)),
            offering_id: o.id.to_string(),
        };
        if let Err(s) = offerings.create_offering(req).await
            && s.code() != tonic::Code::AlreadyExists
        {
            anyhow::bail!("sample offering refused: {}", s.message());
        }
    }
    Ok(sample.offerings.len())
}

async fn count_offerings(node: &DemoNode) -> Result<usize> {
    let mut offerings = OfferingServiceClient::new(client(node).await?);
    let page = offerings
        .list_offerings(v1::ListOfferingsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(page.total_size as usize)
}
