//! `report overlaps|gaps|stale|coverage`: the node's `ReportService`.
//!
//! The node answers with the report's documented JSON shape; `--json` prints it as it came
//! (pretty), a table and `--csv` read it into the `kreisnetz-region` types it was written from,
//! so the three forms never disagree. CSV uses German Excel conventions (UTF-8 BOM, `;`,
//! decimal comma) through the region crate's helper.
use std::io::Write;

use anyhow::{Context, Result};
use kreisnetz_model::{Category, TargetGroup, format_date};
use kreisnetz_proto::v1;
use kreisnetz_region::reports::GapKind;
use kreisnetz_region::{
    CoverageReport, CsvStyle, GapReport, OverlapReport, StaleReason, StaleReport,
};
use serde::de::DeserializeOwned;

use super::Ctx;
use crate::args::{
    ReportCommon, ReportCoverageArgs, ReportGapsArgs, ReportOverlapsArgs, ReportStaleArgs,
};
use crate::errors::Usage;
use crate::output;

/// How to print a report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Table,
    Json,
    Csv,
}

fn form(ctx: &Ctx<'_>, common: &ReportCommon) -> Result<Form> {
    match (ctx.json, common.csv) {
        (true, true) => Err(Usage("--json and --csv exclude each other: pick one".into()).into()),
        (true, false) => Ok(Form::Json),
        (false, true) => Ok(Form::Csv),
        (false, false) => Ok(Form::Table),
    }
}

fn numbers<T: Copy>(values: &[T], number: fn(T) -> i32) -> Vec<i32> {
    values.iter().map(|&v| number(v)).collect()
}

fn categories(c: &ReportCommon) -> Vec<i32> {
    numbers(&c.category, Category::number)
}

fn target_groups(c: &ReportCommon) -> Vec<i32> {
    numbers(&c.target_group, TargetGroup::number)
}

/// Prints the answer in the chosen form; `table` renders the parsed report.
fn print<R: DeserializeOwned>(
    answer: v1::ReportResponse,
    form: Form,
    csv: impl FnOnce(&R) -> String,
    table: impl FnOnce(&R) -> String,
) -> Result<()> {
    let mut out = std::io::stdout().lock();
    let value: serde_json::Value =
        serde_json::from_str(&answer.json).context("the node's report is not valid JSON")?;
    if form == Form::Json {
        return output::print_json(&mut out, &value);
    }
    let report: R = serde_json::from_value(value)
        .context("the node's report does not have the shape this kreisnetzctl knows")?;
    match form {
        Form::Csv => {
            out.write_all(csv(&report).as_bytes())?;
            out.flush()?;
            Ok(())
        }
        _ => output::print_text(&mut out, &table(&report)),
    }
}

pub async fn overlaps(ctx: &Ctx<'_>, a: &ReportOverlapsArgs) -> Result<()> {
    let form = form(ctx, &a.common)?;
    let req = v1::GetOverlapsRequest {
        min_score: a.min_score.unwrap_or(0.0),
        max_km: a.max_km.unwrap_or(0.0),
        categories: categories(&a.common),
        target_groups: target_groups(&a.common),
    };
    let node = ctx.node().await?;
    let answer = node
        .call(node.reports().get_overlaps(node.request(req)))
        .await?;
    print(
        answer,
        form,
        |r: &OverlapReport| r.to_csv(CsvStyle::GermanExcel),
        overlaps_table,
    )
}

fn overlaps_table(r: &OverlapReport) -> String {
    if r.overlaps.is_empty() {
        return "no overlaps at these thresholds (try a lower --min-score or a larger --max-km)"
            .into();
    }
    let rows = r
        .overlaps
        .iter()
        .map(|o| {
            let members: Vec<String> = o
                .titles
                .iter()
                .zip(&o.district_names)
                .zip(&o.offerings)
                .map(|((t, d), n)| {
                    let id = n.rsplit('/').next().unwrap_or(n);
                    format!("{t} ({d}, {})", output::short_id(id))
                })
                .collect();
            let why = match &o.known {
                Some(k) => format!("{} [known: {}]", o.explanation, k.note),
                None => o.explanation.clone(),
            };
            vec![format!("{:.2}", o.score), members.join("\n"), why]
        })
        .collect();
    let mut text = output::table(&["SCORE", "OFFERINGS", "WHY"], rows);
    text.push_str(&format!("\n{} overlap groups", r.overlaps.len()));
    text
}

pub async fn gaps(ctx: &Ctx<'_>, a: &ReportGapsArgs) -> Result<()> {
    let form = form(ctx, &a.common)?;
    let req = v1::GetGapsRequest {
        categories: categories(&a.common),
        target_groups: target_groups(&a.common),
    };
    let node = ctx.node().await?;
    let answer = node
        .call(node.reports().get_gaps(node.request(req)))
        .await?;
    print(
        answer,
        form,
        |r: &GapReport| r.to_csv(CsvStyle::GermanExcel),
        gaps_table,
    )
}

fn gaps_table(r: &GapReport) -> String {
    if r.gaps.is_empty() {
        return format!("no gaps: all {} cells have free places", r.matrix.len());
    }
    let rows = r
        .gaps
        .iter()
        .map(|c| {
            vec![
                c.district_name.clone(),
                c.category.key().to_string(),
                c.target_group.key().to_string(),
                c.offerings.to_string(),
                c.places_free.to_string(),
                match c.gap {
                    Some(GapKind::NoOffering) => "no offering".into(),
                    Some(GapKind::NoFreePlaces) => "no free places".into(),
                    None => String::new(),
                },
            ]
        })
        .collect();
    let mut text = output::table(
        &[
            "DISTRICT",
            "CATEGORY",
            "TARGET GROUP",
            "OFFERINGS",
            "FREE",
            "GAP",
        ],
        rows,
    );
    text.push_str(&format!(
        "\n{} gaps of {} cells",
        r.gaps.len(),
        r.matrix.len()
    ));
    text
}

pub async fn stale(ctx: &Ctx<'_>, a: &ReportStaleArgs) -> Result<()> {
    let form = form(ctx, &a.common)?;
    let req = v1::GetStaleRequest {
        older_than_days: a.older_than.unwrap_or(0),
        as_of: a.as_of.map(format_date).unwrap_or_default(),
        categories: categories(&a.common),
        target_groups: target_groups(&a.common),
    };
    let node = ctx.node().await?;
    let answer = node
        .call(node.reports().get_stale(node.request(req)))
        .await?;
    print(
        answer,
        form,
        |r: &StaleReport| r.to_csv(CsvStyle::GermanExcel),
        stale_table,
    )
}

fn stale_reason(r: StaleReason, days: i64) -> String {
    match r {
        StaleReason::NotUpdated => format!("not updated for {days} days"),
        StaleReason::EndedButCurrent => "ended but still current".into(),
        StaleReason::NoContact => "no contact".into(),
    }
}

fn stale_table(r: &StaleReport) -> String {
    if r.stale.is_empty() {
        return format!(
            "nothing stale as of {} (not updated for more than {} days, ended but current, no contact)",
            r.as_of, r.older_than_days
        );
    }
    let rows = r
        .stale
        .iter()
        .map(|e| {
            let reasons: Vec<String> = e
                .reasons
                .iter()
                .map(|&x| stale_reason(x, e.days_since_update))
                .collect();
            let id = e.name.rsplit('/').next().unwrap_or(&e.name);
            vec![
                e.district_name.clone(),
                e.provider.clone(),
                e.title.clone(),
                output::short_id(id),
                reasons.join(", "),
            ]
        })
        .collect();
    let mut text = output::table(&["DISTRICT", "PROVIDER", "TITLE", "ID", "WHY"], rows);
    text.push_str(&format!(
        "\n{} stale offerings as of {} (older than {} days)",
        r.stale.len(),
        r.as_of,
        r.older_than_days
    ));
    text
}

pub async fn coverage(ctx: &Ctx<'_>, a: &ReportCoverageArgs) -> Result<()> {
    let form = form(ctx, &a.common)?;
    let req = v1::GetCoverageRequest {
        as_of: a.as_of.map(format_date).unwrap_or_default(),
        categories: categories(&a.common),
        target_groups: target_groups(&a.common),
    };
    let node = ctx.node().await?;
    let answer = node
        .call(node.reports().get_coverage(node.request(req)))
        .await?;
    print(
        answer,
        form,
        |r: &CoverageReport| r.to_csv(CsvStyle::GermanExcel),
        coverage_table,
    )
}

fn coverage_table(r: &CoverageReport) -> String {
    let rows = r
        .districts
        .iter()
        .map(|d| {
            let by: Vec<String> = d
                .by_category
                .iter()
                .map(|(c, n)| format!("{} {n}", c.key()))
                .collect();
            vec![
                d.district_name.clone(),
                d.offerings.to_string(),
                d.places_free.to_string(),
                format!("{:.0}%", d.updated_last_90_days * 100.0),
                by.join(", "),
            ]
        })
        .collect();
    let mut text = output::table(
        &[
            "DISTRICT",
            "OFFERINGS",
            "FREE PLACES",
            "UPDATED 90D",
            "BY CATEGORY",
        ],
        rows,
    );
    text.push_str(&format!(
        "\n{} districts as of {}",
        r.districts.len(),
        r.as_of
    ));
    text
}
