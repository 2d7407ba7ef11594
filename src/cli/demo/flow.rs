//! The demo's run, stage by stage: a synthetic population → each solicited body's extract
//! indexed → the bus (in-process, or RabbitMQ under a fresh prefix) → the observatory and the
//! responders running → the requester's submission → the answers → the ranked result → the
//! observatory's purge on the receipt → everything stopped (and, over RabbitMQ, the prefix's
//! exchanges and queues deleted).
//!
//! Every party runs as it would in production — its own settings, store folder and bus
//! connection ([`super::buses`]), started by the bootstrap every daemon uses
//! (`passerelle_party`) — only in one process.
//!
//! Once the flow is over, and before the parties stop, an [`AfterFlow`] step gets the requester
//! party (its store holds the ranked contact list) to carry on from there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use chrono::Datelike;
use passerelle_bus::BusSettings;
use passerelle_observatory::solicit::RoutingTable;
use passerelle_observatory::StatusReader;
use passerelle_party::deployment::InProcess;
use passerelle_party::{Deployment, Party};
use passerelle_protocol::rules::{Clock, SystemClock};
use passerelle_protocol::v1::{Category, OfferedService};
use passerelle_requester::{Requester, SubmitRequest};
use passerelle_responder::load_extract;
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use passerelle_synth::{SynthOptions, TerritoryChoice};

use super::buses::Buses;
use super::check;
use super::layout::Layout;
use super::progress::Progress;
use super::requester::RequesterChoice;
use super::summary::{BodySummary, BusSummary, CaseSummary, PersonsSummary, PurgeSummary, RequesterSummary, Summary};

/// Persons per request, solicitation and result chunk: small enough that even the default
/// population travels in several chunks, as a real one does.
const CHUNK_SIZE: usize = 500;

/// The observatory's timer period: deadlines are seconds long in the demo, so the timer must
/// look often (production: one second).
const TIMER_TICK_MS: u64 = 100;

/// How long past the deadline the requester waits for the (then partial) result: the timer's
/// tick, the result's transit and a slow machine.
const RESULT_GRACE: Duration = Duration::from_secs(30);

/// How long the observatory has, after the receipt is sent, to purge the case.
const PURGE_WAIT: Duration = Duration::from_secs(30);

/// How often the demo looks at the observatory's store while waiting for the purge.
const POLL: Duration = Duration::from_millis(50);

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub persons: u64,
    /// The observatory whose territory the population lives in (and which runs).
    pub observatory: String,
    /// RabbitMQ instead of the in-process bus.
    pub amqp: Option<String>,
    pub respond_by: Duration,
    pub seed: u64,
    pub wanted: Vec<Category>,
    /// Who requests: a CAF or a CPAM (branch and office); the responders follow from it.
    pub requester: RequesterChoice,
}

/// A step run after the decree flow, with the requester party still open: the hook where a
/// later stage walks the requester's ranked contact list (`social::SocialServiceWalk`: a
/// CPAM's social service offers its service to the persons of the list). It runs once the result is written and the
/// observatory has purged the case, before the parties stop and, over RabbitMQ, the topology is
/// deleted; a failure fails the demo. What it writes in the summary is reported with the rest.
pub trait AfterFlow {
    /// `requester` is the requester party: [`Party::requester`] gives its `Requester` (settings,
    /// store, the case ids in `summary.cases`).
    async fn run(
        self,
        requester: &Party,
        layout: &Layout,
        progress: &mut Progress,
        summary: &mut Summary,
    ) -> anyhow::Result<()>;
}

/// Nothing after the flow: the demo as `passerelle demo` runs it today.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAfterFlow;

impl AfterFlow for NoAfterFlow {
    async fn run(self, _: &Party, _: &Layout, _: &mut Progress, _: &mut Summary) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Runs the whole demo in `layout`, then `after` on the requester party, and returns the summary.
pub async fn run(
    options: &DemoOptions,
    layout: &Layout,
    progress: &mut Progress,
    after: impl AfterFlow,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    // The population is as of today (Paris), the day the selection is submitted.
    let today = passerelle_protocol::calendar::LegalCalendar::default().date_of(SystemClock.now());
    let reference_year = today.year();
    let (requester_body, requester_office) = (options.requester.body(), options.requester.office());

    // 1. The synthetic population: the requester's selection and one extract per body.
    let stage = progress.bar("population", "synthetic population", options.persons, "persons");
    let synth = SynthOptions {
        persons: options.persons,
        territory: TerritoryChoice::Observatory(options.observatory.clone()),
        seed: options.seed,
        reference_year,
        as_of: Some(today),
        requester: requester_body.to_owned(),
    };
    let population = layout.population();
    let manifest =
        passerelle_synth::generate_with_progress(&synth, &population, &mut |done| stage.bar.set_position(done))
            .context("cannot make the synthetic population")?;
    progress.finish(stage, format!("{} persons, one extract per body", manifest.persons));

    // Which bodies the default routing solicits for these categories (never the requester's own).
    let broker = BusSettings::default();
    let routing = RoutingTable::new(&BTreeMap::new(), &broker.bodies).map_err(|e| anyhow!(e))?;
    let plan = routing.plan(&options.wanted, requester_body);
    if plan.is_empty() {
        bail!("no other body holds the categories asked: nothing to solicit");
    }
    let solicited: Vec<String> = plan.iter().map(|(b, _)| b.to_string()).collect();

    // 2. Each solicited body indexes its extract, as `passerelle responder load` does.
    let mut deployment =
        Deployment::new(layout.root(), &broker, &options.observatory, &solicited, (requester_body, requester_office));
    deployment.set_chunk_size(CHUNK_SIZE);
    deployment.observatory.tick_ms = TIMER_TICK_MS;
    deployment.create_dirs()?;
    let stage = progress.bar("extracts", "responders load extracts", solicited.len() as u64, "bodies");
    let mut extract_persons = BTreeMap::new();
    for settings in &deployment.responders {
        let body = &settings.body;
        stage.bar.set_message(body.clone());
        let extract = population.join(passerelle_synth::extract_file_name(body));
        let mut report = ReportWriter::new(ReportFormat::Human, std::io::sink()).with_noun("line");
        let loaded = load_extract(settings, &extract, Encoding::Utf8, &mut report)
            .with_context(|| format!("responder {body} cannot load {}", extract.display()))?;
        extract_persons.insert(body.clone(), loaded.index.persons);
        stage.bar.inc(1);
    }
    progress.finish(
        stage,
        extract_persons.iter().map(|(b, n)| format!("{b} {n}")).collect::<Vec<_>>().join(", ") + " persons",
    );

    // 3. The bus.
    let stage = progress.spinner("broker", "broker");
    let buses = match &options.amqp {
        None => Buses::in_process(&options.observatory, requester_body),
        Some(url) => Buses::amqp(url, &options.observatory, requester_body, &solicited).await?,
    };
    deployment.set_broker(&buses.settings);
    if options.amqp.is_some() {
        // Every party logs in with the URL's one user: the shared identity of the development
        // profile, asked for by name (each party announces it).
        deployment.set_profile(passerelle_hooks::Profile::Development);
    }
    let bus_kind = if options.amqp.is_some() { "amqp" } else { "in-process" };
    progress.finish(
        stage,
        match bus_kind {
            "amqp" => format!("RabbitMQ, prefix {}", buses.settings.prefix),
            _ => "in-process bus, one broker user per party".to_owned(),
        },
    );

    // Everything after the topology exists must end with the teardown, whatever happens.
    let flow = run_flow(options, layout, progress, &deployment, &buses, after).await;
    let dead_letters = buses.dead_letters();
    let prefix = buses.settings.prefix.clone();
    let stage = progress.spinner("stop", "stop and clean up");
    let topology_deleted = buses.close().await;
    let mut summary = flow?;
    progress.finish(
        stage,
        match topology_deleted {
            Some(true) => "services stopped, the prefix's exchanges and queues deleted",
            Some(false) => "services stopped; some exchanges or queues could NOT be deleted",
            None => "services stopped",
        },
    );
    if topology_deleted == Some(false) {
        bail!("the demo's exchanges and queues (prefix {prefix}) could not all be deleted");
    }
    for (body, b) in summary.bodies.iter_mut() {
        b.extract_persons = extract_persons.get(body).copied().unwrap_or(0);
    }
    summary.bus = BusSummary { kind: bus_kind, prefix, topology_deleted, dead_letters };
    summary.stages = progress.stages().to_vec();
    summary.total_seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Stages 4 to 8, on a bus that exists, then the [`AfterFlow`] step: the parties start in this
/// process, through the bootstrap every daemon uses; they are stopped whatever happens.
async fn run_flow(
    options: &DemoOptions,
    layout: &Layout,
    progress: &mut Progress,
    deployment: &Deployment,
    buses: &Buses,
    after: impl AfterFlow,
) -> anyhow::Result<Summary> {
    let stage = progress.spinner("start", "start the services");
    let started = match deployment.start_in_process(|party| buses.bus_for(party)).await {
        Ok(started) => started,
        Err(e) => {
            progress.abandon(stage);
            return Err(e.into_inner());
        }
    };
    let InProcess { running, status, responder_stats, requester } = started;
    let outcome = async {
        let Some(r) = requester.requester() else { bail!("the deployment's requester is not one") };
        let listening = r.listen().await.context("the requester cannot listen for its results")?;
        progress.finish(
            stage,
            format!(
                "observatory {}, responders {}",
                options.observatory,
                responder_stats.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
        let outcome = submit_and_follow(options, layout, progress, r, &status).await;
        listening.stop().await;
        let mut summary = outcome?;
        // The hook: the flow is over, the requester party still open.
        after.run(&requester, layout, progress, &mut summary).await?;
        Ok(summary)
    }
    .await;
    requester.close().await;
    drop(status);
    let stopped = running.stop().await;
    let mut summary = outcome?;
    stopped.context("a service failed")?;
    for (body, stats) in responder_stats {
        let s = stats.snapshot();
        let entry = summary.bodies.entry(body).or_default();
        entry.responder_chunks = s.chunks;
        entry.responder_persons = s.persons;
    }
    Ok(summary)
}

/// Stages 5 to 8: submit, wait for the answers, write the result, wait for the purge.
async fn submit_and_follow(
    options: &DemoOptions,
    layout: &Layout,
    progress: &mut Progress,
    requester: &Requester,
    status: &StatusReader,
) -> anyhow::Result<Summary> {
    // 5. The submission, exactly as `passerelle requester submit` makes it.
    let selection = layout.population().join(passerelle_synth::SELECTION_FILE);
    let out = layout.requester().join("out").join("demo-result");
    let request = SubmitRequest {
        selection: selection.clone(),
        encoding: Encoding::Utf8,
        wanted: options.wanted.clone(),
        service: OfferedService::PreventionWorkshop,
        purpose: "Atelier prévention des chutes (démonstration)".to_owned(),
        respond_by: options.respond_by,
        out: Some(out),
        strict: false,
    };
    let stage = progress.bar("submit", "requester submits", options.persons, "persons");
    let mut rejected_lines = BTreeSet::new();
    let submitted = requester
        .prepare(&request, &mut |rejection| {
            rejected_lines.insert(rejection.line);
        })
        .context("the requester cannot prepare the submission")?;
    stage.bar.set_length(submitted.selection.valid);
    requester.send(&submitted.case_ids(), &stage.bar).await.context("the requester cannot send its cases")?;
    progress.finish(
        stage,
        format!(
            "{} valid, {} rejected, {} case(s) sent",
            submitted.selection.valid,
            submitted.selection.rejected,
            submitted.cases.len()
        ),
    );

    // 6. The observatory solicits, the bodies answer, the result comes back.
    let stage = progress.bar("answers", "bodies answer", submitted.cases.len() as u64, "cases");
    let deadline = SystemTime::now() + options.respond_by + RESULT_GRACE;
    let cases = requester
        .wait_for_results(&submitted.case_ids(), &stage.bar, Some(deadline))
        .await
        .context("the requester cannot follow its cases")?;
    if cases.iter().any(|c| !c.state.is_settled()) {
        progress.abandon(stage);
        bail!("no result {} s after the deadline: is the observatory running?", RESULT_GRACE.as_secs());
    }
    let complete = cases.iter().all(|c| c.completeness == passerelle_protocol::v1::Completeness::Complete);
    progress.finish(stage, if complete { "complete" } else { "partial (a body did not answer in time)" });

    // 7. The ranked contact list.
    let stage = progress.spinner("result", "requester ranks");
    let (written, result_summary) =
        requester.write_result(submitted.submission).context("the requester cannot write the result")?;
    progress.finish(stage, format!("{} persons in the contact list", written.persons));

    // 8. The receipt goes back (the requester sends it once the whole result is stored) and the
    // observatory purges the case's payloads.
    let stage = progress.spinner("purge", "observatory purges");
    let case_ids: Vec<String> = submitted.case_ids().iter().map(|c| c.to_string()).collect();
    let purge_deadline = Instant::now() + PURGE_WAIT;
    loop {
        let all_purged = case_ids.iter().all(|id| {
            status.case(id).ok().flatten().is_some_and(|c| c.state == passerelle_observatory_store::CaseState::Purged)
        });
        if all_purged {
            break;
        }
        if Instant::now() >= purge_deadline {
            progress.abandon(stage);
            bail!("the observatory did not purge the case within {} s of the result", PURGE_WAIT.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
    let purge = purge_summary(status, &case_ids)?;
    progress.finish(stage, format!("{} persons and {} answers deleted", purge.persons, purge.answers));

    // The checks and the counts.
    let today = requester.settings().trails.time_zone.date_of(SystemClock.now());
    let valid = check::valid_lines(&selection, today, &requester.settings().body)?;
    let refused: BTreeSet<u64> =
        result_summary.cases.iter().flat_map(|c| c.refused_persons.iter().map(|r| r.line)).collect();
    let refused_whole: u64 =
        result_summary.cases.iter().filter(|c| !c.case_refused.is_empty()).map(|c| c.persons).sum();
    let jsonl = written
        .files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "jsonl"))
        .ok_or_else(|| anyhow!("the requester wrote no JSON Lines result"))?;
    let result_check = check::check_result(&valid, &refused, jsonl)?;

    let mut bodies: BTreeMap<String, BodySummary> = BTreeMap::new();
    for case in &result_summary.cases {
        for b in &case.bodies {
            let entry = bodies.entry(b.body.clone()).or_default();
            entry.asked = b.asked.iter().map(|c| c.to_string()).collect();
            entry.answered = b.answered;
            entry.declined.extend(b.declined.iter().map(|d| {
                let detail = if d.detail.is_empty() { String::new() } else { format!(" ({})", d.detail) };
                format!("{}: {}{detail}", d.category, d.reason)
            }));
        }
    }
    for case_id in &case_ids {
        for entry in status.audit_entries(Some(case_id)).context("cannot read the audit trail")? {
            let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
            let Some(body) = detail["body"].as_str() else { continue };
            let b = bodies.entry(body.to_owned()).or_default();
            match entry.action.as_str() {
                "solicitation_sent" => {
                    b.solicitation_chunks += detail["chunks"].as_u64().unwrap_or(0);
                    b.persons_solicited += detail["persons"].as_u64().unwrap_or(0);
                }
                "reminder" => b.reminders += detail["chunks"].as_array().map_or(0, |c| c.len() as u64),
                _ => {}
            }
        }
    }
    for (body, b) in bodies.iter_mut() {
        b.found = result_check.count(body, "found");
        b.not_found = result_check.count(body, "not_found");
        b.no_answer = result_check.count(body, "no_answer");
    }

    let observatory_cases: Vec<_> = case_ids.iter().map(|id| status.case(id).ok().flatten()).collect();
    let cases_summary = result_summary
        .cases
        .iter()
        .zip(&observatory_cases)
        .map(|(c, o)| CaseSummary {
            case_id: c.case_id.clone(),
            observatory: c.observatory.clone(),
            persons: c.persons,
            state: c.state.to_string(),
            completeness: c.completeness.as_deref().map(str::to_owned),
            observatory_state: o.as_ref().map_or_else(|| "unknown".to_owned(), |o| o.state.as_str().to_owned()),
        })
        .collect();

    Ok(Summary {
        bus: BusSummary { kind: "in-process", prefix: String::new(), topology_deleted: None, dead_letters: 0 },
        observatory: options.observatory.clone(),
        requester: RequesterSummary {
            body: options.requester.body().to_owned(),
            office: options.requester.office().to_owned(),
        },
        wanted: options.wanted.iter().map(|c| c.code()).collect(),
        persons: PersonsSummary {
            selected: submitted.selection.lines,
            valid: submitted.selection.valid,
            rejected: submitted.selection.rejected,
            refused_by_observatory: refused.len() as u64 + refused_whole,
            in_result: result_check.listed,
            missing: result_check.missing,
            duplicates: result_check.duplicates,
            unexpected: result_check.unexpected,
            adds_up: result_check.adds_up() && result_check.valid == submitted.selection.valid && refused_whole == 0,
        },
        cases: cases_summary,
        bodies,
        complete,
        purge,
        social_service: None,
        stages: Vec::new(),
        total_seconds: 0.0,
        data_dir: layout.root().display().to_string(),
        data_dir_deleted: layout.is_temporary(),
        result_files: written.files.iter().map(|f: &PathBuf| f.display().to_string()).collect(),
    })
}

/// What the observatory's audit trail says of the purge of these cases.
fn purge_summary(status: &StatusReader, case_ids: &[String]) -> anyhow::Result<PurgeSummary> {
    let mut purge = PurgeSummary { purged: true, ..PurgeSummary::default() };
    let mut after_receipt: Option<f64> = None;
    for id in case_ids {
        let Some(case) = status.case(id).context("cannot read the observatory's store")? else {
            purge.purged = false;
            continue;
        };
        purge.purged &= case.state == passerelle_observatory_store::CaseState::Purged;
        if let (Some(receipt), Some(purged)) = (case.receipt_at, case.purged_at) {
            let secs = purged.duration_since(receipt).unwrap_or_default().as_secs_f64();
            after_receipt = Some(after_receipt.map_or(secs, |a: f64| a.max(secs)));
        }
        for entry in status.audit_entries(Some(id)).context("cannot read the audit trail")? {
            if entry.action != "purge" {
                continue;
            }
            let d: serde_json::Value = serde_json::from_str(&entry.detail).unwrap_or_default();
            purge.reason = d["reason"].as_str().map(str::to_owned);
            purge.persons += d["persons"].as_u64().unwrap_or(0);
            purge.answers += d["answers"].as_u64().unwrap_or(0);
            purge.unsent_messages += d["unsent_messages"].as_u64().unwrap_or(0);
            purge.statistics_rows += d["statistics_rows"].as_u64().unwrap_or(0);
        }
    }
    purge.seconds_after_receipt = after_receipt;
    purge.observatory_cases = status.status().context("cannot read the observatory's store")?.cases_by_state;
    Ok(purge)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An [`AfterFlow`] that notes what it was given.
    struct Note<'a>(&'a mut Option<(String, String, usize, u64)>);

    impl AfterFlow for Note<'_> {
        async fn run(
            self,
            requester: &Party,
            _: &Layout,
            _: &mut Progress,
            summary: &mut Summary,
        ) -> anyhow::Result<()> {
            let r = requester.requester().ok_or_else(|| anyhow!("not the requester"))?;
            let cases = r.status()?.len();
            *self.0 = Some((r.settings().body.clone(), r.settings().office.clone(), cases, summary.persons.in_result));
            Ok(())
        }
    }

    #[test]
    fn the_after_flow_step_gets_the_cpam_requester_once_the_result_is_in() {
        let options = DemoOptions {
            persons: 40,
            observatory: passerelle_synth::DEFAULT_TERRITORY.to_owned(),
            amqp: None,
            respond_by: Duration::from_secs(60),
            seed: passerelle_synth::DEFAULT_SEED,
            wanted: passerelle_protocol::catalogue::parse_list(RequesterChoice::Cpam.default_want()).unwrap(),
            requester: RequesterChoice::Cpam,
        };
        let layout = Layout::prepare(None, false).unwrap();
        let mut noted = None;
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let summary = runtime.block_on(run(&options, &layout, &mut Progress::new(), Note(&mut noted))).unwrap();
        assert!(summary.persons.adds_up, "{summary:?}");
        assert_eq!(
            noted,
            Some(("cnam".to_owned(), "cpam-13".to_owned(), 1, 40)),
            "the requester party, after the flow"
        );
        assert_eq!(summary.bodies.keys().map(String::as_str).collect::<Vec<_>>(), ["cnaf", "cnav", "msa"]);
    }
}
