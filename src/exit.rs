//! The process exit codes, the same for every subcommand (README, "Exit codes").
//!
//! One more, outside them: 70 (`passerelle_hooks::FAULT_EXIT_CODE`), a daemon stopped by a
//! development fault point — only under `profile = "development"`, which production refuses.

use std::process::ExitCode;

/// The exit statuses, as the long help of `passerelle` lists them.
pub const EXIT_STATUS_HELP: &str = "\
Exit status, the same for every subcommand: 0 done; 1 done, but some input was rejected or a
check found a problem; 2 usage error or unusable input; 3 invalid settings; 4 a runtime failure
(broker, storage, I/O); 70 a daemon stopped at a development fault point (only under
`profile = \"development\"`, which production refuses); 130 interrupted (Ctrl-C or SIGTERM)
before the end, after saying what stays to do.";

/// How a subcommand ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything done, nothing rejected.
    Success,
    /// 1: done, but some input was rejected (bad lines, refused persons) or a check found a
    /// problem (`audit verify`).
    Rejections,
    /// 130 (128 + SIGINT, as shells report it): stopped by a signal before the end, after
    /// saying what stays to do (`requester submit`: its cases stay open).
    Interrupted,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Rejections => ExitCode::from(1),
            Outcome::Interrupted => ExitCode::from(130),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_exit_status_and_the_fault_points_one() {
        let listed = |code: i32| EXIT_STATUS_HELP.contains(&format!(" {code} "));
        for code in [0, 1, 2, 3, 4, passerelle_hooks::FAULT_EXIT_CODE, 130] {
            assert!(listed(code), "{code} is not in: {EXIT_STATUS_HELP}");
        }
        let fault = format!("{} a daemon stopped at a development fault point", passerelle_hooks::FAULT_EXIT_CODE);
        assert!(EXIT_STATUS_HELP.contains(&fault), "{EXIT_STATUS_HELP}");
    }
}
