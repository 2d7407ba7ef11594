//! The topology as a RabbitMQ definitions document (`passerelle topology export`), for
//! `rabbitmqctl import_definitions` or the management API: the vhost, the exchanges, queues
//! and bindings the observatory declares, one broker user per entry of
//! `[broker.identity.users]`, and least-privilege permissions:
//!
//! - a **body** user may configure nothing, write (publish) only to the requests and responses
//!   exchanges (a body answers solicitations and may also be a requester) and to the notice
//!   exchange towards observatories — never to the dead-letter exchange: a body refuses a
//!   message by rejecting it, and the broker dead-letters it —, and read (consume) only its own
//!   solicitations, results and notices queues; a body with requester offices
//!   (`[broker.offices]`) neither sends requests nor reads results: its offices do;
//! - a **requester office** user (party `body.office`) may configure nothing, write only to the
//!   requests exchange and the notice exchange towards observatories, and read only its own
//!   office's results and notices queues — never another office's;
//! - a **social service** user (party `body.office`, `[broker.social_services]`) may configure
//!   nothing, write only to the transfers exchange and the notice exchange towards observatories
//!   (its checkpoints to its witness), and read only its own transfers and notices queues — never
//!   another social service's, never the flow's exchanges (requests, solicitations, responses,
//!   results), the notice exchange towards bodies or the dead-letter exchange: its refusals are
//!   rejects, which the broker dead-letters to the transfers' own dead-letter queue, which no
//!   party's user reads (not even the observatory's: a transfer is a case file);
//! - an **observatory** user may configure exactly the topology's exchanges and queues (it
//!   declares them) and its territory's lock queue, write to the solicitations, results,
//!   notices-to-bodies, dead-letter and holders exchanges (and to the queues, which RabbitMQ
//!   requires to bind them; nobody may publish through the default exchange), and read its own
//!   requests, responses, notices and holder queues, the dead-letter and alarm queues, and the
//!   exchanges (required to bind) — except what carries case files: it may neither read the
//!   transfers exchanges nor write the queues bound to them, so it cannot bind a queue of its
//!   own to a social service's transfers; those bindings come from these definitions.
//!
//! The document also holds the length limits of the dead-letter, alarm and notice queues as
//! policies (see [`crate::topology`]: a policy bounds a queue of an earlier release without
//! redeclaring it).
//!
//! Users are exported **without passwords** (`password_hash` empty: no password logs in). Set
//! one after importing with `rabbitmqctl change_password USER` or authenticate the services by
//! client certificate (`rabbitmq_auth_mechanism_ssl`, `[broker.tls]`).

use serde_json::{json, Map, Value};

use crate::topology::{
    alarm_queue, dead_letter_queue, exactly, holder_queue, holders_exchange, territory_lock_queue, transfers_exchanges,
    ArgValue, Exchange, Topology,
};
use crate::{BusError, BusSettings, Role};

/// Permissions of one user as RabbitMQ regular expressions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    pub configure: String,
    pub write: String,
    pub read: String,
}

/// The vhost of the deployment: that of the first broker URL.
pub fn vhost(settings: &BusSettings) -> Result<String, BusError> {
    let url = settings.urls.first().ok_or_else(|| BusError::Settings("`urls` is empty".into()))?;
    let uri: lapin::uri::AMQPUri = url.parse().map_err(|e| BusError::Settings(format!("broker URL: {e}")))?;
    Ok(uri.vhost)
}

/// The role of a party code in the deployment (an office or a social service is `body.office`).
fn role_of(settings: &BusSettings, party: &str) -> Result<Role, BusError> {
    if settings.is_office(party) {
        Ok(Role::Office(party.to_owned()))
    } else if settings.is_social_service(party) {
        Ok(Role::SocialService(party.to_owned()))
    } else if settings.observatories.iter().any(|o| o == party) {
        Ok(Role::Observatory(party.to_owned()))
    } else if settings.bodies.iter().any(|b| b == party) {
        Ok(Role::Body(party.to_owned()))
    } else {
        Err(BusError::Settings(format!(
            "identity names party {party:?}, which is neither an observatory, a body, an office nor a social service"
        )))
    }
}

/// The permissions of a broker user speaking for `parties`.
pub fn permissions(settings: &BusSettings, parties: &[String]) -> Result<Permissions, BusError> {
    let p = settings.prefix.as_str();
    let topology = Topology::of(settings);
    let all_queues: Vec<String> = topology.queues.iter().map(|q| q.name.clone()).collect();
    let all_exchanges: Vec<String> = topology.exchanges.iter().map(|e| e.0.clone()).collect();
    let (mut configure, mut write, mut read) = (Vec::new(), Vec::new(), Vec::new());
    for party in parties {
        let role = role_of(settings, party)?;
        write.extend(role.publishes_to(settings).iter().map(|e| e.name(p)));
        read.extend(role.queues(settings).iter().map(|q| q.name(p)));
        if let Role::Observatory(code) = role {
            write.push(Exchange::DeadLetter.name(p));
            configure.extend(all_exchanges.iter().cloned());
            configure.extend(all_queues.iter().cloned());
            configure.push(territory_lock_queue(p, &code));
            // Binding takes write on the queue and read on the exchange: none on what carries
            // case files, so the observatory cannot bind a queue of its own to a transfers
            // exchange (the definitions bind the transfers queues).
            let transfers = transfers_exchanges(p);
            let bound_to_transfers: Vec<&String> =
                topology.bindings.iter().filter(|b| transfers.contains(&b.exchange)).map(|b| &b.queue).collect();
            write.extend(all_queues.iter().filter(|q| !bound_to_transfers.contains(q)).cloned());
            write.push(holders_exchange(p));
            read.extend(all_exchanges.iter().filter(|e| !transfers.contains(e)).cloned());
            read.push(dead_letter_queue(p));
            read.push(alarm_queue(p));
            read.push(holder_queue(p, &code));
        }
    }
    for v in [&mut configure, &mut write, &mut read] {
        v.sort();
        v.dedup();
    }
    Ok(Permissions { configure: exactly(&configure), write: exactly(&write), read: exactly(&read) })
}

fn arguments(args: &[(&'static str, ArgValue)]) -> Value {
    let mut m = Map::new();
    for (k, v) in args {
        let v = match v {
            ArgValue::Str(s) => json!(s),
            ArgValue::Int(i) => json!(i),
        };
        m.insert((*k).to_owned(), v);
    }
    Value::Object(m)
}

/// The definitions document of the deployment.
pub fn definitions(settings: &BusSettings) -> Result<Value, BusError> {
    settings.validate()?;
    let vhost = vhost(settings)?;
    let topology = Topology::of(settings);
    let exchanges: Vec<Value> = topology
        .exchanges
        .iter()
        .map(|(name, t)| {
            json!({"name": name, "vhost": vhost, "type": t, "durable": true,
            "auto_delete": false, "internal": false, "arguments": {}})
        })
        .collect();
    let queues: Vec<Value> = topology
        .queues
        .iter()
        .map(|q| {
            json!({"name": q.name, "vhost": vhost, "durable": true, "auto_delete": false,
            "arguments": arguments(&q.arguments)})
        })
        .collect();
    let bindings: Vec<Value> = topology
        .bindings
        .iter()
        .map(|b| {
            json!({"source": b.exchange, "vhost": vhost, "destination": b.queue,
            "destination_type": "queue", "routing_key": b.routing_key, "arguments": arguments(&b.headers)})
        })
        .collect();
    let policies: Vec<Value> = topology
        .policies
        .iter()
        .map(|p| {
            json!({"name": p.name, "vhost": vhost, "pattern": p.pattern, "apply-to": "queues", "priority": 10,
            "definition": arguments(&p.definition)})
        })
        .collect();
    let mut users = Vec::new();
    let mut grants = Vec::new();
    for (user, parties) in &settings.identity.users {
        let perms = permissions(settings, parties)?;
        users.push(json!({"name": user, "password_hash": "", "hashing_algorithm": "rabbit_password_hashing_sha256",
            "tags": []}));
        grants.push(json!({"user": user, "vhost": vhost, "configure": perms.configure, "write": perms.write,
            "read": perms.read}));
    }
    Ok(json!({
        "vhosts": [{"name": vhost}],
        "users": users,
        "permissions": grants,
        "exchanges": exchanges,
        "queues": queues,
        "bindings": bindings,
        "policies": policies,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BusSettings {
        let mut s = BusSettings { urls: vec!["amqp://x@h:5672/prod".into()], ..Default::default() };
        s.identity.insecure_any_user = false;
        s.identity.users.insert("obs".into(), vec!["carsat-sud-est".into()]);
        s.identity.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
        s
    }

    #[test]
    fn a_body_writes_only_to_its_exchanges_and_reads_only_its_queues() {
        let p = permissions(&settings(), &["cnaf".into()]).unwrap();
        assert_eq!(p.configure, "^$");
        assert_eq!(
            p.write,
            r"^(passerelle\.notices-to-observatories|passerelle\.requests|passerelle\.responses|passerelle\.rights)$",
            "never the dead-letter exchange; its rights answers"
        );
        assert_eq!(
            p.read,
            r"^(passerelle\.body\.cnaf\.notices|passerelle\.body\.cnaf\.results|passerelle\.body\.cnaf\.rights|passerelle\.body\.cnaf\.solicitations)$"
        );
    }

    #[test]
    fn the_observatory_configures_the_topology_and_reads_its_queues() {
        let p = permissions(&settings(), &["carsat-sud-est".into()]).unwrap();
        let names = |re: &str| -> Vec<String> {
            re.trim_start_matches("^(").trim_end_matches(")$").split('|').map(|n| n.replace('\\', "")).collect()
        };
        assert!(names(&p.configure).contains(&"passerelle.body.cnaf.results".to_owned()));
        let write = names(&p.write);
        assert!(
            write.contains(&"passerelle.solicitations".to_owned()) && write.contains(&"passerelle.results".to_owned())
        );
        assert!(write.contains(&"passerelle.dead-letter".to_owned()));
        assert!(write.contains(&"passerelle.notices-to-bodies".to_owned()));
        assert!(write.contains(&"passerelle.rights".to_owned()), "its rights requests and answers");
        assert!(!write.contains(&"passerelle.notices-to-observatories".to_owned()));
        assert!(
            !write.contains(&"passerelle.requests".to_owned()) && !write.contains(&"passerelle.responses".to_owned())
        );
        let read = names(&p.read);
        assert!(read.contains(&"passerelle.observatory.carsat-sud-est.requests".to_owned()));
        assert!(read.contains(&"passerelle.observatory.carsat-sud-est.rights".to_owned()));
        assert!(!read.contains(&"passerelle.body.cnaf.solicitations".to_owned()));
        assert!(!read.contains(&"passerelle.body.cnaf.rights".to_owned()), "a party's rights queue is its own");
    }

    #[test]
    fn an_office_reads_only_its_own_queues_and_its_body_neither_requests_nor_reads_results() {
        let mut s = settings();
        s.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
        s.identity.users.insert("requester-caf-13".into(), vec!["cnaf.caf-13".into()]);
        s.identity.users.insert("requester-caf-84".into(), vec!["cnaf.caf-84".into()]);
        let office = permissions(&s, &["cnaf.caf-13".into()]).unwrap();
        assert_eq!(office.configure, "^$");
        assert_eq!(office.write, r"^(passerelle\.notices-to-observatories|passerelle\.requests|passerelle\.rights)$");
        assert_eq!(
            office.read,
            r"^(passerelle\.requester\.cnaf\.caf-13\.notices|passerelle\.requester\.cnaf\.caf-13\.results|passerelle\.requester\.cnaf\.caf-13\.rights)$",
            "never another office's queue"
        );
        let body = permissions(&s, &["cnaf".into()]).unwrap();
        assert_eq!(body.write, r"^(passerelle\.notices-to-observatories|passerelle\.responses)$");
        assert_eq!(body.read, r"^(passerelle\.body\.cnaf\.notices|passerelle\.body\.cnaf\.solicitations)$");
        let d = definitions(&s).unwrap();
        assert_eq!(d["users"].as_array().unwrap().len(), 4);
        let names: Vec<&str> = d["queues"].as_array().unwrap().iter().map(|q| q["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"passerelle.requester.cnaf.caf-84.results"));
        assert!(!names.contains(&"passerelle.body.cnaf.results"));
        let mut undeclared = s.clone();
        undeclared.identity.users.insert("x".into(), vec!["cnaf.caf-06".into()]);
        assert!(definitions(&undeclared).unwrap_err().to_string().contains("cnaf.caf-06"));
    }

    #[test]
    fn definitions_carry_the_vhost_users_without_passwords_and_the_queue_arguments() {
        let d = definitions(&settings()).unwrap();
        assert_eq!(d["vhosts"][0]["name"], "prod");
        assert_eq!(d["users"].as_array().unwrap().len(), 2);
        assert!(d["users"].as_array().unwrap().iter().all(|u| u["password_hash"] == ""));
        let q = d["queues"].as_array().unwrap().iter().find(|q| q["name"] == "passerelle.body.cnaf.results").unwrap();
        assert_eq!(q["arguments"]["x-delivery-limit"], 20);
        assert_eq!(q["arguments"]["x-queue-type"], "quorum");
        let policies = d["policies"].as_array().unwrap();
        assert_eq!(policies.len(), 3);
        assert!(policies.iter().all(|p| p["apply-to"] == "queues" && p["definition"]["overflow"] == "drop-head"));
        let mut bad = settings();
        bad.identity.users.insert("x".into(), vec!["nobody".into()]);
        assert!(definitions(&bad).is_err());
    }

    #[test]
    fn a_social_service_writes_only_transfers_and_reads_only_its_own_queues() {
        let mut s = settings();
        s.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
        s.social_services.insert("cramif".into(), vec!["ss-75".into()]);
        s.identity.users.insert("ss-13".into(), vec!["carsat-sud-est.ss-13".into()]);
        s.identity.users.insert("ss-75".into(), vec!["cramif.ss-75".into()]);
        let p = permissions(&s, &["carsat-sud-est.ss-13".into()]).unwrap();
        assert_eq!(p.configure, "^$");
        assert_eq!(p.write, r"^(passerelle\.notices-to-observatories|passerelle\.transfers)$");
        assert_eq!(
            p.read,
            r"^(passerelle\.social-service\.carsat-sud-est\.ss-13\.notices|passerelle\.social-service\.carsat-sud-est\.ss-13\.transfers)$",
            "never another social service's queue"
        );
        let body = permissions(&s, &["cnaf".into()]).unwrap();
        assert!(!body.write.contains("transfers") && !body.read.contains("social-service"), "{body:?}");
        let names = |re: &str| -> Vec<String> {
            re.trim_start_matches("^(").trim_end_matches(")$").split('|').map(|n| n.replace('\\', "")).collect()
        };
        let obs = permissions(&s, &["carsat-sud-est".into()]).unwrap();
        assert!(!names(&obs.write).contains(&"passerelle.transfers".to_owned()), "an observatory sends no transfer");
        assert!(!names(&obs.read).contains(&"passerelle.social-service.cramif.ss-75.transfers".to_owned()));
        let configure = names(&obs.configure);
        assert!(configure.contains(&"passerelle.transfers".to_owned()), "the observatory declares the exchange");
        assert!(configure.contains(&"passerelle.social-service.cramif.ss-75.transfers".to_owned()));
        let d = definitions(&s).unwrap();
        assert_eq!(d["users"].as_array().unwrap().len(), 4);
        let q = d["queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "passerelle.social-service.cramif.ss-75.transfers");
        assert_eq!(q.unwrap()["arguments"]["x-dead-letter-exchange"], "passerelle.transfers-dead-letter");
        for party in ["carsat-sud-est", "carsat-sud-est.ss-13", "cramif.ss-75", "cnaf"] {
            let p = permissions(&s, &[party.into()]).unwrap();
            assert!(
                !names(&p.read).contains(&"passerelle.transfers-dead-letters".to_owned()),
                "{party} never reads a refused transfer: {}",
                p.read
            );
        }
        for exchange in ["passerelle.transfers", "passerelle.transfers-dead-letter"] {
            assert!(!names(&obs.read).contains(&exchange.to_owned()), "the observatory cannot bind to {exchange}");
        }
        for queue in ["passerelle.social-service.cramif.ss-75.transfers", "passerelle.transfers-dead-letters"] {
            assert!(!names(&obs.write).contains(&queue.to_owned()), "nor bind {queue} elsewhere");
        }
        assert!(names(&obs.write).contains(&"passerelle.social-service.cramif.ss-75.notices".to_owned()));
        let mut undeclared = s.clone();
        undeclared.identity.users.insert("x".into(), vec!["cramif.ss-93".into()]);
        assert!(definitions(&undeclared).unwrap_err().to_string().contains("cramif.ss-93"));
    }
}
