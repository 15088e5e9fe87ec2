//! `status`: the node's `GetNodeStatus`.
use anyhow::Result;
use kreisnetz_model::Timestamp;
use kreisnetz_proto::v1;

use super::Ctx;
use crate::output;

pub async fn status(ctx: &Ctx<'_>) -> Result<()> {
    let node = ctx.node().await?;
    let s = node
        .call(
            node.admin()
                .get_node_status(node.request(v1::GetNodeStatusRequest {})),
        )
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &output::status_json(&s))
    } else {
        output::print_text(&mut out, &output::status_listing(&s, Timestamp::now()))
    }
}
