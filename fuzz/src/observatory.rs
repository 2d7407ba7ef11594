//! The observatory's request validation under hostile bytes: the bus decodes a `Request`, then
//! [`check_header`] and [`check_person`] (crates/observatory/src/validate.rs) judge it, as the
//! observatory does when a request chunk arrives. Shared, through `#[path]`, by the fuzz target
//! `observatory_request` and by the replay test `crates/observatory/tests/fuzz_corpus.rs`.
//!
//! Beyond "no panic": every refusal gives at least one problem, each naming a field of the
//! request and a reason; an accepted header keeps only known categories, sorted and without
//! duplicates, and a deadline within the cap; an accepted person is 55 or over in the arrival
//! year. A reason never repeats a person's NIR.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use passerelle_bus::{Kind, Message};
use passerelle_observatory::validate::{check_header, check_person};
use passerelle_observatory::{Config, ObservatorySettings};
use passerelle_protocol::v1;

/// The observatory the requests are judged by (Provence-Alpes-Côte d'Azur and Corsica).
pub const OBSERVATORY: &str = "carsat-sud-est";

/// When the request arrives: 2025-06-01T00:00:00Z, fixed so that a corpus file always meets the
/// same deadlines.
pub const ARRIVAL_UNIX_SECS: u64 = 1_748_736_000;

/// The year of [`ARRIVAL_UNIX_SECS`], the reference year of the age rule.
pub const ARRIVAL_YEAR: i32 = 2025;

/// The fields a problem may name.
const FIELDS: [&str; 15] = [
    "observatory",
    "case_id",
    "requester_office",
    "basis",
    "purpose",
    "service",
    "wanted",
    "respond_by",
    "persons",
    "nir",
    "former_nirs",
    "sex",
    "birth_year",
    "commune_code",
    "known_risk_factors",
];

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        ObservatorySettings::new(OBSERVATORY, "/nonexistent").resolve().expect("the default settings resolve")
    })
}

/// The arrival time of every request.
pub fn arrival() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(ARRIVAL_UNIX_SECS)
}

/// Decodes `data` as a request and validates it.
pub fn request(data: &[u8]) {
    let Ok(Message::Request(req)) = Message::decode(Kind::Request, data) else {
        return;
    };
    let config = config();
    match check_header(&req, config, arrival()) {
        Ok(header) => {
            assert!(!header.wanted.is_empty(), "a header accepted without a category");
            assert!(header.wanted.windows(2).all(|w| (w[0] as i32) < (w[1] as i32)), "categories not sorted/deduped");
            assert!(header.respond_by > arrival(), "a deadline accepted that has passed");
            assert!(header.respond_by <= arrival() + config.max_respond_by, "a deadline accepted beyond the cap");
            assert!(!header.purpose.is_empty());
        }
        Err(problems) => check_problems(&problems, None),
    }
    for person in &req.persons {
        match check_person(person, config, ARRIVAL_YEAR) {
            Ok(accepted) => {
                let age = ARRIVAL_YEAR - accepted.birth_year as i32;
                assert!(age >= 55, "a person of {age} accepted");
                assert!(matches!(accepted.sex, v1::Sex::Male | v1::Sex::Female));
            }
            Err(problems) => check_problems(&problems, Some(&person.nir)),
        }
    }
}

fn check_problems(problems: &[v1::Problem], nir: Option<&str>) {
    assert!(!problems.is_empty(), "a refusal without a problem");
    for p in problems {
        assert!(FIELDS.contains(&p.field.as_str()), "a problem on an unknown field {:?}", p.field);
        assert!(!p.reason.is_empty(), "a problem without a reason");
        if let Some(nir) = nir.map(str::trim).filter(|n| looks_like_a_nir(n)) {
            if p.field == "nir" {
                assert!(!p.reason.contains(nir), "a reason repeats the NIR");
            }
        }
    }
}

/// Thirteen characters or more, at least ten of them digits: text that could be a NIR.
fn looks_like_a_nir(text: &str) -> bool {
    text.len() >= 13 && text.bytes().filter(u8::is_ascii_digit).count() >= 10
}
