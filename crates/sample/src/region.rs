//! The nine territorial authorities of the Oldenburgische IHK's region, their municipalities,
//! and the organisations that work in each of them.

/// One of the nine territorial authorities ("Gebietskörperschaften") of the Weser-Ems region
/// served by the Oldenburgische IHK: six Landkreise and three kreisfreie Städte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionDistrict {
    /// A short, stable, lower-case key for command lines and file names, e.g. `vechta`,
    /// `oldenburg-land`, `oldenburg-stadt`.
    pub key: &'static str,
    /// The official name, e.g. `Landkreis Vechta`, `Stadt Oldenburg (Oldb)`.
    pub name: &'static str,
    /// The Amtlicher Gemeindeschlüssel of the Kreis or kreisfreie Stadt: five digits, Land (03,
    /// Niedersachsen), former Regierungsbezirk (4, Weser-Ems) and Kreis, e.g. `03460` for Vechta.
    pub ags: &'static str,
    /// Where the administration sits (Kreisstadt or the city itself).
    pub seat: &'static str,
    /// The municipalities (Städte, Gemeinden, Flecken; for the Samtgemeinde Harpstedt its seat),
    /// seat first. A kreisfreie Stadt has one: itself.
    pub municipalities: &'static [&'static str],
    /// Postal codes. For a Landkreis, the main postal code of each municipality, in the order of
    /// `municipalities`; for a kreisfreie Stadt, the city's postal codes.
    pub postal_codes: &'static [&'static str],
}

impl RegionDistrict {
    /// Whether this is a kreisfreie Stadt rather than a Landkreis.
    pub fn is_city(&self) -> bool {
        self.name.starts_with("Stadt ")
    }

    /// The name without `Landkreis ` or `Stadt `: `Vechta`, `Oldenburg (Oldb)`.
    pub fn bare_name(&self) -> &'static str {
        self.name
            .strip_prefix("Landkreis ")
            .or_else(|| self.name.strip_prefix("Stadt "))
            .unwrap_or(self.name)
    }

    /// The postal codes that belong to one of this district's municipalities (empty if it is
    /// not one of them).
    pub fn postal_codes_of(&self, municipality: &str) -> &'static [&'static str] {
        match self.municipalities.iter().position(|m| *m == municipality) {
            None => &[],
            Some(_) if self.municipalities.len() == 1 => self.postal_codes,
            Some(i) => std::slice::from_ref(&self.postal_codes[i]),
        }
    }
}

/// The region of the Oldenburgische IHK, in the order of the Amtlicher Gemeindeschlüssel.
pub const WESER_EMS: &[RegionDistrict] = &[
    RegionDistrict {
        key: "delmenhorst",
        name: "Stadt Delmenhorst",
        ags: "03401",
        seat: "Delmenhorst",
        municipalities: &["Delmenhorst"],
        postal_codes: &["27749", "27751", "27753", "27755"],
    },
    RegionDistrict {
        key: "oldenburg-stadt",
        name: "Stadt Oldenburg (Oldb)",
        ags: "03403",
        seat: "Oldenburg (Oldb)",
        municipalities: &["Oldenburg (Oldb)"],
        postal_codes: &[
            "26121", "26122", "26123", "26125", "26127", "26129", "26131", "26133", "26135",
        ],
    },
    RegionDistrict {
        key: "wilhelmshaven",
        name: "Stadt Wilhelmshaven",
        ags: "03405",
        seat: "Wilhelmshaven",
        municipalities: &["Wilhelmshaven"],
        postal_codes: &["26382", "26384", "26386", "26388", "26389"],
    },
    RegionDistrict {
        key: "ammerland",
        name: "Landkreis Ammerland",
        ags: "03451",
        seat: "Westerstede",
        municipalities: &[
            "Westerstede",
            "Apen",
            "Bad Zwischenahn",
            "Edewecht",
            "Rastede",
            "Wiefelstede",
        ],
        postal_codes: &["26655", "26689", "26160", "26188", "26180", "26215"],
    },
    RegionDistrict {
        key: "cloppenburg",
        name: "Landkreis Cloppenburg",
        ags: "03453",
        seat: "Cloppenburg",
        municipalities: &[
            "Cloppenburg",
            "Barßel",
            "Bösel",
            "Cappeln (Oldenburg)",
            "Emstek",
            "Essen (Oldenburg)",
            "Friesoythe",
            "Garrel",
            "Lastrup",
            "Lindern (Oldenburg)",
            "Löningen",
            "Molbergen",
            "Saterland",
        ],
        postal_codes: &[
            "49661", "26676", "26219", "49692", "49685", "49632", "26169", "49681", "49688",
            "49699", "49624", "49696", "26683",
        ],
    },
    RegionDistrict {
        key: "friesland",
        name: "Landkreis Friesland",
        ags: "03455",
        seat: "Jever",
        municipalities: &[
            "Jever",
            "Bockhorn",
            "Sande",
            "Schortens",
            "Varel",
            "Wangerland",
            "Wangerooge",
            "Zetel",
        ],
        postal_codes: &[
            "26441", "26345", "26452", "26419", "26316", "26434", "26486", "26340",
        ],
    },
    RegionDistrict {
        key: "oldenburg-land",
        name: "Landkreis Oldenburg",
        ags: "03458",
        seat: "Wildeshausen",
        municipalities: &[
            "Wildeshausen",
            "Dötlingen",
            "Ganderkesee",
            "Großenkneten",
            "Harpstedt",
            "Hatten",
            "Hude (Oldenburg)",
            "Wardenburg",
        ],
        postal_codes: &[
            "27793", "27801", "27777", "26197", "27243", "26209", "27798", "26203",
        ],
    },
    RegionDistrict {
        key: "vechta",
        name: "Landkreis Vechta",
        ags: "03460",
        seat: "Vechta",
        municipalities: &[
            "Vechta",
            "Bakum",
            "Damme",
            "Dinklage",
            "Goldenstedt",
            "Holdorf",
            "Lohne (Oldenburg)",
            "Neuenkirchen-Vörden",
            "Steinfeld (Oldenburg)",
            "Visbek",
        ],
        postal_codes: &[
            "49377", "49456", "49401", "49413", "49424", "49451", "49393", "49434", "49439",
            "49429",
        ],
    },
    RegionDistrict {
        key: "wesermarsch",
        name: "Landkreis Wesermarsch",
        ags: "03461",
        seat: "Brake (Unterweser)",
        municipalities: &[
            "Brake (Unterweser)",
            "Berne",
            "Butjadingen",
            "Elsfleth",
            "Jade",
            "Lemwerder",
            "Nordenham",
            "Ovelgönne",
            "Stadland",
        ],
        postal_codes: &[
            "26919", "27804", "26969", "26931", "26349", "27809", "26954", "26939", "26935",
        ],
    },
];

/// Finds a district by its key, its full name or its bare place name, ignoring case and
/// surrounding space: `vechta`, `Landkreis Vechta`, `Vechta`; `oldenburg-stadt`,
/// `Stadt Oldenburg (Oldb)`, `Oldenburg (Oldb)`.
///
/// Also accepted: `Stadt Oldenburg`, `LK Vechta`, `Kreis Vechta`, and spaces or underscores for
/// the dashes of a key. A bare `Oldenburg` is the Landkreis Oldenburg (its bare name); the city
/// is `Oldenburg (Oldb)`, `Stadt Oldenburg` or `oldenburg-stadt`.
pub fn find_district(name_or_key: &str) -> Option<&'static RegionDistrict> {
    let wanted = normalise(name_or_key);
    if wanted.is_empty() {
        return None;
    }
    let exact = WESER_EMS.iter().find(|d| {
        normalise(d.key) == wanted
            || normalise(d.name) == wanted
            || normalise(d.bare_name()) == wanted
    });
    if exact.is_some() {
        return exact;
    }
    // "Stadt Oldenburg", "LK Vechta", "Kreis Friesland": a kind and a place without qualifier.
    let (want_city, place) = if let Some(rest) = wanted.strip_prefix("stadt ") {
        (Some(true), rest)
    } else if let Some(rest) = ["landkreis ", "lk ", "kreis "]
        .iter()
        .find_map(|p| wanted.strip_prefix(p))
    {
        (Some(false), rest)
    } else {
        (None, wanted.as_str())
    };
    let mut matches = WESER_EMS.iter().filter(|d| {
        want_city.is_none_or(|c| c == d.is_city())
            && normalise(without_qualifier(d.bare_name())) == place
    });
    let first = matches.next()?;
    matches.next().is_none().then_some(first)
}

fn normalise(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '-' || c == '_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `Lohne (Oldenburg)` → `Lohne`.
pub(crate) fn without_qualifier(place: &str) -> &str {
    place.split(" (").next().unwrap_or(place)
}

/// Approximate centres of the municipalities (WGS 84), for map pins.
const CENTRES: &[(&str, f64, f64)] = &[
    ("Delmenhorst", 53.051, 8.631),
    ("Oldenburg (Oldb)", 53.143, 8.214),
    ("Wilhelmshaven", 53.530, 8.112),
    ("Westerstede", 53.257, 7.927),
    ("Apen", 53.219, 7.806),
    ("Bad Zwischenahn", 53.183, 8.000),
    ("Edewecht", 53.127, 7.983),
    ("Rastede", 53.245, 8.198),
    ("Wiefelstede", 53.258, 8.117),
    ("Cloppenburg", 52.847, 8.045),
    ("Barßel", 53.171, 7.747),
    ("Bösel", 53.005, 7.953),
    ("Cappeln (Oldenburg)", 52.812, 8.114),
    ("Emstek", 52.830, 8.152),
    ("Essen (Oldenburg)", 52.693, 7.935),
    ("Friesoythe", 53.021, 7.859),
    ("Garrel", 52.956, 8.025),
    ("Lastrup", 52.795, 7.868),
    ("Lindern (Oldenburg)", 52.842, 7.767),
    ("Löningen", 52.737, 7.759),
    ("Molbergen", 52.858, 7.926),
    ("Saterland", 53.077, 7.737),
    ("Jever", 53.574, 7.898),
    ("Bockhorn", 53.376, 8.018),
    ("Sande", 53.504, 8.015),
    ("Schortens", 53.537, 7.950),
    ("Varel", 53.396, 8.136),
    ("Wangerland", 53.655, 7.918),
    ("Wangerooge", 53.790, 7.899),
    ("Zetel", 53.419, 7.973),
    ("Wildeshausen", 52.894, 8.434),
    ("Dötlingen", 52.934, 8.383),
    ("Ganderkesee", 53.036, 8.548),
    ("Großenkneten", 52.944, 8.257),
    ("Harpstedt", 52.909, 8.590),
    ("Hatten", 53.004, 8.384),
    ("Hude (Oldenburg)", 53.110, 8.463),
    ("Wardenburg", 53.062, 8.197),
    ("Vechta", 52.726, 8.286),
    ("Bakum", 52.741, 8.194),
    ("Damme", 52.522, 8.199),
    ("Dinklage", 52.662, 8.127),
    ("Goldenstedt", 52.787, 8.432),
    ("Holdorf", 52.584, 8.120),
    ("Lohne (Oldenburg)", 52.667, 8.238),
    ("Neuenkirchen-Vörden", 52.513, 8.061),
    ("Steinfeld (Oldenburg)", 52.601, 8.215),
    ("Visbek", 52.834, 8.308),
    ("Brake (Unterweser)", 53.333, 8.483),
    ("Berne", 53.185, 8.482),
    ("Butjadingen", 53.578, 8.370),
    ("Elsfleth", 53.237, 8.458),
    ("Jade", 53.340, 8.243),
    ("Lemwerder", 53.167, 8.620),
    ("Nordenham", 53.486, 8.481),
    ("Ovelgönne", 53.343, 8.419),
    ("Stadland", 53.402, 8.452),
];

/// The approximate centre of a municipality of the region.
pub(crate) fn centre_of(municipality: &str) -> Option<(f64, f64)> {
    CENTRES
        .iter()
        .find(|(m, _, _)| *m == municipality)
        .map(|(_, lat, lon)| (*lat, *lon))
}

/// The organisations of one district that the sample data names. Organisations are real; which
/// of them runs which (sample) offering is illustrative.
#[derive(Clone, Copy)]
pub(crate) struct Local {
    pub key: &'static str,
    /// Kreishaus or Rathaus: (municipality, street, postal code).
    pub office: (&'static str, &'static str, &'static str),
    pub jobcenter: &'static str,
    /// Vocational schools and their municipality.
    pub bbs: &'static [(&'static str, &'static str)],
    pub vhs: &'static str,
    /// The welfare organisation running the Migrationsberatung (MBE).
    pub mbe: &'static str,
    /// The organisation running the Jugendmigrationsdienst (JMD).
    pub jmd: &'static str,
    /// Where refugees get independent legal advice.
    pub legal: &'static str,
    /// The Kreissportbund or Stadtsportbund.
    pub sport: &'static str,
}

pub(crate) const LOCALS: &[Local] = &[
    Local {
        key: "delmenhorst",
        office: ("Delmenhorst", "Rathausplatz 1", "27749"),
        jobcenter: "Jobcenter Delmenhorst",
        bbs: &[("BBS Delmenhorst", "Delmenhorst")],
        vhs: "Volkshochschule Delmenhorst",
        mbe: "Diakonisches Werk Delmenhorst/Oldenburg-Land",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonisches Werk Delmenhorst/Oldenburg-Land",
        sport: "Stadtsportbund Delmenhorst",
    },
    Local {
        key: "oldenburg-stadt",
        office: ("Oldenburg (Oldb)", "Markt 1", "26122"),
        jobcenter: "Jobcenter Oldenburg",
        bbs: &[
            ("BBS Haarentor", "Oldenburg (Oldb)"),
            ("BBS Wechloy", "Oldenburg (Oldb)"),
            ("BBS Weserstraße", "Oldenburg (Oldb)"),
        ],
        vhs: "Volkshochschule Oldenburg",
        mbe: "Diakonie im Oldenburger Land",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "IBIS – Interkulturelle Arbeitsstelle e.V.",
        sport: "Stadtsportbund Oldenburg",
    },
    Local {
        key: "wilhelmshaven",
        office: ("Wilhelmshaven", "Rathausplatz 1", "26382"),
        jobcenter: "Jobcenter Wilhelmshaven",
        bbs: &[
            ("BBS Friedenstraße Wilhelmshaven", "Wilhelmshaven"),
            ("BBS 2 Wilhelmshaven", "Wilhelmshaven"),
        ],
        vhs: "Volkshochschule Wilhelmshaven",
        mbe: "Diakonisches Werk Friesland-Wilhelmshaven",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonisches Werk Friesland-Wilhelmshaven",
        sport: "Stadtsportbund Wilhelmshaven",
    },
    Local {
        key: "ammerland",
        office: ("Westerstede", "Ammerlandallee 12", "26655"),
        jobcenter: "Jobcenter Ammerland",
        bbs: &[
            ("BBS Ammerland", "Westerstede"),
            ("BBS Ammerland, Standort Rostrup", "Bad Zwischenahn"),
        ],
        vhs: "Volkshochschule Ammerland",
        mbe: "Diakonisches Werk Ammerland",
        jmd: "DRK-Kreisverband Ammerland",
        legal: "Diakonisches Werk Ammerland",
        sport: "Kreissportbund Ammerland",
    },
    Local {
        key: "cloppenburg",
        office: ("Cloppenburg", "Eschstraße 29", "49661"),
        jobcenter: "Jobcenter Cloppenburg",
        bbs: &[
            ("BBS am Museumsdorf Cloppenburg", "Cloppenburg"),
            ("BBS Friesoythe", "Friesoythe"),
        ],
        vhs: "Volkshochschule Cloppenburg",
        mbe: "Landes-Caritasverband für Oldenburg",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Landes-Caritasverband für Oldenburg",
        sport: "Kreissportbund Cloppenburg",
    },
    Local {
        key: "friesland",
        office: ("Jever", "Lindenallee 1", "26441"),
        jobcenter: "Jobcenter Friesland",
        bbs: &[("BBS Jever", "Jever"), ("BBS Varel", "Varel")],
        vhs: "Volkshochschule Friesland-Wittmund",
        mbe: "Diakonisches Werk Friesland-Wilhelmshaven",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonisches Werk Friesland-Wilhelmshaven",
        sport: "Kreissportbund Friesland",
    },
    Local {
        key: "oldenburg-land",
        office: ("Wildeshausen", "Delmenhorster Straße 6", "27793"),
        jobcenter: "Jobcenter Landkreis Oldenburg",
        bbs: &[("BBS Wildeshausen", "Wildeshausen")],
        vhs: "Volkshochschule Wildeshausen",
        mbe: "Diakonisches Werk Delmenhorst/Oldenburg-Land",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonisches Werk Delmenhorst/Oldenburg-Land",
        sport: "Kreissportbund Oldenburg-Land",
    },
    Local {
        key: "vechta",
        office: ("Vechta", "Ravensberger Straße 20", "49377"),
        jobcenter: "Jobcenter Landkreis Vechta",
        bbs: &[
            ("BBS Marienhain Vechta", "Vechta"),
            ("BBS Lohne", "Lohne (Oldenburg)"),
        ],
        vhs: "Volkshochschule Vechta",
        mbe: "Landes-Caritasverband für Oldenburg",
        jmd: "Sozialdienst katholischer Frauen Vechta",
        legal: "Landes-Caritasverband für Oldenburg",
        sport: "Kreissportbund Vechta",
    },
    Local {
        key: "wesermarsch",
        office: ("Brake (Unterweser)", "Poggenburger Straße 15", "26919"),
        jobcenter: "Jobcenter Wesermarsch",
        bbs: &[
            ("BBS Wesermarsch", "Brake (Unterweser)"),
            ("BBS Wesermarsch, Standort Nordenham", "Nordenham"),
        ],
        vhs: "Kreisvolkshochschule Wesermarsch",
        mbe: "Diakonisches Werk Wesermarsch",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonisches Werk Wesermarsch",
        sport: "Kreissportbund Wesermarsch",
    },
];

/// The organisations of a district. Districts not in [`WESER_EMS`] (a caller may build its own
/// [`RegionDistrict`]) get generic ones around their seat.
pub(crate) fn local_of(district: &RegionDistrict) -> Local {
    if let Some(l) = LOCALS.iter().find(|l| l.key == district.key) {
        return *l;
    }
    Local {
        key: district.key,
        office: (
            district.seat,
            "Hauptstraße 1",
            district
                .postal_codes_of(district.seat)
                .first()
                .copied()
                .unwrap_or(""),
        ),
        jobcenter: "Jobcenter",
        bbs: &[("Berufsbildende Schulen", "")], // "" = the seat
        vhs: "Volkshochschule",
        mbe: "Diakonie im Oldenburger Land",
        jmd: "AWO Bezirksverband Weser-Ems",
        legal: "Diakonie im Oldenburger Land",
        sport: "Kreissportbund",
    }
}
