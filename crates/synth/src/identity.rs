//! Made-up identities: names combined at random from short lists of common French given names
//! and surnames, made-up street addresses, e-mail addresses at `example.org` (RFC 2606) and phone
//! numbers in the range ARCEP reserves for fiction (`01 99 00 xx xx`).

use passerelle_protocol::v1::{FamilySituation, Sex};
use rand::seq::SliceRandom;
use rand::Rng;

/// Common French surnames.
const FAMILY_NAMES: [&str; 60] = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefèvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Faure",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Garcia",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Marie",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
];

/// Common French given names of men born between the 1920s and the 1970s.
const MALE_GIVEN_NAMES: [&str; 40] = [
    "Jean",
    "Pierre",
    "Michel",
    "André",
    "Philippe",
    "Alain",
    "Bernard",
    "Jacques",
    "Daniel",
    "Gérard",
    "Claude",
    "René",
    "Christian",
    "Patrick",
    "Roger",
    "Robert",
    "Marcel",
    "Louis",
    "Henri",
    "Joseph",
    "Georges",
    "Paul",
    "Serge",
    "Jean-Pierre",
    "Jean-Claude",
    "Jean-Marie",
    "Dominique",
    "Didier",
    "Pascal",
    "Thierry",
    "Éric",
    "Gilles",
    "Yves",
    "François",
    "Marc",
    "Bruno",
    "Denis",
    "Maurice",
    "Guy",
    "Raymond",
];

/// Common French given names of women born between the 1920s and the 1970s.
const FEMALE_GIVEN_NAMES: [&str; 40] = [
    "Marie",
    "Jeanne",
    "Françoise",
    "Monique",
    "Catherine",
    "Nathalie",
    "Isabelle",
    "Jacqueline",
    "Sylvie",
    "Martine",
    "Christine",
    "Nicole",
    "Anne",
    "Madeleine",
    "Suzanne",
    "Brigitte",
    "Denise",
    "Simone",
    "Chantal",
    "Danielle",
    "Hélène",
    "Josiane",
    "Colette",
    "Michèle",
    "Annie",
    "Odette",
    "Yvette",
    "Paulette",
    "Christiane",
    "Dominique",
    "Véronique",
    "Patricia",
    "Marie-Thérèse",
    "Geneviève",
    "Bernadette",
    "Ginette",
    "Évelyne",
    "Renée",
    "Claudine",
    "Élisabeth",
];

/// Kinds of street.
const STREET_KINDS: [&str; 8] = ["rue", "rue", "avenue", "boulevard", "chemin", "impasse", "place", "allée"];

/// Made-up street names, so that no address is anyone's.
const STREET_NAMES: [&str; 12] = [
    "de l'Exemple",
    "des Essais",
    "de la Fiction",
    "du Modèle",
    "des Maquettes",
    "de l'Illustration",
    "du Prototype",
    "des Tests",
    "de la Démonstration",
    "de l'Échantillon",
    "du Brouillon",
    "des Hypothèses",
];

/// Made-up residence names, for addresses with a building part (which need CSV quoting).
const RESIDENCE_NAMES: [&str; 4] =
    ["Résidence des Tests", "Les Jardins de l'Essai", "Le Clos Fictif", "Résidence du Modèle"];

/// Share of the selection without a postal address (illustrative).
const NO_ADDRESS: f64 = 0.04;
/// Share of addresses with a building part and a comma.
const ADDRESS_WITH_BUILDING: f64 = 0.08;
/// Share of the selection with an e-mail address (illustrative).
const WITH_EMAIL: f64 = 0.35;
/// Share of the selection with a phone number (illustrative).
const WITH_PHONE: f64 = 0.6;
/// Share of married, widowed or divorced women who use another surname (illustrative).
const USAGE_NAME_WOMEN: f64 = 0.6;
/// Share of men with a usage name.
const USAGE_NAME_MEN: f64 = 0.01;

/// The identification fields of one selection record that are not match keys.
#[derive(Debug, Clone)]
pub(crate) struct Identity {
    pub family_name: &'static str,
    pub usage_name: &'static str,
    pub given_names: String,
    pub postal_address: String,
    pub email: String,
    pub phone: String,
}

/// A family name of the list (a household member, a relation, a partner of a case file).
pub(crate) fn family_name(rng: &mut impl Rng) -> &'static str {
    FAMILY_NAMES.choose(rng).expect("non-empty")
}

/// A given name of the list for the sex (women's for [`Sex::Female`], men's otherwise).
pub(crate) fn given_name(rng: &mut impl Rng, sex: Sex) -> &'static str {
    let pool: &[&str] = if sex == Sex::Female { &FEMALE_GIVEN_NAMES } else { &MALE_GIVEN_NAMES };
    pool.choose(rng).expect("non-empty")
}

/// A phone number in the range ARCEP reserves for fiction.
pub(crate) fn phone(rng: &mut impl Rng) -> String {
    format!("01 99 00 {:02} {:02}", rng.gen_range(0..100), rng.gen_range(0..100))
}

pub(crate) fn draw(rng: &mut impl Rng, sex: Sex, situation: Option<FamilySituation>) -> Identity {
    let family_name = *FAMILY_NAMES.choose(rng).expect("non-empty");
    let married_once =
        matches!(situation, Some(FamilySituation::Married | FamilySituation::Widowed | FamilySituation::Divorced));
    let usage_share = match sex {
        Sex::Female if married_once => USAGE_NAME_WOMEN,
        Sex::Female => 0.0,
        _ => USAGE_NAME_MEN,
    };
    let usage_name = if rng.gen_bool(usage_share) {
        let other = *FAMILY_NAMES.choose(rng).expect("non-empty");
        if other == family_name {
            ""
        } else {
            other
        }
    } else {
        ""
    };

    let pool: &[&str] = if sex == Sex::Female { &FEMALE_GIVEN_NAMES } else { &MALE_GIVEN_NAMES };
    let count = match rng.gen_range(0..100) {
        0..40 => 1,
        40..85 => 2,
        _ => 3,
    };
    let given_names = pool.choose_multiple(rng, count).copied().collect::<Vec<_>>().join(" ");

    let postal_address = if rng.gen_bool(NO_ADDRESS) {
        String::new()
    } else {
        let number = rng.gen_range(1..=180);
        let bis = if rng.gen_ratio(1, 20) { " bis" } else { "" };
        let kind = STREET_KINDS.choose(rng).expect("non-empty");
        let name = STREET_NAMES.choose(rng).expect("non-empty");
        if rng.gen_bool(ADDRESS_WITH_BUILDING) {
            let residence = RESIDENCE_NAMES.choose(rng).expect("non-empty");
            let building = char::from(b'A' + rng.gen_range(0..6u8));
            format!("{residence}, bât. {building}, {number}{bis} {kind} {name}")
        } else {
            format!("{number}{bis} {kind} {name}")
        }
    };

    let email = if rng.gen_bool(WITH_EMAIL) {
        let first = given_names.split(' ').next().unwrap_or_default();
        let n = rng.gen_range(1..1000);
        format!("{}.{}{n}@example.org", mailbox(first), mailbox(usage_or(usage_name, family_name)))
    } else {
        String::new()
    };

    let phone = if rng.gen_bool(WITH_PHONE) { phone(rng) } else { String::new() };

    Identity { family_name, usage_name, given_names, postal_address, email, phone }
}

fn usage_or<'a>(usage: &'a str, family: &'a str) -> &'a str {
    if usage.is_empty() {
        family
    } else {
        usage
    }
}

/// A name as the local part of an e-mail address: lower case ASCII, accents dropped.
fn mailbox(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let plain = match c {
                'à' | 'â' | 'ä' | 'À' | 'Â' => 'a',
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' => 'e',
                'î' | 'ï' | 'Î' => 'i',
                'ô' | 'ö' | 'Ô' => 'o',
                'ù' | 'û' | 'ü' => 'u',
                'ç' | 'Ç' => 'c',
                '\'' | ' ' => return None,
                c => c.to_ascii_lowercase(),
            };
            Some(plain)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn identities_are_fictional_and_well_formed() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for i in 0..5000 {
            let sex = if i % 2 == 0 { Sex::Male } else { Sex::Female };
            let id = draw(&mut rng, sex, Some(FamilySituation::Married));
            assert!(!id.given_names.is_empty());
            assert_ne!(id.usage_name, id.family_name);
            if !id.email.is_empty() {
                assert!(id.email.ends_with("@example.org") && id.email.is_ascii(), "{}", id.email);
            }
            if !id.phone.is_empty() {
                assert!(id.phone.starts_with("01 99 00 ") && id.phone.len() == 14, "{}", id.phone);
            }
        }
        assert_eq!(mailbox("Jean-Marie"), "jean-marie");
        assert_eq!(mailbox("Élisabeth"), "elisabeth");
    }
}
