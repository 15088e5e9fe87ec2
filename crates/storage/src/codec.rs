//! Byte layouts shared by the stores: the checksummed value envelope and the document record.
//!
//! Every value written to sled is `[ENVELOPE_VERSION][checksum: 8 bytes][payload]`, where the
//! checksum is the first 8 bytes of SHA-256 over `len(key) as u32 BE || key || payload`. Covering
//! the key as well as the payload means a value that ends up under the wrong key (a misdirected
//! page, a bad copy) fails verification too, not only a value whose bytes changed.

use sha2::{Digest, Sha256};

use crate::{Heads, StoreError};

/// Format byte at the start of every envelope that holds its payload.
pub(crate) const ENVELOPE_VERSION: u8 = 1;
/// Format byte of a *parted* envelope: `[2][checksum over key and the whole payload][payload
/// length u64 BE][number of parts u32 BE]`; the payload is in parts stored under other keys (see
/// `sled_store`). Only [`open_envelope`] accepts it.
pub(crate) const ENVELOPE_PARTED: u8 = 2;
const CHECKSUM_LEN: usize = 8;
const HEADER_LEN: usize = 1 + CHECKSUM_LEN;
const PARTED_LEN: usize = HEADER_LEN + 8 + 4;

fn checksum(key: &[u8], payload: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut hasher = Sha256::new();
    // Keys are far shorter than 4 GiB; saturate rather than wrap if one ever is not.
    let key_len = u32::try_from(key.len()).unwrap_or(u32::MAX);
    hasher.update(key_len.to_be_bytes());
    hasher.update(key);
    hasher.update(payload);
    let digest = hasher.finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&digest[..CHECKSUM_LEN]);
    out
}

/// Wraps `payload` for storage under `key`.
pub(crate) fn seal(key: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(ENVELOPE_VERSION);
    out.extend_from_slice(&checksum(key, payload));
    out.extend_from_slice(payload);
    out
}

/// The envelope of a payload stored in `parts` parts (see [`ENVELOPE_PARTED`]).
pub(crate) fn seal_parted(key: &[u8], payload: &[u8], parts: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(PARTED_LEN);
    out.push(ENVELOPE_PARTED);
    out.extend_from_slice(&checksum(key, payload));
    out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    out.extend_from_slice(&parts.to_be_bytes());
    out
}

/// What an envelope holds: the payload itself, or where to find it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Envelope<'v> {
    Whole(&'v [u8]),
    Parted {
        checksum: [u8; CHECKSUM_LEN],
        len: u64,
        parts: u32,
    },
}

fn corrupt_value(reason: &str, what: String) -> StoreError {
    tracing::error!(what = %what, reason, "stored value failed verification");
    StoreError::Corrupt {
        what: format!("{what}: {reason}"),
    }
}

/// Verifies a value read from under `key` and returns its payload. `what` names the value in
/// the error (e.g. "chunk 3 of document X"). A parted envelope is an error here: use
/// [`open_envelope`] where values may be large.
pub(crate) fn open<'v>(
    key: &[u8],
    value: &'v [u8],
    what: impl FnOnce() -> String,
) -> Result<&'v [u8], StoreError> {
    if value.len() < HEADER_LEN {
        return Err(corrupt_value(
            "value shorter than its checksum header",
            what(),
        ));
    }
    let (header, payload) = value.split_at(HEADER_LEN);
    if header[0] != ENVELOPE_VERSION {
        return Err(corrupt_value("unknown envelope version", what()));
    }
    if header[1..] != checksum(key, payload) {
        return Err(corrupt_value("checksum mismatch", what()));
    }
    Ok(payload)
}

/// Like [`open`], but also accepts a parted envelope, whose payload the caller assembles and
/// checks with [`check_parted`].
pub(crate) fn open_envelope<'v>(
    key: &[u8],
    value: &'v [u8],
    what: impl FnOnce() -> String,
) -> Result<Envelope<'v>, StoreError> {
    match value.first() {
        Some(&ENVELOPE_PARTED) => {
            if value.len() != PARTED_LEN {
                return Err(corrupt_value("parted envelope of the wrong length", what()));
            }
            let mut reader = Reader(&value[1..]);
            let mut sum = [0u8; CHECKSUM_LEN];
            sum.copy_from_slice(reader.take(CHECKSUM_LEN).unwrap_or_default());
            let len = reader.u64().unwrap_or_default();
            let parts = reader.u32().unwrap_or_default();
            Ok(Envelope::Parted {
                checksum: sum,
                len,
                parts,
            })
        }
        _ => open(key, value, what).map(Envelope::Whole),
    }
}

/// Checks an assembled parted payload against its envelope.
pub(crate) fn check_parted(
    key: &[u8],
    expected: &[u8; CHECKSUM_LEN],
    len: u64,
    payload: &[u8],
    what: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    if payload.len() as u64 != len {
        return Err(corrupt_value(
            &format!("parts hold {} bytes, the value says {len}", payload.len()),
            what(),
        ));
    }
    if checksum(key, payload) != *expected {
        return Err(corrupt_value("checksum mismatch over its parts", what()));
    }
    Ok(())
}

/// What the store keeps per document besides its snapshot and chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocRecord {
    /// Index of the oldest chunk not yet compacted away.
    pub first_chunk: u64,
    /// Index the next appended chunk gets; chunks `first_chunk..next_chunk` must all exist.
    pub next_chunk: u64,
    /// Sum of the lengths of chunks `first_chunk..next_chunk`.
    pub chunk_bytes: u64,
    pub has_snapshot: bool,
    pub heads: Heads,
}

impl DocRecord {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * 3 + 1 + 4 + 32 * self.heads.len());
        out.extend_from_slice(&self.first_chunk.to_be_bytes());
        out.extend_from_slice(&self.next_chunk.to_be_bytes());
        out.extend_from_slice(&self.chunk_bytes.to_be_bytes());
        out.push(u8::from(self.has_snapshot));
        let count = u32::try_from(self.heads.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for head in &self.heads {
            out.extend_from_slice(head);
        }
        out
    }

    /// Parses a record; `None` if the bytes do not have the record layout.
    pub(crate) fn decode(bytes: &[u8]) -> Option<DocRecord> {
        let mut reader = Reader(bytes);
        let first_chunk = reader.u64()?;
        let next_chunk = reader.u64()?;
        let chunk_bytes = reader.u64()?;
        let has_snapshot = match reader.take(1)?[0] {
            0 => false,
            1 => true,
            _ => return None,
        };
        let count = usize::try_from(reader.u32()?).ok()?;
        if reader.0.len() != count.checked_mul(32)? || first_chunk > next_chunk {
            return None;
        }
        let heads = reader
            .0
            .chunks_exact(32)
            .map(|h| {
                let mut head = [0u8; 32];
                head.copy_from_slice(h);
                head
            })
            .collect();
        Some(DocRecord {
            first_chunk,
            next_chunk,
            chunk_bytes,
            has_snapshot,
            heads,
        })
    }
}

/// A cursor over a byte slice that fails softly.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        self.take(4)?.try_into().ok().map(u32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        self.take(8)?.try_into().ok().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trip_and_detects_changes() {
        let sealed = seal(b"key", b"payload");
        assert_eq!(
            open(b"key", &sealed, || "x".into()).ok(),
            Some(&b"payload"[..])
        );
        // Same bytes under another key.
        assert!(matches!(
            open(b"other", &sealed, || "x".into()),
            Err(StoreError::Corrupt { .. })
        ));
        // Every single flipped bit is caught.
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert!(
                    open(b"key", &bad, || "x".into()).is_err(),
                    "byte {i} bit {bit}"
                );
            }
        }
        // Truncation.
        assert!(open(b"key", &sealed[..5], || "x".into()).is_err());
        assert!(open(b"key", &sealed[..sealed.len() - 1], || "x".into()).is_err());
        // Empty payloads are fine.
        let empty = seal(b"k", b"");
        assert_eq!(open(b"k", &empty, || "x".into()).ok(), Some(&b""[..]));
    }

    #[test]
    fn parted_envelope_round_trip_and_checks() {
        let payload = vec![7u8; 10_000];
        let sealed = seal_parted(b"key", &payload, 3);
        // Plain `open` never takes a parted envelope for a payload.
        assert!(open(b"key", &sealed, || "x".into()).is_err());
        let Ok(Envelope::Parted {
            checksum,
            len,
            parts,
        }) = open_envelope(b"key", &sealed, || "x".into())
        else {
            panic!("expected a parted envelope");
        };
        assert_eq!((len, parts), (10_000, 3));
        assert!(check_parted(b"key", &checksum, len, &payload, || "x".into()).is_ok());
        assert!(check_parted(b"other", &checksum, len, &payload, || "x".into()).is_err());
        assert!(check_parted(b"key", &checksum, len, &payload[1..], || "x".into()).is_err());
        let mut changed = payload.clone();
        changed[5000] = 8;
        assert!(check_parted(b"key", &checksum, len, &changed, || "x".into()).is_err());
        assert!(open_envelope(b"key", &sealed[..sealed.len() - 1], || "x".into()).is_err());
        // Whole envelopes come through as they are.
        assert_eq!(
            open_envelope(b"k", &seal(b"k", b"v"), || "x".into()).ok(),
            Some(Envelope::Whole(&b"v"[..]))
        );
    }

    #[test]
    fn record_round_trip_and_rejects_bad_layouts() {
        let record = DocRecord {
            first_chunk: 3,
            next_chunk: 7,
            chunk_bytes: 99,
            has_snapshot: true,
            heads: vec![[1; 32], [2; 32]],
        };
        let bytes = record.encode();
        assert_eq!(DocRecord::decode(&bytes), Some(record.clone()));
        assert_eq!(DocRecord::decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(DocRecord::decode(&longer), None);
        let mut bad_flag = bytes.clone();
        bad_flag[24] = 2;
        assert_eq!(DocRecord::decode(&bad_flag), None);
        let backwards = DocRecord {
            first_chunk: 8,
            ..record
        };
        assert_eq!(DocRecord::decode(&backwards.encode()), None);
        assert_eq!(DocRecord::decode(&[]), None);
    }
}
