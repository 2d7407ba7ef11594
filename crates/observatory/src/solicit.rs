//! Solicitation (art. 3, third paragraph): which bodies to ask for what, and the messages that
//! ask them.
//!
//! The routing table says which bodies may hold each category (the catalogue's default holders,
//! overridden per category by `[routing]`, restricted to the deployment's bodies). For a case,
//! every *other* body ("chacun des autres organismes": never the requester's own branch) that
//! may hold at least one requested category is asked for those categories only.
//!
//! Architecture invariant: a solicitation carries the match keys only (person reference, NIR,
//! former NIRs, sex, birth year) and the legal basis — never the requester's risk factors, its
//! service text, the commune, or a name. [`solicitation_chunk`] builds it from a
//! [`StoredPerson`] field by field, so nothing else can slip in.

use std::collections::BTreeMap;
use std::time::SystemTime;

use passerelle_observatory_store::{CaseRecord, StoredPerson, StoredSolicitation};
use passerelle_protocol::catalogue;
use passerelle_protocol::ids::{BodyCode, ObservatoryCode};
use passerelle_protocol::v1::{self, Category};

use crate::settings::SettingsError;

/// Category → the bodies asked for it, in deployment order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingTable {
    holders: BTreeMap<i32, Vec<String>>,
    /// The deployment's bodies, in their configured order (the order bodies are asked in).
    bodies: Vec<BodyCode>,
}

impl RoutingTable {
    /// The catalogue's defaults (restricted to the deployed bodies), with `overrides`
    /// (category code → body codes) replacing whole entries. An unknown category or a body
    /// outside the deployment is an error.
    pub fn new(overrides: &BTreeMap<String, Vec<String>>, bodies: &[String]) -> Result<RoutingTable, SettingsError> {
        let mut holders = BTreeMap::new();
        for info in &catalogue::CATEGORIES {
            let deployed: Vec<String> =
                bodies.iter().filter(|b| info.default_holders.contains(&b.as_str())).cloned().collect();
            holders.insert(info.category as i32, deployed);
        }
        for (code, listed) in overrides {
            let key = format!("routing.{code}");
            let info = catalogue::by_code(code).ok_or_else(|| SettingsError {
                key: key.clone(),
                message: format!("`{code}` is not a category of the decree (art. 2, 2° to 7°)"),
            })?;
            if let Some(stranger) = listed.iter().find(|b| !bodies.contains(b)) {
                return Err(SettingsError {
                    key,
                    message: format!("body `{stranger}` is not in the deployment's bodies ({})", bodies.join(", ")),
                });
            }
            let ordered = bodies.iter().filter(|b| listed.contains(b)).cloned().collect();
            holders.insert(info.category as i32, ordered);
        }
        let bodies = bodies
            .iter()
            .map(|b| {
                BodyCode::parse(b).map_err(|e| SettingsError { key: "broker.bodies".into(), message: e.to_string() })
            })
            .collect::<Result<_, _>>()?;
        Ok(RoutingTable { holders, bodies })
    }

    /// The bodies asked for a category.
    pub fn holders(&self, category: Category) -> &[String] {
        self.holders.get(&(category as i32)).map_or(&[], Vec::as_slice)
    }

    /// The bodies to ask for a case, each with the requested categories it may hold; never the
    /// requester's own branch.
    pub fn plan(&self, wanted: &[Category], requester: &str) -> Vec<(BodyCode, Vec<Category>)> {
        self.bodies
            .iter()
            .filter(|body| body.as_str() != requester)
            .map(|body| {
                let asked: Vec<Category> =
                    wanted.iter().copied().filter(|c| self.holders(*c).iter().any(|h| body == h.as_str())).collect();
                (body.clone(), asked)
            })
            .filter(|(_, asked)| !asked.is_empty())
            .collect()
    }
}

/// One chunk of a solicitation: the match keys of the chunk's persons, nothing else.
pub fn solicitation_chunk(
    observatory: &ObservatoryCode,
    case: &CaseRecord,
    solicitation: &StoredSolicitation,
    chunk_index: u32,
    persons: &[StoredPerson],
    reminder: bool,
) -> v1::Solicitation {
    v1::Solicitation {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: observatory.to_string(),
        case_id: case.case_id.clone(),
        solicitation_id: solicitation.solicitation_id.clone(),
        body: solicitation.body.to_string(),
        // A case stored before the closed list holds the decree's text or a free one: the
        // fragility exchange has one basis.
        basis: passerelle_protocol::legal::parse(&case.legal_basis)
            .unwrap_or(passerelle_protocol::legal::FRAGILITY_EXCHANGE) as i32,
        wanted: solicitation.categories.clone(),
        respond_by: Some(timestamp(case.respond_by)),
        chunk_index,
        chunk_count: solicitation.chunk_count,
        reminder,
        persons: persons
            .iter()
            .map(|p| v1::SolicitedPerson {
                person_ref: p.person_ref,
                nir: p.nir.clone(),
                former_nirs: p.former_nirs.clone(),
                sex: p.sex,
                birth_year: p.birth_year,
            })
            .collect(),
    }
}

/// A protobuf timestamp.
pub(crate) fn timestamp(t: SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment() -> Vec<String> {
        ["cnam", "cnav", "cnaf", "msa"].map(String::from).to_vec()
    }

    #[test]
    fn defaults_follow_the_catalogue_and_never_ask_the_requester() {
        let t = RoutingTable::new(&BTreeMap::new(), &deployment()).unwrap();
        assert_eq!(t.holders(Category::HousingAid), ["cnaf", "msa"]);
        let plan = t.plan(&[Category::HousingAid, Category::Css, Category::FamilySituation], "cnaf");
        assert_eq!(
            plan,
            vec![
                (BodyCode::parse("cnam").unwrap(), vec![Category::Css]),
                (BodyCode::parse("cnav").unwrap(), vec![Category::FamilySituation]),
                (BodyCode::parse("msa").unwrap(), vec![Category::HousingAid, Category::Css, Category::FamilySituation]),
            ]
        );
        assert!(plan.iter().all(|(b, _)| b != "cnaf"));
        // A CPAM's request never goes to cnam.
        assert!(t.plan(&[Category::Css], "cnam").iter().all(|(b, _)| b != "cnam"));
    }

    #[test]
    fn overrides_replace_an_entry_and_the_deployment_bounds_the_table() {
        let mut o = BTreeMap::new();
        o.insert("job_seeker_registration".to_owned(), vec!["cnaf".to_owned()]);
        let three: Vec<String> = ["cnam", "cnav", "cnaf"].map(String::from).to_vec();
        let t = RoutingTable::new(&o, &three).unwrap();
        assert_eq!(t.holders(Category::JobSeekerRegistration), ["cnaf"]);
        assert_eq!(t.holders(Category::Rsa), ["cnaf"], "msa is not deployed");
    }
}
