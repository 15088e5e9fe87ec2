//! The change feed: a watcher that disconnects and resumes from its last sequence gets exactly
//! the events it missed, in order.
use futures::StreamExt;
use kreisnetz_proto::v1;
use kreisnetz_proto::v1::change_event::Kind;

use crate::harness::*;

async fn collect(node: &TestNode, after: u64) -> Vec<v1::ChangeEvent> {
    let mut feed = node.feed().await;
    let mut stream = feed
        .watch(v1::WatchRequest {
            after_sequence: after,
            stop_at_head: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while let Some(e) = stream.next().await {
        out.push(e.unwrap());
    }
    out
}

#[tokio::test]
async fn a_resumed_watch_yields_exactly_the_missed_events() {
    let node = TestNode::start("Stadt Delmenhorst");
    let mut api = node.offerings().await;

    // A live watcher sees the first three creates, then disconnects.
    let mut feed = node.feed().await;
    let mut live = feed
        .watch(v1::WatchRequest {
            after_sequence: 0,
            stop_at_head: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut names = Vec::new();
    for i in 0..3 {
        let o = api
            .create_offering(v1::CreateOfferingRequest {
                offering: Some(language_course(&format!("A{i}"))),
                offering_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        names.push(o.name);
    }
    let mut cursor = 0;
    for expected in 1..=3u64 {
        let e = live.next().await.unwrap().unwrap();
        assert_eq!(e.sequence, expected);
        assert_eq!(e.kind(), Kind::OfferingCreated);
        cursor = e.sequence;
    }
    drop(live);

    // While it is away: an update, a delete, two more creates.
    let first = names[0].clone();
    api.update_offering(v1::UpdateOfferingRequest {
        offering: Some(v1::Offering {
            name: first.clone(),
            places_free: Some(1),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["places_free".into()],
        }),
    })
    .await
    .unwrap();
    api.delete_offering(v1::DeleteOfferingRequest {
        name: names[1].clone(),
        etag: String::new(),
    })
    .await
    .unwrap();
    for i in 3..5 {
        api.create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course(&format!("A{i}"))),
            offering_id: String::new(),
        })
        .await
        .unwrap();
    }

    let missed = collect(&node, cursor).await;
    let seqs: Vec<u64> = missed.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, vec![4, 5, 6, 7]);
    let kinds: Vec<Kind> = missed.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        vec![
            Kind::OfferingUpdated,
            Kind::OfferingDeleted,
            Kind::OfferingCreated,
            Kind::OfferingCreated
        ]
    );
    assert_eq!(missed[0].name, first);
    match &missed[0].resource {
        Some(v1::change_event::Resource::Offering(o)) => assert_eq!(o.places_free, Some(1)),
        other => panic!("an update carries the new state, got {other:?}"),
    }
    assert_eq!(missed[1].resource, None, "a deletion carries only the name");
    assert_eq!(missed[1].name, names[1]);

    // From the beginning: everything, once, in order.
    let all = collect(&node, 0).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    // Past the head: nothing yet.
    assert!(collect(&node, 7).await.is_empty());
}

#[tokio::test]
async fn the_feed_survives_a_restart_and_continues_its_numbering() {
    let mut node = TestNode::start("Stadt Wilhelmshaven");
    let mut api = node.offerings().await;
    for i in 0..3 {
        api.create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course(&format!("K{i}"))),
            offering_id: String::new(),
        })
        .await
        .unwrap();
    }
    node.stop().await;
    node.restart();
    let mut api = node.offerings().await;
    api.create_offering(v1::CreateOfferingRequest {
        offering: Some(language_course("K3")),
        offering_id: String::new(),
    })
    .await
    .unwrap();
    let all = collect(&node, 0).await;
    assert_eq!(
        all.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );
    let tail = collect(&node, 2).await;
    assert_eq!(
        tail.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![3, 4]
    );
}

#[tokio::test]
async fn a_live_watcher_ends_cleanly_when_the_node_shuts_down() {
    let mut node = TestNode::start("Landkreis Friesland");
    let mut feed = node.feed().await;
    let mut live = feed
        .watch(v1::WatchRequest {
            after_sequence: 0,
            stop_at_head: false,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    node.stop().await; // asserts a clean exit: an open watch must not block shutdown
    match live.next().await {
        Some(Err(status)) => assert_eq!(status.code(), tonic::Code::Unavailable),
        None => {}
        Some(Ok(e)) => panic!("unexpected event {e:?}"),
    }
}
