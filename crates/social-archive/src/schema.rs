//! The archive's schema: its numbered migrations ([`passerelle_sqlite::migrate`]). Step *n*
//! brings a file from `user_version` *n − 1* to *n*; steps are only ever appended.
//!
//! Where the person is: the NIR and the identity only inside `archived.file` (the encoded
//! `v1::SocialFile`), and `archived.person` (the live store's keyed hash of the NIR). Grants
//! and reads hold agent ids, file ids, times and purposes, never a value of a file.

use passerelle_sqlite::Migration;

/// The archive's schema, in order.
pub(crate) const MIGRATIONS: &[Migration] = &[Migration::sql("archived files, grants, reads", SCHEMA_V1)];

const SCHEMA_V1: &str = "
CREATE TABLE archived (
    id               TEXT PRIMARY KEY,          -- the file's id in the live store
    office           TEXT NOT NULL,
    opened_at        INTEGER NOT NULL,          -- ms since the epoch
    entered_at       INTEGER NOT NULL,
    delete_at        INTEGER NOT NULL,          -- at most 3 years after entered_at
    retention_start  TEXT NOT NULL,             -- YYYY-MM-DD: where the 18 months started
    file             BLOB NOT NULL,             -- encoded v1::SocialFile
    person           BLOB NOT NULL              -- the live store's keyed hash of the NIR
);
CREATE INDEX archived_by_delete_at ON archived (delete_at);

CREATE TABLE archived_actions (
    file    TEXT NOT NULL REFERENCES archived (id) ON DELETE CASCADE,
    n       INTEGER NOT NULL,                   -- its order in the file
    action  BLOB NOT NULL,                      -- encoded v1::Action, offer ids left behind
    PRIMARY KEY (file, n)
);

-- An archive-reader's grant: valid once a director-delegate and a medical-officer, two
-- distinct agents, have each signed it (the rule is grant::signed; the CHECK its last guard).
CREATE TABLE grants (
    id            TEXT PRIMARY KEY,             -- UUID
    reader        TEXT NOT NULL,                -- the archive-reader's agent id
    created_at    INTEGER NOT NULL,
    until         INTEGER NOT NULL,
    director      TEXT,                         -- the director-delegate who signed
    director_at   INTEGER,
    medical       TEXT,                         -- the medical-officer who signed
    medical_at    INTEGER,
    revoked_at    INTEGER,
    revoked_by    TEXT,
    CHECK (director IS NULL OR medical IS NULL OR director <> medical),
    CHECK ((director IS NULL) = (director_at IS NULL) AND (medical IS NULL) = (medical_at IS NULL))
);
CREATE INDEX grants_by_reader ON grants (reader);

-- Each read: who, when, under which grant, which file (or 'list'), for which purpose.
CREATE TABLE reads (
    at        INTEGER NOT NULL,
    reader    TEXT NOT NULL,
    grant_id  TEXT NOT NULL REFERENCES grants (id),
    file      TEXT NOT NULL,                    -- an archived file's id, or 'list'
    purpose   TEXT NOT NULL                     -- Purpose::as_str
);
CREATE INDEX reads_by_reader ON reads (reader, at);
";
