//! The rules a partner's implementation must follow, each a named item: what it checks and how to
//! fix a failure. The names are stable (tests and partners' scripts match on them); docs/PARTNERS.md
//! states the protocol they come from.

/// One rule of the protocol, as `passerelle conformance` checks it.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable kebab-case name, e.g. `one-answer-per-person`.
    pub name: &'static str,
    /// What is checked, in one sentence.
    pub checks: &'static str,
    /// How to fix a failure, in one sentence.
    pub fix: &'static str,
}

const fn rule(name: &'static str, checks: &'static str, fix: &'static str) -> Rule {
    Rule { name, checks, fix }
}

pub static ALL_CHUNKS_ANSWERED: Rule = rule(
    "all-chunks-answered",
    "every solicitation chunk sent (the reminder and the duplicate included) gets a Response",
    "consume `{prefix}.body.{body}.solicitations`, answer every delivery (ack it only once the Response is confirmed) and publish to `{prefix}.responses`, routing key the observatory's code",
);
pub static ANSWERED_IN_TIME: Rule = rule(
    "answered-in-time",
    "each Response arrives before the solicitation's `respond_by`",
    "answer each chunk as soon as it is looked up; a Response after `respond_by` is not merged (the persons are NO_ANSWER)",
);
pub static DECODABLE: Rule = rule(
    "decodable",
    "the body is a `passerelle.v1.Response` in protobuf binary encoding",
    "encode the Response with the classes generated from proto/passerelle/v1/exchange.proto (protobuf binary, not JSON)",
);
pub static TYPE_PROPERTY: Rule = rule(
    "type-property",
    "the AMQP `type` property is `passerelle.v1.Response`",
    "set the AMQP `type` property to the full protobuf name, `passerelle.v1.Response`",
);
pub static CONTENT_TYPE: Rule = rule(
    "content-type",
    "the AMQP `content_type` property is `application/x-protobuf`",
    "set the AMQP `content_type` property to `application/x-protobuf`",
);
pub static MESSAGE_ID: Rule = rule(
    "message-id",
    "every Response has an AMQP `message_id` of at most 100 characters, a new one for each Response",
    "set the AMQP `message_id` to a fresh UUID for every message you publish",
);
pub static USER_ID: Rule = rule(
    "user-id",
    "the AMQP `user_id` property is set, to the broker login of the partner (--partner-user, when given)",
    "set the AMQP `user_id` property to the user your connection logs in as (RabbitMQ refuses any other)",
);
pub static CORRELATION_ID: Rule = rule(
    "correlation-id",
    "the AMQP `correlation_id` equals the Response's `case_id`",
    "set the AMQP `correlation_id` to the solicitation's `case_id`",
);
pub static EXPIRATION: Rule = rule(
    "expiration",
    "the AMQP `expiration` is set, whole milliseconds, at most the 30-day cap",
    "set the AMQP `expiration` (milliseconds, as text) to the time left until `respond_by` plus a day, never more than 30 days",
);
pub static SCHEMA_VERSION: Rule = rule(
    "schema-version",
    "the `schema_version` field is 1 and the header `x-passerelle-schema-version` equals it",
    "set `schema_version = SCHEMA_VERSION_1` and the integer header `x-passerelle-schema-version` = 1",
);
pub static SCHEMA_MINOR: Rule = rule(
    "schema-minor",
    "the header `x-passerelle-schema-minor`, when present, equals the `schema_minor` field (15)",
    "set `schema_minor` to the minor you speak and the integer header `x-passerelle-schema-minor` to the same number",
);
pub static CHUNK_HEADERS: Rule = rule(
    "chunk-headers",
    "the headers `x-passerelle-chunk-index` and `x-passerelle-chunk-count` equal the fields",
    "set the integer headers `x-passerelle-chunk-index` and `x-passerelle-chunk-count` to the Response's `chunk_index` and `chunk_count`",
);
pub static SENDER: Rule = rule(
    "sender",
    "the Response's `sender` is the body's code",
    "set `sender` to your body code (the one the solicitation's `body` names)",
);
pub static ANSWERS_THE_CHUNK: Rule = rule(
    "answers-the-chunk",
    "`case_id`, `solicitation_id`, `chunk_index` and `chunk_count` repeat those of a solicitation chunk sent",
    "copy `case_id`, `solicitation_id`, `chunk_index` and `chunk_count` from the solicitation you answer",
);
pub static ONE_ANSWER_PER_PERSON: Rule = rule(
    "one-answer-per-person",
    "every person of the chunk has an answer, FOUND or NOT_FOUND",
    "answer every `person_ref` of the chunk, NOT_FOUND when you do not know the person (a person left out is MISSING, a violation)",
);
pub static NO_PERSON_TWICE: Rule = rule(
    "no-person-twice",
    "no `person_ref` is answered twice in a Response",
    "answer each person of the chunk once (a Response with a person twice is refused as faulty)",
);
pub static NO_PERSON_OUTSIDE_CHUNK: Rule = rule(
    "no-person-outside-chunk",
    "every answered `person_ref` is one of the chunk's",
    "answer only the `person_ref`s of the chunk you answer, copied from its persons",
);
pub static STATUS: Rule = rule(
    "status",
    "each answer is FOUND (with values) or NOT_FOUND (without values)",
    "use PERSON_STATUS_FOUND or PERSON_STATUS_NOT_FOUND only (NO_ANSWER and MISSING are the observatory's), and no values when not found",
);
pub static FOUND_BY_CURRENT_NIR: Rule = rule(
    "found-by-current-nir",
    "a person of the extract solicited by their current NIR is FOUND; a person not in it is NOT_FOUND",
    "look the person up by the solicitation's `nir` among your persons' current NIRs",
);
pub static CURRENT_NIR_FIRST: Rule = rule(
    "current-nir-first",
    "when the solicitation's current NIR and one of its former NIRs name two persons, the current one's answer is given",
    "try the solicitation's `nir` first, then each of its `former_nirs` in order; the first person whose identity agrees wins",
);
pub static FORMER_NIR_MATCHED: Rule = rule(
    "former-nir-matched",
    "a person known under a former NIR (yours, or the solicitation's `former_nirs`) is FOUND",
    "match each of the solicitation's NIRs (`nir`, then `former_nirs`) against your persons' current and former NIRs",
);
pub static IDENTITY_MISMATCH_NOT_FOUND: Rule = rule(
    "identity-mismatch-not-found",
    "a person whose NIR matches but whose known sex or birth year disagrees is NOT_FOUND",
    "after a NIR matches, compare sex and birth year when both sides know them; a disagreement is not that person (try the next NIR, else NOT_FOUND)",
);
pub static VALUES_ONLY_ASKED_AND_HELD: Rule = rule(
    "values-only-asked-and-held",
    "values are given only for categories both asked in the solicitation's `wanted` and held by the body",
    "filter every answer's values to the categories asked AND held; never send what was not asked",
);
pub static VALUES_DECODABLE: Rule = rule(
    "values-decodable",
    "every value is a value of its category's syntax (known enum numbers, real dates)",
    "write values with the generated CategoryValues fields: known FamilySituation and TreatmentMode numbers, valid dates",
);
pub static VALUES_MATCH_EXTRACT: Rule = rule(
    "values-match-extract",
    "a found person's values are exactly those of the extract for the categories asked and held",
    "answer every asked and held category the extract gives for the person (an empty cell is unknown: no value)",
);
pub static DECLINES_NOT_HELD: Rule = rule(
    "declines-not-held",
    "each asked category of the decree the body does not hold is declined NOT_HELD, and no held one is declined",
    "add a Decline{category, DECLINE_REASON_NOT_HELD} for each asked category you do not hold, the same on every chunk",
);
pub static DECLINES_NOT_IN_DECREE: Rule = rule(
    "declines-not-in-decree",
    "an asked category number outside art. 2, 2° to 7° is declined NOT_IN_DECREE",
    "add a Decline{category: the number as asked, DECLINE_REASON_NOT_IN_DECREE} for a number that is no Category of the schema",
);
pub static REMINDER_ANSWERED: Rule = rule(
    "reminder-answered",
    "a reminder (`reminder = true`, a chunk sent again) is answered again, in full",
    "answer every delivery of a chunk, a reminder or a chunk seen before included, with a full Response",
);
pub static DUPLICATE_ANSWERED: Rule = rule(
    "duplicate-answered",
    "the same message delivered twice (same `message_id`) is answered again, in full",
    "do not drop a delivery as a duplicate: answer it again in full (the observatory keeps the first valid Response)",
);

/// The rules of `conformance responder`, in the report's order.
pub static RESPONDER_RULES: [&Rule; 29] = [
    &ALL_CHUNKS_ANSWERED,
    &ANSWERED_IN_TIME,
    &DECODABLE,
    &TYPE_PROPERTY,
    &CONTENT_TYPE,
    &MESSAGE_ID,
    &USER_ID,
    &CORRELATION_ID,
    &EXPIRATION,
    &SCHEMA_VERSION,
    &SCHEMA_MINOR,
    &CHUNK_HEADERS,
    &SENDER,
    &ANSWERS_THE_CHUNK,
    &ONE_ANSWER_PER_PERSON,
    &NO_PERSON_TWICE,
    &NO_PERSON_OUTSIDE_CHUNK,
    &STATUS,
    &FOUND_BY_CURRENT_NIR,
    &CURRENT_NIR_FIRST,
    &FORMER_NIR_MATCHED,
    &IDENTITY_MISMATCH_NOT_FOUND,
    &VALUES_ONLY_ASKED_AND_HELD,
    &VALUES_DECODABLE,
    &VALUES_MATCH_EXTRACT,
    &DECLINES_NOT_HELD,
    &DECLINES_NOT_IN_DECREE,
    &REMINDER_ANSWERED,
    &DUPLICATE_ANSWERED,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case_and_every_rule_says_how_to_fix_it() {
        let names: Vec<&str> = RESPONDER_RULES.iter().map(|r| r.name).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "unique names");
        for r in RESPONDER_RULES {
            assert!(r.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{}", r.name);
            assert!(!r.checks.is_empty() && !r.fix.is_empty(), "{}", r.name);
        }
    }
}
