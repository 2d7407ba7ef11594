//! Sending a file (norm 43, A.3): the checks that refuse before anything is stored, the
//! minimised copy (`transfer.proto`'s rules), and the one transaction that freezes the file,
//! records the transfer, queues its chunks in the outbox and consumes the releases — the
//! access log's `transfer` entry written inside it, before the answer.

use std::collections::HashMap;

use chrono::Datelike;
use passerelle_access_log::AccessKind;
use passerelle_bus::{Kind, Message, SCHEMA_VERSION};
use passerelle_protocol::v1;
use uuid::Uuid;

use super::transfer_views::*;
use super::transfers::{parse_address, refused, MAX_CHUNK_ACTIONS, MEDICAL_OPINIONS, SOCIAL_ASSESSMENT, TRANSFER_CAP};
use super::{Result, SocialService};
use crate::store::outbox::{self, OutboxRow};
use crate::store::transfers::{self as t, OutTransfer};
use crate::store::{rfc3339, FileRow};

const _: () = assert!(MAX_CHUNK_ACTIONS == 500);

/// What a transfer sends: the file without what was not released, and the actions.
pub(crate) struct Minimised {
    pub file: v1::SocialFile,
    pub withheld: Vec<v1::WithheldItem>,
    pub actions: Vec<v1::TransferredAction>,
}

/// The withheld item's code.
pub(crate) fn withheld_code(item: v1::WithheldItem) -> &'static str {
    match item {
        v1::WithheldItem::MedicalOpinions => MEDICAL_OPINIONS,
        v1::WithheldItem::SocialAssessment => SOCIAL_ASSESSMENT,
        v1::WithheldItem::Unspecified => "unspecified",
    }
}

/// The file as the rules let it travel: the medical opinions (I.10) only when released, the
/// assessment (I.7) only when released; each item left out and present is listed withheld.
pub(crate) fn minimise(
    file: &v1::SocialFile,
    medical: bool,
    assessment: bool,
) -> (v1::SocialFile, Vec<v1::WithheldItem>) {
    let mut out = file.clone();
    let mut withheld = Vec::new();
    if !medical && out.medical.as_ref().is_some_and(|m| !m.opinions.is_empty()) {
        out.medical = None;
        withheld.push(v1::WithheldItem::MedicalOpinions);
    }
    if !assessment {
        if let Some(situation) = out.social_situation.as_mut() {
            if situation.assessment.take().is_some() {
                withheld.push(v1::WithheldItem::SocialAssessment);
            }
        }
    }
    (out, withheld)
}

impl SocialService {
    /// The actions of a file as a transfer carries them: purpose, dates, contact channels and
    /// dates (no agent), the offers' kinds and themes (no participant).
    pub(crate) fn transferred_actions(&self, file: &str) -> Result<Vec<v1::TransferredAction>> {
        let offers: HashMap<String, (i32, i32)> = self
            .store()
            .offers_of(file)?
            .into_iter()
            .map(|o| (o.offer.offer_id.clone(), (o.offer.kind, o.offer.theme)))
            .collect();
        Ok(self
            .store()
            .actions(file)?
            .into_iter()
            .map(|a| v1::TransferredAction {
                purpose: a.purpose,
                start: a.start,
                end: a.end,
                contacts: a
                    .contacts
                    .into_iter()
                    .map(|c| v1::TransferredContact { channel: c.channel, date: c.date })
                    .collect(),
                offers: a
                    .offer_ids
                    .iter()
                    .filter_map(|id| offers.get(id))
                    .map(|(kind, theme)| v1::TransferredOffer { kind: *kind, theme: *theme })
                    .collect(),
            })
            .collect())
    }

    /// A day in the body's legal time zone.
    pub(crate) fn legal_day(&self, at: std::time::SystemTime) -> v1::Date {
        let zone = self.settings().trails.time_zone.zone();
        let d = chrono::DateTime::<chrono::Utc>::from(at).with_timezone(&zone).date_naive();
        v1::Date { year: d.year() as u32, month: d.month(), day: d.day() }
    }

    /// Checks a destination before anything is stored: a `[broker]`, `BODY/OFFICE`, a
    /// health-insurance social service (the fixed list), one of the deployment's, not this one.
    /// Its party code.
    pub(crate) fn destination(&self, to: &str) -> Result<(String, String, String)> {
        let broker = self.settings().broker.as_ref().ok_or_else(|| {
            refused(
                "this social service has no [broker]: it neither sends nor receives transfers \
                 (add [broker] with its [broker.social_services] to its settings)",
            )
        })?;
        let (body, office) = parse_address(to)?;
        passerelle_protocol::social_services::check_destination(&body).map_err(refused)?;
        if !broker.social_services.get(&body).is_some_and(|offices| offices.contains(&office)) {
            return Err(refused(format!(
                "unknown office {body}/{office}: it is not a social service of this deployment \
                 ([broker.social_services] lists those a file may go to)"
            )));
        }
        let party = passerelle_bus::office::party(&body, &office);
        if party == self.party() {
            return Err(refused(format!(
                "{body}/{office} is this social service: a file is transferred to another one"
            )));
        }
        Ok((body, office, party))
    }

    /// Freezes `request.file` and queues its transfer (a `social-worker` of the file's office).
    pub fn transfer_send(&self, agent: &str, request: &SendTransfer) -> Result<TransferView> {
        let (to_body, to_office, to_party) = self.destination(&request.to)?;
        let row = self.open_row(&request.file)?;
        self.sendable(&row)?;
        let actions = self.transferred_actions(&row.id)?;
        let archive_refused = self.store().refused_archive(&row.id)?;
        let now = self.now();
        let id = Uuid::now_v7().to_string();
        let chunk_actions = self.chunk_actions();
        let out = self.store().transact(|tx| {
            let medical_by = t::released_by(tx, &row.id, &to_party, MEDICAL_OPINIONS)?;
            let assessment_by = request.release_assessment.then(|| agent.to_owned());
            let (file, withheld) = minimise(&row.file, medical_by.is_some(), assessment_by.is_some());
            if !t::freeze(tx, &row.id, &id)? {
                return Err(refused(format!("case file {} is being transferred already", row.id)));
            }
            let out = OutTransfer {
                id: id.clone(),
                file: row.id.clone(),
                to_body: to_body.clone(),
                to_office: to_office.clone(),
                state: "sending".into(),
                sent_at: now,
                requested_by: agent.to_owned(),
                medical_released_by: medical_by,
                assessment_released_by: assessment_by,
                withheld: withheld.iter().map(|w| withheld_code(*w).to_owned()).collect(),
                decided_at: None,
                refusal: None,
                amendments: 0,
                amendments_applied: 0,
            };
            t::insert_out(tx, &out)?;
            let minimised = Minimised { file, withheld, actions };
            for chunk in self.chunks(&out, &row, minimised, archive_refused, chunk_actions) {
                let row = OutboxRow {
                    id: 0,
                    kind: Kind::Transfer.type_name().to_owned(),
                    routing_key: to_party.clone(),
                    message_id: Uuid::now_v7().to_string(),
                    transfer: id.clone(),
                    expires_at: now + TRANSFER_CAP,
                    payload: Message::Transfer(chunk).encode(),
                };
                outbox::queue(tx, &row, now)?;
            }
            t::consume_releases(tx, &row.id, &to_party)?;
            self.record(&[self.entry(agent, AccessKind::Transfer, &row.id, Some(&row.file))])?;
            Ok::<_, super::SocialServiceError>(out)
        })?;
        tracing::info!(file = %row.id, transfer = %id, to = %to_party, "case file transfer queued");
        self.outbox_wake();
        Ok(self.out_view(&out))
    }

    /// A file that may be sent: no objection pending, the person not opposed.
    fn sendable(&self, row: &FileRow) -> Result<()> {
        if self.store().pending_objection(&row.id)? {
            return Err(refused(format!(
                "case file {} has an objection pending (art. 38): the director decides before the file may move",
                row.id
            )));
        }
        if self.store().person_of(&row.id)?.is_some_and(|p| self.store().is_opposed(&p).unwrap_or(true)) {
            return Err(refused(super::opposition::OPPOSED));
        }
        Ok(())
    }

    /// The chunks of a transfer: chunk 0 the file and the first actions, each next one further
    /// actions, at most `per_chunk` a chunk.
    fn chunks(
        &self,
        out: &OutTransfer,
        row: &FileRow,
        minimised: Minimised,
        archive_refused: bool,
        per_chunk: usize,
    ) -> Vec<v1::Transfer> {
        let Minimised { file, withheld, actions } = minimised;
        let mut groups: Vec<Vec<v1::TransferredAction>> =
            actions.chunks(per_chunk).map(<[v1::TransferredAction]>::to_vec).collect();
        if groups.is_empty() {
            groups.push(Vec::new());
        }
        let count = groups.len() as u32;
        let header = v1::Transfer {
            schema_version: SCHEMA_VERSION,
            sender: self.party(),
            transfer_id: out.id.clone(),
            from: Some(v1::SocialServiceAddress {
                body: self.settings().body.clone(),
                office: self.office().to_owned(),
            }),
            to: Some(v1::SocialServiceAddress { body: out.to_body.clone(), office: out.to_office.clone() }),
            basis: passerelle_protocol::legal::SOCIAL_FILE_TRANSFER as i32,
            sent_at: Some(prost_types_timestamp(out.sent_at)),
            chunk_count: count,
            ..Default::default()
        };
        groups
            .into_iter()
            .enumerate()
            .map(|(i, actions)| {
                let mut chunk = v1::Transfer { chunk_index: i as u32, actions, ..header.clone() };
                if i == 0 {
                    chunk.file = Some(file.clone());
                    chunk.withheld = withheld.iter().map(|w| *w as i32).collect();
                    chunk.archive_refused = archive_refused;
                    chunk.followed_since = Some(self.legal_day(row.opened_at));
                }
                chunk
            })
            .collect()
    }

    /// Releases the medical opinions of a file for its next transfer to `request.to` (a
    /// `medical-officer`).
    pub fn transfer_release_medical(&self, agent: &str, request: &ReleaseMedical) -> Result<ReleaseView> {
        let (_, _, to_party) = self.destination(&request.to)?;
        let row = self.file_row(&request.file)?;
        let now = self.now();
        self.store().transact(|tx| {
            t::release(tx, &row.id, &to_party, MEDICAL_OPINIONS, agent, now)?;
            self.record(&[self.entry(agent, AccessKind::Update, &row.id, Some(&row.file))])?;
            Ok::<_, super::SocialServiceError>(())
        })?;
        Ok(ReleaseView {
            format: TRANSFERS_FORMAT.to_owned(),
            file: row.id,
            to: request.to.clone(),
            item: MEDICAL_OPINIONS.to_owned(),
            released_by: agent.to_owned(),
            released_at: rfc3339(passerelle_sqlite::time::to_ms(now)),
        })
    }
}

/// A protobuf timestamp.
pub(crate) fn prost_types_timestamp(at: std::time::SystemTime) -> prost_types::Timestamp {
    prost_types::Timestamp::from(at)
}

/// A protobuf timestamp read back (the epoch when absent).
pub(crate) fn system_time(at: Option<&prost_types::Timestamp>) -> std::time::SystemTime {
    at.and_then(|t| std::time::SystemTime::try_from(*t).ok()).unwrap_or(std::time::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_released_is_left_out_and_listed() {
        let file = v1::SocialFile {
            medical: Some(v1::MedicalService { opinions: vec![v1::MedicalOpinion::default()] }),
            social_situation: Some(v1::SocialSituation {
                assessment: Some("Évaluation.".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let (out, withheld) = minimise(&file, false, false);
        assert!(out.medical.is_none() && out.social_situation.unwrap().assessment.is_none());
        assert_eq!(withheld, vec![v1::WithheldItem::MedicalOpinions, v1::WithheldItem::SocialAssessment]);
        let (out, withheld) = minimise(&file, true, true);
        assert_eq!(out, file);
        assert!(withheld.is_empty());
        let (_, withheld) = minimise(&v1::SocialFile::default(), false, false);
        assert!(withheld.is_empty(), "nothing to withhold");
    }
}
