//! One module per command group. Each command connects through [`Node`], makes its request
//! from the parsed flags, and prints the answer as a table or as JSON.
use anyhow::Result;
use kreisnetz_model::RecordKind;
use tokio::sync::OnceCell;

use crate::args::{
    Cli, Command, ContactCommand, DistrictCommand, OfferingCommand, PeerCommand, RecordRef,
    SampleCommand,
};
use crate::client::Node;
use crate::errors::Usage;

mod contact;
mod district;
mod document;
mod offering;
mod peer;
mod sample;
mod status;
mod watch;

/// What every command needs: the connection and the output format.
pub struct Ctx<'a> {
    cli: &'a Cli,
    node: OnceCell<Node>,
    pub json: bool,
}

impl Ctx<'_> {
    /// The node, connected on first use: commands check their flags first, so a usage error
    /// is reported as one even when the node is down.
    pub async fn node(&self) -> Result<&Node> {
        let cli = self.cli;
        self.node
            .get_or_try_init(|| Node::connect(&cli.node, cli.token.as_deref(), cli.timeout))
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
    let ctx = Ctx {
        cli,
        node: OnceCell::new(),
        json: cli.json,
    };
    match &cli.command {
        Command::Status => status::status(&ctx).await,
        Command::Peers => peer::list(&ctx).await,
        Command::Documents => document::list(&ctx).await,
        Command::Peer(cmd) => match cmd {
            PeerCommand::Add(a) => peer::add(&ctx, a).await,
            PeerCommand::Remove(a) => peer::remove(&ctx, a).await,
        },
        Command::District(cmd) => match cmd {
            DistrictCommand::Trust(a) => district::trust(&ctx, a).await,
            DistrictCommand::Untrust(a) => district::untrust(&ctx, a).await,
        },
        Command::Offering(cmd) => match cmd {
            OfferingCommand::Add(a) => offering::add(&ctx, a).await,
            OfferingCommand::Get(a) => offering::get(&ctx, a).await,
            OfferingCommand::List(a) => offering::list(&ctx, a).await,
            OfferingCommand::Update(a) => offering::update(&ctx, a).await,
            OfferingCommand::Delete(a) => offering::delete(&ctx, a).await,
        },
        Command::Contact(cmd) => match cmd {
            ContactCommand::Add(a) => contact::add(&ctx, a).await,
            ContactCommand::Get(a) => contact::get(&ctx, a).await,
            ContactCommand::List(a) => contact::list(&ctx, a).await,
            ContactCommand::Update(a) => contact::update(&ctx, a).await,
            ContactCommand::Delete(a) => contact::delete(&ctx, a).await,
        },
        Command::Watch(a) => watch::watch(&ctx, a).await,
        Command::Sample(SampleCommand::Load(a)) => sample::load(&ctx, a).await,
    }
}
