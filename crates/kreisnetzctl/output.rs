//! How records look: tables and field/value listings for people, the API's fields as JSON for
//! scripts.
//!
//! JSON reuses the model's serde form (vocabulary keys, `YYYY-MM-DD` dates, RFC 3339 times), read
//! from the wire with `kreisnetz_proto::convert`, plus the wire-only `name` and `etag`.
use std::collections::HashMap;
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
        "epoch": e.epoch,
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
        "document_bytes": s.document_bytes,
        "feed_epoch": s.feed_epoch,
        "feed_floor": s.feed_floor,
        "feed_events": s.feed_events,
        "api_address": s.api_address,
        "federation_address": s.federation_address,
        "peers_configured": s.peers_configured,
        "peers_connected": s.peers_connected,
        "documents_behind": s.documents_behind,
        "uptime_seconds": s.uptime_seconds,
    })
}

/// A peer as JSON: its fields, with times in RFC 3339 (`null` when not known).
pub fn peer_json(p: &v1::Peer) -> Value {
    json!({
        "node_id": p.node_id,
        "address": p.address,
        "connected": p.connected,
        "district_id": p.district_id,
        "connected_since": time_json(p.connected_since.as_ref()),
        "last_sync_time": time_json(p.last_sync_time.as_ref()),
        "documents_behind": p.documents_behind,
        "bytes_sent": p.bytes_sent,
        "bytes_received": p.bytes_received,
        "rejected": p.rejected,
        "last_error": p.last_error,
        "offences": p.offences,
        "bad_signatures": p.bad_signatures,
        "unsigned_changes": p.unsigned_changes,
        "stale_records": p.stale_records,
        "behind_signed": p.behind_signed,
        "last_notice": p.last_notice,
    })
}

/// A district document as JSON: its fields, with the last change time in RFC 3339.
pub fn document_json(d: &v1::Document) -> Value {
    json!({
        "document_id": d.document_id,
        "district_name": d.district_name,
        "own": d.own,
        "heads": d.heads,
        "changes": d.changes,
        "size_bytes": d.size_bytes,
        "last_change_time": time_json(d.last_change_time.as_ref()),
        "offerings": d.offerings,
        "contacts": d.contacts,
        "signed_seq": d.signed_seq,
        "signed_time": time_json(d.signed_time.as_ref()),
        "newest_signed_seq": d.newest_signed_seq,
        "covered": d.covered,
        "quarantined_changes": d.quarantined_changes,
    })
}

/// A district as the node confirmed trusting it.
pub fn trusted_district_json(t: &v1::TrustedDistrict) -> Value {
    json!({ "district_id": t.district_id, "name": t.name })
}

/// `reader`, `editor`, `admin` (`unknown_7` for a role newer than this CLI).
pub fn role_key(role: i32) -> String {
    match v1::Role::try_from(role) {
        Ok(r) => crate::terms::Term::key(r).to_string(),
        Err(_) => format!("unknown_{role}"),
    }
}

/// A token's public information as JSON, with times in RFC 3339 (`null` when not known).
pub fn token_json(t: &v1::TokenInfo) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "role": role_key(t.role),
        "create_time": time_json(t.create_time.as_ref()),
        "last_used_time": time_json(t.last_used_time.as_ref()),
    })
}

/// A token just created: the secret `token` and its information (never used yet).
pub fn created_token_json(c: &v1::CreatedToken) -> Value {
    let info = c.info.clone().unwrap_or_default();
    json!({
        "token": c.token,
        "id": info.id,
        "name": info.name,
        "role": role_key(info.role),
        "create_time": time_json(info.create_time.as_ref()),
    })
}

pub const TOKEN_COLUMNS: &[&str] = &["ID", "NAME", "ROLE", "CREATED", "LAST USED"];

/// One token for the table: creation as a UTC date and time, last use relative to `now`.
pub fn token_row(t: &v1::TokenInfo, now: Timestamp) -> Vec<String> {
    vec![
        t.id.clone(),
        t.name.clone(),
        role_key(t.role),
        t.create_time.as_ref().map_or("-".into(), minute_text),
        ago(t.last_used_time.as_ref(), now, "never"),
    ]
}

/// `2027-02-01 08:30 UTC`.
fn minute_text(t: &prost_types::Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(t.seconds)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| rfc3339(t))
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

/// `N-ABCD-EFGH`: the prefix and first two groups of a node ID.
pub fn short_node(id: &str) -> String {
    id.splitn(4, '-').take(3).collect::<Vec<_>>().join("-")
}

/// `N-ABCD-EFGH…`: the first two groups of a node or district ID, marked as shortened, for
/// confirmations (the table columns use [`short_node`] and [`short_district`]).
pub fn abbreviated(id: &str) -> String {
    let short = short_node(id);
    if short.len() < id.len() {
        format!("{short}…")
    } else {
        short
    }
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

/// `yes`, `no`, or `-` when not known.
fn yes_no(b: Option<bool>) -> String {
    match b {
        Some(true) => "yes".into(),
        Some(false) => "no".into(),
        None => "-".into(),
    }
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
        o.language_level
            .map_or(String::new(), |l| l.key().to_uppercase()),
        o.format.map_or(String::new(), |f| f.key().into()),
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
    "LEVEL",
    "FORMAT",
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
        (
            "language_level",
            o.language_level.map_or("-".into(), |l| l.key().into()),
        ),
        ("format", o.format.map_or("-".into(), |f| f.key().into())),
        ("childcare", yes_no(o.childcare)),
        ("barrier_free", yes_no(o.barrier_free)),
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

/// `12 s`, `4 min`, `3 h`, `2 d`: how long, in its largest whole unit (for tables).
pub fn age_text(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// Seconds from a wire timestamp to `now`; `None` when the timestamp is not set.
fn seconds_since(t: Option<&prost_types::Timestamp>, now: Timestamp) -> Option<i64> {
    let t = kreisnetz_proto::convert::from_timestamp(Some(t?));
    (t != Timestamp(0)).then(|| (now.0 - t.0).div_euclid(1000))
}

/// `3 s ago`, or `fallback` when the time is not known.
fn ago(t: Option<&prost_types::Timestamp>, now: Timestamp, fallback: &str) -> String {
    seconds_since(t, now).map_or(fallback.into(), |s| format!("{} ago", age_text(s)))
}

/// `512 B`, `1.5 KiB`, `3.0 MiB`: a byte count for tables.
pub fn size_text(n: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub const PEER_COLUMNS: &[&str] = &[
    "NODE",
    "DISTRICT",
    "ADDRESS",
    "CONNECTED",
    "LAST SYNC",
    "BEHIND",
    "SENT/RECEIVED",
    "REJECTED",
    "SIGNATURES",
    "LAST ERROR",
];

/// One peer for the table; `names` maps district IDs to district names (from ListDocuments).
pub fn peer_row(p: &v1::Peer, names: &HashMap<String, String>, now: Timestamp) -> Vec<String> {
    let district = match names.get(&p.district_id) {
        Some(name) if !name.is_empty() => name.clone(),
        _ if p.district_id.is_empty() => "-".into(),
        _ => short_district(&p.district_id),
    };
    let address = match p.address.as_str() {
        "" => "(accept only)".to_string(),
        a => a.to_string(),
    };
    let connected = match (p.connected, seconds_since(p.connected_since.as_ref(), now)) {
        (false, _) => "no".to_string(),
        (true, None) => "yes".to_string(),
        (true, Some(s)) => format!("yes (for {})", age_text(s)),
    };
    vec![
        short_node(&p.node_id),
        district,
        address,
        connected,
        ago(p.last_sync_time.as_ref(), now, "never"),
        p.documents_behind.to_string(),
        format!(
            "{} / {}",
            size_text(p.bytes_sent),
            size_text(p.bytes_received)
        ),
        p.rejected.to_string(),
        signature_text(p),
        p.last_error.clone(),
    ]
}

/// What the peer did with signatures: `ok`, or the problems (`2 bad, 5 unsigned, 1 stale,
/// behind on 1`).
pub fn signature_text(p: &v1::Peer) -> String {
    let mut parts = Vec::new();
    if p.bad_signatures > 0 {
        parts.push(format!("{} bad", p.bad_signatures));
    }
    if p.unsigned_changes > 0 {
        parts.push(format!("{} unsigned", p.unsigned_changes));
    }
    if p.stale_records > 0 {
        parts.push(format!("{} stale", p.stale_records));
    }
    if !p.behind_signed.is_empty() {
        parts.push(format!("behind on {}", p.behind_signed.len()));
    }
    if parts.is_empty() {
        "ok".into()
    } else {
        parts.join(", ")
    }
}

pub const DOCUMENT_COLUMNS: &[&str] = &[
    "DISTRICT",
    "DOCUMENT",
    "OWN",
    "OFFERINGS",
    "CONTACTS",
    "CHANGES",
    "HEADS",
    "SIGNED",
    "LAST CHANGE",
];

/// `2 (a1b2c3d4)`: how many heads, and the start of the first; `0` for none.
pub fn heads_text(heads: &[String]) -> String {
    match heads.first() {
        None => "0".into(),
        Some(first) => {
            let start: String = first.chars().take(8).collect();
            format!("{} ({start})", heads.len())
        }
    }
}

/// One district document for the table.
pub fn document_row(d: &v1::Document, now: Timestamp) -> Vec<String> {
    let short = short_district(&d.document_id);
    vec![
        if d.district_name.is_empty() {
            short.clone()
        } else {
            d.district_name.clone()
        },
        short,
        if d.own { "yes".into() } else { String::new() },
        d.offerings.to_string(),
        d.contacts.to_string(),
        d.changes.to_string(),
        heads_text(&d.heads),
        signed_text(d),
        ago(d.last_change_time.as_ref(), now, "-"),
    ]
}

/// `#12`, `#12 (newest #14)` when this node lacks the owner's newest signed state, `unsigned`
/// when changes are held that no signature covers, `+3 quarantined` when changes wait for one.
pub fn signed_text(d: &v1::Document) -> String {
    let mut text = if d.signed_seq == 0 {
        "-".to_string()
    } else {
        format!("#{}", d.signed_seq)
    };
    if d.newest_signed_seq > d.signed_seq {
        text.push_str(&format!(" (newest #{})", d.newest_signed_seq));
    }
    if !d.covered && d.changes > 1 {
        text.push_str(" unsigned");
    }
    if d.quarantined_changes > 0 {
        text.push_str(&format!(" +{} quarantined", d.quarantined_changes));
    }
    text
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
        // The node's own count when it sends one (no clock skew between CLI and node).
        Some(start) => format!(
            "{} (since {})",
            duration_text(match s.uptime_seconds {
                0 => (now.0 - start.0) / 1000,
                n => i64::try_from(n).unwrap_or(i64::MAX),
            }),
            start.to_rfc3339()
        ),
        None if s.uptime_seconds > 0 => {
            duration_text(i64::try_from(s.uptime_seconds).unwrap_or(i64::MAX))
        }
        None => "-".into(),
    };
    let peers = match (s.peers_connected, s.peers_configured) {
        (_, 0) => "none configured".to_string(),
        (connected, configured) => format!("{connected} of {configured} connected"),
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
        ("peers", peers),
        ("documents behind", s.documents_behind.to_string()),
        (
            "feed",
            format!(
                "sequence {} (epoch {}), {} events kept",
                s.feed_sequence, s.feed_epoch, s.feed_events
            ),
        ),
        ("heads", joined(&s.heads, "\n")),
        (
            "storage",
            format!(
                "{} on disk ({} of documents)",
                bytes_text(s.storage_bytes),
                bytes_text(s.document_bytes)
            ),
        ),
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
            format: v1::OfferingFormat::Online as i32,
            barrier_free: Some(true),
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
        assert_eq!(v["format"], "online");
        assert_eq!(v["barrier_free"], true);
        assert_eq!(v["childcare"], serde_json::Value::Null);
        assert_eq!(v["language_level"], serde_json::Value::Null);
    }

    #[test]
    fn list_rows_are_short() {
        let p = wire();
        let row = offering_row(&offering_model(&p).unwrap());
        assert_eq!(row[0].len(), 8);
        assert_eq!(row[1].len(), 6);
        assert!(row[1].starts_with("D-"));
        assert_eq!(row[4], "", "no language level");
        assert_eq!(row[7], "4/12");
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
                "online",
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
            epoch: 42,
        };
        let v = event_json(&e).unwrap();
        assert_eq!(v["kind"], "offering_updated");
        assert_eq!(v["sequence"], 7);
        assert_eq!(v["epoch"], 42);
        assert_eq!(v["offering"]["title"], "Sprachcafé");
        assert_eq!(event_kind(99), "unknown_99");
    }

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn at(ms: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: ms.div_euclid(1000),
            nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
        })
    }

    fn peer() -> v1::Peer {
        v1::Peer {
            node_id: kreisnetz_model::NodeId::from_public_key(b"peer").to_string(),
            address: "10.0.0.5:7701".into(),
            connected: true,
            district_id: DistrictId::from_public_key(b"Landkreis Cloppenburg").to_string(),
            connected_since: at(NOW.0 - 3_725_000),
            last_sync_time: at(NOW.0 - 3_000),
            documents_behind: 2,
            bytes_sent: 1_572_864,
            bytes_received: 512,
            rejected: 1,
            last_error: String::new(),
            stale_records: 1,
            ..Default::default()
        }
    }

    #[test]
    fn peer_json_has_the_proto_fields_and_rfc3339_times() {
        let p = peer();
        let v = peer_json(&p);
        assert_eq!(v["node_id"], p.node_id.as_str());
        assert_eq!(v["connected"], true);
        assert_eq!(v["district_id"], p.district_id.as_str());
        assert_eq!(v["address"], "10.0.0.5:7701");
        assert_eq!(v["documents_behind"], 2);
        assert_eq!(v["bytes_sent"], 1_572_864);
        assert_eq!(v["bytes_received"], 512);
        assert_eq!(v["rejected"], 1);
        assert_eq!(v["last_error"], "");
        let sync = v["last_sync_time"].as_str().unwrap();
        let parsed =
            time::OffsetDateTime::parse(sync, &time::format_description::well_known::Rfc3339)
                .unwrap();
        assert_eq!(
            parsed.unix_timestamp_nanos() / 1_000_000,
            i128::from(NOW.0 - 3_000),
            "{sync}"
        );
        assert!(v["connected_since"].is_string());
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 17, "{keys:?}");

        let never = v1::Peer {
            connected: false,
            connected_since: None,
            last_sync_time: None,
            ..p
        };
        let v = peer_json(&never);
        assert!(v["last_sync_time"].is_null() && v["connected_since"].is_null());
        assert_eq!(v["connected"], false);
    }

    #[test]
    fn peer_rows_are_short_and_relative() {
        let p = peer();
        let mut names = HashMap::new();
        let row = peer_row(&p, &names, NOW);
        assert_eq!(row[0], p.node_id[..11]);
        assert!(row[0].starts_with("N-") && row[0].matches('-').count() == 2);
        assert_eq!(row[1], p.district_id[..6]);
        assert_eq!(
            row[2..],
            [
                "10.0.0.5:7701",
                "yes (for 1 h)",
                "3 s ago",
                "2",
                "1.5 MiB / 512 B",
                "1",
                "1 stale",
                ""
            ]
        );
        names.insert(p.district_id.clone(), "Landkreis Cloppenburg".to_string());
        assert_eq!(peer_row(&p, &names, NOW)[1], "Landkreis Cloppenburg");

        let waiting = v1::Peer {
            address: String::new(),
            connected: false,
            district_id: String::new(),
            last_sync_time: None,
            last_error: "connection refused".into(),
            ..p
        };
        let row = peer_row(&waiting, &names, NOW);
        assert_eq!(row[1..5], ["-", "(accept only)", "no", "never"], "{row:?}");
        assert_eq!(row[9], "connection refused");

        let text = table(PEER_COLUMNS, vec![peer_row(&peer(), &names, NOW)]);
        assert!(text.starts_with("NODE "), "{text}");
        assert!(
            text.lines().next().unwrap().contains("SENT/RECEIVED"),
            "{text}"
        );
    }

    #[test]
    fn documents_as_json_and_rows() {
        let d = v1::Document {
            document_id: DistrictId::from_public_key(b"Landkreis Vechta").to_string(),
            district_name: "Landkreis Vechta".into(),
            own: true,
            heads: vec!["a1b2c3d4e5f6".into(), "ffff0000".into()],
            changes: 120,
            size_bytes: 4096,
            last_change_time: at(NOW.0 - 240_000),
            offerings: 30,
            contacts: 12,
            signed_seq: 41,
            newest_signed_seq: 42,
            covered: true,
            ..Default::default()
        };
        assert_eq!(signed_text(&d), "#41 (newest #42)");
        assert_eq!(signature_text(&peer()), "1 stale");
        let v = document_json(&d);
        assert_eq!(v["signed_seq"], 41);
        assert_eq!(v["document_id"], d.document_id.as_str());
        assert_eq!(v["own"], true);
        assert_eq!(v["heads"][1], "ffff0000");
        assert_eq!(v["changes"], 120);
        assert_eq!(v["size_bytes"], 4096);
        assert!(v["last_change_time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(v.as_object().unwrap().len(), 14);

        let row = document_row(&d, NOW);
        assert_eq!(row[0], "Landkreis Vechta");
        assert_eq!(row[1], d.document_id[..6]);
        assert_eq!(
            row[2..],
            [
                "yes",
                "30",
                "12",
                "120",
                "2 (a1b2c3d4)",
                "#41 (newest #42)",
                "4 min ago"
            ]
        );
        let other = v1::Document {
            district_name: String::new(),
            own: false,
            heads: vec![],
            last_change_time: None,
            ..d
        };
        let row = document_row(&other, NOW);
        assert_eq!((row[0].as_str(), row[2].as_str()), (&row[1][..], ""));
        assert_eq!((row[6].as_str(), row[8].as_str()), ("0", "-"));
    }

    #[test]
    fn status_shows_peers_and_uptime() {
        let s = v1::NodeStatus {
            district_id: "D-X".into(),
            start_time: at(NOW.0 - 100_000_000),
            peers_configured: 3,
            peers_connected: 2,
            documents_behind: 1,
            uptime_seconds: 3 * 3600 + 12 * 60,
            ..Default::default()
        };
        let text = status_listing(&s, NOW);
        assert!(text.contains("2 of 3 connected"), "{text}");
        assert!(text.contains("3h 12m (since"), "{text}");
        assert!(
            text.lines()
                .any(|l| l.starts_with("documents behind") && l.trim_end().ends_with('1')),
            "{text}"
        );
        let v = status_json(&s);
        assert_eq!(
            (
                &v["peers_configured"],
                &v["peers_connected"],
                &v["documents_behind"],
                &v["uptime_seconds"]
            ),
            (&json!(3), &json!(2), &json!(1), &json!(11_520))
        );
        let lonely = v1::NodeStatus {
            peers_configured: 0,
            peers_connected: 0,
            uptime_seconds: 0,
            ..s
        };
        let text = status_listing(&lonely, NOW);
        assert!(text.contains("none configured"), "{text}");
        // An older node without uptime_seconds: computed from the start time.
        assert!(text.contains("1d 3h (since"), "{text}");
    }

    fn token_info() -> v1::TokenInfo {
        v1::TokenInfo {
            id: "abcd2345".into(),
            name: "district-portal".into(),
            role: v1::Role::Editor as i32,
            create_time: at(1_799_913_600_000), // 2027-01-14 08:00 UTC
            last_used_time: at(NOW.0 - 7_200_000),
        }
    }

    #[test]
    fn tokens_as_json_and_rows() {
        let t = token_info();
        let v = token_json(&t);
        assert_eq!(
            v,
            json!({
                "id": "abcd2345",
                "name": "district-portal",
                "role": "editor",
                "create_time": "2027-01-14T08:00:00Z",
                "last_used_time": Timestamp(NOW.0 - 7_200_000).to_rfc3339(),
            })
        );
        let row = token_row(&t, NOW);
        assert_eq!(
            row,
            [
                "abcd2345",
                "district-portal",
                "editor",
                "2027-01-14 08:00 UTC",
                "2 h ago"
            ]
        );

        let unused = v1::TokenInfo {
            role: v1::Role::Admin as i32,
            last_used_time: None,
            ..t
        };
        assert!(token_json(&unused)["last_used_time"].is_null());
        assert_eq!(token_json(&unused)["role"], "admin");
        assert_eq!(token_row(&unused, NOW)[4], "never");
        assert_eq!(role_key(v1::Role::Reader as i32), "reader");
        assert_eq!(role_key(42), "unknown_42");

        let text = table(TOKEN_COLUMNS, vec![token_row(&unused, NOW)]);
        assert!(text.starts_with("ID  "), "{text}");
        assert!(
            text.lines().next().unwrap().ends_with("LAST USED"),
            "{text}"
        );
    }

    #[test]
    fn a_created_token_has_the_secret_and_the_public_fields() {
        let c = v1::CreatedToken {
            info: Some(v1::TokenInfo {
                last_used_time: None,
                ..token_info()
            }),
            token: "kn1.abcd2345.secret".into(),
        };
        let v = created_token_json(&c);
        assert_eq!(
            v,
            json!({
                "token": "kn1.abcd2345.secret",
                "id": "abcd2345",
                "name": "district-portal",
                "role": "editor",
                "create_time": "2027-01-14T08:00:00Z",
            })
        );
    }

    #[test]
    fn ids_and_ages_are_shortened() {
        let id = kreisnetz_model::NodeId::from_public_key(b"n").to_string();
        assert_eq!(short_node(&id), id[..11]);
        assert_eq!(abbreviated(&id), format!("{}…", &id[..11]));
        assert_eq!(abbreviated("N-AB"), "N-AB");
        assert_eq!(age_text(3), "3 s");
        assert_eq!(age_text(-5), "0 s");
        assert_eq!(age_text(59), "59 s");
        assert_eq!(age_text(60), "1 min");
        assert_eq!(age_text(3 * 3600 + 5), "3 h");
        assert_eq!(age_text(2 * 86_400 + 7), "2 d");
        assert_eq!(size_text(0), "0 B");
        assert_eq!(size_text(1536), "1.5 KiB");
        assert_eq!(size_text(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(heads_text(&["abc".into()]), "1 (abc)");
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
