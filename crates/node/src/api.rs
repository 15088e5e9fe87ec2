//! The public gRPC API: thin handlers that parse requests, ask the view (reads) or the writer
//! (writes), and turn every refusal into a status code a client can act on, with
//! `google.rpc` details naming the offending field or resource.
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use kreisnetz_model::{
    ContactField, DistrictId, NodeId, OfferingField, RecordId, RecordKind, Timestamp, Violations,
    parse_resource_name,
};
use kreisnetz_proto::convert;
use kreisnetz_proto::v1::{
    self, change_feed_service_server, contact_service_server, node_service_server,
    offering_service_server,
};
use kreisnetz_storage::Store;
use tokio::sync::watch;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::view::{ContactFilter, OfferingFilter, RegionView};
use crate::writer::{Command, Outcome, WriteError, WriterHandle};

/// Default and largest page sizes of list calls.
pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1000;

/// What the handlers share.
pub struct ApiState {
    pub district: DistrictId,
    pub district_name: String,
    pub node_id: NodeId,
    pub writer: WriterHandle,
    pub view: Arc<RwLock<RegionView>>,
    pub store: Arc<dyn Store>,
    pub feed_head: watch::Receiver<u64>,
    pub heads: watch::Receiver<Vec<kreisnetz_document::automerge::ChangeHash>>,
    pub shutdown: watch::Receiver<bool>,
    pub start_time: SystemTime,
    pub api_address: String,
    pub federation_address: String,
    pub federation: Arc<crate::federation::FederationAdmin>,
    pub tokens: Arc<crate::auth::Tokens>,
    /// The search index, following the change feed (`crate::search`).
    pub search: Arc<crate::search::RegionSearch>,
}

/// The API's handlers; one value serves all four services.
#[derive(Clone)]
pub struct Api(pub Arc<ApiState>);

/// `INVALID_ARGUMENT` with one field violation per broken rule. The report is
/// [`Violations::bounded`]: however much bad input came in, the details stay a few kilobytes
/// (gRPC sends them in a header; megabytes there turn into `RESOURCE_EXHAUSTED` at the client).
fn invalid(prefix: &str, v: &Violations) -> Status {
    let v = v.bounded();
    let mut details = ErrorDetails::new();
    for fv in &v.0 {
        details.add_bad_request_violation(format!("{prefix}{}", fv.field), fv.description.clone());
    }
    let listed: Vec<String> =
        v.0.iter()
            .map(|fv| format!("{prefix}{}: {}", fv.field, fv.description))
            .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        format!("invalid request: {}", listed.join("; ")),
        details,
    )
}

pub(crate) fn invalid_field(field: &str, description: impl Into<String>) -> Status {
    let mut v = Violations::default();
    v.push(field, description);
    invalid("", &v)
}

fn not_found(kind: RecordKind, name: &str) -> Status {
    // The name as given, which may be anything a client sent: quoted and cut short.
    let name = &kreisnetz_model::quote(name);
    let details = ErrorDetails::with_resource_info(
        format!(
            "kreisnetz.v1.{}",
            if kind == RecordKind::Offering {
                "Offering"
            } else {
                "Contact"
            }
        ),
        name,
        "",
        format!("no {kind} {name} on this node"),
    );
    Status::with_error_details(Code::NotFound, format!("{kind} {name} not found"), details)
}

fn write_status(e: WriteError, prefix: &str, district: &DistrictId) -> Status {
    match e {
        WriteError::Invalid(v) => invalid(prefix, &v),
        WriteError::NotFound { kind, id } => {
            not_found(kind, &kreisnetz_model::resource_name(district, kind, &id))
        }
        WriteError::AlreadyExists { kind, id } => {
            let name = kreisnetz_model::resource_name(district, kind, &id);
            let details = ErrorDetails::with_resource_info(
                format!("kreisnetz.v1.{kind}"),
                name.clone(),
                "",
                "a record with this ID exists; a retried create already succeeded",
            );
            Status::with_error_details(
                Code::AlreadyExists,
                format!("{kind} {name} already exists"),
                details,
            )
        }
        WriteError::FailedPrecondition {
            kind,
            subject,
            description,
        } => {
            let details = ErrorDetails::with_precondition_failure_violation(
                kind,
                subject,
                description.clone(),
            );
            Status::with_error_details(Code::FailedPrecondition, description, details)
        }
        WriteError::Storage(msg) => {
            Status::unavailable(format!("the node could not store the write: {msg}; retry"))
        }
        WriteError::ShuttingDown => {
            Status::unavailable("the node is shutting down; retry against it once it is back")
        }
    }
}

impl Api {
    fn own(&self) -> &DistrictId {
        &self.0.district
    }

    /// Parses `name` (resource name or bare UUID); refuses names of other districts for writes.
    fn name_for_write(
        &self,
        field: &str,
        name: &str,
        kind: RecordKind,
    ) -> Result<RecordId, Status> {
        let (district, id) =
            parse_resource_name(name, kind).map_err(|e| invalid_field(field, e))?;
        // A bare UUID of another district's record is refused too, not reported missing.
        let owner = match district {
            Some(d) => Some(d),
            None => {
                let view = self.view()?;
                let holds = |d: &crate::view::DistrictView| match kind {
                    RecordKind::Offering => d.offerings.contains_key(&id),
                    RecordKind::Contact => d.contacts.contains_key(&id),
                };
                if view.districts.get(self.own()).is_some_and(holds) {
                    None
                } else {
                    view.districts
                        .iter()
                        .find(|(_, d)| holds(d))
                        .map(|(d, _)| *d)
                }
            }
        };
        match owner {
            Some(d) if d != *self.own() => Err(Status::permission_denied(format!(
                "{name} belongs to district {d}; this node writes only its own district {}",
                self.own()
            ))),
            _ => Ok(id),
        }
    }

    fn name_for_read(
        &self,
        name: &str,
        kind: RecordKind,
    ) -> Result<(Option<DistrictId>, RecordId), Status> {
        parse_resource_name(name, kind).map_err(|e| invalid_field("name", e))
    }

    async fn write(&self, command: Command, prefix: &str) -> Result<Outcome, Status> {
        self.0
            .writer
            .write(command)
            .await
            .map_err(|e| write_status(e, prefix, self.own()))
    }

    fn view(&self) -> Result<std::sync::RwLockReadGuard<'_, RegionView>, Status> {
        self.0
            .view
            .read()
            .map_err(|_| Status::internal("the read view is poisoned; restart the node"))
    }

    /// The ID of a record to create: the request's `{kind}_id` or the record's own `id` (the
    /// same if both are given), else a new random one.
    fn client_id(kind: RecordKind, request_id: &str, record_id: &str) -> Result<RecordId, Status> {
        let request_field = format!("{kind}_id");
        let record_field = format!("{kind}.id");
        let parse = |field: &str, given: &str| {
            RecordId::parse_given(given).map_err(|e| invalid_field(field, e))
        };
        match (request_id.trim().is_empty(), record_id.trim().is_empty()) {
            (true, true) => Ok(RecordId::new_random()),
            (false, true) => parse(&request_field, request_id),
            (true, false) => parse(&record_field, record_id),
            (false, false) => {
                let a = parse(&request_field, request_id)?;
                let b = parse(&record_field, record_id)?;
                if a == b {
                    Ok(a)
                } else {
                    Err(invalid_field(
                        &record_field,
                        format!(
                            "is {b} but {request_field} is {a}: give one of them, or both the same"
                        ),
                    ))
                }
            }
        }
    }

    /// Which record an update means: `name` (resource name or bare UUID) or `id`. If both are
    /// given they must name the same record.
    fn update_target(&self, kind: RecordKind, name: &str, id: &str) -> Result<RecordId, Status> {
        let name_field = format!("{kind}.name");
        let id_field = format!("{kind}.id");
        match (name.trim().is_empty(), id.trim().is_empty()) {
            (true, true) => Err(invalid_field(
                &name_field,
                format!("is required: which {kind} to update"),
            )),
            (true, false) => self.name_for_write(&id_field, id, kind),
            (false, true) => self.name_for_write(&name_field, name, kind),
            (false, false) => {
                let target = self.name_for_write(&name_field, name, kind)?;
                let given = RecordId::parse_given(id).map_err(|e| invalid_field(&id_field, e))?;
                if given == target {
                    Ok(target)
                } else {
                    Err(invalid_field(
                        &id_field,
                        format!(
                            "is {given} but {name_field} names {target}: give one of them, or both for the same {kind}"
                        ),
                    ))
                }
            }
        }
    }
}

fn page_size(n: i32) -> Result<usize, Status> {
    match n {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(invalid_field("page_size", "must not be negative")),
        n => Ok((n as usize).min(MAX_PAGE_SIZE)),
    }
}

fn opt_vocab<T>(field: &str, n: i32, from: fn(i32) -> Option<T>) -> Result<Option<T>, Status> {
    if n == 0 {
        return Ok(None);
    }
    from(n)
        .map(Some)
        .ok_or_else(|| invalid_field(field, format!("unknown value {n}")))
}

fn opt_text(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_lowercase())
}

fn opt_district(s: &str) -> Result<Option<DistrictId>, Status> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e: kreisnetz_model::IdError| invalid_field("district_id", e.to_string()))
}

fn opt_language(s: &str) -> Result<Option<kreisnetz_model::LanguageCode>, Status> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e: String| invalid_field("language", e))
}

/// Field mask paths → fields; unknown or output-only paths are violations.
fn mask<F: Copy>(
    paths: Option<&prost_types::FieldMask>,
    from_name: fn(&str) -> Option<F>,
) -> Result<Vec<F>, Status> {
    let paths = paths.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(invalid_field(
            "update_mask",
            "is required: name the fields to change, e.g. \"title,places_free\"",
        ));
    }
    let mut v = Violations::default();
    let mut fields = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match from_name(p.trim()) {
            Some(f) => fields.push(f),
            None => v.push(
                format!("update_mask.paths[{i}]"),
                format!(
                    "{} is not a field that can be updated",
                    kreisnetz_model::quote(p)
                ),
            ),
        }
    }
    v.into_result().map_err(|v| invalid("", &v))?;
    Ok(fields)
}

/// Keeps only the parse problems of fields in the mask.
fn masked_violations(v: Violations, names: &[&str]) -> Violations {
    Violations(
        v.0.into_iter()
            .filter(|fv| {
                let root = fv.field.split(['[', '.']).next().unwrap_or("");
                names.contains(&root)
            })
            .collect(),
    )
}

/// Whether a list call needs the search index: a text query, a coordinator filter or an
/// order. Calls with only the original filters are answered from the read view as before.
fn needs_index(r: &v1::ListOfferingsRequest) -> bool {
    !r.query.trim().is_empty()
        || !r.categories.is_empty()
        || !r.target_groups.is_empty()
        || !r.statuses.is_empty()
        || !r.district_ids.is_empty()
        || r.has_free_places
        || !r.runs_from.trim().is_empty()
        || !r.runs_to.trim().is_empty()
        || r.updated_before.is_some()
        || r.updated_after.is_some()
        || r.order_by != 0
}

/// The repeated values of a vocabulary field plus its single-value field (0: none).
fn vocab_set<T: Ord>(
    field: &str,
    single_field: &str,
    values: &[i32],
    single: i32,
    from: fn(i32) -> Option<T>,
) -> Result<std::collections::BTreeSet<T>, Status> {
    let mut set = std::collections::BTreeSet::new();
    for (i, &n) in values.iter().enumerate() {
        set.insert(from(n).ok_or_else(|| {
            invalid_field(&format!("{field}[{i}]"), format!("unknown value {n}"))
        })?);
    }
    if let Some(t) = opt_vocab(single_field, single, from)? {
        set.insert(t);
    }
    Ok(set)
}

fn opt_day(field: &str, s: &str) -> Result<Option<time::Date>, Status> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    kreisnetz_model::parse_date(s)
        .map(Some)
        .map_err(|e| invalid_field(field, e))
}

/// The coordinator filter of a list call: the repeated fields with the single-value ones.
fn region_filter(r: &v1::ListOfferingsRequest) -> Result<kreisnetz_region::Filter, Status> {
    use kreisnetz_model::{Category, OfferingStatus, TargetGroup};
    let mut districts = std::collections::BTreeSet::new();
    for (i, d) in r.district_ids.iter().enumerate() {
        districts.insert(d.parse().map_err(|e: kreisnetz_model::IdError| {
            invalid_field(&format!("district_ids[{i}]"), e.to_string())
        })?);
    }
    if let Some(d) = opt_district(&r.district_id)? {
        districts.insert(d);
    }
    let from = opt_day("runs_from", &r.runs_from)?;
    let to = opt_day("runs_to", &r.runs_to)?;
    if let (Some(f), Some(t)) = (from, to)
        && t < f
    {
        return Err(invalid_field("runs_to", "is before runs_from"));
    }
    Ok(kreisnetz_region::Filter {
        categories: vocab_set(
            "categories",
            "category",
            &r.categories,
            r.category,
            Category::from_number,
        )?,
        target_groups: vocab_set(
            "target_groups",
            "target_group",
            &r.target_groups,
            r.target_group,
            TargetGroup::from_number,
        )?,
        statuses: vocab_set(
            "statuses",
            "status",
            &r.statuses,
            r.status,
            OfferingStatus::from_number,
        )?,
        districts,
        has_free_places: r.has_free_places,
        runs_during: (from.is_some() || to.is_some())
            .then_some(kreisnetz_region::DateWindow { from, to }),
        updated_before: r
            .updated_before
            .as_ref()
            .map(|t| convert::from_timestamp(Some(t))),
        updated_after: r
            .updated_after
            .as_ref()
            .map(|t| convert::from_timestamp(Some(t))),
        municipality: opt_text(&r.municipality),
        language: opt_language(&r.language)?,
    })
}

fn sort_order(n: i32) -> Result<kreisnetz_region::SortOrder, Status> {
    use kreisnetz_region::SortOrder;
    match v1::ListOrder::try_from(n) {
        Ok(v1::ListOrder::Unspecified | v1::ListOrder::Relevance) => Ok(SortOrder::Relevance),
        Ok(v1::ListOrder::Title) => Ok(SortOrder::Title),
        Ok(v1::ListOrder::StartDate) => Ok(SortOrder::StartDate),
        Ok(v1::ListOrder::LastUpdate) => Ok(SortOrder::LastUpdate),
        Err(_) => Err(invalid_field("order_by", format!("unknown value {n}"))),
    }
}

impl Api {
    /// `ListOfferings` answered from the search index (see [`needs_index`]), on the blocking
    /// pool, after the index has caught up with the writes acknowledged before the call.
    async fn search_offerings(
        &self,
        req: v1::ListOfferingsRequest,
    ) -> Result<Response<v1::ListOfferingsResponse>, Status> {
        if req.query.len() > 1000 {
            return Err(invalid_field("query", "is longer than 1000 bytes"));
        }
        let query = crate::search::ListQuery {
            text: req.query.trim().to_string(),
            filter: region_filter(&req)?,
            sort: sort_order(req.order_by)?,
        };
        let size = page_size(req.page_size)?;
        let head = *self.0.feed_head.borrow();
        self.0.search.caught_up(head).await;
        let search = self.0.search.clone();
        let token = req.page_token;
        let page = tokio::task::spawn_blocking(move || search.list(query, size, &token))
            .await
            .map_err(|e| Status::internal(format!("the search failed: {e}")))?
            .map_err(|e| match e {
                crate::search::ListError::BadPageToken(m) => invalid_field("page_token", m),
                crate::search::ListError::Index(m) => Status::internal(m),
            })?;
        let mut offerings = Vec::with_capacity(page.hits.len());
        let mut matches = Vec::new();
        for hit in &page.hits {
            let o = convert::offering_to_proto(&hit.offering);
            if let Some(snippet) = &hit.snippet {
                matches.push(v1::SearchMatch {
                    name: o.name.clone(),
                    score: hit.score.unwrap_or_default(),
                    field: snippet.field.to_string(),
                    fragment: snippet.fragment.clone(),
                    highlights: snippet
                        .highlights
                        .iter()
                        .map(|&(start, end)| v1::Highlight {
                            start: start as u32,
                            end: end as u32,
                        })
                        .collect(),
                });
            }
            offerings.push(o);
        }
        Ok(Response::new(v1::ListOfferingsResponse {
            offerings,
            next_page_token: page.next_page_token,
            total_size: i32::try_from(page.total).unwrap_or(i32::MAX),
            matches,
        }))
    }
}

#[tonic::async_trait]
impl offering_service_server::OfferingService for Api {
    async fn create_offering(
        &self,
        req: Request<v1::CreateOfferingRequest>,
    ) -> Result<Response<v1::Offering>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let wire = req
            .offering
            .ok_or_else(|| invalid_field("offering", "is required"))?;
        let id = Self::client_id(RecordKind::Offering, &req.offering_id, &wire.id)?;
        let o = convert::offering_from_proto(&wire, *self.own(), id, Timestamp::now())
            .map_err(|v| invalid("offering.", &v))?;
        match self.write(Command::CreateOffering(o), "offering.").await? {
            Outcome::Offering(o) => Ok(Response::new(convert::offering_to_proto(&o))),
            _ => Err(Status::internal(
                "the writer answered a create with something else",
            )),
        }
    }

    async fn get_offering(
        &self,
        req: Request<v1::GetOfferingRequest>,
    ) -> Result<Response<v1::Offering>, Status> {
        let name = req.into_inner().name;
        let (district, id) = self.name_for_read(&name, RecordKind::Offering)?;
        let view = self.view()?;
        view.find_offering(district.as_ref(), self.own(), &id)
            .map(|o| Response::new(convert::offering_to_proto(o)))
            .ok_or_else(|| not_found(RecordKind::Offering, &name))
    }

    async fn update_offering(
        &self,
        req: Request<v1::UpdateOfferingRequest>,
    ) -> Result<Response<v1::Offering>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let wire = req
            .offering
            .ok_or_else(|| invalid_field("offering", "is required"))?;
        let id = self.update_target(RecordKind::Offering, &wire.name, &wire.id)?;
        let fields = mask(req.update_mask.as_ref(), OfferingField::from_name)?;
        let (patch, problems) =
            convert::parse_offering_partially(&wire, *self.own(), id, Timestamp::now());
        let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        masked_violations(problems, &names)
            .into_result()
            .map_err(|v| invalid("offering.", &v))?;
        let etag = (!wire.etag.is_empty()).then(|| wire.etag.clone());
        match self
            .write(
                Command::UpdateOffering {
                    patch,
                    fields,
                    etag,
                },
                "offering.",
            )
            .await?
        {
            Outcome::Offering(o) => Ok(Response::new(convert::offering_to_proto(&o))),
            _ => Err(Status::internal(
                "the writer answered an update with something else",
            )),
        }
    }

    async fn delete_offering(
        &self,
        req: Request<v1::DeleteOfferingRequest>,
    ) -> Result<Response<()>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let id = self.name_for_write("name", &req.name, RecordKind::Offering)?;
        let etag = (!req.etag.is_empty()).then_some(req.etag);
        self.write(Command::DeleteOffering { id, etag }, "").await?;
        Ok(Response::new(()))
    }

    async fn list_offerings(
        &self,
        req: Request<v1::ListOfferingsRequest>,
    ) -> Result<Response<v1::ListOfferingsResponse>, Status> {
        let req = req.into_inner();
        if needs_index(&req) {
            return self.search_offerings(req).await;
        }
        let filter = OfferingFilter {
            district: opt_district(&req.district_id)?,
            category: opt_vocab(
                "category",
                req.category,
                kreisnetz_model::Category::from_number,
            )?,
            target_group: opt_vocab(
                "target_group",
                req.target_group,
                kreisnetz_model::TargetGroup::from_number,
            )?,
            municipality: opt_text(&req.municipality),
            status: opt_vocab(
                "status",
                req.status,
                kreisnetz_model::OfferingStatus::from_number,
            )?,
            language: opt_language(&req.language)?,
            query: opt_text(&req.query),
        };
        let size = page_size(req.page_size)?;
        let page = self
            .view()?
            .list_offerings(&filter, size, &req.page_token)
            .map_err(|e| invalid_field("page_token", e.0))?;
        Ok(Response::new(v1::ListOfferingsResponse {
            offerings: page.items.iter().map(convert::offering_to_proto).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size as i32,
            matches: Vec::new(),
        }))
    }
}

#[tonic::async_trait]
impl contact_service_server::ContactService for Api {
    async fn create_contact(
        &self,
        req: Request<v1::CreateContactRequest>,
    ) -> Result<Response<v1::Contact>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let wire = req
            .contact
            .ok_or_else(|| invalid_field("contact", "is required"))?;
        let id = Self::client_id(RecordKind::Contact, &req.contact_id, &wire.id)?;
        let c = convert::contact_from_proto(&wire, *self.own(), id, Timestamp::now())
            .map_err(|v| invalid("contact.", &v))?;
        match self.write(Command::CreateContact(c), "contact.").await? {
            Outcome::Contact(c) => Ok(Response::new(convert::contact_to_proto(&c))),
            _ => Err(Status::internal(
                "the writer answered a create with something else",
            )),
        }
    }

    async fn get_contact(
        &self,
        req: Request<v1::GetContactRequest>,
    ) -> Result<Response<v1::Contact>, Status> {
        let name = req.into_inner().name;
        let (district, id) = self.name_for_read(&name, RecordKind::Contact)?;
        let view = self.view()?;
        view.find_contact(district.as_ref(), self.own(), &id)
            .map(|c| Response::new(convert::contact_to_proto(c)))
            .ok_or_else(|| not_found(RecordKind::Contact, &name))
    }

    async fn update_contact(
        &self,
        req: Request<v1::UpdateContactRequest>,
    ) -> Result<Response<v1::Contact>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let wire = req
            .contact
            .ok_or_else(|| invalid_field("contact", "is required"))?;
        let id = self.update_target(RecordKind::Contact, &wire.name, &wire.id)?;
        let fields = mask(req.update_mask.as_ref(), ContactField::from_name)?;
        let (patch, problems) =
            convert::parse_contact_partially(&wire, *self.own(), id, Timestamp::now());
        let names: Vec<&str> = fields.iter().map(|f| f.name()).collect();
        masked_violations(problems, &names)
            .into_result()
            .map_err(|v| invalid("contact.", &v))?;
        let etag = (!wire.etag.is_empty()).then(|| wire.etag.clone());
        match self
            .write(
                Command::UpdateContact {
                    patch,
                    fields,
                    etag,
                },
                "contact.",
            )
            .await?
        {
            Outcome::Contact(c) => Ok(Response::new(convert::contact_to_proto(&c))),
            _ => Err(Status::internal(
                "the writer answered an update with something else",
            )),
        }
    }

    async fn delete_contact(
        &self,
        req: Request<v1::DeleteContactRequest>,
    ) -> Result<Response<()>, Status> {
        crate::auth::require(&req, crate::auth::Role::Editor)?;
        let req = req.into_inner();
        let id = self.name_for_write("name", &req.name, RecordKind::Contact)?;
        let etag = (!req.etag.is_empty()).then_some(req.etag);
        self.write(Command::DeleteContact { id, etag }, "").await?;
        Ok(Response::new(()))
    }

    async fn list_contacts(
        &self,
        req: Request<v1::ListContactsRequest>,
    ) -> Result<Response<v1::ListContactsResponse>, Status> {
        let req = req.into_inner();
        let filter = ContactFilter {
            district: opt_district(&req.district_id)?,
            organisation: opt_text(&req.organisation),
            language: opt_language(&req.language)?,
            query: opt_text(&req.query),
        };
        let size = page_size(req.page_size)?;
        let page = self
            .view()?
            .list_contacts(&filter, size, &req.page_token)
            .map_err(|e| invalid_field("page_token", e.0))?;
        Ok(Response::new(v1::ListContactsResponse {
            contacts: page.items.iter().map(convert::contact_to_proto).collect(),
            next_page_token: page.next_page_token,
            total_size: page.total_size as i32,
        }))
    }
}

#[tonic::async_trait]
impl change_feed_service_server::ChangeFeedService for Api {
    type WatchStream = ReceiverStream<Result<v1::ChangeEvent, Status>>;

    async fn watch(
        &self,
        req: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let token = req
            .extensions()
            .get::<crate::auth::Caller>()
            .map(|c| c.token_id.clone())
            .ok_or_else(|| Status::unauthenticated("no authenticated caller"))?;
        let req = req.into_inner();
        crate::feed::check_cursor(self.0.store.as_ref(), req.epoch, req.after_sequence)?;
        let events = crate::feed::spawn_watch(
            self.0.store.clone(),
            self.0.feed_head.clone(),
            self.0.shutdown.clone(),
            req.after_sequence,
            req.stop_at_head,
        );
        let rx = end_on_revocation(events, self.0.tokens.clone(), token);
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Passes the events of a `Watch` stream on while its token is valid; once the token is
/// revoked, the stream ends with `UNAUTHENTICATED` (no further event is sent). Dropping the
/// returned receiver (the client went away) ends the feed reader too.
fn end_on_revocation(
    mut events: tokio::sync::mpsc::Receiver<Result<v1::ChangeEvent, Status>>,
    tokens: Arc<crate::auth::Tokens>,
    token: String,
) -> tokio::sync::mpsc::Receiver<Result<v1::ChangeEvent, Status>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let mut revocations = tokens.revocations();
    // Checked once at the start too: the token may have been revoked since this call was
    // authenticated.
    revocations.mark_changed();
    tokio::spawn(async move {
        let revoked =
            || Status::unauthenticated(format!("token {token} was revoked; this stream has ended"));
        loop {
            let next = tokio::select! {
                biased;
                changed = revocations.changed() => {
                    if changed.is_err() || !tokens.is_valid(&token) {
                        let _ = tx.send(Err(revoked())).await;
                        return;
                    }
                    continue;
                }
                next = events.recv() => next,
                () = tx.closed() => return,
            };
            let Some(event) = next else { return };
            // Checked again right before sending: a revocation while this event waited is seen.
            if !tokens.is_valid(&token) {
                let _ = tx.send(Err(revoked())).await;
                return;
            }
            if tx.send(event).await.is_err() {
                return;
            }
        }
    });
    rx
}

#[tonic::async_trait]
impl node_service_server::NodeService for Api {
    async fn get_node_status(
        &self,
        _req: Request<v1::GetNodeStatusRequest>,
    ) -> Result<Response<v1::NodeStatus>, Status> {
        let s = &self.0;
        let (offerings, contacts, documents) = {
            let view = self.view()?;
            let (o, c) = view.counts();
            (o, c, view.districts.len())
        };
        let peers_configured = s.federation.config().peers.len() as u32;
        let (peers_connected, documents_behind) = s
            .federation
            .status
            .read()
            .map(|st| {
                let connected = st.peers.values().filter(|p| p.connected).count() as u32;
                let behind = st
                    .peers
                    .values()
                    .map(|p| p.documents_behind)
                    .max()
                    .unwrap_or(0);
                (connected, behind)
            })
            .unwrap_or_default();
        let start_ms = s
            .start_time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or_default();
        let document_bytes = s
            .federation
            .status
            .read()
            .map(|st| st.documents.values().map(|d| d.size_bytes).sum())
            .unwrap_or_default();
        Ok(Response::new(v1::NodeStatus {
            district_id: s.district.to_string(),
            district_name: s.district_name.clone(),
            node_id: s.node_id.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            start_time: Some(convert::timestamp(Timestamp(start_ms))),
            feed_sequence: *s.feed_head.borrow(),
            offerings: offerings as u32,
            contacts: contacts as u32,
            documents: documents as u32,
            heads: s.heads.borrow().iter().map(|h| h.to_string()).collect(),
            storage_bytes: s.store.size_on_disk(),
            api_address: s.api_address.clone(),
            federation_address: s.federation_address.clone(),
            peers_configured,
            peers_connected,
            documents_behind,
            uptime_seconds: s
                .start_time
                .elapsed()
                .map(|d| d.as_secs())
                .unwrap_or_default(),
            feed_epoch: s.store.feed_epoch(),
            feed_floor: s.store.feed_floor(),
            document_bytes,
            feed_events: (*s.feed_head.borrow()).saturating_sub(s.store.feed_floor()),
        }))
    }

    async fn list_peers(
        &self,
        _req: Request<v1::ListPeersRequest>,
    ) -> Result<Response<v1::ListPeersResponse>, Status> {
        let admin = &self.0.federation;
        let status = admin
            .status
            .read()
            .map_err(|_| Status::internal("federation status poisoned"))?
            .clone();
        let mut peers: Vec<v1::Peer> = admin
            .config()
            .peers
            .iter()
            .map(|p| {
                let info = status.peers.get(&p.node_id).cloned().unwrap_or_default();
                v1::Peer {
                    node_id: p.node_id.to_string(),
                    address: p.address.clone(),
                    connected: info.connected,
                    district_id: info.district.map(|d| d.to_string()).unwrap_or_default(),
                    connected_since: info.connected_since.map(system_time),
                    last_sync_time: info.last_sync.map(system_time),
                    documents_behind: info.documents_behind,
                    bytes_sent: info.bytes_sent,
                    bytes_received: info.bytes_received,
                    rejected: info.rejected,
                    last_error: info.last_error,
                    offences: info.offences,
                    bad_signatures: info.bad_signatures,
                    unsigned_changes: info.unsigned_changes,
                    stale_records: info.stale_records,
                    behind_signed: info.behind_signed.iter().map(|d| d.to_string()).collect(),
                    last_notice: info.last_notice,
                }
            })
            .collect();
        peers.sort_by(|a, b| a.node_id.cmp(&b.node_id));
        Ok(Response::new(v1::ListPeersResponse { peers }))
    }

    async fn list_documents(
        &self,
        _req: Request<v1::ListDocumentsRequest>,
    ) -> Result<Response<v1::ListDocumentsResponse>, Status> {
        let admin = &self.0.federation;
        let status = admin
            .status
            .read()
            .map_err(|_| Status::internal("federation status poisoned"))?
            .clone();
        let view = self.view()?;
        let mut documents = Vec::new();
        for (district, info) in &status.documents {
            let d = view.districts.get(district);
            documents.push(v1::Document {
                document_id: district.to_string(),
                district_name: d.map(|d| d.name.clone()).unwrap_or_default(),
                own: district == self.own(),
                heads: info.heads.iter().map(|h| h.to_string()).collect(),
                changes: info.changes,
                size_bytes: info.size_bytes,
                last_change_time: info.last_change.map(system_time),
                offerings: d.map_or(0, |d| d.offerings.len() as u32),
                contacts: d.map_or(0, |d| d.contacts.len() as u32),
                signed_seq: info.signed_seq.unwrap_or(0),
                signed_time: info.signed_at.map(system_time),
                newest_signed_seq: info.newest_signed_seq.unwrap_or(0),
                covered: info.covered,
                quarantined_changes: info.quarantined_changes as u32,
            });
        }
        documents.sort_by(|a, b| (!a.own, &a.district_name).cmp(&(!b.own, &b.district_name)));
        Ok(Response::new(v1::ListDocumentsResponse { documents }))
    }

    async fn add_peer(
        &self,
        req: Request<v1::AddPeerRequest>,
    ) -> Result<Response<v1::Peer>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let req = req.into_inner();
        let node_id: NodeId = req
            .node_id
            .parse()
            .map_err(|e: kreisnetz_model::IdError| invalid_field("node_id", e.to_string()))?;
        let peer = self
            .0
            .federation
            .add_peer(node_id, req.address)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(v1::Peer {
            node_id: peer.node_id.to_string(),
            address: peer.address,
            ..Default::default()
        }))
    }

    async fn remove_peer(
        &self,
        req: Request<v1::RemovePeerRequest>,
    ) -> Result<Response<()>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let node_id: NodeId = req
            .into_inner()
            .node_id
            .parse()
            .map_err(|e: kreisnetz_model::IdError| invalid_field("node_id", e.to_string()))?;
        if self
            .0
            .federation
            .remove_peer(node_id)
            .await
            .map_err(admin_status)?
        {
            Ok(Response::new(()))
        } else {
            Err(Status::not_found(format!(
                "peer {node_id} is not configured"
            )))
        }
    }

    async fn trust_district(
        &self,
        req: Request<v1::TrustDistrictRequest>,
    ) -> Result<Response<v1::TrustedDistrict>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let req = req.into_inner();
        let district: DistrictId = req
            .district_id
            .parse()
            .map_err(|e: kreisnetz_model::IdError| invalid_field("district_id", e.to_string()))?;
        // The name is shown in every table of documents: the rules of a title.
        let mut v = Violations::default();
        v.text(
            "name",
            req.name.trim(),
            false,
            200,
            kreisnetz_model::Lines::One,
        );
        v.into_result().map_err(|v| invalid("", &v))?;
        let t = self
            .0
            .federation
            .trust(district, req.name)
            .await
            .map_err(admin_status)?;
        Ok(Response::new(v1::TrustedDistrict {
            district_id: t.district_id.to_string(),
            name: t.name,
        }))
    }

    async fn untrust_district(
        &self,
        req: Request<v1::UntrustDistrictRequest>,
    ) -> Result<Response<()>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let district: DistrictId = req
            .into_inner()
            .district_id
            .parse()
            .map_err(|e: kreisnetz_model::IdError| invalid_field("district_id", e.to_string()))?;
        if self
            .0
            .federation
            .untrust(district)
            .await
            .map_err(admin_status)?
        {
            Ok(Response::new(()))
        } else {
            Err(Status::not_found(format!(
                "district {district} is not trusted"
            )))
        }
    }
}

fn system_time(t: SystemTime) -> prost_types::Timestamp {
    let ms = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    convert::timestamp(Timestamp(ms))
}

fn admin_status(e: crate::federation::admin::AdminError) -> Status {
    use crate::federation::admin::AdminError;
    match e {
        AdminError::Invalid(msg) => Status::invalid_argument(msg),
        AdminError::Config(e) => {
            Status::failed_precondition(format!("cannot save the configuration: {e}"))
        }
        AdminError::ShuttingDown => Status::unavailable("the node is shutting down"),
    }
}

fn role_to_proto(r: crate::auth::Role) -> i32 {
    match r {
        crate::auth::Role::Reader => v1::Role::Reader as i32,
        crate::auth::Role::Editor => v1::Role::Editor as i32,
        crate::auth::Role::Admin => v1::Role::Admin as i32,
    }
}

fn token_info(t: &crate::auth::TokenRecord) -> v1::TokenInfo {
    v1::TokenInfo {
        id: t.id.clone(),
        name: t.name.clone(),
        role: role_to_proto(t.role),
        create_time: Some(convert::timestamp(Timestamp(t.created_ms))),
        last_used_time: t.last_used_ms.map(|ms| convert::timestamp(Timestamp(ms))),
    }
}

#[tonic::async_trait]
impl v1::token_service_server::TokenService for Api {
    async fn create_token(
        &self,
        req: Request<v1::CreateTokenRequest>,
    ) -> Result<Response<v1::CreatedToken>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let req = req.into_inner();
        let role = match v1::Role::try_from(req.role) {
            Ok(v1::Role::Reader) => crate::auth::Role::Reader,
            Ok(v1::Role::Editor) => crate::auth::Role::Editor,
            Ok(v1::Role::Admin) => crate::auth::Role::Admin,
            _ => {
                return Err(invalid_field(
                    "role",
                    "is required: reader, editor or admin",
                ));
            }
        };
        let (record, token) = self.0.tokens.create(&req.name, role).map_err(|e| match e {
            crate::auth::TokenError::Exists(m) => Status::already_exists(m),
            crate::auth::TokenError::Invalid(m) | crate::auth::TokenError::Ambiguous(m) => {
                invalid_field("name", m)
            }
            crate::auth::TokenError::Storage(m) => Status::unavailable(m),
        })?;
        Ok(Response::new(v1::CreatedToken {
            info: Some(token_info(&record)),
            token,
        }))
    }

    async fn list_tokens(
        &self,
        req: Request<v1::ListTokensRequest>,
    ) -> Result<Response<v1::ListTokensResponse>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        Ok(Response::new(v1::ListTokensResponse {
            tokens: self.0.tokens.list().iter().map(token_info).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        req: Request<v1::RevokeTokenRequest>,
    ) -> Result<Response<()>, Status> {
        crate::auth::require(&req, crate::auth::Role::Admin)?;
        let which = req.into_inner().token;
        match self.0.tokens.revoke(which.trim()) {
            Ok(true) => Ok(Response::new(())),
            Err(crate::auth::TokenError::Ambiguous(m)) => Err(invalid_field("token", m)),
            Ok(false) => Err(Status::not_found(format!(
                "no token with id or name {}",
                kreisnetz_model::quote(&which)
            ))),
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }
}
