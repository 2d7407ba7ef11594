//! The pure checks of `conformance responder`: what was sent ([`Sent`]) and what came back
//! ([`Received`], as raw AMQP properties, headers and body) become one [`Finding`] per rule.
//! Problems name a response by its number and chunk and a person by its `person_ref`, never a NIR.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime};

use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{self, Category, CategoryValues, DeclineReason, PersonStatus};
use prost::Message as _;

use crate::population::{Case, Population};
use crate::rules::{self as r, Rule};
use crate::{Finding, Report};

/// The AMQP `type` of a response.
pub const RESPONSE_TYPE: &str = "passerelle.v1.Response";
/// The AMQP `content_type` of every message.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// The longest `message_id` a receiver takes.
pub const MAX_MESSAGE_ID: usize = 100;
/// The broker copy of any message of a case never outlives 30 days.
pub const RETENTION_CAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// The headers that copy fields.
pub const SCHEMA_VERSION_HEADER: &str = "x-passerelle-schema-version";
pub const SCHEMA_MINOR_HEADER: &str = "x-passerelle-schema-minor";
pub const CHUNK_INDEX_HEADER: &str = "x-passerelle-chunk-index";
pub const CHUNK_COUNT_HEADER: &str = "x-passerelle-chunk-count";

/// What the run sent: one solicitation (its chunks), and which chunk was sent again how.
#[derive(Debug, Clone)]
pub struct Sent {
    pub body: String,
    pub chunks: Vec<v1::Solicitation>,
    pub respond_by: SystemTime,
    /// The chunk sent again with `reminder = true`.
    pub reminder_chunk: u32,
    /// The chunk delivered twice, the same message (same `message_id`).
    pub duplicate_chunk: u32,
    /// Each `person_ref` → the index of its [`crate::population::TestPerson`].
    pub person_of_ref: BTreeMap<u64, usize>,
    /// The broker user the partner must publish as (`--partner-user`), when known.
    pub partner_user: Option<String>,
}

impl Sent {
    fn case_id(&self) -> &str {
        &self.chunks[0].case_id
    }
    fn solicitation_id(&self) -> &str {
        &self.chunks[0].solicitation_id
    }
    fn wanted(&self) -> &[i32] {
        &self.chunks[0].wanted
    }
}

/// A message read off the observatory's responses queue, before any check.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub type_name: Option<String>,
    pub content_type: Option<String>,
    pub message_id: Option<String>,
    pub user_id: Option<String>,
    pub correlation_id: Option<String>,
    pub expiration: Option<String>,
    /// Every header: its integer value, `None` when it is not an integer.
    pub headers: BTreeMap<String, Option<i64>>,
    pub body: Vec<u8>,
    pub arrived: SystemTime,
}

/// Problems found so far, by rule name; what each rule checked.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    problems: BTreeMap<&'static str, Vec<String>>,
    checked: BTreeMap<&'static str, String>,
}

impl Findings {
    pub(crate) fn fail(&mut self, rule: &Rule, problem: String) {
        self.problems.entry(rule.name).or_default().push(problem);
    }
    pub(crate) fn checked(&mut self, rule: &Rule, what: String) {
        self.checked.insert(rule.name, what);
    }
    pub(crate) fn report(mut self, rules: &[&'static Rule]) -> Report {
        let findings = rules
            .iter()
            .map(|rule| Finding {
                rule,
                problems: self.problems.remove(rule.name).unwrap_or_default(),
                checked: self.checked.remove(rule.name).unwrap_or_else(|| "checked".to_owned()),
            })
            .collect();
        Report { findings }
    }
}

fn status_name(status: i32) -> String {
    PersonStatus::try_from(status).map_or_else(|_| format!("status {status}"), |s| s.as_str_name().to_owned())
}

/// Checks every response against what was sent and what the population says.
pub fn check_responses(sent: &Sent, received: &[Received], population: &Population) -> Report {
    let mut f = Findings::default();
    let held: BTreeSet<i32> = population.held.iter().map(|c| *c as i32).collect();
    let asked_and_held: Vec<Category> =
        sent.wanted().iter().filter(|n| held.contains(n)).filter_map(|n| Category::try_from(*n).ok()).collect();
    let mut full_answers: BTreeMap<u32, usize> = BTreeMap::new();
    let mut answered: BTreeMap<u32, usize> = BTreeMap::new();
    let mut message_ids: BTreeSet<&str> = BTreeSet::new();
    for (n, raw) in received.iter().enumerate() {
        let at = format!("response #{}", n + 1);
        envelope(&mut f, sent, raw, &at, &mut message_ids);
        let Ok(response) = v1::Response::decode(raw.body.as_slice()) else {
            f.fail(&r::DECODABLE, format!("{at} is not a protobuf Response"));
            continue;
        };
        let at = format!("{at} (chunk {})", response.chunk_index);
        fields(&mut f, sent, raw, &response, &at);
        let chunk = sent.chunks.get(response.chunk_index as usize).filter(|c| {
            response.case_id == sent.case_id()
                && response.solicitation_id == sent.solicitation_id()
                && response.chunk_count == c.chunk_count
        });
        let Some(chunk) = chunk else {
            f.fail(&r::ANSWERS_THE_CHUNK, format!("{at} names no chunk sent (case, solicitation, index or count)"));
            continue;
        };
        *answered.entry(chunk.chunk_index).or_default() += 1;
        if persons(&mut f, sent, &response, chunk, population, &asked_and_held, &at) {
            *full_answers.entry(chunk.chunk_index).or_default() += 1;
        }
        declines(&mut f, sent, &response, &held, &at);
        if raw.arrived > sent.respond_by {
            f.fail(&r::ANSWERED_IN_TIME, format!("{at} arrived after respond_by"));
        }
    }
    for chunk in &sent.chunks {
        if answered.get(&chunk.chunk_index).copied().unwrap_or(0) == 0 {
            f.fail(&r::ALL_CHUNKS_ANSWERED, format!("chunk {} got no Response", chunk.chunk_index));
        }
    }
    for (rule, index, what) in [
        (&r::REMINDER_ANSWERED, sent.reminder_chunk, "reminder"),
        (&r::DUPLICATE_ANSWERED, sent.duplicate_chunk, "duplicate"),
    ] {
        let full = full_answers.get(&index).copied().unwrap_or(0);
        if full < 2 {
            f.fail(
                rule,
                format!(
                    "chunk {index} was delivered twice (the second a {what}) and got {full} full Response(s), not 2"
                ),
            );
        } else {
            f.checked(rule, format!("chunk {index} answered in full twice"));
        }
    }
    let count = received.len();
    f.checked(&r::ALL_CHUNKS_ANSWERED, format!("{} chunks, {count} responses", sent.chunks.len()));
    for rule in [&r::DECODABLE, &r::TYPE_PROPERTY, &r::CONTENT_TYPE, &r::MESSAGE_ID, &r::USER_ID, &r::CORRELATION_ID]
        .into_iter()
        .chain([
            &r::EXPIRATION,
            &r::SCHEMA_VERSION,
            &r::SCHEMA_MINOR,
            &r::CHUNK_HEADERS,
            &r::SENDER,
            &r::ANSWERS_THE_CHUNK,
        ])
        .chain([&r::ANSWERED_IN_TIME, &r::DECLINES_NOT_HELD, &r::DECLINES_NOT_IN_DECREE])
    {
        f.checked(rule, format!("{count} responses"));
    }
    let not_held = sent.wanted().iter().filter(|n| catalogue::by_number(**n).is_some() && !held.contains(n)).count();
    if not_held == 0 {
        f.checked(&r::DECLINES_NOT_HELD, "nothing to decline: the body holds every category".to_owned());
    }
    let solicited = sent.person_of_ref.len();
    for rule in [&r::ONE_ANSWER_PER_PERSON, &r::NO_PERSON_TWICE, &r::NO_PERSON_OUTSIDE_CHUNK, &r::STATUS] {
        f.checked(rule, format!("{solicited} persons in {} chunks", sent.chunks.len()));
    }
    for (rule, case) in [
        (&r::FOUND_BY_CURRENT_NIR, "persons known and unknown"),
        (&r::CURRENT_NIR_FIRST, "a NIR and a former NIR of two persons"),
        (&r::FORMER_NIR_MATCHED, "former NIRs in the solicitation and in the extract"),
        (&r::IDENTITY_MISMATCH_NOT_FOUND, "a sex and a birth year that disagree"),
        (&r::VALUES_ONLY_ASKED_AND_HELD, "every value answered"),
        (&r::VALUES_DECODABLE, "every value answered"),
        (&r::VALUES_MATCH_EXTRACT, "every found person's values"),
    ] {
        f.checked(rule, case.to_owned());
    }
    f.report(&r::RESPONDER_RULES)
}

/// The AMQP properties, before the body is decoded.
fn envelope<'a>(f: &mut Findings, sent: &Sent, raw: &'a Received, at: &str, ids: &mut BTreeSet<&'a str>) {
    if raw.type_name.as_deref() != Some(RESPONSE_TYPE) {
        f.fail(&r::TYPE_PROPERTY, format!("{at}: type {:?}", raw.type_name));
    }
    if raw.content_type.as_deref() != Some(CONTENT_TYPE) {
        f.fail(&r::CONTENT_TYPE, format!("{at}: content_type {:?}", raw.content_type));
    }
    match raw.message_id.as_deref() {
        None | Some("") => f.fail(&r::MESSAGE_ID, format!("{at}: no message_id")),
        Some(id) if id.chars().count() > MAX_MESSAGE_ID => {
            f.fail(&r::MESSAGE_ID, format!("{at}: a message_id over {MAX_MESSAGE_ID} characters"))
        }
        Some(id) if !ids.insert(id) => f.fail(&r::MESSAGE_ID, format!("{at}: a message_id already used")),
        Some(_) => {}
    }
    match (raw.user_id.as_deref(), sent.partner_user.as_deref()) {
        (None | Some(""), _) => f.fail(&r::USER_ID, format!("{at}: no user_id")),
        (Some(user), Some(expected)) if user != expected => {
            f.fail(&r::USER_ID, format!("{at}: user_id {user:?}, not {expected:?}"))
        }
        _ => {}
    }
    let ms = raw.expiration.as_deref().and_then(|e| e.parse::<u64>().ok());
    match ms {
        None => f.fail(&r::EXPIRATION, format!("{at}: expiration {:?} is not whole milliseconds", raw.expiration)),
        Some(0) => f.fail(&r::EXPIRATION, format!("{at}: expiration 0")),
        Some(ms) if Duration::from_millis(ms) > RETENTION_CAP => {
            f.fail(&r::EXPIRATION, format!("{at}: expiration {ms} ms, beyond the 30-day cap"))
        }
        Some(_) => {}
    }
}

/// The fields against their copies (headers, `correlation_id`) and the sender.
fn fields(f: &mut Findings, sent: &Sent, raw: &Received, response: &v1::Response, at: &str) {
    let header = |name: &str| raw.headers.get(name).copied();
    if raw.correlation_id.as_deref() != Some(response.case_id.as_str()) {
        f.fail(&r::CORRELATION_ID, format!("{at}: correlation_id {:?} is not the case_id", raw.correlation_id));
    }
    let version = i64::from(response.schema_version);
    if version != 1 || header(SCHEMA_VERSION_HEADER) != Some(Some(version)) {
        let shown = header(SCHEMA_VERSION_HEADER).map_or("absent".to_owned(), |h| format!("{h:?}"));
        f.fail(&r::SCHEMA_VERSION, format!("{at}: field {version}, header {shown}"));
    }
    if let Some(minor) = header(SCHEMA_MINOR_HEADER) {
        if minor != Some(i64::from(response.schema_minor)) {
            f.fail(&r::SCHEMA_MINOR, format!("{at}: header {minor:?}, field {}", response.schema_minor));
        }
    }
    let chunk = (header(CHUNK_INDEX_HEADER), header(CHUNK_COUNT_HEADER));
    if chunk != (Some(Some(i64::from(response.chunk_index))), Some(Some(i64::from(response.chunk_count)))) {
        f.fail(
            &r::CHUNK_HEADERS,
            format!("{at}: headers {chunk:?}, fields {}/{}", response.chunk_index, response.chunk_count),
        );
    }
    if response.sender != sent.body {
        f.fail(&r::SENDER, format!("{at}: sender {:?}, not {:?}", response.sender, sent.body));
    }
}

/// The persons of a response against its chunk; whether it answers every person of the chunk.
fn persons(
    f: &mut Findings,
    sent: &Sent,
    response: &v1::Response,
    chunk: &v1::Solicitation,
    population: &Population,
    asked_and_held: &[Category],
    at: &str,
) -> bool {
    let in_chunk: BTreeSet<u64> = chunk.persons.iter().map(|p| p.person_ref).collect();
    let mut seen = BTreeSet::new();
    for answer in &response.answers {
        let who = format!("{at}, person_ref {}", answer.person_ref);
        if !in_chunk.contains(&answer.person_ref) {
            f.fail(&r::NO_PERSON_OUTSIDE_CHUNK, format!("{who} is not in the chunk"));
            continue;
        }
        if !seen.insert(answer.person_ref) {
            f.fail(&r::NO_PERSON_TWICE, format!("{who} answered twice"));
            continue;
        }
        let values = answer.values.clone().unwrap_or_default();
        let found = answer.status == PersonStatus::Found as i32;
        if !found && answer.status != PersonStatus::NotFound as i32 {
            f.fail(&r::STATUS, format!("{who}: {}", status_name(answer.status)));
        } else if !found && !values.is_empty() {
            f.fail(&r::STATUS, format!("{who}: NOT_FOUND with values"));
        }
        let extra: Vec<&str> =
            values.present().map(|(c, _)| c).filter(|c| !asked_and_held.contains(c)).map(|c| c.code()).collect();
        if !extra.is_empty() {
            f.fail(&r::VALUES_ONLY_ASKED_AND_HELD, format!("{who}: values of {}", extra.join(", ")));
        }
        if let Err(e) = values.check_values() {
            f.fail(&r::VALUES_DECODABLE, format!("{who}: {e}"));
        }
        let Some(test) = sent.person_of_ref.get(&answer.person_ref).map(|i| &population.persons[*i]) else { continue };
        let expected = |row: usize| {
            let mut v: CategoryValues = population.rows[row].values.clone();
            v.retain(|c| asked_and_held.contains(&c));
            v
        };
        let mut given = values.clone();
        given.retain(|c| asked_and_held.contains(&c));
        let rule = match test.case {
            Case::Known | Case::Unknown => &r::FOUND_BY_CURRENT_NIR,
            Case::FormerInSolicitation | Case::FormerInExtract => &r::FORMER_NIR_MATCHED,
            Case::CurrentFirst => &r::CURRENT_NIR_FIRST,
            Case::SexMismatch | Case::YearMismatch => &r::IDENTITY_MISMATCH_NOT_FOUND,
        };
        match (test.found, found) {
            (Some(_), false) => f.fail(rule, format!("{who} ({:?}) answered NOT_FOUND, expected FOUND", test.case)),
            (None, true) => f.fail(rule, format!("{who} ({:?}) answered FOUND, expected NOT_FOUND", test.case)),
            (Some(row), true) if given != expected(row) => {
                if test.other.is_some_and(|other| given == expected(other)) {
                    f.fail(rule, format!("{who}: the former NIR's person was answered, not the current NIR's"));
                } else {
                    let differ: Vec<&str> = asked_and_held
                        .iter()
                        .filter(|c| given.get(**c) != expected(row).get(**c))
                        .map(|c| c.code())
                        .collect();
                    f.fail(&r::VALUES_MATCH_EXTRACT, format!("{who}: {} differ from the extract", differ.join(", ")));
                }
            }
            _ => {}
        }
    }
    let missing = in_chunk.difference(&seen).count();
    if missing > 0 {
        f.fail(
            &r::ONE_ANSWER_PER_PERSON,
            format!("{at}: {missing} of the chunk's {} persons not answered", in_chunk.len()),
        );
    }
    missing == 0
}

/// The declines of a response against what was asked and what the body holds.
fn declines(f: &mut Findings, sent: &Sent, response: &v1::Response, held: &BTreeSet<i32>, at: &str) {
    let reason_of = |category: i32| response.declined.iter().find(|d| d.category == category).map(|d| d.reason);
    for &number in sent.wanted() {
        let reason = reason_of(number);
        let name = catalogue::by_number(number).map_or_else(|| format!("category {number}"), |i| i.code.to_owned());
        if catalogue::by_number(number).is_none() {
            if reason != Some(DeclineReason::NotInDecree as i32) {
                f.fail(&r::DECLINES_NOT_IN_DECREE, format!("{at}: {name} not declined NOT_IN_DECREE ({reason:?})"));
            }
        } else if !held.contains(&number) {
            if reason != Some(DeclineReason::NotHeld as i32) {
                f.fail(&r::DECLINES_NOT_HELD, format!("{at}: {name}, not held, not declined NOT_HELD ({reason:?})"));
            }
        } else if let Some(reason) = reason {
            f.fail(
                &r::DECLINES_NOT_HELD,
                format!("{at}: {name}, held, declined (reason {reason}); run with --holds as configured"),
            );
        }
    }
}
