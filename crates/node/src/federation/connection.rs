//! Peer streams: accepting (the federation gRPC service) and dialing (one dialer task per peer
//! with an address). Both ends only move frames between the stream and the sync thread.
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kreisnetz_identity::NodeIdentity;
use kreisnetz_model::NodeId;
use kreisnetz_proto::v1::{
    self, federation_service_client::FederationServiceClient, federation_service_server,
};
use kreisnetz_sync::Frame;
use prost::Message;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::shell::ShellInput;
use super::wire;

/// Frames queued for one peer before it counts as too slow and is disconnected.
pub const PEER_QUEUE: usize = 1024;

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// What connections need from the node.
#[derive(Clone)]
pub struct Links {
    pub sync: mpsc::Sender<ShellInput>,
    pub max_frame_bytes: usize,
    pub keepalive: kreisnetz_transport::Keepalive,
    pub shutdown: watch::Receiver<bool>,
}

impl Links {
    /// Registers a new stream (whose outgoing frames go to `frames`) with the sync thread;
    /// `None` if the sync thread keeps another stream with this peer.
    async fn register(
        &self,
        peer: NodeId,
        dialed_by_us: bool,
        frames: mpsc::Sender<Frame>,
    ) -> Option<u64> {
        let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
        let (accepted, answer) = oneshot::channel();
        self.sync
            .send(ShellInput::Register {
                peer,
                dialed_by_us,
                conn,
                frames,
                accepted,
            })
            .await
            .ok()?;
        answer.await.ok().filter(|keep| *keep).map(|_| conn)
    }

    /// Forwards frames from a peer's stream to the sync thread until it ends.
    async fn pump_in(self, peer: NodeId, conn: u64, mut inbound: Streaming<v1::FederationFrame>) {
        let mut shutdown = self.shutdown.clone();
        let error = loop {
            let next = tokio::select! {
                next = inbound.message() => next,
                _ = shutdown.wait_for(|s| *s) => break Some("this node is shutting down".to_string()),
            };
            match next {
                Ok(Some(frame)) => {
                    let bytes = frame.encoded_len();
                    match wire::from_proto(frame) {
                        Ok(frame) => {
                            if self
                                .sync
                                .send(ShellInput::Received {
                                    peer,
                                    conn,
                                    frame,
                                    bytes,
                                })
                                .await
                                .is_err()
                            {
                                break None;
                            }
                        }
                        Err(e) => break Some(e.to_string()),
                    }
                }
                Ok(None) => break None,
                Err(status) => break Some(format!("stream failed: {}", status.message())),
            }
        };
        if let Some(e) = &error {
            tracing::info!(%peer, error = %e, "peer stream ended");
        }
        let _ = self
            .sync
            .send(ShellInput::Unregister { peer, conn, error })
            .await;
    }
}

fn outbound(rx: mpsc::Receiver<Frame>) -> impl tokio_stream::Stream<Item = v1::FederationFrame> {
    ReceiverStream::new(rx).map(wire::to_proto)
}

/// The federation gRPC service: accepts streams from authenticated peers.
pub struct FederationService {
    pub links: Links,
}

#[tonic::async_trait]
impl federation_service_server::FederationService for FederationService {
    type SyncStream = std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = Result<v1::FederationFrame, Status>> + Send>,
    >;

    async fn sync(
        &self,
        req: Request<Streaming<v1::FederationFrame>>,
    ) -> Result<Response<Self::SyncStream>, Status> {
        let Some(peer) = kreisnetz_transport::peer_node_id(&req) else {
            return Err(Status::unauthenticated(
                "no pinned TLS peer identity on this connection",
            ));
        };
        let (frames, rx) = mpsc::channel(PEER_QUEUE);
        let Some(conn) = self.links.register(peer, false, frames).await else {
            return Err(Status::already_exists(
                "a stream with this node already exists; using that one",
            ));
        };
        tokio::spawn(self.links.clone().pump_in(peer, conn, req.into_inner()));
        Ok(Response::new(Box::pin(outbound(rx).map(Ok))))
    }
}

/// Reconnect backoff bounds.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

/// Dials one peer, keeps the stream up, and backs off (exponentially, with jitter) between
/// attempts. Ends when `stop` is set or the node shuts down.
pub async fn dial_forever(
    links: Links,
    identity: Arc<NodeIdentity>,
    peer: NodeId,
    address: String,
    bounds: Backoff,
    mut stop: watch::Receiver<bool>,
    connected: impl Fn(&NodeId) -> bool + Send + 'static,
) {
    let mut backoff = bounds.min;
    let mut shutdown = links.shutdown.clone();
    loop {
        if *stop.borrow() || *shutdown.borrow() {
            return;
        }
        let started = tokio::time::Instant::now();
        if !connected(&peer) {
            match dial_once(&links, &identity, peer, &address).await {
                Ok(()) => {}
                Err(e) => tracing::debug!(%peer, %address, error = %e, "dialing failed"),
            }
        }
        // A stream that lasted a while resets the backoff.
        if started.elapsed() > bounds.max {
            backoff = bounds.min;
        }
        let wait = jitter(backoff);
        backoff = (backoff * 2).min(bounds.max);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Between half and all of `d`, so that nodes restarted together do not dial in lockstep.
fn jitter(d: Duration) -> Duration {
    let nanos = d.as_nanos() as u64;
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos() as u64)
        .unwrap_or(0);
    let r = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407)
        >> 33;
    Duration::from_nanos(nanos / 2 + r % (nanos / 2 + 1))
}

async fn dial_once(
    links: &Links,
    identity: &NodeIdentity,
    peer: NodeId,
    address: &str,
) -> Result<(), String> {
    let channel = kreisnetz_transport::connect_with_keepalive(
        address,
        identity,
        peer,
        Duration::from_secs(10),
        links.keepalive,
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut client = FederationServiceClient::new(channel)
        .max_decoding_message_size(links.max_frame_bytes)
        .max_encoding_message_size(links.max_frame_bytes);
    // The outgoing stream exists before the call; frames wait in it until the sync thread
    // has accepted the registration and starts sending.
    let (frames, rx) = mpsc::channel(PEER_QUEUE);
    let inbound = client
        .sync(outbound(rx))
        .await
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))?
        .into_inner();
    let Some(conn) = links.register(peer, true, frames).await else {
        return Ok(()); // the peer's own stream to us is kept
    };
    links.clone().pump_in(peer, conn, inbound).await;
    Ok(())
}
