//! The outbox's messages set aside: a message the broker refuses on its own (a nack) while the
//! messages around it go out waits in memory for its next try, on a capped exponential backoff,
//! instead of holding every message behind it. A transfer's messages keep their order (the
//! receiver applies a transfer's amendments in order): the rows of a transfer queued after one
//! of its rows set aside wait with it. Nothing is stored: after a restart every row is tried
//! again, oldest first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::store::outbox::OutboxHead;

/// First wait of a message set aside: long enough that a message refused at once does not take
/// a publish of its own between every batch of the others.
pub(crate) const SET_ASIDE_INITIAL: Duration = Duration::from_secs(1);

/// Longest wait: a refusal that lasts (a receiving queue full and rejecting) costs one publish
/// every few minutes, and a message the broker accepts again goes out within five.
pub(crate) const SET_ASIDE_MAX: Duration = Duration::from_secs(300);

/// Outbox rows read at once while choosing a batch: ids and transfer ids only, no payload.
pub(crate) const HEADS_PAGE: usize = 256;

/// When a row set aside is tried again.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    next_try: Instant,
    /// The wait it was given last, doubled at its next refusal.
    wait: Duration,
}

/// The rows set aside, by outbox row id.
#[derive(Debug, Default)]
pub(crate) struct SetAside {
    rows: BTreeMap<i64, Waiting>,
}

impl SetAside {
    /// Whether row `id` is set aside (due or not).
    pub(crate) fn contains(&self, id: i64) -> bool {
        self.rows.contains_key(&id)
    }

    /// Sets row `id` aside after a refusal, or again (its wait doubled, up to
    /// [`SET_ASIDE_MAX`]); returns how long it waits.
    pub(crate) fn refused(&mut self, id: i64, now: Instant) -> Duration {
        let wait = self.rows.get(&id).map_or(SET_ASIDE_INITIAL, |w| (w.wait * 2).min(SET_ASIDE_MAX));
        self.rows.insert(id, Waiting { next_try: now + wait, wait });
        wait
    }

    /// Row `id` went out (or was dropped): it is no longer set aside.
    pub(crate) fn sent(&mut self, id: i64) {
        self.rows.remove(&id);
    }

    /// When the first row set aside is due, if any is.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.rows.values().map(|w| w.next_try).min()
    }

    /// The ids of the oldest rows to publish now, at most `limit`, read through `page(after,
    /// limit)` (the rows after row id `after`, oldest first): a row set aside and not yet due is
    /// skipped, and so are the rows of its transfer queued after it. Rows set aside that left the
    /// outbox meanwhile (a refused transfer, an erased file) are forgotten.
    pub(crate) fn choose<E>(
        &mut self,
        now: Instant,
        limit: usize,
        mut page: impl FnMut(i64, usize) -> Result<Vec<OutboxHead>, E>,
    ) -> Result<Vec<i64>, E> {
        let mut chosen = Vec::new();
        let mut held: BTreeSet<String> = BTreeSet::new();
        let mut still_waiting: BTreeSet<i64> = BTreeSet::new();
        let mut after = 0;
        loop {
            let heads = page(after, HEADS_PAGE)?;
            let last_page = heads.len() < HEADS_PAGE;
            for head in heads {
                after = head.id;
                if let Some(waiting) = self.rows.get(&head.id) {
                    still_waiting.insert(head.id);
                    if waiting.next_try > now {
                        held.insert(head.transfer);
                        continue;
                    }
                }
                if held.contains(&head.transfer) {
                    continue;
                }
                chosen.push(head.id);
                if chosen.len() >= limit {
                    break;
                }
            }
            if last_page || chosen.len() >= limit {
                // Every row up to `after` was read: one set aside and not seen has left.
                self.rows.retain(|id, _| still_waiting.contains(id) || *id > after);
                return Ok(chosen);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;

    fn heads(rows: &[(i64, &str)]) -> Vec<OutboxHead> {
        rows.iter().map(|&(id, transfer)| OutboxHead { id, transfer: transfer.into() }).collect()
    }

    fn choose(aside: &mut SetAside, now: Instant, limit: usize, rows: &[OutboxHead]) -> Vec<i64> {
        aside
            .choose(now, limit, |after, n| {
                Ok::<_, Infallible>(rows.iter().filter(|h| h.id > after).take(n).cloned().collect())
            })
            .unwrap()
    }

    #[test]
    fn a_row_set_aside_is_skipped_with_its_transfer_s_later_rows_until_it_is_due() {
        let rows = heads(&[(1, "t1"), (2, "t2"), (3, "t1"), (4, "t3")]);
        let now = Instant::now();
        let mut aside = SetAside::default();
        assert_eq!(choose(&mut aside, now, 10, &rows), [1, 2, 3, 4]);
        assert_eq!(aside.refused(1, now), SET_ASIDE_INITIAL);
        assert_eq!(choose(&mut aside, now, 10, &rows), [2, 4], "t1's second row waits behind its first");
        assert_eq!(choose(&mut aside, now, 1, &rows), [2]);
        assert_eq!(aside.next_due(), Some(now + SET_ASIDE_INITIAL));
        let due = now + SET_ASIDE_INITIAL;
        assert_eq!(choose(&mut aside, due, 10, &rows), [1, 2, 3, 4], "due: tried again, oldest first");
        aside.sent(1);
        assert!(!aside.contains(1));
        assert_eq!(aside.next_due(), None);
        // Two rows of one transfer set aside: the later one is remembered while the first waits.
        aside.refused(1, now);
        aside.refused(3, now);
        assert_eq!(choose(&mut aside, now, 10, &rows), [2, 4]);
        assert!(aside.contains(1) && aside.contains(3));
    }

    #[test]
    fn rows_held_behind_a_row_set_aside_do_not_hide_the_rows_after_them() {
        // A long transfer whose first chunk is set aside fills more than a page of heads.
        let mut rows: Vec<OutboxHead> =
            (1..=HEADS_PAGE as i64 + 10).map(|id| OutboxHead { id, transfer: "long".into() }).collect();
        rows.push(OutboxHead { id: HEADS_PAGE as i64 + 11, transfer: "other".into() });
        let now = Instant::now();
        let mut aside = SetAside::default();
        aside.refused(1, now);
        assert_eq!(choose(&mut aside, now, 32, &rows), [HEADS_PAGE as i64 + 11]);
    }

    #[test]
    fn the_wait_doubles_up_to_its_cap_and_a_row_gone_from_the_outbox_is_forgotten() {
        let now = Instant::now();
        let mut aside = SetAside::default();
        let waits: Vec<Duration> = (0..12).map(|_| aside.refused(7, now)).collect();
        assert_eq!(waits[..3], [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)]);
        assert_eq!(waits[11], SET_ASIDE_MAX);
        aside.refused(9, now);
        // Row 7 was deleted (its transfer refused); row 9 is still there.
        assert_eq!(choose(&mut aside, now, 10, &heads(&[(3, "a"), (9, "b")])), [3]);
        assert!(!aside.contains(7));
        assert!(aside.contains(9));
    }
}
