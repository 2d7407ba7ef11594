//! The steering statistics through the local API (a real Unix socket), on a manual clock:
//! files opened in January and February, some closed in February; each month anonymised into
//! `steering.db` once it is over; the table a `statistics-agent` reads (and only it) shows the
//! right counts and no cell from 1 to 10; `steering.db` holds no NIR, no name, no file id.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use passerelle_agents::{Agent, Registry, Role};
use passerelle_local_api::{ApiServer, Client, ClientError, KeptAccesses, RegistryHandle};
use passerelle_protocol::nir;
use passerelle_protocol::rules::ManualClock;
use passerelle_social_service::api::routes;
use passerelle_social_service::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer, OUTCOME_FORMAT};
use passerelle_social_service::service::views::{CloseRequest, ContactRequest, FileList};
use passerelle_social_service::{SocialService, SocialServiceSettings};
use passerelle_social_stats::{audit, CellKey, Level, Measure, Month, Slot, Table, Value};
use tempfile::TempDir;

const BODY: &str = "carsat-sud-est";
const OFFICE: &str = "ss-13";
const CASE: &str = "0190a3b4-0000-7000-8000-000000000001";
const DAY: Duration = Duration::from_secs(86_400);

fn registry(id: &str, role: Role) -> Registry {
    let account = passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name");
    Registry::from_agents([Agent {
        account,
        id: id.into(),
        name: "Agent Test".into(),
        roles: BTreeSet::from([role]),
        office: Some(OFFICE.into()),
    }])
}

struct Daemon {
    _dir: TempDir,
    clock: ManualClock,
    service: SocialService,
    registry: RegistryHandle,
    client: Client,
    _server: ApiServer,
    /// Synthetic persons opened so far (their NIRs and names, for the scan).
    persons: Vec<(String, String)>,
    files: Vec<String>,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = TempDir::new().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z").unwrap();
        let clock = ManualClock::starting_at(at.into());
        let settings =
            SocialServiceSettings::for_dir(BODY, OFFICE, dir.path(), &dir.path().join("none.sock"), "cpam-13");
        let service = SocialService::build(settings, Arc::new(clock.clone())).unwrap();
        let registry = RegistryHandle::fixed(registry("stat-1", Role::StatisticsAgent));
        let socket = dir.path().join("run").join("social-service.sock");
        let server =
            ApiServer::start(&socket, routes(service.clone()), registry.clone(), Arc::new(KeptAccesses::default()))
                .unwrap();
        let client = Client::new(&socket);
        Daemon { _dir: dir, clock, service, registry, client, _server: server, persons: Vec::new(), files: Vec::new() }
    }

    /// An outcome recorded at the requester, applied here as the API's outcome path does.
    fn outcome(&mut self, outcome: Outcome) -> Option<String> {
        let n = self.persons.len();
        let person = (outcome == Outcome::Accepted).then(|| {
            let nir = nir::with_key(&format!("2500175120{:03}", n + 1)).unwrap().as_str().to_owned();
            // Letters only: a name has no digit (`a` for 0, `b` for 1…).
            let suffix: String = format!("{n:03}").bytes().map(|b| (b'a' + b - b'0') as char).collect();
            let name = format!("Statistica{suffix}");
            self.persons.push((nir.clone(), name.clone()));
            AcceptedPerson {
                nir,
                former_nirs: vec![],
                family_name: name,
                usage_name: None,
                given_names: "Alix".into(),
                sex: Some("female".into()),
                birth_year: Some(1950),
                commune_code: None,
                postal_address: Some("3 rue des Essais\n13001 Marseille".into()),
                email: None,
                phone: None,
                values: BTreeMap::new(),
            }
        });
        let answer = OutcomeAnswer {
            format: OUTCOME_FORMAT.into(),
            office: "cpam-13".into(),
            case: CASE.parse().unwrap(),
            line: 1 + n as u64,
            outcome,
            date: "2026-01-05".into(),
            agent: "sw-1".into(),
            person,
        };
        let file = self.service.apply_outcome("sw-1", &answer).unwrap().file;
        self.files.extend(file.clone());
        file
    }

    async fn stats(&self, query: &str) -> Result<Table, ClientError> {
        self.client.get_json(&format!("/v1/stats{query}")).await
    }

    fn be(&self, id: &str, role: Role) {
        self.registry.replace(registry(id, role));
    }
}

fn status(e: &ClientError) -> u16 {
    match e {
        ClientError::Refused { status, .. } => *status,
        other => panic!("not a refusal: {other}"),
    }
}

fn cell(level: Level, month: &str, measure: Measure, category: &'static str) -> CellKey {
    let unit = if level == Level::Office { OFFICE } else { BODY };
    let slot = Slot::parse(month).unwrap();
    CellKey { level, unit: unit.into(), slot, measure, category }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn months_are_anonymised_once_over_and_a_statistics_agent_reads_the_suppressed_table() {
    let mut d = Daemon::start();
    // January: 15 persons accept, 12 decline; 3 of the files get a contact (an action starts).
    for _ in 0..15 {
        d.outcome(Outcome::Accepted).unwrap();
    }
    for _ in 0..12 {
        d.outcome(Outcome::Declined);
    }
    for file in d.files.clone().iter().take(3) {
        d.service.contact("sw-1", file, &ContactRequest { channel: "visit".into(), date: None }).unwrap();
    }
    let Err(e) = d.stats("").await else { panic!("no month is anonymised yet") };
    assert!(e.to_string().contains("no month anonymised yet"), "{e}");
    assert_eq!(d.service.anonymise_closed_months().unwrap(), [Month::parse("2025-12").unwrap()]);
    let december = d.stats("").await.unwrap();
    assert_eq!(december.structure().to.to_string(), "2025-12", "December is done (empty); January is not over");
    let Err(e) = d.stats("?to=2026-01").await else { panic!("January is not over") };
    assert!(e.to_string().contains("to: the last month anonymised is 2025-12"), "{e}");

    // February: 12 more accept; 13 January files are closed.
    d.clock.advance(31 * DAY);
    for _ in 0..12 {
        d.outcome(Outcome::Accepted).unwrap();
    }
    for file in d.files.clone().iter().take(13) {
        d.service.close("sw-1", file, &CloseRequest { date: None }).unwrap();
    }
    d.service.housekeeping().unwrap();
    assert!(d.service.anonymise_closed_months().unwrap().is_empty(), "January is done once");
    let january = d.stats("?from=2026-01").await.unwrap();
    let get = |t: &Table, level, month, measure, category| t.get(&cell(level, month, measure, category)).unwrap();
    assert_eq!(get(&january, Level::Office, "2026-01", Measure::FilesOpened, "total"), Value::Exact(15));
    assert_eq!(get(&january, Level::Body, "2026-01", Measure::FilesOpened, "female"), Value::Exact(15));
    assert_eq!(get(&january, Level::Office, "2026-01", Measure::OfferOutcomes, "declined"), Value::Exact(12));
    assert_eq!(get(&january, Level::Office, "2026-01", Measure::OfferOutcomes, "total"), Value::Exact(27));
    assert_eq!(get(&january, Level::Office, "2026-01", Measure::ActionsStarted, "none"), Value::Hidden, "3 persons");
    assert_eq!(get(&january, Level::Office, "2026-01", Measure::FilesClosed, "total"), Value::Exact(0));
    assert!(audit(&january).is_safe(), "{:?}", audit(&january));

    // March: February is anonymised; the two months together.
    d.clock.advance(28 * DAY);
    d.service.housekeeping().unwrap();
    let both = d.stats("?from=2026-01&to=2026-02").await.unwrap();
    assert_eq!(get(&both, Level::Office, "2026-02", Measure::FilesOpened, "total"), Value::Exact(12));
    assert_eq!(get(&both, Level::Office, "all", Measure::FilesOpened, "total"), Value::Exact(27));
    assert_eq!(get(&both, Level::Body, "2026-02", Measure::FilesClosed, "under-3-months"), Value::Exact(13));
    assert_eq!(get(&both, Level::Office, "2026-02", Measure::OfferOutcomes, "accepted"), Value::Exact(12));
    assert_eq!(get(&both, Level::Office, "all", Measure::ActionsEnded, "total"), Value::Hidden, "3 actions ended");
    let report = audit(&both);
    assert!(report.is_safe(), "{report:?}");
    for (key, value) in both.cells() {
        assert!(!matches!(value, Value::Exact(1..=10)), "{key} shows a count from 1 to 10");
    }
    let default = d.stats("").await.unwrap();
    assert_eq!(
        (default.structure().from.to_string(), default.structure().to.to_string()),
        ("2025-03".into(), "2026-02".into())
    );
    let Err(e) = d.stats("?from=2026-1").await else { panic!("not a month") };
    assert!(e.to_string().contains("from: a month YYYY-MM"), "{e}");

    // steering.db: counts only.
    let mut bytes = Vec::new();
    for name in ["steering.db", "steering.db-wal"] {
        bytes.extend(std::fs::read(d.service.data_dir().join(name)).unwrap_or_default());
    }
    assert!(contains(&bytes, "files-opened"), "the scan sees the counts");
    for (nir, name) in &d.persons {
        assert!(!contains(&bytes, nir) && !contains(&bytes, name), "no NIR, no name in steering.db");
    }
    for file in &d.files {
        assert!(!contains(&bytes, file), "no file id in steering.db");
    }
    assert!(!contains(&bytes, "Alix") && !contains(&bytes, "Essais"));
}

#[tokio::test]
async fn only_a_statistics_agent_reads_the_table_and_it_reads_nothing_else() {
    let mut d = Daemon::start();
    d.outcome(Outcome::Accepted).unwrap();
    d.clock.advance(31 * DAY);
    d.service.housekeeping().unwrap();
    assert!(d.stats("").await.is_ok());
    assert_eq!(status(&d.client.get_json::<FileList>("/v1/files").await.unwrap_err()), 403);
    for role in [Role::SocialWorker, Role::RightsOfficer, Role::Operator, Role::Auditor] {
        d.be("other-1", role);
        assert_eq!(status(&d.stats("").await.unwrap_err()), 403, "{role:?}");
    }
    let log = d.service.accesses().log();
    let kinds: Vec<(String, String)> = log
        .years()
        .unwrap()
        .into_iter()
        .flat_map(|y| log.entries(y, 0, 1000).unwrap())
        .filter(|e| e.object == "steering-statistics")
        .map(|e| (e.agent, e.kind.to_string()))
        .collect();
    assert_eq!(kinds, [("agent:stat-1".to_owned(), "export".to_owned())], "the reading is in the access log");
}
