//! Who a district and a node are, without a central authority.
//!
//! kreisnetz has no CA and no roster: an identity is a key pair, and an ID is the fingerprint of a
//! public key, which operators compare (on the phone, in a config file) instead of trusting a
//! third party.
//!
//! - A **district** has an Ed25519 signing key ([`DistrictKey`]). Its
//!   [`DistrictId`](kreisnetz_model::DistrictId) is the fingerprint of the 32-byte public key, so
//!   anyone holding a public key can check that it belongs to a district ID, and a signature over
//!   a district document can be checked against the document's ID
//!   ([`verify_district_signature`]). All of a district's nodes hold the same district key.
//! - A **node** has its own TLS key pair and a self-signed certificate ([`NodeIdentity`]). Its
//!   [`NodeId`](kreisnetz_model::NodeId) is the SHA-256 fingerprint of the certificate's
//!   SubjectPublicKeyInfo ([`node_id_of_certificate`]): peers pin node IDs in mutual TLS, and a
//!   re-issued certificate for the same key keeps its ID. The certificate's validity dates are
//!   long and matter to no one; the pin is what is trusted.
//!
//! `kreisnetz init` creates both in the node's data directory ([`Identity::create`]): private
//! keys as PKCS#8 PEM files with mode 0600, written atomically and never overwritten; the node
//! refuses to load a private key that group or others may read ([`Identity::load`]), as ssh does.

mod district;
mod error;
mod node;
mod store;

pub use district::{DistrictKey, verify_district_signature};
pub use error::IdentityError;
pub use node::{NodeIdentity, node_id_of_certificate};
pub use store::{DISTRICT_KEY_FILE, Identity, NODE_CERT_FILE, NODE_KEY_FILE};
