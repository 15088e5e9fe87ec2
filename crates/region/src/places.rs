//! Where offerings are: approximate centres of the municipalities of the Weser-Ems region (the
//! nine territorial authorities of the IHK Oldenburg's district), and distances between
//! points. An offering's own coordinates win over its municipality's centre.
use kreisnetz_model::{Coordinates, Offering};

use crate::text::fold;

/// (municipality, latitude, longitude): approximate town centres, good to a few km, which is
/// all the overlap report needs ("nearby" means within tens of km).
pub const MUNICIPALITIES: &[(&str, f64, f64)] = &[
    // Kreisfreie Städte
    ("Oldenburg", 53.1435, 8.2146),
    ("Delmenhorst", 53.0511, 8.6311),
    ("Wilhelmshaven", 53.5300, 8.1100),
    // Landkreis Ammerland
    ("Westerstede", 53.2575, 7.9273),
    ("Bad Zwischenahn", 53.1836, 8.0000),
    ("Edewecht", 53.1271, 7.9826),
    ("Rastede", 53.2447, 8.1986),
    ("Wiefelstede", 53.2561, 8.1167),
    ("Apen", 53.2211, 7.8084),
    // Landkreis Cloppenburg
    ("Cloppenburg", 52.8475, 8.0450),
    ("Barßel", 53.1700, 7.7460),
    ("Bösel", 53.0000, 7.9500),
    ("Cappeln", 52.8130, 8.1150),
    ("Emstek", 52.8300, 8.1500),
    ("Essen", 52.7230, 7.9400),
    ("Friesoythe", 53.0210, 7.8580),
    ("Garrel", 52.9540, 8.0250),
    ("Lastrup", 52.7950, 7.8670),
    ("Lindern", 52.8420, 7.7700),
    ("Löningen", 52.7380, 7.7580),
    ("Molbergen", 52.8580, 7.9260),
    ("Saterland", 53.0700, 7.7200),
    // Landkreis Friesland
    ("Jever", 53.5740, 7.9000),
    ("Schortens", 53.5370, 7.9500),
    ("Varel", 53.3960, 8.1360),
    ("Sande", 53.5050, 8.0140),
    ("Zetel", 53.4190, 7.9740),
    ("Bockhorn", 53.3960, 8.0190),
    ("Wangerland", 53.6500, 7.9300),
    ("Wangerooge", 53.7900, 7.9000),
    // Landkreis Oldenburg
    ("Wildeshausen", 52.8940, 8.4340),
    ("Ganderkesee", 53.0360, 8.5480),
    ("Hude", 53.1100, 8.4600),
    ("Hatten", 53.0100, 8.3170),
    ("Wardenburg", 53.0630, 8.1970),
    ("Großenkneten", 52.9430, 8.2570),
    ("Dötlingen", 52.9350, 8.3830),
    ("Harpstedt", 52.9090, 8.5890),
    ("Colnrade", 52.8500, 8.5000),
    // Landkreis Vechta
    ("Vechta", 52.7260, 8.2860),
    ("Lohne", 52.6660, 8.2380),
    ("Damme", 52.5210, 8.1980),
    ("Dinklage", 52.6620, 8.1250),
    ("Steinfeld", 52.6000, 8.2170),
    ("Neuenkirchen-Vörden", 52.5100, 8.0700),
    ("Holdorf", 52.5830, 8.1170),
    ("Bakum", 52.7420, 8.1930),
    ("Goldenstedt", 52.7870, 8.4300),
    ("Visbek", 52.8340, 8.3110),
    // Landkreis Wesermarsch
    ("Brake", 53.3300, 8.4800),
    ("Nordenham", 53.4860, 8.4810),
    ("Elsfleth", 53.2370, 8.4590),
    ("Berne", 53.1840, 8.4830),
    ("Lemwerder", 53.1670, 8.6170),
    ("Ovelgönne", 53.3420, 8.4190),
    ("Stadland", 53.4000, 8.3700),
    ("Butjadingen", 53.5500, 8.3500),
    ("Jade", 53.3430, 8.2500),
];

/// The key a municipality name is looked up by: folded, without a qualifier in brackets or
/// after a comma (`Oldenburg (Oldb)`, `Essen (Oldb.)`, `Brake (Unterweser)`) and without a
/// leading `Stadt`/`Gemeinde`.
pub fn municipality_key(name: &str) -> String {
    let name = name.split(['(', ',']).next().unwrap_or("");
    let folded = fold(name.trim());
    let folded = ["stadt ", "gemeinde ", "hansestadt "]
        .iter()
        .fold(folded, |s, p| {
            s.strip_prefix(p).map(str::to_string).unwrap_or(s)
        });
    folded.trim().to_string()
}

/// The centre of a municipality of the region, if it is in the table.
pub fn municipality_centre(name: &str) -> Option<Coordinates> {
    let key = municipality_key(name);
    MUNICIPALITIES
        .iter()
        .find(|(m, _, _)| municipality_key(m) == key)
        .map(|&(_, latitude, longitude)| Coordinates {
            latitude,
            longitude,
        })
}

/// Where an offering is: its own coordinates, else its municipality's centre.
pub fn location_of(o: &Offering) -> Option<Coordinates> {
    o.coordinates
        .or_else(|| municipality_centre(&o.municipality))
}

/// Great-circle distance in km (haversine, mean earth radius 6,371 km).
pub fn distance_km(a: Coordinates, b: Coordinates) -> f64 {
    let (la1, la2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_with_qualifiers_and_umlauts() {
        assert!(municipality_centre("Oldenburg (Oldb)").is_some());
        assert!(municipality_centre("Stadt Delmenhorst").is_some());
        assert!(municipality_centre("Barssel").is_some());
        assert!(municipality_centre("Brake (Unterweser)").is_some());
        assert!(municipality_centre("Berlin").is_none());
    }

    #[test]
    fn distances_are_plausible() {
        let c = municipality_centre("Cloppenburg").unwrap();
        let e = municipality_centre("Emstek").unwrap();
        let w = municipality_centre("Wilhelmshaven").unwrap();
        let d = distance_km(c, e);
        assert!((5.0..12.0).contains(&d), "{d}");
        let far = distance_km(c, w);
        assert!((70.0..85.0).contains(&far), "{far}");
        assert_eq!(distance_km(c, c), 0.0);
    }
}
