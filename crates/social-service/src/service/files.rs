//! The social worker's operations: the worklist and the offer outcomes (at the requester), and
//! the office's files — open, show, list, update, actions, contacts, offers.

use std::collections::BTreeSet;

use passerelle_access_log::AccessKind;
use passerelle_protocol::catalogue;
use passerelle_protocol::nir::Nir;
use passerelle_protocol::v1::{CategoryValues, Sex};
use passerelle_protocol::value::parse_category;
use passerelle_social_file::v1;
use passerelle_social_file::{
    file_json, open_from_decree, validate, validate_action, validate_offer, DecreeIdentity, Update,
};
use uuid::Uuid;

use super::views::*;
use super::{Result, SocialService, SocialServiceError, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT};
use crate::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer, OutcomeRequest, Worklist, WorklistQuery};
use crate::store::{rfc3339, ChangeEntryRow, FileChange, FileRow, FileState, NewFile};

fn refused(message: impl Into<String>) -> SocialServiceError {
    SocialServiceError::Refused(message.into())
}

fn time(at: std::time::SystemTime) -> String {
    rfc3339(passerelle_sqlite::time::to_ms(at))
}

/// The identity and the decree values of a person who accepted, read from the requester's
/// answer. A problem names the decree code, never the value.
fn decree_person(person: &AcceptedPerson) -> Result<(DecreeIdentity, CategoryValues)> {
    let nir = |text: &str| Nir::parse(text).map_err(|_| refused("the requester's answer holds an invalid NIR"));
    let sex = match person.sex.as_deref() {
        Some("female") => Sex::Female,
        Some("male") => Sex::Male,
        _ => Sex::Unspecified,
    };
    let identity = DecreeIdentity {
        nir: nir(&person.nir)?,
        former_nirs: person.former_nirs.iter().map(|n| nir(n)).collect::<Result<_>>()?,
        family_name: person.family_name.clone(),
        usage_name: person.usage_name.clone(),
        given_names: person.given_names.clone(),
        sex,
        birth_year: person.birth_year,
        commune_code: person.commune_code.clone(),
        postal_address: person.postal_address.clone(),
        email: person.email.clone(),
        phone: person.phone.clone(),
    };
    let mut values = CategoryValues::default();
    for (code, text) in &person.values {
        let info = catalogue::by_code(code)
            .ok_or_else(|| refused(format!("the requester's answer names `{code}`, which is no decree category")))?;
        let bad = || refused(format!("the requester's answer holds an unreadable `{code}` value"));
        if let Some(value) = parse_category(info.category, text).map_err(|_| bad())? {
            values.set(info.category, value).map_err(|_| bad())?;
        }
    }
    Ok((identity, values))
}

impl SocialService {
    /// A page of the worklist (the requester office's contact lists), read at the requester for
    /// `agent`, each opposed person marked ([`Self::recognise_opposed`]); nothing else stored
    /// here. Recorded as a read of each case listed.
    pub async fn worklist(&self, agent: &str, query: &WorklistQuery) -> Result<Worklist> {
        let mut page = self.requester().worklist(agent, query).await?;
        self.of_requester_office(&page.office, "worklist page")?;
        self.recognise_opposed(&mut page)?;
        self.worklist_read(agent, &page)?;
        Ok(page)
    }

    /// Takes each entry's NIR out of a page the requester gave, marks `opposed` the persons
    /// whose objection under art. 38 was upheld (their keyed hash in `opposed_persons`) and
    /// keeps those lines' `(case, line)` so that an outcome for them is refused before the
    /// requester is called ([`Self::outcome`]). The NIRs are dropped here: the page given on
    /// holds none, and none is stored or logged. An entry without a NIR (an older requester)
    /// is not recognised. [`Self::worklist`] calls it, and a caller holding the requester in
    /// process (the demo) before [`Self::worklist_read`].
    pub fn recognise_opposed(&self, page: &mut Worklist) -> Result<()> {
        let mut opposed = Vec::new();
        for entry in &mut page.entries {
            let Some(text) = entry.nir.take() else { continue };
            let nir = Nir::parse(&text).map_err(|_| refused("the requester's worklist page holds an invalid NIR"))?;
            if self.store().is_opposed(&self.file_person(&nir))? {
                entry.opposed = true;
                opposed.push((entry.case.to_string(), entry.line));
            }
        }
        self.store().mark_opposed_lines(&opposed, self.now())?;
        Ok(())
    }

    /// Refuses an answer of the requester daemon for another office than `[requester] office`:
    /// the socket leads to a requester this social service is not attached to.
    fn of_requester_office(&self, office: &str, what: &str) -> Result<()> {
        let expected = &self.settings().requester.office;
        if office == expected {
            return Ok(());
        }
        Err(refused(format!(
            "the requester daemon answered with a {what} of office `{}`, not of `{expected}` ([requester] office): \
             check that [requester] socket leads to that office's requester",
            passerelle_protocol::untrusted::Shown::id(office)
        )))
    }

    /// Records `agent`'s read of a worklist page the requester gave: a read of each case
    /// listed. [`Self::worklist`] calls it after the requester's API, and a caller holding the
    /// requester in process (the demo) after `Requester::worklist`.
    pub fn worklist_read(&self, agent: &str, page: &Worklist) -> Result<()> {
        let cases: BTreeSet<String> = page.entries.iter().map(|e| e.case.to_string()).collect();
        let entries: Vec<_> = cases.iter().map(|c| self.entry(agent, AccessKind::Read, c, None)).collect();
        self.record(&entries)
    }

    /// Records an offer's outcome at the requester for `agent`, then [`Self::apply_outcome`]:
    /// for `accepted`, opens the person's file (or finds the one they have). A declined or
    /// unanswered offer writes nothing to this store.
    /// A line a worklist page showed as an opposed person's is refused here, before the
    /// requester is called: nothing is recorded there.
    pub async fn outcome(&self, agent: &str, request: &OutcomeRequest) -> Result<OutcomeView> {
        if self.store().opposed_line(&request.case.to_string(), request.line)? {
            return Err(refused(super::opposition::OPPOSED));
        }
        let date = self.date_or_today(request.date.as_deref(), "outcome's date")?;
        let request = OutcomeRequest { date: Some(Self::date_text(&date)), ..request.clone() };
        let answer = self.requester().outcome(agent, &request).await?;
        self.of_requester_office(&answer.office, "recorded outcome")?;
        self.apply_outcome(agent, &answer)
    }

    /// What this social service does with an outcome the requester has recorded for `agent`
    /// (its answer, as [`Self::outcome`] receives it): for `accepted`, opens the file of the
    /// person the answer carries, or finds the one they have (a create, or a read, in the access
    /// log); otherwise only an update of the case is logged, and nothing enters the store. The
    /// one open-from-outcome path: [`Self::outcome`] calls it after the requester's API, and a
    /// caller holding the requester in process (the demo) after `record_offer_outcome`.
    pub fn apply_outcome(&self, agent: &str, answer: &OutcomeAnswer) -> Result<OutcomeView> {
        let mut view = OutcomeView {
            format: OFFER_OUTCOME_FORMAT.to_owned(),
            case: answer.case.to_string(),
            line: answer.line,
            outcome: answer.outcome,
            date: answer.date.clone(),
            agent: answer.agent.clone(),
            file: None,
            existing: false,
            left_behind: Vec::new(),
        };
        match (answer.outcome, &answer.person) {
            (Outcome::Accepted, Some(person)) => {
                let (file, existing, left) = self.open(agent, person, &view.case, view.line)?;
                view.file = Some(file);
                view.existing = existing;
                view.left_behind = left;
            }
            (Outcome::Accepted, None) => {
                return Err(refused("the requester recorded the acceptance but sent no person: no file opened"))
            }
            _ => {
                self.record(&[self.entry(agent, AccessKind::Update, &view.case, None)])?;
            }
        }
        // The steering statistics' one trace of a person who declines: a counter.
        self.count_outcome(answer.outcome)?;
        Ok(view)
    }

    /// Opens the file of a person who accepted: (file id, whether it existed, values left behind).
    fn open(&self, agent: &str, person: &AcceptedPerson, case: &str, line: u64) -> Result<(String, bool, Vec<String>)> {
        let (identity, values) = decree_person(person)?;
        let (file, left) = open_from_decree(&identity, &values);
        let left: Vec<String> = left.into_iter().map(str::to_owned).collect();
        if let Err(problems) = validate(&file) {
            let paths: Vec<String> = problems.iter().map(|p| p.path.clone()).collect();
            return Err(refused(format!(
                "the person's values from the requester do not make a valid file (fields: {}); no file opened",
                paths.join(", ")
            )));
        }
        let person_hash = self.file_person(&identity.nir);
        // An objection upheld (art. 38): no new offer, no file — whatever the requester recorded.
        if self.store().is_opposed(&person_hash)? {
            return Err(refused(super::opposition::OPPOSED));
        }
        if let Some(existing) = self.held_here(self.store().file_of_person(&person_hash)?)? {
            self.record(&[self.entry(agent, AccessKind::Read, &existing, Some(&file))])?;
            return Ok((existing, true, left));
        }
        let id = Uuid::now_v7().to_string();
        self.record(&[self.entry(agent, AccessKind::Create, &id, Some(&file))])?;
        let new = NewFile {
            id: &id,
            office: self.office(),
            at: self.now(),
            agent,
            file: &file,
            source_case: Some(case),
            source_line: Some(line),
            person: person_hash,
        };
        if !self.store().insert_file(&new)? {
            let existing = self.held_here(self.store().file_of_person(&person_hash)?)?.unwrap_or_default();
            return Ok((existing, true, left));
        }
        tracing::info!(file = %id, office = %self.office(), "case file opened");
        Ok((id, false, left))
    }

    /// The person's file found by [`crate::store::Store::file_of_person`], if this office holds it; a file
    /// another office holds is refused, without naming that office or the file.
    fn held_here(&self, found: Option<(String, String)>) -> Result<Option<String>> {
        match found {
            Some((id, office)) if office == self.office() => Ok(Some(id)),
            Some(_) => Err(refused(
                "the person's file is held by another office of this service: no file opened here; \
                 the offices agree which one follows the person",
            )),
            None => Ok(None),
        }
    }

    /// One file, whole, as the social worker sees it (a read).
    pub fn show(&self, agent: &str, id: &str) -> Result<FileView> {
        let row = self.file_row(id)?;
        self.record(&[self.entry(agent, AccessKind::Read, &row.id, Some(&row.file))])?;
        self.view(row)
    }

    pub(crate) fn view(&self, row: FileRow) -> Result<FileView> {
        let actions = self.store().actions(&row.id)?.iter().map(ActionView::from).collect();
        let offers = self.store().offers_of(&row.id)?.iter().map(OfferView::from).collect();
        Ok(FileView {
            format: FILE_FORMAT.to_owned(),
            fields: file_json(&row.file),
            source: row.source_case.clone().map(|case| Source { case, line: row.source_line.unwrap_or(0) }),
            opened_at: time(row.opened_at),
            last_activity_at: time(row.last_activity_at),
            file: row.id,
            office: row.office,
            state: row.state,
            opened_by: row.opened_by,
            actions,
            offers,
        })
    }

    /// A page of the office's files by id (oldest first), a read of each file listed.
    pub fn list(
        &self,
        agent: &str,
        state: Option<FileState>,
        after: Option<&str>,
        limit: Option<usize>,
    ) -> Result<FileList> {
        let limit = limit.unwrap_or(DEFAULT_LIST_LIMIT).clamp(1, MAX_LIST_LIMIT);
        let rows = self.store().list(self.office(), state, after, limit + 1)?;
        let more = rows.len() > limit;
        let rows = &rows[..rows.len().min(limit)];
        let entries: Vec<_> = rows.iter().map(|r| self.entry(agent, AccessKind::Read, &r.id, Some(&r.file))).collect();
        self.record(&entries)?;
        let files = rows
            .iter()
            .map(|r| {
                let identity = r.file.identity.as_ref();
                FileSummary {
                    file: r.id.clone(),
                    state: r.state,
                    opened_at: time(r.opened_at),
                    last_activity_at: time(r.last_activity_at),
                    family_name: identity.and_then(|i| i.family_name.clone()),
                    given_names: identity.and_then(|i| i.given_names.clone()),
                }
            })
            .collect();
        let next = if more { rows.last().map(|r| r.id.clone()) } else { None };
        Ok(FileList { format: FILES_FORMAT.to_owned(), office: self.office().to_owned(), files, next })
    }

    /// Applies updates to a file: all parsed first (an unknown field refused by name), then
    /// applied in order on a copy (a refusal leaves the file as it was), then stored with a
    /// history row per field and an access-log update per field.
    pub fn update(&self, agent: &str, id: &str, updates: &[FieldUpdate]) -> Result<Changed> {
        self.change(agent, id, updates, "update")
    }

    pub(crate) fn change(&self, agent: &str, id: &str, updates: &[FieldUpdate], kind: &'static str) -> Result<Changed> {
        if updates.is_empty() {
            return Err(refused("no update given: name a field and its value (`--set care.gir_level=4`)"));
        }
        if kind == "update" {
            self.not_frozen(&self.file_row(id)?.id)?;
        }
        let parsed =
            updates.iter().map(|u| Update::parse(&u.field, &u.value)).collect::<std::result::Result<Vec<_>, _>>()?;
        let now = self.now();
        // Read, apply, check and write in one transaction: a change made meanwhile is not undone.
        let (id, history) = self.store().change_file(id, now, |row, holder| {
            let row = self.office_row(id, row)?;
            let mut file = row.file.clone();
            let at = chrono::DateTime::<chrono::Utc>::from(now);
            let mut history = Vec::new();
            for update in parsed {
                let change = update.apply(&mut file, agent, at)?;
                history.push(ChangeEntryRow {
                    field: change.field.as_str().to_owned(),
                    kind,
                    agent: change.agent_id,
                    at: now,
                });
            }
            let person = self.rekeyed_person(
                &row,
                &file,
                holder,
                "another case file holds this NIR: the person's file is that one",
            )?;
            let entries: Vec<_> =
                history.iter().map(|_| self.entry(agent, AccessKind::Update, &row.id, Some(&file))).collect();
            self.record(&entries)?;
            let done = FileChange { file, changes: history.clone(), person };
            Ok::<_, SocialServiceError>((done, (row.id, history)))
        })?;
        let items: Vec<String> = history.into_iter().map(|h| h.field).collect();
        if kind == "rectification" {
            // Art. 40: a rectification of a transferred file is sent on to the receiving body.
            self.send_on_rectification(&id, &items)?;
        }
        Ok(Changed { format: CHANGED_FORMAT.to_owned(), file: id, what: kind.to_owned(), items })
    }

    /// The person hash `row`'s file is found by once changed into `changed`: `Some` when its NIR
    /// changed (a NIR rectified: the file is found by the new one from now on), refused with
    /// `taken` when another case file already holds that hash.
    pub(crate) fn rekeyed_person(
        &self,
        row: &FileRow,
        changed: &v1::SocialFile,
        holder: &crate::store::PersonHolder,
        taken: &str,
    ) -> Result<Option<[u8; 32]>> {
        let nir = |f: &v1::SocialFile| f.identity.as_ref().and_then(|i| i.nir.clone());
        let person = match nir(changed) {
            Some(new) if Some(&new) != nir(&row.file).as_ref() => Nir::parse(&new).ok().map(|n| self.file_person(&n)),
            _ => None,
        };
        if let Some(person) = &person {
            if holder(person)?.is_some_and(|other| other != row.id) {
                return Err(refused(taken));
            }
        }
        Ok(person)
    }

    /// Starts an action on an open file (at most one open at a time).
    pub fn start_action(&self, agent: &str, id: &str, request: &ActionRequest) -> Result<Changed> {
        let row = self.open_row(id)?;
        let purpose = match request.purpose.as_deref() {
            None => v1::ActionPurpose::RelationshipAndOffers as i32,
            Some(code) => purpose_number(code)
                .ok_or_else(|| refused(format!("unknown action purpose: use one of {}", all_codes(purpose_code))))?,
        };
        let action = v1::Action {
            action_id: Uuid::now_v7().to_string(),
            file_id: row.id.clone(),
            purpose,
            start: Some(self.date_or_today(request.start.as_deref(), "action's start")?),
            ..Default::default()
        };
        validate_action(&action).map_err(|p| refused(problems(&p)))?;
        self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
        if !self.store().start_action(&action, self.now())? {
            return Err(refused(format!("case file {} has an open action already: close it first", row.id)));
        }
        Ok(Changed {
            format: CHANGED_FORMAT.to_owned(),
            file: row.id,
            what: "action".into(),
            items: vec![action.action_id],
        })
    }

    /// Closes a file: its open action ends at `date` (today by default).
    pub fn close(&self, agent: &str, id: &str, request: &CloseRequest) -> Result<Changed> {
        let row = self.open_row(id)?;
        let end = self.date_or_today(request.date.as_deref(), "closing date")?;
        if let Some(mut open) = self.store().open_action(&row.id)? {
            open.end = Some(end);
            validate_action(&open).map_err(|p| refused(problems(&p)))?;
        }
        self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
        self.store().close_file(&row.id, &Self::date_text(&end), self.now())?;
        Ok(Changed { format: CHANGED_FORMAT.to_owned(), file: row.id, what: "close".into(), items: Vec::new() })
    }

    /// Records a contact with the person in the file's open action (one is started, purpose
    /// A.1, when none is open).
    pub fn contact(&self, agent: &str, id: &str, request: &ContactRequest) -> Result<Changed> {
        let row = self.open_row(id)?;
        let channel = channel_number(&request.channel)
            .ok_or_else(|| refused(format!("unknown contact channel: use one of {}", all_codes(channel_code))))?;
        let date = self.date_or_today(request.date.as_deref(), "contact's date")?;
        let action = match self.store().open_action(&row.id)? {
            Some(action) => action,
            None => {
                let request = ActionRequest { purpose: None, start: Some(Self::date_text(&date)) };
                self.start_action(agent, &row.id, &request)?;
                self.store().open_action(&row.id)?.ok_or_else(|| refused("the action could not be started"))?
            }
        };
        let contact = v1::Contact { channel, date: Some(date), agent_id: agent.to_owned() };
        let mut check = action.clone();
        check.contacts.push(contact.clone());
        validate_action(&check).map_err(|p| refused(problems(&p)))?;
        self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
        self.store().add_contact(&action.action_id, &row.id, &contact, self.now())?;
        Ok(Changed {
            format: CHANGED_FORMAT.to_owned(),
            file: row.id,
            what: "contact".into(),
            items: vec![action.action_id],
        })
    }

    /// Records an offer: individual (one file) or collective (files of the office, sessions).
    pub fn offer(&self, agent: &str, request: &OfferRequest) -> Result<Changed> {
        let kind = offer_kind_number(&request.kind)
            .ok_or_else(|| refused(format!("unknown offer kind: use one of {}", all_codes(offer_kind_code))))?;
        let theme = theme_number(&request.theme)
            .ok_or_else(|| refused(format!("unknown offer theme: use one of {}", all_codes(theme_code))))?;
        let mut sessions = Vec::new();
        for s in &request.sessions {
            let date = self.date_or_today(s.date.as_deref(), "session's date")?;
            sessions.push(v1::OfferSession { date: Some(date), attendee_file_ids: s.attendees.clone() });
        }
        let offer = v1::Offer {
            offer_id: Uuid::now_v7().to_string(),
            kind,
            theme,
            participant_file_ids: request.participants.clone(),
            sessions,
        };
        validate_offer(&offer).map_err(|p| refused(problems(&p)))?;
        let rows = request.participants.iter().map(|p| self.open_row(p)).collect::<Result<Vec<_>>>()?;
        let entries: Vec<_> =
            rows.iter().map(|r| self.entry(agent, AccessKind::Update, &r.id, Some(&r.file))).collect();
        self.record(&entries)?;
        self.store().insert_offer(self.office(), &offer, agent, self.now())?;
        let file = request.participants.first().cloned().unwrap_or_default();
        Ok(Changed { format: CHANGED_FORMAT.to_owned(), file, what: "offer".into(), items: vec![offer.offer_id] })
    }
}

/// Problems of a validation in words (paths and rules, never values).
pub(crate) fn problems(problems: &[passerelle_social_file::FieldProblem]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
