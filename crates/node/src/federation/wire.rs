//! Sync-core frames ⇄ protobuf frames.
use kreisnetz_document::automerge::ChangeHash;
use kreisnetz_model::{DistrictId, NodeId};
use kreisnetz_proto::v1;
use kreisnetz_sync::Frame;

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
        }),
        Frame::Sync { doc, message } => F::Sync(v1::SyncMessage {
            document_id: doc.to_string(),
            message,
        }),
        Frame::Goodbye { reason } => F::Goodbye(v1::Goodbye { reason }),
    };
    v1::FederationFrame { frame: Some(frame) }
}

pub fn from_proto(frame: v1::FederationFrame) -> Result<Frame, BadFrame> {
    use v1::federation_frame::Frame as F;
    let district = |s: &str, what: &str| -> Result<DistrictId, BadFrame> {
        s.parse().map_err(|e| BadFrame(format!("{what}: {e}")))
    };
    match frame.frame {
        Some(F::Hello(h)) => {
            let node: NodeId = h
                .node_id
                .parse()
                .map_err(|e| BadFrame(format!("hello.node_id: {e}")))?;
            let mut documents = Vec::with_capacity(h.documents.len());
            for d in h.documents {
                let doc = district(&d.document_id, "hello.documents.document_id")?;
                let mut heads = Vec::with_capacity(d.heads.len());
                for head in d.heads {
                    let bytes: [u8; 32] = head.as_slice().try_into().map_err(|_| {
                        BadFrame("hello.documents.heads: a head is 32 bytes".into())
                    })?;
                    heads.push(ChangeHash(bytes));
                }
                documents.push((doc, heads));
            }
            Ok(Frame::Hello {
                node,
                district: district(&h.district_id, "hello.district_id")?,
                protocol_version: h.protocol_version,
                documents,
            })
        }
        Some(F::Sync(s)) => Ok(Frame::Sync {
            doc: district(&s.document_id, "sync.document_id")?,
            message: s.message,
        }),
        Some(F::Goodbye(g)) => Ok(Frame::Goodbye { reason: g.reason }),
        None => Err(BadFrame("empty frame".into())),
    }
}
