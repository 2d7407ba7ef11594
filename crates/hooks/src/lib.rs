//! Development hooks: what the cross-process tests need from a party that production must never
//! have — a settable clock (an offset added to the system clock) and named fault points (the
//! process exits abruptly when it reaches one, as a crash would).
//!
//! **How the profile is chosen.** Every party's settings file has a top-level `profile`:
//! `"production"` (the default, so a file without it — every example in `deploy/` — is
//! production) or `"development"`. The hooks are set under `[development]`:
//!
//! ```toml
//! profile = "development"
//! [development]
//! clock_offset_s = 3600                                    # the party's clock, an hour ahead
//! fault_points = ["observatory.after_commit_before_publish"]
//! ```
//!
//! A hook set under another profile is refused by [`Hooks::check`], naming the setting (the
//! binary exits 3, invalid settings); a fault point not in [`FAULT_POINTS`] is refused too.
//! Honoured hooks are announced at every start (a `warn` log, [`Hooks::announce`]) and in
//! `/health` ([`Hooks::notices`]).
#![forbid(unsafe_code)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use passerelle_protocol::rules::{Clock, SystemClock};

/// The exit status of a process stopped by a fault point: none of the documented ones, so a
/// test tells a fault from a failure.
pub const FAULT_EXIT_CODE: i32 = 70;

/// The named fault points, and where each one stops the process.
pub const FAULT_POINTS: &[(&str, &str)] = &[
    (
        "observatory.after_commit_before_publish",
        "the observatory's outbox holds committed messages that the broker has not been given yet",
    ),
    (
        "observatory.after_purge_before_rebuild",
        "a case's purge is committed (its payloads deleted, its key destroyed) but the case store is not rebuilt yet",
    ),
    ("requester.while_writing_results", "the requester has written part of a case's result files but not all of them"),
    (
        "social-service.after_commit_before_publish",
        "a social service's outbox holds a committed transfer (or receipt) that the broker has not been given yet",
    ),
    (
        "social-service.after_import_before_receipt",
        "a receiving social service has imported a transferred file but not yet published its receipt",
    ),
    (
        "responder.after_answer_before_publish",
        "a responder has answered a solicitation chunk but has neither published the response nor acked the chunk",
    ),
];

/// Which rules a party runs under.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// One broker identity per party (`[broker.identity]`, checked at start); development
    /// hooks are refused.
    #[default]
    Production,
    /// The shared broker identity and development hooks are allowed, and announced at every
    /// start and in `/health`.
    Development,
}

impl Profile {
    /// Whether this is the default (settings files leave it out).
    pub fn is_production(&self) -> bool {
        *self == Profile::Production
    }

    /// Its name in settings files and in `/health`: `production`, `development`.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::Production => "production",
            Profile::Development => "development",
        }
    }
}

/// The `[development]` table of a party's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct DevelopmentSettings {
    /// Seconds added to the system clock for every time rule of the party (negative: behind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_offset_s: Option<i64>,
    /// Fault points armed: the process exits with [`FAULT_EXIT_CODE`] when it reaches one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fault_points: Vec<String>,
}

impl DevelopmentSettings {
    /// Whether no hook is set (settings files leave the table out).
    pub fn is_empty(&self) -> bool {
        self.clock_offset_s.is_none() && self.fault_points.is_empty()
    }
}

/// A development hook set where it is not honoured, or a fault point nobody knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct HooksError {
    /// The setting at fault (`development.fault_points`, …).
    pub key: String,
    pub message: String,
}

/// The hooks a party honours: none under the production profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    profile: Profile,
    clock_offset_s: Option<i64>,
    fault_points: BTreeSet<String>,
}

impl Hooks {
    /// Checks the `[development]` settings against the profile.
    pub fn check(profile: Profile, development: &DevelopmentSettings) -> Result<Hooks, HooksError> {
        if profile != Profile::Development {
            let key = if development.clock_offset_s.is_some() {
                Some("development.clock_offset_s")
            } else if !development.fault_points.is_empty() {
                Some("development.fault_points")
            } else {
                None
            };
            if let Some(key) = key {
                return Err(HooksError {
                    key: key.to_owned(),
                    message: "a development hook, honoured only with `profile = \"development\"`; \
                              this party runs under the production profile"
                        .to_owned(),
                });
            }
        }
        for point in &development.fault_points {
            if !FAULT_POINTS.iter().any(|(name, _)| name == point) {
                let known: Vec<&str> = FAULT_POINTS.iter().map(|(name, _)| *name).collect();
                return Err(HooksError {
                    key: "development.fault_points".to_owned(),
                    message: format!("no fault point is named `{point}` (known: {})", known.join(", ")),
                });
            }
        }
        Ok(Hooks {
            profile,
            clock_offset_s: development.clock_offset_s,
            fault_points: development.fault_points.iter().cloned().collect(),
        })
    }

    /// The party's clock: the system clock, moved by the offset when one is set.
    pub fn clock(&self) -> Arc<dyn Clock> {
        match self.clock_offset_s {
            Some(offset_s) => Arc::new(OffsetClock { offset_s }),
            None => Arc::new(SystemClock),
        }
    }

    /// The profile the party runs under.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// One sentence per honoured hook (and one for the development profile itself): what
    /// `/health` and the start's warnings say.
    pub fn notices(&self) -> Vec<String> {
        let mut notices = Vec::new();
        if self.profile == Profile::Development {
            notices.push(
                "profile development: the shared broker identity and development hooks are allowed (never in production)"
                    .to_owned(),
            );
        }
        if let Some(offset) = self.clock_offset_s {
            notices.push(format!("development hook: the clock is {offset} s off the system clock"));
        }
        for point in &self.fault_points {
            notices.push(format!(
                "development hook: fault point `{point}` armed (the process exits with {FAULT_EXIT_CODE} there)"
            ));
        }
        notices
    }

    /// Logs every notice as a warning.
    pub fn announce(&self) {
        for notice in self.notices() {
            tracing::warn!("{notice}");
        }
    }

    /// Arms this party's fault points in the process (they end the whole process, so they are
    /// the process's, not a party's).
    pub fn arm(&self) {
        if self.fault_points.is_empty() {
            return;
        }
        let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
        armed.extend(self.fault_points.iter().cloned());
        ANY_ARMED.store(true, Ordering::SeqCst);
    }
}

/// Whether any fault point is armed: the check every pass of a hot path makes.
static ANY_ARMED: AtomicBool = AtomicBool::new(false);

/// The fault points armed in this process.
static ARMED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// A fault point: when `name` is armed, the process exits at once with [`FAULT_EXIT_CODE`] —
/// no destructor, no graceful stop, no flush beyond what is already committed — as a crash
/// would. Unarmed (always, in production), one relaxed atomic load.
pub fn fault_point(name: &'static str) {
    if !ANY_ARMED.load(Ordering::Relaxed) {
        return;
    }
    let hit = ARMED.lock().unwrap_or_else(|p| p.into_inner()).contains(name);
    if hit {
        tracing::warn!(fault_point = name, "development hook: fault point reached, the process exits");
        std::process::exit(FAULT_EXIT_CODE);
    }
}

/// The system clock moved by a fixed number of seconds.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock {
    pub offset_s: i64,
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let now = SystemTime::now();
        let by = Duration::from_secs(self.offset_s.unsigned_abs());
        if self.offset_s >= 0 {
            now + by
        } else {
            now - by
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(offset: Option<i64>, points: &[&str]) -> DevelopmentSettings {
        DevelopmentSettings { clock_offset_s: offset, fault_points: points.iter().map(|p| (*p).to_owned()).collect() }
    }

    #[test]
    fn hooks_are_refused_outside_development_naming_the_setting() {
        let e = Hooks::check(Profile::Production, &dev(Some(60), &[])).unwrap_err();
        assert_eq!(e.key, "development.clock_offset_s");
        let e =
            Hooks::check(Profile::Production, &dev(None, &["observatory.after_commit_before_publish"])).unwrap_err();
        assert_eq!(e.key, "development.fault_points");
        assert!(e.to_string().contains("profile = \"development\""), "{e}");
        assert_eq!(Hooks::check(Profile::Production, &dev(None, &[])).unwrap().notices(), Vec::<String>::new());
    }

    #[test]
    fn unknown_fault_points_are_refused() {
        let e = Hooks::check(Profile::Development, &dev(None, &["observatory.nowhere"])).unwrap_err();
        assert!(e.message.contains("observatory.nowhere") && e.message.contains("known:"), "{e}");
    }

    #[test]
    fn development_hooks_are_announced_and_the_clock_moves() {
        let hooks =
            Hooks::check(Profile::Development, &dev(Some(-7200), &["responder.after_answer_before_publish"])).unwrap();
        let notices = hooks.notices();
        assert_eq!(notices.len(), 3, "{notices:?}");
        assert!(notices[1].contains("-7200 s") && notices[2].contains("responder.after_answer_before_publish"));
        let behind = SystemTime::now().duration_since(hooks.clock().now()).unwrap();
        assert!(behind >= Duration::from_secs(7199) && behind <= Duration::from_secs(7201), "{behind:?}");
    }

    #[test]
    fn the_profile_reads_from_toml_and_defaults_to_production() {
        #[derive(serde::Deserialize)]
        struct File {
            #[serde(default)]
            profile: Profile,
        }
        assert_eq!(toml::from_str::<File>("").unwrap().profile, Profile::Production);
        assert_eq!(toml::from_str::<File>("profile = \"development\"").unwrap().profile, Profile::Development);
        assert!(toml::from_str::<File>("profile = \"dev\"").is_err());
    }
}
