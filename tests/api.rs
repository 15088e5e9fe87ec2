//! The public API against a real node: the life of an offering and a contact, and every kind of
//! bad input refused with a status a client can act on and nothing stored.
use kreisnetz_proto::v1;
use prost_types::FieldMask;
use tonic::Code;

use crate::harness::*;

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

#[tokio::test]
async fn an_offering_is_created_listed_read_updated_and_deleted() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;

    let created = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("Berufssprachkurs B2 Pflege")),
            offering_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let status = node.status().await;
    assert_eq!(created.district_id, status.district_id);
    assert_eq!(
        created.name,
        format!("districts/{}/offerings/{}", status.district_id, created.id)
    );
    assert_eq!(created.places_free, Some(5));
    assert!(created.create_time.is_some() && !created.etag.is_empty());

    let listed = api
        .list_offerings(v1::ListOfferingsRequest {
            category: v1::Category::LanguageCourse as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 1);
    assert_eq!(listed.offerings, vec![created.clone()]);

    let got = api
        .get_offering(v1::GetOfferingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got, created);
    let by_id = api
        .get_offering(v1::GetOfferingRequest {
            name: created.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id, created);

    // Change two fields; everything else stays as it was.
    let updated = api
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name: created.name.clone(),
                places_free: Some(0),
                status: v1::OfferingStatus::Active as i32,
                title: "ignored because it is not in the mask".into(),
                ..Default::default()
            }),
            update_mask: mask(&["places_free", "status"]),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.places_free, Some(0));
    assert_eq!(updated.status, v1::OfferingStatus::Active as i32);
    assert_eq!(updated.title, created.title);
    assert_eq!(updated.description, created.description);
    assert_ne!(updated.etag, created.etag);
    let ms = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    assert!(ms(&updated.update_time) > ms(&created.update_time));

    api.delete_offering(v1::DeleteOfferingRequest {
        name: created.name.clone(),
        etag: updated.etag,
    })
    .await
    .unwrap();
    let err = api
        .get_offering(v1::GetOfferingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(list_all(&node).await.is_empty());
}

#[tokio::test]
async fn invalid_offerings_are_refused_field_by_field_and_nothing_is_stored() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    let mut bad = language_course("");
    bad.end_date = "2027-01-01".into(); // before the start
    bad.places_free = Some(17); // more than the 16 in total
    bad.languages.push("klingonisch".into());
    bad.category = 77;
    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(bad),
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields = violated_fields(&err);
    assert!(
        fields.contains(&"offering.category".to_string()),
        "{fields:?}"
    );
    assert!(
        fields.contains(&"offering.languages[1]".to_string()),
        "{fields:?}"
    );

    // With the parse problems fixed, the rules between fields are reported.
    let mut bad = language_course("");
    bad.end_date = "2027-01-01".into();
    bad.places_free = Some(17);
    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(bad),
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    let fields = violated_fields(&err);
    for f in [
        "offering.title",
        "offering.end_date",
        "offering.places_free",
    ] {
        assert!(fields.contains(&f.to_string()), "{f} not in {fields:?}");
    }
    assert!(err.message().contains("title"), "{}", err.message());

    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: None,
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);

    assert!(list_all(&node).await.is_empty());
    assert_eq!(
        node.status().await.feed_sequence,
        0,
        "a refused write must not reach the change feed"
    );
}

#[tokio::test]
async fn a_retried_create_with_the_same_id_is_already_exists() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    let id = "0b6a64b4-43f4-4d83-9a29-3bb5c8f3b1a2".to_string();
    let req = v1::CreateOfferingRequest {
        offering: Some(language_course("Sprachcafé")),
        offering_id: id.clone(),
    };
    let first = api.create_offering(req.clone()).await.unwrap().into_inner();
    assert_eq!(first.id, id);
    let err = api.create_offering(req).await.unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    assert_eq!(list_all(&node).await.len(), 1);

    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("x")),
            offering_id: "not-a-uuid".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["offering_id".to_string()]);
}

#[tokio::test]
async fn updates_check_the_mask_the_etag_and_the_merged_result() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    let created = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(language_course("Kurs")),
            offering_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let update = |o: v1::Offering, paths: &[&str]| v1::UpdateOfferingRequest {
        offering: Some(o),
        update_mask: mask(paths),
    };

    // No mask: refused rather than overwriting every field.
    let err = api
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name: created.name.clone(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["update_mask".to_string()]);

    // Unknown and output-only fields in the mask.
    let err = api
        .update_offering(update(
            v1::Offering {
                name: created.name.clone(),
                ..Default::default()
            },
            &["title", "id", "colour"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&err),
        vec![
            "update_mask.paths[1]".to_string(),
            "update_mask.paths[2]".to_string()
        ]
    );

    // The merged result must be valid: 20 free places of 16.
    let err = api
        .update_offering(update(
            v1::Offering {
                name: created.name.clone(),
                places_free: Some(20),
                ..Default::default()
            },
            &["places_free"],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        vec!["offering.places_free".to_string()]
    );

    // A stale etag: someone else changed it in between.
    let err = api
        .update_offering(update(
            v1::Offering {
                name: created.name.clone(),
                places_free: Some(1),
                etag: "0000000000000000".into(),
                ..Default::default()
            },
            &["places_free"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // Unknown offering.
    let err = api
        .update_offering(update(
            v1::Offering {
                id: "7a1c2a40-0000-4000-8000-000000000000".into(),
                title: "x".into(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let unchanged = api
        .get_offering(v1::GetOfferingRequest {
            name: created.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unchanged, created, "refused updates must change nothing");

    // Clearing a field through the mask.
    let cleared = api
        .update_offering(update(
            v1::Offering {
                name: created.name.clone(),
                etag: created.etag.clone(),
                ..Default::default()
            },
            &["description", "languages"],
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(cleared.description.is_empty() && cleared.languages.is_empty());
    assert_eq!(cleared.title, created.title);
}

#[tokio::test]
async fn writes_to_another_districts_data_are_permission_denied() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    let other = "D-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA";
    let name = format!("districts/{other}/offerings/7a1c2a40-0000-4000-8000-000000000000");
    let err = api
        .delete_offering(v1::DeleteOfferingRequest {
            name: name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = api
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name,
                title: "x".into(),
                ..Default::default()
            }),
            update_mask: mask(&["title"]),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn contacts_are_referenced_by_offerings_and_protected_while_they_are() {
    let node = TestNode::start("Landkreis Vechta");
    let mut contacts = node.contacts().await;
    let mut offerings = node.offerings().await;

    let err = contacts
        .create_contact(v1::CreateContactRequest {
            contact: Some(v1::Contact {
                display_name: "Nur Name".into(),
                organisation: "BBS Vechta".into(),
                email: "kaputt@".into(),
                ..Default::default()
            }),
            contact_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["contact.email".to_string()]);

    let coach = contacts
        .create_contact(v1::CreateContactRequest {
            contact: Some(counsellor("Mara Beispiel")),
            contact_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    // An offering may only reference contacts that exist.
    let mut course = language_course("Job-Sprachkurs");
    course.contact_ids = vec!["7a1c2a40-0000-4000-8000-000000000000".into()];
    let err = offerings
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(course.clone()),
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&err),
        vec!["offering.contact_ids[0]".to_string()]
    );
    course.contact_ids = vec![coach.id.clone()];
    let created = offerings
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(course),
            offering_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();

    let err = contacts
        .delete_contact(v1::DeleteContactRequest {
            name: coach.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("Job-Sprachkurs"),
        "{}",
        err.message()
    );

    offerings
        .delete_offering(v1::DeleteOfferingRequest {
            name: created.name,
            etag: String::new(),
        })
        .await
        .unwrap();
    contacts
        .delete_contact(v1::DeleteContactRequest {
            name: coach.name.clone(),
            etag: String::new(),
        })
        .await
        .unwrap();
    let listed = contacts
        .list_contacts(v1::ListContactsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_size, 0);
}

#[tokio::test]
async fn lists_filter_and_page_without_gaps_or_repeats() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    for i in 0..23 {
        let mut o = language_course(&format!("Kurs {i:02}"));
        if i % 3 == 0 {
            o.category = v1::Category::JobCounselling as i32;
            o.municipality = "Lohne (Oldenburg)".into();
            o.languages = vec!["ar".into(), "de".into()];
        }
        api.create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = api
            .list_offerings(v1::ListOfferingsRequest {
                page_size: 5,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 23);
        assert!(page.offerings.len() <= 5);
        seen.extend(page.offerings.into_iter().map(|o| o.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<String> = (0..23).map(|i| format!("Kurs {i:02}")).collect();
    assert_eq!(
        seen, expected,
        "sorted by title, every offering exactly once"
    );

    let filtered = api
        .list_offerings(v1::ListOfferingsRequest {
            category: v1::Category::JobCounselling as i32,
            municipality: "lohne (oldenburg)".into(),
            language: "AR".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.total_size, 8);
    let text = api
        .list_offerings(v1::ListOfferingsRequest {
            query: "KURSE 12".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // German search: words, not substrings; "Kurse" is found as "Kurs" (stemming).
    assert_eq!(text.total_size, 1);
    assert_eq!(text.offerings[0].title, "Kurs 12");
    assert_eq!(text.matches.len(), 1);
    assert_eq!(text.matches[0].field, "title");

    // A token for other filters, or garbage, is refused.
    let first = api
        .list_offerings(v1::ListOfferingsRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let err = api
        .list_offerings(v1::ListOfferingsRequest {
            page_size: 5,
            page_token: first.next_page_token,
            query: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["page_token".to_string()]);
    let err = api
        .list_offerings(v1::ListOfferingsRequest {
            page_token: "garbage!".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = api
        .list_offerings(v1::ListOfferingsRequest {
            district_id: "Vechta".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), vec!["district_id".to_string()]);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let node = TestNode::start("Landkreis Vechta");
    let mut health = tonic_health::pb::health_client::HealthClient::new(node.channel().await);
    let resp = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "kreisnetz.v1.OfferingService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        resp.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    let overall = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap();
    assert_eq!(
        overall.into_inner().status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}
