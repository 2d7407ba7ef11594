//! The decree's last step as the social service does it (art. 3; DESIGN §7.2): the office's
//! contact lists read page by page in rank order ([`Requester::worklist`]), and each offer's
//! outcome recorded here, under the decree's cap ([`Requester::record_offer_outcome`]). The
//! wire types are the API's ([`crate::api::worklist`]).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use passerelle_access_log::{AccessEntry, AccessKind, PersonRef};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::Sex;
use passerelle_protocol::value;
use passerelle_selection::IdentityColumn;
use uuid::Uuid;

use super::{Requester, RequesterError};
use crate::api::contacts::ContactEntry;
use crate::api::outcome::OutcomePerson;
use crate::api::worklist::{OfferOutcome, WorklistEntry};
use crate::export::{self, cell};
use crate::store::{
    CaseRecord, CaseState, Outcome, OutcomeRecord, OutcomeWrite, PersonRow, RankedPerson, StoreError, SubmissionRecord,
};

/// Where a worklist page starts: after rank `after_rank` of `case` (0: at its first person).
/// Written `<case>:<rank>`; clients pass it back as they got it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorklistCursor {
    pub case: Uuid,
    pub after_rank: u64,
}

impl fmt::Display for WorklistCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.case, self.after_rank)
    }
}

impl FromStr for WorklistCursor {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const BAD: &str = "not a worklist cursor: pass back a page's `next` as it came";
        let (case, rank) = text.split_once(':').ok_or(BAD)?;
        Ok(WorklistCursor { case: Uuid::parse_str(case).map_err(|_| BAD)?, after_rank: rank.parse().map_err(|_| BAD)? })
    }
}

/// A page of the worklist: its entries, the cursor of the next page, and the persons it lists
/// as the access log names them (their case and keyed hash, in the entries' order; each is a
/// `read`, [`Requester::worklist_reads`]).
#[derive(Debug, Clone, PartialEq)]
pub struct WorklistPage {
    pub entries: Vec<WorklistEntry>,
    pub next: Option<WorklistCursor>,
    pub read: Vec<(Uuid, PersonRef)>,
}

/// A page of one case's contact list ([`Requester::case_contacts`]): the case's state, the
/// list's length, its entries, the rank the next page starts after, and the persons listed as
/// the access log names them (keyed hashes, in the entries' order; each is a `read` of the case).
#[derive(Debug, Clone, PartialEq)]
pub struct ContactsPage {
    pub state: CaseState,
    pub persons: u64,
    pub entries: Vec<ContactEntry>,
    pub next: Option<u64>,
    pub read: Vec<PersonRef>,
}

/// An outcome to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOutcome {
    pub case: Uuid,
    pub line: u64,
    pub outcome: Outcome,
    pub date: NaiveDate,
}

impl Requester {
    /// A page of the office's contact lists: from `after` (or the start), up to `limit`
    /// persons of one answered case in rank order, without those with an outcome when
    /// `pending`. Reads `limit` rows of the case's stored order (computed the first time the
    /// case is listed) and those persons' cells and outcomes, whatever the store holds.
    pub fn worklist(
        &self,
        after: Option<WorklistCursor>,
        limit: usize,
        pending: bool,
    ) -> Result<WorklistPage, RequesterError> {
        let store = self.store();
        let (case, after_rank) = match after {
            None => (store.next_listed_case(None)?, 0),
            Some(cursor) => {
                let case = store.case(cursor.case)?.ok_or_else(|| {
                    RequesterError::Usage("after: the cursor names no case of this requester".to_owned())
                })?;
                if case.state == CaseState::Answered {
                    (Some(case), cursor.after_rank)
                } else {
                    // Purged since: the list goes on with the next case.
                    (store.next_listed_case(Some(&case))?, 0)
                }
            }
        };
        let Some(case) = case else { return Ok(WorklistPage { entries: Vec::new(), next: None, read: Vec::new() }) };
        let submission = self.submission_of(&case)?;
        let persons = self.listed_persons(&submission, &case)?;
        let rows = store.worklist_rows(case.id, after_rank, limit, pending)?;
        // A short page ends the case's list (`pending` passed over the rest).
        let last = match rows.last() {
            Some(row) if rows.len() == limit => row.rank,
            _ => persons.max(after_rank),
        };
        let mut entries = Vec::with_capacity(rows.len());
        let mut read = Vec::with_capacity(rows.len());
        for row in rows {
            read.push((case.id, self.accesses().person(&row.nir)));
            let names = Names::of(&submission, &row.cells)?;
            entries.push(WorklistEntry {
                case: case.id,
                line: row.line,
                rank: row.rank,
                persons,
                score: row.score,
                family_name: names.family_name,
                usage_name: names.usage_name,
                given_names: names.given_names,
                birth_year: names.birth_year,
                phone: names.phone,
                email: names.email,
                postal_address: names.postal_address,
                outcome: row.outcome.as_ref().map(offer_outcome),
                nir: row.nir.as_str().to_owned(),
            });
        }
        let next = if last < persons {
            Some(WorklistCursor { case: case.id, after_rank: last })
        } else {
            store.next_listed_case(Some(&case))?.map(|c| WorklistCursor { case: c.id, after_rank: 0 })
        };
        Ok(WorklistPage { entries, next, read })
    }

    /// A page of one case's contact list as its office's prevention agents read it (the
    /// console's case page): up to `limit` persons after rank `after_rank`, in the rank order of
    /// the case's result files (the worklist's stored order, computed the first time the case is
    /// listed), with their names, contacts and offer outcomes — never their NIR. An unknown or
    /// purged case is [`RequesterError::UnknownCase`]; a case not answered (yet, or refused)
    /// lists nobody.
    pub fn case_contacts(&self, case: Uuid, after_rank: u64, limit: usize) -> Result<ContactsPage, RequesterError> {
        let store = self.store();
        let case = store
            .case(case)?
            .filter(|c| c.state != CaseState::Purged)
            .ok_or_else(|| RequesterError::UnknownCase(case.to_string()))?;
        let mut page =
            ContactsPage { state: case.state, persons: 0, entries: Vec::new(), next: None, read: Vec::new() };
        if case.state != CaseState::Answered {
            return Ok(page);
        }
        let submission = self.submission_of(&case)?;
        page.persons = self.listed_persons(&submission, &case)?;
        let rows = store.worklist_rows(case.id, after_rank, limit, false)?;
        page.next = rows.last().filter(|r| rows.len() == limit && r.rank < page.persons).map(|r| r.rank);
        for row in rows {
            page.read.push(self.accesses().person(&row.nir));
            let names = Names::of(&submission, &row.cells)?;
            page.entries.push(ContactEntry {
                rank: row.rank,
                line: row.line,
                score: row.score,
                family_name: names.family_name,
                usage_name: names.usage_name,
                given_names: names.given_names,
                birth_year: names.birth_year,
                phone: names.phone,
                email: names.email,
                postal_address: names.postal_address,
                outcome: row.outcome.as_ref().map(offer_outcome),
            });
        }
        Ok(page)
    }

    /// The access entries of `actor` reading `page`: a `read` of the case about each person
    /// listed (DESIGN §7.1, an agent's reads per person), to write in one transaction before the
    /// page is given.
    pub fn worklist_reads(&self, actor: &str, page: &WorklistPage) -> Vec<AccessEntry> {
        page.read
            .iter()
            .map(|(case, person)| self.access_entry(actor, AccessKind::Read, &case.to_string()).about(person.clone()))
            .collect()
    }

    /// The length of `case`'s contact list, its order computed (the result files' ranking,
    /// [`export::case_ranking`]) and kept in the store the first time the case is listed, or
    /// again when the ranking settings changed since. Holds one case's ranking in memory while
    /// computing it (an id, a line and a score per person), nothing after.
    pub(super) fn listed_persons(
        &self,
        submission: &SubmissionRecord,
        case: &CaseRecord,
    ) -> Result<u64, RequesterError> {
        let store = self.store();
        let ranking = serde_json::to_string(&self.settings().ranking).expect("ranking settings serialise");
        if let Some(persons) = store.worklist_order(case.id, &ranking)? {
            return Ok(persons);
        }
        let order: Vec<RankedPerson> = export::case_ranking(store, &self.inner.scorer, submission, case)?
            .into_iter()
            .map(|p| RankedPerson { person: p.id, line: p.line, score: p.score })
            .collect();
        // Not stored when the case was purged meanwhile: its page is then empty.
        store.store_worklist_order(case.id, &ranking, &order)?;
        Ok(order.len() as u64)
    }

    /// Records what a person of a contact list answered, for the social worker `agent`
    /// (relayed): see [`Requester::record_outcome_as_it_stands`]. Returns the person's record
    /// for `accepted`, else `None`.
    pub fn record_offer_outcome(
        &self,
        actor: &str,
        agent: &str,
        new: &NewOutcome,
    ) -> Result<Option<OutcomePerson>, RequesterError> {
        Ok(self.record_outcome_as_it_stands(actor, agent, new)?.1)
    }

    /// Records what a person of a contact list answered, for the social worker `agent`
    /// (relayed), replacing their earlier `declined` or `no_reply`. Once the person accepted,
    /// another outcome is [`RequesterError::AlreadyAccepted`] (their file is at the social
    /// service, which handles any change), and `accepted` again keeps the first acceptance and
    /// gives their record again. `actor` is the access log's: an `update` of the case about the
    /// person, and for `accepted` a `transfer` too, written before the outcome commits. Returns
    /// the outcome as it now stands, and the person's record for `accepted`.
    pub fn record_outcome_as_it_stands(
        &self,
        actor: &str,
        agent: &str,
        new: &NewOutcome,
    ) -> Result<(OutcomeRecord, Option<OutcomePerson>), RequesterError> {
        let store = self.store();
        let not_listed = || RequesterError::NotListed { case: new.case, line: new.line };
        let case = store.case(new.case)?.filter(|c| c.state == CaseState::Answered).ok_or_else(not_listed)?;
        self.check_outcome_date(&case, new.date)?;
        let listed = store.person_at(case.id, new.line)?.filter(|l| !l.refused).ok_or_else(not_listed)?;
        let person = store.person(listed.person)?;
        let nir = Nir::parse(&person.nir).map_err(|_| StoreError::Corrupt("a stored NIR".into()))?;
        let record = match new.outcome {
            Outcome::Accepted => Some(self.person_record(&case, person)?),
            Outcome::Declined | Outcome::NoReply => None,
        };
        let about = self.accesses().person(&nir);
        let mut entries = vec![self.access_entry(actor, AccessKind::Update, &case.id.to_string()).about(about.clone())];
        if record.is_some() {
            entries.push(self.access_entry(actor, AccessKind::Transfer, &case.id.to_string()).about(about));
        }
        let outcome = OutcomeRecord {
            case: case.id,
            line: new.line,
            outcome: new.outcome,
            date: new.date,
            agent: agent.to_owned(),
            recorded_at: self.now(),
        };
        let accesses = self.accesses().clone();
        match store.record_outcome(&outcome, &|| Ok(accesses.record_all(&entries)?))? {
            OutcomeWrite::Recorded(stands) => Ok((stands, record)),
            // Purged between the reads and the write.
            OutcomeWrite::NotListed => Err(not_listed()),
            OutcomeWrite::AlreadyAccepted(date) => {
                Err(RequesterError::AlreadyAccepted { case: case.id, line: new.line, date })
            }
        }
    }

    /// An outcome's day is neither after today (in the body's legal time zone, by the
    /// requester's clock) nor before the day of the case's result.
    fn check_outcome_date(&self, case: &CaseRecord, date: NaiveDate) -> Result<(), RequesterError> {
        let zone = self.settings().trails.time_zone.zone();
        let day = |t| DateTime::<Utc>::from(t).with_timezone(&zone).date_naive();
        let today = day(self.now());
        if date > today {
            return Err(RequesterError::Usage(format!("date: {date} is in the future (today is {today})")));
        }
        if let Some(result) = case.settled_at.map(day) {
            if date < result {
                return Err(RequesterError::Usage(format!(
                    "date: {date} is before the case's result ({result}): an offer follows the contact list"
                )));
            }
        }
        Ok(())
    }

    /// The record of a person who accepted: identity, contacts and consolidated values.
    fn person_record(&self, case: &CaseRecord, person: PersonRow) -> Result<OutcomePerson, RequesterError> {
        let submission = self.submission_of(case)?;
        let identity = self.store().person_identity(person.id)?;
        let values = export::consolidated_values(&submission, case, &person)
            .into_iter()
            .map(|(category, v)| (category.code().to_owned(), value::format(&v)))
            .collect();
        let names = Names::of(&submission, &person.cells)?;
        let sex = match Sex::try_from(identity.sex) {
            Ok(Sex::Female) => Some("female".to_owned()),
            Ok(Sex::Male) => Some("male".to_owned()),
            _ => None,
        };
        Ok(OutcomePerson {
            nir: person.nir,
            former_nirs: identity.former_nirs,
            family_name: names.family_name,
            usage_name: names.usage_name,
            given_names: names.given_names,
            sex,
            birth_year: identity.birth_year,
            commune_code: identity.commune_code,
            postal_address: names.postal_address,
            email: names.email,
            phone: names.phone,
            values,
        })
    }
}

fn offer_outcome(o: &OutcomeRecord) -> OfferOutcome {
    OfferOutcome { outcome: o.outcome, date: o.date.format("%Y-%m-%d").to_string(), agent: o.agent.clone() }
}

/// A person's names and contacts, from the selection's cells.
struct Names {
    family_name: String,
    usage_name: Option<String>,
    given_names: String,
    birth_year: u32,
    postal_address: Option<String>,
    email: Option<String>,
    phone: Option<String>,
}

impl Names {
    fn of(submission: &SubmissionRecord, cells: &[String]) -> Result<Names, StoreError> {
        let get = |column: IdentityColumn| cell(submission, cells, column.code()).map(str::to_owned);
        let birth_year = get(IdentityColumn::BirthYear)
            .and_then(|y| y.parse().ok())
            .ok_or_else(|| StoreError::Corrupt("a stored person's birth year".into()))?;
        Ok(Names {
            family_name: get(IdentityColumn::FamilyName).unwrap_or_default(),
            usage_name: get(IdentityColumn::UsageName),
            given_names: get(IdentityColumn::GivenNames).unwrap_or_default(),
            birth_year,
            postal_address: get(IdentityColumn::PostalAddress),
            email: get(IdentityColumn::Email),
            phone: get(IdentityColumn::Phone),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_what_it_wrote_and_refuses_anything_else() {
        let cursor = WorklistCursor { case: Uuid::now_v7(), after_rank: 12 };
        assert_eq!(cursor.to_string().parse::<WorklistCursor>(), Ok(cursor));
        for bad in ["", "12", "nope:1", &format!("{}:x", cursor.case), &format!("{}:-1", cursor.case)] {
            assert!(bad.parse::<WorklistCursor>().is_err(), "{bad}");
        }
    }
}
