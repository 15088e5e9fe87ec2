//! Federation between real node processes over pinned mutual TLS on loopback.
use kreisnetz_proto::v1;
use tonic::Code;

use crate::harness::*;

/// Links `a` to `b`: `a` dials, `b` accepts, and each trusts the other's district.
pub(crate) async fn link(a: &TestNode, b: &TestNode) {
    b.accept(a).await;
    let theirs = a.status().await;
    b.trust(&theirs.district_id, &a.district).await;
    a.dial(b).await;
}

pub(crate) async fn create(node: &TestNode, title: &str) -> v1::Offering {
    try_create(node, title).await.expect("create")
}

pub(crate) async fn update_fields(
    node: &TestNode,
    offering: v1::Offering,
    field: &str,
) -> v1::Offering {
    node.offerings()
        .await
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(offering),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![field.to_string()],
            }),
        })
        .await
        .expect("update")
        .into_inner()
}

async fn has_title(node: &TestNode, title: &str) -> bool {
    list_all(node).await.iter().any(|o| o.title == title)
}

#[tokio::test]
async fn a_line_of_three_converges_through_the_middle_node() {
    let a = TestNode::start("Landkreis Vechta");
    let b = TestNode::start("Landkreis Cloppenburg");
    let c = TestNode::start("Landkreis Oldenburg");
    link(&a, &b).await;
    link(&b, &c).await;
    // A and C have no link, but trust each other's districts: B relays.
    let (sa, sc) = (a.status().await, c.status().await);
    a.trust(&sc.district_id, "Landkreis Oldenburg").await;
    c.trust(&sa.district_id, "Landkreis Vechta").await;

    let from_a = create(&a, "Sprachkurs in Vechta").await;
    let from_c = create(&c, "Jobberatung in Wildeshausen").await;
    eventually("C has A's offering (via B)", || {
        has_title(&c, "Sprachkurs in Vechta")
    })
    .await;
    eventually("A has C's offering (via B)", || {
        has_title(&a, "Jobberatung in Wildeshausen")
    })
    .await;
    eventually("B has both", || async {
        has_title(&b, "Sprachkurs in Vechta").await
            && has_title(&b, "Jobberatung in Wildeshausen").await
    })
    .await;

    // Replicas say whose they are, and are read-only.
    let on_c = list_all(&c)
        .await
        .into_iter()
        .find(|o| o.id == from_a.id)
        .unwrap();
    assert_eq!(on_c.district_id, sa.district_id);
    assert_eq!(on_c.name, from_a.name);
    let err = c
        .offerings()
        .await
        .delete_offering(v1::DeleteOfferingRequest {
            name: from_a.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = c
        .offerings()
        .await
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                id: from_a.id.clone(),
                title: "übernommen".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // An update and a delete travel too, and the change feed on C shows them.
    a.offerings()
        .await
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name: from_a.name.clone(),
                places_free: Some(0),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["places_free".into()],
            }),
        })
        .await
        .unwrap();
    eventually("the update reaches C", || async {
        list_all(&c)
            .await
            .iter()
            .any(|o| o.id == from_a.id && o.places_free == Some(0))
    })
    .await;
    c.offerings()
        .await
        .delete_offering(v1::DeleteOfferingRequest {
            name: from_c.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    eventually("the delete reaches A", || async {
        !has_title(&a, "Jobberatung in Wildeshausen").await
    })
    .await;

    let mut feed = c.feed().await;
    let mut stream = feed
        .watch(v1::WatchRequest {
            after_sequence: 0,
            stop_at_head: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut remote_kinds = Vec::new();
    while let Some(e) = futures::StreamExt::next(&mut stream).await {
        let e = e.unwrap();
        if e.district_id == sa.district_id && e.name == from_a.name {
            remote_kinds.push(e.kind());
        }
    }
    use v1::change_event::Kind;
    assert_eq!(
        remote_kinds,
        vec![Kind::OfferingCreated, Kind::OfferingUpdated]
    );

    // Admin views: documents of all three districts everywhere; peers connected.
    let docs = c.documents().await;
    assert_eq!(docs.len(), 3, "{docs:?}");
    assert!(
        docs.iter()
            .any(|d| d.own && d.district_name == "Landkreis Oldenburg")
    );
    let peers = b.peers().await;
    assert_eq!(peers.len(), 2);
    assert!(peers.iter().all(|p| p.connected), "{peers:?}");
    let status = b.status().await;
    assert_eq!((status.peers_configured, status.peers_connected), (2, 2));
}

#[tokio::test]
async fn a_node_that_is_not_configured_cannot_connect() {
    let a = TestNode::start("Landkreis Friesland");
    let stranger = TestNode::start("Stadt Wilhelmshaven");
    create(&a, "Nur für Freunde").await;
    // The stranger knows A, but A does not know the stranger.
    stranger.dial(&a).await;
    eventually("the stranger's dial fails with a reason", || async {
        stranger
            .peers()
            .await
            .iter()
            .any(|p| !p.connected && !p.last_error.is_empty())
            || a.log()
                .contains("refused a TLS peer that is not configured")
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!has_title(&stranger, "Nur für Freunde").await);
    assert!(a.peers().await.is_empty());
    assert!(
        a.log()
            .contains("refused a TLS peer that is not configured"),
        "{}",
        a.log()
    );
}

#[tokio::test]
async fn a_node_that_was_down_catches_up_with_only_what_it_missed() {
    let a = TestNode::start("Landkreis Ammerland");
    let mut b = TestNode::start("Landkreis Wesermarsch");
    link(&a, &b).await;
    // A sizeable document first, fully synced.
    let mut api = a.offerings().await;
    for i in 0..300 {
        let mut o = language_course(&format!("Kurs {i:03}"));
        o.description = format!(
            "Kurs {i} mit einer längeren Beschreibung, damit das Dokument Gewicht hat. {}",
            "x".repeat(150)
        );
        api.create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .unwrap();
    }
    eventually("B has all 300", || async {
        list_all(&b).await.len() == 300
    })
    .await;

    b.stop().await;
    for i in 0..3 {
        create(&a, &format!("Verpasst {i}")).await;
    }
    b.restart();
    eventually("B catches up", || async { list_all(&b).await.len() == 303 }).await;
    let a_id = a.status().await.node_id;
    let received = b
        .peers()
        .await
        .into_iter()
        .find(|p| p.node_id == a_id)
        .unwrap()
        .bytes_received;
    let doc_size: u64 = {
        let sa = a.status().await;
        let docs = a.documents().await;
        let own = docs
            .iter()
            .find(|d| d.document_id == sa.district_id)
            .unwrap();
        // What the writer stores (chunks, compressed); its description text alone is ~60 KB.
        assert!(own.size_bytes > 0, "{own:?}");
        own.size_bytes.max(300 * 200)
    };
    assert!(
        received < doc_size / 4,
        "B received {received} bytes after the restart; the document is at least {doc_size} bytes"
    );
}

#[tokio::test]
async fn a_cut_link_heals_and_the_nodes_converge() {
    let a = TestNode::start("Stadt Delmenhorst");
    let b = TestNode::start("Stadt Oldenburg (Oldb)");
    // A reaches B only through a proxy the test controls.
    let proxy = FaultProxy::start(&b.federation_addr).await;
    b.accept(&a).await;
    b.trust(&a.status().await.district_id, "Stadt Delmenhorst")
        .await;
    let sb = b.status().await;
    a.node_client()
        .await
        .add_peer(v1::AddPeerRequest {
            node_id: sb.node_id.clone(),
            address: proxy.addr.clone(),
        })
        .await
        .unwrap();
    a.trust(&sb.district_id, "Stadt Oldenburg (Oldb)").await;
    create(&a, "Vor dem Schnitt").await;
    eventually("B has it", || has_title(&b, "Vor dem Schnitt")).await;

    proxy.cut().await;
    create(&a, "Während des Schnitts").await;
    create(&b, "Auf der anderen Seite").await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        !has_title(&b, "Während des Schnitts").await,
        "the link is cut"
    );
    proxy.heal();
    eventually("B gets what A wrote during the cut", || {
        has_title(&b, "Während des Schnitts")
    })
    .await;
    eventually("A gets what B wrote during the cut", || {
        has_title(&a, "Auf der anderen Seite")
    })
    .await;
    assert_eq!(titles_by_district(&a).await, titles_by_district(&b).await);
}

#[tokio::test]
async fn the_nine_weser_ems_districts_in_a_ring_all_see_everything() {
    let names = [
        "Landkreis Ammerland",
        "Landkreis Cloppenburg",
        "Landkreis Friesland",
        "Landkreis Oldenburg",
        "Landkreis Vechta",
        "Landkreis Wesermarsch",
        "Stadt Oldenburg (Oldb)",
        "Stadt Delmenhorst",
        "Stadt Wilhelmshaven",
    ];
    let nodes: Vec<TestNode> = names.iter().map(|n| TestNode::start(n)).collect();
    let mut expected = 0;
    for node in &nodes {
        let out = node.ctl(&["--json", "sample", "load"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        expected += list_all(node).await.len();
    }
    // A ring: every node dials the next one, so most districts reach most others only by relay.
    for i in 0..nodes.len() {
        link(&nodes[i], &nodes[(i + 1) % nodes.len()]).await;
    }
    let statuses: Vec<v1::NodeStatus> =
        futures::future::join_all(nodes.iter().map(|n| n.status())).await;
    for (i, node) in nodes.iter().enumerate() {
        for s in statuses
            .iter()
            .filter(|s| s.district_id != statuses[i].district_id)
        {
            node.trust(&s.district_id, &s.district_name).await;
        }
    }
    for node in &nodes {
        eventually(
            &format!("{} has all {expected} offerings", node.district),
            || async { list_all(node).await.len() == expected },
        )
        .await;
    }
    let reference = titles_by_district(&nodes[0]).await;
    for node in &nodes[1..] {
        assert_eq!(
            titles_by_district(node).await,
            reference,
            "{} differs",
            node.district
        );
        assert_eq!(node.documents().await.len(), 9);
    }
}

#[tokio::test]
async fn a_peer_sending_garbage_is_disconnected_and_the_node_keeps_serving_others() {
    use kreisnetz_proto::v1::federation_service_client::FederationServiceClient;
    let a = TestNode::start("Landkreis Vechta");
    let b = TestNode::start("Landkreis Cloppenburg");
    link(&a, &b).await;
    // A peer with a valid, configured identity that misbehaves.
    let rogue = kreisnetz_identity::NodeIdentity::generate("rogue").unwrap();
    a.node_client()
        .await
        .add_peer(v1::AddPeerRequest {
            node_id: rogue.id.to_string(),
            address: String::new(),
        })
        .await
        .unwrap();
    let sa = a.status().await;
    let send_garbage = |frames: Vec<v1::FederationFrame>| {
        let rogue = rogue.clone();
        let addr = a.federation_addr.clone();
        let node_id: kreisnetz_model::NodeId = sa.node_id.parse().unwrap();
        async move {
            let channel = kreisnetz_transport::connect(
                &addr,
                &rogue,
                node_id,
                std::time::Duration::from_secs(10),
            )
            .await
            .expect("the rogue has a pinned identity: TLS works");
            let mut client =
                FederationServiceClient::new(channel).max_encoding_message_size(64 << 20);
            let outbound = futures::stream::iter(frames);
            if let Ok(resp) = client.sync(outbound).await {
                // Read until the node ends the stream.
                let mut inbound = resp.into_inner();
                while let Ok(Some(_)) = inbound.message().await {}
            }
        }
    };
    // A sync message that is not Automerge; a frame without content; an oversized frame.
    let garbage = v1::FederationFrame {
        frame: Some(v1::federation_frame::Frame::Sync(v1::SyncMessage {
            document_id: sa.district_id.clone(),
            message: vec![0xde, 0xad, 0xbe, 0xef],
            ..Default::default()
        })),
    };
    let hello = v1::FederationFrame {
        frame: Some(v1::federation_frame::Frame::Hello(v1::Hello {
            protocol_version: 2,
            node_id: rogue.id.to_string(),
            district_id: sa.district_id.clone(),
            ..Default::default()
        })),
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        send_garbage(vec![hello.clone(), garbage]),
    )
    .await
    .expect("garbage: disconnected");
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        send_garbage(vec![v1::FederationFrame { frame: None }]),
    )
    .await
    .expect("empty: disconnected");
    let huge = v1::FederationFrame {
        frame: Some(v1::federation_frame::Frame::Sync(v1::SyncMessage {
            document_id: sa.district_id.clone(),
            message: vec![7; 17 << 20],
            ..Default::default()
        })),
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        send_garbage(vec![hello, huge]),
    )
    .await
    .expect("oversized: disconnected");

    // The honest link still works.
    create(&a, "Nach dem Angriff").await;
    eventually("B still syncs with A", || has_title(&b, "Nach dem Angriff")).await;
    let rogue_status = a
        .peers()
        .await
        .into_iter()
        .find(|p| p.node_id == rogue.id.to_string())
        .unwrap();
    assert!(!rogue_status.connected);
    assert!(!rogue_status.last_error.is_empty(), "{rogue_status:?}");
}

#[tokio::test]
async fn untrusted_districts_are_not_accepted_until_trusted_by_sighup() {
    let a = TestNode::start("Landkreis Vechta");
    let b = TestNode::start("Landkreis Cloppenburg");
    let c = TestNode::start("Landkreis Oldenburg");
    link(&a, &b).await;
    link(&b, &c).await;
    let sc = c.status().await;
    // B trusts C (from linking); A does not. C's document reaches B but must not be taken by A.
    create(&c, "Nur mit Vertrauen").await;
    eventually("B has C's offering", || has_title(&b, "Nur mit Vertrauen")).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(!has_title(&a, "Nur mit Vertrauen").await);
    assert!(
        !a.documents()
            .await
            .iter()
            .any(|d| d.document_id == sc.district_id)
    );

    // The operator adds C to A's configuration file and sends SIGHUP.
    let mut text = std::fs::read_to_string(a.config_path()).unwrap();
    text.push_str(&format!(
        "\n[[trusted]]\ndistrict_id = \"{}\"\nname = \"Landkreis Oldenburg\"\n",
        sc.district_id
    ));
    std::fs::write(a.config_path(), text).unwrap();
    a.hangup();
    eventually("A takes C's document after the reload", || {
        has_title(&a, "Nur mit Vertrauen")
    })
    .await;
    assert!(a.log().contains("configuration reloaded"), "{}", a.log());
}

#[tokio::test]
async fn two_nodes_of_one_district_both_take_writes_and_their_edits_merge() {
    // Vechta runs two nodes with the same district key; Cloppenburg is linked to the second.
    let a1 = TestNode::start("Landkreis Vechta");
    let a2 = TestNode::start_joining(&a1);
    let b = TestNode::start("Landkreis Cloppenburg");
    let (s1, s2) = (a1.status().await, a2.status().await);
    assert_eq!(s1.district_id, s2.district_id, "one district");
    assert_ne!(s1.node_id, s2.node_id, "two nodes");
    // Nodes of one district trust each other's writes through the district key alone.
    a2.accept(&a1).await;
    a1.dial(&a2).await;
    link(&a2, &b).await;

    // Both nodes accept writes; each sees the other's.
    let first = create(&a1, "Sprachkurs A1 am ersten Knoten").await;
    create(&a2, "Jobcoaching am zweiten Knoten").await;
    for node in [&a1, &a2, &b] {
        for title in [
            "Sprachkurs A1 am ersten Knoten",
            "Jobcoaching am zweiten Knoten",
        ] {
            eventually(&format!("{title} everywhere"), || has_title(node, title)).await;
        }
    }

    // Edits of different fields of one offering, on both nodes at once, merge.
    let title = v1::Offering {
        name: first.name.clone(),
        title: "Sprachkurs A1 (neuer Termin)".into(),
        ..Default::default()
    };
    let places = v1::Offering {
        name: first.name.clone(),
        places_free: Some(3),
        ..Default::default()
    };
    tokio::join!(
        update_fields(&a1, title, "title"),
        update_fields(&a2, places, "places_free")
    );
    for node in [&a1, &a2, &b] {
        eventually("both edits merged", || async {
            list_all(node).await.iter().any(|o| {
                o.name == first.name
                    && o.title == "Sprachkurs A1 (neuer Termin)"
                    && o.places_free == Some(3)
            })
        })
        .await;
    }
    // Every node holds the district's document covered by the district's signature.
    for node in [&a1, &a2, &b] {
        let docs = node.documents().await;
        let vechta = docs
            .iter()
            .find(|d| d.document_id == s1.district_id)
            .expect("Vechta's document");
        assert!(vechta.signed_seq > 0, "{vechta:?}");
        assert_eq!(vechta.quarantined_changes, 0);
    }
    // Nothing was refused between the two nodes of the district.
    let peers = a1.peers().await;
    assert!(
        peers
            .iter()
            .all(|p| p.bad_signatures == 0 && p.unsigned_changes == 0),
        "{peers:?}"
    );
}

/// A relay is killed (SIGKILL) right after it passed a change on: the change was durable on the
/// relay before it went out, so the relay has it after its restart — from its own disk, with
/// both neighbours stopped — and the line converges again.
#[tokio::test]
async fn a_relay_killed_right_after_forwarding_keeps_what_it_forwarded() {
    let mut a = TestNode::start("Landkreis Ammerland");
    let mut b = TestNode::start("Stadt Oldenburg (Oldb)");
    let mut c = TestNode::start("Landkreis Oldenburg");
    link(&a, &b).await;
    link(&b, &c).await;
    // C trusts A's district too (it only hears of A through B).
    let a_district = a.status().await.district_id;
    c.trust(&a_district, &a.district).await;
    b.trust(&a_district, &a.district).await;
    let title = "Willkommenslotsen Bad Zwischenahn";
    create(&a, title).await;
    eventually("C has A's offering through B", || async {
        list_all(&c).await.iter().any(|o| o.title == title)
    })
    .await;
    b.kill();
    a.stop().await;
    c.stop().await;
    b.restart();
    assert!(
        list_all(&b).await.iter().any(|o| o.title == title),
        "the relay lost what it had passed on"
    );
    a.restart();
    c.restart();
    let late = "Sprachpaten Westerstede";
    create(&a, late).await;
    eventually("the line converges again", || async {
        list_all(&c).await.iter().any(|o| o.title == late)
    })
    .await;
}
