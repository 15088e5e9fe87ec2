//! `kreisnetz-bench`: benchmarks of a real `kreisnetz` node process over loopback gRPC.
//!
//! Every benchmark starts the release-built node binary on a fresh temporary data directory on
//! local disk, talks to it only at 127.0.0.1 through the public gRPC API (as the admin, with the
//! token the node writes to `admin.token` in its data directory), stops it with SIGTERM and
//! removes the directory. Nothing is mocked: the figures include the node's fsyncs, Automerge
//! and the gRPC stack, so they are what a district's clients would see on the same machine. The
//! client runs on the same machine as the node and competes with it for CPU.
//!
//! - `creates` measures **write throughput and latency**. (a) Many clients, each on its own TCP
//!   connection, create offerings as fast as the node acknowledges them: this is what the group
//!   commit of the document writer is for (concurrent writes share one flush), so creates/s shows
//!   whether it works. (b) One client creating one offering after another: every create waits
//!   for its own flush, so the latency percentiles show the cost of one durable write. Then the
//!   node's peak resident memory (`VmHWM`) after holding all those offerings.
//! - `coldstart` measures **how long a restarted node is unavailable** and what loading costs in
//!   memory: a data directory with N offerings is built once and stopped cleanly; then the node
//!   is started on it several times and polled every 2 ms with `ListOfferings` until it answers.
//!   The time counts from spawning the process to the first OK answer. Peak RSS is read at that
//!   moment and again 500 ms later (loading may leave a high-water mark that steady state never
//!   reaches again). The data directory's size on disk is reported too.
//! - `list` measures **read latency** of the queries a directory front end makes: a category
//!   filter, a free-text query (a scan over every offering's text) and plain paging, each as
//!   sequential calls on one connection against a node holding N offerings.
//! - `all` runs the three with their defaults.
//!
//! Output: one JSON object per line on stdout per result, e.g.
//! `{"bench":"create_concurrent","clients":16,"creates":20000,"secs":7.1,"per_sec":2817.0}`;
//! progress notes for humans go to stderr. Latencies are in milliseconds, memory in MiB
//! (2^20 bytes), percentiles are nearest-rank over the sorted samples.
//!
//! Build the node first: `cargo build --release --bins`; the tool looks for `kreisnetz` next to
//! its own executable unless `--node-bin` says otherwise.
mod coldstart;
mod creates;
mod disk;
mod list;
mod load;
mod node;
mod report;
mod stats;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::node::Env;
use crate::report::note;

#[derive(Parser)]
#[command(
    name = "kreisnetz-bench",
    version,
    about = "Benchmarks a real kreisnetz node process over loopback gRPC; prints one JSON object per result on stdout"
)]
struct Cli {
    /// The node binary. Default: `kreisnetz` next to this executable (build it with
    /// `cargo build --release --bins`).
    #[arg(long, global = true, value_name = "PATH")]
    node_bin: Option<PathBuf>,
    /// Where the temporary data directories go. Must be a real disk (not tmpfs), or the flushes
    /// cost nothing. Default: the system temp directory.
    #[arg(long, global = true, value_name = "DIR")]
    work_dir: Option<PathBuf>,
    /// `RUST_LOG` for the node, e.g. `kreisnetz_node=debug` to see the writer's batches.
    #[arg(long, global = true, default_value = "warn", value_name = "FILTER")]
    node_rust_log: String,
    /// Keep the data directories and node logs instead of removing them (their paths go to
    /// stderr), to look into a surprising figure.
    #[arg(long, global = true)]
    keep: bool,
    #[command(subcommand)]
    command: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Concurrent creates (creates/s), sequential creates (latency), the node's peak RSS.
    Creates(creates::Options),
    /// Start-up time and memory of a node on a data directory with many offerings.
    Coldstart(coldstart::Options),
    /// Latency of filtered, free-text and unfiltered ListOfferings calls.
    List(list::Options),
    /// Disk use after many writes: database, blobs, stored vs. freshly saved document, feed.
    Disk(disk::Options),
    /// Runs creates, coldstart and list with their defaults.
    All,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let env = Env::new(cli.node_bin, cli.work_dir, cli.node_rust_log, cli.keep)?;
    match cli.command {
        Bench::Creates(o) => timed("creates", creates::run(&env, &o)).await,
        Bench::Coldstart(o) => timed("coldstart", coldstart::run(&env, &o)).await,
        Bench::List(o) => timed("list", list::run(&env, &o)).await,
        Bench::Disk(o) => timed("disk", disk::run(&env, &o)).await,
        Bench::All => {
            timed("creates", creates::run(&env, &defaults())).await?;
            timed("coldstart", coldstart::run(&env, &defaults())).await?;
            timed("list", list::run(&env, &defaults())).await
        }
    }
}

/// A subcommand's options as if given no flags.
fn defaults<T: Args + clap::FromArgMatches>() -> T {
    let command = T::augment_args(clap::Command::new("defaults"));
    let matches = command.get_matches_from(["defaults"]);
    T::from_arg_matches(&matches).expect("every option has a default")
}

/// Runs one benchmark and tells stderr how long it took.
async fn timed(name: &str, bench: impl Future<Output = Result<()>>) -> Result<()> {
    // Other work on the machine takes CPU from the node; the load average tells how much.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ");
    note(format!("{name}: starting (load average {load})"));
    let started = Instant::now();
    let result = bench.await;
    note(format!(
        "{name}: {} after {:.1} s",
        if result.is_ok() { "done" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    ));
    result
}
