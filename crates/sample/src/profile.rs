//! How each district's sample differs from its neighbours': its wording, how well it keeps its
//! entries current, what it lacks, and what it forgot. This is what makes the region's reports
//! worth reading on the sample (see the README, "Sample data").
use crate::RegionDistrict;

/// Offerings most districts have and some do not: the planted gaps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// No integration course for young people (integration_course × youth).
    YouthIntegrationCourse,
    /// No integration course for women (integration_course × women).
    WomensIntegrationCourse,
    /// No childcare alongside courses (childcare × women).
    CourseChildcare,
    /// No "Mietführerschein" (housing × refugees, families).
    TenancyCourse,
    /// No MiMi health evenings (health × migrants).
    HealthGuides,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Profile {
    /// Which wording of the offerings every district has (0–3); districts within 30 km of each
    /// other mostly differ, so that the overlaps report is not flooded with the region's
    /// standing services (every district has its MBE, that is no duplicate structure).
    pub dialect: usize,
    /// Share of entries updated in the last 90 days (the rest: 3 to 14 months ago).
    pub care: f64,
    pub skip: &'static [Skip],
    /// Courses that ended weeks ago and are still marked active.
    pub lapsed: usize,
    /// Offerings entered without a contact.
    pub uncontacted: usize,
}

pub(crate) fn profile_of(d: &RegionDistrict) -> Profile {
    use Skip::*;
    let (dialect, care, skip, lapsed, uncontacted): (usize, f64, &'static [Skip], usize, usize) =
        match d.key {
            "delmenhorst" => (1, 0.6, &[TenancyCourse], 1, 1),
            "oldenburg-stadt" => (2, 0.85, &[], 1, 0),
            "wilhelmshaven" => (2, 0.35, &[WomensIntegrationCourse], 2, 2),
            "ammerland" => (1, 0.7, &[HealthGuides], 0, 1),
            "cloppenburg" => (2, 0.75, &[], 1, 1),
            "friesland" => (0, 0.5, &[CourseChildcare], 1, 1),
            "oldenburg-land" => (0, 0.65, &[], 1, 2),
            "vechta" => (3, 0.9, &[], 0, 0),
            "wesermarsch" => (3, 0.4, &[YouthIntegrationCourse], 2, 1),
            _ => (0, 0.7, &[], 1, 1),
        };
    Profile {
        dialect,
        care,
        skip,
        lapsed,
        uncontacted,
    }
}
