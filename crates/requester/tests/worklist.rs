//! The social service's worklist at the requester (decree art. 3, last step; DESIGN §7.2), over
//! the daemon's real Unix socket: only the `social-service` account of the daemon's office,
//! naming the social worker it acts for, reads the contact lists (in rank order, a case per
//! page at most, resumed by a cursor) and records offer outcomes; each call is in the access log
//! as the worker via the service, the person as a keyed hash, never a NIR; an accepted outcome
//! gives the person's record with the result's values; the purge takes the outcomes with the
//! case, on disk too.

#[path = "support/mod.rs"]
#[allow(unused_imports)]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::SystemTime;

use passerelle_access_log::{AccessKind, StoredEntry};
use passerelle_agents::{Agent, Registry, Role};
use passerelle_bus::{Bus, BusSettings, Consumer, InProcessBus};
use passerelle_local_api::{ApiServer, Client, ClientError, KeptAccesses, RegistryHandle};
use passerelle_protocol::nir::Nir;
use passerelle_protocol::rules::{days, ManualClock};
use passerelle_protocol::v1::{self, Category, FamilySituation};
use passerelle_requester::api::{
    routes, CaseStatus, Outcome, OutcomeAnswer, OutcomeQuery, SubmitAnswer, WorklistAnswer, WorklistEntry,
};
use passerelle_requester::{CaseState, Requester, RequesterSettings, Uuid};
use support::*;
use tempfile::TempDir;

const SUD_EST: &str = "carsat-sud-est";
const IDF: &str = "cnav-idf";
const OFFICE: &str = "caf-13";
/// The social worker's id: unusual enough to be looked for in the store's bytes.
const WORKER: &str = "sw-zorglub-7";
const ACTOR: &str = "agent:sw-zorglub-7:via:svc-social";
const SUBMIT: &str = "/v1/cases?want=family_situation&service=prevention-workshop&purpose=Atelier&name=selection.csv";

fn as_agent(id: &str, role: Role, office: &str) -> Registry {
    let me = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    Registry::from_agents([Agent {
        account: me,
        id: id.into(),
        name: "Compte de service".into(),
        roles: [role].into_iter().collect::<BTreeSet<_>>(),
        office: Some(office.to_owned()),
    }])
}

fn social_service() -> Registry {
    as_agent("svc-social", Role::SocialService, OFFICE)
}

struct Daemon {
    dir: TempDir,
    clock: ManualClock,
    requester: Requester,
    registry: RegistryHandle,
    server: ApiServer,
    /// As the prevention agent or the service account, naming nobody.
    plain: Client,
    /// The service account naming the social worker.
    relaying: Client,
    consumers: Vec<Consumer>,
}

impl Daemon {
    /// A requester of caf-13 on an injected clock; both observatories answer: persons 3 and 4
    /// are widowed (2 points), the others married; person 2's selection says housing aid (1).
    async fn start() -> Daemon {
        let widowed = [nir(3), nir(4)];
        Daemon::answering(Arc::new(move |p: &v1::RequestedPerson| widowed.contains(&p.nir))).await
    }

    /// A requester of caf-13 whose observatories answer `widowed` (2 points) or married for
    /// each person, in result chunks of 2.
    async fn answering(widowed: Arc<dyn Fn(&v1::RequestedPerson) -> bool + Send + Sync>) -> Daemon {
        let dir = TempDir::new().unwrap();
        let clock = ManualClock::starting_at(SystemTime::now());
        let bus_settings = BusSettings { observatories: vec![SUD_EST.into(), IDF.into()], ..BusSettings::default() };
        let bus = InProcessBus::new(&bus_settings);
        let mut settings = RequesterSettings::for_dir("cnaf", OFFICE, dir.path());
        settings.broker = bus_settings;
        let requester_bus: Arc<dyn Bus> = Arc::new(bus.connect_as("body-cnaf"));
        let requester = Requester::build(settings, requester_bus, Arc::new(clock.clone())).unwrap();
        let answers: Answers = Arc::new(move |p: &v1::RequestedPerson| {
            let situation = if widowed(p) { FamilySituation::Widowed } else { FamilySituation::Married };
            vec![found("cnav", |v| v.family_situation = Some(situation as i32))]
        });
        let bodies = vec![outcome("cnav", &[Category::FamilySituation], vec![])];
        let answer = Behaviour::Answer { answers, bodies, chunk: 2 };
        let (_, c1) = FakeObservatory::start(SUD_EST, Arc::new(bus.connect_as("obs-sud-est")), answer.clone()).await;
        let (_, c2) = FakeObservatory::start(IDF, Arc::new(bus.connect_as("obs-idf")), answer).await;
        let listening = requester.listen().await.unwrap();
        let registry = RegistryHandle::fixed(as_agent("agent-0042", Role::PreventionAgent, OFFICE));
        let socket = dir.path().join("run").join("requester.sock");
        let kept = Arc::new(KeptAccesses::default());
        let server = ApiServer::start(&socket, routes(requester.clone()), registry.clone(), kept).unwrap();
        let plain = Client::new(&socket).for_daemon("requester run");
        let relaying = plain.clone().relaying(WORKER);
        Daemon { dir, clock, requester, registry, server, plain, relaying, consumers: vec![c1, c2, listening] }
    }

    /// Submits `people` as the prevention agent and waits for its one case to be answered.
    /// Person 2's selection says housing aid.
    async fn submit(&self, people: &[P]) -> Uuid {
        let mut people = people.to_vec();
        if let Some(p) = people.iter_mut().find(|p| p.n == 2) {
            p.housing_aid = "true";
        }
        self.submit_as_is(&people).await
    }

    /// Submits `people` as the prevention agent and waits for its one case to be answered.
    async fn submit_as_is(&self, people: &[P]) -> Uuid {
        self.registry.replace(as_agent("agent-0042", Role::PreventionAgent, OFFICE));
        let file = write(self.dir.path(), "selection.csv", selection(people).as_bytes());
        let answer: SubmitAnswer = self.plain.upload(SUBMIT, &file).await.unwrap();
        let SubmitAnswer::Submitted { cases, .. } = answer else { panic!("{answer:?}") };
        assert_eq!(cases.len(), 1);
        let case = cases[0].case;
        passerelle_test_support::eventually_async("the case answered", || async {
            (self.requester.store().case(case).unwrap().unwrap().state == CaseState::Answered).then_some(())
        })
        .await;
        self.registry.replace(social_service());
        case
    }

    /// Two cases: Marseille's three persons, then (a day later) Paris's two.
    async fn two_cases(&self) -> (Uuid, Uuid) {
        let first = self.submit(&[person(0, MARSEILLE), person(2, MARSEILLE), person(4, MARSEILLE)]).await;
        self.clock.advance(days(1));
        let second = self.submit(&[person(1, PARIS), person(3, PARIS)]).await;
        (first, second)
    }

    async fn page(&self, query: &str) -> Result<WorklistAnswer, ClientError> {
        self.relaying.get_json(&format!("/v1/worklist{query}")).await
    }

    async fn record(&self, entry: &WorklistEntry, outcome: Outcome, date: &str) -> Result<OutcomeAnswer, ClientError> {
        let body = OutcomeQuery { case: entry.case, line: entry.line, outcome, date: date.to_owned() };
        self.relaying.post_json("/v1/worklist/outcome", &body).await
    }

    fn today(&self) -> String {
        let zone = self.requester.settings().trails.time_zone.zone();
        chrono::DateTime::<chrono::Utc>::from(passerelle_protocol::rules::Clock::now(&self.clock))
            .with_timezone(&zone)
            .format("%Y-%m-%d")
            .to_string()
    }

    fn entries(&self) -> Vec<StoredEntry> {
        let log = self.requester.accesses().log();
        log.years().unwrap().into_iter().flat_map(|y| log.entries(y, 1, 10_000).unwrap()).collect()
    }

    async fn stop(self) {
        self.server.stop().await;
        for c in self.consumers {
            c.stop().await;
        }
    }
}

/// Every entry from a cursor on, following `next`.
async fn every_entry(d: &Daemon, query: &str) -> (Vec<WorklistEntry>, usize) {
    let (mut all, mut pages) = (Vec::new(), 0);
    let mut page = d.page(query).await.unwrap();
    loop {
        pages += 1;
        all.extend(page.entries);
        let Some(next) = page.next else { return (all, pages) };
        let joiner = if query.is_empty() { "?" } else { "&" };
        page = d.page(&format!("{query}{joiner}after={next}")).await.unwrap();
    }
}

fn names(entries: &[WorklistEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.family_name.as_str()).collect()
}

#[tokio::test]
async fn only_the_offices_social_service_naming_a_worker_reads_the_worklist() {
    let d = Daemon::start().await;
    let (first, _) = d.two_cases().await;
    let body = OutcomeQuery { case: first, line: 2, outcome: Outcome::Declined, date: d.today() };
    // A prevention agent keeps its own routes: not these.
    d.registry.replace(as_agent("agent-0042", Role::PreventionAgent, OFFICE));
    let e = d.page("").await.unwrap_err();
    assert!(e.is_forbidden() && e.to_string().contains("needs the role social-service"), "{e}");
    let e = d.relaying.post_json::<_, OutcomeAnswer>("/v1/worklist/outcome", &body).await.unwrap_err();
    assert!(e.is_forbidden(), "{e}");
    // Another office's social service.
    d.registry.replace(as_agent("svc-social", Role::SocialService, "caf-69"));
    let e = d.page("").await.unwrap_err();
    assert!(e.is_forbidden() && e.to_string().contains("not for caf-13"), "{e}");
    // This office's, naming nobody: told to name the worker.
    d.registry.replace(social_service());
    let e = d.plain.get_json::<WorklistAnswer>("/v1/worklist").await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    assert!(e.to_string().contains("x-passerelle-on-behalf-of"), "{e}");
    let e = d.plain.post_json::<_, OutcomeAnswer>("/v1/worklist/outcome", &body).await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    // A worker id the access log cannot hold.
    let e = d.plain.clone().relaying("Sw-1").get_json::<WorklistAnswer>("/v1/worklist").await.unwrap_err();
    assert_eq!(e.code(), Some("bad_request"), "{e}");
    // The service account has no other route.
    assert!(d.relaying.get_json::<Vec<CaseStatus>>("/v1/cases").await.unwrap_err().is_forbidden());
    // Bad parameters, named.
    for (query, name) in [("?limit=0", "limit"), ("?limit=1001", "limit"), ("?limit=x", "limit")] {
        let e = d.page(query).await.unwrap_err();
        assert!(e.code() == Some("bad_request") && e.to_string().starts_with(name), "{query}: {e}");
    }
    for query in ["?after=nope", &format!("?after={}:1", Uuid::now_v7())] {
        let e = d.page(query).await.unwrap_err();
        assert!(e.code() == Some("bad_request") && e.to_string().starts_with("after"), "{query}: {e}");
    }
    let e = d.page("?pending=maybe").await.unwrap_err();
    assert!(e.to_string().starts_with("pending"), "{e}");
    let none = d.entries().iter().filter(|e| e.agent.contains("via")).count();
    assert_eq!(none, 0, "nothing given, nothing recorded");
    d.stop().await;
}

#[tokio::test]
async fn the_worklist_is_each_cases_contact_list_in_rank_order_resumed_by_a_cursor() {
    let d = Daemon::start().await;
    let (first, second) = d.two_cases().await;
    // The exact format.
    let raw: serde_json::Value = d.relaying.get_json("/v1/worklist?limit=1").await.unwrap();
    assert_eq!(raw["format"], "passerelle.requester-worklist/1");
    assert_eq!(raw["office"], OFFICE);
    assert_eq!(raw["next"], format!("{first}:1"));
    let keys: BTreeSet<&str> = raw["entries"][0].as_object().unwrap().keys().map(String::as_str).collect();
    let expected = "birth_year case email family_name given_names line nir outcome persons phone postal_address \
                    rank score usage_name";
    assert_eq!(keys, expected.split(' ').collect());
    assert_eq!(raw["entries"][0]["usage_name"], serde_json::Value::Null);
    assert_eq!(raw["entries"][0]["outcome"], serde_json::Value::Null);

    // Oldest case first; widowed (2) before housing aid (1) before nothing; a case per page
    // at most.
    let (all, pages) = every_entry(&d, "?limit=2").await;
    assert_eq!(names(&all), ["Zorglub0004", "Zorglub0002", "Zorglub0000", "Zorglub0003", "Zorglub0001"]);
    assert_eq!(pages, 3, "2 + 1 of the first case, then 2 of the second");
    let ranks: Vec<(Uuid, u64, u64, f64)> = all.iter().map(|e| (e.case, e.rank, e.persons, e.score)).collect();
    assert_eq!(
        ranks,
        [(first, 1, 3, 2.0), (first, 2, 3, 1.0), (first, 3, 3, 0.0), (second, 1, 2, 2.0), (second, 2, 2, 0.0)]
    );
    let top = &all[0];
    assert_eq!((top.given_names.as_str(), top.birth_year), ("Ambrosine0004", 1950));
    assert_eq!(top.email.as_deref(), Some("contact0004@exemple.invalid"));
    assert_eq!(top.phone.as_deref(), Some("0699000004"));
    assert_eq!(top.postal_address.as_deref(), Some("4 rue Imaginaire"));
    // The NIR, for the social-service daemon to recognise an opposed person (the only caller
    // this route serves, above): each entry's own, and never in a `Debug`.
    let nirs: Vec<String> = all.iter().map(|e| e.nir.clone()).collect();
    assert_eq!(nirs, [nir(4), nir(2), nir(0), nir(3), nir(1)]);
    assert!(!format!("{top:?}").contains(&nir(4)[..13]), "a NIR in a Debug");
    // The ranks are the result file's.
    d.registry.replace(as_agent("agent-0042", Role::PreventionAgent, OFFICE));
    let row: passerelle_requester::api::PersonAnswer = d
        .plain
        .post_json(&format!("/v1/cases/{first}/person"), &passerelle_requester::api::PersonQuery { nir: nir(2) })
        .await
        .unwrap();
    assert_eq!((row.row["rank"].as_u64(), row.row["line"].as_u64()), (Some(2), Some(all[1].line)));
    d.registry.replace(social_service());

    // One read per person listed: of their case, about their keyed hash, as the worker via the
    // service; no NIR anywhere.
    let reads: Vec<(String, AccessKind, String, Option<String>)> = d
        .entries()
        .into_iter()
        .filter(|e| e.agent == ACTOR)
        .map(|e| (e.agent, e.kind, e.object, e.person.map(|p| p.to_hex())))
        .collect();
    let read = |case: Uuid, n: u32| {
        let hash = d.requester.accesses().person(&Nir::parse(&nir(n)).unwrap());
        (ACTOR.to_owned(), AccessKind::Read, case.to_string(), Some(hash.to_hex()))
    };
    // The exact-format page (one person), then the three pages of the walk (2 + 1, then 2).
    let expected: Vec<_> = [(first, 4), (first, 4), (first, 2), (first, 0), (second, 3), (second, 1)]
        .into_iter()
        .map(|(case, n)| read(case, n))
        .collect();
    assert_eq!(reads, expected);
    for n in 0..5 {
        let digits = &nir(n)[..13];
        assert!(reads.iter().all(|(_, _, object, _)| !object.contains(digits)), "a NIR in an entry");
    }
    d.stop().await;
}

#[tokio::test]
async fn a_page_whose_reads_cannot_all_be_logged_is_a_500_that_gives_nothing() {
    let d = Daemon::start().await;
    d.two_cases().await;
    let before = d.entries().len();
    // The access log takes a page's first entry, then refuses the next: the page's entries are
    // one transaction, so none stays.
    let log = passerelle_sqlite::rusqlite::Connection::open(d.dir.path().join("data").join("access.db")).unwrap();
    log.execute_batch(&format!(
        "CREATE TRIGGER zorglub_refuses BEFORE INSERT ON access_entry
         WHEN (SELECT COUNT(*) FROM access_entry) > {before}
         BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
    ))
    .unwrap();
    let e = d.page("?limit=2").await.unwrap_err();
    assert_eq!(e.code(), Some("internal"), "{e}");
    assert!(!e.to_string().contains("Zorglub"), "no name in the error: {e}");
    log.execute_batch("DROP TRIGGER zorglub_refuses").unwrap();
    assert_eq!(d.entries().len(), before, "a page's reads are all logged or none");
    // Logged again: the same page, two reads.
    assert_eq!(d.page("?limit=2").await.unwrap().entries.len(), 2);
    assert_eq!(d.entries().len(), before + 2);
    d.stop().await;
}

#[tokio::test]
async fn outcomes_are_recorded_shown_filtered_logged_and_purged_with_the_case() {
    let d = Daemon::start().await;
    let (first, _) = d.two_cases().await;
    let (all, _) = every_entry(&d, "").await;
    let today = d.today();
    let n = d.entries().len();

    // Declined: recorded, no person.
    let declined = d.record(&all[0], Outcome::Declined, &today).await.unwrap();
    assert_eq!((declined.outcome, declined.agent.as_str(), declined.person), (Outcome::Declined, WORKER, None));
    // Accepted: the person's record, with the result's values.
    let raw: serde_json::Value = d
        .relaying
        .post_json(
            "/v1/worklist/outcome",
            &OutcomeQuery { case: first, line: all[1].line, outcome: Outcome::Accepted, date: today.clone() },
        )
        .await
        .unwrap();
    assert_eq!(raw["format"], "passerelle.requester-offer-outcome/1");
    assert_eq!(raw["office"], OFFICE, "the office that recorded it, which the social service checks");
    assert_eq!((raw["case"].as_str(), raw["line"].as_u64()), (Some(&*first.to_string()), Some(all[1].line)));
    assert_eq!(
        (raw["outcome"].as_str(), raw["date"].as_str(), raw["agent"].as_str()),
        (Some("accepted"), Some(&*today), Some(WORKER))
    );
    let person = &raw["person"];
    assert_eq!(person["nir"], nir(2));
    assert_eq!(person["former_nirs"], serde_json::json!([]));
    assert_eq!(
        (person["family_name"].as_str(), person["given_names"].as_str()),
        (Some("Zorglub0002"), Some("Ambrosine0002"))
    );
    assert_eq!((person["usage_name"].clone(), person["sex"].as_str()), (serde_json::Value::Null, Some("male")));
    assert_eq!((person["birth_year"].as_u64(), person["commune_code"].as_str()), (Some(1950), Some(MARSEILLE)));
    assert_eq!(person["email"], "contact0002@exemple.invalid");
    assert_eq!(person["values"], serde_json::json!({"family_situation": "married"}));
    // Recorded again: the latest wins over `declined` and `no_reply`.
    d.record(&all[3], Outcome::Declined, &today).await.unwrap();
    let again = d.record(&all[3], Outcome::NoReply, &today).await.unwrap();
    assert_eq!((again.outcome, again.person), (Outcome::NoReply, None));
    // `accepted` is final: another outcome is a 409 saying when and where a change goes, with
    // nothing written; `accepted` again answers the first acceptance and the record again.
    let before = d.entries().len();
    for other in [Outcome::Declined, Outcome::NoReply] {
        let e = d.record(&all[1], other, &today).await.unwrap_err();
        assert_eq!(e.code(), Some("conflict"), "{e}");
        let text = e.to_string();
        assert!(text.contains(&format!("accepted the offer on {today}")) && text.contains("social service"), "{e}");
        assert!(!text.contains(&nir(2)[..13]) && !text.contains("Zorglub"), "nothing of the person: {e}");
    }
    assert_eq!(d.entries().len(), before, "a refused outcome leaves no access entry");
    let held = d.requester.store().outcomes_of(first).unwrap();
    assert_eq!(held[&all[1].line].outcome, Outcome::Accepted);
    // A day later, the first acceptance's day.
    d.clock.advance(days(1));
    let accepted_again = d.record(&all[1], Outcome::Accepted, &d.today()).await.unwrap();
    assert_eq!((accepted_again.outcome, accepted_again.date.as_str()), (Outcome::Accepted, &*today));
    assert_eq!(accepted_again.person.as_ref().map(|p| p.nir.as_str()), Some(&*nir(2)));
    assert_eq!(d.requester.store().outcomes_of(first).unwrap(), held, "the first acceptance stays");

    // Shown on the worklist; `pending` leaves them out.
    let (shown, _) = every_entry(&d, "").await;
    let outcomes: Vec<Option<&str>> = shown.iter().map(|e| e.outcome.as_ref().map(|o| o.outcome.as_str())).collect();
    assert_eq!(outcomes, [Some("declined"), Some("accepted"), None, Some("no_reply"), None]);
    let o = shown[0].outcome.as_ref().unwrap();
    assert_eq!((o.date.as_str(), o.agent.as_str()), (&*today, WORKER));
    let (pending, _) = every_entry(&d, "?pending=true").await;
    assert_eq!(names(&pending), ["Zorglub0000", "Zorglub0001"]);
    assert_eq!(pending.iter().map(|e| e.rank).collect::<Vec<_>>(), [3, 2], "ranks stay the list's");

    // Refused without a trace: an unknown line or case (nothing repeated), a bad date.
    let after = d.entries().len();
    let mut unknown = all[0].clone();
    unknown.line = 999;
    let e = d.record(&unknown, Outcome::Declined, &today).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e}");
    unknown.case = Uuid::now_v7();
    assert_eq!(d.record(&unknown, Outcome::Declined, &today).await.unwrap_err().code(), Some("not_found"));
    let tomorrow =
        (chrono::NaiveDate::parse_from_str(&d.today(), "%Y-%m-%d").unwrap() + chrono::Days::new(1)).to_string();
    let e = d.record(&all[0], Outcome::Declined, &tomorrow).await.unwrap_err();
    assert!(e.code() == Some("bad_request") && e.to_string().contains("in the future"), "{e}");
    let long_ago = "2001-01-01";
    let e = d.record(&all[0], Outcome::Declined, long_ago).await.unwrap_err();
    assert!(e.to_string().contains("before the case's result"), "{e}");
    let e = d.record(&all[0], Outcome::Declined, "07/12/2026").await.unwrap_err();
    assert!(e.to_string().starts_with("date"), "{e}");
    assert_eq!(d.entries().len(), after);

    // The access log: an update per outcome, a transfer for the accepted one, about the
    // person's keyed hash; the reads of the pages; no NIR in any entry or byte of the log.
    let written: Vec<StoredEntry> = d.entries()[n..].iter().filter(|e| e.kind != AccessKind::Read).cloned().collect();
    let kinds: Vec<(&str, AccessKind, &str, bool)> =
        written.iter().map(|e| (e.agent.as_str(), e.kind, e.object.as_str(), e.person.is_some())).collect();
    use AccessKind::{Transfer, Update};
    let (one, two) = (first.to_string(), all[3].case.to_string());
    assert_eq!(
        kinds,
        [
            (ACTOR, Update, &*one, true),
            (ACTOR, Update, &*one, true),
            (ACTOR, Transfer, &*one, true),
            (ACTOR, Update, &*two, true),
            (ACTOR, Update, &*two, true),
            (ACTOR, Update, &*one, true),
            (ACTOR, Transfer, &*one, true)
        ]
    );
    let hash = d.requester.accesses().person(&Nir::parse(&nir(2)).unwrap());
    let about: Vec<AccessKind> =
        d.requester.accesses().log().find_person(&hash).unwrap().iter().map(|e| e.kind).collect();
    // Read on the first walk, accepted, accepted again, read on the second walk.
    assert_eq!(about, [AccessKind::Read, Update, Transfer, Update, Transfer, AccessKind::Read]);
    for n in 0..5 {
        let digits = nir(n);
        for e in d.entries() {
            assert!(!e.agent.contains(&digits[..13]) && !e.object.contains(&digits[..13]), "{e:?}");
        }
        for (name, bytes) in store_bytes(&d.dir.path().join("data")).iter().filter(|(f, _)| f.starts_with("access.db"))
        {
            assert!(!contains(bytes, &digits.as_bytes()[..13]), "{name} holds a NIR");
        }
    }

    // Metrics: the outcomes held, the persons waiting for one.
    let registry = passerelle_metrics::MetricsRegistry::default();
    passerelle_requester::metrics::register(&registry, &d.requester);
    let text = registry.encode();
    for line in [
        "passerelle_requester_offer_outcomes{outcome=\"accepted\"} 1",
        "passerelle_requester_offer_outcomes{outcome=\"declined\"} 1",
        "passerelle_requester_offer_outcomes{outcome=\"no_reply\"} 1",
        "passerelle_requester_persons_awaiting_offer_outcome 2",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }

    // The purge (24 months): the outcomes go with their case, unreadable on disk.
    let store_files = |d: &Daemon| -> Vec<(String, Vec<u8>)> {
        store_bytes(&d.dir.path().join("data")).into_iter().filter(|(f, _)| f.starts_with("requester.db")).collect()
    };
    assert!(store_files(&d).iter().any(|(_, b)| contains(b, WORKER.as_bytes())), "the scan must see the outcomes");
    d.clock.advance(days(731));
    assert_eq!(d.requester.purge().unwrap().submissions.len(), 2);
    assert!(d.requester.store().outcomes_of(first).unwrap().is_empty());
    for (name, bytes) in store_files(&d) {
        assert!(!contains(&bytes, WORKER.as_bytes()), "{name} still holds an outcome");
    }
    assert!(d.page("").await.unwrap().entries.is_empty());
    let e = d.record(&all[0], Outcome::Declined, &d.today()).await.unwrap_err();
    assert_eq!(e.code(), Some("not_found"), "{e}");
    d.stop().await;
}

#[tokio::test]
async fn a_long_list_with_ties_reads_in_the_order_of_the_exported_list_and_of_the_person_lookup() {
    // 300 persons, scores 0 to 3 (widowed 2, housing aid 1): long runs of ties, broken by the
    // NIR; the selection's lines in another order than the NIRs.
    const PERSONS: u32 = 300;
    let d = Daemon::answering(Arc::new(|p: &v1::RequestedPerson| {
        let n: u32 = p.nir[10..13].parse::<u32>().unwrap() - 1;
        n.is_multiple_of(3)
    }))
    .await;
    let people: Vec<P> = (0..PERSONS)
        .map(|i| {
            let mut p = person((i * 107) % PERSONS, MARSEILLE);
            p.housing_aid = if p.n.is_multiple_of(5) { "true" } else { "" };
            p
        })
        .collect();
    let case = d.submit_as_is(&people).await;

    // Read twice: the first read computes and keeps the order, the second reads it back.
    let (first, pages) = every_entry(&d, "?limit=7").await;
    assert_eq!(pages, PERSONS.div_ceil(7) as usize);
    let (again, _) = every_entry(&d, "?limit=1000").await;
    assert_eq!(first, again);
    let listed: Vec<(u64, u64, f64)> = first.iter().map(|e| (e.rank, e.line, e.score)).collect();
    assert_eq!(listed.iter().map(|l| l.0).collect::<Vec<_>>(), (1..=u64::from(PERSONS)).collect::<Vec<_>>());
    let scores: BTreeSet<u64> = listed.iter().map(|l| l.2 as u64).collect();
    assert_eq!(scores, [0, 1, 2, 3].into(), "every score, each shared by many");

    // The exported contact list (the case's JSON Lines file): the same persons in the same
    // ranks with the same scores.
    let out = d.dir.path().join("export").join("list.jsonl");
    d.requester.write_case(case, Some(&out)).unwrap();
    let exported: Vec<(u64, u64, f64)> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["rank"].as_u64().unwrap(), v["line"].as_u64().unwrap(), v["score"].as_f64().unwrap())
        })
        .collect();
    assert_eq!(listed, exported);

    // And a person looked up in the case (`/v1/cases/{case}/person`) has their worklist rank.
    d.registry.replace(as_agent("agent-0042", Role::PreventionAgent, OFFICE));
    for entry in first.iter().step_by(23) {
        // Selection lines count the header: the first person is on line 2.
        let p = people[entry.line as usize - 2].n;
        let query = passerelle_requester::api::PersonQuery { nir: nir(p) };
        let row: passerelle_requester::api::PersonAnswer =
            d.plain.post_json(&format!("/v1/cases/{case}/person"), &query).await.unwrap();
        assert_eq!((row.row["rank"].as_u64(), row.row["line"].as_u64()), (Some(entry.rank), Some(entry.line)));
        assert_eq!(entry.family_name, format!("Zorglub{p:04}"));
    }
    d.stop().await;
}
