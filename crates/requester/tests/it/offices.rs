//! Two requester offices of one body (CAF 13 and CAF 84), each a party of its own: its own
//! broker user, store and results queue, on RabbitMQ with exactly the definitions
//! `topology export` writes (least privilege, strict identity). Both submit to the same
//! observatory; each receives only its own case's result, and neither may read the other's
//! results queue.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use passerelle_bus::{AmqpBus, Bus, BusSettings, Queue, Role};
use passerelle_observatory::{Observatory, ObservatorySettings};
use passerelle_protocol::rules::{Clock, ManualClock};
use passerelle_protocol::v1::Category;
use passerelle_requester::{CaseState, Requester, RequesterSettings, SubmitRequest};
use passerelle_responder::{load_extract, ExtractSettings, Responder, ResponderSettings, SourceSettings};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use passerelle_test_support::{amqp_url, broker, broker_reachable_or_skip, rabbitmqctl, unique, User, Vhost};
use support::*;
use tempfile::TempDir;
use tokio::sync::watch;

const OBSERVATORY: &str = "carsat-sud-est";
const WAIT: Duration = Duration::from_secs(60);

/// The deployment: cnaf has the offices caf-13 and caf-84, each with its own broker user.
struct Deployment {
    settings: BusSettings,
    vhost: Vhost,
    users: std::collections::BTreeMap<&'static str, User>,
}

impl Deployment {
    fn imported() -> Deployment {
        let vhost = Vhost::reserved();
        let tag = unique();
        let name = |party: &str| format!("test-{tag}-{party}");
        let mut settings = BusSettings {
            urls: vec![broker::url(&vhost.name, "x", "x")],
            observatories: vec![OBSERVATORY.into()],
            ..Default::default()
        };
        settings.offices.insert("cnaf".into(), vec!["caf-13".into(), "caf-84".into()]);
        settings.identity.insecure_any_user = false;
        let parties = [("obs", OBSERVATORY), ("cnav", "cnav"), ("caf-13", "cnaf.caf-13"), ("caf-84", "cnaf.caf-84")];
        for (user, party) in parties {
            settings.identity.users.insert(name(user), vec![party.into()]);
        }
        let definitions = passerelle_bus::definitions::definitions(&settings).unwrap();
        let file = std::env::temp_dir().join(format!("passerelle-definitions-{tag}.json"));
        std::fs::write(&file, serde_json::to_vec_pretty(&definitions).unwrap()).unwrap();
        rabbitmqctl(&["import_definitions", file.to_str().unwrap()]);
        std::fs::remove_file(&file).unwrap();
        let users = parties.map(|(user, _)| (user, User::imported(&name(user)))).into_iter().collect();
        Deployment { settings, vhost, users }
    }

    /// The deployment's settings as `user` (its URL).
    fn as_user(&self, user: &str) -> BusSettings {
        BusSettings { urls: vec![self.users[user].url(&self.vhost)], ..self.settings.clone() }
    }
}

/// One office's requester, connected as its own broker user, with its own store.
async fn office(
    d: &Deployment,
    dir: &std::path::Path,
    office: &str,
    clock: &Arc<dyn Clock>,
) -> (Requester, Arc<AmqpBus>) {
    let mut settings = RequesterSettings::for_dir("cnaf", office, &dir.join(office));
    settings.broker = d.as_user(office);
    settings.validate().unwrap();
    assert_eq!(settings.role(), Role::Office(format!("cnaf.{office}")));
    let bus = Arc::new(AmqpBus::connect(&settings.broker, settings.role()).await.expect("an office connects"));
    let requester = Requester::build(settings, Arc::clone(&bus) as Arc<dyn Bus>, Arc::clone(clock)).unwrap();
    (requester, bus)
}

fn request(dir: &std::path::Path, name: &str, people: &[P]) -> SubmitRequest {
    SubmitRequest {
        selection: write(dir, &format!("{name}.csv"), selection(people).as_bytes()),
        encoding: Encoding::Utf8,
        wanted: vec![Category::FamilySituation],
        service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
        purpose: "Atelier prévention des chutes".into(),
        respond_by: Duration::from_secs(3600),
        out: Some(dir.join(format!("{name}-list"))),
        strict: false,
    }
}

/// The NIRs of a written result list.
fn listed(path: &std::path::Path) -> Vec<String> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let nir = reader.headers().unwrap().iter().position(|h| h == "nir").unwrap();
    let mut nirs: Vec<String> = reader.records().map(|r| r.unwrap()[nir].to_owned()).collect();
    nirs.sort();
    nirs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_offices_of_one_body_each_receive_only_their_own_result() {
    if !broker_reachable_or_skip(&amqp_url()) {
        return;
    }
    let d = Deployment::imported();
    let dir = TempDir::new().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::starting_at(SystemTime::now()));
    let (stop, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = Vec::new();

    // The observatory (declares the topology as its own user) and one responder, cnav.
    let mut settings = ObservatorySettings::new(OBSERVATORY, dir.path().join("observatory"));
    settings.broker = d.as_user("obs");
    settings.tick_ms = 50;
    // The family situation is asked of cnav alone: the only responder here.
    settings.routing.insert("family_situation".into(), vec!["cnav".into()]);
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    let bus = Arc::new(AmqpBus::connect(&settings.broker, Role::Observatory(OBSERVATORY.into())).await.unwrap());
    let observatory = Observatory::build(settings, bus, Arc::clone(&clock)).unwrap();
    let shutdown = stopped(stop_rx.clone());
    tasks.push(tokio::spawn(async move { observatory.run_until_stopped(shutdown).await.map_err(|e| e.to_string()) }));
    let people: Vec<P> = (0..6).map(|n| person(n, MARSEILLE)).collect();
    let mut extract = String::from("nir,family_situation\n");
    for p in &people {
        extract.push_str(&format!("{},married\n", nir(p.n)));
    }
    let extract = write(dir.path(), "cnav.csv", extract.as_bytes());
    let settings = ResponderSettings {
        body: "cnav".into(),
        holds: None,
        data_dir: dir.path().join("cnav"),
        consumers: passerelle_responder::settings::DEFAULT_CONSUMERS,
        broker: d.as_user("cnav"),
        source: SourceSettings::Extract(ExtractSettings::default()),
        metrics_addr: None,
        api: Default::default(),
        agents: Default::default(),
        trails: Default::default(),
        profile: Default::default(),
        development: Default::default(),
    };
    std::fs::create_dir_all(&settings.data_dir).unwrap();
    load_extract(&settings, &extract, Encoding::Utf8, &mut ReportWriter::new(ReportFormat::Human, std::io::sink()))
        .unwrap();
    let bus = Arc::new(AmqpBus::connect(&settings.broker, Role::Body("cnav".into())).await.unwrap());
    let responder = Responder::build(&settings, bus).await.unwrap();
    let shutdown = stopped(stop_rx.clone());
    tasks.push(tokio::spawn(async move { responder.run_until_stopped(shutdown).await.map_err(|e| e.to_string()) }));

    // Two offices of cnaf, each with its own persons, store and broker user.
    let (caf13, caf13_bus) = office(&d, dir.path(), "caf-13", &clock).await;
    let (caf84, caf84_bus) = office(&d, dir.path(), "caf-84", &clock).await;
    assert_ne!(caf13.settings().data_dir, caf84.settings().data_dir, "each office has its own store");
    let hidden = ProgressBar::hidden();
    let reject = &mut |r: &passerelle_selection::Rejection| panic!("line {} rejected", r.line);
    let a = caf13.submit(&request(dir.path(), "caf-13", &people[..3]), reject, &hidden).await.unwrap();
    let b = caf84.submit(&request(dir.path(), "caf-84", &people[3..]), reject, &hidden).await.unwrap();

    let (listen13, listen84) = (caf13.listen().await.unwrap(), caf84.listen().await.unwrap());
    for (requester, submitted) in [(&caf13, &a), (&caf84, &b)] {
        let cases = tokio::time::timeout(WAIT, requester.wait_for_results(&submitted.case_ids(), &hidden, None))
            .await
            .expect("each office's case answered in time")
            .unwrap();
        assert!(
            cases.iter().all(|c| c.state == CaseState::Answered),
            "{:?}",
            cases.iter().map(|c| c.state).collect::<Vec<_>>()
        );
    }
    caf13.write_result(a.submission).unwrap();
    caf84.write_result(b.submission).unwrap();
    let nirs = |people: &[P]| {
        let mut v: Vec<String> = people.iter().map(|p| nir(p.n)).collect();
        v.sort();
        v
    };
    assert_eq!(listed(&dir.path().join("caf-13-list.csv")), nirs(&people[..3]), "caf-13 gets its own persons only");
    assert_eq!(listed(&dir.path().join("caf-84-list.csv")), nirs(&people[3..]), "caf-84 gets its own persons only");
    // Each office's store knows its own case only.
    let known = |r: &Requester| r.status().unwrap().iter().map(|(c, _)| c.id).collect::<Vec<_>>();
    assert_eq!(known(&caf13), a.case_ids());
    assert_eq!(known(&caf84), b.case_ids());

    // The broker refuses an office the other office's results queue.
    for (bus, other) in [(&caf13_bus, "cnaf.caf-84"), (&caf84_bus, "cnaf.caf-13")] {
        let err = bus.consume(Queue::OfficeResults(other.into()), Arc::new(Nothing)).await.unwrap_err();
        assert!(err.to_string().contains("ACCESS_REFUSED"), "{other}: {err}");
    }

    listen13.stop().await;
    listen84.stop().await;
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    drop((caf13, caf84));
}

/// A handler that never sees anything (its consumer is refused).
struct Nothing;

#[async_trait::async_trait]
impl passerelle_bus::Handler for Nothing {
    async fn handle(&self, _: passerelle_bus::Delivery) -> passerelle_bus::Verdict {
        panic!("no delivery expected")
    }
}
