//! One test suite, generic over `Store`, run against `SledStore` and `MemStore`; plus a property
//! test that random operations give the same results on both.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kreisnetz_storage::{Commit, LoadedDocument, MemStore, SledStore, Store, StoreError};
use proptest::prelude::*;
use tempfile::TempDir;

/// Opens a store and "restarts" it over the same data.
trait Harness {
    type S: Store;
    fn new() -> Self;
    fn open(&mut self) -> Self::S;
    /// Flushes, closes and opens the store again.
    fn reopen(&mut self, store: Self::S) -> Self::S;
}

struct Sled(TempDir);

impl Harness for Sled {
    type S = SledStore;
    fn new() -> Self {
        Sled(TempDir::new().unwrap())
    }
    fn open(&mut self) -> SledStore {
        SledStore::open(&self.0.path().join("db")).unwrap()
    }
    fn reopen(&mut self, store: SledStore) -> SledStore {
        store.flush().unwrap();
        drop(store);
        self.open()
    }
}

struct Mem(MemStore);

impl Harness for Mem {
    type S = MemStore;
    fn new() -> Self {
        Mem(MemStore::new())
    }
    fn open(&mut self) -> MemStore {
        self.0.clone()
    }
    fn reopen(&mut self, store: MemStore) -> MemStore {
        store.flush().unwrap();
        drop(store);
        self.open()
    }
}

fn head(n: u8) -> [u8; 32] {
    [n; 32]
}

fn commit(
    store: &impl Store,
    doc: &str,
    chunk: &[u8],
    heads: &[[u8; 32]],
    events: &[&[u8]],
) -> Vec<u64> {
    let events: Vec<Vec<u8>> = events.iter().map(|e| e.to_vec()).collect();
    store
        .commit(Commit {
            doc,
            chunk,
            heads,
            feed_events: &events,
            meta: None,
        })
        .unwrap()
}

fn load(store: &impl Store, doc: &str) -> LoadedDocument {
    store.load_document(doc).unwrap().expect("document exists")
}

fn chunks(list: &[&[u8]]) -> Vec<Vec<u8>> {
    list.iter().map(|c| c.to_vec()).collect()
}

// ---------------------------------------------------------------------------------------------
// The suite.

fn empty_store<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    assert_eq!(store.documents().unwrap(), Vec::<String>::new());
    assert_eq!(store.load_document("nope").unwrap(), None);
    assert_eq!(store.feed_head(), 0);
    assert_eq!(store.flushed_feed_head(), 0);
    assert_eq!(store.feed_after(0, 10).unwrap(), vec![]);
    assert_eq!(store.meta("schema").unwrap(), None);
    assert_eq!(store.sync_state("peer", "doc").unwrap(), None);
    store.flush().unwrap();
}

fn round_trip<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    assert_eq!(
        commit(&store, "Landkreis Vechta", b"c0", &[head(1)], &[]),
        Vec::<u64>::new()
    );
    commit(&store, "Landkreis Cloppenburg", b"x0", &[head(9)], &[b"ev"]);
    commit(
        &store,
        "Landkreis Vechta",
        b"c1-longer",
        &[head(2), head(3)],
        &[],
    );
    commit(&store, "Landkreis Vechta", b"", &[], &[]);

    let vechta = load(&store, "Landkreis Vechta");
    assert_eq!(
        vechta,
        LoadedDocument {
            snapshot: None,
            chunks: chunks(&[b"c0", b"c1-longer", b""]),
            chunk_bytes: 11,
            heads: vec![],
        }
    );
    assert_eq!(load(&store, "Landkreis Cloppenburg").heads, vec![head(9)]);
    assert_eq!(
        store.documents().unwrap(),
        vec![
            "Landkreis Cloppenburg".to_owned(),
            "Landkreis Vechta".to_owned()
        ]
    );

    // Names that are prefixes of each other, empty, with NUL or non-ASCII stay apart.
    for (i, doc) in [
        "a",
        "ab",
        "a\0b",
        "",
        "Wesermarsch – Brake (Unterweser)",
        "d",
    ]
    .iter()
    .enumerate()
    {
        commit(&store, doc, doc.as_bytes(), &[head(i as u8)], &[]);
        store.put_sync_state("peer", doc, &[i as u8]).unwrap();
        store.put_meta(doc, &[i as u8, 1]).unwrap();
    }
    for (i, doc) in [
        "a",
        "ab",
        "a\0b",
        "",
        "Wesermarsch – Brake (Unterweser)",
        "d",
    ]
    .iter()
    .enumerate()
    {
        let loaded = load(&store, doc);
        assert_eq!(loaded.chunks, vec![doc.as_bytes().to_vec()], "{doc:?}");
        assert_eq!(loaded.heads, vec![head(i as u8)]);
        assert_eq!(store.sync_state("peer", doc).unwrap(), Some(vec![i as u8]));
        assert_eq!(store.meta(doc).unwrap(), Some(vec![i as u8, 1]));
    }
    let docs = store.documents().unwrap();
    let mut sorted = docs.clone();
    sorted.sort();
    assert_eq!(docs, sorted);
    assert_eq!(docs.len(), 8);

    // Sync state is per (peer, document); values are replaced.
    store.put_sync_state("peer-a", "doc", b"1").unwrap();
    store.put_sync_state("peer-ab", "doc", b"2").unwrap();
    store.put_sync_state("peer-a", "bdoc", b"3").unwrap();
    store.put_sync_state("peer-a", "doc", b"4").unwrap();
    assert_eq!(
        store.sync_state("peer-a", "doc").unwrap(),
        Some(b"4".to_vec())
    );
    assert_eq!(
        store.sync_state("peer-ab", "doc").unwrap(),
        Some(b"2".to_vec())
    );
    assert_eq!(
        store.sync_state("peer-a", "bdoc").unwrap(),
        Some(b"3".to_vec())
    );
    assert_eq!(store.sync_state("peer-abd", "oc").unwrap(), None);
    store.put_meta("schema", b"1").unwrap();
    store.put_meta("schema", b"2").unwrap();
    assert_eq!(store.meta("schema").unwrap(), Some(b"2".to_vec()));
    store.put_meta("empty", b"").unwrap();
    assert_eq!(store.meta("empty").unwrap(), Some(vec![]));
}

fn reopen_keeps_everything_flushed<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    commit(&store, "doc", b"c0", &[head(1)], &[b"e1", b"e2"]);
    store.compact("doc", b"snap", &[head(1)]).unwrap();
    commit(&store, "doc", b"c1", &[head(2)], &[b"e3"]);
    commit(&store, "other", &[7; 10_000], &[head(3)], &[]);
    store.put_sync_state("peer", "doc", b"state").unwrap();
    store.put_meta("schema", b"1").unwrap();
    let docs = store.documents().unwrap();
    let loaded: Vec<_> = docs.iter().map(|d| load(&store, d)).collect();
    let feed = store.feed_after(0, 100).unwrap();

    let store = h.reopen(store);
    assert_eq!(store.documents().unwrap(), docs);
    let reloaded: Vec<_> = docs.iter().map(|d| load(&store, d)).collect();
    assert_eq!(reloaded, loaded);
    assert_eq!(store.feed_after(0, 100).unwrap(), feed);
    assert_eq!(store.feed_head(), 3);
    assert_eq!(store.flushed_feed_head(), 3);
    assert_eq!(
        store.sync_state("peer", "doc").unwrap(),
        Some(b"state".to_vec())
    );
    assert_eq!(store.meta("schema").unwrap(), Some(b"1".to_vec()));

    // And once more, after more writes on the reopened store.
    commit(&store, "doc", b"c2", &[head(4)], &[b"e4"]);
    let store = h.reopen(store);
    assert_eq!(load(&store, "doc").chunks, chunks(&[b"c1", b"c2"]));
    assert_eq!(load(&store, "doc").snapshot, Some(b"snap".to_vec()));
}

fn compaction_replaces_chunks_and_keeps_later_commits<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    commit(&store, "doc", b"c0", &[head(1)], &[b"e1"]);
    commit(&store, "doc", b"c1", &[head(2)], &[]);
    commit(&store, "other", b"o0", &[head(9)], &[]);
    store.compact("doc", b"snap-1", &[head(2)]).unwrap();
    assert_eq!(
        load(&store, "doc"),
        LoadedDocument {
            snapshot: Some(b"snap-1".to_vec()),
            chunks: vec![],
            chunk_bytes: 0,
            heads: vec![head(2)],
        }
    );
    assert_eq!(
        load(&store, "other").chunks,
        chunks(&[b"o0"]),
        "other documents untouched"
    );
    assert_eq!(store.feed_head(), 1, "compaction adds no feed events");

    commit(&store, "doc", b"c2", &[head(3)], &[b"e2"]);
    commit(&store, "doc", b"c3", &[head(4)], &[]);
    let doc = load(&store, "doc");
    assert_eq!(doc.snapshot, Some(b"snap-1".to_vec()));
    assert_eq!(doc.chunks, chunks(&[b"c2", b"c3"]));
    assert_eq!(doc.chunk_bytes, 4);
    assert_eq!(doc.heads, vec![head(4)]);

    store.compact("doc", b"snap-2", &[head(4)]).unwrap();
    commit(&store, "doc", b"c4", &[head(5)], &[]);
    let store = h.reopen(store);
    let doc = load(&store, "doc");
    assert_eq!(doc.snapshot, Some(b"snap-2".to_vec()));
    assert_eq!(doc.chunks, chunks(&[b"c4"]));
    assert_eq!(doc.heads, vec![head(5)]);

    // Compacting twice in a row, and compacting a document never committed.
    store.compact("doc", b"snap-3", &[head(5)]).unwrap();
    store.compact("doc", b"snap-4", &[head(6)]).unwrap();
    store.compact("fresh", b"imported", &[head(7)]).unwrap();
    let store = h.reopen(store);
    assert_eq!(load(&store, "doc").snapshot, Some(b"snap-4".to_vec()));
    assert_eq!(load(&store, "doc").heads, vec![head(6)]);
    assert!(load(&store, "doc").chunks.is_empty());
    assert_eq!(load(&store, "fresh").snapshot, Some(b"imported".to_vec()));
    assert_eq!(store.documents().unwrap(), vec!["doc", "fresh", "other"]);
}

fn feed_paging_and_limits<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    let mut expected = Vec::new();
    for i in 0..20u8 {
        let events: Vec<Vec<u8>> = (0..i % 4).map(|j| vec![i, j]).collect();
        let refs: Vec<&[u8]> = events.iter().map(|e| e.as_slice()).collect();
        let first = expected.len() as u64 + 1;
        let seqs = commit(&store, &format!("doc-{}", i % 3), &[i], &[head(i)], &refs);
        assert_eq!(
            seqs,
            (first..first + events.len() as u64).collect::<Vec<_>>()
        );
        for (seq, event) in seqs.into_iter().zip(events) {
            expected.push((seq, event));
        }
        assert_eq!(store.feed_head(), expected.len() as u64);
    }
    assert_eq!(expected.len(), 30);

    for limit in [1, 2, 7, 30, 100] {
        let mut paged = Vec::new();
        let mut cursor = 0;
        loop {
            let page = store.feed_after(cursor, limit).unwrap();
            assert!(page.len() <= limit);
            let Some(&(last, _)) = page.last() else { break };
            cursor = last;
            paged.extend(page);
        }
        assert_eq!(paged, expected, "limit {limit}");
    }
    assert_eq!(store.feed_after(0, 0).unwrap(), vec![]);
    assert_eq!(store.feed_after(30, 10).unwrap(), vec![]);
    assert_eq!(store.feed_after(1000, 10).unwrap(), vec![]);
    assert_eq!(store.feed_after(u64::MAX, usize::MAX).unwrap(), vec![]);
    assert_eq!(
        store.feed_after(27, usize::MAX).unwrap(),
        expected[27..].to_vec()
    );
    assert_eq!(store.feed_after(10, 3).unwrap(), expected[10..13].to_vec());
}

fn sequences_continue_after_reopen<H: Harness>() {
    let mut h = H::new();
    let store = h.open();
    assert_eq!(commit(&store, "doc", b"c0", &[], &[b"a", b"b"]), vec![1, 2]);
    assert_eq!(store.flushed_feed_head(), 0, "nothing flushed yet");
    store.flush().unwrap();
    assert_eq!(store.flushed_feed_head(), 2);
    let store = h.reopen(store);
    assert_eq!(store.feed_head(), 2);
    assert_eq!(commit(&store, "doc", b"c1", &[], &[]), Vec::<u64>::new());
    assert_eq!(commit(&store, "other", b"o0", &[], &[b"c"]), vec![3]);
    let store = h.reopen(store);
    assert_eq!(
        commit(&store, "doc", b"c2", &[], &[b"d", b"e", b"f"]),
        vec![4, 5, 6]
    );
    assert_eq!(
        store.feed_after(0, 10).unwrap(),
        vec![
            (1, b"a".to_vec()),
            (2, b"b".to_vec()),
            (3, b"c".to_vec()),
            (4, b"d".to_vec()),
            (5, b"e".to_vec()),
            (6, b"f".to_vec()),
        ]
    );
}

/// The writer commits and compacts while readers page the feed and load the document. Every
/// load must be a state the writer produced (snapshot and chunks from the same moment), and the
/// feed must never show a gap.
fn concurrent_readers_see_consistent_states<H: Harness>() {
    const COMMITS: u32 = 400;
    let mut h = H::new();
    let store = Arc::new(h.open());
    let done = Arc::new(AtomicBool::new(false));

    // Document content is "0;1;2;...;n;" across snapshot and chunks; heads encode n.
    let parse = |doc: &LoadedDocument| -> Vec<u32> {
        let mut all = doc.snapshot.clone().unwrap_or_default();
        for chunk in &doc.chunks {
            all.extend_from_slice(chunk);
        }
        let text = String::from_utf8(all).unwrap();
        text.split_terminator(';')
            .map(|t| t.parse().unwrap())
            .collect()
    };

    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut cursor = 0u64;
                let mut longest = 0usize;
                while !done.load(Ordering::Acquire) || cursor < store.feed_head() {
                    for (seq, event) in store.feed_after(cursor, 16).unwrap() {
                        assert_eq!(seq, cursor + 1, "feed has no gaps");
                        assert_eq!(event, (seq - 1).to_string().into_bytes());
                        cursor = seq;
                    }
                    if let Some(doc) = store.load_document("doc").unwrap() {
                        let numbers = parse(&doc);
                        assert_eq!(numbers, (0..numbers.len() as u32).collect::<Vec<_>>());
                        let n = numbers.len() as u32;
                        assert_eq!(doc.heads, vec![[(n - 1) as u8; 32]]);
                        assert!(numbers.len() >= longest, "loads never go back in time");
                        longest = numbers.len();
                    }
                }
                cursor
            })
        })
        .collect();

    for i in 0..COMMITS {
        let chunk = format!("{i};");
        let event = i.to_string().into_bytes();
        commit(
            &*store,
            "doc",
            chunk.as_bytes(),
            &[[i as u8; 32]],
            &[&event],
        );
        if i % 10 == 9 {
            store.flush().unwrap();
        }
        if i % 37 == 36 {
            let doc = load(&*store, "doc");
            let mut snapshot = doc.snapshot.unwrap_or_default();
            for chunk in doc.chunks {
                snapshot.extend(chunk);
            }
            store.compact("doc", &snapshot, &doc.heads).unwrap();
        }
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert_eq!(reader.join().unwrap(), u64::from(COMMITS));
    }
}

macro_rules! suite {
    ($module:ident, $harness:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn empty_store() {
                super::empty_store::<$harness>();
            }
            #[test]
            fn round_trip() {
                super::round_trip::<$harness>();
            }
            #[test]
            fn reopen_keeps_everything_flushed() {
                super::reopen_keeps_everything_flushed::<$harness>();
            }
            #[test]
            fn compaction_replaces_chunks_and_keeps_later_commits() {
                super::compaction_replaces_chunks_and_keeps_later_commits::<$harness>();
            }
            #[test]
            fn feed_paging_and_limits() {
                super::feed_paging_and_limits::<$harness>();
            }
            #[test]
            fn sequences_continue_after_reopen() {
                super::sequences_continue_after_reopen::<$harness>();
            }
            #[test]
            fn concurrent_readers_see_consistent_states() {
                super::concurrent_readers_see_consistent_states::<$harness>();
            }
        }
    };
}

suite!(sled, Sled);
suite!(mem, Mem);

// ---------------------------------------------------------------------------------------------
// Store-specific behaviour.

#[test]
fn mem_store_crash_forgets_unflushed_writes_whole() {
    let store = MemStore::new();
    let node = store.clone();
    commit(&node, "doc", b"c0", &[head(1)], &[b"e1"]);
    node.put_meta("schema", b"1").unwrap();
    node.flush().unwrap();
    commit(&node, "doc", b"c1", &[head(2)], &[b"e2", b"e3"]);
    node.compact("doc", b"snap", &[head(2)]).unwrap();
    node.put_sync_state("peer", "doc", b"s").unwrap();
    node.put_meta("schema", b"2").unwrap();
    assert_eq!(node.feed_head(), 3);
    assert_eq!(node.flushed_feed_head(), 1);
    drop(node);

    store.simulate_crash();
    let node = store.clone();
    assert_eq!(
        load(&node, "doc"),
        LoadedDocument {
            snapshot: None,
            chunks: chunks(&[b"c0"]),
            chunk_bytes: 2,
            heads: vec![head(1)],
        }
    );
    assert_eq!(node.feed_head(), 1);
    assert_eq!(node.feed_after(0, 10).unwrap(), vec![(1, b"e1".to_vec())]);
    assert_eq!(node.meta("schema").unwrap(), Some(b"1".to_vec()));
    assert_eq!(node.sync_state("peer", "doc").unwrap(), None);
    // The unflushed sequence 2 was never durable; it is handed out again.
    assert_eq!(commit(&node, "doc", b"c1'", &[], &[b"e2'"]), vec![2]);
    node.flush().unwrap();
    store.simulate_crash();
    assert_eq!(load(&node, "doc").chunks, chunks(&[b"c0", b"c1'"]));
}

#[test]
fn sled_store_reports_size_and_rejects_a_second_open() {
    let dir = TempDir::new().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    commit(&store, "doc", &[1; 50_000], &[], &[]);
    store.flush().unwrap();
    assert!(store.size_on_disk() > 0);
    assert!(MemStore::new().size_on_disk() == 0);
    // sled locks its directory: a second open in use fails cleanly.
    let second = SledStore::open_with_lock_wait(dir.path(), Duration::from_millis(50));
    assert!(
        matches!(second, Err(StoreError::Io(ref e)) if e.contains("lock")),
        "{second:?}"
    );
    // Layout version, feed epoch, document record, the chunk's envelope and its 13 parts.
    assert_eq!(store.verify().unwrap(), 17);
}

#[test]
fn sled_store_reopens_right_after_drop() {
    // sled keeps its directory lock for a few ms after the last handle is dropped; `open`
    // waits for it instead of failing at random.
    let dir = TempDir::new().unwrap();
    for i in 0..40u8 {
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.feed_head(), u64::from(i));
        commit(&store, "doc", &[i; 3000], &[head(i)], &[&[i]]);
        store.flush().unwrap();
    }
}

#[test]
fn stores_work_as_trait_objects() {
    let dir = TempDir::new().unwrap();
    let stores: Vec<Arc<dyn Store>> = vec![
        Arc::new(MemStore::new()),
        Arc::new(SledStore::open(dir.path()).unwrap()),
    ];
    for store in stores {
        store
            .commit(Commit {
                doc: "doc",
                chunk: b"c",
                heads: &[],
                feed_events: &[b"e".to_vec()],
                meta: None,
            })
            .unwrap();
        store.flush().unwrap();
        assert_eq!(store.flushed_feed_head(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Model test: random operations on both stores in lock step.

const DOCS: [&str; 4] = ["Landkreis Friesland", "a", "a\0b", ""];
const NAMES: [&str; 2] = ["schema", "signed-heads/a"];

#[derive(Debug, Clone)]
enum Op {
    Commit {
        doc: usize,
        chunk: Vec<u8>,
        heads: Vec<u8>,
        events: Vec<Vec<u8>>,
    },
    Compact {
        doc: usize,
        snapshot: Vec<u8>,
        heads: Vec<u8>,
    },
    SyncState {
        peer: usize,
        doc: usize,
        state: Vec<u8>,
    },
    Meta {
        name: usize,
        value: Vec<u8>,
    },
    Flush,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let bytes = |max| prop::collection::vec(any::<u8>(), 0..max);
    prop_oneof![
        6 => (0..DOCS.len(), bytes(24), bytes(3), prop::collection::vec(bytes(6), 0..4))
            .prop_map(|(doc, chunk, heads, events)| Op::Commit { doc, chunk, heads, events }),
        2 => (0..DOCS.len(), bytes(40), bytes(3))
            .prop_map(|(doc, snapshot, heads)| Op::Compact { doc, snapshot, heads }),
        1 => (0..NAMES.len(), 0..DOCS.len(), bytes(8))
            .prop_map(|(peer, doc, state)| Op::SyncState { peer, doc, state }),
        1 => (0..NAMES.len(), bytes(8)).prop_map(|(name, value)| Op::Meta { name, value }),
        1 => Just(Op::Flush),
        1 => Just(Op::Reopen),
    ]
}

/// Everything a store lets one observe.
#[derive(Debug, PartialEq)]
struct Observed {
    documents: Vec<String>,
    loaded: Vec<Option<LoadedDocument>>,
    feed_head: u64,
    feed: Vec<(u64, Vec<u8>)>,
    sync: Vec<Option<Vec<u8>>>,
    meta: Vec<Option<Vec<u8>>>,
}

fn observe(store: &impl Store) -> Observed {
    Observed {
        documents: store.documents().unwrap(),
        loaded: DOCS
            .iter()
            .map(|d| store.load_document(d).unwrap())
            .collect(),
        feed_head: store.feed_head(),
        feed: store.feed_after(0, usize::MAX).unwrap(),
        sync: NAMES
            .iter()
            .flat_map(|p| DOCS.iter().map(move |d| (p, d)))
            .map(|(p, d)| store.sync_state(p, d).unwrap())
            .collect(),
        meta: NAMES.iter().map(|n| store.meta(n).unwrap()).collect(),
    }
}

fn to_heads(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes.iter().map(|b| [*b; 32]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sled_and_mem_agree(ops in prop::collection::vec(op(), 1..40)) {
        let mut sled_harness = Sled::new();
        let mut mem_harness = Mem::new();
        let mut sled = sled_harness.open();
        let mut mem = mem_harness.open();
        // What the documents must hold, tracked independently of both stores.
        let mut model: BTreeMap<&str, LoadedDocument> = BTreeMap::new();

        for op in ops {
            match op {
                Op::Commit { doc, chunk, heads, events } => {
                    let heads = to_heads(&heads);
                    let c = Commit { doc: DOCS[doc], chunk: &chunk, heads: &heads, feed_events: &events, meta: None };
                    let from_sled = sled.commit(c).unwrap();
                    let from_mem = mem.commit(c).unwrap();
                    prop_assert_eq!(&from_sled, &from_mem);
                    prop_assert_eq!(from_sled.len(), events.len());
                    let entry = model.entry(DOCS[doc]).or_default();
                    entry.chunk_bytes += chunk.len() as u64;
                    entry.chunks.push(chunk);
                    entry.heads = heads;
                }
                Op::Compact { doc, snapshot, heads } => {
                    let heads = to_heads(&heads);
                    sled.compact(DOCS[doc], &snapshot, &heads).unwrap();
                    mem.compact(DOCS[doc], &snapshot, &heads).unwrap();
                    model.insert(DOCS[doc], LoadedDocument {
                        snapshot: Some(snapshot),
                        chunks: vec![],
                        chunk_bytes: 0,
                        heads,
                    });
                }
                Op::SyncState { peer, doc, state } => {
                    sled.put_sync_state(NAMES[peer], DOCS[doc], &state).unwrap();
                    mem.put_sync_state(NAMES[peer], DOCS[doc], &state).unwrap();
                }
                Op::Meta { name, value } => {
                    sled.put_meta(NAMES[name], &value).unwrap();
                    mem.put_meta(NAMES[name], &value).unwrap();
                }
                Op::Flush => {
                    sled.flush().unwrap();
                    mem.flush().unwrap();
                    prop_assert_eq!(sled.flushed_feed_head(), mem.flushed_feed_head());
                }
                Op::Reopen => {
                    sled = sled_harness.reopen(sled);
                    mem = mem_harness.reopen(mem);
                }
            }
            let observed = observe(&sled);
            prop_assert_eq!(&observed, &observe(&mem));
            let expected: Vec<Option<LoadedDocument>> =
                DOCS.iter().map(|d| model.get(d).cloned()).collect();
            prop_assert_eq!(&observed.loaded, &expected);
        }
        prop_assert!(sled.verify().is_ok());
    }
}
