//! A malicious peer against real nodes: signed history end to end.
//!
//! Honest nodes A (Vechta) and B (Cloppenburg) are linked; both trust a third district D, whose
//! owner is played in-process by the test (a `DistrictKey` and a `DistrictDocument`: the owner's
//! real, signed data). A rogue peer with a valid, pinned TLS identity and a district of its own
//! (trusted by nobody) talks to A over the real federation port, relays D's data — intact or
//! mangled — and forges changes. A must apply only what the owner's signature covers; the offence
//! must show in A's metrics and peer status; and A and B must keep converging.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kreisnetz_document::DistrictDocument;
use kreisnetz_document::automerge::sync::{ChunkList, Message, MessageVersion};
use kreisnetz_identity::{DistrictKey, NodeIdentity};
use kreisnetz_model::{DistrictId, NodeId, RecordId, Timestamp};
use kreisnetz_node::federation::wire;
use kreisnetz_proto::v1;
use kreisnetz_proto::v1::federation_service_client::FederationServiceClient;
use kreisnetz_sync::{Frame, PROTOCOL_VERSION, SignedHeads};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::federation::{create, link};
use crate::harness::*;

/// The district the test plays the owner of.
const D_NAME: &str = "Landkreis Diepholz";

/// District D's owner: its key and its document, as its own node would hold them.
struct Owner {
    key: DistrictKey,
    doc: DistrictDocument,
    seq: u64,
}

impl Owner {
    fn new() -> Owner {
        let key = DistrictKey::generate();
        let doc = DistrictDocument::new(key.id()).expect("genesis");
        Owner { key, doc, seq: 0 }
    }

    fn id(&self) -> DistrictId {
        self.key.id()
    }

    /// Writes one offering, as the owner's writer does.
    fn write(&mut self, title: &str) {
        write_offering(&mut self.doc, title);
    }

    /// Signs the current heads with the next sequence number, as the owner's node does.
    fn sign(&mut self) -> SignedHeads {
        self.seq += 1;
        let heads = self.doc.heads();
        SignedHeads::sign(&self.key, &heads, self.seq, Timestamp::now().0 as u64)
    }

    /// Every change of the document (the genesis included), as change chunks.
    fn changes(&mut self) -> Vec<u8> {
        self.doc.automerge().save_after(&[])
    }
}

/// Creates and commits an offering in `doc` (anybody can do this to a copy of a document: what
/// makes it the owner's is the owner's signature over it).
fn write_offering(doc: &mut DistrictDocument, title: &str) {
    let offering = kreisnetz_proto::convert::offering_from_proto(
        &language_course(title),
        doc.district(),
        RecordId::new_random(),
        Timestamp::now(),
    )
    .expect("a valid offering");
    doc.create_offering(&offering).expect("a new offering");
    doc.commit("create offering", Timestamp::now().0 / 1000);
}

/// An Automerge sync message that pushes `changes`, whatever the receiver has.
fn pushy(changes: Vec<u8>) -> Vec<u8> {
    Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: ChunkList::from(changes),
        flags: None,
        version: MessageVersion::V1,
    }
    .encode()
}

fn sync_frame(doc: DistrictId, changes: Vec<u8>, signed: Vec<SignedHeads>) -> Frame {
    let signed_seq = signed.iter().map(|r| r.seq).max().unwrap_or(0);
    Frame::Sync {
        doc,
        message: pushy(changes),
        signed,
        signed_seq,
    }
}

/// A peer with a valid identity that A pinned, on a stream it drives by hand.
struct Rogue {
    id: NodeId,
    out: mpsc::Sender<v1::FederationFrame>,
    received: Arc<Mutex<Vec<v1::FederationFrame>>>,
    closed: Arc<AtomicBool>,
    reader: tokio::task::JoinHandle<()>,
}

impl Rogue {
    /// A configures the rogue as a peer (it only accepts it); the rogue dials A over pinned
    /// mutual TLS and says hello: protocol version 2, its node ID, its own district.
    async fn connect(a: &TestNode) -> Rogue {
        let identity = NodeIdentity::generate("rogue").expect("a node identity");
        let district = DistrictKey::generate().id();
        a.node_client()
            .await
            .add_peer(v1::AddPeerRequest {
                node_id: identity.id.to_string(),
                address: String::new(),
            })
            .await
            .expect("add the rogue as a peer");
        let a_node: NodeId = a.status().await.node_id.parse().expect("A's node ID");
        let channel = kreisnetz_transport::connect(
            &a.federation_addr,
            &identity,
            a_node,
            Duration::from_secs(10),
        )
        .await
        .expect("the rogue has a pinned identity: TLS works");
        let (out, rx) = mpsc::channel(64);
        assert_eq!(PROTOCOL_VERSION, 2);
        out.send(wire::to_proto(Frame::Hello {
            node: identity.id,
            district,
            protocol_version: PROTOCOL_VERSION,
            documents: Vec::new(),
            signed: Vec::new(),
        }))
        .await
        .expect("queue the hello");
        let mut inbound = FederationServiceClient::new(channel)
            .sync(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .expect("A takes the rogue's stream")
            .into_inner();
        let received = Arc::new(Mutex::new(Vec::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let (r, c) = (received.clone(), closed.clone());
        // Read everything A sends (else its queue for us fills up), until A ends the stream.
        let reader = tokio::spawn(async move {
            while let Ok(Some(frame)) = inbound.message().await {
                r.lock().expect("frames").push(frame);
            }
            c.store(true, Ordering::SeqCst);
        });
        Rogue {
            id: identity.id,
            out,
            received,
            closed,
            reader,
        }
    }

    async fn send(&self, frame: Frame) {
        self.out
            .send(wire::to_proto(frame))
            .await
            .expect("the rogue's stream is open");
    }

    /// The reasons of the `Notice` frames A sent about `doc`.
    fn notices(&self, doc: &DistrictId) -> Vec<String> {
        use v1::federation_frame::Frame as F;
        self.received
            .lock()
            .expect("frames")
            .iter()
            .filter_map(|f| match &f.frame {
                Some(F::Notice(n)) if n.document_id == doc.to_string() => Some(n.reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// The newest record of `doc` among those A sent (in its hello, with its sync messages,
    /// alone): the owner's real signature, which any node relays.
    fn newest_record(&self, doc: &DistrictId) -> Option<SignedHeads> {
        use v1::federation_frame::Frame as F;
        let frames = self.received.lock().expect("frames");
        frames
            .iter()
            .flat_map(|f| match &f.frame {
                Some(F::Hello(h)) => h.signed.clone(),
                Some(F::Sync(s)) => s.signed.clone(),
                Some(F::Signed(s)) => s.signed.clone(),
                _ => Vec::new(),
            })
            .filter_map(|r| wire::signed_from_proto(r).ok())
            .filter(|r| r.doc == *doc)
            .max_by_key(|r| r.seq)
    }

    fn goodbyes(&self) -> Vec<String> {
        use v1::federation_frame::Frame as F;
        self.received
            .lock()
            .expect("frames")
            .iter()
            .filter_map(|f| match &f.frame {
                Some(F::Goodbye(g)) => Some(g.reason.clone()),
                _ => None,
            })
            .collect()
    }

    /// A's view of the rogue (from the admin API).
    async fn status_on(&self, a: &TestNode) -> v1::Peer {
        let id = self.id.to_string();
        a.peers()
            .await
            .into_iter()
            .find(|p| p.node_id == id)
            .expect("the rogue is a configured peer of A")
    }

    /// Waits until A's view of the rogue counts (offences, bad signatures, unsigned changes).
    async fn counted_on(&self, a: &TestNode, what: &str, counts: (u32, u32, u64)) {
        eventually(what, || async {
            let s = self.status_on(a).await;
            (s.offences, s.bad_signatures, s.unsigned_changes) == counts
        })
        .await;
    }
}

impl Drop for Rogue {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// The honest federation under attack.
struct Net {
    a: TestNode,
    b: TestNode,
    b_district: DistrictId,
    owner: Owner,
    rogue: Rogue,
}

async fn setup() -> Net {
    let a = TestNode::start("Landkreis Vechta");
    let b = TestNode::start("Landkreis Cloppenburg");
    link(&a, &b).await;
    let owner = Owner::new();
    for node in [&a, &b] {
        node.trust(&owner.id().to_string(), D_NAME).await;
    }
    let b_district = b.status().await.district_id.parse().expect("B's district");
    let rogue = Rogue::connect(&a).await;
    eventually("A counts the rogue as connected", || async {
        rogue.status_on(&a).await.connected
    })
    .await;
    Net {
        a,
        b,
        b_district,
        owner,
        rogue,
    }
}

/// A and B still sync with each other, both ways.
async fn still_converge(net: &Net, tag: &str) {
    let from_a = format!("{tag}: aus Vechta");
    let from_b = format!("{tag}: aus Cloppenburg");
    create(&net.a, &from_a).await;
    create(&net.b, &from_b).await;
    eventually("A's new offering reaches B", || has_title(&net.b, &from_a)).await;
    eventually("B's new offering reaches A", || has_title(&net.a, &from_b)).await;
}

async fn has_title(node: &TestNode, title: &str) -> bool {
    list_all(node).await.iter().any(|o| o.title == title)
}

async fn assert_nowhere(net: &Net, title: &str) {
    for node in [&net.a, &net.b] {
        assert!(
            !has_title(node, title).await,
            "the forged offering {title:?} is on {}",
            node.district
        );
    }
}

async fn document(node: &TestNode, doc: &DistrictId) -> Option<v1::Document> {
    let id = doc.to_string();
    node.documents()
        .await
        .into_iter()
        .find(|d| d.document_id == id)
}

/// Waits until `node`'s status of `doc` passes `check` (a node publishes its status right after
/// its metrics, so the status can lag a metric by a moment); fails with the last status seen.
async fn document_shows(
    node: &TestNode,
    doc: &DistrictId,
    what: &str,
    check: impl Fn(&v1::Document) -> bool,
) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let seen = document(node, doc).await;
        if seen.as_ref().is_some_and(&check) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never showed {what}: {seen:?}",
            node.district
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- metrics ----

/// A scrape of `<data-dir>/metrics.addr` (a bare HTTP/1.1 GET, read to the end).
async fn scrape(node: &TestNode) -> String {
    let file = node
        .config_path()
        .parent()
        .expect("data dir")
        .join("metrics.addr");
    let addr = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .trim()
        .to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect to the metrics endpoint");
    let request = format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8(raw).expect("UTF-8");
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default()
}

/// The sum of the samples of `name` whose labels include every one of `labels`.
fn sample(body: &str, name: &str, labels: &[(&str, String)]) -> f64 {
    body.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix('{')?;
            let (set, value) = rest.split_once("} ")?;
            labels
                .iter()
                .all(|(k, v)| set.contains(&format!("{k}=\"{v}\"")))
                .then(|| value.split_whitespace().next()?.parse::<f64>().ok())?
        })
        .sum()
}

async fn rejected(node: &TestNode, peer: &NodeId, doc: Option<&DistrictId>, reason: &str) -> f64 {
    let mut labels = vec![("peer", peer.to_string()), ("reason", reason.to_string())];
    if let Some(doc) = doc {
        labels.push(("doc", doc.to_string()));
    }
    sample(
        &scrape(node).await,
        "kreisnetz_sync_rejected_total",
        &labels,
    )
}

async fn quarantined(node: &TestNode, doc: &DistrictId) -> f64 {
    sample(
        &scrape(node).await,
        "kreisnetz_sync_quarantined_changes",
        &[("doc", doc.to_string())],
    )
}

// ---- the attacks ----

/// (a) Changes to B's document, "signed" by the rogue's own district key: the record names B's
/// document but carries the rogue's public key. A refuses the whole message (and tells the
/// rogue); the stream stays open; more than ten such offences close it.
#[tokio::test]
async fn a_changes_signed_with_the_rogues_own_key_are_refused_whole() {
    let net = setup().await;
    let (a, b, rogue) = (&net.a, &net.b, &net.rogue);
    let b_doc = net.b_district;
    const FORGED: &str = "Gefälscht: Cloppenburg mit fremdem Schlüssel";

    // A copy of B's document (its genesis is the same on every node) with a forged offering.
    let mut forged = DistrictDocument::new(b_doc).expect("genesis");
    write_offering(&mut forged, FORGED);
    let rogue_key = DistrictKey::generate();
    let mut record = SignedHeads::sign(&rogue_key, &forged.heads(), 1_000, 0);
    record.doc = b_doc;
    let frame = sync_frame(b_doc, forged.automerge().save_after(&[]), vec![record]);
    rogue.send(frame.clone()).await;

    eventually(
        "A counts a bad signature of the rogue for B's document",
        || async { rejected(a, &rogue.id, Some(&b_doc), "bad_signature").await >= 1.0 },
    )
    .await;
    rogue
        .counted_on(a, "A's peer status counts one bad signature", (1, 1, 0))
        .await;
    let status = rogue.status_on(a).await;
    assert!(
        status.connected,
        "one offence does not close the stream: {status:?}"
    );
    assert!(
        status.last_error.contains("not the key of district"),
        "{status:?}"
    );
    eventually("the rogue is told why (Notice)", || async {
        rogue
            .notices(&b_doc)
            .iter()
            .any(|r| r.contains("signed-heads record"))
    })
    .await;
    assert_eq!(rejected(a, &rogue.id, Some(&b_doc), "unsigned").await, 0.0);
    assert_nowhere(&net, FORGED).await;

    // More than ten offences in one connection close the stream.
    for _ in 0..10 {
        rogue.send(frame.clone()).await;
    }
    eventually("A closes the rogue's stream", || async {
        rogue.closed.load(Ordering::SeqCst)
    })
    .await;
    assert!(
        rogue.goodbyes().iter().any(|r| r.contains("offences")),
        "{:?}",
        rogue.goodbyes()
    );
    eventually("A's peer status shows the rogue disconnected", || async {
        !rogue.status_on(a).await.connected
    })
    .await;
    let status = rogue.status_on(a).await;
    assert!(status.last_error.contains("offences"), "{status:?}");
    assert_eq!(status.rejected, 11, "{status:?}");
    // Counted over the connection's end (the core forgets a disconnected peer).
    assert_eq!(status.bad_signatures, 11, "{status:?}");
    assert_eq!(
        rejected(a, &rogue.id, Some(&b_doc), "bad_signature").await,
        11.0
    );

    still_converge(&net, "a").await;
    assert_nowhere(&net, FORGED).await;
    // B's own document on B is B's, untouched by the forgery.
    assert!(document(b, &b_doc).await.expect("B's document").covered);
}

/// (b) D's real changes with its real record, one byte of the signature flipped: refused whole.
/// The same data with the intact record is then taken (the stream stayed open).
#[tokio::test]
async fn b_a_flipped_signature_byte_refuses_the_whole_message() {
    let mut net = setup().await;
    let d = net.owner.id();
    const REAL: &str = "Diepholz: Sprachkurs A1";
    net.owner.write(REAL);
    let record = net.owner.sign();
    let mut bad = record.clone();
    bad.signature[17] ^= 0x01;
    // The whole document, as Automerge sends it to a node that lacks most of it.
    let whole = net.owner.doc.save();
    let (a, rogue) = (&net.a, &net.rogue);
    rogue.send(sync_frame(d, whole.clone(), vec![bad])).await;

    eventually("A counts a bad signature of the rogue for D", || async {
        rejected(a, &rogue.id, Some(&d), "bad_signature").await >= 1.0
    })
    .await;
    rogue
        .counted_on(a, "A's peer status counts one bad signature", (1, 1, 0))
        .await;
    let status = rogue.status_on(a).await;
    assert!(status.connected, "{status:?}");
    assert!(status.last_error.contains("does not verify"), "{status:?}");
    assert!(
        !has_title(a, REAL).await,
        "A applied changes that came with a bad signature"
    );
    assert_eq!(
        quarantined(a, &d).await,
        0.0,
        "refused whole, not quarantined"
    );
    eventually("the rogue is told why (Notice)", || async {
        !rogue.notices(&d).is_empty()
    })
    .await;

    still_converge(&net, "b").await;
    assert_nowhere(&net, REAL).await;

    // The intact record with the same bytes: taken, and relayed on to B.
    rogue.send(sync_frame(d, whole, vec![record])).await;
    eventually("A takes D's data with the intact record", || {
        has_title(a, REAL)
    })
    .await;
    eventually("B gets it from A", || has_title(&net.b, REAL)).await;
    assert_eq!(rejected(a, &rogue.id, Some(&d), "bad_signature").await, 1.0);
}

/// (c) D's real changes with the records stripped: quarantined, not applied; a later `Signed`
/// frame with the owner's record releases them.
#[tokio::test]
async fn c_stripped_records_leave_changes_in_quarantine_until_a_record_comes() {
    let mut net = setup().await;
    let d = net.owner.id();
    let titles = ["Diepholz: Bewerbungstraining", "Diepholz: Kita-Plätze"];
    for t in titles {
        net.owner.write(t);
    }
    let record = net.owner.sign();
    let changes = net.owner.changes();
    let (a, b, rogue) = (&net.a, &net.b, &net.rogue);
    rogue.send(sync_frame(d, changes, Vec::new())).await;

    eventually("A counts unsigned changes from the rogue for D", || async {
        rejected(a, &rogue.id, Some(&d), "unsigned").await >= 1.0
    })
    .await;
    eventually("A holds both changes in quarantine", || async {
        quarantined(a, &d).await == 2.0
    })
    .await;
    document_shows(a, &d, "2 changes in quarantine, nothing applied", |doc| {
        (doc.quarantined_changes, doc.offerings, doc.signed_seq) == (2, 0, 0)
    })
    .await;
    rogue
        .counted_on(a, "A's peer status counts two unsigned changes", (1, 0, 2))
        .await;
    let status = rogue.status_on(a).await;
    assert!(status.connected, "{status:?}");
    assert!(
        status.last_error.contains("no valid signature"),
        "{status:?}"
    );
    for t in titles {
        assert!(!has_title(a, t).await, "A applied an unsigned change: {t}");
    }
    eventually("the rogue is told (Notice)", || async {
        rogue.notices(&d).iter().any(|r| r.contains("quarantined"))
    })
    .await;
    still_converge(&net, "c").await;
    for t in titles {
        assert_nowhere(&net, t).await;
    }

    // The owner's record arrives later, alone: the quarantined changes are applied and
    // relayed.
    rogue
        .send(Frame::Signed {
            doc: d,
            signed: vec![record],
        })
        .await;
    for t in titles {
        eventually("A applies the released change", || has_title(a, t)).await;
        eventually("B gets it from A", || has_title(b, t)).await;
    }
    eventually("A's quarantine is empty", || async {
        quarantined(a, &d).await == 0.0
    })
    .await;
    document_shows(a, &d, "seq 1 and both offerings, covered", |doc| {
        doc.covered && (doc.signed_seq, doc.offerings, doc.quarantined_changes) == (1, 2, 0)
    })
    .await;
}

/// (d) D's signed changes plus one change D never made, in one sync message: the signed ones
/// are applied, the forged one never — not on A, not relayed to B, not after A restarts.
#[tokio::test]
async fn d_a_forged_change_among_signed_ones_is_held_back_alone() {
    let mut net = setup().await;
    let d = net.owner.id();
    let titles = ["Diepholz: Integrationskurs", "Diepholz: Erstorientierung"];
    const FORGED: &str = "Gefälscht: Diepholz ohne Schlüssel";
    for t in titles {
        net.owner.write(t);
    }
    let record = net.owner.sign();
    let mut chunk = net.owner.changes();
    // A copy of D's document, an offering added without D's key.
    let heads = net.owner.doc.heads();
    let mut copy = net.owner.doc.fork();
    write_offering(&mut copy, FORGED);
    chunk.extend_from_slice(&copy.automerge().save_after(&heads));
    let (a, b, rogue) = (&net.a, &net.b, &net.rogue);
    rogue
        .send(sync_frame(d, chunk.clone(), vec![record.clone()]))
        .await;

    for t in titles {
        eventually("A applies D's signed change", || has_title(a, t)).await;
        eventually("B gets it from A", || has_title(b, t)).await;
    }
    eventually("A counts the forged change as unsigned", || async {
        rejected(a, &rogue.id, Some(&d), "unsigned").await >= 1.0
    })
    .await;
    assert_eq!(rejected(a, &rogue.id, Some(&d), "bad_signature").await, 0.0);
    eventually("the forged change waits in quarantine", || async {
        quarantined(a, &d).await == 1.0
    })
    .await;
    document_shows(
        a,
        &d,
        "seq 1, both offerings, the forgery in quarantine",
        |doc| doc.covered && (doc.signed_seq, doc.offerings, doc.quarantined_changes) == (1, 2, 1),
    )
    .await;
    // With valid records attached, one uncovered change is quarantined and reported but is no
    // offence yet (an honest sender's bloom-filter false positive looks the same) ...
    rogue
        .counted_on(a, "A's peer status counts one unsigned change", (0, 0, 1))
        .await;
    // ... sending it again while nothing covers it is.
    rogue.send(sync_frame(d, chunk, vec![record])).await;
    eventually("the resent forgery is an offence", || async {
        let s = rogue.status_on(a).await;
        s.offences == 1 && s.unsigned_changes == 2
    })
    .await;
    let status = rogue.status_on(a).await;
    assert!(status.connected, "{status:?}");
    assert!(
        status.last_error.contains("no valid signature"),
        "{status:?}"
    );
    eventually("the rogue is told (Notice)", || async {
        rogue.notices(&d).iter().any(|r| r.contains("quarantined"))
    })
    .await;
    assert_nowhere(&net, FORGED).await;
    still_converge(&net, "d").await;
    assert_nowhere(&net, FORGED).await;

    // The quarantine lives in memory only: after a crash and a restart A has D's signed data,
    // covered, and nothing of the forgery.
    net.a.kill();
    net.a.restart();
    document_shows(
        &net.a,
        &d,
        "seq 1, both offerings, nothing in quarantine",
        |doc| doc.covered && (doc.signed_seq, doc.offerings, doc.quarantined_changes) == (1, 2, 0),
    )
    .await;
    assert_nowhere(&net, FORGED).await;
    still_converge(&net, "d after the restart").await;
    assert_nowhere(&net, FORGED).await;
}

/// (e) A replay: A holds D's state of seq 2 (two offerings); the rogue sends the older record
/// (seq 1) and its changes. Nothing rolls back; A notes the stale record.
#[tokio::test]
async fn e_a_replayed_older_record_rolls_nothing_back() {
    let mut net = setup().await;
    let d = net.owner.id();
    let (first, second) = ("Diepholz: Nähkurs", "Diepholz: Fahrschule auf Arabisch");
    net.owner.write(first);
    let old = net.owner.sign();
    let old_changes = net.owner.changes();
    let old_heads = net.owner.doc.heads();
    net.owner.write(second);
    let new = net.owner.sign();
    let new_changes = net.owner.doc.automerge().save_after(&old_heads);
    let (a, b, rogue) = (&net.a, &net.b, &net.rogue);

    // The honest relay first: seq 1, then seq 2.
    rogue
        .send(sync_frame(d, old_changes.clone(), vec![old.clone()]))
        .await;
    eventually("A applies D's seq 1", || has_title(a, first)).await;
    rogue.send(sync_frame(d, new_changes, vec![new])).await;
    eventually("A applies D's seq 2", || has_title(a, second)).await;
    eventually("A records seq 2", || async {
        document(a, &d).await.is_some_and(|doc| doc.signed_seq == 2)
    })
    .await;

    // The replay: the old record with its changes, and the old record alone.
    rogue
        .send(sync_frame(d, old_changes, vec![old.clone()]))
        .await;
    rogue
        .send(Frame::Signed {
            doc: d,
            signed: vec![old],
        })
        .await;
    eventually("A counts the stale records of the rogue", || async {
        rejected(a, &rogue.id, Some(&d), "stale").await >= 2.0
    })
    .await;
    for node in [a, b] {
        for t in [first, second] {
            eventually("every offering of D is there", || has_title(node, t)).await;
        }
    }
    document_shows(a, &d, "seq 2 (newest seen 2) and both offerings", |doc| {
        doc.covered && (doc.signed_seq, doc.newest_signed_seq, doc.offerings) == (2, 2, 2)
    })
    .await;
    eventually("A's peer status counts the stale records", || async {
        rogue.status_on(a).await.stale_records == 2
    })
    .await;
    let status = rogue.status_on(a).await;
    assert!(status.connected, "a stale record is no offence: {status:?}");
    assert_eq!(
        (
            status.offences,
            status.bad_signatures,
            status.unsigned_changes
        ),
        (0, 0, 0),
        "{status:?}"
    );
    assert_eq!(rejected(a, &rogue.id, None, "bad_signature").await, 0.0);
    assert_eq!(rejected(a, &rogue.id, None, "unsigned").await, 0.0);
    still_converge(&net, "e").await;
    document_shows(b, &d, "seq 2 and both offerings", |doc| {
        doc.covered && (doc.signed_seq, doc.offerings) == (2, 2)
    })
    .await;
}

/// (f) The real owners' records do not cover changes they never made: the rogue relays A's own
/// record (to A) and B's record, each with a change forged on a copy of that document. Neither
/// is applied — not A's own document (which takes signed changes of its district's other
/// nodes), not B's replica.
#[tokio::test]
async fn f_real_records_of_a_and_b_do_not_cover_changes_they_never_made() {
    let net = setup().await;
    let (a, rogue) = (&net.a, &net.rogue);
    let a_doc: DistrictId = a.status().await.district_id.parse().expect("A's district");
    let b_doc = net.b_district;
    // Real writes on both sides: A holds both owners' records of them, and shows them.
    still_converge(&net, "f, before").await;
    eventually("the rogue got A's and B's records from A", || async {
        rogue.newest_record(&a_doc).is_some() && rogue.newest_record(&b_doc).is_some()
    })
    .await;
    let forged_titles = [
        (a_doc, "Gefälscht: Vechta an Vechta selbst"),
        (b_doc, "Gefälscht: Cloppenburg mit echter Unterschrift"),
    ];
    for (doc, title) in forged_titles {
        let record = rogue.newest_record(&doc).expect("a record");
        let mut forged = DistrictDocument::new(doc).expect("genesis");
        write_offering(&mut forged, title);
        rogue
            .send(sync_frame(
                doc,
                forged.automerge().save_after(&[]),
                vec![record],
            ))
            .await;
    }
    for (doc, _) in forged_titles {
        eventually("A counts the forged change as unsigned", || async {
            rejected(a, &rogue.id, Some(&doc), "unsigned").await >= 1.0
        })
        .await;
        eventually("the forged change waits in quarantine", || async {
            quarantined(a, &doc).await == 1.0
        })
        .await;
        assert_eq!(
            rejected(a, &rogue.id, Some(&doc), "bad_signature").await,
            0.0,
            "the records are real"
        );
    }
    rogue
        .counted_on(a, "A's peer status counts two unsigned changes", (0, 0, 2))
        .await;
    let status = rogue.status_on(a).await;
    assert!(status.connected, "{status:?}");
    for (_, title) in forged_titles {
        assert_nowhere(&net, title).await;
    }
    still_converge(&net, "f, after").await;
    for (_, title) in forged_titles {
        assert_nowhere(&net, title).await;
    }
    for doc in [a_doc, b_doc] {
        for node in [a, &net.b] {
            document_shows(node, &doc, "covered", |held| held.covered).await;
        }
    }
}

/// (g) Forged updates, deletes and contact changes of D's real data — relayed to A and sent
/// straight to B (the relay, not only the first hop) with D's real record attached. Nothing of
/// them is applied anywhere; D's real offerings stay as the owner wrote them.
#[tokio::test]
async fn g_forged_updates_deletes_and_contacts_are_refused_by_every_hop() {
    use kreisnetz_model::OfferingField;
    let mut net = setup().await;
    let d = net.owner.id();
    let titles = ["Diepholz: Sprachkurs A1", "Diepholz: Jobcoaching"];
    for t in titles {
        net.owner.write(t);
    }
    let record = net.owner.sign();
    net.rogue
        .send(sync_frame(d, net.owner.changes(), vec![record.clone()]))
        .await;
    for t in titles {
        eventually("A applies D's signed change", || has_title(&net.a, t)).await;
        eventually("B gets it from A", || has_title(&net.b, t)).await;
    }
    // On a copy: rename the first, delete the second, add a contact — none signed by D.
    let heads = net.owner.doc.heads();
    let mut copy = net.owner.doc.fork();
    let real = copy.offerings();
    let mut renamed = real.iter().find(|o| o.title == titles[0]).unwrap().clone();
    renamed.title = "Gefälscht: umbenannt".into();
    copy.update_offering(&renamed, &[OfferingField::Title])
        .unwrap();
    copy.commit("update", Timestamp::now().0 / 1000);
    let deleted = real.iter().find(|o| o.title == titles[1]).unwrap().id;
    copy.delete_offering(&deleted).unwrap();
    copy.commit("delete", Timestamp::now().0 / 1000);
    let contact = kreisnetz_proto::convert::contact_from_proto(
        &counsellor("Gefälschte Beraterin"),
        d,
        RecordId::new_random(),
        Timestamp::now(),
    )
    .unwrap();
    copy.create_contact(&contact).unwrap();
    copy.commit("contact", Timestamp::now().0 / 1000);
    let forged = copy.automerge().save_after(&heads);

    // Straight at the relay B, and through A.
    let rogue_b = Rogue::connect(&net.b).await;
    eventually("B counts the second rogue as connected", || async {
        rogue_b.status_on(&net.b).await.connected
    })
    .await;
    rogue_b
        .send(sync_frame(d, forged.clone(), vec![record.clone()]))
        .await;
    net.rogue.send(sync_frame(d, forged, vec![record])).await;
    eventually("B refuses the forged changes", || async {
        rejected(&net.b, &rogue_b.id, Some(&d), "unsigned").await >= 1.0
    })
    .await;
    eventually("A refuses the forged changes", || async {
        rejected(&net.a, &net.rogue.id, Some(&d), "unsigned").await >= 1.0
    })
    .await;
    still_converge(&net, "g").await;
    for node in [&net.a, &net.b] {
        for t in titles {
            assert!(has_title(node, t).await, "{t} is gone on {}", node.district);
        }
        assert!(!has_title(node, "Gefälscht: umbenannt").await);
        let contacts = node
            .contacts()
            .await
            .list_contacts(v1::ListContactsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .contacts;
        assert!(
            contacts
                .iter()
                .all(|c| c.display_name != "Gefälschte Beraterin"),
            "a forged contact is on {}",
            node.district
        );
    }
}

/// The node's resident memory, from /proc.
fn rss_mib(node: &TestNode) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", node.pid().unwrap()))
        .unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// (h) A rogue that tries to exhaust A: ~10 MiB of uncovered changes (more than the quarantine
/// holds) and a flood of frames. The quarantine stays within its bounds, A's memory stays
/// bounded, and A keeps serving and syncing with B.
#[tokio::test]
async fn h_a_rogue_flooding_the_quarantine_meets_its_bounds() {
    let mut net = setup().await;
    let d = net.owner.id();
    net.owner.write("Diepholz: echt");
    let record = net.owner.sign();
    net.rogue
        .send(sync_frame(d, net.owner.changes(), vec![record.clone()]))
        .await;
    eventually("A applies D's signed change", || {
        has_title(&net.a, "Diepholz: echt")
    })
    .await;
    let rss_before = rss_mib(&net.a);
    // 480 forged offerings with 20 KB descriptions each, in frames of 40 (~800 KB each).
    let mut copy = net.owner.doc.fork();
    let long = "Unsinn ".repeat(3000);
    let mut sent = 0;
    for frame in 0..12 {
        let heads = copy.heads();
        for i in 0..40 {
            let mut offering = kreisnetz_proto::convert::offering_from_proto(
                &language_course(&format!("Flut {frame}-{i}")),
                d,
                RecordId::new_random(),
                Timestamp::now(),
            )
            .expect("valid");
            // A rogue writes what it likes into its copy: no validation stands in its way.
            offering.description = long.clone();
            copy.create_offering(&offering).unwrap();
            copy.commit("flood", Timestamp::now().0 / 1000);
        }
        let chunk = copy.automerge().save_after(&heads);
        if net.rogue.closed.load(Ordering::SeqCst) {
            break;
        }
        let _ = net
            .rogue
            .out
            .send(wire::to_proto(sync_frame(d, chunk, vec![record.clone()])))
            .await;
        sent += 1;
    }
    // A flood of small frames: the same real record, over and over.
    for _ in 0..2000 {
        if net.rogue.closed.load(Ordering::SeqCst) {
            break;
        }
        let _ = net
            .rogue
            .out
            .send(wire::to_proto(Frame::Signed {
                doc: d,
                signed: vec![record.clone()],
            }))
            .await;
    }
    assert!(sent > 0);
    eventually("A counts the flood as unsigned changes", || async {
        rejected(&net.a, &net.rogue.id, Some(&d), "unsigned").await >= 1.0
    })
    .await;
    // The quarantine holds at most 4,096 changes / 8 MiB per document: ~10 MiB were sent.
    let held = quarantined(&net.a, &d).await;
    assert!(held <= 4096.0, "quarantine holds {held} changes");
    assert!(
        held < 480.0,
        "the quarantine kept all {held} flooded changes"
    );
    still_converge(&net, "h").await;
    for frame in [0, 11] {
        assert!(!has_title(&net.a, &format!("Flut {frame}-0")).await);
    }
    let rss_after = rss_mib(&net.a);
    assert!(
        rss_after < rss_before + 200.0,
        "A's memory grew from {rss_before:.0} to {rss_after:.0} MiB"
    );
}
