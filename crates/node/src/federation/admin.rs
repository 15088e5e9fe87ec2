//! Peers and trusted districts, changed at run time and kept in the configuration file.
//!
//! The configuration file stays the one place an operator looks: every change made through the
//! API is written back to it (atomically), and a SIGHUP re-reads it and applies what differs.
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kreisnetz_identity::NodeIdentity;
use kreisnetz_model::{DistrictId, NodeId};
use kreisnetz_transport::PinnedPeers;
use tokio::sync::{mpsc, watch};

use super::connection::{Backoff, Links, dial_forever};
use super::shell::{FederationStatus, ShellInput};
use crate::config::{Config, ConfigError, PeerConfig, TrustedConfig};

/// Why an admin change was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("the node is shutting down")]
    ShuttingDown,
}

/// Run-time control of the federation.
pub struct FederationAdmin {
    pub own_node: NodeId,
    pub own_district: DistrictId,
    data_dir: PathBuf,
    config: Mutex<Config>,
    pinned: PinnedPeers,
    sync: mpsc::Sender<ShellInput>,
    links: Links,
    identity: Arc<NodeIdentity>,
    dialers: Mutex<HashMap<NodeId, watch::Sender<bool>>>,
    pub status: Arc<RwLock<FederationStatus>>,
    pub trusted_names: Arc<RwLock<HashMap<DistrictId, String>>>,
}

impl FederationAdmin {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        own_node: NodeId,
        own_district: DistrictId,
        data_dir: PathBuf,
        config: Config,
        pinned: PinnedPeers,
        sync: mpsc::Sender<ShellInput>,
        links: Links,
        identity: Arc<NodeIdentity>,
        status: Arc<RwLock<FederationStatus>>,
        trusted_names: Arc<RwLock<HashMap<DistrictId, String>>>,
    ) -> Self {
        FederationAdmin {
            own_node,
            own_district,
            data_dir,
            config: Mutex::new(config),
            pinned,
            sync,
            links,
            identity,
            dialers: Mutex::new(HashMap::new()),
            status,
            trusted_names,
        }
    }

    /// A copy of the configuration as it is now.
    pub fn config(&self) -> Config {
        self.config.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Starts dialing every configured peer that has an address.
    pub fn start(&self) {
        for p in self.config().peers {
            self.pinned.insert(p.node_id);
            if !p.address.is_empty() {
                self.start_dialer(p.node_id, p.address);
            }
        }
    }

    fn start_dialer(&self, peer: NodeId, address: String) {
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Ok(mut dialers) = self.dialers.lock()
            && let Some(old) = dialers.insert(peer, stop_tx)
        {
            let _ = old.send(true);
        }
        let config = self.config();
        let status = self.status.clone();
        tokio::spawn(dial_forever(
            self.links.clone(),
            self.identity.clone(),
            peer,
            address,
            Backoff {
                min: Duration::from_millis(config.federation.backoff_min_ms),
                max: Duration::from_millis(config.federation.backoff_max_ms),
            },
            stop_rx,
            move |p| {
                status
                    .read()
                    .map(|s| s.peers.get(p).is_some_and(|i| i.connected))
                    .unwrap_or(false)
            },
        ));
    }

    fn stop_dialer(&self, peer: &NodeId) {
        if let Ok(mut dialers) = self.dialers.lock()
            && let Some(stop) = dialers.remove(peer)
        {
            let _ = stop.send(true);
        }
    }

    /// Adds a peer (or changes its address), saves the configuration, starts dialing.
    pub async fn add_peer(
        &self,
        node_id: NodeId,
        address: String,
    ) -> Result<PeerConfig, AdminError> {
        if node_id == self.own_node {
            return Err(AdminError::Invalid("that is this node's own ID".into()));
        }
        let address = address.trim().to_string();
        if address.len() > 300 || address.chars().any(char::is_control) {
            return Err(AdminError::Invalid(format!(
                "address {} is not host:port (at most 300 characters, no control characters)",
                kreisnetz_model::quote(&address)
            )));
        }
        if !address.is_empty()
            && address
                .rsplit_once(':')
                .is_none_or(|(_, port)| port.parse::<u16>().is_err())
        {
            return Err(AdminError::Invalid(format!(
                "address {} is not host:port",
                kreisnetz_model::quote(&address)
            )));
        }
        let peer = PeerConfig {
            node_id,
            address: address.clone(),
        };
        self.edit(|c| {
            c.peers.retain(|p| p.node_id != node_id);
            c.peers.push(peer.clone());
        })?;
        self.pinned.insert(node_id);
        self.stop_dialer(&node_id);
        if !address.is_empty() {
            self.start_dialer(node_id, address);
        }
        tracing::info!(peer = %node_id, "peer added");
        Ok(peer)
    }

    /// Removes a peer: no more dialing, its stream is closed, its certificate is refused.
    pub async fn remove_peer(&self, node_id: NodeId) -> Result<bool, AdminError> {
        let mut found = false;
        self.edit(|c| {
            let before = c.peers.len();
            c.peers.retain(|p| p.node_id != node_id);
            found = c.peers.len() != before;
        })?;
        self.pinned.remove(&node_id);
        self.stop_dialer(&node_id);
        self.sync
            .send(ShellInput::DropPeer(node_id))
            .await
            .map_err(|_| AdminError::ShuttingDown)?;
        tracing::info!(peer = %node_id, found, "peer removed");
        Ok(found)
    }

    /// Trusts a district from now on.
    pub async fn trust(
        &self,
        district: DistrictId,
        name: String,
    ) -> Result<TrustedConfig, AdminError> {
        let t = TrustedConfig {
            district_id: district,
            name: name.trim().to_string(),
        };
        self.edit(|c| {
            c.trusted.retain(|x| x.district_id != district);
            c.trusted.push(t.clone());
        })?;
        self.push_trusted().await?;
        tracing::info!(%district, "district trusted");
        Ok(t)
    }

    /// Stops accepting a district's document (what is held stays until removed by hand).
    pub async fn untrust(&self, district: DistrictId) -> Result<bool, AdminError> {
        if district == self.own_district {
            return Err(AdminError::Invalid(
                "a node always holds its own district's document".into(),
            ));
        }
        let mut found = false;
        self.edit(|c| {
            let before = c.trusted.len();
            c.trusted.retain(|x| x.district_id != district);
            found = c.trusted.len() != before;
        })?;
        self.push_trusted().await?;
        tracing::info!(%district, found, "district no longer trusted");
        Ok(found)
    }

    /// SIGHUP: re-reads the configuration file and applies changed peers and trusted districts.
    pub async fn reload(&self) -> Result<(), AdminError> {
        let fresh = Config::load(&self.data_dir)?;
        let old = self.config();
        if let Ok(mut c) = self.config.lock() {
            c.peers = fresh.peers.clone();
            c.trusted = fresh.trusted.clone();
        }
        let old_peers: HashMap<NodeId, String> = old
            .peers
            .iter()
            .map(|p| (p.node_id, p.address.clone()))
            .collect();
        let new_peers: HashMap<NodeId, String> = fresh
            .peers
            .iter()
            .map(|p| (p.node_id, p.address.clone()))
            .collect();
        for (id, addr) in &new_peers {
            if old_peers.get(id) != Some(addr) {
                self.pinned.insert(*id);
                self.stop_dialer(id);
                if !addr.is_empty() {
                    self.start_dialer(*id, addr.clone());
                }
            }
        }
        for id in old_peers.keys().filter(|id| !new_peers.contains_key(id)) {
            self.pinned.remove(id);
            self.stop_dialer(id);
            let _ = self.sync.send(ShellInput::DropPeer(*id)).await;
        }
        self.push_trusted().await?;
        tracing::info!(
            peers = new_peers.len(),
            trusted = fresh.trusted.len(),
            "configuration reloaded"
        );
        Ok(())
    }

    fn edit(&self, change: impl FnOnce(&mut Config)) -> Result<(), AdminError> {
        let mut config = self
            .config
            .lock()
            .map_err(|_| AdminError::Invalid("configuration lock poisoned".into()))?;
        let mut next = config.clone();
        change(&mut next);
        next.check().map_err(AdminError::Invalid)?;
        // Write back only what the API changes, on top of the file as it is now.
        let mut on_disk = Config::load_file(&self.data_dir).unwrap_or_else(|_| config.clone());
        on_disk.peers = next.peers.clone();
        on_disk.trusted = next.trusted.clone();
        on_disk.save(&self.data_dir)?;
        *config = next;
        Ok(())
    }

    async fn push_trusted(&self) -> Result<(), AdminError> {
        let config = self.config();
        let mut names = HashMap::new();
        let mut districts: HashSet<DistrictId> = HashSet::new();
        for t in &config.trusted {
            names.insert(t.district_id, t.name.clone());
            districts.insert(t.district_id);
        }
        if let Ok(mut n) = self.trusted_names.write() {
            *n = names;
        }
        self.sync
            .send(ShellInput::SetTrusted(districts.into_iter().collect()))
            .await
            .map_err(|_| AdminError::ShuttingDown)
    }
}
