//! A case file's transfer between two social services (norm 43, A.3), A (carsat-sud-est/ss-13)
//! and B (cramif/ss-75), on the in-process bus (the AMQP bus's routing and unroutable error),
//! each with its own store, in one test process; B's membership source a fake. What B holds is
//! checked against the minimisation rules, A's copy closed and frozen, a refusal unfreezing it,
//! a duplicate delivery answered with the same receipt, an amendment applied, a long history
//! chunked, a CAF refused before anything is stored, the erasure taking the transfer's rows, and
//! a message the broker nacks set aside while the others go out.
//! Synthetic persons only.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use passerelle_bus::{Bus, BusError, BusSettings, Consumer, Handler, InProcessBus, Kind, Message, Outgoing, Queue};
use passerelle_protocol::nir;
use passerelle_protocol::rules::ManualClock;
use passerelle_protocol::v1;
use passerelle_social_service::membership::{Membership, MembershipError};
use passerelle_social_service::requester_client::{AcceptedPerson, Outcome, OutcomeAnswer};
use passerelle_social_service::service::opposition::DecideRequest;
use passerelle_social_service::service::transfer_views::*;
use passerelle_social_service::service::transfers::TransfersRunning;
use passerelle_social_service::service::views::{ActionRequest, ContactRequest, FieldUpdate, OfferRequest};
use passerelle_social_service::store::Decision;
use passerelle_social_service::{SocialService, SocialServiceError, SocialServiceSettings};
use serde_json::json;
use tempfile::TempDir;

const WORKER: &str = "sw-1";
const MEDICAL: &str = "mo-1";
const OFFICER: &str = "ro-1";
const A_PARTY: &str = "carsat-sud-est.ss-13";
const B_PARTY: &str = "cramif.ss-75";

/// Something done at B while its membership source is asked (once).
type WhileAsked = Mutex<Option<Box<dyn FnOnce() + Send>>>;

/// A fake membership source: the NIRs attached to B.
#[derive(Default)]
struct Attached(Mutex<BTreeSet<String>>, WhileAsked);

impl std::fmt::Debug for Attached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Attached").field(&self.0).finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl Membership for Attached {
    async fn is_attached(&self, nir: &str) -> Result<bool, MembershipError> {
        let then = self.1.lock().unwrap().take();
        if let Some(then) = then {
            then();
        }
        Ok(self.0.lock().unwrap().contains(nir))
    }
}

/// The requester's answer that opens a file for person `n`.
fn outcome(n: u32, name: &str) -> OutcomeAnswer {
    OutcomeAnswer {
        format: "passerelle.requester-offer-outcome/1".into(),
        office: "cpam-13".into(),
        case: "0190a3b4-0000-7000-8000-000000000001".parse().unwrap(),
        line: u64::from(n),
        outcome: Outcome::Accepted,
        date: "2026-01-15".into(),
        agent: WORKER.into(),
        person: Some(AcceptedPerson {
            nir: nir_of(n),
            former_nirs: vec![],
            family_name: name.into(),
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

fn nir_of(n: u32) -> String {
    nir::with_key(&format!("18405751{n:05}")).unwrap().as_str().to_owned()
}

fn bus_settings() -> BusSettings {
    let mut settings = BusSettings::default();
    settings.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
    settings.social_services.insert("cramif".into(), vec!["ss-75".into()]);
    settings.social_services.insert("cgss-martinique".into(), vec!["ss-972".into()]);
    settings
}

struct Side {
    _dir: TempDir,
    service: SocialService,
    bus: Arc<dyn Bus>,
}

fn side(bus: &InProcessBus, body: &str, office: &str, clock: &ManualClock, membership: Option<Arc<Attached>>) -> Side {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = SocialServiceSettings::for_dir(body, office, dir.path(), dir.path(), "cpam-13");
    settings.broker = Some(bus_settings());
    let membership = membership.map(|m| m as Arc<dyn Membership>);
    let service = SocialService::build_with_membership(settings, Arc::new(clock.clone()), membership).unwrap();
    let bus: Arc<dyn Bus> = Arc::new(bus.connect_as(&format!("{body}.{office}")));
    Side { _dir: dir, service, bus }
}

struct Pair {
    bus: InProcessBus,
    clock: ManualClock,
    a: Side,
    b: Side,
    attached: Arc<Attached>,
}

impl Pair {
    fn new(with_membership: bool) -> Pair {
        Pair::new_at(with_membership, SystemTime::now())
    }

    fn new_at(with_membership: bool, start: SystemTime) -> Pair {
        let bus = InProcessBus::new(&bus_settings());
        let clock = ManualClock::starting_at(start);
        let attached = Arc::new(Attached::default());
        let a = side(&bus, "carsat-sud-est", "ss-13", &clock, None);
        let b = side(&bus, "cramif", "ss-75", &clock, with_membership.then(|| attached.clone()));
        Pair { bus, clock, a, b, attached }
    }

    async fn start(&self, side: &Side) -> TransfersRunning {
        side.service.start_transfers(side.bus.clone()).await.unwrap()
    }

    /// Opens a file at A for person `n` with a contact, an offer, a medical opinion and an
    /// assessment.
    fn file(&self, n: u32, name: &str) -> String {
        let s = &self.a.service;
        let id = s.apply_outcome(WORKER, &outcome(n, name)).unwrap().file.unwrap();
        self.follow(&id);
        id
    }

    fn follow(&self, id: &str) {
        let (s, id) = (&self.a.service, id.to_owned());
        s.contact(WORKER, &id, &ContactRequest { channel: "phone".into(), date: None }).unwrap();
        s.offer(
            WORKER,
            &OfferRequest {
                kind: "individual".into(),
                theme: "falls_prevention".into(),
                participants: vec![id.clone()],
                sessions: vec![],
            },
        )
        .unwrap();
        let updates = [
            FieldUpdate { field: "medical.opinions".into(), value: json!([{ "kind": "consolidation" }]) },
            FieldUpdate {
                field: "social_situation.assessment".into(),
                value: json!("Isolement après le décès du conjoint."),
            },
        ];
        s.update(WORKER, &id, &updates).unwrap();
    }

    fn send(&self, file: &str, release_assessment: bool) -> TransferView {
        let request = SendTransfer { file: file.into(), to: "cramif/ss-75".into(), release_assessment };
        self.a.service.transfer_send(WORKER, &request).unwrap()
    }
}

/// Waits until `done` holds, at most 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn out_state(s: &SocialService, id: &str) -> String {
    s.store().out_transfer(id).unwrap().map(|t| t.state).unwrap_or_default()
}

/// Every entry of a service's access log: (agent, kind, object).
fn log(s: &SocialService) -> Vec<(String, String, String)> {
    let log = s.accesses().log();
    log.years()
        .unwrap()
        .into_iter()
        .flat_map(|y| log.entries(y, 0, 1000).unwrap())
        .map(|e| (e.agent, e.kind.to_string(), e.object))
        .collect()
}

fn refused_text(e: SocialServiceError) -> String {
    match e {
        SocialServiceError::Refused(text) => text,
        other => panic!("not a refusal: {other}"),
    }
}

#[tokio::test]
async fn the_receiver_holds_what_the_rules_say_and_the_sender_s_copy_is_closed_and_frozen() {
    let p = Pair::new(true);
    let released = p.file(1, "Transferta");
    let withheld = p.file(2, "Retenua");
    let stranger = p.file(3, "Etrangera");
    p.attached.0.lock().unwrap().extend([nir_of(1), nir_of(2)]);
    let release = ReleaseMedical { file: released.clone(), to: "cramif/ss-75".into() };
    p.a.service.transfer_release_medical(MEDICAL, &release).unwrap();
    let t1 = p.send(&released, true);
    let t2 = p.send(&withheld, false);
    let t3 = p.send(&stranger, false);
    assert_eq!(t1.state, "sending");
    assert!(t1.withheld.is_empty(), "{:?}", t1.withheld);
    assert_eq!(t2.withheld, vec!["medical-opinions", "social-assessment"]);
    // Frozen while it travels: no new contact.
    let e =
        p.a.service.contact(WORKER, &released, &ContactRequest { channel: "visit".into(), date: None }).unwrap_err();
    assert!(refused_text(e).contains("frozen"));

    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    for t in [&t1, &t2] {
        eventually("the transfer accepted", || out_state(&p.a.service, &t.id) == "accepted").await;
    }
    eventually("the third refused", || out_state(&p.a.service, &t3.id) == "refused").await;

    // B: what the rules say.
    for (t, medical) in [(&t1, true), (&t2, false)] {
        let incoming = p.b.service.transfer(WORKER, &t.id).unwrap();
        assert_eq!(incoming.transfer.state, "accepted");
        assert_eq!(incoming.transfer.from, "carsat-sud-est/ss-13");
        let file = incoming.transfer.file.clone().unwrap();
        let view = p.b.service.show(WORKER, &file).unwrap();
        assert_eq!(view.fields.contains_key("medical.opinions"), medical, "I.10 only when released");
        assert_eq!(view.fields.contains_key("social_situation.assessment"), medical, "I.7 only when released");
        assert!(view.fields.contains_key("identity.nir"));
        assert_eq!(p.b.service.store().origin(&file).unwrap().as_deref(), Some("carsat-sud-est/ss-13"));
        assert_eq!(view.actions.len(), 1);
        let action = &view.actions[0];
        assert!(action.end.is_none(), "the sender's open action continues at the receiving office");
        assert_eq!(action.contacts.len(), 1);
        assert_eq!(action.contacts[0].agent, format!("transfer:{A_PARTY}"), "no agent of the sender");
        assert_eq!(view.opened_by, "daemon:social-service");
    }
    assert_eq!(
        p.b.service.transfer(WORKER, &t2.id).unwrap().transfer.withheld,
        vec!["medical-opinions", "social-assessment"]
    );

    // A: closed at the transfer date, frozen.
    let a_view = p.a.service.show(WORKER, &released).unwrap();
    assert_eq!(a_view.state, passerelle_social_service::store::FileState::Closed);
    assert!(a_view.actions.iter().all(|a| a.end.is_some()));
    // Started today by the contact, ended at the transfer date: today.
    assert_eq!(a_view.actions[0].end, a_view.actions[0].start);
    assert!(p.a.service.store().frozen_by(&released).unwrap().is_some());
    let e = p.a.service.start_action(WORKER, &released, &ActionRequest { purpose: None, start: None }).unwrap_err();
    assert!(refused_text(e).contains("frozen"));

    // The person not attached: refused with the reason, A's file unfrozen and followed again.
    let refused = p.a.service.transfer(WORKER, &t3.id).unwrap().transfer;
    assert_eq!(refused.refusal.as_deref(), Some("person-not-attached"));
    assert!(p.a.service.store().frozen_by(&stranger).unwrap().is_none());
    p.a.service.contact(WORKER, &stranger, &ContactRequest { channel: "visit".into(), date: None }).unwrap();

    // Both access logs record the transfer: A's worker sent it, B's daemon created the file.
    assert!(log(&p.a.service).contains(&(format!("agent:{WORKER}"), "transfer".into(), released.clone())));
    let b_file = p.b.service.transfer(WORKER, &t1.id).unwrap().transfer.file.unwrap();
    assert!(log(&p.b.service).contains(&("daemon:social-service".into(), "create".into(), b_file)));

    let summary = p.a.service.transfer_summary().unwrap();
    assert_eq!((summary.accepted_out, summary.out_in_flight), (2, 0));
    assert_eq!(summary.refused_by_reason.get("person-not-attached"), Some(&1));
    assert_eq!(p.b.service.transfer_summary().unwrap().accepted_in, 2);
    let list = p.b.service.transfers(WORKER, Some("in"), None, 2).unwrap();
    assert_eq!(list.transfers.len(), 2);
    assert!(list.next.is_some());
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_duplicate_delivery_imports_nothing_twice_and_the_same_receipt_goes_back() {
    let p = Pair::new(false);
    let file = p.file(4, "Doublona");
    let t = p.send(&file, false);
    // The chunk as it will be published, kept to deliver it again.
    let chunk = p.a.service.store().outbox_batch(10).unwrap().remove(0);
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("awaiting attachment", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.state == "awaiting_attachment")
    })
    .await;
    // The social worker reads the identity and confirms.
    let shown = p.b.service.transfer(WORKER, &t.id).unwrap();
    assert_eq!(shown.transfer.state, "awaiting-attachment");
    assert_eq!(shown.person.unwrap().nir, Some(nir_of(4)));
    p.b.service.transfer_accept(WORKER, &t.id).unwrap();
    eventually("accepted at A", || out_state(&p.a.service, &t.id) == "accepted").await;
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 0, "chunks deleted once decided");
    let receipt = p.b.service.store().in_transfer(&t.id).unwrap().unwrap().receipt.unwrap();

    // Delivered again, A stopped: the same receipt waits in A's queue, nothing imported twice.
    ra.stop().await;
    let message = Message::decode(Kind::Transfer, &chunk.payload).unwrap();
    let again = Outgoing {
        message,
        routing_key: B_PARTY.into(),
        message_id: chunk.message_id.parse().unwrap(),
        expires_at: chunk.expires_at,
    };
    p.a.bus.publish(vec![again]).await.unwrap();
    let a_queue = Queue::SocialServiceTransfers(A_PARTY.into());
    eventually("the receipt re-sent", || p.bus.ready(&a_queue) == 1).await;
    assert_eq!(p.b.service.store().counts().unwrap(), (1, 0), "one file at B");
    assert_eq!(p.b.service.store().in_transfer(&t.id).unwrap().unwrap().receipt.unwrap(), receipt, "the same receipt");
    let ra = p.start(&p.a).await;
    eventually("A read the receipt", || p.bus.ready(&a_queue) == 0).await;
    assert_eq!(out_state(&p.a.service, &t.id), "accepted");
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_caf_an_unknown_office_or_itself_is_refused_before_anything_is_stored() {
    let p = Pair::new(true);
    let file = p.file(5, "Cafeta");
    for (to, expected) in [
        ("caf-13/ss-1", "CAF"),
        ("cnav/ss-1", "pension"),
        ("carsat-nord-est/ss-59", "unknown office"),
        ("carsat-sud-est/ss-13", "this social service"),
        ("cramif", "BODY/OFFICE"),
    ] {
        let request = SendTransfer { file: file.clone(), to: to.into(), release_assessment: false };
        let e = refused_text(p.a.service.transfer_send(WORKER, &request).unwrap_err());
        assert!(e.contains(expected), "{to}: {e}");
    }
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 0);
    assert!(p.a.service.store().frozen_by(&file).unwrap().is_none());
    assert!(p.a.service.transfers(WORKER, None, None, 10).unwrap().transfers.is_empty());
    // Without [broker], no transfer at all.
    let dir = tempfile::tempdir().unwrap();
    let settings = SocialServiceSettings::for_dir("cramif", "ss-75", dir.path(), dir.path(), "cpam-75");
    let alone = SocialService::build(settings, Arc::new(p.clock.clone())).unwrap();
    let request = SendTransfer { file: file.clone(), to: "carsat-sud-est/ss-13".into(), release_assessment: false };
    assert!(refused_text(alone.transfer_send(WORKER, &request).unwrap_err()).contains("[broker]"));
}

#[tokio::test]
async fn a_rectification_and_an_upheld_objection_are_sent_on_to_the_receiver() {
    let p = Pair::new(true);
    let file = p.file(6, "Rectifa");
    p.attached.0.lock().unwrap().insert(nir_of(6));
    let t = p.send(&file, false);
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("accepted", || out_state(&p.a.service, &t.id) == "accepted").await;
    let b_file = p.b.service.store().in_transfer(&t.id).unwrap().unwrap().file.unwrap();

    let rectify = [FieldUpdate { field: "identity.family_name".into(), value: json!("Corrigea") }];
    p.a.service.rights_rectify(OFFICER, &file, &rectify).unwrap();
    eventually("the rectification applied", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.amendments == 1)
    })
    .await;
    let family = p.b.service.store().file(&b_file).unwrap().unwrap().file.identity.unwrap().family_name;
    assert_eq!(family.as_deref(), Some("Corrigea"));
    let history = p.b.service.store().history(&b_file).unwrap();
    assert!(history.iter().any(|h| h.field == "identity.family_name"
        && h.kind == "rectification"
        && h.agent == format!("transfer:{A_PARTY}")));
    eventually("A recorded the amendment's receipt", || {
        p.a.service.store().out_transfer(&t.id).unwrap().is_some_and(|t| t.amendments_applied == 1)
    })
    .await;

    p.a.service.rights_object(OFFICER, &file, "Je ne souhaite plus être suivie.").unwrap();
    let upheld = DecideRequest { decision: Decision::Upheld, reason: None };
    p.a.service.rights_decide("dd-1", &file, &upheld).unwrap();
    eventually("the receiver erased its copy", || p.b.service.store().file(&b_file).unwrap().is_none()).await;
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_long_history_travels_in_chunks_and_arrives_whole() {
    let p = Pair::new(true);
    let file = p.file(7, "Chronica");
    p.attached.0.lock().unwrap().insert(nir_of(7));
    // Four more ended actions before the open one, written as the store holds them.
    let db = passerelle_sqlite::rusqlite::Connection::open(p.a.service.store().path()).unwrap();
    for n in 1..=4 {
        db.execute(
            "INSERT INTO actions (id, file, purpose, start, end) VALUES (?1, ?2, 2, ?3, ?3)",
            passerelle_sqlite::rusqlite::params![format!("old-{n}"), file, format!("2025-0{n}-10")],
        )
        .unwrap();
    }
    drop(db);
    p.a.service.set_transfer_chunk_actions(2);
    let t = p.send(&file, false);
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 3, "5 actions, 2 a chunk");
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("accepted", || out_state(&p.a.service, &t.id) == "accepted").await;
    let b_file = p.b.service.store().in_transfer(&t.id).unwrap().unwrap().file.unwrap();
    assert_eq!(p.b.service.store().actions(&b_file).unwrap().len(), 5);
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn an_office_without_a_queue_is_refused_unknown_office_and_the_file_unfrozen() {
    let p = Pair::new(true);
    // A deployment's settings at A name an office the broker has no queue for.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = SocialServiceSettings::for_dir("carsat-sud-est", "ss-13", dir.path(), dir.path(), "cpam-13");
    let mut known = bus_settings();
    known.social_services.insert("cgss-reunion".into(), vec!["ss-974".into()]);
    settings.broker = Some(known);
    let a = SocialService::build_with_membership(settings, Arc::new(p.clock.clone()), None).unwrap();
    let a = Pair { a: Side { _dir: dir, service: a, bus: p.a.bus.clone() }, ..p };
    let file = a.file(8, "Perdua");
    let request = SendTransfer { file: file.clone(), to: "cgss-reunion/ss-974".into(), release_assessment: false };
    let t = a.a.service.transfer_send(WORKER, &request).unwrap();
    let ra = a.start(&a.a).await;
    eventually("refused", || out_state(&a.a.service, &t.id) == "refused").await;
    let view = a.a.service.transfer(WORKER, &t.id).unwrap().transfer;
    assert_eq!(view.refusal.as_deref(), Some("unknown-office"));
    assert!(a.a.service.store().frozen_by(&file).unwrap().is_none());
    assert_eq!(a.a.service.store().outbox_len().unwrap(), 0);
    ra.stop().await;
}

#[tokio::test]
async fn the_erasure_takes_a_file_s_queued_chunks_and_releases() {
    let p = Pair::new(true);
    let file = p.file(9, "Effaca");
    let release = ReleaseMedical { file: file.clone(), to: "cramif/ss-75".into() };
    p.a.service.transfer_release_medical(MEDICAL, &release).unwrap();
    let other = p.file(10, "Autra");
    p.a.service
        .transfer_release_medical(MEDICAL, &ReleaseMedical { file: other.clone(), to: "cramif/ss-75".into() })
        .unwrap();
    let t = p.send(&file, false);
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 1);
    p.a.service.rights_object(OFFICER, &file, "Je m'oppose au traitement.").unwrap();
    let e = p.a.service.transfer_send(
        WORKER,
        &SendTransfer { file: other.clone(), to: "cramif/ss-75".into(), release_assessment: false },
    );
    assert!(e.is_ok(), "another file is not held back");
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 2);
    p.a.service.rights_decide("dd-1", &file, &DecideRequest { decision: Decision::Upheld, reason: None }).unwrap();
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 1, "the erased file's chunk left the outbox");
    let never_sent = p.a.service.store().out_transfer(&t.id).unwrap().unwrap();
    assert_eq!((never_sent.state.as_str(), never_sent.refusal.as_deref()), ("refused", Some("not-sent")));
    assert_eq!(p.a.service.transfer_summary().unwrap().out_in_flight, 1, "only the other file's transfer");
    let found = std::fs::read(p.a.service.store().path()).unwrap();
    assert!(!found.windows(6).any(|w| w == b"Effaca"), "nothing of the person in the store file");
}

#[tokio::test]
async fn a_transfer_past_its_cap_before_it_was_published_is_refused_not_sent_and_the_file_unfrozen() {
    // The transfer was queued 31 days ago and the broker was unreachable since: its chunks are
    // past their cap when the publisher finally runs.
    let p = Pair::new_at(true, SystemTime::now() - Duration::from_secs(31 * 86_400));
    let file = p.file(21, "Tardive");
    let t = p.send(&file, false);
    let ra = p.start(&p.a).await;
    eventually("refused", || out_state(&p.a.service, &t.id) == "refused").await;
    let view = p.a.service.transfer(WORKER, &t.id).unwrap().transfer;
    assert_eq!(view.refusal.as_deref(), Some("not-sent"));
    assert!(p.a.service.store().frozen_by(&file).unwrap().is_none(), "the file is unfrozen");
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 0);
    ra.stop().await;
}

#[tokio::test]
async fn an_objection_that_overtakes_the_transfer_s_chunks_keeps_them_from_being_imported() {
    let p = Pair::new(true);
    p.attached.0.lock().unwrap().insert(nir_of(22));
    let file = p.file(22, "Devancee");
    let t = p.send(&file, false);
    // The upheld objection reaches B before the chunk (the chunk retried later at B).
    let objection = v1::TransferAmendment {
        schema_minor: passerelle_protocol::SCHEMA_MINOR,
        schema_version: passerelle_bus::SCHEMA_VERSION,
        sender: A_PARTY.into(),
        transfer_id: t.id.clone(),
        amendment: 1,
        kind: v1::AmendmentKind::ObjectionUpheld as i32,
        fields: vec![],
        rectified: None,
        decided_at: None,
    };
    let objection = Outgoing {
        message: Message::TransferAmendment(objection),
        routing_key: B_PARTY.into(),
        message_id: uuid::Uuid::now_v7(),
        expires_at: SystemTime::now() + Duration::from_secs(86_400),
    };
    p.a.bus.publish(vec![objection]).await.unwrap();
    let rb = p.start(&p.b).await;
    let a_queue = Queue::SocialServiceTransfers(A_PARTY.into());
    eventually("the amendment answered", || p.bus.ready(&a_queue) >= 1).await;
    // Then the chunk comes: answered with the refusal, nothing imported.
    let ra = p.start(&p.a).await;
    eventually("A decided", || matches!(out_state(&p.a.service, &t.id).as_str(), "accepted" | "refused")).await;
    assert_eq!(out_state(&p.a.service, &t.id), "refused");
    assert_eq!(p.b.service.store().counts().unwrap(), (0, 0), "no file at B");
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 0);
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_transfer_carrying_an_item_it_lists_withheld_is_refused_file_malformed() {
    let p = Pair::new(true);
    p.attached.0.lock().unwrap().insert(nir_of(23));
    let file = p.file(23, "Secreta");
    let t = p.send(&file, false);
    let chunk = p.a.service.store().outbox_batch(10).unwrap().remove(0);
    let Message::Transfer(mut forged) = Message::decode(Kind::Transfer, &chunk.payload).unwrap() else {
        panic!("not a transfer")
    };
    // A faulty sender lists the medical opinions withheld and sends them anyway.
    assert!(forged.withheld.contains(&(v1::WithheldItem::MedicalOpinions as i32)));
    let opinions = p.a.service.store().file(&file).unwrap().unwrap().file.medical;
    assert!(opinions.is_some());
    forged.file.as_mut().unwrap().medical = opinions;
    let forged = Outgoing {
        message: Message::Transfer(forged),
        routing_key: B_PARTY.into(),
        message_id: chunk.message_id.parse().unwrap(),
        expires_at: chunk.expires_at,
    };
    p.a.bus.publish(vec![forged]).await.unwrap();
    let rb = p.start(&p.b).await;
    eventually("B decided", || {
        p.b.service
            .store()
            .in_transfer(&t.id)
            .unwrap()
            .is_some_and(|t| matches!(t.state.as_str(), "accepted" | "refused"))
    })
    .await;
    let received = p.b.service.store().in_transfer(&t.id).unwrap().unwrap();
    assert_eq!((received.state.as_str(), received.refusal.as_deref()), ("refused", Some("file-malformed")));
    assert_eq!(p.b.service.store().counts().unwrap(), (0, 0), "nothing imported");
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 0);
    rb.stop().await;
}

#[tokio::test]
async fn a_chunk_from_another_service_under_a_transfer_s_id_leaves_that_transfer_alone() {
    let p = Pair::new(false);
    let file = p.file(24, "Intacta");
    let t = p.send(&file, false);
    let chunk = p.a.service.store().outbox_batch(10).unwrap().remove(0);
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("awaiting attachment", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.state == "awaiting_attachment")
    })
    .await;
    rb.stop().await;
    // Another health-insurance social service sends a chunk under the same transfer id.
    let Message::Transfer(mut other) = Message::decode(Kind::Transfer, &chunk.payload).unwrap() else {
        panic!("not a transfer")
    };
    other.sender = "cgss-martinique.ss-972".into();
    other.from = Some(v1::SocialServiceAddress { body: "cgss-martinique".into(), office: "ss-972".into() });
    other.chunk_count = 2;
    let c = p.bus.connect_as("cgss-martinique.ss-972");
    let outgoing = Outgoing {
        message: Message::Transfer(other),
        routing_key: B_PARTY.into(),
        message_id: uuid::Uuid::now_v7(),
        expires_at: chunk.expires_at,
    };
    c.publish(vec![outgoing]).await.unwrap();
    let b_queue = Queue::SocialServiceTransfers(B_PARTY.into());
    let rb = p.start(&p.b).await;
    eventually("B took it", || p.bus.ready(&b_queue) == 0).await;
    rb.stop().await;
    assert_eq!(p.bus.ready(&b_queue), 0, "handled, not given back");
    let received = p.b.service.store().in_transfer(&t.id).unwrap().unwrap();
    assert_eq!((received.state.as_str(), received.from_party.as_str()), ("awaiting_attachment", A_PARTY));
    assert_eq!(out_state(&p.a.service, &t.id), "sent");
    p.b.service.transfer_accept(WORKER, &t.id).unwrap();
    let rb = p.start(&p.b).await;
    eventually("accepted at A", || out_state(&p.a.service, &t.id) == "accepted").await;
    ra.stop().await;
    rb.stop().await;
}

/// Whether any file under `dir` (the -wal included) holds `needle`.
fn on_disk(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let path = entry.unwrap().path();
        if path.is_dir() {
            on_disk(&path, needle)
        } else {
            std::fs::read(&path).unwrap_or_default().windows(needle.len()).any(|w| w == needle)
        }
    })
}

#[tokio::test]
async fn a_refused_transfer_leaves_nothing_of_the_person_readable_at_the_receiver() {
    let p = Pair::new(false);
    let file = p.file(25, "Refusanta");
    let t = p.send(&file, false);
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("awaiting attachment", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.state == "awaiting_attachment")
    })
    .await;
    let dir = p.b.service.data_dir().to_owned();
    assert!(on_disk(&dir, b"Refusanta"), "the received chunk is on B's disk");
    // The social worker finds the person not attached to B.
    let request = RefuseTransfer { reason: "person-not-attached".into() };
    p.b.service.transfer_refuse(WORKER, &t.id, &request).unwrap();
    assert!(!on_disk(&dir, b"Refusanta"), "the name is left on B's disk");
    assert!(!on_disk(&dir, nir_of(25).as_bytes()), "the NIR is left on B's disk");
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_file_opened_here_while_the_membership_source_answered_refuses_the_transfer_already_followed() {
    let p = Pair::new(true);
    p.attached.0.lock().unwrap().insert(nir_of(26));
    let file = p.file(26, "Concurrenta");
    let t = p.send(&file, false);
    // While B's membership source is asked, B opens a file of its own for the person.
    let b = p.b.service.clone();
    *p.attached.1.lock().unwrap() = Some(Box::new(move || {
        b.apply_outcome(WORKER, &outcome(26, "Concurrenta")).unwrap();
    }));
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("A decided", || matches!(out_state(&p.a.service, &t.id).as_str(), "accepted" | "refused")).await;
    let view = p.a.service.transfer(WORKER, &t.id).unwrap().transfer;
    assert_eq!(view.refusal.as_deref(), Some("already-followed"));
    assert_eq!(p.b.service.store().counts().unwrap().0, 1, "B's own file only");
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 0);
    ra.stop().await;
    rb.stop().await;
}

fn registry(id: &str, roles: &[passerelle_agents::Role], office: Option<&str>) -> passerelle_agents::Registry {
    passerelle_agents::Registry::from_agents([passerelle_agents::Agent {
        account: passerelle_local_api::own_account().unwrap().expect("the test's uid has an account name"),
        id: id.into(),
        name: "Agent Test".into(),
        roles: roles.iter().copied().collect(),
        office: office.map(str::to_owned),
    }])
}

#[tokio::test]
async fn the_routes_check_who_calls_them() {
    use passerelle_agents::Role;
    use passerelle_local_api::{ApiServer, Client, ClientError, KeptAccesses, RegistryHandle};
    let p = Pair::new(true);
    let file = p.file(11, "Routea");
    let handle = RegistryHandle::fixed(registry(WORKER, &[Role::SocialWorker], Some("ss-13")));
    let socket = p.a._dir.path().join("api.sock");
    let routes = passerelle_social_service::api::routes(p.a.service.clone());
    let _server = ApiServer::start(&socket, routes, handle.clone(), Arc::new(KeptAccesses::default())).unwrap();
    let client = Client::new(&socket);
    let status = |e: ClientError| match e {
        ClientError::Refused { status, .. } => status,
        other => panic!("{other}"),
    };
    // A social worker may not release the medical opinions.
    let release = ReleaseMedical { file: file.clone(), to: "cramif/ss-75".into() };
    let e = client.post_json::<_, ReleaseView>("/v1/transfers/release", &release).await.unwrap_err();
    assert_eq!(status(e), 403);
    // A worker sends; a CAF is a 400 naming it.
    let caf = SendTransfer { file: file.clone(), to: "caf-13/ss-1".into(), release_assessment: false };
    let e = client.post_json::<_, TransferView>("/v1/transfers", &caf).await.unwrap_err();
    assert_eq!(status(e), 400);
    let send = SendTransfer { file: file.clone(), to: "cramif/ss-75".into(), release_assessment: false };
    let sent: TransferView = client.post_json("/v1/transfers", &send).await.unwrap();
    let list: TransferList = client.get_json("/v1/transfers?direction=out").await.unwrap();
    assert_eq!(list.transfers[0].id, sent.id);
    let shown: IncomingTransferView = client.get_json(&format!("/v1/transfers/{}", sent.id)).await.unwrap();
    assert_eq!(shown.transfer.state, "sending");
    // A medical officer releases; an operator reads the counts, not the list.
    handle.replace(registry(MEDICAL, &[Role::MedicalOfficer], None));
    let released: ReleaseView = client.post_json("/v1/transfers/release", &release).await.unwrap();
    assert_eq!(released.item, "medical-opinions");
    handle.replace(registry("op-1", &[Role::Operator], None));
    let summary: TransferSummary = client.get_json("/v1/transfers/summary").await.unwrap();
    assert_eq!(summary.out_in_flight, 1);
    let e = client.get_json::<TransferList>("/v1/transfers").await.unwrap_err();
    assert_eq!(status(e), 403);
    // A worker of another office sees nothing.
    handle.replace(registry("sw-9", &[Role::SocialWorker], Some("ss-84")));
    let e = client.get_json::<TransferSummary>("/v1/transfers/summary").await.unwrap_err();
    assert_eq!(status(e), 403);
}

#[tokio::test]
async fn an_objection_upheld_before_the_receiver_decided_drops_the_received_chunks() {
    let p = Pair::new(false);
    let file = p.file(12, "Retirea");
    let t = p.send(&file, false);
    let (ra, rb) = (p.start(&p.a).await, p.start(&p.b).await);
    eventually("awaiting attachment", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.state == "awaiting_attachment")
    })
    .await;
    assert_eq!(out_state(&p.a.service, &t.id), "sent");
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 1);
    p.a.service.rights_object(OFFICER, &file, "Je m'oppose au traitement.").unwrap();
    p.a.service.rights_decide("dd-1", &file, &DecideRequest { decision: Decision::Upheld, reason: None }).unwrap();
    eventually("B dropped the transfer", || {
        p.b.service.store().in_transfer(&t.id).unwrap().is_some_and(|t| t.state == "refused")
    })
    .await;
    assert_eq!(p.b.service.store().chunks_stored(&t.id).unwrap(), 0, "no personal data left at B");
    eventually("A settled", || out_state(&p.a.service, &t.id) == "refused").await;
    assert!(p.b.service.transfer_accept(WORKER, &t.id).is_err(), "nothing left to accept");
    ra.stop().await;
    rb.stop().await;
}

#[tokio::test]
async fn a_transfer_missing_chunks_for_30_days_is_refused_and_its_chunks_deleted() {
    use passerelle_protocol::v1;
    let p = Pair::new(false);
    let id = uuid::Uuid::now_v7().to_string();
    let address =
        |body: &str, office: &str| Some(v1::SocialServiceAddress { body: body.into(), office: office.into() });
    // Chunk 0 of 2, as A would send it; chunk 1 never comes.
    let chunk = v1::Transfer {
        schema_version: passerelle_bus::SCHEMA_VERSION,
        sender: A_PARTY.into(),
        transfer_id: id.clone(),
        from: address("carsat-sud-est", "ss-13"),
        to: address("cramif", "ss-75"),
        basis: passerelle_protocol::legal::SOCIAL_FILE_TRANSFER as i32,
        sent_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        chunk_index: 0,
        chunk_count: 2,
        file: Some(v1::SocialFile {
            identity: Some(v1::SocialIdentity { nir: Some(nir_of(13)), ..Default::default() }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let outgoing = Outgoing::new(Message::Transfer(chunk), B_PARTY, SystemTime::now() + Duration::from_secs(86_400));
    p.a.bus.publish(vec![outgoing]).await.unwrap();
    let rb = p.start(&p.b).await;
    eventually("chunk 0 stored", || p.b.service.store().chunks_stored(&id).unwrap() == 1).await;
    assert_eq!(p.b.service.expire_incomplete_transfers().unwrap(), 0, "not yet: the rest may come");
    p.clock.advance(Duration::from_secs(31 * 86_400));
    // The hourly round refuses it.
    p.b.service.housekeeping().unwrap();
    let known = p.b.service.store().in_transfer(&id).unwrap().unwrap();
    assert_eq!((known.state.as_str(), known.refusal.as_deref()), ("refused", Some("file-malformed")));
    assert_eq!(p.b.service.store().chunks_stored(&id).unwrap(), 0);
    rb.stop().await;
}

/// A broker that nacks every publish of one message (by id) and takes the others of a batch, as
/// RabbitMQ does; `None` once it accepts it again.
struct Nacking {
    inner: Arc<dyn Bus>,
    poisoned: Mutex<Option<String>>,
    nacks: AtomicUsize,
}

#[async_trait::async_trait]
impl Bus for Nacking {
    async fn publish(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        let poisoned = self.poisoned.lock().unwrap().clone();
        let (nacked, taken): (Vec<Outgoing>, Vec<Outgoing>) =
            messages.into_iter().partition(|m| poisoned.as_deref() == Some(m.message_id.to_string().as_str()));
        if !taken.is_empty() {
            self.inner.publish(taken).await?;
        }
        match nacked.first() {
            Some(m) => {
                self.nacks.fetch_add(1, Ordering::SeqCst);
                Err(BusError::Nacked { message_id: m.message_id.to_string() })
            }
            None => Ok(()),
        }
    }

    async fn consume(&self, queue: Queue, handler: Arc<dyn Handler>) -> Result<Consumer, BusError> {
        self.inner.consume(queue, handler).await
    }
}

#[tokio::test]
async fn a_message_the_broker_nacks_is_set_aside_and_the_transfers_behind_it_go_out() {
    let p = Pair::new(true);
    let files = [p.file(11, "Bloqua"), p.file(12, "Passa"), p.file(13, "Suivia")];
    p.attached.0.lock().unwrap().extend([nir_of(11), nir_of(12), nir_of(13)]);
    let sent: Vec<TransferView> = files.iter().map(|f| p.send(f, false)).collect();
    let oldest = p.a.service.store().outbox_batch(10).unwrap().remove(0);
    assert_eq!(oldest.transfer, sent[0].id, "the nacked message is the oldest in the outbox");
    let bus = Arc::new(Nacking {
        inner: p.a.bus.clone(),
        poisoned: Mutex::new(Some(oldest.message_id.clone())),
        nacks: AtomicUsize::new(0),
    });
    let ra = p.a.service.start_transfers(bus.clone()).await.unwrap();
    let rb = p.start(&p.b).await;

    // The other transfers go out, are imported and their receipts settle them at A.
    for t in &sent[1..] {
        eventually("a transfer behind the nacked one accepted", || out_state(&p.a.service, &t.id) == "accepted").await;
    }
    // The nacked one is tried again (a batch and then alone, after its wait), never delivered.
    eventually("the nacked message tried again", || bus.nacks.load(Ordering::SeqCst) >= 3).await;
    assert_eq!(out_state(&p.a.service, &sent[0].id), "sending");
    assert!(p.b.service.store().in_transfer(&sent[0].id).unwrap().is_none());
    // The others' rows left the outbox: settled, not published again with every retry.
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 1, "only the nacked message waits");

    // The broker takes it again: it goes out at its next try.
    *bus.poisoned.lock().unwrap() = None;
    eventually("the nacked transfer accepted", || out_state(&p.a.service, &sent[0].id) == "accepted").await;
    assert_eq!(p.b.service.store().counts().unwrap().0, 3, "three files at B");
    assert_eq!(p.a.service.store().outbox_len().unwrap(), 0);
    ra.stop().await;
    rb.stop().await;
}
