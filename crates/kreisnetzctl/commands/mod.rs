//! One module per command group. Each command connects through [`Node`], makes its request
//! from the parsed flags, and prints the answer as a table or as JSON.
use std::path::Path;

use anyhow::Result;
use kreisnetz_model::RecordKind;
use tokio::sync::OnceCell;
use tonic::{Code, Status};

use crate::args::{
    Cli, Command, ContactCommand, DistrictCommand, OfferingCommand, PeerCommand, RecordRef,
    ReportCommand, SampleCommand, TokenCommand,
};
use crate::client::{self, Node, Trust};
use crate::credentials::{self, Resolved, Source};
use crate::errors::{Hinted, NoToken, Usage};

mod contact;
mod district;
mod document;
mod offering;
mod peer;
mod report;
mod sample;
mod status;
mod token;
mod watch;

/// What every command needs: the connection and the output format.
pub struct Ctx<'a> {
    cli: &'a Cli,
    token: &'a Resolved,
    trust: Option<Trust>,
    node: OnceCell<Node>,
    pub json: bool,
}

impl Ctx<'_> {
    /// The node, connected on first use: commands check their flags first, so a usage error
    /// is reported as one even when the node is down.
    pub async fn node(&self) -> Result<&Node> {
        let cli = self.cli;
        self.node
            .get_or_try_init(|| {
                Node::connect(
                    &cli.node,
                    self.token.secret(),
                    self.trust.as_ref(),
                    cli.timeout,
                )
            })
            .await
    }
}

/// Reads a record argument of `get` or `delete` as the command's kind of record.
pub fn record_ref(s: &str, kind: RecordKind) -> Result<RecordRef, Usage> {
    RecordRef::parse(s, kind)
        .map_err(|e| Usage(format!("invalid value '{s}' for '<ID|NAME>': {e}")))
}

/// Runs the command the user gave.
pub async fn run(cli: &Cli) -> Result<()> {
    let trust = client::trust(&cli.node, cli.ca_cert.as_deref(), Path::new("."))?;
    let token = credentials::resolve(
        cli.token.as_ref().map(credentials::Secret::expose),
        cli.token_file.as_deref(),
        |name| std::env::var_os(name),
        Path::new("."),
    )?;
    let token = admin_token_only_to_local(token, &cli.node);
    let ctx = Ctx {
        cli,
        token: &token,
        trust,
        node: OnceCell::new(),
        json: cli.json,
    };
    run_command(&ctx)
        .await
        .map_err(|err| explain_refusal(err, &token))
}

/// The admin token found on this machine goes only to a node on this machine (whether over
/// http:// or https://): sending it to a remote node would hand that node's operator our admin
/// rights. A token given explicitly (flag, variable, token file) goes to whatever node --node
/// names.
fn admin_token_only_to_local(token: Resolved, node: &str) -> Resolved {
    match &token {
        Resolved::Token {
            source: Source::AdminFile(path),
            ..
        } if !node_is_local(node) => Resolved::None {
            notes: vec![format!(
                "{} was not sent: it is only sent to a node on this machine (pass --token or --token-file for {})",
                path.display(),
                node
            )],
        },
        _ => token,
    }
}

/// Whether the node URL names this machine (loopback address or `localhost`).
fn node_is_local(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod local_tests {
    #[test]
    fn only_loopback_nodes_are_local() {
        for url in [
            "http://127.0.0.1:7700",
            "http://localhost:7700",
            "http://[::1]:7700",
            "127.0.0.2:1",
            "https://127.0.0.1:7700",
            "https://LOCALHOST:7700",
            "https://[::1]:7700",
        ] {
            assert!(super::node_is_local(url), "{url}");
        }
        for url in [
            "http://10.0.0.5:7700",
            "http://kreis.example.org:7700",
            "http://[2001:db8::1]:7700",
            "https://10.0.0.5:7700",
            "https://kreis.example.org:7700",
            "https://[2001:db8::1]:7700",
            "https://localhost.example.org:7700",
        ] {
            assert!(!super::node_is_local(url), "{url}");
        }
    }
}

/// An UNAUTHENTICATED answer says which token was sent, or that none was.
fn explain_refusal(err: anyhow::Error, token: &Resolved) -> anyhow::Error {
    let refused = err
        .chain()
        .filter_map(|e| e.downcast_ref::<Status>())
        .any(|s| s.code() == Code::Unauthenticated);
    if !refused {
        return err;
    }
    match token {
        Resolved::None { notes } => anyhow::Error::new(NoToken {
            error: err,
            notes: notes.clone(),
        }),
        Resolved::Token { source, .. } => {
            let hint = match source {
                Source::Flag | Source::Env => format!("the token sent was given by {source}"),
                Source::File(_) => format!("the token sent was read from {source}"),
                Source::AdminFile(_) => format!(
                    "the token sent was read from {source}: is that the data directory of the \
                     node at --node?"
                ),
            };
            Hinted::wrap(err, hint)
        }
    }
}

async fn run_command(ctx: &Ctx<'_>) -> Result<()> {
    match &ctx.cli.command {
        Command::Status => status::status(ctx).await,
        Command::Peers => peer::list(ctx).await,
        Command::Documents => document::list(ctx).await,
        Command::Peer(cmd) => match cmd {
            PeerCommand::Add(a) => peer::add(ctx, a).await,
            PeerCommand::Remove(a) => peer::remove(ctx, a).await,
        },
        Command::District(cmd) => match cmd {
            DistrictCommand::Trust(a) => district::trust(ctx, a).await,
            DistrictCommand::Untrust(a) => district::untrust(ctx, a).await,
        },
        Command::Offering(cmd) => match cmd {
            OfferingCommand::Add(a) => offering::add(ctx, a).await,
            OfferingCommand::Get(a) => offering::get(ctx, a).await,
            OfferingCommand::List(a) => offering::list(ctx, a).await,
            OfferingCommand::Update(a) => offering::update(ctx, a).await,
            OfferingCommand::Delete(a) => offering::delete(ctx, a).await,
        },
        Command::Contact(cmd) => match cmd {
            ContactCommand::Add(a) => contact::add(ctx, a).await,
            ContactCommand::Get(a) => contact::get(ctx, a).await,
            ContactCommand::List(a) => contact::list(ctx, a).await,
            ContactCommand::Update(a) => contact::update(ctx, a).await,
            ContactCommand::Delete(a) => contact::delete(ctx, a).await,
        },
        Command::Watch(a) => watch::watch(ctx, a).await,
        Command::Sample(SampleCommand::Load(a)) => sample::load(ctx, a).await,
        Command::Token(cmd) => match cmd {
            TokenCommand::Create(a) => token::create(ctx, a).await,
            TokenCommand::List => token::list(ctx).await,
            TokenCommand::Revoke(a) => token::revoke(ctx, a).await,
        },
        Command::Report(cmd) => match cmd {
            ReportCommand::Overlaps(a) => report::overlaps(ctx, a).await,
            ReportCommand::Gaps(a) => report::gaps(ctx, a).await,
            ReportCommand::Stale(a) => report::stale(ctx, a).await,
            ReportCommand::Coverage(a) => report::coverage(ctx, a).await,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Secret;
    use crate::errors::report;

    const NODE: &str = "http://127.0.0.1:7700";

    fn refused() -> anyhow::Error {
        Status::unauthenticated("the token is not valid").into()
    }

    fn token_from(source: Source) -> Resolved {
        Resolved::Token {
            secret: Secret::new("kn1.abc.topsecret").unwrap(),
            source,
        }
    }

    #[test]
    fn the_local_admin_token_goes_only_to_local_nodes_over_http_and_https() {
        let admin = token_from(Source::AdminFile("./kreisnetz-data/admin.token".into()));
        for node in [
            "http://127.0.0.1:7700",
            "https://127.0.0.1:7700",
            "https://localhost:7700",
            "https://[::1]:7700",
        ] {
            assert_eq!(
                admin_token_only_to_local(admin.clone(), node),
                admin,
                "{node}"
            );
        }
        for node in [
            "http://kreis.example.org:7700",
            "https://kreis.example.org:7700",
            "https://10.0.0.5:7700",
        ] {
            let Resolved::None { notes } = admin_token_only_to_local(admin.clone(), node) else {
                panic!("{node}: the admin token would be sent")
            };
            assert!(
                notes[0].contains("was not sent") && notes[0].contains(node),
                "{notes:?}"
            );
        }
        // A token given explicitly goes to any node, over https:// as over http://.
        for source in [
            Source::Flag,
            Source::Env,
            Source::File("portal.token".into()),
        ] {
            let given = token_from(source);
            for node in [
                "https://kreis.example.org:7700",
                "https://10.0.0.5:7700",
                "https://127.0.0.1:7700",
            ] {
                assert_eq!(
                    admin_token_only_to_local(given.clone(), node),
                    given,
                    "{node}"
                );
            }
        }
    }

    #[test]
    fn a_refusal_says_where_the_token_came_from_or_that_there_was_none() {
        let none = Resolved::None { notes: vec![] };
        let r = report(&explain_refusal(refused(), &none), NODE);
        assert_eq!(r.exit_code, 7);
        assert_eq!(r.lines.len(), 2, "{r:?}");
        assert!(r.lines[1].starts_with("  no token: pass --token"), "{r:?}");

        let file = token_from(Source::AdminFile("./kreisnetz-data/admin.token".into()));
        let r = report(&explain_refusal(refused(), &file), NODE);
        assert_eq!(r.exit_code, 7);
        assert!(
            r.lines
                .last()
                .unwrap()
                .starts_with("  the token sent was read from ./kreisnetz-data/admin.token"),
            "{r:?}"
        );
        let r = report(&explain_refusal(refused(), &token_from(Source::Env)), NODE);
        assert_eq!(
            r.lines.last().unwrap(),
            "  the token sent was given by KREISNETZ_TOKEN"
        );
        assert!(!r.text().contains("topsecret"));

        // Other errors are left as they are.
        let denied: anyhow::Error = Status::permission_denied("needs the admin role").into();
        let r = report(&explain_refusal(denied, &none), NODE);
        assert_eq!(r.lines, ["error: needs the admin role"]);
    }
}
