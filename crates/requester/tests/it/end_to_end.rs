//! The whole decree flow around the requester: two real observatories (Sud-Est and
//! Île-de-France), three real responders (cnam, cnav, msa, each from its own extract) and the
//! requester (a CAF), on the in-process bus and on RabbitMQ. Persons of two territories → two
//! cases → one merged, ranked list with the names joined back; the receipts make both
//! observatories purge their cases.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use passerelle_bus::{AmqpBus, Bus, BusSettings, InProcessBus, Role};
use passerelle_observatory::{Observatory, ObservatorySettings, StatusReader};
use passerelle_protocol::rules::{Clock, ManualClock};
use passerelle_protocol::v1::Category;
use passerelle_requester::{CaseState, Requester, RequesterSettings, SubmitRequest};
use passerelle_responder::{load_extract, ExtractSettings, Responder, ResponderSettings, SourceSettings};
use passerelle_selection::{Encoding, ReportFormat, ReportWriter};
use support::*;
use tempfile::TempDir;
use tokio::sync::watch;

const OBSERVATORIES: [&str; 2] = ["carsat-sud-est", "cnav-idf"];
const RESPONDERS: [&str; 3] = ["cnam", "cnav", "msa"];
const WAIT: Duration = Duration::from_secs(60);
const PERSONS: u32 = 8;

/// One bus connection per party, and (RabbitMQ) the deployment to delete at the end.
struct Buses {
    settings: BusSettings,
    parties: BTreeMap<String, Arc<dyn Bus>>,
    amqp: bool,
}

fn deployment() -> BusSettings {
    BusSettings { observatories: OBSERVATORIES.map(str::to_owned).to_vec(), ..BusSettings::default() }
}

fn in_process() -> Buses {
    let settings = deployment();
    let bus = InProcessBus::new(&settings);
    let parties = OBSERVATORIES
        .iter()
        .chain(&RESPONDERS)
        .chain(&["cnaf"])
        .map(|p| (p.to_string(), Arc::new(bus.connect_as(p)) as Arc<dyn Bus>))
        .collect();
    Buses { settings, parties, amqp: false }
}

async fn rabbitmq() -> Option<Buses> {
    let url = passerelle_test_support::amqp_url();
    if !passerelle_test_support::broker_reachable_or_skip(&url) {
        return None;
    }
    let settings = BusSettings {
        urls: vec![url],
        prefix: passerelle_test_support::unique_name("test-requester-e2e"),
        ..deployment()
    };
    let mut parties = BTreeMap::new();
    // The observatories declare the topology; the bodies only check that their queues exist.
    for o in OBSERVATORIES {
        parties.insert(
            o.to_owned(),
            Arc::new(AmqpBus::connect(&settings, Role::Observatory(o.into())).await.unwrap()) as Arc<dyn Bus>,
        );
    }
    for b in RESPONDERS.iter().chain(&["cnaf"]) {
        parties.insert(
            b.to_string(),
            Arc::new(AmqpBus::connect(&settings, Role::Body(b.to_string())).await.unwrap()) as Arc<dyn Bus>,
        );
    }
    Some(Buses { settings, parties, amqp: true })
}

/// Each body's extract: cnam knows the long-term condition of even persons (true for
/// multiples of 4); cnav knows everyone's family situation and quarters; msa knows person 3
/// only, with fewer quarters than cnav says (a disagreement).
fn write_extracts(dir: &Path) -> BTreeMap<&'static str, std::path::PathBuf> {
    let mut cnam = String::from("nir,sex,birth_year,long_term_condition\n");
    let mut cnav = String::from("nir,family_situation,quarters_contributed\n");
    for n in 0..PERSONS {
        if n % 2 == 0 {
            cnam.push_str(&format!("{},M,1950,{}\n", nir(n), n % 4 == 0));
        }
        let situation = if n % 3 == 0 { "widowed" } else { "married" };
        cnav.push_str(&format!("{},{situation},160\n", nir(n)));
    }
    let msa = format!("nir,quarters_contributed,long_term_condition\n{},90,true\n", nir(3));
    [("cnam", cnam), ("cnav", cnav), ("msa", msa)]
        .into_iter()
        .map(|(body, text)| (body, write(dir, &format!("{body}.csv"), text.as_bytes())))
        .collect()
}

async fn flow(buses: Buses) {
    let dir = TempDir::new().unwrap();
    let clock = ManualClock::starting_at(SystemTime::now());
    let clock: Arc<dyn Clock> = Arc::new(clock);
    let (stop, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let mut tasks = Vec::new();

    // Two observatories.
    let mut statuses: Vec<StatusReader> = Vec::new();
    for code in OBSERVATORIES {
        let mut settings = ObservatorySettings::new(code, dir.path().join(code));
        settings.broker = buses.settings.clone();
        settings.chunk_size = 3;
        settings.tick_ms = 50;
        std::fs::create_dir_all(&settings.data_dir).unwrap();
        let observatory = Observatory::build(settings, Arc::clone(&buses.parties[code]), Arc::clone(&clock)).unwrap();
        statuses.push(observatory.status_reader());
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(
            async move { observatory.run_until_stopped(shutdown).await.map_err(|e| e.to_string()) },
        ));
    }
    // Three responders, each from its extract.
    let extracts = write_extracts(dir.path());
    for body in RESPONDERS {
        let settings = ResponderSettings {
            body: body.to_owned(),
            holds: None,
            data_dir: dir.path().join(body),
            consumers: passerelle_responder::settings::DEFAULT_CONSUMERS,
            broker: buses.settings.clone(),
            source: SourceSettings::Extract(ExtractSettings::default()),
            metrics_addr: None,
            api: Default::default(),
            agents: Default::default(),
            trails: Default::default(),
            profile: Default::default(),
            development: Default::default(),
        };
        std::fs::create_dir_all(&settings.data_dir).unwrap();
        let mut report = ReportWriter::new(ReportFormat::Human, std::io::sink());
        load_extract(&settings, &extracts[body], Encoding::Utf8, &mut report).unwrap();
        let responder = Responder::build(&settings, Arc::clone(&buses.parties[body])).await.unwrap();
        let shutdown = stopped(stop_rx.clone());
        tasks.push(tokio::spawn(async move { responder.run_until_stopped(shutdown).await.map_err(|e| e.to_string()) }));
    }

    // The requester: a CAF, persons of both territories.
    let mut settings = RequesterSettings::for_dir("cnaf", "caf-13", &dir.path().join("caf"));
    settings.broker = buses.settings.clone();
    settings.chunk_size = 3;
    let requester = Requester::build(settings, Arc::clone(&buses.parties["cnaf"]), Arc::clone(&clock)).unwrap();
    let people: Vec<P> = (0..PERSONS).map(|n| person(n, if n % 2 == 0 { MARSEILLE } else { PARIS })).collect();
    let selection_file = write(dir.path(), "selection.csv", selection(&people).as_bytes());
    let request = SubmitRequest {
        selection: selection_file,
        encoding: Encoding::Utf8,
        wanted: vec![Category::FamilySituation, Category::LongTermCondition, Category::QuartersContributed],
        service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
        purpose: "Atelier prévention des chutes".into(),
        respond_by: Duration::from_secs(3600),
        out: Some(dir.path().join("list")),
        strict: false,
    };
    let hidden = ProgressBar::hidden();
    let submitted = requester.submit(&request, &mut |r| panic!("line {} rejected", r.line), &hidden).await.unwrap();
    assert_eq!(submitted.cases.len(), 2, "one case per territory");
    let listening = requester.listen().await.unwrap();
    let cases = tokio::time::timeout(WAIT, requester.wait_for_results(&submitted.case_ids(), &hidden, None))
        .await
        .expect("both cases answered in time")
        .unwrap();
    assert!(
        cases.iter().all(|c| c.state == CaseState::Answered),
        "{:?}",
        cases.iter().map(|c| c.state).collect::<Vec<_>>()
    );
    let (written, summary) = requester.write_result(submitted.submission).unwrap();
    assert_eq!(written.persons, u64::from(PERSONS));
    assert!(summary.cases.iter().all(|c| c.completeness.as_deref() == Some("complete")));

    // One merged list, names joined back; the requester's own branch (cnaf) never solicited.
    let mut reader = csv::Reader::from_path(dir.path().join("list.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    let statuses_cols: Vec<&str> = header.iter().filter(|h| h.starts_with("status__")).map(String::as_str).collect();
    assert_eq!(statuses_cols, ["status__cnam", "status__cnav", "status__msa"]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for p in &people {
        let row = rows.iter().find(|r| r[col("nir")] == nir(p.n)).expect("every person listed");
        assert_eq!((&row[col("family_name")], &row[col("email")]), (&p.family, &p.email));
        assert_eq!(row[col("status__cnav")], "found");
        assert_eq!(row[col("status__cnam")], if p.n % 2 == 0 { "found" } else { "not_found" });
        assert_eq!(row[col("status__msa")], if p.n == 3 { "found" } else { "not_found" });
        let situation = if p.n % 3 == 0 { "widowed" } else { "married" };
        assert_eq!(row[col("family_situation")], situation);
    }
    let three = rows.iter().find(|r| r[col("nir")] == nir(3)).unwrap();
    assert_eq!(
        (three[col("quarters_contributed")].as_str(), three[col("quarters_contributed__source")].as_str()),
        ("160", "cnav!msa")
    );
    assert_eq!(
        (three[col("long_term_condition")].as_str(), three[col("long_term_condition__source")].as_str()),
        ("true", "msa")
    );
    assert_eq!(
        rows.iter().map(|r| r[col("rank")].clone()).collect::<Vec<_>>(),
        (1..=PERSONS).map(|r| r.to_string()).collect::<Vec<_>>()
    );

    // The receipts: each observatory purges its case.
    let ids: Vec<String> = submitted.case_ids().iter().map(|c| c.to_string()).collect();
    eventually("both observatories purge on the receipt", WAIT, || {
        ids.iter().all(|id| {
            statuses.iter().any(|s| {
                s.case(id).ok().flatten().is_some_and(|c| c.state == passerelle_observatory_store::CaseState::Purged)
            })
        })
    })
    .await;

    listening.stop().await;
    stop.send(true).unwrap();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    drop(requester);
    if buses.amqp {
        let settings = buses.settings.clone();
        drop(buses);
        passerelle_bus::amqp::delete_topology(&settings).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bodies_two_observatories_one_merged_list_in_process() {
    flow(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bodies_two_observatories_one_merged_list_over_rabbitmq() {
    if let Some(buses) = rabbitmq().await {
        flow(buses).await;
    }
}
