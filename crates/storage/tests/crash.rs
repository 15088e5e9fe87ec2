//! Crash test: a child process commits and flushes, printing every acknowledged (flushed) feed
//! sequence, and is killed with SIGKILL in the middle of it. The parent reopens the database and
//! checks that everything acknowledged is there, intact, and that what survived is a consistent
//! prefix of what the child wrote (whole commits, no gaps in the feed). Several rounds run over
//! the same database, each child continuing where the surviving data ends.
//!
//! The child is this same test binary, re-executed with `CHILD_ENV` set and filtered to the
//! `crash_child` test, which does nothing when the variable is not set.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use kreisnetz_storage::{Commit, LoadedDocument, SledStore, Store};

const CHILD_ENV: &str = "KREISNETZ_STORAGE_CRASH_CHILD_DIR";
const DOCS: [&str; 3] = [
    "Landkreis Oldenburg",
    "Stadt Wilhelmshaven",
    "Landkreis Wesermarsch",
];
/// The child stops by itself after this many commits if nobody kills it.
const CHILD_MAX_COMMITS: u64 = 20_000;
const ROUNDS: u64 = 8;

/// Commit number `i` (0-based) goes to this document. Each commit carries exactly one feed
/// event, so commit `i` gets feed sequence `i + 1`.
fn doc_of(i: u64) -> &'static str {
    DOCS[(i % 3) as usize]
}

/// `"{i}:" + padding + ";"`, with padding that varies so sled writes values of many sizes and
/// rolls over log segments.
fn chunk_of(i: u64) -> Vec<u8> {
    let pad = (i * 37 % 600) as usize;
    let mut chunk = format!("{i}:").into_bytes();
    chunk.resize(chunk.len() + pad, b'x');
    chunk.push(b';');
    chunk
}

fn heads_of(i: u64) -> [u8; 32] {
    let mut head = [0u8; 32];
    head[..8].copy_from_slice(&i.to_be_bytes());
    head[31] = 0xAC;
    head
}

fn event_of(i: u64) -> Vec<u8> {
    format!("event {i} for {}", doc_of(i)).into_bytes()
}

/// Commit numbers stored in a document, in order, each checked against `chunk_of`.
fn commits_in(doc: &LoadedDocument) -> Vec<u64> {
    let mut all = doc.snapshot.clone().unwrap_or_default();
    for chunk in &doc.chunks {
        all.extend_from_slice(chunk);
    }
    all.split_inclusive(|b| *b == b';')
        .map(|token| {
            let text = std::str::from_utf8(token).expect("chunks are ASCII");
            let (number, _) = text.split_once(':').expect("chunk has a number");
            let i: u64 = number.parse().expect("chunk number parses");
            assert_eq!(token, chunk_of(i).as_slice(), "chunk {i} intact");
            i
        })
        .collect()
}

#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SledStore::open(Path::new(&dir)).expect("child opens the store");
    let mut stdout = std::io::stdout().lock();
    let mut i = store.feed_head();
    let end = i + CHILD_MAX_COMMITS;
    while i < end {
        // Group commit: one to three commits per flush, acknowledged only after the flush.
        let group = 1 + i % 3;
        let mut acked = Vec::new();
        for _ in 0..group {
            let doc = doc_of(i);
            let seqs = store
                .commit(Commit {
                    doc,
                    chunk: &chunk_of(i),
                    heads: &[heads_of(i)],
                    feed_events: &[event_of(i)],
                    meta: None,
                })
                .expect("commit");
            assert_eq!(seqs, vec![i + 1]);
            acked.push(i + 1);
            if i % 7 == 6 {
                let loaded = store.load_document(doc).expect("load").expect("exists");
                let mut snapshot = loaded.snapshot.unwrap_or_default();
                for chunk in loaded.chunks {
                    snapshot.extend(chunk);
                }
                store
                    .compact(doc, &snapshot, &loaded.heads)
                    .expect("compact");
            }
            i += 1;
        }
        store.flush().expect("flush");
        for seq in acked {
            writeln!(stdout, "ACK {seq}").expect("stdout");
        }
        stdout.flush().expect("stdout");
    }
}

/// Checks the database after a crash; returns the feed head found.
fn check_after_crash(dir: &Path, acked: &[u64]) -> u64 {
    let store = SledStore::open(dir).expect("reopen after SIGKILL");
    store.verify().expect("every stored value verifies");
    let head = store.feed_head();
    let max_acked = acked.iter().copied().max().unwrap_or(0);
    assert!(
        head >= max_acked,
        "feed head {head} lost acknowledged sequence {max_acked}"
    );

    // The feed holds exactly the events of commits 0..head, with no gaps.
    let feed = store.feed_after(0, usize::MAX).expect("feed reads");
    assert_eq!(feed.len() as u64, head);
    for (index, (seq, event)) in feed.iter().enumerate() {
        assert_eq!(*seq, index as u64 + 1);
        assert_eq!(*event, event_of(seq - 1), "event {seq} intact");
    }
    for seq in acked {
        assert!(*seq <= head, "acknowledged sequence {seq} present");
    }

    // Each document holds exactly its commits among 0..head, in order, with the newest heads:
    // commits survive whole and in order (a prefix), compactions lose nothing.
    for (d, doc) in DOCS.iter().enumerate() {
        let expected: Vec<u64> = (0..head).filter(|i| i % 3 == d as u64).collect();
        match store.load_document(doc).expect("document loads") {
            Some(loaded) => {
                assert_eq!(commits_in(&loaded), expected, "{doc}");
                let last = *expected.last().expect("a stored document has commits");
                assert_eq!(loaded.heads, vec![heads_of(last)], "{doc} heads");
                let chunk_bytes: u64 = loaded.chunks.iter().map(|c| c.len() as u64).sum();
                assert_eq!(loaded.chunk_bytes, chunk_bytes);
            }
            None => assert!(expected.is_empty(), "{doc} lost"),
        }
    }
    head
}

#[test]
fn acknowledged_commits_survive_sigkill() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("db");
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<u64> = Vec::new();
    let mut heads = BTreeMap::new();
    // Vary where the kill lands from run to run.
    let jitter = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::from(d.subsec_nanos()))
        .unwrap_or(0);

    for round in 0..ROUNDS {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &db)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let stderr_reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let (tx, rx) = mpsc::channel();
        let stdout_reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("ACK ") {
                    let seq: u64 = seq.trim().parse().expect("child prints numbers");
                    if tx.send(seq).is_err() {
                        break;
                    }
                }
            }
        });

        // Let the child acknowledge a varying number of commits, then kill it mid-run.
        let target = 20 + (jitter / (round + 1)) % 150 + round * 40;
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut this_round = 0;
        while this_round < target {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(seq) => {
                    acked.push(seq);
                    this_round += 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if Instant::now() > deadline {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        child.kill().expect("SIGKILL child");
        let status = child.wait().expect("reap child");
        stdout_reader.join().unwrap();
        // Acknowledgements printed before the kill count too.
        acked.extend(rx.try_iter());
        let stderr = stderr_reader.join().unwrap();
        assert!(
            this_round >= target,
            "round {round}: child acknowledged only {this_round} of {target} commits \
             (status {status}); its stderr:\n{stderr}"
        );

        let head = check_after_crash(&db, &acked);
        heads.insert(round, (acked.len(), head));
    }
    eprintln!("rounds (acknowledged so far, feed head after crash): {heads:?}");
}
