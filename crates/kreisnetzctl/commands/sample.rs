//! `sample load`: fills the node's own district with the sample records of a Weser-Ems district.
//!
//! The records keep the sample's IDs (`contact_id` / `offering_id`), so a second run gets
//! ALREADY_EXISTS for each of them, which counts as "already loaded" rather than as an error.
//! Contacts go first because offerings refer to them.
use anyhow::{Context, Result, anyhow};
use kreisnetz_model::{DistrictId, Timestamp};
use kreisnetz_proto::convert::{contact_to_proto, offering_to_proto};
use kreisnetz_proto::v1;
use kreisnetz_sample::{WESER_EMS, district_sample, find_district};
use serde_json::json;
use tonic::Code;

use super::Ctx;
use crate::args::SampleLoadArgs;
use crate::errors::Usage;
use crate::output;

/// How many records were created and how many were there already.
#[derive(Default, Debug, PartialEq, Eq)]
struct Tally {
    created: usize,
    already_loaded: usize,
}

impl Tally {
    /// Counts one create: ALREADY_EXISTS is "already loaded", other errors stop the load.
    fn count<T>(&mut self, result: Result<T>) -> Result<()> {
        match result {
            Ok(_) => self.created += 1,
            Err(e)
                if e.downcast_ref::<tonic::Status>()
                    .is_some_and(|s| s.code() == Code::AlreadyExists) =>
            {
                self.already_loaded += 1
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn text(&self, what: &str) -> String {
        match (self.created, self.already_loaded) {
            (0, 0) => format!("no {what}"),
            (0, n) => format!("{n} {what} already loaded"),
            (n, 0) => format!("{n} {what} created"),
            (n, m) => format!("{n} {what} created, {m} already loaded"),
        }
    }
}

fn known_districts() -> String {
    WESER_EMS
        .iter()
        .map(|d| d.key)
        .collect::<Vec<_>>()
        .join(", ")
}

pub async fn load(ctx: &Ctx<'_>, a: &SampleLoadArgs) -> Result<()> {
    if let Some(name) = &a.district
        && find_district(name).is_none()
    {
        return Err(Usage(format!(
            "--district: \"{name}\" is not a district of the Weser-Ems region; one of: {}",
            known_districts()
        ))
        .into());
    }
    let node = ctx.node().await?;
    let status = node
        .call(
            node.admin()
                .get_node_status(node.request(v1::GetNodeStatusRequest {})),
        )
        .await?;
    let district_id: DistrictId = status.district_id.parse().with_context(|| {
        format!(
            "the node's district ID \"{}\" is not readable",
            status.district_id
        )
    })?;
    let name = a.district.as_deref().unwrap_or(&status.district_name);
    let region = find_district(name).ok_or_else(|| {
        anyhow!(
            "the node's district \"{name}\" has no sample data; choose one with --district ({})",
            known_districts()
        )
    })?;
    let sample = district_sample(region, district_id, a.seed, Timestamp::now());

    let mut contacts = Tally::default();
    for c in &sample.contacts {
        let contact = v1::Contact {
            name: String::new(),
            etag: String::new(),
            ..contact_to_proto(c)
        };
        let req = v1::CreateContactRequest {
            contact: Some(contact),
            contact_id: c.id.to_string(),
        };
        contacts.count(
            node.call(node.contacts().create_contact(node.request(req)))
                .await,
        )?;
    }
    let mut offerings = Tally::default();
    for o in &sample.offerings {
        let offering = v1::Offering {
            name: String::new(),
            etag: String::new(),
            ..offering_to_proto(o)
        };
        let req = v1::CreateOfferingRequest {
            offering: Some(offering),
            offering_id: o.id.to_string(),
        };
        offerings.count(
            node.call(node.offerings().create_offering(node.request(req)))
                .await,
        )?;
    }

    let mut out = std::io::stdout().lock();
    if ctx.json {
        let tally = |t: &Tally| json!({ "created": t.created, "already_loaded": t.already_loaded });
        let value = json!({
            "district_id": district_id.to_string(),
            "sample": region.name,
            "seed": a.seed,
            "contacts": tally(&contacts),
            "offerings": tally(&offerings),
        });
        return output::print_json(&mut out, &value);
    }
    let verdict = if contacts.created + offerings.created == 0 {
        " (already loaded)"
    } else {
        ""
    };
    output::print_text(
        &mut out,
        &format!(
            "sample of {} (seed {}) into district {district_id}{verdict}:\n  {}\n  {}",
            region.name,
            a.seed,
            contacts.text("contacts"),
            offerings.text("offerings"),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn already_existing_records_are_counted_not_fatal() {
        let mut t = Tally::default();
        t.count(Ok(())).unwrap();
        t.count::<()>(Err(tonic::Status::already_exists("exists").into()))
            .unwrap();
        t.count::<()>(Err(tonic::Status::already_exists("exists").into()))
            .unwrap();
        assert_eq!(
            t,
            Tally {
                created: 1,
                already_loaded: 2
            }
        );
        assert!(
            t.count::<()>(Err(tonic::Status::invalid_argument("bad").into()))
                .is_err()
        );
        assert_eq!(t.text("offerings"), "1 offerings created, 2 already loaded");
        assert_eq!(
            Tally {
                created: 0,
                already_loaded: 3
            }
            .text("contacts"),
            "3 contacts already loaded"
        );
    }
}
