//! `creates`: write throughput with many clients, write latency with one, and the node's memory.
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use clap::Args;
use serde::Serialize;

use crate::load::{LOAD_LIMIT, create, create_concurrently, sample_offerings};
use crate::node::{Endpoint, Env, offerings};
use crate::report::{emit, mib, note, round};
use crate::stats::Latency;

#[derive(Args)]
pub struct Options {
    /// Concurrent clients, each on its own connection.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256))]
    clients: u16,
    /// Creates the concurrent clients make in total.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    total: u32,
    /// Sequential creates of the single client afterwards.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    single: u32,
}

#[derive(Serialize)]
struct Concurrent {
    bench: &'static str,
    clients: u16,
    creates: u32,
    secs: f64,
    per_sec: f64,
    /// The node's CPU time per create (user + system, all threads): the cost independent of
    /// how busy the machine is.
    node_cpu_ms_per_create: f64,
}

#[derive(Serialize)]
struct Sequential {
    bench: &'static str,
    creates: u32,
    /// Offerings the node held before the first of these creates.
    offerings_before: u32,
    secs: f64,
    per_sec: f64,
    node_cpu_ms_per_create: f64,
    #[serde(flatten)]
    latency: Latency,
}

#[derive(Serialize)]
struct Memory {
    bench: &'static str,
    offerings: u32,
    peak_rss_mib: f64,
}

pub async fn run(env: &Env, o: &Options) -> Result<()> {
    let (total, single) = (o.total as usize, o.single as usize);
    let mut records = sample_offerings(total + single)?;
    let sequential_records = records.split_off(total);
    let site = env.site()?;
    let (node, endpoint) = env.start(&site).await?;

    note(format!("{} clients creating {total} offerings", o.clients));
    let cpu_before = node.cpu_secs()?;
    let took = create_concurrently(&endpoint, Arc::new(records), usize::from(o.clients)).await?;
    let cpu_concurrent = node.cpu_secs()? - cpu_before;
    emit(&Concurrent {
        bench: "create_concurrent",
        clients: o.clients,
        creates: o.total,
        secs: round(took.as_secs_f64(), 3),
        per_sec: round(o.total as f64 / took.as_secs_f64(), 1),
        node_cpu_ms_per_create: round(cpu_concurrent * 1e3 / f64::from(o.total), 3),
    });

    note(format!(
        "one client creating {single} offerings one after another"
    ));
    let cpu_before = node.cpu_secs()?;
    let (took, samples) = create_sequentially(&endpoint, &sequential_records).await?;
    let cpu_sequential = node.cpu_secs()? - cpu_before;
    emit(&Sequential {
        bench: "create_sequential",
        creates: o.single,
        offerings_before: o.total,
        secs: round(took.as_secs_f64(), 3),
        per_sec: round(o.single as f64 / took.as_secs_f64(), 1),
        node_cpu_ms_per_create: round(cpu_sequential * 1e3 / f64::from(o.single), 3),
        latency: Latency::of(&samples),
    });

    emit(&Memory {
        bench: "create_node_memory",
        offerings: o.total + o.single,
        peak_rss_mib: mib(node.peak_rss_bytes()?),
    });
    node.stop().await?;
    Ok(())
}

/// Creates the records one at a time on one connection; returns the total time and each call's.
async fn create_sequentially(
    endpoint: &Endpoint,
    records: &[kreisnetz_proto::v1::Offering],
) -> Result<(Duration, Vec<Duration>)> {
    let mut client = offerings(endpoint).await?;
    let mut samples = Vec::with_capacity(records.len());
    let started = Instant::now();
    for record in records {
        ensure!(
            started.elapsed() < LOAD_LIMIT,
            "the sequential creates took longer than {} s",
            LOAD_LIMIT.as_secs()
        );
        let call = Instant::now();
        create(&mut client, record).await?;
        samples.push(call.elapsed());
    }
    Ok((started.elapsed(), samples))
}
