//! A kreisnetz district node.
//!
//! The node is a thin shell of IO around pure parts: the district document
//! (`kreisnetz-document`) decides how records are laid out, the domain model
//! (`kreisnetz-model`) decides what is valid, storage (`kreisnetz-storage`) keeps bytes. This
//! crate wires them together:
//!
//! - [`writer`]: the single thread that changes the own document, with group commit;
//! - [`view`]: the typed read side every read is served from;
//! - [`feed`]: the resumable change feed;
//! - [`api`]: the gRPC handlers and the mapping of every refusal to a status code;
//! - [`connections`]: the API's connections: limits, timeouts, TLS;
//! - [`metrics`]: the Prometheus metrics and their HTTP endpoint;
//! - [`node`]: start-up and graceful shutdown;
//! - [`config`]: the TOML configuration with environment overrides.

pub mod api;
pub mod auth;
pub mod config;
pub mod connections;
pub mod federation;
pub mod feed;
pub mod files;
pub mod metrics;
pub mod node;
pub mod report_api;
pub mod search;
pub mod view;
pub mod writer;

pub use config::Config;
pub use node::{RunningNode, StartError, StartOptions, start, start_with};

/// Resolves once `shutdown` is set (or its sender is gone).
pub async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}
