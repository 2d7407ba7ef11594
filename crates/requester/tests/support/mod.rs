//! Test support: synthetic selections, a test-double observatory on the in-process bus (or
//! RabbitMQ), and a byte scanner for the forensic checks. Synthetic data only: NIRs are made with
//! the key formula, names are invented.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use passerelle_bus::{Bus, Consumer, Delivery, Handler, Message, Outgoing, Queue, Verdict, SCHEMA_VERSION};
use passerelle_protocol::v1::{self, PersonStatus};
use passerelle_test_support::nir_with_key;

/// A synthetic, valid NIR: a man born in March 1950 in Paris, order number from `n`.
pub fn nir(n: u32) -> String {
    nir_with_key(&format!("1500375{:03}{:03}", 1 + (n / 999) % 999, 1 + n % 999))
}

/// One person of a synthetic selection.
#[derive(Debug, Clone)]
pub struct P {
    pub n: u32,
    pub family: String,
    pub given: String,
    pub commune: &'static str,
    pub address: String,
    pub email: String,
    pub phone: String,
    /// The `housing_aid` cell (a risk factor the requester knows).
    pub housing_aid: &'static str,
}

/// Marseille (carsat-sud-est) and Paris (cnav-idf).
pub const MARSEILLE: &str = "13055";
pub const PARIS: &str = "75056";

pub fn person(n: u32, commune: &'static str) -> P {
    P {
        n,
        family: format!("Zorglub{n:04}"),
        given: format!("Ambrosine{n:04}"),
        commune,
        address: format!("{n} rue Imaginaire"),
        email: format!("contact{n:04}@exemple.invalid"),
        phone: format!("0699{n:06}"),
        housing_aid: "",
    }
}

pub const HEADER: &str =
    "nir,family_name,given_names,sex,birth_year,commune_code,postal_address,email,phone,housing_aid";

pub fn line(p: &P) -> String {
    format!(
        "{},{},{},M,1950,{},\"{}\",{},{},{}",
        nir(p.n),
        p.family,
        p.given,
        p.commune,
        p.address,
        p.email,
        p.phone,
        p.housing_aid
    )
}

pub fn selection(people: &[P]) -> String {
    let mut text = String::from(HEADER);
    text.push('\n');
    for p in people {
        text.push_str(&line(p));
        text.push('\n');
    }
    text
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// What the test-double observatory answers.
pub type Answers = Arc<dyn Fn(&v1::RequestedPerson) -> Vec<v1::BodyAnswer> + Send + Sync>;

/// Which persons the test-double observatory refuses, and why.
pub type Refuse = Arc<dyn Fn(&v1::RequestedPerson) -> Option<v1::Problem> + Send + Sync>;

#[derive(Clone)]
pub enum Behaviour {
    /// Return a result: per person, the answers of the closure; result chunks of `chunk` persons.
    Answer { answers: Answers, bodies: Vec<v1::BodyOutcome>, chunk: usize },
    /// Refuse the persons for whom the closure gives a reason, answer the others.
    RefuseSome { refuse: Refuse, answers: Answers, bodies: Vec<v1::BodyOutcome> },
    /// Refuse the whole case.
    RefuseCase(Vec<v1::Problem>),
    /// Say nothing.
    Silent,
}

/// A stand-in for the observatory: records every request and receipt it is sent, and answers
/// each case once all its request chunks are in.
pub struct FakeObservatory {
    pub code: String,
    pub bus: Arc<dyn Bus>,
    pub behaviour: Behaviour,
    pub requests: Mutex<Vec<(Vec<u8>, v1::Request)>>,
    pub receipts: Mutex<Vec<v1::Receipt>>,
    pending: Mutex<HashMap<String, Vec<v1::Request>>>,
}

impl FakeObservatory {
    pub async fn start(code: &str, bus: Arc<dyn Bus>, behaviour: Behaviour) -> (Arc<FakeObservatory>, Consumer) {
        let obs = Arc::new(FakeObservatory {
            code: code.to_owned(),
            bus: Arc::clone(&bus),
            behaviour,
            requests: Mutex::default(),
            receipts: Mutex::default(),
            pending: Mutex::default(),
        });
        let consumer =
            bus.consume(Queue::ObservatoryRequests(code.to_owned()), Arc::new(Relay(Arc::clone(&obs)))).await.unwrap();
        (obs, consumer)
    }

    pub fn requests(&self) -> Vec<v1::Request> {
        self.requests.lock().unwrap().iter().map(|(_, r)| r.clone()).collect()
    }

    pub fn receipts(&self) -> Vec<v1::Receipt> {
        self.receipts.lock().unwrap().clone()
    }

    async fn answer(&self, chunks: Vec<v1::Request>) {
        let case_id = chunks[0].case_id.clone();
        let sender = chunks[0].sender.clone();
        let persons: Vec<v1::RequestedPerson> = chunks.iter().flat_map(|c| c.persons.clone()).collect();
        let expires = SystemTime::now() + Duration::from_secs(3600);
        let mut out = Vec::new();
        let result = |persons: &[v1::RequestedPerson], answers: &Answers, bodies: &[v1::BodyOutcome], chunk: usize| {
            let chunks: Vec<&[v1::RequestedPerson]> = persons.chunks(chunk.max(1)).collect();
            let count = chunks.len().max(1) as u32;
            let mut msgs = Vec::new();
            for (i, part) in chunks.iter().enumerate() {
                msgs.push(Message::Result(v1::Result {
                    schema_minor: passerelle_protocol::SCHEMA_MINOR,
                    schema_version: SCHEMA_VERSION,
                    sender: self.code.clone(),
                    case_id: case_id.clone(),
                    chunk_index: i as u32,
                    chunk_count: count,
                    completeness: v1::Completeness::Complete as i32,
                    bodies: bodies.to_vec(),
                    persons: part
                        .iter()
                        .map(|p| v1::ResultPerson { nir: p.nir.clone(), answers: answers(p) })
                        .collect(),
                }));
            }
            if chunks.is_empty() {
                msgs.push(Message::Result(v1::Result {
                    schema_minor: passerelle_protocol::SCHEMA_MINOR,
                    schema_version: SCHEMA_VERSION,
                    sender: self.code.clone(),
                    case_id: case_id.clone(),
                    chunk_index: 0,
                    chunk_count: 1,
                    completeness: v1::Completeness::Complete as i32,
                    bodies: bodies.to_vec(),
                    persons: vec![],
                }));
            }
            msgs
        };
        match &self.behaviour {
            Behaviour::Silent => return,
            Behaviour::Answer { answers, bodies, chunk } => out.extend(result(&persons, answers, bodies, *chunk)),
            Behaviour::RefuseCase(problems) => out.push(Message::Refusal(v1::Refusal {
                schema_minor: passerelle_protocol::SCHEMA_MINOR,
                schema_version: SCHEMA_VERSION,
                sender: self.code.clone(),
                case_id: case_id.clone(),
                whole_case: true,
                case_problems: problems.clone(),
                request_chunk_index: 0,
                persons: vec![],
            })),
            Behaviour::RefuseSome { refuse, answers, bodies } => {
                let mut refused = Vec::new();
                let mut kept = Vec::new();
                for p in &persons {
                    match refuse(p) {
                        Some(problem) => {
                            refused.push(v1::RefusedPerson { nir: p.nir.clone(), problems: vec![problem] })
                        }
                        None => kept.push(p.clone()),
                    }
                }
                out.push(Message::Refusal(v1::Refusal {
                    schema_minor: passerelle_protocol::SCHEMA_MINOR,
                    schema_version: SCHEMA_VERSION,
                    sender: self.code.clone(),
                    case_id: case_id.clone(),
                    whole_case: false,
                    case_problems: vec![],
                    request_chunk_index: 0,
                    persons: refused,
                }));
                out.extend(result(&kept, answers, bodies, 1000));
            }
        }
        let outgoing = out.into_iter().map(|m| Outgoing::new(m, sender.clone(), expires)).collect();
        self.bus.publish(outgoing).await.unwrap();
    }
}

struct Relay(Arc<FakeObservatory>);

#[async_trait::async_trait]
impl Handler for Relay {
    async fn handle(&self, d: Delivery) -> Verdict {
        let obs = &self.0;
        match d.message {
            Message::Request(r) => {
                obs.requests.lock().unwrap().push((Message::Request(r.clone()).encode(), r.clone()));
                let ready = {
                    let mut pending = obs.pending.lock().unwrap();
                    let chunks = pending.entry(r.case_id.clone()).or_default();
                    if !chunks.iter().any(|c| c.chunk_index == r.chunk_index) {
                        chunks.push(r.clone());
                    }
                    if chunks.len() as u32 == r.chunk_count {
                        let mut all = pending.remove(&r.case_id).unwrap();
                        all.sort_by_key(|c| c.chunk_index);
                        Some(all)
                    } else {
                        None
                    }
                };
                if let Some(all) = ready {
                    obs.answer(all).await;
                }
                Verdict::Ack
            }
            Message::Receipt(r) => {
                obs.receipts.lock().unwrap().push(r);
                Verdict::Ack
            }
            other => {
                Verdict::dead_letter(passerelle_bus::NoticeReason::WrongType, format!("unexpected {}", other.kind()))
            }
        }
    }
}

pub fn found(body: &str, set: impl FnOnce(&mut v1::CategoryValues)) -> v1::BodyAnswer {
    let mut values = v1::CategoryValues::default();
    set(&mut values);
    v1::BodyAnswer { body: body.into(), status: PersonStatus::Found as i32, values: Some(values) }
}

pub fn not_found(body: &str) -> v1::BodyAnswer {
    v1::BodyAnswer { body: body.into(), status: PersonStatus::NotFound as i32, values: None }
}

pub fn outcome(body: &str, asked: &[v1::Category], declined: Vec<v1::Decline>) -> v1::BodyOutcome {
    v1::BodyOutcome {
        body: body.into(),
        asked: asked.iter().map(|&c| c as i32).collect(),
        answered: true,
        declined,
        missing: 0,
    }
}

/// Every file of the store folder, as bytes (the db, its -wal and -shm).
pub fn store_bytes(data_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            out.push((entry.file_name().to_string_lossy().into_owned(), std::fs::read(entry.path()).unwrap()));
        }
    }
    out
}

pub use passerelle_test_support::contains;

/// Polls `cond` until it holds or `within` passes.
pub use passerelle_test_support::eventually_within as eventually;
