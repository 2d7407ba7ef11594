//! The actions, contacts and offers of the files (norm 43, A.1 and A.2), stored as rows and read
//! back as the protobuf records `passerelle_social_file::activity` validates.

use std::time::SystemTime;

use passerelle_protocol::value::{format_date, parse_date};
use passerelle_social_file::v1;
use passerelle_sqlite::params;

use super::{ms, Store, StoreError};

/// An offer as stored, with the office that made it.
#[derive(Debug, Clone)]
pub struct OfferRow {
    pub offer: v1::Offer,
    pub office: String,
}

impl Store {
    /// Starts an action on an open file; `false` when the file has an open action already.
    pub fn start_action(&self, action: &v1::Action, at: SystemTime) -> Result<bool, StoreError> {
        let start = action.start.as_ref().map(format_date).unwrap_or_default();
        self.db.write(|tx| {
            if tx.exists("SELECT 1 FROM actions WHERE file = ?1 AND end IS NULL", params![action.file_id])? {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO actions (id, file, purpose, start) VALUES (?1, ?2, ?3, ?4)",
                params![action.action_id, action.file_id, action.purpose, start],
            )?;
            tx.execute("UPDATE files SET last_activity_at = ?2 WHERE id = ?1", params![action.file_id, ms(at)])?;
            Ok(true)
        })
    }

    /// The file's open action, if any.
    pub fn open_action(&self, file: &str) -> Result<Option<v1::Action>, StoreError> {
        Ok(self.actions(file)?.into_iter().find(|a| a.end.is_none()))
    }

    /// Adds a contact to the file's open action.
    pub fn add_contact(
        &self,
        action: &str,
        file: &str,
        contact: &v1::Contact,
        at: SystemTime,
    ) -> Result<(), StoreError> {
        let date = contact.date.as_ref().map(format_date).unwrap_or_default();
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO contacts (action, channel, date, agent) VALUES (?1, ?2, ?3, ?4)",
                params![action, contact.channel, date, contact.agent_id],
            )?;
            tx.execute("UPDATE files SET last_activity_at = ?2 WHERE id = ?1", params![file, ms(at)])?;
            Ok(())
        })
    }

    /// A file's actions with their contacts and the offers it takes part in, by start.
    pub fn actions(&self, file: &str) -> Result<Vec<v1::Action>, StoreError> {
        self.db.read(|tx| {
            let mut actions = tx.query_all(
                "SELECT id, purpose, start, end FROM actions WHERE file = ?1 ORDER BY start, rowid",
                params![file],
                |r| {
                    Ok(v1::Action {
                        action_id: r.get(0)?,
                        file_id: file.to_owned(),
                        purpose: r.get(1)?,
                        start: parse_date(&r.get::<_, String>(2)?),
                        end: r.get::<_, Option<String>>(3)?.as_deref().and_then(parse_date),
                        contacts: Vec::new(),
                        offer_ids: Vec::new(),
                    })
                },
            )?;
            let offers = tx.query_all(
                "SELECT offer FROM offer_participants WHERE file = ?1 ORDER BY offer",
                params![file],
                |r| r.get::<_, String>(0),
            )?;
            for action in &mut actions {
                action.contacts = tx.query_all(
                    "SELECT channel, date, agent FROM contacts WHERE action = ?1 ORDER BY date, rowid",
                    params![action.action_id],
                    |r| {
                        Ok(v1::Contact {
                            channel: r.get(0)?,
                            date: parse_date(&r.get::<_, String>(1)?),
                            agent_id: r.get(2)?,
                        })
                    },
                )?;
            }
            if let Some(last) = actions.last_mut() {
                last.offer_ids = offers;
            }
            Ok(actions)
        })
    }

    /// Stores an offer with its participants and sessions.
    pub fn insert_offer(&self, office: &str, offer: &v1::Offer, agent: &str, at: SystemTime) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute(
                "INSERT INTO offers (id, office, kind, theme, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![offer.offer_id, office, offer.kind, offer.theme, agent, ms(at)],
            )?;
            for file in &offer.participant_file_ids {
                tx.execute(
                    "INSERT INTO offer_participants (offer, file) VALUES (?1, ?2)",
                    params![offer.offer_id, file],
                )?;
                tx.execute("UPDATE files SET last_activity_at = ?2 WHERE id = ?1", params![file, ms(at)])?;
            }
            for (i, session) in offer.sessions.iter().enumerate() {
                let date = session.date.as_ref().map(format_date).unwrap_or_default();
                tx.execute(
                    "INSERT INTO offer_sessions (offer, session, date) VALUES (?1, ?2, ?3)",
                    params![offer.offer_id, i as i64, date],
                )?;
                for file in &session.attendee_file_ids {
                    tx.execute(
                        "INSERT INTO session_attendees (offer, session, file) VALUES (?1, ?2, ?3)",
                        params![offer.offer_id, i as i64, file],
                    )?;
                }
            }
            Ok(())
        })
    }

    /// The offers a file takes part in, whole (the other participants' file ids included).
    pub fn offers_of(&self, file: &str) -> Result<Vec<OfferRow>, StoreError> {
        self.db.read(|tx| {
            let heads = tx.query_all(
                "SELECT o.id, o.office, o.kind, o.theme FROM offers o JOIN offer_participants p ON p.offer = o.id \
                 WHERE p.file = ?1 ORDER BY o.created_at, o.id",
                params![file],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i32>(2)?, r.get::<_, i32>(3)?)),
            )?;
            let mut rows = Vec::new();
            for (id, office, kind, theme) in heads {
                let participant_file_ids = tx.query_all(
                    "SELECT file FROM offer_participants WHERE offer = ?1 ORDER BY rowid",
                    params![id],
                    |r| r.get::<_, String>(0),
                )?;
                let dates = tx.query_all(
                    "SELECT session, date FROM offer_sessions WHERE offer = ?1 ORDER BY session",
                    params![id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )?;
                let mut sessions = Vec::new();
                for (session, date) in dates {
                    let attendee_file_ids = tx.query_all(
                        "SELECT file FROM session_attendees WHERE offer = ?1 AND session = ?2 ORDER BY rowid",
                        params![id, session],
                        |r| r.get::<_, String>(0),
                    )?;
                    sessions.push(v1::OfferSession { date: parse_date(&date), attendee_file_ids });
                }
                let offer = v1::Offer { offer_id: id, kind, theme, participant_file_ids, sessions };
                rows.push(OfferRow { offer, office });
            }
            Ok(rows)
        })
    }
}
