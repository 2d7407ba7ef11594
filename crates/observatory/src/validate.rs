//! Request validation: what the observatory accepts, and the reasons it gives back when it
//! does not (a refusal, never a silent dead-letter: the requester must learn why).
//!
//! Case level ([`check_header`]): addressed to this observatory, a requester body of the
//! deployment, a UUID case id, an office code, a legal basis of the closed list that founds this
//! exchange, the service (art. 3) stated in bounded text that names nobody, at least one
//! requested category and
//! only categories of art. 2, 2° to 7°, a respond-by deadline in the future and within the cap,
//! a chunk of bounded size, an offered-service code of the closed list (`UNSPECIFIED`, from a
//! requester older than the list, is accepted). Person level ([`check_person`]): a well-formed
//! NIR/NIA (and former NIRs), a sex, aged 55 or over in the year of arrival (art. 1), a
//! residence commune of the official list whose *recorded* département belongs to this
//! observatory's territory; then ([`check_known`]) known risk factors of the requester's own
//! branch only (art. 3: "dans son domaine de compétence"), else the person is refused, and
//! `hospital_stays_12m` without a stay admitted before the twelve months before the request's
//! arrival, else the value is dropped (the caller audits how many).
//!
//! Problems never repeat a NIR: a refused person is identified by the NIR the requester sent,
//! in its own field of the refusal, and the reasons say what is wrong, not what was written.

use std::time::SystemTime;

use passerelle_protocol::commune::CommuneTable;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::MIN_AGE;
use passerelle_protocol::v1::{self, Category, Sex};

use crate::settings::Config;

/// The legal basis of this exchange, which a request that gives none is read as.
pub const DEFAULT_LEGAL_BASIS: v1::LegalBasis = passerelle_protocol::legal::FRAGILITY_EXCHANGE;

/// The longest service text accepted: the decree asks for the service offered, not a letter.
const MAX_PURPOSE_CHARS: usize = 500;

/// The most persons one request chunk may carry: ten default chunks. A bigger chunk would be one
/// very large transaction and broker message; the requester must split it.
pub const MAX_PERSONS_PER_CHUNK: usize = 10 * passerelle_protocol::rules::DEFAULT_CHUNK_SIZE;

/// The oldest birth year accepted as plausible, relative to the arrival year.
const MAX_PLAUSIBLE_AGE: i32 = 130;

/// What a valid request header gives the case.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseHeader {
    pub requester: String,
    pub requester_office: String,
    pub purpose: String,
    /// The basis's reference text (the case store's column).
    pub legal_basis: String,
    /// Sorted, deduplicated.
    pub wanted: Vec<Category>,
    pub respond_by: SystemTime,
}

/// A person accepted into a case.
#[derive(Clone, PartialEq)]
pub struct AcceptedPerson {
    pub nir: Nir,
    pub former_nirs: Vec<Nir>,
    pub sex: Sex,
    pub birth_year: u32,
    /// The département the commune list records for the residence commune.
    pub departement: String,
    pub risk_factors: v1::CategoryValues,
}

impl std::fmt::Debug for AcceptedPerson {
    /// Redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AcceptedPerson(…)")
    }
}

pub(crate) fn problem(field: &str, reason: impl Into<String>) -> v1::Problem {
    v1::Problem { field: field.to_owned(), reason: reason.into() }
}

/// Checks a request's case-level fields. `arrival` is when the case's first chunk arrived.
pub fn check_header(req: &v1::Request, config: &Config, arrival: SystemTime) -> Result<CaseHeader, Vec<v1::Problem>> {
    let mut problems = Vec::new();
    if req.observatory != config.code.as_str() {
        problems.push(problem(
            "observatory",
            format!("the request is addressed to `{}`, this observatory is `{}`", short(&req.observatory), config.code),
        ));
    }
    if uuid::Uuid::parse_str(&req.case_id).is_err() {
        problems.push(problem("case_id", "the case id must be a UUID"));
    }
    if !passerelle_protocol::ids::is_office_code(&req.requester_office) {
        problems.push(problem(
            "requester_office",
            format!(
                "the office must be a code of lowercase letters, digits, `-` and `_`, at most {} characters",
                passerelle_protocol::ids::MAX_OFFICE_LEN
            ),
        ));
    }
    let basis = match v1::LegalBasis::try_from(req.basis) {
        Ok(v1::LegalBasis::Unspecified) => Some(DEFAULT_LEGAL_BASIS),
        Ok(b) if b == DEFAULT_LEGAL_BASIS => Some(b),
        Ok(b) => {
            problems.push(problem(
                "basis",
                format!(
                    "the legal basis `{}` does not found the fragility exchange",
                    passerelle_protocol::legal::code(b)
                ),
            ));
            None
        }
        Err(_) => {
            problems.push(problem("basis", format!("legal basis {} is not one of the list", req.basis)));
            None
        }
    };
    if req.purpose.trim().is_empty() {
        problems.push(problem("purpose", "the service offered must be stated (art. 3)"));
    } else if req.purpose.chars().count() > MAX_PURPOSE_CHARS {
        problems.push(problem("purpose", format!("the service text is longer than {MAX_PURPOSE_CHARS} characters")));
    } else if req.purpose.chars().any(char::is_control) {
        problems.push(problem("purpose", "the service text holds control characters"));
    } else if crate::engine::looks_like_nir(&req.purpose) {
        problems
            .push(problem("purpose", "the service text must not identify a person (it holds what looks like a NIR)"));
    }
    let mut wanted = Vec::new();
    for &number in &req.wanted {
        match passerelle_protocol::catalogue::by_number(number) {
            Some(info) => wanted.push(info.category),
            None => problems.push(problem(
                "wanted",
                format!(
                    "category number {number} is not one of the decree (art. 2, 2° to 7°): only those may be exchanged"
                ),
            )),
        }
    }
    wanted.sort_by_key(|c| *c as i32);
    wanted.dedup();
    if req.wanted.is_empty() {
        problems.push(problem("wanted", "at least one category must be requested"));
    }
    let latest = arrival + config.max_respond_by;
    let respond_by = match req.respond_by.map(SystemTime::try_from) {
        None => arrival + config.respond_by_default,
        Some(Ok(t)) if t <= arrival => {
            problems.push(problem("respond_by", "the respond-by deadline has already passed"));
            arrival
        }
        Some(Ok(t)) if t > latest => {
            problems.push(problem(
                "respond_by",
                format!(
                    "the respond-by deadline is more than {} days after the request's arrival (the cap)",
                    config.max_respond_by.as_secs() / 86400
                ),
            ));
            latest
        }
        Some(Ok(t)) => t,
        Some(Err(_)) => {
            problems.push(problem("respond_by", "the respond-by deadline is not a valid time"));
            arrival
        }
    };
    if v1::OfferedService::try_from(req.service).is_err() {
        problems.push(problem(
            "service",
            format!(
                "offered service {} is not one of the list (0 unspecified, 1 to 7: {})",
                req.service,
                passerelle_protocol::offered_service::codes().join(", ")
            ),
        ));
    }
    if req.persons.len() > MAX_PERSONS_PER_CHUNK {
        problems.push(problem(
            "persons",
            format!("a request chunk carries at most {MAX_PERSONS_PER_CHUNK} persons, this one {}", req.persons.len()),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let legal_basis = passerelle_protocol::legal::reference(basis.unwrap_or(DEFAULT_LEGAL_BASIS)).to_owned();
    Ok(CaseHeader {
        requester: req.sender.clone(),
        requester_office: req.requester_office.clone(),
        purpose: req.purpose.trim().to_owned(),
        legal_basis,
        wanted,
        respond_by,
    })
}

/// Checks one person. `arrival_year` is the reference year of the age rule.
pub fn check_person(
    p: &v1::RequestedPerson,
    config: &Config,
    arrival_year: i32,
) -> Result<AcceptedPerson, Vec<v1::Problem>> {
    let mut problems = Vec::new();
    let nir = Nir::parse(&p.nir).map_err(|e| problems.push(problem("nir", e.to_string()))).ok();
    let mut former_nirs = Vec::new();
    for (i, former) in p.former_nirs.iter().enumerate() {
        match Nir::parse(former) {
            Ok(n) => former_nirs.push(n),
            Err(e) => problems.push(problem("former_nirs", format!("former NIR #{}: {e}", i + 1))),
        }
    }
    let sex = match Sex::try_from(p.sex) {
        Ok(s @ (Sex::Male | Sex::Female)) => Some(s),
        _ => {
            problems.push(problem("sex", "the sex must be given (male or female)"));
            None
        }
    };
    // In i64: a birth year is any u32 on the wire, and one above i32::MAX must neither wrap nor
    // overflow the age (found by the `observatory_request` fuzz target).
    let age = i64::from(arrival_year) - i64::from(p.birth_year);
    if p.birth_year == 0 || age < 0 {
        problems.push(problem("birth_year", format!("the birth year {} is not valid", p.birth_year)));
    } else if age < i64::from(MIN_AGE) {
        problems.push(problem(
            "birth_year",
            format!("the person is under {MIN_AGE} in {arrival_year} (art. 1 of the decree: 55 and over)"),
        ));
    } else if age > i64::from(MAX_PLAUSIBLE_AGE) {
        problems.push(problem("birth_year", format!("the birth year {} is not plausible", p.birth_year)));
    }
    let departement = match CommuneTable::official().lookup(&p.commune_code) {
        Err(e) => {
            problems.push(problem("commune_code", e.to_string()));
            None
        }
        Ok(commune) => match config.territories.observatory_of_departement(&commune.departement) {
            Ok(code) if code == config.code.as_str() => Some(commune.departement.clone()),
            Ok(other) => {
                problems.push(problem(
                    "commune_code",
                    format!(
                        "the residence commune is in département {}, whose observatory is `{other}`, not `{}`",
                        commune.departement, config.code
                    ),
                ));
                None
            }
            Err(e) => {
                problems.push(problem("commune_code", e.to_string()));
                None
            }
        },
    };
    match (nir, sex, departement) {
        (Some(nir), Some(sex), Some(departement)) if problems.is_empty() => Ok(AcceptedPerson {
            nir,
            former_nirs,
            sex,
            birth_year: p.birth_year,
            departement,
            risk_factors: p.known_risk_factors.clone().unwrap_or_default(),
        }),
        _ => Err(problems),
    }
}

/// Checks the risk factors a requester sent as known for one accepted person: each must be of a
/// category the requester's branch holds (the catalogue's default holders; decree art. 3: "dans
/// son domaine de compétence"), else the person is refused with a problem on
/// `known_risk_factors`. A `hospital_stays_12m` value with a stay admitted before `cut_off`
/// (twelve months before the request's arrival) is dropped from the known risk factors: the
/// number of such stays is returned, for the audit trail (a count, never the value).
pub fn check_known(
    risk_factors: &mut v1::CategoryValues,
    requester: &str,
    cut_off: chrono::NaiveDate,
) -> Result<usize, Vec<v1::Problem>> {
    let foreign: Vec<&str> = risk_factors
        .present()
        .filter_map(|(category, _)| passerelle_protocol::catalogue::info(category))
        .filter(|info| !info.default_holders.contains(&requester))
        .map(|info| info.code)
        .collect();
    if !foreign.is_empty() {
        return Err(vec![problem(
            "known_risk_factors",
            format!(
                "{} {} not held by the requester's branch `{}`: a requester sends as known only the risk factors \
                 of its own branch (decree art. 3: \"dans son domaine de compétence\")",
                foreign.join(", "),
                if foreign.len() == 1 { "is" } else { "are" },
                short(requester)
            ),
        )]);
    }
    let stale = risk_factors
        .hospital_stays_12m
        .as_ref()
        .map_or(0, |stays| passerelle_protocol::age::stays_before(stays, cut_off));
    if stale > 0 {
        risk_factors.clear(Category::HospitalStays12m);
    }
    Ok(stale)
}

/// At most 40 characters of a text echoed in a reason.
fn short(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if text.chars().count() > 40 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ObservatorySettings;
    use passerelle_protocol::rules::days;

    fn config() -> Config {
        ObservatorySettings::new("carsat-sud-est", "/tmp/x").resolve().unwrap()
    }

    fn nir(first13: &str) -> String {
        passerelle_protocol::nir::with_key(first13).unwrap().as_str().to_owned()
    }

    fn person() -> v1::RequestedPerson {
        v1::RequestedPerson {
            nir: nir("1500575123456"),
            former_nirs: vec![],
            sex: Sex::Male as i32,
            birth_year: 1950,
            commune_code: "13055".into(),
            known_risk_factors: None,
        }
    }

    fn request(arrival: SystemTime) -> v1::Request {
        v1::Request {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            service: 0,
            schema_version: 1,
            sender: "cnaf".into(),
            requester_office: "caf-13".into(),
            case_id: uuid::Uuid::now_v7().to_string(),
            observatory: "carsat-sud-est".into(),
            purpose: "falls workshop".into(),
            basis: 0,
            wanted: vec![Category::Css as i32, Category::HousingAid as i32, Category::Css as i32],
            respond_by: Some(prost_types::Timestamp::from(arrival + days(5))),
            chunk_index: 0,
            chunk_count: 1,
            persons: vec![person()],
        }
    }

    fn fields(problems: &[v1::Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.field.as_str()).collect()
    }

    #[test]
    fn a_good_header_is_accepted_with_defaults() {
        let now = SystemTime::now();
        let h = check_header(&request(now), &config(), now).unwrap();
        assert_eq!(h.wanted, vec![Category::Css, Category::HousingAid]);
        assert_eq!(h.legal_basis, "Décret n° 2017-334, art. 3");
        let mut r = request(now);
        r.respond_by = None;
        assert_eq!(check_header(&r, &config(), now).unwrap().respond_by, now + days(7));
    }

    #[test]
    fn a_bad_header_lists_every_problem() {
        let now = SystemTime::now();
        let mut r = request(now);
        r.observatory = "cnav-idf".into();
        r.case_id = "42".into();
        r.purpose = " ".into();
        r.wanted = vec![99];
        r.respond_by = Some(prost_types::Timestamp::from(now + days(40)));
        let problems = check_header(&r, &config(), now).unwrap_err();
        assert_eq!(fields(&problems), ["observatory", "case_id", "purpose", "wanted", "respond_by"]);
        r.wanted = vec![];
        r.respond_by = Some(prost_types::Timestamp::from(now - days(1)));
        let problems = check_header(&r, &config(), now).unwrap_err();
        assert!(problems.iter().any(|p| p.reason.contains("at least one")));
        assert!(problems.iter().any(|p| p.reason.contains("already passed")));
    }

    #[test]
    fn the_office_purpose_and_legal_basis_are_checked_at_the_edge() {
        let now = SystemTime::now();
        let refused = |edit: &dyn Fn(&mut v1::Request)| {
            let mut r = request(now);
            edit(&mut r);
            check_header(&r, &config(), now).unwrap_err()
        };
        let problems = refused(&|r| r.requester_office = "CAF 13; DROP".into());
        assert_eq!(fields(&problems), ["requester_office"]);
        assert_eq!(fields(&refused(&|r| r.requester_office = "o".repeat(33))), ["requester_office"]);
        assert_eq!(fields(&refused(&|r| r.requester_office = String::new())), ["requester_office"]);
        let problems = refused(&|r| r.basis = 42);
        assert_eq!(fields(&problems), ["basis"]);
        assert!(problems[0].reason.contains("not one of the list"), "{problems:?}");
        assert_eq!(fields(&refused(&|r| r.purpose = "line\u{7}bell".into())), ["purpose"]);
        let problems = refused(&|r| r.purpose = format!("workshop for {}", nir("1500575123456")));
        assert!(problems[0].reason.contains("must not identify"), "{problems:?}");
        let mut r = request(now);
        r.basis = v1::LegalBasis::Decree2017334Art3 as i32;
        assert_eq!(check_header(&r, &config(), now).unwrap().legal_basis, "Décret n° 2017-334, art. 3");
    }

    #[test]
    fn persons_are_checked_on_each_rule() {
        let c = config();
        assert!(check_person(&person(), &c, 2025).is_ok());
        let young = v1::RequestedPerson { birth_year: 1980, ..person() };
        let problems = check_person(&young, &c, 2025).unwrap_err();
        assert!(problems[0].reason.contains("under 55"), "{problems:?}");
        assert!(check_person(&v1::RequestedPerson { birth_year: 1970, ..person() }, &c, 2025).is_ok(), "55 exactly");
        let elsewhere = v1::RequestedPerson { commune_code: "75056".into(), ..person() };
        let problems = check_person(&elsewhere, &c, 2025).unwrap_err();
        assert!(problems[0].reason.contains("cnav-idf"), "{problems:?}");
        let bad = v1::RequestedPerson {
            nir: "123".into(),
            former_nirs: vec!["x".into()],
            sex: 0,
            commune_code: "99999".into(),
            ..person()
        };
        let problems = check_person(&bad, &c, 2025).unwrap_err();
        assert_eq!(fields(&problems), ["nir", "former_nirs", "sex", "commune_code"]);
        assert!(problems.iter().all(|p| !p.reason.contains("123") || p.field != "nir"));
        let mayotte = v1::RequestedPerson { commune_code: "97611".into(), ..person() };
        assert!(check_person(&mayotte, &c, 2025).unwrap_err()[0].reason.contains("Mayotte"));
    }

    #[test]
    fn the_offered_service_is_a_code_of_the_list_or_unspecified() {
        let now = SystemTime::now();
        for service in [0, 1, 7] {
            let r = v1::Request { service, ..request(now) };
            assert!(check_header(&r, &config(), now).is_ok(), "{service}");
        }
        for service in [8, -1, 99] {
            let problems = check_header(&v1::Request { service, ..request(now) }, &config(), now).unwrap_err();
            assert_eq!(fields(&problems), ["service"], "{service}");
            assert!(problems[0].reason.contains("prevention-workshop"), "{problems:?}");
        }
    }

    fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn known_risk_factors_must_be_the_requester_s_branch_s() {
        let cut_off = date(2025, 12, 8);
        let mut own = v1::CategoryValues { rsa: Some(true), housing_aid: Some(false), ..Default::default() };
        assert_eq!(check_known(&mut own, "cnaf", cut_off), Ok(0));
        assert_eq!(own.rsa, Some(true), "kept");
        let mut foreign = v1::CategoryValues { rsa: Some(true), survivor_pension: Some(true), ..Default::default() };
        let problems = check_known(&mut foreign, "cnaf", cut_off).unwrap_err();
        assert_eq!(fields(&problems), ["known_risk_factors"]);
        assert!(problems[0].reason.starts_with("survivor_pension is not held by the requester's branch `cnaf`"));
        assert!(problems[0].reason.contains("dans son domaine de compétence"), "{problems:?}");
        assert!(check_known(&mut own.clone(), "cnav", cut_off).is_err(), "RSA is not the pension branch's");
        assert!(check_known(&mut v1::CategoryValues::default(), "cnav", cut_off).is_ok(), "nothing known");
    }

    #[test]
    fn hospital_stays_older_than_twelve_months_are_dropped_and_counted() {
        let stay = |m, d| v1::HospitalStay {
            admission: Some(v1::Date { year: 2025, month: m, day: d }),
            length_days: 2,
            mode: 1,
        };
        let known = |stays| v1::CategoryValues {
            hospital_stays_12m: Some(v1::HospitalStays { stays }),
            long_term_condition: Some(true),
            ..Default::default()
        };
        let cut_off = date(2025, 12, 8);
        let mut fresh = known(vec![stay(12, 8)]);
        assert_eq!(check_known(&mut fresh, "cnam", cut_off), Ok(0));
        assert!(fresh.hospital_stays_12m.is_some(), "a stay on the first day of the window is kept");
        let mut stale = known(vec![stay(12, 7), stay(12, 20), stay(1, 2)]);
        assert_eq!(check_known(&mut stale, "msa", cut_off), Ok(2), "two stays before the window");
        assert_eq!(stale.hospital_stays_12m, None, "the value is dropped");
        assert_eq!(stale.long_term_condition, Some(true), "the other risk factors stay");
    }

    #[test]
    fn birth_years_beyond_i32_are_refused_not_overflowed() {
        let c = config();
        for year in [2026, 0x8000_0000, u32::MAX, u32::MAX - 1970] {
            let p = v1::RequestedPerson { birth_year: year, ..person() };
            let problems = check_person(&p, &c, 2025).unwrap_err();
            assert_eq!(fields(&problems), ["birth_year"], "{year}");
            assert!(problems[0].reason.contains(&format!("the birth year {year} is not valid")), "{problems:?}");
        }
    }
}
