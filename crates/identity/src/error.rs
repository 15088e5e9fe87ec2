use std::path::PathBuf;

/// What went wrong with a key, a certificate or a key file. Each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A key or certificate file is already there; kreisnetz never overwrites a key.
    #[error(
        "{} already exists; kreisnetz never overwrites a key. To keep this identity, load it \
         instead of creating one; to start over, move the data directory's key files away first",
        path.display()
    )]
    AlreadyExists { path: PathBuf },

    /// A key or certificate file the identity needs is not there.
    #[error(
        "{} does not exist; run `kreisnetz init` to create this node's identity, or point the \
         data directory at the one holding district.key, node.key and node.crt",
        path.display()
    )]
    Missing { path: PathBuf },

    /// `district.key` is gone from a data directory that holds the rest of a node's identity
    /// (or its database): creating a new district here would make the district's data foreign.
    #[error(
        "{} is missing, but this data directory holds a node ({present}): the district key was \
         deleted or moved. Restore district.key from a backup (or copy it from another node of \
         the district, mode 0600); kreisnetz does not create a new district over an existing node",
        path.display()
    )]
    MissingDistrictKey { path: PathBuf, present: String },

    /// A private key file that group or others may access.
    #[error(
        "{path} has mode {mode:04o}: this private key is open to group or others, so it is not \
         used. Run `chmod 600 {path}` (and consider the key compromised if others could read it)",
        path = path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },

    /// A key, certificate or file that cannot be parsed. `what` names it (for a file: its path).
    #[error("{what} is malformed: {reason}")]
    Malformed { what: String, reason: String },

    /// Reading or writing a file failed.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The signature does not verify for this message and key.
    #[error("the signature does not match the message and the district's key")]
    BadSignature,

    /// The public key given for a district is not the one its district ID was derived from.
    #[error("the public key does not belong to the district ID it was given for")]
    KeyMismatch,

    /// The node's certificate holds another public key than the node's private key file.
    #[error(
        "{cert} does not belong to the private key in {key}; restore the matching pair (both \
         files are written together by `kreisnetz init`)",
        cert = certificate.display(),
        key = key.display()
    )]
    CertificateKeyMismatch { certificate: PathBuf, key: PathBuf },

    /// Creating a certificate or key pair failed.
    #[error("cannot create the node certificate: {0}")]
    Certificate(String),
}
