//! `passerelle`: one binary for every role of the fragility exchange (Décret n° 2017-334).
//!
//! `main` does things in one order: parse the command line → init telemetry → run the
//! subcommand, which loads its settings (a bad file exits 3 with the key named) and then builds
//! and runs its service. Exit codes are documented in README ("Exit codes") and in [`exit`],
//! which ends every subcommand's `--help` with its own.
#![forbid(unsafe_code)]

mod cli;
mod exit;

use clap::{CommandFactory, FromArgMatches};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    // Every subcommand's help ends with its exit statuses, from one table (exit.rs).
    let matches = exit::with_exit_codes(cli::Cli::command()).get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
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
