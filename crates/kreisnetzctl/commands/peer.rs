//! `peers`, `peer add|remove`: the node's peers (other nodes it exchanges documents with).
use std::collections::HashMap;

use anyhow::Result;
use kreisnetz_model::Timestamp;
use kreisnetz_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::args::{PeerAddArgs, PeerRemoveArgs};
use crate::output;

pub async fn list(ctx: &Ctx<'_>) -> Result<()> {
    let node = ctx.node().await?;
    let peers = node
        .call(
            node.admin()
                .list_peers(node.request(v1::ListPeersRequest {})),
        )
        .await?
        .peers;

    let mut out = std::io::stdout().lock();
    if ctx.json {
        let items: Vec<Value> = peers.iter().map(output::peer_json).collect();
        return output::print_json(&mut out, &json!({ "peers": items }));
    }
    if peers.is_empty() {
        return output::print_text(
            &mut out,
            "no peers configured; add one with `kreisnetzctl peer add <NODE_ID> --address HOST:PORT`",
        );
    }
    // District names only make the table easier to read: without them it shows short IDs.
    let names = if peers.iter().any(|p| !p.district_id.is_empty()) {
        node.call(
            node.admin()
                .list_documents(node.request(v1::ListDocumentsRequest {})),
        )
        .await
        .map(|r| district_names(&r.documents))
        .unwrap_or_default()
    } else {
        HashMap::new()
    };
    let now = Timestamp::now();
    let rows = peers
        .iter()
        .map(|p| output::peer_row(p, &names, now))
        .collect();
    output::print_text(&mut out, &output::table(output::PEER_COLUMNS, rows))?;
    let connected = peers.iter().filter(|p| p.connected).count();
    output::print_text(
        &mut out,
        &format!("\n{connected} of {} peers connected", peers.len()),
    )
}

/// District ID → name, for the districts whose documents have a name.
fn district_names(documents: &[v1::Document]) -> HashMap<String, String> {
    documents
        .iter()
        .filter(|d| !d.district_name.is_empty())
        .map(|d| (d.document_id.clone(), d.district_name.clone()))
        .collect()
}

pub async fn add(ctx: &Ctx<'_>, a: &PeerAddArgs) -> Result<()> {
    let req = v1::AddPeerRequest {
        node_id: a.node_id.to_string(),
        address: a.address.clone().unwrap_or_default(),
    };
    let node = ctx.node().await?;
    let mut peer = node
        .call(node.admin().add_peer(node.request(req.clone())))
        .await?;
    if peer.node_id.is_empty() {
        peer.node_id = req.node_id;
    }
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &output::peer_json(&peer))
    } else {
        output::print_text(&mut out, &added_line(&peer))
    }
}

/// `peer N-ABCD-EFGH… added; dialing 10.0.0.5:7701` (or `; accepting its connections`).
fn added_line(p: &v1::Peer) -> String {
    let how = match p.address.as_str() {
        "" => "accepting its connections".to_string(),
        address => format!("dialing {address}"),
    };
    format!("peer {} added; {how}", output::abbreviated(&p.node_id))
}

pub async fn remove(ctx: &Ctx<'_>, a: &PeerRemoveArgs) -> Result<()> {
    let node_id = a.node_id.to_string();
    let node = ctx.node().await?;
    let req = v1::RemovePeerRequest {
        node_id: node_id.clone(),
    };
    node.call(node.admin().remove_peer(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &json!({ "removed": node_id }))
    } else {
        output::print_text(
            &mut out,
            &format!("peer {} removed", output::abbreviated(&node_id)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kreisnetz_model::NodeId;

    #[test]
    fn confirmations_say_how_the_peer_is_reached() {
        let id = NodeId::from_public_key(b"peer").to_string();
        let short = &id[..11];
        let p = v1::Peer {
            node_id: id.clone(),
            address: "10.0.0.5:7701".into(),
            ..Default::default()
        };
        assert_eq!(
            added_line(&p),
            format!("peer {short}… added; dialing 10.0.0.5:7701")
        );
        let p = v1::Peer {
            address: String::new(),
            ..p
        };
        assert_eq!(
            added_line(&p),
            format!("peer {short}… added; accepting its connections")
        );
    }

    #[test]
    fn names_come_from_named_documents() {
        let docs = [
            v1::Document {
                document_id: "D-AAAA".into(),
                district_name: "Landkreis Vechta".into(),
                ..Default::default()
            },
            v1::Document {
                document_id: "D-BBBB".into(),
                ..Default::default()
            },
        ];
        let names = district_names(&docs);
        assert_eq!(names.len(), 1);
        assert_eq!(names["D-AAAA"], "Landkreis Vechta");
    }
}
