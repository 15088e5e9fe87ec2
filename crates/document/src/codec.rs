//! Reading and writing record fields. The mapping of each field to Automerge values lives here
//! and nowhere else.
use std::collections::BTreeSet;
use std::str::FromStr;

use automerge::{
    AutoCommit, ObjId, ObjType, ReadDoc, ScalarValueRef, ValueRef, transaction::Transactable,
};
use kreisnetz_model::{
    Category, Contact, ContactField, Coordinates, DistrictId, Offering, OfferingField,
    OfferingStatus, RecordId, Timestamp, format_date, parse_date,
};

use crate::DocumentError;

/// One record's fields as read from the document, before they are typed.
#[derive(Default)]
struct Fields {
    items: Vec<(String, Field)>,
}

enum Field {
    Str(String),
    Uint(u64),
    Int(i64),
    Time(i64),
    Bool(bool),
    Set(BTreeSet<String>),
    Coordinates(Option<f64>, Option<f64>),
    Other,
}

impl Fields {
    fn read(doc: &AutoCommit, obj: &ObjId) -> Self {
        let mut items = Vec::new();
        for item in doc.map_range(obj, ..) {
            let field = match &item.value {
                ValueRef::Scalar(s) => scalar(s),
                ValueRef::Object(ObjType::Map) => {
                    let child = item.id();
                    if item.key == "coordinates" {
                        let num = |k: &str| match doc.get(&child, k) {
                            Ok(Some((v, _))) => v.as_f64(),
                            _ => None,
                        };
                        Field::Coordinates(num("latitude"), num("longitude"))
                    } else {
                        Field::Set(doc.keys(&child).collect())
                    }
                }
                ValueRef::Object(_) => Field::Other,
            };
            items.push((item.key.to_string(), field));
        }
        Fields { items }
    }

    fn get(&self, key: &str) -> Option<&Field> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    fn str(&self, key: &str) -> String {
        match self.get(key) {
            Some(Field::Str(s)) => s.clone(),
            _ => String::new(),
        }
    }

    fn u32(&self, key: &str) -> Option<u32> {
        match self.get(key) {
            Some(Field::Uint(n)) => u32::try_from(*n).ok(),
            Some(Field::Int(n)) => u32::try_from(*n).ok(),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.get(key) {
            Some(Field::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    fn time(&self, key: &str) -> Timestamp {
        match self.get(key) {
            Some(Field::Time(t)) | Some(Field::Int(t)) => Timestamp(*t),
            _ => Timestamp(0),
        }
    }

    fn set<T: FromStr + Ord>(&self, key: &str) -> BTreeSet<T> {
        match self.get(key) {
            Some(Field::Set(s)) => s.iter().filter_map(|m| m.parse().ok()).collect(),
            _ => BTreeSet::new(),
        }
    }

    fn parsed<T: FromStr>(&self, key: &str) -> Option<T> {
        match self.get(key) {
            Some(Field::Str(s)) => s.parse().ok(),
            _ => None,
        }
    }

    fn date(&self, key: &str) -> Option<time::Date> {
        match self.get(key) {
            Some(Field::Str(s)) => parse_date(s).ok(),
            _ => None,
        }
    }
}

fn scalar(s: &ScalarValueRef<'_>) -> Field {
    match s {
        ScalarValueRef::Str(s) => Field::Str(s.to_string()),
        ScalarValueRef::Uint(n) => Field::Uint(*n),
        ScalarValueRef::Int(n) => Field::Int(*n),
        ScalarValueRef::Timestamp(t) => Field::Time(*t),
        ScalarValueRef::Boolean(b) => Field::Bool(*b),
        _ => Field::Other,
    }
}

pub(crate) fn read_offering(
    doc: &AutoCommit,
    obj: &ObjId,
    district: DistrictId,
    id: RecordId,
) -> Result<Offering, DocumentError> {
    let f = Fields::read(doc, obj);
    let coordinates = match f.get("coordinates") {
        Some(Field::Coordinates(Some(latitude), Some(longitude))) => Some(Coordinates {
            latitude: *latitude,
            longitude: *longitude,
        }),
        _ => None,
    };
    Ok(Offering {
        id,
        district_id: district,
        title: f.str("title"),
        description: f.str("description"),
        // A category from a newer vocabulary reads as `other` here; the stored value is kept.
        category: f.parsed("category").unwrap_or(Category::Other),
        target_groups: f.set("target_groups"),
        provider: f.str("provider"),
        provider_kind: f.parsed("provider_kind"),
        municipality: f.str("municipality"),
        address: f.str("address"),
        postal_code: f.str("postal_code"),
        coordinates,
        languages: f.set("languages"),
        start_date: f.date("start_date"),
        end_date: f.date("end_date"),
        schedule: f.str("schedule"),
        places_total: f.u32("places_total"),
        places_free: f.u32("places_free"),
        cost: f.str("cost"),
        url: f.str("url"),
        contact_ids: f.set("contact_ids"),
        status: f.parsed("status").unwrap_or(OfferingStatus::Active),
        // Absent (a document written before these fields existed) or a term from a newer
        // vocabulary reads as not given; the stored value is kept.
        language_level: f.parsed("language_level"),
        format: f.parsed("format"),
        childcare: f.bool("childcare"),
        barrier_free: f.bool("barrier_free"),
        create_time: f.time("create_time"),
        update_time: f.time("update_time"),
    })
}

pub(crate) fn read_contact(
    doc: &AutoCommit,
    obj: &ObjId,
    district: DistrictId,
    id: RecordId,
) -> Result<Contact, DocumentError> {
    let f = Fields::read(doc, obj);
    Ok(Contact {
        id,
        district_id: district,
        display_name: f.str("display_name"),
        organisation: f.str("organisation"),
        role: f.str("role"),
        responsibility: f.str("responsibility"),
        email: f.str("email"),
        phone: f.str("phone"),
        languages: f.set("languages"),
        create_time: f.time("create_time"),
        update_time: f.time("update_time"),
    })
}

/// A writer for one record that skips work a fresh record does not need.
struct Writer<'a> {
    doc: &'a mut AutoCommit,
    obj: &'a ObjId,
    fresh: bool,
}

impl Writer<'_> {
    fn str(&mut self, key: &str, value: &str) -> Result<(), DocumentError> {
        if !value.is_empty() {
            // Unchanged values are not rewritten: no op, no change, no conflict.
            if !self.fresh
                && let Ok(Some((v, _))) = self.doc.get(self.obj, key)
                && v.as_str() == Some(value)
            {
                return Ok(());
            }
            self.doc.put(self.obj, key, value)?;
        } else if !self.fresh {
            self.delete(key)?;
        }
        Ok(())
    }

    fn opt_str(&mut self, key: &str, value: Option<&str>) -> Result<(), DocumentError> {
        self.str(key, value.unwrap_or(""))
    }

    fn uint(&mut self, key: &str, value: Option<u32>) -> Result<(), DocumentError> {
        match value {
            Some(n) => {
                if !self.fresh
                    && let Ok(Some((v, _))) = self.doc.get(self.obj, key)
                    && v.as_u64() == Some(u64::from(n))
                {
                    return Ok(());
                }
                self.doc.put(self.obj, key, u64::from(n))?;
            }
            None if !self.fresh => self.delete(key)?,
            None => {}
        }
        Ok(())
    }

    fn bool(&mut self, key: &str, value: Option<bool>) -> Result<(), DocumentError> {
        match value {
            Some(b) => {
                if !self.fresh
                    && let Ok(Some((v, _))) = self.doc.get(self.obj, key)
                    && v.as_bool() == Some(b)
                {
                    return Ok(());
                }
                self.doc.put(self.obj, key, b)?;
            }
            None if !self.fresh => self.delete(key)?,
            None => {}
        }
        Ok(())
    }

    fn delete(&mut self, key: &str) -> Result<(), DocumentError> {
        if self.doc.get(self.obj, key)?.is_some() {
            self.doc.delete(self.obj, key)?;
        }
        Ok(())
    }

    /// Makes the set at `key` hold exactly `members`, touching only what differs.
    fn set(&mut self, key: &str, members: BTreeSet<String>) -> Result<(), DocumentError> {
        let existing = if self.fresh {
            None
        } else {
            self.doc.get(self.obj, key)?
        };
        let child = match existing {
            Some((automerge::Value::Object(ObjType::Map), child)) => child,
            _ if members.is_empty() => {
                if !self.fresh {
                    self.delete(key)?;
                }
                return Ok(());
            }
            _ => self.doc.put_object(self.obj, key, ObjType::Map)?,
        };
        let current: BTreeSet<String> = self.doc.keys(&child).collect();
        for gone in current.difference(&members) {
            self.doc.delete(&child, gone.as_str())?;
        }
        for new in members.difference(&current) {
            self.doc.put(&child, new.as_str(), true)?;
        }
        Ok(())
    }
}

fn keys<T: ToString>(set: &BTreeSet<T>) -> BTreeSet<String> {
    set.iter().map(|m| m.to_string()).collect()
}

pub(crate) fn write_offering(
    doc: &mut AutoCommit,
    obj: &ObjId,
    o: &Offering,
    fields: &[OfferingField],
    fresh: bool,
) -> Result<(), DocumentError> {
    let mut w = Writer { doc, obj, fresh };
    for field in fields {
        let key = field.name();
        match field {
            OfferingField::Title => w.str(key, &o.title)?,
            OfferingField::Description => w.str(key, &o.description)?,
            OfferingField::Category => w.str(key, o.category.key())?,
            OfferingField::TargetGroups => w.set(key, keys(&o.target_groups))?,
            OfferingField::Provider => w.str(key, &o.provider)?,
            OfferingField::ProviderKind => w.opt_str(key, o.provider_kind.map(|k| k.key()))?,
            OfferingField::Municipality => w.str(key, &o.municipality)?,
            OfferingField::Address => w.str(key, &o.address)?,
            OfferingField::PostalCode => w.str(key, &o.postal_code)?,
            OfferingField::Coordinates => match o.coordinates {
                Some(c) => {
                    let child = w.doc.put_object(w.obj, key, ObjType::Map)?;
                    w.doc.put(&child, "latitude", c.latitude)?;
                    w.doc.put(&child, "longitude", c.longitude)?;
                }
                None if !fresh => w.delete(key)?,
                None => {}
            },
            OfferingField::Languages => w.set(key, keys(&o.languages))?,
            OfferingField::StartDate => w.opt_str(key, o.start_date.map(format_date).as_deref())?,
            OfferingField::EndDate => w.opt_str(key, o.end_date.map(format_date).as_deref())?,
            OfferingField::Schedule => w.str(key, &o.schedule)?,
            OfferingField::PlacesTotal => w.uint(key, o.places_total)?,
            OfferingField::PlacesFree => w.uint(key, o.places_free)?,
            OfferingField::Cost => w.str(key, &o.cost)?,
            OfferingField::Url => w.str(key, &o.url)?,
            OfferingField::ContactIds => w.set(key, keys(&o.contact_ids))?,
            OfferingField::Status => w.str(key, o.status.key())?,
            OfferingField::LanguageLevel => w.opt_str(key, o.language_level.map(|l| l.key()))?,
            OfferingField::Format => w.opt_str(key, o.format.map(|f| f.key()))?,
            OfferingField::Childcare => w.bool(key, o.childcare)?,
            OfferingField::BarrierFree => w.bool(key, o.barrier_free)?,
        }
    }
    Ok(())
}

pub(crate) fn write_contact(
    doc: &mut AutoCommit,
    obj: &ObjId,
    c: &Contact,
    fields: &[ContactField],
    fresh: bool,
) -> Result<(), DocumentError> {
    let mut w = Writer { doc, obj, fresh };
    for field in fields {
        let key = field.name();
        match field {
            ContactField::DisplayName => w.str(key, &c.display_name)?,
            ContactField::Organisation => w.str(key, &c.organisation)?,
            ContactField::Role => w.str(key, &c.role)?,
            ContactField::Responsibility => w.str(key, &c.responsibility)?,
            ContactField::Email => w.str(key, &c.email)?,
            ContactField::Phone => w.str(key, &c.phone)?,
            ContactField::Languages => w.set(key, keys(&c.languages))?,
        }
    }
    Ok(())
}

pub(crate) fn write_times(
    doc: &mut AutoCommit,
    obj: &ObjId,
    created: Option<Timestamp>,
    updated: Timestamp,
) -> Result<(), DocumentError> {
    if let Some(c) = created {
        doc.put(obj, "create_time", automerge::ScalarValue::Timestamp(c.0))?;
    }
    doc.put(
        obj,
        "update_time",
        automerge::ScalarValue::Timestamp(updated.0),
    )?;
    Ok(())
}
