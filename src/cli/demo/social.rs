//! The decree's last step and the norm's first, after a CPAM's flow (`--requester cpam`): the
//! health branch's social service — hosted by the territory's CARSAT, office [`OFFICE`], linked
//! to the CPAM requester's office — walks the ranked contact list in rank order and offers its
//! service to each person; a deterministic share accept ([`ANSWERS`]), each acceptance opening a
//! norm-43 case file, and the others decline or do not reply (and never enter its store).
//!
//! The parties of the demo serve no local API, so the walk calls in process what the two
//! daemons' API handlers call: at the requester [`Requester::worklist`] and
//! [`Requester::record_offer_outcome`] (each access logged with the social worker relayed by the
//! service account, as the handlers log it), and at the social service
//! [`SocialService::worklist_read`] and [`SocialService::apply_outcome`] — the one
//! open-from-outcome path its API uses too. Between them the pages and answers travel as the
//! local API carries them: serialised to JSON and read back ([`wire`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use passerelle_access_log::relayed_actor;
use passerelle_party::Party;
use passerelle_protocol::rules::{Clock, SystemClock};
use passerelle_requester::api::worklist::{WorklistAnswer, MAX_WORKLIST_LIMIT, OFFER_OUTCOME_FORMAT, WORKLIST_FORMAT};
use passerelle_requester::api::{Outcome, OutcomeAnswer};
use passerelle_requester::service::{NewOutcome, WorklistCursor};
use passerelle_requester::Requester;
use passerelle_social_service::requester_client as wire_types;
use passerelle_social_service::{SocialService, SocialServiceSettings};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::flow::AfterFlow;
use super::layout::Layout;
use super::progress::Progress;
use super::summary::{LeftBehind, SocialServiceSummary, Summary};

/// The social service's office: the Bouches-du-Rhône's, like the CPAM requester's `cpam-13`.
pub const OFFICE: &str = "ssa-13";

/// The social worker who makes the offers (relayed to the requester, named in both access logs
/// and in the files' history).
pub const WORKER: &str = "as-13-01";

/// The social service's account in the requester's registry (role `social-service`).
pub const SERVICE_ACCOUNT: &str = "svc-ssa-13";

/// How the persons answer, in the order they are offered the service, from a position the seed
/// shifts: 3 in 10 accept, 4 decline, 3 do not reply — interleaved, so every stretch of the
/// list has its share and the counts are exact over each ten persons.
pub const ANSWERS: [Outcome; 10] = [
    Outcome::Accepted,
    Outcome::Declined,
    Outcome::NoReply,
    Outcome::Declined,
    Outcome::Accepted,
    Outcome::Declined,
    Outcome::NoReply,
    Outcome::Accepted,
    Outcome::Declined,
    Outcome::NoReply,
];

/// The answer of the person offered the service at `position` (0 for the first) in a run of
/// `seed`.
pub fn answer(seed: u64, position: u64) -> Outcome {
    let n = ANSWERS.len() as u64;
    // Each reduced first: a sum that wrapped past u64::MAX would break the pattern.
    ANSWERS[((seed % n + position % n) % n) as usize]
}

/// The [`AfterFlow`] of `--requester cpam`: the social service walks the contact list.
#[derive(Debug, Clone, Copy)]
pub struct SocialServiceWalk {
    /// The demo's seed: which persons accept (the share does not depend on it).
    pub seed: u64,
}

impl AfterFlow for SocialServiceWalk {
    async fn run(
        self,
        requester: &Party,
        layout: &Layout,
        progress: &mut Progress,
        summary: &mut Summary,
    ) -> anyhow::Result<()> {
        let r = requester.requester().ok_or_else(|| anyhow!("the demo's requester party is not one"))?.clone();
        // The territory's CARSAT hosts the health branch's social service (the observatory's body).
        let host = summary.observatory.clone();
        let service = social_service(&r, &host, layout)?;
        let stage = progress.bar("social", "social service offers", summary.persons.in_result, "persons");
        let bar = stage.bar.clone();
        let seed = self.seed;
        let walking = service.clone();
        let walked = tokio::task::spawn_blocking(move || walk(&r, &walking, seed, &bar))
            .await
            .context("the social service's walk stopped")?;
        let mut walked = match walked {
            Ok(walked) => walked,
            Err(e) => {
                progress.abandon(stage);
                return Err(e);
            }
        };
        let (open, closed) = service.store().counts().context("cannot count the social service's files")?;
        walked.files_in_store = open + closed;
        walked.adds_up = walked.offers == summary.persons.in_result
            && walked.accepted + walked.declined + walked.no_reply == walked.offers
            && walked.files_opened == walked.accepted
            && walked.files_in_store == walked.accepted;
        progress.finish(
            stage,
            format!(
                "Social service: {} offers, {} accepted, {} declined, {} no reply; {} case files opened",
                walked.offers, walked.accepted, walked.declined, walked.no_reply, walked.files_opened
            ),
        );
        summary.social_service = Some(walked);
        Ok(())
    }
}

/// The social service of `host`, office [`OFFICE`], its store in the demo's folder, linked to
/// the requester's office (whose API socket it would call as a daemon; the demo calls in
/// process).
fn social_service(r: &Requester, host: &str, layout: &Layout) -> anyhow::Result<SocialService> {
    let rs = r.settings();
    let socket = rs.api.socket_or_default(&rs.data_dir);
    let mut settings = SocialServiceSettings::for_dir(host, OFFICE, &layout.social_service(), &socket, &rs.office);
    settings.profile = passerelle_hooks::Profile::Production;
    SocialService::build(settings, Arc::new(SystemClock)).context("cannot start the social service")
}

/// A value as the local API carries it between the two daemons: JSON, read back as the other
/// side's type.
fn wire<T: Serialize, U: DeserializeOwned>(value: &T) -> anyhow::Result<U> {
    serde_json::from_value(serde_json::to_value(value)?).context("the two daemons' formats disagree")
}

/// The walk: every person of the office's contact lists, page by page in rank order, offered
/// the service by [`WORKER`]; their answer recorded at the requester and applied at the social
/// service. Blocking (both stores are SQLite).
fn walk(r: &Requester, service: &SocialService, seed: u64, bar: &ProgressBar) -> anyhow::Result<SocialServiceSummary> {
    let actor = relayed_actor(SERVICE_ACCOUNT, WORKER);
    let zone = r.settings().trails.time_zone.zone();
    let today = DateTime::<Utc>::from(SystemClock.now()).with_timezone(&zone).date_naive();
    let mut s = SocialServiceSummary {
        body: service.settings().body.clone(),
        office: service.office().to_owned(),
        requester_office: r.settings().office.clone(),
        worker: WORKER.to_owned(),
        ..SocialServiceSummary::default()
    };
    let mut left_behind: BTreeMap<String, u64> = BTreeMap::new();
    let mut after: Option<WorklistCursor> = None;
    loop {
        // The requester's `GET /v1/worklist?pending=true`, as its handler does it.
        let page = r.worklist(after, MAX_WORKLIST_LIMIT, true).context("the requester cannot read its worklist")?;
        r.accesses()
            .record_all(&r.worklist_reads(&actor, &page))
            .context("the requester cannot write its access log")?;
        let served = WorklistAnswer {
            format: WORKLIST_FORMAT.to_owned(),
            office: r.settings().office.clone(),
            entries: page.entries,
            next: page.next.map(|c| c.to_string()),
        };
        let mut page: wire_types::Worklist = wire(&served)?;
        service.recognise_opposed(&mut page).context("the social service cannot recognise the opposed persons")?;
        service.worklist_read(WORKER, &page).context("the social service cannot record its worklist read")?;
        for entry in page.entries.iter().filter(|e| !e.opposed) {
            let outcome = answer(seed, s.offers);
            let new = NewOutcome { case: entry.case, line: entry.line, outcome, date: today };
            // The requester's `POST /v1/worklist/outcome`, as its handler does it.
            let person = r
                .record_offer_outcome(&actor, WORKER, &new)
                .context("the requester cannot record the offer's outcome")?;
            let recorded = OutcomeAnswer {
                format: OFFER_OUTCOME_FORMAT.to_owned(),
                office: r.settings().office.clone(),
                case: entry.case,
                line: entry.line,
                outcome,
                date: today.format("%Y-%m-%d").to_string(),
                agent: WORKER.to_owned(),
                person,
            };
            let view = service
                .apply_outcome(WORKER, &wire(&recorded)?)
                .context("the social service cannot take the offer's outcome")?;
            s.offers += 1;
            match outcome {
                Outcome::Accepted => s.accepted += 1,
                Outcome::Declined => s.declined += 1,
                Outcome::NoReply => s.no_reply += 1,
            }
            if view.file.is_some() && !view.existing {
                s.files_opened += 1;
            }
            for code in view.left_behind {
                *left_behind.entry(code).or_default() += 1;
            }
            bar.inc(1);
        }
        after = match &page.next {
            Some(next) => Some(next.parse().map_err(|e| anyhow!("the requester's cursor: {e}"))?),
            None => break,
        };
    }
    let mut left: Vec<LeftBehind> =
        left_behind.into_iter().map(|(code, persons)| LeftBehind { code, persons }).collect();
    left.sort_by(|a, b| b.persons.cmp(&a.persons).then_with(|| a.code.cmp(&b.code)));
    s.left_behind = left;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_in_ten_accept_whatever_the_seed_and_the_stretch() {
        for seed in [0, 1, 7, u64::MAX] {
            for start in [0, 3, 995] {
                let answers: Vec<Outcome> = (start..start + 10).map(|p| answer(seed, p)).collect();
                let count = |o| answers.iter().filter(|a| **a == o).count();
                assert_eq!(
                    (count(Outcome::Accepted), count(Outcome::Declined), count(Outcome::NoReply)),
                    (3, 4, 3),
                    "seed {seed}, from {start}"
                );
            }
        }
        assert_ne!(
            (0..10).map(|p| answer(1, p)).collect::<Vec<_>>(),
            (0..10).map(|p| answer(2, p)).collect::<Vec<_>>(),
            "the seed changes who accepts"
        );
    }
}
