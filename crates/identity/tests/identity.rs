//! The identity crate as the node uses it: create, store, load, sign, verify, name certificates.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use kreisnetz_identity::{
    DISTRICT_KEY_FILE, DistrictKey, Identity, IdentityError, NODE_CERT_FILE, NODE_KEY_FILE,
    NodeIdentity, node_id_of_certificate, verify_district_signature,
};

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn create_then_load_keeps_both_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let created = Identity::create(&dir, "kreisnetz-ammerland-1").unwrap();
    let loaded = Identity::load(&dir).unwrap();

    assert_eq!(loaded.district.id(), created.district.id());
    assert_eq!(
        loaded.district.verifying_key(),
        created.district.verifying_key()
    );
    assert_eq!(loaded.node.id, created.node.id);
    assert_eq!(loaded.node.certificate_der, created.node.certificate_der);
    assert_eq!(loaded.node.private_key_der, created.node.private_key_der);

    // A signature by the loaded key verifies against the created key's ID.
    let sig = loaded.district.sign(b"heads");
    verify_district_signature(
        &created.district.id(),
        created.district.verifying_key().as_bytes(),
        b"heads",
        &sig.to_bytes(),
    )
    .unwrap();
}

#[test]
fn key_files_have_mode_0600_and_the_directory_0700() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("new").join("data");
    Identity::create(&dir, "node").unwrap();
    assert_eq!(mode(&dir.join(DISTRICT_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir.join(NODE_KEY_FILE)), 0o600);
    assert_eq!(mode(&dir) & 0o077, 0, "data dir is private");
    let cert = fs::read_to_string(dir.join(NODE_CERT_FILE)).unwrap();
    assert!(cert.starts_with("-----BEGIN CERTIFICATE-----\n"));
    let key = fs::read_to_string(dir.join(NODE_KEY_FILE)).unwrap();
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    let district = fs::read_to_string(dir.join(DISTRICT_KEY_FILE)).unwrap();
    assert!(district.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    // No temporary files are left behind.
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [DISTRICT_KEY_FILE, NODE_CERT_FILE, NODE_KEY_FILE]);
}

#[test]
fn create_never_overwrites() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Identity::create(tmp.path(), "node").unwrap();
    let before = fs::read(tmp.path().join(DISTRICT_KEY_FILE)).unwrap();
    match Identity::create(tmp.path(), "node") {
        Err(IdentityError::AlreadyExists { path }) => {
            assert!(path.starts_with(tmp.path()));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(
        fs::read(tmp.path().join(DISTRICT_KEY_FILE)).unwrap(),
        before
    );
    assert_eq!(
        Identity::load(tmp.path()).unwrap().district.id(),
        first.district.id()
    );

    // Any one of the three files is enough to refuse, and nothing is written then.
    for name in [DISTRICT_KEY_FILE, NODE_KEY_FILE, NODE_CERT_FILE] {
        let other = tempfile::tempdir().unwrap();
        fs::write(other.path().join(name), "keep me").unwrap();
        match Identity::create(other.path(), "node") {
            Err(IdentityError::AlreadyExists { path }) => {
                assert_eq!(path, other.path().join(name))
            }
            result => panic!("{name}: expected AlreadyExists, got {result:?}"),
        }
        assert_eq!(fs::read_dir(other.path()).unwrap().count(), 1, "{name}");
        assert_eq!(
            fs::read_to_string(other.path().join(name)).unwrap(),
            "keep me"
        );
    }
}

#[test]
fn load_or_create_creates_once_then_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let (first, created) = Identity::load_or_create(tmp.path(), "node").unwrap();
    assert!(created);
    let (second, created) = Identity::load_or_create(tmp.path(), "node").unwrap();
    assert!(!created);
    assert_eq!(first.district.id(), second.district.id());
    assert_eq!(first.node.id, second.node.id);
}

#[test]
fn a_deleted_district_key_is_named_not_recreated() {
    let tmp = tempfile::tempdir().unwrap();
    Identity::load_or_create(tmp.path(), "node").unwrap();
    fs::remove_file(tmp.path().join(DISTRICT_KEY_FILE)).unwrap();
    let err = Identity::load_or_create(tmp.path(), "node").unwrap_err();
    assert!(
        matches!(err, IdentityError::MissingDistrictKey { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("district.key is missing") && text.contains("Restore district.key"),
        "{text}"
    );
    assert!(!text.contains("already exists"), "{text}");
}

#[test]
fn load_refuses_private_keys_others_can_read() {
    for name in [DISTRICT_KEY_FILE, NODE_KEY_FILE] {
        let tmp = tempfile::tempdir().unwrap();
        Identity::create(tmp.path(), "node").unwrap();
        let path = tmp.path().join(name);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load(tmp.path()).unwrap_err();
        let message = err.to_string();
        match err {
            IdentityError::Permissions { path: p, mode } => {
                assert_eq!(p, path);
                assert_eq!(mode, 0o644);
            }
            other => panic!("{name}: expected Permissions, got {other:?}"),
        }
        assert!(
            message.contains(&format!("chmod 600 {}", path.display())),
            "{message}"
        );
        assert!(message.contains("0644"), "{message}");

        // Stricter than 0600 is fine; the certificate may be world-readable.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        Identity::load(tmp.path()).unwrap();
    }
}

#[test]
fn missing_files_are_named() {
    for name in [DISTRICT_KEY_FILE, NODE_KEY_FILE, NODE_CERT_FILE] {
        let tmp = tempfile::tempdir().unwrap();
        Identity::create(tmp.path(), "node").unwrap();
        fs::remove_file(tmp.path().join(name)).unwrap();
        let err = Identity::load(tmp.path()).unwrap_err();
        assert!(err.to_string().contains("kreisnetz init"), "{err}");
        match err {
            IdentityError::Missing { path } => assert_eq!(path, tmp.path().join(name)),
            other => panic!("{name}: expected Missing, got {other:?}"),
        }
    }
}

#[test]
fn malformed_files_are_named() {
    for name in [DISTRICT_KEY_FILE, NODE_KEY_FILE, NODE_CERT_FILE] {
        for contents in [
            "not a key at all\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        ] {
            let tmp = tempfile::tempdir().unwrap();
            Identity::create(tmp.path(), "node").unwrap();
            let path = tmp.path().join(name);
            fs::write(&path, contents).unwrap();
            let err = Identity::load(tmp.path()).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&path.display().to_string()),
                "{name}: {message}"
            );
            assert!(
                matches!(err, IdentityError::Malformed { .. }),
                "{name} with {contents:?}: expected Malformed, got {err:?}"
            );
        }
    }
}

#[test]
fn load_refuses_a_certificate_for_another_key() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    Identity::create(a.path(), "a").unwrap();
    Identity::create(b.path(), "b").unwrap();
    fs::copy(b.path().join(NODE_CERT_FILE), a.path().join(NODE_CERT_FILE)).unwrap();
    match Identity::load(a.path()) {
        Err(IdentityError::CertificateKeyMismatch { certificate, key }) => {
            assert_eq!(certificate, a.path().join(NODE_CERT_FILE));
            assert_eq!(key, a.path().join(NODE_KEY_FILE));
        }
        other => panic!("expected CertificateKeyMismatch, got {other:?}"),
    }
}

#[test]
fn node_id_is_the_certificates_public_key_fingerprint() {
    let a = NodeIdentity::generate("a").unwrap();
    let b = NodeIdentity::generate("b").unwrap();
    assert_eq!(node_id_of_certificate(&a.certificate_der).unwrap(), a.id);
    assert_eq!(node_id_of_certificate(&b.certificate_der).unwrap(), b.id);
    assert_ne!(a.id, b.id);
    assert!(a.id.to_string().starts_with("N-"));

    let tmp = tempfile::tempdir().unwrap();
    let identity = Identity::create(tmp.path(), "node").unwrap();
    assert_eq!(
        node_id_of_certificate(&identity.node.certificate_der).unwrap(),
        identity.node.id
    );
    assert_eq!(
        node_id_of_certificate(identity.node.certificate().as_ref()).unwrap(),
        identity.node.id
    );
}

#[test]
fn node_id_of_garbage_is_an_error() {
    for garbage in [&b""[..], b"\x30\x03\x02\x01\x01", b"hello", &[0u8; 300]] {
        assert!(matches!(
            node_id_of_certificate(garbage),
            Err(IdentityError::Malformed { .. })
        ));
    }
    let node = NodeIdentity::generate("n").unwrap();
    let truncated = &node.certificate_der[..node.certificate_der.len() - 10];
    assert!(node_id_of_certificate(truncated).is_err());
}

#[test]
fn sign_and_verify() {
    let key = DistrictKey::generate();
    let other = DistrictKey::generate();
    let message = b"heads 7: abc";
    let sig = key.sign(message).to_bytes();
    let pk = key.verifying_key().to_bytes();
    let other_pk = other.verifying_key().to_bytes();

    verify_district_signature(&key.id(), &pk, message, &sig).unwrap();

    // Tampered message or signature.
    assert!(matches!(
        verify_district_signature(&key.id(), &pk, b"heads 8: abc", &sig),
        Err(IdentityError::BadSignature)
    ));
    let mut bad_sig = sig;
    bad_sig[3] ^= 1;
    assert!(matches!(
        verify_district_signature(&key.id(), &pk, message, &bad_sig),
        Err(IdentityError::BadSignature)
    ));
    // Another district's key given for this district's ID.
    assert!(matches!(
        verify_district_signature(&key.id(), &other_pk, message, &sig),
        Err(IdentityError::KeyMismatch)
    ));
    // Another district's key and ID: the key matches, the signature does not.
    assert!(matches!(
        verify_district_signature(&other.id(), &other_pk, message, &sig),
        Err(IdentityError::BadSignature)
    ));
    // Right key, wrong ID.
    assert!(matches!(
        verify_district_signature(&other.id(), &pk, message, &sig),
        Err(IdentityError::KeyMismatch)
    ));
}

#[test]
fn district_key_pem_round_trip() {
    let key = DistrictKey::generate();
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let back = DistrictKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(back.id(), key.id());
    assert_eq!(back.sign(b"m"), key.sign(b"m"));
    assert!(matches!(
        DistrictKey::from_pkcs8_pem("nope"),
        Err(IdentityError::Malformed { .. })
    ));
    // A node's P-256 key is not a district key.
    let node = NodeIdentity::generate("n").unwrap();
    assert!(DistrictKey::from_pkcs8_pem(&node.private_key_pem()).is_err());
}

#[test]
fn debug_output_shows_no_key_material() {
    let tmp = tempfile::tempdir().unwrap();
    let identity = Identity::create(tmp.path(), "node").unwrap();
    let shown = format!("{identity:?} {:#?}", identity);

    assert!(
        shown.contains(&identity.district.id().to_string()),
        "{shown}"
    );
    assert!(shown.contains(&identity.node.id.to_string()), "{shown}");

    let district_pem = fs::read_to_string(tmp.path().join(DISTRICT_KEY_FILE)).unwrap();
    let node_pem = fs::read_to_string(tmp.path().join(NODE_KEY_FILE)).unwrap();
    for pem in [&district_pem, &node_pem] {
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!shown.contains(line), "Debug shows PEM line {line}");
        }
    }
    // Nor the raw bytes, in the ways Debug prints byte slices.
    let node_key = &identity.node.private_key_der;
    let tail = &node_key[node_key.len() - 8..];
    let decimal = format!("{tail:?}");
    assert!(!shown.contains(decimal.trim_matches(['[', ']'])), "{shown}");
    assert!(!shown.contains("BEGIN"));
}

#[test]
fn node_identity_hands_rustls_its_types_and_pem_round_trips() {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};

    let node = NodeIdentity::generate("kreisnetz-vechta").unwrap();
    assert_eq!(node.certificate().as_ref(), &node.certificate_der[..]);
    assert_eq!(node.private_key().secret_der(), &node.private_key_der[..]);
    assert!(matches!(node.private_key(), PrivateKeyDer::Pkcs8(_)));

    let cert = CertificateDer::from_pem_slice(node.certificate_pem().as_bytes()).unwrap();
    assert_eq!(cert.as_ref(), &node.certificate_der[..]);
    let key = PrivateKeyDer::from_pem_slice(node.private_key_pem().as_bytes()).unwrap();
    assert_eq!(key.secret_der(), &node.private_key_der[..]);
}
