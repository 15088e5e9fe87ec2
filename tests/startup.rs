//! What an operator sees when a node cannot start: every message names the file or the
//! configuration key at fault and says what to do.
use std::process::{Command, Output};

use crate::harness::*;

/// Runs `kreisnetz serve` on `dir` with `args` and `env`, expecting it to refuse; returns stderr.
fn refused(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out: Output = Command::new(NODE_BIN)
        .args(["serve", "--district", "Landkreis Vechta", "--data-dir"])
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run kreisnetz serve");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "the node started; stderr:\n{stderr}");
    stderr
}

const LOOPBACK_PORTS: [&str; 4] = [
    "--api-listen",
    "127.0.0.1:0",
    "--federation-listen",
    "127.0.0.1:0",
];

#[tokio::test]
async fn a_taken_federation_port_is_named_as_federation_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        &["--api-listen", "127.0.0.1:0", "--federation-listen", &addr],
        &[],
    );
    assert!(err.contains("federation.listen"), "{err}");
    assert!(!err.contains("set api.listen"), "{err}");
}

#[tokio::test]
async fn a_deleted_district_key_is_named_with_how_to_restore_it() {
    let mut node = TestNode::start("Landkreis Vechta");
    node.stop().await;
    std::fs::remove_file(node.data_dir().join("district.key")).unwrap();
    let err = refused(node.data_dir(), &LOOPBACK_PORTS, &[]);
    assert!(err.contains("district.key is missing"), "{err}");
    assert!(err.contains("Restore district.key"), "{err}");
    assert!(!err.contains("already exists"), "{err}");
}

#[tokio::test]
async fn zero_or_absurd_configuration_values_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("KREISNETZ_FEDERATION__MAX_FRAME_BYTES", "0"),
        ("KREISNETZ_API__MAX_CONNECTIONS", "0"),
        ("KREISNETZ_API__IDLE_TIMEOUT_SECS", "0"),
    ] {
        let err = refused(dir.path(), &LOOPBACK_PORTS, &[(key, value)]);
        let name = key
            .trim_start_matches("KREISNETZ_")
            .replace("__", ".")
            .to_lowercase();
        assert!(err.contains(&name), "{key}: {err}");
    }
}

#[tokio::test]
async fn loose_permissions_on_the_admin_token_or_data_directory_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let mut node = TestNode::start("Landkreis Vechta");
    node.stop().await;
    let set = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let token = node.data_dir().join("admin.token");
    set(&token, 0o644);
    let err = refused(node.data_dir(), &LOOPBACK_PORTS, &[]);
    assert!(
        err.contains("admin.token") && err.contains("chmod 600"),
        "{err}"
    );
    set(&token, 0o600);
    set(node.data_dir(), 0o777);
    let err = refused(node.data_dir(), &LOOPBACK_PORTS, &[]);
    assert!(err.contains("data directory"), "{err}");
    set(node.data_dir(), 0o700);
    node.restart();
    node.stop().await;
}

#[test]
fn a_new_data_directory_needs_the_districts_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(NODE_BIN)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(LOOPBACK_PORTS)
        .output()
        .expect("run kreisnetz serve");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("--district"), "{stderr}");
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing is created without a name"
    );
}

#[tokio::test]
async fn a_taken_port_names_its_cause_once() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let err = refused(
        dir.path(),
        &["--api-listen", &addr, "--federation-listen", "127.0.0.1:0"],
        &[],
    );
    assert_eq!(err.matches("Address already in use").count(), 1, "{err}");
}
