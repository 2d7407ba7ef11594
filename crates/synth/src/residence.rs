//! Residence communes drawn in proportion to their population, from one observatory's territory
//! or from every competent territory.
//!
//! Candidates are the current communes and the municipal arrondissements of the official list;
//! Paris, Lyon and Marseille are represented by their arrondissements only (as bodies record
//! them), delegated and associated communes not at all. A commune is in a territory when the
//! territory rules (the département recorded for the commune) route it to that observatory.

use passerelle_protocol::commune::{CommuneKind, CommuneTable};
use passerelle_protocol::territory::{Territories, OBSERVATORIES};
use rand::Rng;

use crate::model::HomePlace;
use crate::{SynthError, TerritoryChoice};

/// The communes divided into municipal arrondissements (Paris, Marseille, Lyon): persons live in
/// one of their arrondissements, never in the commune as a whole.
const COMMUNES_WITH_ARRONDISSEMENTS: [&str; 3] = ["75056", "13055", "69123"];

/// One candidate residence.
#[derive(Debug, Clone)]
pub(crate) struct Residence {
    pub code: String,
    /// Where its residents may have been born (from the département recorded in the commune list).
    pub birth_place: HomePlace,
    /// Index into [`Residences::observatories`].
    pub observatory: usize,
}

/// The candidate residences of a territory, with their cumulative populations for sampling.
#[derive(Debug, Clone)]
pub(crate) struct Residences {
    pub communes: Vec<Residence>,
    cumulative: Vec<u64>,
    /// The observatory codes the candidates route to, in first-seen order.
    pub observatories: Vec<String>,
}

impl Residences {
    pub fn of(choice: &TerritoryChoice) -> Result<Self, SynthError> {
        if let TerritoryChoice::Observatory(code) = choice {
            if Territories::observatory(code).is_none() {
                let known: Vec<&str> = OBSERVATORIES.iter().map(|o| o.code).collect();
                return Err(SynthError::UnknownTerritory { given: code.clone(), known: known.join(", ") });
            }
        }
        let table = CommuneTable::official();
        let territories = Territories::default();
        let mut residences = Residences { communes: Vec::new(), cumulative: Vec::new(), observatories: Vec::new() };
        let mut total = 0u64;
        for commune in table.iter() {
            let code = commune.code.as_str();
            let kind_fits = match commune.kind {
                CommuneKind::Current => !COMMUNES_WITH_ARRONDISSEMENTS.contains(&code),
                CommuneKind::MunicipalArrondissement => true,
                _ => false,
            };
            if !kind_fits || commune.population == 0 {
                continue;
            }
            // Communes outside every competent territory (overseas collectivities) are skipped.
            let Ok(observatory) = territories.observatory_of_commune(table, code) else { continue };
            if let TerritoryChoice::Observatory(wanted) = choice {
                if observatory != wanted {
                    continue;
                }
            }
            let index = match residences.observatories.iter().position(|o| o == observatory) {
                Some(i) => i,
                None => {
                    residences.observatories.push(observatory.to_owned());
                    residences.observatories.len() - 1
                }
            };
            total += u64::from(commune.population);
            residences.communes.push(Residence {
                code: code.to_owned(),
                birth_place: HomePlace::of(&commune.departement),
                observatory: index,
            });
            residences.cumulative.push(total);
        }
        if residences.communes.is_empty() {
            return Err(SynthError::EmptyTerritory(choice.to_string()));
        }
        Ok(residences)
    }

    /// A commune index, with a probability proportional to its population.
    pub fn sample(&self, rng: &mut impl Rng) -> usize {
        let total = *self.cumulative.last().expect("a non-empty territory");
        let r = rng.gen_range(0..total);
        self.cumulative.partition_point(|&c| c <= r)
    }
}
