//! The legal bases an exchange may be founded on: the closed list of `v1::LegalBasis`, with the
//! text each value stands for and the code the settings use. No free text travels instead.

use crate::v1::LegalBasis;

/// The basis of the fragility exchange (the only one a request may give today).
pub const FRAGILITY_EXCHANGE: LegalBasis = LegalBasis::Decree2017334Art3;

/// The basis of a social-service file's transfer to the insured's new body (norm 43, A.3).
pub const SOCIAL_FILE_TRANSFER: LegalBasis = LegalBasis::Norm43A3;

/// Every basis of the list, in enum order.
pub const ALL: [LegalBasis; 2] = [LegalBasis::Decree2017334Art3, LegalBasis::Norm43A3];

/// The code settings and reports use, e.g. `decree-2017-334-art-3`.
pub fn code(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::Unspecified => "unspecified",
        LegalBasis::Decree2017334Art3 => "decree-2017-334-art-3",
        LegalBasis::Norm43A3 => "cnil-norm-43-a3",
    }
}

/// The reference of the text, as the audit trail and the case store record it.
pub fn reference(basis: LegalBasis) -> &'static str {
    match basis {
        LegalBasis::Unspecified => "unspecified",
        LegalBasis::Decree2017334Art3 => "Décret n° 2017-334, art. 3",
        LegalBasis::Norm43A3 => "CNIL, norme simplifiée n° 43, A.3",
    }
}

/// The basis named by its code or its reference (the form earlier settings files used).
pub fn parse(text: &str) -> Option<LegalBasis> {
    let text = text.trim();
    ALL.into_iter().find(|b| code(*b) == text || reference(*b) == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_references_name_the_same_basis() {
        for b in ALL {
            assert_eq!(parse(code(b)), Some(b));
            assert_eq!(parse(reference(b)), Some(b));
        }
        assert_eq!(parse("Décret n° 2017-334, art. 3"), Some(FRAGILITY_EXCHANGE));
        assert_eq!(parse("any law you like"), None);
        assert_eq!(parse("unspecified"), None);
    }
}
