//! The fixed vocabularies that make offerings of different districts comparable.
//!
//! Each term has a stable snake_case key (used in the CLI, JSON and the document) and a number
//! (the protobuf enum value). Keys and numbers never change meaning; new terms get new ones.
use std::fmt;
use std::str::FromStr;

/// A term that is not in a vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} \"{term}\"; expected one of: {expected}")]
pub struct UnknownTerm {
    pub vocabulary: &'static str,
    pub term: String,
    pub expected: String,
}

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $num:literal, $key:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant,)+ }

        impl $name {
            /// Every term, in protobuf order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The stable snake_case key.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key,)+ }
            }

            /// The protobuf enum number.
            pub fn number(self) -> i32 {
                match self { $($name::$variant => $num,)+ }
            }

            /// The term with this protobuf enum number (0, "unspecified", is none).
            pub fn from_number(n: i32) -> Option<Self> {
                match n { $($num => Some($name::$variant),)+ _ => None }
            }

            /// All keys, comma-separated, for error messages and `--help`.
            pub fn expected() -> String {
                Self::ALL.iter().map(|t| t.key()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.key())
            }
        }

        impl FromStr for $name {
            type Err = UnknownTerm;
            fn from_str(s: &str) -> Result<Self, UnknownTerm> {
                let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
                Self::ALL.iter().copied().find(|t| t.key() == wanted).ok_or_else(|| UnknownTerm {
                    vocabulary: $what,
                    term: s.to_string(),
                    expected: Self::expected(),
                })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.key())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary!(
    /// What kind of help an offering is.
    Category, "category" {
        IntegrationCourse = 1, "integration_course";
        LanguageCourse = 2, "language_course";
        MigrationCounselling = 3, "migration_counselling";
        JobCounselling = 4, "job_counselling";
        Apprenticeship = 5, "apprenticeship";
        QualificationRecognition = 6, "qualification_recognition";
        WomensSupport = 7, "womens_support";
        YouthSupport = 8, "youth_support";
        Childcare = 9, "childcare";
        Health = 10, "health";
        Housing = 11, "housing";
        LegalAdvice = 12, "legal_advice";
        VolunteerMentoring = 13, "volunteer_mentoring";
        SocialLeisure = 14, "social_leisure";
        Other = 15, "other";
    }
);

impl Category {
    /// Whether offerings of this category teach a language, and so may have a
    /// [`LanguageLevel`]: language and integration courses.
    pub fn has_language_level(self) -> bool {
        matches!(self, Category::LanguageCourse | Category::IntegrationCourse)
    }
}

vocabulary!(
    /// Who an offering is for.
    TargetGroup, "target group" {
        Refugees = 1, "refugees";
        Migrants = 2, "migrants";
        Women = 3, "women";
        Youth = 4, "youth";
        Families = 5, "families";
        SkilledWorkers = 6, "skilled_workers";
        Employers = 7, "employers";
        All = 8, "all";
    }
);

vocabulary!(
    /// What kind of organisation provides an offering.
    ProviderKind, "provider kind" {
        PublicAuthority = 1, "public_authority";
        Chamber = 2, "chamber";
        School = 3, "school";
        Association = 4, "association";
        VolunteerInitiative = 5, "volunteer_initiative";
        Company = 6, "company";
        Other = 7, "other";
    }
);

vocabulary!(
    /// Where an offering stands in its life.
    OfferingStatus, "status" {
        Planned = 1, "planned";
        Active = 2, "active";
        Paused = 3, "paused";
        Ended = 4, "ended";
    }
);

vocabulary!(
    /// The language level an offering teaches to or requires, on the Common European Framework
    /// of Reference (CEFR): A1 (beginner) to C2 (mastery). Only language and integration courses
    /// have one.
    LanguageLevel, "language level" {
        A1 = 1, "a1";
        A2 = 2, "a2";
        B1 = 3, "b1";
        B2 = 4, "b2";
        C1 = 5, "c1";
        C2 = 6, "c2";
    }
);

vocabulary!(
    /// How an offering takes place.
    OfferingFormat, "format" {
        InPerson = 1, "in_person";
        Online = 2, "online";
        Hybrid = 3, "hybrid";
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_numbers_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.key().parse::<Category>().unwrap(), *c);
            assert_eq!(Category::from_number(c.number()), Some(*c));
        }
        for t in TargetGroup::ALL {
            assert_eq!(t.key().parse::<TargetGroup>().unwrap(), *t);
        }
        assert_eq!(Category::from_number(0), None);
        assert_eq!(Category::ALL.len(), 15);
    }

    #[test]
    fn language_levels_and_formats_parse() {
        assert_eq!("B2".parse::<LanguageLevel>().unwrap(), LanguageLevel::B2);
        assert_eq!(LanguageLevel::ALL.len(), 6);
        assert!(LanguageLevel::A1 < LanguageLevel::C2);
        assert_eq!(
            "in-person".parse::<OfferingFormat>().unwrap(),
            OfferingFormat::InPerson
        );
        assert_eq!(OfferingFormat::from_number(3), Some(OfferingFormat::Hybrid));
        assert!("b3".parse::<LanguageLevel>().is_err());
    }

    #[test]
    fn parsing_is_forgiving_about_case_and_separators() {
        assert_eq!(
            "Language-Course".parse::<Category>().unwrap(),
            Category::LanguageCourse
        );
        assert_eq!(
            "skilled workers".parse::<TargetGroup>().unwrap(),
            TargetGroup::SkilledWorkers
        );
    }

    #[test]
    fn unknown_terms_list_the_vocabulary() {
        let err = "cooking".parse::<Category>().unwrap_err();
        assert!(err.to_string().contains("language_course"), "{err}");
    }
}
