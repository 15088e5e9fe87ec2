//! API tokens and roles against a real node.
use kreisnetz_proto::v1;
use kreisnetz_proto::v1::token_service_client::TokenServiceClient;
use tonic::Code;

use crate::harness::*;

async fn token(node: &TestNode, name: &str, role: v1::Role) -> String {
    TokenServiceClient::new(node.authed().await)
        .create_token(v1::CreateTokenRequest {
            name: name.into(),
            role: role as i32,
        })
        .await
        .expect("create token")
        .into_inner()
        .token
}

async fn create_with(node: &TestNode, token: &str) -> Result<v1::Offering, tonic::Status> {
    v1::offering_service_client::OfferingServiceClient::new(node.authed_as(token).await)
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("Kurs")),
            offering_id: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn list_with(node: &TestNode, token: &str) -> Result<i32, tonic::Status> {
    v1::offering_service_client::OfferingServiceClient::new(node.authed_as(token).await)
        .list_offerings(v1::ListOfferingsRequest::default())
        .await
        .map(|r| r.into_inner().total_size)
}

async fn admin_call_with(node: &TestNode, token: &str) -> Result<(), tonic::Status> {
    v1::node_service_client::NodeServiceClient::new(node.authed_as(token).await)
        .add_peer(v1::AddPeerRequest {
            node_id: "N-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA".into(),
            address: String::new(),
        })
        .await
        .map(|_| ())
}

#[tokio::test]
async fn each_role_may_do_what_it_is_for_and_nothing_more() {
    let node = TestNode::start("Landkreis Vechta");
    let reader = token(&node, "portal", v1::Role::Reader).await;
    let editor = token(&node, "coordination", v1::Role::Editor).await;

    // Read: every role.
    for t in [&reader, &editor, &node.token] {
        assert_eq!(list_with(&node, t).await.unwrap(), 0);
    }
    // Write own district: editor and admin.
    assert_eq!(
        create_with(&node, &reader).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let created = create_with(&node, &editor).await.unwrap();
    create_with(&node, &node.token).await.unwrap();
    // Write another district's record: nobody.
    let other = "districts/D-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA/offerings/7a1c2a40-0000-4000-8000-000000000000";
    for t in [&editor, &node.token] {
        let err = v1::offering_service_client::OfferingServiceClient::new(node.authed_as(t).await)
            .delete_offering(v1::DeleteOfferingRequest {
                name: other.into(),
                etag: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied);
    }
    // Admin calls: admin only.
    assert_eq!(
        admin_call_with(&node, &reader).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(
        admin_call_with(&node, &editor).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    admin_call_with(&node, &node.token).await.unwrap();
    let err = TokenServiceClient::new(node.authed_as(&editor).await)
        .list_tokens(v1::ListTokensRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    // Tokens are listed with name, role, created and last used, never with their secret.
    let listed = TokenServiceClient::new(node.authed().await)
        .list_tokens(v1::ListTokensRequest {})
        .await
        .unwrap()
        .into_inner()
        .tokens;
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["admin", "coordination", "portal"]);
    assert!(
        listed
            .iter()
            .find(|t| t.name == "coordination")
            .unwrap()
            .last_used_time
            .is_some()
    );
    let _ = created;

    // No secret ever reaches the log.
    for t in [&reader, &editor, &node.token] {
        let secret = t.rsplit('.').next().unwrap();
        assert!(!node.log().contains(secret), "a token secret is in the log");
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated_and_revocation_is_immediate() {
    let node = TestNode::start("Landkreis Vechta");
    let mut bare = v1::offering_service_client::OfferingServiceClient::new(node.channel().await);
    let err = bare
        .list_offerings(v1::ListOfferingsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    for bad in ["kn1.nope.nope", "not-a-token", ""] {
        assert_eq!(
            list_with(&node, bad).await.unwrap_err().code(),
            Code::Unauthenticated,
            "{bad}"
        );
    }
    let portal = token(&node, "portal", v1::Role::Reader).await;
    assert!(list_with(&node, &portal).await.is_ok());
    TokenServiceClient::new(node.authed().await)
        .revoke_token(v1::RevokeTokenRequest {
            token: "portal".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        list_with(&node, &portal).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // Health checks stay open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(node.channel().await);
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn tokens_survive_a_restart_and_the_admin_token_file_is_private() {
    let mut node = TestNode::start("Landkreis Vechta");
    let portal = token(&node, "portal", v1::Role::Reader).await;
    node.stop().await;
    node.restart();
    assert!(list_with(&node, &portal).await.is_ok());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(node.config_path().with_file_name("admin.token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn the_api_refuses_to_listen_beyond_loopback_without_tls() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(NODE_BIN)
        .args([
            "serve",
            "--api-listen",
            "0.0.0.0:0",
            "--federation-listen",
            "127.0.0.1:0",
            "--district",
            "Landkreis Vechta",
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("api.tls_cert") && err.contains("0.0.0.0"),
        "{err}"
    );
}

#[tokio::test]
async fn a_token_name_never_has_the_shape_of_an_id_so_a_revocation_hits_the_one_meant() {
    let node = TestNode::start("Landkreis Vechta");
    let mut tokens = TokenServiceClient::new(node.authed().await);
    let alpha = tokens
        .create_token(v1::CreateTokenRequest {
            name: "alpha".into(),
            role: v1::Role::Reader as i32,
        })
        .await
        .unwrap()
        .into_inner();
    let alpha_id = alpha.info.unwrap().id;
    // The reproduction: a second token named like alpha's id. Refused now.
    for name in [alpha_id.clone(), alpha_id.to_uppercase(), "abcdefgh".into()] {
        let err = tokens
            .create_token(v1::CreateTokenRequest {
                name: name.clone(),
                role: v1::Role::Reader as i32,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{name}: {err:?}");
        assert!(err.message().contains("shape of a token id"), "{err:?}");
    }
    let beta = token(&node, "beta", v1::Role::Reader).await;
    // By id: exactly alpha; beta still works.
    tokens
        .revoke_token(v1::RevokeTokenRequest {
            token: alpha_id.clone(),
        })
        .await
        .unwrap();
    assert_eq!(
        list_with(&node, &alpha.token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert!(list_with(&node, &beta).await.is_ok());
    // Saying which explicitly works too.
    tokens
        .revoke_token(v1::RevokeTokenRequest {
            token: "name:beta".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        list_with(&node, &beta).await.unwrap_err().code(),
        Code::Unauthenticated
    );
}

/// The name of the next OFFERING_CREATED event on `stream`.
async fn next_created(stream: &mut tonic::Streaming<v1::ChangeEvent>) -> String {
    use futures::StreamExt;
    loop {
        let e = stream.next().await.expect("stream open").expect("event");
        if e.kind() == v1::change_event::Kind::OfferingCreated {
            return e.name;
        }
    }
}

/// When the token named "portal" was last used, as the node lists it.
async fn last_used(node: &TestNode) -> Option<prost_types::Timestamp> {
    TokenServiceClient::new(node.authed().await)
        .list_tokens(v1::ListTokensRequest {})
        .await
        .unwrap()
        .into_inner()
        .tokens
        .into_iter()
        .find(|t| t.name == "portal")
        .unwrap()
        .last_used_time
}

#[tokio::test]
async fn revoking_a_token_ends_its_open_watch_streams_with_unauthenticated() {
    use futures::StreamExt;
    let node = TestNode::start("Landkreis Vechta");
    let portal = token(&node, "portal", v1::Role::Reader).await;
    let watch = |token: String| {
        let node = &node;
        async move {
            v1::change_feed_service_client::ChangeFeedServiceClient::new(
                node.authed_as(&token).await,
            )
            .watch(v1::WatchRequest {
                after_sequence: 0,
                stop_at_head: false,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    let mut revoked_stream = watch(portal.clone()).await;
    let mut admin_stream = watch(node.token.clone()).await;
    let created = create_with(&node, &node.token).await.unwrap();
    assert_eq!(next_created(&mut revoked_stream).await, created.name);
    assert_eq!(next_created(&mut admin_stream).await, created.name);

    TokenServiceClient::new(node.authed().await)
        .revoke_token(v1::RevokeTokenRequest {
            token: "portal".into(),
        })
        .await
        .unwrap();
    let second = create_with(&node, &node.token).await.unwrap();
    // The revoked token's stream ends with UNAUTHENTICATED; no further event reaches it.
    let end = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match revoked_stream.next().await {
                Some(Ok(e)) => assert_ne!(e.name, second.name, "an event after revocation"),
                Some(Err(status)) => return Some(status),
                None => return None,
            }
        }
    })
    .await
    .expect("the revoked stream did not end");
    let status = end.expect("the stream ended without a status");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
    // Other tokens' streams go on.
    assert_eq!(next_created(&mut admin_stream).await, second.name);
}

#[tokio::test]
async fn a_tokens_last_use_survives_a_restart() {
    let mut node = TestNode::start("Landkreis Vechta");
    let portal = token(&node, "portal", v1::Role::Reader).await;
    list_with(&node, &portal).await.unwrap();
    let before = last_used(&node).await.expect("used before the restart");
    node.stop().await;
    node.restart();
    let after = last_used(&node).await.expect("\"never\" after a restart");
    assert_eq!(after, before);
}
