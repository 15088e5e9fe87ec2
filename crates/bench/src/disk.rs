//! `disk`: what a node keeps on disk after many writes, against the size of what it holds.
//!
//! Creates `--writes / 2` offerings, then updates them until `--writes` writes are done (16
//! clients), stops the node, and measures the data directory: the database on disk, sled's blob
//! files, the bytes stored for the document (snapshot and chunks, from the store), the size of
//! the same document saved fresh by Automerge, and the change feed. Issue 8's target: the
//! bytes stored for chunks and snapshots at most 3 × the saved document; no stale blob files.
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use kreisnetz_proto::v1::{self, offering_service_client::OfferingServiceClient};
use kreisnetz_storage::Store;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::load::sample_offerings;
use crate::node::{Authed, Env, dir_size, offerings};
use crate::report::{emit, mib, note, round};

const CLIENTS: usize = 16;

#[derive(Args)]
pub struct Options {
    /// Writes in all: half creates, then updates of those offerings.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(2..=1_000_000))]
    writes: u32,
}

#[derive(Serialize)]
struct Result_ {
    bench: &'static str,
    writes: u32,
    offerings: u32,
    write_secs: f64,
    /// The database directory (`db/`), allocated on disk.
    db_mib: f64,
    /// sled's blob files (`db/blobs`): 0 since large values are stored in parts.
    blobs_mib: f64,
    /// Snapshot + chunks stored for the own document (what the store holds for it).
    document_stored_mib: f64,
    /// The same document saved fresh (`Automerge::save`).
    document_saved_mib: f64,
    /// document_stored / document_saved (target ≤ 3).
    stored_to_saved: f64,
    /// Change-feed events kept (bounded by storage.feed_retention_events).
    feed_events: u64,
}

pub async fn run(env: &Env, o: &Options) -> Result<()> {
    let creates = (o.writes / 2) as usize;
    let updates = o.writes as usize - creates;
    let records = Arc::new(sample_offerings(creates)?);
    let site = env.site()?;
    let (node, endpoint) = env.start(&site).await?;
    note(format!("{creates} creates, then {updates} updates"));
    let started = Instant::now();
    let mut names = Vec::with_capacity(creates);
    // Creates, 16 at a time, keeping the names.
    let mut tasks = JoinSet::new();
    for c in 0..CLIENTS {
        let mut client = offerings(&endpoint).await?;
        let records = records.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for i in (c..records.len()).step_by(CLIENTS) {
                let created = client
                    .create_offering(v1::CreateOfferingRequest {
                        offering: Some(records[i].clone()),
                        offering_id: String::new(),
                    })
                    .await
                    .context("CreateOffering failed")?
                    .into_inner();
                mine.push(created.name);
            }
            anyhow::Ok(mine)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        names.extend(joined.context("a client task panicked")??);
    }
    // Updates of the description, round-robin over the offerings.
    let names = Arc::new(names);
    let mut tasks = JoinSet::new();
    for c in 0..CLIENTS {
        let client = offerings(&endpoint).await?;
        let names = names.clone();
        tasks.spawn(update_loop(client, names, c, updates));
    }
    while let Some(joined) = tasks.join_next().await {
        joined.context("a client task panicked")??;
    }
    let write_secs = started.elapsed().as_secs_f64();
    // Let the node's periodic retention run once more, then stop it cleanly.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    node.stop().await?;

    let data_dir = site.data_dir();
    let db = data_dir.join("db");
    let (db_bytes, _) = dir_size(&db)?;
    let blobs = db.join("blobs");
    let blob_bytes = if blobs.exists() {
        dir_size(&blobs)?.0
    } else {
        0
    };
    let store = kreisnetz_storage::SledStore::open(&db)?;
    let identity = kreisnetz_identity::Identity::load(&data_dir)?;
    let district = identity.district.id();
    let (mut doc, snapshot, chunks) = kreisnetz_node::writer::open_document(&store, district)?;
    let saved = doc.save().len() as u64;
    let stored = snapshot + chunks;
    let feed_events = store.feed_head().saturating_sub(store.feed_floor());
    emit(&Result_ {
        bench: "disk",
        writes: o.writes,
        offerings: creates as u32,
        write_secs: round(write_secs, 2),
        db_mib: mib(db_bytes),
        blobs_mib: mib(blob_bytes),
        document_stored_mib: mib(stored),
        document_saved_mib: mib(saved),
        stored_to_saved: round(stored as f64 / saved.max(1) as f64, 2),
        feed_events,
    });
    Ok(())
}

async fn update_loop(
    mut client: OfferingServiceClient<Authed>,
    names: Arc<Vec<String>>,
    client_no: usize,
    updates: usize,
) -> Result<()> {
    for i in (client_no..updates).step_by(CLIENTS) {
        let name = &names[i % names.len()];
        client
            .update_offering(v1::UpdateOfferingRequest {
                offering: Some(v1::Offering {
                    name: name.clone(),
                    description: format!(
                        "Aktualisiert ({i}): Kurs mit Kinderbetreuung, Anmeldung bei der \
                         Volkshochschule; Fahrtkosten werden erstattet."
                    ),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["description".into()],
                }),
            })
            .await
            .with_context(|| format!("UpdateOffering {name} failed"))?;
    }
    Ok(())
}
