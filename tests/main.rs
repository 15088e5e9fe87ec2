//! End-to-end tests: real `kreisnetz` node processes on loopback ports chosen at run time,
//! driven through the gRPC API and the `kreisnetzctl` binary, the way operators and other
//! services use them. One test binary (faster to build and link than one per file).

mod harness;

mod api;
mod auth;
mod cli;
mod cli_tls;
mod connections;
mod durability;
mod faults;
mod federation;
mod feed;
mod input;
mod malicious;
mod metrics;
mod netfaults;
mod region;
mod roles;
mod startup;
