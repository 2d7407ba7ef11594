//! The requester adapter against test-double observatories, on the in-process bus and (the
//! `_over_rabbitmq` twins) on the real RabbitMQ: what the requests carry, cases per territory,
//! bad lines, refusals, ranking, result files, the daemon, and the 24-month purge with a
//! forensic scan of the store's files.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use indicatif::ProgressBar;
use passerelle_bus::{Bus, BusSettings, Consumer, InProcessBus, Message, Outgoing, SCHEMA_VERSION};
use passerelle_protocol::catalogue;
use passerelle_protocol::rules::{days, ManualClock, DEFAULT_RESPOND_BY};
use passerelle_protocol::v1::{self, Category, FamilySituation};
use passerelle_requester::{CaseState, Requester, RequesterSettings, SubmitRequest, Submitted};
use passerelle_selection::Encoding;
use support::*;
use tempfile::TempDir;

const SUD_EST: &str = "carsat-sud-est";
const IDF: &str = "cnav-idf";
const WAIT: Duration = Duration::from_secs(20);

struct Stack {
    dir: TempDir,
    /// The in-process broker (dead-letter inspection); `None` over RabbitMQ.
    inproc: Option<InProcessBus>,
    /// How to publish as the Sud-Est observatory (injecting results by hand).
    sud_est_bus: Arc<dyn Bus>,
    /// Over RabbitMQ: the deployment whose queues and exchanges are deleted at the end.
    teardown: Option<BusSettings>,
    clock: ManualClock,
    requester: Requester,
    sud_est: Arc<FakeObservatory>,
    idf: Arc<FakeObservatory>,
    consumers: Vec<Consumer>,
}

fn bus_settings() -> BusSettings {
    BusSettings { observatories: vec![SUD_EST.into(), IDF.into()], ..BusSettings::default() }
}

/// The number `n` of a synthetic NIR (its order and commune digits).
fn n_of(nir: &str) -> u32 {
    let commune: u32 = nir[7..10].parse().unwrap();
    let order: u32 = nir[10..13].parse().unwrap();
    (commune - 1) * 999 + order - 1
}

/// The default answers: cnam knows every even person's long-term condition (true for multiples
/// of 4); cnav says every person is widowed; msa finds nobody.
fn default_answers() -> Answers {
    Arc::new(|p: &v1::RequestedPerson| {
        let n = n_of(&p.nir);
        let cnam = if n.is_multiple_of(2) {
            found("cnam", |v| v.long_term_condition = Some(n.is_multiple_of(4)))
        } else {
            not_found("cnam")
        };
        let cnav = found("cnav", |v| v.family_situation = Some(FamilySituation::Widowed as i32));
        vec![cnam, cnav, not_found("msa")]
    })
}

fn default_bodies() -> Vec<v1::BodyOutcome> {
    vec![
        outcome("cnam", &[Category::LongTermCondition], vec![]),
        outcome("cnav", &[Category::FamilySituation], vec![]),
        outcome(
            "msa",
            &[Category::FamilySituation, Category::LongTermCondition],
            vec![v1::Decline {
                category: Category::LongTermCondition as i32,
                reason: v1::DeclineReason::SourceUnavailable as i32,
                detail: "health extract not loaded".into(),
            }],
        ),
    ]
}

fn answer() -> Behaviour {
    Behaviour::Answer { answers: default_answers(), bodies: default_bodies(), chunk: 2 }
}

/// The buses of a stack: the requester's and each observatory's.
struct Buses {
    requester: Arc<dyn Bus>,
    sud_est: Arc<dyn Bus>,
    idf: Arc<dyn Bus>,
    inproc: Option<InProcessBus>,
    teardown: Option<BusSettings>,
}

fn in_process() -> Buses {
    let bus = InProcessBus::new(&bus_settings());
    Buses {
        requester: Arc::new(bus.connect_as("body-cnaf")),
        sud_est: Arc::new(bus.connect_as("obs-sud-est")),
        idf: Arc::new(bus.connect_as("obs-idf")),
        inproc: Some(bus),
        teardown: None,
    }
}

async fn stack(sud_est: Behaviour, idf: Behaviour, tweak: impl FnOnce(&mut RequesterSettings)) -> Stack {
    stack_on(in_process(), sud_est, idf, tweak).await
}

async fn stack_on(
    buses: Buses,
    sud_est: Behaviour,
    idf: Behaviour,
    tweak: impl FnOnce(&mut RequesterSettings),
) -> Stack {
    let dir = TempDir::new().unwrap();
    let clock = ManualClock::starting_at(SystemTime::now());
    let mut settings = RequesterSettings::for_dir("cnaf", "caf-13", dir.path());
    settings.broker = buses.teardown.clone().unwrap_or_else(bus_settings);
    settings.chunk_size = 2;
    tweak(&mut settings);
    let requester = Requester::build(settings, buses.requester, Arc::new(clock.clone())).unwrap();
    let (sud_est, c1) = FakeObservatory::start(SUD_EST, Arc::clone(&buses.sud_est), sud_est).await;
    let (idf, c2) = FakeObservatory::start(IDF, buses.idf, idf).await;
    Stack {
        dir,
        inproc: buses.inproc,
        sud_est_bus: buses.sud_est,
        teardown: buses.teardown,
        clock,
        requester,
        sud_est,
        idf,
        consumers: vec![c1, c2],
    }
}

impl Stack {
    fn request(&self, selection: &std::path::Path) -> SubmitRequest {
        SubmitRequest {
            selection: selection.to_owned(),
            encoding: Encoding::Utf8,
            wanted: catalogue::parse_list("family_situation,long_term_condition").unwrap(),
            service: passerelle_protocol::v1::OfferedService::PreventionWorkshop,
            purpose: "Atelier prévention des chutes".into(),
            respond_by: DEFAULT_RESPOND_BY,
            out: Some(self.dir.path().join("result")),
            strict: false,
        }
    }

    /// Submits, listens, waits for every case, writes the result: what `requester submit` does.
    async fn submit_and_wait(&self, request: &SubmitRequest) -> (Submitted, Vec<u64>) {
        let mut rejected = Vec::new();
        let hidden = ProgressBar::hidden();
        let submitted = self.requester.submit(request, &mut |r| rejected.push(r.line), &hidden).await.unwrap();
        let consumer = self.requester.listen().await.unwrap();
        let cases = tokio::time::timeout(WAIT, self.requester.wait_for_results(&submitted.case_ids(), &hidden, None))
            .await
            .expect("every case settles")
            .unwrap();
        assert!(cases.iter().all(|c| c.state.is_settled()));
        consumer.stop().await;
        (submitted, rejected)
    }

    fn csv(&self) -> (Vec<String>, Vec<Vec<String>>) {
        read_csv(&self.dir.path().join("result.csv"), b',')
    }

    fn bus(&self) -> &InProcessBus {
        self.inproc.as_ref().expect("an in-process stack")
    }

    async fn stop(self) {
        for c in self.consumers {
            c.stop().await;
        }
        if let Some(settings) = self.teardown {
            rabbit::delete_topology(settings).await;
        }
    }
}

fn read_csv(path: &std::path::Path, sep: u8) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::ReaderBuilder::new().delimiter(sep).from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = r.records().map(|rec| rec.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

fn col(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

async fn two_territories_make_two_cases_and_one_merged_list_with_names_joined_back_on(buses: Buses) {
    let s = stack_on(buses, answer(), answer(), |_| {}).await;
    let people =
        vec![person(0, MARSEILLE), person(1, PARIS), person(2, MARSEILLE), person(3, MARSEILLE), person(4, PARIS)];
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    let (submitted, rejected) = s.submit_and_wait(&s.request(&file)).await;
    assert!(rejected.is_empty());

    // Two cases, one per competent observatory.
    let mut cases: Vec<(String, u64)> = submitted.cases.iter().map(|(_, o, n)| (o.clone(), *n)).collect();
    cases.sort();
    assert_eq!(cases, vec![(SUD_EST.to_owned(), 3), (IDF.to_owned(), 2)]);
    // Chunked: 3 persons in chunks of 2 → 2 request chunks; 2 → 1.
    assert_eq!(s.sud_est.requests().len(), 2);
    assert_eq!(s.idf.requests().len(), 1);
    for r in s.sud_est.requests() {
        assert_eq!(
            (r.sender.as_str(), r.requester_office.as_str(), r.observatory.as_str()),
            ("cnaf", "caf-13", SUD_EST)
        );
        assert_eq!(r.chunk_count, 2);
        assert_eq!(r.purpose, "Atelier prévention des chutes");
        assert_eq!(r.basis, passerelle_protocol::v1::LegalBasis::Decree2017334Art3 as i32);
        assert_eq!(r.wanted, vec![Category::FamilySituation as i32, Category::LongTermCondition as i32]);
    }

    // One merged list, names and contacts joined back locally, ranked.
    let (written, summary) = s.requester.write_result(submitted.submission).unwrap();
    assert_eq!(written.persons, 5);
    let (header, rows) = s.csv();
    assert_eq!(
        header,
        [
            "nir",
            "family_name",
            "given_names",
            "sex",
            "birth_year",
            "commune_code",
            "postal_address",
            "email",
            "phone",
            "housing_aid",
            "family_situation",
            "family_situation__source",
            "long_term_condition",
            "long_term_condition__source",
            "status__cnam",
            "status__cnav",
            "status__msa",
            "score",
            "rank"
        ]
    );
    assert_eq!(rows.len(), 5);
    for p in &people {
        let row = rows.iter().find(|r| r[0] == nir(p.n)).expect("every person listed");
        assert_eq!((&row[1], &row[2], &row[7]), (&p.family, &p.given, &p.email));
        assert_eq!(row[col(&header, "family_situation")], "widowed");
        assert_eq!(row[col(&header, "family_situation__source")], "cnav");
        assert_eq!(row[col(&header, "status__msa")], "not_found");
        let cnam = if p.n % 2 == 0 { "found" } else { "not_found" };
        assert_eq!(row[col(&header, "status__cnam")], cnam);
    }
    // Persons 0 and 4 have a long-term condition (2) and are widowed (2): score 4, ranked first,
    // the tie broken by NIR.
    let ranks: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r[0].clone(), r[col(&header, "score")].clone(), r[col(&header, "rank")].clone()))
        .collect();
    assert_eq!(ranks[0], (nir(0), "4".into(), "1".into()));
    assert_eq!(ranks[1], (nir(4), "4".into(), "2".into()));
    assert_eq!(ranks.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(), ["1", "2", "3", "4", "5"]);

    // JSON Lines: the same, nested.
    let jsonl = std::fs::read_to_string(s.dir.path().join("result.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(jsonl.lines().next().unwrap()).unwrap();
    assert_eq!(first["rank"], 1);
    assert_eq!(first["selection"]["family_name"], "Zorglub0000");
    assert_eq!(first["categories"]["long_term_condition"]["value"], true);
    assert_eq!(first["categories"]["long_term_condition"]["sources"], serde_json::json!(["cnam"]));
    assert_eq!(first["status"]["cnam"], "found");

    // The summary: declines with their reasons, no NIR or name.
    let sidecar = std::fs::read_to_string(s.dir.path().join("result.summary.json")).unwrap();
    assert!(sidecar.contains("source_unavailable") && sidecar.contains("health extract not loaded"), "{sidecar}");
    for p in &people {
        assert!(!sidecar.contains(&nir(p.n)) && !sidecar.contains(&p.family));
    }
    assert_eq!(summary.cases.len(), 2);

    // Receipts: one per case, after its whole result (2 result chunks of 2 persons for 3).
    let sud_est_case = submitted.cases.iter().find(|(_, o, _)| o == SUD_EST).unwrap().0;
    eventually("the receipts", WAIT, || s.sud_est.receipts().len() == 1 && s.idf.receipts().len() == 1).await;
    let receipt = &s.sud_est.receipts()[0];
    assert_eq!(
        (receipt.case_id.clone(), receipt.chunks_received, receipt.sender.as_str()),
        (sud_est_case.to_string(), 2, "cnaf")
    );
    let case = s.requester.store().case(sud_est_case).unwrap().unwrap();
    assert_eq!(case.state, CaseState::Answered);
    assert!(case.receipt_sent_at.is_some());
    s.stop().await;
}

async fn requests_carry_no_names_addresses_emails_or_phones_on(buses: Buses) {
    let s = stack_on(buses, answer(), answer(), |_| {}).await;
    let mut people: Vec<P> = (0..6).map(|n| person(n, if n % 2 == 0 { MARSEILLE } else { PARIS })).collect();
    people[0].housing_aid = "oui";
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    s.submit_and_wait(&s.request(&file)).await;
    let raw: Vec<(Vec<u8>, v1::Request)> =
        s.sud_est.requests.lock().unwrap().iter().chain(s.idf.requests.lock().unwrap().iter()).cloned().collect();
    assert_eq!(raw.iter().map(|(_, r)| r.persons.len()).sum::<usize>(), 6);
    for (bytes, request) in &raw {
        for p in &people {
            for secret in [&p.family, &p.given, &p.address, &p.email, &p.phone] {
                assert!(!contains(bytes, secret.as_bytes()), "a request carries {secret:?}");
            }
        }
        for rp in &request.persons {
            // Only the fields the request needs: NIR, former NIRs, sex, birth year, commune, factors.
            let p = people.iter().find(|p| nir(p.n) == rp.nir).unwrap();
            assert_eq!((rp.sex, rp.birth_year, rp.commune_code.as_str()), (v1::Sex::Male as i32, 1950, p.commune));
            assert!(rp.former_nirs.is_empty());
            let factors = rp.known_risk_factors.clone().unwrap_or_default();
            assert_eq!(factors.housing_aid, if p.n == 0 { Some(true) } else { None });
        }
    }
    s.stop().await;
}

async fn bad_lines_are_reported_and_the_rest_processed_unless_strict_on(buses: Buses) {
    let s = stack_on(buses, answer(), answer(), |_| {}).await;
    let good = [person(0, MARSEILLE), person(1, PARIS)];
    let mut text = selection(&good);
    text.push_str("185037500100199,Nobody,Jean,M,1950,13055,,,,\n"); // line 4: bad NIR key
    text.push_str(&format!("{},Young,Jeanne,F,1990,13055,,,,\n", nir(7))); // line 5: under 55
    text.push_str(&format!("{},,Anne,F,1950,99999,,,,\n", nir(8))); // line 6: no name, bad commune
    let file = write(s.dir.path(), "selection.csv", text.as_bytes());

    // --strict: nothing stored, nothing sent.
    let mut strict = s.request(&file);
    strict.strict = true;
    let err = s.requester.submit(&strict, &mut |_| {}, &ProgressBar::hidden()).await.unwrap_err();
    assert!(err.to_string().contains("3 record(s) rejected and --strict"), "{err}");
    assert!(s.requester.store().cases().unwrap().is_empty());
    assert!(s.sud_est.requests().is_empty());

    let (submitted, rejected) = s.submit_and_wait(&s.request(&file)).await;
    assert_eq!(rejected, vec![4, 5, 6]);
    assert_eq!((submitted.selection.lines, submitted.selection.valid, submitted.selection.rejected), (5, 2, 3));
    let (_, summary) = s.requester.write_result(submitted.submission).unwrap();
    assert_eq!((summary.selection.lines, summary.selection.rejected, summary.persons_listed), (5, 3, 2));
    let (_, rows) = s.csv();
    let mut listed: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    listed.sort();
    assert_eq!(listed, vec![nir(0), nir(1)]);
    s.stop().await;
}

async fn refusals_are_shown_with_their_reasons_on(buses: Buses) {
    let refuse_two = Behaviour::RefuseSome {
        refuse: Arc::new(|p: &v1::RequestedPerson| {
            (n_of(&p.nir) == 2).then(|| v1::Problem { field: "birth_year".into(), reason: "aged 54 in 2025".into() })
        }),
        answers: default_answers(),
        bodies: default_bodies(),
    };
    let closed =
        Behaviour::RefuseCase(vec![v1::Problem { field: "respond_by".into(), reason: "beyond the 21-day cap".into() }]);
    let s = stack_on(buses, refuse_two, closed, |_| {}).await;
    let people = vec![person(0, MARSEILLE), person(1, PARIS), person(2, MARSEILLE)];
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    let (submitted, _) = s.submit_and_wait(&s.request(&file)).await;

    let states: Vec<(String, CaseState)> =
        s.requester.status().unwrap().into_iter().map(|(c, _)| (c.observatory, c.state)).collect();
    assert!(states.contains(&(SUD_EST.to_owned(), CaseState::Answered)), "{states:?}");
    assert!(states.contains(&(IDF.to_owned(), CaseState::Refused)), "{states:?}");

    let (written, summary) = s.requester.write_result(submitted.submission).unwrap();
    assert_eq!((written.persons, written.refused), (1, 2));
    let text = passerelle_requester::export::render_summary(&summary);
    assert!(text.contains("line 4 refused by the observatory: birth_year: aged 54 in 2025"), "{text}");
    assert!(text.contains("REFUSED the whole case") && text.contains("respond_by: beyond the 21-day cap"), "{text}");
    let sud = summary.cases.iter().find(|c| c.observatory == SUD_EST).unwrap();
    assert_eq!(sud.refused_persons.len(), 1);
    assert_eq!(sud.refused_persons[0].line, 4);
    let (_, rows) = s.csv();
    assert_eq!(rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), vec![nir(0)]);
    // Only the answered case is receipted.
    eventually("the receipt", WAIT, || s.sud_est.receipts().len() == 1).await;
    assert!(s.idf.receipts().is_empty());
    s.stop().await;
}

/// Person 1 is on RSA, person 2 has a long-term condition: which comes first is the weights'.
async fn first_with_weights(rsa: f64, ltc: f64) -> (String, Vec<String>) {
    let answers: Answers = Arc::new(|p: &v1::RequestedPerson| match n_of(&p.nir) {
        1 => vec![found("msa", |v| v.rsa = Some(true))],
        _ => vec![found("msa", |v| v.long_term_condition = Some(true))],
    });
    let bodies = vec![outcome("msa", &[Category::Rsa, Category::LongTermCondition], vec![])];
    let behaviour = Behaviour::Answer { answers, bodies, chunk: 10 };
    let s = stack(behaviour.clone(), behaviour, |settings| {
        settings.ranking.weights.insert("rsa".into(), rsa);
        settings.ranking.weights.insert("long_term_condition".into(), ltc);
    })
    .await;
    let file =
        write(s.dir.path(), "selection.csv", selection(&[person(1, MARSEILLE), person(2, MARSEILLE)]).as_bytes());
    let mut request = s.request(&file);
    request.wanted = vec![Category::LongTermCondition, Category::Rsa];
    let (submitted, _) = s.submit_and_wait(&request).await;
    s.requester.write_result(submitted.submission).unwrap();
    let (header, rows) = s.csv();
    let scores = rows.iter().map(|r| r[col(&header, "score")].clone()).collect();
    let first = rows[0][0].clone();
    s.stop().await;
    (first, scores)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranking_follows_the_configured_weights() {
    assert_eq!(first_with_weights(1.0, 5.0).await, (nir(2), vec!["5".into(), "1".into()]));
    assert_eq!(first_with_weights(5.0, 1.5).await, (nir(1), vec!["5".into(), "1.5".into()]));
    // Equal scores: the lower NIR first, whatever the file order.
    assert_eq!(first_with_weights(2.0, 2.0).await.0, nir(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spreadsheet_formulas_are_neutralised_in_csv() {
    let s = stack(answer(), answer(), |_| {}).await;
    let mut p = person(0, MARSEILLE);
    p.family = "=HYPERLINK(\"\"http://evil.invalid\"\")".into();
    p.given = "@SUM(A1:A9)".into();
    p.phone = "+33 6 12 34 56 78".into();
    p.address = "-1 rue".into();
    let mut text = selection(&[]);
    text.push_str(&format!(
        "{},\"{}\",{},M,1950,{},\"{}\",{},{},\n",
        nir(0),
        p.family,
        p.given,
        p.commune,
        p.address,
        p.email,
        p.phone
    ));
    let file = write(s.dir.path(), "selection.csv", text.as_bytes());
    let (submitted, rejected) = s.submit_and_wait(&s.request(&file)).await;
    assert!(rejected.is_empty(), "{rejected:?}");
    s.requester.write_result(submitted.submission).unwrap();
    let (header, rows) = s.csv();
    let row = &rows[0];
    assert_eq!(row[col(&header, "family_name")], "'=HYPERLINK(\"http://evil.invalid\")");
    assert_eq!(row[col(&header, "given_names")], "'@SUM(A1:A9)");
    assert_eq!(row[col(&header, "phone")], "'+33 6 12 34 56 78");
    assert_eq!(row[col(&header, "postal_address")], "'-1 rue");
    for cell in row {
        assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']), "{cell:?}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_windows_1252_semicolon_selection_gets_its_result_in_kind() {
    let s = stack(answer(), answer(), |_| {}).await;
    let mut p = person(0, MARSEILLE);
    p.family = "Hélène-Éloïse".into();
    let text = selection(&[p]).replace(',', ";");
    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&text);
    let file = write(s.dir.path(), "selection.csv", &bytes);
    let mut request = s.request(&file);
    request.encoding = Encoding::Windows1252;
    request.out = Some(s.dir.path().join("liste.csv"));
    let (submitted, _) = s.submit_and_wait(&request).await;
    let (written, _) = s.requester.write_result(submitted.submission).unwrap();
    assert_eq!(written.files.len(), 2, "only CSV and the summary for a .csv --out");
    let out = std::fs::read(s.dir.path().join("liste.csv")).unwrap();
    assert!(contains(&out, b"H\xe9l\xe8ne-\xc9lo\xefse"), "Windows-1252 bytes");
    assert!(contains(&out, b"nir;family_name;"), "semicolons");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_cases_are_dead_lettered_and_redeliveries_change_nothing() {
    let s = stack(answer(), Behaviour::Silent, |_| {}).await;
    let file = write(s.dir.path(), "selection.csv", selection(&[person(0, MARSEILLE)]).as_bytes());
    let (submitted, _) = s.submit_and_wait(&s.request(&file)).await;
    let case_id = submitted.cases[0].0;
    eventually("the receipt", WAIT, || s.sud_est.receipts().len() == 1).await;

    let consumer = s.requester.listen().await.unwrap();
    let obs = Arc::clone(&s.sud_est_bus);
    let result = |case: String, sender: &str| v1::Result {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: SCHEMA_VERSION,
        sender: sender.into(),
        case_id: case,
        chunk_index: 0,
        chunk_count: 1,
        completeness: v1::Completeness::Complete as i32,
        bodies: default_bodies(),
        persons: vec![v1::ResultPerson { nir: nir(0), answers: vec![not_found("cnam")] }],
    };
    let expires = SystemTime::now() + Duration::from_secs(600);
    let unknown = uuid::Uuid::now_v7().to_string();
    obs.publish(vec![
        // A redelivered chunk of a stored result: acked, changes nothing, no second receipt.
        Outgoing::new(Message::Result(result(case_id.to_string(), SUD_EST)), "cnaf", expires),
        // A case this store never sent.
        Outgoing::new(Message::Result(result(unknown.clone(), SUD_EST)), "cnaf", expires),
        // A result for our case from an observatory it was not sent to.
        Outgoing::new(Message::Result(result(case_id.to_string(), IDF)), "cnaf", expires),
    ])
    .await
    .unwrap();
    eventually("two dead-letters", WAIT, || s.bus().dead_letters().len() == 2).await;
    let reasons: Vec<String> = s.bus().dead_letters().into_iter().map(|d| d.reason).collect();
    assert!(reasons[0].contains(&unknown) && reasons[0].contains("unknown"), "{reasons:?}");
    assert!(reasons[1].contains("was sent to observatory carsat-sud-est, not cnav-idf"), "{reasons:?}");
    consumer.stop().await;
    assert_eq!(s.sud_est.receipts().len(), 1);
    s.requester.write_result(submitted.submission).unwrap();
    let (header, rows) = s.csv();
    // Still the first result's answers (cnam found person 0), not the redelivered copy's.
    assert_eq!(rows[0][col(&header, "status__cnam")], "found");
    s.stop().await;
}

async fn the_daemon_receives_detached_submissions_and_fetch_writes_a_case_again_on(buses: Buses) {
    let s = stack_on(buses, answer(), answer(), |_| {}).await;
    let people = vec![person(0, MARSEILLE), person(1, PARIS)];
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    let mut request = s.request(&file);
    request.out = None;
    // `submit --detach`: send and return.
    let submitted = s.requester.submit(&request, &mut |_| {}, &ProgressBar::hidden()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let daemon = {
        let r = s.requester.clone();
        tokio::spawn(async move { r.run_until_stopped(async { stopped.await.unwrap_or(()) }).await })
    };
    let out_dir = s.requester.settings().out_dir.clone();
    let csv_path = out_dir.join(format!("{}.csv", submitted.submission));
    eventually("the daemon's result file", WAIT, || csv_path.exists()).await;
    eventually("the receipts", WAIT, || s.sud_est.receipts().len() == 1 && s.idf.receipts().len() == 1).await;
    stop.send(()).unwrap();
    daemon.await.unwrap().unwrap();
    let (_, rows) = read_csv(&csv_path, b',');
    assert_eq!(rows.len(), 2);

    // `requester fetch CASE`: that case only.
    let paris_case = submitted.cases.iter().find(|(_, o, _)| o == IDF).unwrap().0;
    let (written, _) = s.requester.write_case(paris_case, None).unwrap();
    assert_eq!(written.persons, 1);
    let (_, rows) = read_csv(&out_dir.join(format!("{paris_case}.csv")), b',');
    assert_eq!(rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(), vec![nir(1)]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_of_a_case_is_purged_at_24_months_and_unreadable_on_disk() {
    let s = stack(answer(), Behaviour::Silent, |_| {}).await;
    let people: Vec<P> = (0..20).map(|n| person(n, MARSEILLE)).collect();
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    let (submitted, _) = s.submit_and_wait(&s.request(&file)).await;
    let (written, _) = s.requester.write_result(submitted.submission).unwrap();
    let data_dir = s.requester.settings().data_dir.clone();
    let secrets: Vec<Vec<u8>> = people
        .iter()
        .flat_map(|p| {
            [
                nir(p.n).into_bytes(),
                p.family.clone().into_bytes(),
                p.email.clone().into_bytes(),
                p.phone.clone().into_bytes(),
            ]
        })
        .collect();
    let found_before = store_bytes(&data_dir).iter().any(|(_, bytes)| contains(bytes, &secrets[0]));
    assert!(found_before, "the scan must see the data before the purge, or it proves nothing");

    // One day short of 24 months: nothing goes.
    s.clock.advance(days(729));
    assert!(s.requester.purge().unwrap().submissions.is_empty());
    assert!(written.files.iter().all(|f| f.exists()));
    // 24 months: everything of the case goes, result files included.
    s.clock.advance(days(2));
    let purge = s.requester.purge().unwrap();
    assert_eq!(purge.submissions.iter().map(|p| p.id).collect::<Vec<_>>(), vec![submitted.submission]);
    assert!(purge.submissions[0].persons > 0 && purge.submissions[0].cases > 0, "{purge:?}");
    for f in &written.files {
        assert!(!f.exists(), "{} survived the purge", f.display());
    }
    for (name, bytes) in store_bytes(&data_dir) {
        for secret in &secrets {
            assert!(!contains(&bytes, secret), "{name} still holds {:?}", String::from_utf8_lossy(secret));
        }
    }
    let (case, _) = &s.requester.status().unwrap()[0];
    assert_eq!(case.state, CaseState::Purged);
    // A late copy of the result for the purged case is acknowledged and dropped.
    let consumer = s.requester.listen().await.unwrap();
    let obs = Arc::clone(&s.sud_est_bus);
    let late = v1::Result {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: SCHEMA_VERSION,
        sender: SUD_EST.into(),
        case_id: case.id.to_string(),
        chunk_index: 0,
        chunk_count: 10,
        completeness: v1::Completeness::Complete as i32,
        bodies: vec![],
        persons: vec![v1::ResultPerson { nir: nir(0), answers: vec![] }],
    };
    obs.publish(vec![Outgoing::new(Message::Result(late), "cnaf", SystemTime::now() + Duration::from_secs(60))])
        .await
        .unwrap();
    let results = passerelle_bus::Queue::BodyResults("cnaf".into());
    eventually("the late copy consumed", WAIT, || s.bus().ready(&results) == 0).await;
    consumer.stop().await;
    assert!(s.bus().dead_letters().is_empty());
    for (name, bytes) in store_bytes(&data_dir) {
        assert!(!contains(&bytes, &secrets[0]), "{name} holds a NIR again");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lower_configured_retention_purges_earlier() {
    let s = stack(answer(), Behaviour::Silent, |settings| settings.retention_days = 90).await;
    let file = write(s.dir.path(), "selection.csv", selection(&[person(0, MARSEILLE)]).as_bytes());
    let (submitted, _) = s.submit_and_wait(&s.request(&file)).await;
    s.clock.advance(days(89));
    assert!(s.requester.purge().unwrap().submissions.is_empty());
    s.clock.advance(days(1));
    let purge = s.requester.purge().unwrap();
    assert_eq!(purge.submissions.iter().map(|p| p.id).collect::<Vec<_>>(), vec![submitted.submission]);
    assert!(purge.submissions[0].persons > 0 && purge.submissions[0].cases > 0, "{purge:?}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_territories_make_two_cases_and_one_merged_list_with_names_joined_back() {
    two_territories_make_two_cases_and_one_merged_list_with_names_joined_back_on(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_territories_make_two_cases_and_one_merged_list_with_names_joined_back_over_rabbitmq() {
    if let Some(buses) = rabbit::buses().await {
        two_territories_make_two_cases_and_one_merged_list_with_names_joined_back_on(buses).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_no_names_addresses_emails_or_phones() {
    requests_carry_no_names_addresses_emails_or_phones_on(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_no_names_addresses_emails_or_phones_over_rabbitmq() {
    if let Some(buses) = rabbit::buses().await {
        requests_carry_no_names_addresses_emails_or_phones_on(buses).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_reported_and_the_rest_processed_unless_strict() {
    bad_lines_are_reported_and_the_rest_processed_unless_strict_on(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_lines_are_reported_and_the_rest_processed_unless_strict_over_rabbitmq() {
    if let Some(buses) = rabbit::buses().await {
        bad_lines_are_reported_and_the_rest_processed_unless_strict_on(buses).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_shown_with_their_reasons() {
    refusals_are_shown_with_their_reasons_on(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_shown_with_their_reasons_over_rabbitmq() {
    if let Some(buses) = rabbit::buses().await {
        refusals_are_shown_with_their_reasons_on(buses).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_receives_detached_submissions_and_fetch_writes_a_case_again() {
    the_daemon_receives_detached_submissions_and_fetch_writes_a_case_again_on(in_process()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_receives_detached_submissions_and_fetch_writes_a_case_again_over_rabbitmq() {
    if let Some(buses) = rabbit::buses().await {
        the_daemon_receives_detached_submissions_and_fetch_writes_a_case_again_on(buses).await;
    }
}

/// The same stacks over the real RabbitMQ (`PASSERELLE_TEST_AMQP_URL`): a name prefix of their
/// own, the topology declared by the observatories' connections, deleted at the end.
mod rabbit {
    use super::*;
    use passerelle_bus::{AmqpBus, Role};

    pub use passerelle_test_support::amqp_url;

    pub async fn buses() -> Option<Buses> {
        if !passerelle_test_support::broker_reachable_or_skip(&amqp_url()) {
            return None;
        }
        let settings = BusSettings {
            urls: vec![amqp_url()],
            prefix: passerelle_test_support::unique_name("test-requester"),
            ..bus_settings()
        };
        // The observatories declare the topology; the body only checks its queues exist.
        let sud_est = AmqpBus::connect(&settings, Role::Observatory(SUD_EST.into())).await.unwrap();
        let idf = AmqpBus::connect(&settings, Role::Observatory(IDF.into())).await.unwrap();
        let requester = AmqpBus::connect(&settings, Role::Body("cnaf".into())).await.unwrap();
        Some(Buses {
            requester: Arc::new(requester),
            sud_est: Arc::new(sud_est),
            idf: Arc::new(idf),
            inproc: None,
            teardown: Some(settings),
        })
    }

    /// Deletes every queue and exchange of the test's deployment.
    pub async fn delete_topology(settings: BusSettings) {
        passerelle_bus::amqp::delete_topology(&settings).await.expect("the test's topology is deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_selection_goes_in_default_sized_chunks_and_comes_back_whole() {
    const PERSONS: u32 = 3_000;
    let s = stack(
        Behaviour::Answer { answers: default_answers(), bodies: default_bodies(), chunk: 1000 },
        answer(),
        |settings| settings.chunk_size = passerelle_protocol::rules::DEFAULT_CHUNK_SIZE,
    )
    .await;
    let people: Vec<P> = (0..PERSONS).map(|n| person(n, MARSEILLE)).collect();
    let file = write(s.dir.path(), "selection.csv", selection(&people).as_bytes());
    let started = std::time::Instant::now();
    let (submitted, _) = s.submit_and_wait(&s.request(&file)).await;
    let (written, _) = s.requester.write_result(submitted.submission).unwrap();
    eprintln!("{PERSONS} persons submitted, answered and written in {:?}", started.elapsed());
    let chunks: Vec<(u32, usize)> = s.sud_est.requests().iter().map(|r| (r.chunk_count, r.persons.len())).collect();
    assert_eq!(chunks, vec![(3, 1000), (3, 1000), (3, 1000)]);
    assert_eq!(written.persons, u64::from(PERSONS));
    let (_, rows) = s.csv();
    assert_eq!(rows.len(), PERSONS as usize);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_territory_the_deployment_does_not_reach_stops_the_submission_before_anything_is_sent() {
    let s = stack(answer(), answer(), |settings| settings.broker.observatories = vec![SUD_EST.into()]).await;
    let file = write(s.dir.path(), "selection.csv", selection(&[person(0, MARSEILLE), person(1, PARIS)]).as_bytes());
    let err = s.requester.submit(&s.request(&file), &mut |_| {}, &ProgressBar::hidden()).await.unwrap_err();
    assert!(err.to_string().contains("1 person(s) for cnav-idf, which this deployment does not reach"), "{err}");
    assert!(s.requester.store().cases().unwrap().is_empty());
    assert!(s.sud_est.requests().is_empty());
    s.stop().await;
}

/// Issue 28's rules at submission, on the requester's clock: a person counts as 55 only from the
/// last day of their NIR's birth month (December when the NIR gives none) on the day of
/// submission in Paris; a known risk factor outside the requester's branch (the CAF here) and a
/// hospital stay older than twelve months are line problems; the request carries the service's
/// code beside its words.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_counts_ages_to_the_nir_month_on_its_day_and_sends_the_service_code() {
    use chrono::{Datelike, Months, NaiveDate};
    use passerelle_protocol::rules::Clock;
    use passerelle_test_support::nir_with_key;
    let s = stack(answer(), answer(), |_| {}).await;
    let paris = passerelle_protocol::calendar::LegalCalendar::default();
    let today = paris.date_of(s.clock.now());
    // Born in the month after today's, 55 years before: 55 only from that month's last day.
    let next = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap() + Months::new(1);
    let aged_55_from = next + Months::new(1) - chrono::Days::new(1);
    let (year, month) = (next.year() - 55, next.month());
    let turning = nir_with_key(&format!("2{:02}{month:02}75123{:03}", year % 100, 1));
    let fictitious = nir_with_key(&format!("2{:02}5075123{:03}", (today.year() - 55) % 100, 2));
    let header = "nir,family_name,given_names,sex,birth_year,commune_code,survivor_pension";
    let text = format!(
        "{header}\n{turning},Martin,Anne,F,{year},13055,\n{fictitious},Martin,Zoé,F,{},13055,\n{},Durand,Jean,M,1950,13055,oui\n{},Petit,Luc,M,1950,13055,\n",
        today.year() - 55,
        nir(3),
        nir(4)
    );
    let file = write(s.dir.path(), "selection.csv", text.as_bytes());
    let mut rejected = Vec::new();
    let submitted = s
        .requester
        .prepare(&s.request(&file), &mut |r| {
            rejected.push((r.line, r.problems[0].field, r.problems[0].reason.to_string()))
        })
        .unwrap();
    let lines: Vec<u64> = rejected.iter().map(|r| r.0).collect();
    let fictitious_rejected = today.month() != 12 || today.day() != 31;
    let expected: Vec<u64> = [Some(2), fictitious_rejected.then_some(3), Some(4)].into_iter().flatten().collect();
    assert_eq!(lines, expected, "{rejected:?}");
    assert_eq!(rejected[0].1, Some("birth_year"));
    assert!(rejected[0].2.contains(&format!("only from {aged_55_from}")), "{rejected:?}");
    let branch = rejected.last().unwrap();
    assert_eq!(branch.1, Some("survivor_pension"));
    assert!(branch.2.contains("the cnaf branch"), "{rejected:?}");
    assert_eq!(submitted.selection.valid, 4 - expected.len() as u64);

    // On the last day of that month (Paris), the same person goes.
    let days = (aged_55_from - today).num_days() as u64;
    // Two hours more: a change to or from summer time on the way cannot leave it a day short.
    s.clock.advance(Duration::from_secs(days * 86_400 + 2 * 3600));
    let mut rejected = Vec::new();
    let submitted = s.requester.prepare(&s.request(&file), &mut |r| rejected.push(r.line)).unwrap();
    assert!(!rejected.contains(&2), "{rejected:?}");
    s.requester.send(&submitted.case_ids(), &ProgressBar::hidden()).await.unwrap();
    let request =
        passerelle_test_support::eventually("the request at the observatory", || s.sud_est.requests().pop()).await;
    assert_eq!(request.service, v1::OfferedService::PreventionWorkshop as i32);
    assert_eq!(request.purpose, "Atelier prévention des chutes");
    s.stop().await;
}
