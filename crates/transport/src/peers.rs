use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use kreisnetz_model::NodeId;

use crate::server::peer_node_id;

/// The node IDs this node accepts connections from: shared by every clone and changeable at
/// run time, so peers can be added and removed without a restart.
///
/// The server's certificate verifier looks the presented node ID up here during each handshake,
/// so a change applies to the next connection. Connections already established are not
/// touched; a service that must stop serving a removed peer on an open connection checks each
/// call with [`PinnedPeers::authorize`].
#[derive(Clone, Default)]
pub struct PinnedPeers {
    ids: Arc<RwLock<HashSet<NodeId>>>,
}

impl PinnedPeers {
    /// A set holding `ids`.
    pub fn new(ids: impl IntoIterator<Item = NodeId>) -> Self {
        PinnedPeers {
            ids: Arc::new(RwLock::new(ids.into_iter().collect())),
        }
    }

    /// Replaces the whole set with `ids` (for a reloaded configuration).
    pub fn set(&self, ids: impl IntoIterator<Item = NodeId>) {
        let new: HashSet<NodeId> = ids.into_iter().collect();
        *self.write() = new;
    }

    /// Adds `id`; returns whether it was not there yet.
    pub fn insert(&self, id: NodeId) -> bool {
        self.write().insert(id)
    }

    /// Removes `id`; returns whether it was there.
    pub fn remove(&self, id: &NodeId) -> bool {
        self.write().remove(id)
    }

    /// Whether `id` is accepted.
    pub fn contains(&self, id: &NodeId) -> bool {
        self.read().contains(id)
    }

    /// The IDs as they are now, sorted.
    pub fn snapshot(&self) -> Vec<NodeId> {
        let mut ids: Vec<NodeId> = self.read().iter().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// How many IDs are accepted.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether no ID is accepted (then every connection is refused).
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Checks a gRPC call against the set as it is now and returns the caller's node ID: for
    /// interceptors of services that must stop serving a removed peer on connections it opened
    /// before it was removed.
    ///
    /// Fails with `UNAUTHENTICATED` if the call did not come over a connection from
    /// [`tls_incoming`](crate::tls_incoming), and with `PERMISSION_DENIED` if the caller's node
    /// ID is no longer in the set.
    pub fn authorize<T>(&self, request: &tonic::Request<T>) -> Result<NodeId, tonic::Status> {
        let Some(id) = peer_node_id(request) else {
            return Err(tonic::Status::unauthenticated(
                "this service is only served to authenticated peer nodes",
            ));
        };
        if self.contains(&id) {
            Ok(id)
        } else {
            Err(tonic::Status::permission_denied(format!(
                "node {id} is no longer a configured peer of this node"
            )))
        }
    }

    // A panic while holding the lock cannot leave a HashSet half-changed in a way that matters
    // here, so a poisoned lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, HashSet<NodeId>> {
        self.ids.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashSet<NodeId>> {
        self.ids.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl FromIterator<NodeId> for PinnedPeers {
    fn from_iter<I: IntoIterator<Item = NodeId>>(iter: I) -> Self {
        PinnedPeers::new(iter)
    }
}

impl fmt::Debug for PinnedPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.snapshot()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_set() {
        let a = NodeId::from_public_key(b"a");
        let b = NodeId::from_public_key(b"b");
        let peers = PinnedPeers::new([a]);
        let clone = peers.clone();
        assert!(clone.insert(b));
        assert!(!clone.insert(b));
        assert!(peers.contains(&b));
        assert!(peers.remove(&a));
        assert!(!clone.remove(&a));
        assert_eq!(clone.snapshot(), vec![b]);
        peers.set([a, b]);
        assert_eq!(clone.len(), 2);
        peers.set([]);
        assert!(clone.is_empty());
    }

    #[test]
    fn authorize_needs_a_pinned_peer() {
        let a = NodeId::from_public_key(b"a");
        let peers = PinnedPeers::new([a]);
        let plain = tonic::Request::new(());
        assert_eq!(
            peers.authorize(&plain).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );

        let mut from_a = tonic::Request::new(());
        from_a.extensions_mut().insert(crate::PeerInfo {
            node_id: a,
            remote_addr: "127.0.0.1:1".parse().unwrap(),
            local_addr: "127.0.0.1:2".parse().unwrap(),
        });
        assert_eq!(peers.authorize(&from_a).unwrap(), a);
        peers.remove(&a);
        assert_eq!(
            peers.authorize(&from_a).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }
}
