//! The pure checks of `conformance requester`: the partner's Request chunks and its Receipt, as
//! read off the observatory's requests queue, become one finding per rule. Problems name a chunk
//! and a person's position in it, never a NIR.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use passerelle_protocol::catalogue;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::{MAX_RESPOND_BY, MIN_AGE};
use passerelle_protocol::v1::{self, LegalBasis, OfferedService};
use prost::Message as _;

use crate::checks::{
    Findings, Received, CHUNK_COUNT_HEADER, CHUNK_INDEX_HEADER, CONTENT_TYPE, MAX_MESSAGE_ID, RETENTION_CAP,
    SCHEMA_MINOR_HEADER, SCHEMA_VERSION_HEADER,
};
use crate::requester_rules::{self as r, REQUESTER_RULES};
use crate::Report;

/// What the partner must be.
#[derive(Debug, Clone)]
pub struct Expected {
    pub body: String,
    /// The office, when the partner's party is `body.office`.
    pub office: Option<String>,
    pub observatory: String,
    pub partner_user: Option<String>,
    /// Today in Paris: the submission date of the age rule.
    pub today: chrono::NaiveDate,
    /// When the requests were read (for `respond_by`).
    pub now: SystemTime,
}

/// Whether a person born in `birth_year`, in the month the NIR gives, counts as 55 on `today`
/// by the product's rule ([`passerelle_protocol::age`]): taken as born on the last day of that
/// month (December when the NIR gives none), so a person turning 55 is sent only once 55.
pub fn aged_55(nir: &Nir, birth_year: u32, today: chrono::NaiveDate) -> bool {
    passerelle_protocol::age::is_aged_55_on(birth_year, nir.birth_month(), today)
}

/// The properties and headers every message of the requester carries.
fn envelope(expected: &Expected, raw: &Received, type_name: &str, case_id: &str, at: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if raw.type_name.as_deref() != Some(type_name) {
        problems.push(format!("{at}: type {:?}", raw.type_name));
    }
    if raw.content_type.as_deref() != Some(CONTENT_TYPE) {
        problems.push(format!("{at}: content_type {:?}", raw.content_type));
    }
    if raw.message_id.as_deref().is_none_or(|m| m.is_empty() || m.chars().count() > MAX_MESSAGE_ID) {
        problems.push(format!("{at}: no message_id, or one over {MAX_MESSAGE_ID} characters"));
    }
    match (raw.user_id.as_deref(), expected.partner_user.as_deref()) {
        (None | Some(""), _) => problems.push(format!("{at}: no user_id")),
        (Some(user), Some(want)) if user != want => problems.push(format!("{at}: user_id {user:?}, not {want:?}")),
        _ => {}
    }
    if raw.correlation_id.as_deref() != Some(case_id) {
        problems.push(format!("{at}: correlation_id {:?} is not the case_id", raw.correlation_id));
    }
    let ms = raw.expiration.as_deref().and_then(|e| e.parse::<u64>().ok()).filter(|ms| *ms > 0);
    if ms.is_none_or(|ms| Duration::from_millis(ms) > RETENTION_CAP) {
        problems.push(format!("{at}: expiration {:?}, not 1 ms to 30 days", raw.expiration));
    }
    problems
}

/// The requests' and receipt's checks; `result_chunks` is how many Result chunks were sent.
pub fn check_requester(
    expected: &Expected,
    requests: &[Received],
    receipt: Option<&Received>,
    result_chunks: u32,
) -> Report {
    let mut f = Findings::default();
    let decoded: Vec<(usize, &Received, v1::Request)> = requests
        .iter()
        .enumerate()
        .filter_map(|(n, raw)| match v1::Request::decode(raw.body.as_slice()) {
            Ok(req) => Some((n, raw, req)),
            Err(_) => {
                f.fail(&r::REQUEST_RECEIVED, format!("message #{} is not a protobuf Request", n + 1));
                None
            }
        })
        .collect();
    if decoded.is_empty() {
        f.fail(&r::REQUEST_RECEIVED, "no Request arrived".to_owned());
    }
    let case_id = decoded.first().map(|(_, _, q)| q.case_id.clone()).unwrap_or_default();
    let count = decoded.first().map_or(0, |(_, _, q)| q.chunk_count);
    let mut indexes = BTreeSet::new();
    let mut nirs = BTreeSet::new();
    let mut persons = 0;
    for (n, raw, req) in &decoded {
        let at = format!("request #{} (chunk {})", n + 1, req.chunk_index);
        for p in envelope(expected, raw, "passerelle.v1.Request", &req.case_id, &at) {
            f.fail(&r::REQUEST_PROPERTIES, p);
        }
        let header = |name: &str| raw.headers.get(name).copied();
        let copies = [
            (SCHEMA_VERSION_HEADER, Some(Some(i64::from(req.schema_version)))),
            (CHUNK_INDEX_HEADER, Some(Some(i64::from(req.chunk_index)))),
            (CHUNK_COUNT_HEADER, Some(Some(i64::from(req.chunk_count)))),
        ];
        for (name, want) in copies {
            if header(name) != want {
                f.fail(&r::REQUEST_HEADERS, format!("{at}: header {name} {:?}, field {want:?}", header(name)));
            }
        }
        if header(SCHEMA_MINOR_HEADER).is_some_and(|h| h != Some(i64::from(req.schema_minor))) {
            f.fail(&r::REQUEST_HEADERS, format!("{at}: header {SCHEMA_MINOR_HEADER} disagrees with schema_minor"));
        }
        if req.case_id != case_id || uuid::Uuid::parse_str(&req.case_id).is_err() {
            f.fail(&r::REQUEST_CHUNKS, format!("{at}: a case_id not a UUID, or not the first chunk's"));
        }
        if req.chunk_count != count || req.chunk_index >= count || !indexes.insert(req.chunk_index) {
            f.fail(
                &r::REQUEST_CHUNKS,
                format!("{at}: chunk {}/{} does not fit (or came twice)", req.chunk_index, req.chunk_count),
            );
        }
        fields(&mut f, expected, req, &at);
        for (i, p) in req.persons.iter().enumerate() {
            persons += 1;
            let who = format!("{at}, person #{}", i + 1);
            if !nirs.insert(p.nir.clone()) {
                f.fail(&r::REQUEST_CHUNKS, format!("{who}: sent twice"));
            }
            person(&mut f, expected, p, &who);
        }
    }
    if !decoded.is_empty() && indexes.len() as u32 != count {
        f.fail(&r::REQUEST_RECEIVED, format!("{} of the case's {count} chunks arrived", indexes.len()));
    }
    match receipt {
        None => f.fail(&r::RECEIPT_SENT, "no Receipt arrived after the Result".to_owned()),
        Some(raw) => match v1::Receipt::decode(raw.body.as_slice()) {
            Err(_) => f.fail(&r::RECEIPT_SENT, "the Receipt is not a protobuf Receipt".to_owned()),
            Ok(receipt) => {
                for p in envelope(expected, raw, "passerelle.v1.Receipt", &receipt.case_id, "the Receipt") {
                    f.fail(&r::RECEIPT_SENT, p);
                }
                if receipt.case_id != case_id || receipt.sender != expected.body {
                    f.fail(&r::RECEIPT_SENT, "the Receipt names another case or sender".to_owned());
                }
                if receipt.chunks_received != result_chunks {
                    f.fail(
                        &r::RECEIPT_SENT,
                        format!(
                            "chunks_received {}, but {result_chunks} Result chunks were sent",
                            receipt.chunks_received
                        ),
                    );
                }
            }
        },
    }
    for rule in REQUESTER_RULES {
        f.checked(rule, format!("{} chunks, {persons} persons", decoded.len()));
    }
    f.checked(&r::RECEIPT_SENT, format!("chunks_received = {result_chunks}"));
    f.report(&REQUESTER_RULES)
}

fn fields(f: &mut Findings, expected: &Expected, req: &v1::Request, at: &str) {
    if req.sender != expected.body {
        f.fail(&r::REQUEST_FIELDS, format!("{at}: sender {:?}, not {:?}", req.sender, expected.body));
    }
    if let Some(office) = &expected.office {
        if &req.requester_office != office {
            f.fail(&r::REQUEST_FIELDS, format!("{at}: requester_office {:?}, not {office:?}", req.requester_office));
        }
    }
    if req.observatory != expected.observatory {
        f.fail(&r::REQUEST_FIELDS, format!("{at}: observatory {:?}, not {:?}", req.observatory, expected.observatory));
    }
    if req.wanted.is_empty() || req.wanted.iter().any(|n| catalogue::by_number(*n).is_none()) {
        f.fail(&r::REQUEST_FIELDS, format!("{at}: wanted {:?} is empty or outside the decree", req.wanted));
    }
    let respond_by = req.respond_by.and_then(|t| SystemTime::try_from(t).ok());
    if respond_by.is_none_or(|t| t <= expected.now || t > expected.now + MAX_RESPOND_BY) {
        f.fail(&r::REQUEST_FIELDS, format!("{at}: respond_by absent, past, or beyond 21 days"));
    }
    if req.basis != LegalBasis::Unspecified as i32 && req.basis != LegalBasis::Decree2017334Art3 as i32 {
        f.fail(&r::REQUEST_BASIS, format!("{at}: basis {}", req.basis));
    }
    if OfferedService::try_from(req.service).is_err() || req.service == OfferedService::Unspecified as i32 {
        f.fail(&r::REQUEST_SERVICE, format!("{at}: service {}", req.service));
    }
}

fn person(f: &mut Findings, expected: &Expected, p: &v1::RequestedPerson, who: &str) {
    let nir = Nir::parse(&p.nir);
    let formers_ok = p.former_nirs.iter().all(|n| Nir::parse(n).is_ok());
    let sex_ok = matches!(v1::Sex::try_from(p.sex), Ok(v1::Sex::Male | v1::Sex::Female));
    if nir.is_err() || !formers_ok || !sex_ok || p.birth_year == 0 || p.commune_code.chars().count() != 5 {
        f.fail(
            &r::PERSONS_VALID,
            format!("{who}: a NIR, former NIR, sex, birth_year or commune_code missing or invalid"),
        );
    }
    if let Ok(nir) = &nir {
        if !aged_55(nir, p.birth_year, expected.today) {
            f.fail(
                &r::PERSONS_AGED_55,
                format!("{who}: under {MIN_AGE} on {} by the NIR's month and the birth year", expected.today),
            );
        }
    }
    let known = p.known_risk_factors.clone().unwrap_or_default();
    let outside: Vec<&str> = known
        .present()
        .map(|(c, _)| c)
        .filter(|c| catalogue::info(*c).is_none_or(|i| !i.default_holders.contains(&expected.body.as_str())))
        .map(|c| c.code())
        .collect();
    if !outside.is_empty() {
        f.fail(
            &r::KNOWN_RISK_FACTORS_IN_BRANCH,
            format!("{who}: known {} outside {}'s branch", outside.join(", "), expected.body),
        );
    }
}
