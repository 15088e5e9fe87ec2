//! `list`: latency of the ListOfferings calls a directory front end makes.
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use clap::Args;
use kreisnetz_proto::v1::{self, offering_service_client::OfferingServiceClient};
use serde::Serialize;

use crate::load::{LOAD_LIMIT, populated_node};
use crate::node::{Authed, Env, offerings};
use crate::report::{emit, note};
use crate::stats::Latency;

const PAGE_SIZE: i32 = 50;
/// Calls per query made before measuring, so connection warm-up does not count.
const WARM_UP: usize = 5;

#[derive(Args)]
pub struct Options {
    /// Offerings the node holds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    offerings: u32,
    /// Sequential calls per query.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    calls: u32,
}

#[derive(Serialize)]
struct ListResult {
    bench: &'static str,
    filter: &'static str,
    offerings: u32,
    calls: u32,
    page_size: i32,
    /// Offerings matching the filter.
    total_size: i32,
    #[serde(flatten)]
    latency: Latency,
}

/// The queries measured: a name for the output, a description, the request.
fn queries() -> [(&'static str, &'static str, v1::ListOfferingsRequest); 3] {
    let page = v1::ListOfferingsRequest {
        page_size: PAGE_SIZE,
        ..Default::default()
    };
    [
        (
            "list_category",
            "category=language_course",
            v1::ListOfferingsRequest {
                category: v1::Category::LanguageCourse as i32,
                ..page.clone()
            },
        ),
        (
            "list_query",
            "query=sprach",
            v1::ListOfferingsRequest {
                query: "sprach".into(),
                ..page.clone()
            },
        ),
        ("list_unfiltered", "none", page),
    ]
}

pub async fn run(env: &Env, o: &Options) -> Result<()> {
    let populated = populated_node(env, o.offerings as usize).await?;
    let mut client = offerings(&populated.endpoint).await?;
    for (bench, filter, request) in queries() {
        note(format!("{} calls of ListOfferings({filter})", o.calls));
        let (total_size, samples) = measure(&mut client, &request, o.calls as usize).await?;
        if filter == "none" {
            ensure!(
                total_size as u32 == o.offerings,
                "unfiltered total_size {total_size}, expected {}",
                o.offerings
            );
        }
        emit(&ListResult {
            bench,
            filter,
            offerings: o.offerings,
            calls: o.calls,
            page_size: PAGE_SIZE,
            total_size,
            latency: Latency::of(&samples),
        });
    }
    drop(client);
    populated.node.stop().await?;
    Ok(())
}

/// Makes the call `calls` times one after another (after a short warm-up); returns the
/// `total_size` answered and each call's time.
async fn measure(
    client: &mut OfferingServiceClient<Authed>,
    request: &v1::ListOfferingsRequest,
    calls: usize,
) -> Result<(i32, Vec<Duration>)> {
    let mut total_size = 0;
    for _ in 0..WARM_UP {
        total_size = list(client, request).await?;
    }
    let started = Instant::now();
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        ensure!(
            started.elapsed() < LOAD_LIMIT,
            "the list calls took longer than {} s",
            LOAD_LIMIT.as_secs()
        );
        let call = Instant::now();
        let size = list(client, request).await?;
        samples.push(call.elapsed());
        ensure!(
            size == total_size,
            "total_size changed from {total_size} to {size}"
        );
    }
    Ok((total_size, samples))
}

async fn list(
    client: &mut OfferingServiceClient<Authed>,
    request: &v1::ListOfferingsRequest,
) -> Result<i32> {
    let page = client.list_offerings(request.clone()).await?.into_inner();
    ensure!(
        page.offerings.len() == (page.total_size.min(PAGE_SIZE)) as usize,
        "a page of {} offerings for total_size {}",
        page.offerings.len(),
        page.total_size
    );
    Ok(page.total_size)
}
