//! The node's configuration: one TOML file in the data directory, overridable by environment
//! variables, with defaults that give a working node on loopback.
//!
//! Precedence, lowest first: built-in defaults, `<data-dir>/kreisnetz.toml`, environment
//! variables `KREISNETZ_<SECTION>__<KEY>` (e.g. `KREISNETZ_API__LISTEN=127.0.0.1:7800`), then
//! command-line flags of `kreisnetz serve`.
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use kreisnetz_model::{DistrictId, NodeId};
use serde::{Deserialize, Serialize};

/// The file name of the configuration inside the data directory.
pub const CONFIG_FILE: &str = "kreisnetz.toml";

/// Everything a node is configured with.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub district: DistrictConfig,
    pub api: ApiConfig,
    pub federation: FederationConfig,
    pub log: LogConfig,
    pub storage: StorageConfig,
    pub metrics: MetricsConfig,
    /// The nodes this node talks to: each is dialed (if it has an address) and accepted.
    pub peers: Vec<PeerConfig>,
    /// The districts whose documents this node accepts, holds and passes on.
    pub trusted: Vec<TrustedConfig>,
}

/// A peer node, identified by the fingerprint of its TLS key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    pub node_id: NodeId,
    /// `host:port` of the peer's federation port; empty: only accept its connections (then
    /// not written to the file at all).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
}

/// A district whose document is accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedConfig {
    pub district_id: DistrictId,
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DistrictConfig {
    /// The district's official name, e.g. "Landkreis Vechta".
    pub name: String,
    /// The official municipality key (Amtlicher Gemeindeschlüssel), e.g. "03460".
    pub ags: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Where the public gRPC API listens. Loopback by default.
    pub listen: SocketAddr,
    /// On shutdown, how long to wait for open calls and connections before closing them.
    pub shutdown_grace_secs: u64,
    /// PEM certificate chain and private key for TLS on the API. Required when `listen` is not
    /// a loopback address: tokens must not cross a network in clear text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Most connections open at once; at the limit the node stops accepting until one closes.
    pub max_connections: usize,
    /// A new connection must finish its TLS handshake within this, and then start its first
    /// request within this again.
    pub handshake_timeout_secs: u64,
    /// A connection with no request in progress for this long is closed (an open `Watch`
    /// stream is a request in progress).
    pub idle_timeout_secs: u64,
    /// Longest time a call may take until its response starts (streams then run on).
    pub request_timeout_secs: u64,
    /// HTTP/2 pings to each client this often; no answer within `keepalive_timeout_secs` closes
    /// the connection (a client that vanished without closing it).
    pub keepalive_interval_secs: u64,
    pub keepalive_timeout_secs: u64,
    /// TCP keepalive probes on idle sockets after this long.
    pub tcp_keepalive_secs: u64,
    /// Most calls in progress at once on one connection (HTTP/2 streams).
    pub max_concurrent_streams: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FederationConfig {
    /// Where the federation service listens (mutual TLS, pinned node IDs only).
    pub listen: SocketAddr,
    /// Reconnect backoff: first wait and upper bound, in milliseconds (with jitter).
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// How often a peer connection is pinged (HTTP/2 PING, also while idle), and how long an
    /// answer may take before the connection is dropped: a peer behind a dead link (packets
    /// silently lost) is noticed within the sum, then redialed with backoff.
    pub keepalive_secs: u64,
    pub keepalive_timeout_secs: u64,
    /// Largest federation frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// Largest district document accepted from peers, in bytes (saved size).
    pub max_document_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: String,
    /// A tracing filter, e.g. `info` or `kreisnetz_node=debug,info`. `RUST_LOG` wins if set.
    pub level: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Compact a document into a new snapshot once the change chunks appended since the last
    /// snapshot are larger than the snapshot and at least this many bytes.
    pub compact_min_bytes: u64,
    /// Most writes that share one flush (group commit).
    pub max_batch: usize,
    /// Change-feed events kept: older ones are pruned (every few seconds), and a `Watch` from
    /// a cursor below them is told to start over from the current state (`OUT_OF_RANGE`,
    /// `FEED_PRUNED`). 0 keeps every event (the feed then grows without bound).
    pub feed_retention_events: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Serve Prometheus metrics at `http://<listen>/metrics`.
    pub enabled: bool,
    /// Where the metrics endpoint listens (plain HTTP: metrics hold no secrets). Unset: on
    /// loopback, on the API port + 2 (7702 by default; port 0 if the API port is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            listen: None,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7700)),
            shutdown_grace_secs: 10,
            tls_cert: None,
            tls_key: None,
            max_connections: 512,
            handshake_timeout_secs: 10,
            idle_timeout_secs: 300,
            request_timeout_secs: 60,
            keepalive_interval_secs: 60,
            keepalive_timeout_secs: 20,
            tcp_keepalive_secs: 60,
            max_concurrent_streams: 128,
        }
    }
}

impl Default for FederationConfig {
    fn default() -> Self {
        FederationConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7701)),
            backoff_min_ms: 200,
            backoff_max_ms: 30_000,
            keepalive_secs: 20,
            keepalive_timeout_secs: 20,
            max_frame_bytes: 16 << 20,
            max_document_bytes: 256 << 20,
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: "text".into(),
            level: "info".into(),
        }
    }
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            compact_min_bytes: 1 << 20,
            max_batch: 512,
            feed_retention_events: 100_000,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} already exists; remove it or use another data directory")]
    Exists { path: PathBuf },
}

/// `KREISNETZ_*` variables that belong to the binaries (`kreisnetz --data-dir`, kreisnetzctl's
/// `--node`, `--token`, `--token-file`, `--ca-cert`), not to the node's configuration: an
/// operator may have them set in the shell that starts the node. `storage_faults` is the test
/// switch `KREISNETZ_STORAGE_FAULTS` (see `node::STORAGE_FAULTS_ENV`), read by the node itself.
const CLI_ENV: &[&str] = &[
    "data_dir",
    "node",
    "token",
    "token_file",
    "ca_cert",
    "storage_faults",
];

/// Refuses a value outside `min..=max`, naming the key and the allowed range.
fn within<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), String> {
    if value < min || value > max {
        return Err(format!(
            "{key} is {value}; it must be between {min} and {max}"
        ));
    }
    Ok(())
}

impl Config {
    /// Defaults, then the data directory's config file (if present), then the environment.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .merge(Env::prefixed("KREISNETZ_").split("__").ignore(CLI_ENV));
        let config: Config = figment.extract().map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        config
            .check()
            .map_err(|message| ConfigError::Invalid { path, message })?;
        Ok(config)
    }

    /// Defaults and the file only, without environment overrides: the base for writing the
    /// file back after a run-time change, so overrides from the environment are not persisted.
    pub fn load_file(data_dir: &Path) -> Result<Config, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&path))
            .extract()
            .map_err(|e| ConfigError::Invalid {
                path,
                message: e.to_string(),
            })
    }

    /// Where the metrics endpoint listens: `metrics.listen`, or derived from `api.listen`;
    /// `None` if metrics are disabled (or no port can be derived, which `check` refuses).
    pub fn metrics_listen(&self) -> Option<SocketAddr> {
        if !self.metrics.enabled {
            return None;
        }
        if let Some(listen) = self.metrics.listen {
            return Some(listen);
        }
        let api = self.api.listen;
        let ip = if api.ip().is_loopback() {
            api.ip()
        } else {
            Ipv4Addr::LOCALHOST.into()
        };
        let port = match api.port() {
            0 => 0,
            port => port.checked_add(2)?,
        };
        Some(SocketAddr::new(ip, port))
    }

    /// Rules that serde cannot express.
    pub fn check(&self) -> Result<(), String> {
        if !matches!(self.log.format.as_str(), "text" | "json") {
            return Err(format!(
                "log.format is \"{}\"; expected \"text\" or \"json\"",
                self.log.format
            ));
        }
        let ags = &self.district.ags;
        let five_digits = ags.len() == 5 && ags.bytes().all(|b| b.is_ascii_digit());
        if !ags.is_empty() && !five_digits {
            return Err(format!(
                "district.ags is \"{}\"; an AGS of a district is five digits, e.g. \"03460\"",
                self.district.ags
            ));
        }
        if self.api.tls_cert.is_some() != self.api.tls_key.is_some() {
            return Err("api.tls_cert and api.tls_key go together: set both or neither".into());
        }
        if !self.api.listen.ip().is_loopback() && self.api.tls_cert.is_none() {
            return Err(format!(
                "api.listen is {}, which is not a loopback address, but the API has no TLS: set \
                 api.tls_cert and api.tls_key (PEM files), or listen on 127.0.0.1",
                self.api.listen
            ));
        }
        let api = &self.api;
        within("api.shutdown_grace_secs", api.shutdown_grace_secs, 0, 3600)?;
        within("api.max_connections", api.max_connections, 1, 1_000_000)?;
        within(
            "api.handshake_timeout_secs",
            api.handshake_timeout_secs,
            1,
            300,
        )?;
        within("api.idle_timeout_secs", api.idle_timeout_secs, 1, 86_400)?;
        within(
            "api.request_timeout_secs",
            api.request_timeout_secs,
            1,
            3600,
        )?;
        within(
            "api.keepalive_interval_secs",
            api.keepalive_interval_secs,
            1,
            86_400,
        )?;
        within(
            "api.keepalive_timeout_secs",
            api.keepalive_timeout_secs,
            1,
            3600,
        )?;
        within("api.tcp_keepalive_secs", api.tcp_keepalive_secs, 1, 86_400)?;
        within(
            "api.max_concurrent_streams",
            api.max_concurrent_streams,
            1,
            100_000,
        )?;
        let fed = &self.federation;
        within(
            "federation.max_frame_bytes",
            fed.max_frame_bytes,
            64 << 10,
            1 << 30,
        )?;
        within(
            "federation.max_document_bytes",
            fed.max_document_bytes,
            1 << 20,
            64 << 30,
        )?;
        within(
            "federation.backoff_max_ms",
            fed.backoff_max_ms,
            1,
            3_600_000,
        )?;
        within("federation.keepalive_secs", fed.keepalive_secs, 1, 86_400)?;
        within(
            "federation.keepalive_timeout_secs",
            fed.keepalive_timeout_secs,
            1,
            3600,
        )?;
        within("storage.max_batch", self.storage.max_batch, 1, 100_000)?;
        within(
            "storage.compact_min_bytes",
            self.storage.compact_min_bytes,
            0,
            16 << 30,
        )?;
        if self.federation.backoff_min_ms == 0
            || self.federation.backoff_min_ms > self.federation.backoff_max_ms
        {
            return Err(
                "federation.backoff_min_ms must be at least 1 and not above backoff_max_ms".into(),
            );
        }
        if self.metrics.enabled && self.metrics_listen().is_none() {
            return Err(format!(
                "metrics.listen is not set and the API port {} + 2 is not a port: set \
                 metrics.listen, or metrics.enabled = false",
                self.api.listen.port()
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for p in &self.peers {
            if !seen.insert(p.node_id) {
                return Err(format!("peer {} is listed twice", p.node_id));
            }
            if !p.address.is_empty() && !p.address.contains(':') {
                return Err(format!(
                    "peer {}: address \"{}\" is not host:port",
                    p.node_id, p.address
                ));
            }
        }
        Ok(())
    }

    /// Replaces `<data_dir>/kreisnetz.toml` with this configuration (atomically: a temporary file
    /// renamed over it), e.g. after a peer was added at run time.
    pub fn save(&self, data_dir: &Path) -> Result<PathBuf, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let tmp = data_dir.join(format!("{CONFIG_FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        self.write_to(&tmp)?;
        std::fs::rename(&tmp, &path).map_err(|source| ConfigError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }

    fn write_to(&self, path: &Path) -> Result<(), ConfigError> {
        let body = toml::to_string_pretty(self).map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# kreisnetz node configuration. Every key is optional; see README.md, \"Configuration\".\n\
             # Environment variables KREISNETZ_<SECTION>__<KEY> override it (e.g. KREISNETZ_API__LISTEN).\n\n{body}"
        );
        std::fs::write(path, text).map_err(|source| ConfigError::Write {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes this configuration as `<data_dir>/kreisnetz.toml`, refusing to overwrite one.
    pub fn write_new(&self, data_dir: &Path) -> Result<PathBuf, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        if path.exists() {
            return Err(ConfigError::Exists { path });
        }
        let body = toml::to_string_pretty(self).map_err(|e| ConfigError::Invalid {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let text = format!(
            "# kreisnetz node configuration. Every key is optional; see README.md, \"Configuration\".\n\
             # Environment variables KREISNETZ_<SECTION>__<KEY> override it (e.g. KREISNETZ_API__LISTEN).\n\n{body}"
        );
        std::fs::write(&path, text).map_err(|source| ConfigError::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path)
    }
}

impl FederationConfig {
    /// The keepalive of peer connections, in both directions.
    pub fn keepalive(&self) -> kreisnetz_transport::Keepalive {
        kreisnetz_transport::Keepalive {
            interval: std::time::Duration::from_secs(self.keepalive_secs),
            timeout: std::time::Duration::from_secs(self.keepalive_timeout_secs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_bind_loopback() {
        let c = Config::default();
        assert!(c.api.listen.ip().is_loopback());
        assert!(c.federation.listen.ip().is_loopback());
        c.check().unwrap();
    }

    #[test]
    fn written_config_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.district.name = "Landkreis Wesermarsch".into();
        c.district.ags = "03461".into();
        c.write_new(dir.path()).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), c);
        assert!(matches!(
            c.write_new(dir.path()),
            Err(ConfigError::Exists { .. })
        ));
    }

    #[test]
    fn the_example_configuration_in_deploy_loads() {
        let dir = tempfile::tempdir().unwrap();
        let example = include_str!("../../../deploy/config/kreisnetz.example.toml");
        std::fs::write(dir.path().join(CONFIG_FILE), example).unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.district.name, "Landkreis Vechta");
        assert_eq!(c.api, Config::default().api);
    }

    #[test]
    fn the_api_beyond_loopback_needs_tls() {
        let mut c = Config::default();
        c.api.listen = "0.0.0.0:7700".parse().unwrap();
        let err = c.check().unwrap_err();
        assert!(err.contains("api.tls_cert"), "{err}");
        c.api.tls_cert = Some("cert.pem".into());
        assert!(c.check().unwrap_err().contains("together"));
        c.api.tls_key = Some("key.pem".into());
        c.check().unwrap();
    }

    #[test]
    fn metrics_listen_follows_the_api_port_unless_set_or_disabled() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        assert_eq!(c.metrics_listen(), Some("127.0.0.1:7702".parse().unwrap()));
        c.api.listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(c.metrics_listen(), Some("127.0.0.1:0".parse().unwrap()));
        c.api.listen = "[::1]:7800".parse().unwrap();
        assert_eq!(c.metrics_listen(), Some("[::1]:7802".parse().unwrap()));
        // An API beyond loopback does not take the metrics with it.
        c.api.listen = "0.0.0.0:7800".parse().unwrap();
        assert_eq!(c.metrics_listen(), Some("127.0.0.1:7802".parse().unwrap()));
        c.api.listen = "127.0.0.1:65535".parse().unwrap();
        assert!(c.check().unwrap_err().contains("metrics.listen"));

        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[metrics]\nlisten = \"0.0.0.0:9464\"\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.metrics_listen(), Some("0.0.0.0:9464".parse().unwrap()));
        std::fs::write(dir.path().join(CONFIG_FILE), "[metrics]\nenabled = false\n").unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.metrics_listen(), None);
        c.save(dir.path()).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), c);
    }

    #[test]
    fn peers_and_trusted_districts_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Config::default();
        c.peers.push(PeerConfig {
            node_id: NodeId::from_public_key(b"a"),
            address: "127.0.0.1:7711".into(),
        });
        c.peers.push(PeerConfig {
            node_id: NodeId::from_public_key(b"b"),
            address: String::new(),
        });
        c.trusted.push(TrustedConfig {
            district_id: DistrictId::from_public_key(b"c"),
            name: "Stadt Delmenhorst".into(),
        });
        c.save(dir.path()).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), c);
        c.peers.push(c.peers[0].clone());
        assert!(c.check().unwrap_err().contains("twice"));
    }

    #[test]
    fn zero_and_absurd_values_are_refused_naming_the_key() {
        let mut c = Config::default();
        c.federation.max_frame_bytes = 0;
        let err = c.check().unwrap_err();
        assert!(err.contains("federation.max_frame_bytes is 0"), "{err}");
        c.federation.max_frame_bytes = usize::MAX;
        assert!(
            c.check()
                .unwrap_err()
                .contains("federation.max_frame_bytes")
        );
        let mut c = Config::default();
        c.api.max_connections = 0;
        assert!(c.check().unwrap_err().contains("api.max_connections"));
        let mut c = Config::default();
        c.api.idle_timeout_secs = 0;
        assert!(c.check().unwrap_err().contains("api.idle_timeout_secs"));
        let mut c = Config::default();
        c.federation.max_document_bytes = 0;
        assert!(
            c.check()
                .unwrap_err()
                .contains("federation.max_document_bytes")
        );
        let mut c = Config::default();
        c.storage.max_batch = 0;
        assert!(c.check().unwrap_err().contains("storage.max_batch"));
        // Through the file, too.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[federation]\nmax_frame_bytes = 0\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("federation.max_frame_bytes"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[api]\nlisten = \"nonsense\"\n",
        )
        .unwrap();
        let err = Config::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[api]\nlissen = \"127.0.0.1:1\"\n",
        )
        .unwrap();
        assert!(Config::load(dir.path()).is_err());
        std::fs::write(dir.path().join(CONFIG_FILE), "[log]\nformat = \"xml\"\n").unwrap();
        assert!(
            Config::load(dir.path())
                .unwrap_err()
                .to_string()
                .contains("log.format")
        );
    }
}
