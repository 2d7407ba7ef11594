//! `ctl status` on a social service's settings (a top-level `office` and a `[requester]` table):
//! its transfers as the daemon counts them (`GET /v1/transfers/summary`: in flight each way, the
//! oldest, refusals by reason, accepted), and with a `[broker]`, its transfers and notices
//! queues read from the RabbitMQ management API when it is enabled. Counts only: no person, no
//! file id.

use std::io::Write;
use std::path::Path;
use std::time::SystemTime;

use anyhow::{anyhow, Context};
use passerelle_bus::Queue;
use passerelle_party::{PartyKind, PartySettings};
use passerelle_social_service::service::transfer_views::TransferSummary;
use serde::Serialize;

use super::StatusArgs;
use crate::exit::{CliResult, Failure, Outcome};
use passerelle_management::{self as management, QueueInfo};

/// Whether the settings file at `path` is a social service's: a top-level `office` and a
/// `[requester]` table (an observatory's has neither). Unreadable: not recognised, and the
/// observatory's reading says why.
pub fn is_social_service(path: &Path) -> bool {
    /// The two keys that tell, every other key ignored.
    #[derive(serde::Deserialize)]
    struct Shape {
        office: Option<String>,
        requester: Option<std::collections::BTreeMap<String, serde_json::Value>>,
    }
    let Ok(text) = std::fs::read_to_string(path) else { return false };
    let no_environment = std::iter::empty::<(String, String)>();
    match passerelle_settings::load_from_str::<Shape>(&text, path, no_environment) {
        Ok(shape) => shape.office.is_some() && shape.requester.is_some(),
        Err(_) => false,
    }
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct SocialServiceStatus {
    /// Its party code, `body.office`.
    pub social_service: String,
    pub data_dir: String,
    pub at: String,
    pub transfers: TransferSummary,
    pub queues: SocialServiceQueues,
}

/// Its two queues, or why they are not listed.
#[derive(Debug, Clone, Serialize)]
pub struct SocialServiceQueues {
    pub available: bool,
    pub management_url: Option<String>,
    pub vhost: Option<String>,
    pub queues: Vec<QueueInfo>,
    pub message: Option<String>,
}

impl SocialServiceQueues {
    fn not_listed(message: String) -> SocialServiceQueues {
        SocialServiceQueues {
            available: false,
            management_url: None,
            vhost: None,
            queues: Vec::new(),
            message: Some(message),
        }
    }
}

pub fn status(args: &StatusArgs) -> CliResult {
    let settings = PartySettings::load_local(PartyKind::SocialService, &args.config)
        .map_err(|e| Failure::of_party(e, &args.config))?;
    let socket = args.socket.clone().unwrap_or_else(|| settings.api_socket());
    let now = SystemTime::now();
    let client = passerelle_local_api::Client::new(socket).for_daemon("social-service run");
    let transfers: TransferSummary = super::super::requester_api::call(client.get_json("/v1/transfers/summary"))?;
    let queues = queues(args, &settings)?;
    let report = SocialServiceStatus {
        social_service: settings.role().code().to_owned(),
        data_dir: settings.data_dir().display().to_string(),
        at: super::status::rfc3339(now),
        transfers,
        queues,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let text = super::super::json::line(super::super::json::CTL_STATUS_SOCIAL_SERVICE, &report)
            .context("cannot serialise the report")?;
        writeln!(out, "{text}").context("cannot write to stdout")?;
    } else {
        write!(out, "{}", render(&report)).context("cannot write to stdout")?;
    }
    Ok(Outcome::Success)
}

/// Its transfers and notices queues from the management API, or why not.
fn queues(args: &StatusArgs, settings: &PartySettings) -> Result<SocialServiceQueues, Failure> {
    if !settings.has_broker() {
        return Ok(SocialServiceQueues::not_listed(
            "no [broker]: this office neither sends nor receives transfers.".into(),
        ));
    }
    if args.no_management {
        return Ok(SocialServiceQueues::not_listed("not asked (--no-management).".into()));
    }
    let broker = settings.broker();
    let vhost = passerelle_bus::definitions::vhost(broker)
        .map_err(|e| Failure::Settings(anyhow!(e).context(format!("in {}", args.config.display()))))?;
    let party = settings.role().code().to_owned();
    let own: Vec<String> = [Queue::SocialServiceTransfers(party.clone()), Queue::SocialServiceNotices(party)]
        .iter()
        .map(|q| q.name(&broker.prefix))
        .collect();
    let login = management::management_login(
        &broker.urls[0],
        args.management_user.as_deref(),
        args.management_password.as_deref(),
    );
    let mut listed = SocialServiceQueues {
        available: false,
        management_url: Some(args.management_url.clone()),
        vhost: Some(vhost.clone()),
        queues: Vec::new(),
        message: None,
    };
    let (user, password) = match login {
        Ok(login) => login,
        Err(message) => {
            listed.message = Some(message);
            return Ok(listed);
        }
    };
    match management::queues(&args.management_url, &user, &password, &vhost, &broker.prefix) {
        Ok(all) => {
            listed.queues = all.into_iter().filter(|q| own.contains(&q.name)).collect();
            listed.available = true;
            if listed.queues.len() < own.len() {
                listed.message = Some(format!(
                    "expected {}: declared by the observatory or the imported definitions (`topology export`)",
                    own.join(" and ")
                ));
            }
        }
        Err(e) if e.is_unreachable() => {
            listed.message = Some(format!(
                "{e}: queue depths need RabbitMQ's management plugin — enable it with \
                 `rabbitmq-plugins enable rabbitmq_management`, or give its address with --management-url."
            ))
        }
        Err(e) => listed.message = Some(format!("{e}.")),
    }
    Ok(listed)
}

/// The report as sentences.
pub fn render(s: &SocialServiceStatus) -> String {
    use std::fmt::Write as _;
    let t = &s.transfers;
    let mut out = String::new();
    let _ = writeln!(out, "Social service {} ({}), at {}", s.social_service, s.data_dir, s.at);
    let _ = writeln!(out, "\nTransfers (norm 43, A.3):");
    let _ = writeln!(out, "  sent, awaiting the receipt       {}", t.out_in_flight);
    let _ = writeln!(out, "  received, awaiting this office   {}", t.in_awaiting);
    let _ = writeln!(out, "  oldest in flight                 {}", t.oldest_in_flight.as_deref().unwrap_or("none"));
    let _ = writeln!(out, "  accepted                         {} sent, {} received", t.accepted_out, t.accepted_in);
    if t.refused_by_reason.is_empty() {
        let _ = writeln!(out, "  refused (30 days)                none");
    } else {
        let total: u64 = t.refused_by_reason.values().sum();
        let _ = writeln!(out, "  refused (30 days)                {total}");
        for (reason, count) in &t.refused_by_reason {
            let _ = writeln!(out, "    {count:>6}  {reason}");
        }
    }
    let q = &s.queues;
    if q.available {
        let (url, vhost) = (q.management_url.as_deref().unwrap_or(""), q.vhost.as_deref().unwrap_or(""));
        let _ = writeln!(out, "\nQueues (RabbitMQ management API at {url}, vhost {vhost}):");
        let _ = writeln!(out, "  {:<56} {:>8} {:>8} {:>9}", "queue", "ready", "unacked", "consumers");
        for queue in &q.queues {
            let _ = writeln!(
                out,
                "  {:<56} {:>8} {:>8} {:>9}",
                queue.name, queue.ready, queue.unacknowledged, queue.consumers
            );
        }
        if let Some(message) = &q.message {
            let _ = writeln!(out, "  ({message})");
        }
    } else {
        let _ = writeln!(out, "\nQueues: not available: {}", q.message.as_deref().unwrap_or(""));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_social_service_is_told_from_an_observatory_by_its_office_and_requester() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "body = \"cramif\"\noffice = \"ss-75\"\ndata_dir = \"/d\"\n[requester]\nsocket = \"/r\"\noffice = \"cpam-75\"\n").unwrap();
        assert!(is_social_service(&path));
        std::fs::write(&path, "code = \"carsat-sud-est\"\ndata_dir = \"/d\"\n").unwrap();
        assert!(!is_social_service(&path));
        assert!(!is_social_service(&dir.path().join("missing.toml")));
    }

    #[test]
    fn the_report_gives_counts_and_reasons() {
        let mut transfers = TransferSummary { out_in_flight: 2, accepted_in: 1, ..Default::default() };
        transfers.refused_by_reason.insert("person-not-attached".into(), 3);
        let report = SocialServiceStatus {
            social_service: "cramif.ss-75".into(),
            data_dir: "/d".into(),
            at: "2026-12-07T16:00:00Z".into(),
            transfers,
            queues: SocialServiceQueues::not_listed("not asked (--no-management).".into()),
        };
        let text = render(&report);
        assert!(text.contains("sent, awaiting the receipt       2"), "{text}");
        assert!(
            text.contains("refused (30 days)                3") && text.contains("3  person-not-attached"),
            "{text}"
        );
        assert!(text.contains("0 sent, 1 received") && text.contains("not asked"), "{text}");
    }
}
