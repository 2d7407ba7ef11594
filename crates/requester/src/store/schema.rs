//! The requester store's schema: its numbered migrations ([`passerelle_sqlite::migrate`]).
//! Step *n* brings a file from `user_version` *n − 1* to *n*; steps are only ever appended.

use passerelle_sqlite::Migration;

/// The store's schema, in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration::sql("submissions, cases, persons, results and refusals", SCHEMA_V1),
    Migration::sql("a person's answers in a row of person_answers", ANSWERS_APART),
    Migration::sql("offer outcomes", OFFER_OUTCOMES),
    Migration::sql("contact-list orders", WORKLIST_ORDERS),
    Migration::sql("the persons' rights: rectifications, answers' arrival, requests seen", RIGHTS),
    Migration::sql("the offered service's code", OFFERED_SERVICE),
];

/// The service offered as a code of the closed list (`OfferedService`, 0 for submissions made
/// before the list: sent as `UNSPECIFIED`); `service` keeps the words, sent as the purpose.
const OFFERED_SERVICE: &str = "
ALTER TABLE submissions ADD COLUMN offered_service INTEGER NOT NULL DEFAULT 0;
";

/// The first schema, as the first builds created it (`IF NOT EXISTS` as they did).
const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    id              TEXT PRIMARY KEY,
    submitted_at    INTEGER NOT NULL,
    purge_after     INTEGER NOT NULL,
    respond_by      INTEGER NOT NULL,
    service         TEXT NOT NULL,
    wanted          TEXT NOT NULL,
    columns         TEXT NOT NULL,
    separator       INTEGER NOT NULL,
    encoding        TEXT NOT NULL,
    out_path        TEXT,
    lines           INTEGER NOT NULL,
    rejected        INTEGER NOT NULL,
    written_at      INTEGER,
    purged_at       INTEGER
);
CREATE TABLE IF NOT EXISTS cases (
    id              TEXT PRIMARY KEY,
    submission_id   TEXT NOT NULL REFERENCES submissions(id),
    observatory     TEXT NOT NULL,
    persons         INTEGER NOT NULL,
    request_chunks  INTEGER NOT NULL,
    state           TEXT NOT NULL,
    submitted_at    INTEGER NOT NULL,
    sent_at         INTEGER,
    settled_at      INTEGER,
    receipt_sent_at INTEGER,
    result_chunks   INTEGER,
    completeness    INTEGER,
    bodies          BLOB,
    case_problems   TEXT,
    refused_persons INTEGER NOT NULL DEFAULT 0,
    purged_at       INTEGER
);
CREATE INDEX IF NOT EXISTS cases_by_submission ON cases(submission_id);
CREATE TABLE IF NOT EXISTS persons (
    id              INTEGER PRIMARY KEY,
    case_id         TEXT NOT NULL REFERENCES cases(id),
    line            INTEGER NOT NULL,
    nir             TEXT NOT NULL,
    former_nirs     TEXT NOT NULL,
    sex             INTEGER NOT NULL,
    birth_year      INTEGER NOT NULL,
    commune_code    TEXT NOT NULL,
    known           BLOB NOT NULL,
    cells           TEXT NOT NULL,
    answers         BLOB,
    refusal         TEXT,
    UNIQUE (case_id, nir)
);
CREATE INDEX IF NOT EXISTS persons_by_case_line ON persons(case_id, line);
CREATE TABLE IF NOT EXISTS result_chunks (
    case_id         TEXT NOT NULL,
    chunk_index     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (case_id, chunk_index)
);
CREATE TABLE IF NOT EXISTS refusals (
    case_id         TEXT NOT NULL,
    request_chunk   INTEGER NOT NULL,
    whole_case      INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    PRIMARY KEY (case_id, request_chunk, whole_case)
);
CREATE TABLE IF NOT EXISTS written_files (
    submission_id   TEXT NOT NULL,
    path            TEXT NOT NULL,
    PRIMARY KEY (submission_id, path)
);
";

/// A person's answers move out of the persons' rows: storing a result chunk appends small rows
/// instead of rewriting the persons' (cells and all). The column goes too, so nothing reads two
/// places and a store has one shape whatever its history.
const ANSWERS_APART: &str = "
-- A result person's answers: the encoded v1::ResultPerson without its NIR (the person row has
-- it), keyed by the person's id. Written once per person and never grown, so storing a result
-- chunk appends small rows instead of rewriting the persons' (cells and all). No foreign key:
-- the purge deletes these rows with their persons, in the same transaction.
CREATE TABLE person_answers (
    person_id       INTEGER PRIMARY KEY,
    answers         BLOB NOT NULL
);
INSERT INTO person_answers (person_id, answers)
    SELECT id, answers FROM persons WHERE answers IS NOT NULL ORDER BY id;
ALTER TABLE persons DROP COLUMN answers;
";

/// The offers' outcomes (decree art. 3, last step), recorded for the social service's workers
/// (`outcomes`): one row per person of a contact list, replaced when recorded again. No foreign
/// key: the purge deletes them with their case's persons, in the same transaction.
const OFFER_OUTCOMES: &str = "
CREATE TABLE offer_outcomes (
    case_id         TEXT NOT NULL,
    line            INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    date            TEXT NOT NULL,
    agent           TEXT NOT NULL,
    recorded_at     INTEGER NOT NULL,
    PRIMARY KEY (case_id, line)
);
";

/// The contact-list order of each listed case, computed once ([`super::worklist`]): a worklist
/// page reads `limit` rows of `worklist_ranks` by `(case, rank)` instead of ranking the case
/// again. A case's rows are written in one transaction in rank order (appended as one run).
/// `worklist_orders` says an order is whole and under which ranking settings (their JSON) it was
/// computed. No foreign key: the purge deletes both with the case's persons, in the same
/// transaction.
const WORKLIST_ORDERS: &str = "
CREATE TABLE worklist_orders (
    case_id         TEXT PRIMARY KEY,
    ranking         TEXT NOT NULL,
    persons         INTEGER NOT NULL
);
CREATE TABLE worklist_ranks (
    case_id         TEXT NOT NULL,
    rank            INTEGER NOT NULL,
    person_id       INTEGER NOT NULL,
    line            INTEGER NOT NULL,
    score           REAL NOT NULL,
    PRIMARY KEY (case_id, rank)
) WITHOUT ROWID;
";

/// The persons' rights (decree art. 6; [`super::rights`]). `person_answers.received_at`: when the
/// result chunk that brought a person's answers was stored (NULL for answers stored before this
/// step: their case's first chunk stands for it). `rectifications`: which value of which
/// person's row a rectification replaced, where (`held`: `selection` for the requester's own
/// risk factors, `received_values` for a body's), from which `source`, by which request and
/// when — one row per value, replaced by a later rectification; no foreign key: the purge
/// deletes them with the case's persons. `rights_requests`: the rights requests already
/// answered (ids only, no personal data), so a redelivery is logged once and answered the same;
/// kept 30 days, the cap of a request.
const RIGHTS: &str = "
ALTER TABLE person_answers ADD COLUMN received_at INTEGER;
CREATE TABLE rectifications (
    case_id         TEXT NOT NULL,
    line            INTEGER NOT NULL,
    category        INTEGER NOT NULL,
    held            TEXT NOT NULL,
    source          TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    rectified_at    INTEGER NOT NULL,
    PRIMARY KEY (case_id, line, category, held, source)
);
CREATE INDEX rectifications_by_request ON rectifications(request_id);
CREATE TABLE rights_requests (
    request_id      TEXT PRIMARY KEY,
    first_seen      INTEGER NOT NULL
);
";
