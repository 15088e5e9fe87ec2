//! The identity's files in the data directory.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

use crate::node::{public_key_info_of_private_key, subject_public_key_info};
use crate::{DistrictKey, IdentityError, NodeIdentity};

/// The district's signing key, PKCS#8 PEM, mode 0600.
pub const DISTRICT_KEY_FILE: &str = "district.key";
/// The node's TLS private key, PKCS#8 PEM, mode 0600.
pub const NODE_KEY_FILE: &str = "node.key";
/// The node's self-signed TLS certificate, PEM.
pub const NODE_CERT_FILE: &str = "node.crt";

/// Mode of private key files.
const PRIVATE_MODE: u32 = 0o600;
/// Mode of the certificate file (public).
const PUBLIC_MODE: u32 = 0o644;
/// Mode of a data directory we create.
const DIR_MODE: u32 = 0o700;

/// A node's whole identity: its district's signing key and its own TLS identity.
#[derive(Clone, Debug)]
pub struct Identity {
    pub district: DistrictKey,
    pub node: NodeIdentity,
}

impl Identity {
    /// Creates a new district key and node identity (certificate CN `node_name`) and stores them
    /// in `dir`, creating `dir` with mode 0700 if it is missing: `district.key` and `node.key`
    /// (PKCS#8 PEM, mode 0600) and `node.crt` (PEM). Each file is written to a temporary file,
    /// synced and then linked into place, so a crash leaves either the whole file or none.
    ///
    /// Fails with [`IdentityError::AlreadyExists`] if any of the three files exists: a key is
    /// never overwritten. If writing fails half-way, the files written so far are removed.
    pub fn create(dir: &Path, node_name: &str) -> Result<Self, IdentityError> {
        Self::create_with_district(dir, node_name, DistrictKey::generate())
    }

    /// Like [`Identity::create`], for another node of an existing district: it holds the same
    /// district key (copied from the district's first node), and a node identity of its own.
    pub fn create_with_district(
        dir: &Path,
        node_name: &str,
        district: DistrictKey,
    ) -> Result<Self, IdentityError> {
        let paths = Paths::in_dir(dir);
        for path in paths.all() {
            if exists(path)? {
                return Err(IdentityError::AlreadyExists {
                    path: path.to_owned(),
                });
            }
        }
        let identity = Identity {
            district,
            node: NodeIdentity::generate(node_name)?,
        };
        if !dir.is_dir() {
            DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(|source| io_error(dir, source))?;
        }

        let district_pem = identity.district.to_pkcs8_pem()?;
        // district.key last: `load_or_create` takes its presence to mean "an identity is here".
        let files = [
            (
                &paths.node_cert,
                identity.node.certificate_pem(),
                PUBLIC_MODE,
            ),
            (
                &paths.node_key,
                identity.node.private_key_pem(),
                PRIVATE_MODE,
            ),
            (&paths.district_key, district_pem, PRIVATE_MODE),
        ];
        let mut written: Vec<&Path> = Vec::new();
        for (path, contents, mode) in &files {
            if let Err(e) = write_new_file(path, contents.as_bytes(), *mode) {
                for done in written {
                    let _ = fs::remove_file(done);
                }
                return Err(e);
            }
            written.push(path);
        }
        sync_dir(dir)?;
        Ok(identity)
    }

    /// Loads the identity stored in `dir` by [`Identity::create`].
    ///
    /// Errors name the file: [`IdentityError::Missing`] if one is not there,
    /// [`IdentityError::Permissions`] if a private key file is accessible to group or others
    /// (mode must be 0600 or stricter, as ssh demands), [`IdentityError::Malformed`] if one
    /// cannot be parsed, [`IdentityError::CertificateKeyMismatch`] if `node.crt` is not the
    /// certificate for `node.key`.
    pub fn load(dir: &Path) -> Result<Self, IdentityError> {
        let paths = Paths::in_dir(dir);

        let district_pem = read_private(&paths.district_key)?;
        let district = DistrictKey::from_pkcs8_pem(&district_pem)
            .map_err(|e| in_file(e, &paths.district_key))?;

        let node_key_pem = read_private(&paths.node_key)?;
        let private_key =
            PrivatePkcs8KeyDer::from_pem_slice(node_key_pem.as_bytes()).map_err(|e| {
                IdentityError::Malformed {
                    what: paths.node_key.display().to_string(),
                    reason: format!("expected a PEM \"PRIVATE KEY\" (PKCS#8) block: {e}"),
                }
            })?;
        let private_key_der = private_key.secret_pkcs8_der().to_vec();
        let key_spki = public_key_info_of_private_key(&private_key_der)
            .map_err(|e| in_file(e, &paths.node_key))?;

        let cert_pem = read(&paths.node_cert)?;
        let certificate = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| {
            IdentityError::Malformed {
                what: paths.node_cert.display().to_string(),
                reason: format!("expected a PEM \"CERTIFICATE\" block: {e}"),
            }
        })?;
        let certificate_der = certificate.as_ref().to_vec();
        let cert_spki =
            subject_public_key_info(&certificate_der).map_err(|e| in_file(e, &paths.node_cert))?;
        if cert_spki != key_spki {
            return Err(IdentityError::CertificateKeyMismatch {
                certificate: paths.node_cert,
                key: paths.node_key,
            });
        }
        let id = kreisnetz_model::NodeId::from_public_key(&cert_spki);

        Ok(Identity {
            district,
            node: NodeIdentity {
                certificate_der,
                private_key_der,
                id,
            },
        })
    }

    /// Loads the identity in `dir` if `district.key` is there, else creates one. Returns the
    /// identity and whether it was created just now (the caller then shows the new IDs).
    pub fn load_or_create(dir: &Path, node_name: &str) -> Result<(Self, bool), IdentityError> {
        let district_key = dir.join(DISTRICT_KEY_FILE);
        if exists(&district_key)? {
            return Ok((Self::load(dir)?, false));
        }
        // Without district.key but with other parts of a node, creating would fail on the first
        // existing file with a message about that file; say what is really missing instead.
        let mut present = Vec::new();
        for name in [NODE_KEY_FILE, NODE_CERT_FILE, "db"] {
            if exists(&dir.join(name))? {
                present.push(name);
            }
        }
        if !present.is_empty() {
            return Err(IdentityError::MissingDistrictKey {
                path: district_key,
                present: present.join(", "),
            });
        }
        Ok((Self::create(dir, node_name)?, true))
    }
}

struct Paths {
    district_key: PathBuf,
    node_key: PathBuf,
    node_cert: PathBuf,
}

impl Paths {
    fn in_dir(dir: &Path) -> Self {
        Paths {
            district_key: dir.join(DISTRICT_KEY_FILE),
            node_key: dir.join(NODE_KEY_FILE),
            node_cert: dir.join(NODE_CERT_FILE),
        }
    }

    fn all(&self) -> [&Path; 3] {
        [&self.district_key, &self.node_key, &self.node_cert]
    }
}

fn io_error(path: &Path, source: io::Error) -> IdentityError {
    IdentityError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Puts the file's path into a parse error about its contents.
fn in_file(e: IdentityError, path: &Path) -> IdentityError {
    match e {
        IdentityError::Malformed { reason, .. } => IdentityError::Malformed {
            what: path.display().to_string(),
            reason,
        },
        other => other,
    }
}

/// Whether anything (also a dangling symlink) is at `path`.
fn exists(path: &Path) -> Result<bool, IdentityError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path, e)),
    }
}

/// Reads a private key file after checking that only its owner may access it.
fn read_private(path: &Path) -> Result<String, IdentityError> {
    let metadata = fs::metadata(path).map_err(|e| not_found_or_io(path, e))?;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(IdentityError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    read(path)
}

fn read(path: &Path) -> Result<String, IdentityError> {
    let bytes = fs::read(path).map_err(|e| not_found_or_io(path, e))?;
    String::from_utf8(bytes).map_err(|_| IdentityError::Malformed {
        what: path.display().to_string(),
        reason: "not a PEM text file (it is not UTF-8)".into(),
    })
}

fn not_found_or_io(path: &Path, e: io::Error) -> IdentityError {
    if e.kind() == io::ErrorKind::NotFound {
        IdentityError::Missing {
            path: path.to_owned(),
        }
    } else {
        io_error(path, e)
    }
}

/// Writes `contents` to a new file at `path` with `mode`, atomically and without ever replacing
/// an existing file: a temporary file in the same directory, created with `mode`, is written,
/// synced and then hard-linked to `path` (which fails if `path` exists).
fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), IdentityError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{:016x}", rand::random::<u64>()));

    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| io_error(&tmp, e))?;
        // The umask may have taken bits away; set exactly `mode` (it only ever narrows here).
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(|e| io_error(&tmp, e))?;
        file.write_all(contents).map_err(|e| io_error(&tmp, e))?;
        file.sync_all().map_err(|e| io_error(&tmp, e))?;
        drop(file);
        link_no_replace(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// Makes `to` name the file `from`, failing with [`IdentityError::AlreadyExists`] if `to`
/// exists. Falls back to a checked rename on file systems without hard links.
fn link_no_replace(from: &Path, to: &Path) -> Result<(), IdentityError> {
    match fs::hard_link(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(IdentityError::AlreadyExists {
            path: to.to_owned(),
        }),
        Err(_) => {
            if exists(to)? {
                return Err(IdentityError::AlreadyExists {
                    path: to.to_owned(),
                });
            }
            fs::rename(from, to).map_err(|e| io_error(to, e))
        }
    }
}

/// Makes the new directory entries durable.
fn sync_dir(dir: &Path) -> Result<(), IdentityError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(dir, e))
}
