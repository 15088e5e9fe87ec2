//! Signed heads: how a district vouches for its document's history, and how every node checks it.
//!
//! # The scheme
//!
//! After each commit, the node of the district that owns a document signs a [`SignedHeads`]
//! record with the district key (Ed25519): the document ID, the document's heads after the
//! commit, a sequence number that only grows, and the time. An Automerge change hash covers the
//! change's bytes, and those include the hashes of its dependencies, so the heads are the top of
//! a hash DAG (as in git): one verified signature over the heads authenticates **every change
//! below them**. A receiver verifies one record (~45 µs) per batch, not one signature per change
//! (~0.45 s for a 10,000-change document).
//!
//! Records travel with the data: a node attaches to each sync frame the records that cover what it
//! holds of the document (normally one; more only while two nodes of one district have written
//! concurrently and no commit has merged their heads yet), and to its hello the same for every
//! document. Any node can relay them; none can make one.
//!
//! The receiver ([`crate::SyncCore`]) takes a received change only if it is one of, or an
//! ancestor of, the heads of a record it verified: it walks from the verified heads through the
//! received changes' dependency hashes. Changes that no verified record reaches wait in a
//! bounded in-memory quarantine — never stored, applied or relayed — until a record covers them.
//!
//! The sequence number lets a node notice when a relay holds back the newest state the owner has
//! signed (its records are older than ones we have seen), and refuse to "roll back" to an older
//! signed state (it cannot lose changes anyway: Automerge only merges).
//!
//! The signed bytes are fixed-layout and domain-separated (`kreisnetz signed heads v1`), so a
//! signature over them can never be mistaken for a signature over anything else the district key
//! signs.
use automerge::ChangeHash;
use kreisnetz_identity::{DistrictKey, IdentityError, verify_district_signature};
use kreisnetz_model::DistrictId;

/// A record never names more heads than this (concurrent writers of one district; a peer could
/// otherwise make us hash and hold arbitrary lists).
pub const MAX_SIGNED_HEADS: usize = 64;

const DOMAIN: &[u8] = b"kreisnetz signed heads v1\n";
const STORED_VERSION: u8 = 1;

/// One signed statement of a district: "document `doc` had these `heads` (sequence `seq`, at
/// `time_ms`)".
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeads {
    pub doc: DistrictId,
    /// Sorted.
    pub heads: Vec<ChangeHash>,
    pub seq: u64,
    /// Milliseconds since the Unix epoch, as the signer's clock had it (for people; never used to
    /// order records: `seq` does that).
    pub time_ms: u64,
    /// The district's Ed25519 public key; its fingerprint must be `doc`.
    pub public_key: [u8; 32],
    pub signature: [u8; 64],
}

impl std::fmt::Debug for SignedHeads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedHeads")
            .field("doc", &self.doc)
            .field("seq", &self.seq)
            .field("heads", &self.heads.len())
            .finish_non_exhaustive()
    }
}

/// Why a record is not accepted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the record names {0} heads, more than the limit of {MAX_SIGNED_HEADS}")]
    TooManyHeads(usize),
    #[error("the record names no heads")]
    NoHeads,
    #[error("the record's public key is not the key of district {0}")]
    WrongKey(DistrictId),
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the record is malformed: {0}")]
    Malformed(String),
}

impl SignedHeads {
    /// Signs `heads` of `key`'s district document.
    pub fn sign(key: &DistrictKey, heads: &[ChangeHash], seq: u64, time_ms: u64) -> Self {
        let mut heads = heads.to_vec();
        heads.sort();
        heads.dedup();
        let doc = key.id();
        let signature = key
            .sign(&signed_bytes(&doc, &heads, seq, time_ms))
            .to_bytes();
        SignedHeads {
            doc,
            heads,
            seq,
            time_ms,
            public_key: key.verifying_key().to_bytes(),
            signature,
        }
    }

    /// Checks the record: a bounded, sorted list of heads, the public key of the document's
    /// district, and a valid signature (Ed25519 `verify_strict`).
    pub fn verify(&self) -> Result<(), SignatureError> {
        if self.heads.is_empty() {
            return Err(SignatureError::NoHeads);
        }
        if self.heads.len() > MAX_SIGNED_HEADS {
            return Err(SignatureError::TooManyHeads(self.heads.len()));
        }
        if !self.heads.windows(2).all(|w| w[0] < w[1]) {
            return Err(SignatureError::Malformed(
                "the heads are not sorted and distinct".into(),
            ));
        }
        let message = signed_bytes(&self.doc, &self.heads, self.seq, self.time_ms);
        verify_district_signature(&self.doc, &self.public_key, &message, &self.signature).map_err(
            |e| match e {
                IdentityError::KeyMismatch => SignatureError::WrongKey(self.doc),
                IdentityError::BadSignature => SignatureError::BadSignature,
                other => SignatureError::Malformed(other.to_string()),
            },
        )
    }

    /// The form kept in storage (fixed layout, versioned).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 32 + 16 + 32 + 64 + 2 + 32 * self.heads.len());
        out.push(STORED_VERSION);
        out.extend_from_slice(self.doc.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.time_ms.to_be_bytes());
        out.extend_from_slice(&self.public_key);
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&(self.heads.len() as u16).to_be_bytes());
        for h in &self.heads {
            out.extend_from_slice(&h.0);
        }
        out
    }

    /// Reads [`SignedHeads::to_bytes`]. Does not verify.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SignatureError> {
        let bad = |what: &str| SignatureError::Malformed(what.to_string());
        let mut r = Reader(bytes);
        if r.take::<1>().ok_or_else(|| bad("empty"))?[0] != STORED_VERSION {
            return Err(bad("unknown version"));
        }
        let doc = DistrictId(kreisnetz_model::ids::Fingerprint(
            r.take::<32>().ok_or_else(|| bad("short"))?,
        ));
        let seq = u64::from_be_bytes(r.take::<8>().ok_or_else(|| bad("short"))?);
        let time_ms = u64::from_be_bytes(r.take::<8>().ok_or_else(|| bad("short"))?);
        let public_key = r.take::<32>().ok_or_else(|| bad("short"))?;
        let signature = r.take::<64>().ok_or_else(|| bad("short"))?;
        let n = u16::from_be_bytes(r.take::<2>().ok_or_else(|| bad("short"))?) as usize;
        let mut heads = Vec::with_capacity(n.min(MAX_SIGNED_HEADS));
        for _ in 0..n {
            heads.push(ChangeHash(r.take::<32>().ok_or_else(|| bad("short"))?));
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        Ok(SignedHeads {
            doc,
            heads,
            seq,
            time_ms,
            public_key,
            signature,
        })
    }
}

/// Several records as one value (for storage): each length-prefixed (u32, big-endian).
pub fn encode_list(records: &[SignedHeads]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        let bytes = r.to_bytes();
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Reads [`encode_list`]. Does not verify.
pub fn decode_list(mut bytes: &[u8]) -> Result<Vec<SignedHeads>, SignatureError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| SignatureError::Malformed("a truncated list".into()))?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(SignatureError::Malformed("a truncated list".into()));
        }
        out.push(SignedHeads::from_bytes(&rest[..len])?);
        bytes = &rest[len..];
    }
    Ok(out)
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

/// What the district key signs.
fn signed_bytes(doc: &DistrictId, heads: &[ChangeHash], seq: u64, time_ms: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 32 + 8 + 8 + 4 + 32 * heads.len());
    m.extend_from_slice(DOMAIN);
    m.extend_from_slice(doc.as_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(&time_ms.to_be_bytes());
    m.extend_from_slice(&(heads.len() as u32).to_be_bytes());
    for h in heads {
        m.extend_from_slice(&h.0);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> DistrictKey {
        DistrictKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[n; 32]))
    }

    #[test]
    fn a_record_verifies_and_round_trips() {
        let k = key(1);
        let r = SignedHeads::sign(&k, &[ChangeHash([2; 32]), ChangeHash([1; 32])], 7, 1000);
        assert_eq!(r.heads, vec![ChangeHash([1; 32]), ChangeHash([2; 32])]);
        r.verify().unwrap();
        let back = SignedHeads::from_bytes(&r.to_bytes()).unwrap();
        assert_eq!(back, r);
        let list = decode_list(&encode_list(&[r.clone(), back])).unwrap();
        assert_eq!(list.len(), 2);
        assert!(SignedHeads::from_bytes(&r.to_bytes()[..40]).is_err());
    }

    #[test]
    fn any_altered_field_fails() {
        let k = key(1);
        let r = SignedHeads::sign(&k, &[ChangeHash([1; 32])], 7, 1000);
        let mut seq = r.clone();
        seq.seq = 8;
        assert_eq!(seq.verify(), Err(SignatureError::BadSignature));
        let mut heads = r.clone();
        heads.heads = vec![ChangeHash([3; 32])];
        assert_eq!(heads.verify(), Err(SignatureError::BadSignature));
        let mut sig = r.clone();
        sig.signature[0] ^= 1;
        assert_eq!(sig.verify(), Err(SignatureError::BadSignature));
        // Another district's key, claiming this district's document.
        let other = key(2);
        let mut forged = SignedHeads::sign(&other, &[ChangeHash([1; 32])], 7, 1000);
        forged.doc = k.id();
        assert_eq!(forged.verify(), Err(SignatureError::WrongKey(k.id())));
        let mut none = r;
        none.heads.clear();
        assert_eq!(none.verify(), Err(SignatureError::NoHeads));
    }
}
