//! The command line: every command, flag and vocabulary, as clap derive types.
//!
//! Flag values are parsed here, before any call to the node, so a bad value is a usage error
//! (exit code 2) that names its flag. Vocabulary flags take the model's keys and show them in
//! `--help`; parsing uses the model's `FromStr`, so `Language-Course` works as well as
//! `language_course`.
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kreisnetz_model::{
    Category, ContactField, DistrictId, LanguageCode, LanguageLevel, NodeId, OfferingField,
    OfferingFormat, OfferingStatus, ProviderKind, RecordId, RecordKind, TargetGroup, parse_date,
    parse_resource_name, resource_name,
};
use kreisnetz_proto::v1;
use time::Date;

use crate::credentials::Secret;
use crate::terms::{TermParser, YesNo};

const GLOBAL: &str = "Global options";

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  any other error
  2  usage: unknown command or flag, missing or bad flag value (reported before any call),
     e.g. an https:// node without --ca-cert
  3  the node is unreachable or unavailable, or the call timed out; also a TLS handshake
     that fails (a certificate --ca-cert does not trust, or one for another host name)
  4  the node refused an invalid argument (every field violation is listed)
  5  not found
  6  already exists, failed precondition (e.g. a stale --etag, a contact still referenced),
     or aborted
  7  permission denied (the token's role is too low) or unauthenticated (no or invalid token)

Errors are one line `error: <reason>` on stderr, followed by indented detail lines, e.g.
  error: invalid offering
    offering.title: is required";

/// The admin CLI of a kreisnetz node.
#[derive(Debug, Parser)]
#[command(
    name = "kreisnetzctl",
    version,
    about = "Admin CLI of a kreisnetz node: offerings, contacts, search, reports, change feed, \
             node status, peers, API tokens",
    long_about = "Admin CLI of a kreisnetz node.\n\n\
        Each district runs a node holding its integration offerings and contacts; nodes share \
        them, so every node shows the whole region. This CLI talks to one node's gRPC API: it \
        adds and edits the node's own district's offerings and contacts, lists and searches \
        those of every district (German search, coordinator filters), reports overlaps, gaps, \
        stale entries and coverage across the region, follows the change feed and shows the node's status, and \
        manages the node's peers, the districts whose documents it accepts, and the API \
        tokens that may call the node.\n\n\
        Every call carries a bearer token (see --token); on the node's own machine the node's \
        admin token is found in its data directory without any flag.\n\n\
        Output is human-readable tables by default; --json prints the API's fields as JSON \
        for scripts.",
    after_long_help = EXIT_CODES
)]
pub struct Cli {
    /// The node's API address: http://HOST:PORT, or https://HOST:PORT for a node that serves
    /// its API over TLS (then --ca-cert is needed too).
    #[arg(
        long,
        global = true,
        help_heading = GLOBAL,
        env = "KREISNETZ_NODE",
        default_value = "http://127.0.0.1:7700",
        value_name = "URL",
        value_parser = parse_node_url
    )]
    pub node: String,

    /// For an https:// node: PEM file with the certificate(s) to trust for the node's API, or
    /// KREISNETZ_CA_CERT.
    ///
    /// Give the certificate of the CA that issued the node's API certificate (api.tls_cert in
    /// the node's configuration), or, if that certificate is self-signed, the certificate
    /// itself; get it from the node's operator, not over the connection it is to protect. No
    /// other certificate authority is trusted, so an https:// node without --ca-cert is a
    /// usage error (exit code 2), as is --ca-cert with an http:// node. The certificate must
    /// name the host given in --node (DNS name or IP address); a certificate that is not
    /// trusted or names another host makes the node unreachable (exit code 3).
    #[arg(long, global = true, help_heading = GLOBAL, env = "KREISNETZ_CA_CERT", value_name = "PATH")]
    pub ca_cert: Option<PathBuf>,

    /// Print JSON instead of tables (one object per line for `watch`).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Give up on the node after this many seconds (connecting, and each call; `watch` follows
    /// the feed without a limit once it is open).
    #[arg(long, global = true, help_heading = GLOBAL, default_value = "10", value_name = "SECS", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Bearer token for the node's API, or KREISNETZ_TOKEN (default: the node's admin token
    /// file; see --help).
    ///
    /// The calls carry the first token found of:
    ///
    ///   1. --token TOKEN, or the file --token-file PATH (flags beat variables);
    ///
    ///   2. the environment variable KREISNETZ_TOKEN, or the file KREISNETZ_TOKEN_FILE (a token
    ///      file that cannot be read is an error, exit code 2);
    ///
    ///   3. the node's admin token $KREISNETZ_DATA_DIR/admin.token if that file exists, else
    ///      ./kreisnetz-data/admin.token (written by `kreisnetz init` or the node's first start,
    ///      readable only by the node's operator).
    ///
    /// Without any, the calls go without a token and the node refuses them (exit code 7).
    /// Surrounding whitespace and the final newline of a file are ignored. The token is never
    /// printed. Tokens for others are made with `kreisnetzctl token create`.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "TOKEN", value_parser = parse_secret, conflicts_with = "token_file")]
    pub token: Option<Secret>,

    /// File holding the bearer token, e.g. a copy of the node's admin.token, or
    /// KREISNETZ_TOKEN_FILE.
    #[arg(long, global = true, help_heading = GLOBAL, value_name = "PATH")]
    pub token_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the node's status: district, node ID, version, uptime, counts, peers, feed sequence,
    /// document heads, storage and addresses.
    Status,
    /// List the node's peers and the state of their connections.
    Peers,
    /// List the district documents the node holds (its own and those received from peers).
    Documents,
    /// Add or remove a peer (another node to exchange documents with).
    #[command(subcommand)]
    Peer(PeerCommand),
    /// Trust or untrust a district: accept its document from peers, or stop accepting it.
    #[command(subcommand)]
    District(DistrictCommand),
    /// Add, show, list, change and delete offerings.
    #[command(subcommand)]
    Offering(OfferingCommand),
    /// Add, show, list, change and delete contacts.
    #[command(subcommand)]
    Contact(ContactCommand),
    /// Follow the node's change feed: one line (or JSON object) per change.
    Watch(WatchArgs),
    /// Sample data of the Weser-Ems region.
    #[command(subcommand)]
    Sample(SampleCommand),
    /// Create, list and revoke the API tokens that may call the node (needs an admin token).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Reports over every district the node holds: overlaps, gaps, stale entries, coverage.
    #[command(subcommand)]
    Report(ReportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Groups of offerings (in one district or across districts) that plausibly serve the
    /// same need, best score first, each with its reasons.
    ///
    /// A pair is considered only if the categories are the same or related, the target
    /// groups overlap, the dates overlap (or both are ongoing) and the places are at most
    /// --max-km apart; its score (0 to 1) weighs mostly the similarity of title and
    /// description after German normalisation. Groups scoring at least --min-score are
    /// shown. Treat the list as a list to check, not a verdict.
    Overlaps(ReportOverlapsArgs),
    /// The matrix category x target group x district: the cells without a current offering,
    /// or without free places, are gaps (only those are shown; --json also has the matrix).
    Gaps(ReportGapsArgs),
    /// Offerings that need a look: not updated for --older-than, ended but still marked
    /// active or planned, or without a contact; grouped by district and provider.
    Stale(ReportStaleArgs),
    /// Per district: current offerings by category, free places, and the share of
    /// offerings updated in the last 90 days.
    Coverage(ReportCoverageArgs),
}

/// Narrowing and output options every report takes.
#[derive(Debug, Args)]
pub struct ReportCommon {
    /// Only this category; repeat or separate with commas for several.
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<Category>::new())]
    pub category: Vec<Category>,
    /// Only offerings for this target group; repeat or separate with commas for several.
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<TargetGroup>::new())]
    pub target_group: Vec<TargetGroup>,
    /// Print CSV for spreadsheets (German Excel: UTF-8 with BOM, `;`, decimal comma).
    #[arg(long)]
    pub csv: bool,
}

#[derive(Debug, Args)]
pub struct ReportOverlapsArgs {
    /// Show groups scoring at least this (0 to 1; default 0.5). Lower finds more, with more
    /// false alarms.
    #[arg(long, value_name = "SCORE", value_parser = parse_score)]
    pub min_score: Option<f64>,
    /// Offerings further apart than this many km are never the same need (default 30).
    #[arg(long, value_name = "KM", value_parser = parse_km)]
    pub max_km: Option<f64>,
    #[command(flatten)]
    pub common: ReportCommon,
}

#[derive(Debug, Args)]
pub struct ReportGapsArgs {
    #[command(flatten)]
    pub common: ReportCommon,
}

#[derive(Debug, Args)]
pub struct ReportStaleArgs {
    /// Not updated for longer than this is stale: days, as `60d` or `60` (default 90d).
    #[arg(long, value_name = "DAYS", value_parser = parse_days)]
    pub older_than: Option<u32>,
    /// Evaluate as if today were this day, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<Date>,
    #[command(flatten)]
    pub common: ReportCommon,
}

#[derive(Debug, Args)]
pub struct ReportCoverageArgs {
    /// Evaluate as if today were this day, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub as_of: Option<Date>,
    #[command(flatten)]
    pub common: ReportCommon,
}

fn parse_score(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!("\"{s}\" is not a score above 0 and at most 1")),
    }
}

fn parse_km(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let t = t.strip_suffix("km").unwrap_or(t).trim();
    match t.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1000.0 => Ok(x),
        _ => Err(format!(
            "\"{s}\" is not a distance above 0 and at most 1000 km"
        )),
    }
}

/// `60d` or `60`: a number of days, 1 to 36500.
fn parse_days(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let t = t.strip_suffix('d').unwrap_or(t);
    match t.parse::<u32>() {
        Ok(n) if (1..=36_500).contains(&n) => Ok(n),
        _ => Err(format!(
            "\"{s}\" is not a number of days such as 60d (1 to 36500)"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a person or program; it is printed once, on its own line.
    ///
    /// The token goes to stdout (and nothing else does, so `TOKEN=$(kreisnetzctl token create
    /// ...)` works); store it now: the node keeps only a hash and cannot show it again. Roles:
    /// reader (read and watch), editor (also write the own district's offerings and contacts),
    /// admin (everything, including tokens, peers and trusted districts).
    Create(TokenCreateArgs),
    /// List the node's tokens: ID, name, role, when created and last used (never the secrets).
    List,
    /// Revoke a token by its ID or name: the node refuses it from the next call on, and ends
    /// its open watch streams.
    Revoke(TokenRevokeArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// What the token is for, e.g. district-portal (unique on the node; no spaces or ':', and
    /// not eight letters/digits like a token ID).
    #[arg(long, value_name = "NAME", value_parser = parse_token_name)]
    pub name: String,
    /// What the token may do.
    #[arg(long, value_name = "ROLE", value_parser = TermParser::<v1::Role>::new())]
    pub role: v1::Role,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// The token's ID (from `token list`) or name; `id:ID` or `name:NAME` to say which (the
    /// node refuses a bare value that is one token's ID and another's name).
    #[arg(value_name = "ID|NAME", value_parser = parse_token_name)]
    pub target: String,
}

#[derive(Debug, Subcommand)]
pub enum OfferingCommand {
    /// Add an offering to the node's own district.
    ///
    /// Required by the node: --title, --category, at least one --target-group, --provider,
    /// --municipality. A missing or broken field is reported by the node, field by field.
    Add(OfferingAddArgs),
    /// Show one offering.
    Get(GetArgs),
    /// List offerings of every district, with filters; all filters given must match.
    List(OfferingListArgs),
    /// Change the fields given (and only those) of one of the own district's offerings.
    ///
    /// Every field flag sets that field; --clear FIELD empties one. The update mask sent to the
    /// node is made of exactly these fields.
    Update(OfferingUpdateArgs),
    /// Delete one of the own district's offerings.
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum ContactCommand {
    /// Add a contact (a person or team to call at an organisation) to the own district.
    ///
    /// Required by the node: --name, --organisation, and --email or --phone.
    Add(ContactAddArgs),
    /// Show one contact.
    Get(GetArgs),
    /// List contacts of every district, with filters; all filters given must match.
    List(ContactListArgs),
    /// Change the fields given (and only those) of one of the own district's contacts.
    ///
    /// Every field flag sets that field; --clear FIELD empties one. The update mask sent to the
    /// node is made of exactly these fields.
    Update(ContactUpdateArgs),
    /// Delete one of the own district's contacts (refused while an offering refers to it).
    Delete(DeleteArgs),
}

#[derive(Debug, Subcommand)]
pub enum SampleCommand {
    /// Load realistic sample offerings and contacts into the node's own district.
    ///
    /// Creates every contact, then every offering of the sample of the node's district (or
    /// --district). The records keep the sample's IDs, so running it again skips what is
    /// already loaded.
    Load(SampleLoadArgs),
}

#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// Add a peer, or change its address; the node saves it to its configuration file.
    ///
    /// With --address the node dials the peer there; without, it only accepts the peer's own
    /// connections. Either way the peer is known by its node ID (`N-...`, printed by its
    /// `kreisnetz init`), which the TLS connection checks.
    Add(PeerAddArgs),
    /// Remove a peer: the node closes its connection and forgets it.
    Remove(PeerRemoveArgs),
}

#[derive(Debug, Subcommand)]
pub enum DistrictCommand {
    /// Accept a district's document from now on; the node saves it to its configuration file.
    Trust(DistrictTrustArgs),
    /// Stop accepting a district's document.
    Untrust(DistrictUntrustArgs),
}

#[derive(Debug, Args)]
pub struct PeerAddArgs {
    /// The peer's node ID (`N-...`).
    #[arg(value_name = "NODE_ID")]
    pub node_id: NodeId,
    /// Where to dial the peer (its federation address, e.g. 10.0.0.5:7701). Without it the node
    /// only accepts the peer's connections.
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_peer_address)]
    pub address: Option<String>,
}

#[derive(Debug, Args)]
pub struct PeerRemoveArgs {
    /// The peer's node ID (`N-...`).
    #[arg(value_name = "NODE_ID")]
    pub node_id: NodeId,
}

#[derive(Debug, Args)]
pub struct DistrictTrustArgs {
    /// The district's ID (`D-...`, printed by its `kreisnetz init`).
    #[arg(value_name = "DISTRICT_ID")]
    pub district_id: DistrictId,
    /// A name for the district, e.g. "Landkreis Cloppenburg" (kept in the configuration file).
    #[arg(long, value_name = "NAME", value_parser = parse_district_name)]
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct DistrictUntrustArgs {
    /// The district's ID (`D-...`).
    #[arg(value_name = "DISTRICT_ID")]
    pub district_id: DistrictId,
}

/// Which record: its resource name `districts/{district_id}/offerings/{uuid}` (or
/// `.../contacts/...`), or its bare UUID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordRef {
    pub kind: RecordKind,
    pub district: Option<DistrictId>,
    pub id: RecordId,
}

impl RecordRef {
    /// The resource name if the district is known, the bare UUID otherwise.
    pub fn name(&self) -> String {
        match &self.district {
            Some(d) => resource_name(d, self.kind, &self.id),
            None => self.id.to_string(),
        }
    }

    /// Reads a record reference of this kind; a wrong one is a usage error.
    pub fn parse(s: &str, kind: RecordKind) -> Result<Self, String> {
        let (district, id) = parse_resource_name(s, kind)?;
        Ok(RecordRef { kind, district, id })
    }
}

fn parse_offering_ref(s: &str) -> Result<RecordRef, String> {
    RecordRef::parse(s, RecordKind::Offering)
}

fn parse_contact_ref(s: &str) -> Result<RecordRef, String> {
    RecordRef::parse(s, RecordKind::Contact)
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The resource name (`districts/{district_id}/offerings/{uuid}`, `.../contacts/{uuid}`) or UUID.
    #[arg(value_name = "ID|NAME", value_parser = parse_any_ref)]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The resource name (`districts/{district_id}/offerings/{uuid}`, `.../contacts/{uuid}`) or UUID.
    #[arg(value_name = "ID|NAME", value_parser = parse_any_ref)]
    pub target: String,
    /// Delete only while the record still has this etag (from `get`): fails with exit code 6
    /// if someone changed it in between.
    #[arg(long, value_name = "ETAG")]
    pub etag: Option<String>,
}

/// Accepts an offering or contact resource name or a UUID (the command decides which kind).
fn parse_any_ref(s: &str) -> Result<String, String> {
    let offering = parse_offering_ref(s);
    let contact = parse_contact_ref(s);
    match (offering, contact) {
        (Ok(_), _) | (_, Ok(_)) => Ok(s.trim().to_string()),
        (Err(e), _) if s.contains("/offerings/") => Err(e),
        (_, Err(e)) if s.contains("/contacts/") => Err(e),
        _ => Err(
            "expected a UUID or a resource name `districts/{district_id}/offerings/{uuid}` \
                  (or `.../contacts/{uuid}`)"
                .to_string(),
        ),
    }
}

/// The fields of an offering a client sets; each flag sets one API field.
#[derive(Debug, Default, Args)]
pub struct OfferingFields {
    /// Title, 1 to 200 characters (`title`).
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Description, up to 5,000 characters (`description`).
    #[arg(long, value_name = "TEXT")]
    pub description: Option<String>,
    /// What kind of help it is (`category`).
    #[arg(long, value_name = "KEY", value_parser = TermParser::<Category>::new())]
    pub category: Option<Category>,
    /// Who it is for; repeat or separate with commas (`target_groups`).
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<TargetGroup>::new())]
    pub target_group: Vec<TargetGroup>,
    /// The organisation running it, e.g. "BBS Vechta" (`provider`).
    #[arg(long, value_name = "TEXT")]
    pub provider: Option<String>,
    /// What kind of organisation the provider is (`provider_kind`).
    #[arg(long, value_name = "KEY", value_parser = TermParser::<ProviderKind>::new())]
    pub provider_kind: Option<ProviderKind>,
    /// Town or municipality, e.g. "Vechta" (`municipality`).
    #[arg(long, value_name = "TEXT")]
    pub municipality: Option<String>,
    /// Street address (`address`).
    #[arg(long, value_name = "TEXT")]
    pub address: Option<String>,
    /// Five-digit postal code (`postal_code`).
    #[arg(long, value_name = "DIGITS")]
    pub postal_code: Option<String>,
    /// Latitude, -90 to 90; needs --lon (`coordinates`).
    #[arg(long, value_name = "DEG", requires = "lon", allow_negative_numbers = true, value_parser = parse_latitude)]
    pub lat: Option<f64>,
    /// Longitude, -180 to 180; needs --lat (`coordinates`).
    #[arg(long, value_name = "DEG", requires = "lat", allow_negative_numbers = true, value_parser = parse_longitude)]
    pub lon: Option<f64>,
    /// Language it is held in, ISO 639-1 (de, ar, uk, ...); repeat or separate with commas
    /// (`languages`).
    #[arg(long, value_name = "ISO", value_delimiter = ',')]
    pub language: Vec<LanguageCode>,
    /// First day, YYYY-MM-DD (`start_date`).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub start: Option<Date>,
    /// Last day, YYYY-MM-DD, not before --start (`end_date`).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub end: Option<Date>,
    /// When it takes place, free text, e.g. "Mo-Fr 8:30-12:30" (`schedule`).
    #[arg(long, value_name = "TEXT")]
    pub schedule: Option<String>,
    /// Places in total (`places_total`).
    #[arg(long, value_name = "N")]
    pub places: Option<u32>,
    /// Places still free, at most --places (`places_free`).
    #[arg(long, value_name = "N")]
    pub free_places: Option<u32>,
    /// What it costs, free text, e.g. "kostenlos" (`cost`).
    #[arg(long, value_name = "TEXT")]
    pub cost: Option<String>,
    /// Web page, http(s) (`url`).
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// A contact of the same district (UUID or resource name); repeat or separate with commas
    /// (`contact_ids`).
    #[arg(long, value_name = "UUID", value_delimiter = ',', value_parser = parse_contact_id)]
    pub contact: Vec<RecordId>,
    /// Where it stands (`status`; the node uses `active` when not given on add).
    #[arg(long, value_name = "KEY", value_parser = TermParser::<OfferingStatus>::new())]
    pub status: Option<OfferingStatus>,
    /// Language level on the CEFR scale, only for the categories language_course and
    /// integration_course (`language_level`).
    #[arg(long, value_name = "LEVEL", value_parser = TermParser::<LanguageLevel>::new())]
    pub language_level: Option<LanguageLevel>,
    /// How it takes place (`format`).
    #[arg(long, value_name = "KEY", value_parser = TermParser::<OfferingFormat>::new())]
    pub format: Option<OfferingFormat>,
    /// Whether childcare is offered alongside (`childcare`; --clear childcare: not known).
    #[arg(long, value_name = "yes|no", value_parser = TermParser::<YesNo>::new())]
    pub childcare: Option<YesNo>,
    /// Whether the place is barrier-free (`barrier_free`; --clear barrier_free: not known).
    #[arg(long, value_name = "yes|no", value_parser = TermParser::<YesNo>::new())]
    pub barrier_free: Option<YesNo>,
}

/// The fields of a contact a client sets; each flag sets one API field.
#[derive(Debug, Default, Args)]
pub struct ContactFields {
    /// The person's name, or a function such as "Beratungsteam" (`display_name`).
    #[arg(long = "name", value_name = "TEXT")]
    pub display_name: Option<String>,
    /// The organisation, e.g. "Jobcenter Cloppenburg" (`organisation`).
    #[arg(long, value_name = "TEXT")]
    pub organisation: Option<String>,
    /// Role in the organisation (`role`).
    #[arg(long, value_name = "TEXT")]
    pub role: Option<String>,
    /// What the person is responsible for, e.g. "Sprachkurse im Nordkreis" (`responsibility`).
    #[arg(long, value_name = "TEXT")]
    pub responsibility: Option<String>,
    /// E-mail address (`email`).
    #[arg(long, value_name = "ADDRESS")]
    pub email: Option<String>,
    /// Phone number (`phone`).
    #[arg(long, value_name = "NUMBER")]
    pub phone: Option<String>,
    /// A language the person speaks, ISO 639-1; repeat or separate with commas (`languages`).
    #[arg(long, value_name = "ISO", value_delimiter = ',')]
    pub language: Vec<LanguageCode>,
}

#[derive(Debug, Args)]
pub struct OfferingAddArgs {
    #[command(flatten)]
    pub fields: OfferingFields,
    /// The new offering's UUID (default: chosen by the node). With an ID of your own a retried
    /// add cannot create the offering twice: the retry fails with "already exists".
    #[arg(long, value_name = "UUID")]
    pub id: Option<RecordId>,
}

#[derive(Debug, Args)]
pub struct ContactAddArgs {
    #[command(flatten)]
    pub fields: ContactFields,
    /// The new contact's UUID (default: chosen by the node).
    #[arg(long, value_name = "UUID")]
    pub id: Option<RecordId>,
}

#[derive(Debug, Args)]
pub struct OfferingUpdateArgs {
    /// The offering's resource name (`districts/{district_id}/offerings/{uuid}`) or UUID.
    #[arg(value_name = "ID|NAME", value_parser = parse_offering_ref)]
    pub target: RecordRef,
    #[command(flatten)]
    pub fields: OfferingFields,
    /// Empty this field (its API name); repeatable.
    #[arg(long, value_name = "FIELD", value_parser = TermParser::<OfferingField>::new())]
    pub clear: Vec<OfferingField>,
    /// Update only while the offering still has this etag (from `get`): fails with exit code 6
    /// if someone changed it in between.
    #[arg(long, value_name = "ETAG")]
    pub etag: Option<String>,
}

#[derive(Debug, Args)]
pub struct ContactUpdateArgs {
    /// The contact's resource name (`districts/{district_id}/contacts/{uuid}`) or UUID.
    #[arg(value_name = "ID|NAME", value_parser = parse_contact_ref)]
    pub target: RecordRef,
    #[command(flatten)]
    pub fields: ContactFields,
    /// Empty this field (its API name); repeatable.
    #[arg(long, value_name = "FIELD", value_parser = TermParser::<ContactField>::new())]
    pub clear: Vec<ContactField>,
    /// Update only while the contact still has this etag (from `get`).
    #[arg(long, value_name = "ETAG")]
    pub etag: Option<String>,
}

/// Paging flags shared by the list commands.
#[derive(Debug, Args)]
pub struct Paging {
    /// Records per page, 1 to 1000 (default: the node's, 50).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub page_size: Option<i32>,
    /// Continue after a previous page (its `next_page_token`); the filters must be the same.
    #[arg(long, value_name = "TOKEN")]
    pub page_token: Option<String>,
    /// Fetch every page to the end.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct OfferingListArgs {
    /// Only this district's offerings (its district ID, `D-...`); repeat for several.
    #[arg(long, value_name = "DISTRICT_ID")]
    pub district: Vec<DistrictId>,
    /// Only this category; repeat or separate with commas for several (any of them).
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<Category>::new())]
    pub category: Vec<Category>,
    /// Only offerings for this target group; repeat or separate with commas for several (any
    /// of them; an offering for `all` serves every group).
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<TargetGroup>::new())]
    pub target_group: Vec<TargetGroup>,
    /// Only this municipality (any case; `Oldenburg (Oldb)` is `Oldenburg`).
    #[arg(long, value_name = "TEXT")]
    pub municipality: Option<String>,
    /// Only offerings with this status; repeat or separate with commas for several.
    #[arg(long, value_name = "KEY", value_delimiter = ',', value_parser = TermParser::<OfferingStatus>::new())]
    pub status: Vec<OfferingStatus>,
    /// Only offerings held in this language (ISO 639-1).
    #[arg(long, value_name = "ISO")]
    pub language: Option<LanguageCode>,
    /// German search in title, description, provider, place and schedule: all words, any
    /// order, umlauts and ß folded (ae, ss), plurals and synonyms found, ranked best first.
    #[arg(short, long, value_name = "TEXT")]
    pub query: Option<String>,
    /// Only offerings with at least one free place.
    #[arg(long)]
    pub free_places: bool,
    /// Only offerings that run on or after this day (with --runs-to: during the window).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub runs_from: Option<Date>,
    /// Only offerings that run on or before this day.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub runs_to: Option<Date>,
    /// Only offerings last updated before this day (UTC midnight).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub updated_before: Option<Date>,
    /// Only offerings last updated on or after this day (UTC midnight).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub updated_after: Option<Date>,
    /// Order: relevance (with --query; else title), title (German order), start, updated
    /// (most recent first).
    #[arg(long, value_name = "ORDER", value_parser = ["relevance", "title", "start", "updated"])]
    pub sort: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Args)]
pub struct ContactListArgs {
    /// Only this district's contacts (its district ID, `D-...`).
    #[arg(long, value_name = "DISTRICT_ID")]
    pub district: Option<DistrictId>,
    /// Only this organisation (exact, any case).
    #[arg(long, value_name = "TEXT")]
    pub organisation: Option<String>,
    /// Only contacts who speak this language (ISO 639-1).
    #[arg(long, value_name = "ISO")]
    pub language: Option<LanguageCode>,
    /// Text to find in name, organisation, role or responsibility (any case).
    #[arg(short, long, value_name = "TEXT")]
    pub query: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Start after this feed sequence number (0: from the beginning). To resume after an
    /// interruption, give the last sequence number printed.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    pub after: u64,
    /// The feed epoch the sequence number came from (printed with `--json` and in the resume
    /// hint). If the node's database was created anew since, the node says so (exit 6)
    /// instead of silently waiting for sequences it will not reach.
    #[arg(long, value_name = "EPOCH", default_value_t = 0)]
    pub epoch: u64,
    /// Print what is stored and stop instead of following new changes.
    #[arg(long)]
    pub once: bool,
}

#[derive(Debug, Args)]
pub struct SampleLoadArgs {
    /// Seed of the sample: the same seed gives the same records (and IDs).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,
    /// The sample of this district of the Weser-Ems region (key or name, e.g. `vechta`,
    /// "Landkreis Cloppenburg"), instead of the node's own. The records are still written to
    /// the node's own district.
    #[arg(long, value_name = "NAME")]
    pub district: Option<String>,
}

fn parse_contact_id(s: &str) -> Result<RecordId, String> {
    parse_contact_ref(s).map(|r| r.id)
}

fn parse_latitude(s: &str) -> Result<f64, String> {
    parse_degrees(s, 90.0)
}

fn parse_longitude(s: &str) -> Result<f64, String> {
    parse_degrees(s, 180.0)
}

fn parse_degrees(s: &str, limit: f64) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number"))?;
    if v.is_finite() && (-limit..=limit).contains(&v) {
        Ok(v)
    } else {
        Err(format!("must be between -{limit} and {limit}"))
    }
}

/// `host:port` of a peer's federation service: a host name, an IPv4 address or a bracketed
/// IPv6 address, and a port from 1 to 65535.
fn parse_peer_address(s: &str) -> Result<String, String> {
    const EXAMPLE: &str = "e.g. 10.0.0.5:7701 or kreisnetz.example.org:7701";
    let s = s.trim();
    if s.contains("://") {
        return Err(format!("give HOST:PORT without a scheme, {EXAMPLE}"));
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!("\"{s}\" is not HOST:PORT, {EXAMPLE}"));
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(format!("\"{port}\" is not a port (1 to 65535)")),
    }
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        }
    };
    if !host_ok {
        return Err(format!(
            "\"{host}\" is not a host name or IP address (an IPv6 address goes in brackets: \
             [2001:db8::1]:7701)"
        ));
    }
    Ok(s.to_string())
}

/// The `--token` value as given; [`crate::credentials::resolve`] checks it, so that a bad token
/// is reported without clap repeating it in its error message.
fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::unchecked(s))
}

fn parse_token_name(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err("must not be empty".into()),
        name => Ok(name.to_string()),
    }
}

fn parse_district_name(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Err("must not be empty (leave --name out instead)".into()),
        name => Ok(name.to_string()),
    }
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of seconds"))?;
    if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
        Ok(Duration::from_secs_f64(secs))
    } else {
        Err("must be more than 0 and at most 86400 seconds".into())
    }
}

/// `http://host:port` or `https://host:port`; a bare `host:port` gets `http://`.
fn parse_node_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    let (scheme, rest) = match s.split_once("://") {
        None => ("http", s),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => ("http", rest),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => ("https", rest),
        Some((scheme, _)) => {
            return Err(format!(
                "\"{scheme}://\" is not a scheme of a node's API (http:// or https://)"
            ));
        }
    };
    let url = format!("{scheme}://{}", rest.trim_end_matches('/'));
    match url.parse::<tonic::transport::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(url),
        _ => Err(format!(
            "\"{s}\" is not an address like http://127.0.0.1:7700 or https://kreis.example.org:7700"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn report_thresholds_are_checked_before_any_call() {
        assert_eq!(parse_days("60d"), Ok(60));
        assert_eq!(parse_days(" 90 "), Ok(90));
        assert!(parse_days("0d").is_err());
        assert!(parse_days("2m").is_err());
        assert_eq!(parse_km("12.5km"), Ok(12.5));
        assert!(parse_km("0").is_err());
        assert_eq!(parse_score("0.7"), Ok(0.7));
        assert!(parse_score("1.5").is_err());
        let cli = Cli::try_parse_from([
            "kreisnetzctl",
            "report",
            "stale",
            "--older-than",
            "60d",
            "--as-of",
            "2027-06-01",
            "--target-group",
            "women,youth",
        ])
        .unwrap();
        let Command::Report(ReportCommand::Stale(a)) = cli.command else {
            panic!()
        };
        assert_eq!(a.older_than, Some(60));
        assert_eq!(
            a.common.target_group,
            [TargetGroup::Women, TargetGroup::Youth]
        );
    }

    #[test]
    fn vocabulary_flags_are_forgiving_and_named_in_errors() {
        let cli = Cli::try_parse_from([
            "kreisnetzctl",
            "offering",
            "list",
            "--category",
            "Language-Course",
        ])
        .unwrap();
        let Command::Offering(OfferingCommand::List(l)) = cli.command else {
            panic!()
        };
        assert_eq!(l.category, vec![Category::LanguageCourse]);

        let err =
            Cli::try_parse_from(["kreisnetzctl", "offering", "list", "--category", "cooking"])
                .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("--category") && text.contains("language_course"),
            "{text}"
        );
    }

    #[test]
    fn bad_dates_and_coordinates_are_usage_errors() {
        for args in [
            &["--start", "1.3.2027"][..],
            &["--lat", "91", "--lon", "8"],
            &["--lat", "52"],
            &["--language", "klingon"],
            &["--contact", "nope"],
        ] {
            let mut argv = vec!["kreisnetzctl", "offering", "add"];
            argv.extend_from_slice(args);
            let err = Cli::try_parse_from(&argv).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            assert!(err.to_string().contains(args[0]), "{args:?}: {err}");
        }
    }

    #[test]
    fn negative_longitudes_are_values_not_flags() {
        let cli = Cli::try_parse_from([
            "kreisnetzctl",
            "offering",
            "add",
            "--lat",
            "-33.9",
            "--lon",
            "-8.5",
        ])
        .unwrap();
        let Command::Offering(OfferingCommand::Add(a)) = cli.command else {
            panic!()
        };
        assert_eq!((a.fields.lat, a.fields.lon), (Some(-33.9), Some(-8.5)));
    }

    #[test]
    fn node_addresses_get_a_scheme() {
        assert_eq!(
            parse_node_url("127.0.0.1:7700").unwrap(),
            "http://127.0.0.1:7700"
        );
        assert_eq!(
            parse_node_url("http://node.example.org:7700/").unwrap(),
            "http://node.example.org:7700"
        );
        assert!(parse_node_url("http://").is_err());
        assert!(parse_node_url("ftp://x.example.org").is_err());
        assert_eq!(parse_node_url("[::1]:7700").unwrap(), "http://[::1]:7700");
    }

    #[test]
    fn https_node_addresses_are_kept_as_given() {
        assert_eq!(
            parse_node_url("https://kreis.example.org:7700/").unwrap(),
            "https://kreis.example.org:7700"
        );
        assert_eq!(
            parse_node_url(" https://127.0.0.1:7700 ").unwrap(),
            "https://127.0.0.1:7700"
        );
        assert_eq!(
            parse_node_url("https://[::1]:7700").unwrap(),
            "https://[::1]:7700"
        );
        assert_eq!(
            parse_node_url("HTTPS://kreis.example.org:7700").unwrap(),
            "https://kreis.example.org:7700"
        );
        for bad in ["https://", "https:///x", "grpcs://x.example.org"] {
            assert!(parse_node_url(bad).is_err(), "{bad}");
        }
        let err = parse_node_url("ftp://x.example.org").unwrap_err();
        assert!(err.contains("https://"), "{err}");
    }

    #[test]
    fn node_and_ca_cert_are_global_flags() {
        let cli = Cli::try_parse_from([
            "kreisnetzctl",
            "status",
            "--node",
            "https://kreis.example.org:7700",
            "--ca-cert",
            "kreis-ca.pem",
        ])
        .unwrap();
        assert_eq!(cli.node, "https://kreis.example.org:7700");
        assert_eq!(cli.ca_cert, Some(PathBuf::from("kreis-ca.pem")));

        let err =
            Cli::try_parse_from(["kreisnetzctl", "--node", "gopher://x", "status"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--node"), "{err}");
    }

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let mut argv = vec!["kreisnetzctl"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|c| c.command)
    }

    #[test]
    fn peer_add_reads_the_node_id_leniently_and_the_address() {
        let id = NodeId::from_public_key(b"peer");
        let sloppy = id.to_string().to_lowercase();
        let Command::Peer(PeerCommand::Add(a)) =
            parse(&["peer", "add", &sloppy, "--address", "10.0.0.5:7701"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(a.node_id, id);
        assert_eq!(a.address.as_deref(), Some("10.0.0.5:7701"));

        let Command::Peer(PeerCommand::Add(a)) = parse(&["peer", "add", &sloppy]).unwrap() else {
            panic!()
        };
        assert_eq!(a.address, None);

        let Command::Peer(PeerCommand::Remove(r)) =
            parse(&["peer", "remove", &id.to_string()]).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.node_id, id);
    }

    #[test]
    fn bad_ids_are_usage_errors_naming_the_argument() {
        let district = DistrictId::from_public_key(b"district").to_string();
        let node = NodeId::from_public_key(b"node").to_string();
        for (args, argument) in [
            (vec!["peer", "add", "N-ABCD"], "<NODE_ID>"),
            (vec!["peer", "add", district.as_str()], "<NODE_ID>"),
            (vec!["peer", "remove", "nonsense"], "<NODE_ID>"),
            (vec!["district", "trust", node.as_str()], "<DISTRICT_ID>"),
            (vec!["district", "untrust", "D-1234"], "<DISTRICT_ID>"),
        ] {
            let err = parse(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let text = err.to_string();
            assert!(
                text.contains(argument) && text.contains(" ID "),
                "{args:?}: {text}"
            );
        }
        // A missing ID is a usage error as well.
        assert_eq!(parse(&["peer", "remove"]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn peer_addresses_are_host_and_port() {
        for good in [
            "10.0.0.5:7701",
            "kreisnetz.example.org:7701",
            "[2001:db8::1]:7701",
            " node-2:1 ",
        ] {
            assert_eq!(
                parse_peer_address(good).as_deref(),
                Ok(good.trim()),
                "{good}"
            );
        }
        for bad in [
            "",
            "10.0.0.5",
            "10.0.0.5:",
            "10.0.0.5:0",
            "10.0.0.5:70000",
            ":7701",
            "2001:db8::1:7701",
            "[nope]:7701",
            "http://10.0.0.5:7701",
            "host name:7701",
        ] {
            assert!(parse_peer_address(bad).is_err(), "{bad}");
        }
        let node = NodeId::from_public_key(b"node").to_string();
        let err = parse(&["peer", "add", &node, "--address", "10.0.0.5"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--address"), "{err}");
    }

    #[test]
    fn district_trust_takes_an_optional_name() {
        let id = DistrictId::from_public_key(b"Landkreis Cloppenburg");
        let Command::District(DistrictCommand::Trust(t)) = parse(&[
            "district",
            "trust",
            &id.to_string(),
            "--name",
            " Landkreis Cloppenburg ",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (t.district_id, t.name.as_deref()),
            (id, Some("Landkreis Cloppenburg"))
        );
        let err = parse(&["district", "trust", &id.to_string(), "--name", " "]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("--name"), "{err}");
        let Command::District(DistrictCommand::Untrust(u)) =
            parse(&["district", "untrust", &id.to_string()]).unwrap()
        else {
            panic!()
        };
        assert_eq!(u.district_id, id);
    }

    #[test]
    fn peers_and_documents_take_only_global_flags() {
        assert!(matches!(
            parse(&["peers", "--json"]).unwrap(),
            Command::Peers
        ));
        assert!(matches!(parse(&["documents"]).unwrap(), Command::Documents));
        assert_eq!(parse(&["peers", "extra"]).unwrap_err().exit_code(), 2);
    }

    #[test]
    fn token_commands_take_a_name_a_role_and_an_id() {
        let Command::Token(TokenCommand::Create(c)) = parse(&[
            "token",
            "create",
            "--name",
            " district-portal ",
            "--role",
            "Editor",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            (c.name.as_str(), c.role),
            ("district-portal", v1::Role::Editor)
        );

        for (args, flag) in [
            (
                vec!["token", "create", "--name", "x", "--role", "owner"],
                "--role",
            ),
            (
                vec!["token", "create", "--name", "x", "--role", "unspecified"],
                "--role",
            ),
            (
                vec!["token", "create", "--name", " ", "--role", "admin"],
                "--name",
            ),
            (vec!["token", "create", "--name", "x"], "--role"),
            (vec!["token", "create", "--role", "admin"], "--name"),
            (vec!["token", "revoke"], "<ID|NAME>"),
            (vec!["token", "revoke", ""], "<ID|NAME>"),
        ] {
            let err = parse(&args).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{args:?}");
            let text = err.to_string();
            assert!(text.contains(flag), "{args:?}: {text}");
            if flag == "--role" && args.len() == 6 {
                assert!(text.contains("reader, editor, admin"), "{text}");
            }
        }

        let Command::Token(TokenCommand::Revoke(r)) =
            parse(&["token", "revoke", "abcd2345"]).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.target, "abcd2345");
        assert!(matches!(
            parse(&["token", "list", "--json"]).unwrap(),
            Command::Token(TokenCommand::List)
        ));
    }

    #[test]
    fn the_token_is_kept_out_of_debug_output_and_clap_errors() {
        let cli = Cli::try_parse_from(["kreisnetzctl", "--token", "kn1.abc.topsecret", "status"])
            .unwrap();
        assert_eq!(
            cli.token.as_ref().map(Secret::expose),
            Some("kn1.abc.topsecret")
        );
        assert!(!format!("{cli:?}").contains("topsecret"));

        let err = Cli::try_parse_from([
            "kreisnetzctl",
            "--token",
            "kn1.abc.topsecret",
            "--token-file",
            "admin.token",
            "status",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(
            text.contains("--token-file") && !text.contains("topsecret"),
            "{text}"
        );
    }

    #[test]
    fn the_help_of_token_says_where_tokens_come_from() {
        let help = Cli::command().render_long_help().to_string();
        for needle in [
            "KREISNETZ_TOKEN",
            "KREISNETZ_TOKEN_FILE",
            "$KREISNETZ_DATA_DIR/admin.token",
            "./kreisnetz-data/admin.token",
        ] {
            assert!(help.contains(needle), "{needle}: {help}");
        }
        let at = |s: &str| help.find(s).unwrap();
        assert!(at("1. --token") < at("2. the environment variable KREISNETZ_TOKEN"));
        assert!(at("2. the environment variable") < at("3. the node's admin token"));
    }

    #[test]
    fn long_help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(
            help.contains("Exit codes") && help.contains("7  permission denied"),
            "{help}"
        );
    }
}
