//! Compiles `proto/kreisnetz/v1/*.proto` with protox (a pure-Rust protobuf compiler), so building
//! needs no system `protoc`. The encoded descriptor set is written next to the generated code for
//! gRPC server reflection.
use std::path::PathBuf;

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "kreisnetz/v1/resources.proto",
        "kreisnetz/v1/directory.proto",
        "kreisnetz/v1/federation.proto",
        "kreisnetz/v1/auth.proto",
        "kreisnetz/v1/report.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", proto_root.join(f).display());
    }
    let fds = protox::compile(files, [&proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("kreisnetz_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Malformed protobuf is INVALID_ARGUMENT, not INTERNAL (see src/codec.rs).
        .codec_path("crate::codec::Codec")
        .compile_fds(fds)?;
    Ok(())
}
