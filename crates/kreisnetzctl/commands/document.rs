//! `documents`: the district documents the node holds.
use anyhow::Result;
use kreisnetz_model::Timestamp;
use kreisnetz_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::output;

pub async fn list(ctx: &Ctx<'_>) -> Result<()> {
    let node = ctx.node().await?;
    let mut documents = node
        .call(
            node.admin()
                .list_documents(node.request(v1::ListDocumentsRequest {})),
        )
        .await?
        .documents;

    let mut out = std::io::stdout().lock();
    if ctx.json {
        let items: Vec<Value> = documents.iter().map(output::document_json).collect();
        return output::print_json(&mut out, &json!({ "documents": items }));
    }
    if documents.is_empty() {
        return output::print_text(&mut out, "no documents");
    }
    sort_for_table(&mut documents);
    let now = Timestamp::now();
    let rows = documents
        .iter()
        .map(|d| output::document_row(d, now))
        .collect();
    output::print_text(&mut out, &output::table(output::DOCUMENT_COLUMNS, rows))?;
    output::print_text(&mut out, &format!("\n{} documents", documents.len()))
}

/// The own document first, then by district name (unnamed ones last), then by ID.
fn sort_for_table(documents: &mut [v1::Document]) {
    documents.sort_by(|a, b| {
        (
            !a.own,
            a.district_name.is_empty(),
            &a.district_name,
            &a.document_id,
        )
            .cmp(&(
                !b.own,
                b.district_name.is_empty(),
                &b.district_name,
                &b.document_id,
            ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_document_first_then_by_name() {
        let doc = |id: &str, name: &str, own: bool| v1::Document {
            document_id: id.into(),
            district_name: name.into(),
            own,
            ..Default::default()
        };
        let mut docs = vec![
            doc("D-C", "", false),
            doc("D-B", "Stadt Oldenburg (Oldb)", false),
            doc("D-A", "Landkreis Vechta", true),
            doc("D-D", "Landkreis Cloppenburg", false),
        ];
        sort_for_table(&mut docs);
        let ids: Vec<&str> = docs.iter().map(|d| d.document_id.as_str()).collect();
        assert_eq!(ids, ["D-A", "D-D", "D-B", "D-C"]);
    }
}
