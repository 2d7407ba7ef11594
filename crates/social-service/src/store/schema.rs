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
    Migration::sql("transfers between bodies: sent, received, chunks, releases, outbox", SCHEMA_V4),
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

/// Migration 4 (issue 25, a file's transfer to the insured's new body, norm 43 A.3):
/// - `files.frozen_by`: the transfer that froze the file (no new action, contact or offer while
///   it is sent and once it is accepted), NULL otherwise; `files.origin`: `BODY/OFFICE` of the
///   social service a received file came from, NULL for a file opened here;
/// - `transfers_out`: the transfers this office sent — no value of the file: ids, addresses,
///   agents, state, the withheld items' codes;
/// - `transfer_releases`: the items (medical opinions) released for a file's next transfer to a
///   party, consumed by that transfer; erased with the file;
/// - `transfers_in`: the transfers sent to this office, with the encoded receipt re-sent when the
///   transfer is delivered again; `transfer_chunks`: the received chunks (personal data), deleted
///   once the transfer is decided, and with the file;
/// - `outbox`: the messages committed with the state they come from and not yet confirmed by the
///   broker (a transfer's chunks hold personal data until published).
const SCHEMA_V4: &str = "
ALTER TABLE files ADD COLUMN frozen_by TEXT;     -- the transfer id that froze it
ALTER TABLE files ADD COLUMN origin TEXT;        -- BODY/OFFICE of a received file

CREATE TABLE transfers_out (
    id                      TEXT PRIMARY KEY,    -- UUID v7: the list's order
    file                    TEXT NOT NULL,       -- no foreign key: kept (no value) once the file is erased
    to_body                 TEXT NOT NULL,
    to_office               TEXT NOT NULL,
    state                   TEXT NOT NULL CHECK (state IN ('sending', 'sent', 'accepted', 'refused')),
    sent_at                 INTEGER NOT NULL,
    requested_by            TEXT NOT NULL,
    medical_released_by     TEXT,
    assessment_released_by  TEXT,
    withheld                TEXT NOT NULL DEFAULT '',   -- item codes, comma-separated
    decided_at              INTEGER,
    refusal                 TEXT,                -- a refusal's code
    amendments              INTEGER NOT NULL DEFAULT 0,  -- amendments queued
    amendments_applied      INTEGER NOT NULL DEFAULT 0   -- amendments the receiver confirmed
);
CREATE INDEX transfers_out_by_file ON transfers_out (file, id);
CREATE INDEX transfers_out_by_state ON transfers_out (state, sent_at);

CREATE TABLE transfer_releases (
    file      TEXT NOT NULL,
    to_party  TEXT NOT NULL,                     -- body.office
    item      TEXT NOT NULL,                     -- medical-opinions
    agent     TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (file, to_party, item)
) WITHOUT ROWID;

CREATE TABLE transfers_in (
    id           TEXT PRIMARY KEY,               -- the sender's transfer id
    from_party   TEXT NOT NULL,                  -- body.office
    to_party     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('receiving', 'awaiting_attachment', 'accepted', 'refused')),
    received_at  INTEGER NOT NULL,
    sent_at      INTEGER NOT NULL,
    chunk_count  INTEGER NOT NULL,
    withheld     TEXT NOT NULL DEFAULT '',
    file         TEXT,                           -- the imported file
    decided_by   TEXT,
    decided_at   INTEGER,
    refusal      TEXT,
    amendments   INTEGER NOT NULL DEFAULT 0,     -- amendments applied
    receipt      BLOB                            -- the encoded receipt, re-sent on a redelivery
);
CREATE INDEX transfers_in_by_state ON transfers_in (state, received_at);
CREATE INDEX transfers_in_by_file ON transfers_in (file) WHERE file IS NOT NULL;

CREATE TABLE transfer_chunks (
    transfer  TEXT NOT NULL,
    idx       INTEGER NOT NULL,
    chunk     BLOB NOT NULL,                     -- the encoded v1::Transfer: personal data
    PRIMARY KEY (transfer, idx)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,                  -- the protobuf type name
    routing_key  TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    transfer     TEXT NOT NULL,                  -- the transfer it belongs to
    expires_at   INTEGER NOT NULL,
    payload      BLOB NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX outbox_by_transfer ON outbox (transfer, kind);
";
