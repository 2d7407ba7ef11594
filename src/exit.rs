//! The process exit codes, the same for every subcommand (README, "Exit codes").
//!
//! One more, outside them: 70 (`passerelle_hooks::FAULT_EXIT_CODE`), a daemon stopped by a
//! development fault point — only under `profile = "development"`, which production refuses.

use std::process::ExitCode;

/// How a subcommand ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything done, nothing rejected.
    Success,
    /// 1: done, but some input was rejected (bad lines, refused persons) or a check found a
    /// problem (`audit verify`).
    Rejections,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Rejections => ExitCode::from(1),
        }
    }
}

/// Why a subcommand failed, which fixes its exit code.
#[derive(Debug)]
pub enum Failure {
    /// 2: a usage error or unusable input (bad flags, a file whose header is unusable).
    Usage(anyhow::Error),
    /// 3: the settings file or environment is invalid.
    Settings(anyhow::Error),
    /// 4: a runtime failure (broker unreachable, storage error, I/O).
    Runtime(anyhow::Error),
}

impl Failure {
    /// Prints the error with its cause chain on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        let (code, kind, err) = match self {
            Failure::Usage(e) => (2, "error", e),
            Failure::Settings(e) => (3, "invalid settings", e),
            Failure::Runtime(e) => (4, "failed", e),
        };
        eprintln!("passerelle: {kind}: {err:#}");
        ExitCode::from(code)
    }
}

impl Failure {
    /// A party's failure; a settings failure names the settings file.
    pub fn of_party(error: passerelle_party::PartyError, config: &std::path::Path) -> Failure {
        match error {
            passerelle_party::PartyError::Settings(e) => {
                Failure::Settings(e.context(format!("in {}", config.display())))
            }
            passerelle_party::PartyError::Runtime(e) => Failure::Runtime(e),
        }
    }
}

impl From<passerelle_party::PartyError> for Failure {
    fn from(error: passerelle_party::PartyError) -> Self {
        match error {
            passerelle_party::PartyError::Settings(e) => Failure::Settings(e),
            passerelle_party::PartyError::Runtime(e) => Failure::Runtime(e),
        }
    }
}

impl From<anyhow::Error> for Failure {
    /// Errors without a more precise kind are runtime failures.
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

pub type CliResult = Result<Outcome, Failure>;
