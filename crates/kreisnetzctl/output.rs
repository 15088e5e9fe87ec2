//! How records look: tables and field/value listings for people, the API's fields as JSON for
//! scripts.
//!
//! JSON reuses the model's serde form (vocabulary keys, `YYYY-MM-DD` dates, RFC 3339 times), read
//! from the wire with `kreisnetz_proto::convert`, plus the wire-only `name` and `etag`.
use std::io::Write;

use anyhow::{Context, Result, anyhow};
use comfy_table::{ContentArrangement, Table};
use kreisnetz_model::{Contact, Offering, Timestamp, format_date};
use kreisnetz_proto::convert::{contact_from_server, offering_from_server};
use kreisnetz_proto::v1;
use serde_json::{Value, json};

/// Writes a JSON value, pretty-printed, with a final newline.
pub fn print_json(out: &mut impl Write, value: &Value) -> Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Writes text that already ends with a newline (or adds one).
pub fn print_text(out: &mut impl Write, text: &str) -> Result<()> {
    out.write_all(text.as_bytes())?;
    if !text.ends_with('\n') {
        writeln!(out)?;
    }
    Ok(())
}

pub fn offering_model(p: &v1::Offering) -> Result<Offering> {
    offering_from_server(p).map_err(|v| {
        anyhow!(
            "the node sent an offering this CLI cannot read ({}): {v}",
            p.name
        )
    })
}

pub fn contact_model(p: &v1::Contact) -> Result<Contact> {
    contact_from_server(p).map_err(|v| {
        anyhow!(
            "the node sent a contact this CLI cannot read ({}): {v}",
            p.name
        )
    })
}

fn with_name_and_etag(mut value: Value, name: &str, etag: &str) -> Value {
    if let Value::Object(map) = &mut value {
        map.insert("name".into(), Value::String(name.into()));
        map.insert("etag".into(), Value::String(etag.into()));
    }
    value
}

/// An offering as JSON: the model's fields plus `name` and `etag`.
pub fn offering_json(p: &v1::Offering) -> Result<Value> {
    let value = serde_json::to_value(offering_model(p)?).context("offering as JSON")?;
    Ok(with_name_and_etag(value, &p.name, &p.etag))
}

/// A contact as JSON: the model's fields plus `name` and `etag`.
pub fn contact_json(p: &v1::Contact) -> Result<Value> {
    let value = serde_json::to_value(contact_model(p)?).context("contact as JSON")?;
    Ok(with_name_and_etag(value, &p.name, &p.etag))
}

/// A change event as one JSON object.
pub fn event_json(e: &v1::ChangeEvent) -> Result<Value> {
    let mut value = json!({
        "sequence": e.sequence,
        "kind": event_kind(e.kind),
        "name": e.name,
        "district_id": e.district_id,
        "time": time_json(e.time.as_ref()),
    });
    match &e.resource {
        Some(v1::change_event::Resource::Offering(o)) => value["offering"] = offering_json(o)?,
        Some(v1::change_event::Resource::Contact(c)) => value["contact"] = contact_json(c)?,
        None => {}
    }
    Ok(value)
}

/// The node status as JSON: its fields, with the start time in RFC 3339.
pub fn status_json(s: &v1::NodeStatus) -> Value {
    json!({
        "district_id": s.district_id,
        "district_name": s.district_name,
        "node_id": s.node_id,
        "version": s.version,
        "start_time": time_json(s.start_time.as_ref()),
        "feed_sequence": s.feed_sequence,
        "offerings": s.offerings,
        "contacts": s.contacts,
        "documents": s.documents,
        "heads": s.heads,
        "storage_bytes": s.storage_bytes,
        "api_address": s.api_address,
        "federation_address": s.federation_address,
    })
}

fn time_json(t: Option<&prost_types::Timestamp>) -> Value {
    match t {
        Some(t) => Value::String(rfc3339(t)),
        None => Value::Null,
    }
}

fn rfc3339(t: &prost_types::Timestamp) -> String {
    kreisnetz_proto::convert::from_timestamp(Some(t)).to_rfc3339()
}

/// `offering_created`, ... (`unknown_7` for a kind newer than this CLI).
pub fn event_kind(kind: i32) -> String {
    match v1::change_event::Kind::try_from(kind) {
        Ok(k) => k
            .as_str_name()
            .trim_start_matches("KIND_")
            .to_ascii_lowercase(),
        Err(_) => format!("unknown_{kind}"),
    }
}

/// A table without borders, columns two spaces apart, fitted to the terminal's width.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    if let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size_of(std::io::stdout()) {
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(w);
    }
    if !header.is_empty() {
        t.set_header(header.iter().copied());
    }
    for row in rows {
        t.add_row(row);
    }
    for column in t.column_iter_mut() {
        column.set_padding((0, 2));
    }
    let mut text = t.trim_fmt();
    text.push('\n');
    text
}

/// A two-column field/value listing.
pub fn listing(rows: Vec<(&str, String)>) -> String {
    table(
        &[],
        rows.into_iter()
            .map(|(k, v)| vec![k.to_string(), v])
            .collect(),
    )
}

/// The first block of a UUID: enough to tell records apart in a list.
pub fn short_id(id: &str) -> String {
    id.split('-').next().unwrap_or(id).to_string()
}

/// `D-ABCD`: the first group of a district ID.
pub fn short_district(id: &str) -> String {
    id.char_indices()
        .nth(6)
        .map(|(i, _)| &id[..i])
        .unwrap_or(id)
        .to_string()
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

fn joined<T: std::fmt::Display>(items: impl IntoIterator<Item = T>, sep: &str) -> String {
    let v: Vec<String> = items.into_iter().map(|t| t.to_string()).collect();
    or_dash(&v.join(sep))
}

fn time_text(t: Timestamp) -> String {
    if t == Timestamp(0) {
        "-".into()
    } else {
        t.to_rfc3339()
    }
}

/// `3/20` (free/total), `-/20`, or empty when neither is known.
pub fn places(free: Option<u32>, total: Option<u32>) -> String {
    match (free, total) {
        (None, None) => String::new(),
        (f, t) => format!(
            "{}/{}",
            f.map_or("-".into(), |n| n.to_string()),
            t.map_or("-".into(), |n| n.to_string())
        ),
    }
}

pub fn offering_row(o: &Offering) -> Vec<String> {
    vec![
        short_id(&o.id.to_string()),
        short_district(&o.district_id.to_string()),
        o.title.clone(),
        o.category.key().into(),
        o.municipality.clone(),
        places(o.places_free, o.places_total),
        o.status.key().into(),
    ]
}

pub const OFFERING_COLUMNS: &[&str] = &[
    "ID",
    "DISTRICT",
    "TITLE",
    "CATEGORY",
    "MUNICIPALITY",
    "FREE/TOTAL",
    "STATUS",
];

pub fn contact_row(c: &Contact) -> Vec<String> {
    vec![
        short_id(&c.id.to_string()),
        short_district(&c.district_id.to_string()),
        c.display_name.clone(),
        c.organisation.clone(),
        c.role.clone(),
        c.email.clone(),
        c.phone.clone(),
        joined(&c.languages, ","),
    ]
}

pub const CONTACT_COLUMNS: &[&str] = &[
    "ID",
    "DISTRICT",
    "NAME",
    "ORGANISATION",
    "ROLE",
    "EMAIL",
    "PHONE",
    "LANGUAGES",
];

/// Every field of an offering, named as in the API.
pub fn offering_listing(name: &str, etag: &str, o: &Offering) -> String {
    listing(vec![
        ("name", name.to_string()),
        ("id", o.id.to_string()),
        ("district_id", o.district_id.to_string()),
        ("title", or_dash(&o.title)),
        ("description", or_dash(&o.description)),
        ("category", o.category.key().into()),
        ("target_groups", joined(&o.target_groups, ", ")),
        ("provider", or_dash(&o.provider)),
        (
            "provider_kind",
            o.provider_kind.map_or("-".into(), |k| k.key().into()),
        ),
        ("municipality", or_dash(&o.municipality)),
        ("address", or_dash(&o.address)),
        ("postal_code", or_dash(&o.postal_code)),
        (
            "coordinates",
            o.coordinates
                .map_or("-".into(), |c| format!("{}, {}", c.latitude, c.longitude)),
        ),
        ("languages", joined(&o.languages, ", ")),
        ("start_date", o.start_date.map_or("-".into(), format_date)),
        ("end_date", o.end_date.map_or("-".into(), format_date)),
        ("schedule", or_dash(&o.schedule)),
        (
            "places_total",
            o.places_total.map_or("-".into(), |n| n.to_string()),
        ),
        (
            "places_free",
            o.places_free.map_or("-".into(), |n| n.to_string()),
        ),
        ("cost", or_dash(&o.cost)),
        ("url", or_dash(&o.url)),
        ("contact_ids", joined(&o.contact_ids, "\n")),
        ("status", o.status.key().into()),
        ("create_time", time_text(o.create_time)),
        ("update_time", time_text(o.update_time)),
        ("etag", or_dash(etag)),
    ])
}

/// Every field of a contact, named as in the API.
pub fn contact_listing(name: &str, etag: &str, c: &Contact) -> String {
    listing(vec![
        ("name", name.to_string()),
        ("id", c.id.to_string()),
        ("district_id", c.district_id.to_string()),
        ("display_name", or_dash(&c.display_name)),
        ("organisation", or_dash(&c.organisation)),
        ("role", or_dash(&c.role)),
        ("responsibility", or_dash(&c.responsibility)),
        ("email", or_dash(&c.email)),
        ("phone", or_dash(&c.phone)),
        ("languages", joined(&c.languages, ", ")),
        ("create_time", time_text(c.create_time)),
        ("update_time", time_text(c.update_time)),
        ("etag", or_dash(etag)),
    ])
}

/// `2d 3h`, `3h 12m`, `4m 5s`, `12s`.
pub fn duration_text(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// `1.5 MiB (1572864 bytes)`.
pub fn bytes_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {} ({n} bytes)", UNITS[unit])
}

/// The node status for people.
pub fn status_listing(s: &v1::NodeStatus, now: Timestamp) -> String {
    let started = s
        .start_time
        .as_ref()
        .map(|t| kreisnetz_proto::convert::from_timestamp(Some(t)));
    let uptime = match started {
        Some(start) => format!(
            "{} (since {})",
            duration_text((now.0 - start.0) / 1000),
            start.to_rfc3339()
        ),
        None => "-".into(),
    };
    let district = match (s.district_name.as_str(), s.district_id.as_str()) {
        ("", id) => or_dash(id),
        (name, "") => name.to_string(),
        (name, id) => format!("{name} ({id})"),
    };
    listing(vec![
        ("district", district),
        ("node", or_dash(&s.node_id)),
        ("version", or_dash(&s.version)),
        ("uptime", uptime),
        ("offerings", s.offerings.to_string()),
        ("contacts", s.contacts.to_string()),
        ("documents", s.documents.to_string()),
        ("feed sequence", s.feed_sequence.to_string()),
        ("heads", joined(&s.heads, "\n")),
        ("storage", bytes_text(s.storage_bytes)),
        ("api address", or_dash(&s.api_address)),
        ("federation address", or_dash(&s.federation_address)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use kreisnetz_model::{DistrictId, RecordId};
    use kreisnetz_proto::convert::offering_to_proto;

    fn wire() -> v1::Offering {
        let o = v1::Offering {
            title: "Sprachcafé".into(),
            category: v1::Category::SocialLeisure as i32,
            target_groups: vec![v1::TargetGroup::Refugees as i32],
            provider: "pro:connect e.V.".into(),
            municipality: "Oldenburg".into(),
            places_total: Some(12),
            places_free: Some(4),
            ..Default::default()
        };
        let district = DistrictId::from_public_key(b"Stadt Oldenburg");
        let model = kreisnetz_proto::convert::offering_from_proto(
            &o,
            district,
            RecordId::new_random(),
            Timestamp(1_800_000_000_000),
        )
        .unwrap();
        offering_to_proto(&model)
    }

    #[test]
    fn offering_json_has_the_api_fields_and_name_and_etag() {
        let p = wire();
        let v = offering_json(&p).unwrap();
        assert_eq!(v["name"], p.name.as_str());
        assert_eq!(v["etag"], p.etag.as_str());
        assert_eq!(v["category"], "social_leisure");
        assert_eq!(v["target_groups"][0], "refugees");
        assert_eq!(v["places_free"], 4);
        assert_eq!(v["status"], "active");
        assert_eq!(v["district_id"], p.district_id.as_str());
    }

    #[test]
    fn list_rows_are_short() {
        let p = wire();
        let row = offering_row(&offering_model(&p).unwrap());
        assert_eq!(row[0].len(), 8);
        assert_eq!(row[1].len(), 6);
        assert!(row[1].starts_with("D-"));
        assert_eq!(row[5], "4/12");
        let text = table(OFFERING_COLUMNS, vec![row]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].starts_with("ID        DISTRICT  TITLE"), "{text}");
        let cells: Vec<&str> = lines[1]
            .split("  ")
            .filter(|c| !c.trim().is_empty())
            .map(str::trim)
            .collect();
        assert_eq!(
            cells[2..],
            [
                "Sprachcafé",
                "social_leisure",
                "Oldenburg",
                "4/12",
                "active"
            ],
            "{text}"
        );
    }

    #[test]
    fn events_carry_their_kind_and_record() {
        let p = wire();
        let e = v1::ChangeEvent {
            sequence: 7,
            kind: v1::change_event::Kind::OfferingUpdated as i32,
            name: p.name.clone(),
            district_id: p.district_id.clone(),
            time: p.update_time,
            resource: Some(v1::change_event::Resource::Offering(p.clone())),
        };
        let v = event_json(&e).unwrap();
        assert_eq!(v["kind"], "offering_updated");
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["offering"]["title"], "Sprachcafé");
        assert_eq!(event_kind(99), "unknown_99");
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(duration_text(12), "12s");
        assert_eq!(duration_text(3 * 3600 + 12 * 60 + 5), "3h 12m");
        assert_eq!(duration_text(2 * 86_400 + 3 * 3600), "2d 3h");
        assert_eq!(bytes_text(512), "512 bytes");
        assert_eq!(bytes_text(1_572_864), "1.5 MiB (1572864 bytes)");
        assert_eq!(places(None, Some(3)), "-/3");
        assert_eq!(places(None, None), "");
    }
}
