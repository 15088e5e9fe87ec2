//! `ReportService`: the region crate's reports (overlaps, gaps, stale, coverage) over the
//! read view.
//!
//! Each call clones what its report needs out of the read view under the read lock (the
//! offerings, for `stale` the contacts, and the district names), lets go of the lock, and
//! computes the report on the blocking pool: a report over a whole region takes
//! milliseconds to a second and must hold up neither writers nor the async workers. The
//! answer is the report's documented JSON shape (the `kreisnetz-region` serde types), so the
//! API, the CLI's `--json` and other services read one definition.
use std::collections::BTreeSet;

use kreisnetz_model::{Category, Contact, Offering, TargetGroup, parse_date};
use kreisnetz_proto::v1::{self, report_service_server};
use kreisnetz_region::{
    Districts, Filter, GapOptions, OverlapOptions, StaleOptions, coverage, gaps, overlaps, stale,
};
use serde::Serialize;
use time::Date;
use tonic::{Request, Response, Status};

use crate::api::{Api, invalid_field};
use crate::view::RegionView;

/// What a report is computed from: a copy of the read view's records.
struct Snapshot {
    offerings: Vec<Offering>,
    contacts: Vec<Contact>,
    districts: Districts,
}

impl Snapshot {
    /// Copies the offerings the filter keeps (and, if asked, every contact) under the lock.
    fn take(view: &RegionView, filter: &Filter, with_contacts: bool) -> Snapshot {
        let mut offerings = Vec::new();
        let mut contacts = Vec::new();
        let mut names = Vec::new();
        for (id, d) in &view.districts {
            if !d.name.trim().is_empty() {
                names.push((*id, d.name.clone()));
            }
            offerings.extend(d.offerings.values().filter(|o| filter.matches(o)).cloned());
            if with_contacts {
                contacts.extend(d.contacts.values().cloned());
            }
        }
        Snapshot {
            offerings,
            contacts,
            districts: Districts::new(names),
        }
    }
}

fn vocab<T: Ord>(
    field: &str,
    values: &[i32],
    from: fn(i32) -> Option<T>,
) -> Result<BTreeSet<T>, Status> {
    values
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            from(n).ok_or_else(|| {
                invalid_field(&format!("{field}[{i}]"), format!("unknown value {n}"))
            })
        })
        .collect()
}

fn narrowing(categories: &[i32], target_groups: &[i32]) -> Result<Filter, Status> {
    Ok(Filter {
        categories: vocab("categories", categories, Category::from_number)?,
        target_groups: vocab("target_groups", target_groups, TargetGroup::from_number)?,
        ..Filter::default()
    })
}

/// `as_of` of a request: a date, or today (UTC) when empty.
fn as_of(s: &str) -> Result<Date, Status> {
    if s.trim().is_empty() {
        return Ok(time::OffsetDateTime::now_utc().date());
    }
    parse_date(s).map_err(|e| invalid_field("as_of", e))
}

fn answer<R: Serialize>(report: &R, count: usize) -> Result<Response<v1::ReportResponse>, Status> {
    let json = serde_json::to_string(report)
        .map_err(|e| Status::internal(format!("cannot write the report as JSON: {e}")))?;
    Ok(Response::new(v1::ReportResponse {
        json,
        count: i32::try_from(count).unwrap_or(i32::MAX),
    }))
}

impl Api {
    /// Takes a snapshot of the view, then computes on the blocking pool.
    async fn report<T: Send + 'static>(
        &self,
        filter: Filter,
        with_contacts: bool,
        compute: impl FnOnce(Snapshot) -> T + Send + 'static,
    ) -> Result<T, Status> {
        let snapshot = {
            let view = self
                .0
                .view
                .read()
                .map_err(|_| Status::internal("the read view is poisoned; restart the node"))?;
            Snapshot::take(&view, &filter, with_contacts)
        };
        tokio::task::spawn_blocking(move || compute(snapshot))
            .await
            .map_err(|e| Status::internal(format!("the report failed: {e}")))
    }
}

#[tonic::async_trait]
impl report_service_server::ReportService for Api {
    async fn get_overlaps(
        &self,
        req: Request<v1::GetOverlapsRequest>,
    ) -> Result<Response<v1::ReportResponse>, Status> {
        crate::auth::require(&req, crate::auth::Role::Reader)?;
        let req = req.into_inner();
        let mut options = OverlapOptions::default();
        if req.min_score != 0.0 {
            if !(req.min_score > 0.0 && req.min_score <= 1.0) {
                return Err(invalid_field("min_score", "must be in (0, 1]"));
            }
            options.min_score = req.min_score;
        }
        if req.max_km != 0.0 {
            if !(req.max_km > 0.0 && req.max_km <= 1000.0) {
                return Err(invalid_field("max_km", "must be in (0, 1000] km"));
            }
            options.max_km = req.max_km;
        }
        let filter = narrowing(&req.categories, &req.target_groups)?;
        let report = self
            .report(filter, false, move |s| {
                overlaps(&s.offerings, &s.districts, &[], &options)
            })
            .await?;
        answer(&report, report.overlaps.len())
    }

    async fn get_gaps(
        &self,
        req: Request<v1::GetGapsRequest>,
    ) -> Result<Response<v1::ReportResponse>, Status> {
        crate::auth::require(&req, crate::auth::Role::Reader)?;
        let req = req.into_inner();
        let narrow = narrowing(&req.categories, &req.target_groups)?;
        let options = GapOptions {
            categories: narrow.categories,
            target_groups: narrow.target_groups,
        };
        let report = self
            .report(Filter::default(), false, move |s| {
                gaps(&s.offerings, &s.districts, &options)
            })
            .await?;
        answer(&report, report.gaps.len())
    }

    async fn get_stale(
        &self,
        req: Request<v1::GetStaleRequest>,
    ) -> Result<Response<v1::ReportResponse>, Status> {
        crate::auth::require(&req, crate::auth::Role::Reader)?;
        let req = req.into_inner();
        let mut options = StaleOptions::new(as_of(&req.as_of)?);
        if req.older_than_days != 0 {
            if req.older_than_days > 36_500 {
                return Err(invalid_field("older_than_days", "must be at most 36500"));
            }
            options.older_than_days = req.older_than_days;
        }
        let filter = narrowing(&req.categories, &req.target_groups)?;
        let report = self
            .report(filter, true, move |s| {
                stale(&s.offerings, &s.contacts, &s.districts, &options)
            })
            .await?;
        answer(&report, report.stale.len())
    }

    async fn get_coverage(
        &self,
        req: Request<v1::GetCoverageRequest>,
    ) -> Result<Response<v1::ReportResponse>, Status> {
        crate::auth::require(&req, crate::auth::Role::Reader)?;
        let req = req.into_inner();
        let day = as_of(&req.as_of)?;
        let filter = narrowing(&req.categories, &req.target_groups)?;
        let report = self
            .report(filter, false, move |s| {
                coverage(&s.offerings, &s.districts, day)
            })
            .await?;
        answer(&report, report.districts.len())
    }
}
