//! Who requests in the demo: a CAF (the default, the family branch's side of the decree) or a
//! CPAM (the health branch's side, whose contact list the social service of norm 43 works
//! through). The choice names the requester's branch and office and the categories it asks by
//! default — what its own branch does not know; the bodies solicited follow from the routing
//! table, which never names the requester's own branch ("chacun des *autres* organismes").

use passerelle_protocol::catalogue::body;

/// The categories a CAF asks by default: health (3°), retirement (4°) and the other risk factors
/// (7°) — what the CNAM, the CNAV and the MSA know.
pub const CAF_WANT: &str = "3,4,7";

/// The categories a CPAM asks by default: family situation (2°), retirement (4°), family
/// benefits (5°), social action (6°) and the other risk factors (7°) — everything but its own
/// health domain (3°), what the CNAV, the CNAF and the MSA know.
pub const CPAM_WANT: &str = "2,4,5,6,7";

/// The requesting body of a demo run (`--requester`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RequesterChoice {
    /// A CAF (branch `cnaf`, office `caf-13`): `cnam`, `cnav` and `msa` answer.
    #[default]
    Caf,
    /// A CPAM (branch `cnam`, office `cpam-13`): `cnav`, `cnaf` and `msa` answer.
    Cpam,
}

impl RequesterChoice {
    /// Its branch: the body code it sends as, and which the observatory never solicits.
    pub fn body(self) -> &'static str {
        match self {
            RequesterChoice::Caf => body::CNAF,
            RequesterChoice::Cpam => body::CNAM,
        }
    }

    /// Its local office, in the Bouches-du-Rhône (the default territory's).
    pub fn office(self) -> &'static str {
        match self {
            RequesterChoice::Caf => "caf-13",
            RequesterChoice::Cpam => "cpam-13",
        }
    }

    /// The categories it asks when `--want` is not given.
    pub fn default_want(self) -> &'static str {
        match self {
            RequesterChoice::Caf => CAF_WANT,
            RequesterChoice::Cpam => CPAM_WANT,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use passerelle_bus::BusSettings;
    use passerelle_observatory::solicit::RoutingTable;
    use passerelle_protocol::catalogue;

    use super::*;

    /// The bodies the default routing table solicits for a requester's default categories.
    fn solicited(choice: RequesterChoice) -> Vec<String> {
        let broker = BusSettings::default();
        let routing = RoutingTable::new(&BTreeMap::new(), &broker.bodies).unwrap();
        let wanted = catalogue::parse_list(choice.default_want()).unwrap();
        routing.plan(&wanted, choice.body()).into_iter().map(|(b, _)| b.to_string()).collect()
    }

    #[test]
    fn each_requester_has_the_three_other_branches_answer() {
        let mut caf = solicited(RequesterChoice::Caf);
        caf.sort();
        assert_eq!(caf, ["cnam", "cnav", "msa"]);
        let mut cpam = solicited(RequesterChoice::Cpam);
        cpam.sort();
        assert_eq!(cpam, ["cnaf", "cnav", "msa"], "a CPAM's own branch is never solicited");
    }

    #[test]
    fn offices_are_office_codes() {
        for choice in [RequesterChoice::Caf, RequesterChoice::Cpam] {
            assert!(passerelle_protocol::ids::is_office_code(choice.office()), "{}", choice.office());
        }
    }
}
