//! The service a requester offers (art. 3: "le service qu'il souhaite proposer") as a code of a
//! closed list — `Request.service`, the [`OfferedService`] enum of the proto — with the
//! kebab-case name the CLI, the local API and the console use, and its French label. The
//! request's free-text `purpose` says the same in words.

use crate::v1::OfferedService;

/// One service of the list: the enum value, its CLI/API code, and its French label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceInfo {
    pub service: OfferedService,
    /// Kebab-case, stable: `prevention-workshop`.
    pub code: &'static str,
    /// What the service is, in French, for the agents (the console's list, `--help`).
    pub label: &'static str,
}

const fn s(service: OfferedService, code: &'static str, label: &'static str) -> ServiceInfo {
    ServiceInfo { service, code, label }
}

/// Every service of the list, in the enum's order (`UNSPECIFIED` excluded: no one chooses it).
pub static OFFERED_SERVICES: [ServiceInfo; 7] = [
    s(
        OfferedService::PreventionWorkshop,
        "prevention-workshop",
        "Atelier de prévention collectif (bien vieillir, équilibre, mémoire, nutrition)",
    ),
    s(OfferedService::HomeAdaptation, "home-adaptation", "Aide à l'adaptation du logement"),
    s(OfferedService::HomeHelp, "home-help", "Plan d'actions personnalisé, aide à domicile"),
    s(OfferedService::SocialSupport, "social-support", "Évaluation et accompagnement par le service social"),
    s(OfferedService::HealthCheck, "health-check", "Examen de prévention en santé"),
    s(OfferedService::RightsReview, "rights-review", "Rendez-vous des droits"),
    s(OfferedService::Other, "other", "Autre service (le texte libre dit lequel)"),
];

/// A code that is not one of the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{shown} is not a service of the list: give one of {codes}", codes = codes().join(", "))]
pub struct UnknownService {
    /// The code as given, shortened and made printable.
    pub shown: String,
}

/// Every code, in the list's order.
pub fn codes() -> Vec<&'static str> {
    OFFERED_SERVICES.iter().map(|i| i.code).collect()
}

/// The service of a code (case and surrounding spaces do not matter; `_` reads as `-`).
pub fn parse(code: &str) -> Result<OfferedService, UnknownService> {
    let wanted = code.trim().to_ascii_lowercase().replace('_', "-");
    OFFERED_SERVICES
        .iter()
        .find(|i| i.code == wanted)
        .map(|i| i.service)
        .ok_or_else(|| UnknownService { shown: format!("`{}`", crate::untrusted::Shown::text(code)) })
}

/// What the list says of a service; `None` for `UNSPECIFIED`.
pub fn info(service: OfferedService) -> Option<&'static ServiceInfo> {
    OFFERED_SERVICES.iter().find(|i| i.service == service)
}

/// The code of a service; `unspecified` for `UNSPECIFIED` (an older requester's request).
pub fn code(service: OfferedService) -> &'static str {
    info(service).map_or("unspecified", |i| i.code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_covers_every_chosen_value_of_the_enum_once() {
        for number in 1..=7 {
            let service = OfferedService::try_from(number).unwrap();
            assert_eq!(OFFERED_SERVICES.iter().filter(|i| i.service == service).count(), 1, "{service:?}");
        }
        assert!(OfferedService::try_from(8).is_err(), "a new value needs its code and label here");
        for info in &OFFERED_SERVICES {
            assert_eq!(parse(info.code), Ok(info.service));
            assert_eq!(code(info.service), info.code);
        }
    }

    #[test]
    fn codes_parse_leniently_and_unknown_ones_list_the_codes() {
        assert_eq!(parse(" Home_Help "), Ok(OfferedService::HomeHelp));
        let e = parse("Atelier prévention des chutes").unwrap_err();
        assert!(e.to_string().contains("prevention-workshop, home-adaptation"), "{e}");
        assert_eq!(code(OfferedService::Unspecified), "unspecified");
    }
}
