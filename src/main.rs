//! `passerelle`: one binary for every role of the fragility exchange (Décret n° 2017-334).
//!
//! `main` does things in one order: parse the command line → init telemetry → run the
//! subcommand, which loads its settings (a bad file exits 3 with the key named) and then builds
//! and runs its service. Exit codes are documented in README ("Exit codes") and in [`exit`].
#![forbid(unsafe_code)]

mod cli;
mod exit;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    if matches!(cli.command, cli::Command::Demo(_)) && std::env::var_os("RUST_LOG").is_none() {
        // The demo shows its own progress and summary; its services' routine events would
        // drown them. Warnings and errors still show (RUST_LOG=info brings everything back).
        std::env::set_var("RUST_LOG", "warn");
    }
    passerelle_settings::init_telemetry(cli.log_format);
    match cli::run(cli.command) {
        Ok(code) => code.into(),
        Err(failure) => failure.report(),
    }
}
