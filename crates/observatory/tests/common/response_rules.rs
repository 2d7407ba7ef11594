//! The response rules of issue 28, run on the in-process bus and on RabbitMQ: a faulty response
//! is refused with a notice and answers nothing, so the corrected one is taken; a person the
//! response leaves out is `MISSING` for that body (a violation, the result `PARTIAL`); a second
//! valid response to an answered chunk is audited and dropped.

use passerelle_observatory_store::audit::Action;
use passerelle_observatory_store::CaseState;
use passerelle_protocol::v1::{self, Completeness, PersonStatus};

use super::*;

fn count(s: &Stack, case_id: &str, action: Action) -> usize {
    s.status().audit_entries(Some(case_id)).unwrap().iter().filter(|e| e.action == action.as_str()).count()
}

/// The responses of `body` merged so far.
fn merged(s: &Stack, case_id: &str, body: &str) -> usize {
    let of_body = format!(r#""body":"{body}""#);
    s.status()
        .audit_entries(Some(case_id))
        .unwrap()
        .iter()
        .filter(|e| e.action == Action::ResponseReceived.as_str() && e.detail.contains(&of_body))
        .count()
}

pub async fn faulty_then_corrected_missing_and_duplicate_responses(s: &mut Stack) {
    let (inbox, inbox_consumer) = NoticeInbox::open(&s.body("cnav").bus, Queue::BodyNotices("cnav".into())).await;
    s.body("cnav").behaviour.silent.store(true, Ordering::SeqCst);
    // Six persons: cnav's solicitation has two chunks of three.
    let case_id = s.requester.submit(&CaseSpec::new((0..6).map(person).collect())).await;
    let solicited =
        eventually("cnav solicited twice", || Some(s.body("cnav").received()).filter(|r| r.len() == 2)).await;
    let first = solicited.iter().find(|c| c.chunk_index == 0).unwrap().clone();
    let second = solicited.iter().find(|c| c.chunk_index == 1).unwrap().clone();
    let cnav = s.body("cnav");

    // Faulty: the same person twice. Refused with a reason, and the chunk stays unanswered.
    let mut faulty = cnav.response_to(&first);
    faulty.answers.push(faulty.answers[0].clone());
    cnav.respond(faulty).await;
    let notice = eventually("cnav told of its faulty response", || inbox.notices().pop()).await;
    assert_eq!(notice.reason, v1::NoticeReason::FaultyResponse as i32, "{notice:?}");
    assert!(notice.detail.contains("answered twice"), "{notice:?}");
    assert_eq!(count(s, &case_id, Action::DeadLetter), 1);
    assert_eq!(merged(s, &case_id, "cnav"), 0, "the faulty response answers nothing");

    // Corrected, but leaving its last person out: taken, the person MISSING for cnav.
    let mut corrected = cnav.response_to(&first);
    let left_out = first.persons.last().unwrap().nir.clone();
    corrected.answers.pop();
    cnav.respond(corrected).await;
    eventually("the corrected response taken", || (merged(s, &case_id, "cnav") == 1).then_some(())).await;
    let violation = s
        .status()
        .audit_entries(Some(&case_id))
        .unwrap()
        .into_iter()
        .find(|e| e.action == "violation")
        .expect("the person left out audited");
    assert!(violation.detail.contains(r#""missing_persons":1"#), "{}", violation.detail);
    assert!(!violation.detail.contains(&left_out), "ids and counts only");

    // The whole chunk again, under a new message id: the first valid response won.
    cnav.respond(cnav.response_to(&first)).await;
    eventually("the second response audited", || (count(s, &case_id, Action::DuplicateResponse) == 1).then_some(()))
        .await;
    cnav.respond(cnav.response_to(&second)).await;
    let result = eventually("the whole result", || s.requester.complete_result(&case_id)).await;
    assert_eq!(result[0].completeness, Completeness::Partial as i32, "a gap is never complete");
    let outcome = result[0].bodies.iter().find(|b| b.body == "cnav").unwrap();
    assert!(outcome.answered);
    assert_eq!(outcome.missing, 1);
    for chunk in &result {
        for p in &chunk.persons {
            let answer = p.answers.iter().find(|a| a.body == "cnav").unwrap();
            let status = PersonStatus::try_from(answer.status).unwrap();
            if p.nir == left_out {
                assert_eq!(status, PersonStatus::Missing, "left out: neither not found nor no answer");
            } else {
                assert!(matches!(status, PersonStatus::Found | PersonStatus::NotFound), "{status:?}");
            }
        }
    }
    s.wait_state(&case_id, CaseState::Returned).await;
    assert_eq!(count(s, &case_id, Action::DeadLetter), 1);
    assert_eq!(inbox.notices().len(), 1, "told once, of the faulty response only");
    inbox_consumer.stop().await;
}

/// The versions rule at the observatory (in-process: the test writes the bytes itself): fields
/// unknown at the sender's own minor are audited as a violation and counted by the bus, the
/// response otherwise merged; from a newer minor they are ignored.
pub async fn unknown_fields_are_audited_at_the_sender_s_minor(s: &mut Stack) {
    let Fabric::InProcess(bus, _) = &s.fabric else { panic!("an in-process scenario") };
    let (bus, stats) = (bus.clone(), bus.stats());
    for code in ["cnav", "msa"] {
        s.body(code).behaviour.silent.store(true, Ordering::SeqCst);
    }
    let case_id = s.requester.submit(&CaseSpec::new((0..3).map(person).collect())).await;
    let cnav = eventually("cnav solicited", || s.body("cnav").received().pop()).await;
    let msa = eventually("msa solicited", || s.body("msa").received().pop()).await;
    let queue = Queue::ObservatoryResponses(OBSERVATORY.into());
    let with_field_14 = |r: &v1::Response| {
        let mut bytes = prost::Message::encode_to_vec(r);
        bytes.extend_from_slice(&[14 << 3, 1]);
        bytes
    };
    let at_own_minor = s.body("cnav").response_to(&cnav);
    let body = with_field_14(&at_own_minor);
    bus.inject_as(&queue, &Message::Response(at_own_minor), body, "cnav").unwrap();
    let mut newer = s.body("msa").response_to(&msa);
    newer.schema_minor = passerelle_protocol::SCHEMA_MINOR + 1;
    let body = with_field_14(&newer);
    bus.inject_as(&queue, &Message::Response(newer), body, "msa").unwrap();
    eventually("both merged", || (merged(s, &case_id, "cnav") + merged(s, &case_id, "msa") == 2).then_some(())).await;
    let violations: Vec<String> = s
        .status()
        .audit_entries(Some(&case_id))
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "violation")
        .map(|e| format!("{} {}", e.actor, e.detail))
        .collect();
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert!(violations[0].contains("body:cnav") && violations[0].contains(r#""unknown_fields":["Response#14"]"#));
    let counted = stats.unknown_fields();
    assert_eq!(counted.len(), 1, "{counted:?}");
    assert_eq!((counted[0].1.as_str(), counted[0].2), ("passerelle.v1.Response", 1));
}
