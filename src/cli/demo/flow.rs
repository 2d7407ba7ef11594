//! The demo's run, stage by stage: a synthetic population → each solicited body's extract
//! indexed → the bus (in-process, or RabbitMQ under a fresh prefix) → the observatory and the
//! responders running → the requester's submission → the answers → the ranked result → the
//! observatory's purge on the receipt → everything stopped (and, over RabbitMQ, the prefix's
//! exchanges and queues deleted).
//!
//! Every party runs as it would in production — its own settings, store folder and bus
//! connection — only in one process. On the in-process bus each party has its own broker user
//! and the identity map is enforced (nobody may speak for another); over RabbitMQ every party
//! logs in with the URL's one account, which the identity map lets speak for all of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use passerelle_bus::{AmqpBus, Bus, BusSettings, InProcessBus, Role};
use passerelle_observatory::solicit::RoutingTable;
use passerelle_observatory::{Observatory, ObservatorySettings, StatusReader};
use passerelle_protocol::rules::{Clock, SystemClock};
use passerelle_protocol::v1::Category;
use passerelle_requester::{Requester, RequesterSettings, SubmitRequest};
use passerelle_responder::{
    load_extract, ExtractSettings, Responder, ResponderSettings, ResponderStats, SourceSettings,
};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use passerelle_synth::{SynthOptions, TerritoryChoice};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::check;
use super::layout::Layout;
use super::progress::Progress;
use super::summary::{BodySummary, BusSummary, CaseSummary, PersonsSummary, PurgeSummary, RequesterSummary, Summary};

/// The demo's requester: a CAF (branch `cnaf`) …
pub const REQUESTER_BODY: &str = "cnaf";
/// … its office in the Bouches-du-Rhône.
pub const REQUESTER_OFFICE: &str = "caf-13";

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
}

/// The buses of the run: one connection per party.
struct Buses {
    settings: BusSettings,
    observatory: Arc<dyn Bus>,
    requester: Arc<dyn Bus>,
    responders: BTreeMap<String, Arc<dyn Bus>>,
    /// The in-process broker (dead-letter counts).
    in_process: Option<InProcessBus>,
    /// The AMQP connections, closed at the end.
    amqp: Vec<Arc<AmqpBus>>,
}

/// The broker user of a party on the in-process bus.
fn user_of(party: &str) -> String {
    format!("passerelle-{party}")
}

impl Buses {
    /// The in-process bus, with one broker user per party and the identity map enforced.
    fn in_process(observatory: &str) -> Buses {
        let mut settings = BusSettings { observatories: vec![observatory.to_owned()], ..BusSettings::default() };
        settings.identity.insecure_any_user = false;
        for party in settings.observatories.iter().chain(&settings.bodies) {
            settings.identity.users.insert(user_of(party), vec![party.clone()]);
        }
        let bus = InProcessBus::new(&settings);
        let responders = settings
            .bodies
            .iter()
            .map(|b| (b.clone(), Arc::new(bus.connect_as(&user_of(b))) as Arc<dyn Bus>))
            .collect();
        Buses {
            observatory: Arc::new(bus.connect_as(&user_of(observatory))),
            requester: Arc::new(bus.connect_as(&user_of(REQUESTER_BODY))),
            responders,
            in_process: Some(bus),
            amqp: Vec::new(),
            settings,
        }
    }

    /// RabbitMQ under a fresh prefix: the observatory connects first (it declares the
    /// topology), then the requester and each responder check that their queues exist.
    async fn amqp(url: &str, observatory: &str, responders: &[String]) -> anyhow::Result<Buses> {
        let prefix = format!("demo-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let settings = BusSettings {
            urls: vec![url.to_owned()],
            prefix,
            observatories: vec![observatory.to_owned()],
            ..BusSettings::default()
        };
        settings.validate().context("--amqp")?;
        // One broker login for every party here: the identity map says so explicitly (rather
        // than the insecure profile), and the receivers still check every sender against it.
        let mut settings = settings;
        settings.identity.insecure_any_user = false;
        let parties: Vec<String> = settings.observatories.iter().chain(&settings.bodies).cloned().collect();
        settings.identity.users.insert(login_of(url), parties);
        let connect = |role: Role| {
            let settings = settings.clone();
            async move {
                let what = format!("cannot connect to RabbitMQ at {} as {}", redact(&settings.urls[0]), role.code());
                AmqpBus::connect(&settings, role).await.map(Arc::new).context(what)
            }
        };
        let observatory_bus = connect(Role::Observatory(observatory.to_owned())).await?;
        // From here on, a failure must still close what is open and delete the topology.
        let mut amqp = vec![Arc::clone(&observatory_bus)];
        let mut failure = None;
        let mut requester = None;
        let mut responder_buses = BTreeMap::new();
        for party in std::iter::once(REQUESTER_BODY).chain(responders.iter().map(String::as_str)) {
            match connect(Role::Body(party.to_owned())).await {
                Ok(bus) => {
                    amqp.push(Arc::clone(&bus));
                    if requester.is_none() {
                        requester = Some(bus as Arc<dyn Bus>);
                    } else {
                        responder_buses.insert(party.to_owned(), bus as Arc<dyn Bus>);
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        let observatory_bus: Arc<dyn Bus> = observatory_bus;
        let buses = Buses {
            requester: requester.unwrap_or_else(|| Arc::clone(&observatory_bus)),
            observatory: observatory_bus,
            responders: responder_buses,
            in_process: None,
            amqp,
            settings,
        };
        match failure {
            None => Ok(buses),
            Some(e) => {
                buses.close().await;
                Err(e)
            }
        }
    }

    /// Messages dead-lettered during the run, as far as this process can tell.
    fn dead_letters(&self) -> u64 {
        self.in_process.as_ref().map_or(0, |b| b.dead_letters().len() as u64)
    }

    /// Closes every AMQP connection, then (AMQP) deletes the prefix's exchanges and queues.
    /// Returns whether the topology was deleted (`None` in process).
    async fn close(self) -> Option<bool> {
        let Buses { settings, observatory, requester, responders, amqp, in_process, .. } = self;
        drop((observatory, requester, responders, in_process));
        if amqp.is_empty() {
            return None;
        }
        for bus in amqp {
            bus.close().await;
        }
        match passerelle_bus::amqp::delete_topology(&settings).await {
            Ok(()) => Some(true),
            Err(e) => {
                tracing::warn!(error = %e, prefix = %settings.prefix, "cannot delete the demo's exchanges and queues");
                Some(false)
            }
        }
    }
}

/// The user an AMQP URL logs in as (`guest` when it names none, as RabbitMQ does).
fn login_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.split(':').next().unwrap_or("guest").to_owned(),
        None => "guest".to_owned(),
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:…@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The running observatory and responders.
struct Services {
    stop: watch::Sender<bool>,
    observatory: JoinHandle<anyhow::Result<()>>,
    responders: Vec<(String, JoinHandle<anyhow::Result<()>>)>,
}

impl Services {
    /// Stops every service and waits for it (in-flight work finishes first).
    async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut failures = Vec::new();
        match self.observatory.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("the observatory: {e:#}")),
            Err(e) => failures.push(format!("the observatory's task: {e}")),
        }
        for (body, task) in self.responders {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => failures.push(format!("responder {body}: {e:#}")),
                Err(e) => failures.push(format!("responder {body}'s task: {e}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            bail!("{}", failures.join("; "))
        }
    }
}

/// Resolves once `stop` is raised.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Runs the whole demo in `layout` and returns its summary.
pub async fn run(options: &DemoOptions, layout: &Layout, progress: &mut Progress) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let reference_year = time::OffsetDateTime::from(clock.now()).year();

    // 1. The synthetic population: the CAF's selection and one extract per body.
    let stage = progress.bar("population", "synthetic population", options.persons, "persons");
    let synth = SynthOptions {
        persons: options.persons,
        territory: TerritoryChoice::Observatory(options.observatory.clone()),
        seed: options.seed,
        reference_year,
        requester: REQUESTER_BODY.to_owned(),
    };
    let population = layout.population();
    let manifest =
        passerelle_synth::generate_with_progress(&synth, &population, &mut |done| stage.bar.set_position(done))
            .context("cannot make the synthetic population")?;
    progress.finish(stage, format!("{} persons, one extract per body", manifest.persons));

    // Which bodies the default routing solicits for these categories (never the requester's own).
    let deployment = BusSettings::default();
    let routing = RoutingTable::new(&BTreeMap::new(), &deployment.bodies).map_err(|e| anyhow!(e))?;
    let plan = routing.plan(&options.wanted, REQUESTER_BODY);
    if plan.is_empty() {
        bail!("no other body holds the categories asked: nothing to solicit");
    }
    let solicited: Vec<String> = plan.iter().map(|(b, _)| b.clone()).collect();

    // 2. Each solicited body indexes its extract, as `passerelle responder load` does.
    let stage = progress.bar("extracts", "responders load extracts", solicited.len() as u64, "bodies");
    let mut responder_settings = Vec::new();
    let mut extract_persons = BTreeMap::new();
    for body in &solicited {
        stage.bar.set_message(body.clone());
        let settings = ResponderSettings {
            body: body.clone(),
            holds: None,
            data_dir: layout.responder(body),
            consumers: passerelle_responder::settings::DEFAULT_CONSUMERS,
            broker: deployment.clone(),
            source: SourceSettings::Extract(ExtractSettings::default()),
            metrics_addr: None,
        };
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
        let extract = population.join(passerelle_synth::extract_file_name(body));
        let mut report = ReportWriter::new(ReportFormat::Human, std::io::sink()).with_noun("line");
        let loaded = load_extract(&settings, &extract, Encoding::Utf8, &mut report)
            .with_context(|| format!("responder {body} cannot load {}", extract.display()))?;
        extract_persons.insert(body.clone(), loaded.index.persons);
        responder_settings.push(settings);
        stage.bar.inc(1);
    }
    progress.finish(
        stage,
        extract_persons.iter().map(|(b, n)| format!("{b} {n}")).collect::<Vec<_>>().join(", ") + " persons",
    );

    // 3. The bus.
    let stage = progress.spinner("broker", "broker");
    let buses = match &options.amqp {
        None => Buses::in_process(&options.observatory),
        Some(url) => Buses::amqp(url, &options.observatory, &solicited).await?,
    };
    let bus_kind = if options.amqp.is_some() { "amqp" } else { "in-process" };
    progress.finish(
        stage,
        match bus_kind {
            "amqp" => format!("RabbitMQ, prefix {}", buses.settings.prefix),
            _ => "in-process bus, one broker user per party".to_owned(),
        },
    );

    // Everything after the topology exists must end with the teardown, whatever happens.
    let flow = run_flow(options, layout, progress, &buses, clock, responder_settings, reference_year).await;
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

/// Starts the observatory and the responders (stage 4).
async fn start_services(
    options: &DemoOptions,
    layout: &Layout,
    buses: &Buses,
    clock: Arc<dyn Clock>,
    responder_settings: Vec<ResponderSettings>,
) -> anyhow::Result<(Services, StatusReader, BTreeMap<String, Arc<ResponderStats>>)> {
    let mut observatory_settings = ObservatorySettings::new(options.observatory.clone(), layout.observatory());
    observatory_settings.broker = buses.settings.clone();
    observatory_settings.chunk_size = CHUNK_SIZE;
    observatory_settings.tick_ms = TIMER_TICK_MS;
    std::fs::create_dir_all(&observatory_settings.data_dir).context("cannot create the observatory's folder")?;
    let observatory = Observatory::build(observatory_settings, Arc::clone(&buses.observatory), clock)
        .context("the observatory cannot start")?;
    let status = observatory.status_reader();
    let (stop, stop_rx) = watch::channel(false);
    let observatory_task = {
        let shutdown = stopped(stop_rx.clone());
        tokio::spawn(async move { observatory.run_until_stopped(shutdown).await.map_err(|e| anyhow!(e)) })
    };
    let mut services = Services { stop, observatory: observatory_task, responders: Vec::new() };
    let mut stats: BTreeMap<String, Arc<ResponderStats>> = BTreeMap::new();
    for mut settings in responder_settings {
        settings.broker = buses.settings.clone();
        let bus = Arc::clone(&buses.responders[&settings.body]);
        let responder = match Responder::build(&settings, bus).await {
            Ok(r) => r,
            Err(e) => {
                let _ = services.stop().await;
                return Err(anyhow!(e).context(format!("responder {} cannot start", settings.body)));
            }
        };
        stats.insert(settings.body.clone(), responder.stats());
        let shutdown = stopped(stop_rx.clone());
        let task = tokio::spawn(async move { responder.run_until_stopped(shutdown).await.map_err(|e| anyhow!(e)) });
        services.responders.push((settings.body.clone(), task));
    }
    Ok((services, status, stats))
}

/// Stages 4 to 8, on a bus that exists; the services are stopped whatever happens.
#[allow(clippy::too_many_arguments)]
async fn run_flow(
    options: &DemoOptions,
    layout: &Layout,
    progress: &mut Progress,
    buses: &Buses,
    clock: Arc<dyn Clock>,
    responder_settings: Vec<ResponderSettings>,
    reference_year: i32,
) -> anyhow::Result<Summary> {
    let stage = progress.spinner("start", "start the services");
    let (services, status, responder_stats) =
        match start_services(options, layout, buses, Arc::clone(&clock), responder_settings).await {
            Ok(started) => started,
            Err(e) => {
                progress.abandon(stage);
                return Err(e);
            }
        };
    let outcome = async {
        let mut requester_settings = RequesterSettings::for_dir(REQUESTER_BODY, REQUESTER_OFFICE, &layout.requester());
        requester_settings.broker = buses.settings.clone();
        requester_settings.chunk_size = CHUNK_SIZE;
        let requester = Requester::build(requester_settings, Arc::clone(&buses.requester), clock)
            .context("the requester cannot start")?;
        let listening = requester.listen().await.context("the requester cannot listen for its results")?;
        progress.finish(
            stage,
            format!(
                "observatory {}, responders {}",
                options.observatory,
                responder_stats.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
        let outcome = submit_and_follow(options, layout, progress, &requester, &status, reference_year).await;
        listening.stop().await;
        outcome
    }
    .await;
    drop(status);
    let stopped = services.stop().await;
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
    reference_year: i32,
) -> anyhow::Result<Summary> {
    // 5. The submission, exactly as `passerelle requester submit` makes it.
    let selection = layout.population().join(passerelle_synth::SELECTION_FILE);
    let out = layout.requester().join("out").join("demo-result");
    let request = SubmitRequest {
        selection: selection.clone(),
        encoding: Encoding::Utf8,
        reference_year: Some(reference_year as u32),
        wanted: options.wanted.clone(),
        service: "Atelier prévention des chutes (démonstration)".to_owned(),
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
    let valid = check::valid_lines(&selection, reference_year as u32)?;
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
            entry.asked = b.asked.clone();
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
            completeness: c.completeness.map(str::to_owned),
            observatory_state: o.as_ref().map_or_else(|| "unknown".to_owned(), |o| o.state.as_str().to_owned()),
        })
        .collect();

    Ok(Summary {
        bus: BusSummary { kind: "in-process", prefix: String::new(), topology_deleted: None, dead_letters: 0 },
        observatory: options.observatory.clone(),
        requester: RequesterSummary { body: REQUESTER_BODY.to_owned(), office: REQUESTER_OFFICE.to_owned() },
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

    #[test]
    fn urls_give_their_login_and_lose_their_password() {
        assert_eq!(login_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "guest");
        assert_eq!(login_of("amqps://demo@rabbit:5671/v"), "demo");
        assert_eq!(login_of("amqp://127.0.0.1:5672"), "guest");
        assert_eq!(redact("amqp://guest:secret@127.0.0.1:5672/%2f"), "amqp://guest:…@127.0.0.1:5672/%2f");
        assert_eq!(redact("amqp://127.0.0.1"), "amqp://127.0.0.1");
    }
}
