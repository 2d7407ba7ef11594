//! Territorial competence: the département of the residence commune → the competent observatory.
//!
//! The département is the one the commune list *records* for the residence commune code (art. 2,
//! 1° e), not the code's prefix (a few associated communes belong to another département), and
//! never the birth département of the NIR, which keeps the code in force at the birth.
//!
//! The default table is [`OBSERVATORIES`] (`domain-facts.md` §2). Two gaps are refused by
//! default with an error that says why, and can be opened by configuration
//! ([`Territories::with_departement`]):
//! - Mayotte (976): its fund is a *caisse de sécurité sociale* (CSS), while art. 1 of the decree
//!   names only the CARSAT, the CNAV and the CGSS of the overseas départements;
//! - the overseas collectivities (975, 977, 978, 98x), which no fund of art. 1 covers.

use std::collections::HashMap;

use crate::commune::{CommuneError, CommuneTable};

/// Mayotte, known to the table but not competent by default (legal gap of art. 1).
const MAYOTTE: &str = "976";

/// The observatories (the funds of art. 1: CARSAT, CNAV for Île-de-France, CGSS) and the
/// départements each covers.
///
/// Source: the CNAV aid record "Développer les lieux de vie collectifs s'adressant à des retraités
/// autonomes" on Aides-territoires (slug `bc47-lieuxdeviecollectifs`, updated 2024-02-25), whose
/// contact field lists every fund with its départements; cross-checked with an independent
/// `CARSAT_BY_DEPT` table, which also gives 973 (CGSS Guyane) and 976 (Mayotte). Collected in
/// `domain-facts.md` §2. Names are the current ones ("Carsat Nord-Picardie" is now Hauts-de-France,
/// "Carsat Centre" is now Centre-Val de Loire); the codes are stable, the names are display data.
/// 101 départements, each exactly once: 01–95 without 20, 2A, 2B, 971–974 and 976.
pub static OBSERVATORIES: [ObservatoryInfo; 21] = [
    ObservatoryInfo { code: "carsat-alsace-moselle", name: "CARSAT Alsace-Moselle", departements: &["57", "67", "68"] },
    ObservatoryInfo {
        code: "carsat-aquitaine",
        name: "CARSAT Aquitaine",
        departements: &["24", "33", "40", "47", "64"],
    },
    ObservatoryInfo { code: "carsat-auvergne", name: "CARSAT Auvergne", departements: &["03", "15", "43", "63"] },
    ObservatoryInfo {
        code: "carsat-bourgogne-franche-comte",
        name: "CARSAT Bourgogne-Franche-Comté",
        departements: &["21", "25", "39", "58", "70", "71", "89", "90"],
    },
    ObservatoryInfo { code: "carsat-bretagne", name: "CARSAT Bretagne", departements: &["22", "29", "35", "56"] },
    ObservatoryInfo {
        code: "carsat-centre-val-de-loire",
        name: "CARSAT Centre-Val de Loire",
        departements: &["18", "28", "36", "37", "41", "45"],
    },
    ObservatoryInfo {
        code: "carsat-centre-ouest",
        name: "CARSAT Centre-Ouest",
        departements: &["16", "17", "19", "23", "79", "86", "87"],
    },
    ObservatoryInfo {
        code: "cnav-idf",
        name: "CNAV (Île-de-France)",
        departements: &["75", "77", "78", "91", "92", "93", "94", "95"],
    },
    ObservatoryInfo {
        code: "carsat-languedoc-roussillon",
        name: "CARSAT Languedoc-Roussillon",
        departements: &["11", "30", "34", "48", "66"],
    },
    ObservatoryInfo {
        code: "carsat-midi-pyrenees",
        name: "CARSAT Midi-Pyrénées",
        departements: &["09", "12", "31", "32", "46", "65", "81", "82"],
    },
    ObservatoryInfo {
        code: "carsat-nord-est",
        name: "CARSAT Nord-Est",
        departements: &["08", "10", "51", "52", "54", "55", "88"],
    },
    ObservatoryInfo {
        code: "carsat-hauts-de-france",
        name: "CARSAT Hauts-de-France",
        departements: &["02", "59", "60", "62", "80"],
    },
    ObservatoryInfo {
        code: "carsat-normandie",
        name: "CARSAT Normandie",
        departements: &["14", "27", "50", "61", "76"],
    },
    ObservatoryInfo {
        code: "carsat-pays-de-la-loire",
        name: "CARSAT Pays de la Loire",
        departements: &["44", "49", "53", "72", "85"],
    },
    ObservatoryInfo {
        code: "carsat-rhone-alpes",
        name: "CARSAT Rhône-Alpes",
        departements: &["01", "07", "26", "38", "42", "69", "73", "74"],
    },
    ObservatoryInfo {
        code: "carsat-sud-est",
        name: "CARSAT Sud-Est",
        departements: &["04", "05", "06", "13", "2A", "2B", "83", "84"],
    },
    ObservatoryInfo { code: "cgss-guadeloupe", name: "CGSS de la Guadeloupe", departements: &["971"] },
    ObservatoryInfo { code: "cgss-martinique", name: "CGSS de la Martinique", departements: &["972"] },
    ObservatoryInfo { code: "cgss-guyane", name: "CGSS de la Guyane", departements: &["973"] },
    ObservatoryInfo { code: "cgss-reunion", name: "CGSS de La Réunion", departements: &["974"] },
    // Known, but not competent by default: see `MAYOTTE` and `TerritoryError::MayotteNotConfigured`.
    ObservatoryInfo { code: "css-mayotte", name: "CSS de Mayotte", departements: &[MAYOTTE] },
];

/// The overseas collectivities, which no observatory covers by default, with their names for
/// error messages.
const COLLECTIVITIES: [(&str, &str); 8] = [
    ("975", "Saint-Pierre-et-Miquelon"),
    ("977", "Saint-Barthélemy"),
    ("978", "Saint-Martin"),
    ("984", "Terres australes et antarctiques françaises"),
    ("986", "Wallis-et-Futuna"),
    ("987", "Polynésie française"),
    ("988", "Nouvelle-Calédonie"),
    ("989", "Clipperton"),
];

/// An observatory: a fund of art. 1 of the decree that runs the exchange for its territory.
#[derive(Debug, Clone, Copy)]
pub struct ObservatoryInfo {
    /// The stable code used in settings, messages and queue names (`carsat-sud-est`).
    pub code: &'static str,
    /// The display name, which may change with renamings.
    pub name: &'static str,
    /// The départements of the source table. Mayotte's is listed for `css-mayotte` but not
    /// routed by default (see [`Territories::default`]).
    pub departements: &'static [&'static str],
}

/// The routing table in force: département → observatory code. Built from [`OBSERVATORIES`]
/// ([`Territories::default`]) then overridden by configuration.
#[derive(Debug, Clone)]
pub struct Territories {
    /// Département code → observatory code (always one of [`OBSERVATORIES`]).
    by_departement: HashMap<String, &'static str>,
}

impl Default for Territories {
    /// The table of [`OBSERVATORIES`] without Mayotte: 100 départements. 976 and the overseas
    /// collectivities are refused until configured.
    fn default() -> Self {
        let by_departement = OBSERVATORIES
            .iter()
            .flat_map(|info| info.departements.iter().map(move |&d| (d, info.code)))
            .filter(|&(d, _)| d != MAYOTTE)
            .map(|(d, code)| (d.to_owned(), code))
            .collect();
        Territories { by_departement }
    }
}

impl Territories {
    /// Routes a département to an observatory (configuration): opens Mayotte
    /// (`with_departement("976", "css-mayotte")`) or a collectivity, or moves a département.
    /// The observatory must be one of [`OBSERVATORIES`] and the département a well-formed code
    /// (01–95 without 20, 2A, 2B, 971–978, 980–989).
    pub fn with_departement(mut self, departement: &str, observatory: &str) -> Result<Self, TerritoryError> {
        let departement = departement.trim().to_ascii_uppercase();
        if !is_departement_code(&departement) {
            return Err(TerritoryError::InvalidDepartement { departement });
        }
        let info = Territories::observatory(observatory.trim())
            .ok_or_else(|| TerritoryError::UnknownObservatory { observatory: observatory.trim().to_owned() })?;
        self.by_departement.insert(departement, info.code);
        Ok(self)
    }

    /// The observatory competent for a département, or why none is.
    pub fn observatory_of_departement(&self, departement: &str) -> Result<&str, TerritoryError> {
        if let Some(&code) = self.by_departement.get(departement) {
            return Ok(code);
        }
        if departement == MAYOTTE {
            return Err(TerritoryError::MayotteNotConfigured);
        }
        if let Some(&(code, name)) = COLLECTIVITIES.iter().find(|(code, _)| *code == departement) {
            return Err(TerritoryError::OverseasCollectivity { departement: code.to_owned(), name });
        }
        if departement.starts_with("98") && is_departement_code(departement) {
            return Err(TerritoryError::OverseasCollectivity { departement: departement.to_owned(), name: "" });
        }
        if is_departement_code(departement) {
            return Err(TerritoryError::NotCovered { departement: departement.to_owned() });
        }
        Err(TerritoryError::InvalidDepartement { departement: shorten(departement) })
    }

    /// The observatory competent for a residence commune: the commune's département as recorded
    /// in `communes` (never the code's prefix), then [`Territories::observatory_of_departement`].
    pub fn observatory_of_commune<'a>(
        &'a self,
        communes: &CommuneTable,
        code: &str,
    ) -> Result<&'a str, TerritoryError> {
        let commune = communes.lookup(code)?;
        self.observatory_of_departement(&commune.departement)
    }

    /// The départements routed to an observatory, sorted (empty for an unknown code).
    pub fn departements_of(&self, observatory: &str) -> Vec<&str> {
        let mut departements: Vec<&str> =
            self.by_departement.iter().filter(|&(_, &code)| code == observatory).map(|(d, _)| d.as_str()).collect();
        departements.sort_unstable();
        departements
    }

    /// The observatories competent for at least one département, in [`OBSERVATORIES`] order.
    pub fn competent_observatories(&self) -> Vec<&'static ObservatoryInfo> {
        OBSERVATORIES.iter().filter(|info| self.by_departement.values().any(|&code| code == info.code)).collect()
    }

    /// The observatory of a code, `None` if unknown.
    pub fn observatory(code: &str) -> Option<&'static ObservatoryInfo> {
        OBSERVATORIES.iter().find(|info| info.code == code)
    }
}

/// Whether a text is a département code: 01–95 without 20, 2A, 2B, 971–978, 980–989.
fn is_departement_code(departement: &str) -> bool {
    let b = departement.as_bytes();
    match b {
        [b'2', b'A' | b'B'] => true,
        [b'2', b'0'] | [b'0', b'0'] => false,
        [b'0'..=b'9', b'0'..=b'9'] => departement <= "95",
        [b'9', b'7', b'1'..=b'8'] | [b'9', b'8', b'0'..=b'9'] => true,
        _ => false,
    }
}

/// At most 12 characters of a text, with `…` when cut, for error messages.
fn shorten(text: &str) -> String {
    let mut shown: String = text.chars().take(12).collect();
    if text.chars().count() > 12 {
        shown.push('…');
    }
    shown
}

/// Why no observatory is competent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TerritoryError {
    /// The residence commune code is malformed or not in the commune list.
    #[error(transparent)]
    Commune(#[from] CommuneError),
    /// Mayotte (976) while not configured.
    #[error(
        "no observatory is competent for Mayotte (976) by default: art. 1 of the decree names the CARSAT, the CNAV \
         and the CGSS of the overseas départements, and Mayotte's fund is a caisse de sécurité sociale (CSS), not a \
         CGSS; configure an observatory for 976 (for example css-mayotte) if your legal basis covers it"
    )]
    MayotteNotConfigured,
    /// An overseas collectivity (975, 977, 978, 98x) while not configured.
    #[error(
        "{departement} {name} is an overseas collectivity that no fund of art. 1 of the decree covers (CARSAT, CNAV, \
         CGSS of the overseas départements); configure an observatory for {departement} if an agreement covers it"
    )]
    OverseasCollectivity {
        /// The collectivity's code.
        departement: String,
        /// Its name, or empty when unknown.
        name: &'static str,
    },
    /// A well-formed département that the configuration routes nowhere.
    #[error("no observatory is configured for département {departement}")]
    NotCovered {
        /// The département code.
        departement: String,
    },
    /// Not a département code.
    #[error("`{departement}` is not a département code (01-95 without 20, 2A, 2B, 971-978 or 980-989)")]
    InvalidDepartement {
        /// The text given (shortened).
        departement: String,
    },
    /// An observatory code that is not one of [`OBSERVATORIES`].
    #[error("unknown observatory `{observatory}`; the known observatories are {known}", known = known_codes())]
    UnknownObservatory {
        /// The code given.
        observatory: String,
    },
}

/// The known observatory codes, for error messages.
fn known_codes() -> String {
    OBSERVATORIES.iter().map(|info| info.code).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// The 101 départements of `domain-facts.md` §2: 01–95 without 20, 2A, 2B, 971–974, 976.
    fn source_departements() -> Vec<String> {
        let mut all: Vec<String> = (1..=95).filter(|&d| d != 20).map(|d| format!("{d:02}")).collect();
        all.extend(["2A", "2B", "971", "972", "973", "974", "976"].map(String::from));
        all
    }

    #[test]
    fn every_departement_of_the_source_maps_exactly_once() {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for info in &OBSERVATORIES {
            for d in info.departements {
                *seen.entry(d).or_default() += 1;
            }
        }
        let expected = source_departements();
        assert_eq!(expected.len(), 101);
        assert_eq!(seen.len(), 101);
        for d in &expected {
            assert_eq!(seen.get(d.as_str()), Some(&1), "département {d}");
        }
        let territories = Territories::default();
        for d in expected.iter().filter(|d| *d != "976") {
            assert!(territories.observatory_of_departement(d).is_ok(), "département {d}");
        }
    }

    #[test]
    fn observatory_codes_are_unique_and_known() {
        let mut codes: Vec<&str> = OBSERVATORIES.iter().map(|i| i.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 21);
        assert_eq!(Territories::observatory("cnav-idf").unwrap().departements.len(), 8);
        assert!(Territories::observatory("carsat-nord-picardie").is_none());
        assert_eq!(Territories::default().competent_observatories().len(), 20);
    }

    #[test]
    fn known_routes() {
        let territories = Territories::default();
        assert_eq!(territories.observatory_of_departement("2A"), Ok("carsat-sud-est"));
        assert_eq!(territories.observatory_of_departement("2B"), Ok("carsat-sud-est"));
        assert_eq!(territories.observatory_of_departement("75"), Ok("cnav-idf"));
        assert_eq!(territories.observatory_of_departement("973"), Ok("cgss-guyane"));
        assert_eq!(territories.observatory_of_departement("57"), Ok("carsat-alsace-moselle"));
        assert_eq!(territories.departements_of("carsat-sud-est"), ["04", "05", "06", "13", "2A", "2B", "83", "84"]);
        assert!(territories.departements_of("css-mayotte").is_empty());
        let communes = CommuneTable::official();
        assert_eq!(territories.observatory_of_commune(communes, "75112"), Ok("cnav-idf"));
        assert_eq!(territories.observatory_of_commune(communes, "2A004"), Ok("carsat-sud-est"));
    }

    #[test]
    fn routes_by_the_recorded_departement_not_the_prefix() {
        // Le Puy-Saint-Bonnet, associated commune coded 79224 but recorded in département 49.
        let communes = CommuneTable::official();
        let commune = communes.lookup("79224").unwrap();
        assert_eq!(commune.departement, "49");
        let territories = Territories::default();
        assert_eq!(territories.observatory_of_departement("79"), Ok("carsat-centre-ouest"));
        assert_eq!(territories.observatory_of_commune(communes, "79224"), Ok("carsat-pays-de-la-loire"));
        // Escaufourt, 02285, recorded in 59: both in Hauts-de-France, still read from the list.
        assert_eq!(communes.lookup("02285").unwrap().departement, "59");
    }

    #[test]
    fn mayotte_is_refused_until_configured() {
        let communes = CommuneTable::official();
        let territories = Territories::default();
        let error = territories.observatory_of_departement("976").unwrap_err();
        assert_eq!(error, TerritoryError::MayotteNotConfigured);
        assert!(error.to_string().contains("art. 1"), "{error}");
        assert_eq!(territories.observatory_of_commune(communes, "97611"), Err(TerritoryError::MayotteNotConfigured));
        let configured = territories.with_departement("976", "css-mayotte").unwrap();
        assert_eq!(configured.observatory_of_departement("976"), Ok("css-mayotte"));
        assert_eq!(configured.observatory_of_commune(communes, "97611"), Ok("css-mayotte"));
        assert_eq!(configured.departements_of("css-mayotte"), ["976"]);
    }

    #[test]
    fn collectivities_are_refused_until_configured() {
        let communes = CommuneTable::official();
        let territories = Territories::default();
        for d in ["975", "977", "978", "984", "986", "987", "988", "989"] {
            assert!(
                matches!(territories.observatory_of_departement(d), Err(TerritoryError::OverseasCollectivity { .. })),
                "{d}"
            );
        }
        let error = territories.observatory_of_commune(communes, "97502").unwrap_err();
        assert!(error.to_string().contains("Saint-Pierre-et-Miquelon"), "{error}");
        let configured = territories.with_departement("977", "cgss-guadeloupe").unwrap();
        assert_eq!(configured.observatory_of_commune(communes, "97701"), Ok("cgss-guadeloupe"));
        assert!(configured.observatory_of_departement("975").is_err());
    }

    #[test]
    fn configuration_is_checked() {
        let territories = Territories::default();
        assert!(matches!(
            territories.clone().with_departement("976", "caf-mayotte"),
            Err(TerritoryError::UnknownObservatory { .. })
        ));
        for bad in ["20", "00", "96", "970", "979", "7", "2C", "0975"] {
            assert!(
                matches!(
                    territories.clone().with_departement(bad, "cnav-idf"),
                    Err(TerritoryError::InvalidDepartement { .. })
                ),
                "{bad}"
            );
        }
        let moved = territories.clone().with_departement("2a", "carsat-rhone-alpes").unwrap();
        assert_eq!(moved.observatory_of_departement("2A"), Ok("carsat-rhone-alpes"));
        assert_eq!(territories.observatory_of_departement("2A"), Ok("carsat-sud-est"));
        assert!(matches!(territories.observatory_of_departement("20"), Err(TerritoryError::InvalidDepartement { .. })));
    }

    #[test]
    fn malformed_and_unknown_communes_give_different_errors() {
        let communes = CommuneTable::official();
        let territories = Territories::default();
        let malformed = territories.observatory_of_commune(communes, "20004").unwrap_err();
        let unknown = territories.observatory_of_commune(communes, "01999").unwrap_err();
        assert!(matches!(malformed, TerritoryError::Commune(CommuneError::Malformed { .. })), "{malformed:?}");
        assert!(matches!(unknown, TerritoryError::Commune(CommuneError::Unknown { .. })), "{unknown:?}");
        assert_ne!(malformed.to_string(), unknown.to_string());
    }
}
