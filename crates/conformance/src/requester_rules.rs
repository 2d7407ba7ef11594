//! The rules of `conformance requester`: what a requester's Request and Receipt must be.

use crate::rules::Rule;

const fn rule(name: &'static str, checks: &'static str, fix: &'static str) -> Rule {
    Rule { name, checks, fix }
}

pub static REQUEST_RECEIVED: Rule = rule(
    "request-received",
    "a Request arrives on `{prefix}.observatory.{observatory}.requests` in time, every chunk of its case",
    "publish every chunk to the exchange `{prefix}.requests`, routing key the observatory's code, with publisher confirms",
);
pub static REQUEST_PROPERTIES: Rule = rule(
    "request-properties",
    "`type` `passerelle.v1.Request`, `content_type` `application/x-protobuf`, a fresh `message_id`, `user_id`, `correlation_id` = `case_id`, `expiration` within 30 days",
    "set every AMQP property of docs/PARTNERS.md on each chunk (`correlation_id` = the case id, `expiration` in milliseconds)",
);
pub static REQUEST_HEADERS: Rule = rule(
    "request-headers",
    "the headers `x-passerelle-schema-version`, `x-passerelle-chunk-index`, `x-passerelle-chunk-count` (and `x-passerelle-schema-minor` when present) equal the fields",
    "set the integer headers to the same values as the fields they copy",
);
pub static REQUEST_CHUNKS: Rule = rule(
    "request-chunks",
    "every chunk has the same `case_id` (a UUID) and `chunk_count`, each index once, no person in two chunks",
    "split the selection once: chunk_index 0..count-1, the same chunk_count and case_id (a UUID) on each, each person in one chunk",
);
pub static REQUEST_FIELDS: Rule = rule(
    "request-fields",
    "`sender` is the body, `requester_office` the office, `observatory` the addressee, `wanted` categories of the decree, `respond_by` within 21 days",
    "fill sender, requester_office, observatory, wanted (art. 2, 2° to 7°, at least one) and respond_by (at most 21 days ahead)",
);
pub static REQUEST_BASIS: Rule = rule(
    "request-basis",
    "`basis` is LEGAL_BASIS_DECREE_2017_334_ART_3 (or unspecified)",
    "set basis = LEGAL_BASIS_DECREE_2017_334_ART_3",
);
pub static REQUEST_SERVICE: Rule = rule(
    "request-service",
    "`service` is a code of the closed list OfferedService, not UNSPECIFIED",
    "set service to the OfferedService code of the service you offer (OTHER, with purpose, when none fits)",
);
pub static PERSONS_VALID: Rule = rule(
    "persons-valid",
    "each person has a valid NIR (and valid former NIRs), a sex, a birth year and a 5-character commune code",
    "check each person before sending (`passerelle requester check` does): valid NIR keys, sex, birth_year, commune_code",
);
pub static PERSONS_AGED_55: Rule = rule(
    "persons-aged-55",
    "no person is under 55 at the submission date, to the month the NIR gives (December when it gives none)",
    "leave out persons under 55 today in Paris: take each as born on the last day of the NIR's month (positions 4–5; 31–42 minus 30; December when it gives none) of the birth year",
);
pub static KNOWN_RISK_FACTORS_IN_BRANCH: Rule = rule(
    "known-risk-factors-in-branch",
    "the known risk factors sent are categories the requester's own branch holds (decree art. 3)",
    "send as known only the categories of your branch's domain (README, the categories table's `holds`)",
);
pub static RECEIPT_SENT: Rule = rule(
    "receipt-sent",
    "after every Result chunk, a Receipt arrives for the case with `chunks_received` = the chunk count, its properties set",
    "once every Result chunk is stored, publish a Receipt (sender, case_id, chunks_received) to `{prefix}.requests`",
);

/// The rules of `conformance requester`, in the report's order.
pub static REQUESTER_RULES: [&Rule; 11] = [
    &REQUEST_RECEIVED,
    &REQUEST_PROPERTIES,
    &REQUEST_HEADERS,
    &REQUEST_CHUNKS,
    &REQUEST_FIELDS,
    &REQUEST_BASIS,
    &REQUEST_SERVICE,
    &PERSONS_VALID,
    &PERSONS_AGED_55,
    &KNOWN_RISK_FACTORS_IN_BRANCH,
    &RECEIPT_SENT,
];
