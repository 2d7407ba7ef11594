//! `conformance requester` over the broker: declares the topology of the prefix as the observatory
//! would, waits for the partner's Request on the observatory's requests queue, refuses one person
//! (a Refusal) and answers the others in Result chunks, then waits for the Receipt the partner
//! must send; [`crate::requester_checks`] judges what came.

use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _};
use futures::StreamExt as _;
use lapin::options::{BasicConsumeOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use passerelle_bus::{office, AmqpBus, Bus, BusSettings, Message, Outgoing, Queue, Role, SCHEMA_MINOR, SCHEMA_VERSION};
use passerelle_protocol::v1::{self, PersonStatus};
use prost::Message as _;

use crate::checks::Received;
use crate::requester_checks::{check_requester, Expected};
use crate::responder::raw;
use crate::Report;

/// How long after the first chunk of a case the others may still come.
const OTHER_CHUNKS: Duration = Duration::from_secs(10);
/// The body that "answers" in the Result (any body but the requester's).
fn answering_body(requester: &str) -> &'static str {
    if requester == "cnav" {
        "cnam"
    } else {
        "cnav"
    }
}

/// What `conformance requester` needs.
#[derive(Debug, Clone)]
pub struct RequesterRun {
    pub url: String,
    pub prefix: String,
    pub observatory: String,
    /// The partner's party: `body`, or `body.office` when the body has requester offices.
    pub party: String,
    pub partner_user: Option<String>,
    /// How long to wait for the Request.
    pub wait_for_partner: Duration,
    /// How long the partner has to send its Receipt once the Result is sent.
    pub deadline: Duration,
}

impl RequesterRun {
    fn body(&self) -> &str {
        office::split(&self.party).map_or(self.party.as_str(), |(b, _)| b)
    }

    fn broker(&self) -> BusSettings {
        let mut settings = BusSettings {
            urls: vec![self.url.clone()],
            prefix: self.prefix.clone(),
            observatories: vec![self.observatory.clone()],
            bodies: vec![self.body().to_owned()],
            ..BusSettings::default()
        };
        if let Some((body, office)) = office::split(&self.party) {
            settings.offices.insert(body.to_owned(), vec![office.to_owned()]);
        }
        settings
    }
}

/// Today in Paris, (year, month).
fn today_in_paris() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&chrono_tz::Europe::Paris).date_naive()
}

/// The Refusal of the first person of the first chunk, and the Result chunks of the others.
fn answers(run: &RequesterRun, requests: &[v1::Request]) -> (Option<v1::Refusal>, Vec<v1::Result>) {
    let Some(first) = requests.iter().min_by_key(|r| r.chunk_index) else { return (None, Vec::new()) };
    let observatory = run.observatory.clone();
    let refused = first.persons.first().map(|p| v1::Refusal {
        schema_version: SCHEMA_VERSION,
        schema_minor: SCHEMA_MINOR,
        sender: observatory.clone(),
        case_id: first.case_id.clone(),
        whole_case: false,
        case_problems: Vec::new(),
        request_chunk_index: first.chunk_index,
        persons: vec![v1::RefusedPerson {
            nir: p.nir.clone(),
            problems: vec![v1::Problem {
                field: String::new(),
                reason: "refused on purpose by passerelle conformance".into(),
            }],
        }],
    });
    let refused_nir = refused.as_ref().map(|r| r.persons[0].nir.clone());
    let mut accepted: Vec<&v1::RequestedPerson> =
        requests.iter().flat_map(|r| &r.persons).filter(|p| Some(&p.nir) != refused_nir.as_ref()).collect();
    accepted.dedup_by(|a, b| a.nir == b.nir);
    let body = answering_body(run.body());
    let outcome =
        v1::BodyOutcome { body: body.into(), asked: first.wanted.clone(), answered: true, ..Default::default() };
    let count = if accepted.len() > 1 { 2 } else { 1 };
    let per_chunk = accepted.len().div_ceil(count).max(1);
    let mut chunks: Vec<Vec<&v1::RequestedPerson>> = accepted.chunks(per_chunk).map(<[_]>::to_vec).collect();
    chunks.resize(count, Vec::new());
    let results = chunks
        .into_iter()
        .enumerate()
        .map(|(index, persons)| v1::Result {
            schema_version: SCHEMA_VERSION,
            schema_minor: SCHEMA_MINOR,
            sender: observatory.clone(),
            case_id: first.case_id.clone(),
            chunk_index: index as u32,
            chunk_count: count as u32,
            completeness: v1::Completeness::Complete as i32,
            bodies: vec![outcome.clone()],
            persons: persons
                .iter()
                .map(|p| v1::ResultPerson {
                    nir: p.nir.clone(),
                    answers: vec![v1::BodyAnswer {
                        body: body.into(),
                        status: PersonStatus::NotFound as i32,
                        values: None,
                    }],
                })
                .collect(),
        })
        .collect();
    (refused, results)
}

/// Runs the scenario; `progress` hears what happens, line by line.
pub async fn run(run: &RequesterRun, progress: &(dyn Fn(&str) + Sync)) -> anyhow::Result<Report> {
    let settings = run.broker();
    let bus = AmqpBus::connect(&settings, Role::Observatory(run.observatory.clone()))
        .await
        .with_context(|| format!("cannot connect to the broker and declare the topology of prefix {:?}", run.prefix))?;
    let result = async {
        let requests_queue = Queue::ObservatoryRequests(run.observatory.clone()).name(&run.prefix);
        let conn = lapin::Connection::connect(&run.url, lapin::ConnectionProperties::default())
            .await
            .context("cannot open the connection that reads the requests")?;
        let channel = conn.create_channel().await.context("cannot open a channel")?;
        channel.queue_purge(requests_queue.as_str().into(), QueuePurgeOptions::default()).await.context("cannot purge")?;
        let mut consumer = channel
            .basic_consume(
                requests_queue.as_str().into(),
                "passerelle-conformance".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot consume {requests_queue}"))?;
        progress(&format!(
            "topology of prefix {:?} declared; send your Request to observatory {:?} now (waiting up to {} s on {requests_queue})",
            run.prefix,
            run.observatory,
            run.wait_for_partner.as_secs()
        ));
        let mut requests: Vec<Received> = Vec::new();
        let mut early_receipt = None;
        let mut until = tokio::time::Instant::now() + run.wait_for_partner;
        loop {
            let decoded: Vec<v1::Request> =
                requests.iter().filter_map(|r| v1::Request::decode(r.body.as_slice()).ok()).collect();
            let count = decoded.first().map_or(u32::MAX, |r| r.chunk_count) as usize;
            if decoded.len() >= count {
                break;
            }
            match tokio::time::timeout_at(until, consumer.next()).await {
                Ok(Some(Ok(d))) => {
                    let received = raw(&d.properties, d.data);
                    if received.type_name.as_deref() == Some("passerelle.v1.Receipt") {
                        early_receipt = Some(received);
                        continue;
                    }
                    if requests.is_empty() {
                        until = tokio::time::Instant::now() + OTHER_CHUNKS;
                    }
                    requests.push(received);
                }
                Ok(Some(Err(e))) => return Err(anyhow!("reading {requests_queue} failed: {e}")),
                Ok(None) | Err(_) => break,
            }
        }
        let now = SystemTime::now();
        let decoded: Vec<v1::Request> =
            requests.iter().filter_map(|r| v1::Request::decode(r.body.as_slice()).ok()).collect();
        progress(&format!("received {} Request chunk(s), {} persons", decoded.len(), decoded.iter().map(|r| r.persons.len()).sum::<usize>()));
        let (refusal, results) = answers(run, &decoded);
        let result_chunks = results.len() as u32;
        let mut receipt = early_receipt;
        if !results.is_empty() {
            let expires_at = now + run.deadline + Duration::from_secs(24 * 3600);
            let mut outgoing: Vec<Outgoing> = refusal
                .into_iter()
                .map(|r| Outgoing::new(Message::Refusal(r), run.party.clone(), expires_at))
                .collect();
            outgoing.extend(results.into_iter().map(|r| Outgoing::new(Message::Result(r), run.party.clone(), expires_at)));
            bus.publish(outgoing).await.context("cannot publish the Refusal and the Result")?;
            progress(&format!(
                "sent a Refusal of one person and {result_chunks} Result chunks to {}; waiting up to {} s for the Receipt",
                run.party,
                run.deadline.as_secs()
            ));
            let until = tokio::time::Instant::now() + run.deadline;
            while receipt.is_none() {
                match tokio::time::timeout_at(until, consumer.next()).await {
                    Ok(Some(Ok(d))) => {
                        let received = raw(&d.properties, d.data);
                        if received.type_name.as_deref() != Some("passerelle.v1.Request") {
                            receipt = Some(received);
                        }
                    }
                    Ok(Some(Err(e))) => return Err(anyhow!("reading {requests_queue} failed: {e}")),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let _ = conn.close(200, "conformance done".into()).await;
        let expected = Expected {
            body: run.body().to_owned(),
            office: office::split(&run.party).map(|(_, o)| o.to_owned()),
            observatory: run.observatory.clone(),
            partner_user: run.partner_user.clone(),
            today: today_in_paris(),
            now,
        };
        Ok(check_requester(&expected, &requests, receipt.as_ref(), result_chunks))
    }
    .await;
    bus.close().await;
    result
}
