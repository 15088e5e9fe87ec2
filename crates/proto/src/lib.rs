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

pub mod codec;
pub mod convert;

/// A client-side interceptor that sends `authorization: Bearer <token>` with every call, for
/// services and tools that talk to a node's API.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    /// `None` if the token is not printable ASCII.
    pub fn new(token: &str) -> Option<Bearer> {
        format!("Bearer {}", token.trim()).parse().ok().map(Bearer)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// A channel that authenticates every call with a [`Bearer`] token.
pub type AuthedChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>;
