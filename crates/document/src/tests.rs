use std::collections::BTreeSet;

use automerge::{ObjType, ROOT, ReadDoc, transaction::Transactable};
use kreisnetz_model::*;

use super::*;

fn district() -> DistrictId {
    DistrictId::from_public_key(b"Landkreis Cloppenburg")
}

fn offering() -> Offering {
    Offering {
        id: RecordId::new_random(),
        district_id: district(),
        title: "Berufssprachkurs B2 Pflege".into(),
        description: "Deutsch für Pflegeberufe".into(),
        category: Category::LanguageCourse,
        target_groups: [TargetGroup::Refugees, TargetGroup::Women].into(),
        provider: "BBS am Museumsdorf".into(),
        provider_kind: Some(ProviderKind::School),
        municipality: "Cloppenburg".into(),
        address: "Bürgermeister-Heukamp-Straße 1".into(),
        postal_code: "49661".into(),
        coordinates: Some(Coordinates {
            latitude: 52.84,
            longitude: 8.04,
        }),
        languages: ["de".parse().unwrap(), "ar".parse().unwrap()].into(),
        start_date: Some(parse_date("2027-02-01").unwrap()),
        end_date: Some(parse_date("2027-07-31").unwrap()),
        schedule: "Mo-Fr 8:30-12:30".into(),
        places_total: Some(16),
        places_free: Some(5),
        cost: "kostenlos".into(),
        url: "https://bbs.example.org".into(),
        contact_ids: [RecordId::new_random()].into(),
        status: OfferingStatus::Planned,
        language_level: Some(LanguageLevel::B2),
        format: Some(OfferingFormat::Hybrid),
        childcare: Some(true),
        barrier_free: Some(false),
        create_time: Timestamp(1_700_000_000_000),
        update_time: Timestamp(1_700_000_000_000),
    }
}

fn contact() -> Contact {
    Contact {
        id: RecordId::new_random(),
        district_id: district(),
        display_name: "Mara Beispiel".into(),
        organisation: "Jobcenter Cloppenburg".into(),
        role: "Integrationscoach".into(),
        responsibility: "Nordkreis".into(),
        email: "mara@example.org".into(),
        phone: "030 23125 001".into(),
        languages: ["de".parse().unwrap()].into(),
        create_time: Timestamp(1),
        update_time: Timestamp(2),
    }
}

fn reload(doc: &mut DistrictDocument) -> DistrictDocument {
    let bytes = doc.save();
    DistrictDocument::load(district(), Some(&bytes), &[], &[]).unwrap()
}

#[test]
fn offerings_round_trip_through_save_and_load() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    doc.commit("create", 0);
    assert_eq!(doc.offering(&o.id).unwrap().as_ref(), Some(&o));
    let loaded = reload(&mut doc);
    assert_eq!(loaded.offering(&o.id).unwrap(), Some(o.clone()));
    assert_eq!(loaded.offerings(), vec![o]);
}

#[test]
fn contacts_round_trip() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let c = contact();
    doc.create_contact(&c).unwrap();
    doc.commit("create", 0);
    assert_eq!(reload(&mut doc).contacts(), vec![c]);
}

#[test]
fn a_minimal_offering_round_trips_with_empty_fields_absent() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let mut o = offering();
    o.description.clear();
    o.provider_kind = None;
    o.coordinates = None;
    o.languages.clear();
    o.start_date = None;
    o.end_date = None;
    o.places_total = None;
    o.places_free = None;
    o.contact_ids.clear();
    doc.create_offering(&o).unwrap();
    doc.commit("create", 0);
    assert_eq!(doc.offering(&o.id).unwrap(), Some(o.clone()));
    let obj = doc
        .record_obj(RecordKind::Offering, &o.id)
        .unwrap()
        .unwrap();
    assert!(doc.automerge().get(&obj, "description").unwrap().is_none());
}

#[test]
fn creating_twice_is_already_exists_and_missing_is_not_found() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    assert!(matches!(
        doc.create_offering(&o),
        Err(DocumentError::AlreadyExists { .. })
    ));
    let other = offering();
    assert!(matches!(
        doc.update_offering(&other, &[OfferingField::Title]),
        Err(DocumentError::NotFound { .. })
    ));
    assert!(matches!(
        doc.delete_offering(&other.id),
        Err(DocumentError::NotFound { .. })
    ));
    doc.delete_offering(&o.id).unwrap();
    assert_eq!(doc.offering(&o.id).unwrap(), None);
}

#[test]
fn updates_change_only_the_fields_in_the_mask() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    let mut changed = o.clone();
    changed.title = "Neuer Titel".into();
    changed.places_free = Some(0);
    changed.description = "ignored: not in the mask".into();
    changed.update_time = Timestamp(o.update_time.0 + 1000);
    doc.update_offering(&changed, &[OfferingField::Title, OfferingField::PlacesFree])
        .unwrap();
    let got = doc.offering(&o.id).unwrap().unwrap();
    assert_eq!(got.title, "Neuer Titel");
    assert_eq!(got.places_free, Some(0));
    assert_eq!(got.description, o.description);
    assert_eq!(got.update_time, changed.update_time);
    assert_eq!(got.create_time, o.create_time);
}

#[test]
fn clearing_a_field_removes_it() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    let mut changed = o.clone();
    changed.coordinates = None;
    changed.places_free = None;
    changed.languages.clear();
    changed.url.clear();
    doc.update_offering(
        &changed,
        &[
            OfferingField::Coordinates,
            OfferingField::PlacesFree,
            OfferingField::Languages,
            OfferingField::Url,
        ],
    )
    .unwrap();
    let got = doc.offering(&o.id).unwrap().unwrap();
    assert_eq!(
        (
            got.coordinates,
            got.places_free,
            got.languages.len(),
            got.url.as_str()
        ),
        (None, None, 0, "")
    );
}

#[test]
fn the_need_fields_round_trip_clear_and_are_absent_in_old_documents() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    doc.commit("create", 0);
    let loaded = reload(&mut doc);
    assert_eq!(loaded.offering(&o.id).unwrap().unwrap(), o);

    // Changing and clearing each one touches only it.
    let mut changed = o.clone();
    changed.language_level = Some(LanguageLevel::C1);
    changed.format = None;
    changed.childcare = Some(false);
    changed.barrier_free = None;
    doc.update_offering(
        &changed,
        &[
            OfferingField::LanguageLevel,
            OfferingField::Format,
            OfferingField::Childcare,
            OfferingField::BarrierFree,
        ],
    )
    .unwrap();
    doc.commit("update", 0);
    let got = reload(&mut doc).offering(&o.id).unwrap().unwrap();
    assert_eq!(
        (
            got.language_level,
            got.format,
            got.childcare,
            got.barrier_free
        ),
        (Some(LanguageLevel::C1), None, Some(false), None)
    );
    assert_eq!(got.title, o.title);

    // A record written by a version without the fields (or with a level this version does not
    // know) reads as "not given".
    let obj = doc
        .record_obj(RecordKind::Offering, &o.id)
        .unwrap()
        .unwrap();
    for key in ["language_level", "format", "childcare", "barrier_free"] {
        let _ = doc.automerge().delete(&obj, key);
    }
    doc.automerge().put(&obj, "language_level", "d9").unwrap();
    doc.commit("old or newer version", 0);
    let got = reload(&mut doc).offering(&o.id).unwrap().unwrap();
    assert_eq!(
        (
            got.language_level,
            got.format,
            got.childcare,
            got.barrier_free
        ),
        (None, None, None, None)
    );
}

#[test]
fn unknown_fields_survive_updates_and_reloads() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let o = offering();
    doc.create_offering(&o).unwrap();
    doc.commit("create", 0);
    // A newer version writes a field this one does not know.
    let obj = doc
        .record_obj(RecordKind::Offering, &o.id)
        .unwrap()
        .unwrap();
    doc.automerge()
        .put(&obj, "accessibility", "barrierefrei")
        .unwrap();
    doc.automerge().put(ROOT, "future_collection", "x").unwrap();
    doc.commit("newer version", 0);
    let mut changed = o.clone();
    changed.title = "Geändert".into();
    doc.update_offering(&changed, OfferingField::ALL).unwrap();
    doc.commit("update", 0);
    let mut loaded = reload(&mut doc);
    let obj = loaded
        .record_obj(RecordKind::Offering, &o.id)
        .unwrap()
        .unwrap();
    let kept = loaded
        .automerge()
        .get(&obj, "accessibility")
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(kept.as_str(), Some("barrierefrei"));
    assert_eq!(loaded.offering(&o.id).unwrap().unwrap().title, "Geändert");
    assert!(
        loaded
            .automerge()
            .get(ROOT, "future_collection")
            .unwrap()
            .is_some()
    );
}

#[test]
fn concurrent_edits_of_different_fields_both_survive() {
    let mut a = DistrictDocument::new(district()).unwrap();
    let o = offering();
    a.create_offering(&o).unwrap();
    a.commit("create", 0);
    let mut b = reload(&mut a);

    let mut on_a = o.clone();
    on_a.title = "Titel von A".into();
    a.update_offering(&on_a, &[OfferingField::Title]).unwrap();
    a.commit("a", 0);
    let mut on_b = o.clone();
    on_b.places_free = Some(1);
    on_b.target_groups.insert(TargetGroup::Youth);
    b.update_offering(
        &on_b,
        &[OfferingField::PlacesFree, OfferingField::TargetGroups],
    )
    .unwrap();
    b.commit("b", 0);

    a.automerge().merge(b.automerge()).unwrap();
    let merged = a.offering(&o.id).unwrap().unwrap();
    assert_eq!(merged.title, "Titel von A");
    assert_eq!(merged.places_free, Some(1));
    assert!(merged.target_groups.contains(&TargetGroup::Youth));
}

#[test]
fn concurrent_additions_to_a_set_merge() {
    let mut a = DistrictDocument::new(district()).unwrap();
    let o = offering();
    a.create_offering(&o).unwrap();
    a.commit("create", 0);
    let mut b = reload(&mut a);
    let mut on_a = o.clone();
    on_a.languages.insert("uk".parse().unwrap());
    a.update_offering(&on_a, &[OfferingField::Languages])
        .unwrap();
    a.commit("a", 0);
    let mut on_b = o.clone();
    on_b.languages.insert("fa".parse().unwrap());
    b.update_offering(&on_b, &[OfferingField::Languages])
        .unwrap();
    b.commit("b", 0);
    a.automerge().merge(b.automerge()).unwrap();
    let langs: BTreeSet<String> = a
        .offering(&o.id)
        .unwrap()
        .unwrap()
        .languages
        .iter()
        .map(|l| l.to_string())
        .collect();
    assert_eq!(langs, ["ar", "de", "fa", "uk"].map(String::from).into());
}

#[test]
fn two_nodes_of_a_district_share_one_skeleton() {
    // Both create the document independently; their offerings still land in one map.
    let mut a = DistrictDocument::new(district()).unwrap();
    let mut b = DistrictDocument::new(district()).unwrap();
    let (oa, ob) = (offering(), offering());
    a.create_offering(&oa).unwrap();
    a.commit("a", 0);
    b.create_offering(&ob).unwrap();
    b.commit("b", 0);
    a.automerge().merge(b.automerge()).unwrap();
    let ids: BTreeSet<RecordId> = a.offerings().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, [oa.id, ob.id].into());
}

#[test]
fn incremental_chunks_load_on_top_of_a_snapshot() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    let first = offering();
    doc.create_offering(&first).unwrap();
    doc.commit("1", 0);
    let snapshot = doc.save();
    let _ = doc.take_unsaved();
    let mut chunks = Vec::new();
    let mut later = Vec::new();
    for _ in 0..3 {
        let o = offering();
        doc.create_offering(&o).unwrap();
        doc.commit("n", 0);
        chunks.extend(doc.take_unsaved());
        later.push(o.id);
    }
    let mut loaded =
        DistrictDocument::load(district(), Some(&snapshot), &chunks, &doc.heads()).unwrap();
    assert_eq!(loaded.offerings().len(), 4);
    assert_eq!(loaded.heads(), doc.heads());
    // Without a snapshot, genesis plus every chunk gives the same document.
    let mut all = DistrictDocument::new(district()).unwrap();
    all.automerge().merge(doc.automerge()).unwrap();
    assert_eq!(all.offerings().len(), 4);
}

#[test]
fn corrupt_bytes_are_an_error_not_a_panic() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    doc.create_offering(&offering()).unwrap();
    doc.commit("1", 0);
    let mut bytes = doc.save();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    assert!(DistrictDocument::load(district(), Some(&bytes), &[], &[]).is_err());
    // A damaged chunk is skipped by Automerge; the recorded heads catch it.
    let heads = doc.heads();
    let mut chunk = doc.save();
    let n = chunk.len();
    chunk.truncate(n - 3);
    assert!(matches!(
        DistrictDocument::load(district(), None, &chunk, &heads),
        Err(DocumentError::Malformed(_))
    ));
}

#[test]
fn a_document_without_offerings_map_is_malformed() {
    let mut raw = automerge::AutoCommit::new();
    raw.put_object(ROOT, "contacts", ObjType::Map).unwrap();
    let bytes = raw.save();
    assert!(matches!(
        DistrictDocument::load(district(), Some(&bytes), &[], &[]),
        Err(DocumentError::Malformed(_))
    ));
}

#[test]
fn metadata_is_written_once() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    doc.set_metadata("Landkreis Cloppenburg", "03453").unwrap();
    doc.commit("meta", 0);
    let heads = doc.heads();
    doc.set_metadata("Landkreis Cloppenburg", "03453").unwrap();
    assert_eq!(doc.commit("meta again", 0), None);
    assert_eq!(doc.heads(), heads);
    assert_eq!(
        doc.metadata(),
        ("Landkreis Cloppenburg".into(), "03453".into())
    );
}

#[test]
fn changed_records_names_what_a_merge_brought() {
    let mut a = DistrictDocument::new(district()).unwrap();
    let kept = offering();
    let edited = offering();
    let removed = offering();
    for o in [&kept, &edited, &removed] {
        a.create_offering(o).unwrap();
    }
    a.commit("setup", 0);
    let before = a.heads();
    let mut changed = edited.clone();
    changed.title = "Neu".into();
    a.update_offering(&changed, &[OfferingField::Title])
        .unwrap();
    a.delete_offering(&removed.id).unwrap();
    let added = offering();
    a.create_offering(&added).unwrap();
    let c = contact();
    a.create_contact(&c).unwrap();
    a.commit("changes", 0);
    let after = a.heads();
    let mut got = a.changed_records(&before, &after);
    got.sort();
    let mut want = vec![
        (RecordKind::Offering, edited.id),
        (RecordKind::Offering, removed.id),
        (RecordKind::Offering, added.id),
        (RecordKind::Contact, c.id),
    ];
    want.sort();
    assert_eq!(got, want);
    assert!(a.changed_records(&after, &after).is_empty());
}

#[test]
fn consecutive_changed_records_calls_use_the_index_and_stay_exact() {
    let mut a = DistrictDocument::new(district()).unwrap();
    let mut replica = DistrictDocument::new(district()).unwrap();
    let mut before = replica.heads();
    for round in 0..3 {
        let mut ids = Vec::new();
        for _ in 0..=round {
            let o = offering();
            a.create_offering(&o).unwrap();
            ids.push((RecordKind::Offering, o.id));
        }
        a.commit("round", 0);
        replica.automerge().merge(a.automerge()).unwrap();
        let after = replica.heads();
        let mut got = replica.changed_records(&before, &after);
        got.sort();
        ids.sort();
        assert_eq!(got, ids, "round {round}");
        before = after;
    }
}

#[test]
fn a_loaded_document_has_nothing_unsaved() {
    let mut doc = DistrictDocument::new(district()).unwrap();
    doc.create_offering(&offering()).unwrap();
    doc.commit("1", 0);
    let stored = doc.take_unsaved();
    assert!(!stored.is_empty());
    assert!(doc.take_unsaved().is_empty());
    let heads = doc.heads();
    let mut loaded = DistrictDocument::load(district(), None, &stored, &heads).unwrap();
    assert!(
        loaded.take_unsaved().is_empty(),
        "a restart must not store the document again"
    );
    loaded.create_offering(&offering()).unwrap();
    loaded.commit("2", 0);
    let next = loaded.take_unsaved();
    assert!(!next.is_empty() && next.len() < stored.len());
}
