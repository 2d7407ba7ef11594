//! The responder's benchmark (BENCHMARKS.md, "Responder"), release build:
//!
//! ```text
//! cargo bench -p passerelle-responder --bench responder -- EXTRACT BODY [--amqp]
//! ```
//!
//! `EXTRACT` is a body's extract (`passerelle synth` writes `extract-<body>.csv`), `BODY` its body
//! code. Phases:
//! 1. **load**: `load_extract` into a fresh index — lines/s, index size;
//! 2. **lookups**: the index alone, chunks of [`DEFAULT_CHUNK_SIZE`] persons (90 % known, 10 %
//!    unknown, with sex and birth year as a solicitation has them), two chunks at a time — persons/s;
//! 3. **in-process**: a `Responder` on the in-process bus with an observatory double — persons/s
//!    end to end (solicitation decoded → lookup → response encoded and delivered);
//! 4. with `--amqp`: the release binary `passerelle responder run` as a child process against
//!    RabbitMQ (`PASSERELLE_TEST_AMQP_URL`), fed by an observatory double in this process —
//!    persons/s, and the child's peak RSS (`VmHWM`). `PASSERELLE_BIN` names the binary (default
//!    `target/release/passerelle`). The raw broker rate of the same messages (published and
//!    consumed back without a responder) is measured alongside, for the ratio.
//!
//! The peak RSS of `load` is that of `passerelle responder load` under `/usr/bin/time -v`
//! (see BENCHMARKS.md); this program reports its own, which includes phase 1 only when read
//! right after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use passerelle_bus::{Bus, BusSettings, Delivery, Handler, InProcessBus, Message, Outgoing, Queue, Verdict};
use passerelle_protocol::rules::DEFAULT_CHUNK_SIZE;
use passerelle_protocol::v1::{self, Sex};
use passerelle_responder::{
    load_extract, DataSource, ExtractSettings, ExtractSource, Responder, ResponderSettings, SourceSettings, Subject,
};
use passerelle_selection::{Checked, Encoding, ExtractReader, ExtractRules, ReportFormat, ReportWriter};
use tokio::sync::mpsc;

const OBSERVATORY: &str = "carsat-sud-est";
/// Chunks per end-to-end phase: 200,000 persons, long enough to dwarf start-up effects.
const CHUNKS: usize = 200;
/// Persons sampled from the extract to build solicitations from.
const SAMPLE: usize = 200_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let amqp = args.iter().any(|a| a == "--amqp");
    let positional: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (Some(extract), Some(body)) = (positional.first(), positional.get(1)) else {
        eprintln!("usage: cargo bench -p passerelle-responder --bench responder -- EXTRACT BODY [--amqp]");
        std::process::exit(2);
    };
    let extract = PathBuf::from(extract.as_str());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let settings = ResponderSettings {
        body: body.to_string(),
        holds: None,
        data_dir: dir.path().join("data"),
        consumers: 2,
        broker: BusSettings::default(),
        source: SourceSettings::Extract(ExtractSettings::default()),
        metrics_addr: None,
        api: Default::default(),
        agents: Default::default(),
        trails: Default::default(),
        profile: Default::default(),
        development: Default::default(),
    };

    // 0. Reading and checking alone (the shared CSV reader), for the split of the load's cost.
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&extract).unwrap());
    let lines = ExtractReader::new(file, Encoding::Utf8, ExtractRules).unwrap().count();
    println!(
        "read and check only: {lines} lines in {:.2} s wall, {:.2} s CPU = {:.0} lines per CPU-second",
        started.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        lines as f64 / (cpu_seconds() - cpu)
    );

    // 1. Load.
    let mut report = ReportWriter::new(ReportFormat::Json, std::io::sink());
    let (started, cpu) = (Instant::now(), cpu_seconds());
    let summary = load_extract(&settings, &extract, Encoding::Utf8, &mut report).expect("the extract loads");
    let load_secs = started.elapsed().as_secs_f64();
    let load_cpu = cpu_seconds() - cpu;
    println!(
        "load: {} lines ({} rejected) in {:.2} s wall = {:.0} lines/s ({:.2} s CPU = {:.0} lines per CPU-second); \
         index {:.1} MiB ({} persons, {} former NIRs); bench process VmHWM {} MiB",
        summary.lines.lines,
        summary.lines.rejected,
        load_secs,
        summary.lines.lines as f64 / load_secs,
        load_cpu,
        summary.lines.lines as f64 / load_cpu,
        summary.index.bytes as f64 / 1048576.0,
        summary.index.persons,
        summary.index.former_nirs,
        peak_rss_mib(std::process::id()).unwrap_or(0),
    );

    let sample = sample_persons(&extract, SAMPLE);
    let chunks: Vec<Vec<v1::SolicitedPerson>> = (0..CHUNKS).map(|c| chunk(&sample, c)).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        // 2. Index lookups.
        let source = Arc::new(ExtractSource::new(settings.index_path(), settings.body.clone()));
        let held = settings.validate().unwrap();
        let (started, cpu) = (Instant::now(), cpu_seconds());
        let mut found = 0usize;
        for pair in chunks.chunks(2) {
            let tasks: Vec<_> = pair
                .iter()
                .map(|c| {
                    let (source, held) = (Arc::clone(&source), held.clone());
                    let subjects: Vec<Subject> = c.iter().map(Subject::from).collect();
                    tokio::spawn(async move { source.lookup(&subjects, &held).await.unwrap() })
                })
                .collect();
            for t in tasks {
                found += t.await.unwrap().persons.iter().flatten().count();
            }
        }
        let secs = started.elapsed().as_secs_f64();
        let persons = CHUNKS * DEFAULT_CHUNK_SIZE;
        let cpu = cpu_seconds() - cpu;
        println!(
            "lookups (index only, every held category): {persons} persons ({found} found) in {secs:.2} s = {:.0} persons/s \
             ({cpu:.2} s CPU = {:.0} persons per CPU-second)",
            persons as f64 / secs,
            persons as f64 / cpu
        );

        // 3. The responder on the in-process bus.
        let bus = InProcessBus::new(&BusSettings::default());
        let responder = Responder::build(&settings, Arc::new(bus.connect_as(body))).await.unwrap();
        let observatory: Arc<dyn Bus> = Arc::new(bus.connect_as(OBSERVATORY));
        let rate = end_to_end(observatory, body, &held, &chunks, async move {
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(responder.run_until_stopped(async {
                let _ = stopped.await;
            }));
            (stop, task)
        })
        .await;
        println!("in-process bus, responder end to end: {rate:.0} persons/s");

        // 4. The release binary against RabbitMQ.
        if amqp {
            amqp_phase(&settings, body, &held, &chunks, dir.path()).await;
        }
    });
}

/// Publishes every chunk as the observatory and waits for every response; persons/s.
async fn end_to_end<F, S, T>(
    observatory: Arc<dyn Bus>,
    body: &str,
    held: &[v1::Category],
    chunks: &[Vec<v1::SolicitedPerson>],
    start: F,
) -> f64
where
    F: std::future::Future<Output = (S, T)>,
{
    let (tx, mut rx) = mpsc::unbounded_channel();
    let collector = observatory
        .consume(Queue::ObservatoryResponses(OBSERVATORY.to_owned()), Arc::new(Collector(tx)))
        .await
        .unwrap();
    let (stop, task) = start.await;
    let started = Instant::now();
    let wanted: Vec<i32> = held.iter().map(|c| *c as i32).collect();
    let messages: Vec<Outgoing> = chunks
        .iter()
        .enumerate()
        .map(|(i, persons)| {
            let s = solicitation(body, &wanted, i as u32, chunks.len() as u32, persons.clone());
            Outgoing::new(Message::Solicitation(s), body, SystemTime::now() + Duration::from_secs(3600))
        })
        .collect();
    observatory.publish(messages).await.unwrap();
    let mut persons = 0usize;
    for _ in 0..chunks.len() {
        let r = tokio::time::timeout(Duration::from_secs(300), rx.recv()).await.expect("responses in time").unwrap();
        persons += r.answers.len();
    }
    let secs = started.elapsed().as_secs_f64();
    drop((stop, task));
    collector.stop().await;
    persons as f64 / secs
}

async fn amqp_phase(
    settings: &ResponderSettings,
    body: &str,
    held: &[v1::Category],
    chunks: &[Vec<v1::SolicitedPerson>],
    dir: &Path,
) {
    use passerelle_bus::{AmqpBus, Role};
    let url =
        std::env::var("PASSERELLE_TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let broker = BusSettings {
        urls: vec![url],
        prefix: format!("bench-responder-{}", uuid::Uuid::new_v4().simple()),
        observatories: vec![OBSERVATORY.to_owned()],
        ..BusSettings::default()
    };
    let observatory = Arc::new(AmqpBus::connect(&broker, Role::Observatory(OBSERVATORY.into())).await.unwrap());

    // The raw broker rate of the same messages: solicitations published and consumed back by a
    // handler that only acknowledges (no lookup, no response).
    let raw = {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sink = observatory.consume(Queue::BodySolicitations(body.into()), Arc::new(Counter(tx))).await.unwrap();
        let wanted: Vec<i32> = held.iter().map(|c| *c as i32).collect();
        let started = Instant::now();
        let messages = chunks
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let s = solicitation(body, &wanted, i as u32, chunks.len() as u32, p.clone());
                Outgoing::new(Message::Solicitation(s), body, SystemTime::now() + Duration::from_secs(3600))
            })
            .collect();
        observatory.publish(messages).await.unwrap();
        let mut persons = 0;
        for _ in 0..chunks.len() {
            persons += rx.recv().await.unwrap();
        }
        let rate = persons as f64 / started.elapsed().as_secs_f64();
        sink.stop().await;
        rate
    };

    let consumers: usize = std::env::var("RESPONDER_BENCH_CONSUMERS").ok().and_then(|c| c.parse().ok()).unwrap_or(2);
    let config = dir.join("responder.toml");
    let mut toml = format!(
        "body = \"{body}\"\ndata_dir = \"{}\"\nconsumers = {consumers}\n[source]\nkind = \"extract\"\n[broker]\nurls = [\"{}\"]\nprefix = \"{}\"\nobservatories = [\"{OBSERVATORY}\"]\n",
        settings.data_dir.display(),
        broker.urls[0],
        broker.prefix
    );
    toml.push('\n');
    std::fs::write(&config, toml).unwrap();
    let bin = std::env::var("PASSERELLE_BIN").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/passerelle").display().to_string()
    });
    let mut child = std::process::Command::new(&bin)
        .args(["responder", "run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
    let pid = child.id();
    let rate = end_to_end(Arc::clone(&observatory) as Arc<dyn Bus>, body, held, chunks, async { ((), ()) }).await;
    let rss = peak_rss_mib(pid);
    // SIGTERM: the responder drains and exits 0.
    let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    let status = child.wait().unwrap();
    println!(
        "RabbitMQ, `passerelle responder run` (release, child process, {consumers} consumers): {rate:.0} persons/s; raw broker rate of the same \
         solicitations {raw:.0} persons/s (ratio {:.2}); child peak RSS {} MiB; exit {status}",
        rate / raw,
        rss.map_or("?".to_owned(), |m| m.to_string()),
    );
    if let Ok(observatory) = Arc::try_unwrap(observatory) {
        observatory.close().await;
    }
    delete_topology(&broker).await;
}

async fn delete_topology(settings: &BusSettings) {
    let conn = lapin::Connection::connect(&settings.urls[0], lapin::ConnectionProperties::default()).await.unwrap();
    let channel = conn.create_channel().await.unwrap();
    let topology = passerelle_bus::topology::Topology::of(settings);
    for q in &topology.queues {
        let _ = channel.queue_delete(q.name.as_str().into(), Default::default()).await;
    }
    for (name, _) in &topology.exchanges {
        let _ = channel.exchange_delete(name.as_str().into(), Default::default()).await;
    }
    let _ = conn.close(200, "bench done".into()).await;
}

/// CPU time (user + system) of this process so far, in seconds: on a shared two-core machine the
/// wall clock also measures the neighbours, CPU time measures the work.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime and stime are 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 are at 11 and 12 once the pid and command are cut; 100 ticks a second.
    (ticks(11) + ticks(12)) / 100.0
}

/// The peak resident set of a process, from `/proc/PID/status`.
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Every `step`-th valid row of the extract, as solicited persons (up to `max`).
fn sample_persons(path: &Path, max: usize) -> Vec<v1::SolicitedPerson> {
    let file = std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).unwrap());
    let reader = ExtractReader::new(file, Encoding::Utf8, ExtractRules).unwrap();
    let mut out = Vec::with_capacity(max);
    for (i, verdict) in reader.enumerate() {
        if out.len() >= max {
            break;
        }
        if i % 3 != 0 {
            continue;
        }
        if let Checked::Valid(row) = verdict.unwrap() {
            out.push(v1::SolicitedPerson {
                person_ref: out.len() as u64,
                nir: row.nir.as_str().to_owned(),
                former_nirs: vec![],
                sex: row.sex.map_or(Sex::Unspecified as i32, |s| s as i32),
                birth_year: row.birth_year.unwrap_or(0),
            });
        }
    }
    out
}

/// Chunk `c`: persons from the sample, one in ten with a NIR the body does not know.
fn chunk(sample: &[v1::SolicitedPerson], c: usize) -> Vec<v1::SolicitedPerson> {
    (0..DEFAULT_CHUNK_SIZE)
        .map(|i| {
            let n = (c * DEFAULT_CHUNK_SIZE + i) % sample.len();
            let mut p = sample[n].clone();
            p.person_ref = i as u64;
            if i % 10 == 9 {
                // Unknown: a valid NIR from a made-up birth place and order.
                let first13 = format!("1{:02}0399{:03}{:03}", i % 100, c % 999 + 1, i % 999 + 1);
                p.nir = passerelle_protocol::nir::with_key(&first13).unwrap().as_str().to_owned();
            }
            p
        })
        .collect()
}

fn solicitation(
    body: &str,
    wanted: &[i32],
    index: u32,
    count: u32,
    persons: Vec<v1::SolicitedPerson>,
) -> v1::Solicitation {
    let respond_by = SystemTime::now() + Duration::from_secs(7 * 24 * 3600);
    v1::Solicitation {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: OBSERVATORY.to_owned(),
        case_id: "bench".to_owned(),
        solicitation_id: format!("bench/{body}"),
        body: body.to_owned(),
        basis: v1::LegalBasis::Decree2017334Art3 as i32,
        wanted: wanted.to_vec(),
        respond_by: Some(prost_types::Timestamp {
            seconds: respond_by.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64,
            nanos: 0,
        }),
        chunk_index: index,
        chunk_count: count,
        reminder: false,
        persons,
    }
}

struct Collector(mpsc::UnboundedSender<v1::Response>);

#[async_trait::async_trait]
impl Handler for Collector {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        if let Message::Response(r) = delivery.message {
            let _ = self.0.send(r);
        }
        Verdict::Ack
    }
}

/// Counts the persons of each solicitation and acknowledges it (the raw broker rate).
struct Counter(mpsc::UnboundedSender<usize>);

#[async_trait::async_trait]
impl Handler for Counter {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        if let Message::Solicitation(s) = delivery.message {
            let _ = self.0.send(s.persons.len());
        }
        Verdict::Ack
    }
}
