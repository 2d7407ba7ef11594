//! The requester's rules the observatory checks again (issue 28, point 5), on the in-process
//! bus: a known risk factor outside the requester's branch refuses the person (decree art. 3),
//! and an offered-service code off the closed list refuses the case.

use crate::common;

use common::{eventually, person, CaseSpec, Fabric, Requester, Stack};
use passerelle_bus::Message;
use passerelle_observatory_store::CaseState;
use passerelle_protocol::v1::{self, CategoryValues};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_risk_factors_of_another_branch_refuse_the_person() {
    let s = Stack::start(Fabric::in_process(), 30).await;
    // The test requester is the CAF (cnaf): RSA is its own; a survivor's pension is the
    // pension branch's.
    let foreign = v1::RequestedPerson {
        known_risk_factors: Some(CategoryValues { survivor_pension: Some(true), ..Default::default() }),
        ..person(1)
    };
    let mut spec = CaseSpec::new(vec![person(0), foreign.clone()]);
    spec.chunk_size = 2;
    let case_id = s.requester.submit(&spec).await;
    let refusal = eventually("the person refused", || s.requester.refusals(&case_id).pop()).await;
    assert!(!refusal.whole_case, "{refusal:?}");
    assert_eq!(refusal.persons.len(), 1, "{refusal:?}");
    assert_eq!(refusal.persons[0].nir, foreign.nir);
    let problem = &refusal.persons[0].problems[0];
    assert_eq!(problem.field, "known_risk_factors", "{refusal:?}");
    assert!(problem.reason.contains("survivor_pension") && problem.reason.contains("art. 3"), "{}", problem.reason);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offered_service_off_the_list_refuses_the_case_and_unspecified_is_accepted() {
    let s = Stack::start(Fabric::in_process(), 30).await;
    let spec = CaseSpec::new(vec![person(0)]);
    let case_id = uuid::Uuid::now_v7().to_string();
    let mut chunks = Requester::chunks(&case_id, &spec);
    chunks[0].service = 99;
    s.requester.publish(chunks.into_iter().map(Message::Request).collect()).await;
    let refusal = eventually("the case refused", || s.requester.refusals(&case_id).pop()).await;
    assert!(refusal.whole_case, "{refusal:?}");
    assert_eq!(refusal.case_problems.iter().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["service"]);

    // An older requester's request (service UNSPECIFIED, 0) and a newer one's are accepted.
    for service in [v1::OfferedService::Unspecified, v1::OfferedService::HomeHelp] {
        let case_id = uuid::Uuid::now_v7().to_string();
        let mut chunks = Requester::chunks(&case_id, &spec);
        chunks[0].service = service as i32;
        s.requester.publish(chunks.into_iter().map(Message::Request).collect()).await;
        let state = eventually("the case received whole", || {
            s.status().case(&case_id).unwrap().map(|c| c.state).filter(|state| *state != CaseState::Receiving)
        })
        .await;
        assert_ne!(state, CaseState::Refused, "{service:?}");
    }
    s.shutdown().await;
}
