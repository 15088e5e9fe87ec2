//! From flags to wire messages.
//!
//! A field flag sets one API field; for an update the same flags also make the update mask, so
//! the mask is exactly the fields given (plus those named by `--clear`, which stay at their
//! empty wire value). Vocabulary values go on the wire as their protobuf numbers (`number()`).
use std::collections::BTreeSet;

use kreisnetz_model::{ContactField, OfferingField, RecordId, format_date};
use kreisnetz_proto::v1;
use prost_types::FieldMask;

use crate::args::{
    ContactAddArgs, ContactFields, ContactUpdateArgs, OfferingAddArgs, OfferingFields,
    OfferingUpdateArgs, RecordRef,
};
use crate::errors::Usage;

impl OfferingFields {
    /// The wire offering with every given flag's field set, and which fields those are.
    pub fn to_wire(&self) -> (v1::Offering, BTreeSet<OfferingField>) {
        use OfferingField as F;
        let mut o = v1::Offering::default();
        let mut set = BTreeSet::new();
        let mut text = |field: F, value: &Option<String>, slot: &mut String| {
            if let Some(v) = value {
                slot.clone_from(v);
                set.insert(field);
            }
        };
        text(F::Title, &self.title, &mut o.title);
        text(F::Description, &self.description, &mut o.description);
        text(F::Provider, &self.provider, &mut o.provider);
        text(F::Municipality, &self.municipality, &mut o.municipality);
        text(F::Address, &self.address, &mut o.address);
        text(F::PostalCode, &self.postal_code, &mut o.postal_code);
        text(F::Schedule, &self.schedule, &mut o.schedule);
        text(F::Cost, &self.cost, &mut o.cost);
        text(F::Url, &self.url, &mut o.url);
        if let Some(c) = self.category {
            o.category = c.number();
            set.insert(F::Category);
        }
        if !self.target_group.is_empty() {
            o.target_groups = self.target_group.iter().map(|t| t.number()).collect();
            set.insert(F::TargetGroups);
        }
        if let Some(k) = self.provider_kind {
            o.provider_kind = k.number();
            set.insert(F::ProviderKind);
        }
        // The argument parser makes sure --lat and --lon come together.
        if let (Some(latitude), Some(longitude)) = (self.lat, self.lon) {
            o.coordinates = Some(v1::Coordinates {
                latitude,
                longitude,
            });
            set.insert(F::Coordinates);
        }
        if !self.language.is_empty() {
            o.languages = self.language.iter().map(|l| l.to_string()).collect();
            set.insert(F::Languages);
        }
        if let Some(d) = self.start {
            o.start_date = format_date(d);
            set.insert(F::StartDate);
        }
        if let Some(d) = self.end {
            o.end_date = format_date(d);
            set.insert(F::EndDate);
        }
        if let Some(n) = self.places {
            o.places_total = Some(n);
            set.insert(F::PlacesTotal);
        }
        if let Some(n) = self.free_places {
            o.places_free = Some(n);
            set.insert(F::PlacesFree);
        }
        if !self.contact.is_empty() {
            o.contact_ids = self.contact.iter().map(|c| c.to_string()).collect();
            set.insert(F::ContactIds);
        }
        if let Some(s) = self.status {
            o.status = s.number();
            set.insert(F::Status);
        }
        if let Some(l) = self.language_level {
            o.language_level = l.number();
            set.insert(F::LanguageLevel);
        }
        if let Some(f) = self.format {
            o.format = f.number();
            set.insert(F::Format);
        }
        if let Some(c) = self.childcare {
            o.childcare = Some(c.into());
            set.insert(F::Childcare);
        }
        if let Some(b) = self.barrier_free {
            o.barrier_free = Some(b.into());
            set.insert(F::BarrierFree);
        }
        (o, set)
    }
}

impl ContactFields {
    /// The wire contact with every given flag's field set, and which fields those are.
    pub fn to_wire(&self) -> (v1::Contact, BTreeSet<ContactField>) {
        use ContactField as F;
        let mut c = v1::Contact::default();
        let mut set = BTreeSet::new();
        let mut text = |field: F, value: &Option<String>, slot: &mut String| {
            if let Some(v) = value {
                slot.clone_from(v);
                set.insert(field);
            }
        };
        text(F::DisplayName, &self.display_name, &mut c.display_name);
        text(F::Organisation, &self.organisation, &mut c.organisation);
        text(F::Role, &self.role, &mut c.role);
        text(
            F::Responsibility,
            &self.responsibility,
            &mut c.responsibility,
        );
        text(F::Email, &self.email, &mut c.email);
        text(F::Phone, &self.phone, &mut c.phone);
        if !self.language.is_empty() {
            c.languages = self.language.iter().map(|l| l.to_string()).collect();
            set.insert(F::Languages);
        }
        (c, set)
    }
}

fn id_string(id: Option<RecordId>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

pub fn create_offering(args: &OfferingAddArgs) -> v1::CreateOfferingRequest {
    let (offering, _) = args.fields.to_wire();
    v1::CreateOfferingRequest {
        offering: Some(offering),
        offering_id: id_string(args.id),
    }
}

pub fn create_contact(args: &ContactAddArgs) -> v1::CreateContactRequest {
    let (contact, _) = args.fields.to_wire();
    v1::CreateContactRequest {
        contact: Some(contact),
        contact_id: id_string(args.id),
    }
}

/// The fields to change: those given plus those cleared. A field both set and cleared, or no
/// field at all, is a usage error.
fn mask<F: Copy + Ord>(
    mut set: BTreeSet<F>,
    clear: &[F],
    name: fn(F) -> &'static str,
) -> Result<FieldMask, Usage> {
    for f in clear {
        if set.contains(f) {
            return Err(Usage(format!(
                "--clear {0} and a flag setting {0} contradict each other",
                name(*f)
            )));
        }
    }
    // A cleared field keeps its empty wire value ("", 0, no element, absent).
    set.extend(clear.iter().copied());
    if set.is_empty() {
        return Err(Usage(
            "nothing to update: give the fields to change as flags, or --clear FIELD".into(),
        ));
    }
    Ok(FieldMask {
        paths: set.into_iter().map(|f| name(f).to_string()).collect(),
    })
}

/// Says which record an update is for: its resource name when the district is known, else its
/// ID (the API takes either).
fn target(r: &RecordRef) -> (String, String) {
    match r.district {
        Some(_) => (r.name(), r.id.to_string()),
        None => (String::new(), r.id.to_string()),
    }
}

pub fn update_offering(args: &OfferingUpdateArgs) -> Result<v1::UpdateOfferingRequest, Usage> {
    let (mut offering, set) = args.fields.to_wire();
    let update_mask = mask(set, &args.clear, OfferingField::name)?;
    (offering.name, offering.id) = target(&args.target);
    offering.etag = args.etag.clone().unwrap_or_default();
    Ok(v1::UpdateOfferingRequest {
        offering: Some(offering),
        update_mask: Some(update_mask),
    })
}

pub fn update_contact(args: &ContactUpdateArgs) -> Result<v1::UpdateContactRequest, Usage> {
    let (mut contact, set) = args.fields.to_wire();
    let update_mask = mask(set, &args.clear, ContactField::name)?;
    (contact.name, contact.id) = target(&args.target);
    contact.etag = args.etag.clone().unwrap_or_default();
    Ok(v1::UpdateContactRequest {
        contact: Some(contact),
        update_mask: Some(update_mask),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command, ContactCommand, OfferingCommand};

    fn cli(args: &[&str]) -> Command {
        let mut argv = vec!["kreisnetzctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{e}"))
            .command
    }

    fn offering_update(args: &[&str]) -> Result<v1::UpdateOfferingRequest, Usage> {
        let mut argv = vec!["offering", "update", ID];
        argv.extend_from_slice(args);
        match cli(&argv) {
            Command::Offering(OfferingCommand::Update(u)) => update_offering(&u),
            other => panic!("{other:?}"),
        }
    }

    fn paths(mask: &Option<FieldMask>) -> Vec<&str> {
        mask.as_ref()
            .unwrap()
            .paths
            .iter()
            .map(String::as_str)
            .collect()
    }

    const ID: &str = "0b8e8f0e-6d0a-4a43-9c55-3b1a2f4d9e01";

    #[test]
    fn add_sets_every_flag_on_the_wire() {
        let Command::Offering(OfferingCommand::Add(add)) = cli(&[
            "offering",
            "add",
            "--title",
            "Sprachkurs B1",
            "--description",
            "Deutsch im Beruf",
            "--category",
            "language-course",
            "--target-group",
            "refugees,women",
            "--target-group",
            "Skilled Workers",
            "--provider",
            "BBS Vechta",
            "--provider-kind",
            "school",
            "--municipality",
            "Vechta",
            "--address",
            "Schulstraße 1",
            "--postal-code",
            "49377",
            "--lat",
            "52.73",
            "--lon",
            "8.28",
            "--language",
            "de",
            "--language",
            "AR",
            "--start",
            "2027-02-01",
            "--end",
            "2027-07-31",
            "--schedule",
            "Mo-Fr",
            "--places",
            "16",
            "--free-places",
            "5",
            "--cost",
            "kostenlos",
            "--url",
            "https://bbs.example.org",
            "--contact",
            ID,
            "--status",
            "planned",
            "--language-level",
            "B1",
            "--format",
            "in-person",
            "--childcare",
            "yes",
            "--barrier-free",
            "no",
            "--id",
            ID,
        ]) else {
            panic!()
        };
        let req = create_offering(&add);
        assert_eq!(req.offering_id, ID);
        let o = req.offering.unwrap();
        assert_eq!(o.title, "Sprachkurs B1");
        assert_eq!(o.description, "Deutsch im Beruf");
        assert_eq!(o.category, v1::Category::LanguageCourse as i32);
        assert_eq!(
            o.target_groups,
            [
                v1::TargetGroup::Refugees,
                v1::TargetGroup::Women,
                v1::TargetGroup::SkilledWorkers
            ]
            .map(|t| t as i32)
        );
        assert_eq!(o.provider_kind, v1::ProviderKind::School as i32);
        assert_eq!(
            (
                o.municipality.as_str(),
                o.address.as_str(),
                o.postal_code.as_str()
            ),
            ("Vechta", "Schulstraße 1", "49377")
        );
        assert_eq!(
            o.coordinates,
            Some(v1::Coordinates {
                latitude: 52.73,
                longitude: 8.28
            })
        );
        assert_eq!(o.languages, ["de", "ar"]);
        assert_eq!(
            (o.start_date.as_str(), o.end_date.as_str()),
            ("2027-02-01", "2027-07-31")
        );
        assert_eq!((o.places_total, o.places_free), (Some(16), Some(5)));
        assert_eq!(
            (o.cost.as_str(), o.url.as_str(), o.schedule.as_str()),
            ("kostenlos", "https://bbs.example.org", "Mo-Fr")
        );
        assert_eq!(o.contact_ids, [ID]);
        assert_eq!(o.status, v1::OfferingStatus::Planned as i32);
        assert_eq!(o.language_level, v1::LanguageLevel::B1 as i32);
        assert_eq!(o.format, v1::OfferingFormat::InPerson as i32);
        assert_eq!((o.childcare, o.barrier_free), (Some(true), Some(false)));
        assert!(o.name.is_empty() && o.id.is_empty() && o.etag.is_empty());
    }

    #[test]
    fn add_without_flags_leaves_the_rules_to_the_node() {
        let Command::Contact(ContactCommand::Add(add)) = cli(&[
            "contact",
            "add",
            "--name",
            "Mara Beispiel",
            "--phone",
            "+49 4441 123456",
        ]) else {
            panic!()
        };
        let req = create_contact(&add);
        assert!(req.contact_id.is_empty());
        let c = req.contact.unwrap();
        assert_eq!(
            (c.display_name.as_str(), c.phone.as_str()),
            ("Mara Beispiel", "+49 4441 123456")
        );
        assert!(c.organisation.is_empty() && c.email.is_empty() && c.languages.is_empty());
    }

    #[test]
    fn update_masks_exactly_the_fields_given() {
        let req = offering_update(&[
            "--free-places",
            "3",
            "--title",
            "Neu",
            "--lat",
            "53",
            "--lon",
            "8",
        ])
        .unwrap();
        assert_eq!(
            paths(&req.update_mask),
            ["title", "coordinates", "places_free"]
        );
        let o = req.offering.unwrap();
        assert_eq!(o.id, ID);
        assert_eq!(o.title, "Neu");
        assert_eq!(o.places_free, Some(3));
        assert_eq!(o.places_total, None);
        assert_eq!(o.category, 0);

        let req = offering_update(&["--status", "ended"]).unwrap();
        assert_eq!(paths(&req.update_mask), ["status"]);
    }

    #[test]
    fn clear_adds_the_field_with_its_empty_value() {
        let req = offering_update(&[
            "--clear",
            "places_free",
            "--clear",
            "description",
            "--clear",
            "languages",
            "--clear",
            "coordinates",
            "--places",
            "10",
        ])
        .unwrap();
        assert_eq!(
            paths(&req.update_mask),
            [
                "description",
                "coordinates",
                "languages",
                "places_total",
                "places_free"
            ]
        );
        let o = req.offering.unwrap();
        assert_eq!(o.places_free, None);
        assert_eq!(o.coordinates, None);
        assert!(o.description.is_empty() && o.languages.is_empty());
        assert_eq!(o.places_total, Some(10));
    }

    #[test]
    fn the_need_fields_are_set_and_cleared_like_any_other() {
        let req = offering_update(&["--childcare", "no", "--language-level", "a2"]).unwrap();
        assert_eq!(paths(&req.update_mask), ["language_level", "childcare"]);
        let o = req.offering.unwrap();
        assert_eq!(o.childcare, Some(false), "no is a value, not a clear");
        assert_eq!(o.language_level, v1::LanguageLevel::A2 as i32);

        let req = offering_update(&[
            "--clear",
            "barrier_free",
            "--clear",
            "format",
            "--clear",
            "language-level",
            "--clear",
            "childcare",
        ])
        .unwrap();
        assert_eq!(
            paths(&req.update_mask),
            ["language_level", "format", "childcare", "barrier_free"]
        );
        let o = req.offering.unwrap();
        assert_eq!((o.childcare, o.barrier_free), (None, None));
        assert_eq!((o.language_level, o.format), (0, 0));

        let bad = Cli::try_parse_from([
            "kreisnetzctl",
            "offering",
            "update",
            ID,
            "--childcare",
            "ja?",
        ]);
        assert!(bad.unwrap_err().to_string().contains("--childcare"));
        let bad =
            Cli::try_parse_from(["kreisnetzctl", "offering", "add", "--language-level", "b3"]);
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("a1, a2, b1, b2, c1, c2")
        );
    }

    #[test]
    fn update_names_the_record_and_sends_the_etag() {
        let name = format!(
            "districts/{}/offerings/{ID}",
            kreisnetz_model::DistrictId::from_public_key(b"x")
        );
        let Command::Offering(OfferingCommand::Update(u)) = cli(&[
            "offering", "update", &name, "--cost", "2 EUR", "--etag", "abc",
        ]) else {
            panic!()
        };
        let o = update_offering(&u).unwrap().offering.unwrap();
        assert_eq!(
            (o.name.as_str(), o.id.as_str(), o.etag.as_str()),
            (name.as_str(), ID, "abc")
        );

        let o = offering_update(&["--cost", "2 EUR"])
            .unwrap()
            .offering
            .unwrap();
        assert_eq!(
            (o.name.as_str(), o.id.as_str(), o.etag.as_str()),
            ("", ID, "")
        );
    }

    #[test]
    fn contradicting_or_empty_updates_are_usage_errors() {
        let err = offering_update(&["--title", "x", "--clear", "title"]).unwrap_err();
        assert!(err.0.contains("--clear title"), "{err}");
        let err = offering_update(&[]).unwrap_err();
        assert!(err.0.contains("nothing to update"), "{err}");
    }

    #[test]
    fn contact_update_masks_the_contact_fields() {
        let Command::Contact(ContactCommand::Update(u)) = cli(&[
            "contact",
            "update",
            ID,
            "--name",
            "Beratungsteam",
            "--language",
            "de,uk",
            "--clear",
            "phone",
        ]) else {
            panic!()
        };
        let req = update_contact(&u).unwrap();
        assert_eq!(
            paths(&req.update_mask),
            ["display_name", "phone", "languages"]
        );
        let c = req.contact.unwrap();
        assert_eq!(c.display_name, "Beratungsteam");
        assert_eq!(c.languages, ["de", "uk"]);
        assert!(c.phone.is_empty());
    }
}
