//! The retention of case files on a settable clock (norm 43, DESIGN §7.2): a file's whole life
//! — open, action, end, 18 months, archive, 3 years, gone — the two kinds of opposition, a
//! pending objection that waits, an idle action flagged then closed. After each step a forensic
//! scan of every file of `data_dir` and `archive_dir` (the `-wal` included) looks for the
//! file's NIR and family name where they must not be. Synthetic persons only.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_agents::{Agent, Registry, Role};
use passerelle_local_api::{ApiServer, Client, ClientError, KeptAccesses, RegistryHandle};
use passerelle_protocol::nir;
use passerelle_protocol::rules::{Clock, ManualClock};
use passerelle_social_service::api::routes;
use passerelle_social_service::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer};
use passerelle_social_service::service::opposition::{DecideRequest, Held, OPPOSED};
use passerelle_social_service::service::retention_flagged::{Fate, FlagReason, FlaggedList, FLAGGED_FORMAT};
use passerelle_social_service::service::views::{ActionRequest, CloseRequest, ContactRequest};
use passerelle_social_service::store::{Decision, FileState, RightKind};
use passerelle_social_service::{RetentionReport, SocialService, SocialServiceError, SocialServiceSettings};
use tempfile::TempDir;

const WORKER: &str = "sw-1";
const OFFICER: &str = "ro-1";
const DIRECTOR: &str = "dd-1";

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// A synthetic person: a NIR with a valid key and a family name no other text holds.
struct Person {
    nir: String,
    name: &'static str,
}

fn person(n: u32, name: &'static str) -> Person {
    Person { nir: nir::with_key(&format!("18405751{n:05}")).unwrap().as_str().to_owned(), name }
}

struct Setup {
    /// Holds data_dir and archive_dir until the test ends.
    _dir: TempDir,
    clock: ManualClock,
    service: SocialService,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let settings = SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), dir.path(), "cpam-13");
        // 2026-01-15 12:00 UTC: the middle of a day in Europe/Paris.
        let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_478_400));
        let service = SocialService::build(settings, Arc::new(clock.clone())).unwrap();
        Setup { _dir: dir, clock, service }
    }

    /// Opens the person's file as an accepted offer does.
    fn open(&self, p: &Person) -> String {
        let view = self.service.apply_outcome(WORKER, &self.accepted(p)).unwrap();
        view.file.unwrap()
    }

    fn accepted(&self, p: &Person) -> OutcomeAnswer {
        OutcomeAnswer {
            format: "passerelle.requester-offer-outcome/1".into(),
            office: "cpam-13".into(),
            case: "0190a3b4-0000-7000-8000-000000000001".parse().unwrap(),
            line: 1,
            outcome: Outcome::Accepted,
            date: "2026-01-15".into(),
            agent: WORKER.into(),
            person: Some(AcceptedPerson {
                nir: p.nir.clone(),
                former_nirs: vec![],
                family_name: p.name.into(),
                usage_name: None,
                given_names: "Alix".into(),
                sex: Some("female".into()),
                birth_year: Some(1950),
                commune_code: Some("13055".into()),
                postal_address: None,
                email: None,
                phone: None,
                values: Default::default(),
            }),
        }
    }

    /// An action with a contact, ended today.
    fn follow_and_close(&self, id: &str) {
        self.service.contact(WORKER, id, &ContactRequest { channel: "phone".into(), date: None }).unwrap();
        self.service.close(WORKER, id, &CloseRequest { date: None }).unwrap();
    }

    fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }

    fn archive_dir(&self) -> std::path::PathBuf {
        self.service.settings().archive_dir()
    }

    /// Where the person's NIR or family name is found on disk: `(folder, file)` for each file
    /// of data_dir and archive_dir (every file, -wal and -shm included) that holds either.
    fn found(&self, p: &Person) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (label, dir) in [("data", self.service.data_dir().to_owned()), ("archive", self.archive_dir())] {
            for (name, bytes) in files_in(&dir) {
                if contains(&bytes, p.nir.as_bytes()) || contains(&bytes, p.name.as_bytes()) {
                    out.push((label.to_owned(), name));
                }
            }
        }
        out
    }

    /// Nothing of the person on disk, in either store.
    fn assert_gone(&self, p: &Person) {
        assert_eq!(self.found(p), Vec::<(String, String)>::new(), "{} found on disk", p.name);
    }

    /// The person in the live store only.
    fn assert_live(&self, p: &Person) {
        let found = self.found(p);
        assert!(found.iter().any(|(d, _)| d == "data"), "{found:?}");
        assert!(found.iter().all(|(d, _)| d == "data"), "{found:?}");
    }

    /// The person nowhere in the live store (in the archive is expected: it may hold it).
    fn assert_not_live(&self, p: &Person) {
        let found = self.found(p);
        assert!(found.iter().all(|(d, _)| d == "archive"), "{found:?}");
    }

    /// Every entry of the access log: (agent, kind, object).
    fn log(&self) -> Vec<(String, String, String)> {
        let log = self.service.accesses().log();
        log.years()
            .unwrap()
            .into_iter()
            .flat_map(|y| log.entries(y, 0, 1000).unwrap())
            .map(|e| (e.agent, e.kind.to_string(), e.object))
            .collect()
    }

    /// The `delete` entries of the daemon about the file.
    fn deletes(&self, id: &str) -> usize {
        self.log()
            .iter()
            .filter(|(agent, kind, object)| agent == "daemon:social-service" && kind == "delete" && object == id)
            .count()
    }

    fn decide(
        &self,
        id: &str,
        decision: Decision,
        reason: Option<&str>,
    ) -> Result<passerelle_social_service::service::opposition::DecisionView, SocialServiceError> {
        self.service.rights_decide(DIRECTOR, id, &DecideRequest { decision, reason: reason.map(str::to_owned) })
    }
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            for (name, bytes) in files_in(&path) {
                out.push((format!("{}/{name}", entry.file_name().to_string_lossy()), bytes));
            }
        } else {
            out.push((entry.file_name().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn a_file_lives_18_months_then_3_years_in_the_archive_then_is_gone() {
    let s = Setup::new();
    let p = person(1, "Oublianta");
    let id = s.open(&p);
    s.follow_and_close(&id);
    s.assert_live(&p);

    // 17 months after the end: still live.
    s.advance(days(17 * 31));
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.archived, report.erased), (0, 0), "{report:?}");
    s.assert_live(&p);
    assert_eq!(s.service.store().file(&id).unwrap().unwrap().state, FileState::Closed);

    // 18 months and a few days: in the archive, gone from the live store.
    s.advance(days(30));
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.archived, report.erased), (1, 0), "{report:?}");
    assert!(s.service.store().file(&id).unwrap().is_none());
    assert!(s.service.archive().contains(&id).unwrap());
    s.assert_not_live(&p);
    // A second pass (a replay) changes nothing.
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.archived, report.erased, report.archive_erased), (0, 0, 0), "{report:?}");

    // 3 years later: gone from the archive too.
    s.advance(days(2 * 365));
    assert_eq!(s.service.retention_pass().unwrap().archive_erased, 0);
    assert!(s.service.archive().contains(&id).unwrap());
    s.advance(days(367));
    assert_eq!(s.deletes(&id), 1, "the live store's erasure, recorded");
    let report = s.service.retention_pass().unwrap();
    assert_eq!(report.archive_erased, 1, "{report:?}");
    assert!(!s.service.archive().contains(&id).unwrap());
    assert_eq!(s.deletes(&id), 2, "the archive's erasure has its own entry");
    s.assert_gone(&p);
}

#[test]
fn an_upheld_objection_erases_the_file_at_once_and_no_new_offer_opens_one() {
    let s = Setup::new();
    let p = person(2, "Objectora");
    let keep = person(3, "Restanta");
    let id = s.open(&p);
    let other = s.open(&keep);
    s.service.contact(WORKER, &id, &ContactRequest { channel: "visit".into(), date: None }).unwrap();
    s.service.rights_object(OFFICER, &id, "Ne souhaite plus être suivie.").unwrap();

    let view = s.decide(&id, Decision::Upheld, None).unwrap();
    assert!(view.erased);
    assert_eq!(view.held, Held::Live);
    assert!(s.service.store().file(&id).unwrap().is_none());
    assert!(s.service.store().rights(&id).unwrap().is_empty());
    s.assert_gone(&p);
    s.assert_live(&keep);
    assert!(s.service.store().file(&other).unwrap().is_some());

    // No new offer: an acceptance for the person opens no file, and says why.
    let e = s.service.apply_outcome(WORKER, &s.accepted(&p)).unwrap_err();
    assert!(e.to_string().contains(OPPOSED), "{e}");
    s.assert_gone(&p);
    // A second decision finds nothing pending.
    assert!(matches!(s.decide(&id, Decision::Upheld, None), Err(SocialServiceError::NoFile(_))));
}

#[test]
fn a_decision_needs_a_pending_objection_and_a_refusal_its_reason() {
    let s = Setup::new();
    let p = person(4, "Decidora");
    let id = s.open(&p);
    let e = s.decide(&id, Decision::Refused, Some("Motifs non légitimes.")).unwrap_err();
    assert!(e.to_string().contains("no objection pending"), "{e}");
    s.service.rights_object(OFFICER, &id, "Raisons de la personne.").unwrap();
    let e = s.decide(&id, Decision::Refused, None).unwrap_err();
    assert!(e.to_string().contains("--reason"), "{e}");
    let e = s.decide(&id, Decision::Refused, Some(&format!("voir {}", p.nir))).unwrap_err();
    assert!(e.to_string().contains("looks like a NIR"), "{e}");
    let view = s.decide(&id, Decision::Refused, Some("Motifs non légitimes au sens de l'art. 38.")).unwrap();
    assert!(!view.erased);
    let rights = s.service.store().rights(&id).unwrap();
    let last = rights.last().unwrap();
    assert_eq!(last.decision.as_deref(), Some("refused"));
    assert_eq!(last.decided_by.as_deref(), Some(DIRECTOR));
    assert_eq!(last.decision_reason.as_deref(), Some("Motifs non légitimes au sens de l'art. 38."));
    assert!(!s.service.store().pending_objection(&id).unwrap());
    s.assert_live(&p);
}

#[test]
fn an_objection_upheld_while_archived_erases_it_from_the_archive() {
    let s = Setup::new();
    let p = person(5, "Archivata");
    let id = s.open(&p);
    s.follow_and_close(&id);
    s.advance(days(18 * 31));
    assert_eq!(s.service.retention_pass().unwrap().archived, 1);
    s.assert_not_live(&p);

    // The objection is recorded on the archived file, by its id.
    let right = s.service.rights_object(OFFICER, &id, "Opposition tardive.").unwrap();
    assert_eq!(right.decision.as_deref(), Some("pending"));
    assert!(s.service.store().pending_objection(&id).unwrap());
    let view = s.decide(&id, Decision::Upheld, None).unwrap();
    assert_eq!(view.held, Held::Archive);
    assert!(!s.service.archive().contains(&id).unwrap());
    assert!(s.service.store().rights(&id).unwrap().is_empty());
    s.assert_gone(&p);
    let e = s.service.apply_outcome(WORKER, &s.accepted(&p)).unwrap_err();
    assert!(e.to_string().contains(OPPOSED), "{e}");
}

#[test]
fn a_refusal_of_the_archive_erases_at_18_months_or_from_the_archive_at_once() {
    let s = Setup::new();
    let refused = person(6, "Refusanta");
    let late = person(7, "Tardiva");
    let a = s.open(&refused);
    let b = s.open(&late);
    s.follow_and_close(&a);
    s.follow_and_close(&b);
    s.service.rights_refuse_archive(OFFICER, &a).unwrap();
    s.assert_live(&refused);

    s.advance(days(18 * 31));
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.archived, report.erased), (1, 1), "{report:?}");
    assert!(!s.service.archive().contains(&a).unwrap());
    s.assert_gone(&refused);

    // Already archived: erased from the archive at once.
    assert!(s.service.archive().contains(&b).unwrap());
    s.service.rights_refuse_archive(OFFICER, &b).unwrap();
    assert!(!s.service.archive().contains(&b).unwrap());
    s.assert_gone(&late);
}

#[test]
fn a_pending_objection_waits_flagged_until_the_decision() {
    let s = Setup::new();
    let p = person(8, "Attendanta");
    let id = s.open(&p);
    s.follow_and_close(&id);
    s.service.rights_object(OFFICER, &id, "Raisons en cours d'examen.").unwrap();
    s.advance(days(18 * 31));
    let report = s.service.retention_pass().unwrap();
    assert_eq!(report.waiting_objection, vec![id.clone()], "{report:?}");
    assert_eq!((report.archived, report.erased), (0, 0));
    s.assert_live(&p);
    assert_eq!(s.service.store().last_pass().unwrap().waiting_objection, 1);

    s.decide(&id, Decision::Refused, Some("Motifs non légitimes.")).unwrap();
    let report = s.service.retention_pass().unwrap();
    assert!(report.waiting_objection.is_empty(), "{report:?}");
    assert_eq!(report.archived, 1);
    s.assert_not_live(&p);
}

#[test]
fn an_idle_action_is_flagged_then_closed_at_its_last_activity() {
    let s = Setup::new();
    let p = person(9, "Inactiva");
    let id = s.open(&p);
    s.service.start_action(WORKER, &id, &ActionRequest { purpose: None, start: None }).unwrap();
    let started = s.service.store().open_action(&id).unwrap().unwrap().start;

    s.advance(days(89));
    assert!(s.service.retention_pass().unwrap().flagged_idle.is_empty());
    s.advance(days(2));
    let report = s.service.retention_pass().unwrap();
    assert_eq!(report.flagged_idle, vec![id.clone()], "{report:?}");
    assert_eq!(s.service.store().last_pass().unwrap().flagged_idle, 1);

    s.advance(days(365 - 91 + 1));
    let report = s.service.retention_pass().unwrap();
    assert_eq!(report.idle_closed, 1, "{report:?}");
    assert!(report.flagged_idle.is_empty());
    assert_eq!(s.service.store().file(&id).unwrap().unwrap().state, FileState::Closed);
    let actions = s.service.store().actions(&id).unwrap();
    assert_eq!(actions[0].end, started, "closed at the day of its last activity");

    // Its 18 months started at that day (2026-01-15): still live on day 540, due on 2027-07-15 (day 546).
    s.advance(days(540 - 366));
    assert_eq!(s.service.retention_pass().unwrap().archived, 0);
    s.assert_live(&p);
    s.advance(days(10));
    assert_eq!(s.service.retention_pass().unwrap().archived, 1);
    s.assert_not_live(&p);
}

#[test]
fn a_file_without_action_starts_its_clock_at_its_last_activity() {
    let s = Setup::new();
    let p = person(10, "Sansaction");
    let id = s.open(&p);
    s.advance(days(18 * 31 - 20));
    assert_eq!(s.service.retention_pass().unwrap().archived, 0);
    s.advance(days(25));
    assert_eq!(s.service.retention_pass().unwrap().archived, 1);
    assert!(s.service.store().file(&id).unwrap().is_none());
    s.assert_not_live(&p);
}

/// The registry of this process's account as one agent with `roles` (a social worker of ss-13).
fn registry(id: &str, roles: &[Role]) -> Registry {
    let office = roles.contains(&Role::SocialWorker).then(|| "ss-13".to_owned());
    Registry::from_agents([Agent {
        account: passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name"),
        id: id.into(),
        name: "Agent Test".into(),
        roles: roles.iter().copied().collect::<BTreeSet<_>>(),
        office,
    }])
}

fn status(e: &ClientError) -> u16 {
    match e {
        ClientError::Refused { status, .. } => *status,
        other => panic!("not a refusal: {other}"),
    }
}

#[tokio::test]
async fn the_office_sees_its_flagged_and_due_files_and_only_an_operator_or_the_director_runs_the_pass() {
    let s = Setup::new();
    let (objecting, soon, refusing, idle) =
        (person(11, "Objectissa"), person(12, "Prochaina"), person(13, "Refusilla"), person(14, "Dormanta"));
    // 2026-01-15: a file closed, its person objects (pending).
    let objected = s.open(&objecting);
    s.follow_and_close(&objected);
    s.service.rights_object(OFFICER, &objected, "Raisons en cours d'examen.").unwrap();
    // 2026-02-04: two files closed, one person refused the archive.
    s.advance(days(20));
    let archived = s.open(&soon);
    s.follow_and_close(&archived);
    let erased = s.open(&refusing);
    s.follow_and_close(&erased);
    s.service.rights_refuse_archive(OFFICER, &erased).unwrap();
    // 2027-04-16: an action started, then nothing for 95 days.
    s.advance(days(436));
    let idle_id = s.open(&idle);
    s.service.start_action(WORKER, &idle_id, &ActionRequest { purpose: None, start: None }).unwrap();
    s.advance(days(95)); // 2027-07-20

    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("social-service.sock");
    let handle = RegistryHandle::fixed(registry("stat-1", &[Role::StatisticsAgent]));
    let _server =
        ApiServer::start(&socket, routes(s.service.clone()), handle.clone(), Arc::new(KeptAccesses::default()))
            .unwrap();
    let client = Client::new(&socket);
    let flagged = || client.get_json::<FlaggedList>("/v1/retention/flagged");
    let empty = serde_json::json!({});
    let run = || client.post_json::<_, RetentionReport>("/v1/retention/run", &empty);

    for (id, role) in [("stat-1", Role::StatisticsAgent), ("ro-1", Role::RightsOfficer)] {
        handle.replace(registry(id, &[role]));
        assert_eq!(status(&flagged().await.unwrap_err()), 403, "{role:?} reads no flagged list");
        assert_eq!(status(&run().await.unwrap_err()), 403, "{role:?} runs no pass");
    }
    handle.replace(registry("op-1", &[Role::Operator]));
    assert_eq!(status(&flagged().await.unwrap_err()), 403, "an operator reads no file");
    handle.replace(registry(WORKER, &[Role::SocialWorker]));
    assert_eq!(status(&run().await.unwrap_err()), 403, "a worker does not run the pass");
    assert!(s.log().iter().all(|(agent, kind, _)| !(agent == "agent:sw-1" && kind == "read")), "nothing read yet");

    let list = flagged().await.unwrap();
    assert_eq!(list.format, FLAGGED_FORMAT);
    assert_eq!((list.today.as_str(), list.live_months, list.within_days), ("2027-07-20", 18, 30));
    let flags: Vec<_> = list.flagged.iter().map(|f| (f.file.as_str(), f.reason, f.since.as_str())).collect();
    assert_eq!(
        flags,
        [
            (idle_id.as_str(), FlagReason::IdleAction, "2027-04-16"),
            (objected.as_str(), FlagReason::ObjectionPending, "2027-07-15")
        ]
    );
    assert_eq!(list.flagged[0].closes_on.as_deref(), Some("2028-04-15"), "closed by the pass after 365 idle days");
    let due: Vec<_> = list.due.iter().map(|d| (d.file.as_str(), d.leaves_on.as_str(), d.fate)).collect();
    let mut expected =
        vec![(archived.as_str(), "2027-08-04", Fate::Archive), (erased.as_str(), "2027-08-04", Fate::Erase)];
    expected.sort_by_key(|e| e.0);
    assert_eq!(due, expected);
    // Each file listed is a read of the worker, recorded before the answer.
    let mut read: Vec<String> =
        s.log().into_iter().filter(|(a, k, _)| a == "agent:sw-1" && k == "read").map(|(_, _, o)| o).collect();
    read.sort();
    let mut listed = vec![idle_id.clone(), objected.clone(), archived.clone(), erased.clone()];
    listed.sort();
    assert_eq!(read, listed);

    // The operator runs the pass: nothing is due yet but the objection's file, which waits.
    handle.replace(registry("op-1", &[Role::Operator]));
    let report = run().await.unwrap();
    assert_eq!(report.format, "passerelle.social-service-retention/1");
    assert_eq!((report.archived, report.erased), (0, 0), "{report:?}");
    assert_eq!(
        (report.flagged_idle.clone(), report.waiting_objection.clone()),
        (vec![idle_id.clone()], vec![objected.clone()])
    );
    // 15 days later the director's delegate runs it: the two due files leave.
    s.advance(days(15));
    handle.replace(registry(DIRECTOR, &[Role::DirectorDelegate]));
    let report = run().await.unwrap();
    assert_eq!((report.archived, report.erased), (1, 1), "{report:?}");
    assert!(s.service.archive().contains(&archived).unwrap());
    s.assert_gone(&refusing);
    s.assert_live(&objecting);
}

#[test]
fn a_clock_started_on_the_31st_runs_out_on_the_last_day_of_the_18th_month() {
    let s = Setup::new();
    let p = person(11, "Finmoisa");
    let id = s.open(&p);
    // 2026-08-31, 12:00 UTC: the action ends on the 31st; 18 months later is 2028-02-29.
    s.advance(days(228));
    s.follow_and_close(&id);
    let ended = s.service.store().actions(&id).unwrap()[0].end.unwrap();
    assert_eq!((ended.year, ended.month, ended.day), (2026, 8, 31));
    s.advance(days(546)); // 2028-02-28
    assert_eq!(s.service.retention_pass().unwrap().archived, 0, "one day before the 18 months ran out");
    s.advance(days(1)); // 2028-02-29: the 18 months ran out, not a day more
    assert_eq!(s.service.retention_pass().unwrap().archived, 1, "kept past its 18 months");
    s.assert_not_live(&p);
}

/// A file due today, admitted to the archive by a pass that stopped before it erased the live
/// copy (a crash): both stores hold it.
fn admitted_not_erased(s: &Setup, id: &str) {
    let row = s.service.store().file(id).unwrap().unwrap();
    let file = passerelle_social_archive::ArchivedFile {
        id: row.id.clone(),
        office: row.office.clone(),
        opened_at: row.opened_at,
        retention_start: passerelle_protocol::value::parse_date("2026-01-15").unwrap(),
        file: row.file.clone(),
        actions: Vec::new(),
        person: s.service.store().person_of(id).unwrap().unwrap(),
    };
    let now = s.clock.now();
    assert!(s.service.archive().admit(&file, now, now + days(3 * 365)).unwrap());
}

#[test]
fn a_refusal_between_the_admission_and_the_erasure_leaves_nothing_in_the_archive() {
    let s = Setup::new();
    let p = person(12, "Entredeuxa");
    let id = s.open(&p);
    s.follow_and_close(&id);
    s.advance(days(18 * 31));
    admitted_not_erased(&s, &id);
    // The person refuses the archive: the file is still live, the refusal recorded on it.
    s.service.rights_refuse_archive(OFFICER, &id).unwrap();
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.archived, report.erased), (0, 1), "{report:?}");
    assert!(!s.service.archive().contains(&id).unwrap(), "archived although the person refused");
    s.assert_gone(&p);
}

#[test]
fn an_objection_upheld_on_a_live_file_also_erases_a_copy_the_archive_holds() {
    let s = Setup::new();
    let p = person(13, "Doublona");
    let id = s.open(&p);
    s.follow_and_close(&id);
    s.advance(days(18 * 31));
    admitted_not_erased(&s, &id);
    s.service.rights_object(OFFICER, &id, "Raisons légitimes.").unwrap();
    let view = s.decide(&id, Decision::Upheld, None).unwrap();
    assert_eq!(view.held, Held::Live);
    assert!(!s.service.archive().contains(&id).unwrap(), "the archive's copy outlived the objection");
    s.assert_gone(&p);
}

#[test]
fn rights_records_of_a_file_neither_live_nor_archived_are_erased_by_the_pass() {
    let s = Setup::new();
    // What a crash leaves between the archive's erasure and the live store's: the records of a
    // file that is nowhere (an objection's reasons are free text about the person).
    s.service
        .store()
        .record_right(
            "0190a3b4-0000-7000-8000-00000000dead",
            RightKind::Object,
            s.clock.now(),
            OFFICER,
            Some("Motifs."),
        )
        .unwrap();
    let p = person(14, "Restanta");
    let id = s.open(&p);
    s.service.rights_refuse_archive(OFFICER, &id).unwrap();
    s.service.retention_pass().unwrap();
    assert!(s.service.store().rights("0190a3b4-0000-7000-8000-00000000dead").unwrap().is_empty());
    assert_eq!(s.service.store().rights(&id).unwrap().len(), 1, "a live file's records stay");
}

#[test]
fn a_shortened_live_period_holds_for_an_idle_action_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), dir.path(), "cpam-13");
    settings.retention.live_months = 6;
    let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_768_478_400));
    let service = SocialService::build(settings, Arc::new(clock.clone())).unwrap();
    let s = Setup { _dir: dir, clock, service };
    let p = person(15, "Courtea");
    let id = s.open(&p);
    s.service.start_action(WORKER, &id, &ActionRequest { purpose: None, start: None }).unwrap();
    // 2026-07-14: not yet 6 months since its last activity (2026-01-15).
    s.advance(days(180));
    assert_eq!(s.service.retention_pass().unwrap().archived, 0);
    // 2026-07-15: 6 months since its last activity, the idle action far from its idle_close_days
    // (365): the clock started at that last activity, so the file goes now, not 6 months later.
    s.advance(days(1));
    let report = s.service.retention_pass().unwrap();
    assert_eq!((report.idle_closed, report.archived), (1, 1), "{report:?}");
    s.assert_not_live(&p);
}
