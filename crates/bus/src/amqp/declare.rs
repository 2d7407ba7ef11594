//! Declares the [`Topology`] on a fresh connection: in full for an observatory (idempotent;
//! a queue that exists with other arguments is an error — which is why the length limits of
//! the first release's queues are policies, see [`crate::topology`]), passively for a body, a
//! requester office or a social service (its queues and the exchanges it publishes to must
//! exist; such an account needs no configure right; an observatory is therefore upgraded before
//! the other parties). Under one broker user per party the observatory does not bind the
//! social services' transfers queues (its user may not: they carry case files): the imported
//! definitions do, so a social service is added by exporting and importing them again. A body
//! does not check its rights queue nor the rights exchange: its responder daemon connects as the
//! body too, and never reads or answers rights requests.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Connection, ExchangeKind};

use crate::topology::{ArgValue, Exchange, Topology};
use crate::{BusError, BusSettings, Role};

/// Converts topology arguments to an AMQP table.
pub(crate) fn table(args: &[(&'static str, ArgValue)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in args {
        let v = match v {
            ArgValue::Str(s) => AMQPValue::LongString(s.as_str().into()),
            ArgValue::Int(i) => AMQPValue::LongLongInt(*i),
        };
        t.insert((*k).into(), v);
    }
    t
}

fn kind(amqp_type: &str) -> ExchangeKind {
    match amqp_type {
        "direct" => ExchangeKind::Direct,
        "headers" => ExchangeKind::Headers,
        other => ExchangeKind::Custom(other.to_owned()),
    }
}

fn failed(what: impl Into<String>) -> impl FnOnce(lapin::Error) -> BusError {
    let what = what.into();
    move |e| BusError::Declare { what, detail: e.to_string() }
}

/// Declares (observatory) or checks (body, requester office) the topology.
pub(crate) async fn declare(conn: &Connection, settings: &BusSettings, role: &Role) -> Result<(), BusError> {
    let ch = conn.create_channel().await.map_err(failed("opening a channel"))?;
    let topology = Topology::of(settings);
    let p = settings.prefix.as_str();
    match role {
        Role::Observatory(_) => {
            let durable = ExchangeDeclareOptions { durable: true, ..Default::default() };
            for (name, t) in &topology.exchanges {
                ch.exchange_declare(name.as_str().into(), kind(t), durable, FieldTable::default())
                    .await
                    .map_err(failed(format!("exchange {name}")))?;
            }
            let durable = QueueDeclareOptions { durable: true, ..Default::default() };
            for q in &topology.queues {
                ch.queue_declare(q.name.as_str().into(), durable, table(&q.arguments))
                    .await
                    .map_err(failed(format!("queue {}", q.name)))?;
            }
            // Under one broker user per party the transfers queues are bound by the imported
            // definitions: the observatory's user may not bind to what carries case files.
            let transfers = crate::topology::transfers_exchanges(p);
            let binds = |b: &&crate::topology::BindingSpec| {
                settings.identity.insecure_any_user || !transfers.contains(&b.exchange)
            };
            for b in topology.bindings.iter().filter(binds) {
                ch.queue_bind(
                    b.queue.as_str().into(),
                    b.exchange.as_str().into(),
                    b.routing_key.as_str().into(),
                    QueueBindOptions::default(),
                    table(&b.headers),
                )
                .await
                .map_err(failed(format!("binding {} → {}", b.exchange, b.queue)))?;
            }
        }
        Role::Body(_) | Role::Office(_) | Role::SocialService(_) => {
            // A body's responder and requester daemons both connect as the body: only the
            // requester reads its rights queue and answers on the rights exchange, so neither is
            // checked here for a body (its requester's consumer fails if the queue is missing).
            let checked = |rights: bool| !(rights && matches!(role, Role::Body(_)));
            let passive = QueueDeclareOptions { passive: true, ..Default::default() };
            let rights_queue = role.rights_queue(settings);
            for q in role.queues(settings).into_iter().filter(|q| checked(Some(q) == rights_queue.as_ref())) {
                let name = q.name(p);
                ch.queue_declare(name.as_str().into(), passive, FieldTable::default())
                    .await
                    .map_err(failed(format!("queue {name} (declared by the observatory)")))?;
            }
            let passive = ExchangeDeclareOptions { passive: true, ..Default::default() };
            for e in role.publishes_to(settings).into_iter().filter(|e| checked(*e == Exchange::Rights)) {
                let name = e.name(p);
                ch.exchange_declare(name.as_str().into(), kind(e.amqp_type()), passive, FieldTable::default())
                    .await
                    .map_err(failed(format!("exchange {name} (declared by the observatory)")))?;
            }
        }
    }
    let _ = ch.close(200, "topology declared".into()).await;
    Ok(())
}
