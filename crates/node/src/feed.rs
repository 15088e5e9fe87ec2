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

/// The `ErrorInfo` domain of the feed's refusals.
pub const ERROR_DOMAIN: &str = "kreisnetz.org";

/// Refuses a cursor this node cannot serve without skipping events: one from another feed
/// epoch (the database was created anew), one beyond the newest sequence (the same, seen by a
/// client that sends no epoch), or one below the retention floor. Each is `OUT_OF_RANGE` with an
/// `ErrorInfo` saying what to do: read the current state, then watch from the head.
pub fn check_cursor(store: &dyn Store, epoch: u64, after: u64) -> Result<(), Status> {
    let ours = store.feed_epoch();
    let head = store.feed_head();
    let floor = store.feed_floor();
    let (reason, message) = if epoch != 0 && epoch != ours {
        (
            "FEED_EPOCH_CHANGED",
            format!(
                "the cursor is from feed epoch {epoch}, this node's feed is epoch {ours} (its \
                 database was created anew); read the current state, then watch from sequence \
                 {head} with epoch {ours}"
            ),
        )
    } else if after > head {
        (
            "FEED_CURSOR_AHEAD",
            format!(
                "sequence {after} is beyond this node's newest sequence {head} (its feed was \
                 reset, epoch {ours}); read the current state, then watch from sequence {head}"
            ),
        )
    } else if after < floor {
        (
            "FEED_PRUNED",
            format!(
                "events up to sequence {floor} are no longer kept (feed retention); read the \
                 current state, then watch from sequence {head}"
            ),
        )
    } else {
        return Ok(());
    };
    Err(out_of_range(reason, message, ours, head))
}

fn out_of_range(reason: &str, message: String, epoch: u64, head: u64) -> Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let details = ErrorDetails::with_error_info(
        reason,
        ERROR_DOMAIN,
        [
            ("epoch".to_owned(), epoch.to_string()),
            ("feed_sequence".to_owned(), head.to_string()),
        ],
    );
    Status::with_error_details(tonic::Code::OutOfRange, message, details)
}

/// Starts streaming events after `after` into a bounded channel.
pub fn spawn_watch(
    store: Arc<dyn Store>,
    mut head: watch::Receiver<u64>,
    mut shutdown: watch::Receiver<bool>,
    after: u64,
    stop_at_head: bool,
) -> mpsc::Receiver<Result<v1::ChangeEvent, Status>> {
    let (tx, rx) = mpsc::channel(64);
    let epoch = store.feed_epoch();
    tokio::spawn(async move {
        let mut cursor = after;
        let stop_at = stop_at_head.then(|| *head.borrow());
        loop {
            let durable = *head.borrow_and_update();
            let until = stop_at.map_or(durable, |s| s.min(durable));
            while cursor < until {
                let reader = store.clone();
                let page =
                    tokio::task::spawn_blocking(move || reader.feed_after(cursor, PAGE)).await;
                let page = match page {
                    Ok(Ok(page)) => page,
                    Ok(Err(kreisnetz_storage::StoreError::FeedPruned { floor })) => {
                        let _ = tx
                            .send(Err(out_of_range(
                                "FEED_PRUNED",
                                format!(
                                    "events up to sequence {floor} were pruned (feed retention) \
                                     before this watcher read them; read the current state, then \
                                     watch from the head"
                                ),
                                store.feed_epoch(),
                                store.feed_head(),
                            )))
                            .await;
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(cursor, error = %e, "DATA_LOSS: the change feed is unreadable");
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
                            e.epoch = epoch;
                            Ok(e)
                        }
                        Err(e) => {
                            tracing::error!(seq, error = %e, "DATA_LOSS: a change-feed event does not decode");
                            Err(Status::data_loss(format!(
                                "change feed event {seq} is unreadable: {e}"
                            )))
                        }
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
