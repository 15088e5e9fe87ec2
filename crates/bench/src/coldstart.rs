//! `coldstart`: how long a node with many offerings takes from spawn to its first answer, and
//! the memory loading costs.
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use kreisnetz_proto::v1::{self, offering_service_client::OfferingServiceClient};
use serde::Serialize;

use crate::load::{FILL_CLIENTS, populated_node};
use crate::node::{Authed, Env, Node, Site, connect, dir_size};
use crate::report::{emit, mib, note, round};
use crate::stats::median;

/// How often the starting node is asked.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// How long a start may take before the run fails.
const READY_LIMIT: Duration = Duration::from_secs(120);
/// When peak RSS is read a second time, after the first answer.
const SETTLE: Duration = Duration::from_millis(500);

#[derive(Args)]
pub struct Options {
    /// Offerings in the data directory.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    offerings: u32,
    /// How many times the node is started on it.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: u32,
}

#[derive(Serialize)]
struct DataDir {
    bench: &'static str,
    offerings: u32,
    fill_clients: usize,
    fill_secs: f64,
    /// Allocated on disk.
    size_mib: f64,
    /// Sum of file lengths (sparse or preallocated files make the two differ).
    apparent_mib: f64,
}

#[derive(Serialize)]
struct Run {
    bench: &'static str,
    run: u32,
    offerings: u32,
    /// Spawn to `api.addr` written.
    addr_ms: f64,
    /// Spawn to the first OK ListOfferings.
    ready_ms: f64,
    peak_rss_mib_at_ready: f64,
    peak_rss_mib_500ms_later: f64,
    stop_ms: f64,
}

#[derive(Serialize)]
struct Summary {
    bench: &'static str,
    offerings: u32,
    runs: u32,
    median_ms: f64,
    max_ms: f64,
    max_peak_rss_mib: f64,
    /// The data directory after the runs: the same as before unless starting writes to it.
    size_mib_after_runs: f64,
}

pub async fn run(env: &Env, o: &Options) -> Result<()> {
    let site = build_data_dir(env, o.offerings).await?;
    let mut ready_ms = Vec::new();
    let mut peak_rss = 0;
    for run in 1..=o.runs {
        let r = start_once(env, &site).await?;
        note(format!("run {run}: answered after {:.0} ms", r.ready_ms));
        ready_ms.push(r.ready_ms);
        peak_rss = peak_rss.max(r.peak_after);
        emit(&Run {
            bench: "coldstart_run",
            run,
            offerings: o.offerings,
            addr_ms: round(r.addr_ms, 1),
            ready_ms: round(r.ready_ms, 1),
            peak_rss_mib_at_ready: mib(r.peak_at_ready),
            peak_rss_mib_500ms_later: mib(r.peak_after),
            stop_ms: round(r.stop_ms, 1),
        });
    }
    emit(&Summary {
        bench: "coldstart",
        offerings: o.offerings,
        runs: o.runs,
        median_ms: round(median(&ready_ms), 1),
        max_ms: round(ready_ms.iter().copied().fold(0.0, f64::max), 1),
        max_peak_rss_mib: mib(peak_rss),
        size_mib_after_runs: mib(dir_size(&site.data_dir())?.0),
    });
    Ok(())
}

/// A site whose data directory holds `n` offerings, with the node stopped cleanly.
async fn build_data_dir(env: &Env, n: u32) -> Result<Site> {
    let populated = populated_node(env, n as usize).await?;
    populated.node.stop().await?;
    let (on_disk, apparent) = dir_size(&populated.site.data_dir())?;
    emit(&DataDir {
        bench: "coldstart_data",
        offerings: n,
        fill_clients: FILL_CLIENTS,
        fill_secs: round(populated.fill_time.as_secs_f64(), 3),
        size_mib: mib(on_disk),
        apparent_mib: mib(apparent),
    });
    Ok(populated.site)
}

struct Start {
    addr_ms: f64,
    ready_ms: f64,
    peak_at_ready: u64,
    peak_after: u64,
    stop_ms: f64,
}

/// Spawns the node on the site, polls until it answers, reads its memory, stops it.
async fn start_once(env: &Env, site: &Site) -> Result<Start> {
    let mut node = env.spawn(site)?;
    let (addr_ms, ready_ms) = poll_until_ready(&mut node).await?;
    let peak_at_ready = node.peak_rss_bytes()?;
    tokio::time::sleep(SETTLE).await;
    let peak_after = node.peak_rss_bytes()?;
    let stop_ms = node.stop().await?.as_secs_f64() * 1e3;
    Ok(Start {
        addr_ms,
        ready_ms,
        peak_at_ready,
        peak_after,
        stop_ms,
    })
}

/// Every [`POLL_EVERY`]: learn the address once `api.addr` is there, then connect and ask for
/// one offering until the answer is OK. Returns ms from spawn to the address and to the answer.
async fn poll_until_ready(node: &mut Node) -> Result<(f64, f64)> {
    let since_spawn = |node: &Node| node.spawned().elapsed().as_secs_f64() * 1e3;
    let mut addr_ms = None;
    let mut client: Option<OfferingServiceClient<Authed>> = None;
    while node.spawned().elapsed() < READY_LIMIT {
        node.check_running()?;
        if client.is_none()
            && let Some(endpoint) = node.read_endpoint()?
        {
            addr_ms.get_or_insert(since_spawn(node));
            client = connect(&endpoint)
                .await
                .ok()
                .map(OfferingServiceClient::new);
        }
        if let Some(c) = client.as_mut() {
            let asked = c
                .list_offerings(v1::ListOfferingsRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await;
            if asked.is_ok() {
                let ready = since_spawn(node);
                return Ok((addr_ms.unwrap_or(ready), ready));
            }
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
    bail!("the node did not answer within {} s", READY_LIMIT.as_secs())
}
