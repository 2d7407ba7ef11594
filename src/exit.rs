//! The process exit codes, the same for every subcommand (README, "Exit codes"), and what each
//! means for each subcommand: [`with_exit_codes`] ends every `--help` with its list.
//!
//! One more, outside them: 70 (`passerelle_hooks::FAULT_EXIT_CODE`), a daemon stopped by a
//! development fault point — only under `profile = "development"`, which production refuses.

use std::process::ExitCode;

/// 0: done, nothing rejected.
pub const SUCCESS: u8 = 0;
/// 1: done, but some input was rejected or a check found a problem.
pub const REJECTIONS: u8 = 1;
/// 2: a usage error or unusable input.
pub const USAGE: u8 = 2;
/// 3: invalid settings.
pub const SETTINGS: u8 = 3;
/// 4: a runtime failure (broker, storage, I/O).
pub const RUNTIME: u8 = 4;
/// 5: another observatory runs the territory (its `data_dir` or broker lock is held).
pub const TERRITORY_HELD: u8 = 5;
/// 6: the daemon refused the call: the caller is not an authorised agent, or lacks the role.
pub const NOT_PERMITTED: u8 = 6;
/// 70: a daemon stopped at a development fault point.
pub const FAULT: u8 = passerelle_hooks::FAULT_EXIT_CODE as u8;
/// 130 (128 + SIGINT, as shells report it): interrupted before the end, after saying what
/// stays to do (`requester submit`: its cases stay open).
pub const INTERRUPTED: u8 = 130;

/// The statuses of `passerelle` itself and of the command groups: what each code means for
/// every subcommand.
const GENERAL: &[(u8, &str)] = &[
    (SUCCESS, "done"),
    (REJECTIONS, "done, but some input was rejected or a check found a problem"),
    (USAGE, "usage error or unusable input (bad flags, a file unusable as a whole)"),
    (SETTINGS, "invalid settings (the file or a PASSERELLE_… variable; the key is named)"),
    (RUNTIME, "runtime failure (broker unreachable, a store missing or unreadable, I/O)"),
    (TERRITORY_HELD, "another observatory runs the territory (observatory run --no-wait, or lock lost)"),
    (NOT_PERMITTED, "the daemon refused the call: not an authorised agent, or a role missing"),
    (FAULT, "a daemon stopped at a development fault point (only under `profile = \"development\"`)"),
    (INTERRUPTED, "interrupted (Ctrl-C, SIGTERM) before the end, after saying what stays to do"),
];

/// What a daemon's statuses mean (`observatory run`, `responder run`, `requester run`).
const DAEMON: &[(u8, &str)] = &[
    (SUCCESS, "stopped by SIGTERM or SIGINT"),
    (SETTINGS, "invalid settings, or no broker user of its own outside the development profile"),
    (RUNTIME, "the broker, the storage or the data source is unusable"),
    (FAULT, "a development fault point was reached"),
];

/// What the observatory daemon's statuses mean: a daemon's, and one observatory per territory.
const OBSERVATORY: &[(u8, &str)] = &[
    (SUCCESS, "stopped by SIGTERM or SIGINT"),
    (SETTINGS, "invalid settings, or no broker user of its own outside the development profile"),
    (RUNTIME, "the broker or the storage is unusable"),
    (TERRITORY_HELD, "another observatory runs the territory (--no-wait, or its lock was lost)"),
    (FAULT, "a development fault point was reached"),
];

/// What a social worker's call of the social-service daemon's statuses mean.
const SOCIAL_WORKER_CALL: &[(u8, &str)] = &[
    (SUCCESS, "done"),
    (USAGE, "refused: bad flags, an unknown field (named), a value of the wrong type, no such file"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon (or requester daemon behind it) answers, or its store failed"),
    (NOT_PERMITTED, "refused: the caller is not a social-worker of the daemon's office"),
];

/// What a rights officer's call of the observatory daemon (`passerelle rights`) means.
const DECREE_RIGHTS_CALL: &[(u8, &str)] = &[
    (SUCCESS, "done (an opposition: its refusal printed, nothing stored)"),
    (USAGE, "refused: bad flags, a bad NIR or --changes line (named), no such request, still asking"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no observatory daemon answers, its rights desk failed, or --out cannot be written"),
    (NOT_PERMITTED, "refused: the caller is not a rights-officer of the observatory"),
];

/// What a rights officer's call of the social-service daemon's statuses mean.
const RIGHTS_CALL: &[(u8, &str)] = &[
    (SUCCESS, "done"),
    (USAGE, "refused: bad flags, an unknown field (named), no such file, reasons holding a NIR"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon answers at the socket, its store failed, or --page cannot be written"),
    (NOT_PERMITTED, "refused: the caller is not a rights-officer"),
];

/// What a call of the social-service daemon's archive means (grants, reads).
const ARCHIVE_CALL: &[(u8, &str)] = &[
    (SUCCESS, "done"),
    (USAGE, "refused: bad flags, no purpose of the list, a signature refused, no such grant or file"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon answers at the socket, or its archive failed"),
    (NOT_PERMITTED, "refused: the caller lacks the role, or reads without a valid co-signed grant"),
];

/// What a director's decision on an objection means.
const DECISION_CALL: &[(u8, &str)] = &[
    (SUCCESS, "decided: upheld (the file erased) or refused (the reason kept)"),
    (USAGE, "refused: bad flags, no pending objection, a reason missing or holding a NIR"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon answers at the socket, or its store failed"),
    (NOT_PERMITTED, "refused: the caller is not a director-delegate"),
];

/// What a statistics agent's call means.
const STATS_CALL: &[(u8, &str)] = &[
    (SUCCESS, "the table printed (and exported)"),
    (USAGE, "refused: bad flags, a month not counted yet, a period too long, an unwritable --export"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon answers at the socket, or its statistics store failed"),
    (NOT_PERMITTED, "refused: the caller is not a statistics-agent"),
];

/// What a social worker's call about a transfer means (list, show, accept, refuse).
const TRANSFERS_CALL: &[(u8, &str)] = &[
    (SUCCESS, "done"),
    (USAGE, "refused: bad flags, no such transfer, one not awaiting this office's decision"),
    (SETTINGS, "invalid settings"),
    (RUNTIME, "no social-service daemon answers at the socket, or its store failed"),
    (NOT_PERMITTED, "refused: the caller is not a social-worker of the daemon's office"),
];

/// Each subcommand's exit statuses, by its path under `passerelle`. [`with_exit_codes`] appends
/// them to the command's `--help`, so the help cannot drift from this table, and a test checks
/// that every subcommand has its line here and lists only codes the binary uses.
const BY_COMMAND: &[(&str, &[(u8, &str)])] = &[
    ("observatory run", OBSERVATORY),
    ("responder run", DAEMON),
    ("requester run", DAEMON),
    ("social-service run", DAEMON),
    ("social-service worklist", SOCIAL_WORKER_CALL),
    ("social-service offer-outcome", SOCIAL_WORKER_CALL),
    ("social-service open", SOCIAL_WORKER_CALL),
    ("social-service list", SOCIAL_WORKER_CALL),
    ("social-service show", SOCIAL_WORKER_CALL),
    ("social-service update", SOCIAL_WORKER_CALL),
    ("social-service action", SOCIAL_WORKER_CALL),
    ("social-service close", SOCIAL_WORKER_CALL),
    ("social-service contact", SOCIAL_WORKER_CALL),
    ("social-service offer", SOCIAL_WORKER_CALL),
    ("social-service rights access", RIGHTS_CALL),
    ("social-service rights rectify", RIGHTS_CALL),
    ("social-service rights object", RIGHTS_CALL),
    ("social-service rights refuse-archive", RIGHTS_CALL),
    ("social-service rights decide", DECISION_CALL),
    ("social-service archive grant", ARCHIVE_CALL),
    ("social-service archive sign", ARCHIVE_CALL),
    ("social-service archive revoke", ARCHIVE_CALL),
    ("social-service archive grants", ARCHIVE_CALL),
    ("social-service archive list", ARCHIVE_CALL),
    ("social-service archive show", ARCHIVE_CALL),
    (
        "social-service retention run",
        &[
            (SUCCESS, "the pass ran: its report printed"),
            (USAGE, "refused: bad flags"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no social-service daemon answers at the socket, or a store failed"),
            (NOT_PERMITTED, "refused: the caller is neither an operator nor a director-delegate"),
        ],
    ),
    ("social-service retention flagged", SOCIAL_WORKER_CALL),
    ("social-service stats", STATS_CALL),
    (
        "social-service transfer",
        &[
            (SUCCESS, "the file frozen and its transfer queued: printed with what happens next"),
            (USAGE, "refused before sending: not a health-insurance social service, an unknown office, no file"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no social-service daemon answers at the socket, or its store failed"),
            (NOT_PERMITTED, "refused: the caller is not a social-worker of the file's office"),
        ],
    ),
    ("social-service transfers list", TRANSFERS_CALL),
    ("social-service transfers show", TRANSFERS_CALL),
    ("social-service transfers accept", TRANSFERS_CALL),
    ("social-service transfers refuse", TRANSFERS_CALL),
    (
        "social-service transfers release",
        &[
            (SUCCESS, "the medical opinions released for the file's next transfer there"),
            (USAGE, "refused: bad flags, no such file, not a health-insurance social service"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no social-service daemon answers at the socket, or its store failed"),
            (NOT_PERMITTED, "refused: the caller is not a medical-officer"),
        ],
    ),
    (
        "social-service stats merge",
        &[
            (SUCCESS, "the national table printed"),
            (USAGE, "refused: a file not an export, a count from 1 to 10 shown, a body twice, periods that differ"),
        ],
    ),
    (
        "responder load",
        &[
            (SUCCESS, "every line indexed"),
            (REJECTIONS, "some lines rejected (the good ones are indexed)"),
            (USAGE, "unusable file (header, encoding, endless), no valid line, or over --max-loss"),
            (SETTINGS, "invalid settings, or the responder's source is PostgreSQL (no extract)"),
            (RUNTIME, "no responder daemon answers at the socket, or the index could not be written"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role responder-admin"),
        ],
    ),
    (
        "requester check",
        &[
            (SUCCESS, "every record is valid"),
            (REJECTIONS, "some records are rejected"),
            (USAGE, "usage error or unusable file (unreadable, bad header, not UTF-8, endless)"),
            (RUNTIME, "the file could not be read to its end"),
        ],
    ),
    (
        "requester submit",
        &[
            (SUCCESS, "done, nothing rejected"),
            (REJECTIONS, "done, but records were rejected or persons refused (or --strict stopped)"),
            (USAGE, "usage error or unusable file (bad header, not UTF-8, endless): nothing sent"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no requester daemon answers at the socket, it failed, or no result before the deadline"),
            (NOT_PERMITTED, "refused: the caller is not a prevention-agent of the daemon's office"),
            (INTERRUPTED, "interrupted (Ctrl-C): the cases stay open, and it says how to follow them"),
        ],
    ),
    (
        "requester status",
        &[
            (SUCCESS, "listed, nothing refused"),
            (REJECTIONS, "a case or some persons were refused"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no requester daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not a prevention-agent of the daemon's office"),
        ],
    ),
    (
        "requester person",
        &[
            (SUCCESS, "the person's row was printed"),
            (USAGE, "not a case id or not a NIR, or the person is not in the case (or was refused)"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no requester daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not a prevention-agent of the daemon's office"),
        ],
    ),
    (
        "requester fetch",
        &[
            (SUCCESS, "written"),
            (REJECTIONS, "written, and the observatory refused some persons"),
            (USAGE, "not a case id, an unknown case, or a case without its result yet"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no requester daemon answers at the socket, its store failed, or a file cannot be written"),
            (NOT_PERMITTED, "refused: the caller is not a prevention-agent of the daemon's office"),
        ],
    ),
    (
        "requester purge",
        &[
            (SUCCESS, "purged what was due (or nothing was)"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no requester daemon answers at the socket, or its store cannot be written"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role requester-admin"),
        ],
    ),
    (
        "ctl status",
        &[
            (SUCCESS, "the report was printed (even without the management API)"),
            (USAGE, "a social-service daemon refused the call (an older release without its transfers)"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no observatory or social-service daemon answers at the socket, or its store failed"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role operator"),
        ],
    ),
    (
        "audit verify",
        &[
            (SUCCESS, "the trail is intact"),
            (REJECTIONS, "the trail does not verify (the first entry altered, deleted or moved is named)"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no observatory daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role auditor or observatory-agent"),
        ],
    ),
    (
        "access-log verify",
        &[
            (SUCCESS, "the access log is intact and matches every checkpoint its witness holds"),
            (REJECTIONS, "it does not verify (each finding names the entry), or the witness refused it"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role auditor"),
        ],
    ),
    (
        "access-log show",
        &[
            (SUCCESS, "printed"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role auditor"),
        ],
    ),
    (
        "audit show",
        &[
            (SUCCESS, "printed"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no observatory daemon answers at the socket, or its store cannot be read"),
            (NOT_PERMITTED, "refused: the caller is not an agent with the role auditor or observatory-agent"),
        ],
    ),
    (
        "stats",
        &[
            (SUCCESS, "printed"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "the statistics store is missing or cannot be read"),
        ],
    ),
    (
        "console open",
        &[
            (SUCCESS, "the one-time URL was printed"),
            (USAGE, "the daemon serves no console (`[api] console_addr` unset), or bad flags"),
            (SETTINGS, "invalid settings"),
            (RUNTIME, "no daemon answers at the socket"),
            (NOT_PERMITTED, "refused: your account is not an agent of the daemon's registry"),
        ],
    ),
    ("rights open", DECREE_RIGHTS_CALL),
    ("rights list", DECREE_RIGHTS_CALL),
    ("rights show", DECREE_RIGHTS_CALL),
    ("rights print", DECREE_RIGHTS_CALL),
    ("rights delivered", DECREE_RIGHTS_CALL),
    (
        "topology export",
        &[(SUCCESS, "written"), (SETTINGS, "invalid settings"), (RUNTIME, "the file cannot be written")],
    ),
    (
        "demo",
        &[
            (SUCCESS, "the flow completed and the summary adds up"),
            (REJECTIONS, "it completed but the result does not add up"),
            (USAGE, "usage error (bad flag, non-empty DIR without --force)"),
            (RUNTIME, "runtime failure"),
        ],
    ),
    (
        "conformance responder",
        &[
            (SUCCESS, "every rule passed (or the extract was written)"),
            (REJECTIONS, "some rule failed: each FAIL line says what to fix"),
            (USAGE, "usage error (bad flags, an unknown body or category code)"),
            (RUNTIME, "broker unreachable, no responder consumed its queue in time, or the file not written"),
        ],
    ),
    (
        "conformance requester",
        &[
            (SUCCESS, "every rule passed"),
            (REJECTIONS, "some rule failed: each FAIL line says what to fix"),
            (USAGE, "usage error (bad flags, an unknown body)"),
            (RUNTIME, "the broker is unreachable or cannot be read"),
        ],
    ),
    ("synth", &[(SUCCESS, "written"), (USAGE, "usage error"), (RUNTIME, "the files cannot be written")]),
    (
        "bench",
        &[
            (SUCCESS, "done"),
            (USAGE, "usage error"),
            (RUNTIME, "broker unreachable, a daemon failed, or the flow did not complete"),
        ],
    ),
];

/// The title of every help's last section.
pub const EXIT_STATUS_TITLE: &str = "Exit status:";

/// The exit statuses of the command at `path` (`requester check`; empty for `passerelle`):
/// its own line of [`BY_COMMAND`], or the general table for `passerelle` and the groups.
fn statuses(path: &str) -> Option<&'static [(u8, &'static str)]> {
    BY_COMMAND.iter().find(|(p, _)| *p == path).map(|(_, s)| *s)
}

/// The section that ends a command's help.
fn exit_status_section(statuses: &[(u8, &str)]) -> String {
    let mut text = String::from(EXIT_STATUS_TITLE);
    for (code, meaning) in statuses {
        text.push_str(&format!("\n  {code:<4}{meaning}"));
    }
    text
}

/// Appends its exit statuses to the help of `command` and of every subcommand under it.
pub fn with_exit_codes(command: clap::Command) -> clap::Command {
    append_exit_codes(command, "")
}

fn append_exit_codes(mut command: clap::Command, path: &str) -> clap::Command {
    let section = exit_status_section(statuses(path).unwrap_or(GENERAL));
    let join = |before: Option<String>| match before {
        Some(before) if !before.is_empty() => format!("{before}\n\n{section}"),
        _ => section.clone(),
    };
    let short = command.get_after_help().map(ToString::to_string);
    let long = command.get_after_long_help().map(ToString::to_string).or_else(|| short.clone());
    command = command.after_help(join(short)).after_long_help(join(long));
    let names: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_owned()).collect();
    for name in names {
        let sub_path = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        command = command.mut_subcommand(&name, |sub| append_exit_codes(sub, &sub_path));
    }
    command
}

/// How a subcommand ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: everything done, nothing rejected.
    Success,
    /// 1: done, but some input was rejected (bad lines, refused persons) or a check found a
    /// problem (`audit verify`).
    Rejections,
    /// 130: stopped by a signal before the end, after saying what stays to do.
    Interrupted,
}

impl From<Outcome> for ExitCode {
    fn from(o: Outcome) -> ExitCode {
        match o {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Rejections => ExitCode::from(REJECTIONS),
            Outcome::Interrupted => ExitCode::from(INTERRUPTED),
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
    /// 5: another observatory runs the territory (its `data_dir` or broker lock is held).
    Territory(anyhow::Error),
    /// 6: the daemon refused the call (not an authorised agent, or a role missing).
    NotPermitted(anyhow::Error),
}

impl Failure {
    /// Prints the error with its cause chain on stderr and returns the exit code.
    pub fn report(self) -> ExitCode {
        let (code, kind, err) = match self {
            Failure::Usage(e) => (USAGE, "error", e),
            Failure::Settings(e) => (SETTINGS, "invalid settings", e),
            Failure::Runtime(e) => (RUNTIME, "failed", e),
            Failure::Territory(e) => (TERRITORY_HELD, "territory held by another observatory", e),
            Failure::NotPermitted(e) => (NOT_PERMITTED, "refused", e),
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
            passerelle_party::PartyError::Territory(e) => Failure::Territory(e),
        }
    }
}

impl From<passerelle_party::PartyError> for Failure {
    fn from(error: passerelle_party::PartyError) -> Self {
        match error {
            passerelle_party::PartyError::Settings(e) => Failure::Settings(e),
            passerelle_party::PartyError::Runtime(e) => Failure::Runtime(e),
            passerelle_party::PartyError::Territory(e) => Failure::Territory(e),
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
    use clap::CommandFactory;

    use super::*;

    /// Every command's path and its long help, walking the whole tree.
    fn helps(command: &mut clap::Command, path: &str, out: &mut Vec<(String, String)>) {
        out.push((path.to_owned(), command.render_long_help().to_string()));
        // clap's own `help` subcommand prints the others' help.
        for sub in command.get_subcommands_mut().filter(|s| s.get_name() != "help") {
            let sub_path =
                if path.is_empty() { sub.get_name().to_owned() } else { format!("{path} {}", sub.get_name()) };
            helps(sub, &sub_path, out);
        }
    }

    #[test]
    fn every_help_ends_with_its_exit_statuses() {
        let mut command = with_exit_codes(crate::cli::Cli::command());
        let mut all = Vec::new();
        helps(&mut command, "", &mut all);
        assert!(all.len() > 20, "the whole tree: {}", all.len());
        for (path, help) in &all {
            let leaf = command_is_leaf(path);
            let listed = statuses(path);
            assert!(!leaf || listed.is_some(), "`passerelle {path}` has no line in exit::BY_COMMAND");
            let expected = exit_status_section(listed.unwrap_or(GENERAL));
            assert!(
                help.trim_end().ends_with(&expected),
                "`passerelle {path} --help` does not end with:\n{expected}\n---\n{help}"
            );
            assert_eq!(
                help.matches(EXIT_STATUS_TITLE).count(),
                1,
                "`passerelle {path} --help` has one exit section:\n{help}"
            );
        }
    }

    /// Whether the command at `path` runs something (has no subcommands).
    fn command_is_leaf(path: &str) -> bool {
        let mut command = crate::cli::Cli::command();
        for name in path.split_whitespace() {
            command = command.find_subcommand(name).expect("a path of the tree").clone();
        }
        !command.has_subcommands()
    }

    #[test]
    fn the_tables_list_only_codes_the_binary_uses_and_each_once() {
        let used = [SUCCESS, REJECTIONS, USAGE, SETTINGS, RUNTIME, TERRITORY_HELD, NOT_PERMITTED, FAULT, INTERRUPTED];
        for (path, statuses) in BY_COMMAND.iter().copied().chain([("", GENERAL)]) {
            let codes: Vec<u8> = statuses.iter().map(|(c, _)| *c).collect();
            assert!(codes.iter().all(|c| used.contains(c)), "{path}: {codes:?}");
            assert!(codes.windows(2).all(|w| w[0] < w[1]), "{path}: in order, each once: {codes:?}");
        }
        assert_eq!(i32::from(FAULT), passerelle_hooks::FAULT_EXIT_CODE);
        let fault = format!("{FAULT}  a daemon stopped at a development fault point");
        assert!(exit_status_section(GENERAL).contains(&fault), "{}", exit_status_section(GENERAL));
    }
}
