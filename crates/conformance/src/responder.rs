//! `conformance responder` over the broker: declares the topology of the prefix as the
//! observatory would, waits for the partner's responder to consume its solicitation queue, sends
//! one solicitation in chunks (then a reminder of one chunk and the same message of another
//! again), reads every Response off the observatory's responses queue with its raw properties,
//! and hands them to [`crate::checks`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Context as _};
use futures::StreamExt as _;
use lapin::options::{BasicConsumeOptions, QueuePurgeOptions};
use lapin::types::FieldTable;
use passerelle_bus::{AmqpBus, Bus, BusSettings, Message, Outgoing, Queue, Role, SCHEMA_MINOR, SCHEMA_VERSION};
use passerelle_protocol::catalogue;
use passerelle_protocol::v1::{self, Category, LegalBasis};

use crate::checks::{self, Received, Sent};
use crate::population::Population;
use crate::Report;

/// A category number outside art. 2, 2° to 7°, asked to see it declined NOT_IN_DECREE.
pub const OUTSIDE_THE_DECREE: i32 = 99;
/// How many chunks the solicitation is split into.
pub const CHUNKS: usize = 3;
/// How long, once every expected Response is in, the run still listens for unexpected ones.
const SETTLE: Duration = Duration::from_millis(300);

/// What `conformance responder` needs.
#[derive(Debug, Clone)]
pub struct ResponderRun {
    /// The broker URL, prefix, and the deployment's observatory and body.
    pub broker: BusSettings,
    /// The observatory code this run plays (the solicitations' `sender`).
    pub observatory: String,
    /// The body under test.
    pub body: String,
    /// The categories the partner holds (its configuration).
    pub held: Vec<Category>,
    /// The time the partner has to answer each chunk (`respond_by` = now + it).
    pub deadline: Duration,
    /// How long to wait for the partner's responder to consume its queue.
    pub wait_for_partner: Duration,
    /// The broker user the partner publishes as, when known.
    pub partner_user: Option<String>,
}

impl ResponderRun {
    /// The broker settings of a run: the URL and prefix, one observatory and one body.
    pub fn broker(url: &str, prefix: &str, observatory: &str, body: &str) -> BusSettings {
        BusSettings {
            urls: vec![url.to_owned()],
            prefix: prefix.to_owned(),
            observatories: vec![observatory.to_owned()],
            bodies: vec![body.to_owned()],
            ..BusSettings::default()
        }
    }
}

/// The categories asked: every category of the decree (those not held must be declined
/// NOT_HELD) but one the body does not hold (which must get no value: it was not asked), then a
/// number outside the decree.
pub fn wanted(held: &[Category]) -> Vec<i32> {
    let unasked = catalogue::CATEGORIES.iter().map(|i| i.category).find(|c| !held.contains(c));
    let mut wanted: Vec<i32> =
        catalogue::CATEGORIES.iter().map(|i| i.category).filter(|c| Some(*c) != unasked).map(|c| c as i32).collect();
    wanted.push(OUTSIDE_THE_DECREE);
    wanted
}

/// The solicitation's chunks: the population's persons, numbered from 1, split in [`CHUNKS`].
pub fn solicitation(run: &ResponderRun, population: &Population, respond_by: SystemTime) -> Sent {
    let case_id = uuid::Uuid::now_v7().to_string();
    let solicitation_id = uuid::Uuid::now_v7().to_string();
    let timestamp = prost_types::Timestamp::from(respond_by);
    let per_chunk = population.persons.len().div_ceil(CHUNKS);
    let mut person_of_ref = BTreeMap::new();
    let chunks = population
        .persons
        .chunks(per_chunk)
        .enumerate()
        .map(|(index, persons)| v1::Solicitation {
            schema_version: SCHEMA_VERSION,
            schema_minor: SCHEMA_MINOR,
            sender: run.observatory.clone(),
            case_id: case_id.clone(),
            solicitation_id: solicitation_id.clone(),
            body: run.body.clone(),
            wanted: wanted(&population.held),
            respond_by: Some(timestamp),
            chunk_index: index as u32,
            chunk_count: CHUNKS as u32,
            reminder: false,
            persons: persons
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let person_ref = (index * per_chunk + i + 1) as u64;
                    person_of_ref.insert(person_ref, index * per_chunk + i);
                    v1::SolicitedPerson { person_ref, ..t.solicited.clone() }
                })
                .collect(),
            basis: LegalBasis::Decree2017334Art3 as i32,
        })
        .collect();
    Sent {
        body: run.body.clone(),
        chunks,
        respond_by,
        reminder_chunk: 1,
        duplicate_chunk: 2,
        person_of_ref,
        partner_user: run.partner_user.clone(),
    }
}

/// Runs the scenario; `progress` hears what happens, line by line.
pub async fn run(run: &ResponderRun, progress: &(dyn Fn(&str) + Sync)) -> anyhow::Result<Report> {
    let population = Population::new(&run.held);
    let settings = &run.broker;
    let bus = AmqpBus::connect(settings, Role::Observatory(run.observatory.clone())).await.with_context(|| {
        format!("cannot connect to the broker and declare the topology of prefix {:?}", settings.prefix)
    })?;
    let result = async {
        let responses = Queue::ObservatoryResponses(run.observatory.clone()).name(&settings.prefix);
        let solicitations = Queue::BodySolicitations(run.body.clone());
        progress(&format!("topology of prefix {:?} declared; responses read from {responses}", settings.prefix));
        progress(&format!(
            "waiting up to {} s for your responder to consume {}",
            run.wait_for_partner.as_secs(),
            solicitations.name(&settings.prefix)
        ));
        let until = tokio::time::Instant::now() + run.wait_for_partner;
        while bus.consumer_count(&solicitations).await.context("cannot count the solicitation queue's consumers")? == 0
        {
            if tokio::time::Instant::now() >= until {
                return Err(anyhow!(
                    "no responder consumes {} after {} s: start yours (body {}, prefix {:?}), then run this again",
                    solicitations.name(&settings.prefix),
                    run.wait_for_partner.as_secs(),
                    run.body,
                    settings.prefix
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let conn = lapin::Connection::connect(&settings.urls[0], lapin::ConnectionProperties::default())
            .await
            .context("cannot open the connection that reads the responses")?;
        let channel = conn.create_channel().await.context("cannot open a channel")?;
        channel.queue_purge(responses.as_str().into(), QueuePurgeOptions::default()).await.context("cannot purge")?;
        let mut consumer = channel
            .basic_consume(
                responses.as_str().into(),
                "passerelle-conformance".into(),
                BasicConsumeOptions { no_ack: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .with_context(|| format!("cannot consume {responses}"))?;
        let respond_by = SystemTime::now() + run.deadline;
        let sent = solicitation(run, &population, respond_by);
        let expires_at = respond_by + Duration::from_secs(24 * 3600);
        let mut outgoing: Vec<Outgoing> = sent
            .chunks
            .iter()
            .map(|c| Outgoing::new(Message::Solicitation(c.clone()), run.body.clone(), expires_at))
            .collect();
        let reminder = v1::Solicitation { reminder: true, ..sent.chunks[sent.reminder_chunk as usize].clone() };
        let duplicate = outgoing[sent.duplicate_chunk as usize].clone();
        outgoing.push(Outgoing::new(Message::Solicitation(reminder), run.body.clone(), expires_at));
        outgoing.push(duplicate);
        let expected = outgoing.len();
        bus.publish(outgoing).await.context("cannot publish the solicitations")?;
        progress(&format!(
            "sent {} persons in {CHUNKS} chunks, then a reminder of chunk {} and chunk {} again; waiting up to {} s",
            population.persons.len(),
            sent.reminder_chunk,
            sent.duplicate_chunk,
            run.deadline.as_secs()
        ));
        let mut received = Vec::new();
        let give_up = tokio::time::Instant::now() + run.deadline + Duration::from_secs(1);
        loop {
            let wait_until = if received.len() >= expected { tokio::time::Instant::now() + SETTLE } else { give_up };
            match tokio::time::timeout_at(wait_until, consumer.next()).await {
                Ok(Some(Ok(delivery))) => received.push(raw(&delivery.properties, delivery.data)),
                Ok(Some(Err(e))) => return Err(anyhow!("reading {responses} failed: {e}")),
                Ok(None) | Err(_) => break,
            }
        }
        progress(&format!("received {} responses", received.len()));
        let _ = conn.close(200, "conformance done".into()).await;
        Ok(checks::check_responses(&sent, &received, &population))
    }
    .await;
    bus.close().await;
    result
}

/// A delivery's properties and body, as the checks read them.
pub(crate) fn raw(props: &lapin::BasicProperties, body: Vec<u8>) -> Received {
    let text = |s: &Option<lapin::types::ShortString>| s.as_ref().map(|s| s.as_str().to_owned());
    let headers = props
        .headers()
        .as_ref()
        .map(|h| {
            h.inner()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), passerelle_bus::amqp::properties::integer(v)))
                .collect()
        })
        .unwrap_or_default();
    Received {
        type_name: text(props.kind()),
        content_type: text(props.content_type()),
        message_id: text(props.message_id()),
        user_id: text(props.user_id()),
        correlation_id: text(props.correlation_id()),
        expiration: text(props.expiration()),
        headers,
        body,
        arrived: SystemTime::now(),
    }
}
