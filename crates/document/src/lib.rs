//! A district's document: one Automerge document per district, holding its offerings and
//! contacts, and the only code that knows how they are laid out in it.
//!
//! Layout (schema version 1):
//!
//! ```text
//! ROOT
//! ├── schema_version: 1
//! ├── district: { name, ags }            district metadata
//! ├── offerings: { <uuid>: { <field>: value, ... } }
//! └── contacts:  { <uuid>: { <field>: value, ... } }
//! ```
//!
//! Each record is a map of fields named as in the API. Scalars are Automerge scalars (dates as
//! `YYYY-MM-DD` strings, times as Automerge timestamps); empty fields are absent. Set-valued
//! fields (`target_groups`, `languages`, `contact_ids`) are maps from member to `true`, so
//! concurrent additions by different writers merge instead of one list replacing the other.
//!
//! Why this shape:
//! - **Field-level merging.** An update writes only the fields in its mask, so concurrent edits of
//!   different fields never clobber each other, and fields this version does not know (written by
//!   a newer one) are never touched and survive every round trip.
//! - **A deterministic genesis.** The skeleton (`schema_version`, `district`, `offerings`,
//!   `contacts`) is written by a first change with a fixed actor and time derived from the
//!   district ID. Every node of a district creates the byte-identical change, so two nodes that
//!   start a district's document independently do not create two competing `offerings` maps.
//!
//! The document does no IO. The node keeps it in memory, persists what [`DistrictDocument::take_unsaved`]
//! returns and hands it to the sync engine.

mod codec;

use automerge::{
    ActorId, AutoCommit, ChangeHash, ObjId, ObjType, ROOT, ReadDoc, transaction::Transactable,
};
use kreisnetz_model::{
    Contact, ContactField, DistrictId, Offering, OfferingField, RecordId, RecordKind,
};

pub use automerge;

/// The layout version this code writes.
pub const SCHEMA_VERSION: u64 = 1;

/// What can go wrong with a document.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: RecordId },
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: RecordId },
    #[error("the document is malformed: {0}")]
    Malformed(String),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// One district's document.
pub struct DistrictDocument {
    district: DistrictId,
    doc: AutoCommit,
    offerings: ObjId,
    contacts: ObjId,
    /// Heads of what is already stored: [`Self::take_unsaved`] returns only what came after.
    /// (Automerge's own save cursor starts empty after a load, so its `save_incremental` would
    /// return the whole document once more after every restart.)
    saved: Vec<ChangeHash>,
}

impl std::fmt::Debug for DistrictDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DistrictDocument")
            .field("district", &self.district)
            .finish_non_exhaustive()
    }
}

/// The genesis change: identical on every node of a district.
fn genesis(district: &DistrictId) -> Result<AutoCommit, DocumentError> {
    let mut doc = AutoCommit::new().with_actor(ActorId::from(&district.as_bytes()[..16]));
    doc.put(ROOT, "schema_version", SCHEMA_VERSION)?;
    doc.put_object(ROOT, "district", ObjType::Map)?;
    doc.put_object(ROOT, "offerings", ObjType::Map)?;
    doc.put_object(ROOT, "contacts", ObjType::Map)?;
    doc.commit_with(
        automerge::transaction::CommitOptions::default()
            .with_message("genesis")
            .with_time(0),
    );
    Ok(doc)
}

impl DistrictDocument {
    /// A new document for `district`, holding only the genesis change.
    pub fn new(district: DistrictId) -> Result<Self, DocumentError> {
        let mut doc = genesis(&district)?;
        doc.set_actor(ActorId::random());
        Self::wrap(district, doc, Vec::new())
    }

    /// Loads a stored document: a snapshot (if any) followed by the concatenated change chunks
    /// appended after it. Automerge checks the hashes of what it loads, but skips a damaged
    /// trailing chunk with only a warning; so when `expected_heads` (the heads recorded with the
    /// last write) is not empty, the loaded heads must equal them or loading fails.
    pub fn load(
        district: DistrictId,
        snapshot: Option<&[u8]>,
        chunks: &[u8],
        expected_heads: &[ChangeHash],
    ) -> Result<Self, DocumentError> {
        let mut doc = match snapshot {
            Some(s) => AutoCommit::load(s)?,
            None => genesis(&district)?,
        };
        if !chunks.is_empty() {
            doc.load_incremental(chunks)?;
        }
        if !expected_heads.is_empty() {
            let mut loaded = doc.get_heads();
            let mut expected = expected_heads.to_vec();
            loaded.sort();
            expected.sort();
            if loaded != expected {
                return Err(DocumentError::Malformed(format!(
                    "loaded heads {} differ from the recorded heads {}: stored changes are missing or damaged",
                    hex_list(&loaded),
                    hex_list(&expected)
                )));
            }
        }
        doc.set_actor(ActorId::random());
        let saved = doc.get_heads();
        Self::wrap(district, doc, saved)
    }

    fn wrap(
        district: DistrictId,
        doc: AutoCommit,
        saved: Vec<ChangeHash>,
    ) -> Result<Self, DocumentError> {
        let map = |key: &str| -> Result<ObjId, DocumentError> {
            match doc.get(ROOT, key)? {
                Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
                _ => Err(DocumentError::Malformed(format!(
                    "the root has no `{key}` map"
                ))),
            }
        };
        let offerings = map("offerings")?;
        let contacts = map("contacts")?;
        Ok(DistrictDocument {
            district,
            doc,
            offerings,
            contacts,
            saved,
        })
    }

    /// An independent copy with its own (random) actor.
    pub fn fork(&mut self) -> DistrictDocument {
        let mut doc = self.doc.fork();
        let saved = doc.get_heads();
        DistrictDocument {
            district: self.district,
            doc,
            offerings: self.offerings.clone(),
            contacts: self.contacts.clone(),
            saved,
        }
    }

    /// The district that owns this document.
    pub fn district(&self) -> DistrictId {
        self.district
    }

    /// The current heads.
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    /// Direct access for the sync engine and tests.
    pub fn automerge(&mut self) -> &mut AutoCommit {
        &mut self.doc
    }

    /// The district's name and AGS as written in the document.
    pub fn metadata(&self) -> (String, String) {
        let get = |key: &str| -> String {
            let Ok(Some((_, obj))) = self.doc.get(ROOT, "district") else {
                return String::new();
            };
            match self.doc.get(&obj, key) {
                Ok(Some((v, _))) => v.as_str().unwrap_or_default().to_string(),
                _ => String::new(),
            }
        };
        (get("name"), get("ags"))
    }

    /// Writes the district's name and AGS (only where they changed).
    pub fn set_metadata(&mut self, name: &str, ags: &str) -> Result<(), DocumentError> {
        if self.metadata() == (name.to_string(), ags.to_string()) {
            return Ok(());
        }
        let obj = match self.doc.get(ROOT, "district")? {
            Some((automerge::Value::Object(ObjType::Map), obj)) => obj,
            _ => self.doc.put_object(ROOT, "district", ObjType::Map)?,
        };
        self.doc.put(&obj, "name", name)?;
        self.doc.put(&obj, "ags", ags)?;
        Ok(())
    }

    fn record_obj(&self, kind: RecordKind, id: &RecordId) -> Result<Option<ObjId>, DocumentError> {
        let parent = match kind {
            RecordKind::Offering => &self.offerings,
            RecordKind::Contact => &self.contacts,
        };
        Ok(match self.doc.get(parent, id.to_string())? {
            Some((automerge::Value::Object(ObjType::Map), obj)) => Some(obj),
            _ => None,
        })
    }

    /// One offering, if present.
    pub fn offering(&self, id: &RecordId) -> Result<Option<Offering>, DocumentError> {
        match self.record_obj(RecordKind::Offering, id)? {
            Some(obj) => codec::read_offering(&self.doc, &obj, self.district, *id).map(Some),
            None => Ok(None),
        }
    }

    /// One contact, if present.
    pub fn contact(&self, id: &RecordId) -> Result<Option<Contact>, DocumentError> {
        match self.record_obj(RecordKind::Contact, id)? {
            Some(obj) => codec::read_contact(&self.doc, &obj, self.district, *id).map(Some),
            None => Ok(None),
        }
    }

    /// IDs of all records of a kind (records whose key is not a UUID are skipped).
    pub fn ids(&self, kind: RecordKind) -> Vec<RecordId> {
        let parent = match kind {
            RecordKind::Offering => &self.offerings,
            RecordKind::Contact => &self.contacts,
        };
        self.doc
            .keys(parent)
            .filter_map(|k| k.parse().ok())
            .collect()
    }

    /// Every offering that can be read. A record this version cannot read is skipped with a
    /// warning rather than hiding all the others.
    pub fn offerings(&self) -> Vec<Offering> {
        self.ids(RecordKind::Offering)
            .into_iter()
            .filter_map(|id| match self.offering(&id) {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(district = %self.district, offering = %id, error = %e, "skipping unreadable offering");
                    None
                }
            })
            .collect()
    }

    /// Every contact that can be read.
    pub fn contacts(&self) -> Vec<Contact> {
        self.ids(RecordKind::Contact)
            .into_iter()
            .filter_map(|id| match self.contact(&id) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(district = %self.district, contact = %id, error = %e, "skipping unreadable contact");
                    None
                }
            })
            .collect()
    }

    /// Adds an offering (every field). Not committed until [`Self::commit`].
    pub fn create_offering(&mut self, o: &Offering) -> Result<(), DocumentError> {
        if self.record_obj(RecordKind::Offering, &o.id)?.is_some() {
            return Err(DocumentError::AlreadyExists {
                kind: "offering",
                id: o.id,
            });
        }
        let obj = self
            .doc
            .put_object(&self.offerings, o.id.to_string(), ObjType::Map)?;
        codec::write_offering(&mut self.doc, &obj, o, OfferingField::ALL, true)?;
        codec::write_times(&mut self.doc, &obj, Some(o.create_time), o.update_time)
    }

    /// Writes the given fields of `o` (and its update time) into the stored offering.
    pub fn update_offering(
        &mut self,
        o: &Offering,
        fields: &[OfferingField],
    ) -> Result<(), DocumentError> {
        let obj = self
            .record_obj(RecordKind::Offering, &o.id)?
            .ok_or(DocumentError::NotFound {
                kind: "offering",
                id: o.id,
            })?;
        codec::write_offering(&mut self.doc, &obj, o, fields, false)?;
        codec::write_times(&mut self.doc, &obj, None, o.update_time)
    }

    /// Removes an offering.
    pub fn delete_offering(&mut self, id: &RecordId) -> Result<(), DocumentError> {
        if self.record_obj(RecordKind::Offering, id)?.is_none() {
            return Err(DocumentError::NotFound {
                kind: "offering",
                id: *id,
            });
        }
        self.doc.delete(&self.offerings, id.to_string())?;
        Ok(())
    }

    /// Adds a contact.
    pub fn create_contact(&mut self, c: &Contact) -> Result<(), DocumentError> {
        if self.record_obj(RecordKind::Contact, &c.id)?.is_some() {
            return Err(DocumentError::AlreadyExists {
                kind: "contact",
                id: c.id,
            });
        }
        let obj = self
            .doc
            .put_object(&self.contacts, c.id.to_string(), ObjType::Map)?;
        codec::write_contact(&mut self.doc, &obj, c, ContactField::ALL, true)?;
        codec::write_times(&mut self.doc, &obj, Some(c.create_time), c.update_time)
    }

    /// Writes the given fields of `c` into the stored contact.
    pub fn update_contact(
        &mut self,
        c: &Contact,
        fields: &[ContactField],
    ) -> Result<(), DocumentError> {
        let obj = self
            .record_obj(RecordKind::Contact, &c.id)?
            .ok_or(DocumentError::NotFound {
                kind: "contact",
                id: c.id,
            })?;
        codec::write_contact(&mut self.doc, &obj, c, fields, false)?;
        codec::write_times(&mut self.doc, &obj, None, c.update_time)
    }

    /// Removes a contact.
    pub fn delete_contact(&mut self, id: &RecordId) -> Result<(), DocumentError> {
        if self.record_obj(RecordKind::Contact, id)?.is_none() {
            return Err(DocumentError::NotFound {
                kind: "contact",
                id: *id,
            });
        }
        self.doc.delete(&self.contacts, id.to_string())?;
        Ok(())
    }

    /// The records that differ between two versions of this document (e.g. before and after
    /// changes arrived from a peer), so a reader can refresh just those. Each appears once.
    ///
    /// The first call scans the document; it then keeps Automerge's diff index (its "diff
    /// cursor") at `after`, so the next call whose `before` is this call's `after` (the normal
    /// case: consecutive batches of received changes) reads only the index of what changed,
    /// instead of every op of the document.
    pub fn changed_records(
        &mut self,
        before: &[ChangeHash],
        after: &[ChangeHash],
    ) -> Vec<(RecordKind, RecordId)> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let patches = self.doc.diff(before, after);
        if after == self.doc.get_heads().as_slice() {
            self.doc.update_diff_cursor();
        }
        for patch in patches {
            let mut props = patch.path.iter().map(|(_, p)| p.to_string());
            let (first, second) = (props.next(), props.next());
            let (collection, key) = match (first, second) {
                (Some(c), Some(k)) => (c, k),
                // A record added or removed: the patch is on the collection map itself.
                (Some(c), None) => match &patch.action {
                    automerge::PatchAction::PutMap { key, .. }
                    | automerge::PatchAction::DeleteMap { key } => (c, key.clone()),
                    _ => continue,
                },
                _ => continue,
            };
            let kind = match collection.as_str() {
                "offerings" => RecordKind::Offering,
                "contacts" => RecordKind::Contact,
                _ => continue,
            };
            if let Ok(id) = key.parse::<RecordId>()
                && seen.insert((kind, id))
            {
                out.push((kind, id));
            }
        }
        out
    }

    /// Starts [`Self::changed_records`]'s index at the current heads, for a caller that has just
    /// read the whole document and wants only later changes.
    pub fn mark_read(&mut self) {
        // Automerge 0.12 logs every applied remote change into the patch log (active or not),
        // and `update_diff_cursor` alone only `clear`s that log, which keeps its capacity: after
        // the first sync of a district ~3 KiB per offering (6 MiB at 2,000), held for as long as
        // the document lives. Resetting first drops the log; the update then starts an empty one
        // at the current heads. (Guarded by tests/memory.rs.)
        self.doc.reset_diff_cursor();
        self.doc.update_diff_cursor();
    }

    /// Commits pending edits as one change. `time` is seconds since the epoch (advisory).
    pub fn commit(&mut self, message: &str, time: i64) -> Option<ChangeHash> {
        self.doc.commit_with(
            automerge::transaction::CommitOptions::default()
                .with_message(message)
                .with_time(time),
        )
    }

    /// Drops pending (uncommitted) edits, e.g. after a failed operation in a batch.
    pub fn rollback(&mut self) {
        self.doc.rollback();
    }

    /// The changes made since the last call (or since load), as one chunk to append to storage.
    pub fn take_unsaved(&mut self) -> Vec<u8> {
        let bytes = self.doc.save_after(&self.saved);
        if !bytes.is_empty() {
            self.saved = self.doc.get_heads();
        }
        bytes
    }

    /// The whole document, compacted, for a snapshot.
    pub fn save(&mut self) -> Vec<u8> {
        self.doc.save()
    }
}

/// Change hashes as short hex, for messages.
pub fn hex_list(heads: &[ChangeHash]) -> String {
    let parts: Vec<String> = heads
        .iter()
        .map(|h| h.to_string().chars().take(12).collect())
        .collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests;
