//! `contact add|get|list|update|delete`.
use std::io::Write;

use anyhow::{Result, bail};
use kreisnetz_model::RecordKind;
use kreisnetz_proto::v1;
use serde_json::{Value, json};

use super::{Ctx, record_ref};
use crate::args::{ContactAddArgs, ContactListArgs, ContactUpdateArgs, DeleteArgs, GetArgs};
use crate::{messages, output};

/// Prints one contact: JSON, or a listing after an optional headline such as "created ...".
fn show(ctx: &Ctx<'_>, c: &v1::Contact, headline: Option<&str>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if ctx.json {
        return output::print_json(&mut out, &output::contact_json(c)?);
    }
    let listing = output::contact_listing(&c.name, &c.etag, &output::contact_model(c)?);
    if let Some(h) = headline {
        writeln!(out, "{h} {}\n", c.name)?;
    }
    output::print_text(&mut out, &listing)
}

pub async fn add(ctx: &Ctx<'_>, a: &ContactAddArgs) -> Result<()> {
    let req = messages::create_contact(a);
    let node = ctx.node().await?;
    let c = node
        .call(node.contacts().create_contact(node.request(req)))
        .await?;
    show(ctx, &c, Some("created"))
}

pub async fn get(ctx: &Ctx<'_>, a: &GetArgs) -> Result<()> {
    let name = record_ref(&a.target, RecordKind::Contact)?.name();
    let node = ctx.node().await?;
    let req = v1::GetContactRequest { name };
    let c = node
        .call(node.contacts().get_contact(node.request(req)))
        .await?;
    show(ctx, &c, None)
}

pub async fn update(ctx: &Ctx<'_>, a: &ContactUpdateArgs) -> Result<()> {
    let req = messages::update_contact(a)?;
    let node = ctx.node().await?;
    let c = node
        .call(node.contacts().update_contact(node.request(req)))
        .await?;
    show(ctx, &c, Some("updated"))
}

pub async fn delete(ctx: &Ctx<'_>, a: &DeleteArgs) -> Result<()> {
    let name = record_ref(&a.target, RecordKind::Contact)?.name();
    let node = ctx.node().await?;
    let req = v1::DeleteContactRequest {
        name: name.clone(),
        etag: a.etag.clone().unwrap_or_default(),
    };
    node.call(node.contacts().delete_contact(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &json!({ "deleted": name }))
    } else {
        output::print_text(&mut out, &format!("deleted contact {name}"))
    }
}

pub async fn list(ctx: &Ctx<'_>, a: &ContactListArgs) -> Result<()> {
    let mut req = v1::ListContactsRequest {
        page_size: a.paging.page_size.unwrap_or(0),
        page_token: a.paging.page_token.clone().unwrap_or_default(),
        district_id: a.district.map(|d| d.to_string()).unwrap_or_default(),
        organisation: a.organisation.clone().unwrap_or_default(),
        language: a.language.map(|l| l.to_string()).unwrap_or_default(),
        query: a.query.clone().unwrap_or_default(),
    };
    let node = ctx.node().await?;
    let mut contacts = Vec::new();
    let (next, total) = loop {
        let page = node
            .call(node.contacts().list_contacts(node.request(req.clone())))
            .await?;
        contacts.extend(page.contacts);
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
        let items = contacts
            .iter()
            .map(output::contact_json)
            .collect::<Result<Vec<Value>>>()?;
        let value = json!({ "contacts": items, "next_page_token": next, "total_size": total });
        return output::print_json(&mut out, &value);
    }
    if contacts.is_empty() {
        return output::print_text(&mut out, "no contacts found");
    }
    let rows = contacts
        .iter()
        .map(|c| output::contact_model(c).map(|m| output::contact_row(&m)))
        .collect::<Result<Vec<_>>>()?;
    output::print_text(&mut out, &output::table(output::CONTACT_COLUMNS, rows))?;
    let mut footer = format!("\n{} of {total} contacts", contacts.len());
    if !next.is_empty() {
        footer.push_str(&format!("; next page: --page-token {next} (or --all)"));
    }
    output::print_text(&mut out, &footer)
}
