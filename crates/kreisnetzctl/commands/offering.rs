//! `offering add|get|list|update|delete`.
use std::io::Write;

use anyhow::{Result, bail};
use kreisnetz_model::RecordKind;
use kreisnetz_proto::v1;
use serde_json::{Value, json};

use super::{Ctx, record_ref};
use crate::args::{DeleteArgs, GetArgs, OfferingAddArgs, OfferingListArgs, OfferingUpdateArgs};
use crate::{messages, output};

/// Prints one offering: JSON, or a listing after an optional headline such as "created ...".
fn show(ctx: &Ctx<'_>, o: &v1::Offering, headline: Option<&str>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if ctx.json {
        return output::print_json(&mut out, &output::offering_json(o)?);
    }
    let listing = output::offering_listing(&o.name, &o.etag, &output::offering_model(o)?);
    if let Some(h) = headline {
        writeln!(out, "{h} {}\n", o.name)?;
    }
    output::print_text(&mut out, &listing)
}

pub async fn add(ctx: &Ctx<'_>, a: &OfferingAddArgs) -> Result<()> {
    let req = messages::create_offering(a);
    let node = ctx.node().await?;
    let o = node
        .call(node.offerings().create_offering(node.request(req)))
        .await?;
    show(ctx, &o, Some("created"))
}

pub async fn get(ctx: &Ctx<'_>, a: &GetArgs) -> Result<()> {
    let name = record_ref(&a.target, RecordKind::Offering)?.name();
    let node = ctx.node().await?;
    let req = v1::GetOfferingRequest { name };
    let o = node
        .call(node.offerings().get_offering(node.request(req)))
        .await?;
    show(ctx, &o, None)
}

pub async fn update(ctx: &Ctx<'_>, a: &OfferingUpdateArgs) -> Result<()> {
    let req = messages::update_offering(a)?;
    let node = ctx.node().await?;
    let o = node
        .call(node.offerings().update_offering(node.request(req)))
        .await?;
    show(ctx, &o, Some("updated"))
}

pub async fn delete(ctx: &Ctx<'_>, a: &DeleteArgs) -> Result<()> {
    let name = record_ref(&a.target, RecordKind::Offering)?.name();
    let node = ctx.node().await?;
    let req = v1::DeleteOfferingRequest {
        name: name.clone(),
        etag: a.etag.clone().unwrap_or_default(),
    };
    node.call(node.offerings().delete_offering(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &json!({ "deleted": name }))
    } else {
        output::print_text(&mut out, &format!("deleted offering {name}"))
    }
}

pub async fn list(ctx: &Ctx<'_>, a: &OfferingListArgs) -> Result<()> {
    let mut req = v1::ListOfferingsRequest {
        page_size: a.paging.page_size.unwrap_or(0),
        page_token: a.paging.page_token.clone().unwrap_or_default(),
        district_id: a.district.map(|d| d.to_string()).unwrap_or_default(),
        category: a.category.map_or(0, |c| c.number()),
        target_group: a.target_group.map_or(0, |t| t.number()),
        municipality: a.municipality.clone().unwrap_or_default(),
        status: a.status.map_or(0, |s| s.number()),
        language: a.language.map(|l| l.to_string()).unwrap_or_default(),
        query: a.query.clone().unwrap_or_default(),
    };
    let node = ctx.node().await?;
    let mut offerings = Vec::new();
    let (next, total) = loop {
        let page = node
            .call(node.offerings().list_offerings(node.request(req.clone())))
            .await?;
        offerings.extend(page.offerings);
        if !a.paging.all || page.next_page_token.is_empty() {
            break (page.next_page_token, page.total_size);
        }
        if page.next_page_token == req.page_token {
            bail!("the node returned the same page token twice; stopping --all");
        }
        req.page_token = page.next_page_token;
    };

    let mut out = std::io::stdout().lock();
    if ctx.json {
        let items = offerings
            .iter()
            .map(output::offering_json)
            .collect::<Result<Vec<Value>>>()?;
        let value = json!({ "offerings": items, "next_page_token": next, "total_size": total });
        return output::print_json(&mut out, &value);
    }
    if offerings.is_empty() {
        return output::print_text(&mut out, "no offerings found");
    }
    let rows = offerings
        .iter()
        .map(|o| output::offering_model(o).map(|m| output::offering_row(&m)))
        .collect::<Result<Vec<_>>>()?;
    output::print_text(&mut out, &output::table(output::OFFERING_COLUMNS, rows))?;
    let mut footer = format!("\n{} of {total} offerings", offerings.len());
    if !next.is_empty() {
        footer.push_str(&format!("; next page: --page-token {next} (or --all)"));
    }
    output::print_text(&mut out, &footer)
}
