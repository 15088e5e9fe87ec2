//! Filling a node with offerings: sample records, concurrent creates, a populated node.
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use kreisnetz_model::{DistrictId, Timestamp};
use kreisnetz_proto::convert::offering_to_proto;
use kreisnetz_proto::v1::{self, offering_service_client::OfferingServiceClient};
use tokio::task::JoinSet;

use crate::node::{Authed, DISTRICT_KEY, Endpoint, Env, Node, Site, offerings};
use crate::report::note;

/// The most time one load phase (all creates of one run) may take.
pub const LOAD_LIMIT: Duration = Duration::from_secs(900);
/// Clients used to fill a node for the read and start-up benchmarks.
pub const FILL_CLIENTS: usize = 16;
const SEED: u64 = 20_240_601;

/// `n` distinct, valid offerings of the sample district as a client would send them: without
/// name, id, district, etag and times, which the node assigns.
pub fn sample_offerings(n: usize) -> Result<Vec<v1::Offering>> {
    let district =
        kreisnetz_sample::find_district(DISTRICT_KEY).context("the sample district is missing")?;
    // The node replaces the district with its own; any ID will do for generating.
    let district_id = DistrictId::from_public_key(district.name.as_bytes());
    let records =
        kreisnetz_sample::generated_offerings(district, district_id, n, SEED, Timestamp::now());
    Ok(records
        .iter()
        .map(|o| for_create(offering_to_proto(o)))
        .collect())
}

fn for_create(p: v1::Offering) -> v1::Offering {
    v1::Offering {
        name: String::new(),
        id: String::new(),
        district_id: String::new(),
        etag: String::new(),
        create_time: None,
        update_time: None,
        ..p
    }
}

/// One CreateOffering call; the node picks the ID.
pub async fn create(
    client: &mut OfferingServiceClient<Authed>,
    offering: &v1::Offering,
) -> Result<()> {
    client
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(offering.clone()),
            offering_id: String::new(),
        })
        .await
        .context("CreateOffering failed")?;
    Ok(())
}

/// Creates every offering, `clients` at a time, each client on its own connection, and returns
/// the time from the first request to the last acknowledgement (connecting is not counted).
/// Fails on the first refused create.
pub async fn create_concurrently(
    endpoint: &Endpoint,
    records: Arc<Vec<v1::Offering>>,
    clients: usize,
) -> Result<Duration> {
    let mut connected = Vec::with_capacity(clients);
    for _ in 0..clients {
        connected.push(offerings(endpoint).await?);
    }
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + LOAD_LIMIT;
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for client in connected {
        tasks.spawn(create_until_done(
            client,
            records.clone(),
            next.clone(),
            deadline,
        ));
    }
    let mut acknowledged = 0;
    while let Some(joined) = tasks.join_next().await {
        acknowledged += joined.context("a client task panicked")??;
    }
    let elapsed = started.elapsed();
    ensure!(
        acknowledged == records.len(),
        "{acknowledged} of {} creates acknowledged",
        records.len()
    );
    Ok(elapsed)
}

/// One client's loop: takes the next record nobody has taken, until none are left.
async fn create_until_done(
    mut client: OfferingServiceClient<Authed>,
    records: Arc<Vec<v1::Offering>>,
    next: Arc<AtomicUsize>,
    deadline: Instant,
) -> Result<usize> {
    let mut done = 0;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(record) = records.get(i) else {
            return Ok(done);
        };
        if Instant::now() > deadline {
            bail!("the creates took longer than {} s", LOAD_LIMIT.as_secs());
        }
        create(&mut client, record).await?;
        done += 1;
    }
}

/// A running node on a fresh site holding `n` offerings (created by [`FILL_CLIENTS`] concurrent
/// clients), with the time the creates took.
pub struct Populated {
    pub site: Site,
    pub node: Node,
    pub endpoint: Endpoint,
    pub fill_time: Duration,
}

pub async fn populated_node(env: &Env, n: usize) -> Result<Populated> {
    let records = Arc::new(sample_offerings(n)?);
    let site = env.site()?;
    let (node, endpoint) = env.start(&site).await?;
    note(format!("filling a node with {n} offerings"));
    let fill_time = create_concurrently(&endpoint, records, FILL_CLIENTS).await?;
    let stored = stored_offerings(&endpoint).await?;
    ensure!(
        stored == n,
        "the node holds {stored} offerings, expected {n}"
    );
    Ok(Populated {
        site,
        node,
        endpoint,
        fill_time,
    })
}

/// How many offerings the node says it holds.
pub async fn stored_offerings(endpoint: &Endpoint) -> Result<usize> {
    let page = offerings(endpoint)
        .await?
        .list_offerings(v1::ListOfferingsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await?
        .into_inner();
    Ok(usize::try_from(page.total_size)?)
}
