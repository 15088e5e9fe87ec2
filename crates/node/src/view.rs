//! The read side: every district's offerings and contacts as typed records, kept current by the
//! document writer after each durable write, so reads never touch Automerge or the disk and
//! never see a write that is not yet on disk.
use std::collections::{BTreeMap, HashMap};

use kreisnetz_model::{
    Category, Contact, DistrictId, LanguageCode, Offering, OfferingStatus, RecordId, TargetGroup,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One district's records.
#[derive(Default, Clone, Debug)]
pub struct DistrictView {
    pub name: String,
    pub offerings: BTreeMap<RecordId, Offering>,
    pub contacts: BTreeMap<RecordId, Contact>,
}

/// All districts this node holds.
#[derive(Default, Debug)]
pub struct RegionView {
    pub districts: HashMap<DistrictId, DistrictView>,
}

/// Filters of a list call; all given ones must match.
#[derive(Default, Clone, Debug, Hash)]
pub struct OfferingFilter {
    pub district: Option<DistrictId>,
    pub category: Option<Category>,
    pub target_group: Option<TargetGroup>,
    pub municipality: Option<String>,
    pub status: Option<OfferingStatus>,
    pub language: Option<LanguageCode>,
    pub query: Option<String>,
}

#[derive(Default, Clone, Debug, Hash)]
pub struct ContactFilter {
    pub district: Option<DistrictId>,
    pub organisation: Option<String>,
    pub language: Option<LanguageCode>,
    pub query: Option<String>,
}

impl OfferingFilter {
    fn matches(&self, o: &Offering) -> bool {
        self.category.is_none_or(|c| o.category == c)
            && self
                .target_group
                .is_none_or(|t| o.target_groups.contains(&t))
            && self.status.is_none_or(|s| o.status == s)
            && self.language.is_none_or(|l| o.languages.contains(&l))
            && self
                .municipality
                .as_ref()
                .is_none_or(|m| o.municipality.to_lowercase() == *m)
            && self.query.as_ref().is_none_or(|q| o.matches_query(q))
    }
}

impl ContactFilter {
    fn matches(&self, c: &Contact) -> bool {
        self.language.is_none_or(|l| c.languages.contains(&l))
            && self
                .organisation
                .as_ref()
                .is_none_or(|m| c.organisation.to_lowercase() == *m)
            && self.query.as_ref().is_none_or(|q| c.matches_query(q))
    }
}

/// Where a page ends: the sort key of its last item, plus a hash of the filters so a token is
/// not used with other filters.
#[derive(Serialize, Deserialize)]
struct PageToken {
    title: String,
    district: String,
    id: String,
    filter: String,
}

/// A bad page token.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadPageToken(pub &'static str);

fn filter_hash(filter: &impl std::hash::Hash) -> String {
    // Debug formatting is stable for our own types; hash it for a short token.
    struct H(Sha256);
    impl std::hash::Hasher for H {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = H(Sha256::new());
    filter.hash(&mut h);
    data_encoding::HEXLOWER.encode(&h.0.finalize()[..6])
}

/// One page of results and what comes next.
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
    pub total_size: usize,
}

/// Sorts matches by (title, district, id), cuts one page after the token's position.
fn paginate<T: Clone>(
    mut matches: Vec<(String, String, String, &T)>,
    page_size: usize,
    token: &str,
    filter: &str,
) -> Result<Page<T>, BadPageToken> {
    matches.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
    let total_size = matches.len();
    let start = if token.is_empty() {
        0
    } else {
        let bytes = data_encoding::BASE64URL_NOPAD
            .decode(token.as_bytes())
            .map_err(|_| BadPageToken("page_token is not a token this node issued"))?;
        let t: PageToken = serde_json::from_slice(&bytes)
            .map_err(|_| BadPageToken("page_token is not a token this node issued"))?;
        if t.filter != filter {
            return Err(BadPageToken(
                "page_token was issued for other filters; start again without it",
            ));
        }
        matches.partition_point(|m| (&m.0, &m.1, &m.2) <= (&t.title, &t.district, &t.id))
    };
    let end = (start + page_size).min(total_size);
    let items: Vec<T> = matches[start..end].iter().map(|m| m.3.clone()).collect();
    let next_page_token = if end < total_size && end > 0 {
        let last = &matches[end - 1];
        let t = PageToken {
            title: last.0.clone(),
            district: last.1.clone(),
            id: last.2.clone(),
            filter: filter.to_string(),
        };
        data_encoding::BASE64URL_NOPAD.encode(&serde_json::to_vec(&t).unwrap_or_default())
    } else {
        String::new()
    };
    Ok(Page {
        items,
        next_page_token,
        total_size,
    })
}

impl RegionView {
    /// The offering with this ID: in `district` if given, else in any district (own first).
    pub fn find_offering(
        &self,
        district: Option<&DistrictId>,
        own: &DistrictId,
        id: &RecordId,
    ) -> Option<&Offering> {
        find(self, district, own, |d| d.offerings.get(id))
    }

    pub fn find_contact(
        &self,
        district: Option<&DistrictId>,
        own: &DistrictId,
        id: &RecordId,
    ) -> Option<&Contact> {
        find(self, district, own, |d| d.contacts.get(id))
    }

    pub fn list_offerings(
        &self,
        filter: &OfferingFilter,
        page_size: usize,
        token: &str,
    ) -> Result<Page<Offering>, BadPageToken> {
        let mut matches = Vec::new();
        for (district, view) in self.districts_matching(filter.district.as_ref()) {
            let d = district.to_string();
            for o in view.offerings.values().filter(|o| filter.matches(o)) {
                matches.push((o.title.to_lowercase(), d.clone(), o.id.to_string(), o));
            }
        }
        paginate(matches, page_size, token, &filter_hash(filter))
    }

    pub fn list_contacts(
        &self,
        filter: &ContactFilter,
        page_size: usize,
        token: &str,
    ) -> Result<Page<Contact>, BadPageToken> {
        let mut matches = Vec::new();
        for (district, view) in self.districts_matching(filter.district.as_ref()) {
            let d = district.to_string();
            for c in view.contacts.values().filter(|c| filter.matches(c)) {
                matches.push((
                    c.display_name.to_lowercase(),
                    d.clone(),
                    c.id.to_string(),
                    c,
                ));
            }
        }
        paginate(matches, page_size, token, &filter_hash(filter))
    }

    fn districts_matching<'a>(
        &'a self,
        district: Option<&'a DistrictId>,
    ) -> impl Iterator<Item = (&'a DistrictId, &'a DistrictView)> {
        self.districts
            .iter()
            .filter(move |(d, _)| district.is_none_or(|want| *d == want))
    }

    /// Offerings and contacts in all districts.
    pub fn counts(&self) -> (usize, usize) {
        self.districts.values().fold((0, 0), |(o, c), d| {
            (o + d.offerings.len(), c + d.contacts.len())
        })
    }
}

fn find<'a, T>(
    view: &'a RegionView,
    district: Option<&DistrictId>,
    own: &DistrictId,
    get: impl Fn(&'a DistrictView) -> Option<&'a T>,
) -> Option<&'a T> {
    match district {
        Some(d) => view.districts.get(d).and_then(&get),
        None => view.districts.get(own).and_then(&get).or_else(|| {
            view.districts
                .iter()
                .filter(|(d, _)| *d != own)
                .find_map(|(_, v)| get(v))
        }),
    }
}
