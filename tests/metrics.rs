//! The Prometheus metrics endpoint of a real node process.
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

/// The address in `<data-dir>/metrics.addr`, which the node writes before `api.addr`.
fn metrics_addr(node: &TestNode) -> String {
    let dir = node.config_path();
    let file = dir.parent().expect("data dir").join("metrics.addr");
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}; log:\n{}", file.display(), node.log()))
        .trim()
        .to_string()
}

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

/// A bare HTTP/1.1 request over a fresh connection (`Connection: close`, read to the end).
async fn get(addr: &str, path: &str, accept: Option<&str>) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics endpoint");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read reply");
    let text = String::from_utf8(raw).expect("UTF-8 reply");
    let (head, body) = text.split_once("\r\n\r\n").expect("header end");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
        .map(|(_, value)| value.trim().to_string())
        .unwrap_or_default();
    Reply {
        status,
        content_type,
        body: body.to_string(),
    }
}

/// The metrics without labels, there from the start. (A metric with labels shows once it has a
/// series: `connected_peers_show_in_the_metrics` and the unit tests in `metrics.rs`.)
const NAMES: [&str; 2] = [
    "kreisnetz_peers_connected",
    "kreisnetz_storage_flush_seconds",
];

#[tokio::test]
async fn a_node_serves_its_metrics_and_removes_the_address_file_when_it_stops() {
    let mut node = TestNode::start("Landkreis Vechta");
    let addr = metrics_addr(&node);

    // Prometheus asks for OpenMetrics.
    let open = get(
        &addr,
        "/metrics",
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(open.status, 200, "{}", open.body);
    assert_eq!(
        open.content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    for name in NAMES {
        assert!(
            open.body.contains(&format!("# TYPE {name} ")),
            "{name} missing in:\n{}",
            open.body
        );
    }
    assert!(open.body.contains("kreisnetz_peers_connected 0"));
    assert!(open.body.ends_with("# EOF\n"), "{}", open.body);

    // Anything else (curl, older scrapers) gets the classic text format.
    let plain = get(&addr, "/metrics", None).await;
    assert_eq!(plain.status, 200);
    assert_eq!(
        plain.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    for name in NAMES {
        assert!(plain.body.contains(name), "{name} missing");
    }
    assert!(!plain.body.contains("# EOF"));

    // A write is flushed by the writer, which reports the flush.
    crate::federation::create(&node, "Sprachcafé Vechta").await;
    let after = get(&addr, "/metrics", None).await;
    let flushes: f64 = after
        .body
        .lines()
        .find_map(|l| l.strip_prefix("kreisnetz_storage_flush_seconds_count "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(flushes >= 1.0, "{}", after.body);

    assert_eq!(get(&addr, "/", None).await.status, 404);

    // An idle scraper connection does not keep the node from stopping, and is closed.
    let mut idle = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let data_dir = node.config_path().parent().expect("data dir").to_path_buf();
    node.stop().await;
    assert!(!data_dir.join("metrics.addr").exists());
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        idle.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the idle metrics connection is still open");
}

#[tokio::test]
async fn connected_peers_show_in_the_metrics() {
    let a = TestNode::start("Landkreis Ammerland");
    let b = TestNode::start("Landkreis Friesland");
    b.accept(&a).await;
    let theirs = a.status().await;
    b.trust(&theirs.district_id, &a.district).await;
    a.dial(&b).await;
    let b_id = b.status().await.node_id;
    let addr = metrics_addr(&a);
    eventually("A's metrics count B as connected", || async {
        let body = get(&addr, "/metrics", None).await.body;
        body.contains("kreisnetz_peers_connected 1")
            && body.contains(&format!(
                "kreisnetz_peer_documents_behind{{peer=\"{b_id}\"}}"
            ))
    })
    .await;
}
