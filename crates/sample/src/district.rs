//! The hand-made-looking sample of one district: its contacts and about thirty offerings.
use std::collections::BTreeSet;

use kreisnetz_model::{
    Category, Contact, DistrictId, LanguageCode, LanguageLevel, Offering, OfferingFormat,
    OfferingStatus, ProviderKind, RecordId, TargetGroup, Timestamp,
};
use rand::Rng;
use rand::rngs::StdRng;
use time::{Date, Duration};

use crate::common::{
    Place, any_municipality, coordinates_near, course_dates, date, date_of, german_and, record_id,
    rng_for, status_on,
};
use crate::people::{
    domain_label, email_for, fictional_phone, invented_names, slug, truncate_slug,
};
use crate::profile::{Profile, Skip, profile_of};
use crate::region::{Local, local_of, without_qualifier};
use crate::{RegionDistrict, SampleSet};

use Category as C;
use ProviderKind as K;
use TargetGroup as T;

/// Whom an offering names as its contacts; one contact per role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Jobcenter,
    Ihk,
    Bbs,
    Vhs,
    Mbe,
    Jmd,
    ProConnect,
    Coordination,
    Women,
    Volunteers,
    Hwk,
    Family,
}

const ROLES: [Role; 12] = [
    Role::Jobcenter,
    Role::Ihk,
    Role::Bbs,
    Role::Vhs,
    Role::Mbe,
    Role::Jmd,
    Role::ProConnect,
    Role::Coordination,
    Role::Women,
    Role::Volunteers,
    Role::Hwk,
    Role::Family,
];

const IHK: &str = "Oldenburgische IHK";
const HWK: &str = "Handwerkskammer Oldenburg";
const PRO_CONNECT: &str = "pro:connect e.V.";

/// When an offering takes place.
enum When {
    /// A standing service, running since early 2026.
    Ongoing,
    /// A funded project: 2026 and 2027.
    Project,
    /// A course of so many weeks, starting some Monday in 2026 or 2027.
    Course { weeks: i64 },
    /// Fixed dates (a school year, say).
    Fixed(Date, Option<Date>),
}

/// Which languages an offering is held in.
enum Langs {
    German,
    /// German and this many more.
    GermanAnd(usize),
}

struct Draft {
    title: String,
    description: String,
    category: Category,
    targets: &'static [TargetGroup],
    provider: String,
    kind: ProviderKind,
    place: Place,
    langs: Langs,
    when: When,
    schedule: String,
    places: Option<u32>,
    cost: &'static str,
    contacts: &'static [Role],
    /// Volunteer offerings sometimes pause.
    may_pause: bool,
}

struct Ctx<'a> {
    d: &'a RegionDistrict,
    local: Local,
    district_id: DistrictId,
    now: Timestamp,
    today: Date,
    rng: StdRng,
    contact_ids: Vec<RecordId>,
    /// The volunteer initiative of the sample, and where it is.
    volunteers: String,
    volunteer_town: &'static str,
    /// How this district writes and keeps its entries.
    profile: Profile,
}

impl Ctx<'_> {
    /// The district's own wording of something every district offers: variant `dialect` of
    /// the list (neighbouring districts have different dialects).
    fn worded<T: Copy>(&self, variants: &[T]) -> T {
        variants[self.profile.dialect % variants.len()]
    }

    fn skips(&self, what: Skip) -> bool {
        self.profile.skip.contains(&what)
    }

    /// When a record was last touched: within the last 90 days with the district's `care`,
    /// else three to fourteen months ago.
    fn last_update(&mut self) -> (Timestamp, Timestamp) {
        const DAY: i64 = 86_400_000;
        let rng = &mut self.rng;
        let age = if rng.gen_bool(self.profile.care) {
            rng.gen_range(1..88)
        } else {
            rng.gen_range(95..420)
        };
        let update = Timestamp(self.now.0 - age * DAY - rng.gen_range(0..DAY / 2));
        let create = Timestamp(update.0 - rng.gen_range(0..200) * DAY);
        (create, update)
    }

    fn contact(&self, role: Role) -> RecordId {
        self.contact_ids[ROLES
            .iter()
            .position(|r| *r == role)
            .expect("every role has a contact")]
    }

    /// The seat without qualifier: `Brake`, `Oldenburg`, `Vechta`.
    fn seat(&self) -> &'static str {
        without_qualifier(self.d.seat)
    }

    /// `im Landkreis Vechta`, `in Delmenhorst`.
    fn in_district(&self) -> String {
        if self.d.is_city() {
            format!("in {}", without_qualifier(self.d.bare_name()))
        } else {
            format!("im {}", self.d.name)
        }
    }

    /// `des Landkreises Vechta`, `der Stadt Delmenhorst`.
    fn of_district(&self) -> String {
        if self.d.is_city() {
            format!("der {}", self.d.name)
        } else {
            format!("des Landkreises {}", self.d.bare_name())
        }
    }

    fn is(&self, key: &str) -> bool {
        self.d.key == key
    }

    /// The Kreishaus or Rathaus.
    fn office(&self) -> Place {
        let (municipality, street, postal) = self.local.office;
        Place {
            municipality,
            address: street.into(),
            postal_code: postal,
        }
    }

    fn in_seat(&mut self) -> Place {
        Place::street_in(&mut self.rng, self.d, self.d.seat)
    }

    fn in_town(&mut self, municipality: &'static str) -> Place {
        Place::street_in(&mut self.rng, self.d, municipality)
    }

    fn anywhere(&mut self) -> Place {
        Place::anywhere(&mut self.rng, self.d)
    }

    /// The `i`th vocational school (cycling) and a place on its site.
    fn bbs(&mut self, i: usize) -> (&'static str, Place) {
        let (name, town) = self.local.bbs[i % self.local.bbs.len()];
        let town = self
            .d
            .municipalities
            .iter()
            .copied()
            .find(|m| *m == town)
            .unwrap_or(self.d.seat);
        (name, self.in_town(town))
    }

    /// A municipality other than the seat, if there is one.
    fn other_town(&mut self) -> Option<&'static str> {
        let others: Vec<&'static str> = self
            .d
            .municipalities
            .iter()
            .copied()
            .filter(|m| *m != self.d.seat)
            .collect();
        (!others.is_empty()).then(|| others[self.rng.gen_range(0..others.len())])
    }

    /// In the building of a chamber in Oldenburg when the district is the city, else at a
    /// consultation day in the Kreishaus or Rathaus.
    fn chamber_place(&self, chamber_street: &str) -> Place {
        if self.is("oldenburg-stadt") {
            Place {
                municipality: self.d.seat,
                address: chamber_street.into(),
                postal_code: "26122",
            }
        } else {
            self.office()
        }
    }

    fn finish(&mut self, draft: Draft) -> Offering {
        let rng = &mut self.rng;
        let id = record_id(rng);
        let (start, end) = match draft.when {
            When::Ongoing => (
                Some(date(2026, 1, 1) + Duration::days(rng.gen_range(0..75))),
                None,
            ),
            When::Project => (Some(date(2026, 1, 1)), Some(date(2027, 12, 31))),
            When::Course { weeks } => {
                let (s, e) = course_dates(rng, weeks);
                (Some(s), Some(e))
            }
            When::Fixed(s, e) => (Some(s), e),
        };
        let mut status = status_on(self.today, start, end);
        if draft.may_pause && status == OfferingStatus::Active && rng.gen_bool(0.2) {
            status = OfferingStatus::Paused;
        }
        let places_free = draft.places.map(|total| match status {
            OfferingStatus::Ended => 0,
            OfferingStatus::Planned => rng.gen_range(total / 2..=total),
            _ => rng.gen_range(0..=total / 2),
        });
        let languages = match draft.langs {
            Langs::German => vec!["de"],
            Langs::GermanAnd(n) => german_and(rng, n),
        };
        let coordinates = coordinates_near(rng, draft.place.municipality);
        let path = truncate_slug(&slug(&draft.title), 60);
        let (create_time, update_time) = self.last_update();
        let mut o = Offering {
            id,
            district_id: self.district_id,
            url: format!(
                "https://{}.example.org/angebote/{path}",
                domain_label(&draft.provider)
            ),
            title: draft.title,
            description: draft.description,
            category: draft.category,
            target_groups: draft.targets.iter().copied().collect(),
            provider: draft.provider,
            provider_kind: Some(draft.kind),
            municipality: draft.place.municipality.into(),
            address: draft.place.address,
            postal_code: draft.place.postal_code.into(),
            coordinates,
            languages: languages.iter().map(|l| language(l)).collect(),
            start_date: start,
            end_date: end,
            schedule: draft.schedule,
            places_total: draft.places,
            places_free,
            cost: draft.cost.into(),
            contact_ids: draft.contacts.iter().map(|r| self.contact(*r)).collect(),
            status,
            language_level: None,
            format: None,
            childcare: None,
            barrier_free: None,
            create_time,
            update_time,
        };
        self.need_fields(&mut o);
        o
    }

    /// The four fields that tell needs apart, as a coordinator would fill them in: the CEFR
    /// level a language or integration course leads to, the format (in person unless the
    /// district's wording says otherwise), childcare when the text offers it, and barrier-free
    /// access as far as the district knows it.
    fn need_fields(&mut self, o: &mut Offering) {
        let text = format!("{} {} {}", o.title, o.description, o.schedule);
        o.language_level = match o.category {
            C::IntegrationCourse if text.contains("Alphabetisierung") => Some(LanguageLevel::A2),
            C::IntegrationCourse => Some(LanguageLevel::B1),
            C::LanguageCourse => level_in(&o.title).or(Some(LanguageLevel::A2)),
            _ => None,
        };
        let lower = text.to_lowercase();
        o.format = Some(if lower.contains("online") {
            OfferingFormat::Online
        } else if lower.contains("video")
            || (matches!(o.category, C::QualificationRecognition | C::JobCounselling)
                && o.provider_kind == Some(K::Chamber))
        {
            OfferingFormat::Hybrid
        } else {
            OfferingFormat::InPerson
        });
        let with_children = [
            "Kinderbetreuung",
            "Kinder werden",
            "Kinder dürfen",
            "Kinder sind",
            "betreut",
        ]
        .iter()
        .any(|w| text.contains(w));
        o.childcare = if with_children {
            Some(true)
        } else if matches!(
            o.category,
            C::IntegrationCourse | C::LanguageCourse | C::WomensSupport | C::Childcare
        ) {
            Some(false)
        } else {
            None
        };
        o.barrier_free = match self.rng.gen_range(0..10) {
            0..=5 => Some(true),
            6 | 7 => Some(false),
            _ => None,
        };
    }
}

/// `B2` in `Berufssprachkurs B2 (Basismodul)`, `(B1)`, `Deutsch A1`.
fn level_in(title: &str) -> Option<LanguageLevel> {
    title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|w| (w.len() == 2).then(|| w.parse().ok()).flatten())
}

fn language(code: &str) -> LanguageCode {
    code.parse().expect("the sample uses ISO 639-1 codes")
}

pub(crate) fn district_sample(
    district: &RegionDistrict,
    district_id: DistrictId,
    seed: u64,
    now: Timestamp,
) -> SampleSet {
    let mut rng = rng_for(district, &district_id, seed, "district-sample");
    let contact_ids: Vec<RecordId> = ROLES.iter().map(|_| record_id(&mut rng)).collect();
    let volunteer_town = if district.is_city() {
        district.seat
    } else {
        any_municipality(&mut rng, district)
    };
    let volunteers = if district.is_city() {
        format!(
            "Ehrenamtliche Flüchtlingshilfe {}",
            without_qualifier(district.seat)
        )
    } else {
        format!("Flüchtlingshilfe {}", without_qualifier(volunteer_town))
    };
    let mut ctx = Ctx {
        profile: profile_of(district),
        d: district,
        local: local_of(district),
        district_id,
        now,
        today: date_of(now),
        rng,
        contact_ids,
        volunteers,
        volunteer_town,
    };
    let contacts = contacts(&mut ctx);
    let mut offerings = offerings(&mut ctx);
    let routine = offerings.len();
    planted(&mut ctx, &mut offerings);
    // Only the routine courses are forgotten: the planted overlaps stay current on any day.
    forget_to_close(&mut ctx, &mut offerings[..routine]);
    leave_without_contact(&mut ctx, &mut offerings);
    SampleSet {
        offerings,
        contacts,
    }
}

fn contacts(ctx: &mut Ctx<'_>) -> Vec<Contact> {
    let names = invented_names(&mut ctx.rng, ROLES.len());
    let extensions = rand::seq::index::sample(&mut ctx.rng, 1000, ROLES.len()).into_vec();
    let seat = ctx.seat();
    let in_district = ctx.in_district();
    let mut out = Vec::with_capacity(ROLES.len());
    for (i, role) in ROLES.iter().enumerate() {
        let (organisation, role_name, responsibility): (String, &str, String) = match role {
            Role::Jobcenter => (
                ctx.local.jobcenter.into(),
                "Integrationsfachkraft",
                "Arbeitsvermittlung und Integrationscoaching für Geflüchtete; Arbeitgeber-Sprechstunde".into(),
            ),
            Role::Ihk => (
                IHK.into(),
                "Fachkräfteberatung",
                format!("Anerkennungsberatung und Beschäftigung Geflüchteter; Sprechtage in {seat}"),
            ),
            Role::Bbs => (
                ctx.local.bbs[0].0.into(),
                "Koordination Sprachförderung",
                "SPRINT- und SPRINT-Dual-Klassen, Praktikumsbetriebe".into(),
            ),
            Role::Vhs => (
                ctx.local.vhs.into(),
                "Fachbereichsleitung Deutsch als Fremdsprache",
                "Integrations- und Berufssprachkurse, Einstufungstests, Kinderbetreuung".into(),
            ),
            Role::Mbe => (
                ctx.local.mbe.into(),
                "Migrationsberatung für erwachsene Zugewanderte (MBE)",
                format!("Erwachsene Zugewanderte ab 27 Jahren {in_district}"),
            ),
            Role::Jmd => (
                ctx.local.jmd.into(),
                "Jugendmigrationsdienst (JMD)",
                format!("Junge Menschen von 12 bis 27 Jahren {in_district}"),
            ),
            Role::ProConnect => (
                PRO_CONNECT.into(),
                "Koordination Mentoring",
                "Gewinnung, Schulung und Begleitung ehrenamtlicher Mentorinnen und Mentoren".into(),
            ),
            Role::Coordination => (
                ctx.d.name.into(),
                if ctx.is("vechta") {
                    "Geschäftsstelle Koordinierungsstab Integration"
                } else {
                    "Integrations- und Bildungskoordination"
                },
                format!("Überblick über die Integrationsangebote {in_district}; pflegt die Daten in kreisnetz"),
            ),
            Role::Women => (
                ctx.d.name.into(),
                if ctx.is("cloppenburg") {
                    "Projektleitung „Unterstützung für geflüchtete Frauen“"
                } else {
                    "Gleichstellungsbeauftragte"
                },
                "Angebote für geflüchtete Frauen, Berufsorientierung mit Kinderbetreuung".into(),
            ),
            Role::Volunteers => (
                ctx.volunteers.clone(),
                "Ehrenamtskoordination",
                "Patenschaften, Sprachcafé, Fahrradwerkstatt, Lernhilfe".into(),
            ),
            Role::Hwk => (
                HWK.into(),
                "Ausbildungsberatung",
                format!("Ausbildung im Handwerk und Anerkennung handwerklicher Abschlüsse; Sprechtage in {seat}"),
            ),
            Role::Family => (
                ctx.d.name.into(),
                "Familienservicebüro",
                "Kita-Einstieg, Kinderbetreuung während Sprachkursen".into(),
            ),
        };
        let (first, last) = names[i];
        let (create_time, update_time) = ctx.last_update();
        let rng = &mut ctx.rng;
        // Everybody has an e-mail address; most also a phone number.
        let phone = if rng.gen_bool(0.8) {
            fictional_phone(rng, extensions[i] as u16)
        } else {
            String::new()
        };
        let extra = rng.gen_range(0..=2);
        out.push(Contact {
            id: ctx.contact_ids[i],
            district_id: ctx.district_id,
            display_name: format!("{first} {last}"),
            email: email_for(first, last, &organisation),
            organisation,
            role: role_name.into(),
            responsibility,
            phone,
            languages: german_and(rng, extra)
                .iter()
                .map(|l| language(l))
                .collect::<BTreeSet<_>>(),
            create_time,
            update_time,
        });
    }
    out
}

fn offerings(ctx: &mut Ctx<'_>) -> Vec<Offering> {
    let seat = ctx.seat();
    let in_district = ctx.in_district();
    let of_district = ctx.of_district();
    let bare = without_qualifier(ctx.d.bare_name());
    let l = ctx.local;
    let mut out = Vec::new();

    // Integrationskurse
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Integrationskurs (allgemein) – Vormittagskurs {seat}",
                "Allgemeiner Integrationskurs am Vormittag, {seat}",
                "Deutsch und Orientierung: Integrationskurs in {seat}",
                "Integrationskurs Vollzeit – Einstieg monatlich",
            ])
            .replace("{seat}", seat),
        description: ctx
            .worded(&[
                "Allgemeiner Integrationskurs nach den Vorgaben des BAMF: 600 Unterrichtseinheiten \
                Sprachkurs bis zum Niveau B1 und 100 Unterrichtseinheiten Orientierungskurs. Abschluss mit dem \
                „Deutsch-Test für Zuwanderer“ (DTZ) und dem Test „Leben in Deutschland“. Vorher ist ein \
                Einstufungstest in der Volkshochschule nötig.",
                "Sieben Module Deutsch und ein Modul über Geschichte, Politik und Zusammenleben. Wer den \
                Kurs mit B1 abschließt, erfüllt eine Voraussetzung für die Niederlassungserlaubnis. Die \
                Berechtigung stellt das BAMF, die Ausländerbehörde oder das Jobcenter aus.",
                "Kleine Gruppen, feste Lehrkräfte, ein Lernraum mit PCs: vom Alltag über Arbeit und \
                Wohnen bis zur Prüfung DTZ. Einstieg nach Einstufung, auch für Teilnehmende ohne \
                Verpflichtung, wenn Plätze frei sind.",
                "Vollzeitkurs mit Orientierungsteil und Prüfung am Ende. Zusätzlich: Lernberatung, \
                Besuche im Rathaus und in Betrieben, eine Stunde Computerkunde pro Woche.",
            ])
            .into(),
        category: C::IntegrationCourse,
        targets: &[T::Refugees, T::Migrants],
        provider: l.vhs.into(),
        kind: K::School,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 30 },
        schedule: "Mo–Fr 8:30–12:45 Uhr".into(),
        places: Some(20),
        cost: "Kostenbeitrag nach BAMF-Vorgaben; Befreiung für Leistungsbeziehende möglich",
        contacts: &[Role::Vhs, Role::Coordination],
        may_pause: false,
    }));
    let place = ctx.anywhere();
    let town = without_qualifier(place.municipality);
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Integrationskurs mit Alphabetisierung in {town}",
                "Alphabetisierungskurs mit Integrationskurs, {town}",
                "Lesen und schreiben lernen: Alpha-Integrationskurs {town}",
                "Integrationskurs für Zweitschriftlernende in {town}",
            ])
            .replace("{town}", town),
        description: "Für Teilnehmende, die noch nicht oder nicht in lateinischer Schrift lesen und schreiben: \
            bis zu 1.300 Unterrichtseinheiten in einer kleinen Gruppe, mit Alphabetisierung, Sprachkurs und \
            Orientierungskurs. Viel Übung mit Formularen, Fahrplänen und Briefen aus dem Alltag."
            .into(),
        category: C::IntegrationCourse,
        targets: &[T::Refugees, T::Migrants],
        provider: l.vhs.into(),
        kind: K::School,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 44 },
        schedule: "Mo–Do 9:00–13:00 Uhr".into(),
        places: Some(12),
        cost: "Kostenbeitrag nach BAMF-Vorgaben; Befreiung für Leistungsbeziehende möglich",
        contacts: &[Role::Vhs],
        may_pause: false,
    }));
    let place = ctx.anywhere();
    if !ctx.skips(Skip::WomensIntegrationCourse) {
        out.push(ctx.finish(Draft {
            title: ctx.worded(&[
                "Frauenintegrationskurs mit Kinderbetreuung",
                "Integrationskurs für Frauen – Kinder werden im Haus betreut",
                "Frauenkurs: Integrationskurs in ruhigerem Tempo",
                "Integrationskurs nur für Frauen (mit Kinderbetreuung)",
            ]).into(),
            description: "Integrationskurs für Frauen mit 1.000 Unterrichtseinheiten in ruhigerem Tempo. Themen aus \
                dem Alltag mit Kindern: Kita und Schule, Arztbesuch, Elternabend, Einkaufen. Während des Unterrichts \
                werden Kinder ab einem Jahr im Haus betreut."
                .into(),
            category: C::IntegrationCourse,
            targets: &[T::Women, T::Families, T::Refugees],
            provider: l.mbe.into(),
            kind: K::Association,
            place,
            langs: Langs::German,
            when: When::Course { weeks: 46 },
            schedule: "Mo–Fr 8:30–12:00 Uhr, Kinderbetreuung im Haus".into(),
            places: Some(15),
            cost: "Kostenbeitrag nach BAMF-Vorgaben; Befreiung für Leistungsbeziehende möglich",
            contacts: &[Role::Mbe, Role::Family],
            may_pause: false,
        }));
    }
    let place = ctx.in_seat();
    if !ctx.skips(Skip::YouthIntegrationCourse) {
        out.push(ctx.finish(Draft {
            title: ctx.worded(&[
                "Jugendintegrationskurs für junge Erwachsene bis 27",
                "Jugendintegrationskurs: Deutsch für Schule, Ausbildung und Studium",
                "Integrationskurs für junge Leute unter 27",
                "Jugendintegrationskurs mit Bewerbungstraining",
            ]).into(),
            description: "Integrationskurs für junge Menschen, die eine Ausbildung, eine weiterführende Schule oder \
                ein Studium anstreben: 1.000 Unterrichtseinheiten mit Projektarbeit, Betriebserkundungen und \
                Bewerbungstraining. Der Jugendmigrationsdienst berät begleitend."
                .into(),
            category: C::IntegrationCourse,
            targets: &[T::Youth, T::Refugees, T::Migrants],
            provider: l.vhs.into(),
            kind: K::School,
            place,
            langs: Langs::German,
            when: When::Course { weeks: 42 },
            schedule: "Mo–Fr 13:00–17:15 Uhr".into(),
            places: Some(18),
            cost: "Kostenbeitrag nach BAMF-Vorgaben; Befreiung für Leistungsbeziehende möglich",
            contacts: &[Role::Vhs, Role::Jmd],
            may_pause: false,
        }));
    }

    // Berufssprachkurse
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: format!("Berufssprachkurs B2 (Basismodul) in {seat}"),
        description: "Berufsbezogene Deutschsprachförderung nach § 45a AufenthG vom Niveau B1 zum Niveau B2: \
            telefonieren, E-Mails und Berichte schreiben, an Besprechungen teilnehmen, Arbeitsschutz verstehen. \
            Abschluss mit dem Deutsch-Test für den Beruf (DTB) B2."
            .into(),
        category: C::LanguageCourse,
        targets: &[T::Refugees, T::Migrants, T::SkilledWorkers],
        provider: "Bildungswerk der Niedersächsischen Wirtschaft (BNW)".into(),
        kind: K::Other,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 20 },
        schedule: "Mo–Fr 8:00–13:00 Uhr".into(),
        places: Some(18),
        cost: "kostenfrei mit Berechtigung des Jobcenters, der Agentur für Arbeit oder des BAMF",
        contacts: &[Role::Jobcenter, Role::Vhs],
        may_pause: false,
    }));
    let place = ctx.anywhere();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Berufssprachkurs Spezialmodul Pflege (B2)",
                "Deutsch in der Pflege B2",
                "Fachsprachkurs Pflege – Ziel B2",
                "B2 für Pflegeberufe: Sprache für Station und Wohnbereich",
            ])
            .into(),
        description: ctx
            .worded(&[
                "Fachsprache für Pflegekräfte mit ausländischem Abschluss im Anerkennungsverfahren und für \
                Pflegehelferinnen und -helfer: Pflegedokumentation, Übergabe, Gespräche mit Pflegebedürftigen und \
                Angehörigen. Mit Hospitationen in Einrichtungen der Region.",
                "Für Pflegefachkräfte aus dem Ausland, die für die Anerkennung B2 brauchen: Dienstübergabe, \
                Dokumentation, Telefonate mit Ärztinnen. Praxistage in Kliniken und Heimen.",
                "Wer in Altenpflege oder Krankenhaus arbeiten will, übt hier die Sprache des Berufs: \
                Pflegeplanung, Schmerzen erfragen, mit Angehörigen sprechen.",
                "Sprachkurs mit Prüfung telc Deutsch B1-B2 Pflege; Rollenspiele zu Aufnahme, Übergabe und \
                Entlassung, Besuche in Pflegeeinrichtungen.",
            ])
            .into(),
        category: C::LanguageCourse,
        targets: &[T::SkilledWorkers, T::Migrants, T::Women],
        provider: l.vhs.into(),
        kind: K::School,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 16 },
        schedule: "Mo–Do 8:30–13:30 Uhr".into(),
        places: Some(14),
        cost: "kostenfrei mit Berechtigung des Jobcenters, der Agentur für Arbeit oder des BAMF",
        contacts: &[Role::Vhs, Role::Jobcenter],
        may_pause: false,
    }));
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Berufsbegleitender Berufssprachkurs Gewerbe-Technik (B1)",
                "Deutsch für Produktion und Lager (B1), neben dem Beruf",
                "Berufssprachkurs B1 Gewerbe-Technik am Abend",
                "Sprachkurs im Betrieb: Technik und Logistik, B1",
            ])
            .into(),
        description: ctx
            .worded(&[
                "Abendkurs für Beschäftigte in Produktion, Lager, Handwerk und Lebensmittelindustrie: \
                Arbeitsanweisungen, Sicherheitsunterweisungen, Gespräche mit Vorgesetzten. Betriebe können \
                Mitarbeitende anmelden; der Kurs ist mit Schichtarbeit vereinbar.",
                "Für Beschäftigte, die schon arbeiten und sicherer sprechen wollen: Maschinen erklären, \
                Fehler melden, Schichtpläne lesen. Zweimal pro Woche nach der Arbeit.",
                "Online-Kurs für Beschäftigte aus der Region: Unterricht im virtuellen Klassenzimmer mit \
                Beispielen aus Werkstatt und Halle, Arbeitssicherheit und Teamgesprächen.",
                "Der Unterricht findet in den Räumen eines Betriebs statt; Themen sind Lieferscheine, \
                Unterweisungen und Gespräche mit Kolleginnen und Kollegen.",
            ])
            .into(),
        category: C::LanguageCourse,
        targets: &[T::Migrants, T::Refugees, T::Employers],
        provider: "Bildungswerk der Niedersächsischen Wirtschaft (BNW)".into(),
        kind: K::Other,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 26 },
        schedule: "Di und Do 17:30–20:45 Uhr".into(),
        places: Some(16),
        cost: "kostenfrei für Beschäftigte mit Berechtigung des BAMF",
        contacts: &[Role::Jobcenter],
        may_pause: false,
    }));

    // BBS: SPRINT and SPRINT-Dual
    let (bbs, place) = ctx.bbs(0);
    let network = if ctx.is("oldenburg-stadt") {
        " Das Angebot wird in der Unterarbeitsgruppe „Spracherwerb“ des Oldenburger Netzwerks unter \
            Federführung der BBS abgestimmt."
    } else {
        ""
    };
    out.push(ctx.finish(Draft {
        title: format!("SPRINT-Klasse an der {bbs} – Schuljahr 2026/27"),
        description: format!(
            "SPRINT, das Sprach- und Integrationsprojekt des Landes Niedersachsen für neu zugewanderte \
            Jugendliche und junge Erwachsene: ein Schuljahr Vollzeit mit intensivem Deutschunterricht, \
            Fachunterricht, Betriebspraktika und Einblicken in die Berufsfelder der BBS. Ziel ist der \
            Übergang in eine Berufsfachschule oder Ausbildung.{network}"
        ),
        category: C::LanguageCourse,
        targets: &[T::Youth, T::Refugees],
        provider: bbs.into(),
        kind: K::School,
        place,
        langs: Langs::German,
        when: When::Fixed(date(2026, 8, 13), Some(date(2027, 7, 7))),
        schedule: "Mo–Fr 7:45–13:00 Uhr, Praktikumsphasen nach Plan".into(),
        places: Some(16),
        cost: "kostenlos",
        contacts: &[Role::Bbs, Role::Jmd],
        may_pause: false,
    }));
    let (bbs, place) = ctx.bbs(1);
    out.push(ctx.finish(Draft {
        title: format!("SPRINT-Dual an der {bbs}: Schule und Betrieb – Anmeldung für 2027/28"),
        description: "Zwei Tage Berufsschule, drei Tage im Betrieb: Jugendliche mit Fluchtgeschichte lernen einen \
            Ausbildungsberuf in der Praxis kennen und verbessern ihr Deutsch. Die Schule begleitet Betriebe und \
            Jugendliche; gesucht werden weitere Praktikumsbetriebe aus Handwerk, Handel und Pflege."
            .into(),
        category: C::Apprenticeship,
        targets: &[T::Youth, T::Refugees, T::Employers],
        provider: bbs.into(),
        kind: K::School,
        place,
        langs: Langs::German,
        when: When::Fixed(date(2027, 8, 5), Some(date(2028, 7, 5))),
        schedule: "Di und Mi Berufsschule, Do–Fr und Mo im Betrieb".into(),
        places: Some(14),
        cost: "kostenlos",
        contacts: &[Role::Bbs, Role::Hwk],
        may_pause: false,
    }));

    // Migrationsberatung, Jugendmigrationsdienst
    let place = ctx.in_seat();
    let outreach = match ctx.other_town() {
        Some(town) => format!(
            "Offene Sprechstunde Di 9:00–12:00 Uhr; Außensprechstunde in {} donnerstags 14:00–16:00 Uhr; sonst nach Vereinbarung",
            without_qualifier(town)
        ),
        None => {
            "Offene Sprechstunde Di 9:00–12:00 Uhr und Do 14:00–17:00 Uhr; sonst nach Vereinbarung"
                .into()
        }
    };
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Migrationsberatung für erwachsene Zugewanderte (MBE)",
                "MBE – Beratung für Zugewanderte ab 27 in {seat}",
                "Offene Sprechstunde der Migrationsberatung",
                "Migrationsberatung: Wegweiser für die ersten drei Jahre",
            ])
            .replace("{seat}", seat),
        description: ctx
            .worded(&[
                "Die MBE berät Menschen ab 27 Jahren in den ersten Jahren nach der Ankunft: Aufenthalt, \
                Integrationskurs, Anerkennung von Abschlüssen, Arbeit, Wohnen und Familie. Die Beratung ist \
                vertraulich und kostenlos; bei Bedarf wird eine Sprachmittlung hinzugezogen.",
                "Hilfe bei Anträgen, Briefen von Ämtern und der Suche nach dem passenden Deutschkurs; \
                ein persönlicher Förderplan für alle, die länger bleiben. Vertraulich, kostenlos, auf \
                Wunsch mit Dolmetscherin.",
                "Wer neu hier ist und nicht weiterweiß, kommt ohne Termin vorbei: Fragen zu Aufenthalt, \
                Familiennachzug, Kita und Schule, Arbeit und Wohnung. Die Beraterinnen vermitteln auch \
                an Fachstellen weiter.",
                "Begleitung in den ersten drei Jahren: Sprachkurs finden, Abschlüsse anerkennen lassen, \
                Arbeit und Wohnung suchen, Formulare verstehen. Beratung auch per Telefon und Video.",
            ])
            .into(),
        category: C::MigrationCounselling,
        targets: &[T::Migrants, T::Refugees, T::Families],
        provider: l.mbe.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(3),
        when: When::Ongoing,
        schedule: outreach,
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Mbe],
        may_pause: false,
    }));
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Jugendmigrationsdienst: Beratung und Begleitung von 12 bis 27",
            "JMD – für junge Menschen mit Migrationsgeschichte",
            "Jugendmigrationsdienst: Übergang Schule – Beruf begleiten",
            "Beratung für junge Zugewanderte (Jugendmigrationsdienst)",
        ]).into(),
        description: format!(
            "Der Jugendmigrationsdienst begleitet junge Menschen mit Migrationsgeschichte beim Übergang von \
            der Schule in Ausbildung und Beruf: mit einem persönlichen Integrationsplan, Gruppenangeboten, \
            Hilfe bei Bewerbungen und Kontakten zu Schulen und Betrieben {in_district}."
        ),
        category: C::YouthSupport,
        targets: &[T::Youth, T::Refugees, T::Migrants],
        provider: l.jmd.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(2),
        when: When::Ongoing,
        schedule: "Mo–Do 10:00–16:00 Uhr nach Vereinbarung, offene Sprechstunde Mi 14:00–17:00 Uhr".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Jmd, Role::Bbs],
        may_pause: false,
    }));

    // Jobcenter
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Integrationscoaching für Geflüchtete im Jobcenter",
            "Team Integration des Jobcenters: Wege in Arbeit",
            "Jobcenter: persönliche Begleitung für Menschen mit Fluchtgeschichte",
            "Arbeitsvermittlung mit Integrationsfachkraft",
        ]).into(),
        description: "Persönliche Begleitung für Leistungsberechtigte mit Fluchtgeschichte auf dem Weg in Arbeit: \
            Sprachstand und Berufserfahrung klären, Berufssprachkurse, Praktika und Einstiegsqualifizierungen \
            vermitteln, bei der Anerkennung von Abschlüssen unterstützen."
            .into(),
        category: C::JobCounselling,
        targets: &[T::Refugees],
        provider: l.jobcenter.into(),
        kind: K::PublicAuthority,
        place: place.clone(),
        langs: Langs::GermanAnd(2),
        when: When::Ongoing,
        schedule: "Termine nach Einladung oder Vereinbarung, Mo–Fr 8:00–12:30 Uhr".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Jobcenter],
        may_pause: false,
    }));
    let (title, description) = if ctx.is("cloppenburg") {
        (
            "Arbeitsgruppe Geflüchtete: Sprechstunde für Arbeitgeber".to_string(),
            "Die Arbeitsgruppe Geflüchtete des Jobcenters Cloppenburg berät Betriebe, die Geflüchtete \
            beschäftigen oder ausbilden möchten: Beschäftigungserlaubnis, Eingliederungszuschuss, \
            Einstiegsqualifizierung und Sprachkurse neben der Arbeit. Gemeinsam mit der Oldenburgischen IHK \
            und der Handwerkskammer."
                .to_string(),
        )
    } else {
        (
            ctx.worded(&[
                "Arbeitgeber-Sprechstunde: Geflüchtete beschäftigen und ausbilden",
                "Betriebe fragen, das Jobcenter antwortet: Beschäftigung Geflüchteter",
                "Arbeitgeberservice: Menschen mit Fluchtgeschichte einstellen",
                "Sprechstunde für Unternehmen zu Arbeitserlaubnis und Förderung",
            ])
            .to_string(),
            format!(
                "Beratung für Betriebe {in_district}, die Geflüchtete beschäftigen oder ausbilden möchten: \
                Beschäftigungserlaubnis, Eingliederungszuschuss, Einstiegsqualifizierung und Sprachkurse neben \
                der Arbeit. Gemeinsam mit der Oldenburgischen IHK und der Handwerkskammer."
            ),
        )
    };
    out.push(ctx.finish(Draft {
        title,
        description,
        category: C::JobCounselling,
        targets: &[T::Employers],
        provider: l.jobcenter.into(),
        kind: K::PublicAuthority,
        place,
        langs: Langs::German,
        when: When::Ongoing,
        schedule: "Jeden ersten Dienstag im Monat 14:00–16:00 Uhr".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Jobcenter, Role::Ihk],
        may_pause: false,
    }));

    // Oldenburgische IHK
    let place = ctx.chamber_place("Moslestraße 6");
    let (title, schedule) = if ctx.is("oldenburg-stadt") {
        (
            "Anerkennungsberatung für ausländische Berufsabschlüsse".to_string(),
            "Mo–Do nach Vereinbarung",
        )
    } else {
        (
            format!("Anerkennungsberatung – Sprechtag der Oldenburgischen IHK in {seat}"),
            "Jeden zweiten Donnerstag im Monat 9:00–12:00 Uhr, Anmeldung erbeten",
        )
    };
    out.push(ctx.finish(Draft {
        title,
        description: "Erstberatung zur Anerkennung ausländischer Abschlüsse in IHK-Berufen aus Industrie, Handel, \
            Gastronomie und Dienstleistungen: welcher deutsche Referenzberuf passt, welche Unterlagen und \
            Übersetzungen gebraucht werden, was das Verfahren kostet. Die Bewertung selbst übernimmt die \
            IHK FOSA in Nürnberg."
            .into(),
        category: C::QualificationRecognition,
        targets: &[T::SkilledWorkers, T::Refugees, T::Migrants],
        provider: IHK.into(),
        kind: K::Chamber,
        place,
        langs: Langs::GermanAnd(1),
        when: When::Ongoing,
        schedule: schedule.into(),
        places: None,
        cost: "Beratung kostenlos; das Anerkennungsverfahren ist gebührenpflichtig",
        contacts: &[Role::Ihk],
        may_pause: false,
    }));
    let place = Place {
        address: String::new(),
        ..ctx.in_seat()
    };
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Fachkräfteberatung für Unternehmen: Geflüchtete einstellen und ausbilden",
            "IHK-Fachkräfteberatung: internationale Fachkräfte gewinnen",
            "Unternehmensberatung der IHK zu Zuwanderung und Fachkräften",
            "Fachkräftesicherung: IHK berät Betriebe vor Ort",
        ]).into(),
        description: format!(
            "Die Fachkräfteberatung der Oldenburgischen IHK unterstützt Unternehmen {in_district}, die Menschen \
            mit Fluchtgeschichte einstellen oder ausbilden wollen: rechtliche Fragen, Förderung, die richtigen \
            Ansprechpartner im regionalen Netzwerk – damit die linke Hand weiß, was die rechte tut."
        ),
        category: C::JobCounselling,
        targets: &[T::Employers, T::SkilledWorkers],
        provider: IHK.into(),
        kind: K::Chamber,
        place,
        langs: Langs::German,
        when: When::Ongoing,
        schedule: "Termine nach Vereinbarung, auch im Betrieb".into(),
        places: None,
        cost: "kostenlos für Mitgliedsunternehmen",
        contacts: &[Role::Ihk, Role::Jobcenter],
        may_pause: false,
    }));

    // Handwerkskammer Oldenburg
    let place = ctx.chamber_place("Theaterwall 32");
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Ausbildung im Handwerk: Beratung für Geflüchtete und Betriebe",
            "Handwerkskammer-Sprechtag: Lehrstelle im Handwerk finden",
            "Passgenaue Besetzung: Handwerksbetriebe und junge Zugewanderte",
            "Willkommenslotsen der Handwerkskammer",
        ]).into(),
        description: format!(
            "Berufe im Handwerk kennenlernen, Praktikum und Einstiegsqualifizierung planen, Fragen zur \
            Ausbildungsduldung und zu ausbildungsbegleitenden Hilfen klären. Die Handwerkskammer vermittelt \
            in offene Ausbildungsstellen {in_district} und berät Betriebe vor dem Vertragsabschluss."
        ),
        category: C::Apprenticeship,
        targets: &[T::Youth, T::Refugees, T::Employers],
        provider: HWK.into(),
        kind: K::Chamber,
        place: place.clone(),
        langs: Langs::GermanAnd(1),
        when: When::Ongoing,
        schedule: "Sprechtag jeden ersten Mittwoch im Monat 13:00–16:00 Uhr".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Hwk],
        may_pause: false,
    }));
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Anerkennung handwerklicher Berufsabschlüsse",
            "Gleichwertigkeitsprüfung für ausländische Abschlüsse im Handwerk",
            "Handwerksabschluss aus dem Ausland? Anerkennung bei der Handwerkskammer",
            "Qualifikationsanalyse und Anerkennung im Handwerk",
        ]).into(),
        description: "Prüfung der Gleichwertigkeit ausländischer Abschlüsse in Handwerksberufen, etwa als \
            Elektroniker, Kfz-Mechatronikerin oder Tischler, nach dem Berufsqualifikationsfeststellungsgesetz. \
            Fehlen Unterlagen, kann eine Qualifikationsanalyse in einer Werkstatt die Berufserfahrung zeigen."
            .into(),
        category: C::QualificationRecognition,
        targets: &[T::SkilledWorkers, T::Migrants, T::Refugees],
        provider: HWK.into(),
        kind: K::Chamber,
        place,
        langs: Langs::German,
        when: When::Ongoing,
        schedule: "Nach Vereinbarung".into(),
        places: None,
        cost: "Gebühr je nach Aufwand (100–600 €); Anerkennungszuschuss möglich",
        contacts: &[Role::Hwk, Role::Ihk],
        may_pause: false,
    }));

    // pro:connect e.V. and volunteers
    let (title, schedule, place) = if ctx.is("oldenburg-stadt") {
        (
            "Mentoring: Ehrenamtliche begleiten in Ausbildung und Arbeit".to_string(),
            "Koordination Mo–Fr; Treffen von Mentee und Mentor nach Absprache",
            ctx.in_seat(),
        )
    } else {
        (
            format!("Mentoring von pro:connect e.V. – Außensprechstunde {seat}"),
            "Jeden dritten Montag im Monat 15:00–17:00 Uhr",
            ctx.office(),
        )
    };
    out.push(ctx.finish(Draft {
        title,
        description: "Ehrenamtliche Mentorinnen und Mentoren begleiten Geflüchtete ein Jahr lang in Ausbildung und \
            Arbeit: Bewerbungen, Briefe von Behörden, Lernen für die Berufsschule, Kontakt zum Betrieb. \
            pro:connect e.V. bereitet die Ehrenamtlichen vor und trifft sich regelmäßig mit ihnen."
            .into(),
        category: C::VolunteerMentoring,
        targets: &[T::Refugees, T::Youth],
        provider: PRO_CONNECT.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(1),
        when: When::Ongoing,
        schedule: schedule.into(),
        places: Some(25),
        cost: "kostenlos",
        contacts: &[Role::ProConnect, Role::Volunteers],
        may_pause: false,
    }));
    let (bbs, place) = ctx.bbs(0);
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Lernhilfe für Auszubildende mit Fluchtgeschichte",
            "Nachhilfe Berufsschule: Ehrenamtliche helfen Azubis",
            "Prüfungsvorbereitung mit Ehrenamtlichen für Auszubildende",
            "Lerntreff für Azubis aus aller Welt",
        ]).into(),
        description: format!(
            "Ehrenamtliche, viele davon Lehrkräfte im Ruhestand, helfen Auszubildenden beim Lernen für \
            Berufsschule und Zwischenprüfung: Fachbegriffe, Rechnen, Prüfungsfragen. In Räumen der {bbs}; \
            die Anmeldung läuft über die Klassenlehrkräfte."
        ),
        category: C::VolunteerMentoring,
        targets: &[T::Youth, T::Refugees],
        provider: ctx.volunteers.clone(),
        kind: K::VolunteerInitiative,
        place,
        langs: Langs::German,
        when: When::Ongoing,
        schedule: "Di und Do 15:30–17:30 Uhr, nicht in den Schulferien".into(),
        places: Some(12),
        cost: "kostenlos",
        contacts: &[Role::Volunteers, Role::Bbs],
        may_pause: true,
    }));
    let place = ctx.in_town(ctx.volunteer_town);
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Patenschaften: Lotsinnen und Lotsen für neu angekommene Familien",
                "Familienpatenschaften – Ankommen im Ort",
                "Willkommenspaten für Neuzugezogene",
                "Begleitung im Alltag durch Ehrenamtliche",
            ])
            .into(),
        description: ctx
            .worded(&[
                "Ehrenamtliche begleiten neu angekommene Familien in den ersten Monaten: Termine bei Behörden \
                und Ärzten, Anmeldung in Kita und Schule, Orientierung im Ort. Neue Patinnen und Paten sind \
                willkommen; eine Schulung gibt es zweimal im Jahr.",
                "Eine Familie, eine Patin oder ein Pate: ein Jahr lang gemeinsam Briefe lesen, zum Elternabend \
                gehen, den Ort kennenlernen. Wir suchen laufend Menschen mit etwas Zeit.",
                "Unsere Lotsen helfen beim Ankommen: Wege zu Rathaus, Bank und Hausarzt, ein offenes Ohr, \
                erste Kontakte in der Nachbarschaft.",
                "Freiwillige unterstützen Zugezogene bei Alltagsfragen, begleiten zu Terminen und üben \
                Deutsch im Gespräch. Vermittlung über die Ehrenamtskoordination.",
            ])
            .into(),
        category: C::VolunteerMentoring,
        targets: &[T::Refugees, T::Families],
        provider: ctx.volunteers.clone(),
        kind: K::VolunteerInitiative,
        place,
        langs: Langs::GermanAnd(2),
        when: When::Ongoing,
        schedule: "Vermittlung nach Absprache; Treffen der Patinnen und Paten jeden letzten Montag im Monat".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Volunteers, Role::Coordination],
        may_pause: true,
    }));
    let place = ctx.in_town(ctx.volunteer_town);
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&["Sprachcafé {}", "Deutsch-Treff {}", "Café International {}", "Gesprächskreis Deutsch in {}"])
            .replace("{}", without_qualifier(ctx.volunteer_town)),
        description: "Deutsch sprechen ohne Unterricht: bei Kaffee und Tee mit Nachbarinnen und Nachbarn ins \
            Gespräch kommen, Briefe gemeinsam lesen, Fragen zum Alltag stellen. Ohne Anmeldung, für alle \
            Sprachniveaus; Kinder sind willkommen."
            .into(),
        category: C::SocialLeisure,
        targets: &[T::All],
        provider: ctx.volunteers.clone(),
        kind: K::VolunteerInitiative,
        place,
        langs: Langs::GermanAnd(3),
        when: When::Ongoing,
        schedule: "Jeden Mittwoch 16:00–18:00 Uhr".into(),
        places: None,
        cost: "kostenlos, ohne Anmeldung",
        contacts: &[Role::Volunteers],
        may_pause: true,
    }));
    let place = ctx.in_town(ctx.volunteer_town);
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Offene Fahrradwerkstatt und Radfahrkurs",
                "Fahrräder für alle: Reparaturtreff",
                "Radwerkstatt international",
                "Mobil im Landkreis: Räder reparieren, Rad fahren lernen",
            ])
            .into(),
        description: ctx
            .worded(&[
                "Gespendete Fahrräder werden gemeinsam repariert und gegen eine kleine Spende weitergegeben. \
                Im Frühjahr gibt es einen Radfahrkurs für Frauen und eine Einführung in die Verkehrsregeln in \
                einfacher Sprache.",
                "Schrauben, flicken, Ersatzteile tauschen: Ehrenamtliche zeigen, wie man sein Rad selbst in \
                Ordnung hält. Spenden von Rädern nehmen wir gern an.",
                "Werkzeug, Ersatzteile und Leute, die sich auskennen: hier wird repariert und gelernt. \
                Einmal im Jahr ein Verkehrstraining mit der Polizei.",
                "Gebrauchte Räder für kleines Geld, Hilfe bei Reparaturen und Übungsstunden auf dem \
                Schulhof für alle, die das Radfahren lernen wollen.",
            ])
            .into(),
        category: C::SocialLeisure,
        targets: &[T::All, T::Women],
        provider: ctx.volunteers.clone(),
        kind: K::VolunteerInitiative,
        place,
        langs: Langs::GermanAnd(1),
        when: When::Ongoing,
        schedule: "Samstags 10:00–13:00 Uhr".into(),
        places: None,
        cost: "Fahrräder gegen eine Spende ab 20 €",
        contacts: &[Role::Volunteers],
        may_pause: true,
    }));

    // Women
    let (title, provider, description) = if ctx.is("cloppenburg") {
        (
            "Projekt des Landkreises Cloppenburg: Unterstützung für geflüchtete Frauen".to_string(),
            ctx.d.name.to_string(),
            "Geflüchtete Frauen werden auf dem Weg zu Sprachkurs, Ausbildung und Arbeit begleitet: \
            Einzelgespräche, Gruppentreffen in Cloppenburg, Friesoythe und Löningen, Kinderbetreuung während \
            der Termine und Kontakte zu Arbeitgeberinnen und Arbeitgebern im Landkreis."
                .to_string(),
        )
    } else {
        (
            ctx.worded(&[
                "Netzwerk für geflüchtete Frauen: Beratung und Begleitung",
                "Frauen stärken: Begleitung auf dem Weg in Ausbildung und Arbeit",
                "Gleichstellungsstelle: Beratung für zugewanderte Frauen",
                "Starke Frauen – Orientierung, Beratung, Kontakte",
            ])
            .to_string(),
            format!("{}, Gleichstellungsstelle", ctx.d.name),
            format!(
                "Geflüchtete Frauen werden auf dem Weg zu Sprachkurs, Ausbildung und Arbeit begleitet: \
                Einzelgespräche, Gruppentreffen, Kinderbetreuung während der Termine und Kontakte zu \
                Arbeitgeberinnen und Arbeitgebern {in_district}."
            ),
        )
    };
    let place = ctx.office();
    out.push(
        ctx.finish(Draft {
            title,
            description,
            category: C::WomensSupport,
            targets: &[T::Women, T::Refugees],
            provider,
            kind: K::PublicAuthority,
            place,
            langs: Langs::GermanAnd(3),
            when: When::Project,
            schedule:
                "Beratung nach Vereinbarung; Gruppentreffen jeden zweiten Freitag 9:30–11:30 Uhr"
                    .into(),
            places: Some(30),
            cost: "kostenlos",
            contacts: &[Role::Women, Role::Family],
            may_pause: false,
        }),
    );
    let place = ctx.anywhere();
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Frauencafé international",
            "Internationales Frauenfrühstück",
            "Treffpunkt für Frauen aus aller Welt",
            "Frauentreff der Migrationsberatung",
        ]).into(),
        description: "Offener Treffpunkt für Frauen aus aller Welt: Deutsch sprechen in entspannter Runde, Fragen \
            zu Alltag, Schule und Gesundheit klären, gemeinsam frühstücken. Eine Beraterin der \
            Migrationsberatung ist jede Woche dabei."
            .into(),
        category: C::WomensSupport,
        targets: &[T::Women],
        provider: l.mbe.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(4),
        when: When::Ongoing,
        schedule: "Jeden Freitag 9:30–11:30 Uhr, Kinder dürfen mitkommen".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Mbe, Role::Women],
        may_pause: true,
    }));
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Perspektive Beruf: Orientierungskurs für Frauen mit Migrationsgeschichte",
                "Frauen in Arbeit: Berufsorientierung in Teilzeit",
                "Neustart Beruf für Mütter mit Zuwanderungsgeschichte",
                "Berufswege für Frauen – Kurs mit Praktikum",
            ])
            .into(),
        description: "Zwölf Wochen Berufsorientierung in Teilzeit: eigene Stärken und im Herkunftsland erworbene \
            Erfahrungen sichtbar machen, Berufe in Pflege, Handel, Kita und Büro kennenlernen, ein Praktikum \
            planen. Mit der Beauftragten für Chancengleichheit am Arbeitsmarkt des Jobcenters."
            .into(),
        category: C::WomensSupport,
        targets: &[T::Women, T::Migrants, T::Refugees],
        provider: l.jobcenter.into(),
        kind: K::PublicAuthority,
        place,
        langs: Langs::German,
        when: When::Course { weeks: 12 },
        schedule: "Mo, Mi und Do 9:00–12:30 Uhr, mit Kinderbetreuung".into(),
        places: Some(12),
        cost: "kostenlos",
        contacts: &[Role::Jobcenter, Role::Women],
        may_pause: false,
    }));

    // Childcare
    let place = ctx.anywhere();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Kita-Einstieg: Eltern-Kind-Gruppe für zugewanderte Familien",
                "Spielgruppe vor dem Kindergarten",
                "Brückenangebot Kita-Einstieg",
                "Eltern-Kind-Treff für Familien ohne Kitaplatz",
            ])
            .into(),
        description: ctx
            .worded(&[
                "Brückenangebot für Kinder von 1 bis 6 Jahren, die noch keinen Kita-Platz haben: spielen, \
                singen, erste deutsche Wörter. Die Eltern bekommen in der Zeit Antworten auf Fragen zu \
                Kita-Anmeldung, Vorsorgeuntersuchungen und Schule.",
                "Zweimal pro Woche treffen sich Kleinkinder und ihre Eltern mit zwei Fachkräften: \
                Lieder, Bewegung, Bilderbücher. So fällt der Wechsel in den Kindergarten leichter.",
                "Aus dem Bundesprogramm „Kita-Einstieg“: Fachkräfte beraten Eltern zur Anmeldung und \
                bereiten die Kinder spielerisch auf den Gruppenalltag vor.",
                "Ein offener Treff für Mütter, Väter und Kinder unter sechs, die auf einen Platz warten. \
                Mit Frühstück und Beratung zu Gesundheit und Erziehung.",
            ])
            .into(),
        category: C::Childcare,
        targets: &[T::Families, T::Refugees],
        provider: format!("{}, Fachdienst Jugend und Familie", ctx.d.name),
        kind: K::PublicAuthority,
        place,
        langs: Langs::GermanAnd(2),
        when: When::Ongoing,
        schedule: "Di und Do 9:00–11:30 Uhr".into(),
        places: Some(10),
        cost: "kostenlos",
        contacts: &[Role::Family],
        may_pause: false,
    }));
    let place = ctx.in_seat();
    if !ctx.skips(Skip::CourseChildcare) {
        out.push(ctx.finish(Draft {
            title: ctx
                .worded(&[
                    "Kursbegleitende Kinderbetreuung",
                    "Kinderbetreuung während des Deutschkurses",
                    "Betreute Spielgruppe für Kinder von Kursteilnehmenden",
                    "Kinderbetreuung im Haus der VHS",
                ])
                .into(),
            description: ctx
                .worded(&[
                    "Betreuung für Kinder ab einem Jahr, deren Eltern einen Integrations- oder Berufssprachkurs \
                    besuchen und noch keinen Kita-Platz haben. Zwei Erzieherinnen, eine feste Gruppe; die Anmeldung \
                    erfolgt zusammen mit der Kursanmeldung.",
                    "Damit Mütter und Väter lernen können: Während der Unterrichtszeit spielen die Kleinen \
                    nebenan. Bitte bei der Einstufung angeben.",
                    "Eine feste Gruppe mit pädagogischen Fachkräften für Ein- bis Sechsjährige, solange die \
                    Eltern im Unterricht sitzen. Wickelraum und Ruheecke vorhanden.",
                    "Für Kinder unter drei Jahren ohne Krippenplatz: Spielen, Basteln und Vorlesen in einem \
                    eigenen Raum, nur wenige Schritte vom Kursraum entfernt.",
                ])
                .into(),
            category: C::Childcare,
            targets: &[T::Families, T::Women],
            provider: l.vhs.into(),
            kind: K::School,
            place,
            langs: Langs::German,
            when: When::Ongoing,
            schedule: "Mo–Fr 8:15–12:45 Uhr während der Kurszeiten".into(),
            places: Some(8),
            cost: "kostenlos für Kursteilnehmende",
            contacts: &[Role::Vhs, Role::Family],
            may_pause: false,
        }));
    }

    // Health, law, housing
    let place = ctx.anywhere();
    if !ctx.skips(Skip::HealthGuides) {
        out.push(ctx.finish(Draft {
            title: "MiMi – Gesundheit mit Migranten für Migranten: Infoabende".into(),
            description: "Geschulte mehrsprachige Gesundheitslotsinnen und -lotsen erklären in der Muttersprache das \
                deutsche Gesundheitssystem, Vorsorge für Kinder, Impfungen und seelische Gesundheit. Die Abende \
                finden in Kursen, Gemeinden und Vereinen statt."
                .into(),
            category: C::Health,
            targets: &[T::Migrants, T::Refugees, T::Families],
            provider: "Ethno-Medizinisches Zentrum e.V. (MiMi-Gesundheitsprojekt)".into(),
            kind: K::Association,
            place,
            langs: Langs::GermanAnd(4),
            when: When::Project,
            schedule: "Etwa einmal im Monat 18:00–20:00 Uhr, Termine nach Aushang".into(),
            places: Some(25),
            cost: "kostenlos",
            contacts: &[Role::Coordination, Role::Mbe],
            may_pause: false,
        }));
    }
    let place = ctx.in_seat();
    out.push(ctx.finish(Draft {
        title: ctx.worded(&[
            "Asylverfahrens- und Aufenthaltsberatung",
            "Unabhängige Asylverfahrensberatung",
            "Beratung zu Aufenthalt, Duldung und Familiennachzug",
            "Rechtliche Erstberatung für Schutzsuchende",
        ]).into(),
        description: "Unabhängige Beratung zu Asylverfahren, Duldung, Familiennachzug und Aufenthaltserlaubnis \
            nach Ausbildung oder Beschäftigung; Vorbereitung auf die Anhörung beim BAMF und Vermittlung an \
            Anwältinnen und Anwälte für Migrationsrecht."
            .into(),
        category: C::LegalAdvice,
        targets: &[T::Refugees, T::Families],
        provider: l.legal.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(3),
        when: When::Ongoing,
        schedule: "Mo und Mi 9:00–13:00 Uhr, nur mit Termin".into(),
        places: None,
        cost: "kostenlos",
        contacts: &[Role::Mbe],
        may_pause: false,
    }));
    let place = ctx.anywhere();
    if !ctx.skips(Skip::TenancyCourse) {
        out.push(ctx.finish(Draft {
            title: ctx
                .worded(&[
                    "Mietführerschein – fit für die eigene Wohnung",
                    "Wohnführerschein: gut wohnen, gut mieten",
                    "Mieterkurs für Wohnungssuchende",
                    "Fit für die erste eigene Wohnung",
                ])
                .into(),
            description: "Kurs an vier Abenden: Wohnungssuche, Mietvertrag, Nebenkosten, Mülltrennung, richtig heizen \
                und lüften, gute Nachbarschaft. Mit Zertifikat, das viele Vermieterinnen und Vermieter in der Region \
                kennen."
                .into(),
            category: C::Housing,
            targets: &[T::Refugees, T::Families],
            provider: l.mbe.into(),
            kind: K::Association,
            place,
            langs: Langs::GermanAnd(2),
            when: When::Course { weeks: 4 },
            schedule: "Vier Termine donnerstags 17:00–19:00 Uhr".into(),
            places: Some(15),
            cost: "kostenlos",
            contacts: &[Role::Mbe, Role::Coordination],
            may_pause: false,
        }));
    }

    // Coordination: Vechta's Koordinierungsstab, the Oldenburger Netzwerk, elsewhere the district.
    let (title, description, provider, kind, place, contacts): (
        String,
        String,
        String,
        _,
        _,
        &'static [Role],
    ) = if ctx.is("vechta") {
        (
                "Koordinierungsstab Integration – Arbeitsgruppe „Arbeit“".into(),
                "Der Koordinierungsstab des Landkreises Vechta bündelt die Integrationsarbeit in sechs \
                Arbeitsgruppen. Die AG „Arbeit“ bringt Jobcenter, Agentur für Arbeit, Oldenburgische IHK, \
                Handwerk, Berufsbildende Schulen und Ehrenamt an einen Tisch und stimmt Angebote ab, damit \
                keine Doppelstrukturen entstehen."
                    .into(),
                ctx.d.name.into(),
                K::PublicAuthority,
                ctx.office(),
                &[Role::Coordination, Role::Jobcenter],
            )
    } else if ctx.is("oldenburg-stadt") {
        (
                "Oldenburger Netzwerk zur Integration von Flüchtlingen – Netzwerktreffen".into(),
                "Regelmäßige Treffen unter Federführung der Oldenburgischen IHK mit Stadt Oldenburg, Jobcenter, \
                Berufsbildenden Schulen, pro:connect e.V. und Ehrenamtlichen: Angebote abstimmen, Lücken und \
                Doppelstrukturen erkennen. Die Unterarbeitsgruppe „Spracherwerb“ leiten die BBS."
                    .into(),
                IHK.into(),
                K::Chamber,
                ctx.chamber_place("Moslestraße 6"),
                &[Role::Ihk, Role::Coordination],
            )
    } else {
        (
            format!("Integrationskoordination {of_district}"),
            format!(
                "Die Integrations- und Bildungskoordination {of_district} behält den Überblick über die \
                    Angebote für Geflüchtete und Zugewanderte, bringt Behörden, Bildungsträger, Kammern und \
                    Ehrenamt zusammen und pflegt die Angebote aus {bare} in kreisnetz, damit die Nachbarn \
                    sehen, was es hier gibt."
            ),
            ctx.d.name.into(),
            K::PublicAuthority,
            ctx.office(),
            &[Role::Coordination],
        )
    };
    out.push(ctx.finish(Draft {
        title,
        description,
        category: C::Other,
        targets: &[T::All, T::Employers],
        provider,
        kind,
        place,
        langs: Langs::German,
        when: When::Ongoing,
        schedule: "Netzwerktreffen alle acht Wochen; Beratung nach Vereinbarung".into(),
        places: None,
        cost: "kostenlos",
        contacts,
        may_pause: false,
    }));

    // Sport
    let place = ctx.anywhere();
    out.push(ctx.finish(Draft {
        title: ctx
            .worded(&[
                "Integration durch Sport: Schnuppertraining in Vereinen",
                "Sportvereine öffnen ihre Türen",
                "Mitmachen im Verein: Sport für Neuzugewanderte",
                "Bewegung verbindet – Vereinssport kennenlernen",
            ])
            .into(),
        description: format!(
            "Im Programm „Integration durch Sport“ öffnen Sportvereine {in_district} ihre Trainings: Fußball, \
            Schwimmen lernen, Fitness für Frauen, Tischtennis. Der {} vermittelt passende Vereine und hilft \
            bei Fragen zum Mitgliedsbeitrag.",
            l.sport
        ),
        category: C::SocialLeisure,
        targets: &[T::All, T::Youth],
        provider: l.sport.into(),
        kind: K::Association,
        place,
        langs: Langs::GermanAnd(1),
        when: When::Ongoing,
        schedule: "Trainingszeiten je nach Verein".into(),
        places: None,
        cost: "erste drei Monate kostenlos",
        contacts: &[Role::Volunteers, Role::Coordination],
        may_pause: false,
    }));

    out
}

/// The sample's planted overlaps: the same need offered twice, worded differently, by two
/// providers in one district or on both sides of a district border (Delmenhorst and
/// Ganderkesee, Oldenburg and Wardenburg, Wilhelmshaven and Schortens, Bakum and Emstek), and
/// one near miss that must not be reported (language courses for women in Oldenburg and
/// Rastede, at levels A1 and B1). The README ("Sample data") and the region crate's test
/// `tests/sample_reports.rs` name them.
fn planted(ctx: &mut Ctx<'_>, out: &mut Vec<Offering>) {
    let l = ctx.local;
    let mut drafts: Vec<Draft> = Vec::new();
    match ctx.d.key {
        "cloppenburg" => {
            // Within the district: Caritas and the district's project for women.
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Deutschkurs für Frauen mit Kinderbetreuung".into(),
                description: "Deutsch lernen in einer Frauengruppe: Alltag, Kita und Schule, Arztbesuch, \
                    Einkaufen. Während des Kurses werden die Kinder im Nebenraum betreut. Für geflüchtete \
                    Frauen ohne Platz im Integrationskurs."
                    .into(),
                category: C::LanguageCourse,
                targets: &[T::Women, T::Refugees],
                provider: l.mbe.into(),
                kind: K::Association,
                place,
                langs: Langs::GermanAnd(2),
                when: When::Ongoing,
                schedule: "Mo und Mi 9:00–11:30 Uhr".into(),
                places: Some(12),
                cost: "kostenlos",
                contacts: &[Role::Mbe, Role::Women],
                may_pause: false,
            });
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Sprachkurs für geflüchtete Mütter – Kinder werden betreut".into(),
                description: "Mütter mit Fluchtgeschichte lernen Deutsch für den Alltag: Kita und Schule, \
                    Arzt, Einkaufen, Behörden. Die Kinder werden während des Kurses nebenan betreut. Ein \
                    Angebot des Projekts für geflüchtete Frauen."
                    .into(),
                category: C::LanguageCourse,
                targets: &[T::Women, T::Refugees, T::Families],
                provider: ctx.d.name.into(),
                kind: K::PublicAuthority,
                place,
                langs: Langs::GermanAnd(1),
                when: When::Ongoing,
                schedule: "Di und Do 9:00–11:30 Uhr".into(),
                places: Some(10),
                cost: "kostenlos",
                contacts: &[Role::Women],
                may_pause: false,
            });
            // Across the border with Landkreis Vechta (Emstek – Bakum, about 6 km).
            let place = ctx.in_town("Emstek");
            drafts.push(Draft {
                title: "Ausbildungslotsen – Paten für junge Flüchtlinge in Emstek".into(),
                description: "Ehrenamtliche Paten begleiten junge Flüchtlinge auf dem Weg in die Ausbildung: \
                    Praktikum finden, Bewerbung schreiben, zur Berufsschule und zum Betrieb begleiten."
                    .into(),
                category: C::VolunteerMentoring,
                targets: &[T::Youth, T::Refugees],
                provider: "Flüchtlingshilfe Emstek".into(),
                kind: K::VolunteerInitiative,
                place,
                langs: Langs::GermanAnd(1),
                when: When::Ongoing,
                schedule: "Nach Absprache".into(),
                places: Some(15),
                cost: "kostenlos",
                contacts: &[Role::Volunteers],
                may_pause: false,
            });
        }
        "vechta" => {
            let place = ctx.in_town("Bakum");
            drafts.push(Draft {
                title: "Ausbildungspaten: Ehrenamtliche begleiten junge Geflüchtete in Bakum".into(),
                description: "Ehrenamtliche Patinnen und Paten begleiten junge Geflüchtete in die Ausbildung: \
                    Praktikum suchen, Bewerbungen schreiben, Berufsschule und Betrieb kennenlernen."
                    .into(),
                category: C::VolunteerMentoring,
                targets: &[T::Youth, T::Refugees],
                provider: "Ehrenamtskreis Asyl Bakum".into(),
                kind: K::VolunteerInitiative,
                place,
                langs: Langs::GermanAnd(1),
                when: When::Ongoing,
                schedule: "Treffen nach Vereinbarung".into(),
                places: Some(10),
                cost: "kostenlos",
                contacts: &[Role::Volunteers, Role::ProConnect],
                may_pause: false,
            });
        }
        "oldenburg-stadt" => {
            // Across the border with Landkreis Oldenburg (Wardenburg, about 9 km).
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Bewerbungstraining für Geflüchtete".into(),
                description:
                    "Lebenslauf und Anschreiben erstellen, Vorstellungsgespräche üben, Stellen \
                    suchen: in kleinen Gruppen und einzeln. Für Geflüchtete, die Arbeit oder einen \
                    Ausbildungsplatz suchen."
                        .into(),
                category: C::JobCounselling,
                targets: &[T::Refugees],
                provider: l.legal.into(),
                kind: K::Association,
                place,
                langs: Langs::GermanAnd(2),
                when: When::Ongoing,
                schedule: "Mittwochs 10:00–13:00 Uhr".into(),
                places: Some(8),
                cost: "kostenlos",
                contacts: &[Role::Jobcenter],
                may_pause: false,
            });
            // The near miss: the same kind of course in Rastede is for B1, this one for A1.
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Deutschkurs für Frauen A1 mit Kinderbetreuung".into(),
                description:
                    "Deutsch von Anfang an für Frauen: Alltag, Familie, Einkaufen. Kinder werden \
                    während des Unterrichts betreut."
                        .into(),
                category: C::LanguageCourse,
                targets: &[T::Women, T::Migrants],
                provider: l.vhs.into(),
                kind: K::School,
                place,
                langs: Langs::German,
                when: When::Fixed(date(2027, 1, 11), Some(date(2027, 6, 25))),
                schedule: "Mo, Mi und Fr 9:00–11:30 Uhr".into(),
                places: Some(14),
                cost: "kostenlos",
                contacts: &[Role::Vhs],
                may_pause: false,
            });
        }
        "ammerland" => {
            let place = ctx.in_town("Rastede");
            drafts.push(Draft {
                title: "Deutschkurs für Frauen B1".into(),
                description:
                    "Deutsch für Frauen mit Vorkenntnissen: Alltag, Familie, Beruf. Vorbereitung \
                    auf die B1-Prüfung."
                        .into(),
                category: C::LanguageCourse,
                targets: &[T::Women, T::Migrants],
                provider: l.vhs.into(),
                kind: K::School,
                place,
                langs: Langs::German,
                when: When::Fixed(date(2027, 1, 18), Some(date(2027, 7, 2))),
                schedule: "Di und Do 9:00–12:00 Uhr".into(),
                places: Some(14),
                cost: "kostenlos",
                contacts: &[Role::Vhs],
                may_pause: false,
            });
        }
        "oldenburg-land" => {
            let place = ctx.in_town("Wardenburg");
            drafts.push(Draft {
                title: "Bewerbungshilfe für Flüchtlinge in Wardenburg".into(),
                description: "Gemeinsam Lebenslauf und Anschreiben schreiben, Vorstellungsgespräche üben und \
                    passende Stellen suchen. Für Flüchtlinge, die Arbeit oder eine Ausbildung suchen."
                    .into(),
                category: C::JobCounselling,
                targets: &[T::Refugees],
                provider: l.mbe.into(),
                kind: K::Association,
                place,
                langs: Langs::GermanAnd(1),
                when: When::Ongoing,
                schedule: "Donnerstags 14:00–17:00 Uhr".into(),
                places: Some(6),
                cost: "kostenlos",
                contacts: &[Role::Mbe],
                may_pause: false,
            });
            // Across the border with Delmenhorst (Ganderkesee, about 7 km).
            let place = ctx.in_town("Ganderkesee");
            drafts.push(Draft {
                title: "Abendkurs Deutsch B1 für Beschäftigte in Ganderkesee".into(),
                description:
                    "Deutschkurs nach Feierabend für Berufstätige mit Vorkenntnissen: Gespräche im \
                    Betrieb, Arbeitsanweisungen, Schriftverkehr. Ziel ist die Prüfung B1."
                        .into(),
                category: C::LanguageCourse,
                targets: &[T::Migrants, T::Refugees],
                provider: l.mbe.into(),
                kind: K::Association,
                place,
                langs: Langs::German,
                when: When::Fixed(date(2027, 2, 1), Some(date(2027, 7, 9))),
                schedule: "Mo und Do 18:00–20:30 Uhr".into(),
                places: Some(16),
                cost: "40 € Materialkosten",
                contacts: &[Role::Mbe],
                may_pause: false,
            });
        }
        "delmenhorst" => {
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Deutschkurs am Abend für Berufstätige (B1)".into(),
                description: "Deutsch nach Feierabend für Berufstätige mit Vorkenntnissen: Gespräche im \
                    Betrieb, Arbeitsanweisungen verstehen, E-Mails schreiben. Abschluss mit der Prüfung B1."
                    .into(),
                category: C::LanguageCourse,
                targets: &[T::Migrants, T::Refugees],
                provider: l.vhs.into(),
                kind: K::School,
                place,
                langs: Langs::German,
                when: When::Fixed(date(2027, 1, 11), Some(date(2027, 6, 25))),
                schedule: "Di und Do 18:00–20:30 Uhr".into(),
                places: Some(18),
                cost: "120 €, ermäßigt 60 €",
                contacts: &[Role::Vhs],
                may_pause: false,
            });
        }
        "wilhelmshaven" => {
            // Across the border with Landkreis Friesland (Schortens, about 8 km).
            let place = ctx.in_seat();
            drafts.push(Draft {
                title: "Jobcoaching für Geflüchtete".into(),
                description:
                    "Einzelcoaching auf dem Weg in Arbeit: Stärken und Berufserfahrung klären, \
                    Bewerbungen schreiben, Stellen suchen, zum Vorstellungsgespräch begleiten."
                        .into(),
                category: C::JobCounselling,
                targets: &[T::Refugees],
                provider: l.jobcenter.into(),
                kind: K::PublicAuthority,
                place,
                langs: Langs::GermanAnd(2),
                when: When::Ongoing,
                schedule: "Termine nach Vereinbarung".into(),
                places: None,
                cost: "kostenlos",
                contacts: &[Role::Jobcenter],
                may_pause: false,
            });
        }
        "friesland" => {
            let place = ctx.in_town("Schortens");
            drafts.push(Draft {
                title: "Jobcoaching für Flüchtlinge in Schortens".into(),
                description: "Coaching auf dem Weg in Arbeit: Berufserfahrung und Stärken klären, Bewerbungen \
                    schreiben, passende Stellen suchen, zum Vorstellungsgespräch begleiten."
                    .into(),
                category: C::JobCounselling,
                targets: &[T::Refugees],
                provider: l.mbe.into(),
                kind: K::Association,
                place,
                langs: Langs::GermanAnd(2),
                when: When::Ongoing,
                schedule: "Dienstags 9:00–12:00 Uhr und nach Vereinbarung".into(),
                places: None,
                cost: "kostenlos",
                contacts: &[Role::Mbe],
                may_pause: false,
            });
        }
        "wesermarsch" => {
            // Within the district: the Diakonie and volunteers, both in Nordenham.
            let place = ctx.in_town("Nordenham");
            drafts.push(Draft {
                title: "Internationales Frauenfrühstück Nordenham".into(),
                description:
                    "Frauen aus aller Welt treffen sich zum Frühstück, sprechen Deutsch und klären \
                    Fragen zu Alltag, Schule und Gesundheit. Kinder dürfen mitkommen."
                        .into(),
                category: C::WomensSupport,
                targets: &[T::Women],
                provider: l.mbe.into(),
                kind: K::Association,
                place,
                langs: Langs::GermanAnd(3),
                when: When::Ongoing,
                schedule: "Jeden zweiten Dienstag 9:30–11:30 Uhr".into(),
                places: None,
                cost: "kostenlos",
                contacts: &[Role::Mbe],
                may_pause: false,
            });
            let place = ctx.in_town("Nordenham");
            drafts.push(Draft {
                title: "Frauentreff international in Nordenham".into(),
                description: "Treffpunkt für Frauen aus aller Welt: gemeinsam frühstücken, Deutsch sprechen, \
                    Fragen zu Alltag, Schule und Gesundheit klären. Kinder sind willkommen."
                    .into(),
                category: C::WomensSupport,
                targets: &[T::Women, T::Refugees],
                provider: "Flüchtlingshilfe Nordenham".into(),
                kind: K::VolunteerInitiative,
                place,
                langs: Langs::GermanAnd(2),
                when: When::Ongoing,
                schedule: "Freitags 9:30–11:30 Uhr".into(),
                places: None,
                cost: "kostenlos",
                contacts: &[Role::Volunteers],
                may_pause: true,
            });
        }
        _ => {}
    }
    for draft in drafts {
        let o = ctx.finish(draft);
        out.push(o);
    }
}

/// Courses the district forgot to close: they ended weeks ago (before `now`, whatever day
/// that is) and are still `active`, not touched since before they started.
fn forget_to_close(ctx: &mut Ctx<'_>, out: &mut [Offering]) {
    const DAY: i64 = 86_400_000;
    let candidates: Vec<usize> = out
        .iter()
        .enumerate()
        .filter(|(_, o)| {
            o.end_date.is_some()
                && o.places_total.is_some()
                && !o.title.contains("SPRINT")
                && !o.title.contains("20")
                && !matches!(o.category, C::Apprenticeship | C::WomensSupport)
        })
        .map(|(i, _)| i)
        .collect();
    let picked = rand::seq::index::sample(
        &mut ctx.rng,
        candidates.len(),
        ctx.profile.lapsed.min(candidates.len()),
    )
    .into_vec();
    for k in picked {
        let o = &mut out[candidates[k]];
        let (Some(start), Some(end)) = (o.start_date, o.end_date) else {
            continue;
        };
        let length = end - start;
        let new_end = ctx.today - Duration::days(ctx.rng.gen_range(14..70));
        let new_start = new_end - length;
        o.start_date = Some(new_start);
        o.end_date = Some(new_end);
        o.status = OfferingStatus::Active;
        let total = o.places_total.unwrap_or(0);
        o.places_free = Some(ctx.rng.gen_range(0..=total / 3));
        let entered = new_start.midnight().assume_utc().unix_timestamp() * 1000
            - ctx.rng.gen_range(7..40) * DAY;
        o.update_time = Timestamp(entered.min(ctx.now.0));
        o.create_time = Timestamp(o.update_time.0 - ctx.rng.gen_range(0..20) * DAY);
    }
}

/// Offerings entered without a contact (volunteer and leisure offerings first), as long as
/// every contact stays somebody's contact.
fn leave_without_contact(ctx: &mut Ctx<'_>, out: &mut [Offering]) {
    let mut left = ctx.profile.uncontacted;
    let mut order: Vec<(bool, u32, usize)> = out
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let first = matches!(o.category, C::SocialLeisure | C::Health | C::Housing)
                || o.provider_kind == Some(K::VolunteerInitiative);
            (!first, ctx.rng.r#gen::<u32>(), i)
        })
        .collect();
    order.sort_unstable();
    for (_, _, i) in order {
        if left == 0 {
            break;
        }
        let referenced_elsewhere = out[i].contact_ids.iter().all(|c| {
            out.iter()
                .enumerate()
                .any(|(j, o)| j != i && o.contact_ids.contains(c))
        });
        if referenced_elsewhere && out[i].status != OfferingStatus::Ended {
            out[i].contact_ids.clear();
            left -= 1;
        }
    }
}
