use std::fmt;

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, KeypairBytes};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use kreisnetz_model::DistrictId;

use crate::IdentityError;

/// A district's Ed25519 signing key. Its public key's fingerprint is the [`DistrictId`].
///
/// `Debug` shows the district ID only, never the secret key.
#[derive(Clone)]
pub struct DistrictKey {
    key: SigningKey,
    id: DistrictId,
}

impl DistrictKey {
    /// A new random key from the operating system's random source.
    pub fn generate() -> Self {
        Self::from_signing_key(SigningKey::generate(&mut rand::rngs::OsRng))
    }

    /// Wraps an existing signing key.
    pub fn from_signing_key(key: SigningKey) -> Self {
        let id = DistrictId::from_public_key(key.verifying_key().as_bytes());
        DistrictKey { key, id }
    }

    /// The district's ID: the fingerprint of its public key.
    pub fn id(&self) -> DistrictId {
        self.id
    }

    /// The public half, which others use to check this district's signatures.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Signs `message` (Ed25519, deterministic).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.key.sign(message)
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), the format of `district.key`.
    /// This is the secret: store it with mode 0600.
    ///
    /// Written as PKCS#8 v1 (RFC 8410, without the optional public key), the form OpenSSL 3.0
    /// also reads (`openssl pkey -in district.key -pubout`); [`DistrictKey::from_pkcs8_pem`]
    /// reads v1 and v2.
    pub fn to_pkcs8_pem(&self) -> Result<String, IdentityError> {
        let pem = KeypairBytes {
            secret_key: self.key.to_bytes(),
            public_key: None,
        }
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| IdentityError::Malformed {
            what: "the district key".into(),
            reason: format!("cannot encode it as PKCS#8: {e}"),
        })?;
        Ok(pem.as_str().to_owned())
    }

    /// Reads a PKCS#8 PEM Ed25519 key. If the PEM also holds the public key, it must match.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, IdentityError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(Self::from_signing_key)
            .map_err(|e| IdentityError::Malformed {
                what: "the district key".into(),
                reason: format!("not a PKCS#8 PEM Ed25519 private key ({e})"),
            })
    }
}

impl fmt::Debug for DistrictKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DistrictKey")
            .field("id", &self.id)
            .field("secret", &"[hidden]")
            .finish()
    }
}

/// Verifies `signature` over `message` by the district `district`, given the district's public
/// key: checks first that the key is the one `district` is the fingerprint of
/// ([`IdentityError::KeyMismatch`] if not), then the signature with
/// [`VerifyingKey::verify_strict`] ([`IdentityError::BadSignature`] if it does not verify).
pub fn verify_district_signature(
    district: &DistrictId,
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), IdentityError> {
    if DistrictId::from_public_key(public_key) != *district {
        return Err(IdentityError::KeyMismatch);
    }
    let key = VerifyingKey::from_bytes(public_key).map_err(|e| IdentityError::Malformed {
        what: format!("the public key of district {district}"),
        reason: e.to_string(),
    })?;
    key.verify_strict(message, &Signature::from_bytes(signature))
        .map_err(|_| IdentityError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8410, section 10.3: an Ed25519 private key as OpenSSL writes it, and its public key.
    const RFC8410_KEY: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
        -----END PRIVATE KEY-----\n";
    const RFC8410_PUBLIC: &str = "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1";

    #[test]
    fn reads_keys_written_by_openssl() {
        let key = DistrictKey::from_pkcs8_pem(RFC8410_KEY).unwrap();
        let public = data_encoding::HEXLOWER.encode(key.verifying_key().as_bytes());
        assert_eq!(public, RFC8410_PUBLIC);
        assert_eq!(
            key.id(),
            DistrictId::from_public_key(key.verifying_key().as_bytes())
        );
        // And writes them the same way (PKCS#8 v1), byte for byte.
        assert_eq!(key.to_pkcs8_pem().unwrap(), RFC8410_KEY);
    }

    #[test]
    fn reads_pkcs8_v2_with_public_key() {
        let key = DistrictKey::generate();
        let v2 = key.key.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(DistrictKey::from_pkcs8_pem(&v2).unwrap().id(), key.id());
    }

    #[test]
    fn key_id_mismatch_is_checked_before_the_signature() {
        let key = DistrictKey::generate();
        let sig = key.sign(b"m").to_bytes();
        let err = verify_district_signature(
            &DistrictId::from_public_key(b"someone else"),
            key.verifying_key().as_bytes(),
            b"m",
            &sig,
        )
        .unwrap_err();
        assert!(matches!(err, IdentityError::KeyMismatch));
    }

    #[test]
    fn a_public_key_that_is_no_curve_point_is_malformed() {
        // About half of all 32-byte strings are no point on the curve; take the first.
        let bad = (0u8..=255)
            .map(|y| {
                let mut bytes = [0u8; 32];
                bytes[0] = y;
                bytes
            })
            .find(|b| VerifyingKey::from_bytes(b).is_err())
            .expect("some y is not on the curve");
        let err =
            verify_district_signature(&DistrictId::from_public_key(&bad), &bad, b"m", &[0; 64])
                .unwrap_err();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{err:?}");
    }
}
