//! Faults an operator meets: a database that vanished, was damaged or belongs to another
//! district; a full disk; a change feed that outgrew its retention; a stop under load. Each
//! is tried on real node processes the way it happens on a real machine.
use std::time::Duration;

use futures::StreamExt;
use kreisnetz_proto::v1;
use tonic_types::StatusExt;

use crate::harness::*;

/// Everything the feed holds after `after` (stop at head), or the refusal.
async fn watch(
    node: &TestNode,
    after: u64,
    epoch: u64,
) -> Result<Vec<v1::ChangeEvent>, tonic::Status> {
    let mut stream = node
        .feed()
        .await
        .watch(v1::WatchRequest {
            after_sequence: after,
            stop_at_head: true,
            epoch,
        })
        .await?
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = stream.next().await {
        out.push(e?);
    }
    Ok(out)
}

/// The `ErrorInfo` reason of a refused cursor.
fn reason(status: &tonic::Status) -> String {
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

#[tokio::test]
async fn a_missing_database_is_refused_and_recreated_only_on_request() {
    let mut node = TestNode::start("Landkreis Wesermarsch");
    try_create(&node, "Deutschkurs A1 Brake").await.unwrap();
    let events = watch(&node, 0, 0).await.unwrap();
    let (old_epoch, old_head) = (events[0].epoch, events.last().unwrap().sequence);
    assert_ne!(old_epoch, 0);
    let old_token = node.token.clone();
    node.stop().await;

    // The operator moves the database away (or loses it): the node refuses to start on an
    // empty one, and says what to do.
    std::fs::rename(node.dir().join("db"), node.dir().join("db.moved")).unwrap();
    let refused = node.serve_refused(&[]);
    assert!(refused.contains("no database"), "{refused}");
    assert!(refused.contains("--recreate-database"), "{refused}");
    assert!(
        !node.dir().join("db").join("db").exists(),
        "nothing created"
    );
    let token_file = std::fs::read_to_string(node.dir().join("admin.token")).unwrap();
    assert_eq!(token_file.trim(), old_token, "the admin token is untouched");

    // Put back, it starts as before: same feed, same epoch.
    std::fs::rename(node.dir().join("db.moved"), node.dir().join("db")).unwrap();
    node.restart();
    assert_eq!(node.status().await.feed_epoch, old_epoch);
    assert_eq!(watch(&node, old_head, old_epoch).await.unwrap().len(), 0);
    node.stop().await;

    // Recreated on purpose: the old database is kept aside, the feed has a new epoch, and a
    // client's old cursor is told to start over instead of waiting for sequences that will
    // never come.
    std::fs::rename(node.dir().join("db"), node.dir().join("db.lost")).unwrap();
    node.restart_with(&["--recreate-database"]);
    let status = node.status().await;
    assert_ne!(status.feed_epoch, old_epoch);
    let refused = watch(&node, old_head, old_epoch).await.unwrap_err();
    assert_eq!(reason(&refused), "FEED_EPOCH_CHANGED");
    let info = refused.get_details_error_info().unwrap();
    assert_eq!(info.metadata["epoch"], status.feed_epoch.to_string());
    // An old client that sends no epoch: its cursor is beyond the new head.
    let refused = watch(&node, old_head + 100, 0).await.unwrap_err();
    assert_eq!(reason(&refused), "FEED_CURSOR_AHEAD");
    let out = node.ctl(&["watch", "--once", "--after", &(old_head + 100).to_string()]);
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("current state"), "{stderr}");
    // And from the new epoch's start, it works.
    try_create(&node, "Deutschkurs A2 Brake").await.unwrap();
    let events = watch(&node, 0, status.feed_epoch).await.unwrap();
    assert_eq!(events.last().unwrap().epoch, status.feed_epoch);
    node.stop().await;

    // --recreate-database never deletes: an existing database is moved aside.
    node.restart_with(&["--recreate-database"]);
    let aside: Vec<_> = std::fs::read_dir(node.dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("db.old-"))
        .collect();
    assert_eq!(aside.len(), 1, "the replaced database is kept aside");
}

#[tokio::test]
async fn a_damaged_database_is_reported_never_served() {
    let mut node = TestNode::start("Stadt Delmenhorst");
    // A value long enough to find in the database file.
    let marker = "Sprachpatenschaft Delmenhorst-Deichhorst";
    for i in 0..5 {
        try_create(&node, &format!("{marker} {i}")).await.unwrap();
    }
    node.stop().await;
    let out = std::process::Command::new(NODE_BIN)
        .args(["check", "--data-dir"])
        .arg(node.dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK"));

    // Four bytes overwritten inside a stored value (a disk error, a bad copy).
    let file = node.dir().join("db").join("db");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes
        .windows(marker.len())
        .position(|w| w == marker.as_bytes())
        .expect("the title is in the database file");
    bytes[at + 4..at + 8].copy_from_slice(b"\xde\xad\xbe\xef");
    std::fs::write(&file, &bytes).unwrap();

    let refused = node.serve_refused(&[]);
    assert!(refused.contains("damaged"), "{refused}");
    assert!(refused.contains("kreisnetz check"), "{refused}");
    let out = std::process::Command::new(NODE_BIN)
        .args(["check", "--data-dir"])
        .arg(node.dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // sled's own checksums or ours (a value's checksum mismatch): either way it is named.
    assert!(
        stderr.contains("DAMAGED: stored data is corrupt"),
        "{stderr}"
    );
}

#[tokio::test]
async fn another_districts_key_is_refused() {
    let mut ammerland = TestNode::start("Landkreis Ammerland");
    let mut friesland = TestNode::start("Landkreis Friesland");
    ammerland.stop().await;
    friesland.stop().await;
    std::fs::copy(
        friesland.dir().join("district.key"),
        ammerland.dir().join("district.key"),
    )
    .unwrap();
    let refused = ammerland.serve_refused(&[]);
    assert!(refused.contains("belongs to district"), "{refused}");
    assert!(refused.contains("district.key"), "{refused}");
}

#[tokio::test]
async fn the_feed_keeps_what_retention_says_and_old_cursors_start_over() {
    let node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[("KREISNETZ_STORAGE__FEED_RETENTION_EVENTS", "5")],
    );
    for i in 0..12 {
        try_create(&node, &format!("Integrationskurs {i}"))
            .await
            .unwrap();
    }
    let mut status = node.status().await;
    for _ in 0..200 {
        if status.feed_floor >= 7 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = node.status().await;
    }
    assert_eq!(status.feed_floor, 7, "12 events, 5 kept");
    assert_eq!(status.feed_events, 5);
    let refused = watch(&node, 0, status.feed_epoch).await.unwrap_err();
    assert_eq!(reason(&refused), "FEED_PRUNED");
    let kept = watch(&node, 7, status.feed_epoch).await.unwrap();
    assert_eq!(
        kept.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![8, 9, 10, 11, 12]
    );
}

/// A tmpfs of `mib` MiB mounted on a fresh temporary directory, unmounted on drop. `None`
/// where mounting is not permitted (not root): the test then says so and passes, except under
/// `CI=true`, where it fails.
struct SmallDisk {
    dir: Option<tempfile::TempDir>,
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}M"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true: this test needs to mount a tmpfs (run as root)"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk {
            path: dir.path().to_path_buf(),
            dir: Some(dir),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
        drop(self.dir.take());
    }
}

#[tokio::test]
async fn a_full_disk_fails_writes_clearly_and_the_node_recovers_when_space_is_back() {
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let data = tempfile::TempDir::new_in(&disk.path).unwrap();
    let mut node = TestNode::launched("Landkreis Cloppenburg", data);
    let mut acknowledged = Vec::new();
    for i in 0..5 {
        acknowledged.push(
            try_create(&node, &format!("Sprachcafé {i}"))
                .await
                .unwrap()
                .name,
        );
    }
    // Fill the disk.
    let filler = disk.path.join("filler");
    let _ = std::process::Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=64"])
        .arg(format!("of={}", filler.display()))
        .stderr(std::process::Stdio::null())
        .status();
    // Writes fail, clearly (UNAVAILABLE: retry), once the database needs new space.
    let long = "x".repeat(3000);
    let mut failed = None;
    for i in 0..400 {
        let mut o = language_course(&format!("Berufssprachkurs {i}"));
        o.description = long.clone();
        match node
            .offerings()
            .await
            .create_offering(v1::CreateOfferingRequest {
                offering: Some(o),
                offering_id: String::new(),
            })
            .await
        {
            Ok(r) => acknowledged.push(r.into_inner().name),
            Err(status) => {
                failed = Some(status);
                break;
            }
        }
    }
    let failed = failed.expect("a write failed once the disk was full");
    assert_eq!(failed.code(), tonic::Code::Unavailable, "{failed:?}");
    // Reads go on.
    assert!(list_all(&node).await.len() >= 5);

    // Space is back: writes work again without a restart.
    std::fs::remove_file(&filler).unwrap();
    let mut recovered = None;
    for _ in 0..50 {
        match try_create(&node, "Sprachcafé danach").await {
            Ok(o) => {
                recovered = Some(o.name);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    acknowledged.push(recovered.expect("writes work again once space is back"));
    // A clean stop, and every acknowledged write is there after a restart.
    node.stop().await;
    node.restart();
    let names: std::collections::BTreeSet<String> =
        list_all(&node).await.into_iter().map(|o| o.name).collect();
    for name in &acknowledged {
        assert!(names.contains(name), "acknowledged {name} is lost");
    }
    drop(node);
    drop(disk);
}

#[tokio::test]
async fn a_stop_under_write_load_is_bounded_by_the_grace_period() {
    // Two nodes, so the sync thread has a backlog to send when the stop comes.
    let mut a = TestNode::start("Landkreis Oldenburg");
    let b = TestNode::start("Stadt Oldenburg (Oldb)");
    a.dial(&b).await;
    b.dial(&a).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..16 {
        let api = a.offerings().await;
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut api = api;
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = api
                    .create_offering(v1::CreateOfferingRequest {
                        offering: Some(language_course(&format!("Kurs {w}-{i}"))),
                        offering_id: String::new(),
                    })
                    .await;
                i += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    // The harness sets api.shutdown_grace_secs = 3.
    let (took, clean) = a.stop_timed().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    assert!(clean, "SIGTERM under load exits 0; log:\n{}", a.log());
    assert!(
        took < Duration::from_secs(3 + 2 + 3),
        "stopped after {took:?}: grace 3 s + 2 s (+3 s for a slow test machine); log:\n{}",
        a.log()
    );
}

#[tokio::test]
async fn memory_never_runs_ahead_of_disk_when_storage_fails() {
    let control = tempfile::NamedTempFile::new().unwrap();
    let path = control.path().to_str().unwrap().to_owned();
    let mut node = TestNode::start_with_env(
        "Landkreis Vechta",
        &[("KREISNETZ_STORAGE_FAULTS", path.as_str())],
    );
    let kept = try_create(&node, "Erstorientierungskurs Lohne")
        .await
        .unwrap();
    let before = watch(&node, 0, 0).await.unwrap();

    // Storage refuses commits: the write fails, and nothing of it is seen anywhere.
    std::fs::write(&path, "commit").unwrap();
    let mut api = node.offerings().await;
    let refused = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("Sprachkurs, der nicht gespeichert wird")),
            offering_id: "6d2a1f0e-4c57-4b7e-9a51-0c1f0f3b9d11".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    let get = api
        .get_offering(v1::GetOfferingRequest {
            name: "6d2a1f0e-4c57-4b7e-9a51-0c1f0f3b9d11".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(get.code(), tonic::Code::NotFound);
    assert_eq!(list_all(&node).await.len(), 1);
    assert_eq!(watch(&node, 0, 0).await.unwrap().len(), before.len());
    // An update of the kept record fails the same way and leaves it as it was.
    let mut changed = kept.clone();
    changed.title = "Geändert, aber nicht gespeichert".into();
    let refused = api
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(changed),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert_eq!(list_all(&node).await[0].title, kept.title);

    // Storage is back: writes go on, the feed continues without a gap.
    std::fs::write(&path, "").unwrap();
    let later = try_create(&node, "Sprachcafé Lohne").await.unwrap();
    let events = watch(&node, 0, 0).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    // After a restart, exactly the acknowledged writes are there.
    node.stop().await;
    node.restart();
    let mut names: Vec<String> = list_all(&node).await.into_iter().map(|o| o.name).collect();
    names.sort();
    let mut expected = vec![kept.name, later.name];
    expected.sort();
    assert_eq!(names, expected);
}
