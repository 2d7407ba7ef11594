//! The benchmark's run: population and extracts (not timed) → the daemons → the full flow
//! (timed) → the tap drained → the single-person latency → the daemons stopped → the raw
//! broker → the prefix deleted. The daemons are processes of this very binary
//! (`passerelle_party::process::SpawnedParty`), each with its settings file, its log and a
//! `/health` on a free loopback port; every exit path stops them (an error or a panic drops
//! their handles, which stop them) and deletes the prefix's queues and exchanges.
//!
//! **How `seconds` is measured.** The requester runs in this process: the clock starts just
//! before [`Requester::send`] publishes the first request chunk (the selection is already read
//! and stored: `prepare` is setup, not timed), and stops at the latest `settled_at` the
//! requester's store records for the cases — the time, by the same wall clock, the last result
//! chunk was stored (millisecond resolution).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use chrono::Datelike;
use indicatif::ProgressBar;
use passerelle_bus::BusSettings;
use passerelle_observatory::solicit::RoutingTable;
use passerelle_observatory_store::audit::Action;
use passerelle_party::process::{FreePorts, SpawnedParty};
use passerelle_party::{Party, PartyKind, PartySettings};
use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{Category, Completeness};
use passerelle_requester::{CaseState, Requester, RequesterSettings, SubmitRequest, Uuid};
use passerelle_responder::load_extract;
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use passerelle_synth::{SynthOptions, TerritoryChoice};

use super::cpu::{CpuUse, Processes};
use super::raw::{self, Tap};
use super::{percentile, Args, Report};

/// The requesting body of the benchmark, as in the demo: a CAF …
const REQUESTER_BODY: &str = "cnaf";
/// … its office in the Bouches-du-Rhône.
const REQUESTER_OFFICE: &str = "caf-13";

/// The deadline given to the bodies: far beyond any run, so every case completes by the
/// answers, never by the deadline.
const RESPOND_BY: Duration = Duration::from_secs(3600);

/// How long after the last result the requester's receipt must be sent.
const RECEIPT_WAIT: Duration = Duration::from_secs(60);

/// How often the benchmark looks at the requester's store while waiting for the receipt.
const POLL: Duration = Duration::from_millis(10);

/// How long a daemon has to report healthy after it was started (a loaded 2-core machine, a
/// debug build, the observatory declaring the whole topology).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a daemon has to exit after SIGTERM (it finishes the chunks in flight) before it is
/// killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the flow looks whether a daemon has exited.
const WATCH_POLL: Duration = Duration::from_millis(20);

/// Body of the raw round-trip message: about a single-person request chunk.
const RTT_BODY_BYTES: usize = 1024;

/// Where the flow's time went, in seconds from the first request chunk published (by the one
/// wall clock of this machine; the observatory's times are its store's, in milliseconds).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Stages {
    /// Every request chunk confirmed by the broker.
    pub requests_sent: f64,
    /// The observatory stored the case (its first request chunk).
    pub observatory_received: Option<f64>,
    /// The observatory stored the last request chunk (its audit trail's last `request_received`).
    pub observatory_requests_stored: Option<f64>,
    /// The solicitations of every body were queued (the last `solicitation_sent`).
    pub observatory_solicitations_queued: Option<f64>,
    /// The first response chunk merged (`response_received`).
    pub observatory_first_response: Option<f64>,
    /// The last response chunk merged.
    pub observatory_last_response: Option<f64>,
    /// Every body answered: the result is aggregated.
    pub observatory_result_ready: Option<f64>,
    /// Every result chunk confirmed by the broker.
    pub observatory_returned: Option<f64>,
    /// The last result chunk stored by the requester (= `seconds`).
    pub requester_stored: f64,
}

/// What the flow and the latency loop gave, before the daemons stop.
struct Flowed {
    persons: u64,
    case_ids: Vec<Uuid>,
    started_at: SystemTime,
    requests_sent: f64,
    seconds: f64,
    recorded: raw::Recorded,
    peak_rss: u64,
    setup_seconds: f64,
    /// p50, p99 and max, in ms.
    latency: (f64, f64, f64),
    flow_cpu: CpuUse,
    latency_cpu: CpuUse,
}

/// The files and daemons of the run.
struct Prepared {
    broker: BusSettings,
    root: PathBuf,
    /// The observatory, then the responders: the processes, in their start order.
    daemons: Vec<DaemonFile>,
    /// The requester, run in this process.
    requester: RequesterSettings,
    wanted: Vec<Category>,
}

/// A daemon's settings and its settings file.
struct DaemonFile {
    party: PartySettings,
    config: PathBuf,
}

pub async fn run(args: &Args) -> anyhow::Result<Report> {
    let setup = Instant::now();
    let dir =
        tempfile::Builder::new().prefix("passerelle-bench-").tempdir().context("cannot create a temporary folder")?;
    let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let broker = BusSettings {
        urls: vec![args.amqp.clone()],
        prefix: prefix.clone(),
        observatories: vec![passerelle_synth::DEFAULT_TERRITORY.to_owned()],
        ..BusSettings::default()
    };
    broker.validate().context("--amqp")?;
    let deployment = prepare(args, &broker, dir.path())?;
    let outcome = measure(args, &deployment, setup).await;
    let deleted = passerelle_bus::amqp::delete_topology(&broker).await;
    if args.keep {
        eprintln!("bench: work folder kept: {}", dir.keep().display());
    }
    let mut report = outcome?;
    deleted.with_context(|| format!("cannot delete the benchmark's queues and exchanges (prefix {prefix})"))?;
    report.prefix = prefix;
    Ok(report)
}

/// Stage 1 (not timed): the population, the settings files, the extracts indexed.
fn prepare(args: &Args, broker: &BusSettings, root: &Path) -> anyhow::Result<Prepared> {
    let today = passerelle_protocol::calendar::LegalCalendar::default().date_of(std::time::SystemTime::now());
    let reference_year = today.year();
    let population = root.join("population");
    eprintln!("bench: making {} synthetic persons", args.persons);
    let synth = SynthOptions {
        persons: args.persons,
        territory: TerritoryChoice::Observatory(passerelle_synth::DEFAULT_TERRITORY.to_owned()),
        seed: args.seed,
        reference_year,
        as_of: Some(today),
        requester: REQUESTER_BODY.to_owned(),
    };
    passerelle_synth::generate(&synth, &population).context("cannot make the synthetic population")?;

    let wanted = catalogue::parse_list(super::super::demo::DEFAULT_WANT).map_err(|e| anyhow!(e))?;
    let routing = RoutingTable::new(&BTreeMap::new(), &broker.bodies).map_err(|e| anyhow!(e))?;
    let solicited: Vec<String> = routing.plan(&wanted, REQUESTER_BODY).into_iter().map(|(b, _)| b.into()).collect();
    if solicited.is_empty() {
        bail!("no body holds the categories asked");
    }

    let observatory = passerelle_synth::DEFAULT_TERRITORY;
    let mut parties =
        passerelle_party::Deployment::new(root, broker, observatory, &solicited, (REQUESTER_BODY, REQUESTER_OFFICE));
    // Every party logs in with the `--amqp` URL's one user: the shared identity of the
    // development profile, asked for by name (each daemon announces it).
    parties.set_profile(passerelle_hooks::Profile::Development);
    // Every daemon serves `/health` on a loopback port of its own: the benchmark waits on it.
    let mut ports = FreePorts::default();
    parties.observatory.metrics_addr = Some(ports.pick()?.to_string());
    for responder in &mut parties.responders {
        responder.metrics_addr = Some(ports.pick()?.to_string());
    }
    parties.create_dirs()?;
    let mut daemons = Vec::new();
    for (party, config) in parties.write_settings(root)? {
        if party.metrics_addr().is_none() {
            continue;
        }
        if let PartySettings::Responder(responder) = &party {
            // As `passerelle responder load --config FILE EXTRACT` does, from the file written.
            let body = &responder.body;
            eprintln!("bench: responder {body} indexes its extract");
            let PartySettings::Responder(settings) =
                PartySettings::load_local(PartyKind::Responder, &config).map_err(|e| e.into_inner())?
            else {
                bail!("{} is not a responder's settings", config.display());
            };
            let extract = population.join(passerelle_synth::extract_file_name(body));
            let mut report = ReportWriter::new(ReportFormat::Human, std::io::sink()).with_noun("line");
            load_extract(&settings, &extract, Encoding::Utf8, &mut report)
                .with_context(|| format!("responder {body} cannot load {}", extract.display()))?;
        }
        daemons.push(DaemonFile { party, config });
    }
    Ok(Prepared { broker: broker.clone(), root: root.to_owned(), daemons, requester: parties.requester, wanted })
}

/// Stages 2 to 4, with the daemons stopped at the end whatever happens (their `Drop`).
async fn measure(args: &Args, d: &Prepared, setup: Instant) -> anyhow::Result<Report> {
    let logs = d.root.join("logs");
    std::fs::create_dir_all(&logs)?;
    eprintln!("bench: starting the observatory and {} responders (processes)", d.daemons.len() - 1);
    let exe = std::env::current_exe().context("cannot find the passerelle binary")?;
    let mut started = Vec::new();
    for daemon in &d.daemons {
        let name = match &daemon.party {
            PartySettings::Responder(r) => format!("responder-{}", r.body),
            other => other.kind().command().to_owned(),
        };
        let log = logs.join(format!("{name}.log"));
        let mut process = SpawnedParty::new(name, &exe, &daemon.party, &daemon.config, log)?;
        process.spawn()?;
        // The observatory declares the topology the responders check.
        if matches!(daemon.party, PartySettings::Observatory(_)) {
            wait_healthy(&mut process)?;
        }
        started.push(process);
    }
    for process in &mut started {
        wait_healthy(process)?;
    }
    let mut started = started.into_iter();
    let mut observatory = started.next().ok_or_else(|| anyhow!("no observatory"))?;
    let mut responders: Vec<SpawnedParty> = started.collect();
    let responders_count = responders.len();

    let url = &d.broker.urls[0];
    let tap_conn = raw::connect(url, "passerelle bench (tap)").await?;
    let tap = Tap::bind(&tap_conn, &d.broker).await?;
    let chunk_size = d.requester.chunk_size;
    let requester_party = Party::build(PartySettings::Requester(d.requester.clone()))
        .await
        .map_err(|e| e.into_inner().context("the requester cannot start"))?;
    let requester = requester_party.requester().ok_or_else(|| anyhow!("the requester is not one"))?;
    let listening = requester.listen().await.context("the requester cannot listen for its results")?;
    let daemon_pids = std::iter::once(&observatory)
        .chain(&responders)
        .filter_map(|d| Some((d.name().to_owned(), d.pid()?)))
        .collect();
    let processes = Processes::new(daemon_pids, url);

    let outcome = async {
        // 2. The full flow.
        let selection = d.root.join("population").join(passerelle_synth::SELECTION_FILE);
        let submitted = requester
            .prepare(&submit_request(&selection, &d.wanted), &mut |_| {})
            .context("the requester cannot prepare the submission")?;
        let setup_seconds = setup.elapsed().as_secs_f64();
        eprintln!("bench: full flow, {} persons in {} case(s)", submitted.selection.valid, submitted.cases.len());
        let case_ids = submitted.case_ids();
        let cpu_before = processes.read();
        let started_at = SystemTime::now();
        let started = Instant::now();
        requester.send(&case_ids, &ProgressBar::hidden()).await.context("the requester cannot send")?;
        let requests_sent = started.elapsed().as_secs_f64();
        let waiting = async {
            requester
                .wait_for_results(&case_ids, &ProgressBar::hidden(), Some(SystemTime::now() + RESPOND_BY))
                .await
                .context("the requester cannot follow its cases")
        };
        let mut daemons: Vec<&mut SpawnedParty> =
            std::iter::once(&mut observatory).chain(responders.iter_mut()).collect();
        let cases = while_running(&mut daemons, waiting).await?;
        let flow_cpu = processes.read().since(&cpu_before);
        check_complete(&cases)?;
        let stored_at = cases.iter().filter_map(|c| c.settled_at).max().ok_or_else(|| anyhow!("no settled case"))?;
        let seconds = stored_at.duration_since(started_at).unwrap_or_default().as_secs_f64();
        wait_receipts(requester, &case_ids).await?;
        let recorded = tap.drain().await?;
        eprintln!("bench: flow {seconds:.2} s, {} messages, {} bytes", recorded.messages(), recorded.bytes());

        // 4a. Sequential single-person requests.
        eprintln!("bench: {} single-person requests", args.latency_requests);
        let timing = single_person_latencies(requester, &selection, &d.root, &d.wanted, args.latency_requests as usize);
        let cpu_before = processes.read();
        let mut latencies = while_running(&mut daemons, timing).await?;
        let latency_cpu = processes.read().since(&cpu_before).per(args.latency_requests, 1000.0);
        let peak_rss = super::cpu::peak_rss_bytes(
            observatory.pid().ok_or_else(|| anyhow!("the {} process is not running", observatory.name()))?,
        )?;
        Ok::<_, anyhow::Error>(Flowed {
            persons: submitted.selection.valid,
            case_ids,
            started_at,
            requests_sent,
            seconds,
            recorded,
            peak_rss,
            setup_seconds,
            latency: {
                let p50 = percentile(&mut latencies, 50.0);
                let p99 = percentile(&mut latencies, 99.0);
                let max = percentile(&mut latencies, 100.0);
                (p50, p99, max)
            },
            flow_cpu,
            latency_cpu,
        })
    }
    .await;
    listening.stop().await;
    requester_party.close().await;
    let mut stopped = Vec::new();
    for mut daemon in responders.into_iter().chain(std::iter::once(observatory)) {
        stopped.push(tokio::task::block_in_place(|| daemon.stop(STOP_TIMEOUT)));
    }
    let flowed = outcome?;
    for s in stopped {
        s?;
    }
    let stages =
        observatory_stages(&d.root, &flowed.case_ids, flowed.started_at, flowed.requests_sent, flowed.seconds)?;

    let _ = tap_conn.close(200, "tap drained".into()).await;

    // 3. The raw broker, the daemons stopped, on a connection of its own (opened now: one
    // opened before the flow would not survive a broker restart during it).
    let raw_conn = raw::connect(url, "passerelle bench (raw)").await?;
    eprintln!("bench: raw broker, {} messages", flowed.recorded.messages());
    let broker_only = Processes::new(Vec::new(), url);
    let cpu_before = broker_only.read();
    let raw_seconds = raw::throughput(
        &raw_conn,
        &d.broker.prefix,
        &flowed.recorded.sizes,
        d.broker.confirm_window,
        d.broker.prefetch,
    )
    .await?;
    let raw_broker_cpu_seconds = broker_only.read().since(&cpu_before).broker;
    // 4b. The raw round trip.
    let cpu_before = broker_only.read();
    let mut rtts =
        raw::round_trips(&raw_conn, &d.broker.prefix, args.latency_requests as usize, RTT_BODY_BYTES).await?;
    let raw_rtt_broker_cpu_ms = broker_only.read().since(&cpu_before).per(args.latency_requests, 1000.0).broker;
    let _ = raw_conn.close(200, "bench done".into()).await;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let flow_cpu_floor_seconds = flowed.flow_cpu.total / cores as f64;
    Ok(Report {
        persons: flowed.persons,
        bodies: responders_count as u64,
        chunk_size,
        messages: flowed.recorded.messages(),
        bytes: flowed.recorded.bytes(),
        seconds: flowed.seconds,
        persons_per_s: flowed.persons as f64 / flowed.seconds.max(1e-9),
        raw_seconds,
        ratio: raw_seconds / flowed.seconds.max(1e-9),
        observatory_peak_rss_bytes: flowed.peak_rss,
        latency_requests: args.latency_requests,
        latency_p50_ms: flowed.latency.0,
        latency_p99_ms: flowed.latency.1,
        latency_max_ms: flowed.latency.2,
        raw_rtt_p50_ms: percentile(&mut rtts, 50.0),
        raw_rtt_p99_ms: percentile(&mut rtts, 99.0),
        by_kind: flowed.recorded.by_kind,
        stages,
        cores,
        flow_cpu_seconds: flowed.flow_cpu,
        raw_broker_cpu_seconds,
        raw_rtt_broker_cpu_ms,
        flow_cpu_floor_seconds,
        ratio_cpu_bound: raw_seconds / flow_cpu_floor_seconds.max(1e-9),
        latency_cpu_ms: flowed.latency_cpu,
        setup_seconds: flowed.setup_seconds,
        prefix: String::new(),
    })
}

fn submit_request(selection: &Path, wanted: &[Category]) -> SubmitRequest {
    SubmitRequest {
        selection: selection.to_owned(),
        encoding: Encoding::Utf8,
        wanted: wanted.to_vec(),
        service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
        purpose: "Atelier prévention des chutes (banc d'essai)".to_owned(),
        respond_by: RESPOND_BY,
        out: None,
        strict: false,
    }
}

/// Every case answered, and completely (every body answered).
fn check_complete(cases: &[passerelle_requester::CaseRecord]) -> anyhow::Result<()> {
    for c in cases {
        if c.state != CaseState::Answered {
            bail!("case {} ended {} instead of answered", c.id, c.state);
        }
        if c.completeness != Completeness::Complete {
            bail!("case {} is {:?}: a body did not answer", c.id, c.completeness);
        }
    }
    Ok(())
}

/// Waits until the requester has sent (and the broker confirmed) every case's receipt, the
/// flow's last message.
async fn wait_receipts(requester: &Requester, case_ids: &[Uuid]) -> anyhow::Result<()> {
    let deadline = Instant::now() + RECEIPT_WAIT;
    loop {
        let mut all = true;
        for id in case_ids {
            let case = requester.store().case(*id)?.ok_or_else(|| anyhow!("case {id} vanished"))?;
            all &= case.receipt_sent_at.is_some();
        }
        if all {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("the requester sent no receipt within {} s of the result", RECEIPT_WAIT.as_secs());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `count` sequential single-person requests (the selection's persons in turn), each timed
/// from its send to its stored result, in milliseconds. Each is also written to
/// `latency.csv` in the work folder (kept with `--keep`): its start, in ms from the first
/// request's, and its latency, to see when the slow ones happened.
async fn single_person_latencies(
    requester: &Requester,
    selection: &Path,
    root: &Path,
    wanted: &[Category],
    count: usize,
) -> anyhow::Result<Vec<f64>> {
    let text = std::fs::read_to_string(selection).context("cannot read the selection")?;
    let mut lines = text.lines();
    let header = lines.next().ok_or_else(|| anyhow!("an empty selection"))?;
    let persons: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
    if persons.is_empty() {
        bail!("no person in the selection");
    }
    let dir = root.join("latency");
    std::fs::create_dir_all(&dir)?;
    let mut latencies = Vec::with_capacity(count);
    let mut csv = String::from("started_ms,latency_ms\n");
    let first = Instant::now();
    for i in 0..count {
        let file = dir.join(format!("{i}.csv"));
        std::fs::write(&file, format!("{header}\n{}\n", persons[i % persons.len()]))?;
        let submitted = requester.prepare(&submit_request(&file, wanted), &mut |_| {})?;
        let ids = submitted.case_ids();
        let started = Instant::now();
        requester.send(&ids, &ProgressBar::hidden()).await?;
        let cases =
            requester.wait_for_results(&ids, &ProgressBar::hidden(), Some(SystemTime::now() + RESPOND_BY)).await?;
        let latency = started.elapsed().as_secs_f64() * 1000.0;
        latencies.push(latency);
        csv.push_str(&format!("{:.3},{latency:.3}\n", started.duration_since(first).as_secs_f64() * 1000.0));
        check_complete(&cases)?;
        let _ = std::fs::remove_file(&file);
    }
    std::fs::write(root.join("latency.csv"), csv).context("cannot write latency.csv")?;
    Ok(latencies)
}

/// The observatory's own timestamps of the flow's cases (its store, read once it stopped).
fn observatory_stages(
    root: &Path,
    case_ids: &[Uuid],
    started_at: SystemTime,
    requests_sent: f64,
    seconds: f64,
) -> anyhow::Result<Stages> {
    let store = passerelle_observatory_store::CaseStore::open(&root.join("observatory").join("observatory.db"))
        .context("cannot open the observatory's case store")?;
    let since = |t: SystemTime| t.duration_since(started_at).unwrap_or_default().as_secs_f64();
    let mut stages = Stages { requests_sent, requester_stored: seconds, ..Stages::default() };
    for id in case_ids {
        let Some(case) = store.read(|tx| tx.case(&id.to_string())).context("cannot read the observatory's store")?
        else {
            continue;
        };
        let first = since(case.arrived_at);
        stages.observatory_received = Some(stages.observatory_received.map_or(first, |t: f64| t.min(first)));
        let audit = store.read(|tx| tx.audit_entries(Some(&id.to_string()))).context("cannot read the audit trail")?;
        let at = |action: Action| audit.iter().filter(move |e| e.action == action.as_str()).map(|e| since(e.at()));
        let latest = |slot: &mut Option<f64>, t: Option<f64>| {
            if let Some(t) = t {
                *slot = Some(slot.map_or(t, |s| s.max(t)));
            }
        };
        latest(&mut stages.observatory_requests_stored, at(Action::RequestReceived).reduce(f64::max));
        latest(&mut stages.observatory_solicitations_queued, at(Action::SolicitationSent).reduce(f64::max));
        if let Some(t) = at(Action::ResponseReceived).reduce(f64::min) {
            stages.observatory_first_response = Some(stages.observatory_first_response.map_or(t, |s| s.min(t)));
        }
        latest(&mut stages.observatory_last_response, at(Action::ResponseReceived).reduce(f64::max));
        if let Some(t) = case.result_at.map(since) {
            stages.observatory_result_ready = Some(stages.observatory_result_ready.map_or(t, |s: f64| s.max(t)));
        }
        if let Some(t) = case.returned_at.map(since) {
            stages.observatory_returned = Some(stages.observatory_returned.map_or(t, |s: f64| s.max(t)));
        }
    }
    Ok(stages)
}

/// Waits, off the async workers, until the daemon's `/health` answers ([`START_TIMEOUT`]).
fn wait_healthy(daemon: &mut SpawnedParty) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    tokio::task::block_in_place(|| daemon.wait_healthy(deadline))
}

/// `work`, unless one of the daemons exits first: then the error names it, with its log's tail
/// (the flow would otherwise wait for a dead daemon until its deadline, an hour away).
async fn while_running<T>(
    daemons: &mut [&mut SpawnedParty],
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let watch = async {
        loop {
            for d in daemons.iter_mut() {
                d.check_running()?;
            }
            tokio::time::sleep(WATCH_POLL).await;
        }
    };
    tokio::select! {
        done = work => done,
        exited = watch => exited,
    }
}
