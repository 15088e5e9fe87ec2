//! The search index of the region (`kreisnetz_region::SearchIndex`, tantivy in RAM), kept in
//! step with the change feed.
//!
//! At start the index is built from the read view (the time it takes is logged: it is added to
//! the node's cold start). A task then follows the durable feed head the way `Watch` does
//! ([`crate::feed`]): it reads stored events after its cursor, upserts the offering an event
//! carries or removes it by resource name, and commits once per page of events. So the index
//! hangs off the feed, not off the writer or the sync shell: whoever changes a document, the
//! change reaches the index through the one record of changes that is durable.
//!
//! The index runs a little behind a write (one feed page). A list call that needs the index
//! first waits (briefly) until the follower has applied the feed up to the durable head seen
//! when the call started, so a client sees its own acknowledged writes.
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use kreisnetz_model::{RecordKind, parse_resource_name};
use kreisnetz_proto::{convert, v1};
use kreisnetz_region::SearchIndex;
use kreisnetz_storage::Store;
use prost::Message;
use tokio::sync::watch;

use crate::view::RegionView;

/// Feed events applied per commit.
const PAGE: usize = 256;

/// How long a list call waits for the index to catch up with the feed before it answers
/// from what the index holds.
const CATCH_UP: Duration = Duration::from_secs(2);

/// The index and how far into the feed it is.
pub struct RegionSearch {
    pub index: RwLock<SearchIndex>,
    applied: watch::Receiver<u64>,
}

impl RegionSearch {
    /// Waits until the index has applied the feed up to `head` (or [`CATCH_UP`] passed).
    pub async fn caught_up(&self, head: u64) {
        let mut applied = self.applied.clone();
        let _ = tokio::time::timeout(CATCH_UP, applied.wait_for(|a| *a >= head)).await;
    }
}

/// Builds the index from the read view: the offerings are copied under the read lock, the
/// index is built outside it (so the writer is not held up).
fn build(view: &RwLock<RegionView>) -> Result<SearchIndex, String> {
    let offerings: Vec<kreisnetz_model::Offering> = view
        .read()
        .map_err(|_| "the read view is poisoned".to_string())?
        .districts
        .values()
        .flat_map(|d| d.offerings.values().cloned())
        .collect();
    SearchIndex::build(&offerings).map_err(|e| e.to_string())
}

/// Builds the index from the view as it is now and starts the task that follows the feed
/// from the durable head read before the build (replaying an event the view already showed
/// is harmless: it upserts the same state again).
pub fn start(
    view: Arc<RwLock<RegionView>>,
    store: Arc<dyn Store>,
    head: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<RegionSearch>, String> {
    let from = *head.borrow();
    let started = Instant::now();
    let index = build(&view)?;
    tracing::info!(
        offerings = index.len(),
        ms = started.elapsed().as_millis() as u64,
        feed_sequence = from,
        "built the search index"
    );
    let (applied_tx, applied) = watch::channel(from);
    let search = Arc::new(RegionSearch {
        index: RwLock::new(index),
        applied,
    });
    tokio::spawn(follow(
        search.clone(),
        view,
        store,
        head,
        shutdown,
        from,
        applied_tx,
    ));
    Ok(search)
}

/// Applies one event; `false` if it could not be read (the caller rebuilds).
fn apply(index: &mut SearchIndex, event: &v1::ChangeEvent) -> bool {
    use v1::change_event::{Kind, Resource};
    match Kind::try_from(event.kind) {
        Ok(Kind::OfferingCreated | Kind::OfferingUpdated) => match &event.resource {
            Some(Resource::Offering(o)) => match convert::offering_from_server(o) {
                Ok(o) => index.upsert(Arc::new(o)).is_ok(),
                Err(_) => false,
            },
            _ => false,
        },
        Ok(Kind::OfferingDeleted) => match parse_resource_name(&event.name, RecordKind::Offering) {
            Ok((_, id)) => {
                index.remove(&id);
                true
            }
            Err(_) => false,
        },
        // Contacts are not searched.
        _ => true,
    }
}

async fn follow(
    search: Arc<RegionSearch>,
    view: Arc<RwLock<RegionView>>,
    store: Arc<dyn Store>,
    mut head: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    from: u64,
    applied: watch::Sender<u64>,
) {
    let mut cursor = from;
    loop {
        let durable = *head.borrow_and_update();
        while cursor < durable {
            let reader = store.clone();
            let page = tokio::task::spawn_blocking(move || reader.feed_after(cursor, PAGE)).await;
            let (held, source) = (search.clone(), view.clone());
            let outcome = tokio::task::spawn_blocking(move || -> Result<u64, String> {
                let page = page
                    .map_err(|e| e.to_string())?
                    .map_err(|e| e.to_string())?;
                let mut index = held
                    .index
                    .write()
                    .map_err(|_| "the search index is poisoned".to_string())?;
                let mut last = cursor;
                let mut readable = true;
                for (seq, bytes) in page.into_iter().take_while(|(seq, _)| *seq <= durable) {
                    readable &= v1::ChangeEvent::decode(bytes.as_slice())
                        .is_ok_and(|event| apply(&mut index, &event));
                    last = seq;
                }
                if !readable {
                    // Something in the feed is not what this version reads: start over from
                    // the view, which already holds everything up to `durable`.
                    *index = build(&source)?;
                    tracing::warn!("rebuilt the search index: a feed event could not be applied");
                    return Ok(durable);
                }
                index.commit().map_err(|e| e.to_string())?;
                Ok(last)
            })
            .await;
            let outcome = outcome.unwrap_or_else(|e| Err(e.to_string()));
            match outcome {
                Ok(last) if last > cursor => cursor = last,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(cursor, error = %e, "the search index cannot follow the feed; rebuilding it from the view");
                    let at = *head.borrow();
                    let rebuilt = build(&view);
                    match (rebuilt, search.index.write()) {
                        (Ok(index), Ok(mut held)) => {
                            *held = index;
                            cursor = at;
                        }
                        _ => return,
                    }
                }
            }
            let _ = applied.send(cursor);
        }
        let _ = applied.send(cursor);
        tokio::select! {
            changed = head.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
    }
}

/// A list call answered from the index: the text, the filter and the order, which together
/// are what a page token is valid for.
#[derive(serde::Serialize)]
pub struct ListQuery {
    pub text: String,
    pub filter: kreisnetz_region::Filter,
    pub sort: kreisnetz_region::SortOrder,
}

/// Where the next page starts, and which query it belongs to.
#[derive(serde::Serialize, serde::Deserialize)]
struct SearchToken {
    offset: usize,
    query: String,
}

/// A page of an index list.
pub struct SearchPage {
    pub hits: Vec<kreisnetz_region::Hit>,
    pub next_page_token: String,
    pub total: usize,
}

/// Why a list from the index was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("{0}")]
    BadPageToken(&'static str),
    #[error("{0}")]
    Index(String),
}

impl ListQuery {
    /// A short hash of the query: a page token only continues the same query.
    fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        let json = serde_json::to_vec(self).unwrap_or_default();
        data_encoding::HEXLOWER.encode(&Sha256::digest(&json)[..6])
    }
}

impl RegionSearch {
    /// One page of what the query finds. Page tokens are offsets into the same query's
    /// order (relevance, then title, then ID: stable for the same data).
    pub fn list(&self, q: ListQuery, size: usize, token: &str) -> Result<SearchPage, ListError> {
        let key = q.key();
        let offset = if token.is_empty() {
            0
        } else {
            let bad = || ListError::BadPageToken("page_token is not a token this node issued");
            let bytes = data_encoding::BASE64URL_NOPAD
                .decode(token.as_bytes())
                .map_err(|_| bad())?;
            let t: SearchToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
            if t.query != key {
                return Err(ListError::BadPageToken(
                    "page_token was issued for another query or other filters; start again without it",
                ));
            }
            t.offset
        };
        let result = self
            .index
            .read()
            .map_err(|_| ListError::Index("the search index is poisoned".into()))?
            .search(&kreisnetz_region::Query {
                text: q.text,
                filter: q.filter,
                sort: q.sort,
                offset,
                limit: size,
            })
            .map_err(|e| ListError::Index(e.to_string()))?;
        let end = offset + result.hits.len();
        let next_page_token = if end < result.total && !result.hits.is_empty() {
            let t = SearchToken {
                offset: end,
                query: key,
            };
            data_encoding::BASE64URL_NOPAD.encode(&serde_json::to_vec(&t).unwrap_or_default())
        } else {
            String::new()
        };
        Ok(SearchPage {
            hits: result.hits,
            next_page_token,
            total: result.total,
        })
    }
}
