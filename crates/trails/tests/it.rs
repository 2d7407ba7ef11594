//! A writer (body `cnaf`) and its witness (the observatory) over the in-process bus: checkpoints
//! flow and `verify` covers what they vouch for; a trail truncated together with its head, or
//! edited and re-chained, passes its own check but not the witness's checkpoints, even when the
//! attacker signs a fresh checkpoint with the daemon's key; a checkpoint that does not extend
//! the witness's history is refused and the writer is told. Over RabbitMQ this is tested by the
//! root package's e2e tests (the whole stack).

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use passerelle_access_log::{chain, AccessEntry, AccessKind, Accesses, LegalCalendar};
use passerelle_bus::{Bus, BusSettings, InProcessBus, NoticeLogger, Queue};
use passerelle_protocol::rules::{Clock, SystemClock};
use passerelle_test_support::eventually;
use passerelle_trails::{verify, AccessLogTrail, DaemonTrails, Trail, TrailsBus, TrailsSetup};
use passerelle_witness::CheckpointKind;

const OBSERVATORY: &str = "carsat-sud-est";
const TIMEOUT: Duration = Duration::from_secs(10);

struct Pair {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    writer_dir: std::path::PathBuf,
    accesses: Accesses,
    writer: Daemon,
    witness: Daemon,
}

async fn start(
    dir: &Path,
    party: &str,
    witness: Option<&str>,
    notices: Queue,
    trails: Vec<Arc<dyn Trail>>,
    bus: &InProcessBus,
) -> Daemon {
    let setup = TrailsSetup {
        party,
        witness: witness.map(str::to_owned),
        data_dir: dir,
        calendar: LegalCalendar::default(),
        interval: Duration::from_secs(3600),
    };
    let connection: Arc<dyn Bus> = Arc::new(bus.connect_as(party));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let routed = TrailsBus::wrap(connection, notices.clone());
    let trails = DaemonTrails::start(setup, trails, &routed, clock).await.unwrap();
    // What the daemon's service does: consume its notices queue on the bus it was given.
    let consumer = routed.consume(notices, Arc::new(NoticeLogger)).await.unwrap();
    Daemon { trails, _consumer: consumer }
}

/// A daemon's trails and its service's consumer of its notices queue.
struct Daemon {
    trails: DaemonTrails,
    _consumer: passerelle_bus::Consumer,
}

impl std::ops::Deref for Daemon {
    type Target = DaemonTrails;
    fn deref(&self) -> &DaemonTrails {
        &self.trails
    }
}

async fn pair() -> Pair {
    let bus = InProcessBus::new(&BusSettings::default());
    let (writer_dir, witness_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let accesses = Accesses::open_in(writer_dir.path(), LegalCalendar::default()).unwrap();
    let trail: Arc<dyn Trail> = Arc::new(AccessLogTrail::new(accesses.clone(), "responder"));
    let witness =
        start(witness_dir.path(), OBSERVATORY, None, Queue::ObservatoryNotices(OBSERVATORY.into()), vec![], &bus).await;
    let writer =
        start(writer_dir.path(), "cnaf", Some(OBSERVATORY), Queue::BodyNotices("cnaf".into()), vec![trail], &bus).await;
    Pair { writer_dir: writer_dir.path().to_owned(), _dirs: (writer_dir, witness_dir), accesses, writer, witness }
}

fn record(accesses: &Accesses, n: usize) {
    for i in 0..n {
        let entry = AccessEntry::new(SystemTime::now(), "agent:a-17", AccessKind::Read, format!("case-{i}"));
        accesses.record(&entry).unwrap();
    }
}

fn year() -> i32 {
    LegalCalendar::default().year_of(SystemTime::now())
}

/// Checkpoints the current heads and waits until the witness acknowledged `count` entries.
async fn witnessed(p: &Pair, count: u64) {
    p.writer.checkpointer().checkpoint(CheckpointKind::Regular).await.unwrap();
    let checkpointer = Arc::clone(p.writer.checkpointer());
    eventually("the witness's receipt", || {
        checkpointer.witness_state("responder:access-log", year()).accepted_count == count
    })
    .await;
}

async fn report(p: &Pair) -> passerelle_trails::TrailReport {
    let trail = AccessLogTrail::new(p.accesses.clone(), "responder");
    verify(p.writer.checkpointer(), &trail, TIMEOUT).await.unwrap()
}

/// Rewrites the object of entry `seq` and re-chains every entry after it, head row included,
/// as an attacker who can write the file would: the chain holds again on its own.
fn edit_and_rechain(path: &Path, year: i32, seq: i64) {
    let db = passerelle_sqlite::testing::raw_connection(path).unwrap();
    db.execute(
        "UPDATE access_entry SET object = 'case-forged' WHERE year = ?1 AND seq = ?2",
        rusqlite::params![year, seq],
    )
    .unwrap();
    let mut rows = db
        .prepare("SELECT seq, at_ms, agent, kind, object, person_commitment, prev_hash FROM access_entry WHERE year = ?1 AND seq >= ?2 ORDER BY seq")
        .unwrap();
    #[allow(clippy::type_complexity)]
    let entries: Vec<(i64, i64, String, String, String, Option<Vec<u8>>, Vec<u8>)> = rows
        .query_map(rusqlite::params![year, seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut prev: chain::Hash = entries[0].6.clone().try_into().unwrap();
    for (seq, at_ms, agent, kind, object, commitment, _) in entries {
        let commitment: Option<chain::Hash> = commitment.map(|c| c.try_into().unwrap());
        let hash = chain::Linked {
            year,
            seq,
            at_ms,
            agent: &agent,
            kind: &kind,
            object: &object,
            commitment: commitment.as_ref(),
            prev_hash: &prev,
        }
        .hash();
        db.execute(
            "UPDATE access_entry SET prev_hash = ?1, hash = ?2 WHERE year = ?3 AND seq = ?4",
            rusqlite::params![prev.as_slice(), hash.as_slice(), year, seq],
        )
        .unwrap();
        db.execute(
            "UPDATE access_head SET hash = ?1 WHERE year = ?2 AND count = ?3",
            rusqlite::params![hash.as_slice(), year, seq],
        )
        .unwrap();
        prev = hash;
    }
}

#[tokio::test]
async fn checkpoints_reach_the_witness_and_verify_says_what_they_cover() {
    let p = pair().await;
    record(&p.accesses, 5);
    witnessed(&p, 5).await;
    record(&p.accesses, 3);
    let report = report(&p).await;
    assert!(report.intact && report.witness_answered, "{report:?}");
    let this_year = report.years.iter().find(|y| y.year == year()).unwrap();
    assert_eq!((this_year.entries, this_year.covered, this_year.not_yet_covered), (8, 5, 3), "{this_year:?}");
    assert!(this_year.witnessed_checkpoints >= 1 && this_year.matched_checkpoints == this_year.witnessed_checkpoints);
    p.writer.trails.stop().await;
    p.witness.trails.stop().await;
}

#[tokio::test]
async fn a_trail_truncated_with_its_head_passes_its_own_check_but_not_the_witness() {
    let p = pair().await;
    record(&p.accesses, 6);
    witnessed(&p, 6).await;
    let db = passerelle_sqlite::testing::raw_connection(&p.writer_dir.join("access.db")).unwrap();
    let last = db
        .query_row("SELECT hash FROM access_entry WHERE year = ?1 AND seq = 4", [year()], |r| r.get::<_, Vec<u8>>(0))
        .unwrap();
    db.execute("DELETE FROM access_entry WHERE year = ?1 AND seq > 4", [year()]).unwrap();
    db.execute("UPDATE access_head SET count = 4, hash = ?1 WHERE year = ?2", rusqlite::params![last, year()]).unwrap();
    assert!(p.accesses.log().verify().unwrap().is_intact(), "its own check cannot see a cut made with the head row");
    let report = report(&p).await;
    assert!(!report.intact, "{report:?}");
    let findings = &report.years.iter().find(|y| y.year == year()).unwrap().findings;
    assert!(
        findings.iter().any(|f| f.contains(&format!("ends at entry {}#4", year())) && f.contains("cut off")),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_rewritten_and_rechained_trail_is_found_even_with_a_freshly_signed_checkpoint() {
    let p = pair().await;
    record(&p.accesses, 6);
    witnessed(&p, 6).await;
    edit_and_rechain(&p.writer_dir.join("access.db"), year(), 3);
    assert!(p.accesses.log().verify().unwrap().is_intact(), "re-chained: its own check holds");
    // The attacker holds the daemon's key: the checkpointer signs the rewritten head.
    p.writer.checkpointer().checkpoint(CheckpointKind::Stop).await.unwrap();
    let checkpointer = Arc::clone(p.writer.checkpointer());
    let refusal =
        eventually("the witness's refusal", || checkpointer.witness_state("responder:access-log", year()).refusal)
            .await;
    assert!(refusal.contains("at 6 entries") && refusal.contains("rewritten"), "{refusal}");
    let report = report(&p).await;
    let findings = &report.years.iter().find(|y| y.year == year()).unwrap().findings;
    assert!(
        !report.intact && findings.iter().any(|f| f.contains(&format!("entry {}#6 differs", year()))),
        "{findings:?}"
    );
}

#[tokio::test]
async fn a_deleted_trail_is_found_by_the_years_the_witness_holds() {
    let p = pair().await;
    record(&p.accesses, 2);
    witnessed(&p, 2).await;
    let db = passerelle_sqlite::testing::raw_connection(&p.writer_dir.join("access.db")).unwrap();
    db.execute_batch("DELETE FROM access_person; DELETE FROM access_entry; DELETE FROM access_head;").unwrap();
    assert!(p.accesses.log().verify().unwrap().is_intact(), "an empty log checks on its own");
    let report = report(&p).await;
    let findings = &report.years.iter().find(|y| y.year == year()).unwrap().findings;
    assert!(findings.iter().any(|f| f.contains("the year was deleted")), "{findings:?}");
}

#[tokio::test]
async fn without_an_answer_verify_still_checks_the_chain_and_says_the_witness_is_silent() {
    let bus = InProcessBus::new(&BusSettings::default());
    let dir = tempfile::tempdir().unwrap();
    let accesses = Accesses::open_in(dir.path(), LegalCalendar::default()).unwrap();
    record(&accesses, 2);
    let trail: Arc<dyn Trail> = Arc::new(AccessLogTrail::new(accesses.clone(), "responder"));
    // The witness never consumes: its queue holds the question.
    let writer =
        start(dir.path(), "cnaf", Some(OBSERVATORY), Queue::BodyNotices("cnaf".into()), vec![trail.clone()], &bus)
            .await;
    let report = verify(writer.checkpointer(), trail.as_ref(), Duration::from_millis(300)).await.unwrap();
    assert!(
        !report.witness_answered && report.witness_problem.as_deref().unwrap_or("").contains("did not answer"),
        "{report:?}"
    );
    let this_year = report.years.iter().find(|y| y.year == year()).unwrap();
    assert_eq!((this_year.covered, this_year.not_yet_covered), (0, 2));
    assert!(
        bus.ready(&Queue::ObservatoryNotices(OBSERVATORY.into())) >= 1,
        "the checkpoints and the query wait in its queue"
    );
}

#[tokio::test]
async fn dropped_tables_are_reported_with_the_years_the_witness_holds() {
    let p = pair().await;
    record(&p.accesses, 3);
    witnessed(&p, 3).await;
    let db = passerelle_sqlite::testing::raw_connection(&p.writer_dir.join("access.db")).unwrap();
    db.execute_batch("DROP TABLE access_person; DROP TABLE access_entry; DROP TABLE access_head;").unwrap();
    let report = report(&p).await;
    assert!(!report.intact && report.unreadable.as_deref().unwrap_or("").contains("tables were dropped"), "{report:?}");
    let findings = &report.years.iter().find(|y| y.year == year()).unwrap().findings;
    assert!(findings.iter().any(|f| f.contains("no longer gives")), "{findings:?}");
}
