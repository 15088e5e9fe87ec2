//! Many plausible offerings for benchmarks, put together from parts.
use std::collections::BTreeSet;

use kreisnetz_model::{
    Category, DistrictId, LanguageCode, Offering, OfferingStatus, ProviderKind, TargetGroup,
    Timestamp,
};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use time::Duration;

use crate::RegionDistrict;
use crate::common::{
    Place, course_dates, date, date_of, german_and, record_id, rng_for, status_on,
};
use crate::people::domain_label;
use crate::region::{local_of, without_qualifier};

use Category as C;
use Prov as P;
use TargetGroup as T;

/// The kinds of organisation a district has.
#[derive(Clone, Copy)]
enum Prov {
    Jobcenter,
    Vhs,
    Mbe,
    Jmd,
    Sport,
    Ihk,
    Hwk,
    ProConnect,
    Authority,
    Bbs,
    Volunteers,
}

/// What kind of offering, with a title and a first sentence to start from.
struct Kind {
    category: Category,
    title: &'static str,
    targets: &'static [TargetGroup],
    /// A course (dates, places) rather than a standing service.
    course: bool,
    /// Who may run it.
    providers: &'static [Prov],
    opening: &'static [&'static str],
}

const KINDS: &[Kind] = &[
    Kind {
        category: C::IntegrationCourse,
        title: "Integrationskurs",
        targets: &[T::Refugees, T::Migrants],
        course: true,
        providers: &[P::Vhs, P::Mbe],
        opening: &[
            "Sprachkurs bis B1 und Orientierungskurs nach den Vorgaben des BAMF.",
            "Integrationskurs in Teilzeit mit Abschlussprüfung Deutsch-Test für Zuwanderer.",
        ],
    },
    Kind {
        category: C::IntegrationCourse,
        title: "Integrationskurs mit Alphabetisierung",
        targets: &[T::Refugees],
        course: true,
        providers: &[P::Vhs],
        opening: &[
            "Lesen und Schreiben in lateinischer Schrift lernen, in kleinen Gruppen und mit viel Übung.",
        ],
    },
    Kind {
        category: C::LanguageCourse,
        title: "Berufssprachkurs B2",
        targets: &[T::Refugees, T::Migrants, T::SkilledWorkers],
        course: true,
        providers: &[P::Vhs, P::Bbs],
        opening: &[
            "Deutsch für den Beruf vom Niveau B1 zum Niveau B2 mit Prüfung DTB.",
            "Berufsbezogene Sprachförderung: Telefonate, E-Mails, Besprechungen.",
        ],
    },
    Kind {
        category: C::LanguageCourse,
        title: "Deutsch am Arbeitsplatz",
        targets: &[T::Migrants, T::Employers],
        course: true,
        providers: &[P::Vhs, P::Ihk],
        opening: &["Sprachkurs im Betrieb, abgestimmt auf Schichtzeiten und Fachwortschatz."],
    },
    Kind {
        category: C::MigrationCounselling,
        title: "Migrationsberatung",
        targets: &[T::Migrants, T::Refugees, T::Families],
        course: false,
        providers: &[P::Mbe],
        opening: &[
            "Beratung zu Aufenthalt, Arbeit, Wohnen und Familie für Erwachsene ab 27 Jahren.",
        ],
    },
    Kind {
        category: C::JobCounselling,
        title: "Bewerbungswerkstatt",
        targets: &[T::Refugees, T::Migrants],
        course: false,
        providers: &[P::Jobcenter, P::Jmd, P::ProConnect, P::Volunteers],
        opening: &[
            "Lebenslauf und Anschreiben gemeinsam erstellen, Vorstellungsgespräche üben.",
            "Hilfe bei Bewerbungen um Arbeits- und Ausbildungsplätze in der Region.",
        ],
    },
    Kind {
        category: C::JobCounselling,
        title: "Jobcoaching",
        targets: &[T::Refugees, T::SkilledWorkers],
        course: false,
        providers: &[P::Jobcenter, P::ProConnect],
        opening: &[
            "Begleitung in den ersten Monaten einer neuen Arbeitsstelle, für Beschäftigte und Betriebe.",
        ],
    },
    Kind {
        category: C::Apprenticeship,
        title: "Ausbildungsvorbereitung",
        targets: &[T::Youth, T::Refugees],
        course: true,
        providers: &[P::Bbs, P::Hwk, P::Jmd],
        opening: &["Berufe kennenlernen, Praktika im Betrieb, Vorbereitung auf die Berufsschule."],
    },
    Kind {
        category: C::QualificationRecognition,
        title: "Anerkennungsberatung",
        targets: &[T::SkilledWorkers, T::Migrants],
        course: false,
        providers: &[P::Ihk, P::Hwk, P::Mbe],
        opening: &["Erstberatung zur Anerkennung ausländischer Berufs- und Studienabschlüsse."],
    },
    Kind {
        category: C::WomensSupport,
        title: "Frauentreff",
        targets: &[T::Women],
        course: false,
        providers: &[P::Mbe, P::Authority, P::Volunteers],
        opening: &["Offener Treffpunkt für Frauen mit Beratung, Austausch und Kinderbetreuung."],
    },
    Kind {
        category: C::YouthSupport,
        title: "Jugendsprechstunde",
        targets: &[T::Youth],
        course: false,
        providers: &[P::Jmd],
        opening: &[
            "Beratung für junge Menschen von 12 bis 27 Jahren zu Schule, Ausbildung und Alltag.",
        ],
    },
    Kind {
        category: C::Childcare,
        title: "Eltern-Kind-Gruppe",
        targets: &[T::Families],
        course: false,
        providers: &[P::Authority, P::Mbe, P::Volunteers],
        opening: &[
            "Spielgruppe für Kinder ohne Kita-Platz; Eltern können Fragen zu Kita und Schule klären.",
        ],
    },
    Kind {
        category: C::Health,
        title: "Gesundheitsinformation mehrsprachig",
        targets: &[T::Migrants, T::Families],
        course: false,
        providers: &[P::Authority, P::Mbe],
        opening: &["Infoabend zu Gesundheitssystem, Vorsorge und Impfungen in mehreren Sprachen."],
    },
    Kind {
        category: C::Housing,
        title: "Sprechstunde Wohnungssuche",
        targets: &[T::Refugees, T::Families],
        course: false,
        providers: &[P::Mbe, P::Authority, P::Volunteers],
        opening: &["Hilfe bei Wohnungssuche, Mietvertrag und Nebenkostenabrechnung."],
    },
    Kind {
        category: C::LegalAdvice,
        title: "Beratung Aufenthaltsrecht",
        targets: &[T::Refugees],
        course: false,
        providers: &[P::Mbe],
        opening: &["Unabhängige Beratung zu Asylverfahren, Duldung und Aufenthaltserlaubnis."],
    },
    Kind {
        category: C::VolunteerMentoring,
        title: "Patenschaftsprogramm",
        targets: &[T::Refugees, T::Youth],
        course: false,
        providers: &[P::Volunteers, P::ProConnect],
        opening: &[
            "Ehrenamtliche begleiten Neuangekommene bei Behördengängen, Schule und Ausbildung.",
        ],
    },
    Kind {
        category: C::SocialLeisure,
        title: "Sprachcafé",
        targets: &[T::All],
        course: false,
        providers: &[P::Volunteers, P::Sport],
        opening: &["Deutsch sprechen ohne Unterricht, bei Kaffee und Tee, für alle Niveaus."],
    },
    Kind {
        category: C::Other,
        title: "Netzwerktreffen Integration",
        targets: &[T::All, T::Employers],
        course: false,
        providers: &[P::Authority, P::Ihk],
        opening: &[
            "Austausch der Anbieter, damit Angebote abgestimmt werden und keine Doppelstrukturen entstehen.",
        ],
    },
];

/// Second sentences: how it is organised.
const MIDDLES: &[&str] = &[
    "Die Räume sind barrierefrei und gut mit dem Bus zu erreichen.",
    "Ein Einstieg ist jederzeit möglich, solange Plätze frei sind.",
    "Bei Bedarf wird eine Sprachmittlung organisiert.",
    "Kinder können während der Termine betreut werden.",
    "Das Angebot entsteht gemeinsam mit Ehrenamtlichen aus dem Ort.",
    "Die Termine sind mit den anderen Angeboten im Ort abgestimmt.",
    "Informationen gibt es auch in einfacher Sprache.",
    "Wer zu den festen Zeiten nicht kann, vereinbart einen Einzeltermin.",
];

/// Last sentences: how to get in.
const CLOSINGS: &[&str] = &[
    "Anmeldung telefonisch oder per E-Mail.",
    "Bitte vorher einen Termin vereinbaren.",
    "Ohne Anmeldung, einfach vorbeikommen.",
    "Die Teilnahme ist kostenlos.",
    "Fragen beantwortet die Kontaktperson gern.",
    "Bitte Ausweis oder Aufenthaltsdokument mitbringen.",
];

const SCHEDULES: &[&str] = &[
    "Mo–Fr 8:30–12:45 Uhr",
    "Mo–Do 9:00–13:00 Uhr",
    "Di und Do 17:30–20:45 Uhr",
    "Mi 14:00–17:00 Uhr",
    "Jeden ersten Montag im Monat 15:00–17:00 Uhr",
    "Samstags 10:00–13:00 Uhr",
    "Nach Vereinbarung",
];

pub(crate) fn generated_offerings(
    district: &RegionDistrict,
    district_id: DistrictId,
    n: usize,
    seed: u64,
    now: Timestamp,
) -> Vec<Offering> {
    let mut rng = rng_for(district, &district_id, seed, "generated-offerings");
    let local = local_of(district);
    let today = date_of(now);
    let provider = |rng: &mut StdRng, p: Prov, town: &str| -> (String, ProviderKind) {
        match p {
            Prov::Jobcenter => (local.jobcenter.into(), ProviderKind::PublicAuthority),
            Prov::Vhs => (local.vhs.into(), ProviderKind::School),
            Prov::Mbe => (local.mbe.into(), ProviderKind::Association),
            Prov::Jmd => (local.jmd.into(), ProviderKind::Association),
            Prov::Sport => (local.sport.into(), ProviderKind::Association),
            Prov::Ihk => ("Oldenburgische IHK".into(), ProviderKind::Chamber),
            Prov::Hwk => ("Handwerkskammer Oldenburg".into(), ProviderKind::Chamber),
            Prov::ProConnect => ("pro:connect e.V.".into(), ProviderKind::Association),
            Prov::Authority => (district.name.into(), ProviderKind::PublicAuthority),
            Prov::Bbs => {
                let (name, _) = local.bbs[rng.gen_range(0..local.bbs.len())];
                (name.into(), ProviderKind::School)
            }
            Prov::Volunteers => (
                format!("Flüchtlingshilfe {town}"),
                ProviderKind::VolunteerInitiative,
            ),
        }
    };
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let kind = KINDS.choose(&mut rng).expect("kinds");
        let place = Place::anywhere(&mut rng, district);
        let town = without_qualifier(place.municipality);
        let p = *kind.providers.choose(&mut rng).expect("providers");
        let (provider, provider_kind) = provider(&mut rng, p, town);
        let (start, end) = if kind.course {
            let weeks = rng.gen_range(4..=40);
            let (s, e) = course_dates(&mut rng, weeks);
            (Some(s), Some(e))
        } else if rng.gen_bool(0.7) {
            (
                Some(date(2026, 1, 1) + Duration::days(rng.gen_range(0..365))),
                None,
            )
        } else {
            (None, None)
        };
        let mut status = status_on(today, start, end);
        if status == OfferingStatus::Active && rng.gen_bool(0.05) {
            status = OfferingStatus::Paused;
        }
        let places_total = (kind.course || rng.gen_bool(0.2)).then(|| rng.gen_range(6..=25));
        let places_free = places_total
            .filter(|_| rng.gen_bool(0.8))
            .map(|t| rng.gen_range(0..=t));
        let mut description = String::new();
        description.push_str(kind.opening.choose(&mut rng).expect("openings"));
        let middles = rng.gen_range(1..=2);
        for middle in rand::seq::index::sample(&mut rng, MIDDLES.len(), middles).iter() {
            description.push(' ');
            description.push_str(MIDDLES[middle]);
        }
        description.push(' ');
        description.push_str(CLOSINGS.choose(&mut rng).expect("closings"));
        let extra = rng.gen_range(0..=3);
        let languages: BTreeSet<LanguageCode> = german_and(&mut rng, extra)
            .iter()
            .map(|l| l.parse().expect("ISO 639-1"))
            .collect();
        let year = start.map_or(2026, |d| d.year()) % 100;
        let number = i + 1;
        out.push(Offering {
            id: record_id(&mut rng),
            district_id,
            title: format!("{} in {town} (Nr. {year:02}-{number:04})", kind.title),
            description,
            category: kind.category,
            target_groups: kind.targets.iter().copied().collect(),
            url: format!(
                "https://{}.example.org/angebote/{year:02}-{number:04}",
                domain_label(&provider)
            ),
            provider,
            provider_kind: Some(provider_kind),
            municipality: place.municipality.into(),
            address: place.address,
            postal_code: place.postal_code.into(),
            coordinates: crate::common::coordinates_near(&mut rng, place.municipality),
            languages,
            start_date: start,
            end_date: end,
            schedule: SCHEDULES.choose(&mut rng).expect("schedules").to_string(),
            places_total,
            places_free,
            cost: if rng.gen_bool(0.8) {
                "kostenlos".into()
            } else {
                "Kostenbeitrag auf Anfrage".into()
            },
            contact_ids: BTreeSet::new(),
            status,
            language_level: None,
            format: None,
            childcare: None,
            barrier_free: None,
            create_time: now,
            update_time: now,
        });
    }
    out
}
