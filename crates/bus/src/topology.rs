//! The broker topology as data: exchange and queue names, queue arguments, bindings. The AMQP
//! bus declares exactly this, and `passerelle topology export` writes exactly this.
//!
//! Retention in the broker: every queue has a TTL equal to the 30-day cap (a backstop: each
//! message already expires at its own case's cap); dead-lettering goes through a *headers*
//! exchange that routes only the bus's own reasoned dead-letters and the delivery-limit drops
//! to the dead-letter queue (`x-match: all-with-x`, RabbitMQ ≥ 3.10, since both headers start
//! with `x-`), so a message that expires in a queue is dropped, never revived;
//! the dead-letter queue keeps a message [`DEAD_LETTER_TTL`] at most.
//!
//! **Bound: no broker copy of a case outlives its cap** (`x-passerelle-expires-at`, at most the
//! 30-day cap), dead-lettered ones included. A flow message's `expiration` is the time left
//! before its cap, but RabbitMQ (3.10+) removes `expiration` when it dead-letters a message (a
//! body's reject, a delivery-limit drop) and a queue has only a per-queue `x-message-ttl`,
//! counted from the drop: a message published on day 25 of a case whose cap is day 30, dropped
//! on day 29, would be kept until day 36. So:
//! - the observatory sweeps the dead-letter queue every [`DEAD_LETTER_SWEEP_INTERVAL`]
//!   (`amqp::sweep`): each sweep drops every copy whose cap falls before the next sweep, so a
//!   copy is gone before its cap while an observatory runs (the queue's TTL remains the backstop
//!   when none does). The bus's own reasoned dead-letters also keep their remaining `expiration`;
//! - the alarm queue's copies are acknowledged as they arrive (`amqp::alarms`);
//! - a transfer waits in the broker [`TRANSFER_MESSAGE_LIFETIME`] at most (23 days from its
//!   sending), is dead-lettered only while it waits, and its dead-letter queue keeps it
//!   [`DEAD_LETTER_TTL`] at most: gone by [`TRANSFER_CAP`] (30 days), with no sweep (no party's
//!   user may read that queue). Both sums are checked at compile time.
//!
//! Who writes the dead-letter exchange: the broker (a body's refusal is a reject without
//! requeue, which the queue's `x-dead-letter-exchange` routes with the broker's `x-death`
//! headers, `x-first-death-reason: rejected`), and the observatory (its reasoned dead-letters).
//! Never a body, an office or a social service: their accounts may not write it. A refusal is
//! told to its sender by a **notice** on the notice exchange of the recipient's side — except on
//! a social service's transfers queue, where nobody is told by the bus (a social service answers
//! a transfer it refuses with a `TransferReceipt`, and writes no notice exchange towards bodies).
//!
//! Social services (norm 43, A.3): each `[broker.social_services]` party `body.office` has a
//! transfers queue, a flow queue (quorum, delivery limit, 30-day TTL) bound to
//! `{prefix}.transfers` with its party code, and a notices queue (as every party's, in the
//! notices policy) bound to `{prefix}.notices-to-bodies`. A transfers queue dead-letters to a
//! headers exchange of its own, `{prefix}.transfers-dead-letter`, which keeps what a receiver
//! rejected and the delivery-limit drops in `{prefix}.transfers-dead-letters` (7 days, bounded by
//! policy), read by no party's user: a transfer carries a case file under professional secrecy,
//! which must never reach the dead-letter and alarm queues the observatory reads (so a transfer
//! dropped at the delivery limit raises no observatory alarm: the receiving daemon logs each
//! failed delivery).
//!
//! The persons' rights (decree art. 6, `rights.proto`): every observatory, every requester office
//! (`[broker.offices]`) and every body without offices has a rights queue, a flow queue (quorum,
//! delivery limit, 30-day TTL, dead-lettering to the main dead-letter exchange: a rights request
//! is decree data, which the observatory may read) bound to `{prefix}.rights` with its party
//! code: `{prefix}.observatory.{code}.rights`, `{prefix}.requester.{body}.{office}.rights`,
//! `{prefix}.body.{body}.rights`. A body with offices and a social service have none.
//!
//! Length limits: the dead-letter and alarm queues are bounded by RabbitMQ **policies**
//! ([`Topology::policies`], exported with the definitions), not by declared arguments, so that
//! the queues of an earlier release — declared without a limit — are never redeclared with other
//! arguments (which the broker refuses with PRECONDITION_FAILED). The notice queues, new in this
//! release, also declare their limit. The oldest messages go first when a queue is full
//! (`drop-head`): a refusal is never blocked by a queue full of older ones.

use std::time::Duration;

use passerelle_protocol::rules::OBSERVATORY_RETENTION_CAP;

pub use crate::exchange::Exchange;
pub use crate::role::Role;
use crate::{BusSettings, Kind};

/// Deliveries of one message before a quorum queue dead-letters it. RabbitMQ 3.10 has no
/// default; every return counts (nack with requeue, channel close, consumer timeout), so the
/// limit sits well above the crashes and restarts a healthy system sees in one message's life.
pub const DELIVERY_LIMIT: i64 = 20;

/// Backstop TTL of every queue: no copy outlives the 30-day cap (art. 5).
pub const QUEUE_TTL: Duration = OBSERVATORY_RETENTION_CAP;

/// TTL of the dead-letter queues: how long an operator may inspect a dead-letter, at most. The
/// broker drops a message's own expiration when it dead-letters it, so this alone does not bound
/// a copy dropped late in its case: the observatory's sweep does ([`DEAD_LETTER_SWEEP_INTERVAL`])
/// for the dead-letter queue, and a transfer's broker lifetime
/// ([`TRANSFER_MESSAGE_LIFETIME`]) for the transfers dead-letter queue.
pub const DEAD_LETTER_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// How often an observatory sweeps the dead-letter queue; each sweep drops every copy whose case
/// cap (`x-passerelle-expires-at`) falls before the next one, so a copy is gone before its cap.
pub const DEAD_LETTER_SWEEP_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// The cap of a social services' transfer (norm 43, A.3): 30 days after it is sent.
pub const TRANSFER_CAP: Duration = OBSERVATORY_RETENTION_CAP;

/// How long a transfer message may wait in the broker (its `x-passerelle-expires-at` and
/// `expiration`, from its sending): a transfer is dead-lettered only while it waits, and its
/// dead-letter queue keeps it [`DEAD_LETTER_TTL`] at most, so no copy outlives [`TRANSFER_CAP`].
/// Nobody sweeps the transfers dead-letter queue: no party's user may read it.
pub const TRANSFER_MESSAGE_LIFETIME: Duration = Duration::from_secs(TRANSFER_CAP.as_secs() - DEAD_LETTER_TTL.as_secs());

const _: () = assert!(TRANSFER_MESSAGE_LIFETIME.as_secs() + DEAD_LETTER_TTL.as_secs() <= TRANSFER_CAP.as_secs());
const _: () = assert!(DEAD_LETTER_SWEEP_INTERVAL.as_secs() < DEAD_LETTER_TTL.as_secs());

const _: () = assert!(QUEUE_TTL.as_secs() <= OBSERVATORY_RETENTION_CAP.as_secs());

/// TTL of the notice queues: a notice is told within days, and never outlives the 30-day cap.
pub const NOTICE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Messages a dead-letter queue keeps at most (by policy): far more than a healthy system
/// refuses in its 7 days, few enough that a flood cannot fill the broker.
pub const DEAD_LETTER_MAX_LENGTH: i64 = 10_000;
/// Bytes the dead-letter queue keeps at most (by policy): a refused request chunk can weigh
/// megabytes.
pub const DEAD_LETTER_MAX_BYTES: i64 = 512 * 1024 * 1024;
/// Copies the alarm queue keeps at most (by policy): each is an operator's alarm already logged.
pub const ALARM_MAX_LENGTH: i64 = 1_000;
/// Notices one party's queue keeps at most (declared and by policy): a partner that does not
/// read its notices loses the oldest, never the newest.
pub const NOTICE_MAX_LENGTH: i64 = 1_000;
/// What a full bounded queue does: drop its oldest message.
pub const OVERFLOW: &str = "drop-head";

const _: () = assert!(NOTICE_TTL.as_secs() <= OBSERVATORY_RETENTION_CAP.as_secs());

/// Header carrying the reason of a dead-letter published by the bus.
pub const REASON_HEADER: &str = "x-passerelle-reason";
/// Header marking a dead-letter published by the bus (the dead-letter exchange routes on it).
pub const DEAD_LETTER_MARK_HEADER: &str = "x-passerelle-dead-letter";
/// Value of [`DEAD_LETTER_MARK_HEADER`].
pub const DEAD_LETTER_MARK: &str = "reasoned";
/// Header RabbitMQ sets on a message it dead-letters, and the value for a delivery-limit drop.
pub const FIRST_DEATH_REASON_HEADER: &str = "x-first-death-reason";
/// See [`FIRST_DEATH_REASON_HEADER`].
pub const DELIVERY_LIMIT_REASON: &str = "delivery_limit";
/// See [`FIRST_DEATH_REASON_HEADER`]: a consumer (a body) rejected the message without requeue.
pub const REJECTED_REASON: &str = "rejected";
/// Header copying the protobuf schema version.
pub const SCHEMA_VERSION_HEADER: &str = "x-passerelle-schema-version";
/// Header copying the protobuf schema minor version (`schema_minor`).
pub const SCHEMA_MINOR_HEADER: &str = "x-passerelle-schema-minor";
/// Header copying the protobuf chunk index.
pub const CHUNK_INDEX_HEADER: &str = "x-passerelle-chunk-index";
/// Header copying the protobuf chunk count.
pub const CHUNK_COUNT_HEADER: &str = "x-passerelle-chunk-count";
/// Headers of a reasoned dead-letter naming where the original came from.
pub const ORIGINAL_EXCHANGE_HEADER: &str = "x-passerelle-original-exchange";
/// See [`ORIGINAL_EXCHANGE_HEADER`].
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-passerelle-original-routing-key";
/// See [`ORIGINAL_EXCHANGE_HEADER`].
pub const ORIGINAL_QUEUE_HEADER: &str = "x-passerelle-original-queue";

/// The queues (quorum, durable), named `{prefix}.observatory.{code}.requests` (requests and
/// receipts), `{prefix}.observatory.{code}.responses`, `{prefix}.body.{code}.solicitations`,
/// `{prefix}.body.{code}.results` (results and refusals, for a body without offices), and each
/// party's notices, `{prefix}.observatory.{code}.notices` and `{prefix}.body.{code}.notices`
/// (notices and the witness messages, [`Kind::travels_as_notice`]). A requester office
/// (`body.office`, see [`crate::office`]) has `{prefix}.requester.{body}.{office}.results` and
/// `{prefix}.requester.{body}.{office}.notices`, bound with its party code as the routing key.
/// The rights queues ([`Queue::ObservatoryRights`], [`Queue::OfficeRights`],
/// [`Queue::BodyRights`]) are bound to the rights exchange with their owner's party code.
/// A social service (`body.office`, `[broker.social_services]`) has
/// `{prefix}.social-service.{body}.{office}.transfers` (a flow queue, bound to
/// `{prefix}.transfers`) and `{prefix}.social-service.{body}.{office}.notices` (a notice queue,
/// bound to `{prefix}.notices-to-bodies`), both with its party code as the routing key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Queue {
    ObservatoryRequests(String),
    ObservatoryResponses(String),
    BodySolicitations(String),
    BodyResults(String),
    ObservatoryNotices(String),
    BodyNotices(String),
    /// A requester office's results and refusals; holds the office party (`body.office`).
    OfficeResults(String),
    /// A requester office's notices; holds the office party (`body.office`).
    OfficeNotices(String),
    /// A social service's transfers, receipts and amendments (norm 43, A.3); holds its party
    /// (`body.office`): `{prefix}.social-service.{body}.{office}.transfers`.
    SocialServiceTransfers(String),
    /// A social service's notices (its witness's answers); holds its party (`body.office`):
    /// `{prefix}.social-service.{body}.{office}.notices`.
    SocialServiceNotices(String),
    /// An observatory's rights requests and answers (decree art. 6, `rights.proto`):
    /// `{prefix}.observatory.{code}.rights`.
    ObservatoryRights(String),
    /// A requester body's (without offices) rights requests, read by its requester daemon:
    /// `{prefix}.body.{code}.rights`.
    BodyRights(String),
    /// A requester office's rights requests; holds the office party (`body.office`):
    /// `{prefix}.requester.{body}.{office}.rights`.
    OfficeRights(String),
}

impl Queue {
    /// The queue's broker name.
    pub fn name(&self, prefix: &str) -> String {
        match self {
            Queue::ObservatoryRequests(c) => format!("{prefix}.observatory.{c}.requests"),
            Queue::ObservatoryResponses(c) => format!("{prefix}.observatory.{c}.responses"),
            Queue::BodySolicitations(c) => format!("{prefix}.body.{c}.solicitations"),
            Queue::BodyResults(c) => format!("{prefix}.body.{c}.results"),
            Queue::ObservatoryNotices(c) => format!("{prefix}.observatory.{c}.notices"),
            Queue::BodyNotices(c) => format!("{prefix}.body.{c}.notices"),
            Queue::OfficeResults(c) => format!("{prefix}.requester.{c}.results"),
            Queue::OfficeNotices(c) => format!("{prefix}.requester.{c}.notices"),
            Queue::SocialServiceTransfers(c) => format!("{prefix}.social-service.{c}.transfers"),
            Queue::SocialServiceNotices(c) => format!("{prefix}.social-service.{c}.notices"),
            Queue::ObservatoryRights(c) => format!("{prefix}.observatory.{c}.rights"),
            Queue::BodyRights(c) => format!("{prefix}.body.{c}.rights"),
            Queue::OfficeRights(c) => format!("{prefix}.requester.{c}.rights"),
        }
    }

    /// The exchange that feeds it and the routing key it is bound with.
    pub fn binding(&self) -> (Exchange, &str) {
        match self {
            Queue::ObservatoryRequests(c) => (Exchange::Requests, c),
            Queue::ObservatoryResponses(c) => (Exchange::Responses, c),
            Queue::BodySolicitations(c) => (Exchange::Solicitations, c),
            Queue::BodyResults(c) | Queue::OfficeResults(c) => (Exchange::Results, c),
            Queue::ObservatoryNotices(c) => (Exchange::NoticesToObservatories, c),
            Queue::BodyNotices(c) | Queue::OfficeNotices(c) | Queue::SocialServiceNotices(c) => {
                (Exchange::NoticesToBodies, c)
            }
            Queue::SocialServiceTransfers(c) => (Exchange::Transfers, c),
            Queue::ObservatoryRights(c) | Queue::BodyRights(c) | Queue::OfficeRights(c) => (Exchange::Rights, c),
        }
    }

    /// The party (observatory, body or office code) that consumes it.
    pub fn owner(&self) -> &str {
        self.binding().1
    }

    /// The message kinds that may arrive on it.
    pub fn accepts(&self, kind: Kind) -> bool {
        match self {
            Queue::ObservatoryRequests(_) => matches!(kind, Kind::Request | Kind::Receipt),
            Queue::ObservatoryResponses(_) => kind == Kind::Response,
            Queue::BodySolicitations(_) => kind == Kind::Solicitation,
            Queue::BodyResults(_) | Queue::OfficeResults(_) => matches!(kind, Kind::Result | Kind::Refusal),
            // Notices, and the witness messages, which travel as notices do.
            Queue::ObservatoryNotices(_)
            | Queue::BodyNotices(_)
            | Queue::OfficeNotices(_)
            | Queue::SocialServiceNotices(_) => kind.travels_as_notice(),
            Queue::SocialServiceTransfers(_) => kind.is_transfer(),
            Queue::ObservatoryRights(_) => kind.is_rights(),
            // A requester party is asked; it never receives an answer.
            Queue::BodyRights(_) | Queue::OfficeRights(_) => kind == Kind::RightsRequest,
        }
    }

    /// Whether an observatory consumes it (else a body, an office or a social service does: its
    /// refusals are rejected, and the broker dead-letters them, see [`crate::definitions`]).
    pub fn is_observatory_queue(&self) -> bool {
        matches!(
            self,
            Queue::ObservatoryRequests(_)
                | Queue::ObservatoryResponses(_)
                | Queue::ObservatoryNotices(_)
                | Queue::ObservatoryRights(_)
        )
    }

    /// Whether it carries notices and witness messages (which are never answered by a notice).
    pub fn is_notice_queue(&self) -> bool {
        matches!(
            self,
            Queue::ObservatoryNotices(_)
                | Queue::BodyNotices(_)
                | Queue::OfficeNotices(_)
                | Queue::SocialServiceNotices(_)
        )
    }
}

/// The dead-letter queue's name.
pub fn dead_letter_queue(prefix: &str) -> String {
    format!("{prefix}.dead-letters")
}

/// The dead-letter exchange of the social services' transfers queues (headers, as
/// [`Exchange::DeadLetter`]): a transfer carries a norm-43 case file, which must never reach the
/// dead-letter or alarm queues the observatory's user reads.
pub fn transfers_dead_letter_exchange(prefix: &str) -> String {
    format!("{prefix}.transfers-dead-letter")
}

/// The exchanges that carry case files: the transfers exchange and its dead-letter exchange.
/// The observatory may neither read them nor write the queues bound to them, so it can never
/// bind a queue of its own to them; they are bound by the imported definitions (or, in the
/// development profile's shared identity, by the observatory).
pub fn transfers_exchanges(prefix: &str) -> [String; 2] {
    [Exchange::Transfers.name(prefix), transfers_dead_letter_exchange(prefix)]
}

/// The queue keeping the transfer messages a receiving social service rejected or the broker
/// dropped at the delivery limit, [`DEAD_LETTER_TTL`] at most: no party's user may read it (an
/// operator inspects it as the broker's administrator).
pub fn transfers_dead_letter_queue(prefix: &str) -> String {
    format!("{prefix}.transfers-dead-letters")
}

/// The queue that receives a copy of each delivery-limit drop, which the observatory consumes
/// to raise the alarm (error log and counter).
pub fn alarm_queue(prefix: &str) -> String {
    format!("{prefix}.delivery-limit-alarms")
}

/// The exclusive queue an observatory's connection holds while it runs its territory (the
/// territory lock, `amqp::lock`): RabbitMQ refuses a second connection's declaration of it with
/// RESOURCE_LOCKED, and deletes it when its connection closes.
pub fn territory_lock_queue(prefix: &str, code: &str) -> String {
    format!("{prefix}.observatory.{code}.lock")
}

/// The queue keeping the last holder record of an observatory's territory lock (who runs it:
/// host, pid, start time), read by an observatory waiting for the lock. At most one message.
pub fn holder_queue(prefix: &str, code: &str) -> String {
    format!("{prefix}.observatory.{code}.holder")
}

/// The exchange holder records are published to (routing key: the observatory's code). Only
/// observatories write it: nobody publishes through the default exchange.
pub fn holders_exchange(prefix: &str) -> String {
    format!("{prefix}.holders")
}

/// The arguments of a holder queue: the newest record only.
pub fn holder_queue_arguments() -> Vec<(&'static str, ArgValue)> {
    vec![("x-queue-type", ArgValue::Str("classic".into())), ("x-max-length", ArgValue::Int(1))]
}

/// A queue argument value (the two shapes the topology uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgValue {
    Str(String),
    Int(i64),
}

/// A queue to declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    pub arguments: Vec<(&'static str, ArgValue)>,
}

/// A binding to declare: `queue` receives from `exchange` with `routing_key`, or, on the
/// headers exchange, when every header of `headers` matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingSpec {
    pub exchange: String,
    pub queue: String,
    pub routing_key: String,
    pub headers: Vec<(&'static str, ArgValue)>,
}

/// A RabbitMQ policy (a queue limit that a redeclare cannot conflict with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySpec {
    pub name: String,
    /// A regular expression matching exactly the queues it bounds.
    pub pattern: String,
    pub definition: Vec<(&'static str, ArgValue)>,
}

/// The full topology of a deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub exchanges: Vec<(String, &'static str)>,
    pub queues: Vec<QueueSpec>,
    pub bindings: Vec<BindingSpec>,
    pub policies: Vec<PolicySpec>,
}

fn millis(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// The arguments of a flow queue.
pub fn flow_queue_arguments(prefix: &str) -> Vec<(&'static str, ArgValue)> {
    vec![
        ("x-queue-type", ArgValue::Str("quorum".into())),
        ("x-delivery-limit", ArgValue::Int(DELIVERY_LIMIT)),
        ("x-message-ttl", ArgValue::Int(millis(QUEUE_TTL))),
        ("x-dead-letter-exchange", ArgValue::Str(Exchange::DeadLetter.name(prefix))),
    ]
}

/// The arguments of a social service's transfers queue: a flow queue's, dead-lettering to
/// [`transfers_dead_letter_exchange`].
pub fn transfers_queue_arguments(prefix: &str) -> Vec<(&'static str, ArgValue)> {
    let mut arguments = flow_queue_arguments(prefix);
    for a in &mut arguments {
        if a.0 == "x-dead-letter-exchange" {
            a.1 = ArgValue::Str(transfers_dead_letter_exchange(prefix));
        }
    }
    arguments
}

/// The arguments of the dead-letter and alarm queues (no dead-lettering of their own). Their
/// length limits are policies ([`Topology::policies`]): these arguments are those of the first
/// release, which a redeclare must repeat exactly.
pub fn dead_letter_queue_arguments() -> Vec<(&'static str, ArgValue)> {
    vec![("x-queue-type", ArgValue::Str("quorum".into())), ("x-message-ttl", ArgValue::Int(millis(DEAD_LETTER_TTL)))]
}

/// The arguments of a notice queue: bounded, a week's TTL, and no dead-lettering (a notice that
/// cannot be handled is dropped: nobody is told about a notice).
pub fn notice_queue_arguments() -> Vec<(&'static str, ArgValue)> {
    vec![
        ("x-queue-type", ArgValue::Str("quorum".into())),
        ("x-delivery-limit", ArgValue::Int(DELIVERY_LIMIT)),
        ("x-message-ttl", ArgValue::Int(millis(NOTICE_TTL))),
        ("x-max-length", ArgValue::Int(NOTICE_MAX_LENGTH)),
        ("x-overflow", ArgValue::Str(OVERFLOW.into())),
    ]
}

/// A regular expression matching exactly these names (or nothing).
pub fn exactly(names: &[String]) -> String {
    if names.is_empty() {
        return "^$".to_owned();
    }
    let escaped: Vec<String> =
        names
            .iter()
            .map(|n| {
                n.chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c.to_string()
                        } else {
                            format!("\\{c}")
                        }
                    })
                    .collect()
            })
            .collect();
    format!("^({})$", escaped.join("|"))
}

impl Topology {
    /// Every queue a party consumes in the deployment (flow, notice, transfers and rights
    /// queues).
    pub fn flow_queues(settings: &BusSettings) -> Vec<Queue> {
        let mut queues = Vec::new();
        for o in &settings.observatories {
            queues.extend(Role::Observatory(o.clone()).queues(settings));
        }
        for b in &settings.bodies {
            queues.extend(Role::Body(b.clone()).queues(settings));
        }
        for party in crate::office::parties(&settings.offices) {
            queues.extend(Role::Office(party).queues(settings));
        }
        for party in crate::office::parties(&settings.social_services) {
            queues.extend(Role::SocialService(party).queues(settings));
        }
        queues
    }

    /// The topology of a deployment.
    pub fn of(settings: &BusSettings) -> Topology {
        let p = settings.prefix.as_str();
        let mut exchanges: Vec<(String, &'static str)> =
            Exchange::FLOW.iter().chain(&Exchange::NOTICES).map(|e| (e.name(p), e.amqp_type())).collect();
        exchanges.push((Exchange::DeadLetter.name(p), Exchange::DeadLetter.amqp_type()));
        // Declared in every deployment, so a sender's publish to an office with no queue is
        // returned unroutable, never refused for a missing exchange.
        exchanges.push((Exchange::Transfers.name(p), Exchange::Transfers.amqp_type()));
        // Likewise the rights exchange: a request to a party with no rights queue is returned.
        exchanges.push((Exchange::Rights.name(p), Exchange::Rights.amqp_type()));
        let mut queues = Vec::new();
        let mut bindings = Vec::new();
        for q in Self::flow_queues(settings) {
            let (exchange, key) = q.binding();
            let arguments = match q {
                _ if q.is_notice_queue() => notice_queue_arguments(),
                Queue::SocialServiceTransfers(_) => transfers_queue_arguments(p),
                _ => flow_queue_arguments(p),
            };
            queues.push(QueueSpec { name: q.name(p), arguments });
            bindings.push(BindingSpec {
                exchange: exchange.name(p),
                queue: q.name(p),
                routing_key: key.to_owned(),
                headers: Vec::new(),
            });
        }
        let dlx = Exchange::DeadLetter.name(p);
        let x_match = ("x-match", ArgValue::Str("all-with-x".into()));
        let limit = (FIRST_DEATH_REASON_HEADER, ArgValue::Str(DELIVERY_LIMIT_REASON.into()));
        let reasoned = (DEAD_LETTER_MARK_HEADER, ArgValue::Str(DEAD_LETTER_MARK.into()));
        let rejected = (FIRST_DEATH_REASON_HEADER, ArgValue::Str(REJECTED_REASON.into()));
        for name in [dead_letter_queue(p), alarm_queue(p)] {
            queues.push(QueueSpec { name, arguments: dead_letter_queue_arguments() });
        }
        let dlq = dead_letter_queue(p);
        for (queue, rule) in [
            (dlq.clone(), limit.clone()),
            (dlq.clone(), reasoned),
            (dlq, rejected.clone()),
            (alarm_queue(p), limit.clone()),
        ] {
            bindings.push(BindingSpec {
                exchange: dlx.clone(),
                queue,
                routing_key: String::new(),
                headers: vec![x_match.clone(), rule],
            });
        }
        // A transfer's own dead-letters: what its receiver rejected and the delivery-limit drops
        // (an expired transfer is dropped), apart from the observatory's.
        if !settings.social_services.is_empty() {
            let (tdlx, tdlq) = (transfers_dead_letter_exchange(p), transfers_dead_letter_queue(p));
            exchanges.push((tdlx.clone(), Exchange::DeadLetter.amqp_type()));
            queues.push(QueueSpec { name: tdlq.clone(), arguments: dead_letter_queue_arguments() });
            for rule in [rejected, limit] {
                bindings.push(BindingSpec {
                    exchange: tdlx.clone(),
                    queue: tdlq.clone(),
                    routing_key: String::new(),
                    headers: vec![x_match.clone(), rule],
                });
            }
        }
        exchanges.push((holders_exchange(p), "direct"));
        for o in &settings.observatories {
            queues.push(QueueSpec { name: holder_queue(p, o), arguments: holder_queue_arguments() });
            bindings.push(BindingSpec {
                exchange: holders_exchange(p),
                queue: holder_queue(p, o),
                routing_key: o.clone(),
                headers: Vec::new(),
            });
        }
        Topology { exchanges, queues, bindings, policies: Self::policies(settings) }
    }

    /// The length limits, as policies: the dead-letter queue, the alarm queue, the notice queues.
    pub fn policies(settings: &BusSettings) -> Vec<PolicySpec> {
        let p = settings.prefix.as_str();
        let drop_head = ("overflow", ArgValue::Str(OVERFLOW.into()));
        let notices: Vec<String> =
            Self::flow_queues(settings).iter().filter(|q| q.is_notice_queue()).map(|q| q.name(p)).collect();
        let mut policies = vec![
            PolicySpec {
                name: format!("{p}.dead-letters-limit"),
                pattern: exactly(&[dead_letter_queue(p)]),
                definition: vec![
                    ("max-length", ArgValue::Int(DEAD_LETTER_MAX_LENGTH)),
                    ("max-length-bytes", ArgValue::Int(DEAD_LETTER_MAX_BYTES)),
                    drop_head.clone(),
                ],
            },
            PolicySpec {
                name: format!("{p}.alarms-limit"),
                pattern: exactly(&[alarm_queue(p)]),
                definition: vec![("max-length", ArgValue::Int(ALARM_MAX_LENGTH)), drop_head.clone()],
            },
            PolicySpec {
                name: format!("{p}.notices-limit"),
                pattern: exactly(&notices),
                definition: vec![("max-length", ArgValue::Int(NOTICE_MAX_LENGTH)), drop_head.clone()],
            },
        ];
        if !settings.social_services.is_empty() {
            policies.push(PolicySpec {
                name: format!("{p}.transfers-dead-letters-limit"),
                pattern: exactly(&[transfers_dead_letter_queue(p)]),
                definition: vec![
                    ("max-length", ArgValue::Int(DEAD_LETTER_MAX_LENGTH)),
                    ("max-length-bytes", ArgValue::Int(DEAD_LETTER_MAX_BYTES)),
                    drop_head,
                ],
            });
        }
        policies
    }
}

#[cfg(test)]
#[path = "topology_tests.rs"]
mod tests;
