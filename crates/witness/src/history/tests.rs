//! The witness's history and the trail check, on a simulated hash-chained trail.

use std::time::{Duration, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use passerelle_protocol::rules::ManualClock;

use super::*;
use crate::{check_trail, Mismatch};

/// 2026-12-07T06:00:00Z.
const NOW_S: u64 = 1_796_623_200;

/// A year's hash chain as a writer keeps it: entry *n*'s hash covers entry *n − 1*'s.
#[derive(Debug, Clone)]
struct Trail {
    heads: Vec<String>,
}

impl Trail {
    fn of(entries: &[&str]) -> Trail {
        let mut trail = Trail { heads: vec![] };
        for e in entries {
            trail.append(e);
        }
        trail
    }

    fn append(&mut self, entry: &str) {
        let previous = self.heads.last().cloned().unwrap_or_default();
        self.heads.push(hex::encode(Sha256::digest(format!("{previous}|{entry}"))));
    }

    fn len(&self) -> u64 {
        self.heads.len() as u64
    }

    fn head_at(&self, n: u64) -> Option<String> {
        n.checked_sub(1).and_then(|i| self.heads.get(i as usize).cloned())
    }

    fn checkpoint(&self, kind: CheckpointKind, key: &SigningKey) -> SignedCheckpoint {
        let head = self.heads.last().cloned().unwrap_or_else(|| GENESIS_LINK.into());
        let at = UNIX_EPOCH + Duration::from_secs(NOW_S);
        Checkpoint::new("observatory", "audit", 2026, self.len(), &head, at, kind).unwrap().sign(key).unwrap()
    }
}

fn entries(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("entry {i}")).collect()
}

fn trail(n: usize) -> Trail {
    let e = entries(n);
    Trail::of(&e.iter().map(String::as_str).collect::<Vec<_>>())
}

fn daemon_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

struct Witness {
    history: WitnessHistory,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

fn witness() -> Witness {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(NOW_S));
    let history =
        WitnessHistory::open(&dir.path().join("witness.db"), Arc::new(clock.clone()), LegalCalendar::default())
            .unwrap();
    Witness { history, clock, _dir: dir }
}

fn refusal(result: Result<Accepted, HistoryError>) -> Refusal {
    match result {
        Err(HistoryError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn checkpoints_that_extend_the_history_are_kept_in_order_and_a_redelivery_adds_nothing() {
    let w = witness();
    let key = daemon_key();
    let mut t = trail(3);
    let first = t.checkpoint(CheckpointKind::Regular, &key);
    assert_eq!(w.history.accept(&first, &key.verifying_key()).unwrap().seq, 1);
    t.append("entry 4");
    let second = t.checkpoint(CheckpointKind::Stop, &key);
    let accepted = w.history.accept(&second, &key.verifying_key()).unwrap();
    assert_eq!((accepted.seq, accepted.repeated), (2, false));
    let again = w.history.accept(&second, &key.verifying_key()).unwrap();
    assert_eq!((again.seq, again.repeated, &again.link), (2, true, &accepted.link));
    let held = w.history.checkpoints("observatory", "audit", 2026).unwrap();
    assert_eq!(held.iter().map(|h| h.signed.clone()).collect::<Vec<_>>(), vec![first, second]);
    assert!(w.history.checkpoints("observatory", "access-log", 2026).unwrap().is_empty());
}

#[test]
fn a_tampered_checkpoint_and_one_signed_by_another_key_are_refused() {
    let w = witness();
    let key = daemon_key();
    let mut tampered = trail(3).checkpoint(CheckpointKind::Regular, &key);
    tampered.checkpoint.count = 2;
    let r = refusal(w.history.accept(&tampered, &key.verifying_key()));
    assert!(matches!(r, Refusal::BadSignature { .. }), "{r:?}");
    assert!(r.to_string().contains("public key"), "{r}");
    let other = SigningKey::from_bytes(&[8; 32]);
    let foreign = trail(3).checkpoint(CheckpointKind::Regular, &other);
    assert!(matches!(refusal(w.history.accept(&foreign, &key.verifying_key())), Refusal::BadSignature { .. }));
    assert!(w.history.checkpoints("observatory", "audit", 2026).unwrap().is_empty());
}

#[test]
fn a_checkpoint_with_fewer_entries_or_another_head_at_a_held_count_is_refused() {
    let w = witness();
    let key = daemon_key();
    w.history.accept(&trail(5).checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()).unwrap();

    let fewer = refusal(w.history.accept(&trail(4).checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()));
    assert_eq!(
        fewer,
        Refusal::FewerEntries { party: "observatory".into(), trail: "audit".into(), year: 2026, held: 5, offered: 4 }
    );
    assert!(fewer.to_string().contains("truncated"), "{fewer}");

    let rewritten = Trail::of(&["entry 1", "entry 2", "EDITED", "entry 4", "entry 5"]);
    let other = refusal(w.history.accept(&rewritten.checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()));
    assert!(matches!(&other, Refusal::OtherHead { count: 5, .. }), "{other:?}");
    assert!(other.to_string().contains("rewritten"), "{other}");
    assert_eq!(w.history.checkpoints("observatory", "audit", 2026).unwrap().len(), 1);
}

#[test]
fn a_rewrite_after_a_checkpoint_is_found_even_with_a_freshly_signed_checkpoint() {
    let w = witness();
    let key = daemon_key();
    let honest = trail(5);
    w.history.accept(&honest.checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()).unwrap();

    // The attacker holds the store and the key: edits entry 3, re-chains, appends and signs.
    let mut forged = Trail::of(&["entry 1", "entry 2", "EDITED", "entry 4", "entry 5"]);
    forged.append("entry 6");
    forged.append("entry 7");
    let fresh = forged.checkpoint(CheckpointKind::Regular, &key);
    w.history.accept(&fresh, &key.verifying_key()).expect("the witness cannot see a rewrite by count alone");

    let held = w.history.checkpoints("observatory", "audit", 2026).unwrap();
    let check = check_trail(forged.len(), |n| forged.head_at(n), held.iter().map(|h| &h.signed.checkpoint));
    assert!(!check.intact());
    match check.mismatch.unwrap() {
        Mismatch::Rewritten { checkpoint, after, found } => {
            assert_eq!((checkpoint.count, after), (5, 0), "entries 1 to 5 are suspect");
            assert_eq!(found, forged.head_at(5).unwrap());
        }
        other => panic!("expected a rewrite, got {other:?}"),
    }
    assert_eq!((check.matched, check.covered, check.not_yet_covered), (0, 0, 0));

    let intact = check_trail(honest.len(), |n| honest.head_at(n), held[..1].iter().map(|h| &h.signed.checkpoint));
    assert!(intact.intact(), "{intact:?}");
}

#[test]
fn a_truncation_is_found_and_the_covered_entries_are_counted() {
    let w = witness();
    let key = daemon_key();
    let mut t = trail(4);
    w.history.accept(&t.checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()).unwrap();
    t.append("entry 5");
    t.append("entry 6");
    w.history.accept(&t.checkpoint(CheckpointKind::Purge, &key), &key.verifying_key()).unwrap();
    t.append("entry 7");
    t.append("entry 8");
    let held = w.history.checkpoints("observatory", "audit", 2026).unwrap();
    let checkpoints = || held.iter().map(|h| &h.signed.checkpoint);

    let whole = check_trail(t.len(), |n| t.head_at(n), checkpoints());
    assert_eq!((whole.intact(), whole.matched, whole.covered, whole.not_yet_covered), (true, 2, 6, 2));

    let truncated = trail(5);
    let check = check_trail(truncated.len(), |n| truncated.head_at(n), checkpoints());
    assert_eq!((check.matched, check.covered), (1, 4));
    assert!(
        matches!(&check.mismatch, Some(Mismatch::Truncated { checkpoint, length: 5 }) if checkpoint.count == 6),
        "{check:?}"
    );
}

#[test]
fn a_year_closes_only_once_its_retention_has_run_and_then_takes_nothing_more() {
    let w = witness();
    let key = daemon_key();
    let t = trail(3);
    let close = t.checkpoint(CheckpointKind::YearClosed, &key);
    let early = refusal(w.history.accept(&close, &key.verifying_key()));
    assert_eq!(
        early,
        Refusal::TooEarlyToClose {
            party: "observatory".into(),
            trail: "audit".into(),
            year: 2026,
            closable_from: "2030-12-31T23:00:00Z".into()
        }
    );

    // One second before 1 January 2031, 00:00 in Paris: still too early.
    let paris_new_year_2031 = 1_924_988_400;
    w.clock.advance(Duration::from_secs(paris_new_year_2031 - 1 - NOW_S));
    assert!(matches!(refusal(w.history.accept(&close, &key.verifying_key())), Refusal::TooEarlyToClose { .. }));
    w.clock.advance(Duration::from_secs(1));
    w.history.accept(&close, &key.verifying_key()).unwrap();

    let mut later = t.clone();
    later.append("entry 4");
    let after = refusal(w.history.accept(&later.checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()));
    assert!(matches!(after, Refusal::YearAlreadyClosed { year: 2026, .. }), "{after:?}");
}

#[test]
fn the_history_proves_its_order_and_an_edit_of_the_witness_store_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("witness.db");
    let clock = Arc::new(ManualClock::starting_at(UNIX_EPOCH + Duration::from_secs(NOW_S)));
    let key = daemon_key();
    let last_link = {
        let history = WitnessHistory::open(&path, clock.clone(), LegalCalendar::default()).unwrap();
        assert_eq!(history.verify_chain("observatory", "audit", 2026).unwrap(), GENESIS_LINK);
        let mut t = trail(1);
        let mut last = String::new();
        for i in 2..=4 {
            t.append(&format!("entry {i}"));
            last = history.accept(&t.checkpoint(CheckpointKind::Regular, &key), &key.verifying_key()).unwrap().link;
        }
        assert_eq!(history.verify_chain("observatory", "audit", 2026).unwrap(), last);
        last
    };

    // Moving when checkpoint 2 was received, and deleting checkpoint 3, leave every checkpoint
    // signed as it was: only the links show it.
    let raw = passerelle_sqlite::rusqlite::Connection::open(&path).unwrap();
    raw.execute_batch(
        "UPDATE witnessed SET received_ms = received_ms + 1 WHERE seq = 2;
         DELETE FROM witnessed WHERE seq = 3;",
    )
    .unwrap();
    drop(raw);
    let history = WitnessHistory::open(&path, clock, LegalCalendar::default()).unwrap();
    match history.verify_chain("observatory", "audit", 2026) {
        Err(HistoryError::Broken(b)) => assert_eq!(b.seq, 2, "{b}"),
        other => panic!("expected a broken chain, got {other:?} (last link was {last_link})"),
    }
}
