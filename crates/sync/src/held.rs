//! A document the core holds, with what it knows about the owner's signatures over it: the
//! verified signed-heads records, and the quarantine of received changes no record covers yet.
//!
//! The coverage rule (see [`crate::signed`]): a change may enter the document only if it is one
//! of, or an ancestor of, the heads of a verified record of the document's owner. [`Held::cover`]
//! decides that for the changes of one received sync message without applying anything: it
//! reads each change's hash and dependencies from its bytes (a change's hash is computed from
//! its bytes, which include its dependencies' hashes) and walks from the verified heads down
//! through them. A message that carries a whole compressed document (Automerge sends one when
//! the receiver lacks more than a third of the changes) is loaded on its own first, checked the
//! same way, and — in the normal case of a new replica — becomes the document outright, so the
//! initial sync pays for one load, as before.
use std::collections::{BTreeMap, HashMap, HashSet};

use automerge::{Change, ChangeHash};
use kreisnetz_document::DistrictDocument;
use kreisnetz_model::DistrictId;

use crate::signed::{SignatureError, SignedHeads};

/// Verified records whose changes we do not hold yet are kept, at most this many per document.
const MAX_AHEAD: usize = 8;

/// A change waiting for a signature.
pub(crate) struct Quarantined {
    pub deps: Vec<ChangeHash>,
    pub bytes: Vec<u8>,
}

pub(crate) struct Held {
    pub doc: DistrictDocument,
    /// The current heads (kept so that read-only calls need no `&mut`).
    pub heads: Vec<ChangeHash>,
    /// The saved-size estimate: the compact size when first needed, plus every chunk since.
    pub size: Option<u64>,
    /// Change bytes received but not applied yet (Automerge queues changes whose dependencies
    /// are missing), so that a document cannot outgrow its limit in pieces.
    pub queued: u64,
    /// Verified records whose heads are all in the document: together they cover it. Normally
    /// one; more while concurrent writes of one district's nodes are not merged by a commit.
    pub signed: Vec<SignedHeads>,
    /// Verified records whose heads we lack (yet): newer states the owner signed.
    pub ahead: Vec<SignedHeads>,
    /// Received changes no verified record covers: never stored, applied or relayed.
    pub quarantine: BTreeMap<ChangeHash, Quarantined>,
    pub quarantined_bytes: usize,
    /// Covered changes handed to Automerge that it has not applied yet (it queues a change
    /// until its dependencies arrive), with their dependencies and bytes: coverage walks pass
    /// through them, so the missing dependencies are covered when they come; and a document
    /// that replaces this one gets them again (Automerge's queue goes with the old one).
    pub accepted: BTreeMap<ChangeHash, (Vec<ChangeHash>, Vec<u8>)>,
}

/// What one message's records did.
#[derive(Default)]
pub(crate) struct TakenRecords {
    /// The highest sequence number among them.
    pub max_seq: Option<u64>,
    /// Records that were older than what we hold and covered nothing new: (seq, newest seq).
    pub stale: Vec<(u64, u64)>,
    /// At least one record was new to us.
    pub new: bool,
}

/// How to apply one received message.
pub(crate) enum Coverage {
    /// Every change it carries is covered (or already held): apply it as it is.
    All,
    /// It carries a whole document, covered, that contains everything we hold: it becomes the
    /// document (the message is then applied without its changes, for the protocol state).
    /// `bytes`: the document as it came (a whole saved document), to store as it is.
    Replace {
        doc: Box<DistrictDocument>,
        bytes: Vec<u8>,
    },
    /// Apply only `chunks` (covered changes of the message and covered changes released from
    /// the quarantine); `unsigned` changes of the message went to the quarantine (`dropped`
    /// of them did not fit).
    Some {
        chunks: Vec<Vec<u8>>,
        unsigned: usize,
        dropped: usize,
        /// Of the unsigned ones, how many were in the quarantine already (sent again).
        repeated: usize,
    },
    /// The whole document it carries cannot be loaded.
    Invalid(String),
}

impl Held {
    /// Takes a document whose content is already persisted.
    pub fn new(mut doc: DistrictDocument) -> Self {
        let heads = doc.heads();
        Held {
            doc,
            heads,
            size: None,
            queued: 0,
            signed: Vec::new(),
            ahead: Vec::new(),
            quarantine: BTreeMap::new(),
            quarantined_bytes: 0,
            accepted: BTreeMap::new(),
        }
    }

    /// A new replica of `district`'s document: its deterministic genesis, identical to the one
    /// every other node starts from (and that loading from storage starts from).
    pub fn genesis(district: DistrictId) -> Option<Self> {
        match DistrictDocument::new(district) {
            Ok(doc) => Some(Held::new(doc)),
            Err(e) => {
                tracing::error!(doc = %district, error = %e, "cannot create a document");
                None
            }
        }
    }

    pub fn size(&mut self) -> u64 {
        match self.size {
            Some(size) => size,
            None => {
                let size = self.doc.save().len() as u64;
                self.size = Some(size);
                size
            }
        }
    }

    /// Records that `bytes` of changes were applied.
    pub fn grew(&mut self, bytes: usize) {
        if let Some(size) = &mut self.size {
            *size = size.saturating_add(bytes as u64);
        }
    }

    pub fn has(&mut self, hash: &ChangeHash) -> bool {
        has(&mut self.doc, hash)
    }

    fn has_all(&mut self, hashes: &[ChangeHash]) -> bool {
        hashes.iter().all(|h| self.has(h))
    }

    /// The newest sequence number among the verified records.
    pub fn newest_seq(&self) -> Option<u64> {
        self.signed.iter().chain(&self.ahead).map(|r| r.seq).max()
    }

    /// The signatures of the records that cover the document (what a peer was last sent).
    pub fn cover_signatures(&self) -> Vec<[u8; 64]> {
        self.signed.iter().map(|r| r.signature).collect()
    }

    /// The signatures of every record kept, to tell whether they changed.
    pub fn record_signatures(&self) -> Vec<[u8; 64]> {
        self.signed
            .iter()
            .chain(&self.ahead)
            .map(|r| r.signature)
            .collect()
    }

    /// Every verified record kept (the cover set and those ahead), for storage.
    pub fn kept_records(&self) -> Vec<SignedHeads> {
        self.signed.iter().chain(&self.ahead).cloned().collect()
    }

    /// The newest record whose changes we hold.
    pub fn newest_held(&self) -> Option<&SignedHeads> {
        self.signed.iter().max_by_key(|r| r.seq)
    }

    fn knows(&self, record: &SignedHeads) -> bool {
        self.signed
            .iter()
            .chain(&self.ahead)
            .any(|r| r.signature == record.signature)
    }

    /// Verifies and keeps the records a peer sent for document `doc`. One bad record fails all
    /// (and nothing is kept): the whole message is refused.
    pub fn take_records(
        &mut self,
        doc: DistrictId,
        records: Vec<SignedHeads>,
    ) -> Result<TakenRecords, SignatureError> {
        let mut fresh = Vec::new();
        let mut taken = TakenRecords::default();
        for r in records {
            if r.doc != doc {
                return Err(SignatureError::Malformed(format!(
                    "a record for document {} came with document {doc}",
                    r.doc
                )));
            }
            taken.max_seq = taken.max_seq.max(Some(r.seq));
            if self.knows(&r)
                || fresh
                    .iter()
                    .any(|f: &SignedHeads| f.signature == r.signature)
            {
                continue;
            }
            r.verify()?;
            fresh.push(r);
        }
        // Newest first: an older record whose changes we hold adds nothing once a newer one
        // covering them is in.
        fresh.sort_by_key(|r| std::cmp::Reverse(r.seq));
        for r in fresh {
            if self.has_all(&r.heads) {
                // Every change we hold is covered already; a record over some of them that is
                // older than the newest we hold is a replay (or a relay that is behind).
                let newest = self.newest_held().map(|n| n.seq);
                if newest.is_some_and(|n| r.seq < n) {
                    taken.stale.push((r.seq, newest.unwrap_or(0)));
                    continue;
                }
                taken.new = true;
                self.signed.push(r);
            } else {
                taken.new = true;
                self.ahead.push(r);
                if self.ahead.len() > MAX_AHEAD {
                    self.ahead.sort_by_key(|r| std::cmp::Reverse(r.seq));
                    self.ahead.truncate(MAX_AHEAD);
                }
            }
        }
        if taken.new {
            self.settle_records();
        }
        Ok(taken)
    }

    /// A record the own writer made (no check needed: our own signature over our own heads).
    pub fn take_own_record(&mut self, record: SignedHeads) {
        if !self.knows(&record) {
            self.ahead.push(record);
            self.settle_records();
        }
    }

    /// Moves records whose heads we now hold into the cover set and drops those another one
    /// covers.
    pub fn settle_records(&mut self) {
        let ahead = std::mem::take(&mut self.ahead);
        for r in ahead {
            if self.has_all(&r.heads) {
                self.signed.push(r);
            } else {
                self.ahead.push(r);
            }
        }
        if self.signed.len() > 1 {
            let mut heads = self.heads.clone();
            heads.sort();
            // The usual case: one record names exactly the document's heads; it covers all.
            if let Some(top) = self
                .signed
                .iter()
                .filter(|r| r.heads == heads)
                .max_by_key(|r| r.seq)
                .cloned()
            {
                self.signed = vec![top];
            } else {
                self.prune_covered();
            }
        }
    }

    /// Drops each record whose heads are all ancestors of (or equal to) another record's heads.
    fn prune_covered(&mut self) {
        self.signed.sort_by_key(|r| std::cmp::Reverse(r.seq));
        let mut keep: Vec<SignedHeads> = Vec::new();
        for r in std::mem::take(&mut self.signed) {
            let covered = keep.iter().any(|k| {
                let above: HashSet<ChangeHash> = self
                    .doc
                    .automerge()
                    .get_changes_meta(&k.heads)
                    .into_iter()
                    .map(|m| m.hash)
                    .collect();
                r.heads.iter().all(|h| !above.contains(h))
            });
            if !covered {
                keep.push(r);
            }
        }
        self.signed = keep;
    }

    /// The heads of every verified record: where coverage walks start.
    fn roots(&self) -> Vec<ChangeHash> {
        let mut roots: Vec<ChangeHash> = self
            .signed
            .iter()
            .chain(&self.ahead)
            .flat_map(|r| r.heads.iter().copied())
            .collect();
        roots.sort();
        roots.dedup();
        roots
    }

    /// Decides which of `chunks` (the changes of one received message) may be applied; see
    /// [`Coverage`]. Unsigned changes are put in the quarantine here; covered ones waiting there
    /// are released into the result.
    pub fn cover(
        &mut self,
        chunks: Vec<Vec<u8>>,
        max_changes: usize,
        max_bytes: usize,
    ) -> Coverage {
        let mut parsed = Vec::with_capacity(chunks.len());
        let mut documents = Vec::new();
        for chunk in &chunks {
            // A V2 message concatenates change chunks into one; or it carries a whole document.
            let Some(pieces) = split_chunks(chunk) else {
                return Coverage::Invalid("a change chunk is malformed".into());
            };
            for (kind, piece) in pieces {
                match kind {
                    CHUNK_DOCUMENT => documents.push(piece.to_vec()),
                    CHUNK_CHANGE | CHUNK_COMPRESSED => match Change::try_from(piece) {
                        Ok(change) => parsed.push(change),
                        Err(e) => return Coverage::Invalid(format!("a change is malformed: {e}")),
                    },
                    other => {
                        return Coverage::Invalid(format!("unsupported chunk type {other}"));
                    }
                }
            }
        }
        if documents.is_empty() {
            return self.cover_changes(parsed, false, max_changes, max_bytes);
        }
        let district = self.doc.district();
        for chunk in documents {
            let mut loaded = match DistrictDocument::load(district, Some(&chunk), &[], &[]) {
                Ok(d) => d,
                Err(e) => {
                    return Coverage::Invalid(format!(
                        "a chunk of the message is neither a change nor a document: {e}"
                    ));
                }
            };
            if parsed.is_empty() && self.document_covered(&mut loaded) {
                // The normal initial sync: a covered whole document. If it holds everything we
                // hold, it becomes our document; else it is merged in as usual.
                if self.heads.iter().all(|h| has(&mut loaded, h)) {
                    return Coverage::Replace {
                        doc: Box::new(loaded),
                        bytes: chunk,
                    };
                }
                return Coverage::All;
            }
            // Not all of it is covered (or it came with other chunks): take it apart and decide
            // change by change.
            parsed.extend(loaded.automerge().get_changes(&[]));
        }
        self.cover_changes(parsed, true, max_changes, max_bytes)
    }

    /// Notes a covered change handed to Automerge (see [`Held::accepted`]).
    fn accept(&mut self, hash: ChangeHash, deps: Vec<ChangeHash>, bytes: Vec<u8>) {
        const MAX_ACCEPTED: usize = 1 << 16;
        if self.accepted.len() < MAX_ACCEPTED {
            self.accepted.insert(hash, (deps, bytes));
        }
    }

    /// The accepted changes not applied yet, as one chunk (for a document that replaces this
    /// one: Automerge's queue of them goes with the old document).
    pub fn accepted_chunk(&self) -> Vec<u8> {
        self.accepted
            .values()
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    /// After applying: forgets accepted changes that Automerge has applied.
    pub fn forget_applied(&mut self) {
        let doc = &mut self.doc;
        // Quarantined changes that arrived another way (covered) are no longer waiting.
        let quarantined_bytes = &mut self.quarantined_bytes;
        self.quarantine.retain(|h, q| {
            let waiting = !has(doc, h);
            if !waiting {
                *quarantined_bytes = quarantined_bytes.saturating_sub(q.bytes.len());
            }
            waiting
        });
        self.accepted.retain(|h, _| !has(doc, h));
    }

    /// Whether every change of `loaded` that we do not hold is covered by a verified record.
    fn document_covered(&mut self, loaded: &mut DistrictDocument) -> bool {
        let mut roots: Vec<ChangeHash> = Vec::new();
        for r in self.signed.iter().chain(&self.ahead) {
            if r.heads.iter().all(|h| has(loaded, h)) {
                roots.extend(r.heads.iter().copied());
            }
        }
        if roots.is_empty() {
            return false;
        }
        roots.sort();
        roots.dedup();
        let above: Vec<ChangeHash> = loaded
            .automerge()
            .get_changes_meta(&roots)
            .into_iter()
            .map(|m| m.hash)
            .collect();
        above.iter().all(|h| self.has(h))
    }

    fn cover_changes(
        &mut self,
        parsed: Vec<Change>,
        converted: bool,
        max_changes: usize,
        max_bytes: usize,
    ) -> Coverage {
        let mut candidates: HashMap<ChangeHash, Change> = HashMap::new();
        for c in parsed {
            let hash = c.hash();
            if !candidates.contains_key(&hash) && !self.has(&hash) {
                candidates.insert(hash, c);
            }
        }
        if candidates.is_empty() && self.quarantine.is_empty() && !converted {
            return Coverage::All;
        }
        // Walk from the verified heads through the candidates and the quarantine.
        let mut covered: HashSet<ChangeHash> = HashSet::new();
        let mut stack = self.roots();
        while let Some(h) = stack.pop() {
            if covered.contains(&h) {
                continue;
            }
            let deps: &[ChangeHash] = if let Some(c) = candidates.get(&h) {
                c.deps()
            } else if let Some(q) = self.quarantine.get(&h) {
                &q.deps
            } else if let Some((deps, _)) = self.accepted.get(&h) {
                deps
            } else {
                continue;
            };
            covered.insert(h);
            stack.extend(deps.iter().copied());
        }
        let released: Vec<ChangeHash> = self
            .quarantine
            .keys()
            .filter(|h| covered.contains(h))
            .copied()
            .collect();
        // Automerge may queue a covered change until its dependencies come: remember it, so
        // that the walk can pass through it then.
        for (hash, change) in &candidates {
            if covered.contains(hash) {
                self.accept(*hash, change.deps().to_vec(), change.raw_bytes().to_vec());
            }
        }
        let all_covered = candidates.keys().all(|h| covered.contains(h));
        if all_covered && released.is_empty() && !converted {
            return Coverage::All;
        }
        let mut chunks = Vec::new();
        for h in released {
            if let Some(q) = self.quarantine.remove(&h) {
                self.quarantined_bytes = self.quarantined_bytes.saturating_sub(q.bytes.len());
                self.accept(h, q.deps, q.bytes.clone());
                chunks.push(q.bytes);
            }
        }
        let mut unsigned = 0;
        let mut dropped = 0;
        let mut repeated = 0;
        // Deterministic order (the core's outputs must not depend on hash-map order).
        let mut candidates: Vec<(ChangeHash, Change)> = candidates.into_iter().collect();
        candidates.sort_by_key(|(h, _)| *h);
        for (hash, change) in candidates {
            if covered.contains(&hash) {
                chunks.push(change.raw_bytes().to_vec());
                continue;
            }
            unsigned += 1;
            if self.quarantine.contains_key(&hash) {
                repeated += 1;
                continue;
            }
            let bytes = change.raw_bytes().to_vec();
            if self.quarantine.len() >= max_changes
                || self.quarantined_bytes + bytes.len() > max_bytes
            {
                dropped += 1;
                continue;
            }
            self.quarantined_bytes += bytes.len();
            self.quarantine.insert(
                hash,
                Quarantined {
                    deps: change.deps().to_vec(),
                    bytes,
                },
            );
        }
        Coverage::Some {
            chunks,
            unsigned,
            dropped,
            repeated,
        }
    }
}

const CHUNK_DOCUMENT: u8 = 0;
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED: u8 = 2;
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// Splits concatenated Automerge chunks at their headers (magic, checksum, type, uLEB128
/// length, data): a V2 sync message carries several changes as one byte string. `None` if the
/// bytes are not a sequence of whole chunks. (Each piece is checked when it is parsed.)
fn split_chunks(mut bytes: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let kind = *bytes.get(8)?;
        let mut len: u64 = 0;
        let mut at = 9;
        let mut shift = 0;
        loop {
            let b = *bytes.get(at)?;
            at += 1;
            len |= u64::from(b & 0x7f).checked_shl(shift)?;
            if b & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        out.push((kind, bytes.get(..end)?));
        bytes = &bytes[end..];
    }
    Some(out)
}

fn has(doc: &mut DistrictDocument, hash: &ChangeHash) -> bool {
    doc.automerge().get_change_meta_by_hash(hash).is_some()
}
