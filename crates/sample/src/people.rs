//! Invented people: names, e-mail addresses under example.org, and phone numbers from the
//! ranges the Bundesnetzagentur keeps free for film, television and fiction.
use rand::Rng;
use rand::seq::SliceRandom;

/// The German phone number blocks reserved for use in fiction, as national digits without the
/// last three: `030 23125 000`–`999` (Berlin), `069 90009 000`–`999` (Frankfurt am Main),
/// `040 66969 000`–`999` (Hamburg).
pub const FICTIONAL_PHONE_BLOCKS: &[&str] = &["03023125", "06990009", "04066969"];

/// Whether a phone number (national `030 23125-417` or international `+49 30 23125 417` form,
/// any separators) lies in one of the [`FICTIONAL_PHONE_BLOCKS`].
pub fn is_fictional_phone_number(phone: &str) -> bool {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    let national = if phone.trim_start().starts_with('+') {
        match digits.strip_prefix("49") {
            Some(rest) => format!("0{rest}"),
            None => return false,
        }
    } else if let Some(rest) = digits.strip_prefix("0049") {
        format!("0{rest}")
    } else {
        digits
    };
    FICTIONAL_PHONE_BLOCKS
        .iter()
        .any(|block| national.len() == block.len() + 3 && national.starts_with(block))
}

/// Whether an e-mail address is at example.org or one of its subdomains.
pub fn is_example_email(email: &str) -> bool {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let domain = domain.to_ascii_lowercase();
            !local.is_empty() && (domain == "example.org" || domain.ends_with(".example.org"))
        }
        None => false,
    }
}

/// First names as they occur among staff of German counselling services: German, Frisian and
/// names from the countries people have come from.
const FIRST_NAMES: &[&str] = &[
    "Anke",
    "Birte",
    "Christian",
    "Dilan",
    "Elena",
    "Farid",
    "Gesa",
    "Hauke",
    "Ilka",
    "Jannik",
    "Katharina",
    "Lars",
    "Meike",
    "Nadia",
    "Okke",
    "Petra",
    "Rana",
    "Sönke",
    "Tamara",
    "Uwe",
    "Vera",
    "Wiebke",
    "Yusuf",
    "Zeynep",
    "Olena",
    "Marek",
    "Sina",
    "Tobias",
    "Hanna",
    "Kerstin",
    "Amir",
    "Frauke",
    "Jelena",
    "Malte",
    "Leyla",
    "Henrike",
    "Daniel",
    "Svenja",
    "Hamid",
    "Imke",
    "Tjark",
    "Merle",
    "Bashir",
    "Oksana",
    "Rieke",
    "Jasper",
];

/// Surnames made up for the sample: they sound like the region but belong to nobody we mean.
const SURNAMES: &[&str] = &[
    "Moorbrink",
    "Heidkötter",
    "Wiesenkamp",
    "Deichwerth",
    "Haselwerder",
    "Tjarksen",
    "Fennhusen",
    "Geesthövel",
    "Kuhlenbeck",
    "Wattenberg",
    "Eschenfeld",
    "Torfhagen",
    "Ahrenskamp",
    "Bredehorn",
    "Kleinsiel",
    "Sandhövel",
    "Meyerholt",
    "Ollenbrok",
    "Rieksmeier",
    "Tammenga",
    "Vosskuhl",
    "Warfsmann",
    "Al-Nasiri",
    "Haddadin-Lüers",
    "Karimova",
    "Petrenko-Brüning",
    "Nowakowski-Hempen",
    "Demir-Sander",
    "Rahimi-Oltmanns",
    "Kovalenko",
    "Siebelsmeyer",
    "Janßen-Ukena",
];

/// `n` distinct invented names (first name, surname).
pub(crate) fn invented_names(rng: &mut impl Rng, n: usize) -> Vec<(&'static str, &'static str)> {
    let mut firsts = FIRST_NAMES.to_vec();
    let mut lasts = SURNAMES.to_vec();
    firsts.shuffle(rng);
    lasts.shuffle(rng);
    // Cycle through the surnames if more names are wanted than there are; first names shift so
    // that pairs stay distinct.
    (0..n)
        .map(|i| {
            (
                firsts[(i + i / lasts.len()) % firsts.len()],
                lasts[i % lasts.len()],
            )
        })
        .collect()
}

/// `Sönke Heidkötter` at `Jobcenter Landkreis Vechta` → `soenke.heidkoetter@jobcenter-landkreis-vechta.example.org`.
pub(crate) fn email_for(first: &str, last: &str, organisation: &str) -> String {
    format!(
        "{}.{}@{}.example.org",
        slug(first),
        slug(last),
        domain_label(organisation)
    )
}

/// A DNS label for an organisation: its name before any comma, without parentheses and legal
/// form, as a [`slug`] of at most 63 characters.
pub(crate) fn domain_label(organisation: &str) -> String {
    let name = organisation.split(',').next().unwrap_or(organisation);
    let name = name.split(" (").next().unwrap_or(name);
    let name = name.trim().trim_end_matches("e.V.").trim();
    let label = truncate_slug(&slug(name), 63);
    if label.is_empty() {
        "kreisnetz".into()
    } else {
        label
    }
}

/// A slug cut to at most `max` characters at a dash, so no word is cut in half.
pub(crate) fn truncate_slug(slug: &str, max: usize) -> String {
    if slug.len() <= max {
        return slug.to_string();
    }
    let cut = &slug[..max];
    match cut.rfind('-') {
        Some(i) if i > 0 => cut[..i].to_string(),
        _ => cut.to_string(),
    }
}

/// Lower-case ASCII with German (and a few other) letters transliterated and everything else a
/// single dash.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'á' | 'à' | 'â' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'í' | 'ì' | 'î' | 'ï' => out.push('i'),
            'ó' | 'ò' | 'ô' => out.push('o'),
            'ú' | 'ù' | 'û' => out.push('u'),
            'ç' | 'ć' | 'č' => out.push('c'),
            'ñ' | 'ń' => out.push('n'),
            'ł' => out.push('l'),
            'ś' | 'š' | 'ş' => out.push('s'),
            'ž' | 'ż' | 'ź' => out.push('z'),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {
                if !out.is_empty() && !out.ends_with('-') {
                    out.push('-');
                }
            }
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// A phone number from a fiction block, with the given three-digit extension, in one of the
/// ways people write numbers.
pub(crate) fn fictional_phone(rng: &mut impl Rng, extension: u16) -> String {
    let block = FICTIONAL_PHONE_BLOCKS[rng.gen_range(0..FICTIONAL_PHONE_BLOCKS.len())];
    let (area, local) = block.split_at(3);
    match rng.gen_range(0..3) {
        0 => format!("{area} {local}-{extension:03}"),
        1 => format!("{area} {local} {extension:03}"),
        _ => format!("+49 {} {local} {extension:03}", &area[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiction_ranges_are_recognised_in_every_spelling() {
        for ok in [
            "030 23125-000",
            "030 23125 999",
            "+49 69 90009 123",
            "0049 40 66969-042",
            "(040) 66969/417",
        ] {
            assert!(is_fictional_phone_number(ok), "{ok}");
        }
        for bad in [
            "04441 12345-678",
            "030 23126-000",
            "030 23125-1000",
            "030 23125-12",
            "+1 30 23125 123",
            "",
        ] {
            assert!(!is_fictional_phone_number(bad), "{bad}");
        }
    }

    #[test]
    fn example_emails_are_recognised() {
        assert!(is_example_email("a.b@example.org"));
        assert!(is_example_email("a.b@jobcenter-vechta.example.org"));
        assert!(!is_example_email("a.b@oldenburg.ihk.de"));
        assert!(!is_example_email("a.b@notexample.org"));
        assert!(!is_example_email("@example.org"));
    }

    #[test]
    fn slugs_are_ascii_labels() {
        assert_eq!(slug("Sönke"), "soenke");
        assert_eq!(
            slug("Diakonisches Werk Delmenhorst/Oldenburg-Land"),
            "diakonisches-werk-delmenhorst-oldenburg-land"
        );
        assert_eq!(
            slug("IBIS – Interkulturelle Arbeitsstelle e.V."),
            "ibis-interkulturelle-arbeitsstelle-e-v"
        );
        assert_eq!(slug("pro:connect e.V."), "pro-connect-e-v");
        assert_eq!(slug("Sprachcafé Löningen"), "sprachcafe-loeningen");
        assert_eq!(
            domain_label("Landkreis Vechta, Fachdienst Jugend und Familie"),
            "landkreis-vechta"
        );
        assert_eq!(domain_label("pro:connect e.V."), "pro-connect");
        assert_eq!(
            domain_label("Bildungswerk der Niedersächsischen Wirtschaft (BNW)"),
            "bildungswerk-der-niedersaechsischen-wirtschaft"
        );
        assert_eq!(
            domain_label("Ethno-Medizinisches Zentrum e.V. (MiMi-Gesundheitsprojekt)"),
            "ethno-medizinisches-zentrum"
        );
        assert_eq!(
            truncate_slug("sprint-klasse-an-der-bbs", 15),
            "sprint-klasse"
        );
        assert!(domain_label(&"Verein ".repeat(20)).len() <= 63);
    }
}
