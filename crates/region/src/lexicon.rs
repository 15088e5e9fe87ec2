//! The curated word lists behind German normalisation: domain synonyms, compound parts and stop
//! words. This is data, meant to be read and extended by people who know the field; every
//! entry is an ordinary German word as coordinators write it (the analyzer folds and stems it).
//!
//! Rules for changing it:
//! - A **synonym group** says "a search for one of these words should find the others": only
//!   words that name the same kind of help. The first word is the group's name. Single words
//!   only (no phrases). A word may be in one group only.
//! - A **compound part** is a word that, found at the start or end of a longer word, is also
//!   indexed on its own: `Berufssprachkurs` is found by `Sprachkurs` and by `Kurs`,
//!   `Pflegekurs` by `Pflege`. Parts shorter than four letters are not used (too many false
//!   splits); a part must leave at least three letters of the word.
//! - **Stop words** are left out of search and similarity (`für`, `und`, ...).

/// Groups of words that mean the same kind of help (first word: the group's name).
pub const SYNONYM_GROUPS: &[&[&str]] = &[
    &[
        "Kita",
        "Kindertagesstätte",
        "Kinderbetreuung",
        "Kindergarten",
        "Krippe",
    ],
    &[
        "Deutschkurs",
        "Sprachkurs",
        "Deutschunterricht",
        "Sprachunterricht",
        "Sprachförderung",
    ],
    &[
        "Geflüchtete",
        "Flüchtlinge",
        "Flüchtling",
        "Asylsuchende",
        "Asylbewerber",
        "Schutzsuchende",
    ],
    &[
        "Zugewanderte",
        "Migranten",
        "Migrantinnen",
        "Eingewanderte",
        "Zuwanderer",
    ],
    &[
        "Ausbildung",
        "Berufsausbildung",
        "Lehrstelle",
        "Ausbildungsplatz",
    ],
    &["Arbeitssuche", "Jobsuche", "Stellensuche", "Jobcoaching"],
    &["Job", "Arbeit", "Arbeitsstelle", "Beschäftigung"],
    &[
        "Ehrenamt",
        "Freiwilligenarbeit",
        "Ehrenamtliche",
        "Freiwillige",
    ],
    &[
        "Patenschaft",
        "Mentoring",
        "Patenprogramm",
        "Lotsen",
        "Mentoren",
        "Paten",
    ],
    &[
        "Sprachcafé",
        "Sprachtreff",
        "Gesprächskreis",
        "Konversationskurs",
    ],
    &["Anerkennung", "Anerkennungsberatung", "Berufsanerkennung"],
    &["Wohnungssuche", "Wohnraumsuche", "Wohnungsvermittlung"],
    &[
        "Bewerbungstraining",
        "Bewerbungshilfe",
        "Bewerbungscoaching",
    ],
    &["Jugendliche", "Jugend", "Heranwachsende"],
];

/// Parts of German compounds that are worth finding on their own.
pub const COMPOUND_PARTS: &[&str] = &[
    "Sprachkurs",
    "Deutschkurs",
    "Integrationskurs",
    "Kurs",
    "Sprache",
    "Deutsch",
    "Beratung",
    "Hilfe",
    "Treff",
    "Café",
    "Pflege",
    "Beruf",
    "Integration",
    "Frauen",
    "Kinder",
    "Jugend",
    "Arbeit",
    "Ausbildung",
    "Betreuung",
    "Training",
    "Coaching",
    "Werkstatt",
    "Gruppe",
    "Schule",
    "Unterricht",
    "Anerkennung",
    "Begleitung",
    "Mentoring",
    "Bewerbung",
    "Wohnung",
    "Gesundheit",
    "Recht",
    "Familie",
    "Eltern",
    "Mütter",
    "Nachhilfe",
    "Alphabetisierung",
    "Qualifizierung",
    "Vorbereitung",
    "Sprechstunde",
    "Arzt",
    "Straße",
    "Asyl",
    "Rechtsberatung",
];

/// Words left out of search and similarity: articles, prepositions, conjunctions, and the
/// filler words of offering titles.
pub const STOP_WORDS: &[&str] = &[
    "der", "die", "das", "den", "dem", "des", "ein", "eine", "einen", "einem", "einer", "eines",
    "und", "oder", "sowie", "mit", "ohne", "für", "fuer", "von", "vom", "zum", "zur", "zu", "im",
    "in", "ins", "an", "am", "auf", "aus", "bei", "bis", "nach", "über", "unter", "vor", "um",
    "als", "auch", "es", "ist", "sind", "wir", "sie", "ihr", "ihre", "unser", "unsere", "alle",
    "jeden", "jede", "jeder", "pro", "per", "sich", "so", "wie", "was", "wer", "wo", "nicht",
    "noch", "nur", "schon", "sehr", "uhr",
];
