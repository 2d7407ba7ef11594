//! The observatory's test stack: the daemon on a manual clock and a temporary data directory,
//! with in-test responders (one per body) and an in-test requester written directly against the
//! [`Bus`] trait, on the in-process bus or on RabbitMQ (a fresh name prefix per test, deleted at
//! the end). Synthetic persons only: NIRs built with the key formula.
#![allow(dead_code)]

pub mod response_rules;
pub mod scenarios;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use passerelle_bus::{
    AmqpBus, Bus, BusSettings, Consumer, DeadLetter, Delivery, Handler, InProcessBus, Message, Outgoing, Queue, Role,
    Verdict,
};
use passerelle_observatory::{Observatory, ObservatorySettings, StatusReader};
use passerelle_observatory_store::CaseState;
use passerelle_protocol::rules::{days, ManualClock};
use passerelle_protocol::v1::{self, Category, CategoryValues, PersonStatus, Sex};
use tokio::sync::oneshot;

/// The observatory of the tests.
pub const OBSERVATORY: &str = "carsat-sud-est";
/// The requester of the tests (a CAF): never solicited.
pub const REQUESTER: &str = "cnaf";
/// The residence commune of every accepted test person (Marseille).
pub const COMMUNE: &str = "13055";
/// A service text the solicitations must never carry.
pub const PURPOSE: &str = "atelier-prevention-des-chutes-marker";

/// The synthetic NIR of person `i`: born in May of `birth_year` in Paris (75), order `i + 1`.
pub fn nir(i: u32, birth_year: u32) -> String {
    let first13 = format!("1{:02}0575{:03}{:03}", birth_year % 100, 101 + i / 999, 1 + i % 999);
    let nir = passerelle_protocol::nir::with_key(&first13).expect("a valid synthetic NIR");
    assert!(!nir.as_str().contains(COMMUNE), "the commune must not appear inside a test NIR");
    nir.as_str().to_owned()
}

/// Person `i` of a case: born 1950 + i % 15 (55 or over), living in Marseille, with a risk factor
/// the requester knows (RSA, its own domain).
pub fn person(i: u32) -> v1::RequestedPerson {
    let birth_year = 1950 + i % 15;
    v1::RequestedPerson {
        nir: nir(i, birth_year),
        former_nirs: vec![],
        sex: if i.is_multiple_of(2) { Sex::Female as i32 } else { Sex::Male as i32 },
        birth_year,
        commune_code: COMMUNE.into(),
        known_risk_factors: Some(CategoryValues { rsa: Some(true), ..Default::default() }),
    }
}

/// The categories the test requester asks for: cnam holds css and long_term_condition, cnav
/// family_situation, msa all four, cnaf (the requester) housing_aid and family_situation.
pub fn wanted() -> Vec<Category> {
    vec![Category::FamilySituation, Category::Css, Category::LongTermCondition, Category::HousingAid]
}

/// What each body knows of persons `0..n`: cnam the even ones, cnav every third, msa every
/// fifth; persons 1 and 7 are known by nobody.
pub fn knowledge(body: &str, n: u32) -> HashMap<String, CategoryValues> {
    let mut known = HashMap::new();
    for i in 0..n {
        let p = person(i);
        let values = match body {
            "cnam" if i % 2 == 0 => {
                CategoryValues { css: Some(i % 4 == 0), long_term_condition: Some(true), ..Default::default() }
            }
            "cnav" if i % 3 == 0 => {
                CategoryValues { family_situation: Some(v1::FamilySituation::Widowed as i32), ..Default::default() }
            }
            "msa" if i % 5 == 0 => CategoryValues {
                family_situation: Some(v1::FamilySituation::Married as i32),
                css: Some(true),
                long_term_condition: Some(false),
                housing_aid: Some(true),
                ..Default::default()
            },
            "cnaf" => CategoryValues { housing_aid: Some(true), ..Default::default() },
            _ => continue,
        };
        known.insert(p.nir, values);
    }
    known
}

pub use passerelle_test_support::{amqp_url, contains, eventually, LogBuffer, WAIT};

/// Where the messages travel.
#[derive(Clone)]
pub enum Fabric {
    InProcess(InProcessBus, BusSettings),
    Amqp(BusSettings),
}

impl Fabric {
    fn base_settings(prefix: String) -> BusSettings {
        BusSettings {
            urls: vec![amqp_url()],
            prefix,
            observatories: vec![OBSERVATORY.to_owned()],
            ..BusSettings::default()
        }
    }

    pub fn in_process() -> Fabric {
        let settings = Fabric::base_settings("test".into());
        Fabric::InProcess(InProcessBus::new(&settings), settings)
    }

    /// RabbitMQ with a fresh prefix; `None` (skip) when no broker answers outside CI, a failure
    /// under `CI=true`.
    pub async fn amqp() -> Option<Fabric> {
        if !passerelle_test_support::broker_reachable_or_skip(&amqp_url()) {
            return None;
        }
        Some(Fabric::Amqp(Fabric::base_settings(passerelle_test_support::unique_name("test"))))
    }

    pub fn settings(&self) -> BusSettings {
        match self {
            Fabric::InProcess(_, s) | Fabric::Amqp(s) => s.clone(),
        }
    }

    /// The observatory's connection (on RabbitMQ it declares the topology).
    pub async fn observatory_bus(&self) -> Arc<dyn Bus> {
        match self {
            Fabric::InProcess(bus, _) => Arc::new(bus.connect_as(OBSERVATORY)),
            Fabric::Amqp(s) => Arc::new(AmqpBus::connect(s, Role::Observatory(OBSERVATORY.to_owned())).await.unwrap()),
        }
    }

    /// A body's connection.
    pub async fn body_bus(&self, code: &str) -> Arc<dyn Bus> {
        match self {
            Fabric::InProcess(bus, _) => Arc::new(bus.connect_as(code)),
            Fabric::Amqp(s) => Arc::new(AmqpBus::connect(s, Role::Body(code.to_owned())).await.unwrap()),
        }
    }

    /// What the bus dead-lettered (in-process only; RabbitMQ's go to a queue).
    pub fn dead_letters(&self) -> Option<Vec<DeadLetter>> {
        match self {
            Fabric::InProcess(bus, _) => Some(bus.dead_letters()),
            Fabric::Amqp(_) => None,
        }
    }

    /// Deletes the test's queues and exchanges on RabbitMQ.
    pub async fn cleanup(&self) {
        if let Fabric::Amqp(settings) = self {
            passerelle_bus::amqp::delete_topology(settings).await.expect("the test's topology is deleted");
        }
    }
}

/// How an in-test body behaves.
#[derive(Debug, Default)]
pub struct BodyBehaviour {
    /// Records solicitations without answering.
    pub silent: AtomicBool,
    /// Publishes every response three times: twice with the same message id, once with another.
    pub duplicate: AtomicBool,
    /// Adds a value of a category it was not asked (minimisation on receipt must drop it).
    pub overshare: AtomicBool,
    /// Refuses every solicitation for good (it cannot handle them): the bus rejects it and
    /// tells the observatory with a notice.
    pub refuse: AtomicBool,
}

/// A solicited body written against the bus: answers from its knowledge, records what it got.
pub struct Body {
    pub code: String,
    bus: Arc<dyn Bus>,
    knows: HashMap<String, CategoryValues>,
    pub behaviour: BodyBehaviour,
    received: Mutex<Vec<(Delivery, v1::Solicitation)>>,
}

impl Body {
    /// Every solicitation received (duplicates included).
    pub fn received(&self) -> Vec<v1::Solicitation> {
        self.received.lock().unwrap().iter().map(|(_, s)| s.clone()).collect()
    }

    /// The response to a solicitation chunk: found with the asked values, or not found.
    pub fn response_to(&self, s: &v1::Solicitation) -> v1::Response {
        let asked: Vec<Category> = s.wanted.iter().filter_map(|n| Category::try_from(*n).ok()).collect();
        let answers = s
            .persons
            .iter()
            .map(|p| match self.knows.get(&p.nir) {
                Some(values) => {
                    let mut v = values.clone();
                    v.retain(|c| asked.contains(&c));
                    if self.behaviour.overshare.load(Ordering::SeqCst) {
                        v.quarters_contributed = Some(160);
                    }
                    v1::PersonAnswer { person_ref: p.person_ref, status: PersonStatus::Found as i32, values: Some(v) }
                }
                None => {
                    v1::PersonAnswer { person_ref: p.person_ref, status: PersonStatus::NotFound as i32, values: None }
                }
            })
            .collect();
        v1::Response {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: 1,
            sender: self.code.clone(),
            case_id: s.case_id.clone(),
            solicitation_id: s.solicitation_id.clone(),
            chunk_index: s.chunk_index,
            chunk_count: s.chunk_count,
            answers,
            declined: vec![],
        }
    }

    /// Publishes a response (several times when duplicating).
    pub async fn respond(&self, r: v1::Response) {
        let expires = SystemTime::now() + days(30);
        let first = Outgoing::new(Message::Response(r), OBSERVATORY, expires);
        let mut batch = vec![first.clone()];
        if self.behaviour.duplicate.load(Ordering::SeqCst) {
            batch.push(first.clone());
            batch.push(Outgoing::new(first.message.clone(), OBSERVATORY, expires));
        }
        self.bus.publish(batch).await.expect("the response is published");
    }

    /// Answers every solicitation received so far (a late body waking up).
    pub async fn answer_everything_received(&self) {
        for s in self.received() {
            self.respond(self.response_to(&s)).await;
        }
    }
}

struct BodyHandler(Arc<Body>);

#[async_trait::async_trait]
impl Handler for BodyHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        let Message::Solicitation(s) = delivery.message.clone() else {
            return Verdict::dead_letter(passerelle_bus::NoticeReason::WrongType, "a body expects solicitations");
        };
        self.0.received.lock().unwrap().push((delivery, s.clone()));
        if self.0.behaviour.refuse.load(Ordering::SeqCst) {
            return Verdict::dead_letter(passerelle_bus::NoticeReason::Invalid, "this body cannot handle it");
        }
        if !self.0.behaviour.silent.load(Ordering::SeqCst) {
            self.0.respond(self.0.response_to(&s)).await;
        }
        Verdict::Ack
    }
}

/// A party's notices queue, read by the test: every notice received, acknowledged.
pub struct NoticeInbox {
    notices: Mutex<Vec<(Delivery, v1::Notice)>>,
}

impl NoticeInbox {
    /// Consumes `queue` on `bus`; stop the returned consumer before the stack shuts down.
    pub async fn open(bus: &Arc<dyn Bus>, queue: Queue) -> (Arc<NoticeInbox>, Consumer) {
        let inbox = Arc::new(NoticeInbox { notices: Mutex::new(Vec::new()) });
        let consumer = bus.consume(queue, Arc::clone(&inbox) as Arc<dyn Handler>).await.expect("the notices queue");
        (inbox, consumer)
    }

    pub fn notices(&self) -> Vec<v1::Notice> {
        self.notices.lock().unwrap().iter().map(|(_, n)| n.clone()).collect()
    }

    /// The broker users who published the notices.
    pub fn users(&self) -> Vec<String> {
        self.notices.lock().unwrap().iter().map(|(d, _)| d.user_id.clone()).collect()
    }
}

#[async_trait::async_trait]
impl Handler for NoticeInbox {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        if let Message::Notice(n) = delivery.message.clone() {
            self.notices.lock().unwrap().push((delivery, n));
        }
        Verdict::Ack
    }
}

/// The requester written against the bus: submits cases, collects results and refusals.
pub struct Requester {
    bus: Arc<dyn Bus>,
    results: Mutex<Vec<v1::Result>>,
    refusals: Mutex<Vec<v1::Refusal>>,
    /// Publishes every request chunk and receipt three times (same id twice, another id once).
    pub duplicate: AtomicBool,
}

/// A case to submit.
#[derive(Debug, Clone)]
pub struct CaseSpec {
    pub persons: Vec<v1::RequestedPerson>,
    pub wanted: Vec<Category>,
    pub chunk_size: usize,
    pub respond_by: Option<SystemTime>,
    pub observatory: String,
}

impl CaseSpec {
    pub fn new(persons: Vec<v1::RequestedPerson>) -> CaseSpec {
        CaseSpec { persons, wanted: wanted(), chunk_size: 3, respond_by: None, observatory: OBSERVATORY.into() }
    }
}

impl Requester {
    /// The request chunks of a case.
    pub fn chunks(case_id: &str, spec: &CaseSpec) -> Vec<v1::Request> {
        let chunks: Vec<&[v1::RequestedPerson]> = spec.persons.chunks(spec.chunk_size.max(1)).collect();
        let count = chunks.len().max(1) as u32;
        (0..count)
            .map(|i| v1::Request {
                schema_minor: passerelle_protocol::SCHEMA_MINOR,
                service: 0,
                schema_version: 1,
                sender: REQUESTER.into(),
                requester_office: "caf-13".into(),
                case_id: case_id.into(),
                observatory: spec.observatory.clone(),
                purpose: PURPOSE.into(),
                basis: passerelle_protocol::v1::LegalBasis::Decree2017334Art3 as i32,
                wanted: spec.wanted.iter().map(|c| *c as i32).collect(),
                respond_by: spec.respond_by.map(prost_types::Timestamp::from),
                chunk_index: i,
                chunk_count: count,
                persons: chunks.get(i as usize).map(|c| c.to_vec()).unwrap_or_default(),
            })
            .collect()
    }

    /// Publishes messages (three times each when duplicating).
    pub async fn publish(&self, messages: Vec<Message>) {
        let expires = SystemTime::now() + days(30);
        let mut batch = Vec::new();
        for m in messages {
            let o = Outgoing::new(m, OBSERVATORY, expires);
            batch.push(o.clone());
            if self.duplicate.load(Ordering::SeqCst) {
                batch.push(o.clone());
                batch.push(Outgoing::new(o.message, OBSERVATORY, expires));
            }
        }
        self.bus.publish(batch).await.expect("published");
    }

    /// Submits a case; returns its id.
    pub async fn submit(&self, spec: &CaseSpec) -> String {
        let case_id = uuid::Uuid::now_v7().to_string();
        self.publish(Requester::chunks(&case_id, spec).into_iter().map(Message::Request).collect()).await;
        case_id
    }

    /// Acknowledges a result of `chunks` chunks.
    pub async fn receipt(&self, case_id: &str, chunks: u32) {
        let receipt = v1::Receipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: 1,
            sender: REQUESTER.into(),
            case_id: case_id.into(),
            chunks_received: chunks,
        };
        self.publish(vec![Message::Receipt(receipt)]).await;
    }

    /// Result chunks received for a case (duplicates included).
    pub fn results(&self, case_id: &str) -> Vec<v1::Result> {
        self.results.lock().unwrap().iter().filter(|r| r.case_id == case_id).cloned().collect()
    }

    /// The whole result once every chunk is in: each chunk once, by index.
    pub fn complete_result(&self, case_id: &str) -> Option<Vec<v1::Result>> {
        let mut by_index: BTreeMap<u32, v1::Result> = BTreeMap::new();
        for r in self.results(case_id) {
            by_index.entry(r.chunk_index).or_insert(r);
        }
        let count = by_index.values().next()?.chunk_count;
        (by_index.len() as u32 == count).then(|| by_index.into_values().collect())
    }

    pub fn refusals(&self, case_id: &str) -> Vec<v1::Refusal> {
        self.refusals.lock().unwrap().iter().filter(|r| r.case_id == case_id).cloned().collect()
    }
}

struct RequesterHandler(Arc<Requester>);

#[async_trait::async_trait]
impl Handler for RequesterHandler {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::Result(r) => self.0.results.lock().unwrap().push(r),
            Message::Refusal(r) => self.0.refusals.lock().unwrap().push(r),
            other => {
                return Verdict::dead_letter(
                    passerelle_bus::NoticeReason::WrongType,
                    format!("a requester does not expect a {}", other.kind()),
                )
            }
        }
        Verdict::Ack
    }
}

struct Running {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), passerelle_observatory::ObservatoryError>>,
    status: StatusReader,
    accesses: passerelle_access_log::Accesses,
    desk: passerelle_rights::RightsDesk,
}

/// The whole stack of a test.
pub struct Stack {
    pub fabric: Fabric,
    pub dir: tempfile::TempDir,
    pub clock: ManualClock,
    pub settings: ObservatorySettings,
    observatory_bus: Arc<dyn Bus>,
    running: Option<Running>,
    pub bodies: BTreeMap<String, Arc<Body>>,
    pub requester: Arc<Requester>,
    consumers: Vec<Consumer>,
}

impl Stack {
    /// Starts the observatory, the four bodies (each knowing part of persons `0..population`)
    /// and the requester.
    pub async fn start(fabric: Fabric, population: u32) -> Stack {
        capture_logs();
        let dir = tempfile::tempdir().unwrap();
        let mut settings = ObservatorySettings::new(OBSERVATORY, dir.path().join("data"));
        settings.broker = fabric.settings();
        settings.chunk_size = 3;
        settings.tick_ms = 20;
        // The forensic checks look at the files while the daemon runs.
        settings.rebuild_interval_s = 0;
        let clock = ManualClock::starting_at(SystemTime::now());
        let observatory_bus = fabric.observatory_bus().await;
        let mut bodies = BTreeMap::new();
        let mut consumers = Vec::new();
        for code in ["cnam", "cnav", "cnaf", "msa"] {
            let body = Arc::new(Body {
                code: code.into(),
                bus: fabric.body_bus(code).await,
                knows: knowledge(code, population),
                behaviour: BodyBehaviour::default(),
                received: Mutex::new(Vec::new()),
            });
            consumers.push(
                body.bus
                    .consume(Queue::BodySolicitations(code.into()), Arc::new(BodyHandler(Arc::clone(&body))))
                    .await
                    .unwrap(),
            );
            bodies.insert(code.to_owned(), body);
        }
        let requester = Arc::new(Requester {
            bus: fabric.body_bus(REQUESTER).await,
            results: Mutex::new(Vec::new()),
            refusals: Mutex::new(Vec::new()),
            duplicate: AtomicBool::new(false),
        });
        consumers.push(
            requester
                .bus
                .consume(Queue::BodyResults(REQUESTER.into()), Arc::new(RequesterHandler(Arc::clone(&requester))))
                .await
                .unwrap(),
        );
        let mut stack =
            Stack { fabric, dir, clock, settings, observatory_bus, running: None, bodies, requester, consumers };
        stack.start_observatory().await;
        stack
    }

    /// (Re)starts the observatory on the same data directory.
    pub async fn start_observatory(&mut self) {
        assert!(self.running.is_none());
        let observatory =
            Observatory::build(self.settings.clone(), Arc::clone(&self.observatory_bus), Arc::new(self.clock.clone()))
                .expect("the observatory builds");
        let status = observatory.status_reader();
        let accesses = observatory.accesses();
        let desk = observatory.rights_desk();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(observatory.run_until_stopped(async {
            let _ = stopped.await;
        }));
        self.running = Some(Running { stop, task, status, accesses, desk });
    }

    /// Stops the observatory (consumers first, then timer and publisher).
    pub async fn stop_observatory(&mut self) {
        let running = self.running.take().expect("running");
        let _ = running.stop.send(());
        tokio::time::timeout(WAIT, running.task).await.expect("the observatory stops in time").unwrap().unwrap();
    }

    pub fn status(&self) -> &StatusReader {
        &self.running.as_ref().expect("running").status
    }

    /// The running observatory's rights desk.
    pub fn rights_desk(&self) -> &passerelle_rights::RightsDesk {
        &self.running.as_ref().expect("running").desk
    }

    /// The running observatory's access log.
    pub fn accesses(&self) -> &passerelle_access_log::Accesses {
        &self.running.as_ref().expect("running").accesses
    }

    pub fn body(&self, code: &str) -> &Arc<Body> {
        &self.bodies[code]
    }

    /// Waits until a case is in `state`.
    pub async fn wait_state(&self, case_id: &str, state: CaseState) {
        eventually(&format!("case in state {state}"), || {
            self.status().case(case_id).unwrap().filter(|c| c.state == state).map(|_| ())
        })
        .await
    }

    /// The observatory's data files.
    pub fn data_dir(&self) -> PathBuf {
        self.settings.data_dir.clone()
    }

    /// Stops everything and removes the broker topology.
    pub async fn shutdown(mut self) {
        if self.running.is_some() {
            self.stop_observatory().await;
        }
        for c in self.consumers.drain(..) {
            c.stop().await;
        }
        self.fabric.cleanup().await;
    }
}

/// Every byte of the observatory's files (`.db`, `-wal`, `-shm` of both stores, the statistics
/// folder included) and of the captured logs.
pub fn forensic_bytes(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = files_under(data_dir)
        .into_iter()
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect();
    files.push(("logs".into(), capture_logs().bytes()));
    files
}

/// The files under `dir`, its subfolders' included.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The first of `files` that holds one of `needles`, with that needle's index: one pass per file
/// and needle length, each window looked up in a set.
pub fn find_any(files: &[PathBuf], needles: &[Vec<u8>]) -> Option<(PathBuf, usize)> {
    let mut by_len: BTreeMap<usize, HashMap<&[u8], usize>> = BTreeMap::new();
    for (i, needle) in needles.iter().enumerate() {
        by_len.entry(needle.len()).or_default().insert(needle, i);
    }
    for file in files {
        let bytes = std::fs::read(file).unwrap();
        for (len, set) in &by_len {
            if let Some(i) = bytes.windows(*len).find_map(|w| set.get(w)) {
                return Some((file.clone(), *i));
            }
        }
    }
    None
}

/// The encodings a NIR could be found in: ASCII/UTF-8 and UTF-16 (both byte orders).
pub fn encodings(text: &str) -> Vec<Vec<u8>> {
    vec![
        text.as_bytes().to_vec(),
        text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
    ]
}

/// Where the first of `nirs` still readable is, if any: one pass per file and encoding width,
/// each window looked up in a set of every encoded NIR.
pub fn find_remnant(data_dir: &Path, nirs: &[String]) -> Option<String> {
    let files = forensic_bytes(data_dir);
    assert!(files.iter().any(|(name, _)| name.ends_with("observatory.db")), "the scan sees the case store");
    let mut by_len: BTreeMap<usize, std::collections::HashSet<Vec<u8>>> = BTreeMap::new();
    for nir in nirs {
        for needle in encodings(nir) {
            by_len.entry(needle.len()).or_default().insert(needle);
        }
    }
    for (name, bytes) in &files {
        for (len, needles) in &by_len {
            if bytes.windows(*len).any(|w| needles.contains(w)) {
                return Some(name.clone());
            }
        }
    }
    None
}

/// Asserts that none of `nirs` is anywhere in the observatory's files or logs. The purge
/// commits first and then checkpoints the WAL, so this waits (bounded) for the checkpoint.
pub async fn assert_forgotten(data_dir: &Path, nirs: &[String]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while let Some(file) = find_remnant(data_dir, nirs) {
        if tokio::time::Instant::now() >= deadline {
            let logs = capture_logs().text();
            let tail: Vec<&str> = logs.lines().filter(|l| l.contains("WAL") || l.contains("purge")).collect();
            panic!("a purged NIR is still readable in {file}; logs: {tail:#?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every log line of the test binary, captured by a global subscriber (Passerelle's crates at
/// TRACE level).
pub fn capture_logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = LogBuffer::default();
        let sink = buffer.clone();
        // Every level of Passerelle's own crates (where a NIR could leak), INFO for the others
        // (lapin's TRACE output would only slow the tests down).
        let filter = tracing_subscriber::EnvFilter::new(
            "info,passerelle_observatory=trace,passerelle_observatory_store=trace,passerelle_bus=trace,passerelle_protocol=trace",
        );
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}
