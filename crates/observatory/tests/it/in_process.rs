//! The scenarios of issue 4 on the in-process bus (fast; the same scenarios run on RabbitMQ in
//! `rabbitmq.rs`).

use crate::common;

use common::{scenarios, Fabric, Stack};

async fn stack() -> Stack {
    Stack::start(Fabric::in_process(), 3000).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn happy_path_three_bodies_chunked() {
    let mut s = stack().await;
    scenarios::happy_path_three_bodies_chunked(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_body_partial_result_and_late_answer() {
    let mut s = stack().await;
    scenarios::silent_body_partial_result_and_late_answer(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_case_completes_once() {
    let mut s = stack().await;
    scenarios::restart_mid_case_completes_once(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_nirs_refused_across_chunks_and_restarts() {
    let mut s = stack().await;
    scenarios::duplicate_nirs_refused_across_chunks_and_restarts(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_change_nothing() {
    let mut s = stack().await;
    scenarios::duplicates_change_nothing(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_leave_nothing_readable() {
    let mut s = stack().await;
    scenarios::purges_leave_nothing_readable(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_are_pseudonymous() {
    let mut s = stack().await;
    scenarios::statistics_are_pseudonymous(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_keep_their_pseudonyms_across_the_move() {
    let mut s = stack().await;
    scenarios::statistics_keep_their_pseudonyms_across_the_move(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_trail_verifies_and_names_tampering() {
    let mut s = stack().await;
    scenarios::audit_trail_verifies_and_names_tampering(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_dead_letters_and_minimisation() {
    let mut s = stack().await;
    scenarios::refusals_dead_letters_and_minimisation(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incomplete_request_refused_at_deadline() {
    let mut s = stack().await;
    scenarios::incomplete_request_refused_at_deadline(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_and_audit_retention() {
    let mut s = stack().await;
    scenarios::statistics_and_audit_retention(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_publish_batches_each_message_once() {
    let mut s = stack().await;
    scenarios::many_publish_batches_each_message_once(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_told_by_notices() {
    let mut s = stack().await;
    scenarios::refusals_are_told_by_notices(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faulty_then_corrected_missing_and_duplicate_responses() {
    let mut s = stack().await;
    common::response_rules::faulty_then_corrected_missing_and_duplicate_responses(&mut s).await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_audited_at_the_sender_s_minor() {
    let mut s = stack().await;
    common::response_rules::unknown_fields_are_audited_at_the_sender_s_minor(&mut s).await;
    s.shutdown().await;
}
