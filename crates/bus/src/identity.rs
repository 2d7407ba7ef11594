//! The production rule of the broker identity: one broker user per party. Outside the
//! development profile a party refuses to start ([`BusSettings::check_identity`]) when
//! `[broker.identity]` would let a login speak for someone else:
//!
//! - `insecure_any_user = true` (its default): any login speaks for any party;
//! - no `[broker.identity.users]`: nobody's sender can be checked;
//! - a user listed for two parties or more: a shared user, whose login forges either's messages;
//! - the party's own login (the user of its `urls`; under certificate login the URL's user when
//!   it names one, the certificate's CN being checked when the bus is built,
//!   [`crate::ClientCertificate::check_speaks_for`]) not mapped to exactly its party.
//!
//! The check reads only the settings: it never connects.

use lapin::uri::{AMQPUri, SASLMechanism};

use crate::{BusSettings, BusSettingsError, Role};

/// Where the README explains the identity map, for the messages.
const SEE: &str = "README, \"Broker settings\"";

impl BusSettings {
    /// Refuses an identity map that gives `role` no broker user of its own, or that lets a user
    /// speak for more than one party (the error's key is relative to `[broker]`, as
    /// [`BusSettings::check`]'s). The development profile does not call it.
    pub fn check_identity(&self, role: &Role) -> Result<(), BusSettingsError> {
        let bad = |key: &str, message: String| Err(BusSettingsError { key: key.to_owned(), message });
        let (kind, code) = match role {
            Role::Observatory(code) => ("observatory", code.as_str()),
            Role::Body(code) => ("body", code.as_str()),
            Role::Office(code) => ("requester office", code.as_str()),
            Role::SocialService(code) => ("social service", code.as_str()),
        };
        let example = format!("\"<{code}'s broker user>\" = [\"{code}\"]");
        if self.identity.insecure_any_user {
            return bad(
                "identity.insecure_any_user",
                format!(
                    "true (its default when not set): any broker user may speak for any party, the shared identity \
                     of the development profile; outside `profile = \"development\"` write \
                     `insecure_any_user = false` under [broker.identity] and give each party its own broker user \
                     under [broker.identity.users], e.g. {example} ({SEE})"
                ),
            );
        }
        let users = &self.identity.users;
        if users.is_empty() {
            return bad(
                "identity.users",
                format!(
                    "not set: outside `profile = \"development\"` each party has its own broker user — a \
                     [broker.identity.users] table with one line per party whose messages this {kind} receives or \
                     sends, e.g. {example} ({SEE})"
                ),
            );
        }
        for (user, parties) in users {
            let mut distinct: Vec<&str> = parties.iter().map(String::as_str).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                return bad(
                    "identity.users",
                    format!(
                        "broker user {user:?} speaks for {} parties ({}): a shared user's login could forge any of \
                         their messages; give each party its own broker user, one line each: {} ({SEE})",
                        distinct.len(),
                        distinct.join(", "),
                        distinct
                            .iter()
                            .map(|p| format!("\"<{p}'s broker user>\" = [\"{p}\"]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
        }
        for url in &self.urls {
            let Some(login) = named_login(url) else { continue };
            let problem = match users.get(&login).map(|parties| parties.first()) {
                Some(Some(party)) if party == code => continue,
                Some(Some(other)) => format!(
                    "a user that speaks for {other:?}, not for {code:?}: is it another party's login? log in as \
                     {code}'s own broker user, mapped to it alone ({example})"
                ),
                Some(None) => format!("a user that speaks for no party: map it, \"{login}\" = [\"{code}\"]"),
                None => format!("a user it does not map: add \"{login}\" = [\"{code}\"] if that is {code}'s own user"),
            };
            return bad(
                "identity.users",
                format!("this {kind} logs in to the broker as {login:?} (`broker.urls`), {problem} ({SEE})"),
            );
        }
        if !users.values().any(|parties| parties.iter().any(|p| p == code)) {
            return bad(
                "identity.users",
                format!("no broker user speaks for {kind} {code:?}: add its own, {example} ({SEE})"),
            );
        }
        Ok(())
    }
}

/// The broker user a URL logs in as, when the URL decides it: its user (RabbitMQ's `guest`
/// when it names none) under password login; under certificate login
/// (`?auth_mechanism=external`) the certificate's CN decides, so only a user the URL names
/// explicitly is checked here. `None` too for a URL that does not parse (the bus says why).
fn named_login(url: &str) -> Option<String> {
    let uri: AMQPUri = url.parse().ok()?;
    let external = uri.query.auth_mechanism == Some(SASLMechanism::External);
    let authority = url.split_once("://").map_or(url, |(_, rest)| rest).split(['/', '?']).next().unwrap_or("");
    if external && !authority.contains('@') {
        return None;
    }
    Some(uri.authority.userinfo.username)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A production deployment's responder cnaf: its own user, and the observatory's.
    fn production() -> BusSettings {
        let mut s =
            BusSettings { urls: vec!["amqp://body-cnaf:secret@rabbit:5672/passerelle".into()], ..Default::default() };
        s.identity.insecure_any_user = false;
        s.identity.users.insert("observatory-sud-est".into(), vec!["carsat-sud-est".into()]);
        s.identity.users.insert("body-cnaf".into(), vec!["cnaf".into()]);
        s
    }

    fn cnaf() -> Role {
        Role::Body("cnaf".into())
    }

    fn refusal(s: &BusSettings, role: &Role) -> BusSettingsError {
        s.check_identity(role).expect_err("refused")
    }

    #[test]
    fn one_user_per_party_is_accepted() {
        production().check_identity(&cnaf()).unwrap();
        let mut s = production();
        s.urls = vec!["amqps://rabbit:5671/passerelle?auth_mechanism=external".into()];
        s.check_identity(&cnaf()).expect("the certificate's CN decides, checked when the bus is built");
        s.urls = vec!["amqps://body-cnaf@rabbit:5671/passerelle?auth_mechanism=external".into()];
        s.check_identity(&cnaf()).unwrap();
        production().check_identity(&Role::Observatory("carsat-sud-est".into())).expect_err("logs in as body-cnaf");
    }

    #[test]
    fn the_default_identity_is_refused_naming_insecure_any_user() {
        let e = refusal(&BusSettings::default(), &cnaf());
        assert_eq!(e.key, "identity.insecure_any_user");
        assert!(e.message.contains("insecure_any_user = false") && e.message.contains("Broker settings"), "{e}");
        let mut s = production();
        s.identity.insecure_any_user = true;
        assert_eq!(refusal(&s, &cnaf()).key, "identity.insecure_any_user", "even with a map");
    }

    #[test]
    fn a_missing_identity_map_is_refused() {
        let mut s = production();
        s.identity.users.clear();
        let e = refusal(&s, &cnaf());
        assert_eq!(e.key, "identity.users");
        assert!(e.message.starts_with("not set") && e.message.contains("[\"cnaf\"]"), "{e}");
    }

    #[test]
    fn a_shared_user_is_refused() {
        let mut s = production();
        s.identity.users.insert("guest".into(), vec!["cnaf".into(), "carsat-sud-est".into()]);
        let e = refusal(&s, &cnaf());
        assert_eq!(e.key, "identity.users");
        assert!(e.message.contains("\"guest\" speaks for 2 parties (carsat-sud-est, cnaf)"), "{e}");
        // A party listed twice for one user is still one party.
        let mut s = production();
        s.identity.users.insert("body-cnaf".into(), vec!["cnaf".into(), "cnaf".into()]);
        s.check_identity(&cnaf()).unwrap();
    }

    #[test]
    fn the_own_login_must_be_mapped_to_the_party() {
        let mut s = production();
        s.urls = vec!["amqp://guest:guest@127.0.0.1:5672/%2f".into()];
        let e = refusal(&s, &cnaf());
        assert_eq!(e.key, "identity.users");
        assert!(
            e.message.contains("logs in to the broker as \"guest\"") && e.message.contains("\"guest\" = [\"cnaf\"]")
        );
        assert!(!e.message.contains("secret"), "{e}");
        s.urls = vec!["amqp://127.0.0.1:5672/%2f".into()];
        assert!(refusal(&s, &cnaf()).message.contains("as \"guest\""), "no user in the URL is RabbitMQ's guest");
        s.urls = vec!["amqp://observatory-sud-est:pw@rabbit/passerelle".into()];
        let e = refusal(&s, &cnaf());
        assert!(e.message.contains("speaks for \"carsat-sud-est\", not for \"cnaf\""), "{e}");
        s.urls = vec!["amqp://stranger:pw@rabbit/passerelle".into()];
        s.identity.users.insert("stranger".into(), Vec::new());
        assert!(refusal(&s, &cnaf()).message.contains("speaks for no party"), "a user for nobody");
        s.urls = vec![
            "amqp://body-cnaf:pw@rabbit-1/passerelle".into(),
            "amqps://other@rabbit-2/passerelle?auth_mechanism=external".into(),
        ];
        assert!(refusal(&s, &cnaf()).message.contains("\"other\""), "every URL is checked");
        let mut s = production();
        s.urls = vec!["amqps://rabbit:5671/passerelle?auth_mechanism=external".into()];
        s.identity.users.remove("body-cnaf");
        let e = refusal(&s, &cnaf());
        assert!(e.message.starts_with("no broker user speaks for body \"cnaf\""), "{e}");
    }

    #[test]
    fn a_social_service_logs_in_as_its_own_user() {
        let mut s = production();
        s.social_services.insert("carsat-sud-est".into(), vec!["ss-13".into()]);
        s.identity.users.insert("ss-13".into(), vec!["carsat-sud-est.ss-13".into()]);
        s.urls = vec!["amqp://ss-13:pw@rabbit:5672/passerelle".into()];
        let role = Role::SocialService("carsat-sud-est.ss-13".into());
        s.check_identity(&role).unwrap();
        s.urls = vec!["amqp://body-cnaf:pw@rabbit:5672/passerelle".into()];
        let e = refusal(&s, &role);
        assert!(e.message.contains("this social service logs in to the broker as \"body-cnaf\""), "{e}");
        s.identity.users.remove("ss-13");
        s.urls = vec!["amqps://rabbit:5671/passerelle?auth_mechanism=external".into()];
        let e = refusal(&s, &role);
        assert!(e.message.starts_with("no broker user speaks for social service \"carsat-sud-est.ss-13\""), "{e}");
    }
}
