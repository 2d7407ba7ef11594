//! `rights.db`: the requests, the parties asked with their answers, and the outbox, in one
//! SQLite file through `passerelle-sqlite` (secure delete, WAL; [`Database::rebuild`] after a
//! purge, so that no byte of a purged request stays in the file or its WAL).
//!
//! Rules held here:
//! - a request is stored with one party row and one outbox message per observatory, in one
//!   transaction; a party is asked once per request (`PRIMARY KEY (request_id, party)`);
//! - an answer counts only from a party asked for that request, once (the first); after the
//!   deadline it is stored and flagged `late`; new parties (an observatory's `parties_to_ask`)
//!   are asked only while the request is `asking` (their message could not outlive the deadline);
//! - the outbox's messages expire at the request's deadline (≤ the legal month, the bus's cap);
//!   a message the broker confirmed loses its content at once (it carries the NIR);
//! - the purge blanks the request's NIRs and corrected values and deletes its parties, answers and
//!   outbox rows; the row left is a tombstone of counts, agents and times.

use std::path::Path;
use std::time::{Duration, SystemTime};

use passerelle_protocol::v1;
use passerelle_sqlite::time::{from_ms, to_ms};
use passerelle_sqlite::{params, Database, Migration, Tx};
use prost::Message;

use crate::{
    convert, kept_at_most, rfc3339, ConsolidatedAnswer, HeldValue, Opening, Outbound, PartyAnswer, Recorded,
    RequestState, RequestSummary, RightsDesk, RightsError, RightsKind, Tick,
};

const MIGRATIONS: &[Migration] = &[Migration::sql("requests, parties and outbox", SCHEMA_V1)];

const SCHEMA_V1: &str = "
CREATE TABLE requests (
    id                   TEXT PRIMARY KEY,          -- UUID v4
    kind                 TEXT NOT NULL,             -- access | rectification
    nir                  TEXT,                      -- NULL once purged
    former_nirs          TEXT,                      -- JSON list; NULL once purged
    corrected            BLOB,                      -- encoded v1::CategoryValues; NULL once purged
    opened_by            TEXT NOT NULL,
    identity_checked_by  TEXT NOT NULL,
    opened_at            INTEGER NOT NULL,          -- ms since the epoch, as every time here
    answer_by            INTEGER NOT NULL,
    state                TEXT NOT NULL,             -- asking | answered | purged
    answered_at          INTEGER,
    delivered_at         INTEGER,
    delivered_by         TEXT,
    purged_at            INTEGER,
    parties_asked        INTEGER NOT NULL DEFAULT 0, -- the counts stay in the tombstone
    parties_answered     INTEGER NOT NULL DEFAULT 0,
    late_answers         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_by_state ON requests (state, answer_by);
CREATE TABLE parties (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    party        TEXT NOT NULL,
    role         TEXT NOT NULL,                     -- observatory | requester
    position     INTEGER NOT NULL,                  -- the order asked
    asked_at     INTEGER NOT NULL,
    answered_at  INTEGER,
    late         INTEGER NOT NULL DEFAULT 0,
    answer       BLOB,                              -- encoded v1::RightsAnswer
    PRIMARY KEY (request_id, party)
) WITHOUT ROWID;
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id   TEXT NOT NULL REFERENCES requests (id),
    message_id   TEXT NOT NULL,
    message      BLOB,                              -- encoded v1::RightsRequest; NULL once sent
    expires_at   INTEGER NOT NULL,
    sent         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_by_request ON outbox (request_id);
";

pub(crate) const ROLE_OBSERVATORY: &str = "observatory";
pub(crate) const ROLE_REQUESTER: &str = "requester";

const DAY: Duration = Duration::from_secs(86_400);

pub(crate) fn open(path: &Path) -> Result<Database, RightsError> {
    Ok(Database::open(path, "rights", MIGRATIONS)?)
}

fn corrupt(what: &str) -> RightsError {
    RightsError::Store(format!("rights.db: unreadable {what}"))
}

fn kind_code(kind: RightsKind) -> &'static str {
    match kind {
        RightsKind::Access => "access",
        RightsKind::Rectification => "rectification",
    }
}

fn kind_of(code: &str) -> Result<RightsKind, RightsError> {
    match code {
        "access" => Ok(RightsKind::Access),
        "rectification" => Ok(RightsKind::Rectification),
        _ => Err(corrupt("request kind")),
    }
}

fn state_of(code: &str) -> Result<RequestState, RightsError> {
    match code {
        "asking" => Ok(RequestState::Asking),
        "answered" => Ok(RequestState::Answered),
        "purged" => Ok(RequestState::Purged),
        _ => Err(corrupt("request state")),
    }
}

fn wire_kind(kind: RightsKind) -> v1::RightsKind {
    match kind {
        RightsKind::Access => v1::RightsKind::Access,
        RightsKind::Rectification => v1::RightsKind::Rectification,
    }
}

/// An agent id as the desk records it: the shape of an identifier, no NIR in it.
fn check_agent(what: &str, agent: &str) -> Result<(), RightsError> {
    if agent.trim().is_empty() {
        return Err(RightsError::Refused(format!("{what} is required")));
    }
    if !passerelle_protocol::untrusted::is_identifier(agent) {
        return Err(RightsError::Refused(format!(
            "{what} `{}` is not an agent id: lowercase letters, digits, `.`, `-`, `_`",
            passerelle_protocol::untrusted::Shown::id(agent)
        )));
    }
    Ok(())
}

/// The stored row of a request.
struct Row {
    id: String,
    kind: RightsKind,
    nir: Option<String>,
    former_nirs: Option<String>,
    corrected: Option<Vec<u8>>,
    opened_by: String,
    identity_checked_by: String,
    opened_at: i64,
    answer_by: i64,
    state: RequestState,
    delivered_at: Option<i64>,
    purged_at: Option<i64>,
    parties_asked: i64,
    parties_answered: i64,
    late_answers: i64,
}

const ROW_COLUMNS: &str = "id, kind, nir, former_nirs, corrected, opened_by, identity_checked_by, opened_at, \
     answer_by, state, delivered_at, purged_at, parties_asked, parties_answered, late_answers";

fn read_row(r: &passerelle_sqlite::Row<'_>) -> passerelle_sqlite::rusqlite::Result<(Row, String, String)> {
    let kind: String = r.get(1)?;
    let state: String = r.get(9)?;
    Ok((
        Row {
            id: r.get(0)?,
            kind: RightsKind::Access,
            nir: r.get(2)?,
            former_nirs: r.get(3)?,
            corrected: r.get(4)?,
            opened_by: r.get(5)?,
            identity_checked_by: r.get(6)?,
            opened_at: r.get(7)?,
            answer_by: r.get(8)?,
            state: RequestState::Asking,
            delivered_at: r.get(10)?,
            purged_at: r.get(11)?,
            parties_asked: r.get(12)?,
            parties_answered: r.get(13)?,
            late_answers: r.get(14)?,
        },
        kind,
        state,
    ))
}

fn finish_row((mut row, kind, state): (Row, String, String)) -> Result<Row, RightsError> {
    row.kind = kind_of(&kind)?;
    row.state = state_of(&state)?;
    Ok(row)
}

fn get_row(tx: &Tx<'_>, id: &str) -> Result<Option<Row>, RightsError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM requests WHERE id = ?1");
    tx.query_optional(&sql, [id], read_row)?.map(finish_row).transpose()
}

fn summary(row: &Row) -> RequestSummary {
    RequestSummary {
        request_id: row.id.clone(),
        kind: row.kind,
        state: row.state,
        opened_by: row.opened_by.clone(),
        opened_at: rfc3339(from_ms(row.opened_at)),
        answer_by: rfc3339(from_ms(row.answer_by)),
        parties_asked: row.parties_asked.max(0) as u32,
        parties_answered: row.parties_answered.max(0) as u32,
        late_answers: row.late_answers.max(0) as u32,
        delivered_at: row.delivered_at.map(|t| rfc3339(from_ms(t))),
        purged_at: row.purged_at.map(|t| rfc3339(from_ms(t))),
    }
}

/// Asks `party` for request `row`: its party row and its outbox message.
fn ask(desk: &RightsDesk, tx: &Tx<'_>, row: &Row, party: &str, role: &str, now: SystemTime) -> Result<(), RightsError> {
    let position: i64 = tx.query_row("SELECT COUNT(*) FROM parties WHERE request_id = ?1", [&row.id], |r| r.get(0))?;
    tx.execute(
        "INSERT INTO parties (request_id, party, role, position, asked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![row.id, party, role, position, to_ms(now)],
    )?;
    let former: Vec<String> = match &row.former_nirs {
        Some(json) => serde_json::from_str(json).map_err(|_| corrupt("former NIRs"))?,
        None => Vec::new(),
    };
    let corrected = match (&row.corrected, row.kind) {
        (Some(bytes), RightsKind::Rectification) => {
            Some(v1::CategoryValues::decode(bytes.as_slice()).map_err(|_| corrupt("corrected values"))?)
        }
        _ => None,
    };
    let message = v1::RightsRequest {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: desk.observatory.clone(),
        request_id: row.id.clone(),
        recipient: party.to_owned(),
        kind: wire_kind(row.kind) as i32,
        nir: row.nir.clone().ok_or_else(|| corrupt("request without NIR"))?,
        former_nirs: former,
        corrected,
        asked_at: Some(from_ms(row.opened_at).into()),
        answer_by: Some(from_ms(row.answer_by).into()),
        basis: passerelle_protocol::legal::FRAGILITY_EXCHANGE as i32,
    };
    // The bus refuses an expiry beyond its 30-day cap: the message lives until the deadline
    // (≤ the legal month), never until the request's purge date.
    let expires_at = row.answer_by.min(row.opened_at + i64::from(crate::LEGAL_MONTH_DAYS) * DAY.as_millis() as i64);
    tx.execute(
        "INSERT INTO outbox (request_id, message_id, message, expires_at) VALUES (?1, ?2, ?3, ?4)",
        params![row.id, uuid::Uuid::new_v4().to_string(), message.encode_to_vec(), expires_at],
    )?;
    tx.execute("UPDATE requests SET parties_asked = parties_asked + 1 WHERE id = ?1", [&row.id])?;
    Ok(())
}

pub(crate) fn open_request(desk: &RightsDesk, opening: Opening, now: SystemTime) -> Result<String, RightsError> {
    check_agent("identity_checked_by (who confirmed the person's identity)", &opening.identity_checked_by)?;
    check_agent("opened_by (the rights officer)", &opening.opened_by)?;
    let has_values = !opening.corrected.is_empty();
    match opening.kind {
        RightsKind::Rectification if !has_values => {
            return Err(RightsError::Refused(
                "a rectification names at least one corrected value (art. 2, 2° to 7°)".into(),
            ))
        }
        RightsKind::Access if has_values => {
            return Err(RightsError::Refused("an access request carries no corrected value".into()))
        }
        _ => {}
    }
    crate::check_corrected(&opening.corrected).map_err(RightsError::Refused)?;
    let nir = opening.nir.as_str().to_owned();
    let mut former: Vec<String> = Vec::new();
    for f in &opening.former_nirs {
        if f.as_str() != nir && !former.iter().any(|x| x == f.as_str()) {
            former.push(f.as_str().to_owned());
        }
    }
    if former.len() > crate::MAX_FORMER_NIRS {
        return Err(RightsError::Refused(format!(
            "{} former NIRs: a request names at most {}",
            former.len(),
            crate::MAX_FORMER_NIRS
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let answer_by = desk.answer_by(now);
    let row = Row {
        id: id.clone(),
        kind: opening.kind,
        nir: Some(nir),
        former_nirs: Some(serde_json::to_string(&former).map_err(|e| RightsError::Store(e.to_string()))?),
        corrected: has_values.then(|| opening.corrected.encode_to_vec()),
        opened_by: opening.opened_by,
        identity_checked_by: opening.identity_checked_by,
        opened_at: to_ms(now),
        answer_by: to_ms(answer_by),
        state: RequestState::Asking,
        delivered_at: None,
        purged_at: None,
        parties_asked: 0,
        parties_answered: 0,
        late_answers: 0,
    };
    desk.db.write(|tx| {
        tx.execute(
            "INSERT INTO requests (id, kind, nir, former_nirs, corrected, opened_by, identity_checked_by, \
             opened_at, answer_by, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'asking')",
            params![
                row.id,
                kind_code(row.kind),
                row.nir,
                row.former_nirs,
                row.corrected,
                row.opened_by,
                row.identity_checked_by,
                row.opened_at,
                row.answer_by
            ],
        )?;
        for observatory in &desk.observatories {
            ask(desk, tx, &row, observatory, ROLE_OBSERVATORY, now)?;
        }
        Ok::<_, RightsError>(())
    })?;
    Ok(id)
}

pub(crate) fn record_answer(
    desk: &RightsDesk,
    answer: &v1::RightsAnswer,
    now: SystemTime,
) -> Result<Recorded, RightsError> {
    desk.db.write(|tx| {
        let Some(row) = get_row(tx, &answer.request_id)? else { return Ok(Recorded::default()) };
        if row.state == RequestState::Purged {
            return Ok(Recorded::default());
        }
        let party: Option<(String, Option<i64>)> = tx.query_optional(
            "SELECT role, answered_at FROM parties WHERE request_id = ?1 AND party = ?2",
            params![row.id, answer.sender],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // Never asked: ignored, and nothing it says is kept.
        let Some((role, answered_at)) = party else { return Ok(Recorded::default()) };
        if answered_at.is_some() {
            return Ok(Recorded::default());
        }
        if answer.kind != wire_kind(row.kind) as i32 {
            return Err(RightsError::Refused(format!(
                "a rights answer of another kind than its request ({})",
                kind_code(row.kind)
            )));
        }
        if role == ROLE_OBSERVATORY && answer.parties_to_ask.len() > crate::MAX_PARTIES_TO_ASK {
            return Err(RightsError::Refused(format!(
                "a rights answer naming {} parties to ask, more than the {} a deployment may have",
                answer.parties_to_ask.len(),
                crate::MAX_PARTIES_TO_ASK
            )));
        }
        let late = to_ms(now) > row.answer_by;
        tx.execute(
            "UPDATE parties SET answered_at = ?3, late = ?4, answer = ?5 WHERE request_id = ?1 AND party = ?2",
            params![row.id, answer.sender, to_ms(now), late, answer.encode_to_vec()],
        )?;
        tx.execute(
            "UPDATE requests SET parties_answered = parties_answered + 1, late_answers = late_answers + ?2 \
             WHERE id = ?1",
            params![row.id, i64::from(late)],
        )?;
        let mut recorded = Recorded { first: true, late, ..Recorded::default() };
        if role == ROLE_OBSERVATORY && row.state == RequestState::Asking && !late {
            for party in &answer.parties_to_ask {
                if !is_requester_party(party) {
                    continue;
                }
                let asked =
                    tx.exists("SELECT 1 FROM parties WHERE request_id = ?1 AND party = ?2", params![row.id, party])?;
                if !asked {
                    ask(desk, tx, &row, party, ROLE_REQUESTER, now)?;
                    recorded.new_parties += 1;
                }
            }
        }
        let silent: i64 = tx.query_row(
            "SELECT COUNT(*) FROM parties WHERE request_id = ?1 AND answered_at IS NULL",
            [&row.id],
            |r| r.get(0),
        )?;
        if silent == 0 {
            recorded.completed = true;
            if row.state == RequestState::Asking {
                tx.execute(
                    "UPDATE requests SET state = 'answered', answered_at = ?2 WHERE id = ?1",
                    params![row.id, to_ms(now)],
                )?;
            }
        }
        Ok(recorded)
    })
}

/// A requester party as `parties_to_ask` names it: an office `{body}.{office}` or a body `{body}`.
fn is_requester_party(party: &str) -> bool {
    use passerelle_protocol::ids::{is_office_code, is_party_code};
    match party.split_once('.') {
        Some((body, office)) => is_party_code(body) && is_office_code(office),
        None => is_party_code(party),
    }
}

pub(crate) fn outbox(desk: &RightsDesk, now: SystemTime) -> Result<Vec<Outbound>, RightsError> {
    let rows: Vec<(i64, String, Vec<u8>, i64)> = desk.db.read(|tx| {
        tx.query_all(
            "SELECT o.seq, o.message_id, o.message, o.expires_at FROM outbox o JOIN requests r ON r.id = o.request_id \
             WHERE o.sent = 0 AND o.message IS NOT NULL AND o.expires_at > ?1 AND r.state != 'purged' ORDER BY o.seq",
            [to_ms(now)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
    })?;
    rows.into_iter()
        .map(|(seq, message_id, message, expires_at)| {
            Ok(Outbound {
                seq,
                message_id: uuid::Uuid::parse_str(&message_id).map_err(|_| corrupt("outbox message id"))?,
                request: v1::RightsRequest::decode(message.as_slice()).map_err(|_| corrupt("outbox message"))?,
                expires_at: from_ms(expires_at),
            })
        })
        .collect()
}

pub(crate) fn sent(desk: &RightsDesk, seq: i64) -> Result<(), RightsError> {
    desk.db.write(|tx| {
        tx.execute("UPDATE outbox SET sent = 1, message = NULL WHERE seq = ?1", [seq])?;
        Ok(())
    })
}

pub(crate) fn tick(desk: &RightsDesk, now: SystemTime) -> Result<Tick, RightsError> {
    let margin = i64::from(desk.settings.purge_margin_days) * DAY.as_millis() as i64;
    let kept = kept_at_most(&desk.settings).as_millis() as i64;
    let at = to_ms(now);
    let tick = desk.db.write(|tx| {
        let answered = tx.execute(
            "UPDATE requests SET state = 'answered', answered_at = ?1 WHERE state = 'asking' AND answer_by <= ?1",
            [at],
        )?;
        let due: Vec<String> = tx.query_all(
            "SELECT id FROM requests WHERE state != 'purged' AND (answer_by + ?2 <= ?1 OR opened_at + ?3 <= ?1)",
            params![at, margin, kept],
            |r| r.get(0),
        )?;
        for id in &due {
            purge(tx, id, at, None)?;
        }
        Ok::<_, RightsError>(Tick { answered_at_deadline: answered as u32, purged: due.len() as u32 })
    })?;
    if tick.purged > 0 || desk.scrub_pending.load(std::sync::atomic::Ordering::SeqCst) {
        scrub(desk)?;
    }
    Ok(tick)
}

/// Rebuilds `rights.db` and truncates its WAL, so that no byte of a purged request stays in
/// either file; when a reader holds the WAL back (or the rebuild fails) the desk scrubs again
/// at its next tick.
fn scrub(desk: &RightsDesk) -> Result<(), RightsError> {
    use std::sync::atomic::Ordering::SeqCst;
    desk.scrub_pending.store(true, SeqCst);
    let reclaimed = desk.db.rebuild()?;
    desk.scrub_pending.store(!reclaimed.wal_truncated, SeqCst);
    Ok(())
}

/// Forgets a request's personal data, in `tx`: what stays is the tombstone.
fn purge(tx: &Tx<'_>, id: &str, at: i64, delivered_by: Option<&str>) -> Result<(), RightsError> {
    tx.execute("DELETE FROM outbox WHERE request_id = ?1", [id])?;
    tx.execute("DELETE FROM parties WHERE request_id = ?1", [id])?;
    let delivered_at = delivered_by.map(|_| at);
    tx.execute(
        "UPDATE requests SET nir = NULL, former_nirs = NULL, corrected = NULL, state = 'purged', purged_at = ?2, \
         delivered_at = ?3, delivered_by = ?4 WHERE id = ?1",
        params![id, at, delivered_at, delivered_by],
    )?;
    Ok(())
}

pub(crate) fn list(desk: &RightsDesk) -> Result<Vec<RequestSummary>, RightsError> {
    let sql = format!("SELECT {ROW_COLUMNS} FROM requests ORDER BY opened_at DESC, rowid DESC");
    let rows = desk.db.read(|tx| tx.query_all(&sql, [], read_row))?;
    rows.into_iter().map(|r| finish_row(r).map(|row| summary(&row))).collect()
}

pub(crate) fn answer(desk: &RightsDesk, request_id: &str, now: SystemTime) -> Result<ConsolidatedAnswer, RightsError> {
    type PartyRow = (String, String, i64, Option<i64>, bool, Option<Vec<u8>>);
    let (row, parties) = desk.db.read(|tx| {
        let row = get_row(tx, request_id)?;
        let parties: Vec<PartyRow> = tx.query_all(
            "SELECT party, role, asked_at, answered_at, late, answer FROM parties WHERE request_id = ?1 ORDER BY position",
            [request_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        Ok::<_, RightsError>((row, parties))
    })?;
    let row = match row {
        Some(row) if row.state != RequestState::Purged => row,
        _ => return Err(RightsError::NotFound(passerelle_protocol::untrusted::Shown::id(request_id).to_string())),
    };
    let state = match row.state {
        RequestState::Asking if to_ms(now) >= row.answer_by => RequestState::Answered,
        state => state,
    };
    let parties = parties
        .into_iter()
        .map(|(party, role, asked_at, answered_at, late, bytes)| {
            let (holdings, rectified) = match &bytes {
                Some(bytes) => {
                    let answer = v1::RightsAnswer::decode(bytes.as_slice()).map_err(|_| corrupt("answer"))?;
                    (
                        answer.holdings.iter().map(convert::holding).collect(),
                        answer.rectified.iter().filter_map(convert::rectified).collect(),
                    )
                }
                None => (Vec::new(), Vec::new()),
            };
            Ok(PartyAnswer {
                party,
                role,
                asked_at: rfc3339(from_ms(asked_at)),
                answered_at: answered_at.map(|t| rfc3339(from_ms(t))),
                late,
                holdings,
                rectified,
            })
        })
        .collect::<Result<Vec<_>, RightsError>>()?;
    let corrected: Vec<HeldValue> = match &row.corrected {
        Some(bytes) => {
            let values = v1::CategoryValues::decode(bytes.as_slice()).map_err(|_| corrupt("corrected values"))?;
            convert::held_values(&desk.observatory, &values)
        }
        None => Vec::new(),
    };
    let former_nirs: Vec<String> = match &row.former_nirs {
        Some(json) => serde_json::from_str(json).map_err(|_| corrupt("former NIRs"))?,
        None => Vec::new(),
    };
    Ok(ConsolidatedAnswer {
        request_id: row.id,
        kind: row.kind,
        state,
        observatory: desk.observatory.clone(),
        opened_by: row.opened_by,
        identity_checked_by: row.identity_checked_by,
        opened_at: rfc3339(from_ms(row.opened_at)),
        answer_by: rfc3339(from_ms(row.answer_by)),
        nir: row.nir.unwrap_or_default(),
        former_nirs,
        corrected,
        parties,
    })
}

pub(crate) fn delivered(
    desk: &RightsDesk,
    request_id: &str,
    by: &str,
    anyway: bool,
    now: SystemTime,
) -> Result<RequestSummary, RightsError> {
    check_agent("the agent who delivered the answer", by)?;
    let at = to_ms(now);
    let summary = desk.db.write(|tx| {
        let shown = || passerelle_protocol::untrusted::Shown::id(request_id).to_string();
        let row = get_row(tx, request_id)?.ok_or_else(|| RightsError::NotFound(shown()))?;
        match row.state {
            RequestState::Purged => {
                return Err(RightsError::Refused(format!("rights request {} is already purged", shown())))
            }
            RequestState::Asking if at < row.answer_by && !anyway => {
                return Err(RightsError::Refused(format!(
                    "rights request {} is still waiting for answers until {}: deliver it anyway only if the \
                     person takes a partial answer",
                    shown(),
                    rfc3339(from_ms(row.answer_by))
                )))
            }
            _ => {}
        }
        purge(tx, &row.id, at, Some(by))?;
        let row = get_row(tx, request_id)?.ok_or_else(|| RightsError::NotFound(shown()))?;
        Ok::<_, RightsError>(summary(&row))
    })?;
    // Purged whatever the scrub does: a scrub that fails is retried at the next tick.
    let _ = scrub(desk);
    Ok(summary)
}

/// The stored request times, for the tests.
#[cfg(test)]
pub(crate) fn outbox_rows(desk: &RightsDesk) -> Result<i64, RightsError> {
    desk.db.read(|tx| Ok(tx.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?))
}
