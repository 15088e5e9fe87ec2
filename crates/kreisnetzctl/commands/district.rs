//! `district trust|untrust`: which districts' documents the node accepts from its peers.
use anyhow::Result;
use kreisnetz_proto::v1;
use serde_json::json;

use super::Ctx;
use crate::args::{DistrictTrustArgs, DistrictUntrustArgs};
use crate::output;

pub async fn trust(ctx: &Ctx<'_>, a: &DistrictTrustArgs) -> Result<()> {
    let req = v1::TrustDistrictRequest {
        district_id: a.district_id.to_string(),
        name: a.name.clone().unwrap_or_default(),
    };
    let node = ctx.node().await?;
    let mut trusted = node
        .call(node.admin().trust_district(node.request(req.clone())))
        .await?;
    if trusted.district_id.is_empty() {
        trusted.district_id = req.district_id;
    }
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &output::trusted_district_json(&trusted))
    } else {
        output::print_text(&mut out, &trusted_line(&trusted))
    }
}

/// `district Landkreis Cloppenburg (D-ABCD-EFGH…) trusted; ...`.
fn trusted_line(t: &v1::TrustedDistrict) -> String {
    let id = output::abbreviated(&t.district_id);
    let who = match t.name.as_str() {
        "" => id,
        name => format!("{name} ({id})"),
    };
    format!("district {who} trusted; its document is accepted from peers")
}

pub async fn untrust(ctx: &Ctx<'_>, a: &DistrictUntrustArgs) -> Result<()> {
    let district_id = a.district_id.to_string();
    let node = ctx.node().await?;
    let req = v1::UntrustDistrictRequest {
        district_id: district_id.clone(),
    };
    node.call(node.admin().untrust_district(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &json!({ "untrusted": district_id }))
    } else {
        output::print_text(
            &mut out,
            &format!(
                "district {} untrusted; its document is no longer accepted",
                output::abbreviated(&district_id)
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kreisnetz_model::DistrictId;

    #[test]
    fn the_confirmation_names_the_district() {
        let id = DistrictId::from_public_key(b"Landkreis Cloppenburg").to_string();
        let t = v1::TrustedDistrict {
            district_id: id.clone(),
            name: "Landkreis Cloppenburg".into(),
        };
        assert_eq!(
            trusted_line(&t),
            format!(
                "district Landkreis Cloppenburg ({}…) trusted; its document is accepted from peers",
                &id[..11]
            )
        );
        let t = v1::TrustedDistrict {
            name: String::new(),
            ..t
        };
        assert!(trusted_line(&t).starts_with(&format!("district {}… trusted", &id[..11])));
    }
}
