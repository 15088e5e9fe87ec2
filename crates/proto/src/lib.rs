//! Generated protobuf and gRPC bindings of the `kreisnetz.v1` API.
//!
//! The `.proto` files under `proto/` are the contract with other services; this crate only
//! compiles them (see `build.rs`). Everything else in the workspace talks to the outside world
//! through these types.

/// `kreisnetz.v1`: messages and service stubs.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("kreisnetz.v1");
}

/// The encoded `FileDescriptorSet` of all kreisnetz protos, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("kreisnetz_descriptor");

pub mod convert;
