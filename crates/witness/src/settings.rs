//! `[trails]`: the settings every daemon that keeps a trail shares — its legal time zone (which
//! calendar year an entry belongs to, and when a year's retention has run), the party that
//! witnesses its trails' checkpoints, and how often it sends one. Each role's settings embed it.

use serde::{Deserialize, Serialize};

use crate::LegalCalendar;

/// Checkpoints are sent at least this often (DESIGN §7.1: at least hourly); the setting can
/// only make them more frequent.
pub const MAX_CHECKPOINT_INTERVAL_S: u64 = 3600;

/// The shortest interval a setting may ask for (a checkpoint is a signature and a message).
pub const MIN_CHECKPOINT_INTERVAL_S: u64 = 1;

/// How long `verify` waits for the witness's answer by default.
pub const DEFAULT_WITNESS_TIMEOUT_S: u64 = 20;

/// `[trails]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrailSettings {
    /// The body's legal time zone, by its IANA name (default `Europe/Paris`): the calendar year
    /// of an entry, and from when a year's retention (the year and the 4 following, fixed by
    /// norm 43) has run.
    #[serde(default)]
    pub time_zone: LegalCalendar,
    /// The party that witnesses this daemon's trails (a party code of the deployment): a body
    /// the deployment designates for an observatory, the observatory for a body or a requester
    /// office (the default when the deployment has exactly one observatory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<String>,
    /// Seconds between two checkpoints while a trail's head moves (1 to 3,600; default 3,600).
    #[serde(default = "default_interval")]
    pub checkpoint_interval_s: u64,
    /// How long `verify` waits for the witness's answer (default 20 s).
    #[serde(default = "default_timeout")]
    pub witness_timeout_s: u64,
}

fn default_interval() -> u64 {
    MAX_CHECKPOINT_INTERVAL_S
}

fn default_timeout() -> u64 {
    DEFAULT_WITNESS_TIMEOUT_S
}

impl Default for TrailSettings {
    fn default() -> Self {
        TrailSettings {
            time_zone: LegalCalendar::default(),
            witness: None,
            checkpoint_interval_s: MAX_CHECKPOINT_INTERVAL_S,
            witness_timeout_s: DEFAULT_WITNESS_TIMEOUT_S,
        }
    }
}

impl TrailSettings {
    pub fn is_default(&self) -> bool {
        self == &TrailSettings::default()
    }

    /// The role's check: the interval within its range, a timeout of at least a second. The
    /// text names the key.
    pub fn check(&self) -> Result<(), String> {
        if !(MIN_CHECKPOINT_INTERVAL_S..=MAX_CHECKPOINT_INTERVAL_S).contains(&self.checkpoint_interval_s) {
            return Err(format!(
                "trails.checkpoint_interval_s = {}: a trail's head is checkpointed at least hourly (DESIGN §7.1), \
                 so give {MIN_CHECKPOINT_INTERVAL_S} to {MAX_CHECKPOINT_INTERVAL_S} seconds",
                self.checkpoint_interval_s
            ));
        }
        if self.witness_timeout_s == 0 {
            return Err(
                "trails.witness_timeout_s = 0: give the seconds `verify` waits for the witness (default 20)".into()
            );
        }
        Ok(())
    }

    /// The witness: the setting, else `default` (the deployment's one observatory, for a body).
    pub fn witness_or<'a>(&'a self, default: Option<&'a str>) -> Option<&'a str> {
        self.witness.as_deref().or(default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Role {
        #[serde(default)]
        trails: TrailSettings,
    }

    #[test]
    fn defaults_are_hourly_checkpoints_in_paris_time() {
        let read: Role = toml::from_str("").unwrap();
        assert_eq!(read.trails, TrailSettings::default());
        assert_eq!(read.trails.checkpoint_interval_s, 3600);
        assert_eq!(String::from(read.trails.time_zone), "Europe/Paris");
        assert!(read.trails.check().is_ok());
    }

    #[test]
    fn a_checkpoint_interval_over_an_hour_is_refused_naming_the_key() {
        let read: Role = toml::from_str("[trails]\ncheckpoint_interval_s = 7200\nwitness = \"cnam\"").unwrap();
        assert_eq!(read.trails.witness_or(Some("carsat")), Some("cnam"));
        let refused = read.trails.check().unwrap_err();
        assert!(refused.contains("trails.checkpoint_interval_s = 7200") && refused.contains("hourly"), "{refused}");
    }
}
