//! The witness's side ([`WitnessService`]): keeps the checkpoints other parties send in its
//! chained history (`data_dir/witness.db`, [`WitnessHistory`]), under the sender's name only —
//! the bus has checked that the message's broker user speaks for it —, answers each with a
//! receipt, and answers a writer's query with every checkpoint it holds of that writer's trail.
//!
//! The key a party signs with is pinned at its first accepted checkpoint: one signed with
//! another key is refused (a writer whose key was replaced needs the witness's operator).

use std::path::Path;
use std::sync::Arc;

use passerelle_bus::{Bus, Message, Outgoing, Verdict, SCHEMA_VERSION};
use passerelle_protocol::calendar::LegalCalendar;
use passerelle_protocol::rules::Clock;
use passerelle_protocol::untrusted::Shown;
use passerelle_protocol::v1;
use passerelle_witness::{parse_public_key, CheckpointKind, HistoryError, Refusal, WitnessHistory};

use crate::convert::{from_wire, to_wire};
use crate::writer::WITNESS_MESSAGE_LIFETIME;

/// The witness's store in a daemon's `data_dir`.
pub const WITNESS_FILE: &str = "witness.db";

/// A daemon as the witness of other parties' trails.
pub struct WitnessService {
    me: String,
    history: WitnessHistory,
    bus: Arc<dyn Bus>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for WitnessService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessService").field("me", &self.me).finish_non_exhaustive()
    }
}

impl WitnessService {
    /// Opens (or creates, 0600) `data_dir/witness.db`.
    pub fn open(
        me: &str,
        data_dir: &Path,
        bus: Arc<dyn Bus>,
        clock: Arc<dyn Clock>,
        calendar: LegalCalendar,
    ) -> Result<WitnessService, HistoryError> {
        let history = WitnessHistory::open(&data_dir.join(WITNESS_FILE), Arc::clone(&clock), calendar)?;
        Ok(WitnessService { me: me.to_owned(), history, bus, clock })
    }

    pub fn history(&self) -> &WitnessHistory {
        &self.history
    }

    /// A checkpoint from its writer: kept or refused, and the writer told which.
    pub async fn on_checkpoint(self: &Arc<Self>, message: &v1::Checkpoint) -> Verdict {
        let party = message.sender.as_str();
        let Some(wire) = &message.checkpoint else {
            return Verdict::dead_letter(
                passerelle_bus::NoticeReason::Invalid,
                "a checkpoint message without its checkpoint",
            );
        };
        // The history is SQLite (a synced write): off the async threads.
        let (this, sender, offered) = (Arc::clone(self), party.to_owned(), wire.clone());
        let outcome = match tokio::task::spawn_blocking(move || this.keep(&sender, &offered)).await {
            Ok(outcome) => outcome,
            Err(e) => return Verdict::RetryLater(format!("the witness's store: {e}")),
        };
        let (accepted, refusal, seq) = match outcome {
            Ok(seq) => (true, String::new(), seq),
            Err(HistoryError::Refused(refusal)) => {
                tracing::warn!(party = %Shown::id(party), trail = %Shown::id(&wire.trail), year = wire.year,
                    count = wire.count, refusal = %refusal, "refused a checkpoint");
                (false, passerelle_bus::notice_text(&refusal.to_string(), 400), 0)
            }
            Err(e) => return Verdict::RetryLater(format!("the witness's store: {e}")),
        };
        let receipt = v1::CheckpointReceipt {
            schema_minor: passerelle_protocol::SCHEMA_MINOR,
            schema_version: SCHEMA_VERSION,
            sender: self.me.clone(),
            recipient: party.to_owned(),
            trail: wire.trail.clone(),
            year: wire.year,
            count: wire.count,
            kind: wire.kind,
            accepted,
            refusal,
            seq,
        };
        self.send(Message::CheckpointReceipt(receipt), party).await
    }

    /// Keeps `wire` in `party`'s history; its place there.
    fn keep(&self, party: &str, wire: &v1::SignedCheckpoint) -> Result<u64, HistoryError> {
        let signed = from_wire(party, wire).map_err(Refusal::from)?;
        let trail = &signed.checkpoint.trail;
        let pinned = self.history.pinned_key(party)?;
        let key_hex = pinned.as_deref().unwrap_or(&wire.public_key);
        if pinned.as_deref().is_some_and(|p| p != wire.public_key) {
            return Err(Refusal::BadSignature { party: party.into(), trail: trail.clone() }.into());
        }
        let key = parse_public_key(key_hex)
            .map_err(|_| Refusal::BadSignature { party: party.into(), trail: trail.clone() })?;
        // A year-closed checkpoint sent again (the writer did not see the receipt, or could not
        // drop the year yet) is the one the witness holds: acknowledged, nothing added.
        if signed.checkpoint.kind == CheckpointKind::YearClosed {
            let held = self.history.checkpoints(party, trail, signed.checkpoint.year)?;
            if let Some(last) = held.last().filter(|l| l.signed.checkpoint.kind == CheckpointKind::YearClosed) {
                let (l, o) = (&last.signed.checkpoint, &signed.checkpoint);
                if l.count == o.count && l.head == o.head {
                    return Ok(last.seq);
                }
            }
        }
        Ok(self.history.accept(&signed, &key)?.seq)
    }

    /// A writer asks for what the witness holds of its trail (its own only: the sender's).
    pub async fn on_query(&self, query: &v1::CheckpointQuery) -> Verdict {
        let party = query.sender.as_str();
        let mut answer = v1::WitnessedCheckpoints {
            schema_version: SCHEMA_VERSION,
            sender: self.me.clone(),
            recipient: party.to_owned(),
            query_id: query.query_id.clone(),
            trail: query.trail.clone(),
            year: query.year,
            ..Default::default()
        };
        let read = if query.year == 0 {
            self.history.years(party, &query.trail).map(|years| {
                answer.years_closed = years.iter().filter(|(_, closed)| *closed).map(|(y, _)| *y).collect();
                answer.years_held = years.into_iter().map(|(y, _)| y).collect();
            })
        } else {
            self.history.checkpoints(party, &query.trail, query.year).map(|held| {
                answer.checkpoints = held
                    .iter()
                    .map(|h| v1::WitnessedCheckpoint {
                        seq: h.seq,
                        checkpoint: Some(to_wire(&h.signed, &h.public_key)),
                        received_at_ms: h.received_ms,
                        link: h.link.clone(),
                    })
                    .collect();
            })
        };
        if let Err(e) = read {
            tracing::error!(error = %e, "the witness's history could not be read for a query");
            answer.problem = passerelle_bus::notice_text(&e.to_string(), 400);
        }
        self.send(Message::WitnessedCheckpoints(answer), party).await
    }

    async fn send(&self, message: Message, to: &str) -> Verdict {
        let outgoing = Outgoing::new(message, to, self.clock.now() + WITNESS_MESSAGE_LIFETIME);
        match self.bus.publish(vec![outgoing]).await {
            Ok(()) => Verdict::Ack,
            Err(e) => Verdict::RetryLater(format!("answering {}: {e}", Shown::id(to))),
        }
    }
}
