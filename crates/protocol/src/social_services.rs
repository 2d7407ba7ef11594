//! Who may receive a social-service case file (CNIL norm 43, A.3): the health branch's social
//! service, whatever body hosts it — in the general scheme the CARSATs, the CRAMIF (Île-de-France)
//! and the CGSS (overseas; the CSS in Mayotte), in the agricultural scheme the MSA funds. A fixed
//! list, in the code: a deployment cannot add a CAF, a pension service or any other body to it,
//! and a transfer to a body not listed is refused before anything is sent.
//!
//! Sources: the regional funds of the general scheme are those of `territory` (the CARSATs, the
//! CGSS, the CSS of Mayotte), with the CRAMIF in place of the CNAV's Île-de-France pension
//! service (`cnav-idf`), which runs no social service; the MSA funds are the 35 local funds of
//! the agricultural scheme (msa.fr, "Les caisses de MSA"), coded `msa-<name>`.

/// A body whose social service may send and receive case files: its code and its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocialServiceBody {
    pub code: &'static str,
    pub name: &'static str,
    /// `general` (CARSAT, CRAMIF, CGSS, CSS) or `agricultural` (MSA).
    pub scheme: &'static str,
}

const fn general(code: &'static str, name: &'static str) -> SocialServiceBody {
    SocialServiceBody { code, name, scheme: "general" }
}

const fn agricultural(code: &'static str, name: &'static str) -> SocialServiceBody {
    SocialServiceBody { code, name, scheme: "agricultural" }
}

/// Every body whose social service is a health-insurance one, in the order of the sources.
pub const HEALTH_INSURANCE_SOCIAL_SERVICES: &[SocialServiceBody] = &[
    general("carsat-alsace-moselle", "CARSAT Alsace-Moselle"),
    general("carsat-aquitaine", "CARSAT Aquitaine"),
    general("carsat-auvergne", "CARSAT Auvergne"),
    general("carsat-bourgogne-franche-comte", "CARSAT Bourgogne-Franche-Comté"),
    general("carsat-bretagne", "CARSAT Bretagne"),
    general("carsat-centre-val-de-loire", "CARSAT Centre-Val de Loire"),
    general("carsat-centre-ouest", "CARSAT Centre-Ouest"),
    general("carsat-languedoc-roussillon", "CARSAT Languedoc-Roussillon"),
    general("carsat-midi-pyrenees", "CARSAT Midi-Pyrénées"),
    general("carsat-nord-est", "CARSAT Nord-Est"),
    general("carsat-hauts-de-france", "CARSAT Hauts-de-France"),
    general("carsat-normandie", "CARSAT Normandie"),
    general("carsat-pays-de-la-loire", "CARSAT Pays de la Loire"),
    general("carsat-rhone-alpes", "CARSAT Rhône-Alpes"),
    general("carsat-sud-est", "CARSAT Sud-Est"),
    general("cramif", "CRAMIF (Île-de-France)"),
    general("cgss-guadeloupe", "CGSS de la Guadeloupe"),
    general("cgss-martinique", "CGSS de la Martinique"),
    general("cgss-guyane", "CGSS de la Guyane"),
    general("cgss-reunion", "CGSS de La Réunion"),
    general("css-mayotte", "CSS de Mayotte"),
    agricultural("msa-ain-rhone", "MSA Ain-Rhône"),
    agricultural("msa-alpes-du-nord", "MSA Alpes du Nord"),
    agricultural("msa-alpes-vaucluse", "MSA Alpes-Vaucluse"),
    agricultural("msa-alsace", "MSA d'Alsace"),
    agricultural("msa-ardeche-drome-loire", "MSA Ardèche Drôme Loire"),
    agricultural("msa-armorique", "MSA d'Armorique"),
    agricultural("msa-auvergne", "MSA Auvergne"),
    agricultural("msa-beauce-coeur-de-loire", "MSA Beauce Cœur de Loire"),
    agricultural("msa-berry-touraine", "MSA Berry-Touraine"),
    agricultural("msa-bourgogne", "MSA de Bourgogne"),
    agricultural("msa-charentes", "MSA des Charentes"),
    agricultural("msa-corse", "MSA de la Corse"),
    agricultural("msa-cotes-normandes", "MSA Côtes Normandes"),
    agricultural("msa-dordogne-lot-et-garonne", "MSA Dordogne, Lot et Garonne"),
    agricultural("msa-franche-comte", "MSA de Franche-Comté"),
    agricultural("msa-gironde", "MSA de la Gironde"),
    agricultural("msa-grand-sud", "MSA Grand Sud"),
    agricultural("msa-haute-normandie", "MSA Haute-Normandie"),
    agricultural("msa-ile-de-france", "MSA d'Île-de-France"),
    agricultural("msa-languedoc", "MSA du Languedoc"),
    agricultural("msa-limousin", "MSA du Limousin"),
    agricultural("msa-loire-atlantique-vendee", "MSA Loire-Atlantique – Vendée"),
    agricultural("msa-lorraine", "MSA de Lorraine"),
    agricultural("msa-maine-et-loire", "MSA de Maine-et-Loire"),
    agricultural("msa-marne-ardennes-meuse", "MSA Marne Ardennes Meuse"),
    agricultural("msa-mayenne-orne-sarthe", "MSA Mayenne-Orne-Sarthe"),
    agricultural("msa-midi-pyrenees-nord", "MSA Midi-Pyrénées Nord"),
    agricultural("msa-midi-pyrenees-sud", "MSA Midi-Pyrénées Sud"),
    agricultural("msa-nord-pas-de-calais", "MSA Nord-Pas de Calais"),
    agricultural("msa-picardie", "MSA de Picardie"),
    agricultural("msa-portes-de-bretagne", "MSA Portes de Bretagne"),
    agricultural("msa-poitou", "MSA Poitou"),
    agricultural("msa-provence-azur", "MSA Provence Azur"),
    agricultural("msa-sud-aquitaine", "MSA Sud Aquitaine"),
    agricultural("msa-sud-champagne", "MSA Sud Champagne"),
];

/// The health-insurance body `code` names, if it is one.
pub fn body(code: &str) -> Option<&'static SocialServiceBody> {
    HEALTH_INSURANCE_SOCIAL_SERVICES.iter().find(|b| b.code == code)
}

/// Whether the social service of body `code` may send or receive a case file: `Err` says why
/// not, in words an agent reads (the body is named, never a person).
pub fn check_destination(code: &str) -> Result<&'static SocialServiceBody, String> {
    if let Some(b) = body(code) {
        return Ok(b);
    }
    let kind = if code == "cnaf" || code.starts_with("caf") {
        "a family-allowance body (CAF)"
    } else if code == "cnav" || code.starts_with("cnav-") || code.contains("retraite") || code.contains("arrco") {
        "a pension service"
    } else if code == "cnam" || code.starts_with("cpam") {
        "a primary health-insurance fund, which runs no social service (its insured's social service is the CARSAT's)"
    } else {
        "not a body whose social service the health branch runs"
    };
    Err(format!(
        "{code:?} is {kind}: a case file goes only to a health-insurance social service (norm 43, A.3) — \
         a CARSAT, the CRAMIF, a CGSS, the CSS of Mayotte or an MSA fund"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_the_general_and_agricultural_funds_only() {
        assert_eq!(HEALTH_INSURANCE_SOCIAL_SERVICES.iter().filter(|b| b.code.starts_with("carsat-")).count(), 15);
        assert_eq!(HEALTH_INSURANCE_SOCIAL_SERVICES.iter().filter(|b| b.scheme == "agricultural").count(), 35);
        for code in ["cramif", "cgss-reunion", "css-mayotte", "msa-provence-azur", "carsat-sud-est"] {
            assert!(check_destination(code).is_ok(), "{code}");
        }
        let mut codes: Vec<&str> = HEALTH_INSURANCE_SOCIAL_SERVICES.iter().map(|b| b.code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), HEALTH_INSURANCE_SOCIAL_SERVICES.len(), "each body once");
        assert!(codes.iter().all(|c| crate::ids::is_party_code(c)));
    }

    #[test]
    fn a_caf_a_pension_service_or_a_cpam_is_refused_with_the_reason() {
        let e = check_destination("cnaf").unwrap_err();
        assert!(e.contains("CAF") && e.contains("norm 43"), "{e}");
        assert!(check_destination("caf-13").unwrap_err().contains("CAF"));
        assert!(check_destination("cnav").unwrap_err().contains("pension"));
        assert!(check_destination("cnav-idf").unwrap_err().contains("pension"), "the CNAV's IDF pension service");
        assert!(check_destination("cpam-13").unwrap_err().contains("primary"));
        assert!(check_destination("msa").is_err(), "the central fund is not a local one");
        assert!(check_destination("anything").is_err());
    }
}
