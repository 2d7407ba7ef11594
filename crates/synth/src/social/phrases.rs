//! The fixed texts of the synthetic case files: the social worker's assessment (norm 43, I.7)
//! is a few sentences drawn from a list per difficulty, never words drawn at random (which could
//! spell a name or a number); partners, functions and birth places come from short lists too.

use passerelle_protocol::v1::{PartnerNature, SocialDifficulty};

/// Sentences of an assessment, per social difficulty (norm 43, I.7). None names a person, a
/// place or a number.
pub(crate) fn assessment_sentences(difficulty: SocialDifficulty) -> &'static [&'static str] {
    use SocialDifficulty as D;
    match difficulty {
        D::LossOfAutonomy => &[
            "Perte d'autonomie progressive pour les actes de la vie quotidienne.",
            "Difficultés à se déplacer seul à l'extérieur du logement.",
            "Besoin d'aide pour la toilette et les repas.",
        ],
        D::Isolation => &[
            "Vit seul et reçoit peu de visites.",
            "Isolement marqué depuis le décès du conjoint.",
            "Peu de liens avec l'entourage, souhaite rompre l'isolement.",
        ],
        D::AccessToRights => &[
            "Droits non ouverts faute de démarches ; accompagnement proposé.",
            "Dossier de demande à constituer avec la personne.",
            "Méconnaît les aides auxquelles il peut prétendre.",
        ],
        D::AccessToCare => {
            &["Renoncement aux soins pour raisons financières.", "Pas de suivi médical régulier depuis plusieurs mois."]
        }
        D::Housing => &[
            "Logement inadapté à l'état de santé, aménagement à étudier.",
            "Logement en étage sans ascenseur, sorties difficiles.",
        ],
        D::Financial => &[
            "Budget déséquilibré, impayés de loyer en cours.",
            "Ressources faibles au regard des charges fixes.",
            "Plan d'apurement des dettes à mettre en place.",
        ],
        D::JobRetention => &[
            "Arrêt de travail prolongé, reprise du poste incertaine.",
            "Maintien dans l'emploi à préparer avec le service médical.",
        ],
        D::Family => {
            &["Tensions familiales signalées, médiation évoquée.", "Charge d'un proche dépendant au domicile."]
        }
        D::CaregiverExhaustion => {
            &["L'aidant principal exprime un épuisement.", "Solution de répit à rechercher pour l'aidant."]
        }
        D::Unspecified => &[],
    }
}

/// Closing sentences of an assessment: what comes next.
pub(crate) const NEXT_STEPS: [&str; 5] = [
    "Nouveau rendez-vous prévu.",
    "Orientation vers un partenaire adaptée.",
    "Suivi à poursuivre.",
    "Situation à réévaluer dans trois mois.",
    "La personne adhère à l'accompagnement proposé.",
];

/// Partner legal persons (norm 43, II.1): their nature and a generic trade name.
pub(crate) const LEGAL_PARTNERS: [(PartnerNature, &str); 8] = [
    (PartnerNature::LocalAuthority, "Conseil départemental, service APA"),
    (PartnerNature::LocalAuthority, "Centre communal d'action sociale"),
    (PartnerNature::SocialSecurityBody, "Caisse d'allocations familiales"),
    (PartnerNature::HealthFacility, "Centre hospitalier, service social"),
    (PartnerNature::SocialOrMedicoSocialService, "Service de soins infirmiers à domicile"),
    (PartnerNature::SocialOrMedicoSocialService, "Service d'aide à domicile"),
    (PartnerNature::Association, "Association d'aide aux aidants"),
    (PartnerNature::StateService, "Maison France services"),
];

/// Functions of partner physical persons (norm 43, II.2).
pub(crate) const PARTNER_FUNCTIONS: [&str; 6] = [
    "médecin traitant",
    "infirmier libéral",
    "aide à domicile",
    "assistant social de secteur",
    "ergothérapeute",
    "mandataire judiciaire",
];

/// Birth places (norm 43, I.3): large communes and countries, never a person's.
pub(crate) const BIRTH_PLACES: [&str; 10] = [
    "Marseille (13)",
    "Nice (06)",
    "Toulon (83)",
    "Avignon (84)",
    "Lyon (69)",
    "Paris (75)",
    "Ajaccio (2A)",
    "Bastia (2B)",
    "Algérie",
    "Italie",
];

#[cfg(test)]
mod tests {
    use super::*;
    use passerelle_social_file::TextKind;

    #[test]
    fn every_fixed_text_has_the_shape_of_its_field() {
        for n in 1..=9 {
            let difficulty = SocialDifficulty::try_from(n).unwrap();
            assert!(!assessment_sentences(difficulty).is_empty(), "{difficulty:?}");
            for s in assessment_sentences(difficulty).iter().chain(&NEXT_STEPS) {
                assert_eq!(TextKind::FreeText.check(s), Ok(()), "{s}");
            }
        }
        for (_, name) in LEGAL_PARTNERS {
            assert_eq!(TextKind::Label.check(name), Ok(()), "{name}");
        }
        for f in PARTNER_FUNCTIONS {
            assert_eq!(TextKind::Label.check(f), Ok(()), "{f}");
        }
        for p in BIRTH_PLACES {
            assert_eq!(TextKind::Place.check(p), Ok(()), "{p}");
        }
    }
}
