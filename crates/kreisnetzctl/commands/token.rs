//! `token create|list|revoke`: the API tokens that may call the node.
use anyhow::Result;
use kreisnetz_model::Timestamp;
use kreisnetz_proto::v1;
use serde_json::{Value, json};

use super::Ctx;
use crate::args::{TokenCreateArgs, TokenRevokeArgs};
use crate::output;
use crate::terms::Term;

/// Printed on stderr after a new token.
const STORE_IT_NOW: &str = "store it now; the node keeps only a hash";

pub async fn create(ctx: &Ctx<'_>, a: &TokenCreateArgs) -> Result<()> {
    let req = v1::CreateTokenRequest {
        name: a.name.clone(),
        role: a.role as i32,
    };
    let node = ctx.node().await?;
    let created = node
        .call(node.tokens().create_token(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &output::created_token_json(&created))?;
    } else {
        // Only the token on stdout, so that a script can take it as it is.
        output::print_text(&mut out, &created.token)?;
    }
    let info = created.info.unwrap_or_default();
    eprintln!("{}", created_note(&info, a));
    Ok(())
}

/// `token district-portal (id abcd2345, role editor) created; store it now; ...`.
fn created_note(info: &v1::TokenInfo, a: &TokenCreateArgs) -> String {
    let name = if info.name.is_empty() {
        &a.name
    } else {
        &info.name
    };
    let role = match v1::Role::try_from(info.role) {
        Ok(v1::Role::Unspecified) | Err(_) => a.role.key().to_string(),
        Ok(_) => output::role_key(info.role),
    };
    let id = match info.id.as_str() {
        "" => String::new(),
        id => format!("id {id}, "),
    };
    format!("token {name} ({id}role {role}) created; {STORE_IT_NOW}")
}

pub async fn list(ctx: &Ctx<'_>) -> Result<()> {
    let node = ctx.node().await?;
    let tokens = node
        .call(
            node.tokens()
                .list_tokens(node.request(v1::ListTokensRequest {})),
        )
        .await?
        .tokens;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        let items: Vec<Value> = tokens.iter().map(output::token_json).collect();
        return output::print_json(&mut out, &json!({ "tokens": items }));
    }
    if tokens.is_empty() {
        return output::print_text(
            &mut out,
            "no tokens; create one with `kreisnetzctl token create --name NAME --role ROLE`",
        );
    }
    let now = Timestamp::now();
    let rows = tokens.iter().map(|t| output::token_row(t, now)).collect();
    output::print_text(&mut out, &output::table(output::TOKEN_COLUMNS, rows))
}

pub async fn revoke(ctx: &Ctx<'_>, a: &TokenRevokeArgs) -> Result<()> {
    let node = ctx.node().await?;
    let req = v1::RevokeTokenRequest {
        token: a.target.clone(),
    };
    node.call(node.tokens().revoke_token(node.request(req)))
        .await?;
    let mut out = std::io::stdout().lock();
    if ctx.json {
        output::print_json(&mut out, &json!({ "revoked": a.target }))
    } else {
        output::print_text(&mut out, &revoked_line(&a.target))
    }
}

fn revoked_line(token: &str) -> String {
    format!("token {token} revoked; the node refuses it from the next call on")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_names_the_token_and_says_to_store_it() {
        let a = TokenCreateArgs {
            name: "district-portal".into(),
            role: v1::Role::Editor,
        };
        let info = v1::TokenInfo {
            id: "abcd2345".into(),
            name: "district-portal".into(),
            role: v1::Role::Editor as i32,
            ..Default::default()
        };
        assert_eq!(
            created_note(&info, &a),
            "token district-portal (id abcd2345, role editor) created; store it now; the node \
             keeps only a hash"
        );
        // A sparse answer falls back to what was asked for.
        assert_eq!(
            created_note(&v1::TokenInfo::default(), &a),
            "token district-portal (role editor) created; store it now; the node keeps only a hash"
        );
    }

    #[test]
    fn the_revocation_is_confirmed_in_one_line() {
        let line = revoked_line("abcd2345");
        assert_eq!(
            line,
            "token abcd2345 revoked; the node refuses it from the next call on"
        );
        assert!(!line.contains('\n'));
    }
}
