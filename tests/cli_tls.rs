//! `kreisnetzctl --node https://...` against a real node that serves its API over TLS
//! (`api.tls_cert`, `api.tls_key`), with a self-signed certificate for `127.0.0.1` and
//! `localhost` made at run time.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

/// A self-signed certificate for `names` and its key, written as `<stem>.crt` / `<stem>.key`.
fn self_signed(dir: &Path, stem: &str, names: &[&str]) -> (PathBuf, PathBuf) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names).expect("self-signed certificate");
    let cert = dir.join(format!("{stem}.crt"));
    let key = dir.join(format!("{stem}.key"));
    std::fs::write(&cert, certified.cert.pem()).expect("write certificate");
    std::fs::write(&key, certified.signing_key.serialize_pem()).expect("write key");
    (cert, key)
}

/// Runs kreisnetzctl in `cwd` with only the given `KREISNETZ_*` variables (none of the
/// developer's own), so that the flags and variables of each case are all there is.
fn ctl(cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(CTL_BIN);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("KREISNETZ_") {
            cmd.env_remove(k);
        }
    }
    cmd.current_dir(cwd)
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("run kreisnetzctl")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn status_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "kreisnetzctl failed ({}): {}",
        o.status,
        stderr(o)
    );
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

#[tokio::test]
async fn a_coordinator_reaches_a_node_over_https_with_the_certificate_to_trust() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key) = self_signed(certs.path(), "api", &["127.0.0.1", "localhost"]);
    let (wrong, _) = self_signed(certs.path(), "wrong", &["127.0.0.1", "localhost"]);
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[
            ("KREISNETZ_API__TLS_CERT", cert.to_str().unwrap()),
            ("KREISNETZ_API__TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let https = node.https_addr();
    let port = https.rsplit_once(':').unwrap().1.to_string();
    let cert = cert.to_str().unwrap();
    let cwd = certs.path();
    let with = |node_url: &str, extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--node", node_url, "--token", node.token.as_str()];
        args.extend_from_slice(extra);
        args.extend(["--timeout", "20", "status", "--json"]);
        args.into_iter().map(String::from).collect()
    };
    let run = |args: Vec<String>, env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ctl(cwd, env, &args)
    };

    // The node's own certificate trusted: the call goes through.
    let status = status_json(&run(with(&https, &["--ca-cert", cert]), &[]));
    assert_eq!(status["district_name"], "Landkreis Vechta");
    assert!(status["district_id"].as_str().unwrap().starts_with("D-"));

    // The same from the environment, and by the certificate's DNS name.
    let by_name = format!("https://localhost:{port}");
    let status = status_json(&run(
        vec![
            "--token".into(),
            node.token.clone(),
            "status".into(),
            "--json".into(),
        ],
        &[("KREISNETZ_NODE", &by_name), ("KREISNETZ_CA_CERT", cert)],
    ));
    assert_eq!(status["district_name"], "Landkreis Vechta");

    // https:// without anything to trust: a usage error that says what to pass.
    let o = run(with(&https, &[]), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca-cert"), "{}", stderr(&o));

    // Another self-signed certificate: the handshake fails, the node is unreachable, and the
    // message names the certificate problem and what --ca-cert must hold.
    let o = run(with(&https, &["--ca-cert", wrong.to_str().unwrap()]), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let text = stderr(&o);
    assert!(
        text.starts_with(&format!("error: cannot reach the node at {https}: "))
            && text.contains("invalid peer certificate"),
        "{text}"
    );
    assert!(text.contains("--ca-cert"), "{text}");

    // Plain http:// to the TLS port: the node closes the connection.
    let o = run(with(&node.addr, &[]), &[]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("https://"), "{}", stderr(&o));

    // --ca-cert with an http:// node would be ignored: refused instead, by flag or variable.
    let o = run(with(&node.addr, &["--ca-cert", cert]), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--ca-cert"), "{}", stderr(&o));
    let o = run(with(&node.addr, &[]), &[("KREISNETZ_CA_CERT", cert)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A CA file that cannot be read, or holds no certificate (here: the key), is named.
    let missing = cwd.join("missing.crt");
    let o = run(with(&https, &["--ca-cert", missing.to_str().unwrap()]), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("--ca-cert {}: cannot read it", missing.display())),
        "{}",
        stderr(&o)
    );
    let o = run(with(&https, &["--ca-cert", key.to_str().unwrap()]), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!(
            "--ca-cert {}: not a PEM certificate",
            key.display()
        )),
        "{}",
        stderr(&o)
    );

    // No token given, but a data directory with the node's admin token next to the working
    // directory: it goes to https://127.0.0.1 as it would to http://127.0.0.1.
    let here = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(here.path().join("kreisnetz-data")).unwrap();
    std::fs::write(
        here.path().join("kreisnetz-data/admin.token"),
        format!("{}\n", node.token),
    )
    .unwrap();
    let o = ctl(
        here.path(),
        &[],
        &[
            "--node",
            &https,
            "--ca-cert",
            cert,
            "--timeout",
            "20",
            "status",
            "--json",
        ],
    );
    assert_eq!(status_json(&o)["district_name"], "Landkreis Vechta");
}

/// kreisnetzctl's variables in the shell that starts the node are not node configuration: the
/// node must not refuse them as unknown fields.
#[tokio::test]
async fn the_cli_environment_does_not_break_the_node() {
    let node = TestNode::start_with_env(
        "Landkreis Wesermarsch",
        &[
            ("KREISNETZ_CA_CERT", "/etc/kreisnetz/api-ca.pem"),
            ("KREISNETZ_TOKEN_FILE", "/root/portal.token"),
            ("KREISNETZ_NODE", "https://wesermarsch.example.org:7700"),
        ],
    );
    assert_eq!(node.status().await.district_name, "Landkreis Wesermarsch");
}

#[tokio::test]
async fn connections_that_never_finish_the_tls_handshake_are_closed() {
    let certs = tempfile::tempdir().expect("temp dir");
    let (cert, key) = self_signed(certs.path(), "api", &["127.0.0.1", "localhost"]);
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[
            ("KREISNETZ_API__TLS_CERT", cert.to_str().unwrap()),
            ("KREISNETZ_API__TLS_KEY", key.to_str().unwrap()),
            ("KREISNETZ_API__HANDSHAKE_TIMEOUT_SECS", "1"),
        ],
    );
    let api = node.addr.trim_start_matches("http://").to_string();
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(tokio::net::TcpStream::connect(&api).await.expect("connect"));
    }
    // Each is closed by the node (end of stream or reset), long before a client would give up.
    for mut conn in silent {
        tokio::time::timeout(std::time::Duration::from_secs(20), async {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 256];
            while let Ok(n) = conn.read(&mut buf).await
                && n > 0
            {}
        })
        .await
        .expect("a connection without a TLS handshake stayed open");
    }
    // The node still answers over TLS.
    let cert = cert.to_str().unwrap();
    let out = ctl(
        certs.path(),
        &[],
        &[
            "--node",
            &node.https_addr(),
            "--ca-cert",
            cert,
            "--token",
            &node.token,
            "status",
            "--json",
        ],
    );
    assert_eq!(status_json(&out)["district_name"], "Landkreis Vechta");
}
