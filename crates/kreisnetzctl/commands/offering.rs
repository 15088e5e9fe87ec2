//! `offering add|get|list|update|delete`.
use std::io::Write;

use anyhow::{Result, bail};
use kreisnetz_model::{RecordKind, format_date};
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

/// One value goes into the original single-value field (understood by older nodes too),
/// several into the repeated one.
fn one_or_many<T: Copy>(values: &[T], number: fn(T) -> i32) -> (i32, Vec<i32>) {
    match values {
        [] => (0, Vec::new()),
        [one] => (number(*one), Vec::new()),
        many => (0, many.iter().map(|&v| number(v)).collect()),
    }
}

fn midnight(d: time::Date) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: d.midnight().assume_utc().unix_timestamp(),
        nanos: 0,
    }
}

pub fn list_request(a: &OfferingListArgs) -> v1::ListOfferingsRequest {
    let (category, categories) = one_or_many(&a.category, |c| c.number());
    let (target_group, target_groups) = one_or_many(&a.target_group, |t| t.number());
    let (status, statuses) = one_or_many(&a.status, |s| s.number());
    let (district_id, district_ids) = match a.district.as_slice() {
        [] => (String::new(), Vec::new()),
        [one] => (one.to_string(), Vec::new()),
        many => (String::new(), many.iter().map(|d| d.to_string()).collect()),
    };
    let order_by = match a.sort.as_deref() {
        Some("relevance") => v1::ListOrder::Relevance,
        Some("title") => v1::ListOrder::Title,
        Some("start") => v1::ListOrder::StartDate,
        Some("updated") => v1::ListOrder::LastUpdate,
        _ => v1::ListOrder::Unspecified,
    };
    v1::ListOfferingsRequest {
        page_size: a.paging.page_size.unwrap_or(0),
        page_token: a.paging.page_token.clone().unwrap_or_default(),
        district_id,
        category,
        target_group,
        municipality: a.municipality.clone().unwrap_or_default(),
        status,
        language: a.language.map(|l| l.to_string()).unwrap_or_default(),
        query: a.query.clone().unwrap_or_default(),
        categories,
        target_groups,
        statuses,
        district_ids,
        has_free_places: a.free_places,
        runs_from: a.runs_from.map(format_date).unwrap_or_default(),
        runs_to: a.runs_to.map(format_date).unwrap_or_default(),
        updated_before: a.updated_before.map(midnight),
        updated_after: a.updated_after.map(midnight),
        order_by: order_by as i32,
    }
}

pub async fn list(ctx: &Ctx<'_>, a: &OfferingListArgs) -> Result<()> {
    let mut req = list_request(a);
    let node = ctx.node().await?;
    let mut offerings = Vec::new();
    let mut matches = Vec::new();
    let (next, total) = loop {
        let page = node
            .call(node.offerings().list_offerings(node.request(req.clone())))
            .await?;
        offerings.extend(page.offerings);
        matches.extend(page.matches);
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
        let mut value = json!({ "offerings": items, "next_page_token": next, "total_size": total });
        if !matches.is_empty() {
            let matches: Vec<Value> = matches
                .iter()
                .map(|m| {
                    json!({
                        "name": m.name,
                        "score": m.score,
                        "field": m.field,
                        "fragment": m.fragment,
                        "highlights": m.highlights.iter().map(|h| [h.start, h.end]).collect::<Vec<_>>(),
                    })
                })
                .collect();
            value["matches"] = Value::Array(matches);
        }
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

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::args::{Cli, Command, OfferingCommand};

    fn request(args: &[&str]) -> kreisnetz_proto::v1::ListOfferingsRequest {
        let mut all = vec!["kreisnetzctl", "offering", "list"];
        all.extend_from_slice(args);
        let Command::Offering(OfferingCommand::List(a)) = Cli::try_parse_from(all).unwrap().command
        else {
            panic!()
        };
        super::list_request(&a)
    }

    #[test]
    fn one_value_goes_into_the_old_field_several_into_the_repeated_one() {
        let one = request(&["--category", "language_course"]);
        assert_eq!(one.category, 2);
        assert!(one.categories.is_empty());
        let two = request(&["--category", "language_course", "--category", "health"]);
        assert_eq!(two.category, 0);
        assert_eq!(two.categories, [2, 10]);
        let more = request(&[
            "--free-places",
            "--sort",
            "title",
            "--runs-from",
            "2027-02-01",
        ]);
        assert!(more.has_free_places);
        assert_eq!(more.order_by, 2);
        assert_eq!(more.runs_from, "2027-02-01");
    }
}
