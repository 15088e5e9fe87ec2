//! The API's connections under pressure: out of file descriptors, many idle connections,
//! connections that never send a request. The node stays responsive and calm, and closes what
//! is idle.
use std::time::{Duration, Instant};

use kreisnetz_proto::v1;

use crate::harness::*;

/// CPU time (user + system) the process has used, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The command may contain spaces; fields after it are space-separated. utime and stime are
    // fields 14 and 15 (1-based), in clock ticks (100 per second on Linux).
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

/// Connections the node holds open on its API port (server side, ESTABLISHED).
fn open_api_connections(addr: &str) -> usize {
    let port: u16 = addr.rsplit(':').next().unwrap().parse().unwrap();
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[3] == "01"
        })
        .count()
}

async fn healthy(node: &TestNode) -> bool {
    let Ok(endpoint) = tonic::transport::Channel::from_shared(node.addr.clone()) else {
        return false;
    };
    let call = async {
        let channel = endpoint.connect().await.ok()?;
        tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(5), call).await,
        Ok(Some(_))
    )
}

#[tokio::test]
async fn out_of_file_descriptors_the_node_stays_calm_and_answers_again() {
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[
            ("KREISNETZ_API__HANDSHAKE_TIMEOUT_SECS", "2"),
            ("KREISNETZ_API__IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let pid = node.pid().unwrap();
    assert!(healthy(&node).await);
    let limited = std::process::Command::new("prlimit")
        .args(["--pid", &pid.to_string(), "--nofile=64:64"])
        .status()
        .expect("prlimit");
    assert!(limited.success());

    // 100 idle connections: more than the node has descriptors left.
    let api = node.addr.trim_start_matches("http://").to_string();
    let mut idle = Vec::new();
    for _ in 0..100 {
        idle.push(tokio::net::TcpStream::connect(&api).await.expect("connect"));
    }
    let before = cpu_time(pid);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let used = cpu_time(pid) - before;
    let wall = started.elapsed();
    // Spinning on a failing accept burns a core (about `wall`); a calm node uses a few percent.
    assert!(
        used < wall / 3,
        "the node used {used:?} of CPU in {wall:?} with 100 idle connections; log:\n{}",
        node.log()
    );
    // It answers again once the idle connections are closed, while the clients still hold them.
    eventually("a health check answers", || healthy(&node)).await;
    let log = node.log();
    let warnings = log.matches("accepting connections fails").count();
    assert!(
        (1..=10).contains(&warnings),
        "{warnings} accept warnings (expected a few, rate-limited); log:\n{log}"
    );
    assert!(log.contains("out of file descriptors"), "{log}");
    drop(idle);
}

#[tokio::test]
async fn idle_connections_are_closed_and_open_streams_are_not() {
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[
            ("KREISNETZ_API__HANDSHAKE_TIMEOUT_SECS", "1"),
            ("KREISNETZ_API__IDLE_TIMEOUT_SECS", "2"),
        ],
    );
    let api = node.addr.trim_start_matches("http://").to_string();
    eventually("no API connection open", || async {
        open_api_connections(&api) == 0
    })
    .await;

    // A connection that never sends a request is closed after the handshake timeout.
    let mut silent = tokio::net::TcpStream::connect(&api).await.unwrap();
    // (The server speaks first: its HTTP/2 settings. Then it closes.)
    tokio::time::timeout(Duration::from_secs(20), async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 256];
        while let Ok(n) = silent.read(&mut buf).await
            && n > 0
        {}
    })
    .await
    .expect("a silent connection stayed open");

    // One connection makes a call and idles; another holds a Watch stream open.
    let mut feed = node.feed().await;
    let watch = feed
        .watch(v1::WatchRequest {
            // From the head of an empty feed: nothing to send, the stream waits for news.
            after_sequence: node.status().await.feed_sequence,
            stop_at_head: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut offerings = node.offerings().await;
    offerings
        .list_offerings(v1::ListOfferingsRequest::default())
        .await
        .unwrap();
    assert_eq!(open_api_connections(&api), 2);
    eventually("the idle connection is closed", || async {
        open_api_connections(&api) == 1
    })
    .await;
    // The stream outlives several idle timeouts and still delivers.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        open_api_connections(&api),
        1,
        "the Watch connection was closed"
    );
    drop(watch);
    drop(feed);
    // And the idle connection's client reconnects by itself.
    offerings
        .list_offerings(v1::ListOfferingsRequest::default())
        .await
        .expect("a call after the idle close");
}

/// Whether the server spoke (sent its HTTP/2 settings) on `conn` within `wait`.
async fn served(conn: &mut tokio::net::TcpStream, wait: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    matches!(
        tokio::time::timeout(wait, conn.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

#[tokio::test]
async fn at_the_connection_limit_new_connections_wait_until_one_closes() {
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[
            ("KREISNETZ_API__MAX_CONNECTIONS", "2"),
            ("KREISNETZ_API__HANDSHAKE_TIMEOUT_SECS", "60"),
        ],
    );
    let api = node.addr.trim_start_matches("http://").to_string();
    eventually("no API connection open", || async {
        open_api_connections(&api) == 0
    })
    .await;
    let mut first = tokio::net::TcpStream::connect(&api).await.unwrap();
    let mut second = tokio::net::TcpStream::connect(&api).await.unwrap();
    assert!(served(&mut first, Duration::from_secs(20)).await);
    assert!(served(&mut second, Duration::from_secs(20)).await);
    // The third is connected by the kernel but not taken up by the node.
    let mut third = tokio::net::TcpStream::connect(&api).await.unwrap();
    assert!(!served(&mut third, Duration::from_secs(2)).await);
    drop(first);
    assert!(
        served(&mut third, Duration::from_secs(20)).await,
        "the waiting connection was not taken up after another closed"
    );
}
