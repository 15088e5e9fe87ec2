//! `kreisnetz-fedbench`: the federation benchmark, kreisnetz side by side with samod.
//!
//! Both systems get the same workload (see `workload`): one district document with N generated
//! offerings, then single-field edits. Three measurements on each:
//!
//! - `initial_sync`: a fresh node/repo is linked to one holding the N-offering document; time
//!   until it holds all N, and the bytes it received;
//! - `one_hop`: with the two linked and in sync, an edit on one until the other has it (p50, p90,
//!   p99, max over `--edits` edits, after `--warmup` uncounted ones), and the bytes per edit;
//! - `nine_star` / `nine_mesh`: nine nodes/repos, a hub with eight leaves, then every pair
//!   linked; an edit on a leaf until all eight others have it.
//!
//! Everything runs in one process per system (all nodes of a system share it, so the peak RSS
//! covers all of them), on loopback only. Bytes on the wire are the kernel's per-socket
//! TCP payload counters (`wire`), so both systems are measured the same way: TLS, HTTP/2 and
//! protobuf framing for kreisnetz, samod's length-prefixed frames for samod.
//!
//! `all` runs each system in a child process of its own (so peak RSS figures do not mix) —
//! kreisnetz, samod as shipped, samod with `TCP_NODELAY` (and with `--tmpfs-too` kreisnetz on
//! /dev/shm) — echoes their lines and adds
//! `"system":"compare"` lines that hold the figures against the targets.
//!
//! Output: one JSON object per line on stdout; notes for humans on stderr.
mod kreis;
mod samod_side;
mod stats;
mod wire;
mod workload;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::{Map, Value, json};

use crate::stats::{emit, note, round3};

#[derive(Parser)]
#[command(
    name = "kreisnetz-fedbench",
    version,
    about = "Federation benchmark: kreisnetz nodes and samod repos on the same workload; one JSON object per result on stdout"
)]
struct Cli {
    #[command(subcommand)]
    command: Which,
}

#[derive(Subcommand)]
enum Which {
    /// kreisnetz nodes in this process (real TLS over 127.0.0.1, temporary data directories).
    Kreisnetz(Options),
    /// samod repos in this process (samod's TCP transport over 127.0.0.1).
    Samod(Options),
    /// Both, each in a child process; then the comparison against the targets.
    All(Options),
}

#[derive(Args, Clone, Debug)]
pub struct Options {
    /// Offerings in the synced document.
    #[arg(long, default_value_t = 10_000)]
    pub offerings: usize,
    /// Counted edits per latency measurement.
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
    /// Uncounted edits before each latency measurement (connections and caches warm up).
    #[arg(long, default_value_t = 5)]
    pub warmup: usize,
    /// Time budget of each latency loop, in seconds: a loop that has not done all `--edits` by
    /// then stops and reports the edits it did (`count` < `edits`).
    #[arg(long, default_value_t = 30)]
    pub max_secs: u64,
    /// Only the two-node measurements (initial sync, one hop): no nine-node star and mesh.
    #[arg(long)]
    pub no_nine: bool,
    /// Longest wait for any one thing (a sync, an edit's arrival) before giving up, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout_secs: u64,
    /// samod's storage.
    #[arg(long, value_enum, default_value_t = SamodStorage::Memory)]
    pub samod_storage: SamodStorage,
    /// kreisnetz: where the nodes' temporary data directories go (default: the system temp
    /// directory). `/dev/shm` shows the federation without fsync latency.
    #[arg(long, value_name = "DIR")]
    pub kreisnetz_dir: Option<std::path::PathBuf>,
    /// `all`: also run kreisnetz with its data on /dev/shm (tmpfs), to tell the disk's fsync
    /// latency from the rest.
    #[arg(long)]
    pub tmpfs_too: bool,
    /// samod: set TCP_NODELAY on its connections (samod's own TcpDialer does not).
    #[arg(long)]
    pub samod_nodelay: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SamodStorage {
    /// samod's default InMemoryStorage.
    Memory,
    /// samod's TokioFilesystemStorage in a temporary directory (writes files, does not fsync).
    Fs,
}

fn main() -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error,samod::io_loop=off")),
        )
        .try_init();
    let cli = Cli::parse();
    match cli.command {
        Which::Kreisnetz(opts) => runtime()?.block_on(kreis::run(&opts)),
        Which::Samod(opts) => runtime()?.block_on(samod_side::run(&opts)),
        Which::All(opts) => all(&opts),
    }
}

/// The same runtime for both systems: tokio's multi-threaded default (one worker per core).
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")
}

/// Runs one system in a child process; echoes and returns its result lines.
fn child(system: &str, opts: &Options, extra: &[&str]) -> Result<Vec<Map<String, Value>>> {
    let exe = std::env::current_exe().context("own executable")?;
    let started = Instant::now();
    note(format!("running {system} {}", extra.join(" ")));
    let mut cmd = Command::new(exe);
    if let Some(dir) = &opts.kreisnetz_dir
        && system == "kreisnetz"
        && !extra.contains(&"--kreisnetz-dir")
    {
        cmd.arg(system).arg("--kreisnetz-dir").arg(dir);
    } else {
        cmd.arg(system);
    }
    cmd.args(["--offerings", &opts.offerings.to_string()])
        .args(["--edits", &opts.edits.to_string()])
        .args(["--warmup", &opts.warmup.to_string()])
        .args(["--timeout-secs", &opts.timeout_secs.to_string()])
        .args(["--max-secs", &opts.max_secs.to_string()])
        .args(if opts.no_nine {
            &["--no-nine"][..]
        } else {
            &[][..]
        })
        .args([
            "--samod-storage",
            match opts.samod_storage {
                SamodStorage::Memory => "memory",
                SamodStorage::Fs => "fs",
            },
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut proc = cmd.spawn().context("starting a child benchmark")?;
    let mut lines = Vec::new();
    if let Some(out) = proc.stdout.take() {
        for line in BufReader::new(out).lines() {
            let line = line?;
            println!("{line}");
            if let Ok(Value::Object(m)) = serde_json::from_str(&line) {
                lines.push(m);
            }
        }
    }
    let status = proc.wait()?;
    note(format!(
        "{system} {} finished in {:.1} s ({status})",
        extra.join(" "),
        started.elapsed().as_secs_f64()
    ));
    if !status.success() {
        bail!("the {system} benchmark failed ({status})");
    }
    Ok(lines)
}

fn by_bench(lines: &[Map<String, Value>]) -> Results {
    lines
        .iter()
        .filter_map(|m| Some((m.get("bench")?.as_str()?.to_string(), m.clone())))
        .collect()
}

fn num(m: Option<&Map<String, Value>>, key: &str) -> Option<f64> {
    m?.get(key)?.as_f64()
}

type Results = HashMap<String, Map<String, Value>>;

/// Copies `from[bench][key]` into `to` as `name`, if there is one.
fn copy(to: &mut Map<String, Value>, name: &str, from: &Results, bench: &str, key: &str) {
    if let Some(v) = from.get(bench).and_then(|m| m.get(key)) {
        to.insert(name.to_string(), v.clone());
    }
}

fn all(opts: &Options) -> Result<()> {
    let started = Instant::now();
    let k = by_bench(&child("kreisnetz", opts, &[])?);
    // The same on tmpfs: what the federation costs without the disk's fsync latency.
    let shm = "/dev/shm";
    let k_tmpfs = if opts.tmpfs_too && std::path::Path::new(shm).is_dir() {
        match child("kreisnetz", opts, &["--kreisnetz-dir", shm]) {
            Ok(lines) => by_bench(&lines),
            Err(e) => {
                note(format!("kreisnetz on tmpfs failed: {e:#}"));
                HashMap::new()
            }
        }
    } else {
        HashMap::new()
    };
    let mut samods = Vec::new();
    for (variant, extra) in [("stock", &[][..]), ("nodelay", &["--samod-nodelay"][..])] {
        match child("samod", opts, extra) {
            Ok(lines) => samods.push((variant, by_bench(&lines))),
            Err(e) => note(format!("samod ({variant}) failed: {e:#}")),
        }
    }
    for (variant, s) in &samods {
        let mut m = Map::new();
        m.insert("samod_variant".into(), json!(variant));
        m.insert("n".into(), json!(opts.offerings));
        copy(&mut m, "kreisnetz_ms", &k, "initial_sync", "ms");
        copy(&mut m, "kreisnetz_tmpfs_ms", &k_tmpfs, "initial_sync", "ms");
        copy(&mut m, "samod_ms", s, "initial_sync", "ms");
        copy(&mut m, "kreisnetz_bytes", &k, "initial_sync", "bytes");
        copy(&mut m, "samod_bytes", s, "initial_sync", "bytes");
        let (km, sm) = (
            num(k.get("initial_sync"), "ms"),
            num(s.get("initial_sync"), "ms"),
        );
        if let (Some(km), Some(sm)) = (km, sm) {
            m.insert("ratio".into(), json!(round3(km / sm)));
            m.insert("target".into(), json!("kreisnetz <= 1/3 of samod"));
            m.insert("met".into(), json!(km * 3.0 <= sm));
        }
        emit("compare", "initial_sync", m);
        for (bench, target) in [
            ("one_hop", Some(5.0)),
            ("nine_star", Some(25.0)),
            ("nine_mesh", None),
        ] {
            let mut m = Map::new();
            m.insert("samod_variant".into(), json!(variant));
            m.insert("n".into(), json!(opts.offerings));
            m.insert("edits".into(), json!(opts.edits));
            for (who, r) in [
                ("kreisnetz", &k),
                ("kreisnetz_tmpfs", &k_tmpfs),
                ("samod", s),
            ] {
                for key in ["count", "p50_ms", "p99_ms", "max_ms", "bytes_per_edit"] {
                    copy(&mut m, &format!("{who}_{key}"), r, bench, key);
                }
            }
            if let Some(t) = target {
                m.insert("target".into(), json!(format!("kreisnetz p99 <= {t} ms")));
                m.insert(
                    "met".into(),
                    json!(num(k.get(bench), "p99_ms").is_some_and(|p| p <= t)),
                );
            }
            emit("compare", bench, m);
        }
    }
    let mut m = Map::new();
    m.insert(
        "secs".into(),
        json!(round3(started.elapsed().as_secs_f64())),
    );
    let systems = [
        ("kreisnetz".to_string(), &k),
        ("kreisnetz_tmpfs".to_string(), &k_tmpfs),
    ]
    .into_iter()
    .chain(samods.iter().map(|(v, s)| (format!("samod_{v}"), s)));
    for (who, r) in systems {
        let peak = r
            .values()
            .filter_map(|m| m.get("rss_peak_mib").and_then(Value::as_f64))
            .fold(None, |acc: Option<f64>, x| {
                Some(acc.map_or(x, |a| a.max(x)))
            });
        if let Some(peak) = peak {
            m.insert(format!("{who}_rss_peak_mib"), json!(peak));
        }
    }
    m.insert(
        "note".into(),
        json!("each system ran in its own child process; rss peaks are per phase (reset before each), all nodes of a system in one process"),
    );
    emit("compare", "run", m);
    Ok(())
}
