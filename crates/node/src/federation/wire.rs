//! Sync-core frames ⇄ protobuf frames.
use kreisnetz_document::automerge::ChangeHash;
use kreisnetz_model::{DistrictId, NodeId};
use kreisnetz_proto::v1;
use kreisnetz_sync::{Frame, SignedHeads};

/// Why a frame from a peer could not be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct BadFrame(pub String);

pub fn to_proto(frame: Frame) -> v1::FederationFrame {
    use v1::federation_frame::Frame as F;
    let frame = match frame {
        Frame::Hello {
            node,
            district,
            protocol_version,
            documents,
            signed,
        } => F::Hello(v1::Hello {
            protocol_version,
            node_id: node.to_string(),
            district_id: district.to_string(),
            documents: documents
                .into_iter()
                .map(|(doc, heads)| v1::DocumentHeads {
                    document_id: doc.to_string(),
                    heads: heads.iter().map(|h| h.0.to_vec()).collect(),
                })
                .collect(),
            signed: signed.iter().map(signed_to_proto).collect(),
        }),
        Frame::Sync {
            doc,
            message,
            signed,
            signed_seq,
        } => F::Sync(v1::SyncMessage {
            document_id: doc.to_string(),
            message,
            signed: signed.iter().map(signed_to_proto).collect(),
            signed_seq,
        }),
        Frame::Signed { doc, signed } => F::Signed(v1::SignedHeadsFrame {
            document_id: doc.to_string(),
            signed: signed.iter().map(signed_to_proto).collect(),
        }),
        Frame::Notice { doc, reason } => F::Notice(v1::Notice {
            document_id: doc.map(|d| d.to_string()).unwrap_or_default(),
            reason,
        }),
        Frame::Goodbye { reason } => F::Goodbye(v1::Goodbye { reason }),
    };
    v1::FederationFrame { frame: Some(frame) }
}

pub fn signed_to_proto(r: &SignedHeads) -> v1::SignedHeads {
    v1::SignedHeads {
        document_id: r.doc.to_string(),
        heads: r.heads.iter().map(|h| h.0.to_vec()).collect(),
        seq: r.seq,
        time_ms: r.time_ms,
        public_key: r.public_key.to_vec(),
        signature: r.signature.to_vec(),
    }
}

fn district(s: &str, what: &str) -> Result<DistrictId, BadFrame> {
    s.parse().map_err(|e| BadFrame(format!("{what}: {e}")))
}

fn heads(list: Vec<Vec<u8>>, what: &str) -> Result<Vec<ChangeHash>, BadFrame> {
    list.into_iter()
        .map(|head| {
            let bytes: [u8; 32] = head
                .as_slice()
                .try_into()
                .map_err(|_| BadFrame(format!("{what}: a head is 32 bytes")))?;
            Ok(ChangeHash(bytes))
        })
        .collect()
}

/// Reads a record (the signature is checked by the sync core, not here).
pub fn signed_from_proto(r: v1::SignedHeads) -> Result<SignedHeads, BadFrame> {
    Ok(SignedHeads {
        doc: district(&r.document_id, "signed.document_id")?,
        heads: heads(r.heads, "signed.heads")?,
        seq: r.seq,
        time_ms: r.time_ms,
        public_key: r
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| BadFrame("signed.public_key: 32 bytes".into()))?,
        signature: r
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| BadFrame("signed.signature: 64 bytes".into()))?,
    })
}

fn signed_list(list: Vec<v1::SignedHeads>) -> Result<Vec<SignedHeads>, BadFrame> {
    list.into_iter().map(signed_from_proto).collect()
}

pub fn from_proto(frame: v1::FederationFrame) -> Result<Frame, BadFrame> {
    use v1::federation_frame::Frame as F;
    match frame.frame {
        Some(F::Hello(h)) => {
            let node: NodeId = h
                .node_id
                .parse()
                .map_err(|e| BadFrame(format!("hello.node_id: {e}")))?;
            let mut documents = Vec::with_capacity(h.documents.len());
            for d in h.documents {
                let doc = district(&d.document_id, "hello.documents.document_id")?;
                documents.push((doc, heads(d.heads, "hello.documents.heads")?));
            }
            Ok(Frame::Hello {
                node,
                district: district(&h.district_id, "hello.district_id")?,
                protocol_version: h.protocol_version,
                documents,
                signed: signed_list(h.signed)?,
            })
        }
        Some(F::Sync(s)) => Ok(Frame::Sync {
            doc: district(&s.document_id, "sync.document_id")?,
            message: s.message,
            signed: signed_list(s.signed)?,
            signed_seq: s.signed_seq,
        }),
        Some(F::Signed(s)) => Ok(Frame::Signed {
            doc: district(&s.document_id, "signed.document_id")?,
            signed: signed_list(s.signed)?,
        }),
        Some(F::Notice(n)) => Ok(Frame::Notice {
            doc: if n.document_id.is_empty() {
                None
            } else {
                Some(district(&n.document_id, "notice.document_id")?)
            },
            reason: n.reason,
        }),
        Some(F::Goodbye(g)) => Ok(Frame::Goodbye { reason: g.reason }),
        None => Err(BadFrame("empty frame".into())),
    }
}
