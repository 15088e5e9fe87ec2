//! Roles × calls: every call of the API against every role (and no token at all). A call is
//! either refused with PERMISSION_DENIED (too little role) or gets past the role check (its
//! answer is then whatever the arguments earn: OK, NOT_FOUND, ...).
use kreisnetz_proto::v1;
use prost_types::FieldMask;
use tonic::Code;

use crate::harness::*;

/// The least role each call needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Reader,
    Editor,
    Admin,
}

#[derive(Clone, Copy, Debug)]
enum Call {
    CreateOffering,
    GetOffering,
    UpdateOffering,
    DeleteOffering,
    ListOfferings,
    CreateContact,
    GetContact,
    UpdateContact,
    DeleteContact,
    ListContacts,
    Watch,
    GetNodeStatus,
    ListPeers,
    ListDocuments,
    AddPeer,
    RemovePeer,
    TrustDistrict,
    UntrustDistrict,
    CreateToken,
    ListTokens,
    RevokeToken,
    GetOverlaps,
    GetGaps,
    GetStale,
    GetCoverage,
    SearchOfferings,
}

const TABLE: &[(Call, Role)] = &[
    (Call::CreateOffering, Role::Editor),
    (Call::GetOffering, Role::Reader),
    (Call::UpdateOffering, Role::Editor),
    (Call::DeleteOffering, Role::Editor),
    (Call::ListOfferings, Role::Reader),
    (Call::CreateContact, Role::Editor),
    (Call::GetContact, Role::Reader),
    (Call::UpdateContact, Role::Editor),
    (Call::DeleteContact, Role::Editor),
    (Call::ListContacts, Role::Reader),
    (Call::Watch, Role::Reader),
    (Call::GetNodeStatus, Role::Reader),
    (Call::ListPeers, Role::Reader),
    (Call::ListDocuments, Role::Reader),
    (Call::AddPeer, Role::Admin),
    (Call::RemovePeer, Role::Admin),
    (Call::TrustDistrict, Role::Admin),
    (Call::UntrustDistrict, Role::Admin),
    (Call::CreateToken, Role::Admin),
    (Call::ListTokens, Role::Admin),
    (Call::RevokeToken, Role::Admin),
    (Call::GetOverlaps, Role::Reader),
    (Call::GetGaps, Role::Reader),
    (Call::GetStale, Role::Reader),
    (Call::GetCoverage, Role::Reader),
    (Call::SearchOfferings, Role::Reader),
];

const SOME_NODE: &str = "N-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA";
const SOME_DISTRICT: &str = "D-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA";
const NO_SUCH_RECORD: &str = "6c0e5a52-9f1c-4c1e-8d4e-1b2a3c4d5e6f";

/// Records the calls work on, created with the admin token.
struct Fixture {
    offering: String,
    contact: String,
}

async fn call(
    node: &TestNode,
    token: &str,
    what: Call,
    fixture: &Fixture,
    run: usize,
) -> Result<(), tonic::Status> {
    use v1::change_feed_service_client::ChangeFeedServiceClient as Feed;
    use v1::contact_service_client::ContactServiceClient as Contacts;
    use v1::node_service_client::NodeServiceClient as Nodes;
    use v1::offering_service_client::OfferingServiceClient as Offerings;
    use v1::report_service_client::ReportServiceClient as Reports;
    use v1::token_service_client::TokenServiceClient as Tokens;
    let ch = node.authed_as(token).await;
    let mask = |p: &str| {
        Some(FieldMask {
            paths: vec![p.into()],
        })
    };
    match what {
        Call::CreateOffering => Offerings::new(ch)
            .create_offering(v1::CreateOfferingRequest {
                offering: Some(language_course("Kurs")),
                offering_id: String::new(),
            })
            .await
            .map(drop),
        Call::GetOffering => Offerings::new(ch)
            .get_offering(v1::GetOfferingRequest {
                name: fixture.offering.clone(),
            })
            .await
            .map(drop),
        Call::UpdateOffering => Offerings::new(ch)
            .update_offering(v1::UpdateOfferingRequest {
                offering: Some(v1::Offering {
                    name: fixture.offering.clone(),
                    title: format!("Kurs {run}"),
                    ..Default::default()
                }),
                update_mask: mask("title"),
            })
            .await
            .map(drop),
        Call::DeleteOffering => Offerings::new(ch)
            .delete_offering(v1::DeleteOfferingRequest {
                name: NO_SUCH_RECORD.into(),
                etag: String::new(),
            })
            .await
            .map(drop),
        Call::ListOfferings => Offerings::new(ch)
            .list_offerings(v1::ListOfferingsRequest::default())
            .await
            .map(drop),
        Call::CreateContact => Contacts::new(ch)
            .create_contact(v1::CreateContactRequest {
                contact: Some(counsellor("Mara Beispiel")),
                contact_id: String::new(),
            })
            .await
            .map(drop),
        Call::GetContact => Contacts::new(ch)
            .get_contact(v1::GetContactRequest {
                name: fixture.contact.clone(),
            })
            .await
            .map(drop),
        Call::UpdateContact => Contacts::new(ch)
            .update_contact(v1::UpdateContactRequest {
                contact: Some(v1::Contact {
                    name: fixture.contact.clone(),
                    role: format!("Coach {run}"),
                    ..Default::default()
                }),
                update_mask: mask("role"),
            })
            .await
            .map(drop),
        Call::DeleteContact => Contacts::new(ch)
            .delete_contact(v1::DeleteContactRequest {
                name: NO_SUCH_RECORD.into(),
                etag: String::new(),
            })
            .await
            .map(drop),
        Call::ListContacts => Contacts::new(ch)
            .list_contacts(v1::ListContactsRequest::default())
            .await
            .map(drop),
        Call::Watch => {
            use futures::StreamExt;
            let mut stream = Feed::new(ch)
                .watch(v1::WatchRequest {
                    after_sequence: 0,
                    stop_at_head: true,
                    ..Default::default()
                })
                .await?
                .into_inner();
            while let Some(event) = stream.next().await {
                event?;
            }
            Ok(())
        }
        Call::GetNodeStatus => Nodes::new(ch)
            .get_node_status(v1::GetNodeStatusRequest {})
            .await
            .map(drop),
        Call::ListPeers => Nodes::new(ch)
            .list_peers(v1::ListPeersRequest {})
            .await
            .map(drop),
        Call::ListDocuments => Nodes::new(ch)
            .list_documents(v1::ListDocumentsRequest {})
            .await
            .map(drop),
        Call::AddPeer => Nodes::new(ch)
            .add_peer(v1::AddPeerRequest {
                node_id: SOME_NODE.into(),
                address: String::new(),
            })
            .await
            .map(drop),
        Call::RemovePeer => Nodes::new(ch)
            .remove_peer(v1::RemovePeerRequest {
                node_id: SOME_NODE.into(),
            })
            .await
            .map(drop),
        Call::TrustDistrict => Nodes::new(ch)
            .trust_district(v1::TrustDistrictRequest {
                district_id: SOME_DISTRICT.into(),
                name: "Landkreis Irgendwo".into(),
            })
            .await
            .map(drop),
        Call::UntrustDistrict => Nodes::new(ch)
            .untrust_district(v1::UntrustDistrictRequest {
                district_id: SOME_DISTRICT.into(),
            })
            .await
            .map(drop),
        Call::CreateToken => Tokens::new(ch)
            .create_token(v1::CreateTokenRequest {
                name: format!("made-in-run-{run}"),
                role: v1::Role::Admin as i32,
            })
            .await
            .map(drop),
        Call::ListTokens => Tokens::new(ch)
            .list_tokens(v1::ListTokensRequest {})
            .await
            .map(drop),
        Call::RevokeToken => Tokens::new(ch)
            .revoke_token(v1::RevokeTokenRequest {
                token: "name:nobody".into(),
            })
            .await
            .map(drop),
        Call::GetOverlaps => Reports::new(ch)
            .get_overlaps(v1::GetOverlapsRequest::default())
            .await
            .map(drop),
        Call::GetGaps => Reports::new(ch)
            .get_gaps(v1::GetGapsRequest::default())
            .await
            .map(drop),
        Call::GetStale => Reports::new(ch)
            .get_stale(v1::GetStaleRequest::default())
            .await
            .map(drop),
        Call::GetCoverage => Reports::new(ch)
            .get_coverage(v1::GetCoverageRequest::default())
            .await
            .map(drop),
        Call::SearchOfferings => Offerings::new(ch)
            .list_offerings(v1::ListOfferingsRequest {
                query: "Kurs".into(),
                has_free_places: true,
                ..Default::default()
            })
            .await
            .map(drop),
    }
}

#[tokio::test]
async fn every_call_checks_the_role_it_needs() {
    let node = TestNode::start("Landkreis Vechta");
    let mut tokens = v1::token_service_client::TokenServiceClient::new(node.authed().await);
    let mut made = Vec::new();
    for (name, role) in [
        ("portal", v1::Role::Reader),
        ("coordination", v1::Role::Editor),
    ] {
        made.push(
            tokens
                .create_token(v1::CreateTokenRequest {
                    name: name.into(),
                    role: role as i32,
                })
                .await
                .expect("create token")
                .into_inner()
                .token,
        );
    }
    let (reader, editor) = (made[0].clone(), made[1].clone());
    let offering = node
        .offerings()
        .await
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("Kurs")),
            offering_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    let contact = node
        .contacts()
        .await
        .create_contact(v1::CreateContactRequest {
            contact: Some(counsellor("Mara Beispiel")),
            contact_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .name;
    let fixture = Fixture { offering, contact };

    let roles = [
        (Role::Reader, reader.as_str()),
        (Role::Editor, editor.as_str()),
        (Role::Admin, node.token.as_str()),
    ];
    let mut failures = Vec::new();
    let mut run = 0;
    for &(what, needs) in TABLE {
        for &(role, token) in &roles {
            run += 1;
            let result = call(&node, token, what, &fixture, run).await;
            let code = result.as_ref().err().map(|s| s.code());
            let fine = if role < needs {
                code == Some(Code::PermissionDenied)
            } else {
                !matches!(
                    code,
                    Some(Code::PermissionDenied | Code::Unauthenticated | Code::Internal)
                )
            };
            if !fine {
                failures.push(format!("{what:?} as {role:?}: {result:?}"));
            }
        }
        // Without a token, nothing is allowed.
        run += 1;
        let code = call(&node, "", what, &fixture, run)
            .await
            .err()
            .map(|s| s.code());
        if code != Some(Code::Unauthenticated) {
            failures.push(format!("{what:?} without a token: {code:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
