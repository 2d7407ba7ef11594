//! `passerelle social-service archive …`: the archive of norm 43. A `director-delegate` and a
//! `medical-officer` co-sign an `archive-reader`'s grant (`grant`, `sign`, `revoke`, `grants`);
//! the reader lists and reads archived files under it, naming a purpose of the norm's list
//! (`list`, `show`). Each is a call of the daemon's local API; the `--json` outputs are its
//! answers, each with its `format` (docs/JSON.md).

use std::io::Write;

use anyhow::Context;
use passerelle_social_service::service::archive_views::*;
use serde::Serialize;

use super::requester_api::call;
use super::social_service::Api;
use super::social_service_archive_out as out;
use crate::exit::{CliResult, Failure, Outcome as Exit};

/// The long help of `social-service archive`: what a grant is, who signs, the purposes.
pub const HELP: &str = "\
After its 18 months in the live store, a case file may be kept at most 3 years more in the
archive, a separate store (norm 43), unless the person refused it. The archive is read only by
an agent with the role archive-reader, under a GRANT, and for a PURPOSE of the norm's list.

A grant habilitates one reader \"conjointement par le directeur de l'organisme et le
médecin-conseil\": it is valid once a director-delegate AND a medical-officer, two different
agents, have each signed it — one proposes it (`grant`), the other signs it (`sign`). It lasts
12 months at most (the default), and either role may revoke it. An agent holding both roles
says which it signs as with --as; it cannot give the second signature too.

Purposes (--purpose), the norm's words:
  steering                        pilotage
  risk-management                 gestion du risque
  internal-control                contrôle interne
  litigation                      contentieux
  recourse-against-third-parties  recours contre tiers
  fraud                           lutte contre la fraude
  medical-service                 activités du service médical

Every read is recorded with its purpose, in the archive and in the daemon's access log (a read
refused for want of a grant or a purpose too).

Examples:
  passerelle social-service archive grant --reader ar-7 --until 2027-06-30     # a director's delegate
  passerelle social-service archive sign 0190b6a2-…                            # the médecin-conseil
  passerelle social-service archive grants
  passerelle social-service archive list --purpose litigation                  # the reader
  passerelle social-service archive show FILE --purpose litigation
  passerelle social-service archive revoke 0190b6a2-…";

#[derive(Debug, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Propose a grant for an archive reader: its first signature (director-delegate or medical-officer).
    Grant(GrantArgs),
    /// Give a grant its second signature: the other role, another agent.
    Sign(SignArgs),
    /// Revoke a grant: its reader's reads are refused from now.
    Revoke(SignArgs),
    /// Every grant and where it stands (director-delegate, medical-officer).
    Grants(GrantsArgs),
    /// The archived files, for a purpose (archive-reader, under a grant).
    List(ListArgs),
    /// One archived file, for a purpose (archive-reader, under a grant).
    Show(ShowArgs),
}

/// The role a signer acts as.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SignAs {
    DirectorDelegate,
    MedicalOfficer,
}

impl From<SignAs> for SignerRole {
    fn from(a: SignAs) -> SignerRole {
        match a {
            SignAs::DirectorDelegate => SignerRole::DirectorDelegate,
            SignAs::MedicalOfficer => SignerRole::MedicalOfficer,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct GrantArgs {
    #[command(flatten)]
    pub api: Api,
    /// The archive reader's agent id (an agent of the registry with the role archive-reader).
    #[arg(long, value_name = "AGENT")]
    pub reader: String,
    /// The grant's last day, YYYY-MM-DD: 12 months from today at most (and by default).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub until: Option<String>,
    /// The role you sign as, if you hold both.
    #[arg(long = "as", value_enum, value_name = "ROLE")]
    pub as_role: Option<SignAs>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    #[command(flatten)]
    pub api: Api,
    /// The grant's id (from `grant` or `grants`).
    pub grant: String,
    /// The role you sign as, if you hold both.
    #[arg(long = "as", value_enum, value_name = "ROLE")]
    pub as_role: Option<SignAs>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct GrantsArgs {
    #[command(flatten)]
    pub api: Api,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub api: Api,
    /// Why you read: steering, risk-management, internal-control, litigation,
    /// recourse-against-third-parties, fraud or medical-service (recorded with the read).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: String,
    /// The page after this file id (the `next` of the previous page).
    #[arg(long, value_name = "FILE")]
    pub after: Option<String>,
    /// At most this many files (1 to 1000, default 100).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub api: Api,
    /// The archived file's id (from `archive list`).
    pub file: String,
    /// Why you read: steering, risk-management, internal-control, litigation,
    /// recourse-against-third-parties, fraud or medical-service (recorded with the read).
    #[arg(long, value_name = "PURPOSE")]
    pub purpose: String,
    /// Print the answer as one JSON object (its `format` in docs/JSON.md).
    #[arg(long)]
    pub json: bool,
}

fn print(text: &str) -> CliResult {
    std::io::stdout().lock().write_all(text.as_bytes()).context("cannot write to stdout")?;
    Ok(Exit::Success)
}

fn json<T: Serialize>(value: &T) -> Result<String, Failure> {
    Ok(serde_json::to_string(value).context("cannot write JSON")? + "\n")
}

/// An id or a code typed on the command line, kept to what a path or a query may hold.
fn clean(text: &str) -> String {
    text.trim().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
}

fn grant_answer(view: &GrantView, as_json: bool) -> CliResult {
    if as_json {
        return print(&json(view)?);
    }
    print(&out::grant(view))
}

pub fn run(command: ArchiveCommand) -> CliResult {
    match command {
        ArchiveCommand::Grant(a) => {
            let body = GrantRequest { reader: a.reader, until: a.until, as_role: a.as_role.map(Into::into) };
            let view: GrantView = call(a.api.client()?.post_json("/v1/archive/grants", &body))?;
            grant_answer(&view, a.json)
        }
        ArchiveCommand::Sign(a) => {
            let body = SignRequest { as_role: a.as_role.map(Into::into) };
            let path = format!("/v1/archive/grants/{}/sign", clean(&a.grant));
            let view: GrantView = call(a.api.client()?.post_json(&path, &body))?;
            grant_answer(&view, a.json)
        }
        ArchiveCommand::Revoke(a) => {
            let body = SignRequest { as_role: a.as_role.map(Into::into) };
            let path = format!("/v1/archive/grants/{}/revoke", clean(&a.grant));
            let view: GrantView = call(a.api.client()?.post_json(&path, &body))?;
            grant_answer(&view, a.json)
        }
        ArchiveCommand::Grants(a) => {
            let list: GrantList = call(a.api.client()?.get_json("/v1/archive/grants"))?;
            if a.json {
                return print(&json(&list)?);
            }
            print(&out::grants(&list))
        }
        ArchiveCommand::List(a) => {
            let mut query = format!("/v1/archive/files?purpose={}&limit={}", clean(&a.purpose), a.limit.unwrap_or(100));
            if let Some(after) = &a.after {
                query.push_str(&format!("&after={}", clean(after)));
            }
            let list: ArchiveList = call(a.api.client()?.get_json(&query))?;
            if a.json {
                return print(&json(&list)?);
            }
            print(&out::list(&list))
        }
        ArchiveCommand::Show(a) => {
            let path = format!("/v1/archive/files/{}?purpose={}", clean(&a.file), clean(&a.purpose));
            let view: ArchivedFileView = call(a.api.client()?.get_json(&path))?;
            if a.json {
                return print(&json(&view)?);
            }
            print(&out::file(&view))
        }
    }
}
