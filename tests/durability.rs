//! Nothing acknowledged is lost: across a clean restart, and across SIGKILL right after
//! acknowledgements (no shutdown, no final flush).
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kreisnetz_proto::v1;
use tokio::sync::Mutex;

use crate::harness::*;

#[tokio::test]
async fn a_clean_restart_keeps_everything() {
    let mut node = TestNode::start("Landkreis Cloppenburg");
    let mut contacts = node.contacts().await;
    let coach = contacts
        .create_contact(v1::CreateContactRequest {
            contact: Some(counsellor("Jona Muster")),
            contact_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut api = node.offerings().await;
    for i in 0..20 {
        let mut o = language_course(&format!("Kurs {i}"));
        o.contact_ids = vec![coach.id.clone()];
        api.create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .unwrap();
    }
    let before = list_all(&node).await;
    let status_before = node.status().await;
    node.stop().await;
    assert!(node.log().contains("stopped cleanly"), "{}", node.log());
    node.restart();
    assert_eq!(list_all(&node).await, before);
    let status_after = node.status().await;
    assert_eq!(
        status_after.district_id, status_before.district_id,
        "identity is kept"
    );
    assert_eq!(status_after.node_id, status_before.node_id);
    assert_eq!(status_after.heads, status_before.heads);
    assert_eq!(status_after.feed_sequence, 21);
    assert_eq!(status_after.contacts, 1);
}

#[tokio::test]
async fn sigkill_right_after_acknowledged_writes_loses_none_of_them() {
    let mut node = TestNode::start("Landkreis Oldenburg");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    // Eight clients write as fast as they can; the node is killed while they do.
    let mut writers = Vec::new();
    for w in 0..8 {
        let mut api = node.offerings().await;
        let acknowledged = acknowledged.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let req = v1::CreateOfferingRequest {
                    offering: Some(language_course(&format!("Writer {w} Kurs {i}"))),
                    offering_id: String::new(),
                };
                match api.create_offering(req).await {
                    Ok(resp) => acknowledged.lock().await.push(resp.into_inner().id),
                    Err(_) => break, // the node is gone
                }
                i += 1;
            }
        }));
    }
    // Let acknowledgements pile up, then kill without warning.
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if acknowledged.lock().await.len() >= 300 {
            break;
        }
    }
    node.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        let _ = w.await;
    }
    let acked = acknowledged.lock().await.clone();
    assert!(acked.len() >= 300);

    node.restart();
    let stored: std::collections::HashSet<String> =
        list_all(&node).await.into_iter().map(|o| o.id).collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates lost after SIGKILL: {lost:?}",
        lost.len(),
        acked.len()
    );
    // The feed has an event for every stored offering, numbered without gaps.
    let status = node.status().await;
    assert_eq!(status.feed_sequence as usize, stored.len());
}
