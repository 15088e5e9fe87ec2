//! The change feed: every applied change, numbered by the node-local feed sequence.
//!
//! Events are stored by the writer in the same atomic write as the change itself, so the feed
//! and the document never disagree. A `Watch` call reads stored events after its cursor, then
//! waits on the *durable* feed head (a `watch` channel the writer advances after each flush)
//! and reads again. Memory per watcher is bounded (one page plus a small channel), a slow
//! watcher never holds back the writer, and because everything is read from storage in
//! sequence order, a resumed watch yields exactly the events after its cursor: no gaps, no
//! duplicates.
use std::sync::Arc;

use kreisnetz_proto::v1;
use kreisnetz_storage::Store;
use prost::Message;
use tokio::sync::{mpsc, watch};
use tonic::Status;

/// Events read from storage per round trip.
const PAGE: usize = 256;

/// Starts streaming events after `after` into a bounded channel.
pub fn spawn_watch(
    store: Arc<dyn Store>,
    mut head: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    after: u64,
    stop_at_head: bool,
) -> mpsc::Receiver<Result<v1::ChangeEvent, Status>> {
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        let mut cursor = after;
        let stop_at = stop_at_head.then(|| *head.borrow());
        loop {
            let durable = *head.borrow_and_update();
            let until = stop_at.map_or(durable, |s| s.min(durable));
            while cursor < until {
                let store = store.clone();
                let page =
                    tokio::task::spawn_blocking(move || store.feed_after(cursor, PAGE)).await;
                let page = match page {
                    Ok(Ok(page)) => page,
                    Ok(Err(e)) => {
                        let _ = tx
                            .send(Err(Status::data_loss(format!(
                                "change feed unreadable: {e}"
                            ))))
                            .await;
                        return;
                    }
                    Err(e) => {
                        let _ = tx
                            .send(Err(Status::internal(format!(
                                "change feed reader failed: {e}"
                            ))))
                            .await;
                        return;
                    }
                };
                if page.is_empty() {
                    break;
                }
                for (seq, bytes) in page {
                    if seq > until {
                        break;
                    }
                    let event = match v1::ChangeEvent::decode(bytes.as_slice()) {
                        Ok(mut e) => {
                            e.sequence = seq;
                            Ok(e)
                        }
                        Err(e) => Err(Status::data_loss(format!(
                            "change feed event {seq} is unreadable: {e}"
                        ))),
                    };
                    let failed = event.is_err();
                    if tx.send(event).await.is_err() || failed {
                        return;
                    }
                    cursor = seq;
                }
            }
            if stop_at.is_some() {
                return;
            }
            tokio::select! {
                changed = head.changed() => if changed.is_err() { return },
                _ = tx.closed() => return,
                _ = shutdown.changed() => {
                    let _ = tx.send(Err(Status::unavailable("the node is shutting down; resume with the last sequence you received"))).await;
                    return;
                }
            }
        }
    });
    rx
}
