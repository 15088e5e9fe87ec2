//! Hostile and clumsy input on the API: every refusal is INVALID_ARGUMENT with a small answer,
//! whatever came in.
use kreisnetz_proto::v1;
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::harness::*;

/// Bytes of a status as a client receives them: message plus encoded details.
fn size_of(status: &tonic::Status) -> usize {
    status.message().len() + status.details().len()
}

#[tokio::test]
async fn errors_stay_small_whatever_the_input() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;

    // 10,000 bad language codes.
    let mut o = language_course("Kurs");
    o.languages = (0..10_000).map(|i| format!("x{i}")).collect();
    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message().len());
    let violations = err.get_details_bad_request().unwrap().field_violations;
    assert_eq!(violations.len(), 21, "the first 20 and a summary");
    assert_eq!(violations[0].field, "offering.languages[0]");
    assert!(
        violations[20].description.contains("9980 more"),
        "{:?}",
        violations[20]
    );
    assert!(size_of(&err) < 16 << 10, "{} bytes", size_of(&err));

    // A 1 MB language filter.
    let err = api
        .list_offerings(v1::ListOfferingsRequest {
            language: "x".repeat(1 << 20),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(size_of(&err) < 4 << 10, "{} bytes", size_of(&err));
    assert!(err.message().contains('…'), "{}", err.message());

    // A 1 MB title, a 1 MB name.
    let mut o = language_course(&"T".repeat(1 << 20));
    o.url = format!("ftp://{}", "u".repeat(1 << 20));
    let err = api
        .create_offering(v1::CreateOfferingRequest {
            offering: Some(o),
            offering_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(size_of(&err) < 4 << 10, "{} bytes", size_of(&err));
    let err = api
        .get_offering(v1::GetOfferingRequest {
            name: "n".repeat(1 << 20),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(size_of(&err) < 4 << 10, "{} bytes", size_of(&err));
}

/// Sends raw bytes as the request of a unary call.
#[derive(Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        let mut out = vec![0; src.remaining()];
        src.copy_to_slice(&mut out);
        Ok(Some(out))
    }
}

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument() {
    let node = TestNode::start("Landkreis Vechta");
    let mut grpc = tonic::client::Grpc::new(node.authed().await);
    for (path, bytes) in [
        (
            "/kreisnetz.v1.OfferingService/ListOfferings",
            vec![0xff, 0xff, 0xff, 0xff],
        ),
        // Field 3 (title) as a length-delimited value longer than the message.
        (
            "/kreisnetz.v1.OfferingService/CreateOffering",
            vec![0x0a, 0x05, 0x1a, 0x7f, 0x41],
        ),
        ("/kreisnetz.v1.ChangeFeedService/Watch", vec![0x08]),
    ] {
        grpc.ready().await.unwrap();
        let err = grpc
            .unary::<Vec<u8>, Vec<u8>, RawCodec>(
                tonic::Request::new(bytes),
                tonic::codegen::http::uri::PathAndQuery::from_static(path),
                RawCodec,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{path}: {err:?}");
    }
}

#[tokio::test]
async fn dates_ids_and_names_are_checked_strictly() {
    let node = TestNode::start("Landkreis Vechta");
    let mut api = node.offerings().await;
    let create = |o: v1::Offering, offering_id: &str| v1::CreateOfferingRequest {
        offering: Some(o),
        offering_id: offering_id.into(),
    };

    for date in ["-0001-01-01", "0000-01-01", "+2027-01-01", "+002027-01-01"] {
        let mut o = language_course("Kurs");
        o.start_date = date.into();
        let err = api.create_offering(create(o, "")).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{date}");
        assert_eq!(violated_fields(&err), ["offering.start_date"], "{date}");
    }
    let nil = "00000000-0000-0000-0000-000000000000";
    let err = api
        .create_offering(create(language_course("Kurs"), nil))
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["offering_id"]);
    let mut o = language_course("Kurs");
    o.contact_ids = vec![nil.into()];
    let err = api.create_offering(create(o, "")).await.unwrap_err();
    assert_eq!(violated_fields(&err), ["offering.contact_ids[0]"]);

    // offering.id on create is used, the same as offering_id; a retry is ALREADY_EXISTS.
    let id = "3f0e7c1a-5b2d-4e8f-9a6b-7c8d9e0f1a2b";
    let mut o = language_course("Kurs");
    o.id = id.into();
    let created = api
        .create_offering(create(o.clone(), ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.id, id);
    let err = api
        .create_offering(create(o.clone(), id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists);
    let err = api
        .create_offering(create(o, "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["offering.id"]);
    // The same for contacts.
    let contact_id = "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d";
    let mut c = counsellor("Mara Beispiel");
    c.id = contact_id.into();
    let contact = node
        .contacts()
        .await
        .create_contact(v1::CreateContactRequest {
            contact: Some(c),
            contact_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(contact.id, contact_id);

    // An update whose name and id disagree is refused, not applied to the name's record.
    let other = api
        .create_offering(create(language_course("Anderer Kurs"), ""))
        .await
        .unwrap()
        .into_inner();
    let err = api
        .update_offering(v1::UpdateOfferingRequest {
            offering: Some(v1::Offering {
                name: created.name.clone(),
                id: other.id.clone(),
                title: "Überschrieben".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["offering.id"]);
    for o in [&created, &other] {
        let now = api
            .get_offering(v1::GetOfferingRequest {
                name: o.name.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(now.title, o.title);
    }

    // Spoofing characters in titles and names.
    for title in [
        "Kurs\u{202E}2B",
        "\u{200B}\u{200B}",
        "Kurs\nB2",
        "Kurs\u{1b}[2J",
    ] {
        let err = api
            .create_offering(create(language_course(title), ""))
            .await
            .unwrap_err();
        assert_eq!(violated_fields(&err), ["offering.title"], "{title:?}");
    }
    let err = node
        .contacts()
        .await
        .create_contact(v1::CreateContactRequest {
            contact: Some(counsellor("Mara\u{2067}Beispiel")),
            contact_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(violated_fields(&err), ["contact.display_name"]);
}

#[tokio::test]
async fn peer_addresses_and_trusted_district_names_are_checked_too() {
    let node = TestNode::start("Landkreis Vechta");
    let mut admin = node.node_client().await;
    let err = admin
        .trust_district(v1::TrustDistrictRequest {
            district_id: "D-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"
                .into(),
            name: "Landkreis \u{202E}ztorF".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["name"]);
    let err = admin
        .add_peer(v1::AddPeerRequest {
            node_id: "N-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA".into(),
            address: format!("{}:7701", "h".repeat(1 << 20)),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(size_of(&err) < 4 << 10, "{} bytes", size_of(&err));
}
