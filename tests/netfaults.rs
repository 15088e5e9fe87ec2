//! Real network faults between real node processes: two "hosts" (network namespaces joined by
//! a veth pair, each with its own address), a black-hole partition (both ends of the link
//! down: packets silently dropped, no socket closed), a slow link (`tc tbf`: little bandwidth,
//! so frames queue and arrive late), and a peer that stops reading (its process stopped) —
//! made with `ip netns` and `tc` as root. The federation's keepalive and backoff are set short
//! so a dead link is noticed in seconds. Under `CI=true` a machine that cannot make namespaces
//! fails the test.
//!
//! `tc netem` (delay, loss) would be the first choice, but this machine's kernel has no netem
//! (nor prio, matchall or gact): `tbf` and taking the link down are what it offers.
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{CTL_BIN, NODE_BIN};

/// Two network namespaces `a` and `b` joined by a veth pair, removed on drop.
struct Hosts {
    ns: [String; 2],
    dev: [String; 2],
    addr: [String; 2],
}

impl Hosts {
    /// `None` where namespaces cannot be made (not root): the caller skips, except under CI.
    fn create() -> Option<Hosts> {
        let id = std::process::id() % 10_000;
        let net = 1 + id % 250;
        let hosts = Hosts {
            ns: [format!("kn{id}a"), format!("kn{id}b")],
            dev: [format!("kn{id}va"), format!("kn{id}vb")],
            addr: [format!("10.231.{net}.1"), format!("10.231.{net}.2")],
        };
        let ok = hosts.setup();
        if !ok {
            drop(hosts);
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: this test needs network namespaces (ip netns, run as root)"
            );
            eprintln!("SKIPPED: cannot create network namespaces here (needs root and ip/tc)");
            return None;
        }
        Some(hosts)
    }

    fn setup(&self) -> bool {
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let [a, b] = &self.ns;
        let [va, vb] = &self.dev;
        ip(&["netns", "add", a])
            && ip(&["netns", "add", b])
            && ip(&["link", "add", va, "type", "veth", "peer", "name", vb])
            && ip(&["link", "set", va, "netns", a])
            && ip(&["link", "set", vb, "netns", b])
            && (0..2).all(|i| {
                let ns = &self.ns[i];
                ip(&[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("{}/30", self.addr[i]),
                    "dev",
                    &self.dev[i],
                ]) && ip(&["-n", ns, "link", "set", &self.dev[i], "up"])
                    && ip(&["-n", ns, "link", "set", "lo", "up"])
            })
    }

    /// Takes the link down (`true`: both ends; packets are dropped, sockets stay open) or
    /// brings it up again.
    fn black_hole(&self, on: bool) {
        for i in 0..2 {
            let out = Command::new("ip")
                .args(["-n", &self.ns[i], "link", "set", &self.dev[i]])
                .arg(if on { "down" } else { "up" })
                .output()
                .expect("ip link");
            assert!(out.status.success(), "ip link: {out:?}");
        }
    }

    /// A slow link both ways (`tc tbf`: `rate` bandwidth, queued packets wait up to 300 ms),
    /// or back to normal with `None`.
    fn slow(&self, rate: Option<&str>) {
        for i in 0..2 {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &self.ns[i], "tc", "qdisc"]);
            match rate {
                Some(rate) => cmd.args([
                    "replace",
                    "dev",
                    &self.dev[i],
                    "root",
                    "tbf",
                    "rate",
                    rate,
                    "burst",
                    "32kbit",
                    "latency",
                    "300ms",
                ]),
                None => cmd.args(["del", "dev", &self.dev[i], "root"]),
            };
            let out = cmd.output().expect("tc");
            assert!(out.status.success(), "tc {rate:?}: {out:?}");
        }
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for ns in &self.ns {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A node process running inside one of the namespaces.
struct HostNode {
    ns: String,
    dir: tempfile::TempDir,
    child: Option<Child>,
    federation: String,
}

impl HostNode {
    fn start(hosts: &Hosts, i: usize, district: &str) -> HostNode {
        let dir = tempfile::tempdir().unwrap();
        let federation = format!("{}:7701", hosts.addr[i]);
        let log = std::fs::File::create(dir.path().join("node.log")).unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &hosts.ns[i],
                NODE_BIN,
                "serve",
                "--data-dir",
            ])
            .arg(dir.path())
            .args([
                "--district",
                district,
                "--api-listen",
                "127.0.0.1:7700",
                "--federation-listen",
                &federation,
            ])
            .env("RUST_LOG", "info")
            .env("KREISNETZ_API__SHUTDOWN_GRACE_SECS", "3")
            .env("KREISNETZ_FEDERATION__KEEPALIVE_SECS", "1")
            .env("KREISNETZ_FEDERATION__KEEPALIVE_TIMEOUT_SECS", "2")
            .env("KREISNETZ_FEDERATION__BACKOFF_MIN_MS", "100")
            .env("KREISNETZ_FEDERATION__BACKOFF_MAX_MS", "1000")
            .env("KREISNETZ_METRICS__ENABLED", "false")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start kreisnetz in a namespace");
        let node = HostNode {
            ns: hosts.ns[i].clone(),
            dir,
            child: Some(child),
            federation,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !node.dir.path().join("api.addr").exists() {
            assert!(
                Instant::now() < deadline,
                "node did not start; log:\n{}",
                node.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        node
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }

    /// `kreisnetzctl` inside the namespace, against this node.
    fn ctl(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns, CTL_BIN])
            .args(["--node", "http://127.0.0.1:7700", "--token-file"])
            .arg(self.dir.path().join("admin.token"))
            .args(args)
            .output()
            .expect("kreisnetzctl")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.ctl(&all);
        assert!(out.status.success(), "{args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON")
    }

    fn add(&self, title: &str) {
        let out = self.ctl(&[
            "offering",
            "add",
            "--title",
            title,
            "--category",
            "language_course",
            "--target-group",
            "refugees",
            "--provider",
            "VHS",
            "--municipality",
            "Brake",
        ]);
        assert!(out.status.success(), "add {title}: {out:?}");
    }

    fn titles(&self) -> Vec<String> {
        let list = self.json(&["offering", "list", "--page-size", "1000"]);
        list["offerings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o["title"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn peer_connected(&self) -> bool {
        self.json(&["peers"])["peers"]
            .as_array()
            .and_then(|p| p.first())
            .is_some_and(|p| p["connected"] == true)
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            // `ip netns exec` execs the node, so the child's PID is the node's.
            let _ = Command::new("kill")
                .args([sig, &c.id().to_string()])
                .status();
        }
    }
}

impl Drop for HostNode {
    fn drop(&mut self) {
        self.signal("-CONT");
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn until(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn link(a: &HostNode, b: &HostNode) {
    let (sa, sb) = (a.json(&["status"]), b.json(&["status"]));
    let id = |s: &serde_json::Value, k: &str| s[k].as_str().unwrap().to_owned();
    let out = a.ctl(&[
        "peer",
        "add",
        &id(&sb, "node_id"),
        "--address",
        &b.federation,
    ]);
    assert!(out.status.success(), "{out:?}");
    let out = b.ctl(&["peer", "add", &id(&sa, "node_id")]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        a.ctl(&["district", "trust", &id(&sb, "district_id")])
            .status
            .success()
    );
    assert!(
        b.ctl(&["district", "trust", &id(&sa, "district_id")])
            .status
            .success()
    );
}

#[test]
fn a_black_hole_a_slow_link_and_a_stalled_peer_heal_without_losing_a_write() {
    let Some(hosts) = Hosts::create() else {
        return;
    };
    let a = HostNode::start(&hosts, 0, "Landkreis Wesermarsch");
    let b = HostNode::start(&hosts, 1, "Landkreis Friesland");
    link(&a, &b);
    a.add("Deutschkurs Brake 1");
    until("B has A's first offering", Duration::from_secs(30), || {
        b.titles().contains(&"Deutschkurs Brake 1".to_owned())
    });

    // A black hole: every packet is dropped, no connection is closed. Writes are still
    // acknowledged locally, and A notices the dead link by its keepalive.
    hosts.black_hole(true);
    a.add("Deutschkurs Brake 2");
    until("A sees B disconnected", Duration::from_secs(20), || {
        !a.peer_connected()
    });
    assert!(!b.titles().contains(&"Deutschkurs Brake 2".to_owned()));
    // Healed: they reconnect and converge.
    hosts.black_hole(false);
    until(
        "B has the write made during the partition",
        Duration::from_secs(30),
        || b.titles().contains(&"Deutschkurs Brake 2".to_owned()),
    );

    // A slow link, writes on both sides: they arrive late, but they arrive.
    hosts.slow(Some("256kbit"));
    for i in 0..4 {
        a.add(&format!("Sprachcafé Brake {i}"));
        b.add(&format!("Sprachcafé Jever {i}"));
    }
    let expected: Vec<String> = (0..4)
        .flat_map(|i| {
            [
                format!("Sprachcafé Brake {i}"),
                format!("Sprachcafé Jever {i}"),
            ]
        })
        .collect();
    until(
        "both have every write over the slow link",
        Duration::from_secs(60),
        || {
            let (ta, tb) = (a.titles(), b.titles());
            expected.iter().all(|t| ta.contains(t) && tb.contains(t))
        },
    );
    hosts.slow(None);

    // A peer that stops reading (stopped process): A drops it and keeps serving; after it
    // continues, they converge.
    b.signal("-STOP");
    for i in 0..5 {
        a.add(&format!("Integrationskurs Brake {i}"));
    }
    until("A drops the stalled peer", Duration::from_secs(20), || {
        !a.peer_connected()
    });
    b.signal("-CONT");
    until(
        "B catches up after it continues",
        Duration::from_secs(60),
        || {
            let tb = b.titles();
            (0..5).all(|i| tb.contains(&format!("Integrationskurs Brake {i}")))
        },
    );
    assert_eq!(a.titles().len(), b.titles().len(), "converged");
    drop(a);
    drop(b);
    drop(hosts);
}
