//! The scenarios of issue 4 on the real RabbitMQ (`PASSERELLE_TEST_AMQP_URL`), each test with its own name prefix, deleted at the end (the same scenarios run in-process in
//! `in_process.rs`).

use crate::common;

use common::{scenarios, Fabric, Stack};

async fn stack() -> Option<Stack> {
    Some(Stack::start(Fabric::amqp().await?, 3000).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_three_bodies_chunked_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::happy_path_three_bodies_chunked(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_body_partial_result_and_late_answer_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::silent_body_partial_result_and_late_answer(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_case_completes_once_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::restart_mid_case_completes_once(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_change_nothing_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::duplicates_change_nothing(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_leave_nothing_readable_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::purges_leave_nothing_readable(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_pseudonymous_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::statistics_are_pseudonymous(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_verifies_and_names_tampering_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::audit_trail_verifies_and_names_tampering(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_dead_letters_and_minimisation_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::refusals_dead_letters_and_minimisation(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_request_refused_at_deadline_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::incomplete_request_refused_at_deadline(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_and_audit_retention_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::statistics_and_audit_retention(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_nirs_refused_across_chunks_and_restarts_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::duplicate_nirs_refused_across_chunks_and_restarts(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_publish_batches_each_message_once_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::many_publish_batches_each_message_once(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_told_by_notices_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    scenarios::refusals_are_told_by_notices(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_then_corrected_missing_and_duplicate_responses_over_rabbitmq() {
    let Some(mut s) = stack().await else { return };
    common::response_rules::faulty_then_corrected_missing_and_duplicate_responses(&mut s).await;
    s.shutdown().await;
}
