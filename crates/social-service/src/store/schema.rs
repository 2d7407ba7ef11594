//! The social-service store's schema: its numbered migrations ([`passerelle_sqlite::migrate`]).
//! Step *n* brings a file from `user_version` *n − 1* to *n*; steps are only ever appended.
//!
//! Where the person is: the NIR and the identity only inside `files.file` (the encoded
//! `v1::SocialFile`), and `files.person` (a keyed hash of the NIR, the key in
//! `file-person.key`, so a second acceptance finds the file). Nothing else holds a value of the
//! file: `file_changes` names the field, the agent and the time, never a value.

use passerelle_sqlite::Migration;

/// The store's schema, in order.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration::sql("files, history, actions, offers, rights", SCHEMA_V1),
    Migration::sql("retention: decisions, opposed persons, due-file indexes", SCHEMA_V2),
    Migration::sql("opposed worklist lines", SCHEMA_V3),
];

const SCHEMA_V1: &str = "
CREATE TABLE files (
    id                TEXT PRIMARY KEY,          -- UUID
    office            TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('open', 'closed')),
    opened_at         INTEGER NOT NULL,          -- ms since the epoch
    opened_by         TEXT NOT NULL,             -- agent id
    last_activity_at  INTEGER NOT NULL,
    file              BLOB NOT NULL,             -- encoded v1::SocialFile
    source_case       TEXT,                      -- the decree case the person came from
    source_line       INTEGER,                   -- the selection line in that case
    person            BLOB NOT NULL UNIQUE       -- keyed hash of the NIR (file-person.key)
);
-- An office's list in id order (the list's cursor is the id), of one state or of both.
CREATE INDEX files_by_office_state ON files (office, state, id);
CREATE INDEX files_by_office ON files (office, id);

CREATE TABLE file_changes (
    file   TEXT NOT NULL REFERENCES files (id),
    field  TEXT NOT NULL,                        -- catalogue path, never a value
    kind   TEXT NOT NULL CHECK (kind IN ('update', 'rectification')),
    agent  TEXT NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX file_changes_by_file ON file_changes (file, at);

CREATE TABLE actions (
    id       TEXT PRIMARY KEY,
    file     TEXT NOT NULL REFERENCES files (id),
    purpose  INTEGER NOT NULL,                   -- v1::ActionPurpose
    start    TEXT NOT NULL,                      -- YYYY-MM-DD
    end      TEXT                                -- YYYY-MM-DD, none while open
);
CREATE INDEX actions_by_file ON actions (file, start);
-- At most one open action a file.
CREATE UNIQUE INDEX actions_open ON actions (file) WHERE end IS NULL;

CREATE TABLE contacts (
    action   TEXT NOT NULL REFERENCES actions (id),
    channel  INTEGER NOT NULL,                   -- v1::ContactChannel
    date     TEXT NOT NULL,
    agent    TEXT NOT NULL
);
CREATE INDEX contacts_by_action ON contacts (action);

CREATE TABLE offers (
    id       TEXT PRIMARY KEY,
    office   TEXT NOT NULL,
    kind     INTEGER NOT NULL,                   -- v1::OfferKind
    theme    INTEGER NOT NULL,                   -- v1::OfferTheme
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE offer_participants (
    offer  TEXT NOT NULL REFERENCES offers (id),
    file   TEXT NOT NULL REFERENCES files (id),
    PRIMARY KEY (offer, file)
);
CREATE INDEX offer_participants_by_file ON offer_participants (file);
CREATE TABLE offer_sessions (
    offer    TEXT NOT NULL REFERENCES offers (id),
    session  INTEGER NOT NULL,
    date     TEXT NOT NULL,
    PRIMARY KEY (offer, session)
);
CREATE TABLE session_attendees (
    offer    TEXT NOT NULL,
    session  INTEGER NOT NULL,
    file     TEXT NOT NULL REFERENCES files (id),
    PRIMARY KEY (offer, session, file),
    FOREIGN KEY (offer, session) REFERENCES offer_sessions (offer, session)
);

CREATE TABLE rights_records (
    file      TEXT NOT NULL REFERENCES files (id),
    kind      TEXT NOT NULL CHECK (kind IN ('access', 'rectify', 'object', 'refuse_archive')),
    at        INTEGER NOT NULL,
    agent     TEXT NOT NULL,
    reasons   TEXT,                              -- `object` only: the person's reasons, bounded
    decision  TEXT                               -- `object`: 'pending' until the director decides
);
CREATE INDEX rights_by_file ON rights_records (file, at);
";

/// Migration 2 (issue 24, retention and opposition):
/// - `rights_records` rebuilt **without** its foreign key on `files`: a right exercised on a file
///   that has moved to the archive (a refusal, an objection) is recorded here by the file's id,
///   and the foreign keys are enforced (`passerelle_sqlite` opens with `foreign_keys=ON`). The
///   erasure of a file deletes its records by id. With the director's decision on an objection:
///   `upheld` or `refused`, by whom, when, and the reason of a refusal (bounded, no NIR);
/// - `opposed_persons`: the keyed hash (`file-person.key`) of each person whose objection was
///   upheld, and the date — no NIR: the one trace of an erased file, so that no new offer is
///   made to them;
/// - indexes the retention pass walks: the files by last activity, the ended actions by end;
/// - `retention_pass`: the last pass (its time, the files it flagged), for the metrics.
const SCHEMA_V2: &str = "
CREATE TABLE rights_records_v2 (
    file             TEXT NOT NULL,              -- the file's id, live or archived (no foreign key)
    kind             TEXT NOT NULL CHECK (kind IN ('access', 'rectify', 'object', 'refuse_archive')),
    at               INTEGER NOT NULL,
    agent            TEXT NOT NULL,
    reasons          TEXT,                       -- `object` only: the person's reasons, bounded
    decision         TEXT CHECK (decision IS NULL OR decision IN ('pending', 'upheld', 'refused')),
    decided_by       TEXT,                       -- the director-delegate who decided
    decided_at       INTEGER,
    decision_reason  TEXT                        -- `refused`: why, bounded, no NIR
);
INSERT INTO rights_records_v2 (file, kind, at, agent, reasons, decision)
    SELECT file, kind, at, agent, reasons, decision FROM rights_records ORDER BY rowid;
DROP TABLE rights_records;
ALTER TABLE rights_records_v2 RENAME TO rights_records;
CREATE INDEX rights_by_file ON rights_records (file, at);

CREATE TABLE opposed_persons (
    person  BLOB PRIMARY KEY,                    -- keyed hash of the NIR (file-person.key)
    at      INTEGER NOT NULL                     -- when the objection was upheld
);

CREATE INDEX files_by_activity ON files (last_activity_at, id);
CREATE INDEX actions_by_end ON actions (end, file) WHERE end IS NOT NULL;

CREATE TABLE retention_pass (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    at                 INTEGER,
    flagged_idle       INTEGER NOT NULL,
    waiting_objection  INTEGER NOT NULL
);
";

/// Migration 3 (issue 24, no new offer after an upheld objection): `opposed_lines`, the
/// requester's `(case, line)` of each worklist line the social service showed as an opposed
/// person's — no NIR, no hash — so that an outcome for it is refused before the requester is
/// called; dropped by the retention pass once the case cannot exist any more (24 months).
const SCHEMA_V3: &str = "
CREATE TABLE opposed_lines (
    case_id  TEXT NOT NULL,                      -- the requester's case (UUID)
    line     INTEGER NOT NULL,                   -- the person's selection line in it
    at       INTEGER NOT NULL,                   -- when first shown opposed
    PRIMARY KEY (case_id, line)
) WITHOUT ROWID;
CREATE INDEX opposed_lines_by_at ON opposed_lines (at);
";
