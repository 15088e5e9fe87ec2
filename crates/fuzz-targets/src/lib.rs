//! The fuzz targets: one plain function per decoder that a peer or a client controls.
//!
//! Each function takes the raw bytes as they would arrive and runs them through the real entry
//! point — the same decoding, conversion and checks the node runs — and must neither panic, hang
//! nor allocate without bound, whatever the bytes. Where the code promises more than "no panic",
//! the target asserts it too (a frame read back is the frame that was written; a peer without
//! the owner's key never gets a change into a document; a request accepted by the API is valid).
//!
//! The functions live in this ordinary (stable) crate so that two things can call them:
//! - `tests/corpus.rs` replays every file of the committed seed corpus (`corpus/<target>/`) on
//!   every `cargo test`, so each crash ever found stays a regression test on stable;
//! - `crates/fuzz` (a cargo-fuzz project, nightly only, not a workspace member) hands them
//!   libFuzzer's inputs: `crates/fuzz/run.sh` runs every target for a while.
//!
//! The targets:
//! - [`federation_frame`]: a protobuf `FederationFrame` from a peer → `federation::wire::from_proto`
//!   → the sync core of a node with a connected peer.
//! - [`signed_heads`]: stored signed-heads records (`SignedHeads::from_bytes`, `decode_list`),
//!   verified, and loaded into a core as the node does at start.
//! - [`sync_message`]: Automerge sync messages from a connected, trusted peer through the sync
//!   core's receive path (decode, signature coverage, quarantine, apply).
//! - [`sync_state`]: persisted `automerge::sync::State` bytes handed to the core with a
//!   connection, then a real exchange over them.
//! - [`api_request`]: protobuf create/update requests and records (node and CLI side) →
//!   `proto::convert` → the domain rules.
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;

use automerge::{ActorId, ChangeHash};
use kreisnetz_document::DistrictDocument;
use kreisnetz_identity::DistrictKey;
use kreisnetz_model::{
    Contact, ContactField, DistrictId, NodeId, Offering, OfferingField, RecordId, Timestamp,
    Violations,
};
use kreisnetz_node::federation::wire;
use kreisnetz_proto::{convert, v1};
use kreisnetz_sync::{Frame, Input, Limits, Output, SignedHeads, SyncCore, signed};
use prost::Message as _;

/// A fuzz target: any bytes in, no panic out.
pub type Target = fn(&[u8]);

/// Every target by name (the name of its corpus directory and of its cargo-fuzz target).
pub const TARGETS: &[(&str, Target)] = &[
    ("federation_frame", federation_frame),
    ("signed_heads", signed_heads),
    ("sync_message", sync_message),
    ("sync_state", sync_state),
    ("api_request", api_request),
];

/// The time every input starts at (2027-01-15, in ms): the targets never read the clock, so an
/// input replays exactly.
pub const T0: u64 = 1_800_000_000_000;

/// At most this many steps (frames, requests) are read from one input.
const MAX_STEPS: usize = 8;

// ---------------------------------------------------------------------------------------------
// The fixture: two districts that synced once, built the same way for every input.

/// A small federation, built once per process: node A of district A (the node under test,
/// trusting district B), node B of district B with a document of a few real records, and the
/// frames B sent A in a real first sync. District C is trusted by nobody.
pub struct Fixture {
    pub a: DistrictId,
    pub b: DistrictId,
    pub c: DistrictId,
    pub node_a: NodeId,
    pub node_b: NodeId,
    key_a: DistrictKey,
    /// B's hello to A (announces B's document with B's signed-heads record).
    pub b_hello: Frame,
    /// B's signed-heads record over its document.
    pub b_record: SignedHeads,
    /// The sync frames B sent A, in order, until both were in sync.
    pub b_sync: Vec<Frame>,
    /// The sync states A persisted for peer B by the end (per document).
    pub a_states: Vec<(DistrictId, Vec<u8>)>,
    /// Every change of B's document and of A's own document (its genesis): what A may ever
    /// hold of them, since nobody else has the districts' keys.
    b_history: BTreeSet<ChangeHash>,
    a_history: BTreeSet<ChangeHash>,
    /// A valid offering and contact of district A, the records an update request changes.
    pub offering: Offering,
    pub contact: Contact,
}

fn district_key(n: u8) -> DistrictKey {
    DistrictKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
}

fn history(doc: &mut DistrictDocument) -> BTreeSet<ChangeHash> {
    doc.automerge()
        .get_changes(&[])
        .iter()
        .map(|c| c.hash())
        .collect()
}

/// The fixture (built on first use).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let key_a = district_key(1);
    let key_b = district_key(2);
    let (a, b, c) = (key_a.id(), key_b.id(), district_key(3).id());
    let node_a = NodeId::from_public_key(b"fuzz node A");
    let node_b = NodeId::from_public_key(b"fuzz node B");
    let now = Timestamp(T0 as i64);

    // B's document: a few real records, one deterministic actor, one commit.
    let mut doc_b = DistrictDocument::new(b).expect("a genesis document");
    doc_b
        .automerge()
        .set_actor(ActorId::from([0xb0_u8; 16].as_slice()));
    let region = &kreisnetz_sample::WESER_EMS;
    let sample_b = kreisnetz_sample::district_sample(&region[1], b, 2, now);
    for o in sample_b.offerings.iter().take(3) {
        doc_b.create_offering(o).expect("a sample offering");
    }
    for c in sample_b.contacts.iter().take(2) {
        doc_b.create_contact(c).expect("a sample contact");
    }
    doc_b.commit("fuzz fixture", (T0 / 1000) as i64);
    let b_history = history(&mut doc_b);
    let a_history = history(&mut DistrictDocument::new(a).expect("a genesis document"));

    let mut core_a = new_core(node_a, a, &key_a, b);
    let mut core_b = SyncCore::new(node_b, b, vec![doc_b], vec![a], Limits::default())
        .with_district_key(key_b, T0);
    core_b.take_start_outputs();
    let b_record = core_b.signed(&b).into_iter().next().expect("B signed");

    // A first sync between them, every frame delivered in order.
    let mut queue: VecDeque<(bool, Frame)> = VecDeque::new();
    let mut a_states = BTreeMap::new();
    let mut from_b = Vec::new();
    let mut route = |from_b_side: bool, outputs: Vec<Output>, queue: &mut VecDeque<_>| {
        for o in outputs {
            match o {
                Output::Send { frame, .. } => queue.push_back((from_b_side, frame)),
                Output::PersistSyncState { doc, state, .. } if !from_b_side => {
                    a_states.insert(doc, state);
                }
                _ => {}
            }
        }
    };
    let out = core_a.handle(Input::Connected {
        peer: node_b,
        sync_states: Vec::new(),
        now_ms: T0,
    });
    route(false, out, &mut queue);
    let out = core_b.handle(Input::Connected {
        peer: node_a,
        sync_states: Vec::new(),
        now_ms: T0,
    });
    route(true, out, &mut queue);
    let mut budget = 1000;
    while let Some((sent_by_b, frame)) = queue.pop_front() {
        budget -= 1;
        assert!(budget > 0, "the fixture's first sync does not end");
        if sent_by_b {
            from_b.push(frame.clone());
            let out = core_a.handle(Input::Received {
                peer: node_b,
                frame,
                now_ms: T0,
            });
            route(false, out, &mut queue);
        } else {
            let out = core_b.handle(Input::Received {
                peer: node_a,
                frame,
                now_ms: T0,
            });
            route(true, out, &mut queue);
        }
    }
    let sorted = |heads: Option<&[ChangeHash]>| {
        let mut heads = heads.unwrap_or_default().to_vec();
        heads.sort();
        heads
    };
    assert_eq!(
        sorted(core_a.heads(&b)),
        sorted(core_b.heads(&b)),
        "the fixture synced"
    );
    let b_hello = from_b
        .iter()
        .find(|f| matches!(f, Frame::Hello { .. }))
        .expect("B said hello")
        .clone();
    let b_sync = from_b
        .into_iter()
        .filter(|f| matches!(f, Frame::Sync { .. }))
        .collect();

    let sample_a = kreisnetz_sample::district_sample(&region[0], a, 1, now);
    Fixture {
        a,
        b,
        c,
        node_a,
        node_b,
        key_a,
        b_hello,
        b_record,
        b_sync,
        a_states: a_states.into_iter().collect(),
        b_history,
        a_history,
        offering: sample_a.offerings[0].clone(),
        contact: sample_a.contacts[0].clone(),
    }
}

/// A core of node `node` of `own`'s district trusting `trusted`, as the node builds it at
/// start (own document from genesis, signed with the district key).
fn new_core(node: NodeId, own: DistrictId, key: &DistrictKey, trusted: DistrictId) -> SyncCore {
    let mut core = SyncCore::new(node, own, Vec::new(), vec![trusted], Limits::default())
        .with_district_key(key.clone(), T0);
    core.take_start_outputs();
    core
}

impl Fixture {
    /// A fresh core of node A (nothing synced yet).
    pub fn core_a(&self) -> SyncCore {
        new_core(self.node_a, self.a, &self.key_a, self.b)
    }

    /// What must hold after any input from B: A holds of the documents only changes their
    /// owners made (B cannot sign for A, nobody for C), and never starts an untrusted document.
    fn check_held(&self, core: &mut SyncCore) {
        assert!(
            !core.documents().contains(&self.c),
            "a document of an untrusted district was started"
        );
        for (doc, history) in [(self.a, &self.a_history), (self.b, &self.b_history)] {
            if let Some(d) = core.document(&doc) {
                for change in d.automerge().get_changes(&[]) {
                    assert!(
                        history.contains(&change.hash()),
                        "a change its owner never made got into document {doc}"
                    );
                }
            }
        }
    }
}

/// Splits an input into steps: each `[selector: u8][length: u16 BE][bytes]`, the last one
/// taking what is left if it is shorter than its length says. At most [`MAX_STEPS`].
pub fn steps(mut data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while out.len() < MAX_STEPS {
        let Some((&selector, rest)) = data.split_first() else {
            break;
        };
        let (len, rest) = match rest.split_first_chunk::<2>() {
            Some((len, rest)) => (u16::from_be_bytes(*len) as usize, rest),
            None => (rest.len(), rest),
        };
        let (bytes, rest) = rest.split_at(len.min(rest.len()));
        out.push((selector, bytes));
        data = rest;
    }
    out
}

/// The inverse of [`steps`] (for the seed corpus).
pub fn encode_steps(steps: &[(u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (selector, bytes) in steps {
        out.push(*selector);
        let len = u16::try_from(bytes.len()).expect("a step under 64 KiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

fn disconnected(outputs: &[Output]) -> bool {
    outputs
        .iter()
        .any(|o| matches!(o, Output::Disconnect { .. }))
}

// ---------------------------------------------------------------------------------------------
// The targets.

/// A federation frame as it arrives on a peer stream: protobuf-decoded (as tonic does), read by
/// `federation::wire::from_proto`, then handed to the sync core of node A with B connected (a
/// frame other than a hello after B's real hello). A frame that reads must read back the same
/// after `to_proto`.
pub fn federation_frame(data: &[u8]) {
    let Ok(proto) = v1::FederationFrame::decode(data) else {
        return;
    };
    let Ok(frame) = wire::from_proto(proto) else {
        return;
    };
    let again = wire::from_proto(wire::to_proto(frame.clone())).expect("our own frame reads back");
    assert_eq!(again, frame, "a frame changed on its way through protobuf");

    let f = fixture();
    let mut core = f.core_a();
    core.handle(Input::Connected {
        peer: f.node_b,
        sync_states: Vec::new(),
        now_ms: T0,
    });
    if !matches!(frame, Frame::Hello { .. }) {
        core.handle(Input::Received {
            peer: f.node_b,
            frame: f.b_hello.clone(),
            now_ms: T0,
        });
    }
    core.handle(Input::Received {
        peer: f.node_b,
        frame,
        now_ms: T0 + 1,
    });
    core.handle(Input::Tick {
        now_ms: T0 + 3_600_000,
    });
    f.check_held(&mut core);
}

/// Signed-heads records as storage keeps them: one record (`SignedHeads::from_bytes`) and a
/// list (`signed::decode_list`, what the node reads at start), verified, written back (the
/// layout is fixed, so the bytes must come back unchanged), and loaded into a core with
/// `with_signed` as the node does.
pub fn signed_heads(data: &[u8]) {
    if let Ok(record) = SignedHeads::from_bytes(data) {
        let _ = record.verify();
        assert_eq!(
            record.to_bytes(),
            data,
            "a record did not write back as read"
        );
    }
    let Ok(list) = signed::decode_list(data) else {
        return;
    };
    assert_eq!(
        signed::encode_list(&list),
        data,
        "a list did not write back as read"
    );
    let f = fixture();
    let mut core = SyncCore::new(f.node_a, f.a, Vec::new(), vec![f.b], Limits::default())
        .with_signed(list)
        .with_district_key(f.key_a.clone(), T0);
    core.take_start_outputs();
    // Only A's own key signs A's document; whatever was loaded, the own heads end up covered.
    let signing = core.signing(&f.a).expect("the own document");
    assert!(
        signing.covered,
        "the own document is not covered after start"
    );
}

/// Automerge sync messages from B (connected, said its real hello) through A's receive path.
/// The input is a sequence of [`steps`]; per step the selector says: bits 0–1 which document
/// the frame names (0, 3: B's; 1: A's own; 2: C's, untrusted), bit 2 whether B's real record
/// comes with it, bit 3 a `signed_seq` of 1, bit 4 a tick of a minute before it; the bytes are
/// the message. The seed corpus holds the messages of a real first sync.
pub fn sync_message(data: &[u8]) {
    let f = fixture();
    let mut core = f.core_a();
    let mut now = T0;
    core.handle(Input::Connected {
        peer: f.node_b,
        sync_states: Vec::new(),
        now_ms: now,
    });
    core.handle(Input::Received {
        peer: f.node_b,
        frame: f.b_hello.clone(),
        now_ms: now,
    });
    for (selector, message) in steps(data) {
        let doc = match selector & 3 {
            1 => f.a,
            2 => f.c,
            _ => f.b,
        };
        let signed = if selector & 4 != 0 {
            vec![f.b_record.clone()]
        } else {
            Vec::new()
        };
        if selector & 16 != 0 {
            now += 60_000;
            core.handle(Input::Tick { now_ms: now });
        }
        now += 10;
        let out = core.handle(Input::Received {
            peer: f.node_b,
            frame: Frame::Sync {
                doc,
                message: message.to_vec(),
                signed,
                signed_seq: u64::from(selector & 8 != 0),
            },
            now_ms: now,
        });
        if disconnected(&out) {
            break;
        }
    }
    f.check_held(&mut core);
}

/// Persisted sync states (`automerge::sync::State` bytes, as the shell loads them from storage
/// and hands them over with `Input::Connected`), for both documents of the connection with B;
/// then B's real hello and first sync frames, and ticks late enough to restart the exchanges
/// (which re-encodes the states).
pub fn sync_state(data: &[u8]) {
    let f = fixture();
    let mut core = f.core_a();
    let mut now = T0;
    let out = core.handle(Input::Connected {
        peer: f.node_b,
        sync_states: vec![(f.b, data.to_vec()), (f.a, data.to_vec())],
        now_ms: now,
    });
    if disconnected(&out) {
        return;
    }
    for frame in std::iter::once(&f.b_hello).chain(f.b_sync.iter().take(2)) {
        now += 10;
        let out = core.handle(Input::Received {
            peer: f.node_b,
            frame: frame.clone(),
            now_ms: now,
        });
        if disconnected(&out) {
            break;
        }
    }
    for wait in [60_000, 3_600_000] {
        now += wait;
        core.handle(Input::Tick { now_ms: now });
    }
    f.check_held(&mut core);
}

/// API requests and records: the first byte picks the message, the rest is its protobuf
/// encoding (as tonic decodes it). 0: `CreateOfferingRequest`, 1: `UpdateOfferingRequest`,
/// 2: `CreateContactRequest`, 3: `UpdateContactRequest` — read and checked as the API handlers
/// do (`offering_from_proto`, or `parse_*_partially` + the mask + the merged record's rules as
/// the writer applies them); 4: `Offering`, 5: `Contact` as the CLI reads the node's answers
/// (`*_from_server`). Whatever is accepted must be valid and read back the same from its own
/// wire form.
pub fn api_request(data: &[u8]) {
    let Some((&kind, bytes)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let now = Timestamp(T0 as i64);
    match kind % 6 {
        0 => {
            let Ok(req) = v1::CreateOfferingRequest::decode(bytes) else {
                return;
            };
            let id = req.offering_id.parse::<RecordId>().unwrap_or(f.offering.id);
            if let Some(wire) = req.offering
                && let Ok(o) = convert::offering_from_proto(&wire, f.a, id, now)
            {
                accepted_offering(&o);
            }
        }
        1 => {
            let Ok(req) = v1::UpdateOfferingRequest::decode(bytes) else {
                return;
            };
            let Some(wire) = req.offering else { return };
            let Some(fields) = mask(req.update_mask.as_ref(), OfferingField::from_name) else {
                return;
            };
            let mut o = f.offering.clone();
            let (patch, problems) = convert::parse_offering_partially(&wire, f.a, o.id, now);
            let names: Vec<&str> = fields.iter().map(|field| field.name()).collect();
            if !masked(problems, &names).0.is_empty() {
                return;
            }
            for field in &fields {
                field.copy(&patch, &mut o);
            }
            if o.validate().is_ok() {
                accepted_offering(&o);
            }
        }
        2 => {
            let Ok(req) = v1::CreateContactRequest::decode(bytes) else {
                return;
            };
            let id = req.contact_id.parse::<RecordId>().unwrap_or(f.contact.id);
            if let Some(wire) = req.contact
                && let Ok(c) = convert::contact_from_proto(&wire, f.a, id, now)
            {
                accepted_contact(&c);
            }
        }
        3 => {
            let Ok(req) = v1::UpdateContactRequest::decode(bytes) else {
                return;
            };
            let Some(wire) = req.contact else { return };
            let Some(fields) = mask(req.update_mask.as_ref(), ContactField::from_name) else {
                return;
            };
            let mut c = f.contact.clone();
            let (patch, problems) = convert::parse_contact_partially(&wire, f.a, c.id, now);
            let names: Vec<&str> = fields.iter().map(|field| field.name()).collect();
            if !masked(problems, &names).0.is_empty() {
                return;
            }
            for field in &fields {
                field.copy(&patch, &mut c);
            }
            if c.validate().is_ok() {
                accepted_contact(&c);
            }
        }
        4 => {
            if let Ok(p) = v1::Offering::decode(bytes) {
                let _ = convert::offering_from_server(&p);
            }
        }
        _ => {
            if let Ok(p) = v1::Contact::decode(bytes) {
                let _ = convert::contact_from_server(&p);
            }
        }
    }
}

/// The fields of an update mask, as the API reads it (`None`: the API refuses the request).
fn mask<F>(
    mask: Option<&prost_types::FieldMask>,
    from_name: fn(&str) -> Option<F>,
) -> Option<Vec<F>> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return None;
    }
    paths.iter().map(|p| from_name(p.trim())).collect()
}

/// Keeps the parse problems of the masked fields (as the API does).
fn masked(v: Violations, names: &[&str]) -> Violations {
    Violations(
        v.0.into_iter()
            .filter(|fv| {
                let root = fv.field.split(['[', '.']).next().unwrap_or("");
                names.contains(&root)
            })
            .collect(),
    )
}

fn accepted_offering(o: &Offering) {
    assert!(o.validate().is_ok(), "an accepted offering breaks a rule");
    let wire = convert::offering_to_proto(o);
    let mut back = convert::offering_from_proto(&wire, o.district_id, o.id, o.create_time)
        .expect("an accepted offering reads back");
    back.update_time = o.update_time;
    assert_eq!(&back, o, "an offering changed on its way through protobuf");
}

fn accepted_contact(c: &Contact) {
    assert!(c.validate().is_ok(), "an accepted contact breaks a rule");
    let wire = convert::contact_to_proto(c);
    let mut back = convert::contact_from_proto(&wire, c.district_id, c.id, c.create_time)
        .expect("an accepted contact reads back");
    back.update_time = c.update_time;
    assert_eq!(&back, c, "a contact changed on its way through protobuf");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seeds reach the deep paths: B's real frames, replayed as `sync_message` does, give A
    /// B's document under B's record (so a mutated message starts from a real apply).
    #[test]
    fn the_real_first_sync_replays_into_a_fresh_core() {
        let f = fixture();
        let mut core = f.core_a();
        core.handle(Input::Connected {
            peer: f.node_b,
            sync_states: Vec::new(),
            now_ms: T0,
        });
        for frame in std::iter::once(&f.b_hello).chain(&f.b_sync) {
            let out = core.handle(Input::Received {
                peer: f.node_b,
                frame: frame.clone(),
                now_ms: T0,
            });
            assert!(!disconnected(&out), "{out:?}");
        }
        let mut heads = core.heads(&f.b).expect("B's replica").to_vec();
        heads.sort();
        assert_eq!(heads, f.b_record.heads);
        f.check_held(&mut core);
    }
}
