//! The social-service store's schema: its numbered migrations ([`passerelle_sqlite::migrate`]).
//! Step *n* brings a file from `user_version` *n − 1* to *n*; steps are only ever appended.
//!
//! Where the person is: the NIR and the identity only inside `files.file` (the encoded
//! `v1::SocialFile`), and `files.person` (a keyed hash of the NIR, the key in
//! `file-person.key`, so a second acceptance finds the file). Nothing else holds a value of the
//! file: `file_changes` names the field, the agent and the time, never a value.

use passerelle_sqlite::Migration;

/// The store's schema, in order.
pub(super) const MIGRATIONS: &[Migration] = &[Migration::sql("files, history, actions, offers, rights", SCHEMA_V1)];

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
