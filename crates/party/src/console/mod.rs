//! Each daemon's web console pages (DESIGN §7.4), served by `passerelle_console` on
//! `[api] console_addr`. A page reads and writes only through the daemon's local API, called as
//! the session's agent ([`passerelle_console::Session`]): the roles and the access log are the
//! API's, so a page shows what the same agent's CLI call would, and is logged the same way.
//!
//! | module | daemon | pages |
//! |---|---|---|
//! | [`observatory`] | observatory | cases in flight, a case's timeline, dead-letters, purges, queues |
//! | [`statistics`] | observatory | the statistics views |
//! | [`rights`] | observatory | the persons' rights requests (decree art. 6) |
//! | [`requester`] | requester | submissions and cases, contact lists, result files |
//! | [`social_service`] | social service | worklist, files, transfers, archive, grants, rights, statistics, status |
//! | [`responder`] | responder | the extract loaded, the answers given |
//! | [`trails`] | every daemon | the access log and the audit trail, verified |

pub mod observatory;
pub mod requester;
pub mod responder;
pub mod rights;
pub mod social_service;
pub mod statistics;
pub mod trails;

use passerelle_console::Console;

use crate::PartySettings;

/// The console of the party `settings` describe.
pub fn for_party(settings: &PartySettings) -> Console {
    let (daemon, mut nav, pages) = match settings {
        PartySettings::Observatory(s) => {
            let mut nav = observatory::nav();
            nav.extend(statistics::nav());
            nav.extend(rights::nav());
            let pages = observatory::pages().merge(statistics::pages()).merge(rights::pages());
            (format!("Observatoire {}", s.code), nav, pages)
        }
        PartySettings::Responder(s) => {
            (format!("Organisme {} (répondant)", s.body), responder::nav(), responder::pages())
        }
        PartySettings::Requester(s) => {
            (format!("Organisme {} — {} (demandeur)", s.body, s.office), requester::nav(), requester::pages())
        }
        PartySettings::SocialService(s) => {
            (format!("Service social {} — {}", s.body, s.office), social_service::nav(), social_service::pages())
        }
    };
    nav.extend(trails::nav(matches!(settings, PartySettings::Observatory(_))));
    Console { daemon, nav, pages: pages.merge(trails::pages()) }
}
