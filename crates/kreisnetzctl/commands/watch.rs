//! `watch`: follows the change feed, one line (or one JSON object) per event as it arrives.
use std::io::Write;

use anyhow::Result;
use kreisnetz_proto::v1;

use super::Ctx;
use crate::errors::Hinted;
use crate::output;

pub async fn watch(ctx: &Ctx<'_>, a: &crate::args::WatchArgs) -> Result<()> {
    let node = ctx.node().await?;
    let req = v1::WatchRequest {
        after_sequence: a.after,
        stop_at_head: a.once,
        epoch: a.epoch,
    };
    // Only opening the stream is limited by --timeout; following it is not (no grpc-timeout
    // either, or the node would end the stream after --timeout).
    let mut feed = node.feed();
    let mut stream = node.call(feed.watch(tonic::Request::new(req))).await?;
    let mut last = a.after;
    let mut epoch = a.epoch;
    loop {
        let event = match stream.message().await {
            Ok(Some(event)) => event,
            Ok(None) => return Ok(()),
            Err(status) => {
                let hint = if status.code() == tonic::Code::OutOfRange {
                    "list the current state (`kreisnetzctl offering list`, `contact list`), then \
                     follow from the sequence and epoch the node names"
                        .to_owned()
                } else if epoch != 0 {
                    format!("resume with `kreisnetzctl watch --after {last} --epoch {epoch}`")
                } else {
                    format!("resume with `kreisnetzctl watch --after {last}`")
                };
                return Err(Hinted::wrap(status, hint));
            }
        };
        last = event.sequence;
        epoch = event.epoch;
        let mut out = std::io::stdout().lock();
        if ctx.json {
            serde_json::to_writer(&mut out, &output::event_json(&event)?)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{}", event_line(&event))?;
        }
        out.flush()?;
    }
}

/// `SEQ  KIND  name  title` (the display name for a contact; nothing for a deletion).
fn event_line(e: &v1::ChangeEvent) -> String {
    let label = match &e.resource {
        Some(v1::change_event::Resource::Offering(o)) => o.title.as_str(),
        Some(v1::change_event::Resource::Contact(c)) => c.display_name.as_str(),
        None => "",
    };
    format!(
        "{:>6}  {:<16}  {}  {}",
        e.sequence,
        output::event_kind(e.kind),
        e.name,
        label
    )
    .trim_end()
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_event() {
        let e = v1::ChangeEvent {
            sequence: 42,
            kind: v1::change_event::Kind::ContactCreated as i32,
            name: "districts/D-X/contacts/1".into(),
            resource: Some(v1::change_event::Resource::Contact(v1::Contact {
                display_name: "Beratungsteam".into(),
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(
            event_line(&e),
            "    42  contact_created   districts/D-X/contacts/1  Beratungsteam"
        );
        let e = v1::ChangeEvent {
            kind: 3,
            resource: None,
            ..e
        };
        assert_eq!(
            event_line(&e),
            "    42  offering_deleted  districts/D-X/contacts/1"
        );
    }
}
