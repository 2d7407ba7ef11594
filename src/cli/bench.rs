//! `passerelle bench --persons N [--amqp URL] [--json]`: the end-to-end benchmark against the
//! real RabbitMQ, as a ratio to what the raw broker moves in the same run (BENCHMARKS.md,
//! "End-to-end").
//!
//! One run, under a fresh name prefix whose queues and exchanges are deleted at the end:
//! 1. the synthetic population and the responders' extracts (not timed);
//! 2. the full flow: the observatory and the `cnam`, `cnav`, `msa` responders as separate
//!    processes of this binary, the CAF's requester in this process submitting and waiting;
//! 3. the raw broker moving the very messages the flow moved (a tap recorded them);
//! 4. sequential single-person requests (latency), and the raw single-message round trip.
//!
//! The module map: [`flow`] (stages 1, 2 and 4), [`cpu`] (the processes' CPU time), [`raw`]
//! (lapin directly: the tap, the raw throughput and round trip). The daemons' settings files are
//! a `passerelle_party::Deployment`'s, each daemon a `passerelle_party::process::SpawnedParty`,
//! and the requester is built by `passerelle_party::Party`.
//!
//! ## The `--json` keys
//!
//! A stable interface: renaming or removing a key breaks the scripts that read it. `<type>` and
//! `<body>` stand for each AMQP type and each responding body; `passerelle bench --help` shows
//! the same list (`bench/json_keys.txt`), and tests/bench.rs checks that a run's object has
//! exactly these keys.
//!
#![doc = concat!("```text\n", include_str!("bench/json_keys.txt"), "```")]

mod cpu;
mod flow;
mod raw;

use std::io::Write;

use anyhow::Context;

use crate::exit::{CliResult, Failure, Outcome};

/// The development broker (the bus's default URL).
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Sequential single-person requests timed by default.
pub const DEFAULT_LATENCY_REQUESTS: u64 = 1000;

/// At most this many: each leaves a (small) case in the requester's temporary store.
const MAX_LATENCY_REQUESTS: u64 = 100_000;

#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// How many synthetic persons go through the full flow.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=passerelle_synth::MAX_PERSONS))]
    pub persons: u64,
    /// The broker (a fresh name prefix is used, and deleted at the end).
    #[arg(long, value_name = "URL", default_value = DEFAULT_AMQP_URL)]
    pub amqp: String,
    /// Print the figures as one JSON object, the last line on stdout.
    #[arg(long)]
    pub json: bool,
    /// How many sequential single-person requests (and raw round trips) measure the latency.
    #[arg(long, value_name = "K", default_value_t = DEFAULT_LATENCY_REQUESTS, value_parser = clap::value_parser!(u64).range(1..=MAX_LATENCY_REQUESTS))]
    pub latency_requests: u64,
    /// The population's seed.
    #[arg(long, default_value_t = passerelle_synth::DEFAULT_SEED)]
    pub seed: u64,
    /// Keep the work folder (the daemons' logs and stores, synthetic data only, and
    /// `latency.csv`: each single-person request's start and latency) and print its path, to
    /// look at where the time went (run with `RUST_LOG=debug` for every stage's log).
    #[arg(long)]
    pub keep: bool,
}

/// The long help: what the run measures and the `--json` keys. The keys are
/// `bench/json_keys.txt`, one per line (a key's line starts with two spaces, its continuation
/// lines with more); tests/bench.rs checks that a run's object has exactly these keys.
const AFTER_HELP: &str = concat!(
    "\
What it measures, in one run against the real broker (nothing of it stays on the broker): the
full flow for N persons (the observatory and three responders running as separate processes of
this binary, started from settings files the deployment writes, chunks of the product's default
size), RabbitMQ alone moving the same messages, K sequential single-person requests and as many
raw round trips, and the CPU each process used.

Examples:
  passerelle bench --persons 10000
  passerelle bench --persons 1000000 --json

The --json object (one line, the last on stdout), a stable interface; `<type>` and `<body>` stand
for each AMQP type and each responding body; times in seconds unless the key says otherwise:
",
    include_str!("bench/json_keys.txt"),
);

/// The figures of a run (the `--json` object).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub persons: u64,
    /// Responding bodies.
    pub bodies: u64,
    pub chunk_size: usize,
    /// Messages and body bytes the flow moved through the broker (as the tap recorded them).
    pub messages: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub persons_per_s: f64,
    pub raw_seconds: f64,
    pub ratio: f64,
    pub observatory_peak_rss_bytes: u64,
    pub latency_requests: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    pub raw_rtt_p50_ms: f64,
    pub raw_rtt_p99_ms: f64,
    /// Messages and bytes by AMQP type.
    pub by_kind: std::collections::BTreeMap<String, raw::KindCount>,
    /// Where the flow's time went (seconds from the first request chunk published).
    pub stages: flow::Stages,
    /// The machine's cores (as this process may use them).
    pub cores: usize,
    /// CPU seconds each process used during the flow (`seconds`).
    pub flow_cpu_seconds: cpu::CpuUse,
    /// RabbitMQ's CPU seconds while the raw run moved the same messages (`raw_seconds`), to
    /// compare with `flow_cpu_seconds.broker`: what the flow's way of using the broker costs it
    /// beyond the messages themselves. `None` when the broker does not run on this machine.
    pub raw_broker_cpu_seconds: Option<f64>,
    /// RabbitMQ's CPU milliseconds per raw round trip (two messages), to compare with
    /// `latency_cpu_ms.broker` (a single-person case: nine messages).
    pub raw_rtt_broker_cpu_ms: Option<f64>,
    /// `flow_cpu_seconds.total / cores`: the flow cannot take less with this much CPU, however
    /// well its stages overlap.
    pub flow_cpu_floor_seconds: f64,
    /// `raw_seconds / flow_cpu_floor_seconds`: the best `ratio` this much CPU allows.
    pub ratio_cpu_bound: f64,
    /// CPU milliseconds each process used per single-person request of the latency loop.
    pub latency_cpu_ms: cpu::CpuUse,
    /// Not timed: population, extracts, requester's `prepare`.
    pub setup_seconds: f64,
    pub prefix: String,
}

pub fn run(args: Args) -> CliResult {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")?;
    let report = runtime.block_on(flow::run(&args)).map_err(Failure::Runtime)?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", render(&report)).context("cannot write to stdout")?;
    if args.json {
        let text = super::json::line(super::json::BENCH, &report).context("cannot serialise the figures")?;
        writeln!(out, "{text}").context("cannot write to stdout")?;
    }
    Ok(Outcome::Success)
}

/// The figures for a person.
fn render(r: &Report) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let s = &r.stages;
    format!(
        "passerelle bench: {persons} persons, {bodies} responding bodies, chunks of {chunk}\n\
         \x20 flow      {seconds:.2} s ({pps:.0} persons/s), {messages} messages, {mb:.1} MiB\n\
         \x20           requests sent {sent:.2} s, observatory has them {arrived:.2} s, all stored {stored_req:.2} s, \
         solicitations queued {queued:.2} s, responses {first:.2}–{last:.2} s,\n\
         \x20           result ready {result:.2} s, result published {returned:.2} s, stored {stored:.2} s\n\
         \x20 raw       {raw:.2} s for the same messages: ratio {ratio:.3}{raw_cpu}\n\
         \x20 memory    observatory peak RSS {rss:.1} MiB\n\
         \x20 latency   {k} single-person requests: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms\n\
         \x20 raw rtt   p50 {rp50:.2} ms, p99 {rp99:.2} ms{rtt_cpu}\n\
         \x20 cpu       flow: {flow_cpu} = {flow_total:.2} CPU-s on {cores} cores: no faster than {floor:.2} s \
         (ratio at most {bound:.3})\n\
         \x20           per single-person request, in ms: {latency_cpu} = {latency_total:.2}\n",
        persons = r.persons,
        bodies = r.bodies,
        chunk = r.chunk_size,
        seconds = r.seconds,
        pps = r.persons_per_s,
        messages = r.messages,
        mb = mib(r.bytes),
        sent = s.requests_sent,
        arrived = s.observatory_received.unwrap_or(f64::NAN),
        stored_req = s.observatory_requests_stored.unwrap_or(f64::NAN),
        queued = s.observatory_solicitations_queued.unwrap_or(f64::NAN),
        first = s.observatory_first_response.unwrap_or(f64::NAN),
        last = s.observatory_last_response.unwrap_or(f64::NAN),
        result = s.observatory_result_ready.unwrap_or(f64::NAN),
        returned = s.observatory_returned.unwrap_or(f64::NAN),
        stored = s.requester_stored,
        raw = r.raw_seconds,
        ratio = r.ratio,
        raw_cpu = match (r.raw_broker_cpu_seconds, r.flow_cpu_seconds.broker) {
            (Some(raw), Some(flow)) => format!(" (RabbitMQ {raw:.2} CPU-s, against {flow:.2} in the flow)"),
            _ => String::new(),
        },
        rss = mib(r.observatory_peak_rss_bytes),
        k = r.latency_requests,
        p50 = r.latency_p50_ms,
        p99 = r.latency_p99_ms,
        max = r.latency_max_ms,
        rp50 = r.raw_rtt_p50_ms,
        rp99 = r.raw_rtt_p99_ms,
        rtt_cpu = r.raw_rtt_broker_cpu_ms.map_or(String::new(), |ms| format!(" (RabbitMQ {ms:.2} ms of CPU each)")),
        flow_cpu = cpu_parts(&r.flow_cpu_seconds),
        flow_total = r.flow_cpu_seconds.total,
        cores = r.cores,
        floor = r.flow_cpu_floor_seconds,
        bound = r.ratio_cpu_bound,
        latency_cpu = cpu_parts(&r.latency_cpu_ms),
        latency_total = r.latency_cpu_ms.total,
    )
}

/// `observatory 3.40, responders 2.30 (cnam 1.00, …), requester 1.50, broker 1.40`.
fn cpu_parts(c: &cpu::CpuUse) -> String {
    let bodies: Vec<String> = c.responders.iter().map(|(b, s)| format!("{b} {s:.2}")).collect();
    let mut text = format!(
        "observatory {:.2}, responders {:.2} ({}), requester {:.2}",
        c.observatory,
        c.responders_total(),
        bodies.join(", "),
        c.requester
    );
    if let Some(broker) = c.broker {
        text.push_str(&format!(", broker {broker:.2}"));
    }
    text
}

/// The nearest-rank percentile `p` (0 to 100) of `values` (sorted here).
pub fn percentile(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        assert_eq!(percentile(&mut [7.0], 99.0), 7.0);
        assert_eq!(percentile(&mut [], 50.0), 0.0);
    }
}
