//! Offerings for unit tests.
use std::collections::BTreeSet;

use kreisnetz_model::{
    Category, DistrictId, Offering, OfferingStatus, RecordId, TargetGroup, Timestamp,
};

pub fn district(name: &str) -> DistrictId {
    DistrictId::from_public_key(name.as_bytes())
}

/// An active offering for refugees in Landkreis Vechta with the given title, category and
/// municipality, and nothing else set.
pub fn offering(title: &str, category: Category, municipality: &str) -> Offering {
    Offering {
        id: RecordId::new_random(),
        district_id: district("Landkreis Vechta"),
        title: title.into(),
        description: String::new(),
        category,
        target_groups: [TargetGroup::Refugees].into(),
        provider: "Anbieter".into(),
        provider_kind: None,
        municipality: municipality.into(),
        address: String::new(),
        postal_code: String::new(),
        coordinates: None,
        languages: BTreeSet::new(),
        start_date: None,
        end_date: None,
        schedule: String::new(),
        places_total: None,
        places_free: None,
        cost: String::new(),
        url: String::new(),
        contact_ids: BTreeSet::new(),
        status: OfferingStatus::Active,
        language_level: None,
        format: None,
        childcare: None,
        barrier_free: None,
        create_time: Timestamp(0),
        update_time: Timestamp(0),
    }
}
