//! The purposes the norm lists for reading the archive: a read names one, and nothing else
//! opens the archive.

/// The purposes the norm lists for reading the archive ("dans le cadre du pilotage, de la
/// gestion du risque, du contrôle interne, du contentieux, du recours contre tiers, de la
/// lutte contre la fraude et des activités du service médical"). Nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    Steering,
    RiskManagement,
    InternalControl,
    Litigation,
    RecourseAgainstThirdParties,
    Fraud,
    MedicalService,
}

impl Purpose {
    pub const ALL: [Purpose; 7] = [
        Purpose::Steering,
        Purpose::RiskManagement,
        Purpose::InternalControl,
        Purpose::Litigation,
        Purpose::RecourseAgainstThirdParties,
        Purpose::Fraud,
        Purpose::MedicalService,
    ];

    /// The purpose's name on the command line, in the API and in the records.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Steering => "steering",
            Purpose::RiskManagement => "risk-management",
            Purpose::InternalControl => "internal-control",
            Purpose::Litigation => "litigation",
            Purpose::RecourseAgainstThirdParties => "recourse-against-third-parties",
            Purpose::Fraud => "fraud",
            Purpose::MedicalService => "medical-service",
        }
    }

    /// The norm's words.
    pub fn label_fr(self) -> &'static str {
        match self {
            Purpose::Steering => "pilotage",
            Purpose::RiskManagement => "gestion du risque",
            Purpose::InternalControl => "contrôle interne",
            Purpose::Litigation => "contentieux",
            Purpose::RecourseAgainstThirdParties => "recours contre tiers",
            Purpose::Fraud => "lutte contre la fraude",
            Purpose::MedicalService => "activités du service médical",
        }
    }

    /// Every purpose's name, comma-separated, for messages.
    pub fn names() -> String {
        Purpose::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Purpose, String> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("not a purpose of the norm's list; the purposes are {}", Purpose::names()))
    }
}
