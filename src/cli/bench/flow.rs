//! The benchmark's run: population and extracts (not timed) → the daemons → the full flow
//! (timed) → the tap drained → the single-person latency → the daemons stopped → the raw
//! broker → the prefix deleted. Every exit path stops the daemons (see [`super::daemons`]) and
//! deletes the prefix's queues and exchanges.
//!
//! **How `seconds` is measured.** The requester runs in this process: the clock starts just
//! before [`Requester::send`] publishes the first request chunk (the selection is already read
//! and stored: `prepare` is setup, not timed), and stops at the latest `settled_at` the
//! requester's store records for the cases — the time, by the same wall clock, the last result
//! chunk was stored (millisecond resolution).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{anyhow, bail, Context};
use indicatif::ProgressBar;
use passerelle_bus::{AmqpBus, Bus, BusSettings, Role};
use passerelle_observatory::solicit::RoutingTable;
use passerelle_observatory_store::audit::Action;
use passerelle_protocol::catalogue;
use passerelle_protocol::rules::SystemClock;
use passerelle_protocol::v1::{Category, Completeness};
use passerelle_requester::{CaseState, Requester, RequesterSettings, SubmitRequest, Uuid};
use passerelle_responder::{load_extract, ResponderSettings};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use passerelle_synth::{SynthOptions, TerritoryChoice};

use super::cpu::{CpuUse, Processes};
use super::daemons::{while_running, Daemon, FreePorts};
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
struct Deployment {
    broker: BusSettings,
    root: PathBuf,
    observatory_config: PathBuf,
    observatory_health: SocketAddr,
    responders: Vec<(String, PathBuf, SocketAddr)>,
    wanted: Vec<Category>,
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

/// TOML text of a string.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The `[broker]` section of every daemon.
fn broker_toml(b: &BusSettings) -> String {
    let list = |v: &[String]| v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", ");
    format!(
        "[broker]\nurls = [{}]\nprefix = {}\nobservatories = [{}]\nbodies = [{}]\n",
        list(&b.urls),
        quoted(&b.prefix),
        list(&b.observatories),
        list(&b.bodies)
    )
}

/// Stage 1 (not timed): the population, the settings files, the extracts indexed.
fn prepare(args: &Args, broker: &BusSettings, root: &Path) -> anyhow::Result<Deployment> {
    let reference_year = time::OffsetDateTime::now_utc().year();
    let population = root.join("population");
    eprintln!("bench: making {} synthetic persons", args.persons);
    let synth = SynthOptions {
        persons: args.persons,
        territory: TerritoryChoice::Observatory(passerelle_synth::DEFAULT_TERRITORY.to_owned()),
        seed: args.seed,
        reference_year,
        requester: REQUESTER_BODY.to_owned(),
    };
    passerelle_synth::generate(&synth, &population).context("cannot make the synthetic population")?;

    let wanted = catalogue::parse_list(super::super::demo::DEFAULT_WANT).map_err(|e| anyhow!(e))?;
    let routing = RoutingTable::new(&BTreeMap::new(), &broker.bodies).map_err(|e| anyhow!(e))?;
    let solicited: Vec<String> = routing.plan(&wanted, REQUESTER_BODY).into_iter().map(|(b, _)| b).collect();
    if solicited.is_empty() {
        bail!("no body holds the categories asked");
    }

    let observatory = passerelle_synth::DEFAULT_TERRITORY;
    let mut ports = FreePorts::default();
    let observatory_health: SocketAddr = format!("127.0.0.1:{}", ports.pick()?).parse()?;
    let observatory_config = root.join("observatory.toml");
    std::fs::write(
        &observatory_config,
        format!(
            "code = {}\ndata_dir = {}\nmetrics_addr = {}\n{}",
            quoted(observatory),
            quoted(&root.join("observatory").display().to_string()),
            quoted(&observatory_health.to_string()),
            broker_toml(broker)
        ),
    )
    .context("cannot write the observatory's settings")?;
    std::fs::create_dir_all(root.join("observatory"))?;

    let mut responders = Vec::new();
    for body in &solicited {
        let health: SocketAddr = format!("127.0.0.1:{}", ports.pick()?).parse()?;
        let data_dir = root.join(format!("responder-{body}"));
        std::fs::create_dir_all(&data_dir)?;
        let config = root.join(format!("responder-{body}.toml"));
        std::fs::write(
            &config,
            format!(
                "body = {}\ndata_dir = {}\nmetrics_addr = {}\n[source]\nkind = \"extract\"\n{}",
                quoted(body),
                quoted(&data_dir.display().to_string()),
                quoted(&health.to_string()),
                broker_toml(broker)
            ),
        )
        .with_context(|| format!("cannot write responder {body}'s settings"))?;
        // As `passerelle responder load --config FILE EXTRACT` does.
        eprintln!("bench: responder {body} indexes its extract");
        let settings: ResponderSettings = passerelle_settings::load(&config).map_err(|e| anyhow!(e))?;
        settings.validate().map_err(|e| anyhow!(e))?;
        let extract = population.join(passerelle_synth::extract_file_name(body));
        let mut report = ReportWriter::new(ReportFormat::Human, std::io::sink()).with_noun("line");
        load_extract(&settings, &extract, Encoding::Utf8, &mut report)
            .with_context(|| format!("responder {body} cannot load {}", extract.display()))?;
        responders.push((body.clone(), config, health));
    }
    Ok(Deployment {
        broker: broker.clone(),
        root: root.to_owned(),
        observatory_config,
        observatory_health,
        responders,
        wanted,
    })
}

/// Stages 2 to 4, with the daemons stopped at the end whatever happens (their `Drop`).
async fn measure(args: &Args, d: &Deployment, setup: Instant) -> anyhow::Result<Report> {
    let logs = d.root.join("logs");
    std::fs::create_dir_all(&logs)?;
    eprintln!("bench: starting the observatory and {} responders (processes)", d.responders.len());
    let mut observatory = Daemon::spawn(
        "observatory",
        "observatory",
        &d.observatory_config,
        d.observatory_health,
        logs.join("observatory.log"),
    )?;
    observatory.wait_healthy().await?;
    let mut responders = Vec::new();
    for (body, config, health) in &d.responders {
        let name = format!("responder-{body}");
        responders.push(Daemon::spawn(&name, "responder", config, *health, logs.join(format!("{name}.log")))?);
    }
    for r in &mut responders {
        r.wait_healthy().await?;
    }

    let url = &d.broker.urls[0];
    let tap_conn = raw::connect(url, "passerelle bench (tap)").await?;
    let tap = Tap::bind(&tap_conn, &d.broker).await?;
    let bus = Arc::new(
        AmqpBus::connect(&d.broker, Role::Body(REQUESTER_BODY.to_owned()))
            .await
            .context("the requester cannot connect to the broker")?,
    );
    let mut settings = RequesterSettings::for_dir(REQUESTER_BODY, REQUESTER_OFFICE, &d.root.join("requester"));
    settings.broker = d.broker.clone();
    let chunk_size = settings.chunk_size;
    let requester = Requester::build(settings, Arc::clone(&bus) as Arc<dyn Bus>, Arc::new(SystemClock))
        .context("the requester cannot start")?;
    let listening = requester.listen().await.context("the requester cannot listen for its results")?;
    let daemon_pids =
        std::iter::once(&observatory).chain(&responders).filter_map(|d| Some((d.name.clone(), d.pid()?))).collect();
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
        let mut daemons: Vec<&mut Daemon> = std::iter::once(&mut observatory).chain(responders.iter_mut()).collect();
        let cases = while_running(&mut daemons, waiting).await?;
        let flow_cpu = processes.read().since(&cpu_before);
        check_complete(&cases)?;
        let stored_at = cases.iter().filter_map(|c| c.settled_at).max().ok_or_else(|| anyhow!("no settled case"))?;
        let seconds = stored_at.duration_since(started_at).unwrap_or_default().as_secs_f64();
        wait_receipts(&requester, &case_ids).await?;
        let recorded = tap.drain().await?;
        eprintln!("bench: flow {seconds:.2} s, {} messages, {} bytes", recorded.messages(), recorded.bytes());

        // 4a. Sequential single-person requests.
        eprintln!("bench: {} single-person requests", args.latency_requests);
        let timing =
            single_person_latencies(&requester, &selection, &d.root, &d.wanted, args.latency_requests as usize);
        let cpu_before = processes.read();
        let mut latencies = while_running(&mut daemons, timing).await?;
        let latency_cpu = processes.read().since(&cpu_before).per(args.latency_requests, 1000.0);
        let peak_rss = observatory.peak_rss_bytes()?;
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
    bus.close().await;
    let mut stopped = Vec::new();
    for r in responders {
        stopped.push(r.stop().await);
    }
    stopped.push(observatory.stop().await);
    let flowed = outcome?;
    for s in stopped {
        s?;
    }
    let stages =
        observatory_stages(&d.root, &flowed.case_ids, flowed.started_at, flowed.requests_sent, flowed.seconds)?;

    let _ = tap_conn.close(200, "tap drained").await;

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
    let _ = raw_conn.close(200, "bench done").await;

    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let flow_cpu_floor_seconds = flowed.flow_cpu.total / cores as f64;
    Ok(Report {
        persons: flowed.persons,
        bodies: d.responders.len() as u64,
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
        reference_year: Some(time::OffsetDateTime::now_utc().year() as u32),
        wanted: wanted.to_vec(),
        service: "Atelier prévention des chutes (banc d'essai)".to_owned(),
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
