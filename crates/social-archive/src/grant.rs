//! An `archive-reader`'s grant. The norm: the archive is readable only by agents "habilités
//! conjointement par le directeur de l'organisme et le médecin-conseil". So a grant is valid
//! once a director's delegate and a médecin-conseil — **two distinct agents** — have each
//! signed it, until its end or its revocation.
//!
//! The rules are functions of a grant ([`signed`], [`revoked`], [`state`], [`choose`]): the
//! store loads a grant, asks the rule, and writes what it answers in the same transaction.

use std::time::{Duration, SystemTime};

use crate::{ArchiveError, Result};

/// The longest a grant lasts: 12 months (the daemon counts them in the body's legal time zone,
/// to the end of the last day; [`latest_until`] allows for that day).
pub const MAX_MONTHS: u32 = 12;

/// Which of the two signatures a grant needs an agent gives (the API checked the agent holds
/// the matching role: `director-delegate`, `medical-officer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignerRole {
    /// The director of the body, or the agent holding the director's delegation.
    DirectorDelegate,
    /// The médecin-conseil responsible for the local level of the medical service (or the MSA's
    /// chief médecin-conseil).
    MedicalOfficer,
}

impl SignerRole {
    /// Its name: the agent role it goes with.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerRole::DirectorDelegate => "director-delegate",
            SignerRole::MedicalOfficer => "medical-officer",
        }
    }

    /// The other signature of a grant.
    pub fn other(self) -> SignerRole {
        match self {
            SignerRole::DirectorDelegate => SignerRole::MedicalOfficer,
            SignerRole::MedicalOfficer => SignerRole::DirectorDelegate,
        }
    }
}

impl std::fmt::Display for SignerRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SignerRole {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<SignerRole, String> {
        [SignerRole::DirectorDelegate, SignerRole::MedicalOfficer]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| "a grant is signed as director-delegate or as medical-officer".to_owned())
    }
}

/// One signature: who signed, as which role (the API checked the role).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    pub agent: String,
    pub role: SignerRole,
}

/// A grant as stored: the reader it habilitates, its two signatures (named and dated), its
/// validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub id: String,
    /// The `archive-reader` agent it habilitates.
    pub reader: String,
    pub created_at: SystemTime,
    /// `(agent, signed at)` of the director's delegate, once signed.
    pub director: Option<(String, SystemTime)>,
    /// `(agent, signed at)` of the médecin-conseil, once signed.
    pub medical: Option<(String, SystemTime)>,
    /// The end of its validity (set when it is proposed).
    pub until: SystemTime,
    pub revoked_at: Option<SystemTime>,
    /// Who revoked it (either signer's role may).
    pub revoked_by: Option<String>,
}

/// Where a grant stands at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GrantState {
    /// One signature given, this role's missing.
    Awaiting(SignerRole),
    Valid,
    Expired,
    Revoked,
}

impl GrantState {
    /// Its name in the API and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Awaiting(SignerRole::DirectorDelegate) => "awaiting-director-delegate",
            GrantState::Awaiting(SignerRole::MedicalOfficer) => "awaiting-medical-officer",
            GrantState::Valid => "valid",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }
}

impl Grant {
    /// Signed by both, by two distinct agents, not revoked, not expired at `now`.
    pub fn valid_at(&self, now: SystemTime) -> bool {
        matches!((&self.director, &self.medical), (Some((d, _)), Some((m, _))) if d != m)
            && self.revoked_at.is_none()
            && now < self.until
    }

    /// The signature given as `role`, if any.
    pub fn signature(&self, role: SignerRole) -> Option<&(String, SystemTime)> {
        match role {
            SignerRole::DirectorDelegate => self.director.as_ref(),
            SignerRole::MedicalOfficer => self.medical.as_ref(),
        }
    }

    /// Where it stands at `now`: revoked first, then expired, then a missing signature.
    pub fn state(&self, now: SystemTime) -> GrantState {
        if self.revoked_at.is_some() {
            GrantState::Revoked
        } else if now >= self.until {
            GrantState::Expired
        } else if self.director.is_none() {
            GrantState::Awaiting(SignerRole::DirectorDelegate)
        } else if self.medical.is_none() {
            GrantState::Awaiting(SignerRole::MedicalOfficer)
        } else if self.valid_at(now) {
            GrantState::Valid
        } else {
            // Two signatures by one agent: never written (the rule and the schema refuse it).
            GrantState::Awaiting(SignerRole::MedicalOfficer)
        }
    }
}

/// What [`latest_until`] allows beyond [`MAX_MONTHS`] months: the daemon ends a grant at the
/// end of its last day in the body's legal time zone, which may be up to a day and a UTC offset
/// later than the same instant 12 months on.
const LAST_DAY_SLACK: Duration = Duration::from_secs(2 * 24 * 3600);

/// The latest end a grant proposed at `at` may have: [`MAX_MONTHS`] months (and
/// [`LAST_DAY_SLACK`]).
pub fn latest_until(at: SystemTime) -> SystemTime {
    SystemTime::from(months_after(at)) + LAST_DAY_SLACK
}

fn months_after(at: SystemTime) -> chrono::DateTime<chrono::Utc> {
    let at = chrono::DateTime::<chrono::Utc>::from(at);
    at.checked_add_months(chrono::Months::new(MAX_MONTHS)).unwrap_or(at)
}

/// An instant as the API gives it (RFC 3339, UTC): this crate does not know the body's legal
/// time zone, and a UTC day is the wrong day wherever it is not Europe's (a grant ending at the
/// end of 30 June in Cayenne ends on 1 July, 03:00 UTC).
fn instant(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn refused(message: String) -> ArchiveError {
    ArchiveError::Signature(message)
}

/// A new grant for `reader`, proposed (and first signed) by `signer` at `at`, valid until
/// `until`; refused when its end is not after `at` or beyond [`latest_until`], or when the
/// signer is the reader.
pub fn proposed(id: String, reader: &str, signer: &Signer, at: SystemTime, until: SystemTime) -> Result<Grant> {
    if until <= at {
        return Err(refused("the grant's end (until) is not after its signature: give a later date".into()));
    }
    if until > latest_until(at) {
        return Err(refused(format!(
            "a grant lasts {MAX_MONTHS} months at most: give an end (until) no later than {}",
            months_after(at).format("%Y-%m-%d")
        )));
    }
    let grant = Grant {
        id,
        reader: reader.to_owned(),
        created_at: at,
        director: None,
        medical: None,
        until,
        revoked_at: None,
        revoked_by: None,
    };
    signed(&grant, signer, at)
}

/// The grant with `signer`'s signature added at `at`, or why not, in words: a revoked, expired
/// or complete grant is not signed; the same agent does not sign twice; a role signs once; a
/// reader does not sign their own grant.
pub fn signed(grant: &Grant, signer: &Signer, at: SystemTime) -> Result<Grant> {
    let id = &grant.id;
    if grant.revoked_at.is_some() {
        return Err(refused(format!("grant {id} was revoked: a revoked grant is not signed again; propose a new one")));
    }
    if at >= grant.until {
        return Err(refused(format!("grant {id} expired at {}: propose a new one", instant(grant.until))));
    }
    if grant.director.is_some() && grant.medical.is_some() {
        return Err(refused(format!("grant {id} is signed by both already: there is nothing left to sign")));
    }
    if signer.agent == grant.reader {
        return Err(refused(format!(
            "agent {} is the grant's reader: a reader does not sign their own grant",
            signer.agent
        )));
    }
    for role in [SignerRole::DirectorDelegate, SignerRole::MedicalOfficer] {
        if let Some((agent, _)) = grant.signature(role) {
            if *agent == signer.agent {
                return Err(refused(format!(
                    "agent {agent} signed grant {id} already (as {role}): the norm asks the director and the \
                     médecin-conseil to habilitate jointly, so the second signature is another agent's"
                )));
            }
        }
    }
    if let Some((agent, _)) = grant.signature(signer.role) {
        return Err(refused(format!(
            "grant {id} has its {} signature already (agent {agent}): the second signature is a {}'s",
            signer.role,
            signer.role.other()
        )));
    }
    let signature = Some((signer.agent.clone(), at));
    let mut next = grant.clone();
    match signer.role {
        SignerRole::DirectorDelegate => next.director = signature,
        SignerRole::MedicalOfficer => next.medical = signature,
    }
    Ok(next)
}

/// The grant revoked by `signer` at `at`, or why not (revoked already).
pub fn revoked(grant: &Grant, signer: &Signer, at: SystemTime) -> Result<Grant> {
    if let Some(when) = grant.revoked_at {
        return Err(refused(format!("grant {} was revoked already, at {}", grant.id, instant(when))));
    }
    Ok(Grant { revoked_at: Some(at), revoked_by: Some(signer.agent.clone()), ..grant.clone() })
}

/// Among `reader`'s grants (any order), the one valid at `now` (the latest ending), or
/// [`ArchiveError::NoGrant`] saying why: none, a signature awaited, expired, revoked.
pub fn choose(grants: &[Grant], reader: &str, now: SystemTime) -> Result<Grant> {
    let mine = || grants.iter().filter(|g| g.reader == reader);
    if let Some(valid) = mine().filter(|g| g.valid_at(now)).max_by_key(|g| g.until) {
        return Ok(valid.clone());
    }
    let awaiting = mine().find_map(|g| match g.state(now) {
        GrantState::Awaiting(role) => Some((g, role)),
        _ => None,
    });
    let how = "a director's delegate proposes a grant (`social-service archive grant --reader AGENT`) and a \
               médecin-conseil signs it (`social-service archive sign GRANT`), or the other way round";
    let why = if let Some((g, role)) = awaiting {
        format!(
            "agent {reader}'s archive grant {} awaits the {role} signature (`social-service archive sign {}` by \
             another agent holding that role): the archive is read only under a grant both have signed",
            g.id, g.id
        )
    } else if let Some(latest) = mine().max_by_key(|g| g.created_at) {
        match latest.revoked_at {
            Some(when) => {
                format!("agent {reader}'s archive grant {} was revoked at {}: {how}", latest.id, instant(when))
            }
            None => format!("agent {reader}'s archive grant {} expired at {}: {how}", latest.id, instant(latest.until)),
        }
    } else {
        format!("agent {reader} holds no archive grant: {how}")
    };
    Err(ArchiveError::NoGrant(why))
}
