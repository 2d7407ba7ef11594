//! The observatory's notices queue: a body tells it that it refused one of its messages (a
//! solicitation, a result, a refusal) — the message itself was dead-lettered by the broker. The
//! notice is recorded in the audit trail (ids, the reason code and its short text; never
//! personal data: the text is bounded and NIR-shaped runs are masked again on receipt) and
//! logged by code. A notice is never answered.

use passerelle_bus::{
    notice_id, notice_text, Delivery, Message, NoticeReason, Verdict, MAX_NOTICE_DETAIL, MAX_NOTICE_ID,
};
use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::StoreError;

use crate::engine::{delivery_actor, quoted_id, Engine, WITHHELD_REASON};

impl Engine {
    /// Records one notice.
    pub(crate) fn on_notice(&self, d: &Delivery) -> Result<Verdict, StoreError> {
        let Message::Notice(notice) = &d.message else {
            // A witness message shares the queue; until the observatory witnesses, it is
            // refused as not handled here (never retried as if the store had failed).
            let reason = format!("a {} is not handled on this observatory's notices queue", d.message.kind());
            return self.store.write(|tx| self.dead_letter(tx, d, NoticeReason::WrongType, reason));
        };
        let now = self.clock.now();
        self.store.write(|tx| {
            if tx.inbox_seen(&d.message_id)? {
                return Ok(Verdict::Ack);
            }
            self.audit_unknown_fields(tx, d)?;
            if notice.recipient != self.config.code.as_str() {
                let reason = format!("a notice for `{}`, not this observatory", quoted_id(&notice.recipient));
                return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason);
            }
            let office = passerelle_bus::office::split(&notice.sender)
                .is_some_and(|(b, o)| self.config.offices.get(b).is_some_and(|l| l.iter().any(|x| x == o)));
            if !self.config.bodies.contains(&notice.sender) && !office {
                let reason = format!("`{}` is not a body of this deployment", quoted_id(&notice.sender));
                return self.dead_letter(tx, d, NoticeReason::NotPermitted, reason);
            }
            let code = NoticeReason::try_from(notice.reason).unwrap_or(NoticeReason::Unspecified).as_str_name();
            let case_id = Some(notice.case_id.as_str()).filter(|c| uuid::Uuid::parse_str(c).is_ok());
            let refused_type = passerelle_bus::Kind::shown_type_name(&notice.refused_type);
            let detail = serde_json::json!({
                "from": notice.sender,
                "refused_message_id": notice_id(&notice.refused_message_id, MAX_NOTICE_ID),
                "refused_type": &refused_type,
                "code": code,
                "reason": notice_text(&notice.detail, MAX_NOTICE_DETAIL),
            });
            match self.audit(tx, Action::NoticeReceived, case_id, &delivery_actor(d), detail) {
                Err(StoreError::PersonalData(_)) => self.audit(
                    tx,
                    Action::NoticeReceived,
                    None,
                    "withheld",
                    serde_json::json!({ "from": notice.sender, "code": code, "reason": WITHHELD_REASON }),
                )?,
                other => other?,
            }
            tx.inbox_record(&d.message_id, now)?;
            tracing::warn!(body = %notice.sender, code, refused_type = %refused_type, case_id = case_id.unwrap_or(""),
                "a body refused a message of this observatory (notice recorded in the audit trail)");
            Ok(Verdict::Ack)
        })
    }
}
