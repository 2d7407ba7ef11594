//! The responder's test harness: synthetic NIRs and extracts, a test double of the observatory
//! that speaks the protocol (publishes solicitations, collects responses), and a stack that runs
//! a real responder on the in-process bus or on the real RabbitMQ.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_access_log::{Accesses, StoredEntry};
use passerelle_bus::{Bus, BusSettings, Consumer, Delivery, Handler, Message, Outgoing, Queue, Verdict};
use passerelle_protocol::nir::{self, Nir};
use passerelle_protocol::v1::{self, Category, Sex};
use passerelle_responder::{load_extract, ExtractSettings, Responder, ResponderSettings, SourceSettings};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use tokio::sync::{mpsc, oneshot};

/// The observatory the double plays.
pub const OBSERVATORY: &str = "carsat-sud-est";
/// The body under test.
pub const BODY: &str = "cnaf";
/// Every wait in these tests is bounded by this.
pub use passerelle_test_support::WAIT;

/// A valid synthetic NIR, distinct for each `i` (up to about 12 million): a man born in 1950 in
/// Paris, with made-up commune and order numbers, and the right key.
pub fn nir(i: u32) -> Nir {
    let order = i % 999 + 1;
    let commune = (i / 999) % 999 + 1;
    let month = (i / (999 * 999)) % 12 + 1;
    nir::with_key(&format!("150{month:02}75{commune:03}{order:03}")).expect("a valid synthetic NIR")
}

/// One line of an extract, in the CSV's own text.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub nir: String,
    pub former_nirs: String,
    pub birth_year: String,
    pub sex: String,
    pub rsa: String,
    pub housing_aid: String,
    pub household_annual_resources: String,
}

impl Line {
    pub fn new(nir: &Nir) -> Line {
        Line { nir: nir.as_str().to_owned(), ..Line::default() }
    }
    pub fn former(mut self, nirs: &[&Nir]) -> Line {
        self.former_nirs = nirs.iter().map(|n| n.as_str()).collect::<Vec<_>>().join("|");
        self
    }
    pub fn identity(mut self, sex: &str, birth_year: u32) -> Line {
        self.sex = sex.to_owned();
        self.birth_year = birth_year.to_string();
        self
    }
    pub fn rsa(mut self, v: &str) -> Line {
        self.rsa = v.to_owned();
        self
    }
    pub fn housing(mut self, v: &str) -> Line {
        self.housing_aid = v.to_owned();
        self
    }
    pub fn resources(mut self, v: &str) -> Line {
        self.household_annual_resources = v.to_owned();
        self
    }
}

/// The extract's header.
pub const HEADER: &str = "nir,former_nirs,birth_year,sex,rsa,housing_aid,household_annual_resources";

/// Writes an extract with [`HEADER`] and `lines`.
pub fn write_extract(path: &Path, lines: &[Line]) {
    let mut text = String::from(HEADER);
    text.push('\n');
    for l in lines {
        // Every field quoted: amounts may use `,` as the decimal mark.
        let fields =
            [&l.nir, &l.former_nirs, &l.birth_year, &l.sex, &l.rsa, &l.housing_aid, &l.household_annual_resources];
        let quoted: Vec<String> = fields.iter().map(|f| format!("\"{f}\"")).collect();
        text.push_str(&quoted.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

/// Responder settings for [`BODY`] over an extract in `data_dir`, with the catalogue's default
/// holdings (for the CNAF: no health data).
pub fn extract_settings(data_dir: &Path, broker: BusSettings) -> ResponderSettings {
    ResponderSettings {
        body: BODY.to_owned(),
        holds: None,
        data_dir: data_dir.to_owned(),
        consumers: 2,
        broker,
        source: SourceSettings::Extract(ExtractSettings::default()),
        metrics_addr: None,
        api: Default::default(),
        agents: Default::default(),
        trails: Default::default(),
        profile: Default::default(),
        development: Default::default(),
    }
}

/// Loads an extract file; returns the JSON report's lines.
pub fn load(settings: &ResponderSettings, path: &Path) -> Vec<serde_json::Value> {
    let mut report = ReportWriter::new(ReportFormat::Json, Vec::new());
    load_extract(settings, path, Encoding::Utf8, &mut report).expect("the extract loads");
    json_lines(&report.into_inner())
}

pub fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(bytes.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A solicited person.
pub fn person(person_ref: u64, nir: &Nir, former: &[&Nir], sex: Option<Sex>, birth_year: u32) -> v1::SolicitedPerson {
    v1::SolicitedPerson {
        person_ref,
        nir: nir.as_str().to_owned(),
        former_nirs: former.iter().map(|n| n.as_str().to_owned()).collect(),
        sex: sex.map_or(0, |s| s as i32),
        birth_year,
    }
}

/// A solicitation chunk addressed to [`BODY`], due in a week.
pub fn solicitation(case: &str, wanted: &[i32], persons: Vec<v1::SolicitedPerson>) -> v1::Solicitation {
    let respond_by = SystemTime::now() + Duration::from_secs(7 * 24 * 3600);
    let secs = respond_by.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    v1::Solicitation {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: v1::SchemaVersion::SchemaVersion1 as i32,
        sender: OBSERVATORY.to_owned(),
        case_id: case.to_owned(),
        solicitation_id: format!("{case}/{BODY}"),
        body: BODY.to_owned(),
        basis: v1::LegalBasis::Decree2017334Art3 as i32,
        wanted: wanted.to_vec(),
        respond_by: Some(prost_types::Timestamp { seconds: secs, nanos: 0 }),
        chunk_index: 0,
        chunk_count: 1,
        reminder: false,
        persons,
    }
}

pub fn wanted(categories: &[Category]) -> Vec<i32> {
    categories.iter().map(|c| *c as i32).collect()
}

/// The observatory double's handler: every response goes to the test.
struct Collector(mpsc::UnboundedSender<v1::Response>);

#[async_trait::async_trait]
impl Handler for Collector {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        match delivery.message {
            Message::Response(r) => {
                let _ = self.0.send(r);
                Verdict::Ack
            }
            other => Verdict::dead_letter(
                passerelle_bus::NoticeReason::WrongType,
                format!("the double expects responses, got a {:?}", other.kind()),
            ),
        }
    }
}

/// The observatory double's notices queue: every notice goes to the test.
struct NoticeCollector(mpsc::UnboundedSender<(String, v1::Notice)>);

#[async_trait::async_trait]
impl Handler for NoticeCollector {
    async fn handle(&self, delivery: Delivery) -> Verdict {
        if let Message::Notice(n) = delivery.message {
            let _ = self.0.send((delivery.message_id, n));
        }
        Verdict::Ack
    }
}

/// Removes what a test declared on RabbitMQ.
pub type Cleanup = Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>;

/// A running responder and the observatory double around it.
pub struct Stack {
    pub settings: ResponderSettings,
    /// The running responder's access log (its own handle).
    pub accesses: Accesses,
    pub dir: tempfile::TempDir,
    observatory: Arc<dyn Bus>,
    responses: mpsc::UnboundedReceiver<v1::Response>,
    collector: Option<Consumer>,
    notices: mpsc::UnboundedReceiver<(String, v1::Notice)>,
    notice_collector: Option<Consumer>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), passerelle_responder::ResponderError>>>,
    cleanup: Option<Cleanup>,
}

impl Stack {
    /// Starts a responder over the extract `lines` on `responder_bus`, with the observatory
    /// double on `observatory`.
    pub async fn start(
        broker: BusSettings,
        observatory: Arc<dyn Bus>,
        responder_bus: Arc<dyn Bus>,
        lines: &[Line],
        cleanup: Option<Cleanup>,
    ) -> Stack {
        let dir = tempfile::tempdir().unwrap();
        let settings = extract_settings(&dir.path().join("data"), broker);
        let extract = dir.path().join("extract.csv");
        write_extract(&extract, lines);
        let report = load(&settings, &extract);
        assert_eq!(report.len(), 1, "a clean extract: {report:?}");
        let responder = Responder::build(&settings, responder_bus).await.expect("the responder builds");
        let accesses = responder.accesses().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(responder.run_until_stopped(async {
            let _ = stopped.await;
        }));
        let (tx, responses) = mpsc::unbounded_channel();
        let collector = observatory
            .consume(Queue::ObservatoryResponses(OBSERVATORY.to_owned()), Arc::new(Collector(tx)))
            .await
            .expect("the double consumes its responses");
        let (tx, notices) = mpsc::unbounded_channel();
        let notice_collector = observatory
            .consume(Queue::ObservatoryNotices(OBSERVATORY.to_owned()), Arc::new(NoticeCollector(tx)))
            .await
            .expect("the double consumes its notices");
        Stack {
            settings,
            accesses,
            dir,
            observatory,
            responses,
            collector: Some(collector),
            notices,
            notice_collector: Some(notice_collector),
            stop: Some(stop),
            task: Some(task),
            cleanup,
        }
    }

    /// Publishes a solicitation chunk as the observatory.
    pub async fn solicit(&self, s: v1::Solicitation) {
        let expires_at = SystemTime::now() + Duration::from_secs(8 * 24 * 3600);
        self.observatory
            .publish(vec![Outgoing::new(Message::Solicitation(s), BODY, expires_at)])
            .await
            .expect("the solicitation is published");
    }

    /// The next response, within [`WAIT`].
    pub async fn response(&mut self) -> v1::Response {
        tokio::time::timeout(WAIT, self.responses.recv())
            .await
            .expect("a response within the bound")
            .expect("the double is running")
    }

    /// The next notice the observatory double received, within [`WAIT`].
    pub async fn notice(&mut self) -> v1::Notice {
        tokio::time::timeout(WAIT, self.notices.recv())
            .await
            .expect("a notice within the bound")
            .expect("the double is running")
            .1
    }

    /// Loads another extract into the running responder's data directory.
    pub fn reload(&self, lines: &[Line]) {
        let path = self.dir.path().join(format!("extract-{}.csv", uuid::Uuid::now_v7()));
        write_extract(&path, lines);
        load(&self.settings, &path);
    }

    pub fn data_dir(&self) -> PathBuf {
        self.settings.data_dir.clone()
    }

    /// Stops the responder and the double; removes what was declared on the broker.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(WAIT, task).await.expect("the responder stops in time").unwrap().unwrap();
        }
        if let Some(collector) = self.collector.take() {
            collector.stop().await;
        }
        if let Some(collector) = self.notice_collector.take() {
            collector.stop().await;
        }
        if let Some(cleanup) = self.cleanup.take() {
            cleanup().await;
        }
    }
}

/// Every entry of an access log, year by year, in order.
pub fn access_entries(accesses: &Accesses) -> Vec<StoredEntry> {
    let log = accesses.log();
    log.years().unwrap().into_iter().flat_map(|year| log.entries(year, 0, 100_000).unwrap()).collect()
}

/// Whether `needle` appears in `haystack`'s bytes.
pub fn bytes_contain(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The bytes of the access log's files in `data_dir` (the database and its write-ahead log).
pub fn access_log_bytes(data_dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for name in ["access.db", "access.db-wal"] {
        if let Ok(b) = std::fs::read(data_dir.join(name)) {
            bytes.extend(b);
        }
    }
    bytes
}

pub use passerelle_test_support::amqp_url;

/// Whether RabbitMQ answers. Under `CI=true` a missing broker fails the test instead.
pub async fn broker_available() -> bool {
    passerelle_test_support::broker_reachable_or_skip(&amqp_url())
}

/// Deletes every queue and exchange of a deployment's topology.
pub async fn delete_topology(settings: BusSettings) {
    passerelle_bus::amqp::delete_topology(&settings).await.expect("the test's topology is deleted");
}

/// A deployment with its own name prefix, so parallel tests never share a queue.
pub fn unique_broker_settings() -> BusSettings {
    BusSettings {
        urls: vec![amqp_url()],
        prefix: passerelle_test_support::unique_name("test-responder"),
        observatories: vec![OBSERVATORY.to_owned()],
        ..BusSettings::default()
    }
}

pub mod scenarios;
